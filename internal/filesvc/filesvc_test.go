package filesvc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/filesvc"
)

func TestUpload(t *testing.T) {
	content := []byte(strings.Repeat("pulpo ", 10000))
	sum := sha256.Sum256(content)
	tests := []struct {
		name    string
		size    int64
		body    func() *bytes.Reader
		free    uint64
		wantErr string
		wantIs  error
	}{
		{name: "whole file", size: int64(len(content)), free: 1 << 30},
		{name: "stream ends early", size: int64(len(content)) + 10, free: 1 << 30, wantErr: "expected"},
		{name: "stream longer than announced", size: int64(len(content)) - 10, free: 1 << 30, wantErr: "expected"},
		{name: "no room", size: int64(len(content)), free: 100, wantIs: contract.ErrNotEnoughSpace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := filesvc.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			s.FreeSpace = func(string) (uint64, error) { return tt.free, nil }
			info, err := s.UploadFile(context.Background(), "pkgs/app.tar.gz", tt.size, bytes.NewReader(content))
			entries, _ := os.ReadDir(filepath.Join(s.Home, "pkgs"))
			if tt.wantErr == "" && tt.wantIs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if info.Length != int64(len(content)) || info.SHA256 != hex.EncodeToString(sum[:]) || info.Path != filepath.Join(s.Home, "pkgs/app.tar.gz") {
					t.Fatalf("info %+v", info)
				}
				if len(entries) != 1 {
					t.Fatalf("want only the file, found %d entries", len(entries))
				}
				return
			}
			if err == nil || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want %q / %v", err, tt.wantErr, tt.wantIs)
			}
			if len(entries) != 0 {
				t.Fatalf("a failed upload left %d files behind", len(entries))
			}
		})
	}
}

func TestUploadReadErrorLeavesNothing(t *testing.T) {
	s, _ := filesvc.New(t.TempDir())
	_, err := s.UploadFile(context.Background(), "f", 100, iotest.TimeoutReader(bytes.NewReader(make([]byte, 100))))
	if err == nil {
		t.Fatal("want an error")
	}
	if entries, _ := os.ReadDir(s.Home); len(entries) != 0 {
		t.Fatalf("left %d files", len(entries))
	}
}

func TestDownload(t *testing.T) {
	s, _ := filesvc.New(t.TempDir())
	os.WriteFile(filepath.Join(s.Home, "a.txt"), []byte("hello"), 0o600)
	var buf bytes.Buffer
	info, err := s.DownloadFile(context.Background(), "a.txt", &buf)
	if err != nil || buf.String() != "hello" || info.Length != 5 {
		t.Fatalf("%+v %v %q", info, err, buf.String())
	}
	if _, err := s.DownloadFile(context.Background(), "missing", &buf); err == nil {
		t.Fatal("want an error for a missing file")
	}
}

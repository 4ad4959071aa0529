package sshtarget_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
)

func TestUploadAndDownloadRoundTrip(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	files := m.target(t).Files()
	content := make([]byte, 3<<20+123) // wider than a stream's window, and not a round number
	rand.Read(content)
	sum := sha256.Sum256(content)
	want := contract.FileInfo{Path: filepath.Join(m.home, "pkgs/app.bin"), Length: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}

	up, err := files.UploadFile(testContext(t), "pkgs/app.bin", int64(len(content)), bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if up != want {
		t.Errorf("upload reported %+v, want %+v", up, want)
	}
	if entries, _ := os.ReadDir(filepath.Dir(want.Path)); len(entries) != 1 {
		t.Errorf("want only the file in its folder, found %d entries", len(entries))
	}

	var got bytes.Buffer
	down, err := files.DownloadFile(testContext(t), "pkgs/app.bin", &got)
	if err != nil {
		t.Fatal(err)
	}
	if down != want || !bytes.Equal(got.Bytes(), content) {
		t.Errorf("download reported %+v with %d bytes, want %+v", down, got.Len(), want)
	}

	// An absolute path is taken as it is, and replacing a file works.
	if _, err := files.UploadFile(testContext(t), want.Path, 5, strings.NewReader("small")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(want.Path); string(b) != "small" {
		t.Errorf("replaced file holds %q", b)
	}

	if _, err := files.DownloadFile(testContext(t), "missing.bin", io.Discard); err == nil {
		t.Error("downloading a missing file succeeded")
	}
}

func TestAFailedUploadLeavesNothing(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	tg := m.target(t)
	files := tg.Files()
	content := make([]byte, 1<<20)
	sourceFailed := errors.New("the source disk failed")
	tests := []struct {
		name    string
		size    int64
		r       io.Reader
		wantIs  error
		wantErr string
	}{
		{name: "the reader fails midway", size: 3 << 20,
			r: io.MultiReader(bytes.NewReader(content), iotest.ErrReader(sourceFailed)), wantIs: sourceFailed},
		{name: "the stream ends early", size: int64(len(content)) + 10,
			r: bytes.NewReader(content), wantErr: "ended after 1048576 of 1048586 bytes"},
		{name: "the stream is longer than announced", size: int64(len(content)) - 10,
			r: bytes.NewReader(content), wantErr: "longer than the 1048566 bytes announced"},
		{name: "an empty upload from a stream that is not", size: 0,
			r: bytes.NewReader(content), wantErr: "longer than the 0 bytes announced"},
		{name: "the disk has no room", size: 1 << 60,
			r: bytes.NewReader(content), wantIs: contract.ErrNotEnoughSpace},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(m.home, "failed", string(rune('a'+i)))
			_, err := files.UploadFile(testContext(t), filepath.Join(dir, "app.bin"), tt.size, tt.r)
			if err == nil || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want %v / %q", err, tt.wantIs, tt.wantErr)
			}
			// The machine cleans up as it ends the call.
			waitFor(t, "the machine ends the upload", func() bool { return sshtarget.OpenCalls(tg) == 0 })
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("left %s behind", entries[0].Name())
			}
		})
	}
}

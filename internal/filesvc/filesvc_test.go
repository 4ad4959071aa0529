package filesvc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

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

func TestStatReadsTheStampedHashUntilTheFileChanges(t *testing.T) {
	ctx := context.Background()
	s, _ := filesvc.New(t.TempDir())
	content := []byte("version one")
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	if _, err := s.UploadFrom(ctx, "pkg", int64(len(content)), want, 0, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(s.Home, "pkg")
	st, _ := os.Stat(name)

	// Same size and time: the stamp is trusted, the file is not read. That
	// the answer is the old hash proves it (rsync makes the same trade).
	if err := os.WriteFile(name, []byte("version two"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(name, st.ModTime(), st.ModTime())
	if info, err := s.StatFile(ctx, "pkg"); err != nil || info.SHA256 != want {
		t.Fatalf("with size and time unchanged got %+v, %v; want the stamped %s", info, err, want)
	}

	// A new modification time: hashed again.
	os.Chtimes(name, st.ModTime().Add(time.Second), st.ModTime().Add(time.Second))
	sum2 := sha256.Sum256([]byte("version two"))
	if info, err := s.StatFile(ctx, "pkg"); err != nil || info.SHA256 != hex.EncodeToString(sum2[:]) {
		t.Fatalf("after a change got %+v, %v; want the new content's hash", info, err)
	}
}

func TestTwoUploadsOfTheSameContentAtOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := filesvc.New(t.TempDir())
	content := bytes.Repeat([]byte("pulpo"), 1<<18)
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := s.UploadFrom(ctx, "pkgs/app.tgz", int64(len(content)), want, 0, iotest.HalfReader(bytes.NewReader(content)))
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(s.Home, "pkgs/app.tgz"))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the file is not the content (%v)", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.Home, "pkgs")); len(entries) != 1 {
		t.Fatalf("want only the file, found %d entries", len(entries))
	}
}

// A resumable upload is checked whole against the hash it was announced
// with. Content that does not match is refused with both hashes named,
// and nothing stays: no file at the destination and no partial upload for
// a later call to continue from.
func TestUploadFromRefusesContentThatDoesNotMatchItsHash(t *testing.T) {
	content := bytes.Repeat([]byte("the real package "), 5000)
	other := bytes.Repeat([]byte("something else!! "), 5000) // same length
	hexSum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	half := int64(len(content) / 2)
	broken := errors.New("the connection dropped")
	tests := []struct {
		name string
		// earlier, if set, is a first attempt cut short, whose bytes stay.
		earlier io.Reader
		offset  int64
		body    io.Reader
		gotSum  string
	}{
		{name: "the content is not the one announced",
			body: bytes.NewReader(other), gotSum: hexSum(other)},
		{name: "a resumed upload whose first part was other bytes",
			earlier: io.MultiReader(bytes.NewReader(other[:half]), iotest.ErrReader(broken)),
			offset:  half, body: bytes.NewReader(content[half:]),
			gotSum: hexSum(append(append([]byte{}, other[:half]...), content[half:]...))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := filesvc.New(t.TempDir())
			want := hexSum(content)
			size := int64(len(content))
			if tt.earlier != nil {
				if _, err := s.UploadFrom(ctx, "pkgs/app.tgz", size, want, 0, tt.earlier); !errors.Is(err, broken) {
					t.Fatalf("the first attempt: %v, want %v", err, broken)
				}
				if n, _ := s.PartialUpload(ctx, "pkgs/app.tgz", want); n != tt.offset {
					t.Fatalf("the first attempt left %d bytes, want %d", n, tt.offset)
				}
			}

			_, err := s.UploadFrom(ctx, "pkgs/app.tgz", size, want, tt.offset, tt.body)
			wantMsg := "the content's SHA-256 is " + tt.gotSum + ", not " + want
			if err == nil || !strings.Contains(err.Error(), wantMsg) {
				t.Fatalf("got error %v, want one saying %q", err, wantMsg)
			}
			if entries, _ := os.ReadDir(filepath.Join(s.Home, "pkgs")); len(entries) != 0 {
				t.Fatalf("the refused upload left %s behind", entries[0].Name())
			}
			if n, err := s.PartialUpload(ctx, "pkgs/app.tgz", want); n != 0 || err != nil {
				t.Fatalf("a later attempt would continue from %d (%v), want from the start", n, err)
			}
		})
	}
}

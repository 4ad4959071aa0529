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
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
	"github.com/pulpo-deploy/pulpo/internal/transfer"
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

// countedSource claims a size far beyond any disk and counts what the
// transfer reads of it.
type countedSource struct {
	size int64
	read atomic.Int64
}

func (c *countedSource) Size() int64    { return c.size }
func (c *countedSource) SHA256() string { return strings.Repeat("ab", 32) }
func (c *countedSource) Open(offset int64) (io.ReadCloser, error) {
	// A few megabytes, then the end: enough to be seen if the content
	// were sent before the machine's refusal came back.
	return io.NopCloser(&countingReader{r: io.LimitReader(zeroReader{}, 4<<20), n: &c.read}), nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Deployments send packages with transfer.Send, which ends in UploadFrom:
// a machine without room refuses before any of the content is read.
func TestASendToAFullDiskIsRefusedBeforeAnyByteIsRead(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	src := &countedSource{size: 1 << 60}
	_, rep, err := transfer.Send(testContext(t), m.target(t).Files(), "pkgs/huge.bin", src, 0)
	if !errors.Is(err, contract.ErrNotEnoughSpace) {
		t.Fatalf("got error %v, want %v", err, contract.ErrNotEnoughSpace)
	}
	if n := src.read.Load(); n != 0 || rep.Sent != 0 {
		t.Fatalf("%d bytes were read from the source (%d reported sent) before the refusal", n, rep.Sent)
	}
}

package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/filesvc"
	"github.com/pulpo-deploy/pulpo/internal/transfer"
)

// flaky cuts the first upload short after cutAt bytes, as a dropped
// connection would.
type flaky struct {
	*filesvc.Service
	cutAt int64
	cuts  int
}

var errCut = errors.New("connection reset by peer")

func (f *flaky) UploadFrom(ctx context.Context, path string, size int64, sha string, offset int64, r io.Reader) (contract.FileInfo, error) {
	if f.cuts == 0 {
		f.cuts++
		_, err := f.Service.UploadFrom(ctx, path, size, sha, offset, io.MultiReader(io.LimitReader(r, f.cutAt), failing{}))
		return contract.FileInfo{}, errors.Join(errCut, err)
	}
	return f.Service.UploadFrom(ctx, path, size, sha, offset, r)
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errCut }

func source(t *testing.T, size int) transfer.FileSource {
	t.Helper()
	data := bytes.Repeat([]byte("pulpo-package-"), size/14+1)[:size]
	path := filepath.Join(t.TempDir(), "app.1.0.0.tar.gz")
	os.WriteFile(path, data, 0o644)
	sum := sha256.Sum256(data)
	return transfer.FileSource{Path: path, Length: int64(size), Sum: hex.EncodeToString(sum[:])}
}

func TestSendResumesAfterABreakAndSkipsWhatIsThere(t *testing.T) {
	svc, err := filesvc.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	target := &flaky{Service: svc, cutAt: 3 << 20}
	src := source(t, 8<<20)
	ctx := context.Background()

	info, rep, err := transfer.Send(ctx, target, "packages/app.1.0.0.tar.gz", src, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if info.SHA256 != src.Sum || rep.Cached || len(rep.ResumedAt) != 1 || rep.ResumedAt[0] != 3<<20 {
		t.Fatalf("first send: %+v %+v", info, rep)
	}
	// Resumed, not restarted: every byte went out once.
	if rep.Sent != src.Length {
		t.Fatalf("sent %d bytes, want %d", rep.Sent, src.Length)
	}
	got, _ := os.ReadFile(info.Path)
	want, _ := os.ReadFile(src.Path)
	if !bytes.Equal(got, want) {
		t.Fatal("the file on the target differs")
	}

	// The same content again: nothing is sent.
	_, rep, err = transfer.Send(ctx, target, "packages/app.1.0.0.tar.gz", src, time.Minute)
	if err != nil || !rep.Cached || rep.Sent != 0 {
		t.Fatalf("second send: %+v %v", rep, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(info.Path))
	if len(entries) != 1 {
		t.Fatalf("partial files left behind: %d entries", len(entries))
	}
}

func TestSendGivesUpOnTheTargetsOwnAnswer(t *testing.T) {
	svc, _ := filesvc.New(t.TempDir())
	svc.FreeSpace = func(string) (uint64, error) { return 10, nil }
	_, _, err := transfer.Send(context.Background(), svc, "big.bin", source(t, 1<<20), time.Minute)
	if !errors.Is(err, contract.ErrNotEnoughSpace) {
		t.Fatalf("no room: %v", err)
	}
}

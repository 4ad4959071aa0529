package filesvc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/filesvc"
)

// The server's cache check is a use: it renews the file's time, so a sweep
// of the target's package cache keeps it, and the hash stamp moves with
// the time, so the next check still reads no content.
func TestStatFileRenewsTheTimeOfWhatItFinds(t *testing.T) {
	ctx := context.Background()
	s, _ := filesvc.New(t.TempDir())
	content := []byte("a package")
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	if _, err := s.UploadFrom(ctx, "packages/app.tar.gz", int64(len(content)), want, 0, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(s.Home, "packages", "app.tar.gz")
	longAgo := time.Now().Add(-90 * 24 * time.Hour)
	// Renew moves a stamp that fits, so age the file through it.
	if err := filesvc.Renew(name, longAgo); err != nil {
		t.Fatal(err)
	}
	// Same size, time kept: only a trusted stamp still answers the old hash.
	if err := os.WriteFile(name, []byte("a pACKAGE"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(name, longAgo, longAgo)

	before := time.Now().Add(-time.Minute)
	info, err := s.StatFile(ctx, "packages/app.tar.gz")
	if err != nil || info.SHA256 != want {
		t.Fatalf("got %+v, %v; want the stamped hash %s (the renewal must keep the stamp)", info, err, want)
	}
	if st, _ := os.Stat(name); st.ModTime().Before(before) {
		t.Fatalf("the cache check left the time at %s", st.ModTime())
	}

	if _, err := s.StatFile(ctx, "packages/missing.tar.gz"); !errors.Is(err, contract.ErrFileNotFound) {
		t.Fatalf("a missing file: got %v, want ErrFileNotFound", err)
	}
}

package runnerbin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestRunnerForEachPlatform(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	own := filepath.Join(dir, "pulpo")
	os.WriteFile(own, []byte("own build"), 0o755)
	runners := filepath.Join(dir, "runners")
	os.MkdirAll(runners, 0o755)
	other := "arm64" // a platform that is not this machine's
	if runtime.GOARCH == other {
		other = "amd64"
	}
	os.WriteFile(filepath.Join(runners, "pulpo-"+runtime.GOOS+"-"+other), []byte("other build"), 0o755)
	b := &Binaries{Own: own, Version: "1.2.3", Dir: runners}

	tests := []struct {
		name         string
		goos, goarch string
		wantOK       bool
		wantSum      string
		wantVersion  string
	}{
		{name: "the server's own platform gets its own binary", goos: runtime.GOOS, goarch: runtime.GOARCH, wantOK: true, wantSum: sum("own build"), wantVersion: "1.2.3"},
		{name: "another platform gets the binary named for it", goos: runtime.GOOS, goarch: other, wantOK: true, wantSum: sum("other build")},
		{name: "a platform without a binary gets none", goos: "freebsd", goarch: "riscv64"},
		{name: "a target that does not say gets none", goos: "", goarch: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok, err := b.Runner(ctx, tt.goos, tt.goarch)
			if err != nil || ok != tt.wantOK {
				t.Fatalf("got ok=%v err=%v, want ok=%v", ok, err, tt.wantOK)
			}
			if ok && (r.Source.SHA256() != tt.wantSum || r.Version != tt.wantVersion) {
				t.Fatalf("got %s %q, want %s %q", r.Source.SHA256(), r.Version, tt.wantSum, tt.wantVersion)
			}
		})
	}
}

func TestARunnerIsHashedAgainWhenItChanges(t *testing.T) {
	ctx := context.Background()
	own := filepath.Join(t.TempDir(), "pulpo")
	os.WriteFile(own, []byte("first"), 0o755)
	b := &Binaries{Own: own}
	r, _, _ := b.Runner(ctx, runtime.GOOS, runtime.GOARCH)
	if r.Source.SHA256() != sum("first") {
		t.Fatal("first hash")
	}
	os.WriteFile(own, []byte("second build"), 0o755)
	later := time.Now().Add(time.Minute)
	os.Chtimes(own, later, later)
	r, _, _ = b.Runner(ctx, runtime.GOOS, runtime.GOARCH)
	if r.Source.SHA256() != sum("second build") || r.Source.Size() != int64(len("second build")) {
		t.Fatalf("a replaced binary keeps its old hash: %s", r.Source.SHA256())
	}
}

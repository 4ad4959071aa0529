// Package runnerbin finds the runner binaries a server hands to its
// targets: its own executable for its own platform, and binaries built for
// other platforms that an operator puts in a folder as pulpo-<os>-<arch>
// (e.g. pulpo-linux-arm64).
package runnerbin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/transfer"
)

// Binaries is an engine.RunnerSource.
type Binaries struct {
	// Own is the server's executable and Version the version it reports.
	Own     string
	Version string
	// Dir holds binaries for other platforms; empty for none.
	Dir string

	mu     sync.Mutex
	hashed map[string]hashed
}

type hashed struct {
	size  int64
	mtime time.Time
	sum   string
}

var _ engine.RunnerSource = (*Binaries)(nil)

// Runner returns the binary for goos/goarch.
func (b *Binaries) Runner(ctx context.Context, goos, goarch string) (engine.Runner, bool, error) {
	if goos == runtime.GOOS && goarch == runtime.GOARCH && b.Own != "" {
		src, err := b.source(b.Own)
		if err != nil {
			return engine.Runner{}, false, err
		}
		return engine.Runner{Version: b.Version, Source: src}, true, nil
	}
	if b.Dir == "" || goos == "" || goarch == "" {
		return engine.Runner{}, false, nil
	}
	src, err := b.source(filepath.Join(b.Dir, "pulpo-"+goos+"-"+goarch))
	if errors.Is(err, fs.ErrNotExist) {
		return engine.Runner{}, false, nil
	}
	if err != nil {
		return engine.Runner{}, false, err
	}
	return engine.Runner{Source: src}, true, nil
}

// source describes the file at path, hashing it only when it is new or
// has changed since it was last hashed.
func (b *Binaries) source(path string) (transfer.FileSource, error) {
	st, err := os.Stat(path)
	if err != nil {
		return transfer.FileSource{}, err
	}
	if !st.Mode().IsRegular() {
		return transfer.FileSource{}, fmt.Errorf("runner %s is not a regular file", path)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if h, ok := b.hashed[path]; ok && h.size == st.Size() && h.mtime.Equal(st.ModTime()) {
		return transfer.FileSource{Path: path, Length: h.size, Sum: h.sum}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return transfer.FileSource{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return transfer.FileSource{}, fmt.Errorf("hash the runner %s: %w", path, err)
	}
	if b.hashed == nil {
		b.hashed = map[string]hashed{}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	b.hashed[path] = hashed{size: n, mtime: st.ModTime(), sum: sum}
	return transfer.FileSource{Path: path, Length: n, Sum: sum}, nil
}

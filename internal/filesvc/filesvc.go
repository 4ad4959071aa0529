// Package filesvc serves contract.FileService on the local file system: the
// half of a file transfer that runs where the file lands, on an agent, on an
// SSH target's remote runner, or on the server's built-in worker.
package filesvc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// Service reads and writes files, relative paths under Home.
type Service struct {
	Home string
	// FreeSpace reports the bytes available to a folder; nil uses the file
	// system's own figure. Tests set it to play a full disk.
	FreeSpace func(dir string) (uint64, error)

	mu      sync.Mutex
	writing map[string]chan struct{} // partial uploads being written
}

// lock waits until nobody else writes the partial upload at part, and
// returns the function that lets the next writer in.
func (s *Service) lock(ctx context.Context, part string) (func(), error) {
	for {
		s.mu.Lock()
		busy, ok := s.writing[part]
		if !ok {
			if s.writing == nil {
				s.writing = map[string]chan struct{}{}
			}
			done := make(chan struct{})
			s.writing[part] = done
			s.mu.Unlock()
			return func() {
				s.mu.Lock()
				delete(s.writing, part)
				s.mu.Unlock()
				close(done)
			}, nil
		}
		s.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

var _ contract.FileService = (*Service)(nil)

// New returns a service rooted at home, which it creates.
func New(home string) (*Service, error) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("file service home: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create file service home %s: %w", abs, err)
	}
	return &Service{Home: abs}, nil
}

// Resolve makes a path absolute, relative paths under Home.
func (s *Service) Resolve(path string) (string, error) {
	if path == "" {
		return "", errors.New("the file path is empty")
	}
	if filepath.IsAbs(path) {
		return filepath.Clean(path), nil
	}
	return filepath.Join(s.Home, path), nil
}

// UploadFile writes size bytes from r to path, all or nothing.
func (s *Service) UploadFile(ctx context.Context, path string, size int64, r io.Reader) (contract.FileInfo, error) {
	dest, err := s.Resolve(path)
	if err != nil {
		return contract.FileInfo{}, err
	}
	if size < 0 {
		return contract.FileInfo{}, fmt.Errorf("upload %s: the size %d is negative", dest, size)
	}
	dir := filepath.Dir(dest)
	if err := s.checkSpace(dest, size); err != nil {
		return contract.FileInfo{}, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".part-*")
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), ctxReader{ctx, io.LimitReader(r, size+1)})
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	if n != size {
		return contract.FileInfo{}, fmt.Errorf("upload %s: received %d bytes, expected %d", dest, n, size)
	}
	if err := tmp.Sync(); err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	stampHash(tmp, hex.EncodeToString(h.Sum(nil)))
	if err := tmp.Close(); err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	keep = true
	return contract.FileInfo{Path: dest, Length: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// CheckSpace resolves path and checks there is room for size bytes there,
// creating the folder; callers ask before sending anything.
func (s *Service) CheckSpace(path string, size int64) (string, error) {
	dest, err := s.Resolve(path)
	if err != nil {
		return "", err
	}
	return dest, s.checkSpace(dest, size)
}

func (s *Service) checkSpace(dest string, size int64) error {
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("upload %s: %w", dest, err)
	}
	free := s.FreeSpace
	if free == nil {
		free = freeSpace
	}
	if avail, err := free(dir); err == nil && uint64(size) > avail {
		return fmt.Errorf("upload %s: %w: %d bytes needed, %d available in %s", dest, contract.ErrNotEnoughSpace, size, avail, dir)
	}
	return nil
}

// Open opens a file for sending and says how long it is.
func (s *Service) Open(path string) (*os.File, int64, error) {
	src, err := s.Resolve(path)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, 0, fmt.Errorf("download %s: %w", src, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("download %s: %w", src, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("download %s: not a regular file", src)
	}
	return f, st.Size(), nil
}

// DownloadFile writes the file at path to w.
func (s *Service) DownloadFile(ctx context.Context, path string, w io.Writer) (contract.FileInfo, error) {
	src, err := s.Resolve(path)
	if err != nil {
		return contract.FileInfo{}, err
	}
	f, err := os.Open(src)
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("download %s: %w", src, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), ctxReader{ctx, f})
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("download %s: %w", src, err)
	}
	return contract.FileInfo{Path: src, Length: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Stat describes a file without sending it, so a caller can skip a transfer
// whose content is already there. The hash is read from the file's stamp
// when it still fits the file, and computed (and stamped) otherwise.
func (s *Service) Stat(ctx context.Context, path string) (contract.FileInfo, error) {
	name, err := s.Resolve(path)
	if err != nil {
		return contract.FileInfo{}, err
	}
	f, err := os.Open(name)
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("stat %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("stat %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return contract.FileInfo{}, fmt.Errorf("stat %s: not a regular file", name)
	}
	if sum, ok := stampedHash(f, st); ok {
		return contract.FileInfo{Path: name, Length: st.Size(), SHA256: sum}, nil
	}
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, f})
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("hash %s: %w", name, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if n == st.Size() {
		stampHash(f, sum)
	}
	return contract.FileInfo{Path: name, Length: n, SHA256: sum}, nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// StatFile describes a file, its hash included. It is the server's cache
// check (transfer.Send), and a file found is about to be used: its time is
// renewed first (see Renew), so a sweep of the target's package cache by
// another deployment cannot remove what the server has just found there.
func (s *Service) StatFile(ctx context.Context, path string) (contract.FileInfo, error) {
	if name, err := s.Resolve(path); err == nil {
		if err := Renew(name, time.Now()); errors.Is(err, os.ErrNotExist) {
			return contract.FileInfo{}, fmt.Errorf("%s: %w", path, contract.ErrFileNotFound)
		}
	}
	info, err := s.Stat(ctx, path)
	if errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("%s: %w", path, contract.ErrFileNotFound)
	}
	return info, err
}

// partialPath is where a resumable upload of content with this hash
// collects; a different content never continues another's bytes.
func (s *Service) partialPath(dest, sha string) string {
	if len(sha) > 16 {
		sha = sha[:16]
	}
	return filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".partial-"+sha)
}

// PartialUpload reports how much of a resumable upload has arrived.
func (s *Service) PartialUpload(ctx context.Context, path, sha string) (int64, error) {
	dest, err := s.Resolve(path)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(s.partialPath(dest, sha))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// UploadFrom appends r to the partial upload at offset and, once it holds
// size bytes with the right hash, moves it into place. A transfer cut short
// keeps what arrived, for the next call to continue.
func (s *Service) UploadFrom(ctx context.Context, path string, size int64, sha string, offset int64, r io.Reader) (contract.FileInfo, error) {
	dest, err := s.Resolve(path)
	if err != nil {
		return contract.FileInfo{}, err
	}
	if size < 0 || offset < 0 || offset > size {
		return contract.FileInfo{}, fmt.Errorf("upload %s: offset %d and size %d do not fit", dest, offset, size)
	}
	if err := s.checkSpace(dest, size-offset); err != nil {
		return contract.FileInfo{}, err
	}
	part := s.partialPath(dest, sha)
	// Two deployments may send the same package to one target at once: one
	// writes, the other then finds the file in place.
	unlock, err := s.lock(ctx, part)
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	defer unlock()
	if info, err := s.Stat(ctx, dest); err == nil && info.SHA256 == sha && info.Length == size {
		return info, nil
	}
	f, err := os.OpenFile(part, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	if st.Size() < offset {
		return contract.FileInfo{}, fmt.Errorf("upload %s: the target holds %d bytes, so it cannot continue from %d", dest, st.Size(), offset)
	}
	if err := f.Truncate(offset); err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	n, err := io.Copy(f, ctxReader{ctx, io.LimitReader(r, size-offset)})
	if syncErr := f.Sync(); err == nil {
		err = syncErr
	}
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: cut short at %d of %d bytes: %w", dest, offset+n, size, err)
	}
	if offset+n != size {
		return contract.FileInfo{}, fmt.Errorf("upload %s: cut short at %d of %d bytes", dest, offset+n, size)
	}
	// Whole: check it all, then move it into place.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return contract.FileInfo{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != sha {
		os.Remove(part) // wrong content: never continue from it
		return contract.FileInfo{}, fmt.Errorf("upload %s: the content's SHA-256 is %s, not %s; it was sent again from the start", dest, got, sha)
	}
	stampHash(f, got)
	if err := os.Rename(part, dest); err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s: %w", dest, err)
	}
	return contract.FileInfo{Path: dest, Length: size, SHA256: got}, nil
}

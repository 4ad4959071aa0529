// Package transfer sends files to targets the way deployments need: not at
// all when the target already has the same content, and, when a connection
// drops, on from where the bytes stopped instead of from the start.
package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// Source is content that can be read again from any offset.
type Source interface {
	Size() int64
	SHA256() string
	Open(offset int64) (io.ReadCloser, error)
}

// FileSource is a file on this machine whose hash is known.
type FileSource struct {
	Path   string
	Length int64
	Sum    string
}

// Size is the file's length.
func (f FileSource) Size() int64 { return f.Length }

// SHA256 is the file's hash.
func (f FileSource) SHA256() string { return f.Sum }

// Open reads the file from offset.
func (f FileSource) Open(offset int64) (io.ReadCloser, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return nil, err
	}
	if _, err := file.Seek(offset, io.SeekStart); err != nil {
		file.Close()
		return nil, err
	}
	return file, nil
}

// Report says what a send did, for the task log.
type Report struct {
	// Cached: the target had the content already; nothing was sent.
	Cached bool
	// Sent counts the bytes that went out, every attempt included.
	Sent int64
	// ResumedAt lists the offsets transfers continued from after a break.
	ResumedAt []int64
}

// Send puts src at path on the target. Breaks that are not the target's
// own answer are retried for up to retryFor, each time from what arrived.
func Send(ctx context.Context, fs contract.FileService, path string, src Source, retryFor time.Duration) (contract.FileInfo, Report, error) {
	var rep Report
	if info, err := fs.StatFile(ctx, path); err == nil && info.SHA256 == src.SHA256() && info.Length == src.Size() {
		rep.Cached = true
		return info, rep, nil
	}
	deadline := time.Now().Add(retryFor)
	wait := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		info, err := sendOnce(ctx, fs, path, src, &rep, attempt > 0)
		if err == nil {
			return info, rep, nil
		}
		final := contract.IsAnswered(err) || errors.Is(err, contract.ErrNotEnoughSpace)
		if ctx.Err() != nil || final || time.Now().After(deadline) {
			return contract.FileInfo{}, rep, err
		}
		select {
		case <-ctx.Done():
			return contract.FileInfo{}, rep, context.Cause(ctx)
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func sendOnce(ctx context.Context, fs contract.FileService, path string, src Source, rep *Report, resuming bool) (contract.FileInfo, error) {
	offset, err := fs.PartialUpload(ctx, path, src.SHA256())
	if err != nil {
		return contract.FileInfo{}, err
	}
	if offset > src.Size() {
		offset = 0
	}
	if resuming {
		rep.ResumedAt = append(rep.ResumedAt, offset)
	}
	r, err := src.Open(offset)
	if err != nil {
		return contract.FileInfo{}, &answered{fmt.Errorf("read %s: %w", path, err)}
	}
	defer r.Close()
	counted := &countingReader{r: r}
	info, err := fs.UploadFrom(ctx, path, src.Size(), src.SHA256(), offset, counted)
	rep.Sent += counted.n
	return info, err
}

// answered marks a local failure that retrying will not mend.
type answered struct{ error }

func (a *answered) Answered() bool { return true }
func (a *answered) Unwrap() error  { return a.error }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

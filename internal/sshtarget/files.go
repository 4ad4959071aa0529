package sshtarget

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// fileService moves files through the remote process as to an agent: room
// is checked first, the content streams, and both ends compare length and
// SHA-256. A transfer is repeated after its process died only if none of
// its content had moved yet.
type fileService struct{ t *Target }

var _ contract.FileService = fileService{}

// UploadFile writes size bytes from r to path on the machine, all or
// nothing. A reader holding more than size bytes is refused.
func (f fileService) UploadFile(ctx context.Context, path string, size int64, r io.Reader) (contract.FileInfo, error) {
	src := &exactReader{r: r, left: size}
	if size == 0 { // the upload reads nothing, so look here
		if err := src.atEnd(); err != io.EOF {
			return contract.FileInfo{}, fmt.Errorf("upload %s to %s: %w", path, f.t.cfg.Name, err)
		}
	}
	var info contract.FileInfo
	err := f.t.call(ctx, src.untouched, func(rpc *agentrpc.Target) (err error) {
		info, err = rpc.Files().UploadFile(ctx, path, size, src)
		return err
	})
	var notSent *notSentError
	if errors.As(err, &notSent) { // the service's own errors say what failed
		err = fmt.Errorf("upload %s to %s: %w", path, f.t.cfg.Name, err)
	}
	return info, err
}

// DownloadFile writes the file at path on the machine to w.
func (f fileService) DownloadFile(ctx context.Context, path string, w io.Writer) (contract.FileInfo, error) {
	dst := &countingWriter{w: w}
	var info contract.FileInfo
	err := f.t.call(ctx, dst.untouched, func(rpc *agentrpc.Target) (err error) {
		info, err = rpc.Files().DownloadFile(ctx, path, dst)
		return err
	})
	var notSent *notSentError
	if errors.As(err, &notSent) {
		err = fmt.Errorf("download %s from %s: %w", path, f.t.cfg.Name, err)
	}
	return info, err
}

// exactReader passes on r's first left bytes, and fails instead of
// delivering the last of them when r holds more: the upload stops reading
// at the announced size, so a longer stream would be cut short unseen, and
// failing before the last byte leaves the machine an incomplete upload,
// which it discards.
type exactReader struct {
	r    io.Reader
	left int64
	read int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, e.atEnd()
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	e.read += int64(n)
	if e.left == 0 && err == nil {
		if err = e.atEnd(); err == io.EOF {
			err = nil
		} else {
			n = 0
		}
	}
	return n, err
}

// atEnd is io.EOF when r holds nothing more.
func (e *exactReader) atEnd() error {
	var b [1]byte
	for {
		n, err := e.r.Read(b[:])
		switch {
		case n > 0:
			return fmt.Errorf("the content is longer than the %d bytes announced", e.read)
		case err != nil:
			return err
		}
	}
}

func (e *exactReader) untouched() bool { return e.read == 0 }

// countingWriter counts what passed through it.
type countingWriter struct {
	w       io.Writer
	written int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.written += int64(n)
	return n, err
}

func (c *countingWriter) untouched() bool { return c.written == 0 }

// StatFile describes a file on the machine.
func (f fileService) StatFile(ctx context.Context, path string) (contract.FileInfo, error) {
	var info contract.FileInfo
	err := f.t.call(ctx, func() bool { return true }, func(rpc *agentrpc.Target) (err error) {
		info, err = rpc.Files().StatFile(ctx, path)
		return err
	})
	return info, err
}

// PartialUpload asks how much of a resumable upload the machine holds.
func (f fileService) PartialUpload(ctx context.Context, path, sha string) (int64, error) {
	var n int64
	err := f.t.call(ctx, func() bool { return true }, func(rpc *agentrpc.Target) (err error) {
		n, err = rpc.Files().PartialUpload(ctx, path, sha)
		return err
	})
	return n, err
}

// UploadFrom streams the rest of a resumable upload; it is not repeated
// here, since the caller resumes from what arrived.
func (f fileService) UploadFrom(ctx context.Context, path string, size int64, sha string, offset int64, r io.Reader) (contract.FileInfo, error) {
	var info contract.FileInfo
	err := f.t.call(ctx, func() bool { return false }, func(rpc *agentrpc.Target) (err error) {
		info, err = rpc.Files().UploadFrom(ctx, path, size, sha, offset, r)
		return err
	})
	return info, err
}

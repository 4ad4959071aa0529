package sshtarget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// cleanupTimeout bounds removing a failed upload's temporary file, which
// happens after the caller's context may have ended.
const cleanupTimeout = 15 * time.Second

// fileService streams files over SFTP; remote calls resolve paths, check
// free space and hash what arrived, with the same rules as the local file
// service.
type fileService struct{ t *Target }

var _ contract.FileService = fileService{}

// UploadFile writes size bytes from r to path on the machine, all or
// nothing: into a temporary file next to it, checked by length and SHA-256
// on the machine, then renamed into place.
func (f fileService) UploadFile(ctx context.Context, path string, size int64, r io.Reader) (contract.FileInfo, error) {
	info, err := f.upload(ctx, path, size, r)
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("upload %s to %s: %w", path, f.t.cfg.Name, err)
	}
	return info, nil
}

func (f fileService) upload(ctx context.Context, path string, size int64, r io.Reader) (contract.FileInfo, error) {
	// It creates the temporary file, so repeating it could leave one behind.
	var prep prepareUploadResult
	if err := f.t.call(ctx, methodPrepareUpload, false, prepareUploadRequest{Path: path, Size: size}, &prep); err != nil {
		return contract.FileInfo{}, err
	}
	placed := false
	defer func() {
		if !placed {
			f.removeTemp(ctx, prep.TempPath)
		}
	}()
	files, err := f.t.sftpClient(ctx)
	if err != nil {
		return contract.FileInfo{}, err
	}
	tmp, err := files.OpenFile(prep.TempPath, os.O_WRONLY|os.O_TRUNC)
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("open %s: %w", prep.TempPath, err)
	}
	h := sha256.New()
	// One byte past size is read, to notice a stream longer than announced.
	n, err := tmp.ReadFrom(&io.LimitedReader{R: io.TeeReader(ctxReader{ctx, r}, h), N: size + 1})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("send the content: %w", err)
	}
	if n != size {
		return contract.FileInfo{}, fmt.Errorf("the content was %s, but %d bytes were announced", describeLength(n, size), size)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	var got contract.FileInfo
	if err := f.t.call(ctx, methodHashFile, true, pathRequest{Path: prep.TempPath, Sync: true}, &got); err != nil {
		return contract.FileInfo{}, fmt.Errorf("check what arrived: %w", err)
	}
	if got.Length != size || got.SHA256 != sum {
		return contract.FileInfo{}, fmt.Errorf("the machine received %d bytes with SHA-256 %s, but %d bytes with SHA-256 %s were sent", got.Length, got.SHA256, size, sum)
	}
	if err := renameReplacing(files, prep.TempPath, prep.Path); err != nil {
		return contract.FileInfo{}, fmt.Errorf("move %s into place: %w", prep.Path, err)
	}
	placed = true
	return contract.FileInfo{Path: prep.Path, Length: size, SHA256: sum}, nil
}

func describeLength(n, size int64) string {
	if n > size {
		return "longer"
	}
	return fmt.Sprintf("only %d bytes", n)
}

// removeTemp deletes a failed upload's temporary file, reconnecting if the
// failure was the connection's.
func (f fileService) removeTemp(ctx context.Context, tmp string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if files, err := f.t.sftpClient(ctx); err == nil {
		files.Remove(tmp)
	}
}

// DownloadFile writes the file at path on the machine to w and describes
// what was sent: the length and hash are of the bytes written to w.
func (f fileService) DownloadFile(ctx context.Context, path string, w io.Writer) (contract.FileInfo, error) {
	info, err := f.download(ctx, path, w)
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("download %s from %s: %w", path, f.t.cfg.Name, err)
	}
	return info, nil
}

func (f fileService) download(ctx context.Context, path string, w io.Writer) (contract.FileInfo, error) {
	var resolved pathResult
	if err := f.t.call(ctx, methodResolvePath, true, pathRequest{Path: path}, &resolved); err != nil {
		return contract.FileInfo{}, err
	}
	files, err := f.t.sftpClient(ctx)
	if err != nil {
		return contract.FileInfo{}, err
	}
	src, err := files.Open(resolved.Path)
	if err != nil {
		return contract.FileInfo{}, fmt.Errorf("open %s: %w", resolved.Path, err)
	}
	defer src.Close()
	h := sha256.New()
	// io.Copy uses the SFTP file's WriteTo, which keeps several reads in
	// flight but writes in order.
	n, err := io.Copy(ctxWriter{ctx, io.MultiWriter(w, h)}, src)
	if err != nil {
		return contract.FileInfo{}, err
	}
	return contract.FileInfo{Path: resolved.Path, Length: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

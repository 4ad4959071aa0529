package sshtarget

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
)

// prepareUpload resolves an upload's destination, checks there is room for
// it and creates the temporary file the content is sent to.
func prepareUpload(target *localtarget.Target, req prepareUploadRequest) (prepareUploadResult, error) {
	dest, err := target.FileSvc.Resolve(req.Path)
	if err != nil {
		return prepareUploadResult{}, err
	}
	if req.Size < 0 {
		return prepareUploadResult{}, fmt.Errorf("the size %d is negative", req.Size)
	}
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return prepareUploadResult{}, err
	}
	if avail, err := freeSpace(dir); err == nil && uint64(req.Size) > avail {
		return prepareUploadResult{}, fmt.Errorf("%w: %d bytes needed, %d available in %s", contract.ErrNotEnoughSpace, req.Size, avail, dir)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".part-*")
	if err != nil {
		return prepareUploadResult{}, err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return prepareUploadResult{}, err
	}
	return prepareUploadResult{Path: dest, TempPath: tmp.Name()}, nil
}

// hashFile describes a file that arrived, flushing it to disk first when
// asked.
func hashFile(ctx context.Context, target *localtarget.Target, req pathRequest) (contract.FileInfo, error) {
	if req.Sync {
		p, err := target.FileSvc.Resolve(req.Path)
		if err != nil {
			return contract.FileInfo{}, err
		}
		f, err := os.Open(p)
		if err != nil {
			return contract.FileInfo{}, err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return contract.FileInfo{}, fmt.Errorf("flush %s to disk: %w", p, err)
		}
	}
	return target.FileSvc.Stat(ctx, req.Path)
}

// freeSpace is the room left for an unprivileged user in dir's file system.
func freeSpace(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

package sshtarget

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// localBinary is the pulpo binary this server sends.
type localBinary struct {
	path   string
	size   int64
	sha256 string
	// goos and goarch are read from its ELF header; goos is "" when it is
	// not an ELF file.
	goos, goarch string
}

// remoteName is the binary's file name on the machine: its content hash,
// so a new build never runs under an old one's name and an unchanged one
// is sent only once.
func (b localBinary) remoteName() string { return "pulpo-" + b.sha256[:16] }

// remoteBinary returns the path of our binary on the machine, sending it
// first if the machine lacks it. The caller holds t.starting.
func (t *Target) remoteBinary(ctx context.Context, conn *ssh.Client) (string, error) {
	if t.remoteExe != "" {
		return t.remoteExe, nil
	}
	local, err := inspectBinary(t.cfg.LocalBinary)
	if err != nil {
		return "", err
	}
	// Concurrent writes overlap round trips; memory stays bounded by the
	// client's limit on requests in flight.
	files, err := sftp.NewClient(conn, sftp.UseConcurrentWrites(true))
	if err != nil {
		return "", fmt.Errorf("start SFTP on %s: %w", t.cfg.Name, err)
	}
	defer files.Close()
	binDir := path.Join(t.cfg.RemoteHome, "bin")
	remote := path.Join(binDir, local.remoteName())
	if fi, err := files.Stat(remote); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o100 != 0 && fi.Size() == local.size {
		t.remoteExe = remote
		return remote, nil
	}
	uname, err := t.runOutput(ctx, conn, "uname -sm")
	if err != nil {
		return "", fmt.Errorf("ask %s which system it runs: %w", t.cfg.Name, err)
	}
	if err := checkPlatform(uname, local); err != nil {
		return "", err
	}
	if err := t.makeHome(files); err != nil {
		return "", err
	}
	if err := uploadBinary(ctx, files, local, binDir, remote); err != nil {
		return "", fmt.Errorf("send the pulpo binary to %s:%s: %w", t.cfg.Name, remote, err)
	}
	t.remoteExe = remote
	return remote, nil
}

// makeHome creates the remote home private, as the remote side would: it
// holds scripts and their output.
func (t *Target) makeHome(files *sftp.Client) error {
	home := t.cfg.RemoteHome
	if _, err := files.Stat(home); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := files.MkdirAll(home); err != nil {
		return fmt.Errorf("create %s on %s: %w", home, t.cfg.Name, err)
	}
	if err := files.Chmod(home, 0o700); err != nil {
		return fmt.Errorf("create %s on %s: %w", home, t.cfg.Name, err)
	}
	return nil
}

// uploadBinary writes the binary under a temporary name and renames it into
// place, so a cut connection never leaves a half binary under the real name.
func uploadBinary(ctx context.Context, files *sftp.Client, local localBinary, binDir, remote string) error {
	if err := files.MkdirAll(binDir); err != nil {
		return err
	}
	src, err := os.Open(local.path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path.Join(binDir, "."+local.remoteName()+".part-"+randomSuffix())
	dst, err := files.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	placed := false
	defer func() {
		if !placed {
			dst.Close()
			files.Remove(tmp)
		}
	}()
	n, err := dst.ReadFrom(&io.LimitedReader{R: ctxReader{ctx, src}, N: local.size})
	if err != nil {
		return err
	}
	if n != local.size {
		return fmt.Errorf("sent %d bytes of %d", n, local.size)
	}
	if err := dst.Chmod(0o755); err != nil {
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := renameReplacing(files, tmp, remote); err != nil {
		return err
	}
	placed = true
	return nil
}

// renameReplacing renames over an existing file where the server allows it
// (OpenSSH's posix-rename extension); plain SFTP rename refuses to.
func renameReplacing(files *sftp.Client, from, to string) error {
	err := files.PosixRename(from, to)
	if err == nil {
		return nil
	}
	if files.Rename(from, to) == nil {
		return nil
	}
	return err
}

func randomSuffix() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// inspectBinary hashes the binary and reads which platform it is for.
func inspectBinary(p string) (localBinary, error) {
	f, err := os.Open(p)
	if err != nil {
		return localBinary{}, fmt.Errorf("read the pulpo binary to send: %w", err)
	}
	defer f.Close()
	b := localBinary{path: p}
	if ef, err := elf.NewFile(f); err == nil {
		b.goos, b.goarch = elfPlatform(ef)
	}
	h := sha256.New()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return localBinary{}, fmt.Errorf("read the pulpo binary to send: %w", err)
	}
	if b.size, err = io.Copy(h, f); err != nil {
		return localBinary{}, fmt.Errorf("read the pulpo binary to send: %w", err)
	}
	b.sha256 = hex.EncodeToString(h.Sum(nil))
	return b, nil
}

package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// archiveKind is a package format, known by the file's extension.
type archiveKind int

const (
	kindTarGz archiveKind = iota + 1
	kindTar
	kindZip
	kindNupkg
)

func archiveKindOf(name string) (archiveKind, error) {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return kindTarGz, nil
	case strings.HasSuffix(lower, ".tar"):
		return kindTar, nil
	case strings.HasSuffix(lower, ".zip"), strings.HasSuffix(lower, ".jar"), strings.HasSuffix(lower, ".war"), strings.HasSuffix(lower, ".ear"):
		return kindZip, nil
	case strings.HasSuffix(lower, ".nupkg"):
		return kindNupkg, nil
	}
	return 0, fmt.Errorf("%s: unsupported package format (use .tar.gz, .tgz, .tar, .zip, .jar, .war, .ear or .nupkg)", filepath.Base(name))
}

// openArchive opens a package file and says its format and size.
func openArchive(archive string) (archiveKind, *os.File, int64, error) {
	kind, err := archiveKindOf(archive)
	if err != nil {
		return 0, nil, 0, err
	}
	f, err := os.Open(archive)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("open package: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, nil, 0, fmt.Errorf("open package: %w", err)
	}
	return kind, f, info.Size(), nil
}

// Extract unpacks archive into dest, which must not exist or be an empty
// folder. It streams every entry to disk and keeps permission bits (not
// setuid, setgid or sticky). It refuses, naming the entry, anything that
// would write outside dest (absolute paths, "..", links leading out), device
// files and pipes, and expansion beyond opts' limits. On any error dest is
// removed, so nothing is left behind.
func Extract(ctx context.Context, archive, dest string, opts Options) (files int, bytes int64, err error) {
	kind, f, size, err := openArchive(archive)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	if err := makeEmptyDir(dest); err != nil {
		return 0, 0, err
	}
	x := &extraction{ctx: ctx, root: dest, opts: opts.withDefaults()}
	switch kind {
	case kindTarGz, kindTar:
		err = x.tar(f, kind == kindTarGz)
	case kindZip, kindNupkg:
		err = x.zip(f, size, kind == kindNupkg)
	}
	if err == nil {
		err = x.checkSymlinkChains()
	}
	if err != nil {
		if rmErr := os.RemoveAll(dest); rmErr != nil {
			err = fmt.Errorf("%w (and removing the partial folder failed: %v)", err, rmErr)
		}
		return 0, 0, fmt.Errorf("%s: %w", filepath.Base(archive), err)
	}
	return x.files, x.written, nil
}

// Scan reads the whole archive and applies the checks Extract applies to
// each entry (names inside the folder, link targets, size, ratio and
// entry limits, a whole, uncorrupted archive) without writing anything. It
// cannot see chains of links that lead outside together: Extract still
// checks those on the target. It returns what Extract would write.
func Scan(ctx context.Context, archive string, opts Options) (files int, bytes int64, err error) {
	kind, f, size, err := openArchive(archive)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	x := &extraction{ctx: ctx, opts: opts.withDefaults(), scan: true}
	switch kind {
	case kindTarGz, kindTar:
		err = x.tar(f, kind == kindTarGz)
	case kindZip, kindNupkg:
		err = x.zip(f, size, kind == kindNupkg)
	}
	if err != nil {
		return 0, 0, err
	}
	return x.files, x.written, nil
}

// makeEmptyDir creates dir, or accepts it if it is an empty folder (the
// caller may have reserved it).
func makeEmptyDir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		if err != nil {
			return fmt.Errorf("create extraction folder: %w", err)
		}
		return nil
	}
	entries, rerr := os.ReadDir(dir)
	if rerr != nil {
		return fmt.Errorf("create extraction folder: %w", rerr)
	}
	if len(entries) > 0 {
		return fmt.Errorf("extraction folder %s is not empty", dir)
	}
	return nil
}

// extraction is one archive being unpacked: where, how much so far, and the
// links to re-check at the end.
type extraction struct {
	ctx      context.Context
	root     string
	opts     Options
	files    int
	written  int64
	consumed func() int64 // compressed bytes read so far
	symlinks []string
	entry    string // the entry being written, for messages
	// scan reads and checks every entry but writes nothing (Scan).
	scan bool
}

// refusal is an entry the extraction will not write.
type refusal struct {
	entry  string
	reason string
}

func (r *refusal) Error() string { return fmt.Sprintf("refused entry %q: %s", r.entry, r.reason) }

// IsRefused reports whether err is an entry the package may not hold (as
// opposed to a package that cannot be read).
func IsRefused(err error) bool {
	var r *refusal
	return errors.As(err, &r)
}

func (x *extraction) refuse(entry string, err error) error {
	return &refusal{entry: entry, reason: err.Error()}
}

// countEntry enforces the entry limit.
func (x *extraction) countEntry(name string) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	x.files++
	if x.files > x.opts.MaxFiles {
		return x.refuse(name, fmt.Errorf("the package has more than %d entries", x.opts.MaxFiles))
	}
	return nil
}

// account adds n bytes about to be written and enforces the size and ratio
// limits before they reach the disk.
func (x *extraction) account(n int) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	x.written += int64(n)
	if x.written > x.opts.MaxTotalBytes {
		return x.refuse(x.entry, fmt.Errorf("the package expands beyond the limit of %s", humanBytes(x.opts.MaxTotalBytes)))
	}
	if x.written > x.opts.MinBytesForRatio && x.consumed != nil {
		in := max(x.consumed(), 1)
		if ratio := float64(x.written) / float64(in); ratio > x.opts.MaxRatio {
			return x.refuse(x.entry, fmt.Errorf("the package expands more than %g times its compressed size (%s from %s read): suspiciously compressible, like a zip bomb",
				x.opts.MaxRatio, humanBytes(x.written), humanBytes(in)))
		}
	}
	return nil
}

func (x *extraction) abs(rel string) string { return filepath.Join(x.root, filepath.FromSlash(rel)) }

// mkdirAll creates the folders of rel, refusing to go through anything
// that is not a real folder (a symbolic link written by an earlier entry
// could otherwise carry later entries elsewhere).
func (x *extraction) mkdirAll(name, rel string) error {
	if rel == "." || rel == "" || x.scan {
		return nil
	}
	at := x.root
	for _, c := range strings.Split(rel, "/") {
		at = filepath.Join(at, c)
		fi, err := os.Lstat(at)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(at, 0o755); err != nil {
				return fmt.Errorf("create folder for %q: %w", name, err)
			}
		case err != nil:
			return fmt.Errorf("create folder for %q: %w", name, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return x.refuse(name, fmt.Errorf("it would be written through the symbolic link %q", strings.TrimPrefix(at, x.root+"/")))
		case !fi.IsDir():
			return x.refuse(name, fmt.Errorf("%q is a file, not a folder", strings.TrimPrefix(at, x.root+"/")))
		}
	}
	return nil
}

// clearTarget removes what an earlier entry of the same name left, so a
// later entry replaces it (as tar does) without following a link.
func (x *extraction) clearTarget(name, rel string) error {
	if x.scan {
		return nil
	}
	p := x.abs(rel)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return x.refuse(name, errors.New("a folder of the same name was already extracted"))
	}
	return os.Remove(p)
}

func (x *extraction) dir(name, rel string, perm fs.FileMode) error {
	if err := x.mkdirAll(name, rel); err != nil {
		return err
	}
	if rel == "." || x.scan {
		return nil
	}
	// Owner rwx is kept so later steps (substitution, retention) can write
	// and remove inside; whoever may read a folder may also enter it (zips
	// from Windows give folders no x bits).
	perm = perm.Perm() | 0o700 | (perm.Perm()&0o044)>>2
	return os.Chmod(x.abs(rel), perm)
}

func (x *extraction) file(name, rel string, perm fs.FileMode, mtime time.Time, r io.Reader) error {
	if rel == "." {
		return x.refuse(name, errors.New("a file cannot replace the extraction folder"))
	}
	if err := x.mkdirAll(name, path.Dir(rel)); err != nil {
		return err
	}
	if err := x.clearTarget(name, rel); err != nil {
		return err
	}
	x.entry = name
	p := x.abs(rel)
	var f io.WriteCloser = discard{}
	if !x.scan {
		file, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return fmt.Errorf("write %q: %w", name, err)
		}
		f = file
	}
	_, err := io.CopyBuffer(&accountingWriter{x: x, w: f}, sourceReader{r}, make([]byte, 64<<10))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var ref *refusal
	var src sourceError
	switch {
	case err == nil:
	case errors.As(err, &ref), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &src):
		return readError(fmt.Errorf("entry %q: %w", name, src.err))
	default:
		return fmt.Errorf("write %q: %w", name, err)
	}
	if x.scan {
		return nil
	}
	if err := os.Chmod(p, perm.Perm()); err != nil {
		return err
	}
	if !mtime.IsZero() {
		// A time the file system cannot hold is not worth failing for.
		_ = os.Chtimes(p, mtime, mtime)
	}
	return nil
}

func (x *extraction) symlink(name, rel, target string) error {
	if rel == "." {
		return x.refuse(name, errors.New("a link cannot replace the extraction folder"))
	}
	if err := symlinkTarget(rel, target); err != nil {
		return x.refuse(name, err)
	}
	if x.scan {
		return nil
	}
	if err := x.mkdirAll(name, path.Dir(rel)); err != nil {
		return err
	}
	if err := x.clearTarget(name, rel); err != nil {
		return err
	}
	if err := os.Symlink(target, x.abs(rel)); err != nil {
		return fmt.Errorf("create link %q: %w", name, err)
	}
	x.symlinks = append(x.symlinks, rel)
	return nil
}

// hardlink links rel to an already extracted regular file; target is
// relative to the archive's root, as tar writes it.
func (x *extraction) hardlink(name, rel, target string) error {
	targetRel, err := archivePath(target)
	if err != nil {
		return x.refuse(name, fmt.Errorf("it is a hard link to %q and %v", target, err))
	}
	if targetRel == "." || rel == "." {
		return x.refuse(name, fmt.Errorf("it is a hard link to %q, which is not a file", target))
	}
	if x.scan {
		return nil
	}
	// The target's folders must be real folders too, or the link could
	// reach a file outside through a symbolic link.
	if err := x.mkdirAll(name, path.Dir(targetRel)); err != nil {
		return err
	}
	fi, err := os.Lstat(x.abs(targetRel))
	if err != nil || !fi.Mode().IsRegular() {
		return x.refuse(name, fmt.Errorf("it is a hard link to %q, which is not a file extracted before it", target))
	}
	if err := x.mkdirAll(name, path.Dir(rel)); err != nil {
		return err
	}
	if err := x.clearTarget(name, rel); err != nil {
		return err
	}
	if err := os.Link(x.abs(targetRel), x.abs(rel)); err != nil {
		return fmt.Errorf("create hard link %q: %w", name, err)
	}
	return nil
}

// checkSymlinkChains re-resolves every link once all entries exist.
func (x *extraction) checkSymlinkChains() error {
	for _, rel := range x.symlinks {
		fi, err := os.Lstat(x.abs(rel))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue // replaced by a later entry
		}
		outside, err := resolvesOutside(x.root, rel)
		if err != nil {
			return fmt.Errorf("check link %q: %w", rel, err)
		}
		if outside {
			target, _ := os.Readlink(x.abs(rel))
			return x.refuse(rel, fmt.Errorf("the symbolic link to %q leads outside the extraction folder through other links", target))
		}
	}
	return nil
}

// discard is where a scan writes file contents.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }

// accountingWriter applies the limits to every chunk before writing it.
type accountingWriter struct {
	x *extraction
	w io.Writer
}

func (a *accountingWriter) Write(p []byte) (int, error) {
	if err := a.x.account(len(p)); err != nil {
		return 0, err
	}
	return a.w.Write(p)
}

// sourceReader marks errors of reading the archive, to tell them from
// errors of writing the disk.
type sourceReader struct{ r io.Reader }

type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = sourceError{err}
	}
	return n, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

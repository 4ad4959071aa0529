package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// installToCustomDir copies the package folder's contents into a custom
// installation folder, first purging it (except what matches exclude) if
// asked, as Calamari's CopyPackageToCustomInstallationDirectoryConvention.
// Existing files are replaced (never written through a link); links are
// copied as links.
func installToCustomDir(ctx context.Context, from string, custom CustomInstallDir, out *output) (copied int, err error) {
	to := filepath.Clean(custom.Path)
	if sameOrWithin(from, to) || within(to, from) {
		return 0, fmt.Errorf("the custom installation folder %s and the package folder %s must not contain each other", to, from)
	}
	if to == "/" {
		return 0, errors.New("the custom installation folder cannot be /")
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return 0, fmt.Errorf("create %s: %w", to, err)
	}
	if custom.Purge {
		excludes := make([]glob, 0, len(custom.Exclude))
		for _, e := range custom.Exclude {
			if strings.TrimSpace(e) == "" {
				continue
			}
			g, err := parseGlob(e)
			if err != nil {
				return 0, fmt.Errorf("purge exclusion: %w", err)
			}
			excludes = append(excludes, g)
		}
		if len(excludes) > 0 {
			out.Infof("Purging %s, keeping what matches %s", to, strings.Join(custom.Exclude, ", "))
		} else {
			out.Infof("Purging %s", to)
		}
		removed, err := purge(ctx, to, "", excludes)
		if err != nil {
			return 0, fmt.Errorf("purge %s: %w", to, err)
		}
		out.Infof("Removed %d items from %s", removed, to)
	}
	out.Infof("Copying the package's contents to %s", to)
	copied, err = copyTree(ctx, from, to)
	if err != nil {
		return copied, fmt.Errorf("copy to %s: %w", to, err)
	}
	out.Infof("Copied %d files", copied)
	return copied, nil
}

// purge empties root/rel, keeping entries matching an exclusion (and the
// folders holding them). A link is removed, never followed.
func purge(ctx context.Context, root, rel string, excludes []glob) (removed int, err error) {
	entries, err := os.ReadDir(filepath.Join(root, rel))
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		childRel := e.Name()
		if rel != "" {
			childRel = rel + "/" + e.Name()
		}
		if matchesAny(excludes, childRel) {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(childRel))
		if e.IsDir() {
			n, err := purge(ctx, root, childRel, excludes)
			removed += n
			if err != nil {
				return removed, err
			}
			if left, err := os.ReadDir(p); err == nil && len(left) > 0 {
				continue // it holds something kept
			}
		}
		if err := os.Remove(p); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

func matchesAny(globs []glob, rel string) bool {
	for _, g := range globs {
		if g.match(rel) {
			return true
		}
	}
	return false
}

// copyTree copies from's contents into to, keeping modes and links.
func copyTree(ctx context.Context, from, to string) (files int, err error) {
	err = filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil || rel == "." {
			return err
		}
		dest := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if fi, err := os.Lstat(dest); err == nil && !fi.IsDir() {
				if err := os.Remove(dest); err != nil {
					return err
				}
			}
			if err := os.Mkdir(dest, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			return os.Chmod(dest, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := removeNonDir(dest); err != nil {
				return err
			}
			return os.Symlink(target, dest)
		case d.Type().IsRegular():
			if err := removeNonDir(dest); err != nil {
				return err
			}
			files++
			return copyFile(p, dest, info.Mode().Perm())
		}
		return nil // sockets and the like cannot come from a package
	})
	return files, err
}

// removeNonDir clears the way for a file or link; a folder in the way is
// an error (a package file would not silently delete a folder of files).
func removeNonDir(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a folder, and the package has a file there", p)
	}
	return os.Remove(p)
}

func copyFile(from, to string, perm fs.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Chmod(perm); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

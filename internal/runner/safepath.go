package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// archivePath turns an entry's name into a clean path relative to the
// extraction folder, refusing names that are absolute or climb out of it.
// "a/../b" is accepted as "b": only escaping is refused.
func archivePath(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("it has an empty name")
	case strings.ContainsRune(name, 0):
		return "", errors.New("its name contains a NUL byte")
	case strings.HasPrefix(name, "/"):
		return "", errors.New("its path is absolute")
	case len(name) >= 2 && name[1] == ':' && isLetter(name[0]):
		return "", errors.New("its path starts with a drive letter")
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", errors.New("its path leaves the extraction folder")
	}
	return clean, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// symlinkTarget checks a symbolic link's target, read as the link would
// be: relative to the folder holding the link.
func symlinkTarget(linkRel, target string) error {
	switch {
	case target == "":
		return errors.New("it is a symbolic link with an empty target")
	case strings.ContainsRune(target, 0):
		return errors.New("its link target contains a NUL byte")
	case filepath.IsAbs(target):
		return fmt.Errorf("it is a symbolic link to the absolute path %q", target)
	}
	joined := path.Clean(path.Join(path.Dir(linkRel), target))
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return fmt.Errorf("it is a symbolic link to %q, outside the extraction folder", target)
	}
	return nil
}

// maxSymlinkHops matches Linux's limit on links followed in one lookup.
const maxSymlinkHops = 40

// resolvesOutside follows rel under root the way the kernel would, link by
// link, and reports whether it ever leaves root. Each link was checked on
// its own when written; this catches chains of links that are each inside
// but lead outside together. A missing component ends the lookup with the
// rest of the path taken literally.
func resolvesOutside(root, rel string) (bool, error) {
	var at []string // resolved components below root, all real folders
	pending := strings.Split(rel, "/")
	hops := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(at) == 0 {
				return true, nil
			}
			at = at[:len(at)-1]
			continue
		}
		full := filepath.Join(root, filepath.Join(at...), c)
		fi, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			at = append(at, c)
			continue
		}
		if err != nil {
			return false, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			at = append(at, c)
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return true, nil
		}
		target, err := os.Readlink(full)
		if err != nil {
			return false, err
		}
		if filepath.IsAbs(target) {
			return true, nil
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	return false, nil
}

// within reports whether p is strictly inside dir (both absolute).
func within(dir, p string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(p))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// sameOrWithin reports whether p is dir or inside it.
func sameOrWithin(dir, p string) bool {
	return filepath.Clean(dir) == filepath.Clean(p) || within(dir, p)
}

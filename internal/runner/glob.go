package runner

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// glob is a file pattern relative to a folder: segments separated by '/',
// where "**" matches any number of folders (none included) and other
// segments use path.Match (*, ?, [a-z]). Backslashes are read as folder
// separators, because Octopus users write Windows paths (Config\*.json);
// so there is no escaping.
type glob struct {
	text     string
	segments []string
}

func parseGlob(pattern string) (glob, error) {
	p := strings.TrimSpace(strings.ReplaceAll(pattern, `\`, "/"))
	for strings.HasPrefix(p, "./") {
		p = strings.TrimPrefix(p, "./")
	}
	if p == "" {
		return glob{}, fmt.Errorf("empty file pattern")
	}
	if strings.HasPrefix(p, "/") {
		return glob{}, fmt.Errorf("file pattern %q must be relative to the package folder", pattern)
	}
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s == "" || s == "." {
			continue
		}
		if s == ".." {
			return glob{}, fmt.Errorf("file pattern %q must stay inside the package folder", pattern)
		}
		if _, err := path.Match(s, ""); err != nil {
			return glob{}, fmt.Errorf("file pattern %q: %w", pattern, err)
		}
		if s == "**" && len(segs) > 0 && segs[len(segs)-1] == "**" {
			continue
		}
		segs = append(segs, s)
	}
	return glob{text: pattern, segments: segs}, nil
}

// match reports whether rel ('/'-separated, relative) matches.
func (g glob) match(rel string) bool {
	return matchSegments(g.segments, strings.Split(rel, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			for i := 0; i <= len(name); i++ {
				if matchSegments(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// matchingFiles lists, sorted and once each, the regular files under root
// matching any of patterns, with the patterns that matched nothing. Links
// are not followed: a linked file is changed through its real path only.
func matchingFiles(root string, patterns []string) (files []string, unmatched []string, err error) {
	globs := make([]glob, 0, len(patterns))
	for _, p := range patterns {
		if strings.TrimSpace(p) == "" {
			continue
		}
		g, err := parseGlob(p)
		if err != nil {
			return nil, nil, err
		}
		globs = append(globs, g)
	}
	if len(globs) == 0 {
		return nil, nil, nil
	}
	hits := make([]bool, len(globs))
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		matched := false
		for i, g := range globs {
			if g.match(rel) {
				hits[i] = true
				matched = true
			}
		}
		if matched {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list files under %s: %w", root, err)
	}
	for i, g := range globs {
		if !hits[i] {
			unmatched = append(unmatched, g.text)
		}
	}
	sort.Strings(files)
	return files, unmatched, nil
}

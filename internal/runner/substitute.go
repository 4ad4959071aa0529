package runner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulpo-deploy/pulpo/internal/template"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// substituteFiles renders every file under root matching patterns as a
// template, as Octopus's "Substitute Variables in Templates" does.
// Undefined variables stay as written. A file is rewritten only if its text
// changes, keeping its mode and a UTF-8 byte order mark; files that look
// binary (a NUL byte) are skipped with a warning.
func substituteFiles(root string, patterns []string, vars template.Lookup, out *output) error {
	files, unmatched, err := matchingFiles(root, patterns)
	if err != nil {
		return err
	}
	for _, p := range unmatched {
		out.Warnf("no files match the substitution pattern %q", p)
	}
	for _, rel := range files {
		changed, err := substituteFile(filepath.Join(root, filepath.FromSlash(rel)), vars)
		switch {
		case errors.Is(err, errBinaryFile):
			out.Warnf("%s looks like a binary file (it contains NUL bytes); variables were not substituted in it", rel)
		case err != nil:
			return fmt.Errorf("%s%w", rel, err)
		case changed:
			out.Infof("Substituted variables in %s", rel)
		default:
			out.Infof("Substituted variables in %s (no change)", rel)
		}
	}
	return nil
}

var errBinaryFile = errors.New("binary file")

// substituteFile renders one file. Errors start with ":" or ": " so the
// caller can put the file's name in front (file:line:column: message).
func substituteFile(path string, vars template.Lookup) (changed bool, err error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf(": %w", err)
	}
	if bytes.IndexByte(content, 0) >= 0 {
		return false, errBinaryFile
	}
	bom, text := splitBOM(content)
	rendered, err := template.Evaluate(string(text), vars, template.Options{})
	if err != nil {
		var te *template.Error
		if errors.As(err, &te) && te.Line > 0 && te.Variable == "" {
			return false, fmt.Errorf(":%d:%d: %s", te.Line, te.Column, te.Msg)
		}
		return false, fmt.Errorf(": %w", err)
	}
	if rendered == string(text) {
		return false, nil
	}
	if err := replaceFile(path, append(bom, rendered...)); err != nil {
		return false, fmt.Errorf(": %w", err)
	}
	return true, nil
}

func splitBOM(b []byte) (bom, rest []byte) {
	if bytes.HasPrefix(b, utf8BOM) {
		return b[:3:3], b[3:]
	}
	return nil, b
}

// replaceFile writes content to a temporary file beside path and renames it
// over path, keeping path's permission bits: a reader never sees half a
// file, and a symbolic link is never followed.
func replaceFile(path string, content []byte) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".pulpo-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

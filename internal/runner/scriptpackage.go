package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ScriptManifest is one run of a script kept in a package, written by the
// server as JSON and read by `pulpo run-script-package MANIFEST`.
type ScriptManifest struct {
	Package PackageFile `json:"package"`
	// File is the script's path inside the package, with '/'.
	File string `json:"file"`
	// Syntax runs a .sh file with bash (default) or sh; .py files run
	// with python3.
	Syntax string `json:"syntax,omitempty"`
	// Arguments are appended to the script's command line as written, so
	// the shell splits and unquotes them (Octopus's script parameters).
	Arguments string `json:"arguments,omitempty"`
	// ExtractTo is a folder that does not exist yet: the package is
	// extracted there and the script runs in it. A relative path is under
	// the working folder (the server gives "package": into the script's
	// workspace, which goes when the script is done).
	ExtractTo       string     `json:"extractTo"`
	Variables       []Variable `json:"variables"`
	Bootstrap       string     `json:"bootstrap,omitempty"`
	PythonBootstrap string     `json:"pythonBootstrap,omitempty"` // runs a .py file, as Manifest's
	SubstituteFiles []string   `json:"substituteFiles,omitempty"`
	// PythonModules are script modules (name to body) written beside a
	// .py script as NAME.py, so it can import them.
	PythonModules map[string]string `json:"pythonModules,omitempty"`
	// PackageCache is swept once the package is there.
	PackageCache *PackageCache `json:"packageCache,omitempty"`
}

// ReadScriptManifest reads and checks a script manifest file.
func ReadScriptManifest(name string) (ScriptManifest, error) {
	var m ScriptManifest
	b, err := os.ReadFile(name)
	if err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("read manifest %s: %w", name, err)
	}
	return m, m.Validate()
}

// Validate reports every problem of the manifest at once.
func (m ScriptManifest) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !filepath.IsAbs(m.Package.Path) {
		add("package.path must be an absolute path, not %q", m.Package.Path)
	}
	if m.ExtractTo == "" {
		add("extractTo is required")
	}
	m.PackageCache.problems(add)
	if _, err := m.scriptSyntax(); err != nil {
		add("%v", err)
	}
	if clean := path.Clean(m.File); m.File == "" || path.IsAbs(m.File) || clean == ".." || strings.HasPrefix(clean, "../") {
		add("file %q must be a path inside the package", m.File)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("invalid manifest: %s", strings.Join(problems, "; "))
}

func (m ScriptManifest) scriptSyntax() (string, error) {
	switch ext := strings.ToLower(path.Ext(m.File)); {
	case ext == ".py":
		return SyntaxPython, nil
	case ext != ".sh":
		return "", fmt.Errorf("file %q must end in .sh or .py", m.File)
	case m.Syntax == "" || m.Syntax == SyntaxBash:
		return SyntaxBash, nil
	case m.Syntax == SyntaxSh:
		return SyntaxSh, nil
	}
	return "", fmt.Errorf("syntax %q is not supported for a .sh file: use bash or sh", m.Syntax)
}

// RunScriptPackage extracts the package (checked as for a deployment:
// nothing may land outside the folder) into m.ExtractTo, renders the files
// to substitute, and runs the script there with its arguments.
func RunScriptPackage(ctx context.Context, m ScriptManifest, opts Options, stdout, stderr io.Writer) error {
	if err := m.Validate(); err != nil {
		return err
	}
	opts = opts.withDefaults()
	dir, err := filepath.Abs(m.ExtractTo)
	if err != nil {
		return fmt.Errorf("extraction folder: %w", err)
	}
	m.ExtractTo = dir
	out := newOutput(stdout, stderr)
	out.Infof("Running %s from package %s %s", m.File, m.Package.ID, m.Package.Version)
	if opts.Version != "" {
		out.Infof("Runner: Pulpo %s", opts.Version)
	}
	if err := ensurePackage(ctx, m.Package, out); err != nil {
		return err
	}
	usePackages(cacheFor(m.PackageCache, m.Package), []PackageFile{m.Package}, out)
	if m.Package.SHA256 != "" {
		if err := checkSHA256(m.Package.Path, m.Package.SHA256); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
	}
	files, size, err := Extract(ctx, m.Package.Path, m.ExtractTo, opts)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	out.Infof("Extracted %d entries (%s) into %s", files, humanBytes(size), m.ExtractTo)
	if len(m.SubstituteFiles) > 0 {
		out.Infof("Substituting variables in files matching %s", strings.Join(m.SubstituteFiles, ", "))
		if err := substituteFiles(m.ExtractTo, m.SubstituteFiles, newVariableSet(m.Variables), out); err != nil {
			return fmt.Errorf("substitute variables in files: %w", err)
		}
	}
	file := filepath.Join(m.ExtractTo, filepath.FromSlash(path.Clean(m.File)))
	st, err := os.Lstat(file)
	switch {
	case err != nil:
		return fmt.Errorf("package %s %s has no script %s", m.Package.ID, m.Package.Version, m.File)
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s in package %s %s is not a regular file", m.File, m.Package.ID, m.Package.Version)
	}
	syntax, _ := m.scriptSyntax()
	if syntax == SyntaxPython {
		if err := writePythonModules(filepath.Dir(file), m.PythonModules, out); err != nil {
			return err
		}
	}
	tempDir, err := os.MkdirTemp("", "pulpo-run-script-")
	if err != nil {
		return fmt.Errorf("create a temporary folder: %w", err)
	}
	defer os.RemoveAll(tempDir)
	s := &scripts{out: out, bootstrap: m.Bootstrap, pythonBootstrap: m.PythonBootstrap, tempDir: tempDir, python: opts.Python}
	env := []string{
		"PULPO_PACKAGE_ID=" + m.Package.ID,
		"PULPO_PACKAGE_VERSION=" + m.Package.Version,
		"PULPO_PACKAGE_FILE=" + m.Package.Path,
		"PULPO_EXTRACTED_DIR=" + m.ExtractTo,
	}
	return s.run(ctx, script{label: m.File, path: file, syntax: syntax, args: m.Arguments}, m.ExtractTo, env)
}

// MainScript runs `pulpo run-script-package MANIFEST.json`.
func MainScript(args []string, version string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: pulpo run-script-package MANIFEST.json")
		return exitUsage
	}
	m, err := ReadScriptManifest(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "run-script-package: %v\n", err)
		return exitUsage
	}
	ctx, stop := signalContext()
	defer stop()
	pruneRunners(stderr)
	if err := RunScriptPackage(ctx, m, Options{Version: version}, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitFailed
	}
	return exitOK
}

// writePythonModules writes script modules beside the script. A file of
// the same name in the package is not overwritten: that would change the
// package behind its author's back.
func writePythonModules(dir string, modules map[string]string, out *output) error {
	for name, body := range modules {
		if strings.ContainsAny(name, `/\.`) || name == "" {
			return fmt.Errorf("script module %q is not a Python module name", name)
		}
		f := filepath.Join(dir, name+".py")
		if _, err := os.Lstat(f); err == nil {
			return fmt.Errorf("script module %s: the package already has %s; rename one of them", name, name+".py")
		}
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			return fmt.Errorf("write script module %s: %w", name, err)
		}
		out.Infof("Script module %s written as %s", name, name+".py")
	}
	return nil
}

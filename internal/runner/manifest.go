package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Manifest is everything one package deployment on a target needs, written
// by the server as JSON and read by `pulpo run-package MANIFEST`.
type Manifest struct {
	Package     PackageFile `json:"package"`
	Project     string      `json:"project"`
	Environment string      `json:"environment"`
	Tenant      string      `json:"tenant,omitempty"`

	// AppsRoot is the extraction root: the package goes into a new folder
	// AppsRoot/[Tenant/]Environment/PackageID/Version[_N].
	AppsRoot string `json:"appsRoot"`

	// Variables are the values resolved for this step and target. They feed
	// file substitution and structured configuration; scripts reach them
	// through Bootstrap.
	Variables []Variable `json:"variables"`

	// Bootstrap is shell code sourced before every bash or sh script (it
	// defines get_octopusvariable, set_octopusvariable and Pulpo's names).
	Bootstrap string `json:"bootstrap,omitempty"`
	// PythonBootstrap is the program that runs every Python script (it
	// defines Octopus's Python functions and runs the script), as
	// "python3 -u bootstrap.py [--pulpo-defined FILE] SCRIPT [ARGS…]".
	PythonBootstrap string `json:"pythonBootstrap,omitempty"`

	// SubstituteFiles are glob patterns, relative to the package folder, of
	// files rendered as templates.
	SubstituteFiles  []string         `json:"substituteFiles,omitempty"`
	StructuredConfig StructuredConfig `json:"structuredConfig"`
	CustomInstallDir CustomInstallDir `json:"customInstallDir"`
	Scripts          InlineScripts    `json:"scripts"`

	// RunPackageScripts runs PreDeploy/Deploy/PostDeploy/DeployFailed found
	// at the package root (Octopus.Action.Package.RunScripts). The server
	// sets it; Octopus's default is true.
	RunPackageScripts bool `json:"runPackageScripts"`

	// RetainInstallations is how many successful installations of this
	// project, environment, tenant and package to keep; 0 keeps all.
	RetainInstallations int `json:"retainInstallations"`

	// JournalPath is the JSON file recording installations; empty disables
	// the journal, PULPO_PREVIOUS_INSTALLATION and retention.
	JournalPath string `json:"journalPath"`

	// CacheDir holds downloaded packages; retention removes those no
	// retained installation uses. Empty: cached packages are never removed.
	CacheDir string `json:"cacheDir,omitempty"`

	// PackageCache is swept once the package is there.
	PackageCache *PackageCache `json:"packageCache,omitempty"`
}

// PackageFile is the package as cached on this machine.
type PackageFile struct {
	Path    string `json:"path"`
	ID      string `json:"id"`
	Version string `json:"version"`
	// SHA256 (hex), when given, is checked before anything is extracted.
	SHA256 string `json:"sha256,omitempty"`
	// Download, when given, is where this machine fetches the package
	// from (an external feed) when Path does not exist yet.
	Download *Download `json:"download,omitempty"`
}

// Variable is one resolved variable.
type Variable struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// StructuredConfig lists the files whose values are replaced by variables
// named after their key paths.
type StructuredConfig struct {
	Enabled bool     `json:"enabled"`
	Files   []string `json:"files,omitempty"`
}

// CustomInstallDir is where the package's contents are copied after the
// configuration steps; Deploy and PostDeploy then run there.
type CustomInstallDir struct {
	Path    string   `json:"path,omitempty"`
	Purge   bool     `json:"purge,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// InlineScripts are the step's own scripts, run besides the package's.
type InlineScripts struct {
	PreDeploy    *InlineScript `json:"preDeploy,omitempty"`
	Deploy       *InlineScript `json:"deploy,omitempty"`
	PostDeploy   *InlineScript `json:"postDeploy,omitempty"`
	DeployFailed *InlineScript `json:"deployFailed,omitempty"`
}

// InlineScript is a script body and its interpreter.
type InlineScript struct {
	Syntax string `json:"syntax"` // bash (default), sh or python
	Body   string `json:"body"`
}

// Script syntaxes.
const (
	SyntaxBash   = "bash"
	SyntaxSh     = "sh"
	SyntaxPython = "python"
)

// ReadManifest reads and checks a manifest file. Unknown fields are errors:
// the server and this runner are the same binary, so an unknown field is a
// mistake, not a newer version.
func ReadManifest(path string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(path)
	if err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("read manifest %s: %w", path, err)
	}
	if dec.More() {
		return m, fmt.Errorf("read manifest %s: data after the JSON object", path)
	}
	return m, m.Validate()
}

// Validate reports every problem of the manifest at once.
func (m Manifest) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	absolute := func(field, p string, required bool) {
		switch {
		case p == "" && required:
			add("%s is required", field)
		case p != "" && !filepath.IsAbs(p):
			add("%s must be an absolute path, not %q", field, p)
		}
	}
	absolute("package.path", m.Package.Path, true)
	absolute("appsRoot", m.AppsRoot, true)
	absolute("journalPath", m.JournalPath, false)
	absolute("cacheDir", m.CacheDir, false)
	absolute("customInstallDir.path", m.CustomInstallDir.Path, false)
	for _, f := range []struct{ field, value string }{{"package.id", m.Package.ID}, {"package.version", m.Package.Version}, {"environment", m.Environment}} {
		if err := checkFolderName(f.value); err != nil {
			add("%s: %v", f.field, err)
		}
	}
	if m.Tenant != "" {
		if err := checkFolderName(m.Tenant); err != nil {
			add("tenant: %v", err)
		}
	}
	m.PackageCache.problems(add)
	if m.RetainInstallations < 0 {
		add("retainInstallations must be 0 (keep all) or more, not %d", m.RetainInstallations)
	}
	for _, stage := range []string{stagePreDeploy, stageDeploy, stagePostDeploy, stageDeployFailed} {
		s := m.Scripts.byStage()[stage]
		if s == nil {
			continue
		}
		switch s.Syntax {
		case "", SyntaxBash, SyntaxSh, SyntaxPython:
		default:
			add("scripts.%s.syntax %q is not supported: use bash, sh or python", lowerFirst(stage), s.Syntax)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("invalid manifest: %s", strings.Join(problems, "; "))
}

// checkFolderName accepts names used as one folder of the install path.
func checkFolderName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is required")
	case s == "." || s == "..":
		return fmt.Errorf("%q cannot be a folder name", s)
	case strings.ContainsAny(s, "/\x00"):
		return fmt.Errorf("%q cannot contain '/' or NUL", s)
	}
	return nil
}

func (s InlineScripts) byStage() map[string]*InlineScript {
	return map[string]*InlineScript{
		stagePreDeploy: s.PreDeploy, stageDeploy: s.Deploy,
		stagePostDeploy: s.PostDeploy, stageDeployFailed: s.DeployFailed,
	}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// variableSet is the manifest's variables as a template.Lookup: names are
// case-insensitive, a later duplicate replaces an earlier one, and Names
// keeps the manifest's order (it drives #{each} and structured config).
type variableSet struct {
	values map[string]string
	names  []string
}

func newVariableSet(vs []Variable) *variableSet {
	s := &variableSet{values: make(map[string]string, len(vs))}
	for _, v := range vs {
		key := strings.ToLower(v.Name)
		if _, seen := s.values[key]; !seen {
			s.names = append(s.names, v.Name)
		}
		s.values[key] = v.Value
	}
	return s
}

func (s *variableSet) Get(name string) (string, bool) {
	v, ok := s.values[strings.ToLower(name)]
	return v, ok
}

func (s *variableSet) Names() []string { return s.names }

// Set adds or replaces a value the runner learns while deploying.
func (s *variableSet) Set(name, value string) {
	key := strings.ToLower(name)
	if _, seen := s.values[key]; !seen {
		s.names = append(s.names, name)
	}
	s.values[key] = value
}

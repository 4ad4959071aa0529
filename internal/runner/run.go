package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/filesvc"
)

// installationDirVariable is the output variable Calamari sets to where
// the package is installed; later steps read it.
const installationDirVariable = "Octopus.Action.Package.InstallationDirectoryPath"

// journalTimeout bounds the wait for the journal lock when recording a
// deployment whose own context has ended.
const journalTimeout = 30 * time.Second

// deployment is one Run in progress.
type deployment struct {
	m       Manifest
	opts    Options
	out     *output
	vars    *variableSet
	scripts *scripts

	extractedTo string
	currentDir  string // the extracted folder, or the custom one once copied
	previous    string
	step        string // what is running, for the failure message
}

// Run deploys the manifest's package on this machine, in Octopus's order:
// extract, PreDeploy, substitute variables in files, structured
// configuration, custom installation folder, Deploy, PostDeploy. If a step
// after extraction fails, DeployFailed scripts run and the error names the
// step. The installation is recorded in the journal, and after a success
// retention removes old installations. Progress is printed line by line.
func Run(ctx context.Context, m Manifest, opts Options, stdout, stderr io.Writer) error {
	if err := m.Validate(); err != nil {
		return err
	}
	d := &deployment{m: m, opts: opts.withDefaults(), out: newOutput(stdout, stderr), vars: newVariableSet(m.Variables)}
	tenant := ""
	if m.Tenant != "" {
		tenant = ", tenant " + m.Tenant
	}
	d.out.Infof("Deploying package %s %s (project %s, environment %s%s)", m.Package.ID, m.Package.Version, m.Project, m.Environment, tenant)
	if opts.Version != "" {
		d.out.Infof("Runner: Pulpo %s", opts.Version)
	}

	if err := ensurePackage(ctx, m.Package, d.out); err != nil {
		d.out.Errorf("%v", err)
		return err
	}
	usePackages(cacheFor(m.PackageCache, m.Package), []PackageFile{m.Package}, d.out)
	tempDir, err := os.MkdirTemp("", "pulpo-run-package-")
	if err != nil {
		return fmt.Errorf("create a temporary folder: %w", err)
	}
	defer os.RemoveAll(tempDir)
	d.scripts = &scripts{out: d.out, bootstrap: m.Bootstrap, pythonBootstrap: m.PythonBootstrap, tempDir: tempDir, python: opts.Python,
		packageRuns: m.RunPackageScripts, inline: m.Scripts}
	if err := d.extract(ctx); err != nil {
		d.out.Errorf("Extraction failed: %v", err)
		return fmt.Errorf("extract: %w", err)
	}

	err = d.conventions(ctx)
	if err != nil {
		err = fmt.Errorf("%s: %w", d.step, err)
		d.out.Errorf("Step %s failed: %v", d.step, errors.Unwrap(err))
		if ctx.Err() == nil {
			if ferr := d.deployFailed(ctx, err); ferr != nil {
				d.out.Errorf("DeployFailed: %v", ferr)
				err = fmt.Errorf("%w; then DeployFailed: %v", err, ferr)
			}
		}
	}
	if jerr := d.record(ctx, err == nil); jerr != nil {
		d.out.Errorf("Journal: %v", jerr)
		if err == nil {
			return fmt.Errorf("journal: %w", jerr)
		}
	}
	if err != nil {
		return err
	}
	d.out.Infof("Deployed %s %s to %s", m.Package.ID, m.Package.Version, d.currentDir)
	return nil
}

// extract checks the package and unpacks it into a new folder.
func (d *deployment) extract(ctx context.Context) error {
	p := d.m.Package
	if p.SHA256 != "" {
		if err := checkSHA256(p.Path, p.SHA256); err != nil {
			return err
		}
	}
	folder, err := reserveInstallFolder(d.m)
	if err != nil {
		return err
	}
	d.out.Infof("Extracting %s into %s", filepath.Base(p.Path), folder)
	files, size, err := Extract(ctx, p.Path, folder, d.opts)
	if err != nil {
		os.RemoveAll(folder) // Extract removes it too, unless it failed before starting
		return err
	}
	d.out.Infof("Extracted %d entries (%s)", files, humanBytes(size))
	d.extractedTo, d.currentDir = folder, folder
	d.out.SetOutputVariable(installationDirVariable, folder)
	d.setVariable(installationDirVariable, folder)
	d.setVariable("Octopus.Tentacle.CurrentDeployment.PackageFilePath", p.Path)
	return nil
}

func checkSHA256(path, want string) error {
	// A package the file service received and checked carries its hash;
	// reading it back saves hashing the whole file on every deployment.
	if known, ok := filesvc.KnownSHA256(path); ok && strings.EqualFold(known, strings.TrimSpace(want)) {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open package: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read package: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, strings.TrimSpace(want)) {
		return fmt.Errorf("%s has SHA-256 %s, but %s was expected: the cached file is corrupt or not the package", filepath.Base(path), got, want)
	}
	return nil
}

// maxFolderAttempts bounds the search for a free version folder.
const maxFolderAttempts = 10000

// reserveInstallFolder creates AppsRoot/[Tenant/]Environment/ID/Version, or
// Version_2, Version_3… if taken: a folder is never reused, so a running
// application's files are never overwritten. Mkdir makes the choice atomic
// between concurrent runs.
func reserveInstallFolder(m Manifest) (string, error) {
	parent := filepath.Join(m.AppsRoot, m.Environment, m.Package.ID)
	if m.Tenant != "" {
		parent = filepath.Join(m.AppsRoot, m.Tenant, m.Environment, m.Package.ID)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", parent, err)
	}
	for n := 1; n <= maxFolderAttempts; n++ {
		name := m.Package.Version
		if n > 1 {
			name = fmt.Sprintf("%s_%d", m.Package.Version, n)
		}
		folder := filepath.Join(parent, name)
		err := os.Mkdir(folder, 0o755)
		if err == nil {
			return folder, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("create %s: %w", folder, err)
		}
	}
	return "", fmt.Errorf("%s already holds %d installations of version %s", parent, maxFolderAttempts, m.Package.Version)
}

// conventions runs the steps after extraction; d.step names the one that
// failed.
func (d *deployment) conventions(ctx context.Context) error {
	if d.m.JournalPath != "" {
		entries, err := readJournal(d.m.JournalPath)
		if err != nil {
			return fmt.Errorf("read the journal: %w", err)
		}
		d.previous, _ = previousInstallation(entries, d.m.Project, d.m.Environment, d.m.Tenant, d.m.Package.ID)
		if d.previous != "" {
			d.out.Infof("Previous installation: %s", d.previous)
		}
		latest, successful := latestInstallations(entries, d.m.Project, d.m.Environment, d.m.Tenant, d.m.Package.ID)
		d.setPrevious("Octopus.Tentacle.PreviousInstallation.", latest)
		d.setPrevious("Octopus.Tentacle.PreviousSuccessfulInstallation.", successful)
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{stagePreDeploy, d.stage(stagePreDeploy)},
		{"substitute variables in files", d.substitute},
		{"structured configuration variables", d.structured},
		{"custom installation folder", d.customInstall},
		{stageDeploy, d.stage(stageDeploy)},
		{stagePostDeploy, d.stage(stagePostDeploy)},
	}
	for _, s := range steps {
		d.step = s.name
		if err := s.run(ctx); err != nil {
			return err
		}
		if d.scripts.skipRemaining.Load() {
			d.out.Infof("%s is set: the remaining steps are skipped", skipRemainingVariable)
			return nil
		}
	}
	return nil
}

// setVariable makes a value the runner learned visible to the files it
// substitutes and to get_octopusvariable in the scripts that follow.
func (d *deployment) setVariable(name, value string) {
	d.vars.Set(name, value)
	if d.scripts != nil {
		d.scripts.define(name, value)
	}
}

// setPrevious sets Calamari's variables about an earlier installation
// (empty when there is none).
func (d *deployment) setPrevious(prefix string, e *JournalEntry) {
	var entry JournalEntry
	if e != nil {
		entry = *e
	}
	d.setVariable(prefix+"OriginalInstalledPath", entry.InstalledTo)
	d.setVariable(prefix+"CustomInstallationDirectory", entry.CustomInstallDir)
	d.setVariable(prefix+"PackageFilePath", entry.PackagePath)
	d.setVariable(prefix+"PackageVersion", entry.Version)
}

func (d *deployment) stage(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		return d.scripts.runStage(ctx, name, d.currentDir, d.env())
	}
}

// env is what scripts find in their environment besides the bootstrap.
func (d *deployment) env() []string {
	env := []string{
		"PULPO_INSTALL_DIR=" + d.currentDir,
		"PULPO_EXTRACTED_DIR=" + d.extractedTo,
		"PULPO_PREVIOUS_INSTALLATION=" + d.previous,
		"PULPO_PACKAGE_ID=" + d.m.Package.ID,
		"PULPO_PACKAGE_VERSION=" + d.m.Package.Version,
		"PULPO_PACKAGE_FILE=" + d.m.Package.Path,
		"PULPO_PROJECT=" + d.m.Project,
		"PULPO_ENVIRONMENT=" + d.m.Environment,
		"PULPO_TENANT=" + d.m.Tenant,
	}
	if d.m.CustomInstallDir.Path != "" {
		env = append(env, "PULPO_CUSTOM_INSTALL_DIR="+filepath.Clean(d.m.CustomInstallDir.Path))
	}
	return env
}

func (d *deployment) substitute(context.Context) error {
	if len(d.m.SubstituteFiles) == 0 {
		return nil
	}
	d.out.Infof("Substituting variables in files matching %s", strings.Join(d.m.SubstituteFiles, ", "))
	return substituteFiles(d.currentDir, d.m.SubstituteFiles, d.vars, d.out)
}

func (d *deployment) structured(context.Context) error {
	if !d.m.StructuredConfig.Enabled {
		return nil
	}
	d.out.Infof("Replacing structured configuration variables in files matching %s", strings.Join(d.m.StructuredConfig.Files, ", "))
	return replaceStructured(d.currentDir, d.m.StructuredConfig.Files, d.vars, d.out)
}

func (d *deployment) customInstall(ctx context.Context) error {
	if d.m.CustomInstallDir.Path == "" {
		return nil
	}
	if _, err := installToCustomDir(ctx, d.extractedTo, d.m.CustomInstallDir, d.out); err != nil {
		return err
	}
	// From here on scripts run in the custom folder, as in Calamari.
	d.currentDir = filepath.Clean(d.m.CustomInstallDir.Path)
	d.out.SetOutputVariable(installationDirVariable, d.currentDir)
	d.setVariable(installationDirVariable, d.currentDir)
	return nil
}

// deployFailed runs the DeployFailed scripts where the deployment was.
func (d *deployment) deployFailed(ctx context.Context, cause error) error {
	env := append(d.env(), "PULPO_FAILED_STEP="+d.step, "PULPO_DEPLOYMENT_ERROR="+cause.Error())
	return d.scripts.runStage(ctx, stageDeployFailed, d.currentDir, env)
}

// record appends the installation to the journal and, after a success,
// applies retention, all under the journal's lock.
func (d *deployment) record(ctx context.Context, success bool) error {
	if d.m.JournalPath == "" {
		return nil
	}
	entry := JournalEntry{
		Project: d.m.Project, Environment: d.m.Environment, Tenant: d.m.Tenant,
		PackageID: d.m.Package.ID, Version: d.m.Package.Version, PackagePath: d.m.Package.Path,
		InstalledTo: d.extractedTo, DeployedAt: time.Now().UTC(), Success: success,
	}
	if d.m.CustomInstallDir.Path != "" {
		entry.CustomInstallDir = filepath.Clean(d.m.CustomInstallDir.Path)
	}
	// A canceled deployment is still recorded, so retention knows its folder.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), journalTimeout)
	defer cancel()
	return updateJournal(ctx, d.m.JournalPath, func(entries []JournalEntry) ([]JournalEntry, error) {
		entries = append(entries, entry)
		if success {
			applyRetention(entries, len(entries)-1, d.m.RetainInstallations, d.m.AppsRoot, d.m.CacheDir, d.out)
		}
		return entries, nil
	})
}

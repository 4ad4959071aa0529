package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/runner"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/template"
	"github.com/pulpo-deploy/pulpo/internal/transfer"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// PackageSource gives the content of package versions: the built-in feed.
type PackageSource interface {
	Package(ctx context.Context, packageID, version string) (transfer.Source, model.Package, error)
}

// acquired is a package in the target's cache, ready for the runner.
type acquired struct {
	pkg    model.Package
	file   contract.FileInfo
	caps   contract.Capabilities
	runner string // the shell word that runs the server's runner there
}

// acquirePackage sends the step's package to the target (nothing when it
// is cached there; on from where it stopped after a break), and the
// server's runner when the target lacks it.
func (h deployHandler) acquirePackage(ctx context.Context, run *tasks.Run, x deployment, step model.Step, p placement) (acquired, error) {
	packageID := step.PackageID()
	var chosen *model.ReleasePackage
	for i := range x.release.Packages {
		if x.release.Packages[i].StepID == step.ID {
			chosen = &x.release.Packages[i]
		}
	}
	if chosen == nil {
		return acquired{}, fmt.Errorf("release %s chose no version of %s for step %q", x.release.Version, packageID, step.Name)
	}
	if h.e.cfg.Packages == nil {
		return acquired{}, errors.New("this server has no package feed")
	}
	src, pkg, err := h.e.cfg.Packages.Package(ctx, chosen.PackageID, chosen.Version)
	if err != nil {
		return acquired{}, fmt.Errorf("package %s %s: %w", chosen.PackageID, chosen.Version, err)
	}
	caps, err := p.target.Capabilities(ctx)
	if err != nil {
		return acquired{}, fmt.Errorf("reach %s: %w", p.target.Name(), err)
	}
	cachePath := fmt.Sprintf("packages/%s.%s.%s%s", pkg.PackageID, pkg.Version, pkg.SHA256[:16], pkg.Extension)
	info, rep, err := transfer.Send(ctx, p.target.Files(), cachePath, src, h.e.cfg.TargetRetry)
	if err != nil {
		return acquired{}, fmt.Errorf("send %s %s to %s: %w", pkg.PackageID, pkg.Version, p.target.Name(), err)
	}
	switch {
	case rep.Cached:
		run.Logf(p.act.ID, model.LevelInfo, "Package %s %s is on %s already: 0 bytes sent", pkg.PackageID, pkg.Version, p.target.Name())
	case len(rep.ResumedAt) > 0:
		run.Logf(p.act.ID, model.LevelInfo, "Sent package %s %s to %s: %d bytes sent of %d, resumed at byte %d after the connection broke",
			pkg.PackageID, pkg.Version, p.target.Name(), rep.Sent, pkg.SizeBytes, rep.ResumedAt[len(rep.ResumedAt)-1])
	default:
		run.Logf(p.act.ID, model.LevelInfo, "Sent package %s %s to %s: %d bytes sent", pkg.PackageID, pkg.Version, p.target.Name(), rep.Sent)
	}
	runnerWord, err := h.runnerFor(ctx, run, p, caps)
	if err != nil {
		return acquired{}, err
	}
	return acquired{pkg: pkg, file: info, caps: caps, runner: runnerWord}, nil
}

// manifestVariables are the step's values for the runner, sensitive ones
// marked so it masks them.
func manifestVariables(x deployment, values *vars.Values) []runner.Variable {
	sensitive := map[string]bool{}
	for _, v := range x.release.VariableSnapshot.Variables {
		if v.Sensitive {
			sensitive[model.NameKey(v.Name)] = true
		}
	}
	var out []runner.Variable
	for _, name := range values.Names() {
		v, _ := values.Get(name)
		out = append(out, runner.Variable{Name: name, Value: v, Sensitive: sensitive[model.NameKey(name)]})
	}
	return out
}

// runnerScript is the script that writes the manifest into the workspace
// and runs the runner's command with it. The manifest travels inside the
// script (one line of JSON, so the heredoc cannot end early) and lives in
// the workspace, which goes when the script is done.
func runnerScript(a acquired, command string, manifest any) (string, error) {
	b, err := json.Marshal(manifest)
	if err != nil {
		return "", err
	}
	return "cat > manifest.json <<'PULPO_MANIFEST_END'\n" + string(b) + "\nPULPO_MANIFEST_END\n" +
		"r=" + a.runner + "\n[ -x \"$r\" ] || chmod 0755 \"$r\"\n" +
		"exec \"$r\" " + command + " manifest.json\n", nil
}

// preparePackage acquires the step's package and returns the script that
// runs the conventions on the target with the server's runner.
func (h deployHandler) preparePackage(ctx context.Context, run *tasks.Run, x deployment, step model.Step, p placement, values *vars.Values) (scriptToRun, error) {
	pa := step.Package
	a, err := h.acquirePackage(ctx, run, x, step, p)
	if err != nil {
		return scriptToRun{}, err
	}
	pkg, home := a.pkg, a.caps.Home
	boot, warnings := bootstrap(model.SyntaxBash, values)
	boot += bashModules(x, step)
	m := runner.Manifest{
		Package:          runner.PackageFile{Path: a.file.Path, ID: pkg.PackageID, Version: pkg.Version, SHA256: pkg.SHA256},
		Project:          x.project.Name,
		Environment:      x.env.Name,
		AppsRoot:         path.Join(home, "apps"),
		Variables:        manifestVariables(x, values),
		Bootstrap:        boot,
		SubstituteFiles:  pa.SubstituteFiles,
		StructuredConfig: runner.StructuredConfig{Enabled: len(pa.StructuredConfigFiles) > 0, Files: pa.StructuredConfigFiles},
		CustomInstallDir: runner.CustomInstallDir{Path: pa.CustomInstallDir, Purge: pa.PurgeCustomInstallDir, Exclude: pa.CustomInstallExclude},
		Scripts: runner.InlineScripts{PreDeploy: inline(pa.PreDeploy), Deploy: inline(pa.Deploy), PostDeploy: inline(pa.PostDeploy),
			DeployFailed: inline(pa.DeployFailed)},
		RunPackageScripts:   !pa.SkipPackageScripts,
		RetainInstallations: pa.RetainInstallations,
		JournalPath:         path.Join(home, "journal.json"),
		CacheDir:            path.Join(home, "packages"),
	}
	body, err := runnerScript(a, "run-package", m)
	if err != nil {
		return scriptToRun{}, err
	}
	return scriptToRun{syntax: model.SyntaxBash, body: body, warnings: warnings,
		what: fmt.Sprintf("the conventions for package %s %s", pkg.PackageID, pkg.Version)}, nil
}

// prepareScriptPackage acquires the package holding the step's script and
// returns the script that extracts it into the workspace and runs the
// file there, with the arguments rendered by the step's variables.
func (h deployHandler) prepareScriptPackage(ctx context.Context, run *tasks.Run, x deployment, step model.Step, p placement, values *vars.Values) (scriptToRun, error) {
	fp := step.Script.FromPackage
	args, err := template.Evaluate(fp.Arguments, values, template.Options{Now: run.Store().Now})
	if err != nil {
		return scriptToRun{}, fmt.Errorf("the script arguments of step %q: %w", step.Name, err)
	}
	a, err := h.acquirePackage(ctx, run, x, step, p)
	if err != nil {
		return scriptToRun{}, err
	}
	boot, warnings := bootstrap(model.SyntaxBash, values)
	boot += bashModules(x, step)
	m := runner.ScriptManifest{
		Package:   runner.PackageFile{Path: a.file.Path, ID: a.pkg.PackageID, Version: a.pkg.Version, SHA256: a.pkg.SHA256},
		File:      fp.File,
		Syntax:    string(step.Script.Syntax),
		Arguments: args,
		// Relative: into the script's workspace, removed when it is done.
		ExtractTo:       "package",
		Variables:       manifestVariables(x, values),
		Bootstrap:       boot,
		SubstituteFiles: fp.SubstituteFiles,
		PythonModules:   pythonModules(x, step),
	}
	body, err := runnerScript(a, "run-script-package", m)
	if err != nil {
		return scriptToRun{}, err
	}
	return scriptToRun{syntax: model.SyntaxBash, body: body, warnings: warnings,
		what: fmt.Sprintf("%s from package %s %s", fp.File, a.pkg.PackageID, a.pkg.Version)}, nil
}

func inline(s *model.ScriptAction) *runner.InlineScript {
	if s == nil {
		return nil
	}
	return &runner.InlineScript{Syntax: string(s.Syntax), Body: s.Body}
}

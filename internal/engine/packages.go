package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

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

// acquired is a package in the target's cache, ready for the runner (or,
// for a target that downloads it itself, where it will be).
type acquired struct {
	pkg    model.Package
	file   contract.FileInfo
	caps   contract.Capabilities
	runner string // the shell word that runs the server's runner there
	// download says where the target fetches the package from itself.
	download *runner.Download
	// image is a container image's reference: nothing is downloaded.
	image string
	// chosen is the release's choice for this package.
	chosen model.ReleasePackage
}

// packageFile is the package as the runner's manifest names it.
func (a acquired) packageFile() runner.PackageFile {
	return runner.PackageFile{Path: a.file.Path, ID: a.pkg.PackageID, Version: a.pkg.Version, SHA256: a.pkg.SHA256, Download: a.download}
}

// chosenPackage is the version the release chose for one package of a step.
func chosenPackage(x deployment, step model.Step, sp model.StepPackage) (model.ReleasePackage, error) {
	for _, rp := range x.release.Packages {
		if rp.StepID == step.ID && rp.Reference == sp.Reference {
			return rp, nil
		}
	}
	return model.ReleasePackage{}, fmt.Errorf("release %s chose no version of %s for step %q", x.release.Version, sp.PackageID, step.Name)
}

// acquirePackage sends the step's own package to the target (see acquire).
func (h deployHandler) acquirePackage(ctx context.Context, run *tasks.Run, x deployment, step model.Step, p placement) (acquired, error) {
	pkgs := step.Packages()
	if len(pkgs) == 0 || pkgs[0].Reference != "" {
		return acquired{}, fmt.Errorf("step %q takes no package of its own", step.Name)
	}
	return h.acquire(ctx, run, x, step, pkgs[0], p, true)
}

// acquire makes one of the step's packages available on the target: the
// server sends it (nothing when it is cached there; on from where it
// stopped after a break), downloading it first from an external feed; or
// the target is told where to download it itself; or, for a container
// image or a package nobody acquires, only its coordinates are given. The
// server's runner is sent when the target lacks it and needRunner says so.
func (h deployHandler) acquire(ctx context.Context, run *tasks.Run, x deployment, step model.Step, sp model.StepPackage, p placement, needRunner bool) (acquired, error) {
	chosen, err := chosenPackage(x, step, sp)
	if err != nil {
		return acquired{}, err
	}
	a := acquired{chosen: chosen, pkg: model.Package{PackageID: chosen.PackageID, Version: chosen.Version}}
	var src transfer.Source
	var at located
	if model.IsExternalFeed(chosen.FeedID) {
		if at, err = h.e.locate(ctx, chosen); err != nil {
			return acquired{}, fmt.Errorf("package %s %s: %w", chosen.PackageID, chosen.Version, err)
		}
		if at.loc.Image != "" || sp.Acquisition == model.AcquireNone {
			a.image = at.loc.Image
			return a, nil
		}
		a.pkg.Extension = at.loc.Extension
		if sp.Acquisition != model.AcquireOnTarget {
			if src, a.pkg, err = h.e.downloadExternal(ctx, chosen, at); err != nil {
				return acquired{}, err
			}
			run.Logf(p.act.ID, model.LevelVerbose, "Package %s %s from feed %s is on the server: %d bytes", chosen.PackageID, chosen.Version, at.feed.Name, a.pkg.SizeBytes)
		}
	} else {
		if sp.Acquisition == model.AcquireNone {
			return a, nil
		}
		if h.e.cfg.Packages == nil {
			return acquired{}, errors.New("this server has no package feed")
		}
		if src, a.pkg, err = h.e.cfg.Packages.Package(ctx, chosen.PackageID, chosen.Version); err != nil {
			return acquired{}, fmt.Errorf("package %s %s: %w", chosen.PackageID, chosen.Version, err)
		}
	}
	if a.caps, err = p.target.Capabilities(ctx); err != nil {
		return acquired{}, fmt.Errorf("reach %s: %w", p.target.Name(), err)
	}
	if src == nil { // the target downloads it from the feed
		a.file = contract.FileInfo{Path: path.Join(a.caps.Home, "packages", "feeds", externalFileName(chosen, at.loc.Extension))}
		a.download = &runner.Download{URL: at.loc.URL, Header: headerMap(at.loc.Header)}
		run.Logf(p.act.ID, model.LevelInfo, "%s downloads package %s %s from feed %s itself", p.target.Name(), chosen.PackageID, chosen.Version, at.feed.Name)
	} else {
		pkg := a.pkg
		cachePath := fmt.Sprintf("packages/%s.%s.%s%s", fileNameUnsafe.ReplaceAllString(pkg.PackageID, "_"), pkg.Version, pkg.SHA256[:16], pkg.Extension)
		info, rep, err := transfer.Send(ctx, p.target.Files(), cachePath, src, h.e.cfg.TargetRetry)
		if err != nil {
			return acquired{}, fmt.Errorf("send %s %s to %s: %w", pkg.PackageID, pkg.Version, p.target.Name(), err)
		}
		a.file = info
		switch {
		case rep.Cached:
			run.Logf(p.act.ID, model.LevelInfo, "Package %s %s is on %s already: 0 bytes sent", pkg.PackageID, pkg.Version, p.target.Name())
		case len(rep.ResumedAt) > 0:
			run.Logf(p.act.ID, model.LevelInfo, "Sent package %s %s to %s: %d bytes sent of %d, resumed at byte %d after the connection broke",
				pkg.PackageID, pkg.Version, p.target.Name(), rep.Sent, pkg.SizeBytes, rep.ResumedAt[len(rep.ResumedAt)-1])
		default:
			run.Logf(p.act.ID, model.LevelInfo, "Sent package %s %s to %s: %d bytes sent", pkg.PackageID, pkg.Version, p.target.Name(), rep.Sent)
		}
	}
	if needRunner {
		if a.runner, err = h.runnerFor(ctx, run, p, a.caps); err != nil {
			return acquired{}, err
		}
	}
	return a, nil
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
	// The package may hold Deploy.py & co.: they get the same values. Its
	// warnings are the bash bootstrap's, already in warnings. A step that
	// can run no Python script does not carry it.
	var pyBoot string
	if !pa.SkipPackageScripts || slices.ContainsFunc([]*model.ScriptAction{pa.PreDeploy, pa.Deploy, pa.PostDeploy, pa.DeployFailed},
		func(s *model.ScriptAction) bool { return s != nil && s.Syntax == model.SyntaxPython }) {
		pyBoot, _ = pythonBootstrap(values, "")
	}
	m := runner.Manifest{
		Package:          a.packageFile(),
		Project:          x.project.Name,
		Environment:      x.env.Name,
		AppsRoot:         path.Join(home, "apps"),
		Variables:        manifestVariables(x, values),
		Bootstrap:        boot,
		PythonBootstrap:  pyBoot,
		SubstituteFiles:  pa.SubstituteFiles,
		StructuredConfig: runner.StructuredConfig{Enabled: len(pa.StructuredConfigFiles) > 0, Files: pa.StructuredConfigFiles},
		CustomInstallDir: runner.CustomInstallDir{Path: pa.CustomInstallDir, Purge: pa.PurgeCustomInstallDir, Exclude: pa.CustomInstallExclude},
		Scripts: runner.InlineScripts{PreDeploy: inline(pa.PreDeploy), Deploy: inline(pa.Deploy), PostDeploy: inline(pa.PostDeploy),
			DeployFailed: inline(pa.DeployFailed)},
		RunPackageScripts:   !pa.SkipPackageScripts,
		RetainInstallations: pa.RetainInstallations,
		JournalPath:         path.Join(home, "journal.json"),
		CacheDir:            path.Join(home, "packages"),
		PackageCache:        h.e.packageCache(home),
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
	// Only the bootstrap of the file's language travels.
	var boot, pyBoot string
	var warnings []string
	if strings.HasSuffix(strings.ToLower(fp.File), ".py") {
		pyBoot, warnings = pythonBootstrap(values, "")
	} else {
		boot, warnings = bootstrap(model.SyntaxBash, values)
		boot += bashModules(x, step)
	}
	m := runner.ScriptManifest{
		Package:   a.packageFile(),
		File:      fp.File,
		Syntax:    string(step.Script.Syntax),
		Arguments: args,
		// Relative: into the script's workspace, removed when it is done.
		ExtractTo:       "package",
		Variables:       manifestVariables(x, values),
		Bootstrap:       boot,
		PythonBootstrap: pyBoot,
		SubstituteFiles: fp.SubstituteFiles,
		PythonModules:   pythonModules(x, step),
		PackageCache:    h.e.packageCache(a.caps.Home),
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

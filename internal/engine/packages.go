package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/runner"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/transfer"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// PackageSource gives the content of package versions: the built-in feed.
type PackageSource interface {
	Package(ctx context.Context, packageID, version string) (transfer.Source, model.Package, error)
}

// preparePackage sends the step's package to the target (nothing when it
// is cached there; on from where it stopped after a break) and returns the
// script that runs the conventions on the target: the server's runner
// (sent first when the target lacks it) with a manifest.
func (h deployHandler) preparePackage(ctx context.Context, run *tasks.Run, x deployment, step model.Step, p placement, values *vars.Values) (scriptToRun, error) {
	pa := step.Package
	var chosen *model.ReleasePackage
	for i := range x.release.Packages {
		if x.release.Packages[i].StepID == step.ID {
			chosen = &x.release.Packages[i]
		}
	}
	if chosen == nil {
		return scriptToRun{}, fmt.Errorf("release %s chose no version of %s for step %q", x.release.Version, pa.PackageID, step.Name)
	}
	if h.e.cfg.Packages == nil {
		return scriptToRun{}, errors.New("this server has no package feed")
	}
	src, pkg, err := h.e.cfg.Packages.Package(ctx, chosen.PackageID, chosen.Version)
	if err != nil {
		return scriptToRun{}, fmt.Errorf("package %s %s: %w", chosen.PackageID, chosen.Version, err)
	}
	caps, err := p.target.Capabilities(ctx)
	if err != nil {
		return scriptToRun{}, fmt.Errorf("reach %s: %w", p.target.Name(), err)
	}
	cachePath := fmt.Sprintf("packages/%s.%s.%s%s", pkg.PackageID, pkg.Version, pkg.SHA256[:16], pkg.Extension)
	info, rep, err := transfer.Send(ctx, p.target.Files(), cachePath, src, h.e.cfg.TargetRetry)
	if err != nil {
		return scriptToRun{}, fmt.Errorf("send %s %s to %s: %w", pkg.PackageID, pkg.Version, p.target.Name(), err)
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

	sensitive := map[string]bool{}
	for _, v := range x.release.VariableSnapshot.Variables {
		if v.Sensitive {
			sensitive[model.NameKey(v.Name)] = true
		}
	}
	var mvars []runner.Variable
	for _, name := range values.Names() {
		v, _ := values.Get(name)
		mvars = append(mvars, runner.Variable{Name: name, Value: v, Sensitive: sensitive[model.NameKey(name)]})
	}
	runnerWord, err := h.runnerFor(ctx, run, p, caps)
	if err != nil {
		return scriptToRun{}, err
	}
	home := caps.Home
	m := runner.Manifest{
		Package:          runner.PackageFile{Path: info.Path, ID: pkg.PackageID, Version: pkg.Version, SHA256: pkg.SHA256},
		Project:          x.project.Name,
		Environment:      x.env.Name,
		AppsRoot:         path.Join(home, "apps"),
		Variables:        mvars,
		Bootstrap:        bootstrap(model.SyntaxBash, values),
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
	manifest, err := json.Marshal(m)
	if err != nil {
		return scriptToRun{}, err
	}
	// The manifest travels inside the script (one line of JSON, so the
	// heredoc cannot end early) and lives in its workspace, which goes
	// when the script is done.
	body := "cat > manifest.json <<'PULPO_MANIFEST_END'\n" + string(manifest) + "\nPULPO_MANIFEST_END\n" +
		"r=" + runnerWord + "\n[ -x \"$r\" ] || chmod 0755 \"$r\"\n" +
		"exec \"$r\" run-package manifest.json\n"
	return scriptToRun{syntax: model.SyntaxBash, body: body,
		what: fmt.Sprintf("the conventions for package %s %s", pkg.PackageID, pkg.Version)}, nil
}

func inline(s *model.ScriptAction) *runner.InlineScript {
	if s == nil {
		return nil
	}
	return &runner.InlineScript{Syntax: string(s.Syntax), Body: s.Body}
}

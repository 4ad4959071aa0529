package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// stepFlags are the flags of a "step add" command: one set for a project's
// deployment process and a runbook's draft, so both make the same steps.
type stepFlags struct {
	name, script, scriptFile, syntax                string
	position, maxParallel, window                   int
	roles                                           []string
	pool, pkgID                                     string
	onServer                                        bool
	substitute, structured                          []string
	retain                                          int
	scriptPkg, scriptInPkg, scriptArgs              string
	manual, condition, conditionExpr, deployProject string
	deployMode                                      string
	passDown, teams, onlyEnvs, exceptEnvs           []string
	required, withPrevious                          bool
	retries, retryDelay                             int
	fromTemplate                                    string
	email                                           emailFlags
	templateParams, modules, packageRefs            []string
	feedName, acquisition                           string
	healthCheck                                     healthCheckFlags
}

// register adds the flags to cmd; --name is required. A runbook's package
// versions and child releases are chosen when it is published, a
// process's when a release is created, and the help says so.
func (f *stepFlags) register(cmd *cobra.Command, forRunbook bool) {
	chosen, childChosen := "when a release is created", "when the parent release is created"
	if forRunbook {
		chosen, childChosen = "when the runbook is published", "when the runbook is published"
	}
	fs := cmd.Flags()
	fs.StringVar(&f.name, "name", "", "step name (required)")
	fs.StringVar(&f.fromTemplate, "template", "", "make the step from this step template (name or id), at its newest version")
	fs.StringArrayVar(&f.templateParams, "parameter", nil, "with --template: NAME=VALUE, a parameter's value, a template like #{Var} (repeat)")
	fs.StringArrayVar(&f.modules, "script-module", nil, "include this script module in the step's scripts (repeat)")
	fs.StringVar(&f.script, "script", "", "the script's body")
	fs.StringVar(&f.scriptFile, "script-file", "", "read the script's body from this file")
	fs.StringVar(&f.syntax, "syntax", "bash", syntaxHelp)
	fs.IntVar(&f.position, "position", 0, "where to insert it, 1 for first (default last)")
	fs.StringArrayVar(&f.roles, "role", nil, "run on every deployment target with this role (repeat for several); without roles the step runs on a worker")
	fs.StringVar(&f.pool, "worker-pool", "", "run on a worker of this pool (default pool: the built-in worker while it has no workers)")
	fs.StringVar(&f.pkgID, "package", "", "deploy this package from the feed (its version is chosen "+chosen+"); --script becomes its inline Deploy script")
	fs.StringVar(&f.feedName, "feed", "", "with --package or --script-package: the external feed (name or id) the package comes from (default: the built-in feed)")
	fs.StringVar(&f.acquisition, "acquisition", "", "with --package or --script-package from an external feed: server (default: the server downloads it once and sends it) or target (each target downloads it itself)")
	fs.StringArrayVar(&f.packageRefs, "package-ref", nil, "a package the script refers to, name=NAME,package=ID[,feed=FEED][,acquisition=server|target|none][,extract]; the script reads #{Octopus.Action.Package[NAME].Image}, .PackageVersion, .OriginalPath or .ExtractedPath (repeat)")
	fs.StringVar(&f.scriptPkg, "script-package", "", "take the script from this package of the feed (its version is chosen "+chosen+")")
	fs.StringVar(&f.scriptInPkg, "script-in-package", "", "with --script-package: the script's path in the package (.sh runs with --syntax, .py with python3)")
	fs.StringVar(&f.scriptArgs, "script-arguments", "", "with --script-package: arguments for the script, a template the shell then splits")
	fs.StringArrayVar(&f.substitute, "substitute", nil, "with --package or --script-package: render files matching this glob as templates (repeat)")
	fs.StringArrayVar(&f.structured, "structured-config", nil, "with --package: replace values in JSON/YAML/XML/.properties files matching this glob by variables named by key path (repeat)")
	fs.IntVar(&f.retain, "retain", 0, "with --package: keep this many installations on each target (0 keeps all)")
	fs.StringVar(&f.deployProject, "deploy-release", "", "make a step that deploys a release of this project (chosen "+childChosen+")")
	fs.StringVar(&f.deployMode, "deploy-mode", "", "with --deploy-release: always (default), ifDifferent or ifNewer than what the environment has")
	fs.StringArrayVar(&f.passDown, "pass", nil, "with --deploy-release: NAME=TEMPLATE, a value the child deployment gets (repeat)")
	fs.StringVar(&f.manual, "manual", "", "make a manual intervention step with these instructions (markdown): the deployment waits until someone proceeds or aborts")
	fs.StringArrayVar(&f.teams, "responsible-team", nil, "with --manual: a team that may answer (repeat)")
	f.healthCheck.register(fs)
	fs.StringArrayVar(&f.onlyEnvs, "only-environment", nil, "run the step only in this environment (repeat)")
	fs.StringArrayVar(&f.exceptEnvs, "skip-environment", nil, "never run the step in this environment (repeat)")
	fs.BoolVar(&f.required, "required", false, "the step cannot be skipped when deploying")
	fs.StringVar(&f.condition, "condition", "", "when the step runs: success (default: no earlier step failed), failure, always, or variable (with --condition-expression)")
	fs.StringVar(&f.conditionExpr, "condition-expression", "", `with --condition variable: a template; the step runs on each target where it renders to "true"`)
	fs.BoolVar(&f.withPrevious, "start-with-previous", false, "run alongside the step before it")
	fs.IntVar(&f.retries, "retries", 0, "run a failed script again on a target up to this many times")
	fs.IntVar(&f.retryDelay, "retry-delay", 0, "seconds between retries")
	fs.BoolVar(&f.onServer, "on-server", false, "run on the server's built-in worker, whatever workers the default pool has")
	fs.IntVar(&f.maxParallel, "max-parallelism", 0, "at most this many targets at once (default 10)")
	fs.IntVar(&f.window, "window-size", 0, "roll across targets this many at a time, stopping at the first failure")
	f.email.register(cmd)
	cmd.MarkFlagRequired("name")
}

// prepare checks the flags go together and reads --script-file; it needs
// no server, so it runs before anything is looked up.
func (f *stepFlags) prepare(cmd *cobra.Command) error {
	if err := f.healthCheck.check(cmd.Flags(), f.email.set() || f.fromTemplate != "" || f.deployProject != "" || f.manual != "" || f.scriptPkg != "" || f.pkgID != "" || f.script != "" || f.scriptFile != "" || len(f.packageRefs) > 0); err != nil {
		return err
	}
	switch {
	case f.email.set() && (f.fromTemplate != "" || f.deployProject != "" || f.manual != "" || f.scriptPkg != "" || f.pkgID != "" || f.script != "" || f.scriptFile != "" || len(f.packageRefs) > 0):
		return fmt.Errorf("--email-* flags make an email step: leave out --script, --script-file, --script-package, --package, --package-ref, --manual, --deploy-release and --template")
	case (f.feedName != "" || f.acquisition != "") && f.pkgID == "" && f.scriptPkg == "":
		return fmt.Errorf("--feed and --acquisition say where --package or --script-package comes from; a script's other packages go in --package-ref")
	case len(f.packageRefs) > 0 && (f.pkgID != "" || f.manual != "" || f.deployProject != "" || f.fromTemplate != ""):
		return fmt.Errorf("--package-ref gives a script step packages it refers to: use it with --script, --script-file or --script-package")
	case f.scriptPkg != "" && (f.pkgID != "" || f.script != "" || f.scriptFile != ""):
		return fmt.Errorf("--script-package takes the script from a package: leave out --package, --script and --script-file")
	case (f.scriptPkg == "") != (f.scriptInPkg == ""):
		return fmt.Errorf("--script-package and --script-in-package go together: the package, and the script's path inside it")
	case f.scriptArgs != "" && f.scriptPkg == "":
		return fmt.Errorf("--script-arguments is for a script kept in a package (--script-package)")
	case f.deployProject != "" && (f.manual != "" || f.scriptPkg != "" || f.pkgID != "" || f.script != "" || f.scriptFile != ""):
		return fmt.Errorf("--deploy-release makes a deploy-a-release step: leave out --manual, --script, --script-file, --script-package and --package")
	case f.manual != "" && (f.scriptPkg != "" || f.pkgID != "" || f.script != "" || f.scriptFile != ""):
		return fmt.Errorf("--manual makes a manual intervention step: leave out --script, --script-file, --script-package and --package")
	case f.fromTemplate != "" && (f.deployProject != "" || f.manual != "" || f.scriptPkg != "" || f.pkgID != "" || f.script != "" || f.scriptFile != ""):
		return fmt.Errorf("--template makes the step do what the step template says: leave out --script, --script-file, --script-package, --package, --manual and --deploy-release")
	case f.fromTemplate == "" && len(f.templateParams) > 0:
		return fmt.Errorf("--parameter gives a value to a step template's parameter: use it with --template")
	case !f.healthCheck.on && !f.email.set() && f.fromTemplate == "" && f.deployProject == "" && f.manual == "" && f.scriptPkg == "" && f.pkgID == "" && (f.script == "") == (f.scriptFile == ""):
		return fmt.Errorf("give the script with exactly one of --script or --script-file, take it from a package with --script-package, deploy a package with --package, ask people with --manual, check targets with --health-check, or send an email with --email-to/--email-to-team and --email-subject")
	}
	if f.scriptFile != "" {
		b, err := os.ReadFile(f.scriptFile)
		if err != nil {
			return fmt.Errorf("read script: %w", err)
		}
		f.script = string(b)
	}
	f.syntax = string(scriptSyntax(cmd, f.syntax, f.scriptFile, model.SyntaxBash))
	return nil
}

// build makes the step the flags describe (after prepare), looking up the
// environments, teams, templates, projects and pools they name.
func (f *stepFlags) build(a *app, cmd *cobra.Command, c *client.Client) (model.Step, error) {
	s := model.Step{Name: f.name, TargetRoles: f.roles, MaxParallelism: f.maxParallel, WindowSize: f.window, RunOnServer: f.onServer,
		Required: f.required, Condition: model.StepCondition(f.condition), ConditionExpression: f.conditionExpr,
		StartWithPrevious: f.withPrevious, Retries: f.retries, RetryDelaySeconds: f.retryDelay, ScriptModules: f.modules}
	for _, list := range []struct {
		names []string
		ids   *[]string
	}{{f.onlyEnvs, &s.Environments}, {f.exceptEnvs, &s.ExcludedEnvironments}} {
		for _, n := range list.names {
			env, err := c.FindEnvironment(cmd.Context(), n)
			if err != nil {
				return s, err
			}
			*list.ids = append(*list.ids, env.ID)
		}
	}
	var err error
	if s.HealthCheck, err = f.healthCheck.action(); err != nil {
		return s, err
	}
	syntax := model.ScriptSyntax(f.syntax)
	if s.HealthCheck != nil {
		// The step's roles say what it checks.
	} else if f.email.set() {
		if s.Email, err = f.email.action(); err != nil {
			return s, err
		}
	} else if f.fromTemplate != "" {
		if s.Template, err = a.templateRef(cmd, c, f.fromTemplate, f.templateParams); err != nil {
			return s, err
		}
	} else if f.deployProject != "" {
		child, err := c.FindProject(cmd.Context(), f.deployProject)
		if err != nil {
			return s, err
		}
		s.DeployRelease = &model.DeployReleaseAction{ProjectID: child.ID, Mode: model.DeployReleaseMode(f.deployMode)}
		for _, kv := range f.passDown {
			name, value, ok := strings.Cut(kv, "=")
			if !ok || name == "" {
				return s, fmt.Errorf("--pass takes NAME=VALUE, not %q", kv)
			}
			if s.DeployRelease.Variables == nil {
				s.DeployRelease.Variables = map[string]string{}
			}
			s.DeployRelease.Variables[name] = value
		}
	} else if f.manual != "" {
		s.Manual = &model.ManualAction{Instructions: f.manual, ResponsibleTeams: f.teams}
	} else if f.pkgID != "" {
		s.Package = &model.PackageAction{PackageID: f.pkgID, FeedID: f.feedName, Acquisition: model.PackageAcquisition(f.acquisition),
			SubstituteFiles: f.substitute, StructuredConfigFiles: f.structured, RetainInstallations: f.retain}
		if f.script != "" {
			s.Package.Deploy = &model.ScriptAction{Syntax: syntax, Body: f.script}
		}
	} else if f.scriptPkg != "" {
		s.Script = &model.ScriptAction{Syntax: syntax, FromPackage: &model.ScriptPackage{
			PackageID: f.scriptPkg, File: f.scriptInPkg, Arguments: f.scriptArgs, SubstituteFiles: f.substitute,
			FeedID: f.feedName, Acquisition: model.PackageAcquisition(f.acquisition)}}
	} else {
		s.Script = &model.ScriptAction{Syntax: syntax, Body: f.script}
	}
	for _, spec := range f.packageRefs {
		ref, err := parsePackageRef(spec)
		if err != nil {
			return s, err
		}
		s.Script.Packages = append(s.Script.Packages, ref)
	}
	if f.pool != "" {
		pool, err := c.FindWorkerPool(cmd.Context(), f.pool)
		if err != nil {
			return s, err
		}
		s.WorkerPoolID = pool.ID
	}
	return s, nil
}

// insert puts s at --position (1 for first; last when 0 or past the end)
// and says at which index it went.
func (f *stepFlags) insert(steps []model.Step, s model.Step) ([]model.Step, int) {
	at := len(steps)
	if f.position > 0 && f.position <= len(steps) {
		at = f.position - 1
	}
	return append(steps[:at], append([]model.Step{s}, steps[at:]...)...), at
}

// removeStep leaves out the steps with this id or name; found says
// whether there was one.
func removeStep(steps []model.Step, idOrName string) (kept []model.Step, found bool) {
	kept = steps[:0]
	for _, s := range steps {
		if s.ID == idOrName || model.SameName(s.Name, idOrName) {
			found = true
			continue
		}
		kept = append(kept, s)
	}
	return kept, found
}

package model

import (
	"fmt"
	"path"
	"strings"
)

// DeploymentProcess is a project's ordered steps. Version increases with
// every change, so two people editing at once cannot overwrite each other.
type DeploymentProcess struct {
	ProjectID string `json:"projectId"`
	Version   int    `json:"version"`
	Steps     []Step `json:"steps"`
	// ScriptModules are the modules the steps include, as they were when
	// a release was created: only release snapshots carry them.
	ScriptModules []ScriptModule `json:"scriptModules,omitempty" yaml:"scriptModules,omitempty"`
}

// Step is one stage of a deployment process. Exactly one action field says
// what the step does; later step kinds add their own field beside Script.
type Step struct {
	// ID is stable across edits, so variables and skip lists can name a step
	// even when it is renamed. The server assigns it when empty.
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Disabled bool          `json:"disabled,omitempty"`
	Script   *ScriptAction `json:"script,omitempty"`
	// Package deploys a package from the feed with the conventions.
	Package *PackageAction `json:"package,omitempty"`
	// Manual waits for a person to proceed or abort.
	Manual *ManualAction `json:"manualIntervention,omitempty" yaml:"manualIntervention,omitempty"`
	// DeployRelease deploys a release of another project (a child).
	DeployRelease *DeployReleaseAction `json:"deployRelease,omitempty" yaml:"deployRelease,omitempty"`
	// HealthCheck re-checks the targets of the step's roles (healthcheck.go).
	HealthCheck *HealthCheckAction `json:"healthCheck,omitempty" yaml:"healthCheck,omitempty"`
	// Email sends an email from the server (email.go).
	Email *EmailAction `json:"email,omitempty" yaml:"email,omitempty"`

	// TargetRoles makes the step run on every enabled deployment target of
	// the deployment's environment that has any of these roles. Without
	// roles the step runs once, on a worker.
	TargetRoles []string `json:"targetRoles,omitempty"`
	// WorkerPoolID picks the pool of a step without roles; empty means the
	// default pool (the server's built-in worker while it has no workers).
	WorkerPoolID string `json:"workerPoolId,omitempty"`
	// RunOnServer runs the step on the server's built-in worker, whatever
	// workers the default pool has.
	RunOnServer bool `json:"runOnServer,omitempty"`
	// MaxParallelism caps how many targets run the step at once (default 10).
	MaxParallelism int `json:"maxParallelism,omitempty"`
	// WindowSize makes the step a rolling one: at most this many targets at
	// a time, and no new target starts after one has failed.
	WindowSize int `json:"windowSize,omitempty"`

	// Environments limits the step to these environments (ids), and
	// ExcludedEnvironments leaves it out of those; empty runs everywhere.
	Environments         []string `json:"environments,omitempty" yaml:"environments,omitempty"`
	ExcludedEnvironments []string `json:"excludedEnvironments,omitempty" yaml:"excludedEnvironments,omitempty"`
	// Channels limits the step to releases in these channels (ids).
	Channels []string `json:"channels,omitempty" yaml:"channels,omitempty"`
	// Required steps cannot be skipped when a deployment is asked for.
	Required bool `json:"required,omitempty" yaml:"required,omitempty"`
	// Condition says when the step runs after what came before it; the
	// default is success (no earlier step failed).
	Condition StepCondition `json:"condition,omitempty" yaml:"condition,omitempty"`
	// ConditionExpression is the template of a "variable" condition: the
	// step runs (on each target) where it renders to a true value.
	ConditionExpression string `json:"conditionExpression,omitempty" yaml:"conditionExpression,omitempty"`
	// StartWithPrevious runs the step alongside the one before it.
	StartWithPrevious bool `json:"startWithPrevious,omitempty" yaml:"startWithPrevious,omitempty"`
	// Retries runs a failed script again on a target up to this many
	// times, RetryDelaySeconds apart (0: at once).
	Retries           int `json:"retries,omitempty" yaml:"retries,omitempty"`
	RetryDelaySeconds int `json:"retryDelaySeconds,omitempty" yaml:"retryDelaySeconds,omitempty"`

	// Template says the step is made from a step template: the server
	// fills its action from that template version when the process is
	// saved (an action sent with it is replaced).
	Template *StepTemplateRef `json:"template,omitempty" yaml:"template,omitempty"`
	// ScriptModules names the script modules the step's scripts include.
	ScriptModules []string `json:"scriptModules,omitempty" yaml:"scriptModules,omitempty"`
}

// StepCondition says when a step runs.
type StepCondition string

// Step conditions, as Octopus names them.
const (
	// ConditionSuccess: only when no earlier step failed (the default).
	ConditionSuccess StepCondition = "success"
	// ConditionFailure: only when an earlier step failed.
	ConditionFailure StepCondition = "failure"
	// ConditionAlways: whatever happened before.
	ConditionAlways StepCondition = "always"
	// ConditionVariable: where ConditionExpression is true, whatever
	// happened before (Octopus.Deployment.Error says whether anything failed).
	ConditionVariable StepCondition = "variable"
)

// MaxRetries bounds Step.Retries.
const MaxRetries = 10

// ManualAction is a manual intervention: the deployment waits, holding no
// worker or task slot, until someone allowed proceeds or aborts.
type ManualAction struct {
	// Instructions are markdown, rendered as a template with the
	// deployment's variables.
	Instructions string `json:"instructions" yaml:"instructions"`
	// ResponsibleTeams may answer; empty lets anyone who may deploy.
	ResponsibleTeams []string `json:"responsibleTeams,omitempty" yaml:"responsibleTeams,omitempty"`
}

// DeployReleaseAction deploys a release of another project (the child) to
// the parent deployment's environment. The child release is chosen when
// the parent release is created; the child's own lifecycle must allow the
// deployment.
type DeployReleaseAction struct {
	ProjectID string `json:"projectId" yaml:"projectId"`
	// Mode says when the child is deployed: always (default), ifDifferent
	// (the environment has another release of it), or ifNewer (the chosen
	// release is newer than what the environment has).
	Mode DeployReleaseMode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Variables are templates rendered with the parent's values and given
	// to the child deployment, where they win over the child's own values.
	Variables map[string]string `json:"variables,omitempty" yaml:"variables,omitempty"`
}

// DeployReleaseMode says when a deploy-a-release step deploys its child.
type DeployReleaseMode string

// Deploy-a-release modes.
const (
	DeployAlways      DeployReleaseMode = "always"
	DeployIfDifferent DeployReleaseMode = "ifDifferent"
	DeployIfNewer     DeployReleaseMode = "ifNewer"
)

// RunsIn reports whether the step's environment filters let it run in env.
func (s *Step) RunsIn(envID string) bool {
	for _, e := range s.ExcludedEnvironments {
		if e == envID {
			return false
		}
	}
	if len(s.Environments) == 0 {
		return true
	}
	for _, e := range s.Environments {
		if e == envID {
			return true
		}
	}
	return false
}

// DefaultMaxParallelism is how many targets run a step at once by default.
const DefaultMaxParallelism = 10

// Concurrency is how many targets may run the step at once.
func (s *Step) Concurrency() int {
	switch {
	case s.WindowSize > 0:
		return s.WindowSize
	case s.MaxParallelism > 0:
		return s.MaxParallelism
	}
	return DefaultMaxParallelism
}

// PackageID is the package the step takes from the feed, or "" when it
// takes none.
func (s *Step) PackageID() string {
	switch {
	case s.Package != nil:
		return s.Package.PackageID
	case s.Script != nil && s.Script.FromPackage != nil:
		return s.Script.FromPackage.PackageID
	}
	return ""
}

// Kind names what the step does.
func (s *Step) Kind() string {
	switch {
	case s.Script != nil:
		return "script"
	case s.Package != nil:
		return "package"
	case s.Manual != nil:
		return "manual"
	case s.DeployRelease != nil:
		return "deploy-release"
	case s.HealthCheck != nil:
		return "health-check"
	case s.Email != nil:
		return "email"
	}
	return ""
}

// PackageAction deploys a package: the version is chosen when a release is
// created; on each target the package is sent (unless cached), extracted
// into a new folder, and the conventions run: PreDeploy, substitution in
// files, structured configuration, custom installation folder, Deploy,
// PostDeploy (DeployFailed on failure).
type PackageAction struct {
	PackageID string `json:"packageId" yaml:"packageId"`
	// FeedID is the feed the version is chosen from; empty: the built-in feed.
	FeedID string `json:"feedId,omitempty" yaml:"feedId,omitempty"`
	// Acquisition says whether the server sends the package (default) or
	// each target downloads it from the feed.
	Acquisition PackageAcquisition `json:"acquisition,omitempty" yaml:"acquisition,omitempty"`
	// SubstituteFiles are globs of files rendered as templates.
	SubstituteFiles []string `json:"substituteFiles,omitempty" yaml:"substituteFiles,omitempty"`
	// StructuredConfigFiles are globs of JSON, YAML, XML and .properties
	// files whose values variables named by key path replace.
	StructuredConfigFiles []string `json:"structuredConfigFiles,omitempty" yaml:"structuredConfigFiles,omitempty"`
	// CustomInstallDir copies the package there after substitution.
	CustomInstallDir      string   `json:"customInstallDir,omitempty" yaml:"customInstallDir,omitempty"`
	PurgeCustomInstallDir bool     `json:"purgeCustomInstallDir,omitempty" yaml:"purgeCustomInstallDir,omitempty"`
	CustomInstallExclude  []string `json:"customInstallExclude,omitempty" yaml:"customInstallExclude,omitempty"`
	// Inline scripts, run besides those in the package.
	PreDeploy    *ScriptAction `json:"preDeploy,omitempty" yaml:"preDeploy,omitempty"`
	Deploy       *ScriptAction `json:"deploy,omitempty" yaml:"deploy,omitempty"`
	PostDeploy   *ScriptAction `json:"postDeploy,omitempty" yaml:"postDeploy,omitempty"`
	DeployFailed *ScriptAction `json:"deployFailed,omitempty" yaml:"deployFailed,omitempty"`
	// SkipPackageScripts ignores PreDeploy.sh & co. found in the package.
	SkipPackageScripts bool `json:"skipPackageScripts,omitempty" yaml:"skipPackageScripts,omitempty"`
	// RetainInstallations keeps this many installations on each target (0: all).
	RetainInstallations int `json:"retainInstallations,omitempty" yaml:"retainInstallations,omitempty"`
}

// ScriptSyntax is the interpreter of an inline script.
type ScriptSyntax string

// The syntaxes the runner knows (and SyntaxPython, with script modules).
const (
	SyntaxBash ScriptSyntax = "bash"
	SyntaxSh   ScriptSyntax = "sh"
)

// ScriptAction runs an inline script.
type ScriptAction struct {
	Syntax ScriptSyntax `json:"syntax"`
	Body   string       `json:"body,omitempty" yaml:"body,omitempty"`
	// FromPackage takes the script from a file in a package instead of
	// Body (the step of a run-a-script kind only).
	FromPackage *ScriptPackage `json:"fromPackage,omitempty" yaml:"fromPackage,omitempty"`
	// Packages are packages the script refers to by name (a container
	// image it runs, a tool it unpacks); their versions are chosen when a
	// release is created.
	Packages []PackageReference `json:"packages,omitempty" yaml:"packages,omitempty"`
}

// ScriptPackage is a script kept in a package: the package's version is
// chosen when a release is created, as for a package step; on the target
// the package is extracted into the script's workspace and the file runs
// there, bash (or sh) for .sh and python3 for .py.
type ScriptPackage struct {
	PackageID string `json:"packageId" yaml:"packageId"`
	// FeedID and Acquisition are as a package step's.
	FeedID      string             `json:"feedId,omitempty" yaml:"feedId,omitempty"`
	Acquisition PackageAcquisition `json:"acquisition,omitempty" yaml:"acquisition,omitempty"`
	// File is the script's path inside the package, e.g. scripts/migrate.sh.
	File string `json:"file" yaml:"file"`
	// Arguments is a template rendered with the step's variables and
	// appended to the script's command line, as Octopus's script parameters.
	Arguments string `json:"arguments,omitempty" yaml:"arguments,omitempty"`
	// SubstituteFiles are globs of files in the package rendered as
	// templates before the script runs.
	SubstituteFiles []string `json:"substituteFiles,omitempty" yaml:"substituteFiles,omitempty"`
}

// MaxScriptLength bounds an inline script; anything bigger belongs in a package.
const MaxScriptLength = 1 << 20

// Validate checks the process; it does not assign ids.
func (d *DeploymentProcess) Validate() error {
	p := problems{subject: "deployment process"}
	names := map[string]bool{}
	ids := map[string]bool{}
	for i, s := range d.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		checkName(&p, field+".name", s.Name)
		if names[NameKey(s.Name)] {
			p.add(field+".name", "another step is already called %q", s.Name)
		}
		names[NameKey(s.Name)] = true
		if s.ID != "" {
			if ids[s.ID] {
				p.add(field+".id", "id %q is used by two steps", s.ID)
			}
			ids[s.ID] = true
		}
		switch actions := btoi(s.Script != nil) + btoi(s.Package != nil) + btoi(s.Manual != nil) + btoi(s.DeployRelease != nil) + btoi(s.HealthCheck != nil) + btoi(s.Email != nil); {
		case actions > 1:
			p.add(field, "does one thing: set one of script, package, manualIntervention, deployRelease, healthCheck and email")
		case s.Script != nil:
			validateScript(&p, field+".script", s.Script)
		case s.Package != nil:
			validatePackageAction(&p, field+".package", s.Package)
		case s.Manual != nil:
			if strings.TrimSpace(s.Manual.Instructions) == "" {
				p.add(field+".manualIntervention.instructions", "is required: tell the person what to check before proceeding")
			}
			if len(s.TargetRoles) > 0 || s.WorkerPoolID != "" {
				p.add(field, "a manual intervention runs on no machine: leave out targetRoles and workerPoolId")
			}
		case s.DeployRelease != nil:
			dr := s.DeployRelease
			if dr.ProjectID == "" {
				p.add(field+".deployRelease.projectId", "is required: the project whose release it deploys")
			}
			switch dr.Mode {
			case "", DeployAlways, DeployIfDifferent, DeployIfNewer:
			default:
				p.add(field+".deployRelease.mode", "%q is not a mode: use always, ifDifferent or ifNewer", dr.Mode)
			}
			if len(s.TargetRoles) > 0 || s.WorkerPoolID != "" {
				p.add(field, "deploying a release runs on no machine: leave out targetRoles and workerPoolId")
			}
			if s.Retries > 0 {
				p.add(field+".retries", "deploying a release is not retried; use guided failure")
			}
		case s.HealthCheck != nil:
			validateHealthCheck(&p, field, &s)
		case s.Email != nil:
			validateEmail(&p, field+".email", &s)
		default:
			p.add(field, "says nothing to do: set script, package, manualIntervention, deployRelease, healthCheck or email")
		}
		switch s.Condition {
		case "", ConditionSuccess, ConditionFailure, ConditionAlways:
			if strings.TrimSpace(s.ConditionExpression) != "" {
				p.add(field+".conditionExpression", "is only for condition %q", ConditionVariable)
			}
		case ConditionVariable:
			if strings.TrimSpace(s.ConditionExpression) == "" {
				p.add(field+".conditionExpression", "is required with condition %q, e.g. #{if Octopus.Deployment.Error}true#{/if}", ConditionVariable)
			}
		default:
			p.add(field+".condition", "%q is not a condition: use success, failure, always or variable", s.Condition)
		}
		for j, m := range s.ScriptModules {
			if !moduleNamePattern.MatchString(m) {
				p.add(fmt.Sprintf("%s.scriptModules[%d]", field, j), "%q is not a script module name", m)
			}
		}
		if s.Template != nil && s.Template.ID == "" {
			p.add(field+".template.id", "is required: the step template the step is made from")
		}
		if i == 0 && s.StartWithPrevious {
			p.add(field+".startWithPrevious", "the first step has no previous step to start with")
		}
		if s.Retries < 0 || s.Retries > MaxRetries {
			p.add(field+".retries", "must be 0 to %d", MaxRetries)
		}
		if s.RetryDelaySeconds < 0 {
			p.add(field+".retryDelaySeconds", "must not be negative")
		}
		if s.Manual != nil && s.Retries > 0 {
			p.add(field+".retries", "a manual intervention is not retried")
		}
		for _, e := range s.Environments {
			for _, x := range s.ExcludedEnvironments {
				if e == x {
					p.add(field+".excludedEnvironments", "environment %q is both included and excluded", e)
				}
			}
		}
		if n := btoi(len(s.TargetRoles) > 0) + btoi(s.WorkerPoolID != "") + btoi(s.RunOnServer); n > 1 {
			p.add(field, "runs in one place: on targets (targetRoles), on a worker pool (workerPoolId) or on the server (runOnServer)")
		}
		for j, r := range s.TargetRoles {
			if strings.TrimSpace(r) == "" || strings.ContainsAny(r, ", \t\n") {
				p.add(fmt.Sprintf("%s.targetRoles[%d]", field, j), "%q is not a role name", r)
			}
		}
		if s.MaxParallelism < 0 {
			p.add(field+".maxParallelism", "must not be negative")
		}
		if s.WindowSize < 0 {
			p.add(field+".windowSize", "must not be negative")
		}
		if s.WindowSize > 0 && len(s.TargetRoles) == 0 {
			p.add(field+".windowSize", "a rolling step needs targetRoles: it rolls across targets")
		}
	}
	return p.err()
}

func validateScript(p *problems, field string, a *ScriptAction) {
	if fp := a.FromPackage; fp != nil {
		if strings.TrimSpace(a.Body) != "" {
			p.add(field, "takes its script from the package or from body, not both")
		}
		validatePackageID(p, field+".fromPackage.packageId", fp.PackageID, fp.FeedID)
		validateAcquisition(p, field+".fromPackage.acquisition", fp.Acquisition, fp.FeedID)
		if fp.Acquisition == AcquireNone {
			p.add(field+".fromPackage.acquisition", "the script is in the package, so the package must be acquired: use server or target")
		}
		validatePackageReferences(p, field, a.Packages)
		clean := path.Clean(fp.File)
		switch {
		case strings.TrimSpace(fp.File) == "":
			p.add(field+".fromPackage.file", "is required: the script's path inside the package, e.g. scripts/migrate.sh")
		case path.IsAbs(fp.File) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(fp.File, "\\"):
			p.add(field+".fromPackage.file", "%q must be a path inside the package, with '/' between folders", fp.File)
		case !strings.HasSuffix(strings.ToLower(clean), ".sh") && !strings.HasSuffix(strings.ToLower(clean), ".py"):
			p.add(field+".fromPackage.file", "%q must end in .sh (run with bash or sh) or .py (run with python3)", fp.File)
		}
		// The file's extension decides: .py runs with python3 whatever
		// the syntax; bash or sh picks the shell of a .sh file.
		switch a.Syntax {
		case SyntaxBash, SyntaxSh, "":
		case SyntaxPython:
			if strings.HasSuffix(strings.ToLower(clean), ".sh") {
				p.add(field+".syntax", "is python but %q is a shell script: use bash or sh", fp.File)
			}
		default:
			p.add(field+".syntax", "%q is not supported: use bash, sh or python", a.Syntax)
		}
		return
	}
	switch a.Syntax {
	case SyntaxBash, SyntaxSh, SyntaxPython:
	case "":
		p.add(field+".syntax", "is required (bash, sh or python)")
	default:
		p.add(field+".syntax", "%q is not supported: use bash, sh or python", a.Syntax)
	}
	if strings.TrimSpace(a.Body) == "" {
		p.add(field+".body", "is required")
	}
	validatePackageReferences(p, field, a.Packages)
	if len(a.Body) > MaxScriptLength {
		p.add(field+".body", "is %d bytes; the limit is %d", len(a.Body), MaxScriptLength)
	}
}

// Normalize fills defaults a user may leave out.
func (d *DeploymentProcess) Normalize() {
	for i := range d.Steps {
		scripts := []*ScriptAction{d.Steps[i].Script}
		if pa := d.Steps[i].Package; pa != nil {
			scripts = append(scripts, pa.PreDeploy, pa.Deploy, pa.PostDeploy, pa.DeployFailed)
		}
		for _, s := range scripts {
			if s != nil && s.Syntax == "" {
				s.Syntax = SyntaxBash
			}
		}
	}
}

// EnabledSteps returns the steps a deployment runs.
func (d *DeploymentProcess) EnabledSteps() []Step {
	var out []Step
	for _, s := range d.Steps {
		if !s.Disabled {
			out = append(out, s)
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func validatePackageAction(p *problems, field string, a *PackageAction) {
	validatePackageID(p, field+".packageId", a.PackageID, a.FeedID)
	validateAcquisition(p, field+".acquisition", a.Acquisition, a.FeedID)
	if a.Acquisition == AcquireNone {
		p.add(field+".acquisition", "a package step extracts its package, so it must be acquired: use server or target (a container image belongs in a script step's packages)")
	}
	for name, sc := range map[string]*ScriptAction{"preDeploy": a.PreDeploy, "deploy": a.Deploy, "postDeploy": a.PostDeploy, "deployFailed": a.DeployFailed} {
		if sc == nil {
			continue
		}
		if sc.FromPackage != nil {
			p.add(field+"."+name+".fromPackage", "a package step's own scripts come from its package (%s.sh at its root) or inline, not from another package", strings.ToUpper(name[:1])+name[1:])
			continue
		}
		if len(sc.Packages) > 0 {
			p.add(field+"."+name+".packages", "package references belong to script steps")
		}
		validateScript(p, field+"."+name, sc)
	}
	if a.RetainInstallations < 0 {
		p.add(field+".retainInstallations", "must not be negative")
	}
}

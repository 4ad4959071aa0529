// Package engine turns releases into deployments: it checks the lifecycle,
// queues deployment tasks, runs their steps on targets through the contract,
// and promotes releases through automatic phases.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/extfeed"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Notifier is told when new tasks are queued.
type Notifier interface{ Notify() }

// Config wires an Engine.
type Config struct {
	Store *store.Store
	// Worker runs steps that target no machine: the server's built-in worker.
	Worker contract.Target
	Queue  Notifier
	// ServerURL is the server's address as users reach it, for links in
	// system variables.
	ServerURL string
	Logger    *slog.Logger
	// StatusWait is how long one status call to a target may wait for news.
	StatusWait time.Duration
	// Targets reaches machines; nil means steps can only run on the
	// built-in worker.
	Targets TargetSource
	// TargetRetry is how long calls to a target that cannot be reached are
	// retried before the step fails (default two minutes): long enough for
	// an agent to restart or a dropped polling connection to come back.
	TargetRetry time.Duration
	// ProbeTimeout bounds the check that a target is reachable before a
	// step starts on it (default 30 s).
	ProbeTimeout time.Duration
	// Packages gives package steps their packages (the built-in feed).
	Packages PackageSource
	// Feeds reads external feeds; nil: only the built-in feed's packages
	// can be deployed.
	Feeds extfeed.Resolver
	// FeedCacheDir keeps the packages the server downloads from external
	// feeds, one file per version, in a folder all nodes share.
	FeedCacheDir string
	// FeedCacheMaxAge is how long a target keeps any package in its cache
	// (sent by the server or downloaded there) after a step last took it,
	// unless an installation retention keeps was deployed from it; 0 keeps
	// them all. (The server's own cache is swept by PruneFeedCache.)
	FeedCacheMaxAge time.Duration
	// FeedHTTP downloads from external feeds (default http.DefaultClient).
	FeedHTTP *http.Client
	// Runners gives targets the server's runner; nil leaves each target
	// with its own binary's.
	Runners RunnerSource
	// ArtifactsDir keeps the files scripts hand over; artifacts are
	// refused when empty.
	ArtifactsDir string
	// Health checks machines for health check steps; nil fails them.
	Health HealthChecker
	// Mail sends email steps' mail; nil fails them, saying how to give
	// the server an SMTP server.
	Mail Mail
}

// TargetSource turns a stored machine into a target.
type TargetSource interface {
	Target(m model.Machine) (contract.Target, error)
}

// Engine creates and runs deployments.
type Engine struct {
	cfg Config
	// levels holds the log level a script switched its output to, by
	// task and activity ("##octopus[stdout-warning]").
	levels sync.Map
	// downloads serialises downloads of one external package version.
	downloads sync.Map
}

func levelKey(taskID string, activityID int) string { return fmt.Sprintf("%s/%d", taskID, activityID) }

func (e *Engine) outputLevel(taskID string, activityID int) model.LogLevel {
	if v, ok := e.levels.Load(levelKey(taskID, activityID)); ok {
		return v.(model.LogLevel)
	}
	return model.LevelInfo
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StatusWait <= 0 {
		cfg.StatusWait = 2 * time.Second
	}
	if cfg.TargetRetry <= 0 {
		cfg.TargetRetry = 2 * time.Minute
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 30 * time.Second
	}
	return &Engine{cfg: cfg}
}

// DeployRequest asks for a release to go to an environment.
type DeployRequest struct {
	ReleaseID     string
	EnvironmentID string
	CreatedBy     string
	// Variables are values for the release's prompted variables, by name.
	Variables map[string]string
	// SkipSteps names steps (by id or name) to leave out; required steps
	// cannot be.
	SkipSteps []string
	// GuidedFailure overrides the environment's setting when not nil.
	GuidedFailure *bool
	// NotBefore schedules the deployment; NotAfter is when it expires if it
	// has not started.
	NotBefore, NotAfter *time.Time
	// OverrideFreeze deploys even during a deployment freeze.
	OverrideFreeze bool
	// SpecificMachineIDs and ExcludedMachineIDs narrow the targets.
	SpecificMachineIDs, ExcludedMachineIDs []string
	// ParentTaskID is the parent deployment's task when a deploy-a-release
	// step asks; ParentVariables are the values it passes down (plain
	// here, sealed when stored).
	ParentTaskID    string
	ParentVariables []model.ParentVariable
}

// Deploy checks that the lifecycle allows the deployment now and queues it.
// Refusals are *model.RefusedError; unknown references *model.ValidationError.
func (e *Engine) Deploy(ctx context.Context, req DeployRequest) (model.Deployment, error) {
	var d model.Deployment
	err := e.cfg.Store.Tx(ctx, func(q *store.Queries) (err error) {
		d, err = e.deployTx(ctx, q, req)
		return err
	})
	if err != nil {
		return d, err
	}
	e.cfg.Queue.Notify()
	return d, nil
}

// deployTx checks and queues a deployment in the caller's transaction;
// the caller notifies the queue once it commits.
func (e *Engine) deployTx(ctx context.Context, q *store.Queries, req DeployRequest) (model.Deployment, error) {
	rel, err := q.GetRelease(ctx, req.ReleaseID)
	if errors.Is(err, store.ErrNotFound) {
		return model.Deployment{}, invalid("deployment", "releaseId: release %q does not exist", req.ReleaseID)
	}
	if err != nil {
		return model.Deployment{}, err
	}
	env, err := q.GetEnvironment(ctx, req.EnvironmentID)
	if errors.Is(err, store.ErrNotFound) {
		return model.Deployment{}, invalid("deployment", "environmentId: environment %q does not exist", req.EnvironmentID)
	}
	if err != nil {
		return model.Deployment{}, err
	}
	if rel.RunbookID != "" {
		rb, err := q.GetRunbook(ctx, rel.RunbookID)
		if err != nil {
			return model.Deployment{}, err
		}
		if len(rb.EnvironmentIDs) > 0 && !slices.Contains(rb.EnvironmentIDs, env.ID) {
			return model.Deployment{}, &model.RefusedError{Reason: fmt.Sprintf("runbook %s does not run in %s", rb.Name, env.Name)}
		}
	} else {
		prog, err := progression(ctx, q, rel)
		if err != nil {
			return model.Deployment{}, err
		}
		if err := prog.CanDeploy(env.ID); err != nil {
			return model.Deployment{}, fmt.Errorf("release %s cannot be deployed to %s: %w", rel.Version, env.Name, err)
		}
	}
	prompted, err := promptedValues(q, rel, req.Variables)
	if err != nil {
		return model.Deployment{}, err
	}
	opts, err := deploymentOptions(rel, env, req)
	if err != nil {
		return model.Deployment{}, err
	}
	if err := checkSchedule(req, e.cfg.Store.Now()); err != nil {
		return model.Deployment{}, err
	}
	if !req.OverrideFreeze && rel.RunbookID == "" { // freezes stop deployments, not operations
		at := e.cfg.Store.Now()
		if req.NotBefore != nil && req.NotBefore.After(at) {
			at = *req.NotBefore
		}
		if f, err := frozen(ctx, q, rel.ProjectID, env.ID, at); err != nil {
			return model.Deployment{}, err
		} else if f != nil {
			return model.Deployment{}, &model.RefusedError{Reason: fmt.Sprintf("deployments to %s are frozen by %q from %s until %s; deploy with --override-freeze (overrideFreeze) if this one cannot wait",
				env.Name, f.Name, f.Start.UTC().Format("2006-01-02 15:04 UTC"), f.End.UTC().Format("2006-01-02 15:04 UTC"))}
		}
	}
	opts.OverrideFreeze = req.OverrideFreeze
	opts.SpecificMachineIDs, opts.ExcludedMachineIDs = req.SpecificMachineIDs, req.ExcludedMachineIDs
	for _, id := range append(slices.Clone(req.SpecificMachineIDs), req.ExcludedMachineIDs...) {
		if _, err := q.GetMachine(ctx, id); errors.Is(err, store.ErrNotFound) {
			return model.Deployment{}, invalid("deployment", "machines: machine %q does not exist", id)
		} else if err != nil {
			return model.Deployment{}, err
		}
	}
	for _, pv := range req.ParentVariables {
		sealed, err := q.Seal(pv.Value)
		if err != nil {
			return model.Deployment{}, err
		}
		pv.Value = sealed
		opts.ParentVariables = append(opts.ParentVariables, pv)
	}
	return queueDeployment(ctx, q, rel, env, req.CreatedBy, prompted, opts, req.NotBefore, req.NotAfter, req.ParentTaskID)
}

// CreateRelease stores a release snapshot and queues the deployments its
// lifecycle makes automatic from the start.
func (e *Engine) CreateRelease(ctx context.Context, r *model.Release) ([]model.Deployment, error) {
	var auto []model.Deployment
	var feeds store.FeedVersions
	if process, err := e.cfg.Store.Read().GetProcess(ctx, r.ProjectID); err == nil {
		if feeds, err = e.FeedVersions(ctx, process.Steps); err != nil {
			return nil, err
		}
	}
	err := e.cfg.Store.Tx(ctx, func(q *store.Queries) error {
		if err := q.CreateReleaseFrom(ctx, r, feeds); err != nil {
			return err
		}
		var err error
		auto, err = queueAutomatic(ctx, q, *r)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(auto) > 0 {
		e.cfg.Queue.Notify()
	}
	return auto, nil
}

// Progression lists, for every environment of the release's lifecycle,
// whether the release may be deployed there now and why not.
func (e *Engine) Progression(ctx context.Context, releaseID string) ([]model.EnvironmentProgress, error) {
	q := e.cfg.Store.Read()
	rel, err := q.GetRelease(ctx, releaseID)
	if err != nil {
		return nil, err
	}
	prog, err := progression(ctx, q, rel)
	if err != nil {
		return nil, err
	}
	envs, err := q.EnvironmentNames(ctx)
	if err != nil {
		return nil, err
	}
	deps, _, err := q.ListDeployments(ctx, store.DeploymentFilter{ReleaseID: releaseID})
	if err != nil {
		return nil, err
	}
	last := map[string]model.TaskState{}
	for _, d := range deps { // newest first
		if _, seen := last[d.EnvironmentID]; !seen {
			last[d.EnvironmentID] = d.State
		}
	}
	var out []model.EnvironmentProgress
	for _, ph := range prog.Phases {
		for _, id := range ph.Environments {
			p := model.EnvironmentProgress{EnvironmentID: id, Environment: envs[id], Phase: ph.Name,
				Automatic: ph.Automatic[id], CanDeploy: true, LastState: last[id]}
			if err := prog.CanDeploy(id); err != nil {
				p.CanDeploy, p.Reason = false, err.Error()
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func progression(ctx context.Context, q *store.Queries, rel model.Release) (*model.Progression, error) {
	project, err := q.GetProject(ctx, rel.ProjectID)
	if err != nil {
		return nil, err
	}
	lc, err := q.ReleaseLifecycle(ctx, project, rel)
	if err != nil {
		return nil, err
	}
	envs, err := q.AllEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	history, err := q.ReleaseHistory(ctx, rel.ID)
	if err != nil {
		return nil, err
	}
	return model.NewProgression(&lc, envs, history), nil
}

func queueDeployment(ctx context.Context, q *store.Queries, rel model.Release, env model.Environment, by string, prompted map[string]string,
	opts model.DeploymentOptions, notBefore, notAfter *time.Time, parentTaskID string) (model.Deployment, error) {
	project, err := q.GetProject(ctx, rel.ProjectID)
	if err != nil {
		return model.Deployment{}, err
	}
	d := model.Deployment{ReleaseID: rel.ID, ProjectID: rel.ProjectID, EnvironmentID: env.ID, CreatedBy: by, Prompted: prompted,
		DeploymentOptions: opts, RunbookID: rel.RunbookID}
	task := model.Task{Description: fmt.Sprintf("Deploy %s release %s to %s", project.Name, rel.Version, env.Name),
		NotBefore: notBefore, NotAfter: notAfter, ParentTaskID: parentTaskID}
	if rel.RunbookID != "" {
		rb, err := q.GetRunbook(ctx, rel.RunbookID)
		if err != nil {
			return d, err
		}
		task.Description = fmt.Sprintf("Run runbook %s of %s (snapshot %s) in %s", rb.Name, project.Name, rel.Version, env.Name)
	}
	if task.Priority, err = deploymentPriority(ctx, q, rel, env); err != nil {
		return d, err
	}
	if err := q.CreateDeployment(ctx, &d, &task); err != nil {
		return d, err
	}
	return d, nil
}

// deploymentPriority ranks a deployment in a full queue: runbook runs last,
// deployments to the last environment (production, in most setups) first.
func deploymentPriority(ctx context.Context, q *store.Queries, rel model.Release, env model.Environment) (int, error) {
	if rel.RunbookID != "" {
		return model.PriorityRunbook, nil
	}
	envs, err := q.AllEnvironments(ctx)
	if err != nil {
		return 0, err
	}
	if n := len(envs); n > 1 && envs[n-1].ID == env.ID {
		return model.PriorityProduction, nil
	}
	return model.PriorityDeployment, nil
}

// RunbookRequest asks for a runbook run.
type RunbookRequest struct {
	RunbookID     string
	EnvironmentID string
	CreatedBy     string
	// Variables are values for the snapshot's prompted variables.
	Variables map[string]string
	SkipSteps []string
}

// RunRunbook queues a run of a runbook's published snapshot in an
// environment it allows.
func (e *Engine) RunRunbook(ctx context.Context, req RunbookRequest) (model.Deployment, error) {
	rb, err := e.cfg.Store.Read().GetRunbook(ctx, req.RunbookID)
	if errors.Is(err, store.ErrNotFound) {
		return model.Deployment{}, invalid("runbook run", "runbookId: runbook %q does not exist", req.RunbookID)
	}
	if err != nil {
		return model.Deployment{}, err
	}
	if rb.PublishedSnapshotID == "" {
		return model.Deployment{}, &model.RefusedError{Reason: fmt.Sprintf("runbook %s has no published snapshot yet; publish it first (pulpo runbook publish)", rb.Name)}
	}
	return e.Deploy(ctx, DeployRequest{ReleaseID: rb.PublishedSnapshotID, EnvironmentID: req.EnvironmentID, CreatedBy: req.CreatedBy,
		Variables: req.Variables, SkipSteps: req.SkipSteps})
}

// deploymentOptions checks the steps asked to be skipped against the
// release's process and settles guided failure.
func deploymentOptions(rel model.Release, env model.Environment, req DeployRequest) (model.DeploymentOptions, error) {
	opts := model.DeploymentOptions{GuidedFailure: env.UseGuidedFailure}
	if req.GuidedFailure != nil {
		opts.GuidedFailure = *req.GuidedFailure
	}
	var problems []string
	for _, name := range req.SkipSteps {
		var found *model.Step
		for i, s := range rel.ProcessSnapshot.Steps {
			if s.ID == name || model.SameName(s.Name, name) {
				found = &rel.ProcessSnapshot.Steps[i]
				break
			}
		}
		switch {
		case found == nil:
			problems = append(problems, fmt.Sprintf("skipSteps: release %s has no step %q", rel.Version, name))
		case found.Required:
			problems = append(problems, fmt.Sprintf("skipSteps: step %q is required and cannot be skipped", found.Name))
		case !slices.Contains(opts.SkipSteps, found.ID):
			opts.SkipSteps = append(opts.SkipSteps, found.ID)
		}
	}
	if len(problems) > 0 {
		return opts, &model.ValidationError{Subject: "deployment", Problems: problems}
	}
	return opts, nil
}

// frozen returns the freeze that stops a deployment of the project to the
// environment at t (the one ending last), or nil.
func frozen(ctx context.Context, q *store.Queries, projectID, envID string, t time.Time) (*model.DeploymentFreeze, error) {
	freezes, err := q.ActiveFreezes(ctx, t)
	if err != nil {
		return nil, err
	}
	for i := range freezes { // ending last first
		if freezes[i].Covers(projectID, envID, t) {
			return &freezes[i], nil
		}
	}
	return nil, nil
}

// checkSchedule refuses a schedule that cannot run.
func checkSchedule(req DeployRequest, now time.Time) error {
	var problems []string
	if req.NotAfter != nil {
		if !req.NotAfter.After(now) {
			problems = append(problems, fmt.Sprintf("notAfter: %s has passed", req.NotAfter.UTC().Format(time.RFC3339)))
		}
		if req.NotBefore != nil && !req.NotAfter.After(*req.NotBefore) {
			problems = append(problems, "notAfter: must be after notBefore")
		}
	}
	if len(problems) > 0 {
		return &model.ValidationError{Subject: "deployment", Problems: problems}
	}
	return nil
}

// queueAutomatic queues deployments to the automatic environments the
// release has reached and not been sent to.
func queueAutomatic(ctx context.Context, q *store.Queries, rel model.Release) ([]model.Deployment, error) {
	prog, err := progression(ctx, q, rel)
	if err != nil {
		return nil, err
	}
	var out []model.Deployment
	for _, id := range prog.AutomaticDeployments() {
		env, err := q.GetEnvironment(ctx, id)
		if err != nil {
			return nil, err
		}
		// Into a frozen environment, an automatic deployment waits for the
		// end of the freeze.
		var notBefore *time.Time
		f, err := frozen(ctx, q, rel.ProjectID, env.ID, q.Now())
		if err != nil {
			return nil, err
		}
		if f != nil {
			notBefore = &f.End
		}
		d, err := queueDeployment(ctx, q, rel, env, model.CreatedByLifecycle, nil,
			model.DeploymentOptions{GuidedFailure: env.UseGuidedFailure}, notBefore, nil, "")
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func invalid(subject, format string, args ...any) error {
	return &model.ValidationError{Subject: subject, Problems: []string{fmt.Sprintf(format, args...)}}
}

// Rerun deploys a deployment's release to its environment again, with the
// same prompted values and options.
func (e *Engine) Rerun(ctx context.Context, deploymentID, by string) (model.Deployment, error) {
	q := e.cfg.Store.Read()
	d, err := q.GetDeployment(ctx, deploymentID)
	if err != nil {
		return model.Deployment{}, err
	}
	rel, err := q.GetRelease(ctx, d.ReleaseID)
	if err != nil {
		return model.Deployment{}, err
	}
	values := map[string]string{}
	for name, value := range d.Prompted {
		for _, v := range rel.VariableSnapshot.Variables {
			if v.Prompt != nil && v.Sensitive && model.SameName(v.Name, name) {
				if value, err = q.OpenSealed(value); err != nil {
					return model.Deployment{}, fmt.Errorf("rerun %s: %w", deploymentID, err)
				}
			}
		}
		values[name] = value
	}
	guided := d.GuidedFailure
	return e.Deploy(ctx, DeployRequest{ReleaseID: d.ReleaseID, EnvironmentID: d.EnvironmentID, CreatedBy: by, Variables: values,
		SkipSteps: d.SkipSteps, GuidedFailure: &guided, SpecificMachineIDs: d.SpecificMachineIDs, ExcludedMachineIDs: d.ExcludedMachineIDs})
}

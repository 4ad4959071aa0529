package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/template"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// DeployHandler returns the task handler that runs deployments.
func (e *Engine) DeployHandler() tasks.Handler { return deployHandler{e} }

type deployHandler struct{ e *Engine }

// deployment is everything a deployment run reads once at its start.
type deployment struct {
	d       model.Deployment
	release model.Release
	project model.Project
	env     model.Environment
	// runbook is set for a runbook run.
	runbook *model.Runbook
}

func (h deployHandler) load(ctx context.Context, run *tasks.Run) (deployment, error) {
	q := run.Store().Read()
	var x deployment
	var err error
	if x.d, err = q.GetDeployment(ctx, run.Task.DeploymentID); err != nil {
		return x, fmt.Errorf("load deployment: %w", err)
	}
	if x.release, err = q.GetRelease(ctx, x.d.ReleaseID); err != nil {
		return x, fmt.Errorf("load release: %w", err)
	}
	if x.project, err = q.GetProject(ctx, x.d.ProjectID); err != nil {
		return x, fmt.Errorf("load project: %w", err)
	}
	if x.env, err = q.GetEnvironment(ctx, x.d.EnvironmentID); err != nil {
		return x, fmt.Errorf("load environment: %w", err)
	}
	if x.d.RunbookID != "" {
		rb, err := q.GetRunbook(ctx, x.d.RunbookID)
		if err != nil {
			return x, fmt.Errorf("load runbook: %w", err)
		}
		x.runbook = &rb
	}
	return x, nil
}

// Execute runs the release's steps in order on the built-in worker. Every
// step and target records its progress as it goes; run again after an
// interruption, it skips finished steps and re-attaches to a running script
// instead of starting it twice.
func (h deployHandler) Execute(ctx context.Context, run *tasks.Run) error {
	err := h.execute(ctx, run)
	var wait *tasks.WaitError
	switch {
	case errors.Is(err, tasks.ErrCancelRequested) || errors.Is(context.Cause(ctx), tasks.ErrCancelRequested):
		h.cancelChildren(run)
		h.closeActivities(run, model.ActivityCanceled)
	case errors.As(err, &wait):
		// Parked until someone answers: what runs stays open.
	case err != nil && ctx.Err() == nil:
		h.closeActivities(run, model.ActivityFailed)
	}
	return err
}

// closeActivities gives every node still Running a final state, so a
// stopped deployment's log tree shows nothing as still going.
func (h deployHandler) closeActivities(run *tasks.Run, state model.ActivityState) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acts, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return
	}
	now := run.Store().Now().UTC()
	run.Tx(ctx, func(q *store.Queries) error {
		for i := range acts {
			if acts[i].State == model.ActivityRunning {
				acts[i].State, acts[i].EndedAt = state, &now
				if err := q.UpdateActivity(ctx, run.Lease, &acts[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (h deployHandler) execute(ctx context.Context, run *tasks.Run) error {
	x, err := h.load(ctx, run)
	if err != nil {
		return err
	}
	// Sensitive values are opened only here, and hidden in everything the
	// task logs from now on.
	secrets, err := h.openSensitive(run, x.release.VariableSnapshot.Variables)
	if err != nil {
		return err
	}
	masker := vars.NewMasker(secrets...)
	run.SetMasker(masker)
	if err := openTemplateSecrets(run.Store().Read(), x.release.ProcessSnapshot.Steps, masker); err != nil {
		return err
	}
	if x.release.VariableSnapshot.Variables, err = applyPrompted(run.Store().Read(), x.release.VariableSnapshot.Variables, x.d.Prompted, masker); err != nil {
		return err
	}
	if x.release.VariableSnapshot.Variables, err = expandCertificates(ctx, run.Store().Read(), x.release.VariableSnapshot.Variables, x.env.ID, masker); err != nil {
		return err
	}
	steps := x.release.ProcessSnapshot.EnabledSteps()
	acts, err := h.stepActivities(ctx, run, x, steps)
	if err != nil {
		return err
	}
	resumed := false
	for _, a := range acts {
		resumed = resumed || a.State != model.ActivityPending
	}
	what := fmt.Sprintf("the deployment of %s release %s to %s", x.project.Name, x.release.Version, x.env.Name)
	start := fmt.Sprintf("Deploying %s release %s to %s", x.project.Name, x.release.Version, x.env.Name)
	done := fmt.Sprintf("Deployed %s release %s to %s", x.project.Name, x.release.Version, x.env.Name)
	if x.runbook != nil {
		what = fmt.Sprintf("the run of runbook %s in %s", x.runbook.Name, x.env.Name)
		start = fmt.Sprintf("Running runbook %s of %s (snapshot %s) in %s", x.runbook.Name, x.project.Name, x.release.Version, x.env.Name)
		done = fmt.Sprintf("Ran runbook %s in %s", x.runbook.Name, x.env.Name)
	}
	if resumed {
		run.Logf(0, model.LevelHighlight, "Resuming %s", what)
	} else if x.runbook != nil {
		run.Log(0, model.LevelHighlight, start)
	} else {
		run.Log(0, model.LevelHighlight, start)
		if err := run.Tx(ctx, func(q *store.Queries) error {
			return q.EnqueueEvent(ctx, h.e.deploymentEvent(model.EventDeploymentStarted, x, model.TaskExecuting))
		}); err != nil {
			return err
		}
	}
	values := h.systemVariables(ctx, run.Store().Read(), x, run.Task)
	for _, pv := range x.d.ParentVariables {
		plain, err := run.Store().Read().OpenSealed(pv.Value)
		if err != nil {
			return fmt.Errorf("open the value of %s the parent deployment gave: %w", pv.Name, err)
		}
		if pv.Sensitive {
			masker.Add(plain)
		}
		values.Set(pv.Name, plain) // the parent's value wins over the project's
	}
	if err := h.runSteps(ctx, run, x, steps, acts, values); err != nil {
		return err
	}
	run.Log(0, model.LevelHighlight, done)
	return nil
}

// stepActivities returns one log-tree node per step, creating the missing
// ones as Pending so the whole plan shows from the start.
func (h deployHandler) stepActivities(ctx context.Context, run *tasks.Run, x deployment, steps []model.Step) ([]*model.Activity, error) {
	existing, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return nil, err
	}
	byStep := map[string]*model.Activity{}
	for i := range existing {
		if existing[i].Kind == model.ActivityStep {
			byStep[existing[i].StepID] = &existing[i]
		}
	}
	out := make([]*model.Activity, len(steps))
	err = run.Tx(ctx, func(q *store.Queries) error {
		for i, s := range steps {
			if a, ok := byStep[s.ID]; ok {
				out[i] = a
				continue
			}
			a := &model.Activity{Kind: model.ActivityStep, Name: fmt.Sprintf("Step %d: %s", i+1, s.Name), StepID: s.ID, State: model.ActivityPending}
			if err := q.CreateActivity(ctx, run.Lease, a); err != nil {
				return err
			}
			if s.HealthCheck != nil {
				if err := h.healthBaseline(ctx, q, run.Lease, x, s, a); err != nil {
					return err
				}
			}
			out[i] = a
		}
		return nil
	})
	return out, err
}

// openSensitive decrypts the snapshot's sensitive values in place and
// returns them, for masking.
func (h deployHandler) openSensitive(run *tasks.Run, vs []model.Variable) ([]string, error) {
	var secrets []string
	for i := range vs {
		if !vs[i].Sensitive {
			continue
		}
		plain, err := run.Store().Read().OpenSealed(vs[i].Value)
		if err != nil {
			return nil, fmt.Errorf("open sensitive variable %q: %w", vs[i].Name, err)
		}
		vs[i].Value = plain
		secrets = append(secrets, plain)
	}
	return secrets, nil
}

// systemVariables are the values every script of the deployment can use;
// the project's own are resolved per step and target (scopes differ).
func (h deployHandler) systemVariables(ctx context.Context, q *store.Queries, x deployment, task model.Task) *vars.Values {
	v := vars.NewValues()
	set := map[string]string{
		"Octopus.Deployment.CreatedBy.Username": x.d.CreatedBy,
		"Octopus.Project.Id":                    x.project.ID,
		"Octopus.Project.Name":                  x.project.Name,
		"Octopus.Environment.Id":                x.env.ID,
		"Octopus.Environment.Name":              x.env.Name,
		"Octopus.Release.Id":                    x.release.ID,
		"Octopus.Release.Number":                x.release.Version,
		"Octopus.Release.Notes":                 x.release.Notes,
		"Octopus.Deployment.Id":                 x.d.ID,
		"Octopus.Task.Id":                       task.ID,
		// As in Octopus, the links are paths from the server's address to
		// the portal's pages, for "#{Octopus.Web.ServerUri}#{Octopus.Web.DeploymentLink}";
		// a deployment is shown by its task's page.
		"Octopus.Web.DeploymentLink": "/tasks/" + url.PathEscape(task.ID),
		"Octopus.Web.ReleaseLink":    "/releases/" + url.PathEscape(x.release.ID),
		"Octopus.Web.ProjectLink":    "/projects/" + url.PathEscape(x.project.ID),
	}
	if u := strings.TrimSuffix(h.e.cfg.ServerURL, "/"); u != "" {
		set["Octopus.Web.ServerUri"], set["Octopus.Web.BaseUrl"] = u, u
	}
	if x.runbook != nil {
		set["Octopus.Runbook.Id"], set["Octopus.Runbook.Name"] = x.runbook.ID, x.runbook.Name
		set["Octopus.RunbookSnapshot.Name"] = x.release.Version
		set["Octopus.RunbookRun.Id"] = x.d.ID
	}
	if x.release.ChannelID != "" {
		if ch, err := q.GetChannel(ctx, x.release.ChannelID); err == nil {
			set["Octopus.Release.Channel.Id"], set["Octopus.Release.Channel.Name"] = ch.ID, ch.Name
		}
	}
	// The release before this one, and the last one to succeed here.
	if releases, _, err := q.ListReleases(ctx, store.ReleaseFilter{ProjectID: x.project.ID}); err == nil {
		for i, r := range releases {
			if r.ID == x.release.ID && i+1 < len(releases) {
				prev := releases[i+1]
				set["Octopus.Release.Previous.Id"], set["Octopus.Release.Previous.Number"] = prev.ID, prev.Version
			}
		}
	}
	if deps, _, err := q.ListDeployments(ctx, store.DeploymentFilter{ProjectID: x.project.ID, EnvironmentID: x.env.ID}); err == nil {
		for _, d := range deps {
			if d.ID != x.d.ID && d.State == model.TaskSuccess {
				if r, err := q.GetRelease(ctx, d.ReleaseID); err == nil {
					set["Octopus.Release.PreviousForEnvironment.Id"], set["Octopus.Release.PreviousForEnvironment.Number"] = r.ID, r.Version
				}
				break
			}
		}
	}
	for k, val := range set {
		v.Set(k, val)
		if rest, ok := strings.CutPrefix(k, "Octopus."); ok {
			v.Set("Pulpo."+rest, val) // the same, under Pulpo's name
		}
	}
	return v
}

func (h deployHandler) runStep(ctx context.Context, run *tasks.Run, x deployment, step model.Step, act *model.Activity, values *vars.Values) error {
	if act.State == model.ActivityPending {
		now := run.Store().Now().UTC()
		act.State, act.StartedAt = model.ActivityRunning, &now
		if err := run.Tx(ctx, func(q *store.Queries) error { return q.UpdateActivity(ctx, run.Lease, act) }); err != nil {
			return err
		}
	}
	places, err := h.placements(ctx, run, x, step, act)
	if err != nil {
		run.Logf(act.ID, model.LevelError, "%v", err)
		return err
	}
	if len(places) == 0 {
		run.Logf(act.ID, model.LevelInfo, "Skipped: none of the machines this deployment is for has the roles %s", strings.Join(step.TargetRoles, ", "))
		h.setState(run, act, model.ActivitySkipped)
		return nil
	}
	acts, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return err
	}
	values = values.Clone()
	h.addOutputs(run, x, acts, step.ID, values)
	if x.d.GuidedFailure {
		waiting, err := h.applyGuidance(ctx, run, places)
		switch {
		case err != nil:
			return err
		case waiting && ctx.Err() != nil:
			return context.Cause(ctx)
		case waiting:
			return tasks.Wait(fmt.Sprintf("step %q failed; waiting for someone to say what to do", step.Name))
		}
	}
	outcomes := h.runPlacements(ctx, run, x, step, places, values)
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), tasks.ErrCancelRequested) {
		return context.Cause(ctx) // shutdown or lease lost: whoever resumes finishes the step
	}
	var failed []string
	canceled, ran, unmet := false, 0, 0
	for i, o := range outcomes {
		if o.conditionFalse {
			unmet++
		}
		switch {
		case o.err != nil && errors.Is(o.err, tasks.ErrCancelRequested), o.code == contract.ExitCanceled && o.ran:
			canceled = true
		case o.err != nil:
			failed = append(failed, fmt.Sprintf("%s (%v)", places[i].name(), o.err))
		case !o.ran:
			// skipped, or never started after an earlier failure
		case o.code != 0 && o.message != "":
			// The script's own words, masked: the task's error, a guided
			// failure's question and Octopus.Deployment.Error carry them.
			failed = append(failed, fmt.Sprintf("%s (%s: %s)", places[i].name(), contract.DescribeExitCode(o.code), run.Masked(o.message)))
		case o.code != 0:
			failed = append(failed, fmt.Sprintf("%s (%s)", places[i].name(), contract.DescribeExitCode(o.code)))
		default:
			ran++
		}
	}
	if len(failed) > 0 && !canceled && x.d.GuidedFailure {
		open, err := h.askGuidance(ctx, run, x, step, places, outcomes)
		if err != nil {
			return err
		}
		if open {
			return tasks.Wait(fmt.Sprintf("step %q failed on %s; waiting for someone to say what to do", step.Name, strings.Join(failed, ", ")))
		}
	}
	now := run.Store().Now().UTC()
	act.EndedAt = &now
	switch {
	case canceled:
		act.State = model.ActivityCanceled
	case len(failed) > 0:
		act.State = model.ActivityFailed
	case unmet > 0 && unmet == len(places):
		act.State = model.ActivitySkipped
		run.Logf(act.ID, model.LevelInfo, "Skipped: its condition is not true on any target")
	default:
		act.State = model.ActivitySuccess
	}
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run.Tx(wctx, func(q *store.Queries) error { return q.UpdateActivity(wctx, run.Lease, act) }); err != nil {
		return err
	}
	switch {
	case canceled:
		return tasks.ErrCancelRequested
	case len(failed) > 0:
		return fmt.Errorf("step %q failed on %s", step.Name, strings.Join(failed, ", "))
	case ran == 0 && len(places) > 0 && act.State != model.ActivitySkipped:
		run.Logf(act.ID, model.LevelWarning, "Step %q ran on no target: every target was skipped", step.Name)
	}
	return nil
}

// bypassMutexVariable, set to True, lets a step's script run beside other
// deployment scripts on its target, as Octopus's variable of that name does.
const bypassMutexVariable = "OctopusBypassDeploymentMutex"

// errSkipped says a target was skipped, as its machine policy asks.
var errSkipped = errors.New("skipped")

// placement is one target of a step: its node in the log tree, how to reach
// it, and the machine behind it (nil for the built-in worker).
type placement struct {
	act     *model.Activity
	target  contract.Target
	machine *model.Machine
	policy  model.MachinePolicy
	// missing says why the target cannot be used at all.
	missing error
}

func (p placement) name() string { return p.act.Name }

// outcome is how a step ended on one target.
type outcome struct {
	ran  bool // the script ran to an exit code
	code int
	// message is what the script said about its failure (fail_step).
	message string
	err     error
	// conditionFalse: the step's variable condition is not true here.
	conditionFalse bool
}

// placements returns the step's targets. The first run chooses them and
// records one log node each; a resumed run uses exactly those again.
func (h deployHandler) placements(ctx context.Context, run *tasks.Run, x deployment, step model.Step, act *model.Activity) ([]placement, error) {
	acts, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return nil, err
	}
	var existing []*model.Activity
	for i := range acts {
		if acts[i].ParentID == act.ID && acts[i].Kind == model.ActivityTarget {
			existing = append(existing, &acts[i])
		}
	}
	if len(existing) == 0 {
		machines, err := h.chooseMachines(ctx, run.Store().Read(), x, step)
		if err != nil {
			return nil, err
		}
		excluded, err := h.leftOut(ctx, run.Store().Read(), x, run.Task.ID)
		if err != nil {
			return nil, err
		}
		machines = slices.DeleteFunc(machines, func(m *model.Machine) bool {
			if m != nil && excluded[m.ID] {
				run.Logf(act.ID, model.LevelInfo, "%s was excluded from this deployment earlier", m.Name)
				return true
			}
			return false
		})
		err = run.Tx(ctx, func(q *store.Queries) error {
			for _, m := range machines {
				a := &model.Activity{Kind: model.ActivityTarget, ParentID: act.ID, Name: h.e.cfg.Worker.Name(), State: model.ActivityPending}
				if m != nil {
					a.Name, a.MachineID = m.Name, m.ID
				}
				if err := q.CreateActivity(ctx, run.Lease, a); err != nil {
					return err
				}
				existing = append(existing, a)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]placement, len(existing))
	for i, a := range existing {
		out[i] = h.resolve(ctx, run.Store().Read(), a)
	}
	return out, nil
}

// chooseMachines picks where a step runs: every enabled target of the
// environment in its roles, or one worker of its pool. nil stands for the
// server's built-in worker.
func (h deployHandler) chooseMachines(ctx context.Context, q *store.Queries, x deployment, step model.Step) ([]*model.Machine, error) {
	if len(step.TargetRoles) > 0 {
		ms, _, err := q.ListMachines(ctx, store.MachineFilter{Usage: model.UsageTarget, EnvironmentID: x.env.ID, Roles: step.TargetRoles})
		if err != nil {
			return nil, err
		}
		var out []*model.Machine
		for i := range ms {
			if ms[i].Disabled || slices.Contains(x.d.ExcludedMachineIDs, ms[i].ID) ||
				(len(x.d.SpecificMachineIDs) > 0 && !slices.Contains(x.d.SpecificMachineIDs, ms[i].ID)) {
				continue
			}
			out = append(out, &ms[i])
		}
		if len(out) == 0 && (len(x.d.SpecificMachineIDs) > 0 || len(x.d.ExcludedMachineIDs) > 0) {
			return nil, nil // the machines this deployment is for are not in these roles
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("step %q runs on targets with the roles %s, but %s has no enabled deployment target with any of them",
				step.Name, strings.Join(step.TargetRoles, ", "), x.env.Name)
		}
		return out, nil
	}
	if step.RunOnServer {
		return []*model.Machine{nil}, nil
	}
	m, err := pickWorker(ctx, q, step.WorkerPoolID)
	if err != nil {
		return nil, fmt.Errorf("step %q %w", step.Name, err)
	}
	return []*model.Machine{m}, nil
}

// pickWorker chooses a worker of the pool (the default pool when poolID
// is empty) at random among the enabled, healthy ones. nil stands for the
// server's built-in worker, which serves a default pool without workers.
func pickWorker(ctx context.Context, q *store.Queries, poolID string) (*model.Machine, error) {
	var pool model.WorkerPool
	var err error
	if poolID != "" {
		pool, err = q.GetWorkerPool(ctx, poolID)
	} else {
		pool, err = q.DefaultWorkerPool(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("runs on a worker pool: %w", err)
	}
	ms, _, err := q.ListMachines(ctx, store.MachineFilter{Usage: model.UsageWorker, WorkerPoolID: pool.ID})
	if err != nil {
		return nil, err
	}
	var usable []*model.Machine
	for i := range ms {
		st := ms[i].Health.Status
		if !ms[i].Disabled && st != model.HealthUnavailable && st != model.HealthUnhealthy {
			usable = append(usable, &ms[i])
		}
	}
	switch {
	case len(usable) > 0:
		return usable[mrand.IntN(len(usable))], nil
	case pool.IsDefault && len(ms) == 0:
		return nil, nil
	}
	return nil, fmt.Errorf("runs on worker pool %q, which has no enabled, healthy worker", pool.Name)
}

// resolve finds how to reach a target node's machine now.
func (h deployHandler) resolve(ctx context.Context, q *store.Queries, a *model.Activity) placement {
	p := placement{act: a}
	if a.MachineID == "" {
		p.target = h.e.cfg.Worker
		return p
	}
	m, err := q.GetMachine(ctx, a.MachineID)
	if err != nil {
		p.missing = fmt.Errorf("machine %s is no longer registered", a.Name)
		return p
	}
	p.machine = &m
	if p.policy, err = q.GetMachinePolicy(ctx, m.PolicyID); err != nil {
		p.missing = err
		return p
	}
	if h.e.cfg.Targets == nil {
		p.missing = errors.New("this server cannot reach machines")
		return p
	}
	if p.target, err = h.e.cfg.Targets.Target(m); err != nil {
		p.missing = err
	}
	return p
}

// runPlacements runs the step on its targets, at most step.Concurrency() at
// once. A rolling step starts no new target after one has failed.
func (h deployHandler) runPlacements(ctx context.Context, run *tasks.Run, x deployment, step model.Step, places []placement, values *vars.Values) []outcome {
	out := make([]outcome, len(places))
	sem := make(chan struct{}, step.Concurrency())
	var wg sync.WaitGroup
	var mu sync.Mutex
	stopped := false
	for i := range places {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		mu.Lock()
		stop := stopped || ctx.Err() != nil
		mu.Unlock()
		if stop {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := h.runOnTarget(ctx, run, x, step, places[i], values)
			mu.Lock()
			out[i] = o
			if step.WindowSize > 0 && (o.err != nil || (o.ran && o.code != 0)) {
				stopped = true
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if stopped {
		for i := range places {
			if places[i].act.State == model.ActivityPending {
				run.Logf(places[i].act.ID, model.LevelWarning, "Not started: an earlier target of this rolling step failed")
				h.setState(run, places[i].act, model.ActivitySkipped)
			}
		}
	}
	return out
}

// runOnTarget runs the step on one target, unless it already finished
// there, trying a failed script again as often as the step allows.
func (h deployHandler) runOnTarget(ctx context.Context, run *tasks.Run, x deployment, step model.Step, p placement, values *vars.Values) outcome {
	for attempt := 1; ; attempt++ {
		fresh := p.act.State == model.ActivityPending
		o := h.runOnTargetOnce(ctx, run, x, step, p, values)
		failed := (o.ran && o.code != 0 && o.code != contract.ExitCanceled) || (o.err != nil && !errors.Is(o.err, errSkipped))
		if !fresh || !failed || attempt > step.Retries || ctx.Err() != nil {
			return o
		}
		delay := time.Duration(step.RetryDelaySeconds) * time.Second
		run.Logf(p.act.ID, model.LevelWarning, "Attempt %d of %d failed on %s; trying again in %s", attempt, step.Retries+1, p.name(), delay)
		select {
		case <-ctx.Done():
			return o
		case <-time.After(delay):
		}
		if err := h.resetTarget(ctx, run, p.act); err != nil {
			return outcome{err: err}
		}
	}
}

// runOnTargetOnce runs the step on one target once.
func (h deployHandler) runOnTargetOnce(ctx context.Context, run *tasks.Run, x deployment, step model.Step, p placement, values *vars.Values) outcome {
	a := p.act
	switch a.State {
	case model.ActivitySkipped:
		return outcome{}
	case model.ActivitySuccess, model.ActivityFailed, model.ActivityCanceled:
		if a.ExitCode != nil {
			return outcome{ran: true, code: *a.ExitCode}
		}
		return outcome{err: fmt.Errorf("it failed before the script ran")}
	}
	if p.missing != nil {
		run.Logf(a.ID, model.LevelError, "%v", p.missing)
		h.setState(run, a, model.ActivityFailed)
		return outcome{err: p.missing}
	}
	// A machine last found unavailable is asked first, so its policy
	// applies at once; any other goes straight to its script, and is asked
	// only if that start fails.
	if a.ScriptTicket == "" && p.machine != nil && p.machine.Health.Status == model.HealthUnavailable {
		if skip, err := h.probe(ctx, run, p); skip || err != nil {
			return outcome{err: err}
		}
	}
	scope := vars.Scope{EnvironmentID: x.env.ID, StepID: step.ID, TargetRoles: step.TargetRoles, ChannelID: x.release.ChannelID}
	if p.machine != nil {
		scope.MachineID, scope.MachineRoles = p.machine.ID, p.machine.Roles
	}
	stepValues := vars.Resolve(x.release.VariableSnapshot.Variables, scope)
	for _, name := range values.Names() {
		v, _ := values.Get(name)
		stepValues.Set(name, v) // system variables are not the project's to override
	}
	setTemplateParameters(step, stepValues)
	system := func(name, value string) { // under Octopus's name and Pulpo's
		stepValues.Set("Octopus."+name, value)
		stepValues.Set("Pulpo."+name, value)
	}
	system("Step.Name", step.Name)
	system("Action.Name", step.Name)
	system("Machine.Name", p.target.Name())
	if p.machine != nil {
		system("Machine.Id", p.machine.ID)
		system("Machine.Roles", strings.Join(p.machine.Roles, ","))
	}
	if len(step.TargetRoles) > 0 {
		system("Action.TargetRoles", strings.Join(step.TargetRoles, ","))
	}
	if a.ScriptTicket == "" {
		holds, err := conditionHolds(step, stepValues, run.Store().Now)
		if err != nil {
			run.Logf(a.ID, model.LevelError, "%v", err)
			h.setState(run, a, model.ActivityFailed)
			return outcome{err: err}
		}
		if !holds {
			run.Logf(a.ID, model.LevelInfo, "Skipped on %s: the step's condition is not true here", p.name())
			h.setState(run, a, model.ActivitySkipped)
			return outcome{conditionFalse: true}
		}
	}
	var sc scriptToRun
	var err error
	// The ticket is chosen before the script is prepared: paths in the
	// script's workspace (extracted packages) name it.
	ticket := a.ScriptTicket
	if ticket == "" {
		ticket = newTicket(run.Task.ID, a.ID)
	}
	prelude := ""
	if step.Script != nil {
		prelude, err = h.referencedPackages(ctx, run, x, step, p, stepValues, ticket)
	}
	if err == nil {
		switch {
		case step.Package != nil:
			sc, err = h.preparePackage(ctx, run, x, step, p, stepValues)
		case step.Script != nil && step.Script.FromPackage != nil:
			sc, err = h.prepareScriptPackage(ctx, run, x, step, p, stepValues)
		case step.Script != nil && step.Script.Syntax == model.SyntaxPython:
			// The prelude is shell: the Python bootstrap runs it with bash.
			sc, err = h.prepareScript(run, step, stepValues, prelude)
			sc.modules, prelude = pythonModules(x, step), ""
			for _, taken := range []string{"script", "bootstrap"} {
				if _, ok := sc.modules[taken]; ok && err == nil {
					// The script service writes script.py and bootstrap.py.
					err = fmt.Errorf("step %q: script module %q would be written as %s.py, the name of the script's own file; rename the module", step.Name, taken, taken)
				}
			}
		default:
			sc, err = h.prepareScript(run, step, stepValues, "")
			if mods := bashModules(x, step); mods != "" && err == nil {
				sc.body = mods + sc.body
			}
		}
	}
	sc.ticket, sc.body = ticket, prelude+sc.body
	if err != nil {
		run.Logf(a.ID, model.LevelError, "%v", err)
		h.setState(run, a, model.ActivityFailed)
		return outcome{err: err}
	}
	if v, ok := stepValues.Get(bypassMutexVariable); ok && strings.EqualFold(strings.TrimSpace(v), "true") {
		sc.concurrent = true
	}
	code, message, err := h.runScript(ctx, run, step, p, sc)
	if errors.Is(err, errSkipped) {
		return outcome{}
	}
	if err != nil {
		return outcome{err: err}
	}
	return outcome{ran: true, code: code, message: message}
}

// probe checks a machine answers before its script starts. An unreachable
// machine is skipped or fails the step, as its policy says; either way its
// health is recorded.
func (h deployHandler) probe(ctx context.Context, run *tasks.Run, p placement) (skipped bool, err error) {
	pctx, cancel := context.WithTimeout(ctx, h.e.cfg.ProbeTimeout)
	defer cancel()
	_, perr := p.target.Capabilities(pctx)
	if perr == nil || ctx.Err() != nil {
		return false, nil
	}
	now := run.Store().Now().UTC()
	reason := perr.Error()
	run.Store().Tx(ctx, func(q *store.Queries) error {
		_, err := q.SetMachineHealth(ctx, p.machine.ID, model.HealthUnavailable, reason, now)
		return err
	})
	if p.policy.WhenUnavailable == model.UnavailableSkip {
		run.Logf(p.act.ID, model.LevelWarning, "%s is unavailable (%s); skipped, as machine policy %q says", p.machine.Name, reason, p.policy.Name)
		h.setState(run, p.act, model.ActivitySkipped)
		return true, nil
	}
	run.Logf(p.act.ID, model.LevelError, "%s is unavailable: %s", p.machine.Name, reason)
	h.setState(run, p.act, model.ActivityFailed)
	return false, fmt.Errorf("unavailable: %s", reason)
}

// setState records a target node's final state, even after a cancel.
func (h deployHandler) setState(run *tasks.Run, a *model.Activity, state model.ActivityState) {
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := run.Store().Now().UTC()
	a.State = state
	if a.StartedAt == nil {
		a.StartedAt = &now
	}
	a.EndedAt = &now
	run.Tx(wctx, func(q *store.Queries) error { return q.UpdateActivity(wctx, run.Lease, a) })
}

// runScript runs the step's script on the target, or re-attaches to it, and
// streams its output into the task log. It returns the script's exit code.
// scriptToRun is a script ready for a target: rendered, with its bootstrap.
type scriptToRun struct {
	syntax    model.ScriptSyntax
	body      string
	bootstrap string
	// modules are Python script modules written beside a Python script.
	modules map[string]string
	// warnings are values the bootstrap gives as written because they
	// cannot be rendered; the target's log says so before the script runs.
	warnings []string
	// what says what runs, for the log.
	what string
	// concurrent lets it run beside other deployment scripts on the target
	// (OctopusBypassDeploymentMutex), instead of one at a time.
	concurrent bool
	// ticket is the ticket the script starts under, unless it started.
	ticket string
}

// prepareScript renders a script step's body: #{…} with Octopus's filters
// and blocks. A mistake in it fails this target before anything runs there.
// prelude is shell code a Python script's bootstrap runs first (a bash or
// sh script gets it in front of its body instead).
func (h deployHandler) prepareScript(run *tasks.Run, step model.Step, values *vars.Values, prelude string) (scriptToRun, error) {
	body, err := template.Evaluate(step.Script.Body, values, template.Options{Now: run.Store().Now})
	if err != nil {
		return scriptToRun{}, fmt.Errorf("the script of step %q: %w", step.Name, err)
	}
	var boot string
	var warnings []string
	if step.Script.Syntax == model.SyntaxPython {
		boot, warnings = pythonBootstrap(values, prelude)
	} else {
		boot, warnings = bootstrap(step.Script.Syntax, values)
	}
	return scriptToRun{syntax: step.Script.Syntax, body: body, bootstrap: boot, warnings: warnings,
		what: "a " + string(step.Script.Syntax) + " script"}, nil
}

func (h deployHandler) runScript(ctx context.Context, run *tasks.Run, step model.Step, p placement, sc scriptToRun) (code int, result string, err error) {
	target, name := p.act, p.target.Name()
	svc := p.target.Scripts()
	firstStart := target.ScriptTicket == ""
	if firstStart {
		// The ticket is stored before the script starts: whoever resumes
		// this task asks for the same ticket and cannot start it twice.
		now := run.Store().Now().UTC()
		target.ScriptTicket = sc.ticket
		if target.ScriptTicket == "" {
			target.ScriptTicket = newTicket(run.Task.ID, target.ID)
		}
		target.State, target.StartedAt = model.ActivityRunning, &now
		if err := run.Tx(ctx, func(q *store.Queries) error { return q.UpdateActivity(ctx, run.Lease, target) }); err != nil {
			return 0, "", err
		}
		for _, w := range sc.warnings {
			run.Log(target.ID, model.LevelWarning, w)
		}
		run.Logf(target.ID, model.LevelVerbose, "Running %s on %s", sc.what, name)
	} else {
		run.Logf(target.ID, model.LevelVerbose, "Re-attaching to the script already started on %s", name)
	}
	cmd := contract.StartScriptCommand{
		Ticket:    target.ScriptTicket,
		Syntax:    string(sc.syntax),
		Body:      sc.body,
		Bootstrap: sc.bootstrap,
		Modules:   sc.modules,
		TaskID:    run.Task.ID,
		Isolated:  !sc.concurrent,
		// A short script ends within the start call: one round trip.
		Wait: h.e.cfg.StatusWait,
	}
	status, err := svc.StartScript(ctx, cmd)
	if err != nil && firstStart && p.machine != nil && ctx.Err() == nil && !contract.IsAnswered(err) {
		// Not reached at the first try: is the machine there at all? If not,
		// its policy decides now, rather than after minutes of retries.
		skip, perr := h.probe(ctx, run, p)
		switch {
		case skip:
			return 0, "", errSkipped
		case perr != nil:
			return 0, "", perr
		}
	}
	if err != nil {
		status, err = h.retry(ctx, run, target.ID, name, func() (contract.ScriptStatus, error) { return svc.StartScript(ctx, cmd) })
	}
	switch {
	case err == nil:
	case errors.Is(context.Cause(ctx), tasks.ErrCancelRequested):
		// The start may have gone through: cancel it like a running script.
		status = contract.ScriptStatus{Ticket: cmd.Ticket, State: contract.ScriptRunning}
	default:
		err = h.interrupted(ctx, fmt.Errorf("start script on %s: %w", name, err))
		if ctx.Err() == nil {
			run.Logf(target.ID, model.LevelError, "%v", err)
			h.setState(run, target, model.ActivityFailed)
		}
		return 0, "", err
	}
	next := target.NextScriptLogSeq
	canceling := false
	var cancelDeadline time.Time
	for {
		var message string
		if next, message = h.record(run, p, status, next); message != "" {
			result = message
		}
		if status.State == contract.ScriptComplete {
			break
		}
		if ctx.Err() != nil {
			cause := context.Cause(ctx)
			if !errors.Is(cause, tasks.ErrCancelRequested) {
				return 0, "", cause // shutdown or lease lost: the script keeps running for whoever resumes
			}
			if !canceling {
				canceling = true
				cancelDeadline = time.Now().Add(h.e.cfg.TargetRetry)
				run.Log(target.ID, model.LevelWarning, "Canceling the script")
			}
			// Cancel is asked again until the script has stopped; the
			// task's own context is over, so these calls get their own.
			cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			status, err = svc.CancelScript(cctx, contract.StatusRequest{Ticket: cmd.Ticket, FromLogSeq: next, Wait: time.Second})
			cancel()
			if err != nil {
				if time.Now().After(cancelDeadline) {
					run.Logf(target.ID, model.LevelError, "Could not reach %s to stop the script: %v", name, err)
					h.setState(run, target, model.ActivityCanceled)
					return 0, "", tasks.ErrCancelRequested
				}
				time.Sleep(time.Second) // unreachable while canceling: ask again shortly
			}
		} else {
			status, err = h.retry(ctx, run, target.ID, name, func() (contract.ScriptStatus, error) {
				return svc.GetStatus(ctx, contract.StatusRequest{Ticket: cmd.Ticket, FromLogSeq: next, Wait: h.e.cfg.StatusWait})
			})
		}
		if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("follow script on %s: %w", name, err)
			run.Logf(target.ID, model.LevelError, "%v", err)
			h.setState(run, target, model.ActivityFailed)
			return 0, "", err
		}
	}
	code = status.ExitCode
	if canceling {
		code = contract.ExitCanceled // whatever it ended with, the task stops here
	}
	now := run.Store().Now().UTC()
	target.ExitCode, target.EndedAt = &code, &now
	switch {
	case code == 0:
		target.State = model.ActivitySuccess
	case code == contract.ExitCanceled:
		target.State = model.ActivityCanceled
	default:
		target.State = model.ActivityFailed
		run.Logf(target.ID, model.LevelError, "The script failed: %s", contract.DescribeExitCode(code))
	}
	// Recorded with a context of its own: a cancel must still be written down.
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run.Flush(wctx); err != nil {
		return 0, "", err
	}
	if err := run.Tx(wctx, func(q *store.Queries) error { return q.UpdateActivity(wctx, run.Lease, target) }); err != nil {
		return 0, "", err
	}
	// Cleaning the workspace up is nobody's wait: the result is recorded.
	go func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.CompleteScript(cctx, cmd.Ticket); err != nil {
			h.e.cfg.Logger.Debug("clean up a script workspace", "target", name, "ticket", cmd.Ticket, "error", err)
		}
	}()
	return code, result, nil
}

// record moves a status's output lines into the task log and returns the
// next sequence number to ask for, and the last result message the script
// gave (fail_step), if any. Service messages are not logged: they set the
// target's output variables, saved with the lines around them.
func (h deployHandler) record(run *tasks.Run, p placement, st contract.ScriptStatus, next int64) (int64, string) {
	target := p.act
	activityID := target.ID
	if len(st.Logs) == 0 {
		return max(next, st.NextLogSeq), ""
	}
	result := ""
	lines := make([]model.LogLine, 0, len(st.Logs))
	outputsChanged := false
	for _, l := range st.Logs {
		if l.Seq < next {
			continue // already in the task log
		}
		if l.Source == contract.Stdout {
			if msg, ok := parseServiceMessage(l.Text); ok {
				if out, ok := msg.outputVariable(); ok {
					h.setOutput(run, target, out)
					outputsChanged = true
					lines = append(lines, model.LogLine{Time: l.Time, Level: model.LevelVerbose,
						Text: fmt.Sprintf("Output variable %q set", out.Name)})
				} else if line, ok := h.serviceMessage(run, p, msg); ok {
					line.Time = l.Time
					lines = append(lines, line)
					if strings.EqualFold(msg.kind, "resultMessage") {
						result = line.Text
					}
				}
				continue
			}
		}
		level := h.e.outputLevel(run.Task.ID, activityID)
		switch l.Source {
		case contract.Stderr:
			level = model.LevelWarning
		case contract.Diagnostic:
			level = model.LevelVerbose
		}
		lines = append(lines, model.LogLine{Time: l.Time, Level: level, Text: l.Text})
	}
	if outputsChanged {
		run.SetOutputs(activityID, target.Outputs)
	}
	run.LogScriptOutput(activityID, lines, st.NextLogSeq)
	return st.NextLogSeq, result
}

// setOutput records an output variable on its target node: sealed when
// sensitive, and masked in the log from now on.
func (h deployHandler) setOutput(run *tasks.Run, target *model.Activity, out model.OutputVariable) {
	if out.Sensitive {
		if m, ok := run.Masker().(*vars.Masker); ok {
			m.Add(out.Value)
		}
		sealed, err := run.Store().Read().Seal(out.Value)
		if err != nil {
			run.Logf(target.ID, model.LevelError, "Output variable %q is sensitive but cannot be sealed, so it is dropped: %v", out.Name, err)
			return
		}
		out.Value = sealed
	}
	for i := range target.Outputs {
		if strings.EqualFold(target.Outputs[i].Name, out.Name) {
			target.Outputs[i] = out
			return
		}
	}
	target.Outputs = append(target.Outputs, out)
}

// addOutputs gives a step the output variables of the steps before it.
func (h deployHandler) addOutputs(run *tasks.Run, x deployment, acts []model.Activity, current string, values *vars.Values) {
	stepNames := map[string]string{}
	for _, s := range x.release.ProcessSnapshot.Steps {
		stepNames[s.ID] = s.Name
	}
	steps := map[int]string{}
	for _, a := range acts {
		if a.Kind == model.ActivityStep && a.StepID != current {
			steps[a.ID] = stepNames[a.StepID]
		}
	}
	for _, a := range acts {
		step, ok := steps[a.ParentID]
		if a.Kind != model.ActivityTarget || !ok {
			continue
		}
		for _, out := range a.Outputs {
			value := out.Value
			if out.Sensitive {
				plain, err := run.Store().Read().OpenSealed(value)
				if err != nil {
					continue
				}
				value = plain
				if m, ok := run.Masker().(*vars.Masker); ok {
					m.Add(value)
				}
			}
			for _, name := range outputVariableNames(step, a.Name, out.Name) {
				values.Set(name, value)
			}
		}
	}
}

// interrupted returns the context's cause when the run was stopped, else err.
func (h deployHandler) interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// retry repeats a call that failed because the target could not be
// reached, for up to TargetRetry: an agent restarting or a polling agent
// reconnecting is a pause, not a failure. A target's own answer is not
// retried. Safe because every script call is idempotent by its ticket.
func (h deployHandler) retry(ctx context.Context, run *tasks.Run, activityID int, name string, call func() (contract.ScriptStatus, error)) (contract.ScriptStatus, error) {
	deadline := time.Now().Add(h.e.cfg.TargetRetry)
	wait := 200 * time.Millisecond
	lost := false
	for {
		st, err := call()
		if err == nil {
			if lost {
				run.Logf(activityID, model.LevelInfo, "Contact with %s is back", name)
			}
			return st, nil
		}
		if ctx.Err() != nil || contract.IsAnswered(err) || time.Now().After(deadline) {
			return st, err
		}
		if !lost {
			lost = true
			run.Logf(activityID, model.LevelWarning, "Lost contact with %s (%v); retrying for up to %s", name, err, h.e.cfg.TargetRetry)
		}
		select {
		case <-ctx.Done():
			return st, err
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func newTicket(taskID string, activityID int) string {
	return fmt.Sprintf("%s-%d-%s", strings.ToLower(taskID), activityID, strings.ToLower(rand.Text()[:8]))
}

// Finished queues the automatic deployments a successful deployment opens.
func (h deployHandler) Finished(ctx context.Context, q *store.Queries, t model.Task, state model.TaskState) error {
	x, err := loadDeployment(ctx, q, t.DeploymentID)
	if err != nil {
		return err
	}
	if x.d.RunbookID != "" { // a runbook run: no lifecycle to move on
		if t.ParentTaskID != "" {
			return q.WakeTask(ctx, t.ParentTaskID)
		}
		return nil
	}
	kind := map[model.TaskState]model.EventKind{model.TaskSuccess: model.EventDeploymentSucceeded,
		model.TaskFailed: model.EventDeploymentFailed, model.TaskCanceled: model.EventDeploymentCanceled}[state]
	ev := h.e.deploymentEvent(kind, x, state)
	if t.Error != "" || state == model.TaskFailed {
		ev.Payload["error"] = t.Error
	}
	if err := q.EnqueueEvent(ctx, ev); err != nil {
		return err
	}
	// The release board's subscribers get the project's rows as they are now.
	if err := q.EnqueueBoardUpdate(ctx, x.project.ID, x.env.ID); err != nil {
		return err
	}
	if t.ParentTaskID != "" {
		// The parent deployment waits for this one: it goes on now.
		if err := q.WakeTask(ctx, t.ParentTaskID); err != nil {
			return err
		}
	}
	if state != model.TaskSuccess {
		return nil
	}
	_, err = queueAutomatic(ctx, q, x.release)
	return err
}

package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
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
	return x, nil
}

// Execute runs the release's steps in order on the built-in worker. Every
// step and target records its progress as it goes; run again after an
// interruption, it skips finished steps and re-attaches to a running script
// instead of starting it twice.
func (h deployHandler) Execute(ctx context.Context, run *tasks.Run) error {
	err := h.execute(ctx, run)
	if errors.Is(err, tasks.ErrCancelRequested) || errors.Is(context.Cause(ctx), tasks.ErrCancelRequested) {
		h.closeActivities(run, model.ActivityCanceled)
	} else if err != nil && ctx.Err() == nil {
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
	steps := x.release.ProcessSnapshot.EnabledSteps()
	acts, err := h.stepActivities(ctx, run, steps)
	if err != nil {
		return err
	}
	resumed := false
	for _, a := range acts {
		resumed = resumed || a.State != model.ActivityPending
	}
	if resumed {
		run.Logf(0, model.LevelHighlight, "Resuming the deployment of %s release %s to %s", x.project.Name, x.release.Version, x.env.Name)
	} else {
		run.Logf(0, model.LevelHighlight, "Deploying %s release %s to %s", x.project.Name, x.release.Version, x.env.Name)
	}
	values := h.variables(x, run.Task)
	for i, step := range steps {
		act := acts[i]
		if act.State == model.ActivitySuccess || act.State == model.ActivitySkipped {
			continue
		}
		if err := h.runStep(ctx, run, x, step, act, values); err != nil {
			return err
		}
	}
	run.Logf(0, model.LevelHighlight, "Deployed %s release %s to %s", x.project.Name, x.release.Version, x.env.Name)
	return nil
}

// stepActivities returns one log-tree node per step, creating the missing
// ones as Pending so the whole plan shows from the start.
func (h deployHandler) stepActivities(ctx context.Context, run *tasks.Run, steps []model.Step) ([]*model.Activity, error) {
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
			out[i] = a
		}
		return nil
	})
	return out, err
}

// variables resolves the release's variables for the environment and adds
// the system variables every script can use.
func (h deployHandler) variables(x deployment, task model.Task) *vars.Values {
	v := vars.Resolve(x.release.VariableSnapshot.Variables, vars.Scope{EnvironmentID: x.env.ID})
	set := map[string]string{
		"Octopus.Project.Id":       x.project.ID,
		"Octopus.Project.Name":     x.project.Name,
		"Octopus.Environment.Id":   x.env.ID,
		"Octopus.Environment.Name": x.env.Name,
		"Octopus.Release.Id":       x.release.ID,
		"Octopus.Release.Number":   x.release.Version,
		"Octopus.Release.Notes":    x.release.Notes,
		"Octopus.Deployment.Id":    x.d.ID,
		"Octopus.Task.Id":          task.ID,
		"Octopus.Machine.Name":     h.e.cfg.Worker.Name(),
	}
	if u := strings.TrimSuffix(h.e.cfg.ServerURL, "/"); u != "" {
		set["Octopus.Web.ServerUri"] = u
		set["Octopus.Web.DeploymentLink"] = u + "/api/v1/deployments/" + x.d.ID
	}
	for k, val := range set {
		v.Set(k, val)
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
	target, err := h.targetActivity(ctx, run, act)
	if err != nil {
		return err
	}
	stepValues := values.Clone()
	stepValues.Set("Octopus.Step.Name", step.Name)
	stepValues.Set("Octopus.Action.Name", step.Name)
	result, err := h.runScript(ctx, run, step, target, stepValues)
	if err != nil {
		return err
	}
	now := run.Store().Now().UTC()
	act.EndedAt = &now
	act.State = target.State
	if err := run.Tx(ctx, func(q *store.Queries) error { return q.UpdateActivity(ctx, run.Lease, act) }); err != nil {
		return err
	}
	switch {
	case result == contract.ExitCanceled:
		return tasks.ErrCancelRequested
	case result != 0:
		return fmt.Errorf("step %q failed on %s: %s", step.Name, h.e.cfg.Worker.Name(), contract.DescribeExitCode(result))
	}
	return nil
}

// targetActivity returns the step's node for the built-in worker.
func (h deployHandler) targetActivity(ctx context.Context, run *tasks.Run, step *model.Activity) (*model.Activity, error) {
	acts, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return nil, err
	}
	for i := range acts {
		if acts[i].ParentID == step.ID && acts[i].Kind == model.ActivityTarget {
			return &acts[i], nil
		}
	}
	a := &model.Activity{Kind: model.ActivityTarget, ParentID: step.ID, Name: h.e.cfg.Worker.Name(), State: model.ActivityPending}
	err = run.Tx(ctx, func(q *store.Queries) error { return q.CreateActivity(ctx, run.Lease, a) })
	return a, err
}

// runScript runs the step's script on the worker, or re-attaches to it, and
// streams its output into the task log. It returns the script's exit code.
func (h deployHandler) runScript(ctx context.Context, run *tasks.Run, step model.Step, target *model.Activity, values *vars.Values) (int, error) {
	svc := h.e.cfg.Worker.Scripts()
	if target.State.Finished() && target.ExitCode != nil {
		return *target.ExitCode, nil // finished before an interruption; never run it again
	}
	if target.ScriptTicket == "" {
		// The ticket is stored before the script starts: whoever resumes
		// this task asks for the same ticket and cannot start it twice.
		now := run.Store().Now().UTC()
		target.ScriptTicket = newTicket(run.Task.ID, target.ID)
		target.State, target.StartedAt = model.ActivityRunning, &now
		if err := run.Tx(ctx, func(q *store.Queries) error { return q.UpdateActivity(ctx, run.Lease, target) }); err != nil {
			return 0, err
		}
		run.Logf(target.ID, model.LevelVerbose, "Running a %s script on %s", step.Script.Syntax, h.e.cfg.Worker.Name())
	} else {
		run.Logf(target.ID, model.LevelVerbose, "Re-attaching to the script already started on %s", h.e.cfg.Worker.Name())
	}
	cmd := contract.StartScriptCommand{
		Ticket: target.ScriptTicket,
		Syntax: string(step.Script.Syntax),
		Body:   vars.Evaluate(step.Script.Body, values),
		TaskID: run.Task.ID,
	}
	status, err := retry(ctx, func() (contract.ScriptStatus, error) { return svc.StartScript(ctx, cmd) })
	switch {
	case err == nil:
	case errors.Is(context.Cause(ctx), tasks.ErrCancelRequested):
		// The start may have gone through: cancel it like a running script.
		status = contract.ScriptStatus{Ticket: cmd.Ticket, State: contract.ScriptRunning}
	default:
		return 0, h.interrupted(ctx, fmt.Errorf("start script on %s: %w", h.e.cfg.Worker.Name(), err))
	}
	next := target.NextScriptLogSeq
	canceling := false
	for {
		next = h.record(run, target.ID, status, next)
		if status.State == contract.ScriptComplete {
			break
		}
		if ctx.Err() != nil {
			cause := context.Cause(ctx)
			if !errors.Is(cause, tasks.ErrCancelRequested) {
				return 0, cause // shutdown or lease lost: the script keeps running for whoever resumes
			}
			if !canceling {
				canceling = true
				run.Log(target.ID, model.LevelWarning, "Canceling the script")
			}
			// Cancel is asked again until the script has stopped; the
			// task's own context is over, so these calls get their own.
			cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			status, err = svc.CancelScript(cctx, contract.StatusRequest{Ticket: cmd.Ticket, FromLogSeq: next, Wait: time.Second})
			cancel()
		} else {
			status, err = retry(ctx, func() (contract.ScriptStatus, error) {
				return svc.GetStatus(ctx, contract.StatusRequest{Ticket: cmd.Ticket, FromLogSeq: next, Wait: h.e.cfg.StatusWait})
			})
		}
		if err != nil && ctx.Err() == nil {
			return 0, fmt.Errorf("follow script on %s: %w", h.e.cfg.Worker.Name(), err)
		}
	}
	code := status.ExitCode
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
		return 0, err
	}
	if err := run.Tx(wctx, func(q *store.Queries) error { return q.UpdateActivity(wctx, run.Lease, target) }); err != nil {
		return 0, err
	}
	if err := svc.CompleteScript(wctx, cmd.Ticket); err != nil {
		run.Logf(target.ID, model.LevelVerbose, "Could not clean up the script's workspace: %v", err)
	}
	return code, nil
}

// record moves a status's output lines into the task log and returns the
// next sequence number to ask for.
func (h deployHandler) record(run *tasks.Run, activityID int, st contract.ScriptStatus, next int64) int64 {
	if len(st.Logs) == 0 {
		return max(next, st.NextLogSeq)
	}
	lines := make([]model.LogLine, 0, len(st.Logs))
	for _, l := range st.Logs {
		if l.Seq < next {
			continue // already in the task log
		}
		level := model.LevelInfo
		switch l.Source {
		case contract.Stderr:
			level = model.LevelWarning
		case contract.Diagnostic:
			level = model.LevelVerbose
		}
		lines = append(lines, model.LogLine{Time: l.Time, Level: level, Text: l.Text})
	}
	run.LogScriptOutput(activityID, lines, st.NextLogSeq)
	return st.NextLogSeq
}

// interrupted returns the context's cause when the run was stopped, else err.
func (h deployHandler) interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// retry repeats a call that failed for a passing reason, a few times with a
// growing pause. Safe here because every script call is idempotent by ticket.
func retry(ctx context.Context, call func() (contract.ScriptStatus, error)) (contract.ScriptStatus, error) {
	var st contract.ScriptStatus
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if st, err = call(); err == nil || ctx.Err() != nil {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, err
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
	return st, err
}

func newTicket(taskID string, activityID int) string {
	return fmt.Sprintf("%s-%d-%s", strings.ToLower(taskID), activityID, strings.ToLower(rand.Text()[:8]))
}

// Finished queues the automatic deployments a successful deployment opens.
func (h deployHandler) Finished(ctx context.Context, q *store.Queries, t model.Task, state model.TaskState) error {
	if state != model.TaskSuccess {
		return nil
	}
	d, err := q.GetDeployment(ctx, t.DeploymentID)
	if err != nil {
		return err
	}
	rel, err := q.GetRelease(ctx, d.ReleaseID)
	if err != nil {
		return err
	}
	_, err = queueAutomatic(ctx, q, rel)
	return err
}

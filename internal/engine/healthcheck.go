package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
)

// HealthChecker checks a machine's health now, for a health check step, and
// records what it found. The server gives the engine its health checker.
type HealthChecker interface {
	CheckHealth(ctx context.Context, m model.Machine, connectionOnly bool) (model.Health, error)
}

// A health check step's target nodes are created with the step's node, when
// the deployment starts: they are the targets the deployment started with.
// When the step runs, targets of its roles that have no node are the ones
// added (or enabled) since; the step checks them or leaves them out, as
// includeNewTargets says. A target node the step ends as Skipped is a target
// left out of the rest of the deployment (leftOut). Other steps choose their
// targets when they start, so without a health check step a target added
// during a deployment is deployed to by the steps that start after it.

// roleTargets lists the enabled deployment targets of the step's roles in
// the deployment's environment, narrowed as the deployment asks.
func roleTargets(ctx context.Context, q *store.Queries, x deployment, step model.Step) ([]model.Machine, error) {
	ms, _, err := q.ListMachines(ctx, store.MachineFilter{Usage: model.UsageTarget, EnvironmentID: x.env.ID, Roles: step.TargetRoles})
	if err != nil {
		return nil, fmt.Errorf("list the targets of %s: %w", strings.Join(step.TargetRoles, ", "), err)
	}
	return slices.DeleteFunc(ms, func(m model.Machine) bool { return !inDeployment(x, m) }), nil
}

// inDeployment reports whether an enabled machine is one the deployment may use.
func inDeployment(x deployment, m model.Machine) bool {
	return !m.Disabled && !slices.Contains(x.d.ExcludedMachineIDs, m.ID) &&
		(len(x.d.SpecificMachineIDs) == 0 || slices.Contains(x.d.SpecificMachineIDs, m.ID))
}

// healthBaseline records, under a health check step's new node, the
// targets its roles have as the deployment starts.
func (h deployHandler) healthBaseline(ctx context.Context, q *store.Queries, lease store.Lease, x deployment, step model.Step, act *model.Activity) error {
	ms, err := roleTargets(ctx, q, x, step)
	if err != nil {
		return err
	}
	for _, m := range ms {
		a := &model.Activity{Kind: model.ActivityTarget, ParentID: act.ID, Name: m.Name, MachineID: m.ID, State: model.ActivityPending}
		if err := q.CreateActivity(ctx, lease, a); err != nil {
			return fmt.Errorf("record the targets of step %q: %w", step.Name, err)
		}
	}
	return nil
}

// leftOut lists the machines the rest of the deployment does not use: those
// guided failure excluded and those a health check step left out.
func (h deployHandler) leftOut(ctx context.Context, q *store.Queries, x deployment, taskID string) (map[string]bool, error) {
	out, err := excludedMachines(ctx, q, taskID)
	if err != nil {
		return nil, err
	}
	checks := map[string]bool{}
	for _, s := range x.release.ProcessSnapshot.Steps {
		if s.HealthCheck != nil {
			checks[s.ID] = true
		}
	}
	if len(checks) == 0 {
		return out, nil
	}
	acts, err := q.ListActivities(ctx, taskID)
	if err != nil {
		return nil, err
	}
	checkNodes := map[int]bool{}
	for _, a := range acts {
		// A skipped health check step left nothing out.
		if a.Kind == model.ActivityStep && checks[a.StepID] && a.State != model.ActivitySkipped {
			checkNodes[a.ID] = true
		}
	}
	for _, a := range acts {
		if a.Kind == model.ActivityTarget && checkNodes[a.ParentID] && a.State == model.ActivitySkipped && a.MachineID != "" {
			out[a.MachineID] = true
		}
	}
	return out, nil
}

// skipTargets ends the pending target nodes of a step that does not run
// (a health check step's, made when the deployment started) as Skipped.
func (h deployHandler) skipTargets(ctx context.Context, run *tasks.Run, act *model.Activity) {
	acts, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return
	}
	for i := range acts {
		if acts[i].ParentID == act.ID && acts[i].Kind == model.ActivityTarget && acts[i].State == model.ActivityPending {
			h.setState(run, &acts[i], model.ActivitySkipped)
		}
	}
}

// healthCheck runs a health check step: the server checks each target of
// the step's roles and fails the step on, or leaves out, the unhealthy ones.
func (h deployHandler) healthCheck(ctx context.Context, run *tasks.Run, x deployment, step model.Step, act *model.Activity) error {
	hc := step.HealthCheck
	if act.State == model.ActivityPending {
		now := run.Store().Now().UTC()
		act.State, act.StartedAt = model.ActivityRunning, &now
		if err := run.Tx(ctx, func(q *store.Queries) error { return q.UpdateActivity(ctx, run.Lease, act) }); err != nil {
			return err
		}
	}
	finish := func(state model.ActivityState, err error) error {
		if err != nil && state == model.ActivityFailed {
			run.Logf(act.ID, model.LevelError, "%v", err)
		}
		h.setState(run, act, state)
		return err
	}
	if h.e.cfg.Health == nil {
		return finish(model.ActivityFailed, fmt.Errorf("step %q checks machines' health, which this server cannot do", step.Name))
	}
	q := run.Store().Read()
	acts, err := q.ListActivities(ctx, run.Task.ID)
	if err != nil {
		return err
	}
	var nodes []*model.Activity
	known := map[string]bool{}
	for i := range acts {
		if acts[i].ParentID == act.ID && acts[i].Kind == model.ActivityTarget {
			nodes = append(nodes, &acts[i])
			known[acts[i].MachineID] = true
		}
	}
	left, err := h.leftOut(ctx, q, x, run.Task.ID)
	if err != nil {
		return err
	}
	current, err := roleTargets(ctx, q, x, step)
	if err != nil {
		return err
	}
	// Targets added since the deployment started get a node now; without
	// includeNewTargets it is Skipped at once, which leaves them out.
	var added []*model.Activity
	err = run.Tx(ctx, func(q *store.Queries) error {
		now := run.Store().Now().UTC()
		for _, m := range current {
			if known[m.ID] || left[m.ID] {
				continue
			}
			a := &model.Activity{Kind: model.ActivityTarget, ParentID: act.ID, Name: m.Name, MachineID: m.ID, State: model.ActivityPending}
			if !hc.IncludeNewTargets {
				a.State, a.StartedAt, a.EndedAt = model.ActivitySkipped, &now, &now
			}
			if err := q.CreateActivity(ctx, run.Lease, a); err != nil {
				return err
			}
			added = append(added, a)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the targets added during the deployment: %w", err)
	}
	for _, a := range added {
		if hc.IncludeNewTargets {
			run.Logf(a.ID, model.LevelInfo, "%s joined %s after the deployment started; it is checked and, if healthy, included", a.Name, x.env.Name)
		} else {
			run.Logf(a.ID, model.LevelInfo, "%s joined %s after the deployment started; it is left out of this deployment (the step does not include new targets)", a.Name, x.env.Name)
		}
	}
	nodes = append(nodes, added...)
	if len(nodes) == 0 {
		msg := fmt.Sprintf("%s has no enabled deployment target with the roles %s", x.env.Name, strings.Join(step.TargetRoles, ", "))
		if hc.SkipsUnhealthy() || len(x.d.SpecificMachineIDs) > 0 || len(x.d.ExcludedMachineIDs) > 0 {
			run.Logf(act.ID, model.LevelWarning, "Nothing to check: %s", msg)
			return finish(model.ActivitySuccess, nil)
		}
		return finish(model.ActivityFailed, fmt.Errorf("step %q found nothing to check: %s", step.Name, msg))
	}

	bad := make([]string, len(nodes))
	sem := make(chan struct{}, step.Concurrency())
	var wg sync.WaitGroup
	for i, a := range nodes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			bad[i] = h.checkTarget(ctx, run, x, step, a, left)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx) // whoever resumes checks what is left
	}
	var failed []string
	for _, b := range bad {
		if b != "" {
			failed = append(failed, b)
		}
	}
	switch {
	case len(failed) == 0:
		return finish(model.ActivitySuccess, nil)
	case hc.SkipsUnhealthy():
		run.Logf(act.ID, model.LevelWarning, "Left out of the rest of this deployment: %s", strings.Join(failed, ", "))
		return finish(model.ActivitySuccess, nil)
	}
	return finish(model.ActivityFailed, fmt.Errorf("step %q failed the health check of %s", step.Name, strings.Join(failed, ", ")))
}

// checkTarget checks one target node's machine, unless that is done, and
// returns "" or why it is not healthy ("web-2 (Unavailable: …)").
func (h deployHandler) checkTarget(ctx context.Context, run *tasks.Run, x deployment, step model.Step, a *model.Activity, left map[string]bool) string {
	hc := step.HealthCheck
	switch a.State {
	case model.ActivitySuccess, model.ActivitySkipped:
		return "" // checked (or left out) before a restart
	case model.ActivityFailed, model.ActivityCanceled:
		return fmt.Sprintf("%s (failed its check)", a.Name)
	}
	m, err := run.Store().Read().GetMachine(ctx, a.MachineID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return h.unhealthy(run, step, a, model.HealthUnavailable, "it is no longer registered")
	case err != nil:
		return h.unhealthy(run, step, a, model.HealthUnknown, err.Error())
	case left[m.ID]:
		run.Logf(a.ID, model.LevelInfo, "%s was excluded from this deployment earlier; not checked", m.Name)
		h.setState(run, a, model.ActivitySkipped)
		return ""
	case !inDeployment(x, m) || !m.HasRole(step.TargetRoles) || !m.InEnvironment(x.env.ID):
		run.Logf(a.ID, model.LevelInfo, "%s is no longer an enabled target of %s in %s; not checked", m.Name, strings.Join(step.TargetRoles, ", "), x.env.Name)
		h.setState(run, a, model.ActivitySkipped)
		return ""
	}
	now := run.Store().Now().UTC()
	a.State, a.StartedAt = model.ActivityRunning, &now
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	run.Tx(wctx, func(q *store.Queries) error { return q.UpdateActivity(wctx, run.Lease, a) })
	cancel()
	health, err := h.e.cfg.Health.CheckHealth(ctx, m, hc.ConnectionOnly())
	if ctx.Err() != nil {
		return ""
	}
	if err != nil {
		return h.unhealthy(run, step, a, model.HealthUnknown, fmt.Sprintf("the check failed: %v", err))
	}
	what := "Health check"
	if hc.ConnectionOnly() {
		what = "Connection test"
	}
	switch health.Status {
	case model.HealthHealthy:
		run.Logf(a.ID, model.LevelInfo, "%s of %s: Healthy (%s)", what, m.Name, health.Reason)
	case model.HealthWarning:
		run.Logf(a.ID, model.LevelWarning, "%s of %s: Warning (%s)", what, m.Name, health.Reason)
	default:
		return h.unhealthy(run, step, a, health.Status, health.Reason)
	}
	h.setState(run, a, model.ActivitySuccess)
	return ""
}

// unhealthy logs a target found unhealthy and ends its node: Failed, or
// Skipped (left out of the rest of the deployment) when the step says skip.
func (h deployHandler) unhealthy(run *tasks.Run, step model.Step, a *model.Activity, status model.HealthStatus, reason string) string {
	what := "Health check"
	if step.HealthCheck.ConnectionOnly() {
		what = "Connection test"
	}
	if step.HealthCheck.SkipsUnhealthy() {
		run.Logf(a.ID, model.LevelWarning, "%s of %s: %s (%s); it is left out of the rest of this deployment", what, a.Name, status, reason)
		h.setState(run, a, model.ActivitySkipped)
	} else {
		run.Logf(a.ID, model.LevelError, "%s of %s: %s (%s)", what, a.Name, status, reason)
		h.setState(run, a, model.ActivityFailed)
	}
	return fmt.Sprintf("%s (%s: %s)", a.Name, status, reason)
}

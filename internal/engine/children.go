package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/template"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// canceler is what the task runner offers to stop a running task at once.
type canceler interface{ Cancel(taskID string) }

// deployRelease deploys the child release chosen for the step to this
// environment, unless its mode says the environment has it already, and
// waits, holding no slot, until the child deployment ends. The child's
// output variables become the step's: Deployment[ChildStep].Name.
// Canceling the parent cancels the child.
func (h deployHandler) deployRelease(ctx context.Context, run *tasks.Run, x deployment, step model.Step, act *model.Activity, values *vars.Values) error {
	var chosen *model.ReleaseChild
	for i := range x.release.Children {
		if x.release.Children[i].StepID == step.ID {
			chosen = &x.release.Children[i]
		}
	}
	if chosen == nil {
		err := fmt.Errorf("release %s chose no release of project %s for step %q", x.release.Version, step.DeployRelease.ProjectID, step.Name)
		run.Logf(act.ID, model.LevelError, "%v", err)
		h.setState(run, act, model.ActivityFailed)
		return err
	}
	q := run.Store().Read()
	child, err := q.GetProject(ctx, chosen.ProjectID)
	if err != nil {
		return err
	}
	node, err := h.childActivity(ctx, run, act, child.Name)
	if err != nil {
		return err
	}
	if node.ScriptTicket == "" { // not started yet
		if reason, err := h.alreadyThere(ctx, q, x, step, *chosen); err != nil {
			return err
		} else if reason != "" {
			run.Logf(node.ID, model.LevelInfo, "Skipped: %s", reason)
			h.setState(run, node, model.ActivitySkipped)
			h.setState(run, act, model.ActivitySuccess)
			return nil
		}
		passed, err := h.passDown(ctx, run, x, step, values)
		if err != nil {
			run.Logf(node.ID, model.LevelError, "%v", err)
			h.setState(run, node, model.ActivityFailed)
			h.setState(run, act, model.ActivityFailed)
			return err
		}
		var d model.Deployment
		err = run.Tx(ctx, func(q *store.Queries) error {
			d, err = h.e.deployTx(ctx, q, DeployRequest{ReleaseID: chosen.ReleaseID, EnvironmentID: x.env.ID,
				CreatedBy:     fmt.Sprintf("%s release %s (%s)", x.project.Name, x.release.Version, x.d.ID),
				GuidedFailure: &x.d.GuidedFailure, ParentTaskID: run.Task.ID, ParentVariables: passed})
			if err != nil {
				return err
			}
			// Recorded with the child's creation: a resumed parent finds
			// its child instead of deploying it again.
			node.ScriptTicket = d.ID
			return q.UpdateActivity(ctx, run.Lease, node)
		})
		if err != nil {
			err = fmt.Errorf("deploy %s release %s to %s: %w", child.Name, chosen.Version, x.env.Name, err)
			run.Logf(node.ID, model.LevelError, "%v", err)
			h.setState(run, node, model.ActivityFailed)
			h.setState(run, act, model.ActivityFailed)
			return err
		}
		h.e.cfg.Queue.Notify()
		run.Logf(node.ID, model.LevelHighlight, "Deploying %s release %s to %s: deployment %s, task %s", child.Name, chosen.Version, x.env.Name, d.ID, d.TaskID)
	}
	d, err := q.GetDeployment(ctx, node.ScriptTicket)
	if err != nil {
		return err
	}
	task, err := q.GetTask(ctx, d.TaskID)
	if err != nil {
		return err
	}
	if !task.State.Finished() {
		if ctx.Err() != nil {
			h.cancelChild(run, task)
			return context.Cause(ctx)
		}
		return tasks.Wait(fmt.Sprintf("step %q waits for the deployment of %s release %s (task %s)", step.Name, child.Name, chosen.Version, task.ID))
	}
	h.childOutputs(ctx, run, node, task)
	switch task.State {
	case model.TaskSuccess:
		run.Logf(node.ID, model.LevelHighlight, "%s release %s was deployed to %s (task %s)", child.Name, chosen.Version, x.env.Name, task.ID)
		h.setState(run, node, model.ActivitySuccess)
		h.setState(run, act, model.ActivitySuccess)
		return nil
	case model.TaskCanceled:
		h.setState(run, node, model.ActivityCanceled)
		h.setState(run, act, model.ActivityCanceled)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("step %q: the deployment of %s release %s was canceled (task %s)", step.Name, child.Name, chosen.Version, task.ID)
	}
	run.Logf(node.ID, model.LevelError, "The deployment of %s release %s failed (task %s): %s", child.Name, chosen.Version, task.ID, task.Error)
	h.setState(run, node, model.ActivityFailed)
	h.setState(run, act, model.ActivityFailed)
	return fmt.Errorf("step %q: the deployment of %s release %s failed (task %s): %s", step.Name, child.Name, chosen.Version, task.ID, task.Error)
}

// alreadyThere says why the step's mode leaves the child as it is in this
// environment, or "".
func (h deployHandler) alreadyThere(ctx context.Context, q *store.Queries, x deployment, step model.Step, chosen model.ReleaseChild) (string, error) {
	mode := step.DeployRelease.Mode
	if mode == "" || mode == model.DeployAlways {
		return "", nil
	}
	deps, _, err := q.ListDeployments(ctx, store.DeploymentFilter{ProjectID: chosen.ProjectID, EnvironmentID: x.env.ID})
	if err != nil {
		return "", err
	}
	var current *model.Release
	for _, d := range deps { // newest first
		if d.State == model.TaskSuccess {
			r, err := q.GetRelease(ctx, d.ReleaseID)
			if err != nil {
				return "", err
			}
			current = &r
			break
		}
	}
	if current == nil {
		return "", nil
	}
	switch mode {
	case model.DeployIfDifferent:
		if current.ID == chosen.ReleaseID {
			return fmt.Sprintf("release %s is already deployed to %s", chosen.Version, x.env.Name), nil
		}
	case model.DeployIfNewer:
		cur, ok1 := model.ParseVersion(current.Version)
		want, ok2 := model.ParseVersion(chosen.Version)
		if ok1 && ok2 && want.Compare(cur) <= 0 {
			return fmt.Sprintf("%s has release %s, which is not older than %s", x.env.Name, current.Version, chosen.Version), nil
		}
	}
	return "", nil
}

// passDown renders the values the step gives its child with the parent's
// variables; a value holding a secret stays secret.
func (h deployHandler) passDown(ctx context.Context, run *tasks.Run, x deployment, step model.Step, values *vars.Values) ([]model.ParentVariable, error) {
	if len(step.DeployRelease.Variables) == 0 {
		return nil, nil
	}
	stepValues := vars.Resolve(x.release.VariableSnapshot.Variables, vars.Scope{EnvironmentID: x.env.ID, StepID: step.ID, ChannelID: x.release.ChannelID})
	for _, name := range values.Names() {
		v, _ := values.Get(name)
		stepValues.Set(name, v)
	}
	acts, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return nil, err
	}
	h.addOutputs(run, x, acts, step.ID, stepValues)
	var out []model.ParentVariable
	for name, tmpl := range step.DeployRelease.Variables {
		v, err := template.Evaluate(tmpl, stepValues, template.Options{Now: run.Store().Now})
		if err != nil {
			return nil, fmt.Errorf("the value of %s for the child: %w", name, err)
		}
		out = append(out, model.ParentVariable{Name: name, Value: v, Sensitive: run.Masked(v) != v})
	}
	return out, nil
}

// childOutputs gives the step the output variables the child's steps set.
func (h deployHandler) childOutputs(ctx context.Context, run *tasks.Run, node *model.Activity, task model.Task) {
	acts, err := run.Store().Read().ListActivities(ctx, task.ID)
	if err != nil {
		return
	}
	stepNames := map[int]string{}
	for _, a := range acts {
		if a.Kind == model.ActivityStep {
			stepNames[a.ID] = strings.TrimSpace(a.Name[strings.Index(a.Name, ":")+1:])
		}
	}
	changed := false
	for _, a := range acts {
		step, ok := stepNames[a.ParentID]
		if !ok {
			continue
		}
		for _, out := range a.Outputs {
			if out.Sensitive {
				plain, err := run.Store().Read().OpenSealed(out.Value)
				if err != nil {
					continue
				}
				out.Value = plain
			}
			out.Name = fmt.Sprintf("Deployment[%s].%s", step, out.Name)
			h.setOutput(run, node, out)
			changed = true
		}
	}
	if changed {
		run.SetOutputs(node.ID, node.Outputs)
		run.Flush(ctx)
	}
}

// cancelChildren cancels every unfinished task this task started: a
// canceled parent deployment stops its children, wherever it was stopped.
func (h deployHandler) cancelChildren(run *tasks.Run) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kids, _, err := run.Store().Read().ListTasks(ctx, store.TaskFilter{ParentTaskID: run.Task.ID,
		States: []model.TaskState{model.TaskQueued, model.TaskExecuting, model.TaskWaiting}})
	if err != nil {
		run.Logf(0, model.LevelWarning, "Could not find the child deployments to cancel: %v", err)
		return
	}
	for _, k := range kids {
		h.cancelChild(run, k)
	}
}

// cancelChild asks the child deployment to stop, since its parent stops.
func (h deployHandler) cancelChild(run *tasks.Run, task model.Task) {
	ctx := context.Background()
	err := run.Store().Tx(ctx, func(q *store.Queries) error {
		_, err := q.RequestCancel(ctx, task.ID)
		return err
	})
	if err != nil {
		run.Logf(0, model.LevelWarning, "Could not cancel the child deployment's task %s: %v", task.ID, err)
		return
	}
	run.Logf(0, model.LevelWarning, "Canceled the child deployment's task %s", task.ID)
	if c, ok := h.e.cfg.Queue.(canceler); ok {
		c.Cancel(task.ID)
	}
	h.e.cfg.Queue.Notify()
}

package engine

import (
	"context"
	"errors"
	"fmt"
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

// runSteps runs the steps in order, those that start with the previous one
// alongside it, deciding for each whether it runs after what happened
// before (its environments, the skip list, its condition). A failure does
// not stop the loop: later steps whose condition is failure or always still
// run. It returns the first failure, a wait for people, or a stop.
func (h deployHandler) runSteps(ctx context.Context, run *tasks.Run, x deployment, steps []model.Step, acts []*model.Activity, values *vars.Values) error {
	var failure error
	for i := 0; i < len(steps); {
		j := i + 1
		for j < len(steps) && steps[j].StartWithPrevious {
			j++
		}
		errs := make([]error, j-i)
		if j-i == 1 {
			errs[0] = h.step(ctx, run, x, steps[i], acts[i], values, failure)
		} else {
			var wg sync.WaitGroup
			for k := i; k < j; k++ {
				wg.Go(func() { errs[k-i] = h.step(ctx, run, x, steps[k], acts[k], values, failure) })
			}
			wg.Wait()
		}
		var wait error
		for _, err := range errs {
			var w *tasks.WaitError
			switch {
			case err == nil:
			case errors.As(err, &w):
				wait = err
			case errors.Is(err, tasks.ErrCancelRequested), ctx.Err() != nil:
				return err
			case failure == nil:
				failure = err
				values.Set("Octopus.Deployment.Error", err.Error())
				values.Set("Octopus.Deployment.ErrorDetail", err.Error())
				values.Set("Pulpo.Deployment.Error", err.Error())
			}
		}
		if wait != nil {
			return wait
		}
		i = j
	}
	return failure
}

// step runs one step, or records why it does not run.
func (h deployHandler) step(ctx context.Context, run *tasks.Run, x deployment, step model.Step, act *model.Activity, values *vars.Values, failure error) error {
	switch act.State {
	case model.ActivitySuccess, model.ActivitySkipped:
		return nil
	case model.ActivityFailed:
		return fmt.Errorf("step %q failed", step.Name) // before a restart
	case model.ActivityCanceled:
		return tasks.ErrCancelRequested
	}
	if act.State == model.ActivityPending {
		if reason := skipReason(x, step, failure); reason != "" {
			run.Logf(act.ID, model.LevelInfo, "Skipped: %s", reason)
			h.setState(run, act, model.ActivitySkipped)
			if step.HealthCheck != nil {
				h.skipTargets(ctx, run, act)
			}
			return nil
		}
	}
	switch {
	case step.Manual != nil:
		return h.manualIntervention(ctx, run, x, step, act, values)
	case step.DeployRelease != nil:
		return h.deployRelease(ctx, run, x, step, act, values)
	case step.HealthCheck != nil:
		return h.healthCheck(ctx, run, x, step, act)
	case step.Email != nil:
		return h.sendEmail(ctx, run, x, step, act, values)
	}
	return h.runStep(ctx, run, x, step, act, values)
}

// skipReason says why a step does not run in this deployment, or "".
func skipReason(x deployment, step model.Step, failure error) string {
	switch {
	case !step.RunsIn(x.env.ID):
		return fmt.Sprintf("the step does not run in %s", x.env.Name)
	case slices.Contains(x.d.SkipSteps, step.ID):
		return "the deployment was asked to skip it"
	case len(step.Channels) > 0 && !slices.Contains(step.Channels, x.release.ChannelID):
		return "the step does not run for releases in this channel"
	}
	switch step.Condition {
	case "", model.ConditionSuccess:
		if failure != nil {
			return "an earlier step failed"
		}
	case model.ConditionFailure:
		if failure == nil {
			return "it runs only when an earlier step has failed"
		}
	}
	return ""
}

// conditionHolds evaluates a variable condition with one target's values:
// the step runs there when it renders to "true" (any case), as in Octopus.
func conditionHolds(step model.Step, values *vars.Values, now func() time.Time) (bool, error) {
	if step.Condition != model.ConditionVariable {
		return true, nil
	}
	out, err := template.Evaluate(step.ConditionExpression, values, template.Options{Now: now})
	if err != nil {
		return false, fmt.Errorf("the condition of step %q: %w", step.Name, err)
	}
	return strings.EqualFold(strings.TrimSpace(out), "true"), nil
}

// manualActivityName names the node under a manual intervention step that
// holds its answer and output variables.
const manualActivityName = "Manual intervention"

// manualIntervention asks people to proceed or abort and waits, holding no
// slot, until someone does. The answer becomes the step's output variables:
// Manual.Approved, Manual.Notes and Manual.ResponsibleUser.Username.
func (h deployHandler) manualIntervention(ctx context.Context, run *tasks.Run, x deployment, step model.Step, act *model.Activity, values *vars.Values) error {
	node, err := h.childActivity(ctx, run, act, manualActivityName)
	if err != nil {
		return err
	}
	asked, _, err := run.Store().Read().ListInterruptions(ctx, store.InterruptionFilter{TaskID: run.Task.ID, ActivityID: node.ID, Take: 1})
	if err != nil {
		return err
	}
	if len(asked) == 0 {
		instructions, err := template.Evaluate(step.Manual.Instructions, values, template.Options{Now: run.Store().Now})
		if err != nil {
			run.Logf(act.ID, model.LevelError, "The instructions of step %q: %v", step.Name, err)
			h.setState(run, node, model.ActivityFailed)
			h.setState(run, act, model.ActivityFailed)
			return fmt.Errorf("step %q: %w", step.Name, err)
		}
		i := model.Interruption{DeploymentID: x.d.ID, ProjectID: x.project.ID, EnvironmentID: x.env.ID,
			Kind: model.InterruptionManual, ActivityID: node.ID, StepID: step.ID,
			Title:        fmt.Sprintf("Approve step %q of %s release %s to %s", step.Name, x.project.Name, x.release.Version, x.env.Name),
			Instructions: run.Masked(instructions), ResponsibleTeams: step.Manual.ResponsibleTeams,
			Answers: []string{model.AnswerProceed, model.AnswerAbort}}
		if err := run.Tx(ctx, func(q *store.Queries) error {
			if err := q.CreateInterruption(ctx, run.Lease, &i); err != nil {
				return err
			}
			return q.EnqueueEvent(ctx, h.e.interruptionEvent(x, i))
		}); err != nil {
			return err
		}
		teams := ""
		if len(i.ResponsibleTeams) > 0 {
			teams = " (responsible: " + strings.Join(i.ResponsibleTeams, ", ") + ")"
		}
		run.Logf(node.ID, model.LevelHighlight, "Manual intervention %s%s: %s", i.ID, teams, i.Instructions)
		return tasks.Wait(fmt.Sprintf("step %q waits for someone to proceed or abort (pulpo interruption answer %s proceed|abort)", step.Name, i.ID))
	}
	i := asked[0]
	switch {
	case i.Pending() && ctx.Err() != nil:
		return context.Cause(ctx)
	case i.Pending():
		return tasks.Wait(fmt.Sprintf("step %q waits for someone to proceed or abort", step.Name))
	case i.Answer == model.AnswerCanceled:
		return tasks.ErrCancelRequested
	}
	approved := i.Answer == model.AnswerProceed
	for _, out := range []model.OutputVariable{
		{Name: "Manual.Approved", Value: map[bool]string{true: "True", false: "False"}[approved]},
		{Name: "Manual.Notes", Value: i.Notes},
		{Name: "Manual.ResponsibleUser.Username", Value: i.AnsweredBy},
	} {
		h.setOutput(run, node, out)
	}
	run.SetOutputs(node.ID, node.Outputs)
	if err := run.Flush(ctx); err != nil { // later steps read the outputs from the store
		return err
	}
	notes := ""
	if i.Notes != "" {
		notes = ": " + i.Notes
	}
	if !approved {
		run.Logf(node.ID, model.LevelError, "%s aborted the deployment%s", i.AnsweredBy, notes)
		h.setState(run, node, model.ActivityFailed)
		h.setState(run, act, model.ActivityFailed)
		return fmt.Errorf("step %q: %s aborted the deployment%s", step.Name, i.AnsweredBy, notes)
	}
	run.Logf(node.ID, model.LevelHighlight, "%s chose to proceed%s", i.AnsweredBy, notes)
	h.setState(run, node, model.ActivitySuccess)
	h.setState(run, act, model.ActivitySuccess)
	return nil
}

// childActivity returns the node named name under act, creating it
// (Running) the first time.
func (h deployHandler) childActivity(ctx context.Context, run *tasks.Run, act *model.Activity, name string) (*model.Activity, error) {
	if act.State == model.ActivityPending {
		now := run.Store().Now().UTC()
		act.State, act.StartedAt = model.ActivityRunning, &now
		if err := run.Tx(ctx, func(q *store.Queries) error { return q.UpdateActivity(ctx, run.Lease, act) }); err != nil {
			return nil, err
		}
	}
	acts, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return nil, err
	}
	for i := range acts {
		if acts[i].ParentID == act.ID && acts[i].Name == name {
			return &acts[i], nil
		}
	}
	now := run.Store().Now().UTC()
	node := &model.Activity{Kind: model.ActivityTarget, ParentID: act.ID, Name: name, State: model.ActivityRunning, StartedAt: &now}
	err = run.Tx(ctx, func(q *store.Queries) error { return q.CreateActivity(ctx, run.Lease, node) })
	return node, err
}

// guidance is what people answered about a target that failed under
// guided failure.
type guidance int

const (
	guidanceNone    guidance = iota // nothing asked about this failure yet
	guidanceWaiting                 // asked, not answered
	guidanceDone                    // answered and applied
)

// applyGuidance looks at the step's failed targets under guided failure:
// it applies answers given since their failure (retry resets the target so
// it runs again, ignore and exclude mark it skipped, fail leaves it failed)
// and reports whether a failure still waits for an answer.
func (h deployHandler) applyGuidance(ctx context.Context, run *tasks.Run, places []placement) (waiting bool, err error) {
	asked, _, err := run.Store().Read().ListInterruptions(ctx, store.InterruptionFilter{TaskID: run.Task.ID})
	if err != nil {
		return false, err
	}
	for _, p := range places {
		a := p.act
		if a.State != model.ActivityFailed || a.EndedAt == nil {
			continue
		}
		i := latestFor(asked, a)
		if i == nil {
			continue
		}
		switch {
		case i.Pending():
			waiting = true
		case i.Answer == model.AnswerCanceled:
			return false, tasks.ErrCancelRequested
		case i.Answer == model.AnswerRetry:
			run.Logf(a.ID, model.LevelHighlight, "%s chose to retry%s", i.AnsweredBy, notesSuffix(i.Notes))
			if err := h.resetTarget(ctx, run, a); err != nil {
				return false, err
			}
		case i.Answer == model.AnswerIgnore, i.Answer == model.AnswerExclude:
			what := "to ignore the failure"
			if i.Answer == model.AnswerExclude {
				what = "to exclude " + a.Name + " from the rest of the deployment"
			}
			run.Logf(a.ID, model.LevelHighlight, "%s chose %s%s", i.AnsweredBy, what, notesSuffix(i.Notes))
			h.setState(run, a, model.ActivitySkipped)
		}
	}
	return waiting, nil
}

// latestFor is the newest interruption about target a's current failure
// (asked after it ended), or nil.
func latestFor(asked []model.Interruption, a *model.Activity) *model.Interruption {
	for k := range asked { // newest first
		if asked[k].ActivityID == a.ID && asked[k].Kind == model.InterruptionGuidedFailure && !asked[k].CreatedAt.Before(*a.EndedAt) {
			return &asked[k]
		}
	}
	return nil
}

func notesSuffix(notes string) string {
	if notes == "" {
		return ""
	}
	return ": " + notes
}

// askGuidance records a question for every failed target that has none
// for its current failure, and reports whether any question is open.
func (h deployHandler) askGuidance(ctx context.Context, run *tasks.Run, x deployment, step model.Step, places []placement, outcomes []outcome) (bool, error) {
	asked, _, err := run.Store().Read().ListInterruptions(ctx, store.InterruptionFilter{TaskID: run.Task.ID})
	if err != nil {
		return false, err
	}
	open := false
	for k, p := range places {
		a := p.act
		if a.State != model.ActivityFailed || a.EndedAt == nil {
			continue
		}
		if i := latestFor(asked, a); i != nil {
			open = open || i.Pending()
			continue
		}
		reason := "it failed"
		switch o := outcomes[k]; {
		case o.err != nil:
			reason = o.err.Error()
		case o.ran && o.message != "":
			reason = "the script ended with " + contract.DescribeExitCode(o.code) + ": " + o.message
		case o.ran:
			reason = "the script ended with " + contract.DescribeExitCode(o.code)
		}
		i := model.Interruption{DeploymentID: x.d.ID, ProjectID: x.project.ID, EnvironmentID: x.env.ID,
			Kind: model.InterruptionGuidedFailure, ActivityID: a.ID, StepID: step.ID, MachineID: a.MachineID,
			Title:   fmt.Sprintf("Step %q failed on %s", step.Name, a.Name),
			Error:   run.Masked(reason),
			Answers: model.GuidedFailureAnswers(a.MachineID != "")}
		if err := run.Tx(ctx, func(q *store.Queries) error {
			if err := q.CreateInterruption(ctx, run.Lease, &i); err != nil {
				return err
			}
			return q.EnqueueEvent(ctx, h.e.interruptionEvent(x, i))
		}); err != nil {
			return false, err
		}
		run.Logf(a.ID, model.LevelHighlight, "Guided failure %s: %s. Answer with pulpo interruption answer %s %s",
			i.ID, i.Error, i.ID, strings.ToLower(strings.Join(i.Answers, "|")))
		open = true
	}
	return open, nil
}

// resetTarget makes a finished target node run again, under a new ticket
// and from the start of the new script's log.
func (h deployHandler) resetTarget(ctx context.Context, run *tasks.Run, a *model.Activity) error {
	run.LogScriptOutput(a.ID, nil, 0)
	if err := run.Flush(ctx); err != nil {
		return err
	}
	a.State, a.ScriptTicket, a.ExitCode, a.EndedAt = model.ActivityPending, "", nil, nil
	a.NextScriptLogSeq = 0
	return run.Tx(ctx, func(q *store.Queries) error { return q.UpdateActivity(ctx, run.Lease, a) })
}

// excludedMachines are the machines people excluded from this deployment
// under guided failure; later steps leave them out.
func excludedMachines(ctx context.Context, q *store.Queries, taskID string) (map[string]bool, error) {
	asked, _, err := q.ListInterruptions(ctx, store.InterruptionFilter{TaskID: taskID})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, i := range asked {
		if i.Answer == model.AnswerExclude && i.MachineID != "" {
			out[i.MachineID] = true
		}
	}
	return out, nil
}

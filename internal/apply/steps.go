package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// A project's process and its runbooks hold the same steps, so one pair of
// conversions serves both: a field added to model.Step is written and read
// in one place (steps_test.go fails until it is).
//
// Actions (script, package, manual, email) travel as the model has them, except
// that feeds and teams are named by name (the built-in feed's id, the same on every
// server, is its name). A step made from a step template names the
// template by name and carries no action: saving it fills the action from
// the template's version.

// stepNames turns the ids a step refers to into names, for export.
type stepNames struct {
	envs     map[string]string // environment id -> name
	pools    map[string]string // worker pool id -> name
	projects map[string]string // project id -> name
	channels map[string]string // the project's channel id -> name
	teams    map[string]string // team id -> name
	lib      libraryNames
}

// names maps ids to names; an id with no name (a dangling reference the
// store should have refused) is an error rather than a blank in the file.
func (n stepNames) names(kind string, ids []string, m map[string]string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		name, ok := m[id]
		if !ok {
			return nil, fmt.Errorf("%s %q does not exist", kind, id)
		}
		out[i] = name
	}
	return out, nil
}

// exportSteps writes steps with every reference by name.
func exportSteps(steps []model.Step, n stepNames) ([]confdoc.Step, error) {
	var out []confdoc.Step
	for _, s := range steps {
		step, err := exportStep(s, n)
		if err != nil {
			return nil, fmt.Errorf("step %q: %w", s.Name, err)
		}
		out = append(out, step)
	}
	return out, nil
}

func exportStep(s model.Step, n stepNames) (confdoc.Step, error) {
	out := confdoc.Step{Name: s.Name, Disabled: s.Disabled, ManualIntervention: s.Manual, HealthCheck: s.HealthCheck,
		TargetRoles: s.TargetRoles, RunOnServer: s.RunOnServer, MaxParallelism: s.MaxParallelism, WindowSize: s.WindowSize,
		Required: s.Required, Condition: s.Condition, ConditionExpression: s.ConditionExpression,
		StartWithPrevious: s.StartWithPrevious, Retries: s.Retries, RetryDelaySeconds: s.RetryDelaySeconds,
		ScriptModules: s.ScriptModules}
	var err error
	if s.Template != nil {
		if out.Template, err = n.lib.templateRef(s.Template); err != nil {
			return out, err
		}
	} else {
		if out.Script, err = n.lib.script(s.Script); err != nil {
			return out, err
		}
		if out.Package, err = n.lib.pkg(s.Package); err != nil {
			return out, err
		}
	}
	if out.Email, err = n.exportEmail(s.Email); err != nil {
		return out, err
	}
	if out.Environments, err = n.names("environment", s.Environments, n.envs); err != nil {
		return out, err
	}
	if out.ExcludedEnvironments, err = n.names("environment", s.ExcludedEnvironments, n.envs); err != nil {
		return out, err
	}
	if out.Channels, err = n.names("channel", s.Channels, n.channels); err != nil {
		return out, err
	}
	if s.WorkerPoolID != "" {
		pool, err := n.names("worker pool", []string{s.WorkerPoolID}, n.pools)
		if err != nil {
			return out, err
		}
		out.WorkerPool = pool[0]
	}
	if dr := s.DeployRelease; dr != nil {
		child, err := n.names("project", []string{dr.ProjectID}, n.projects)
		if err != nil {
			return out, err
		}
		out.DeployRelease = &confdoc.DeployRelease{Project: child[0], Mode: dr.Mode, Variables: dr.Variables}
	}
	return out, nil
}

// steps turns the file's steps into the model's, references by name to
// ids; channels are the project's channel ids by name key. field names the
// list in problems ("steps", "runbooks[0].steps"), subject the object.
func (a *applier) steps(ctx context.Context, subject, field string, want []confdoc.Step, channels map[string]string) ([]model.Step, error) {
	var problems []string
	out := make([]model.Step, len(want))
	for i, s := range want {
		f := fmt.Sprintf("%s[%d]", field, i)
		step := model.Step{Name: s.Name, Disabled: s.Disabled, TargetRoles: s.TargetRoles, RunOnServer: s.RunOnServer,
			MaxParallelism: s.MaxParallelism, WindowSize: s.WindowSize,
			Environments:         a.envRefs(f+".environments", s.Environments, &problems),
			ExcludedEnvironments: a.envRefs(f+".excludedEnvironments", s.ExcludedEnvironments, &problems),
			Required:             s.Required, Condition: s.Condition, ConditionExpression: s.ConditionExpression,
			StartWithPrevious: s.StartWithPrevious, Retries: s.Retries, RetryDelaySeconds: s.RetryDelaySeconds,
			ScriptModules: slices.Clone(s.ScriptModules)}
		// Copies, so the document and the model never share an action.
		if s.ManualIntervention != nil {
			m := *s.ManualIntervention
			step.Manual = &m
		}
		if s.HealthCheck != nil {
			hc := *s.HealthCheck
			step.HealthCheck = &hc
		}
		step.Script = a.script(ctx, f+".script", s.Script, &problems)
		step.Package = a.pkg(ctx, f+".package", s.Package, &problems)
		var err error
		if step.Email, err = a.email(ctx, f, s.Email, &problems); err != nil {
			return nil, err
		}
		if s.Template != nil {
			step.Template = a.templateRef(ctx, f+".template", s.Template, &problems)
		}
		for _, name := range s.Channels {
			id, ok := channels[model.NameKey(name)]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s.channels: the project has no channel %q", f, name))
				continue
			}
			step.Channels = append(step.Channels, id)
		}
		if dr := s.DeployRelease; dr != nil {
			child, err := a.q.FindProject(ctx, dr.Project)
			switch {
			case errors.Is(err, store.ErrNotFound):
				problems = append(problems, fmt.Sprintf("%s.deployRelease.project: project %q is neither in the file nor on the server", f, dr.Project))
			case err != nil:
				return nil, err
			default:
				step.DeployRelease = &model.DeployReleaseAction{ProjectID: child.ID, Mode: dr.Mode, Variables: dr.Variables}
			}
		}
		if s.WorkerPool != "" {
			pool, err := a.q.FindWorkerPool(ctx, s.WorkerPool)
			switch {
			case errors.Is(err, store.ErrNotFound):
				problems = append(problems, fmt.Sprintf("%s.workerPool: worker pool %q does not exist", f, s.WorkerPool))
			case err != nil:
				return nil, err
			default:
				step.WorkerPoolID = pool.ID
			}
		}
		out[i] = step
	}
	if len(problems) > 0 {
		return nil, &model.ValidationError{Subject: subject, Problems: problems}
	}
	return out, nil
}

// allSteps lists a project's steps and its runbooks' steps: what a project
// refers to through its steps is the union.
func allSteps(p confdoc.Project) []confdoc.Step {
	out := p.Steps
	for _, rb := range p.Runbooks {
		out = append(out[:len(out):len(out)], rb.Steps...)
	}
	return out
}

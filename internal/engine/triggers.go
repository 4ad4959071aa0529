package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// TriggerCreatedBy is who a trigger's releases and deployments are by.
func TriggerCreatedBy(t model.Trigger) string { return "trigger " + t.Name }

// PackagePushed runs the package triggers of a pushed package: each creates
// a release of its project whose version is the package's, with that
// version for the steps taking the package (the feed's newest for other
// packages); the lifecycle's automatic phases then deploy it. It returns
// the releases made and a line per trigger that could not make one.
func (e *Engine) PackagePushed(ctx context.Context, pkg model.Package) ([]model.Release, []string) {
	triggers, _, err := e.cfg.Store.Read().ListTriggers(ctx, store.TriggerFilter{Kind: model.TriggerPackage, PackageID: pkg.PackageID})
	if err != nil {
		return nil, []string{fmt.Sprintf("read package triggers: %v", err)}
	}
	var made []model.Release
	var problems []string
	for _, t := range triggers {
		r := model.Release{ProjectID: t.ProjectID, Version: pkg.Version, CreatedBy: TriggerCreatedBy(t),
			Notes:    fmt.Sprintf("Created by trigger %q when %s %s was pushed", t.Name, pkg.PackageID, pkg.Version),
			Packages: []model.ReleasePackage{{PackageID: pkg.PackageID, Version: pkg.Version}}}
		_, err := e.CreateRelease(ctx, &r)
		result := fmt.Sprintf("created release %s", r.Version)
		if err != nil {
			result = fmt.Sprintf("%s %s pushed, but no release was created: %v", pkg.PackageID, pkg.Version, err)
			problems = append(problems, fmt.Sprintf("trigger %q: %v", t.Name, err))
		} else {
			made = append(made, r)
		}
		e.recordTrigger(ctx, t, result)
	}
	return made, problems
}

// FireDueSchedules fires the schedule triggers due now: each deploys the
// release last deployed to its source environment (or the project's newest
// release) to its target environments. Every node may call it; each run
// fires once.
func (e *Engine) FireDueSchedules(ctx context.Context) error {
	var due []model.Trigger
	err := e.cfg.Store.Tx(ctx, func(q *store.Queries) (err error) {
		due, err = q.ClaimDueSchedules(ctx, q.Now())
		return err
	})
	if err != nil {
		return err
	}
	for _, t := range due {
		e.FireSchedule(ctx, t)
	}
	return nil
}

// FireSchedule runs one schedule trigger now and returns the deployments
// it queued.
func (e *Engine) FireSchedule(ctx context.Context, t model.Trigger) ([]model.Deployment, error) {
	deps, err := e.fireSchedule(ctx, t)
	var result string
	switch {
	case err != nil:
		result = err.Error()
	case len(deps) == 0:
		result = "nothing to deploy"
	default:
		var ids []string
		for _, d := range deps {
			ids = append(ids, d.ID)
		}
		result = "queued " + strings.Join(ids, ", ")
	}
	e.recordTrigger(ctx, t, result)
	if err != nil {
		e.cfg.Logger.Warn("scheduled trigger", "trigger", t.ID, "error", err)
	}
	return deps, err
}

func (e *Engine) fireSchedule(ctx context.Context, t model.Trigger) ([]model.Deployment, error) {
	if t.RunbookID != "" {
		var out []model.Deployment
		var problems []string
		for _, envID := range t.TargetEnvironmentIDs {
			d, err := e.RunRunbook(ctx, RunbookRequest{RunbookID: t.RunbookID, EnvironmentID: envID, CreatedBy: TriggerCreatedBy(t)})
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			out = append(out, d)
		}
		if len(problems) > 0 {
			return out, errors.New(strings.Join(problems, "; "))
		}
		return out, nil
	}
	q := e.cfg.Store.Read()
	var rel model.Release
	if t.SourceEnvironmentID != "" {
		deps, _, err := q.ListDeployments(ctx, store.DeploymentFilter{ProjectID: t.ProjectID, EnvironmentID: t.SourceEnvironmentID})
		if err != nil {
			return nil, err
		}
		for _, d := range deps { // newest first
			if d.State == model.TaskSuccess {
				if rel, err = q.GetRelease(ctx, d.ReleaseID); err != nil {
					return nil, err
				}
				break
			}
		}
		if rel.ID == "" {
			env, _ := q.GetEnvironment(ctx, t.SourceEnvironmentID)
			return nil, fmt.Errorf("no release has been deployed to %s yet", env.Name)
		}
	} else {
		releases, _, err := q.ListReleases(ctx, store.ReleaseFilter{ProjectID: t.ProjectID, Take: 1})
		if err != nil {
			return nil, err
		}
		if len(releases) == 0 {
			return nil, errors.New("the project has no release yet")
		}
		rel = releases[0]
	}
	var out []model.Deployment
	var problems []string
	for _, envID := range t.TargetEnvironmentIDs {
		d, err := e.Deploy(ctx, DeployRequest{ReleaseID: rel.ID, EnvironmentID: envID, CreatedBy: TriggerCreatedBy(t)})
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		out = append(out, d)
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("release %s: %s", rel.Version, strings.Join(problems, "; "))
	}
	return out, nil
}

func (e *Engine) recordTrigger(ctx context.Context, t model.Trigger, result string) {
	err := e.cfg.Store.Tx(ctx, func(q *store.Queries) error { return q.RecordTriggerResult(ctx, t.ID, q.Now(), result) })
	if err != nil {
		e.cfg.Logger.Warn("record trigger result", "trigger", t.ID, "error", err)
	}
}

// ApplyReleaseRetention deletes, project by project, the releases their
// lifecycles' retention lets go (see store.ApplyReleaseRetention), and the
// artifact folders of their deployments.
func (e *Engine) ApplyReleaseRetention(ctx context.Context) ([]model.Release, error) {
	projects, _, err := e.cfg.Store.Read().ListProjects(ctx, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var removed []model.Release
	for _, p := range projects {
		var gone []store.RemovedRelease
		err := e.cfg.Store.Tx(ctx, func(q *store.Queries) (err error) {
			gone, err = q.ApplyReleaseRetention(ctx, p.ID, q.Now())
			return err
		})
		if err != nil {
			return removed, fmt.Errorf("release retention of %s: %w", p.Name, err)
		}
		for _, r := range gone {
			removed = append(removed, r.Release)
			e.cfg.Logger.Info("release retention removed a release", "project", p.Name, "release", r.Release.Version)
			for _, t := range r.TaskIDs {
				if e.cfg.ArtifactsDir != "" && t != "" {
					os.RemoveAll(filepath.Join(e.cfg.ArtifactsDir, t))
				}
			}
		}
	}
	return removed, nil
}

// MachineAvailable runs the machine triggers a machine's event (joined,
// healthy) sets off, in the caller's transaction: for each, the release
// last deployed successfully to each of the machine's environments is
// deployed to that machine alone. Problems are logged: a machine's
// registration or health check does not fail for them.
func (e *Engine) MachineAvailable(ctx context.Context, q *store.Queries, m model.Machine, event string) []model.Deployment {
	if m.Usage != model.UsageTarget || m.Disabled {
		return nil
	}
	triggers, _, err := q.ListTriggers(ctx, store.TriggerFilter{Kind: model.TriggerMachine})
	if err != nil {
		e.cfg.Logger.Warn("machine triggers", "machine", m.Name, "error", err)
		return nil
	}
	var out []model.Deployment
	for _, t := range triggers {
		if t.Disabled || !slices.Contains(t.MachineEvents, event) {
			continue
		}
		if len(t.Roles) > 0 && !slices.ContainsFunc(m.Roles, func(r string) bool { return slices.Contains(t.Roles, r) }) {
			continue
		}
		for _, envID := range m.EnvironmentIDs {
			if len(t.TargetEnvironmentIDs) > 0 && !slices.Contains(t.TargetEnvironmentIDs, envID) {
				continue
			}
			deps, _, err := q.ListDeployments(ctx, store.DeploymentFilter{ProjectID: t.ProjectID, EnvironmentID: envID})
			if err != nil {
				e.cfg.Logger.Warn("machine trigger", "trigger", t.ID, "error", err)
				continue
			}
			current := ""
			for _, d := range deps { // newest first
				if d.State == model.TaskSuccess {
					current = d.ReleaseID
					break
				}
			}
			if current == "" {
				continue // nothing deployed here yet: nothing to bring the machine up to
			}
			d, err := e.deployTx(ctx, q, DeployRequest{ReleaseID: current, EnvironmentID: envID,
				CreatedBy: fmt.Sprintf("%s (%s %s)", TriggerCreatedBy(t), m.Name, event), SpecificMachineIDs: []string{m.ID}})
			result := fmt.Sprintf("%s %s: queued %s", m.Name, event, d.ID)
			if err != nil {
				result = fmt.Sprintf("%s %s: %v", m.Name, event, err)
				e.cfg.Logger.Warn("machine trigger", "trigger", t.ID, "machine", m.Name, "error", err)
			} else {
				out = append(out, d)
			}
			q.RecordTriggerResult(ctx, t.ID, q.Now(), result)
		}
	}
	if len(out) > 0 {
		e.cfg.Queue.Notify()
	}
	return out
}

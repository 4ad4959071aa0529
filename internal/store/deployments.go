package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

const deploymentColumns = `d.id, d.release_id, d.project_id, d.environment_id, d.task_id, d.created_at, d.created_by, t.state, d.prompted, d.options, d.runbook_id`
const deploymentFrom = ` FROM deployments d JOIN tasks t ON t.id = d.task_id`

func scanDeployment(s scanner) (model.Deployment, error) {
	var d model.Deployment
	var created int64
	var prompted, options string
	err := s.Scan(&d.ID, &d.ReleaseID, &d.ProjectID, &d.EnvironmentID, &d.TaskID, &created, &d.CreatedBy, &d.State, &prompted, &options, &d.RunbookID)
	d.CreatedAt = fromMicros(created)
	if err == nil && prompted != "" {
		err = unmarshal(prompted, &d.Prompted)
	}
	if err == nil && options != "" {
		var o storedOptions
		if err = unmarshal(options, &o); err == nil {
			d.DeploymentOptions = o.DeploymentOptions
			d.ParentVariables = o.ParentVariables
		}
	}
	return d, err
}

// storedOptions are a deployment's options as stored: with the values its
// parent passed down (sealed), which the API does not show.
type storedOptions struct {
	model.DeploymentOptions
	ParentVariables []model.ParentVariable `json:"parentVariables,omitempty"`
}

// CreateDeployment stores a deployment and queues its task, in the caller's
// transaction. The caller has checked the lifecycle.
func (q *Queries) CreateDeployment(ctx context.Context, d *model.Deployment, task *model.Task) error {
	id, _, err := q.nextID(ctx, "Deployments")
	if err != nil {
		return err
	}
	d.ID = id
	task.Kind = model.TaskDeploy
	task.DeploymentID, task.ProjectID, task.EnvironmentID = d.ID, d.ProjectID, d.EnvironmentID
	if err := q.CreateTask(ctx, task); err != nil {
		return err
	}
	d.TaskID, d.State = task.ID, task.State
	d.CreatedAt = task.QueuedAt
	prompted := ""
	if len(d.Prompted) > 0 {
		if prompted, err = marshal(d.Prompted); err != nil {
			return err
		}
	}
	options, err := marshal(storedOptions{DeploymentOptions: d.DeploymentOptions, ParentVariables: d.ParentVariables})
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO deployments (id, release_id, project_id, environment_id, task_id, created_at, created_by, prompted, options, runbook_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.ReleaseID, d.ProjectID, d.EnvironmentID, d.TaskID, toMicros(d.CreatedAt), d.CreatedBy, prompted, options, d.RunbookID)
	if err != nil {
		return fmt.Errorf("create deployment: %w", err)
	}
	return q.auditDeployment(ctx, d)
}

// auditDeployment records a deployment (or runbook run) in the audit log,
// against the person in the context or, for automatic ones, what made it.
func (q *Queries) auditDeployment(ctx context.Context, d *model.Deployment) error {
	var version, project, env string
	err := q.queryRow(ctx, `SELECT r.version, p.name, e.name FROM releases r JOIN projects p ON p.id = r.project_id, environments e
		WHERE r.id = ? AND e.id = ?`, d.ReleaseID, d.EnvironmentID).Scan(&version, &project, &env)
	if err != nil {
		return fmt.Errorf("audit deployment %s: %w", d.ID, err)
	}
	what := fmt.Sprintf("deployed %s release %s to %s", project, version, env)
	if d.RunbookID != "" {
		what = fmt.Sprintf("ran a runbook of %s (snapshot %s) in %s", project, version, env)
	}
	after, _ := marshal(struct {
		ReleaseID          string   `json:"releaseId"`
		EnvironmentID      string   `json:"environmentId"`
		TaskID             string   `json:"taskId"`
		CreatedBy          string   `json:"createdBy"`
		SkipSteps          []string `json:"skipSteps,omitempty"`
		SpecificMachineIDs []string `json:"specificMachineIds,omitempty"`
		ExcludedMachineIDs []string `json:"excludedMachineIds,omitempty"`
	}{d.ReleaseID, d.EnvironmentID, d.TaskID, d.CreatedBy, d.SkipSteps, d.SpecificMachineIDs, d.ExcludedMachineIDs})
	ev := model.AuditEvent{Actor: d.CreatedBy, Action: model.AuditDeploy, ObjectType: "deployment", ObjectID: d.ID,
		ObjectName: project + " " + version, ProjectID: d.ProjectID, EnvironmentID: d.EnvironmentID, Summary: what, After: []byte(after)}
	if a, ok := ActorFrom(ctx); ok {
		ev.ActorID, ev.Address = a.ID, a.Address
		if ev.Actor == "" {
			ev.Actor = a.Name
		}
	}
	if ev.Actor == "" {
		ev.Actor = "system"
	}
	return q.AppendAudit(ctx, &ev)
}

// GetDeployment reads one deployment by id.
func (q *Queries) GetDeployment(ctx context.Context, id string) (model.Deployment, error) {
	d, err := scanDeployment(q.queryRow(ctx, `SELECT `+deploymentColumns+deploymentFrom+` WHERE d.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, notFound("deployment", id)
	}
	return d, err
}

// DeploymentFilter narrows a deployment list.
type DeploymentFilter struct {
	Skip, Take    int
	ProjectID     string
	EnvironmentID string
	ReleaseID     string
	// RunbookID lists a runbook's runs; without it, deployments only.
	RunbookID string
	// Visible limits the list to what the reader may see.
	Visible *access.Filter
}

// ListDeployments returns a page of deployments, newest first, and the total.
func (q *Queries) ListDeployments(ctx context.Context, f DeploymentFilter) ([]model.Deployment, int, error) {
	where, args := []string{"d.runbook_id = ?"}, []any{f.RunbookID}
	for _, c := range []struct{ col, v string }{{"d.project_id", f.ProjectID}, {"d.environment_id", f.EnvironmentID}, {"d.release_id", f.ReleaseID}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	if cond, cargs := visibleWhere(f.Visible, "d.project_id", "d.environment_id"); cond != "" {
		where, args = append(where, cond), append(args, cargs...)
	}
	total, err := q.count(ctx, `SELECT COUNT(*)`+deploymentFrom+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list deployments: %w", err)
	}
	page := ListOptions{Skip: f.Skip, Take: f.Take}.page()
	rows, err := q.query(ctx, `SELECT `+deploymentColumns+deploymentFrom+whereClause(where)+` ORDER BY d.created_at DESC, t.seq DESC`+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list deployments: %w", err)
	}
	out, err := collect(rows, scanDeployment)
	return out, total, err
}

// ReleaseHistory says which environments a release reached and was sent to.
func (q *Queries) ReleaseHistory(ctx context.Context, releaseID string) (model.ReleaseHistory, error) {
	h := model.ReleaseHistory{Succeeded: map[string]bool{}, Attempted: map[string]bool{}}
	rows, err := q.query(ctx, `SELECT d.environment_id, t.state`+deploymentFrom+` WHERE d.release_id = ?`, releaseID)
	if err != nil {
		return h, fmt.Errorf("read release history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var env string
		var state model.TaskState
		if err := rows.Scan(&env, &state); err != nil {
			return h, err
		}
		h.Attempted[env] = true
		if state == model.TaskSuccess {
			h.Succeeded[env] = true
		}
	}
	return h, rows.Err()
}

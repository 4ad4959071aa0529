package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

type freezeDoc struct {
	Description    string   `json:"description,omitempty"`
	EnvironmentIDs []string `json:"environmentIds,omitempty"`
	ProjectIDs     []string `json:"projectIds,omitempty"`
}

const freezeColumns = `id, name, start_at, end_at, doc`

func scanFreeze(s scanner) (model.DeploymentFreeze, error) {
	var f model.DeploymentFreeze
	var start, end int64
	var doc string
	if err := s.Scan(&f.ID, &f.Name, &start, &end, &doc); err != nil {
		return f, err
	}
	var d freezeDoc
	if err := unmarshal(doc, &d); err != nil {
		return f, fmt.Errorf("read deployment freeze %s: %w", f.ID, err)
	}
	f.Start, f.End = fromMicros(start), fromMicros(end)
	f.Description, f.EnvironmentIDs, f.ProjectIDs = d.Description, d.EnvironmentIDs, d.ProjectIDs
	return f, nil
}

func (q *Queries) checkFreeze(ctx context.Context, f *model.DeploymentFreeze) (string, error) {
	if err := f.Validate(); err != nil {
		return "", err
	}
	var problems []string
	for _, id := range f.EnvironmentIDs {
		if _, err := q.GetEnvironment(ctx, id); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("environmentIds: environment %q does not exist", id))
		} else if err != nil {
			return "", err
		}
	}
	for _, id := range f.ProjectIDs {
		if _, err := q.GetProject(ctx, id); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("projectIds: project %q does not exist", id))
		} else if err != nil {
			return "", err
		}
	}
	if len(problems) > 0 {
		return "", &model.ValidationError{Subject: "deployment freeze", Problems: problems}
	}
	return marshal(freezeDoc{Description: f.Description, EnvironmentIDs: f.EnvironmentIDs, ProjectIDs: f.ProjectIDs})
}

// CreateFreeze stores a new deployment freeze.
func (q *Queries) CreateFreeze(ctx context.Context, f *model.DeploymentFreeze) error {
	doc, err := q.checkFreeze(ctx, f)
	if err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "deployment_freezes", "deployment freeze", f.Name, ""); err != nil {
		return err
	}
	if f.ID, _, err = q.nextID(ctx, "DeploymentFreezes"); err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO deployment_freezes (id, name, name_key, start_at, end_at, doc) VALUES (?, ?, ?, ?, ?, ?)`,
		f.ID, f.Name, model.NameKey(f.Name), toMicros(f.Start), toMicros(f.End), doc)
	if err != nil {
		return fmt.Errorf("create deployment freeze: %w", err)
	}
	return nil
}

// GetFreeze reads one freeze by id.
func (q *Queries) GetFreeze(ctx context.Context, id string) (model.DeploymentFreeze, error) {
	f, err := scanFreeze(q.queryRow(ctx, `SELECT `+freezeColumns+` FROM deployment_freezes WHERE id = ? OR name_key = ?`, id, model.NameKey(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return f, notFound("deployment freeze", id)
	}
	return f, err
}

// ListFreezes returns freezes, the latest start first.
func (q *Queries) ListFreezes(ctx context.Context, opts ListOptions) ([]model.DeploymentFreeze, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM deployment_freezes`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list deployment freezes: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+freezeColumns+` FROM deployment_freezes`+whereClause(where)+` ORDER BY start_at DESC, id`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list deployment freezes: %w", err)
	}
	out, err := collect(rows, scanFreeze)
	return out, total, err
}

// ActiveFreezes are the freezes whose window holds t.
func (q *Queries) ActiveFreezes(ctx context.Context, t time.Time) ([]model.DeploymentFreeze, error) {
	rows, err := q.query(ctx, `SELECT `+freezeColumns+` FROM deployment_freezes WHERE start_at <= ? AND end_at > ? ORDER BY end_at DESC`,
		toMicros(t), toMicros(t))
	if err != nil {
		return nil, fmt.Errorf("find deployment freezes: %w", err)
	}
	return collect(rows, scanFreeze)
}

// UpdateFreeze replaces a freeze.
func (q *Queries) UpdateFreeze(ctx context.Context, f *model.DeploymentFreeze) error {
	doc, err := q.checkFreeze(ctx, f)
	if err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "deployment_freezes", "deployment freeze", f.Name, f.ID); err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE deployment_freezes SET name = ?, name_key = ?, start_at = ?, end_at = ?, doc = ? WHERE id = ?`,
		f.Name, model.NameKey(f.Name), toMicros(f.Start), toMicros(f.End), doc, f.ID)
	if err != nil {
		return fmt.Errorf("update deployment freeze: %w", err)
	}
	return mustAffect(res, "deployment freeze", f.ID)
}

// DeleteFreeze removes a freeze.
func (q *Queries) DeleteFreeze(ctx context.Context, id string) error {
	res, err := q.exec(ctx, `DELETE FROM deployment_freezes WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete deployment freeze: %w", err)
	}
	return mustAffect(res, "deployment freeze", id)
}

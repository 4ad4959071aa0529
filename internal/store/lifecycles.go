package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const lifecycleColumns = `id, name, description, phases, release_retention`

func scanLifecycle(s scanner) (model.Lifecycle, error) {
	var l model.Lifecycle
	var phases, retention string
	if err := s.Scan(&l.ID, &l.Name, &l.Description, &phases, &retention); err != nil {
		return l, err
	}
	if retention != "" {
		if err := unmarshal(retention, &l.ReleaseRetention); err != nil {
			return l, fmt.Errorf("read release retention of lifecycle %s: %w", l.ID, err)
		}
	}
	if err := unmarshal(phases, &l.Phases); err != nil {
		return l, fmt.Errorf("read phases of lifecycle %s: %w", l.ID, err)
	}
	if l.Phases == nil {
		l.Phases = []model.Phase{}
	}
	return l, nil
}

func (q *Queries) validateLifecycle(ctx context.Context, l *model.Lifecycle) error {
	envs, err := q.EnvironmentNames(ctx)
	if err != nil {
		return err
	}
	return l.Validate(envs)
}

// CreateLifecycle validates and stores a new lifecycle.
func (q *Queries) CreateLifecycle(ctx context.Context, l *model.Lifecycle) error {
	if err := q.validateLifecycle(ctx, l); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "lifecycles", "lifecycle", l.Name, ""); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "Lifecycles")
	if err != nil {
		return err
	}
	l.ID = id
	if l.Phases == nil {
		l.Phases = []model.Phase{}
	}
	phases, err := marshal(l.Phases)
	if err != nil {
		return err
	}
	retention, err := marshal(l.ReleaseRetention)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO lifecycles (id, name, name_key, description, phases, release_retention) VALUES (?, ?, ?, ?, ?, ?)`,
		l.ID, l.Name, model.NameKey(l.Name), l.Description, phases, retention)
	if err != nil {
		return fmt.Errorf("create lifecycle: %w", err)
	}
	return nil
}

// GetLifecycle reads one lifecycle by id.
func (q *Queries) GetLifecycle(ctx context.Context, id string) (model.Lifecycle, error) {
	l, err := scanLifecycle(q.queryRow(ctx, `SELECT `+lifecycleColumns+` FROM lifecycles WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return l, notFound("lifecycle", id)
	}
	return l, err
}

// FindLifecycle reads one lifecycle by id or name.
func (q *Queries) FindLifecycle(ctx context.Context, idOrName string) (model.Lifecycle, error) {
	l, err := scanLifecycle(q.queryRow(ctx, `SELECT `+lifecycleColumns+` FROM lifecycles WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return l, notFound("lifecycle", idOrName)
	}
	return l, err
}

// ListLifecycles returns a page of lifecycles by name and the total.
func (q *Queries) ListLifecycles(ctx context.Context, opts ListOptions) ([]model.Lifecycle, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM lifecycles`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list lifecycles: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+lifecycleColumns+` FROM lifecycles`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list lifecycles: %w", err)
	}
	out, err := collect(rows, scanLifecycle)
	return out, total, err
}

// UpdateLifecycle replaces a lifecycle. Releases follow the lifecycle as it
// is at the time of each deployment.
func (q *Queries) UpdateLifecycle(ctx context.Context, l *model.Lifecycle) error {
	if err := q.validateLifecycle(ctx, l); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "lifecycles", "lifecycle", l.Name, l.ID); err != nil {
		return err
	}
	if l.Phases == nil {
		l.Phases = []model.Phase{}
	}
	phases, err := marshal(l.Phases)
	if err != nil {
		return err
	}
	retention, err := marshal(l.ReleaseRetention)
	if err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE lifecycles SET name = ?, name_key = ?, description = ?, phases = ?, release_retention = ? WHERE id = ?`,
		l.Name, model.NameKey(l.Name), l.Description, phases, retention, l.ID)
	if err != nil {
		return fmt.Errorf("update lifecycle: %w", err)
	}
	return mustAffect(res, "lifecycle", l.ID)
}

// DeleteLifecycle removes a lifecycle no project uses.
func (q *Queries) DeleteLifecycle(ctx context.Context, id string) error {
	l, err := q.GetLifecycle(ctx, id)
	if err != nil {
		return err
	}
	var project string
	err = q.queryRow(ctx, `SELECT name FROM projects WHERE lifecycle_id = ? ORDER BY name_key LIMIT 1`, id).Scan(&project)
	switch {
	case err == nil:
		return conflict("lifecycle %q is used by project %q; give that project another lifecycle first", l.Name, project)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("delete lifecycle: %w", err)
	}
	res, err := q.exec(ctx, `DELETE FROM lifecycles WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete lifecycle: %w", err)
	}
	return mustAffect(res, "lifecycle", id)
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const environmentColumns = `id, name, description, sort_order, use_guided_failure`

func scanEnvironment(s scanner) (model.Environment, error) {
	var e model.Environment
	err := s.Scan(&e.ID, &e.Name, &e.Description, &e.SortOrder, &e.UseGuidedFailure)
	return e, err
}

// CreateEnvironment validates and stores a new environment, assigning its id.
// Without a sort order it goes after every existing environment.
func (q *Queries) CreateEnvironment(ctx context.Context, e *model.Environment) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "environments", "environment", e.Name, ""); err != nil {
		return err
	}
	if e.SortOrder == 0 {
		var last sql.NullInt64
		if err := q.queryRow(ctx, `SELECT MAX(sort_order) FROM environments`).Scan(&last); err != nil {
			return fmt.Errorf("create environment: %w", err)
		}
		e.SortOrder = int(last.Int64) + 1
	}
	id, _, err := q.nextID(ctx, "Environments")
	if err != nil {
		return err
	}
	e.ID = id
	_, err = q.exec(ctx, `INSERT INTO environments (id, name, name_key, description, sort_order, use_guided_failure) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, e.Name, model.NameKey(e.Name), e.Description, e.SortOrder, e.UseGuidedFailure)
	if err != nil {
		return fmt.Errorf("create environment: %w", err)
	}
	return nil
}

// GetEnvironment reads one environment by id.
func (q *Queries) GetEnvironment(ctx context.Context, id string) (model.Environment, error) {
	e, err := scanEnvironment(q.queryRow(ctx, `SELECT `+environmentColumns+` FROM environments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, notFound("environment", id)
	}
	return e, err
}

// FindEnvironment reads one environment by id or, failing that, by name.
func (q *Queries) FindEnvironment(ctx context.Context, idOrName string) (model.Environment, error) {
	e, err := scanEnvironment(q.queryRow(ctx, `SELECT `+environmentColumns+` FROM environments WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return e, notFound("environment", idOrName)
	}
	return e, err
}

// ListEnvironments returns a page of environments in display order and the total.
func (q *Queries) ListEnvironments(ctx context.Context, opts ListOptions) ([]model.Environment, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM environments`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list environments: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+environmentColumns+` FROM environments`+whereClause(where)+
		` ORDER BY sort_order, id`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list environments: %w", err)
	}
	out, err := collect(rows, scanEnvironment)
	return out, total, err
}

// AllEnvironments returns every environment in display order.
func (q *Queries) AllEnvironments(ctx context.Context) ([]model.Environment, error) {
	envs, _, err := q.ListEnvironments(ctx, ListOptions{})
	return envs, err
}

// EnvironmentNames maps every environment id to its name.
func (q *Queries) EnvironmentNames(ctx context.Context) (map[string]string, error) {
	envs, err := q.AllEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(envs))
	for _, e := range envs {
		m[e.ID] = e.Name
	}
	return m, nil
}

// UpdateEnvironment replaces an environment's fields.
func (q *Queries) UpdateEnvironment(ctx context.Context, e *model.Environment) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "environments", "environment", e.Name, e.ID); err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE environments SET name = ?, name_key = ?, description = ?, sort_order = ?, use_guided_failure = ? WHERE id = ?`,
		e.Name, model.NameKey(e.Name), e.Description, e.SortOrder, e.UseGuidedFailure, e.ID)
	if err != nil {
		return fmt.Errorf("update environment: %w", err)
	}
	return mustAffect(res, "environment", e.ID)
}

// DeleteEnvironment removes an environment nothing refers to; otherwise it
// says what still uses it.
func (q *Queries) DeleteEnvironment(ctx context.Context, id string) error {
	env, err := q.GetEnvironment(ctx, id)
	if err != nil {
		return err
	}
	n, err := q.count(ctx, `SELECT COUNT(*) FROM deployments WHERE environment_id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete environment: %w", err)
	}
	if n > 0 {
		return conflict("environment %q has %d deployments; it cannot be deleted while its history refers to it", env.Name, n)
	}
	machines, _, err := q.ListMachines(ctx, MachineFilter{EnvironmentID: id})
	if err != nil {
		return fmt.Errorf("delete environment: %w", err)
	}
	if len(machines) > 0 {
		return conflict("environment %q has %d deployment targets (%s first); remove them from it first", env.Name, len(machines), machines[0].Name)
	}
	lifecycles, _, err := q.ListLifecycles(ctx, ListOptions{})
	if err != nil {
		return fmt.Errorf("delete environment: %w", err)
	}
	for _, l := range lifecycles {
		for _, ph := range l.Phases {
			if slices.Contains(ph.Environments(), id) {
				return conflict("environment %q is in phase %q of lifecycle %q; remove it there first", env.Name, ph.Name, l.Name)
			}
		}
	}
	projects, _, err := q.ListProjects(ctx, ListOptions{})
	if err != nil {
		return fmt.Errorf("delete environment: %w", err)
	}
	for _, p := range projects {
		vars, err := q.GetVariables(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("delete environment: %w", err)
		}
		for _, v := range vars.Variables {
			if slices.Contains(v.Scope.Environments, id) {
				return conflict("environment %q scopes variable %q of project %q; change that scope first", env.Name, v.Name, p.Name)
			}
		}
	}
	res, err := q.exec(ctx, `DELETE FROM environments WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete environment: %w", err)
	}
	return mustAffect(res, "environment", id)
}

// checkNameFree refuses a name another object of the table already has.
func (q *Queries) checkNameFree(ctx context.Context, table, kind, name, exceptID string) error {
	var id string
	err := q.queryRow(ctx, `SELECT id FROM `+table+` WHERE name_key = ? AND id <> ?`, model.NameKey(name), exceptID).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check %s name: %w", kind, err)
	}
	return conflict("%s %q already exists (%s); choose another name", kind, name, id)
}

func mustAffect(res sql.Result, kind, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(kind, id)
	}
	return nil
}

// collect scans every row and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const projectGroupColumns = `id, name, description`

func scanProjectGroup(s scanner) (model.ProjectGroup, error) {
	var g model.ProjectGroup
	err := s.Scan(&g.ID, &g.Name, &g.Description)
	return g, err
}

// CreateProjectGroup validates and stores a new project group.
func (q *Queries) CreateProjectGroup(ctx context.Context, g *model.ProjectGroup) error {
	if err := g.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "project_groups", "project group", g.Name, ""); err != nil {
		return err
	}
	id, _, err := q.nextID(ctx, "ProjectGroups")
	if err != nil {
		return err
	}
	g.ID = id
	_, err = q.exec(ctx, `INSERT INTO project_groups (id, name, name_key, description) VALUES (?, ?, ?, ?)`,
		g.ID, g.Name, model.NameKey(g.Name), g.Description)
	if err != nil {
		return fmt.Errorf("create project group: %w", err)
	}
	return nil
}

// GetProjectGroup reads one project group by id.
func (q *Queries) GetProjectGroup(ctx context.Context, id string) (model.ProjectGroup, error) {
	g, err := scanProjectGroup(q.queryRow(ctx, `SELECT `+projectGroupColumns+` FROM project_groups WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return g, notFound("project group", id)
	}
	return g, err
}

// FindProjectGroup reads one project group by id or name.
func (q *Queries) FindProjectGroup(ctx context.Context, idOrName string) (model.ProjectGroup, error) {
	g, err := scanProjectGroup(q.queryRow(ctx, `SELECT `+projectGroupColumns+` FROM project_groups WHERE id = ? OR name_key = ?`,
		idOrName, model.NameKey(idOrName)))
	if errors.Is(err, sql.ErrNoRows) {
		return g, notFound("project group", idOrName)
	}
	return g, err
}

// ListProjectGroups returns a page of project groups by name and the total.
func (q *Queries) ListProjectGroups(ctx context.Context, opts ListOptions) ([]model.ProjectGroup, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM project_groups`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list project groups: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+projectGroupColumns+` FROM project_groups`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list project groups: %w", err)
	}
	out, err := collect(rows, scanProjectGroup)
	return out, total, err
}

// UpdateProjectGroup replaces a project group's fields.
func (q *Queries) UpdateProjectGroup(ctx context.Context, g *model.ProjectGroup) error {
	if err := g.Validate(); err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "project_groups", "project group", g.Name, g.ID); err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE project_groups SET name = ?, name_key = ?, description = ? WHERE id = ?`,
		g.Name, model.NameKey(g.Name), g.Description, g.ID)
	if err != nil {
		return fmt.Errorf("update project group: %w", err)
	}
	return mustAffect(res, "project group", g.ID)
}

// DeleteProjectGroup removes an empty project group.
func (q *Queries) DeleteProjectGroup(ctx context.Context, id string) error {
	g, err := q.GetProjectGroup(ctx, id)
	if err != nil {
		return err
	}
	n, err := q.count(ctx, `SELECT COUNT(*) FROM projects WHERE project_group_id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete project group: %w", err)
	}
	if n > 0 {
		return conflict("project group %q still holds %d projects; move or delete them first", g.Name, n)
	}
	res, err := q.exec(ctx, `DELETE FROM project_groups WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete project group: %w", err)
	}
	return mustAffect(res, "project group", id)
}

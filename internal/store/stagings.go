package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// GetStagingTemplate returns a project's staging template.
func (q *Queries) GetStagingTemplate(ctx context.Context, projectID string) (model.StagingTemplate, error) {
	var t model.StagingTemplate
	var doc string
	err := q.queryRow(ctx, `SELECT doc, version FROM staging_templates WHERE project_id = ?`, projectID).Scan(&doc, &t.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("staging template of project", projectID)
	}
	if err != nil {
		return t, fmt.Errorf("read staging template: %w", err)
	}
	version := t.Version
	if err := unmarshal(doc, &t); err != nil {
		return t, fmt.Errorf("read staging template of %s: %w", projectID, err)
	}
	t.ProjectID, t.Version = projectID, version
	t.Normalize()
	return t, nil
}

// SaveStagingTemplate creates or replaces a project's template. A version
// older than the stored one is refused, so two editors cannot overwrite
// each other.
func (q *Queries) SaveStagingTemplate(ctx context.Context, t *model.StagingTemplate) error {
	t.Normalize()
	if err := t.Validate(); err != nil {
		return err
	}
	if _, err := q.GetProject(ctx, t.ProjectID); err != nil {
		return err
	}
	doc, err := marshal(t)
	if err != nil {
		return err
	}
	old, err := q.GetStagingTemplate(ctx, t.ProjectID)
	switch {
	case errors.Is(err, ErrNotFound):
		t.Version = 1
		_, err = q.exec(ctx, `INSERT INTO staging_templates (project_id, doc, version) VALUES (?, ?, ?)`, t.ProjectID, doc, t.Version)
		return err
	case err != nil:
		return err
	case t.Version != 0 && t.Version != old.Version:
		return conflict("the staging template changed since you read it (version %d, now %d): read it again and redo your change", t.Version, old.Version)
	}
	t.Version = old.Version + 1
	_, err = q.exec(ctx, `UPDATE staging_templates SET doc = ?, version = ? WHERE project_id = ?`, doc, t.Version, t.ProjectID)
	return err
}

const stagingColumns = `id, project_id, name, state, reason, message, overrides, links, created_by, updated_by,
	created_at, updated_at, state_changed_at, archived_at, keep_until, task_id, last_check_at, last_check_code, version`

func scanStaging(s scanner) (model.Staging, error) {
	var st model.Staging
	var overrides, links string
	var created, updated, changed, archived, keep, checked int64
	var code sql.NullInt64
	err := s.Scan(&st.ID, &st.ProjectID, &st.Name, &st.State, &st.Reason, &st.Message, &overrides, &links, &st.CreatedBy, &st.UpdatedBy,
		&created, &updated, &changed, &archived, &keep, &st.TaskID, &checked, &code, &st.Version)
	if err != nil {
		return st, err
	}
	if err := unmarshal(overrides, &st.Overrides); err != nil {
		return st, fmt.Errorf("read staging %s: %w", st.ID, err)
	}
	if err := unmarshal(links, &st.Links); err != nil {
		return st, fmt.Errorf("read staging %s: %w", st.ID, err)
	}
	st.CreatedAt, st.UpdatedAt, st.StateChangedAt = fromMicros(created), fromMicros(updated), fromMicros(changed)
	st.ArchivedAt, st.KeepUntil, st.LastCheckAt = fromOptionalMicros(archived), fromOptionalMicros(keep), fromOptionalMicros(checked)
	if code.Valid {
		c := int(code.Int64)
		st.LastCheckCode = &c
	}
	return st, nil
}

// CreateStaging stores a new staging; its name is unique in the project.
func (q *Queries) CreateStaging(ctx context.Context, s *model.Staging) error {
	var taken string
	err := q.queryRow(ctx, `SELECT id FROM stagings WHERE project_id = ? AND name_key = ?`, s.ProjectID, strings.ToLower(s.Name)).Scan(&taken)
	if err == nil {
		return conflict("the project already has a staging called %q (%s): update it, or choose another name", s.Name, taken)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if s.ID, _, err = q.nextID(ctx, "Stagings"); err != nil {
		return err
	}
	now := fromMicros(toMicros(q.now()))
	s.CreatedAt, s.UpdatedAt, s.StateChangedAt, s.Version = now, now, now, 1
	overrides, links, err := stagingDocs(s)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO stagings (id, project_id, name, name_key, state, reason, message, overrides, links, created_by, updated_by,
		created_at, updated_at, state_changed_at, archived_at, keep_until, task_id, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.ProjectID, s.Name, strings.ToLower(s.Name), s.State, s.Reason, s.Message, overrides, links, s.CreatedBy, s.UpdatedBy,
		toMicros(now), toMicros(now), toMicros(now), optionalMicros(s.ArchivedAt), optionalMicros(s.KeepUntil), s.TaskID, s.Version)
	if err != nil {
		return fmt.Errorf("create staging: %w", err)
	}
	return nil
}

func stagingDocs(s *model.Staging) (string, string, error) {
	overrides, err := marshal(s.Overrides)
	if err != nil {
		return "", "", err
	}
	if s.Links == nil {
		s.Links = []model.StagingLink{}
	}
	links, err := marshal(s.Links)
	return overrides, links, err
}

// GetStaging returns a staging by id.
func (q *Queries) GetStaging(ctx context.Context, id string) (model.Staging, error) {
	s, err := scanStaging(q.queryRow(ctx, `SELECT `+stagingColumns+` FROM stagings WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("staging", id)
	}
	return s, err
}

// GetStagingByName returns a project's staging by name (any case).
func (q *Queries) GetStagingByName(ctx context.Context, projectID, name string) (model.Staging, error) {
	s, err := scanStaging(q.queryRow(ctx, `SELECT `+stagingColumns+` FROM stagings WHERE project_id = ? AND name_key = ?`, projectID, strings.ToLower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("staging", name)
	}
	return s, err
}

// ListStagings lists a project's stagings by name, or every project's
// when projectID is empty.
func (q *Queries) ListStagings(ctx context.Context, projectID string) ([]model.Staging, error) {
	query, args := `SELECT `+stagingColumns+` FROM stagings ORDER BY project_id, name_key`, []any{}
	if projectID != "" {
		query, args = `SELECT `+stagingColumns+` FROM stagings WHERE project_id = ? ORDER BY name_key`, []any{projectID}
	}
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list stagings: %w", err)
	}
	defer rows.Close()
	var out []model.Staging
	for rows.Next() {
		s, err := scanStaging(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// UpdateStaging writes a staging back; a stale version is a conflict.
// StateChangedAt moves when the state does.
func (q *Queries) UpdateStaging(ctx context.Context, s *model.Staging) error {
	old, err := q.GetStaging(ctx, s.ID)
	if err != nil {
		return err
	}
	if old.Version != s.Version {
		return conflict("staging %s changed meanwhile (version %d, now %d): read it again", s.Name, s.Version, old.Version)
	}
	if old.State != s.State {
		s.StateChangedAt = fromMicros(toMicros(q.now()))
	}
	overrides, links, err := stagingDocs(s)
	if err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE stagings SET state = ?, reason = ?, message = ?, overrides = ?, links = ?, updated_by = ?, updated_at = ?,
		state_changed_at = ?, archived_at = ?, keep_until = ?, task_id = ?, version = version + 1 WHERE id = ? AND version = ?`,
		s.State, s.Reason, s.Message, overrides, links, s.UpdatedBy, toMicros(s.UpdatedAt), toMicros(s.StateChangedAt),
		optionalMicros(s.ArchivedAt), optionalMicros(s.KeepUntil), s.TaskID, s.ID, s.Version)
	if err != nil {
		return fmt.Errorf("update staging %s: %w", s.Name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return conflict("staging %s changed meanwhile: read it again", s.Name)
	}
	s.Version++
	return nil
}

// ClaimStagingCheck marks a staging as checked now, unless another node
// did since lastCheck or an action has started: only the caller that gets
// true runs the check.
func (q *Queries) ClaimStagingCheck(ctx context.Context, id string, lastCheck *time.Time) (bool, error) {
	res, err := q.exec(ctx, `UPDATE stagings SET last_check_at = ? WHERE id = ? AND last_check_at = ? AND task_id = ''`,
		toMicros(q.now()), id, optionalMicros(lastCheck))
	if err != nil {
		return false, fmt.Errorf("claim staging check: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RecordStagingCheck keeps a check's exit code.
func (q *Queries) RecordStagingCheck(ctx context.Context, id string, code int) error {
	_, err := q.exec(ctx, `UPDATE stagings SET last_check_code = ? WHERE id = ?`, code, id)
	return err
}

// DeleteStaging removes a staging and its action history (the tasks and
// their logs stay).
func (q *Queries) DeleteStaging(ctx context.Context, id string) error {
	if _, err := q.exec(ctx, `DELETE FROM staging_actions WHERE staging_id = ?`, id); err != nil {
		return fmt.Errorf("delete staging actions: %w", err)
	}
	res, err := q.exec(ctx, `DELETE FROM stagings WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete staging: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("staging", id)
	}
	return nil
}

// AddStagingAction records an action and its task.
func (q *Queries) AddStagingAction(ctx context.Context, a *model.StagingActionRecord) error {
	a.At = fromMicros(toMicros(q.now()))
	_, err := q.exec(ctx, `INSERT INTO staging_actions (task_id, staging_id, action, by_user, at, summary) VALUES (?, ?, ?, ?, ?, ?)`,
		a.TaskID, a.StagingID, a.Action, a.By, toMicros(a.At), a.Summary)
	if err != nil {
		return fmt.Errorf("record staging action: %w", err)
	}
	return nil
}

// StagingActionOf returns the action a task does.
func (q *Queries) StagingActionOf(ctx context.Context, taskID string) (model.StagingActionRecord, error) {
	var a model.StagingActionRecord
	var at int64
	err := q.queryRow(ctx, `SELECT task_id, staging_id, action, by_user, at, summary FROM staging_actions WHERE task_id = ?`, taskID).
		Scan(&a.TaskID, &a.StagingID, &a.Action, &a.By, &at, &a.Summary)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("staging action of task", taskID)
	}
	a.At = fromMicros(at)
	return a, err
}

// ListStagingActions returns a staging's history, newest first, with each
// task's state.
func (q *Queries) ListStagingActions(ctx context.Context, stagingID string) ([]model.StagingActionRecord, error) {
	rows, err := q.query(ctx, `SELECT a.task_id, a.staging_id, a.action, a.by_user, a.at, a.summary, COALESCE(t.state, ''), t.completed_at
		FROM staging_actions a LEFT JOIN tasks t ON t.id = a.task_id WHERE a.staging_id = ? ORDER BY a.at DESC, a.task_id DESC`, stagingID)
	if err != nil {
		return nil, fmt.Errorf("list staging actions: %w", err)
	}
	defer rows.Close()
	var out []model.StagingActionRecord
	for rows.Next() {
		var a model.StagingActionRecord
		var at int64
		var ended sql.NullInt64
		if err := rows.Scan(&a.TaskID, &a.StagingID, &a.Action, &a.By, &at, &a.Summary, &a.State, &ended); err != nil {
			return nil, err
		}
		a.At, a.EndedAt = fromMicros(at), fromNullMicros(ended)
		out = append(out, a)
	}
	return out, rows.Err()
}

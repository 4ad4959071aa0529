package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

type runbookDoc struct {
	Description    string       `json:"description,omitempty"`
	Steps          []model.Step `json:"steps"`
	EnvironmentIDs []string     `json:"environmentIds,omitempty"`
}

const runbookColumns = `id, project_id, name, doc, published_release_id`

func scanRunbook(s scanner) (model.Runbook, error) {
	var r model.Runbook
	var doc string
	if err := s.Scan(&r.ID, &r.ProjectID, &r.Name, &doc, &r.PublishedSnapshotID); err != nil {
		return r, err
	}
	var d runbookDoc
	if err := unmarshal(doc, &d); err != nil {
		return r, fmt.Errorf("read runbook %s: %w", r.ID, err)
	}
	r.Description, r.Steps, r.EnvironmentIDs = d.Description, d.Steps, d.EnvironmentIDs
	if r.Steps == nil {
		r.Steps = []model.Step{}
	}
	return r, nil
}

// checkRunbook validates a runbook, gives its new steps ids, and returns
// its stored document. stored are its steps as saved before (none for a
// new runbook), whose sealed values steps sent without them keep.
func (q *Queries) checkRunbook(ctx context.Context, r *model.Runbook, stored []model.Step) (string, error) {
	if err := q.prepareLibrarySteps(ctx, r.Steps, stored); err != nil {
		var ve *model.ValidationError
		if errors.As(err, &ve) {
			ve.Subject = "runbook"
		}
		return "", err
	}
	d := model.DeploymentProcess{ProjectID: r.ProjectID, Steps: r.Steps}
	d.Normalize()
	r.Steps = d.Steps
	if err := r.Validate(); err != nil {
		return "", err
	}
	if _, err := q.GetProject(ctx, r.ProjectID); errors.Is(err, ErrNotFound) {
		return "", &model.ValidationError{Subject: "runbook", Problems: []string{fmt.Sprintf("projectId: project %q does not exist", r.ProjectID)}}
	} else if err != nil {
		return "", err
	}
	if err := checkScriptTemplates(&d); err != nil {
		return "", err
	}
	if err := q.checkStepEnvironments(ctx, &d); err != nil {
		return "", err
	}
	for _, id := range r.EnvironmentIDs {
		if _, err := q.GetEnvironment(ctx, id); errors.Is(err, ErrNotFound) {
			return "", &model.ValidationError{Subject: "runbook", Problems: []string{fmt.Sprintf("environmentIds: environment %q does not exist", id)}}
		} else if err != nil {
			return "", err
		}
	}
	for i := range r.Steps {
		if r.Steps[i].ID == "" {
			r.Steps[i].ID = newLocalID("step")
		}
	}
	return marshal(runbookDoc{Description: r.Description, Steps: r.Steps, EnvironmentIDs: r.EnvironmentIDs})
}

// CreateRunbook stores a runbook's draft.
func (q *Queries) CreateRunbook(ctx context.Context, r *model.Runbook) error {
	doc, err := q.checkRunbook(ctx, r, nil)
	if err != nil {
		return err
	}
	var taken string
	err = q.queryRow(ctx, `SELECT id FROM runbooks WHERE project_id = ? AND name_key = ?`, r.ProjectID, model.NameKey(r.Name)).Scan(&taken)
	if err == nil {
		return conflict("the project already has a runbook called %q (%s); choose another name", r.Name, taken)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if r.ID, _, err = q.nextID(ctx, "Runbooks"); err != nil {
		return err
	}
	r.PublishedSnapshotID = ""
	_, err = q.exec(ctx, `INSERT INTO runbooks (id, project_id, name, name_key, doc) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.ProjectID, r.Name, model.NameKey(r.Name), doc)
	if err != nil {
		return fmt.Errorf("create runbook: %w", err)
	}
	return nil
}

// GetRunbook reads a runbook.
func (q *Queries) GetRunbook(ctx context.Context, id string) (model.Runbook, error) {
	r, err := scanRunbook(q.queryRow(ctx, `SELECT `+runbookColumns+` FROM runbooks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("runbook", id)
	}
	return r, err
}

// ListRunbooks returns a project's runbooks (all projects' when empty).
func (q *Queries) ListRunbooks(ctx context.Context, projectID string) ([]model.Runbook, error) {
	where, args := []string{}, []any{}
	if projectID != "" {
		where, args = append(where, "project_id = ?"), append(args, projectID)
	}
	rows, err := q.query(ctx, `SELECT `+runbookColumns+` FROM runbooks`+whereClause(where)+` ORDER BY project_id, name_key`, args...)
	if err != nil {
		return nil, fmt.Errorf("list runbooks: %w", err)
	}
	return collect(rows, scanRunbook)
}

// UpdateRunbook replaces a runbook's draft; its published snapshot stays.
func (q *Queries) UpdateRunbook(ctx context.Context, r *model.Runbook) error {
	old, err := q.GetRunbook(ctx, r.ID)
	if err != nil {
		return err
	}
	doc, err := q.checkRunbook(ctx, r, old.Steps)
	if err != nil {
		return err
	}
	if old.ProjectID != r.ProjectID {
		return &model.ValidationError{Subject: "runbook", Problems: []string{"projectId: a runbook cannot move to another project"}}
	}
	r.PublishedSnapshotID = old.PublishedSnapshotID
	_, err = q.exec(ctx, `UPDATE runbooks SET name = ?, name_key = ?, doc = ? WHERE id = ?`, r.Name, model.NameKey(r.Name), doc, r.ID)
	return translateUnique(err, "the project already has a runbook called %q", r.Name)
}

// DeleteRunbook removes a runbook that has never run; its runs keep it.
func (q *Queries) DeleteRunbook(ctx context.Context, id string) error {
	r, err := q.GetRunbook(ctx, id)
	if err != nil {
		return err
	}
	n, err := q.count(ctx, `SELECT COUNT(*) FROM deployments WHERE runbook_id = ?`, id)
	if err != nil {
		return err
	}
	if n > 0 {
		return conflict("runbook %q has %d runs on record; it cannot be deleted", r.Name, n)
	}
	if _, err := q.exec(ctx, `DELETE FROM releases WHERE runbook_id = ?`, id); err != nil {
		return err
	}
	_, err = q.exec(ctx, `DELETE FROM runbooks WHERE id = ?`, id)
	return err
}

// PublishRunbook freezes the runbook's draft and the project's variables
// into a new snapshot (a release marked with the runbook; package versions
// chosen now) and makes it the one runs use.
func (q *Queries) PublishRunbook(ctx context.Context, id, by string) (model.Release, error) {
	return q.PublishRunbookFrom(ctx, id, by, nil)
}

// PublishRunbookFrom is PublishRunbook with the versions external feeds
// hold of the packages the runbook takes (read before the transaction).
func (q *Queries) PublishRunbookFrom(ctx context.Context, id, by string, feeds FeedVersions) (model.Release, error) {
	rb, err := q.GetRunbook(ctx, id)
	if err != nil {
		return model.Release{}, err
	}
	project, err := q.GetProject(ctx, rb.ProjectID)
	if err != nil {
		return model.Release{}, err
	}
	var n int
	if err := q.queryRow(ctx, `UPDATE runbooks SET snapshots = snapshots + 1 WHERE id = ? RETURNING snapshots`, id).Scan(&n); err != nil {
		return model.Release{}, fmt.Errorf("publish runbook %s: %w", rb.Name, err)
	}
	vars, err := q.releaseVariables(ctx, project)
	if err != nil {
		return model.Release{}, err
	}
	r := model.Release{ProjectID: rb.ProjectID, RunbookID: rb.ID, Version: fmt.Sprint(n), CreatedBy: by,
		Notes:           fmt.Sprintf("Snapshot %d of runbook %s", n, rb.Name),
		ProcessSnapshot: model.DeploymentProcess{ProjectID: rb.ProjectID, Steps: rb.Steps}, VariableSnapshot: vars}
	if err := r.Validate(); err != nil {
		return r, &model.ValidationError{Subject: "runbook " + rb.Name, Problems: []string{"the runbook has no enabled steps; add a step before publishing"}}
	}
	if err := q.snapshotScriptModules(ctx, &r.ProcessSnapshot); err != nil {
		return r, err
	}
	if err := q.choosePackages(ctx, &r, nil, feeds); err != nil {
		return r, err
	}
	if err := q.chooseChildren(ctx, &r); err != nil {
		return r, err
	}
	if err := q.insertRelease(ctx, &r, "runbook:"+strings.ToLower(rb.ID)+":"+r.Version); err != nil {
		return r, err
	}
	if _, err := q.exec(ctx, `UPDATE runbooks SET published_release_id = ? WHERE id = ?`, r.ID, id); err != nil {
		return r, err
	}
	return r, nil
}

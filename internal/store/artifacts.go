package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// AddArtifact records a file a task collected, numbering it.
func (q *Queries) AddArtifact(ctx context.Context, l Lease, a *model.Artifact) error {
	if err := q.Fence(ctx, l); err != nil {
		return err
	}
	if err := q.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM task_artifacts WHERE task_id = ?`, l.TaskID).Scan(&a.ID); err != nil {
		return fmt.Errorf("record artifact: %w", err)
	}
	a.TaskID = l.TaskID
	_, err := q.exec(ctx, `INSERT INTO task_artifacts (task_id, id, activity_id, name, file, size_bytes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.TaskID, a.ID, a.ActivityID, a.Name, a.File, a.SizeBytes, a.SHA256, toMicros(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("record artifact: %w", err)
	}
	return nil
}

const artifactColumns = `task_id, id, activity_id, name, file, size_bytes, sha256, created_at`

func scanArtifact(s scanner) (model.Artifact, error) {
	var a model.Artifact
	var at int64
	err := s.Scan(&a.TaskID, &a.ID, &a.ActivityID, &a.Name, &a.File, &a.SizeBytes, &a.SHA256, &at)
	a.CreatedAt = fromMicros(at)
	return a, err
}

// ListArtifacts lists a task's artifacts in the order they came.
func (q *Queries) ListArtifacts(ctx context.Context, taskID string) ([]model.Artifact, error) {
	rows, err := q.query(ctx, `SELECT `+artifactColumns+` FROM task_artifacts WHERE task_id = ? ORDER BY id`, taskID)
	if err != nil {
		return nil, fmt.Errorf("list artifacts: %w", err)
	}
	return collect(rows, scanArtifact)
}

// GetArtifact reads one artifact of a task.
func (q *Queries) GetArtifact(ctx context.Context, taskID string, id int) (model.Artifact, error) {
	a, err := scanArtifact(q.queryRow(ctx, `SELECT `+artifactColumns+` FROM task_artifacts WHERE task_id = ? AND id = ?`, taskID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("artifact", fmt.Sprintf("%s/%d", taskID, id))
	}
	return a, err
}

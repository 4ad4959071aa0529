package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// question is the part of an interruption kept as JSON.
type question struct {
	DeploymentID     string   `json:"deploymentId,omitempty"`
	StepID           string   `json:"stepId,omitempty"`
	Title            string   `json:"title"`
	Instructions     string   `json:"instructions,omitempty"`
	ResponsibleTeams []string `json:"responsibleTeams,omitempty"`
	MachineID        string   `json:"machineId,omitempty"`
	Error            string   `json:"error,omitempty"`
	Answers          []string `json:"answers"`
}

const interruptionColumns = `id, task_id, project_id, environment_id, activity_id, kind, question, created_at,
	taken_by, taken_at, answer, notes, answered_by, answered_at`

func scanInterruption(s scanner) (model.Interruption, error) {
	var i model.Interruption
	var doc string
	var created int64
	var taken, answered sql.NullInt64
	err := s.Scan(&i.ID, &i.TaskID, &i.ProjectID, &i.EnvironmentID, &i.ActivityID, &i.Kind, &doc, &created,
		&i.TakenBy, &taken, &i.Answer, &i.Notes, &i.AnsweredBy, &answered)
	if err != nil {
		return i, err
	}
	var qn question
	if err := unmarshal(doc, &qn); err != nil {
		return i, fmt.Errorf("read interruption %s: %w", i.ID, err)
	}
	i.DeploymentID, i.StepID, i.Title, i.Instructions = qn.DeploymentID, qn.StepID, qn.Title, qn.Instructions
	i.ResponsibleTeams, i.MachineID, i.Error, i.Answers = qn.ResponsibleTeams, qn.MachineID, qn.Error, qn.Answers
	i.CreatedAt = fromMicros(created)
	i.TakenAt, i.AnsweredAt = fromNullMicros(taken), fromNullMicros(answered)
	return i, nil
}

// CreateInterruption records a question of the task l holds.
func (q *Queries) CreateInterruption(ctx context.Context, l Lease, i *model.Interruption) error {
	if err := q.Fence(ctx, l); err != nil {
		return err
	}
	id, seq, err := q.nextID(ctx, "Interruptions")
	if err != nil {
		return err
	}
	i.ID, i.TaskID = id, l.TaskID
	i.CreatedAt = fromMicros(toMicros(q.now()))
	doc, err := marshal(question{DeploymentID: i.DeploymentID, StepID: i.StepID, Title: i.Title, Instructions: i.Instructions,
		ResponsibleTeams: i.ResponsibleTeams, MachineID: i.MachineID, Error: i.Error, Answers: i.Answers})
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO interruptions (id, seq, task_id, project_id, environment_id, activity_id, kind, question, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, i.ID, seq, i.TaskID, i.ProjectID, i.EnvironmentID, i.ActivityID, i.Kind, doc, toMicros(i.CreatedAt))
	if err != nil {
		return fmt.Errorf("create interruption: %w", err)
	}
	return nil
}

// GetInterruption reads one interruption.
func (q *Queries) GetInterruption(ctx context.Context, id string) (model.Interruption, error) {
	i, err := scanInterruption(q.queryRow(ctx, `SELECT `+interruptionColumns+` FROM interruptions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return i, notFound("interruption", id)
	}
	return i, err
}

// InterruptionFilter narrows a list of interruptions.
type InterruptionFilter struct {
	TaskID      string
	ActivityID  int // with TaskID: one node's questions
	PendingOnly bool
	Skip, Take  int
	// Visible limits the list to what the reader may see.
	Visible *access.Filter
}

// ListInterruptions returns interruptions, newest first, and the total.
func (q *Queries) ListInterruptions(ctx context.Context, f InterruptionFilter) ([]model.Interruption, int, error) {
	var where []string
	var args []any
	if f.TaskID != "" {
		where, args = append(where, "task_id = ?"), append(args, f.TaskID)
	}
	if f.ActivityID > 0 {
		where, args = append(where, "activity_id = ?"), append(args, f.ActivityID)
	}
	if f.PendingOnly {
		where = append(where, "answer = ''")
	}
	if cond, cargs := visibleWhere(f.Visible, "project_id", "environment_id"); cond != "" {
		where = append(where, "task_id IN (SELECT id FROM tasks WHERE "+cond+")")
		args = append(args, cargs...)
	}
	total, err := q.count(ctx, `SELECT COUNT(*) FROM interruptions`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list interruptions: %w", err)
	}
	page := ListOptions{Skip: f.Skip, Take: f.Take}.page()
	rows, err := q.query(ctx, `SELECT `+interruptionColumns+` FROM interruptions`+whereClause(where)+` ORDER BY seq DESC`+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list interruptions: %w", err)
	}
	out, err := collect(rows, scanInterruption)
	return out, total, err
}

// lockInterruption reads an interruption for changing it, locking its
// task's row first (as SuspendTask does) and then its own.
func (q *Queries) lockInterruption(ctx context.Context, id string) (model.Interruption, error) {
	var taskID string
	err := q.queryRow(ctx, `SELECT task_id FROM interruptions WHERE id = ?`, id).Scan(&taskID)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Interruption{}, notFound("interruption", id)
	}
	if err != nil {
		return model.Interruption{}, err
	}
	var state model.TaskState
	if err := q.queryRow(ctx, `SELECT state FROM tasks WHERE id = ?`+q.d.forUpdate(false), taskID).Scan(&state); err != nil {
		return model.Interruption{}, fmt.Errorf("lock task %s: %w", taskID, err)
	}
	i, err := scanInterruption(q.queryRow(ctx, `SELECT `+interruptionColumns+` FROM interruptions WHERE id = ?`+q.d.forUpdate(false), id))
	if errors.Is(err, sql.ErrNoRows) {
		return i, notFound("interruption", id)
	}
	return i, err
}

func answeredConflict(i model.Interruption) error {
	return conflict("interruption %s was already answered %s by %s at %s; it cannot be answered again",
		i.ID, i.Answer, i.AnsweredBy, i.AnsweredAt.UTC().Format("2006-01-02 15:04:05 UTC"))
}

// TakeResponsibility records who is handling an interruption; taking it
// over from someone else is allowed, as in Octopus.
func (q *Queries) TakeResponsibility(ctx context.Context, id, user string) (model.Interruption, error) {
	i, err := q.lockInterruption(ctx, id)
	if err != nil {
		return i, err
	}
	if !i.Pending() {
		return i, answeredConflict(i)
	}
	if _, err := q.exec(ctx, `UPDATE interruptions SET taken_by = ?, taken_at = ? WHERE id = ?`, user, toMicros(q.now()), id); err != nil {
		return i, fmt.Errorf("take responsibility for %s: %w", id, err)
	}
	return q.GetInterruption(ctx, id)
}

// AnswerInterruption records the answer (once) and puts the waiting task
// back in the queue, so a node picks it up where it stopped.
func (q *Queries) AnswerInterruption(ctx context.Context, id, user, answer, notes string) (model.Interruption, error) {
	i, err := q.lockInterruption(ctx, id)
	if err != nil {
		return i, err
	}
	if !i.Pending() {
		return i, answeredConflict(i)
	}
	answer, err = i.CheckAnswer(answer)
	if err != nil {
		return i, &model.ValidationError{Subject: "answer", Problems: []string{err.Error()}}
	}
	taken := i.TakenBy
	if taken == "" {
		taken = user
	}
	now := toMicros(q.now())
	_, err = q.exec(ctx, `UPDATE interruptions SET answer = ?, notes = ?, answered_by = ?, answered_at = ?,
		taken_by = ?, taken_at = COALESCE(taken_at, ?) WHERE id = ?`, answer, strings.TrimSpace(notes), user, now, taken, now, id)
	if err != nil {
		return i, fmt.Errorf("answer interruption %s: %w", id, err)
	}
	if err := q.WakeTask(ctx, i.TaskID); err != nil {
		return i, err
	}
	return q.GetInterruption(ctx, id)
}

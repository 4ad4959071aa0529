package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

const activityColumns = `task_id, id, parent_id, kind, name, state, step_id, started_at, ended_at,
	script_ticket, next_script_log_seq, exit_code, machine_id, outputs`

func scanActivity(s scanner) (model.Activity, error) {
	var a model.Activity
	var started, ended, exit sql.NullInt64
	var outputs string
	err := s.Scan(&a.TaskID, &a.ID, &a.ParentID, &a.Kind, &a.Name, &a.State, &a.StepID, &started, &ended,
		&a.ScriptTicket, &a.NextScriptLogSeq, &exit, &a.MachineID, &outputs)
	if err == nil && outputs != "" {
		err = unmarshal(outputs, &a.Outputs)
	}
	a.StartedAt, a.EndedAt = fromNullMicros(started), fromNullMicros(ended)
	if exit.Valid {
		code := int(exit.Int64)
		a.ExitCode = &code
	}
	return a, err
}

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

// CreateActivity adds a node to a task's log tree, numbering it.
func (q *Queries) CreateActivity(ctx context.Context, l Lease, a *model.Activity) error {
	if err := q.Fence(ctx, l); err != nil {
		return err
	}
	if err := q.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM task_activities WHERE task_id = ?`, l.TaskID).Scan(&a.ID); err != nil {
		return fmt.Errorf("create activity: %w", err)
	}
	a.TaskID = l.TaskID
	_, err := q.exec(ctx, `INSERT INTO task_activities (`+activityColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')`,
		a.TaskID, a.ID, a.ParentID, a.Kind, a.Name, a.State, a.StepID, nullMicros(a.StartedAt), nullMicros(a.EndedAt),
		a.ScriptTicket, a.NextScriptLogSeq, nullInt(a.ExitCode), a.MachineID)
	if err != nil {
		return fmt.Errorf("create activity: %w", err)
	}
	return nil
}

// UpdateActivity saves an activity's progress. The script log position is
// not among it: SetScriptLogSeq moves that, with the lines it covers.
func (q *Queries) UpdateActivity(ctx context.Context, l Lease, a *model.Activity) error {
	if err := q.Fence(ctx, l); err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE task_activities SET name = ?, state = ?, started_at = ?, ended_at = ?,
		script_ticket = ?, exit_code = ? WHERE task_id = ? AND id = ?`,
		a.Name, a.State, nullMicros(a.StartedAt), nullMicros(a.EndedAt), a.ScriptTicket,
		nullInt(a.ExitCode), l.TaskID, a.ID)
	if err != nil {
		return fmt.Errorf("update activity: %w", err)
	}
	return mustAffect(res, "activity", fmt.Sprint(a.ID))
}

// SetActivityOutputs records a target node's output variables. Call it in
// the transaction that appends the lines that set them.
func (q *Queries) SetActivityOutputs(ctx context.Context, l Lease, activityID int, outputs []model.OutputVariable) error {
	text, err := marshal(outputs)
	if err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE task_activities SET outputs = ? WHERE task_id = ? AND id = ?`, text, l.TaskID, activityID)
	if err != nil {
		return fmt.Errorf("record output variables: %w", err)
	}
	return mustAffect(res, "activity", fmt.Sprint(activityID))
}

// SetScriptLogSeq records how much of a target's script output the task
// log holds. Call it in the transaction that appends those lines, so after a
// restart reading resumes exactly where the stored log ends.
func (q *Queries) SetScriptLogSeq(ctx context.Context, l Lease, activityID int, next int64) error {
	res, err := q.exec(ctx, `UPDATE task_activities SET next_script_log_seq = ? WHERE task_id = ? AND id = ?`, next, l.TaskID, activityID)
	if err != nil {
		return fmt.Errorf("record script log position: %w", err)
	}
	return mustAffect(res, "activity", fmt.Sprint(activityID))
}

// ListActivities returns a task's log tree nodes in creation order.
func (q *Queries) ListActivities(ctx context.Context, taskID string) ([]model.Activity, error) {
	rows, err := q.query(ctx, `SELECT `+activityColumns+` FROM task_activities WHERE task_id = ? ORDER BY id`, taskID)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	return collect(rows, scanActivity)
}

// logBatch bounds the rows of one INSERT, well under both databases'
// parameter limits.
const logBatch = 200

// AppendLog adds lines to the log of the task l leases, numbering them.
// The numbering and the lease check are one statement, so lines from a
// node that lost the task are refused.
func (q *Queries) AppendLog(ctx context.Context, l Lease, lines []model.LogLine) error {
	return q.appendLog(ctx, l.TaskID, &l.Epoch, lines)
}

// AppendLogUnleased adds lines to a task no node runs, such as one canceled
// while it was queued.
func (q *Queries) AppendLogUnleased(ctx context.Context, taskID string, lines []model.LogLine) error {
	return q.appendLog(ctx, taskID, nil, lines)
}

func (q *Queries) appendLog(ctx context.Context, taskID string, epoch *int64, lines []model.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	query := `UPDATE tasks SET next_log_seq = next_log_seq + ? WHERE id = ?`
	args := []any{len(lines), taskID}
	if epoch != nil {
		query += ` AND lease_epoch = ?`
		args = append(args, *epoch)
	}
	var next int64
	err := q.queryRow(ctx, query+` RETURNING next_log_seq`, args...).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		if epoch != nil {
			return fmt.Errorf("append to log of %s: %w", taskID, ErrLeaseLost)
		}
		return notFound("task", taskID)
	}
	if err != nil {
		return fmt.Errorf("append to log of %s: %w", taskID, err)
	}
	first := next - int64(len(lines))
	for i := range lines {
		lines[i].Seq = first + int64(i)
	}
	for start := 0; start < len(lines); start += logBatch {
		chunk := lines[start:min(start+logBatch, len(lines))]
		var b strings.Builder
		b.WriteString(`INSERT INTO task_log (task_id, seq, activity_id, at, level, text) VALUES `)
		args := make([]any, 0, len(chunk)*6)
		for i, ln := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?)")
			args = append(args, taskID, ln.Seq, ln.ActivityID, toMicros(ln.Time), ln.Level, ln.Text)
		}
		if _, err := q.exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("append to log of %s: %w", taskID, err)
		}
	}
	return nil
}

// ReadLog returns up to limit lines of a task's log with Seq > after.
func (q *Queries) ReadLog(ctx context.Context, taskID string, after int64, limit int) ([]model.LogLine, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := q.query(ctx, `SELECT seq, activity_id, at, level, text FROM task_log
		WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?`, taskID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read log of %s: %w", taskID, err)
	}
	return collect(rows, func(s scanner) (model.LogLine, error) {
		var ln model.LogLine
		var at int64
		err := s.Scan(&ln.Seq, &ln.ActivityID, &at, &ln.Level, &ln.Text)
		ln.Time = fromMicros(at)
		return ln, err
	})
}

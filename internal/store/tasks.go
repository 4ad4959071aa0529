package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// Lease is a node's claim on a running task. Epoch grows with every claim,
// and every write for the task checks it, so a node that lost the task (its
// lease expired and another node took it) cannot change it any more.
type Lease struct {
	TaskID string
	Epoch  int64
}

// Claim is a task a node has taken to run.
type Claim struct {
	Task  model.Task
	Lease Lease
}

const taskColumns = `id, kind, description, state, deployment_id, project_id, environment_id,
	queued_at, started_at, completed_at, error, cancel_requested, not_before, not_after, parent_task_id, priority, lease_owner`

func scanTask(s scanner) (model.Task, error) {
	var t model.Task
	var queued, notBefore, notAfter int64
	var started, completed sql.NullInt64
	err := s.Scan(&t.ID, &t.Kind, &t.Description, &t.State, &t.DeploymentID, &t.ProjectID, &t.EnvironmentID,
		&queued, &started, &completed, &t.Error, &t.CancelRequested, &notBefore, &notAfter, &t.ParentTaskID, &t.Priority, &t.Node)
	t.QueuedAt = fromMicros(queued)
	t.StartedAt, t.CompletedAt = fromNullMicros(started), fromNullMicros(completed)
	t.NotBefore, t.NotAfter = fromOptionalMicros(notBefore), fromOptionalMicros(notAfter)
	return t, err
}

// fromOptionalMicros reads a time stored as 0 when absent.
func fromOptionalMicros(v int64) *time.Time {
	if v == 0 {
		return nil
	}
	t := fromMicros(v)
	return &t
}

func optionalMicros(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return toMicros(*t)
}

// CreateTask queues a new task.
func (q *Queries) CreateTask(ctx context.Context, t *model.Task) error {
	id, seq, err := q.nextID(ctx, "Tasks")
	if err != nil {
		return err
	}
	t.ID, t.State = id, model.TaskQueued
	t.QueuedAt = fromMicros(toMicros(q.now()))
	_, err = q.exec(ctx, `INSERT INTO tasks (id, seq, kind, description, state, deployment_id, project_id, environment_id, queued_at, not_before, not_after, parent_task_id, priority)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, seq, t.Kind, t.Description, t.State, t.DeploymentID, t.ProjectID, t.EnvironmentID, toMicros(t.QueuedAt),
		optionalMicros(t.NotBefore), optionalMicros(t.NotAfter), t.ParentTaskID, t.Priority)
	if err != nil {
		return fmt.Errorf("create task: %w", err)
	}
	return q.notifyQueue(ctx)
}

// QueueChannel is the PostgreSQL notification channel that says tasks are
// ready to be claimed.
const QueueChannel = "pulpo_tasks"

// notifyQueue wakes every node listening (PostgreSQL delivers the
// notification when the transaction commits, so nodes never look early).
// SQLite has one node, which its own code wakes.
func (q *Queries) notifyQueue(ctx context.Context) error {
	if q.d != dialectPostgres {
		return nil
	}
	if _, err := q.exec(ctx, `SELECT pg_notify(?, '')`, QueueChannel); err != nil {
		return fmt.Errorf("notify nodes of queued work: %w", err)
	}
	return nil
}

// GetTask reads one task by id.
func (q *Queries) GetTask(ctx context.Context, id string) (model.Task, error) {
	t, err := scanTask(q.queryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("task", id)
	}
	return t, err
}

// TaskFilter narrows a task list.
type TaskFilter struct {
	Skip, Take    int
	IDs           []string
	States        []model.TaskState
	ProjectID     string
	EnvironmentID string
	// ParentTaskID lists the tasks a task started.
	ParentTaskID string
	// Visible limits the list to what the reader may see.
	Visible *access.Filter
}

// ListTasks returns a page of tasks, newest first, and the total.
func (q *Queries) ListTasks(ctx context.Context, f TaskFilter) ([]model.Task, int, error) {
	var where []string
	var args []any
	if len(f.IDs) > 0 {
		where = append(where, "id IN ("+placeholders(len(f.IDs))+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	if f.ProjectID != "" {
		where, args = append(where, "project_id = ?"), append(args, f.ProjectID)
	}
	if f.EnvironmentID != "" {
		where, args = append(where, "environment_id = ?"), append(args, f.EnvironmentID)
	}
	if f.ParentTaskID != "" {
		where, args = append(where, "parent_task_id = ?"), append(args, f.ParentTaskID)
	}
	if cond, cargs := visibleWhere(f.Visible, "project_id", "environment_id"); cond != "" {
		where, args = append(where, cond), append(args, cargs...)
	}
	total, err := q.count(ctx, `SELECT COUNT(*) FROM tasks`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list tasks: %w", err)
	}
	page := ListOptions{Skip: f.Skip, Take: f.Take}.page()
	rows, err := q.query(ctx, `SELECT `+taskColumns+` FROM tasks`+whereClause(where)+` ORDER BY seq DESC`+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list tasks: %w", err)
	}
	out, err := collect(rows, scanTask)
	return out, total, err
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ClaimTasks takes up to n tasks for node (none while it is drained, read
// in the same statement as the queue, so a drain is never overtaken by a
// claim already under way): first those whose node died
// (their lease lapsed) so they resume, then queued ones whose time has come,
// by priority, and among equals fairly between projects (a project with
// fewer tasks running goes first), then oldest first.
func (q *Queries) ClaimTasks(ctx context.Context, node string, n int, leaseFor time.Duration) ([]Claim, error) {
	if n <= 0 {
		return nil, nil
	}
	now := toMicros(q.now())
	due := `((state = ? AND not_before <= ?) OR (state IN (?, ?) AND lease_expires_at < ?))`
	dueArgs := []any{model.TaskQueued, now, model.TaskExecuting, model.TaskCanceling, now}
	// Candidates: each project's first n by its own order, so fairness can
	// pick among projects without reading the whole queue.
	rows, err := q.query(ctx, `SELECT id, project_id, priority, seq, resuming FROM (
			SELECT id, project_id, priority, seq, CASE WHEN state = ? THEN 0 ELSE 1 END AS resuming,
				ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY CASE WHEN state = ? THEN 0 ELSE 1 END DESC, priority DESC, seq) AS rn
			FROM tasks WHERE `+due+`
				AND NOT EXISTS (SELECT 1 FROM nodes WHERE name = ? AND draining = ?)) c
		WHERE rn <= ?`, append(append([]any{model.TaskQueued, model.TaskQueued}, dueArgs...), node, true, n)...)
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	type candidate struct {
		id, project string
		priority    int
		seq         int64
		resuming    int
	}
	cands, err := collect(rows, func(s scanner) (candidate, error) {
		var c candidate
		return c, s.Scan(&c.id, &c.project, &c.priority, &c.seq, &c.resuming)
	})
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	if len(cands) == 0 {
		return nil, nil
	}
	running := map[string]int{}
	rows, err = q.query(ctx, `SELECT project_id, COUNT(*) FROM tasks WHERE state IN (?, ?) AND lease_expires_at >= ? GROUP BY project_id`,
		model.TaskExecuting, model.TaskCanceling, now)
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	if _, err := collect(rows, func(s scanner) (struct{}, error) {
		var p string
		var c int
		err := s.Scan(&p, &c)
		running[p] = c
		return struct{}{}, err
	}); err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	var order []string
	for len(order) < n && len(cands) > 0 {
		best := 0
		for i, c := range cands[1:] {
			b := cands[best]
			switch {
			case c.resuming != b.resuming:
				if c.resuming > b.resuming {
					best = i + 1
				}
			case c.priority != b.priority:
				if c.priority > b.priority {
					best = i + 1
				}
			case running[c.project] != running[b.project]:
				if running[c.project] < running[b.project] {
					best = i + 1
				}
			case c.seq < b.seq:
				best = i + 1
			}
		}
		order = append(order, cands[best].id)
		running[cands[best].project]++
		cands = append(cands[:best], cands[best+1:]...)
	}
	// Lock what was picked; on PostgreSQL another node may hold some, which
	// are skipped (it is claiming them).
	args := append(appendStrings(nil, order), dueArgs...)
	rows, err = q.query(ctx, `SELECT id FROM tasks WHERE id IN (`+placeholders(len(order))+`) AND `+due+q.d.forUpdate(true), args...)
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	locked, err := collect(rows, func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	isLocked := map[string]bool{}
	for _, id := range locked {
		isLocked[id] = true
	}
	claims := make([]Claim, 0, len(locked))
	for _, id := range order {
		if !isLocked[id] {
			continue
		}
		var epoch int64
		err := q.queryRow(ctx, `UPDATE tasks SET
				state = CASE WHEN state = ? THEN ? ELSE state END,
				started_at = COALESCE(started_at, ?),
				lease_owner = ?, lease_expires_at = ?, lease_epoch = lease_epoch + 1
			WHERE id = ? RETURNING lease_epoch`,
			model.TaskQueued, model.TaskExecuting, now, node, now+leaseFor.Microseconds(), id).Scan(&epoch)
		if err != nil {
			return nil, fmt.Errorf("claim task %s: %w", id, err)
		}
		t, err := q.GetTask(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("claim task %s: %w", id, err)
		}
		claims = append(claims, Claim{Task: t, Lease: Lease{TaskID: id, Epoch: epoch}})
	}
	return claims, nil
}

// ReleaseLeases gives up the leases node holds, so its tasks can be claimed
// at once. A node calls it as it starts: a lease it still holds belongs to
// its previous life, whose work must be resumed, not waited for.
func (q *Queries) ReleaseLeases(ctx context.Context, node string) (int, error) {
	res, err := q.exec(ctx, `UPDATE tasks SET lease_expires_at = 0 WHERE lease_owner = ? AND state IN (?, ?)`,
		node, model.TaskExecuting, model.TaskCanceling)
	if err != nil {
		return 0, fmt.Errorf("release leases of %s: %w", node, err)
	}
	n, err := res.RowsAffected()
	if err == nil && n > 0 {
		err = q.notifyQueue(ctx) // other nodes may take them at once
	}
	return int(n), err
}

// RenewLease extends a lease. It returns ErrLeaseLost when the task was
// claimed by someone else meanwhile, and reports whether cancellation was
// requested, so a node learns of it even when the request reached another node.
func (q *Queries) RenewLease(ctx context.Context, l Lease, leaseFor time.Duration) (cancelRequested bool, err error) {
	err = q.queryRow(ctx, `UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND lease_epoch = ? RETURNING cancel_requested`,
		toMicros(q.now())+leaseFor.Microseconds(), l.TaskID, l.Epoch).Scan(&cancelRequested)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("renew lease of %s: %w", l.TaskID, ErrLeaseLost)
	}
	if err != nil {
		return false, fmt.Errorf("renew lease of %s: %w", l.TaskID, err)
	}
	return cancelRequested, nil
}

// Fence fails with ErrLeaseLost unless l is still the task's lease. Call it
// inside a transaction that writes on the task's behalf: on PostgreSQL it
// also locks the task row until the transaction ends, so no claim can slip
// in between.
func (q *Queries) Fence(ctx context.Context, l Lease) error {
	res, err := q.exec(ctx, `UPDATE tasks SET lease_epoch = lease_epoch WHERE id = ? AND lease_epoch = ?`, l.TaskID, l.Epoch)
	if err != nil {
		return fmt.Errorf("check lease of %s: %w", l.TaskID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("task %s: %w", l.TaskID, ErrLeaseLost)
	}
	return nil
}

// FinishTask records a task's final state and gives up its lease.
func (q *Queries) FinishTask(ctx context.Context, l Lease, state model.TaskState, errMsg string) error {
	if !state.Finished() {
		return fmt.Errorf("finish task %s: %s is not a final state", l.TaskID, state)
	}
	res, err := q.exec(ctx, `UPDATE tasks SET state = ?, error = ?, completed_at = ?, lease_expires_at = 0
		WHERE id = ? AND lease_epoch = ?`, state, errMsg, toMicros(q.now()), l.TaskID, l.Epoch)
	if err != nil {
		return fmt.Errorf("finish task %s: %w", l.TaskID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("finish task %s: %w", l.TaskID, ErrLeaseLost)
	}
	return nil
}

// SuspendTask parks a running task that waits for people or for the tasks
// it started: it gives up its lease and slot, and no node claims it until
// WakeTask. When every question was answered and every child task finished
// meanwhile, nothing changes and it returns false: the caller goes on. The task row is locked
// first, as AnswerInterruption does, so an answer and a suspension cannot
// pass each other.
func (q *Queries) SuspendTask(ctx context.Context, l Lease) (bool, error) {
	var epoch int64
	var state model.TaskState
	err := q.queryRow(ctx, `SELECT lease_epoch, state FROM tasks WHERE id = ?`+q.d.forUpdate(false), l.TaskID).Scan(&epoch, &state)
	if err != nil {
		return false, fmt.Errorf("suspend task %s: %w", l.TaskID, err)
	}
	if epoch != l.Epoch || state != model.TaskExecuting {
		return false, fmt.Errorf("suspend task %s: %w", l.TaskID, ErrLeaseLost)
	}
	pending, err := q.count(ctx, `SELECT COUNT(*) FROM interruptions WHERE task_id = ? AND answer = ''`, l.TaskID)
	if err != nil {
		return false, err
	}
	running, err := q.count(ctx, `SELECT COUNT(*) FROM tasks WHERE parent_task_id = ? AND state NOT IN (?, ?, ?)`,
		l.TaskID, model.TaskSuccess, model.TaskFailed, model.TaskCanceled)
	if err != nil || pending+running == 0 {
		return false, err
	}
	if _, err := q.exec(ctx, `UPDATE tasks SET state = ?, lease_expires_at = 0 WHERE id = ?`, model.TaskWaiting, l.TaskID); err != nil {
		return false, fmt.Errorf("suspend task %s: %w", l.TaskID, err)
	}
	return true, nil
}

// WakeTask queues a waiting task again, to go on where it stopped; a task
// not waiting is left as it is (it has not suspended yet, and will find
// the answer before it does).
func (q *Queries) WakeTask(ctx context.Context, id string) error {
	if _, err := q.exec(ctx, `UPDATE tasks SET state = ? WHERE id = ? AND state = ?`, model.TaskQueued, id, model.TaskWaiting); err != nil {
		return fmt.Errorf("wake task %s: %w", id, err)
	}
	return q.notifyQueue(ctx)
}

// RequestCancel cancels a queued task at once and asks a running one to
// stop; the node running it finishes the job. It returns the task as it is now.
func (q *Queries) RequestCancel(ctx context.Context, id string) (model.Task, error) {
	t, err := scanTask(q.queryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = ?`+q.d.forUpdate(false), id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("task", id)
	}
	if err != nil {
		return t, fmt.Errorf("cancel task %s: %w", id, err)
	}
	switch t.State {
	case model.TaskQueued:
		if t.StartedAt != nil {
			// Woken from waiting and not picked up yet: the handler closes
			// what the task opened.
			_, err = q.exec(ctx, `UPDATE tasks SET cancel_requested = ? WHERE id = ?`, true, id)
			break
		}
		_, err = q.exec(ctx, `UPDATE tasks SET state = ?, cancel_requested = ?, completed_at = ?, error = ? WHERE id = ?`,
			model.TaskCanceled, true, toMicros(q.now()), "canceled before it started", id)
		if err == nil && t.ParentTaskID != "" {
			err = q.WakeTask(ctx, t.ParentTaskID) // a parent waiting for it goes on
		}
	case model.TaskWaiting:
		// Its questions are closed, and a node runs the task once more to
		// end it as canceled, closing what it opened.
		if _, err = q.exec(ctx, `UPDATE interruptions SET answer = ?, notes = ?, answered_by = ?, answered_at = ?
			WHERE task_id = ? AND answer = ''`, model.AnswerCanceled, "the task was canceled", "pulpo", toMicros(q.now()), id); err != nil {
			break
		}
		if _, err = q.exec(ctx, `UPDATE tasks SET state = ?, cancel_requested = ? WHERE id = ?`, model.TaskQueued, true, id); err == nil {
			err = q.notifyQueue(ctx)
		}
	case model.TaskExecuting:
		_, err = q.exec(ctx, `UPDATE tasks SET state = ?, cancel_requested = ? WHERE id = ?`, model.TaskCanceling, true, id)
	case model.TaskCanceling:
		return t, nil
	default:
		return t, conflict("task %s has already finished (%s); there is nothing to cancel", id, t.State)
	}
	if err != nil {
		return t, fmt.Errorf("cancel task %s: %w", id, err)
	}
	return q.GetTask(ctx, id)
}

package staging

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
)

// Handler runs staging tasks.
func (s *Service) Handler() tasks.Handler { return handler{s} }

type handler struct{ s *Service }

// Execute runs the action's control script, then info after those that
// leave the staging up, keeping its links.
func (h handler) Execute(ctx context.Context, run *tasks.Run) error {
	q := run.Store().Read()
	rec, err := q.StagingActionOf(ctx, run.Task.ID)
	if err != nil {
		return err
	}
	st, err := q.GetStaging(ctx, rec.StagingID)
	if err != nil {
		return err
	}
	p, err := q.GetProject(ctx, st.ProjectID)
	if err != nil {
		return err
	}
	t, err := q.GetStagingTemplate(ctx, st.ProjectID)
	if err != nil {
		return err
	}
	action := rec.Action
	body := action
	if action == model.StagingRestore && strings.TrimSpace(t.Scripts.Restore) == "" {
		body = model.StagingCreate // without a restore script, restoring is creating again
	}
	sc, err := prepare(q, p, t, st, body)
	if err != nil {
		return err
	}
	run.SetMasker(sc.masker)
	run.Logf(0, model.LevelHighlight, "%s (asked by %s)", run.Task.Description, rec.By)
	if rec.Summary != "" {
		run.Logf(0, model.LevelInfo, "Configuration: %s", rec.Summary)
	}
	if err := h.runScript(ctx, run, t, sc, body); err != nil {
		return err
	}
	if action == model.StagingArchive || action == model.StagingCleanup || strings.TrimSpace(t.Scripts.Info) == "" {
		return nil
	}
	info, err := prepare(q, p, t, st, model.StagingInfo)
	if err != nil {
		return err
	}
	res, err := h.s.cfg.Engine.RunWorkerScript(ctx, run, "Info", t.WorkerPoolID, info.run)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("the info script failed (exit %d): %s", res.ExitCode, lastLines(res.Output))
	}
	links := model.ParseStagingLinks(res.Output)
	run.Logf(0, model.LevelInfo, "%d link(s) from info", len(links))
	return run.Tx(ctx, func(q *store.Queries) error {
		cur, err := q.GetStaging(ctx, st.ID)
		if err != nil {
			return err
		}
		cur.Links = links
		return q.UpdateStaging(ctx, &cur)
	})
}

func (h handler) runScript(ctx context.Context, run *tasks.Run, t model.StagingTemplate, sc script, action model.StagingAction) error {
	name := strings.ToUpper(string(action[:1])) + strings.ReplaceAll(string(action[1:]), "_", " ")
	res, err := h.s.cfg.Engine.RunWorkerScript(ctx, run, name, t.WorkerPoolID, sc.run)
	switch {
	case errors.Is(err, engine.ErrScriptTimeout):
		return fmt.Errorf("%s ran longer than %s and was stopped: %s", sc.run.What, t.ScriptTimeout.D, lastLines(res.Output))
	case err != nil:
		return err
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case res.ExitCode != 0:
		return fmt.Errorf("%s failed (exit %d): %s", sc.run.What, res.ExitCode, lastLines(res.Output))
	}
	return nil
}

// lastLines is the end of a script's output, for the staging's message.
func lastLines(lines []string) string {
	const keep = 20
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	text := strings.TrimSpace(strings.Join(lines, "\n"))
	if text == "" {
		return "(no output)"
	}
	return text
}

// Finished moves the staging on in the transaction that ends its task, so
// a staging is never left busy with a task that is over.
func (h handler) Finished(ctx context.Context, q *store.Queries, task model.Task, state model.TaskState) error {
	rec, err := q.StagingActionOf(ctx, task.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := q.GetStaging(ctx, rec.StagingID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && st.TaskID != task.ID) {
		return nil
	}
	if err != nil {
		return err
	}
	t, err := q.GetStagingTemplate(ctx, st.ProjectID)
	if err != nil {
		return err
	}
	old := st.State
	st.TaskID = ""
	now := q.Now().UTC()
	if state == model.TaskSuccess {
		switch rec.Action {
		case model.StagingCleanup:
			if err := q.DeleteStaging(ctx, st.ID); err != nil {
				return err
			}
			h.s.notice(st.ID, old, "")
			return nil
		case model.StagingArchive:
			if strings.TrimSpace(t.Scripts.ArchiveCheck) == "" {
				st.State, st.ArchivedAt = model.StagingArchived, &now
			}
		default:
			// Pending until check says it is up; without a check, up now.
			if strings.TrimSpace(t.Scripts.Check) == "" {
				st.State = model.StagingRunning
			}
		}
	} else {
		msg := task.Error
		if done, err := q.GetTask(ctx, task.ID); err == nil && done.Error != "" {
			msg = done.Error // the error is recorded in this transaction
		}
		if state == model.TaskCanceled {
			msg = "the " + string(rec.Action) + " was canceled"
		}
		if rec.Action == model.StagingCleanup {
			st.State = model.StagingCleanupFailed
		} else {
			st.State = model.StagingFailure
		}
		st.Reason, st.Message = model.FailureAction, msg
	}
	if err := q.UpdateStaging(ctx, &st); err != nil {
		return err
	}
	h.s.notice(st.ID, old, st.State)
	return nil
}

// notice queues a state change for the notify script; a full queue drops
// it rather than hold up the change.
func (s *Service) notice(id string, old, new model.StagingState) {
	if old == new {
		return
	}
	select {
	case s.notices <- notice{stagingID: id, old: old, new: new}:
	default:
		s.cfg.Logger.Warn("staging notifications are backed up; one was dropped", "staging", id)
	}
}

// notify runs the notify script for each state change, one at a time.
func (s *Service) notifyLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-s.notices:
			if err := s.runNotify(ctx, n); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("staging notify script", "staging", n.stagingID, "error", err)
			}
		}
	}
}

func (s *Service) runNotify(ctx context.Context, n notice) error {
	q := s.cfg.Store.Read()
	st, err := q.GetStaging(ctx, n.stagingID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // cleaned up: nothing left to name
	}
	if err != nil {
		return err
	}
	t, err := q.GetStagingTemplate(ctx, st.ProjectID)
	if err != nil || strings.TrimSpace(t.Scripts.Notify) == "" {
		return err
	}
	p, err := q.GetProject(ctx, st.ProjectID)
	if err != nil {
		return err
	}
	sc, err := prepare(q, p, t, st, model.StagingNotify, "--old-status", string(n.old), "--new-status", string(n.new))
	if err != nil {
		return err
	}
	sc.run.Timeout = min(t.ScriptTimeout.D, time.Minute)
	res, err := s.cfg.Engine.RunWorkerScriptNow(ctx, t.WorkerPoolID, sc.run, sc.masker)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit %d: %s", res.ExitCode, lastLines(res.Output))
	}
	return err
}

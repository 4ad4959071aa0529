package staging

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Result is a staging after an action was asked for, and the action's task.
type Result struct {
	Staging model.Staging `json:"staging"`
	TaskID  string        `json:"taskId,omitempty"`
	// Created says an upsert made a new staging.
	Created bool `json:"created"`
}

func (s *Service) load(ctx context.Context, projectID string) (model.Project, model.StagingTemplate, error) {
	q := s.cfg.Store.Read()
	p, err := q.GetProject(ctx, projectID)
	if err != nil {
		return p, model.StagingTemplate{}, err
	}
	t, err := q.GetStagingTemplate(ctx, projectID)
	if errors.Is(err, store.ErrNotFound) {
		return p, t, refused("project %s has no staging template yet: someone allowed to edit it sets the control scripts first (pulpo staging template set)", p.Name)
	}
	return p, t, err
}

// sealChange seals the values of sensitive keys a change sets. The mask
// sent back keeps the stored value, and a value equal to its default
// becomes a reset, so secrets too are stored only as differences.
func sealChange(q *store.Queries, t model.StagingTemplate, c model.StagingChange) (model.StagingChange, error) {
	out := c
	out.Set = maps.Clone(c.Set)
	out.Reset = slices.Clone(c.Reset)
	for full, v := range out.Set {
		level, key, err := model.SplitStagingKey(full)
		if err != nil || !t.IsSensitive(level, key) {
			continue
		}
		if v == model.StagingMask {
			delete(out.Set, full)
			continue
		}
		defaults := t.Defaults.App
		if level == "deployment" {
			defaults = t.Defaults.Deployment
		}
		if sealed, ok := defaults[key]; ok {
			if plain, err := q.OpenSealed(sealed); err == nil && plain == v {
				delete(out.Set, full)
				out.Reset = append(out.Reset, full)
				continue
			}
		}
		if out.Set[full], err = q.Seal(v); err != nil {
			return out, err
		}
	}
	return out, nil
}

// configCheck runs config_check, when the template has one, on the
// configuration the staging would have; a non-zero exit refuses the
// action with the script's output.
func (s *Service) configCheck(ctx context.Context, p model.Project, t model.StagingTemplate, st model.Staging) error {
	if strings.TrimSpace(t.Scripts.ConfigCheck) == "" {
		return nil
	}
	sc, err := prepare(s.cfg.Store.Read(), p, t, st, model.StagingConfigCheck)
	if err != nil {
		return err
	}
	res, err := s.cfg.Engine.RunWorkerScriptNow(ctx, t.WorkerPoolID, sc.run, sc.masker)
	if err != nil {
		return fmt.Errorf("run the config check of staging %s: %w", st.Name, err)
	}
	if res.ExitCode != 0 {
		msg := strings.TrimSpace(res.Text())
		if msg == "" {
			msg = fmt.Sprintf("it exited with code %d and said nothing", res.ExitCode)
		}
		return &model.ValidationError{Subject: "staging " + st.Name + " configuration", Problems: []string{"config_check: " + msg}}
	}
	return nil
}

// Create makes a new staging and starts its create script.
func (s *Service) Create(ctx context.Context, projectID, name string, change model.StagingChange, keepUntil *time.Time, by string) (Result, error) {
	p, t, err := s.load(ctx, projectID)
	if err != nil {
		return Result{}, err
	}
	name = strings.TrimSpace(name)
	if err := model.ValidateStagingName(&t, name); err != nil {
		return Result{}, err
	}
	if _, err := s.cfg.Store.Read().GetStagingByName(ctx, projectID, name); err == nil {
		return Result{}, refused("project %s already has a staging called %s: update it, or use upsert", p.Name, name)
	}
	if keepUntil != nil && keepUntil.IsZero() {
		keepUntil = nil
	}
	st := model.Staging{ProjectID: projectID, Name: name, State: model.StagingCreatePending, CreatedBy: by, UpdatedBy: by, KeepUntil: keepUntil}
	if change, err = sealChange(s.cfg.Store.Read(), t, change); err != nil {
		return Result{}, err
	}
	if err := change.Apply(t.Defaults, &st.Overrides); err != nil {
		return Result{}, err
	}
	if err := s.configCheck(ctx, p, t, st); err != nil {
		return Result{}, err
	}
	var res Result
	err = s.cfg.Store.Tx(ctx, func(q *store.Queries) error {
		if err := q.CreateStaging(ctx, &st); err != nil {
			return err
		}
		taskID, err := s.queue(ctx, q, p, &st, model.StagingCreate, by, describe(change))
		res = Result{Staging: st, TaskID: taskID, Created: true}
		return err
	})
	if err != nil {
		return Result{}, err
	}
	s.cfg.Queue.Notify()
	return res, nil
}

// describe summarises a change for the history.
func describe(c model.StagingChange) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c.Set)) {
		parts = append(parts, "set "+k)
	}
	for _, k := range c.Unset {
		parts = append(parts, "removed "+k)
	}
	for _, k := range c.Reset {
		parts = append(parts, "reset "+k)
	}
	return strings.Join(parts, ", ")
}

// queue starts an action: the staging is marked busy with the task, in
// the transaction that queues it.
func (s *Service) queue(ctx context.Context, q *store.Queries, p model.Project, st *model.Staging, action model.StagingAction, by, summary string) (string, error) {
	verb := map[model.StagingAction]string{model.StagingCreate: "Create", model.StagingUpdate: "Update", model.StagingArchive: "Archive",
		model.StagingRestore: "Restore", model.StagingCleanup: "Clean up"}[action]
	task := model.Task{Kind: model.TaskStaging, Description: fmt.Sprintf("%s staging %s of %s", verb, st.Name, p.Name), ProjectID: p.ID}
	if err := q.CreateTask(ctx, &task); err != nil {
		return "", err
	}
	st.TaskID, st.UpdatedBy = task.ID, by
	if by != ByIdleExpiry && by != ByRetention {
		st.UpdatedAt = q.Now().UTC() // someone used it: idle expiry counts from now
	}
	if err := q.UpdateStaging(ctx, st); err != nil {
		return "", err
	}
	return task.ID, q.AddStagingAction(ctx, &model.StagingActionRecord{StagingID: st.ID, Action: action, TaskID: task.ID, By: by, Summary: summary})
}

// find reads a staging, refusing when another action is under way.
func (s *Service) find(ctx context.Context, id string) (model.Staging, error) {
	st, err := s.cfg.Store.Read().GetStaging(ctx, id)
	if err != nil {
		return st, err
	}
	if st.Busy() {
		return st, refused("staging %s is busy: task %s is still running; wait for it to end, or cancel it", st.Name, st.TaskID)
	}
	return st, nil
}

// transition starts an action on an existing staging, after its config
// check when it has one.
func (s *Service) transition(ctx context.Context, id string, action model.StagingAction, by string, change *model.StagingChange, keepUntil *time.Time) (Result, error) {
	st, err := s.find(ctx, id)
	if err != nil {
		return Result{}, err
	}
	p, t, err := s.load(ctx, st.ProjectID)
	if err != nil {
		return Result{}, err
	}
	var next model.StagingState
	switch action {
	case model.StagingUpdate:
		if st.State != model.StagingRunning && st.State != model.StagingFailure && st.State != model.StagingCreatePending && st.State != model.StagingUpdatePending {
			return Result{}, refused("staging %s is %s: only a running or failed staging can be updated%s", st.Name, st.State, hint(st.State))
		}
		next = model.StagingUpdatePending
	case model.StagingArchive:
		if st.State == model.StagingArchived || st.State == model.StagingArchivePending || st.State == model.StagingCleanupFailed {
			return Result{}, refused("staging %s is already %s", st.Name, st.State)
		}
		next = model.StagingArchivePending
	case model.StagingRestore:
		if st.State != model.StagingArchived {
			return Result{}, refused("staging %s is %s: only an archived staging can be restored", st.Name, st.State)
		}
		next = model.StagingCreatePending
	case model.StagingCleanup:
		if st.State != model.StagingArchived && st.State != model.StagingCleanupFailed {
			return Result{}, refused("staging %s is %s: archive it first; only archived stagings are cleaned up", st.Name, st.State)
		}
		next = st.State
	}
	summary := ""
	if change != nil {
		c, err := sealChange(s.cfg.Store.Read(), t, *change)
		if err != nil {
			return Result{}, err
		}
		if err := c.Apply(t.Defaults, &st.Overrides); err != nil {
			return Result{}, err
		}
		summary = describe(*change)
	}
	if keepUntil != nil {
		st.KeepUntil = keepUntil
		if keepUntil.IsZero() {
			st.KeepUntil = nil // back to the template's idle expiry
		}
	}
	if action == model.StagingUpdate || action == model.StagingRestore {
		if err := s.configCheck(ctx, p, t, st); err != nil {
			return Result{}, err
		}
	}
	old := st.State
	st.State = next
	if next != model.StagingFailure {
		st.Reason, st.Message = "", ""
	}
	if action == model.StagingRestore {
		st.ArchivedAt = nil
	}
	var res Result
	err = s.cfg.Store.Tx(ctx, func(q *store.Queries) error {
		taskID, err := s.queue(ctx, q, p, &st, action, by, summary)
		res = Result{Staging: st, TaskID: taskID}
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return Result{}, refused("staging %s changed while your %s was being prepared: try again", st.Name, action)
	}
	if err != nil {
		return Result{}, err
	}
	s.notice(st.ID, old, st.State)
	s.cfg.Queue.Notify()
	return res, nil
}

func hint(state model.StagingState) string {
	if state == model.StagingArchived {
		return " (restore it first)"
	}
	return ""
}

// Update changes a staging's configuration and runs its update script.
func (s *Service) Update(ctx context.Context, id string, change model.StagingChange, keepUntil *time.Time, by string) (Result, error) {
	return s.transition(ctx, id, model.StagingUpdate, by, &change, keepUntil)
}

// Upsert creates the staging, or updates it (restoring it with the new
// configuration when archived): one idempotent call for CI.
func (s *Service) Upsert(ctx context.Context, projectID, name string, change model.StagingChange, keepUntil *time.Time, by string) (Result, error) {
	name = strings.TrimSpace(name)
	st, err := s.cfg.Store.Read().GetStagingByName(ctx, projectID, name)
	if errors.Is(err, store.ErrNotFound) {
		return s.Create(ctx, projectID, name, change, keepUntil, by)
	}
	if err != nil {
		return Result{}, err
	}
	if st.State == model.StagingArchived {
		return s.transition(ctx, st.ID, model.StagingRestore, by, &change, keepUntil)
	}
	return s.transition(ctx, st.ID, model.StagingUpdate, by, &change, keepUntil)
}

// Archive runs the archive script.
func (s *Service) Archive(ctx context.Context, id, by string) (Result, error) {
	return s.transition(ctx, id, model.StagingArchive, by, nil, nil)
}

// Restore brings an archived staging back.
func (s *Service) Restore(ctx context.Context, id, by string) (Result, error) {
	return s.transition(ctx, id, model.StagingRestore, by, nil, nil)
}

// Cleanup runs the cleanup script of an archived staging (or again after
// it failed); on success the staging is gone.
func (s *Service) Cleanup(ctx context.Context, id, by string) (Result, error) {
	return s.transition(ctx, id, model.StagingCleanup, by, nil, nil)
}

// Keep changes when a staging may be archived for idleness.
func (s *Service) Keep(ctx context.Context, id string, until *time.Time, by string) (model.Staging, error) {
	st, err := s.find(ctx, id)
	if err != nil {
		return st, err
	}
	if until != nil && until.IsZero() {
		until = nil
	}
	st.KeepUntil, st.UpdatedBy = until, by
	err = s.cfg.Store.Tx(ctx, func(q *store.Queries) error { return q.UpdateStaging(ctx, &st) })
	return st, err
}

// Delete forgets a staging without running any script (Octopod's delete):
// for one whose resources are already gone.
func (s *Service) Delete(ctx context.Context, id string) (model.Staging, error) {
	st, err := s.find(ctx, id)
	if err != nil {
		return st, err
	}
	return st, s.cfg.Store.Tx(ctx, func(q *store.Queries) error { return q.DeleteStaging(ctx, id) })
}

// Plan fills in when a staging will be archived for idleness and when an
// archived one will be cleaned up.
func Plan(t model.StagingTemplate, st *model.Staging) {
	st.ExpiresAt, st.CleanupAt = nil, nil
	switch st.State {
	case model.StagingArchived:
		if t.ArchiveRetention.D > 0 && st.ArchivedAt != nil {
			at := st.ArchivedAt.Add(t.ArchiveRetention.D)
			st.CleanupAt = &at
		}
	case model.StagingRunning, model.StagingFailure:
		if t.IdleExpiry.D > 0 {
			at := st.UpdatedAt.Add(t.IdleExpiry.D)
			if st.KeepUntil != nil && st.KeepUntil.After(at) {
				at = *st.KeepUntil
			}
			if at.Year() < 9999 {
				st.ExpiresAt = &at
			}
		}
	}
}

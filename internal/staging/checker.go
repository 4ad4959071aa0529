package staging

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Run checks stagings and expires idle and archived ones until ctx ends;
// it also runs the notify script on state changes.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.notifyLoop(ctx) }()
	sem := make(chan struct{}, s.cfg.Parallel)
	tick := time.NewTicker(s.cfg.CheckTick)
	defer tick.Stop()
	for {
		if err := s.sweep(ctx, sem, &wg); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("staging checks", "error", err)
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
	}
}

// sweep starts the checks that are due and the expiries that have come.
func (s *Service) sweep(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) error {
	q := s.cfg.Store.Read()
	list, err := q.ListStagings(ctx, "")
	if err != nil {
		return err
	}
	templates := map[string]*model.StagingTemplate{}
	now := q.Now()
	for _, st := range list {
		if st.Busy() {
			continue
		}
		t, ok := templates[st.ProjectID]
		if !ok {
			tt, err := q.GetStagingTemplate(ctx, st.ProjectID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil {
				t = &tt
			}
			templates[st.ProjectID] = t
		}
		if t == nil {
			continue
		}
		Plan(*t, &st)
		switch {
		case st.ExpiresAt != nil && !now.Before(*st.ExpiresAt):
			if _, err := s.Archive(ctx, st.ID, ByIdleExpiry); err != nil {
				s.cfg.Logger.Warn("archive an idle staging", "staging", st.Name, "error", err)
			}
			continue
		case st.CleanupAt != nil && !now.Before(*st.CleanupAt):
			if _, err := s.Cleanup(ctx, st.ID, ByRetention); err != nil {
				s.cfg.Logger.Warn("clean up an archived staging", "staging", st.Name, "error", err)
			}
			continue
		}
		checkScript := t.Scripts.Check
		switch st.State {
		case model.StagingArchived, model.StagingCleanupFailed:
			continue
		case model.StagingArchivePending:
			checkScript = t.Scripts.ArchiveCheck
		}
		if strings.TrimSpace(checkScript) == "" {
			continue
		}
		if st.LastCheckAt != nil && now.Sub(*st.LastCheckAt) < t.CheckInterval.D {
			continue
		}
		var claimed bool
		err := s.cfg.Store.Tx(ctx, func(q *store.Queries) (err error) {
			claimed, err = q.ClaimStagingCheck(ctx, st.ID, st.LastCheckAt)
			return err
		})
		if err != nil {
			return err
		}
		if !claimed {
			continue // another node has it, or an action started
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		wg.Add(1)
		go func(st model.Staging, t model.StagingTemplate) {
			defer func() { <-sem; wg.Done() }()
			if err := s.check(ctx, t, st); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("check a staging", "staging", st.Name, "error", err)
			}
		}(st, *t)
	}
	return nil
}

// check runs check (or archive_check) once and moves the staging on as
// Octopod's status checker does.
func (s *Service) check(ctx context.Context, t model.StagingTemplate, st model.Staging) error {
	q := s.cfg.Store.Read()
	p, err := q.GetProject(ctx, st.ProjectID)
	if err != nil {
		return err
	}
	action := model.StagingCheck
	if st.State == model.StagingArchivePending {
		action = model.StagingArchiveCheck
	}
	sc, err := prepare(q, p, t, st, action)
	if err != nil {
		return err
	}
	// A check is quick by nature; a hung one must not stall the next.
	sc.run.Timeout = min(t.ScriptTimeout.D, max(t.CheckInterval.D*4, time.Minute))
	res, err := s.cfg.Engine.RunWorkerScriptNow(ctx, t.WorkerPoolID, sc.run, sc.masker)
	code := res.ExitCode
	if err != nil && !res.TimedOut {
		return err
	}
	var old, next model.StagingState
	err = s.cfg.Store.Tx(ctx, func(q *store.Queries) error {
		cur, err := q.GetStaging(ctx, st.ID)
		if err != nil {
			return err
		}
		if err := q.RecordStagingCheck(ctx, st.ID, code); err != nil {
			return err
		}
		if cur.Busy() || cur.State != st.State {
			return nil // an action started meanwhile: its result decides
		}
		now := q.Now().UTC()
		old, next = cur.State, cur.State
		switch {
		case cur.State == model.StagingArchivePending && code == 0:
			next, cur.ArchivedAt = model.StagingArchived, &now
		case cur.State == model.StagingArchivePending:
			// still archiving
		case code == 0 && cur.State == model.StagingFailure && cur.Reason == model.FailureAction:
			// A failed action stays visible until the next one succeeds,
			// even when what it left behind answers.
		case code == 0 && cur.State != model.StagingRunning:
			next = model.StagingRunning
			cur.Reason, cur.Message = "", ""
		case code != 0 && cur.State == model.StagingRunning:
			next = model.StagingFailure
			cur.Reason, cur.Message = model.CheckFailure(code), "check: "+lastLines(res.Output)
		case code != 0 && (cur.State == model.StagingCreatePending || cur.State == model.StagingUpdatePending) &&
			now.Sub(cur.StateChangedAt) >= t.StatusTimeout.D:
			next = model.StagingFailure
			cur.Reason, cur.Message = model.CheckFailure(code), "check did not pass within "+t.StatusTimeout.D.String()+": "+lastLines(res.Output)
		case code != 0 && cur.State == model.StagingFailure && cur.Reason != model.FailureAction:
			cur.Reason = model.CheckFailure(code)
		}
		if next == cur.State && cur.Reason == st.Reason {
			return nil
		}
		cur.State = next
		return q.UpdateStaging(ctx, &cur)
	})
	if err != nil {
		return err
	}
	s.notice(st.ID, old, next)
	return nil
}

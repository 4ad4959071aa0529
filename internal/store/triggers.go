package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/schedule"
)

type triggerDoc struct {
	PackageID            string   `json:"packageId,omitempty"`
	Cron                 string   `json:"cron,omitempty"`
	TimeZone             string   `json:"timeZone,omitempty"`
	SourceEnvironmentID  string   `json:"sourceEnvironmentId,omitempty"`
	TargetEnvironmentIDs []string `json:"targetEnvironmentIds,omitempty"`
	RunbookID            string   `json:"runbookId,omitempty"`
	MachineEvents        []string `json:"machineEvents,omitempty"`
	Roles                []string `json:"roles,omitempty"`
}

const triggerColumns = `id, project_id, name, kind, disabled, doc, next_run_at, last_run_at, last_result`

func scanTrigger(s scanner) (model.Trigger, error) {
	var t model.Trigger
	var doc string
	var next, last int64
	if err := s.Scan(&t.ID, &t.ProjectID, &t.Name, &t.Kind, &t.Disabled, &doc, &next, &last, &t.LastResult); err != nil {
		return t, err
	}
	var d triggerDoc
	if err := unmarshal(doc, &d); err != nil {
		return t, fmt.Errorf("read trigger %s: %w", t.ID, err)
	}
	t.PackageID, t.Cron, t.TimeZone, t.SourceEnvironmentID, t.TargetEnvironmentIDs = d.PackageID, d.Cron, d.TimeZone, d.SourceEnvironmentID, d.TargetEnvironmentIDs
	t.RunbookID, t.MachineEvents, t.Roles = d.RunbookID, d.MachineEvents, d.Roles
	t.NextRunAt, t.LastRunAt = fromOptionalMicros(next), fromOptionalMicros(last)
	return t, nil
}

// checkTrigger validates a trigger against what it refers to and returns
// its stored document and first run time.
func (q *Queries) checkTrigger(ctx context.Context, t *model.Trigger) (string, int64, error) {
	if err := t.Validate(); err != nil {
		return "", 0, err
	}
	var problems []string
	if _, err := q.GetProject(ctx, t.ProjectID); errors.Is(err, ErrNotFound) {
		problems = append(problems, fmt.Sprintf("projectId: project %q does not exist", t.ProjectID))
	} else if err != nil {
		return "", 0, err
	}
	var next int64
	switch t.Kind {
	case model.TriggerSchedule:
		s, err := schedule.Parse(t.Cron, t.TimeZone)
		if err != nil {
			problems = append(problems, "cron: "+err.Error())
		} else {
			next = toMicros(s.Next(q.now()))
		}
		for _, id := range append([]string{t.SourceEnvironmentID}, t.TargetEnvironmentIDs...) {
			if id == "" {
				continue
			}
			if _, err := q.GetEnvironment(ctx, id); errors.Is(err, ErrNotFound) {
				problems = append(problems, fmt.Sprintf("environment %q does not exist", id))
			} else if err != nil {
				return "", 0, err
			}
		}
	case model.TriggerMachine:
		for _, id := range t.TargetEnvironmentIDs {
			if _, err := q.GetEnvironment(ctx, id); errors.Is(err, ErrNotFound) {
				problems = append(problems, fmt.Sprintf("environment %q does not exist", id))
			} else if err != nil {
				return "", 0, err
			}
		}
	case model.TriggerPackage:
		if len(problems) == 0 {
			d, err := q.GetProcess(ctx, t.ProjectID)
			if err != nil {
				return "", 0, err
			}
			takes := false
			for _, s := range d.Steps {
				takes = takes || strings.EqualFold(s.PackageID(), t.PackageID)
			}
			if !takes {
				problems = append(problems, fmt.Sprintf("packageId: no step of the project takes package %q, so its pushes would create releases that do not use it", t.PackageID))
			}
		}
	}
	if len(problems) > 0 {
		return "", 0, &model.ValidationError{Subject: "trigger", Problems: problems}
	}
	if t.RunbookID != "" {
		rb, err := q.GetRunbook(ctx, t.RunbookID)
		if errors.Is(err, ErrNotFound) || (err == nil && rb.ProjectID != t.ProjectID) {
			return "", 0, &model.ValidationError{Subject: "trigger", Problems: []string{fmt.Sprintf("runbookId: the project has no runbook %q", t.RunbookID)}}
		} else if err != nil {
			return "", 0, err
		}
	}
	doc, err := marshal(triggerDoc{PackageID: t.PackageID, Cron: t.Cron, TimeZone: t.TimeZone,
		SourceEnvironmentID: t.SourceEnvironmentID, TargetEnvironmentIDs: t.TargetEnvironmentIDs, RunbookID: t.RunbookID,
		MachineEvents: t.MachineEvents, Roles: t.Roles})
	return doc, next, err
}

// CreateTrigger stores a new trigger; a schedule's first run is computed.
func (q *Queries) CreateTrigger(ctx context.Context, t *model.Trigger) error {
	doc, next, err := q.checkTrigger(ctx, t)
	if err != nil {
		return err
	}
	var taken string
	err = q.queryRow(ctx, `SELECT id FROM triggers WHERE project_id = ? AND name_key = ?`, t.ProjectID, model.NameKey(t.Name)).Scan(&taken)
	if err == nil {
		return conflict("the project already has a trigger called %q (%s); choose another name", t.Name, taken)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if t.ID, _, err = q.nextID(ctx, "Triggers"); err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO triggers (id, project_id, name, name_key, kind, disabled, package_key, doc, next_run_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, t.ProjectID, t.Name, model.NameKey(t.Name), t.Kind, t.Disabled,
		strings.ToLower(t.PackageID), doc, next)
	if err != nil {
		return fmt.Errorf("create trigger: %w", err)
	}
	t.NextRunAt = fromOptionalMicros(next)
	return nil
}

// GetTrigger reads one trigger.
func (q *Queries) GetTrigger(ctx context.Context, id string) (model.Trigger, error) {
	t, err := scanTrigger(q.queryRow(ctx, `SELECT `+triggerColumns+` FROM triggers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("trigger", id)
	}
	return t, err
}

// TriggerFilter narrows a list of triggers.
type TriggerFilter struct {
	ProjectID string
	Kind      model.TriggerKind
	// PackageID finds the enabled package triggers of a package.
	PackageID string
	ListOptions
}

// ListTriggers returns triggers by project and name.
func (q *Queries) ListTriggers(ctx context.Context, f TriggerFilter) ([]model.Trigger, int, error) {
	where, args := f.nameFilter(nil, nil, "name_key")
	if f.ProjectID != "" {
		where, args = append(where, "project_id = ?"), append(args, f.ProjectID)
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
	}
	if f.PackageID != "" {
		where, args = append(where, "package_key = ? AND NOT disabled"), append(args, strings.ToLower(f.PackageID))
	}
	total, err := q.count(ctx, `SELECT COUNT(*) FROM triggers`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list triggers: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+triggerColumns+` FROM triggers`+whereClause(where)+` ORDER BY project_id, name_key`+f.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list triggers: %w", err)
	}
	out, err := collect(rows, scanTrigger)
	return out, total, err
}

// UpdateTrigger replaces a trigger; a schedule's next run is computed anew.
func (q *Queries) UpdateTrigger(ctx context.Context, t *model.Trigger) error {
	doc, next, err := q.checkTrigger(ctx, t)
	if err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE triggers SET name = ?, name_key = ?, kind = ?, disabled = ?, package_key = ?, doc = ?, next_run_at = ?
		WHERE id = ? AND project_id = ?`, t.Name, model.NameKey(t.Name), t.Kind, t.Disabled, strings.ToLower(t.PackageID), doc, next, t.ID, t.ProjectID)
	if err != nil {
		return fmt.Errorf("update trigger: %w", err)
	}
	t.NextRunAt = fromOptionalMicros(next)
	return mustAffect(res, "trigger", t.ID)
}

// DeleteTrigger removes a trigger.
func (q *Queries) DeleteTrigger(ctx context.Context, id string) error {
	res, err := q.exec(ctx, `DELETE FROM triggers WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete trigger: %w", err)
	}
	return mustAffect(res, "trigger", id)
}

// ClaimDueSchedules takes the enabled schedule triggers due at now and
// moves each one's next run past now, so exactly one node fires each run
// (rows locked and skipped by other nodes on PostgreSQL).
func (q *Queries) ClaimDueSchedules(ctx context.Context, now time.Time) ([]model.Trigger, error) {
	rows, err := q.query(ctx, `SELECT `+triggerColumns+` FROM triggers
		WHERE kind = ? AND NOT disabled AND next_run_at > 0 AND next_run_at <= ? ORDER BY next_run_at`+q.d.forUpdate(true),
		model.TriggerSchedule, toMicros(now))
	if err != nil {
		return nil, fmt.Errorf("find due schedules: %w", err)
	}
	due, err := collect(rows, scanTrigger)
	if err != nil {
		return nil, err
	}
	for i := range due {
		next := int64(0)
		if s, err := schedule.Parse(due[i].Cron, due[i].TimeZone); err == nil {
			next = toMicros(s.Next(now))
		}
		if _, err := q.exec(ctx, `UPDATE triggers SET next_run_at = ?, last_run_at = ? WHERE id = ?`, next, toMicros(now), due[i].ID); err != nil {
			return nil, fmt.Errorf("advance schedule %s: %w", due[i].ID, err)
		}
		due[i].NextRunAt = fromOptionalMicros(next)
	}
	return due, nil
}

// RecordTriggerResult notes what a trigger's last firing did.
func (q *Queries) RecordTriggerResult(ctx context.Context, id string, at time.Time, result string) error {
	_, err := q.exec(ctx, `UPDATE triggers SET last_run_at = ?, last_result = ? WHERE id = ?`, toMicros(at), result, id)
	return err
}

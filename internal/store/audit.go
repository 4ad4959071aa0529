package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// AppendAudit adds a record to the audit log. There is no way to change or
// remove one.
func (q *Queries) AppendAudit(ctx context.Context, e *model.AuditEvent) error {
	id, seq, err := q.nextID(ctx, "Events")
	if err != nil {
		return err
	}
	e.ID = id
	if e.OccurredAt.IsZero() {
		e.OccurredAt = q.now()
	}
	e.OccurredAt = fromMicros(toMicros(e.OccurredAt))
	_, err = q.exec(ctx, `INSERT INTO audit_events (id, seq, occurred_at, actor_id, actor, address, action, object_type, object_id,
		object_name, project_id, environment_id, summary, before_doc, after_doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, seq, toMicros(e.OccurredAt), e.ActorID, e.Actor, e.Address, e.Action, e.ObjectType, e.ObjectID,
		e.ObjectName, e.ProjectID, e.EnvironmentID, e.Summary, string(e.Before), string(e.After))
	if err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// AuditFilter selects audit records.
type AuditFilter struct {
	Skip, Take    int
	Actor         string // user id or username
	ProjectID     string
	EnvironmentID string
	ObjectID      string
	Action        string
	From, To      *time.Time
	// Visible limits the records to what the reader may see.
	Visible *access.Filter
}

// ListAudit returns audit records, newest first, and the total.
func (q *Queries) ListAudit(ctx context.Context, f AuditFilter) ([]model.AuditEvent, int, error) {
	var where []string
	var args []any
	if f.Actor != "" {
		where, args = append(where, "(actor_id = ? OR LOWER(actor) = ?)"), append(args, f.Actor, strings.ToLower(f.Actor))
	}
	for _, c := range []struct{ col, v string }{{"project_id", f.ProjectID}, {"environment_id", f.EnvironmentID}, {"object_id", f.ObjectID}, {"action", f.Action}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	if f.From != nil {
		where, args = append(where, "occurred_at >= ?"), append(args, toMicros(*f.From))
	}
	if f.To != nil {
		where, args = append(where, "occurred_at < ?"), append(args, toMicros(*f.To))
	}
	if cond, cargs := visibleWhere(f.Visible, "project_id", "environment_id"); cond != "" {
		where, args = append(where, cond), append(args, cargs...)
	}
	total, err := q.count(ctx, `SELECT COUNT(*) FROM audit_events`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit events: %w", err)
	}
	rows, err := q.query(ctx, `SELECT id, occurred_at, actor_id, actor, address, action, object_type, object_id, object_name,
		project_id, environment_id, summary, before_doc, after_doc FROM audit_events`+whereClause(where)+
		` ORDER BY seq DESC`+ListOptions{Skip: f.Skip, Take: f.Take}.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit events: %w", err)
	}
	out, err := collect(rows, func(s scanner) (model.AuditEvent, error) {
		var e model.AuditEvent
		var at int64
		var before, after string
		err := s.Scan(&e.ID, &at, &e.ActorID, &e.Actor, &e.Address, &e.Action, &e.ObjectType, &e.ObjectID, &e.ObjectName,
			&e.ProjectID, &e.EnvironmentID, &e.Summary, &before, &after)
		e.OccurredAt = fromMicros(at)
		if before != "" {
			e.Before = []byte(before)
		}
		if after != "" {
			e.After = []byte(after)
		}
		return e, err
	})
	return out, total, err
}

// visibleWhere turns what a reader may see into a condition on a row's
// project and environment columns ("" for a column the rows lack). A nil
// or all-seeing filter adds nothing.
func visibleWhere(f *access.Filter, projectCol, envCol string) (string, []any) {
	if f == nil || f.All {
		return "", nil
	}
	if len(f.Rules) == 0 {
		return "1 = 0", nil
	}
	var ors []string
	var args []any
	for _, r := range f.Rules {
		var ands []string
		var ruleArgs []any
		if len(r.ProjectIDs)+len(r.ProjectGroupIDs) > 0 {
			if projectCol == "" {
				continue
			}
			var in []string
			if len(r.ProjectIDs) > 0 {
				in = append(in, projectCol+" IN ("+placeholders(len(r.ProjectIDs))+")")
				ruleArgs = appendStrings(ruleArgs, r.ProjectIDs)
			}
			if len(r.ProjectGroupIDs) > 0 {
				in = append(in, projectCol+" IN (SELECT id FROM projects WHERE project_group_id IN ("+placeholders(len(r.ProjectGroupIDs))+"))")
				ruleArgs = appendStrings(ruleArgs, r.ProjectGroupIDs)
			}
			ands = append(ands, "("+strings.Join(in, " OR ")+")")
		}
		if len(r.EnvironmentIDs) > 0 {
			if envCol == "" {
				continue
			}
			ands = append(ands, envCol+" IN ("+placeholders(len(r.EnvironmentIDs))+")")
			ruleArgs = appendStrings(ruleArgs, r.EnvironmentIDs)
		}
		if len(ands) == 0 {
			return "", nil
		}
		ors, args = append(ors, "("+strings.Join(ands, " AND ")+")"), append(args, ruleArgs...)
	}
	if len(ors) == 0 {
		return "1 = 0", nil
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

func appendStrings(args []any, s []string) []any {
	for _, v := range s {
		args = append(args, v)
	}
	return args
}

// Actor is who a change is made by, carried in the context so that changes
// made deep in the engine (a deployment queued by a lifecycle, say) are
// recorded against the person or trigger that caused them.
type Actor struct {
	ID, Name, Address string
}

type actorKey struct{}

// WithActor records who acts in the context.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns who acts, if the context says.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

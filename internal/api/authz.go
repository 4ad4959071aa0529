package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/auth"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Every route names the permission it needs; wrap checks it in one place:
//   - with a scope function, against the scope of the thing the URL names;
//   - without one, that the caller holds the permission somewhere, and the
//     handler then filters what it lists or checks the thing the body names
//     with a.allow.

// principal is who the request acts as.
func principal(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}

// authorize applies a route's declared permission.
func (a *API) authorize(r *http.Request, rt route) error {
	p := principal(r)
	if rt.anyone {
		return nil
	}
	if rt.scope != nil {
		s, err := rt.scope(r)
		if err != nil {
			return err
		}
		if !p.Rights.Allows(rt.perm, s) {
			return &access.DeniedError{Permission: rt.perm, Scope: s}
		}
		return nil
	}
	if !p.Rights.Anywhere(rt.perm) {
		return &access.DeniedError{Permission: rt.perm}
	}
	return nil
}

// allow checks a permission on a thing the handler has found.
func (a *API) allow(r *http.Request, perm model.Permission, s access.Scope) error {
	if !principal(r).Rights.Allows(perm, s) {
		return &access.DeniedError{Permission: perm, Scope: s}
	}
	return nil
}

// visible is what the caller may see with a view permission.
func visible(r *http.Request, perm model.Permission) *access.Filter {
	f := principal(r).Rights.Filter(perm)
	return &f
}

// Scopes of the things URLs name.

func unscoped(*http.Request) (access.Scope, error) { return access.Scope{}, nil }

func (a *API) projectScope(ctx context.Context, q *store.Queries, projectID string) (access.Scope, error) {
	p, err := q.GetProject(ctx, projectID)
	if err != nil {
		return access.Scope{}, err
	}
	return access.Project(p), nil
}

// pathProject scopes routes under /projects/{id}.
func (a *API) pathProject(r *http.Request) (access.Scope, error) {
	return a.projectScope(r.Context(), a.Store.Read(), r.PathValue("id"))
}

// pathRelease scopes routes under /releases/{id}.
func (a *API) pathRelease(r *http.Request) (access.Scope, error) {
	rel, err := a.Store.Read().GetRelease(r.Context(), r.PathValue("id"))
	if err != nil {
		return access.Scope{}, err
	}
	return a.projectScope(r.Context(), a.Store.Read(), rel.ProjectID)
}

// pathDeployment scopes routes under /deployments/{id}.
func (a *API) pathDeployment(r *http.Request) (access.Scope, error) {
	d, err := a.Store.Read().GetDeployment(r.Context(), r.PathValue("id"))
	if err != nil {
		return access.Scope{}, err
	}
	s, err := a.projectScope(r.Context(), a.Store.Read(), d.ProjectID)
	return s.In(d.EnvironmentID), err
}

func (a *API) taskScope(ctx context.Context, taskID string) (access.Scope, error) {
	t, err := a.Store.Read().GetTask(ctx, taskID)
	if err != nil {
		return access.Scope{}, err
	}
	var s access.Scope
	if t.ProjectID != "" {
		if s, err = a.projectScope(ctx, a.Store.Read(), t.ProjectID); err != nil {
			return s, err
		}
	}
	if t.EnvironmentID != "" {
		s = s.In(t.EnvironmentID)
	}
	return s, nil
}

// pathTask scopes routes under /tasks/{id}.
func (a *API) pathTask(r *http.Request) (access.Scope, error) {
	return a.taskScope(r.Context(), r.PathValue("id"))
}

// pathInterruption scopes routes under /interruptions/{id}.
func (a *API) pathInterruption(r *http.Request) (access.Scope, error) {
	i, err := a.Store.Read().GetInterruption(r.Context(), r.PathValue("id"))
	if err != nil {
		return access.Scope{}, err
	}
	return a.taskScope(r.Context(), i.TaskID)
}

// pathRunbook scopes routes under /runbooks/{id}.
func (a *API) pathRunbook(r *http.Request) (access.Scope, error) {
	rb, err := a.Store.Read().GetRunbook(r.Context(), r.PathValue("id"))
	if err != nil {
		return access.Scope{}, err
	}
	return a.projectScope(r.Context(), a.Store.Read(), rb.ProjectID)
}

// pathTrigger scopes routes under /triggers/{id}.
func (a *API) pathTrigger(r *http.Request) (access.Scope, error) {
	t, err := a.Store.Read().GetTrigger(r.Context(), r.PathValue("id"))
	if err != nil {
		return access.Scope{}, err
	}
	return a.projectScope(r.Context(), a.Store.Read(), t.ProjectID)
}

// machineScope is where a machine serves: its environments (workers have
// none and use the worker permissions).
func machineScope(m model.Machine) access.Scope {
	return access.Scope{EnvironmentIDs: m.EnvironmentIDs}
}

// machinePerm picks a machine permission, or the worker one for workers.
func machinePerm(m model.Machine, target, worker model.Permission) model.Permission {
	if m.Usage == model.UsageWorker {
		return worker
	}
	return target
}

// The audit record a request leaves.

type auditKey struct{}

// auditRecord is filled by handlers that know more than the route does;
// done means the handler has already written it in its own transaction.
type auditRecord struct {
	model.AuditEvent
	done bool
}

func withAudit(ctx context.Context, rec *auditRecord) context.Context {
	return context.WithValue(ctx, auditKey{}, rec)
}

// audited returns the request's audit record, for handlers to fill.
func audited(r *http.Request) *auditRecord {
	if rec, ok := r.Context().Value(auditKey{}).(*auditRecord); ok {
		return rec
	}
	return &auditRecord{}
}

// changes reports whether a method changes something (and is audited).
func changes(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// writeAudit records a change the handler did not record itself.
func (a *API) writeAudit(r *http.Request, rt route, rec *auditRecord) {
	ev := rec.AuditEvent
	p := principal(r)
	ev.ActorID, ev.Actor, ev.Address = p.User.ID, p.User.Username, auth.Address(r)
	if ev.Action == "" {
		ev.Action = model.AuditAction
	}
	if ev.ObjectID == "" {
		ev.ObjectID = r.PathValue("id")
	}
	if ev.Summary == "" {
		ev.Summary = rt.summary
	}
	if ev.ProjectID == "" && ev.EnvironmentID == "" && rt.scope != nil {
		if s, err := rt.scope(r); err == nil {
			ev.ProjectID = s.ProjectID
			if len(s.EnvironmentIDs) == 1 {
				ev.EnvironmentID = s.EnvironmentIDs[0]
			}
		}
	}
	err := a.Store.Tx(context.WithoutCancel(r.Context()), func(q *store.Queries) error { return q.AppendAudit(r.Context(), &ev) })
	if err != nil {
		a.Logger.Error("audit record lost", "method", r.Method, "path", r.URL.Path, "actor", ev.Actor, "error", err)
	}
}

// auditEvent builds a record of a change to an object, with its state
// before and after (secrets blanked).
func auditEvent(r *http.Request, action, objectType string, s access.Scope, before, after any) model.AuditEvent {
	p := principal(r)
	ev := model.AuditEvent{ActorID: p.User.ID, Actor: p.User.Username, Address: auth.Address(r), Action: action,
		ObjectType: objectType, ProjectID: s.ProjectID, Before: redactJSON(before), After: redactJSON(after)}
	if len(s.EnvironmentIDs) == 1 {
		ev.EnvironmentID = s.EnvironmentIDs[0]
	}
	subject := after
	if subject == nil {
		subject = before
	}
	ev.ObjectID, ev.ObjectName = fieldText(subject, "ID"), fieldText(subject, "Name")
	if ev.ObjectName == "" {
		ev.ObjectName = fieldText(subject, "Username")
	}
	verb := map[string]string{model.AuditCreate: "created", model.AuditUpdate: "changed", model.AuditDelete: "deleted"}[action]
	ev.Summary = strings.TrimSpace(verb + " " + objectType + " " + ev.ObjectName)
	return ev
}

// fieldText reads a string field of a struct (or pointer to one).
func fieldText(v any, name string) string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return ""
	}
	f := rv.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

// secretKeys are JSON keys whose values never reach the audit log.
var secretKeys = []string{"password", "secret", "privatekey", "apikey", "token", "credentials", "passphrase"}

// redactJSON renders v as JSON with every secret blanked: values under
// secret-looking keys, and the values of sensitive variables.
func redactJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil
	}
	out, _ := json.Marshal(redactTree(tree))
	return out
}

func redactTree(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if sens, _ := t["sensitive"].(bool); sens {
			if _, ok := t["value"]; ok {
				t["value"] = "***"
			}
		}
		for k, child := range t {
			lk := strings.ToLower(k)
			secret := false
			for _, s := range secretKeys {
				if strings.Contains(lk, s) {
					secret = true
				}
			}
			if secret && child != nil && child != "" {
				t[k] = "***"
				continue
			}
			t[k] = redactTree(child)
		}
		return t
	case []any:
		for i := range t {
			t[i] = redactTree(t[i])
		}
		return t
	}
	return v
}

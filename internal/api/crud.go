package api

import (
	"context"
	"net/http"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// crudPerms are the permissions a collection's endpoints need.
type crudPerms struct {
	view, create, edit, delete model.Permission
}

// crud is the standard set of endpoints of a named collection.
type crud[T any] struct {
	path   string // "/environments"
	kind   string // "environment", for summaries
	plural string
	tag    string
	id     func(*T) *string
	// The store's methods, as method expressions (receiver first).
	list   func(q *store.Queries, ctx context.Context, r *http.Request, opts store.ListOptions) ([]T, int, error)
	get    func(q *store.Queries, ctx context.Context, id string) (T, error)
	create func(q *store.Queries, ctx context.Context, v *T) error
	update func(q *store.Queries, ctx context.Context, v *T) error
	delete func(q *store.Queries, ctx context.Context, id string) error
	// extraQuery documents list filters beyond paging and names.
	extraQuery []param
	perms      crudPerms
	// permsOf picks the permissions per object, when they differ (targets
	// and workers); perms otherwise.
	permsOf func(v *T) crudPerms
	// scope says where an object lives; nil for server-wide objects.
	scope func(q *store.Queries, ctx context.Context, v *T) (access.Scope, error)
	// onUpdate checks more about a change (trust, say) and may fill the
	// audit record.
	onUpdate func(r *http.Request, old, new *T) error
	// redact, when set, blanks what must not leave through the API (in
	// responses and audit records), such as sealed values.
	redact func(v T) T
}

func (c crud[T]) out(v T) T {
	if c.redact == nil {
		return v
	}
	return c.redact(v)
}

func (c crud[T]) outAll(items []T) []T {
	if c.redact == nil {
		return items
	}
	out := make([]T, len(items))
	for i := range items {
		out[i] = c.redact(items[i])
	}
	return out
}

func (c crud[T]) permsFor(v *T) crudPerms {
	if c.permsOf != nil {
		return c.permsOf(v)
	}
	return c.perms
}

func (c crud[T]) scopeOf(q *store.Queries, ctx context.Context, v *T) (access.Scope, error) {
	if c.scope == nil {
		return access.Scope{}, nil
	}
	return c.scope(q, ctx, v)
}

func addCRUD[T any](a *API, c crud[T]) {
	var zero T
	base := Prefix + c.path
	a.add(route{method: "GET", path: base, tag: c.tag, summary: "List " + c.plural, perm: c.perms.view,
		query: append(append(append([]param{}, pagingParams...), nameParams...), c.extraQuery...), response: wire.Page[T]{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			q := r.URL.Query()
			opts := store.ListOptions{Skip: p.skip, Take: p.take, Name: q.Get("name"), PartialName: q.Get("partialName")}
			rights := principal(r).Rights
			if rights.Admin {
				items, total, err := c.list(a.Store.Read(), r.Context(), r, opts)
				if err != nil {
					return err
				}
				writeJSON(w, http.StatusOK, page(c.outAll(items), total, p))
				return nil
			}
			// Others see what their roles reach: filter the whole list,
			// then page it, so totals and pages agree.
			opts.Skip, opts.Take = 0, 0
			all, _, err := c.list(a.Store.Read(), r.Context(), r, opts)
			if err != nil {
				return err
			}
			var items []T
			for i := range all {
				s, err := c.scopeOf(a.Store.Read(), r.Context(), &all[i])
				if err != nil {
					return err
				}
				if rights.Allows(c.permsFor(&all[i]).view, s) {
					items = append(items, all[i])
				}
			}
			total := len(items)
			items = items[min(p.skip, total):]
			items = items[:min(p.take, len(items))]
			writeJSON(w, http.StatusOK, page(c.outAll(items), total, p))
			return nil
		}})
	a.add(route{method: "POST", path: base, tag: c.tag, summary: "Create " + article(c.kind), body: zero, response: zero, status: http.StatusCreated,
		perm: c.perms.create,
		h: func(w http.ResponseWriter, r *http.Request) error {
			var v T
			if err := decode(r, &v); err != nil {
				return err
			}
			if *c.id(&v) != "" {
				return badRequest("id is assigned by the server; leave it out when creating %s", article(c.kind))
			}
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				s, err := c.scopeOf(q, r.Context(), &v)
				if err != nil {
					return err
				}
				if err := a.allow(r, c.permsFor(&v).create, s); err != nil {
					return err
				}
				if err := c.create(q, r.Context(), &v); err != nil {
					return err
				}
				// Now it has an id, which may be its own scope (a project's).
				if s, err = c.scopeOf(q, r.Context(), &v); err != nil {
					return err
				}
				after := c.out(v)
				ev := auditEvent(r, model.AuditCreate, c.kind, s, nil, &after)
				return q.AppendAudit(r.Context(), &ev)
			})
			if err != nil {
				return err
			}
			audited(r).done = true
			w.Header().Set("Location", base+"/"+*c.id(&v))
			writeJSON(w, http.StatusCreated, c.out(v))
			return nil
		}})
	a.add(route{method: "GET", path: base + "/{id}", tag: c.tag, summary: "Get " + article(c.kind), response: zero, perm: c.perms.view,
		h: func(w http.ResponseWriter, r *http.Request) error {
			v, err := c.get(a.Store.Read(), r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			s, err := c.scopeOf(a.Store.Read(), r.Context(), &v)
			if err != nil {
				return err
			}
			if err := a.allow(r, c.permsFor(&v).view, s); err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, c.out(v))
			return nil
		}})
	a.add(route{method: "PUT", path: base + "/{id}", tag: c.tag, summary: "Replace " + article(c.kind), body: zero, response: zero,
		perm: c.perms.edit,
		h: func(w http.ResponseWriter, r *http.Request) error {
			var v T
			if err := decode(r, &v); err != nil {
				return err
			}
			id := r.PathValue("id")
			if got := *c.id(&v); got != "" && got != id {
				return badRequest("the body's id %q does not match the URL's %q", got, id)
			}
			*c.id(&v) = id
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				old, err := c.get(q, r.Context(), id)
				if err != nil {
					return err
				}
				// Both where it is and where it goes must be in reach.
				oldScope, err := c.scopeOf(q, r.Context(), &old)
				if err != nil {
					return err
				}
				if err := a.allow(r, c.permsFor(&old).edit, oldScope); err != nil {
					return err
				}
				newScope, err := c.scopeOf(q, r.Context(), &v)
				if err != nil {
					return err
				}
				if err := a.allow(r, c.permsFor(&v).edit, newScope); err != nil {
					return err
				}
				if c.onUpdate != nil {
					if err := c.onUpdate(r, &old, &v); err != nil {
						return err
					}
				}
				if err := c.update(q, r.Context(), &v); err != nil {
					return err
				}
				before, after := c.out(old), c.out(v)
				ev := auditEvent(r, model.AuditUpdate, c.kind, newScope, &before, &after)
				if rec := audited(r); rec.Action != "" {
					ev.Action, ev.Summary = rec.Action, rec.Summary+": "+ev.Summary
				}
				return q.AppendAudit(r.Context(), &ev)
			})
			if err != nil {
				return err
			}
			audited(r).done = true
			writeJSON(w, http.StatusOK, c.out(v))
			return nil
		}})
	a.add(route{method: "DELETE", path: base + "/{id}", tag: c.tag, summary: "Delete " + article(c.kind), status: http.StatusNoContent,
		perm: c.perms.delete,
		h: func(w http.ResponseWriter, r *http.Request) error {
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				old, err := c.get(q, r.Context(), r.PathValue("id"))
				if err != nil {
					return err
				}
				s, err := c.scopeOf(q, r.Context(), &old)
				if err != nil {
					return err
				}
				if err := a.allow(r, c.permsFor(&old).delete, s); err != nil {
					return err
				}
				if err := c.delete(q, r.Context(), r.PathValue("id")); err != nil {
					return err
				}
				before := c.out(old)
				ev := auditEvent(r, model.AuditDelete, c.kind, s, &before, nil)
				return q.AppendAudit(r.Context(), &ev)
			})
			if err != nil {
				return err
			}
			audited(r).done = true
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
}

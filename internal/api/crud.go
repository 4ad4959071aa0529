package api

import (
	"context"
	"net/http"

	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

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
}

func addCRUD[T any](a *API, c crud[T]) {
	var zero T
	base := Prefix + c.path
	a.add(route{method: "GET", path: base, tag: c.tag, summary: "List " + c.plural,
		query: append(append(append([]param{}, pagingParams...), nameParams...), c.extraQuery...), response: wire.Page[T]{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			q := r.URL.Query()
			opts := store.ListOptions{Skip: p.skip, Take: p.take, Name: q.Get("name"), PartialName: q.Get("partialName")}
			items, total, err := c.list(a.Store.Read(), r.Context(), r, opts)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})
	a.add(route{method: "POST", path: base, tag: c.tag, summary: "Create " + article(c.kind), body: zero, response: zero, status: http.StatusCreated,
		h: func(w http.ResponseWriter, r *http.Request) error {
			var v T
			if err := decode(r, &v); err != nil {
				return err
			}
			if *c.id(&v) != "" {
				return badRequest("id is assigned by the server; leave it out when creating %s", article(c.kind))
			}
			if err := a.Store.Tx(r.Context(), func(q *store.Queries) error { return c.create(q, r.Context(), &v) }); err != nil {
				return err
			}
			w.Header().Set("Location", base+"/"+*c.id(&v))
			writeJSON(w, http.StatusCreated, v)
			return nil
		}})
	a.add(route{method: "GET", path: base + "/{id}", tag: c.tag, summary: "Get " + article(c.kind), response: zero,
		h: func(w http.ResponseWriter, r *http.Request) error {
			v, err := c.get(a.Store.Read(), r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, v)
			return nil
		}})
	a.add(route{method: "PUT", path: base + "/{id}", tag: c.tag, summary: "Replace " + article(c.kind), body: zero, response: zero,
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
			if err := a.Store.Tx(r.Context(), func(q *store.Queries) error { return c.update(q, r.Context(), &v) }); err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, v)
			return nil
		}})
	a.add(route{method: "DELETE", path: base + "/{id}", tag: c.tag, summary: "Delete " + article(c.kind), status: http.StatusNoContent,
		h: func(w http.ResponseWriter, r *http.Request) error {
			if err := a.Store.Tx(r.Context(), func(q *store.Queries) error { return c.delete(q, r.Context(), r.PathValue("id")) }); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
}

// Package api serves Pulpo's REST API under /api/v1: JSON in and out,
// paged lists, one error shape, API-key authentication, live task logs over
// Server-Sent Events, and an OpenAPI document generated from the routes
// themselves, so it always matches them.
package api

import (
	"context"
	"fmt"
	"github.com/pulpo-deploy/pulpo/internal/staging"
	"log/slog"
	"net/http"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"

	"github.com/pulpo-deploy/pulpo/internal/auth"
	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/extfeed"
	"github.com/pulpo-deploy/pulpo/internal/feed"
	"github.com/pulpo-deploy/pulpo/internal/health"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/targets"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// Prefix is where the API lives.
const Prefix = "/api/v1"

// TaskCanceler stops a task running on this node at once.
type TaskCanceler interface {
	Cancel(taskID string)
	// Notify says a task was queued (or woken), so it starts at once.
	Notify()
}

// NodeRunner is this node's task runner, as the node endpoints see it.
type NodeRunner interface {
	// CheckDrain reads this node's drain flag now.
	CheckDrain(ctx context.Context)
}

// Deps is what the API works with.
type Deps struct {
	Store   *store.Store
	Engine  *engine.Engine
	Tasks   TaskCanceler
	Broker  *tasks.Broker
	Auth    *auth.Authenticator
	Logger  *slog.Logger
	Version string
	// Targets drops a machine's connections when it changes or goes.
	Targets *targets.Manager
	// Health checks machines on demand.
	Health *health.Checker
	// Secrets seals credentials before they are stored.
	Secrets          *secrets.Box
	ServerThumbprint string
	PollingAddress   string
	// Feed is the built-in package feed.
	Feed *feed.Feed
	// EmailEnabled says an SMTP server is configured for notifications.
	EmailEnabled bool
	// ArtifactsDir keeps tasks' artifacts.
	ArtifactsDir string
	// SecureCookies marks session cookies Secure even on plain HTTP
	// requests (the server is behind a TLS proxy, or its public URL is https).
	SecureCookies bool
	// OIDC logs people in through an OpenID Connect issuer; nil when none
	// is configured.
	OIDC *auth.OIDC
	// OIDCAutoCreate makes users on their first OpenID Connect login.
	OIDCAutoCreate bool
	// Nodes is this node's task runner, told at once when it is drained.
	Nodes NodeRunner
	// Stagings runs per-feature stagings.
	Stagings *staging.Service
	// Feeds opens external feeds (and the built-in one); one reading the
	// store when nil.
	Feeds extfeed.Resolver
}

// API is the REST API.
type API struct {
	Deps
	mux     *http.ServeMux
	routes  []route
	openapi []byte
}

// handlerFunc is a handler whose errors are answered in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one endpoint and what the OpenAPI document says of it.
type route struct {
	method, path string
	summary, tag string
	query        []param
	body         any // a value of the request body's type, or nil
	response     any // a value of the success response's type, or nil
	status       int
	public       bool // served without an API key
	stream       bool // answers with text/event-stream
	// rawBody and rawResponse are the media types of a body that is not
	// JSON (a file), and headers the request headers the route reads.
	rawBody, rawResponse string
	headers              []param
	// perm is the permission the route needs. With scope, the caller needs
	// it for the thing the URL names; without, somewhere, and the handler
	// filters or checks the thing itself (a.allow).
	perm  model.Permission
	scope func(r *http.Request) (access.Scope, error)
	// anyone lets every authenticated user in (their own things).
	anyone bool
	h      handlerFunc
}

// param is a query parameter.
type param struct {
	name, kind, doc string
}

var pagingParams = []param{
	{"skip", "integer", "how many items to skip"},
	{"take", "integer", "page size, 1 to 1000 (100 when omitted)"},
}

var nameParams = []param{
	{"name", "string", "exact name, ignoring case"},
	{"partialName", "string", "part of the name, ignoring case"},
}

// New builds the API and its routes.
func New(d Deps) *API {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{Deps: d, mux: http.NewServeMux()}
	if a.Feeds == nil {
		a.Feeds = StoreFeedResolver(d.Store, nil)
	}
	a.registerRoutes()
	a.openapi = a.buildOpenAPI()
	for _, rt := range a.routes {
		a.mux.Handle(rt.method+" "+rt.path, a.wrap(rt))
	}
	a.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, wire.ErrorBody{Error: "no such endpoint: " + r.Method + " " + r.URL.Path + "; see " + Prefix + "/openapi.json"})
	})
	return a
}

func (a *API) add(rt route) {
	if rt.status == 0 {
		rt.status = http.StatusOK
	}
	if !rt.public && !rt.anyone {
		if _, ok := model.LookupPermission(rt.perm); !ok {
			panic(fmt.Sprintf("route %s %s names no known permission (%q)", rt.method, rt.path, rt.perm))
		}
	}
	a.routes = append(a.routes, rt)
}

// wrap authenticates the request (unless the route is public), checks the
// CSRF token of sessions and the route's permission, runs the handler,
// answers its errors and records the change in the audit log.
func (a *API) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rt.public {
			p, err := a.Auth.Authenticate(r.Context(), r)
			if err != nil {
				writeError(w, r, a.Logger, err)
				return
			}
			if err := auth.CheckCSRF(r, p); err != nil {
				writeError(w, r, a.Logger, err)
				return
			}
			r = r.WithContext(store.WithActor(auth.WithPrincipal(r.Context(), p), p.Actor()))
			if err := a.authorize(r, rt); err != nil {
				writeError(w, r, a.Logger, err)
				return
			}
		}
		rec := &auditRecord{}
		r = r.WithContext(withAudit(r.Context(), rec))
		if err := rt.h(w, r); err != nil {
			writeError(w, r, a.Logger, err)
			return
		}
		if changes(rt.method) && !rec.done {
			a.writeAudit(r, rt, rec)
		}
	})
}

// ServeHTTP serves the API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// caller names who made the request, for "created by" fields.
func caller(r *http.Request) string {
	if p, ok := auth.FromContext(r.Context()); ok {
		return p.User.Username
	}
	return ""
}

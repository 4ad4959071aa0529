package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/auth"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// maxAuditPage bounds one page of the audit log; the export streams all.
const maxAuditPage = 1000

func (a *API) userRoutes() {
	a.add(route{method: "POST", path: Prefix + "/users/login", tag: "users", public: true, body: wire.LoginRequest{}, response: wire.LoginResponse{},
		summary: "Log in with a password: sets the session cookie (Secure, HttpOnly, SameSite=Lax) and returns the CSRF token " +
			"to send as X-CSRF-Token; failed attempts are throttled per username and per address (429 with Retry-After)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.LoginRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			audited(r).done = true
			addr := auth.Address(r)
			s, token, u, err := a.Auth.Login(r.Context(), req.Username, req.Password, addr)
			if err != nil {
				var authErr *auth.Error
				var throttled *auth.ThrottledError
				if errors.As(err, &authErr) || errors.As(err, &throttled) {
					a.recordFailedLogin(r, req.Username, err)
				}
				return err
			}
			http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: token, Path: "/", HttpOnly: true,
				Secure: a.secureCookies(r), SameSite: http.SameSiteLaxMode, Expires: s.ExpiresAt})
			writeJSON(w, http.StatusOK, wire.LoginResponse{User: u, CSRFToken: s.CSRFToken, ExpiresAt: s.ExpiresAt})
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/users/oidc/login", tag: "users", public: true,
		query:   []param{{"redirect", "string", "path on this server to return to after login (default /)"}},
		summary: "Log in with the configured OpenID Connect issuer: redirects there (authorization code flow with PKCE)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			if a.OIDC == nil {
				return &apiError{status: http.StatusNotFound, msg: "OpenID Connect login is not configured on this server (see pulpo server --oidc-issuer)"}
			}
			audited(r).done = true
			return a.OIDC.Start(w, r, r.URL.Query().Get("redirect"), a.secureCookies(r))
		}})
	a.add(route{method: "GET", path: Prefix + "/users/oidc/callback", tag: "users", public: true,
		summary: "Where the OpenID Connect issuer sends the browser back: opens a session and redirects to where the login started",
		h: func(w http.ResponseWriter, r *http.Request) error {
			if a.OIDC == nil {
				return &apiError{status: http.StatusNotFound, msg: "OpenID Connect login is not configured on this server"}
			}
			audited(r).done = true
			id, redirect, err := a.OIDC.Finish(w, r)
			if err == nil {
				var s model.Session
				var token string
				s, token, _, err = a.Auth.LoginExternal(r.Context(), id, a.OIDCAutoCreate, auth.Address(r))
				if err == nil {
					http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: token, Path: "/", HttpOnly: true,
						Secure: a.secureCookies(r), SameSite: http.SameSiteLaxMode, Expires: s.ExpiresAt})
					http.Redirect(w, r, redirect, http.StatusFound)
					return nil
				}
			}
			var authErr *auth.Error
			if errors.As(err, &authErr) {
				a.recordFailedLogin(r, id.Username, err)
			}
			return err
		}})
	a.add(route{method: "POST", path: Prefix + "/users/logout", tag: "users", anyone: true, status: http.StatusNoContent,
		summary: "End this session (API keys are revoked on their own endpoint)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			p := principal(r)
			if p.SessionID != "" {
				if err := a.Store.Tx(r.Context(), func(q *store.Queries) error { return q.DeleteSession(r.Context(), p.SessionID) }); err != nil {
					return err
				}
			}
			rec := audited(r)
			rec.Action, rec.ObjectType, rec.ObjectID, rec.ObjectName = model.AuditLogout, "user", p.User.ID, p.User.Username
			rec.Summary = p.User.Username + " logged out"
			http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1,
				Secure: a.secureCookies(r), SameSite: http.SameSiteLaxMode})
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/users/me/permissions", tag: "users", anyone: true, response: wire.MyPermissions{},
		summary: "What the caller may do: their teams and each role they hold, with its scope",
		h: func(w http.ResponseWriter, r *http.Request) error {
			p := principal(r)
			q := a.Store.Read()
			teams, err := q.TeamsOf(r.Context(), p.User.ID)
			if err != nil {
				return err
			}
			roles, err := q.RolesByID(r.Context())
			if err != nil {
				return err
			}
			out := wire.MyPermissions{IsAdmin: p.Rights.Admin, Teams: teams, Grants: []wire.MyGrant{}}
			for _, t := range teams {
				for _, g := range t.Roles {
					role, ok := roles[g.RoleID]
					if !ok {
						continue
					}
					out.Grants = append(out.Grants, wire.MyGrant{Team: t.Name, Role: role.Name, Permissions: role.Permissions,
						ProjectIDs: g.ProjectIDs, ProjectGroupIDs: g.ProjectGroupIDs, EnvironmentIDs: g.EnvironmentIDs})
				}
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/users", tag: "users", perm: model.UserView, query: append(append([]param{}, pagingParams...), nameParams...),
		response: wire.Page[model.User]{}, summary: "List users and service accounts",
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			items, total, err := a.Store.Read().ListUsers(r.Context(), store.ListOptions{Skip: p.skip, Take: p.take,
				Name: r.URL.Query().Get("name"), PartialName: r.URL.Query().Get("partialName")})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/users", tag: "users", perm: model.UserEdit, scope: unscoped, status: http.StatusCreated,
		body: wire.CreateUserRequest{}, response: model.User{},
		summary: "Create a user (with a password) or a service account (isService: API keys only); only administrators make administrators",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.CreateUserRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			if req.IsAdmin {
				if err := a.allow(r, model.AdministerSystem, access.Scope{}); err != nil {
					return err
				}
			}
			u := model.User{Username: req.Username, DisplayName: req.DisplayName, EmailAddress: req.EmailAddress, IsAdmin: req.IsAdmin,
				IsService: req.IsService, ExternalID: req.ExternalID}
			switch {
			case req.IsService && req.Password != "":
				return &model.ValidationError{Subject: "user", Problems: []string{"password: service accounts have no password: create an API key for them"}}
			case req.ExternalID != "" && req.Password == "":
				// Logs in through OpenID Connect only.
			case !req.IsService:
				if err := model.CheckPassword(req.Password); err != nil {
					return err
				}
				hash, err := auth.HashPassword(req.Password)
				if err != nil {
					return err
				}
				u.PasswordHash = hash
			}
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				if err := q.CreateUser(r.Context(), &u); err != nil {
					return err
				}
				ev := auditEvent(r, model.AuditCreate, "user", access.Scope{}, nil, u)
				return q.AppendAudit(r.Context(), &ev)
			})
			if err != nil {
				return err
			}
			audited(r).done = true
			w.Header().Set("Location", Prefix+"/users/"+u.ID)
			writeJSON(w, http.StatusCreated, u)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/users/{id}", tag: "users", anyone: true, response: model.User{},
		summary: "Get a user (by id or username); anyone may read themselves",
		h: func(w http.ResponseWriter, r *http.Request) error {
			u, err := a.Store.Read().FindUser(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			if err := a.selfOr(r, u, model.UserView); err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, u)
			return nil
		}})
	a.add(route{method: "PUT", path: Prefix + "/users/{id}", tag: "users", perm: model.UserEdit, scope: unscoped,
		body: wire.UpdateUserRequest{}, response: model.User{},
		summary: "Change a user; disabling one ends their sessions and revokes their API keys at once",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.UpdateUserRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			var u model.User
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				old, err := q.FindUser(r.Context(), r.PathValue("id"))
				if err != nil {
					return err
				}
				if old.IsAdmin != req.IsAdmin || (old.IsAdmin && req.Disabled) {
					if err := a.allow(r, model.AdministerSystem, access.Scope{}); err != nil {
						return err
					}
				}
				u = old
				u.DisplayName, u.EmailAddress, u.IsAdmin, u.Disabled = req.DisplayName, req.EmailAddress, req.IsAdmin, req.Disabled
				if req.ExternalID != "" {
					u.ExternalID = req.ExternalID
				}
				if err := q.UpdateUser(r.Context(), &u); err != nil {
					return err
				}
				ev := auditEvent(r, model.AuditUpdate, "user", access.Scope{}, old, u)
				if req.Disabled && !old.Disabled {
					ev.Summary = "disabled user " + u.Username + " (sessions ended, API keys revoked)"
				}
				return q.AppendAudit(r.Context(), &ev)
			})
			if err != nil {
				return err
			}
			audited(r).done = true
			writeJSON(w, http.StatusOK, u)
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/users/{id}/password", tag: "users", anyone: true, body: wire.PasswordRequest{}, status: http.StatusNoContent,
		summary: "Set a user's password: one's own with currentPassword, anyone's with UserEdit; other sessions of the user end",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.PasswordRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			p := principal(r)
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				u, err := q.FindUser(r.Context(), r.PathValue("id"))
				if err != nil {
					return err
				}
				if u.ID == p.User.ID {
					if !auth.CheckPassword(u.PasswordHash, req.CurrentPassword) {
						return &model.ValidationError{Subject: "password change", Problems: []string{"currentPassword: is wrong"}}
					}
				} else if err := a.allow(r, model.UserEdit, access.Scope{}); err != nil {
					return err
				} else if u.IsAdmin {
					if err := a.allow(r, model.AdministerSystem, access.Scope{}); err != nil {
						return err
					}
				}
				if u.IsService {
					return &model.ValidationError{Subject: "password change", Problems: []string{"service accounts have no password"}}
				}
				if err := model.CheckPassword(req.Password); err != nil {
					return err
				}
				if u.PasswordHash, err = auth.HashPassword(req.Password); err != nil {
					return err
				}
				if err := q.UpdateUser(r.Context(), &u); err != nil {
					return err
				}
				if err := q.EndSessionsExcept(r.Context(), u.ID, p.SessionID); err != nil {
					return err
				}
				ev := auditEvent(r, model.AuditUpdate, "user", access.Scope{}, nil, nil)
				ev.ObjectID, ev.ObjectName, ev.Summary = u.ID, u.Username, "changed the password of "+u.Username
				return q.AppendAudit(r.Context(), &ev)
			})
			if err != nil {
				return err
			}
			audited(r).done = true
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/users/{id}/apikeys", tag: "users", anyone: true, response: []model.APIKey{},
		summary: "A user's API keys (never the keys themselves): purpose, created, expires, last used",
		h: func(w http.ResponseWriter, r *http.Request) error {
			u, err := a.Store.Read().FindUser(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			if err := a.selfOr(r, u, model.UserEdit); err != nil {
				return err
			}
			keys, err := a.Store.Read().ListAPIKeys(r.Context(), u.ID)
			if err != nil {
				return err
			}
			if keys == nil {
				keys = []model.APIKey{}
			}
			writeJSON(w, http.StatusOK, keys)
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/users/{id}/apikeys", tag: "users", anyone: true, status: http.StatusCreated,
		body: wire.CreateAPIKeyRequest{}, response: wire.CreatedAPIKey{},
		summary: "Create an API key for a user (oneself, or anyone with UserEdit); the key is in this answer only, the server keeps a hash",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.CreateAPIKeyRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			if req.Purpose == "" {
				return &model.ValidationError{Subject: "API key", Problems: []string{"purpose: is required (what the key is for, e.g. \"GitHub Actions deploy\")"}}
			}
			if req.ExpiresAt != nil && !req.ExpiresAt.After(a.Store.Now()) {
				return &model.ValidationError{Subject: "API key", Problems: []string{"expiresAt: is in the past"}}
			}
			var out wire.CreatedAPIKey
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				u, err := q.FindUser(r.Context(), r.PathValue("id"))
				if err != nil {
					return err
				}
				if err := a.selfOr(r, u, model.UserEdit); err != nil {
					return err
				}
				if u.Disabled {
					return &model.RefusedError{Reason: fmt.Sprintf("user %s is disabled; enable them first", u.Username)}
				}
				out.APIKey = auth.NewAPIKey()
				out.Key = model.APIKey{UserID: u.ID, Purpose: req.Purpose, ExpiresAt: req.ExpiresAt, Hash: auth.HashKey(out.APIKey)}
				if err := q.CreateAPIKey(r.Context(), &out.Key); err != nil {
					return err
				}
				ev := auditEvent(r, model.AuditCreate, "API key", access.Scope{}, nil, out.Key)
				ev.ObjectName, ev.Summary = req.Purpose, fmt.Sprintf("created API key %s for %s", out.Key.ID, u.Username)
				return q.AppendAudit(r.Context(), &ev)
			})
			if err != nil {
				return err
			}
			audited(r).done = true
			writeJSON(w, http.StatusCreated, out)
			return nil
		}})
	a.add(route{method: "DELETE", path: Prefix + "/users/{id}/apikeys/{keyId}", tag: "users", anyone: true, status: http.StatusNoContent,
		summary: "Revoke an API key at once",
		h: func(w http.ResponseWriter, r *http.Request) error {
			err := a.Store.Tx(r.Context(), func(q *store.Queries) error {
				u, err := q.FindUser(r.Context(), r.PathValue("id"))
				if err != nil {
					return err
				}
				if err := a.selfOr(r, u, model.UserEdit); err != nil {
					return err
				}
				if err := q.DeleteAPIKey(r.Context(), u.ID, r.PathValue("keyId")); err != nil {
					return err
				}
				ev := auditEvent(r, model.AuditDelete, "API key", access.Scope{}, nil, nil)
				ev.ObjectID, ev.Summary = r.PathValue("keyId"), fmt.Sprintf("revoked API key %s of %s", r.PathValue("keyId"), u.Username)
				return q.AppendAudit(r.Context(), &ev)
			})
			if err != nil {
				return err
			}
			audited(r).done = true
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})

	a.add(route{method: "GET", path: Prefix + "/permissions", tag: "users", anyone: true, response: []model.PermissionInfo{},
		summary: "Every permission, what it allows and which scopes limit it",
		h: func(w http.ResponseWriter, r *http.Request) error {
			writeJSON(w, http.StatusOK, model.Permissions())
			return nil
		}})
	addCRUD(a, crud[model.Role]{path: "/roles", kind: "role", plural: "roles (built-in and custom)", tag: "users",
		id:    func(v *model.Role) *string { return &v.ID },
		perms: crudPerms{model.UserView, model.TeamEdit, model.TeamEdit, model.TeamEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.Role, int, error) {
			all, err := q.ListRoles(ctx)
			return all, len(all), err
		},
		get: (*store.Queries).GetRole, create: (*store.Queries).CreateRole,
		update: (*store.Queries).UpdateRole, delete: (*store.Queries).DeleteRole})
	addCRUD(a, crud[model.Team]{path: "/teams", kind: "team", plural: "teams", tag: "users",
		id:    func(v *model.Team) *string { return &v.ID },
		perms: crudPerms{model.UserView, model.TeamEdit, model.TeamEdit, model.TeamEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.Team, int, error) {
			return q.ListTeams(ctx, o)
		},
		get: (*store.Queries).GetTeam,
		create: func(q *store.Queries, ctx context.Context, t *model.Team) error {
			if err := a.checkGrantable(ctx, q, t); err != nil {
				return err
			}
			return q.CreateTeam(ctx, t)
		},
		update: func(q *store.Queries, ctx context.Context, t *model.Team) error {
			if err := a.checkGrantable(ctx, q, t); err != nil {
				return err
			}
			return q.UpdateTeam(ctx, t)
		},
		delete: (*store.Queries).DeleteTeam})

	a.add(route{method: "GET", path: Prefix + "/audit", tag: "audit", perm: model.AuditView, response: wire.Page[model.AuditEvent]{},
		query:   append(auditParams, pagingParams...),
		summary: "The audit log, newest first: who changed what and when, each deployment, login and trust change; only what the caller may see",
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			f, err := auditFilter(r)
			if err != nil {
				return err
			}
			f.Skip, f.Take = p.skip, p.take
			items, total, err := a.Store.Read().ListAudit(r.Context(), f)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/audit/export", tag: "audit", perm: model.AuditView, query: auditParams,
		summary: "Export the audit records that match as JSON lines (application/x-ndjson), newest first",
		h: func(w http.ResponseWriter, r *http.Request) error {
			f, err := auditFilter(r)
			if err != nil {
				return err
			}
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Content-Disposition", `attachment; filename="pulpo-audit.jsonl"`)
			enc := json.NewEncoder(w)
			for f.Skip = 0; ; f.Skip += maxAuditPage {
				f.Take = maxAuditPage
				items, _, err := a.Store.Read().ListAudit(r.Context(), f)
				if err != nil {
					return err
				}
				for _, ev := range items {
					if err := enc.Encode(ev); err != nil {
						return nil // the client went away
					}
				}
				if len(items) < maxAuditPage {
					return nil
				}
			}
		}})
}

var auditParams = []param{
	{"actor", "string", "user id or username"}, {"projectId", "string", ""}, {"environmentId", "string", ""},
	{"objectId", "string", "the changed thing's id"}, {"action", "string", "create, update, delete, deploy, login, login-failed, logout, action or trust-changed"},
	{"from", "string", "RFC 3339 time, inclusive"}, {"to", "string", "RFC 3339 time, exclusive"},
}

func auditFilter(r *http.Request) (store.AuditFilter, error) {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), ProjectID: q.Get("projectId"), EnvironmentID: q.Get("environmentId"),
		ObjectID: q.Get("objectId"), Action: q.Get("action"), Visible: visible(r, model.AuditView)}
	for _, t := range []struct {
		name string
		dst  **time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, badRequest("%s %q is not an RFC 3339 time such as 2026-11-25T09:00:00Z", t.name, v)
			}
			*t.dst = &at
		}
	}
	return f, nil
}

// selfOr lets users at their own account, others only with perm.
func (a *API) selfOr(r *http.Request, u model.User, perm model.Permission) error {
	if principal(r).User.ID == u.ID {
		return nil
	}
	return a.allow(r, perm, access.Scope{})
}

// checkGrantable stops someone who may edit teams from handing out more
// than they hold: every permission of every role given must be theirs.
func (a *API) checkGrantable(ctx context.Context, q *store.Queries, t *model.Team) error {
	p, _ := auth.FromContext(ctx)
	if p.Rights.Admin {
		return nil
	}
	roles, err := q.RolesByID(ctx)
	if err != nil {
		return err
	}
	for _, g := range t.Roles {
		for _, perm := range roles[g.RoleID].Permissions {
			if !p.Rights.Anywhere(perm) || perm == model.AdministerSystem {
				return &access.DeniedError{Permission: perm, What: fmt.Sprintf("granting role %q (you may only grant what you hold)", roles[g.RoleID].Name)}
			}
		}
	}
	return nil
}

// recordFailedLogin writes a failed or throttled login to the audit log.
func (a *API) recordFailedLogin(r *http.Request, username string, cause error) {
	name := username
	if len(name) > model.MaxNameLength {
		name = name[:model.MaxNameLength]
	}
	ev := model.AuditEvent{Actor: name, Address: auth.Address(r), Action: model.AuditLoginFailed, ObjectType: "user",
		ObjectName: name, Summary: "failed login: " + cause.Error()}
	if err := a.Store.Tx(context.WithoutCancel(r.Context()), func(q *store.Queries) error { return q.AppendAudit(r.Context(), &ev) }); err != nil {
		a.Logger.Error("audit record lost", "action", ev.Action, "error", err)
	}
}

// secureCookies says whether the session cookie must only travel over
// HTTPS: when this request came over TLS or the server's public URL is
// https.
func (a *API) secureCookies(r *http.Request) bool {
	return r.TLS != nil || a.SecureCookies
}

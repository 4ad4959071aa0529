package api

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// boardRoutes serve the release board (what is live where, for people
// outside engineering), its share links, and the build information CI
// pushes, whose work items releases take.
func (a *API) boardRoutes() {
	a.add(route{method: "GET", path: Prefix + "/release-board", tag: "release board", perm: model.DeploymentView, response: model.Board{},
		summary: "The release board: per project and environment the release live there, since when, who deployed and approved it, its notes and work items (never a variable)",
		query: []param{{"projectId", "string", "only this project"}, {"projectGroupId", "string", "only this group's projects"},
			{"environmentId", "string", "only this environment"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			q := r.URL.Query()
			rights := principal(r).Rights
			b, err := a.Store.Read().ReleaseBoard(r.Context(), store.BoardFilter{
				ProjectID: q.Get("projectId"), ProjectGroupID: q.Get("projectGroupId"), EnvironmentID: q.Get("environmentId"),
				Deployments: visible(r, model.DeploymentView),
				Project: func(id, groupID string) bool {
					return rights.Allows(model.ProjectView, access.Scope{ProjectID: id, ProjectGroupID: groupID})
				},
				Environment: func(id string) bool {
					return rights.Allows(model.EnvironmentView, access.Scope{EnvironmentIDs: []string{id}})
				}})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, b)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/release-board/shared/{token}", tag: "release board", public: true, response: model.Board{},
		summary: "The release board a share link opens, without logging in: only the project or group the link names",
		h: func(w http.ResponseWriter, r *http.Request) error {
			b, err := a.SharedBoard(r, r.PathValue("token"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, b)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/release-board/shares", tag: "release board", perm: model.ProjectView, response: []model.BoardShare{},
		summary: "List the release board's share links (never their tokens)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			list, err := a.Store.Read().ListBoardShares(r.Context(), func(s model.BoardShare) bool {
				return principal(r).Rights.Allows(model.ProjectView, shareScope(s))
			})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, list)
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/release-board/shares", tag: "release board", perm: model.ProjectEdit, status: http.StatusCreated,
		body: wire.CreateBoardShareRequest{}, response: wire.CreatedBoardShare{},
		summary: "Make a link that shows the board without logging in (all of it, a project group's or a project's; optionally until a time): its token is shown once",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.CreateBoardShareRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			s := model.BoardShare{Name: req.Name, ProjectGroupID: req.ProjectGroupID, ProjectID: req.ProjectID, ExpiresAt: req.ExpiresAt, CreatedBy: caller(r)}
			scope := shareScope(s)
			if s.ProjectID != "" {
				ps, err := a.projectScope(r.Context(), a.Store.Read(), s.ProjectID)
				if errors.Is(err, store.ErrNotFound) {
					return badRequest("projectId: project %q does not exist", s.ProjectID)
				} else if err != nil {
					return err
				}
				scope = ps
			}
			// Sharing shows outsiders what the caller could change.
			if err := a.allow(r, model.ProjectEdit, scope); err != nil {
				return err
			}
			token := rand.Text() + rand.Text() // 260 random bits
			if err := a.Store.Tx(r.Context(), func(q *store.Queries) error { return q.CreateBoardShare(r.Context(), &s, token) }); err != nil {
				return err
			}
			rec := audited(r)
			rec.Action, rec.ObjectType, rec.ObjectID, rec.ObjectName, rec.ProjectID = model.AuditCreate, "board share", s.ID, s.Name, s.ProjectID
			rec.Summary = "shared the release board: " + s.Name
			writeJSON(w, http.StatusCreated, wire.CreatedBoardShare{Share: s, Token: token,
				Path: "/board/" + url.PathEscape(token), APIPath: Prefix + "/release-board/shared/" + url.PathEscape(token)})
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/release-board/shares/{id}/revoke", tag: "release board", perm: model.ProjectEdit, response: model.BoardShare{},
		scope:   a.pathShare,
		summary: "Revoke a share link: it stops working at once, for good",
		h: func(w http.ResponseWriter, r *http.Request) error {
			var s model.BoardShare
			err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
				s, err = q.RevokeBoardShare(r.Context(), r.PathValue("id"), caller(r))
				return err
			})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, s)
			return nil
		}})

	a.add(route{method: "POST", path: Prefix + "/build-information", tag: "packages", perm: model.FeedPush, status: http.StatusCreated,
		body: model.BuildInformation{}, response: wire.BuildInformationPushResult{},
		summary: "Record a CI build's information for a package version (build URL, commits, work items); releases of that version take its work items",
		query:   []param{{"overwriteMode", "string", "FailIfExists (default), OverwriteExisting or IgnoreIfExists"}},
		h: func(w http.ResponseWriter, r *http.Request) error {
			var b model.BuildInformation
			if err := decode(r, &b); err != nil {
				return err
			}
			mode := r.URL.Query().Get("overwriteMode")
			b.ID, b.CreatedBy = "", caller(r)
			var existed bool
			err := a.Store.Tx(r.Context(), func(q *store.Queries) (err error) {
				existed, err = q.PushBuildInformation(r.Context(), &b, mode)
				return err
			})
			if err != nil {
				return err
			}
			res, status := wire.BuildInformationPushResult{BuildInformation: b, Outcome: "Created"}, http.StatusCreated
			switch {
			case existed && mode == store.BuildInfoIgnoreIfExists:
				res.Outcome, status = "Ignored", http.StatusOK
			case existed:
				res.Outcome, status = "Overwritten", http.StatusOK
			}
			rec := audited(r)
			rec.Action, rec.ObjectType, rec.ObjectID, rec.ObjectName = model.AuditCreate, "build information", b.ID, b.PackageID+" "+b.Version
			rec.Summary = "pushed build information for " + b.PackageID + " " + b.Version + " (" + res.Outcome + ")"
			writeJSON(w, status, res)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/build-information", tag: "packages", perm: model.FeedView, response: wire.Page[model.BuildInformation]{},
		summary: "List build information, newest first",
		query:   append([]param{{"packageId", "string", "one package's"}}, pagingParams...),
		h: func(w http.ResponseWriter, r *http.Request) error {
			p, err := pagingOf(r)
			if err != nil {
				return err
			}
			items, total, err := a.Store.Read().ListBuildInformation(r.Context(), r.URL.Query().Get("packageId"), store.ListOptions{Skip: p.skip, Take: p.take})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, page(items, total, p))
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/build-information/{id}", tag: "packages", perm: model.FeedView, response: model.BuildInformation{},
		summary: "Get build information",
		h: func(w http.ResponseWriter, r *http.Request) error {
			b, err := a.Store.Read().GetBuildInformation(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, b)
			return nil
		}})
	a.add(route{method: "DELETE", path: Prefix + "/build-information/{id}", tag: "packages", perm: model.FeedAdminister, status: http.StatusNoContent,
		summary: "Delete build information (releases keep the work items they took)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			if err := a.Store.Tx(r.Context(), func(q *store.Queries) error { return q.DeleteBuildInformation(r.Context(), r.PathValue("id")) }); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
}

// SharedBoard is the board a share link's token opens; a token that opens
// nothing (unknown, revoked, expired) is a 404 that says which it may be.
func (a *API) SharedBoard(r *http.Request, token string) (model.Board, error) {
	q := a.Store.Read()
	s, err := q.ActiveBoardShare(r.Context(), token)
	if errors.Is(err, store.ErrNotFound) {
		return model.Board{}, &apiError{status: http.StatusNotFound,
			msg: "this link does not open a release board: it may have expired or been revoked; ask whoever shared it for a new one"}
	}
	if err != nil {
		return model.Board{}, err
	}
	return q.ReleaseBoard(r.Context(), store.BoardFilter{ProjectID: s.ProjectID, ProjectGroupID: s.ProjectGroupID})
}

// shareScope is what a share link shows: a project, a group, or all.
func shareScope(s model.BoardShare) access.Scope {
	return access.Scope{ProjectID: s.ProjectID, ProjectGroupID: s.ProjectGroupID}
}

func (a *API) pathShare(r *http.Request) (access.Scope, error) {
	q := a.Store.Read()
	s, err := q.GetBoardShare(r.Context(), r.PathValue("id"))
	if err != nil {
		return access.Scope{}, err
	}
	if s.ProjectID != "" {
		scope, err := a.projectScope(r.Context(), q, s.ProjectID)
		if errors.Is(err, store.ErrNotFound) {
			return shareScope(s), nil // its project is gone: still revocable
		}
		return scope, err
	}
	return shareScope(s), nil
}

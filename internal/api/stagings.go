package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/access"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/staging"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// never stands for "no idle expiry" in KeepUntil.
var never = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// keepUntil reads a StagingRequest's KeepUntil: nil leaves it as it is;
// "default" gives the zero time, which puts the template's idle expiry
// back.
func keepUntil(s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, nil
	case strings.EqualFold(s, "never"):
		return &never, nil
	case strings.EqualFold(s, "default"):
		return &time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		t := now.Add(d).UTC()
		return &t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		t = t.AddDate(0, 0, 1) // the whole of that day, UTC
		return &t, nil
	}
	return nil, &model.ValidationError{Subject: "staging", Problems: []string{fmt.Sprintf("keepUntil: %q is not a time: give 2026-12-31 (kept through that day, UTC), an RFC 3339 time, a duration such as 72h, never, or default", s)}}
}

func (a *API) pathStaging(r *http.Request) (access.Scope, error) {
	st, err := a.Store.Read().GetStaging(r.Context(), r.PathValue("id"))
	if err != nil {
		return access.Scope{}, err
	}
	return a.projectScope(r.Context(), a.Store.Read(), st.ProjectID)
}

// stagingView is a staging as the API shows it: sensitive values masked,
// expiry planned.
func (a *API) stagingView(ctx context.Context, st model.Staging) model.Staging {
	t, err := a.Store.Read().GetStagingTemplate(ctx, st.ProjectID)
	if err != nil {
		return st
	}
	return viewOf(t, st)
}

func viewOf(t model.StagingTemplate, st model.Staging) model.Staging {
	staging.Plan(t, &st)
	return staging.MaskStaging(t, st)
}

func (a *API) stagingResult(w http.ResponseWriter, r *http.Request, res staging.Result, status int, verb string) {
	rec := audited(r)
	rec.ObjectType, rec.ObjectID, rec.ObjectName, rec.ProjectID = "staging", res.Staging.ID, res.Staging.Name, res.Staging.ProjectID
	rec.Summary = verb + " staging " + res.Staging.Name
	if res.Created {
		rec.Action = model.AuditCreate
	}
	writeJSON(w, status, wire.StagingResult{Staging: a.stagingView(r.Context(), res.Staging), TaskID: res.TaskID, Created: res.Created})
}

func change(req wire.StagingRequest) model.StagingChange {
	return model.StagingChange{Set: req.Set, Unset: req.Unset, Reset: req.Reset}
}

func (a *API) stagingRoutes() {
	a.add(route{method: "GET", path: Prefix + "/projects/{id}/staging-template", tag: "stagings", perm: model.StagingView, scope: a.pathProject,
		summary: "A project's staging template: control scripts, defaults, naming, expiry (sensitive defaults masked)", response: model.StagingTemplate{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			t, err := a.Stagings.Template(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, t)
			return nil
		}})
	a.add(route{method: "PUT", path: Prefix + "/projects/{id}/staging-template", tag: "stagings", perm: model.StagingTemplateEdit, scope: a.pathProject,
		summary: "Set a project's staging template; send the version you read, or 0 to replace whatever is there", body: model.StagingTemplate{}, response: model.StagingTemplate{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			var t model.StagingTemplate
			if err := decode(r, &t); err != nil {
				return err
			}
			t.ProjectID = r.PathValue("id")
			if err := a.Stagings.SaveTemplate(r.Context(), &t); err != nil {
				return err
			}
			rec := audited(r)
			rec.ObjectType, rec.ObjectID, rec.ProjectID, rec.Summary = "staging template", t.ProjectID, t.ProjectID, "changed the staging template"
			writeJSON(w, http.StatusOK, staging.MaskTemplate(t))
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/stagings", tag: "stagings", perm: model.StagingView,
		summary:  "List stagings, of one project or of every project the caller may see",
		query:    []param{{"projectId", "string", "only this project's"}, {"name", "string", "only the staging of this name (with projectId)"}, {"archived", "boolean", "false leaves archived ones out"}},
		response: []model.Staging{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			q := r.URL.Query()
			list, err := a.Store.Read().ListStagings(r.Context(), q.Get("projectId"))
			if err != nil {
				return err
			}
			out := []model.Staging{}
			// Per project, not per staging: one scope and one template.
			scopes := map[string]access.Scope{}
			templates := map[string]model.StagingTemplate{}
			for _, st := range list {
				if name := q.Get("name"); name != "" && !strings.EqualFold(name, st.Name) {
					continue
				}
				if q.Get("archived") == "false" && st.State == model.StagingArchived {
					continue
				}
				s, ok := scopes[st.ProjectID]
				if !ok {
					if s, err = a.projectScope(r.Context(), a.Store.Read(), st.ProjectID); err != nil {
						return err
					}
					scopes[st.ProjectID] = s
				}
				if a.allow(r, model.StagingView, s) != nil {
					continue
				}
				t, ok := templates[st.ProjectID]
				if !ok {
					if t, err = a.Store.Read().GetStagingTemplate(r.Context(), st.ProjectID); err != nil {
						return err
					}
					templates[st.ProjectID] = t
				}
				out = append(out, viewOf(t, st))
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}})
	create := func(upsert bool) handlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			var req wire.StagingRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			var problems []string
			if req.ProjectID == "" {
				problems = append(problems, "projectId: is required")
			}
			if strings.TrimSpace(req.Name) == "" {
				problems = append(problems, "name: is required")
			}
			if len(problems) > 0 {
				return &model.ValidationError{Subject: "staging", Problems: problems}
			}
			s, err := a.projectScope(r.Context(), a.Store.Read(), req.ProjectID)
			if errors.Is(err, store.ErrNotFound) {
				return &model.ValidationError{Subject: "staging", Problems: []string{fmt.Sprintf("projectId: project %q does not exist", req.ProjectID)}}
			}
			if err != nil {
				return err
			}
			if err := a.allow(r, model.StagingEdit, s); err != nil {
				return err
			}
			keep, err := keepUntil(req.KeepUntil, a.Store.Now())
			if err != nil {
				return err
			}
			var res staging.Result
			if upsert {
				res, err = a.Stagings.Upsert(r.Context(), req.ProjectID, req.Name, change(req), keep, caller(r))
			} else {
				res, err = a.Stagings.Create(r.Context(), req.ProjectID, req.Name, change(req), keep, caller(r))
			}
			if err != nil {
				return err
			}
			verb := "updated"
			if res.Created {
				verb = "created"
			}
			a.stagingResult(w, r, res, http.StatusAccepted, verb)
			return nil
		}
	}
	a.add(route{method: "POST", path: Prefix + "/stagings", tag: "stagings", perm: model.StagingEdit, status: http.StatusAccepted,
		summary: "Create a staging: runs config_check (its output is the error when it fails), then queues the create script",
		body:    wire.StagingRequest{}, response: wire.StagingResult{}, h: create(false)})
	a.add(route{method: "POST", path: Prefix + "/stagings/upsert", tag: "stagings", perm: model.StagingEdit, status: http.StatusAccepted,
		summary: "Create the staging, or update it (restoring it when archived): one idempotent call for CI",
		body:    wire.StagingRequest{}, response: wire.StagingResult{}, h: create(true)})
	a.add(route{method: "GET", path: Prefix + "/stagings/{id}", tag: "stagings", perm: model.StagingView, scope: a.pathStaging,
		summary: "A staging with its effective configuration (sensitive values masked) and its action history", response: wire.StagingDetail{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			q := a.Store.Read()
			st, err := q.GetStaging(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			t, err := q.GetStagingTemplate(r.Context(), st.ProjectID)
			if err != nil {
				return err
			}
			actions, err := q.ListStagingActions(r.Context(), st.ID)
			if err != nil {
				return err
			}
			if actions == nil {
				actions = []model.StagingActionRecord{}
			}
			writeJSON(w, http.StatusOK, wire.StagingDetail{Staging: a.stagingView(r.Context(), st), Effective: a.Stagings.Effective(t, st), Actions: actions})
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/stagings/{id}/update", tag: "stagings", perm: model.StagingEdit, scope: a.pathStaging, status: http.StatusAccepted,
		summary: "Change a staging's configuration (set, unset, reset keys) and run its update script", body: wire.StagingRequest{}, response: wire.StagingResult{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.StagingRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			keep, err := keepUntil(req.KeepUntil, a.Store.Now())
			if err != nil {
				return err
			}
			res, err := a.Stagings.Update(r.Context(), r.PathValue("id"), change(req), keep, caller(r))
			if err != nil {
				return err
			}
			a.stagingResult(w, r, res, http.StatusAccepted, "updated")
			return nil
		}})
	for _, act := range []struct {
		path, verb, summary string
		perm                model.Permission
		do                  func(ctx context.Context, id, by string) (staging.Result, error)
	}{
		{"archive", "archived", "Run the archive script; archive_check then says when it is archived", model.StagingEdit, a.Stagings.Archive},
		{"restore", "restored", "Bring an archived staging back: config_check, then the restore script (create when there is none)", model.StagingEdit, a.Stagings.Restore},
		{"cleanup", "cleaned up", "Run the cleanup script of an archived staging (again, after CleanupFailed); on success the staging is gone", model.StagingDelete, a.Stagings.Cleanup},
	} {
		a.add(route{method: "POST", path: Prefix + "/stagings/{id}/" + act.path, tag: "stagings", perm: act.perm, scope: a.pathStaging, status: http.StatusAccepted,
			summary: act.summary, response: wire.StagingResult{},
			h: func(w http.ResponseWriter, r *http.Request) error {
				res, err := act.do(r.Context(), r.PathValue("id"), caller(r))
				if err != nil {
					return err
				}
				a.stagingResult(w, r, res, http.StatusAccepted, act.verb)
				return nil
			}})
	}
	a.add(route{method: "POST", path: Prefix + "/stagings/{id}/cancel", tag: "stagings", perm: model.StagingEdit, scope: a.pathStaging,
		summary: "Cancel the staging's action under way (whoever may act on stagings may stop one); the staging shows Failure", response: model.Task{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			st, err := a.Store.Read().GetStaging(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			if st.TaskID == "" {
				return &model.RefusedError{Reason: fmt.Sprintf("staging %s has no action under way", st.Name)}
			}
			t, err := a.cancelTask(r.Context(), st.TaskID)
			if err != nil {
				return err
			}
			rec := audited(r)
			rec.ObjectType, rec.ObjectName, rec.ProjectID, rec.Summary = "staging", st.Name, st.ProjectID, "canceled the action under way on staging "+st.Name
			writeJSON(w, http.StatusOK, t)
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/stagings/{id}/keep", tag: "stagings", perm: model.StagingEdit, scope: a.pathStaging,
		summary: "Keep a staging from idle expiry until a time (keepUntil: a date, a time, a duration, never; empty or default: back to the template's expiry)",
		body:    wire.StagingRequest{}, response: model.Staging{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.StagingRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			keep, err := keepUntil(req.KeepUntil, a.Store.Now())
			if err != nil {
				return err
			}
			st, err := a.Stagings.Keep(r.Context(), r.PathValue("id"), keep, caller(r))
			if err != nil {
				return err
			}
			rec := audited(r)
			rec.ObjectType, rec.ObjectName, rec.ProjectID, rec.Summary = "staging", st.Name, st.ProjectID, "changed the expiry of staging "+st.Name
			writeJSON(w, http.StatusOK, a.stagingView(r.Context(), st))
			return nil
		}})
	a.add(route{method: "DELETE", path: Prefix + "/stagings/{id}", tag: "stagings", perm: model.StagingDelete, scope: a.pathStaging, status: http.StatusNoContent,
		summary: "Forget a staging without running any script (for one whose resources are already gone)",
		h: func(w http.ResponseWriter, r *http.Request) error {
			st, err := a.Stagings.Delete(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			rec := audited(r)
			rec.Action, rec.ObjectType, rec.ObjectName, rec.ProjectID, rec.Summary = model.AuditDelete, "staging", st.Name, st.ProjectID, "deleted staging "+st.Name
			w.WriteHeader(http.StatusNoContent)
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/stagings/{id}/promote", tag: "stagings", perm: model.ReleaseCreate, scope: a.pathStaging, status: http.StatusCreated,
		summary: "Turn a staging into a release of its project: its tag becomes every package's version; the release follows the lifecycle",
		body:    wire.PromoteStagingRequest{}, response: wire.CreateReleaseResponse{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			var req wire.PromoteStagingRequest
			if err := decode(r, &req); err != nil {
				return err
			}
			q := a.Store.Read()
			st, err := q.GetStaging(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			t, err := q.GetStagingTemplate(r.Context(), st.ProjectID)
			if err != nil {
				return err
			}
			cfg := model.EffectiveConfig(t.Defaults, st.Overrides)
			level, key, _ := model.SplitStagingKey(t.TagKey)
			tag := cfg.App[key]
			if level == "deployment" {
				tag = cfg.Deployment[key]
			}
			if tag == "" || t.IsSensitive(level, key) {
				return &model.RefusedError{Reason: fmt.Sprintf("staging %s has no %s to promote: set it, or change the template's tagKey", st.Name, t.TagKey)}
			}
			d, err := q.GetProcess(r.Context(), st.ProjectID)
			if err != nil {
				return err
			}
			rel := model.Release{ProjectID: st.ProjectID, Version: req.Version, ChannelID: req.Channel, CreatedBy: caller(r),
				Notes: strings.TrimSpace(req.Notes + "\n\nPromoted from staging " + st.Name + " (" + t.TagKey + "=" + tag + ")")}
			if rel.Version == "" && model.ValidateVersion(tag) == nil {
				rel.Version = tag // else (a commit hash) the project's next version
			}
			seen := map[string]bool{}
			for _, s := range d.Steps {
				if id := s.PackageID(); id != "" && !seen[strings.ToLower(id)] {
					seen[strings.ToLower(id)] = true
					rel.Packages = append(rel.Packages, model.ReleasePackage{PackageID: id, Version: tag})
				}
			}
			return a.createRelease(w, r, rel, "promoted staging "+st.Name+" to release ")
		}})
}

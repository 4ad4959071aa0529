package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// libraryRoutes serve step templates and script modules.
func (a *API) libraryRoutes() {
	addCRUD(a, crud[model.StepTemplate]{path: "/step-templates", kind: "step template", plural: "step templates", tag: "library",
		id:    func(v *model.StepTemplate) *string { return &v.ID },
		perms: crudPerms{model.ActionTemplateView, model.ActionTemplateEdit, model.ActionTemplateEdit, model.ActionTemplateEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.StepTemplate, int, error) {
			return q.ListStepTemplates(ctx, o)
		},
		get: (*store.Queries).GetStepTemplate, create: (*store.Queries).CreateStepTemplate,
		update: (*store.Queries).UpdateStepTemplate, delete: (*store.Queries).DeleteStepTemplate})
	a.add(route{method: "GET", path: Prefix + "/step-templates/{id}/versions", tag: "library", perm: model.ActionTemplateView,
		summary: "Every kept version of a step template, newest first", response: []model.StepTemplate{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			list, err := a.Store.Read().ListStepTemplateVersions(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, list)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/step-templates/{id}/versions/{version}", tag: "library", perm: model.ActionTemplateView,
		summary: "One kept version of a step template", response: model.StepTemplate{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			v, err := strconv.Atoi(r.PathValue("version"))
			if err != nil || v < 1 {
				return badRequest("version must be a positive number, not %q", r.PathValue("version"))
			}
			t, err := a.Store.Read().GetStepTemplateVersion(r.Context(), r.PathValue("id"), v)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, t)
			return nil
		}})
	a.add(route{method: "GET", path: Prefix + "/step-templates/{id}/usage", tag: "library", perm: model.ActionTemplateView,
		summary: "The project steps made from a step template, the version each uses and whether it is behind", response: []model.StepTemplateUsage{},
		h: func(w http.ResponseWriter, r *http.Request) error {
			usage, err := a.Store.Read().StepTemplateUsage(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			// Only the projects the caller may see.
			rights := principal(r).Rights
			var out []model.StepTemplateUsage
			for _, u := range usage {
				s, err := a.projectScope(r.Context(), a.Store.Read(), u.ProjectID)
				if err != nil {
					return err
				}
				perm := model.ProcessView
				if u.RunbookID != "" {
					perm = model.RunbookView
				}
				if rights.Allows(perm, s) {
					out = append(out, u)
				}
			}
			if out == nil {
				out = []model.StepTemplateUsage{}
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}})
	a.add(route{method: "POST", path: Prefix + "/projects/{id}/process/steps/{step}/update-template", tag: "projects",
		perm: model.ProcessEdit, scope: a.pathProject, response: wire.StepTemplateUpdate{},
		query:   []param{{"dryRun", "boolean", "only say what would change"}},
		summary: "Move a step made from a step template (by id or name) to the template's newest version; dryRun shows what changes first",
		h: func(w http.ResponseWriter, r *http.Request) error {
			dry, err := boolParam(r, "dryRun")
			if err != nil {
				return err
			}
			projectID, step := r.PathValue("id"), r.PathValue("step")
			var out wire.StepTemplateUpdate
			err = a.Store.Tx(r.Context(), func(q *store.Queries) error {
				before, err := q.GetProcess(r.Context(), projectID)
				if err != nil {
					return err
				}
				change, d, err := q.UpdateStepToNewestTemplate(r.Context(), projectID, step, dry)
				if err != nil {
					return err
				}
				i := slices.IndexFunc(d.Steps, func(s model.Step) bool { return s.ID == step || model.SameName(s.Name, step) })
				out = wire.StepTemplateUpdate{ProjectID: projectID, StepID: d.Steps[i].ID, StepName: d.Steps[i].Name, DryRun: dry, Change: change, Process: d}
				rec := audited(r)
				if dry || change.From == change.To {
					rec.done = true // nothing changed
					return nil
				}
				before.Steps = model.RedactSteps(before.Steps)
				rec.Action, rec.ObjectType, rec.Summary = model.AuditUpdate, "deployment process",
					"moved step "+strconv.Quote(out.StepName)+" to step template version "+strconv.Itoa(change.To)
				rec.Before, rec.After = redactJSON(before), redactJSON(redactProcess(d))
				return nil
			})
			if err != nil {
				return err
			}
			out.Process = redactProcess(out.Process)
			writeJSON(w, http.StatusOK, out)
			return nil
		}})

	a.add(route{method: "POST", path: Prefix + "/runbooks/{id}/steps/{step}/update-template", tag: "runbooks",
		perm: model.RunbookEdit, scope: a.pathRunbook, response: wire.StepTemplateUpdate{},
		query:   []param{{"dryRun", "boolean", "only say what would change"}},
		summary: "Move a runbook step made from a step template (by id or name) to the template's newest version; publish the runbook to use it",
		h: func(w http.ResponseWriter, r *http.Request) error {
			dry, err := boolParam(r, "dryRun")
			if err != nil {
				return err
			}
			id, step := r.PathValue("id"), r.PathValue("step")
			var out wire.StepTemplateUpdate
			err = a.Store.Tx(r.Context(), func(q *store.Queries) error {
				before, err := q.GetRunbook(r.Context(), id)
				if err != nil {
					return err
				}
				change, rb, err := q.UpdateRunbookStepToNewestTemplate(r.Context(), id, step, dry)
				if err != nil {
					return err
				}
				i := slices.IndexFunc(rb.Steps, func(s model.Step) bool { return s.ID == step || model.SameName(s.Name, step) })
				out = wire.StepTemplateUpdate{ProjectID: rb.ProjectID, RunbookID: rb.ID, StepID: rb.Steps[i].ID, StepName: rb.Steps[i].Name, DryRun: dry, Change: change,
					Process: redactProcess(model.DeploymentProcess{ProjectID: rb.ProjectID, Steps: rb.Steps})}
				rec := audited(r)
				if dry || change.From == change.To {
					rec.done = true
					return nil
				}
				before.Steps = model.RedactSteps(before.Steps)
				rb.Steps = model.RedactSteps(rb.Steps)
				rec.Action, rec.ObjectType, rec.ObjectName, rec.Summary = model.AuditUpdate, "runbook", rb.Name,
					"moved runbook step "+strconv.Quote(out.StepName)+" to step template version "+strconv.Itoa(change.To)
				rec.Before, rec.After = redactJSON(before), redactJSON(rb)
				return nil
			})
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}})

	addCRUD(a, crud[model.ScriptModule]{path: "/script-modules", kind: "script module", plural: "script modules", tag: "library",
		id:    func(v *model.ScriptModule) *string { return &v.ID },
		perms: crudPerms{model.LibraryVariableSetView, model.LibraryVariableSetEdit, model.LibraryVariableSetEdit, model.LibraryVariableSetEdit},
		list: func(q *store.Queries, ctx context.Context, _ *http.Request, o store.ListOptions) ([]model.ScriptModule, int, error) {
			return q.ListScriptModules(ctx, o)
		},
		get: (*store.Queries).GetScriptModule, create: (*store.Queries).CreateScriptModule,
		update: (*store.Queries).UpdateScriptModule, delete: (*store.Queries).DeleteScriptModule})
}

// redactProcess blanks the sealed sensitive parameter values of its steps.
func redactProcess(d model.DeploymentProcess) model.DeploymentProcess {
	d.Steps = model.RedactSteps(d.Steps)
	return d
}

package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// stepList is a list of steps the portal edits step by step: a project's
// deployment process or a runbook's draft. The step handlers (add, edit,
// move, enable, delete) work on either; only where the list is read from
// and saved to, and which page shows it, differ.
type stepList struct {
	// Base is the portal path of the page listing the steps; a step's
	// pages and forms are under Base+"/steps/".
	Base string
	// Anchor is the fragment of that page where the steps are.
	Anchor string
	// BackLabel names that page on a step's page (empty: the project's name).
	BackLabel string
	// Note is added to the message after a change (a runbook's draft
	// runs only once published).
	Note string
	// StepAPI is the API path under which the list's steps are, for a
	// step template update ("…/steps/{step}/update-template").
	StepAPI string
	// Edit is the permission changing the steps takes (the API's).
	Edit model.Permission
	// Channels says steps may be limited to channels (a deployment
	// process's; a runbook has no releases, so no channels).
	Channels bool
	// load reads the steps.
	load func(r *http.Request) ([]model.Step, error)
	// update reads the steps, changes them and saves them.
	update func(r *http.Request, change func(*[]model.Step) error) error
	// show draws the listing page again, with v.Error set.
	show func(w http.ResponseWriter, r *http.Request, v *view, status int, form stepForm)
}

// page is the listing page's address with a message.
func (l stepList) page(done string) string {
	u := l.Base
	if done != "" {
		u += "?done=" + url.QueryEscape(done+l.Note)
	}
	return u + "#" + l.Anchor
}

// processSteps is the project's deployment process.
func (p *Portal) processSteps(r *http.Request) stepList {
	id := r.PathValue("id")
	return stepList{Base: "/projects/" + id, Anchor: "process", Channels: true, Edit: model.ProcessEdit,
		StepAPI: "/projects/" + url.PathEscape(id) + "/process/steps",
		load: func(r *http.Request) ([]model.Step, error) {
			var d model.DeploymentProcess
			_, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id)+"/process", nil, &d)
			return d.Steps, err
		},
		update: func(r *http.Request, change func(*[]model.Step) error) error {
			return p.saveProcess(r, id, func(d *model.DeploymentProcess) error { return change(&d.Steps) })
		},
		show: func(w http.ResponseWriter, r *http.Request, v *view, status int, form stepForm) {
			p.showProject(w, r, v, status, form, releaseForm{})
		}}
}

// runbookSteps is a runbook's draft (runs use its published snapshot).
func (p *Portal) runbookSteps(r *http.Request) stepList {
	id, rbID := r.PathValue("id"), r.PathValue("runbook")
	return stepList{Base: "/projects/" + id + "/runbooks/" + rbID, Anchor: "steps", BackLabel: "the runbook", Edit: model.RunbookEdit,
		Note:    ": publish the runbook to run the change",
		StepAPI: "/runbooks/" + url.PathEscape(rbID) + "/steps",
		load: func(r *http.Request) ([]model.Step, error) {
			rb, err := p.runbookOf(r, id, rbID)
			return rb.Steps, err
		},
		update: func(r *http.Request, change func(*[]model.Step) error) error {
			rb, err := p.runbookOf(r, id, rbID)
			if err != nil {
				return err
			}
			if err := change(&rb.Steps); err != nil {
				return err
			}
			_, err = p.call(r, http.MethodPut, "/runbooks/"+url.PathEscape(rbID), rb, nil)
			return err
		},
		show: func(w http.ResponseWriter, r *http.Request, v *view, status int, form stepForm) {
			p.showRunbook(w, r, v, status, form)
		}}
}

// runbookOf reads a runbook of the project in the URL: another project's
// is not found here.
func (p *Portal) runbookOf(r *http.Request, projectID, id string) (model.Runbook, error) {
	var rb model.Runbook
	if _, err := p.call(r, http.MethodGet, "/runbooks/"+url.PathEscape(id), nil, &rb); err != nil {
		return rb, err
	}
	if rb.ProjectID != projectID {
		return model.Runbook{}, &apiError{Status: http.StatusNotFound, Message: "the project has no runbook " + id}
	}
	return rb, nil
}

// stepsView is what the "steplist" template draws: the steps in order,
// each with its Edit link and, for those who may change them, the move,
// enable and delete buttons.
type stepsView struct {
	Steps        []model.Step
	Base         string
	CSRF         string
	MayEdit      bool
	EmailTeams   map[string]*emailTeams
	ProjectNames map[string]string
}

// addStepView is what the "addstep" template draws: the add-a-step form
// with every kind of step, posting to Action.
type addStepView struct {
	Action        string
	ProjectID     string
	Form          stepForm
	Error         error
	CSRF          string
	StepTemplates []model.StepTemplate
	Packages      []model.Package
	Feeds         []model.Feed
	Projects      []model.Project
}

// stepChoices reads what the add-a-step form offers to choose from: the
// library's packages, feeds and step templates, and the projects (for a
// deploy-a-release step).
func (p *Portal) stepChoices(r *http.Request) (packages []model.Package, feeds []model.Feed, templates []model.StepTemplate) {
	var pkgs wire.Page[model.Package]
	p.call(r, http.MethodGet, "/packages?take=1000", nil, &pkgs)
	var tpls wire.Page[model.StepTemplate]
	p.call(r, http.MethodGet, "/step-templates?take=1000", nil, &tpls)
	return pkgs.Items, p.feedList(r), tpls.Items
}

// mayInProject reports whether the visitor holds a permission for a
// project, asking the API what they may do: an administrator, or a team
// role with it whose scope takes the project (or its group). A grant
// limited to environments counts: what it allows there the API decides.
// This only spares visitors forms the API would refuse.
func (p *Portal) mayInProject(r *http.Request, perm model.Permission, project model.Project) bool {
	var me wire.MyPermissions
	if _, err := p.call(r, http.MethodGet, "/users/me/permissions", nil, &me); err != nil {
		return false
	}
	return grantsIn(me, perm, project)
}

func grantsIn(me wire.MyPermissions, perm model.Permission, project model.Project) bool {
	if me.IsAdmin {
		return true
	}
	info, ok := model.LookupPermission(perm)
	if !ok {
		return false
	}
	for _, g := range me.Grants {
		if !slices.Contains(g.Permissions, perm) {
			continue
		}
		scoped := len(g.ProjectIDs)+len(g.ProjectGroupIDs)+len(g.EnvironmentIDs) > 0
		if info.Dims == 0 && scoped {
			continue // a limited grant gives no server-wide power, as the API rules
		}
		if info.Dims&model.ByProject == 0 || len(g.ProjectIDs)+len(g.ProjectGroupIDs) == 0 ||
			slices.Contains(g.ProjectIDs, project.ID) || project.ProjectGroupID != "" && slices.Contains(g.ProjectGroupIDs, project.ProjectGroupID) {
			return true
		}
	}
	return false
}

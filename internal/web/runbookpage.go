package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// The runbook page: a runbook's draft steps, edited with the process's
// step handlers (stepList), its published snapshot and its runs.

func (p *Portal) runbookRoutes() {
	m := p.mux
	m.HandleFunc("GET /projects/{id}/runbooks/{runbook}", p.runbook)
	m.HandleFunc("POST /projects/{id}/runbooks/{runbook}/steps", p.stepsOf(p.runbookSteps, p.addStep))
	m.HandleFunc("POST /projects/{id}/runbooks/{runbook}/steps/{step}", p.stepsOf(p.runbookSteps, p.changeStep))
	m.HandleFunc("GET /projects/{id}/runbooks/{runbook}/steps/{step}", p.stepsOf(p.runbookSteps, p.editStep))
	m.HandleFunc("POST /projects/{id}/runbooks/{runbook}/steps/{step}/edit", p.stepsOf(p.runbookSteps, p.saveStep))
	m.HandleFunc("POST /projects/{id}/runbooks/{runbook}/steps/{step}/update-template", p.stepsOf(p.runbookSteps, p.updateStepTemplate))
}

type runbookData struct {
	Project model.Project
	Runbook model.Runbook
	// Environments are those it may run in (every one when it names none).
	Environments []model.Environment
	EnvNames     map[string]string
	// Snapshot is the published snapshot runs use; nil before the first
	// publish, or when the visitor may not read it (SnapshotError says).
	Snapshot      *model.Release
	SnapshotError string
	// DraftChanged says the draft's steps are not the published ones.
	DraftChanged bool
	Runs         []model.Deployment

	// What the step list and the add-a-step form show, as on the project
	// page.
	EmailTeams    map[string]*emailTeams
	ProjectNames  map[string]string
	Projects      []model.Project
	StepForm      stepForm
	StepTemplates []model.StepTemplate
	Packages      []model.Package
	Feeds         []model.Feed
	// ReadOnly hides the forms that change the runbook; MayRun shows the
	// run form. The API decides either way.
	ReadOnly bool
	MayRun   bool
}

func (d runbookData) base() string { return "/projects/" + d.Project.ID + "/runbooks/" + d.Runbook.ID }

// StepList is the draft's steps for the "steplist" template.
func (d runbookData) StepList(csrf string) stepsView {
	return stepsView{Steps: d.Runbook.Steps, Base: d.base(), CSRF: csrf, MayEdit: !d.ReadOnly,
		EmailTeams: d.EmailTeams, ProjectNames: d.ProjectNames}
}

// AddStep is the add-a-step form for the "addstep" template.
func (d runbookData) AddStep(csrf string, err error) addStepView {
	return addStepView{Action: d.base() + "/steps", ProjectID: d.Project.ID, Form: d.StepForm, Error: err, CSRF: csrf,
		StepTemplates: d.StepTemplates, Packages: d.Packages, Feeds: d.Feeds, Projects: d.Projects}
}

func (p *Portal) runbook(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showRunbook(w, r, v, http.StatusOK, stepForm{Kind: kindScript})
}

func (p *Portal) showRunbook(w http.ResponseWriter, r *http.Request, v *view, status int, form stepForm) {
	id := r.PathValue("id")
	var d runbookData
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id), nil, &d.Project); err != nil {
		p.fail(w, r, err)
		return
	}
	rb, err := p.runbookOf(r, id, r.PathValue("runbook"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d.Runbook = rb
	all, names := p.environmentList(r)
	d.EnvNames = names
	for _, e := range all {
		if len(rb.EnvironmentIDs) == 0 || slices.Contains(rb.EnvironmentIDs, e.ID) {
			d.Environments = append(d.Environments, e)
		}
	}
	// As "pulpo runbook show": the draft differs when its steps are not
	// the snapshot's (always, before the first publish, if it has steps).
	d.DraftChanged = len(rb.Steps) > 0
	if rb.PublishedSnapshotID != "" {
		var snap model.Release
		if _, err := p.call(r, http.MethodGet, "/releases/"+url.PathEscape(rb.PublishedSnapshotID), nil, &snap); err != nil {
			d.SnapshotError = err.Error() // reading it takes release-view permission
		} else {
			d.Snapshot = &snap
			d.DraftChanged = !model.SameSteps(rb.Steps, snap.ProcessSnapshot.Steps)
		}
	}
	var runs wire.Page[model.Deployment]
	p.call(r, http.MethodGet, "/runbooks/"+url.PathEscape(rb.ID)+"/runs?take=10", nil, &runs)
	d.Runs = runs.Items
	d.EmailTeams = p.processEmailTeams(r, rb.Steps)
	d.Projects, d.ProjectNames = p.projectList(r)
	var me wire.MyPermissions // one question for both answers; none on an error
	if _, err := p.call(r, http.MethodGet, "/users/me/permissions", nil, &me); err == nil {
		d.ReadOnly, d.MayRun = !grantsIn(me, model.RunbookEdit, d.Project), grantsIn(me, model.RunbookRun, d.Project)
	} else {
		d.ReadOnly = true
	}
	if !d.ReadOnly {
		d.Packages, d.Feeds, d.StepTemplates = p.stepChoices(r)
	}
	d.StepForm = form
	v.Title, v.Nav, v.Data = rb.Name+": runbook of "+d.Project.Name, "projects", d
	p.render(w, status, "runbook", v)
}

package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (p *Portal) projectOpsRoutes() {
	m := p.mux
	m.HandleFunc("GET /projects/{id}/operations", p.operations)
	m.HandleFunc("POST /projects/{id}/channels", p.createChannel)
	m.HandleFunc("POST /projects/{id}/triggers", p.createTrigger)
	m.HandleFunc("POST /projects/{id}/triggers/{trigger}", p.changeTrigger)
	m.HandleFunc("POST /projects/{id}/runbooks", p.createRunbook)
	m.HandleFunc("POST /projects/{id}/runbooks/{runbook}/publish", p.publishRunbook)
	m.HandleFunc("POST /projects/{id}/runbooks/{runbook}/run", p.runRunbook)
	m.HandleFunc("POST /projects/{id}/settings", p.saveSettings)
}

// operationsData is a project's channels, triggers, runbooks and settings.
type operationsData struct {
	Project      model.Project
	Channels     []model.Channel
	Triggers     []model.Trigger
	Runbooks     []model.Runbook
	Lifecycles   []model.Lifecycle
	Groups       []model.ProjectGroup
	Environments []model.Environment
	Names        map[string]string
}

func (p *Portal) operations(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showOperations(w, r, v, http.StatusOK)
}

func (p *Portal) showOperations(w http.ResponseWriter, r *http.Request, v *view, status int) {
	id := r.PathValue("id")
	var d operationsData
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id), nil, &d.Project); err != nil {
		p.fail(w, r, err)
		return
	}
	q := "?take=1000&projectId=" + url.QueryEscape(id)
	var channels wire.Page[model.Channel]
	p.call(r, http.MethodGet, "/channels"+q, nil, &channels)
	var triggers wire.Page[model.Trigger]
	p.call(r, http.MethodGet, "/triggers"+q, nil, &triggers)
	var runbooks wire.Page[model.Runbook]
	p.call(r, http.MethodGet, "/runbooks"+q, nil, &runbooks)
	var lifecycles wire.Page[model.Lifecycle]
	p.call(r, http.MethodGet, "/lifecycles?take=1000", nil, &lifecycles)
	var groups wire.Page[model.ProjectGroup]
	p.call(r, http.MethodGet, "/projectgroups?take=1000", nil, &groups)
	d.Channels, d.Triggers, d.Runbooks = channels.Items, triggers.Items, runbooks.Items
	d.Lifecycles, d.Groups = lifecycles.Items, groups.Items
	d.Environments, d.Names = p.environmentList(r)
	for _, l := range d.Lifecycles {
		d.Names[l.ID] = l.Name
	}
	for _, rb := range d.Runbooks {
		d.Names[rb.ID] = rb.Name
	}
	v.Title, v.Nav, v.Data = d.Project.Name+": operations", "projects", d
	p.render(w, status, "operations", v)
}

// back returns to the operations page with a message.
func back(w http.ResponseWriter, r *http.Request, msg string) {
	http.Redirect(w, r, "/projects/"+r.PathValue("id")+"/operations?done="+url.QueryEscape(msg), http.StatusSeeOther)
}

func (p *Portal) refused(w http.ResponseWriter, r *http.Request, v *view, err error) {
	v.Error = err
	p.showOperations(w, r, v, statusOf(err))
}

func (p *Portal) createChannel(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	c := model.Channel{ProjectID: r.PathValue("id"), Name: strings.TrimSpace(r.PostFormValue("name")),
		LifecycleID: r.PostFormValue("lifecycle"), IsDefault: r.PostFormValue("default") == "on"}
	if pkgs := splitComma(r.PostFormValue("packages")); len(pkgs) > 0 {
		c.Rules = []model.ChannelRule{{Packages: pkgs, VersionRange: strings.TrimSpace(r.PostFormValue("range")), Tag: strings.TrimSpace(r.PostFormValue("tag"))}}
	}
	if _, err := p.call(r, http.MethodPost, "/channels", c, &c); err != nil {
		p.refused(w, r, v, err)
		return
	}
	back(w, r, "Created channel "+c.Name)
}

func (p *Portal) createTrigger(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	t := model.Trigger{ProjectID: r.PathValue("id"), Name: strings.TrimSpace(r.PostFormValue("name")), Kind: model.TriggerKind(r.PostFormValue("kind"))}
	switch t.Kind {
	case model.TriggerSchedule:
		t.Cron, t.TimeZone = strings.TrimSpace(r.PostFormValue("cron")), r.PostFormValue("timezone")
		t.SourceEnvironmentID, t.TargetEnvironmentIDs = r.PostFormValue("source"), r.PostForm["target"]
		t.RunbookID = r.PostFormValue("runbook")
	case model.TriggerPackage:
		t.PackageID = strings.TrimSpace(r.PostFormValue("package"))
	}
	if _, err := p.call(r, http.MethodPost, "/triggers", t, &t); err != nil {
		p.refused(w, r, v, err)
		return
	}
	back(w, r, "Created trigger "+t.Name)
}

func (p *Portal) changeTrigger(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	id := url.PathEscape(r.PathValue("trigger"))
	var t model.Trigger
	if _, err := p.call(r, http.MethodGet, "/triggers/"+id, nil, &t); err != nil {
		p.refused(w, r, v, err)
		return
	}
	var err error
	switch action := r.PostFormValue("action"); action {
	case "run":
		var out wire.TriggerRun
		if _, err = p.call(r, http.MethodPost, "/triggers/"+id+"/run", nil, &out); err == nil && len(out.Deployments) > 0 {
			http.Redirect(w, r, "/tasks/"+out.Deployments[0].TaskID, http.StatusSeeOther)
			return
		}
	case "enable", "disable":
		t.Disabled = action == "disable"
		_, err = p.call(r, http.MethodPut, "/triggers/"+id, t, nil)
	case "delete":
		_, err = p.call(r, http.MethodDelete, "/triggers/"+id, nil, nil)
	}
	if err != nil {
		p.refused(w, r, v, err)
		return
	}
	back(w, r, "Trigger "+t.Name+": done")
}

func (p *Portal) createRunbook(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	rb := model.Runbook{ProjectID: r.PathValue("id"), Name: strings.TrimSpace(r.PostFormValue("name")), EnvironmentIDs: r.PostForm["environment"],
		Steps: []model.Step{{Name: strings.TrimSpace(r.PostFormValue("name")), TargetRoles: splitComma(r.PostFormValue("roles")),
			Script: &model.ScriptAction{Syntax: model.ScriptSyntax(r.PostFormValue("syntax")), Body: strings.ReplaceAll(r.PostFormValue("body"), "\r\n", "\n")}}}}
	if _, err := p.call(r, http.MethodPost, "/runbooks", rb, &rb); err != nil {
		p.refused(w, r, v, err)
		return
	}
	back(w, r, "Created runbook "+rb.Name+"; publish it to run it")
}

func (p *Portal) publishRunbook(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var snap model.Release
	if _, err := p.call(r, http.MethodPost, "/runbooks/"+url.PathEscape(r.PathValue("runbook"))+"/publish", nil, &snap); err != nil {
		p.runbookRefused(w, r, v, err)
		return
	}
	if fromRunbook(r) {
		http.Redirect(w, r, runbookPage(r)+"?done="+url.QueryEscape("Published snapshot "+snap.Version+": runs use these steps now"), http.StatusSeeOther)
		return
	}
	back(w, r, "Published")
}

func (p *Portal) runRunbook(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	var d model.Deployment
	req := wire.RunRunbookRequest{EnvironmentID: r.PostFormValue("environment")}
	if _, err := p.call(r, http.MethodPost, "/runbooks/"+url.PathEscape(r.PathValue("runbook"))+"/runs", req, &d); err != nil {
		p.runbookRefused(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/tasks/"+d.TaskID, http.StatusSeeOther)
}

// fromRunbook says a form was sent from the runbook's page, which then
// shows the outcome instead of the operations page.
func fromRunbook(r *http.Request) bool { return r.PostFormValue("back") == "runbook" }

func runbookPage(r *http.Request) string {
	return "/projects/" + r.PathValue("id") + "/runbooks/" + r.PathValue("runbook")
}

// runbookRefused shows the API's refusal on the page the form came from.
func (p *Portal) runbookRefused(w http.ResponseWriter, r *http.Request, v *view, err error) {
	if fromRunbook(r) {
		v.Error = err
		p.showRunbook(w, r, v, statusOf(err), stepForm{Kind: kindScript})
		return
	}
	p.refused(w, r, v, err)
}

func (p *Portal) saveSettings(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	var proj model.Project
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id), nil, &proj); err != nil {
		p.refused(w, r, v, err)
		return
	}
	proj.Name, proj.Description = strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("description")
	proj.LifecycleID, proj.ProjectGroupID = r.PostFormValue("lifecycle"), r.PostFormValue("group")
	proj.ReleaseVersionTemplate = strings.TrimSpace(r.PostFormValue("template"))
	if _, err := p.call(r, http.MethodPut, "/projects/"+url.PathEscape(id), proj, nil); err != nil {
		p.refused(w, r, v, err)
		return
	}
	back(w, r, "Saved the settings")
}

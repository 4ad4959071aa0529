package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

func (p *Portal) routes() {
	m := p.mux
	m.Handle("GET /static/", p.static)
	m.HandleFunc("GET /login", p.loginPage)
	m.HandleFunc("POST /login", p.login)
	m.HandleFunc("POST /logout", p.logout)
	m.HandleFunc("GET /{$}", p.dashboard)
	m.HandleFunc("GET /app", p.octopusLinks)
	m.HandleFunc("GET /environments", p.environments)
	m.HandleFunc("POST /environments", p.createEnvironment)
	m.HandleFunc("GET /projects", p.projects)
	m.HandleFunc("POST /projects", p.createProject)
	m.HandleFunc("GET /releases/{id}", p.release)
	m.HandleFunc("POST /releases/{id}/deploy", p.deploy)
	m.HandleFunc("GET /tasks/{id}", p.task)
	m.HandleFunc("POST /tasks/{id}/cancel", p.cancelTask)
	m.HandleFunc("POST /interruptions/{id}", p.answer)
	p.adminRoutes()
	p.variableRoutes()
	p.peopleRoutes()
	p.libraryRoutes()
	p.feedRoutes()
	p.stepTemplateRoutes()
	p.projectOpsRoutes()
	p.processRoutes()
	p.subscriptionRoutes()
	p.boardRoutes()
	p.certificateRoutes()
	p.stagingRoutes()
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.render(w, http.StatusNotFound, "error", &view{Title: "Not found", Version: p.version,
			Error: errors.New("there is no page at " + r.URL.Path)})
	})
}

// login

type loginData struct {
	Username, Next string
	OIDC           string
}

func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request) {
	var root wire.Root
	p.call(r, http.MethodGet, "", nil, &root)
	p.render(w, http.StatusOK, "login", &view{Title: "Log in", Version: p.version,
		Data: loginData{Next: safeNext(r.URL.Query().Get("next")), OIDC: root.OIDCLogin}})
}

// safeNext keeps redirects on this server.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/"
	}
	return next
}

func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	req := wire.LoginRequest{Username: r.PostFormValue("username"), Password: r.PostFormValue("password")}
	h, err := p.call(r, http.MethodPost, "/users/login", req, nil)
	if err != nil {
		var ae *apiError
		status := http.StatusUnauthorized
		if errors.As(err, &ae) {
			status = ae.Status
		}
		p.render(w, status, "login", &view{Title: "Log in", Version: p.version, Error: err,
			Data: loginData{Username: req.Username, Next: next}})
		return
	}
	for _, c := range h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	h, _ := p.call(r, http.MethodPost, "/users/logout", nil, nil)
	for _, c := range h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// dashboard

type dashRow struct {
	Project model.Project
	Cells   []*model.DashboardCell
}

type dashGroup struct {
	Name string
	Rows []dashRow
}

type dashData struct {
	Environments []model.Environment
	Groups       []dashGroup
	Empty        bool
	HasEnvs      bool
	NoAccess     bool
	// Marker is the dashboard's change marker when drawn.
	Marker string
}

func (p *Portal) dashboardData(r *http.Request) (dashData, error) {
	var d wire.Dashboard
	if _, err := p.call(r, http.MethodGet, "/dashboard", nil, &d); err != nil {
		return dashData{}, err
	}
	var groups wire.Page[model.ProjectGroup]
	p.call(r, http.MethodGet, "/projectgroups?take=1000", nil, &groups)
	groupName := map[string]string{}
	for _, g := range groups.Items {
		groupName[g.ID] = g.Name
	}
	cells := map[string]*model.DashboardCell{}
	for i := range d.Cells {
		c := &d.Cells[i]
		cells[c.ProjectID+"|"+c.EnvironmentID] = c
	}
	byGroup := map[string]*dashGroup{}
	var order []string
	for _, proj := range sortedByName(d.Projects, func(p model.Project) string { return p.Name }) {
		name := groupName[proj.ProjectGroupID]
		if name == "" {
			name = "Projects"
		}
		g := byGroup[name]
		if g == nil {
			g = &dashGroup{Name: name}
			byGroup[name] = g
			order = append(order, name)
		}
		row := dashRow{Project: proj}
		for _, e := range d.Environments {
			row.Cells = append(row.Cells, cells[proj.ID+"|"+e.ID])
		}
		g.Rows = append(g.Rows, row)
	}
	slices.Sort(order)
	out := dashData{Environments: d.Environments, Empty: len(d.Projects) == 0, HasEnvs: len(d.Environments) > 0}
	for _, name := range order {
		out.Groups = append(out.Groups, *byGroup[name])
	}
	return out, nil
}

func (p *Portal) dashboard(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	grid := r.URL.Query().Get("fragment") == "grid"
	var marker wire.DashboardMarker
	if _, err := p.call(r, http.MethodGet, "/dashboard/marker", nil, &marker); err == nil {
		w.Header().Set("X-Dashboard-Marker", marker.Marker)
		if grid && marker.Marker != "" && r.URL.Query().Get("marker") == marker.Marker {
			// Nothing moved since the page's last look: no drawing at all.
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	d, err := p.dashboardData(r)
	if statusOf(err) == http.StatusForbidden {
		// Someone with no role yet: tell them what to do, not "forbidden".
		v.Title, v.Nav = "Dashboard", "dashboard"
		v.Data = dashData{NoAccess: true, Empty: true}
		p.render(w, http.StatusOK, "dashboard", v)
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d.Marker = marker.Marker
	v.Title, v.Nav, v.Data = "Dashboard", "dashboard", d
	if grid {
		p.renderPart(w, r, "dashboard", "grid", v)
		return
	}
	p.render(w, http.StatusOK, "dashboard", v)
}

// environments

type envData struct {
	Items []model.Environment
	Form  model.Environment
	// Health counts each environment's enabled targets by health status.
	Health map[string]map[model.HealthStatus]int
}

func (p *Portal) environments(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showEnvironments(w, r, v, http.StatusOK, model.Environment{})
}

func (p *Portal) showEnvironments(w http.ResponseWriter, r *http.Request, v *view, status int, form model.Environment) {
	var page wire.Page[model.Environment]
	if _, err := p.call(r, http.MethodGet, "/environments?take=1000", nil, &page); err != nil {
		p.fail(w, r, err)
		return
	}
	health := map[string]map[model.HealthStatus]int{}
	var machines wire.Page[model.Machine]
	p.call(r, http.MethodGet, "/machines?usage=target&take=1000", nil, &machines)
	for _, m := range machines.Items {
		if m.Disabled {
			continue
		}
		for _, e := range m.EnvironmentIDs {
			if health[e] == nil {
				health[e] = map[model.HealthStatus]int{}
			}
			health[e][m.Health.Status]++
		}
	}
	v.Title, v.Nav, v.Data = "Environments", "environments", envData{Items: page.Items, Form: form, Health: health}
	p.render(w, status, "environments", v)
}

func (p *Portal) createEnvironment(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	e := model.Environment{Name: strings.TrimSpace(r.PostFormValue("name")), Description: r.PostFormValue("description"),
		UseGuidedFailure: r.PostFormValue("guided") == "on"}
	if _, err := p.call(r, http.MethodPost, "/environments", e, &e); err != nil {
		v.Error = err
		p.showEnvironments(w, r, v, statusOf(err), e)
		return
	}
	http.Redirect(w, r, "/environments?done="+url.QueryEscape("Created environment "+e.Name), http.StatusSeeOther)
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return http.StatusInternalServerError
}

// projects

type projectsData struct {
	Items      []model.Project
	Lifecycles []model.Lifecycle
	Groups     []model.ProjectGroup
	Form       model.Project
	HasEnvs    bool
}

func (p *Portal) projects(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showProjects(w, r, v, http.StatusOK, model.Project{})
}

func (p *Portal) showProjects(w http.ResponseWriter, r *http.Request, v *view, status int, form model.Project) {
	var projects wire.Page[model.Project]
	if _, err := p.call(r, http.MethodGet, "/projects?take=1000", nil, &projects); err != nil {
		p.fail(w, r, err)
		return
	}
	var lifecycles wire.Page[model.Lifecycle]
	p.call(r, http.MethodGet, "/lifecycles?take=1000", nil, &lifecycles)
	var groups wire.Page[model.ProjectGroup]
	p.call(r, http.MethodGet, "/projectgroups?take=1000", nil, &groups)
	var envs wire.Page[model.Environment]
	p.call(r, http.MethodGet, "/environments?take=1", nil, &envs)
	v.Title, v.Nav = "Projects", "projects"
	v.Data = projectsData{Items: projects.Items, Lifecycles: lifecycles.Items, Groups: groups.Items, Form: form, HasEnvs: envs.Total > 0}
	p.render(w, status, "projects", v)
}

func (p *Portal) createProject(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	proj := model.Project{Name: strings.TrimSpace(r.PostFormValue("name")), Description: r.PostFormValue("description"),
		LifecycleID: r.PostFormValue("lifecycle"), ProjectGroupID: r.PostFormValue("group")}
	if _, err := p.call(r, http.MethodPost, "/projects", proj, &proj); err != nil {
		v.Error = err
		p.showProjects(w, r, v, statusOf(err), proj)
		return
	}
	http.Redirect(w, r, "/projects/"+proj.ID+"?done="+url.QueryEscape("Created project "+proj.Name+": add its first step"), http.StatusSeeOther)
}

// releases

type releaseData struct {
	Prompts  []model.Variable
	Machines []model.Machine
	Release  model.Release
	Project  model.Project
	Progress []model.EnvironmentProgress
	Deploys  []model.Deployment
	EnvNames map[string]string
}

func (p *Portal) release(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showRelease(w, r, v, http.StatusOK)
}

func (p *Portal) showRelease(w http.ResponseWriter, r *http.Request, v *view, status int) {
	id := r.PathValue("id")
	var d releaseData
	if _, err := p.call(r, http.MethodGet, "/releases/"+url.PathEscape(id), nil, &d.Release); err != nil {
		p.fail(w, r, err)
		return
	}
	p.call(r, http.MethodGet, "/projects/"+d.Release.ProjectID, nil, &d.Project)
	p.call(r, http.MethodGet, "/releases/"+url.PathEscape(id)+"/progression", nil, &d.Progress)
	var deps wire.Page[model.Deployment]
	p.call(r, http.MethodGet, "/deployments?releaseId="+url.QueryEscape(id)+"&take=50", nil, &deps)
	d.Deploys = deps.Items
	d.EnvNames = map[string]string{}
	for _, e := range d.Progress {
		d.EnvNames[e.EnvironmentID] = e.Environment
	}
	for _, pv := range d.Release.VariableSnapshot.Variables {
		if pv.Prompt != nil {
			d.Prompts = append(d.Prompts, pv)
		}
	}
	var machines wire.Page[model.Machine]
	p.call(r, http.MethodGet, "/machines?usage=target&take=1000", nil, &machines)
	d.Machines = machines.Items
	v.Title, v.Nav, v.Data = d.Project.Name+" "+d.Release.Version, "projects", d
	p.render(w, status, "release", v)
}

func (p *Portal) deploy(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	req := wire.CreateDeploymentRequest{ReleaseID: r.PathValue("id"), EnvironmentID: r.PostFormValue("environment")}
	r.ParseForm()
	req.SkipSteps = r.PostForm["skip"]
	req.SpecificMachineIDs = r.PostForm["machine"]
	for key, vals := range r.PostForm {
		if name, ok := strings.CutPrefix(key, "prompt:"); ok && len(vals) > 0 && vals[0] != "" {
			if req.Variables == nil {
				req.Variables = map[string]string{}
			}
			req.Variables[name] = vals[0]
		}
	}
	if at := r.PostFormValue("at"); at != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", at, time.Local)
		if err != nil {
			v.Error = &apiError{Status: http.StatusBadRequest, Message: "deployment is invalid", Details: []string{"at: is not a date and time"}}
			p.showRelease(w, r, v, http.StatusBadRequest)
			return
		}
		req.NotBefore = &t
	}
	var d model.Deployment
	if _, err := p.call(r, http.MethodPost, "/deployments", req, &d); err != nil {
		v.Error = err
		p.showRelease(w, r, v, statusOf(err))
		return
	}
	http.Redirect(w, r, "/tasks/"+d.TaskID, http.StatusSeeOther)
}

// tasks

type taskData struct {
	Log           wire.TaskLog
	Tree          []*activityNode
	Interruptions []model.Interruption
	Artifacts     []model.Artifact
}

type activityNode struct {
	model.Activity
	Lines    []model.LogLine
	Children []*activityNode
}

func buildTree(acts []model.Activity, lines []model.LogLine) []*activityNode {
	nodes := map[int]*activityNode{}
	for _, a := range acts {
		nodes[a.ID] = &activityNode{Activity: a}
	}
	root := &activityNode{}
	nodes[0] = root
	for _, a := range acts {
		parent := nodes[a.ParentID]
		if parent == nil {
			parent = root
		}
		parent.Children = append(parent.Children, nodes[a.ID])
	}
	for _, l := range lines {
		n := nodes[l.ActivityID]
		if n == nil {
			n = root
		}
		n.Lines = append(n.Lines, l)
	}
	return append([]*activityNode{{Activity: model.Activity{Name: "Task", ID: 0}, Lines: root.Lines}}, root.Children...)
}

func (p *Portal) task(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	var d taskData
	if _, err := p.call(r, http.MethodGet, "/tasks/"+url.PathEscape(id)+"/log?take=10000", nil, &d.Log); err != nil {
		p.fail(w, r, err)
		return
	}
	d.Tree = buildTree(d.Log.Activities, d.Log.Lines)
	var ints wire.Page[model.Interruption]
	p.call(r, http.MethodGet, "/interruptions?pending=true&taskId="+url.QueryEscape(id), nil, &ints)
	d.Interruptions = ints.Items
	p.call(r, http.MethodGet, "/tasks/"+url.PathEscape(id)+"/artifacts", nil, &d.Artifacts)
	v.Title, v.Nav, v.Data = d.Log.Task.Description, "tasks", d
	p.render(w, http.StatusOK, "task", v)
}

func (p *Portal) cancelTask(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.session(w, r); !ok {
		return
	}
	id := r.PathValue("id")
	if _, err := p.call(r, http.MethodPost, "/tasks/"+url.PathEscape(id)+"/cancel", nil, nil); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/tasks/"+id, http.StatusSeeOther)
}

func (p *Portal) answer(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.session(w, r); !ok {
		return
	}
	var i model.Interruption
	req := wire.AnswerRequest{Answer: r.PostFormValue("answer"), Notes: r.PostFormValue("notes")}
	if _, err := p.call(r, http.MethodPost, "/interruptions/"+url.PathEscape(r.PathValue("id"))+"/answer", req, &i); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/tasks/"+i.TaskID, http.StatusSeeOther)
}

package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// The project page (releases and the deployment process) and the step
// editor.

func (p *Portal) processRoutes() {
	m := p.mux
	m.HandleFunc("GET /projects/{id}", p.project)
	// The step handlers serve the process's steps here and a runbook's
	// draft under /projects/{id}/runbooks/{runbook} (runbookpage.go).
	m.HandleFunc("POST /projects/{id}/steps", p.stepsOf(p.processSteps, p.addStep))
	m.HandleFunc("POST /projects/{id}/steps/{step}", p.stepsOf(p.processSteps, p.changeStep))
	m.HandleFunc("GET /projects/{id}/steps/{step}", p.stepsOf(p.processSteps, p.editStep))
	m.HandleFunc("POST /projects/{id}/steps/{step}/edit", p.stepsOf(p.processSteps, p.saveStep))
	m.HandleFunc("POST /projects/{id}/releases", p.createRelease)
	p.runbookRoutes()
}

type projectData struct {
	// PackageChoices are the packages the steps take, with their feeds'
	// versions newest first, for the release form.
	PackageChoices []packageChoice
	// ChildReleases lists the releases of each project a deploy-a-release
	// step deploys, newest first.
	ChildReleases map[string][]string
	Packages      []model.Package
	Projects      []model.Project
	ProjectNames  map[string]string
	Channels      []model.Channel
	Project       model.Project
	Process       model.DeploymentProcess
	Releases      []releaseRow
	StepForm      stepForm
	ReleaseForm   releaseForm
	// StepTemplates are the library's, for the add form.
	StepTemplates []model.StepTemplate
	// Feeds are where a step's package can come from.
	Feeds []model.Feed
	// EmailTeams names email steps' teams, by step id.
	EmailTeams map[string]*emailTeams
	// ReadOnly hides the forms that change the process from a visitor
	// who may not (the API would refuse them).
	ReadOnly bool
}

// StepList is the process's steps for the "steplist" template.
func (d projectData) StepList(csrf string) stepsView {
	return stepsView{Steps: d.Process.Steps, Base: "/projects/" + d.Project.ID, CSRF: csrf, MayEdit: !d.ReadOnly,
		EmailTeams: d.EmailTeams, ProjectNames: d.ProjectNames}
}

// AddStep is the add-a-step form for the "addstep" template.
func (d projectData) AddStep(csrf string, err error) addStepView {
	return addStepView{Action: "/projects/" + d.Project.ID + "/steps", ProjectID: d.Project.ID, Form: d.StepForm, Error: err, CSRF: csrf,
		StepTemplates: d.StepTemplates, Packages: d.Packages, Feeds: d.Feeds, Projects: d.Projects}
}

type releaseRow struct {
	Release  model.Release
	Progress []model.EnvironmentProgress
}

// stepForm is what the add-a-step form sent, shown again after an error.
type stepForm struct {
	Kind, Name, Body, Roles, Instructions, Teams, PackageID, Substitute, File, Arguments, Child, Mode string
	// Syntax is the language of a script step's body.
	Syntax string

	// Template is the id of the step template a step is made from.
	Template string
	// Feed and Acquisition say where a package comes from.
	Feed, Acquisition string
	// HealthType, HealthOnError and IncludeNew are a health check's options.
	HealthType, HealthOnError string
	IncludeNew                bool
	// Email holds an email step's fields.
	Email emailForm
}

type releaseForm struct{ Version, Notes, Channel string }

// The kinds of step the add form offers.
const (
	kindScript        = "script"
	kindScriptPackage = "script-package"
	kindPackage       = "package"
	kindManual        = "manual"
	kindDeployRelease = "deploy-release"
	kindTemplate      = "template"
	kindHealthCheck   = "health-check"
)

func (p *Portal) project(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	p.showProject(w, r, v, http.StatusOK, stepForm{Kind: kindScript}, releaseForm{})
}

func (p *Portal) showProject(w http.ResponseWriter, r *http.Request, v *view, status int, form stepForm, rf releaseForm) {
	id := r.PathValue("id")
	var d projectData
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id), nil, &d.Project); err != nil {
		p.fail(w, r, err)
		return
	}
	p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id)+"/process", nil, &d.Process)
	var rels wire.Page[model.Release]
	p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id)+"/releases?take=10", nil, &rels)
	for _, rel := range rels.Items {
		row := releaseRow{Release: rel}
		p.call(r, http.MethodGet, "/releases/"+rel.ID+"/progression", nil, &row.Progress)
		d.Releases = append(d.Releases, row)
	}
	d.ChildReleases = map[string][]string{}
	d.PackageChoices = p.packageChoices(r, d.Process.EnabledSteps())
	d.EmailTeams = p.processEmailTeams(r, d.Process.Steps)
	for _, st := range d.Process.Steps {
		if st.DeployRelease != nil && d.ChildReleases[st.DeployRelease.ProjectID] == nil {
			child := st.DeployRelease.ProjectID
			var crs wire.Page[model.Release]
			p.call(r, http.MethodGet, "/projects/"+url.PathEscape(child)+"/releases?take=20", nil, &crs)
			d.ChildReleases[child] = []string{}
			for _, cr := range crs.Items {
				d.ChildReleases[child] = append(d.ChildReleases[child], cr.Version)
			}
		}
	}
	d.Packages, d.Feeds, d.StepTemplates = p.stepChoices(r)
	d.Projects, d.ProjectNames = p.projectList(r)
	var channels wire.Page[model.Channel]
	p.call(r, http.MethodGet, "/channels?projectId="+url.QueryEscape(id), nil, &channels)
	d.Channels = channels.Items
	d.StepForm, d.ReleaseForm = form, rf
	d.ReadOnly = !p.mayInProject(r, model.ProcessEdit, d.Project)
	v.Title, v.Nav, v.Data = d.Project.Name, "projects", d
	p.render(w, status, "project", v)
}

// projectList lists the projects the visitor may see, with their names by id.
func (p *Portal) projectList(r *http.Request) ([]model.Project, map[string]string) {
	var projects wire.Page[model.Project]
	p.call(r, http.MethodGet, "/projects?take=1000", nil, &projects)
	names := make(map[string]string, len(projects.Items))
	for _, pr := range projects.Items {
		names[pr.ID] = pr.Name
	}
	return projects.Items, names
}

// saveProcess reads the process, changes it and writes it back; the
// process's version makes a concurrent edit fail instead of being lost.
func (p *Portal) saveProcess(r *http.Request, projectID string, change func(*model.DeploymentProcess) error) error {
	var d model.DeploymentProcess
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(projectID)+"/process", nil, &d); err != nil {
		return err
	}
	if err := change(&d); err != nil {
		return err
	}
	_, err := p.call(r, http.MethodPut, "/projects/"+url.PathEscape(projectID)+"/process", d, nil)
	return err
}

func splitComma(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// stepIndex matches the "steps[N]" the API puts before a step's fields.
var stepIndex = regexp.MustCompile(`^steps\[(\d+)\]`)

// aboutStep keeps the API's complaints about step i, renamed "step.…", so
// the form shows each next to its field whatever the step's position.
func aboutStep(err error, i int) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err
	}
	out := *ae
	out.Details = nil
	for _, d := range ae.Details {
		if m := stepIndex.FindStringSubmatch(d); m != nil {
			if m[1] != strconv.Itoa(i) {
				continue
			}
			d = "step" + strings.TrimPrefix(d, m[0])
		}
		out.Details = append(out.Details, d)
	}
	return &out
}

// stepsOf makes a step handler serve the list of steps a request names.
func (p *Portal) stepsOf(list func(*http.Request) stepList, h func(http.ResponseWriter, *http.Request, stepList)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h(w, r, list(r)) }
}

func (p *Portal) addStep(w http.ResponseWriter, r *http.Request, list stepList) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	f := r.PostForm
	form := stepForm{Kind: f.Get("kind"), Name: strings.TrimSpace(f.Get("name")), Body: f.Get("body"), Syntax: f.Get("syntax"),
		Roles: f.Get("roles"), Instructions: f.Get("instructions"), Teams: f.Get("teams"),
		PackageID: strings.TrimSpace(f.Get("package")), Substitute: f.Get("substitute"),
		File: strings.TrimSpace(f.Get("file")), Arguments: f.Get("arguments"), Child: f.Get("child"), Mode: f.Get("mode"),
		Template: f.Get("template"), Feed: f.Get("feed"), Acquisition: f.Get("acquisition"),
		HealthType: f.Get("healthtype"), HealthOnError: f.Get("healthonerror"), IncludeNew: f.Get("includenew") == "on", Email: readEmailForm(f)}
	var step model.Step
	switch form.Kind {
	case kindTemplate: // version 0: the newest; the server fills the action in
		step.Template = &model.StepTemplateRef{ID: form.Template}
	case kindManual:
		step.Manual = &model.ManualAction{}
	case kindPackage:
		step.Package = &model.PackageAction{}
	case kindScriptPackage:
		step.Script = &model.ScriptAction{FromPackage: &model.ScriptPackage{}}
	case kindDeployRelease:
		step.DeployRelease = &model.DeployReleaseAction{}
	case kindHealthCheck:
		step.HealthCheck = &model.HealthCheckAction{}
	case kindEmail:
		step.Email = &model.EmailAction{}
	default:
		form.Kind = kindScript
		step.Script = &model.ScriptAction{}
	}
	applyStepForm(&step, f)
	at := -1
	err := list.update(r, func(steps *[]model.Step) error {
		at = len(*steps)
		*steps = append(*steps, step)
		return nil
	})
	if err != nil {
		v.Error = aboutStep(err, at)
		list.show(w, r, v, statusOf(err), form)
		return
	}
	http.Redirect(w, r, list.page("Added step "+step.Name), http.StatusSeeOther)
}

// applyStepForm sets the step's fields from the add or edit form. A field
// the form lacks takes its empty value: the add form sends the essentials,
// the edit form everything the step has.
func applyStepForm(s *model.Step, f url.Values) {
	text := func(key string) string { return strings.TrimSpace(f.Get(key)) }
	script := func(key string) string { return strings.ReplaceAll(f.Get(key), "\r\n", "\n") }
	number := func(key string) int { n, _ := strconv.Atoi(text(key)); return n }
	on := func(key string) bool { return f.Get(key) == "on" }
	// A package's inline script keeps its language (the form edits the
	// body only); a new one is bash.
	inline := func(key string, was *model.ScriptAction) *model.ScriptAction {
		if body := script(key); strings.TrimSpace(body) != "" {
			syntax := model.SyntaxBash
			if was != nil && was.Syntax != "" {
				syntax = was.Syntax
			}
			return &model.ScriptAction{Syntax: syntax, Body: body}
		}
		return nil
	}

	// A form without the feed fields keeps what the step had.
	feed := func(was string) string {
		if f.Has("feed") {
			return text("feed")
		}
		return was
	}
	acquisition := func(was model.PackageAcquisition) model.PackageAcquisition {
		if f.Has("acquisition") && !model.IsExternalFeed(text("feed")) {
			return "" // the built-in feed's packages are sent by the server
		}
		if f.Has("acquisition") {
			return model.PackageAcquisition(text("acquisition"))
		}
		return was
	}
	s.Name = text("name")
	s.TargetRoles = splitComma(f.Get("roles"))
	if f.Has("modules-field") { // the edit form's checkboxes: none ticked is none
		s.ScriptModules = f["module"]
	}
	switch {
	case s.Template != nil: // the action is the template's
		applyTemplateForm(s.Template, f)
	case s.Script != nil && s.Script.FromPackage != nil:
		s.Script.Syntax = model.ScriptSyntax(text("syntax"))
		s.Script.FromPackage = &model.ScriptPackage{PackageID: text("package"), File: text("file"),
			Arguments: text("arguments"), SubstituteFiles: splitComma(f.Get("substitute")),
			FeedID: feed(s.Script.FromPackage.FeedID), Acquisition: acquisition(s.Script.FromPackage.Acquisition)}
	case s.Script != nil:
		s.Script.Syntax = model.ScriptSyntax(text("syntax"))
		s.Script.Body = script("body")
	case s.Package != nil:
		was := *s.Package
		*s.Package = model.PackageAction{PackageID: text("package"), FeedID: feed(s.Package.FeedID), Acquisition: acquisition(s.Package.Acquisition),
			SubstituteFiles:       splitComma(f.Get("substitute")),
			StructuredConfigFiles: splitComma(f.Get("structured")), CustomInstallDir: text("installdir"),
			PurgeCustomInstallDir: on("purge"), CustomInstallExclude: splitComma(f.Get("exclude")),
			SkipPackageScripts: on("skipscripts"), RetainInstallations: number("retain"),
			PreDeploy: inline("predeploy", was.PreDeploy), Deploy: inline("deploy", was.Deploy), PostDeploy: inline("postdeploy", was.PostDeploy),
			DeployFailed: inline("deployfailed", was.DeployFailed)}
	case s.Manual != nil:
		s.TargetRoles = nil
		s.Manual.Instructions = f.Get("instructions")
		s.Manual.ResponsibleTeams = splitComma(f.Get("teams"))
	case s.HealthCheck != nil:
		*s.HealthCheck = model.HealthCheckAction{Type: model.HealthCheckType(text("healthtype")),
			OnError: model.HealthCheckOnError(text("healthonerror")), IncludeNewTargets: on("includenew")}
	case s.DeployRelease != nil:
		s.TargetRoles = nil
		s.DeployRelease.ProjectID = text("child")
		s.DeployRelease.Mode = model.DeployReleaseMode(text("mode"))
		s.DeployRelease.Variables = keyValues(f.Get("childvars"))
	case s.Email != nil:
		s.TargetRoles = nil
		applyEmailForm(s.Email, f)
	}
	if s.Script != nil && s.Script.Syntax == "" {
		s.Script.Syntax = model.SyntaxBash
	}
	s.WorkerPoolID = text("pool")
	s.RunOnServer = on("runonserver")
	s.MaxParallelism = number("parallelism")
	s.WindowSize = number("window")
	s.StartWithPrevious = on("startwithprevious")
	s.Environments = f["environment"]
	s.ExcludedEnvironments = f["excluded"]
	s.Channels = f["channel"]
	s.Required = on("required")
	s.Condition = model.StepCondition(text("condition"))
	if s.Condition == model.ConditionSuccess {
		s.Condition = ""
	}
	s.ConditionExpression = text("expression")
	s.Retries = number("retries")
	s.RetryDelaySeconds = number("delay")
}

// keyValues reads "Key = value" lines; a line without "=" is a key with an
// empty value, so nothing typed is silently dropped.
func keyValues(s string) map[string]string {
	var out map[string]string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, _ := strings.Cut(line, "=")
		if out == nil {
			out = map[string]string{}
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return out
}

func (p *Portal) changeStep(w http.ResponseWriter, r *http.Request, list stepList) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	stepID, action := r.PathValue("step"), r.PostFormValue("action")
	var name string
	err := list.update(r, func(steps *[]model.Step) error {
		d := *steps
		i := slices.IndexFunc(d, func(s model.Step) bool { return s.ID == stepID })
		if i < 0 {
			return &apiError{Status: http.StatusNotFound, Message: "the step is gone: someone changed the steps meanwhile"}
		}
		name = d[i].Name
		switch action {
		case "up":
			if i > 0 {
				d[i-1], d[i] = d[i], d[i-1]
			}
		case "down":
			if i < len(d)-1 {
				d[i+1], d[i] = d[i], d[i+1]
			}
		case "disable":
			d[i].Disabled = true
		case "enable":
			d[i].Disabled = false
		case "delete":
			*steps = slices.Delete(d, i, i+1)
		default:
			return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("%q is not something to do to a step", action)}
		}
		return nil
	})
	if err != nil {
		v.Error = err
		list.show(w, r, v, statusOf(err), stepForm{Kind: kindScript})
		return
	}
	done := ""
	if list.Note != "" { // the process page says nothing after a move; a runbook's reminds to publish
		done = "Step " + name + ": " + stepActionDone(action)
	}
	http.Redirect(w, r, list.page(done), http.StatusSeeOther)
}

// stepActionDone says what a step action did, for the message after it.
func stepActionDone(action string) string {
	switch action {
	case "up", "down":
		return "moved " + action
	case "delete":
		return "deleted"
	}
	return action + "d" // enabled, disabled
}

type stepEditData struct {
	// List is where the step is: the process or a runbook's draft.
	List         stepList
	Project      model.Project
	Step         model.Step
	Environments []model.Environment
	Channels     []model.Channel
	Pools        []model.WorkerPool
	Projects     []model.Project
	Packages     []model.Package
	Feeds        []model.Feed
	// FeedNames names feeds by id, for the packages a script refers to.
	FeedNames map[string]string
	// Modules are the library's script modules a step may include.
	Modules []model.ScriptModule
	// ChildVariables is the deploy-a-release step's variables as the
	// form's "Key = value" lines.
	ChildVariables string
	// Template is the step template the step is made from, if any.
	Template *templateView
	// EmailTeams is an email step's teams by name.
	EmailTeams *emailTeams
	// ReadOnly shows the step without a form to a visitor who may not
	// change it (the API would refuse).
	ReadOnly bool
}

func (p *Portal) editStep(w http.ResponseWriter, r *http.Request, list stepList) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	steps, err := list.load(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	i := slices.IndexFunc(steps, func(s model.Step) bool { return s.ID == r.PathValue("step") })
	if i < 0 {
		p.fail(w, r, &apiError{Status: http.StatusNotFound, Message: "there is no such step: someone may have deleted it"})
		return
	}
	p.showStep(w, r, v, http.StatusOK, list, steps[i])
}

func (p *Portal) showStep(w http.ResponseWriter, r *http.Request, v *view, status int, list stepList, step model.Step) {
	id := r.PathValue("id")
	var data stepEditData
	if _, err := p.call(r, http.MethodGet, "/projects/"+url.PathEscape(id), nil, &data.Project); err != nil {
		p.fail(w, r, err)
		return
	}
	data.Environments, _ = p.environmentList(r)
	if list.Channels {
		var channels wire.Page[model.Channel]
		p.call(r, http.MethodGet, "/channels?projectId="+url.QueryEscape(id), nil, &channels)
		data.Channels = channels.Items
	}
	var pools wire.Page[model.WorkerPool]
	p.call(r, http.MethodGet, "/workerpools?take=1000", nil, &pools)
	data.Pools = pools.Items
	if step.DeployRelease != nil {
		data.Projects, _ = p.projectList(r)
		keys := make([]string, 0, len(step.DeployRelease.Variables))
		for k := range step.DeployRelease.Variables {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s = %s\n", k, step.DeployRelease.Variables[k])
		}
		data.ChildVariables = b.String()
	}
	if step.PackageID() != "" {
		var feed wire.Page[model.Package]
		p.call(r, http.MethodGet, "/packages?take=1000", nil, &feed)
		data.Packages = feed.Items
		data.Feeds = p.feedList(r)
	}
	if step.Script != nil || step.Package != nil {
		var modules wire.Page[model.ScriptModule]
		p.call(r, http.MethodGet, "/script-modules?take=1000", nil, &modules)
		data.Modules = modules.Items
	}
	if step.Script != nil && len(step.Script.Packages) > 0 {
		data.FeedNames = map[string]string{}
		for _, f := range p.feedList(r) {
			data.FeedNames[f.ID] = f.Name
		}
	}
	data.Step, data.List = step, list
	data.ReadOnly = !p.mayInProject(r, list.Edit, data.Project)
	data.Template = p.templateView(r, id, step)
	data.EmailTeams = p.emailTeams(r, step.Email)
	v.Title, v.Nav, v.Data = "Step "+step.Name, "projects", data
	p.render(w, status, "step", v)
}

// saveStep changes one step from the edit form; the step's kind stays.
func (p *Portal) saveStep(w http.ResponseWriter, r *http.Request, list stepList) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	stepID := r.PathValue("step")
	var edited model.Step
	at := -1
	err := list.update(r, func(steps *[]model.Step) error {
		at = slices.IndexFunc(*steps, func(s model.Step) bool { return s.ID == stepID })
		if at < 0 {
			return &apiError{Status: http.StatusNotFound, Message: "the step is gone: someone changed the steps meanwhile"}
		}
		applyStepForm(&(*steps)[at], r.PostForm)
		edited = (*steps)[at]
		return nil
	})
	if err != nil {
		if edited.ID == "" {
			p.fail(w, r, err)
			return
		}
		v.Error = aboutStep(err, at)
		p.showStep(w, r, v, statusOf(err), list, edited)
		return
	}
	http.Redirect(w, r, list.page("Saved step "+edited.Name), http.StatusSeeOther)
}

func (p *Portal) createRelease(w http.ResponseWriter, r *http.Request) {
	v, ok := p.session(w, r)
	if !ok {
		return
	}
	r.ParseForm()
	id := r.PathValue("id")
	rf := releaseForm{Version: strings.TrimSpace(r.PostFormValue("version")), Notes: r.PostFormValue("notes"), Channel: r.PostFormValue("channel")}
	req := wire.CreateReleaseRequest{ProjectID: id, Version: rf.Version, Notes: rf.Notes, Channel: rf.Channel}
	for key, vals := range r.PostForm {
		if len(vals) == 0 || vals[0] == "" {
			continue // empty: the newest the channel takes
		}
		// "package:STEP" fields choose the version of a step's package,
		// "child:STEP" the release a deploy-a-release step deploys.
		if step, ok := strings.CutPrefix(key, "package:"); ok {
			if req.Packages == nil {
				req.Packages = map[string]string{}
			}
			req.Packages[step] = vals[0]
		}
		if step, ok := strings.CutPrefix(key, "child:"); ok {
			if req.ChildReleases == nil {
				req.ChildReleases = map[string]string{}
			}
			req.ChildReleases[step] = vals[0]
		}
	}
	var res wire.CreateReleaseResponse
	if _, err := p.call(r, http.MethodPost, "/releases", req, &res); err != nil {
		v.Error = err
		p.showProject(w, r, v, statusOf(err), stepForm{Kind: kindScript}, rf)
		return
	}
	http.Redirect(w, r, "/releases/"+res.Release.ID+"?done="+url.QueryEscape("Created release "+res.Release.Version), http.StatusSeeOther)
}

// packageChoice is one package a step takes, in the release form: its
// field ("package:STEP" or "package:STEP:REFERENCE"), what it is, and the
// versions its feed has.
type packageChoice struct {
	Key, Label string
	Versions   []string
	// Error says why the feed could not list them.
	Error string
}

// packageChoices reads the versions of every package the steps take, from
// the built-in feed or the step's external feed (each package once).
func (p *Portal) packageChoices(r *http.Request, steps []model.Step) []packageChoice {
	var out []packageChoice
	seen := map[string]packageChoice{}
	// External feeds are asked with one short deadline between them: a
	// slow feed must not hold the project's page (its field then says so,
	// and "newest" still lets the release take the feed's newest).
	ctx, cancel := context.WithTimeout(r.Context(), p.feedWait)
	defer cancel()
	external := r.WithContext(ctx)
	for _, st := range steps {
		for _, sp := range st.Packages() {
			c := packageChoice{Key: st.Name, Label: sp.PackageID + " (" + st.Name + ")"}
			if sp.Reference != "" {
				c.Key, c.Label = st.Name+":"+sp.Reference, sp.PackageID+" ("+st.Name+", "+sp.Reference+")"
			}
			source := sp.FeedID + "\x00" + sp.PackageID
			if known, ok := seen[source]; ok {
				c.Versions, c.Error = known.Versions, known.Error
			} else if sp.External() {
				var vs wire.FeedVersions
				if _, err := p.call(external, http.MethodGet, "/feeds/"+url.PathEscape(sp.FeedID)+"/versions?take=50&packageId="+url.QueryEscape(sp.PackageID), nil, &vs); err != nil {
					c.Error = err.Error()
					if ctx.Err() != nil {
						c.Error = fmt.Sprintf("feed %s did not list its versions within %s", sp.FeedID, p.feedWait)
					}
				}
				c.Versions = vs.Versions
			} else {
				var versions wire.Page[model.Package]
				p.call(r, http.MethodGet, "/packages?take=50&packageId="+url.QueryEscape(sp.PackageID), nil, &versions)
				for _, pv := range versions.Items {
					c.Versions = append(c.Versions, pv.Version)
				}
			}
			seen[source] = c
			out = append(out, c)
		}
	}
	return out
}

// externalFeedWait bounds how long the project's page waits for external
// feeds to list their versions (Portal.feedWait; tests shorten it).
const externalFeedWait = 5 * time.Second

// feedList is every feed, the built-in one first, for the step forms.
func (p *Portal) feedList(r *http.Request) []model.Feed {
	var feeds wire.Page[model.Feed]
	p.call(r, http.MethodGet, "/feeds?take=1000", nil, &feeds)
	return feeds.Items
}

// feedFieldsData is what the "feedfields" template shows.
type feedFieldsData struct {
	Prefix              string
	Feeds               []model.Feed
	FeedID, Acquisition string
}

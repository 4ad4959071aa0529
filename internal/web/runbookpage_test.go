package web

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// runbookSample is a published runbook whose draft has changed since, with
// a python step, a disabled email step and one run.
func runbookSample(now time.Time) runbookData {
	steps := []model.Step{{ID: "s1", Name: "Check", Script: &model.ScriptAction{Syntax: model.SyntaxPython, Body: "print(1)"}, TargetRoles: []string{"web"}},
		{ID: "s2", Name: "Mail ops", Disabled: true, Email: &model.EmailAction{To: []string{"ops@example.com"}, Subject: "Restarted"}}}
	return runbookData{Project: model.Project{ID: "Projects-1", Name: "web"},
		Runbook: model.Runbook{ID: "Runbooks-1", ProjectID: "Projects-1", Name: "Restart", Description: "Restarts the site",
			EnvironmentIDs: []string{"Environments-1"}, PublishedSnapshotID: "Releases-9", Steps: steps},
		Environments: []model.Environment{{ID: "Environments-1", Name: "Dev"}}, EnvNames: map[string]string{"Environments-1": "Dev"},
		Snapshot:     &model.Release{ID: "Releases-9", Version: "snapshot-1", CreatedAt: now, CreatedBy: "alice", ProcessSnapshot: model.DeploymentProcess{Steps: steps[:1]}},
		DraftChanged: true, MayRun: true, EmailTeams: map[string]*emailTeams{"s2": {}},
		Runs:     []model.Deployment{{ID: "Deployments-3", TaskID: "Tasks-7", EnvironmentID: "Environments-1", State: model.TaskSuccess, CreatedAt: now, CreatedBy: "alice"}},
		StepForm: stepForm{Kind: kindEmail, Email: emailForm{Subject: "typed"}}}
}

func renderPage(t *testing.T, page string, data any, err error) string {
	t.Helper()
	p, perr := New(http.NotFoundHandler(), "test", nil)
	if perr != nil {
		t.Fatal(perr)
	}
	var b bytes.Buffer
	if err := p.pages[page].Execute(&b, &view{Title: page, User: &model.User{Username: "admin"}, CSRF: "token", Error: err, Data: data}); err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	return b.String()
}

// The runbook page lists the draft's steps with the project page's step
// list and add form, aimed at the runbook, and says what is published.
func TestRunbookPageShowsItsDraftAndRuns(t *testing.T) {
	d := runbookSample(time.Now())
	html := renderPage(t, "runbook", d, nil)
	for _, want := range []string{"<h1>Runbook: Restart</h1>", "Restarts the site", "<dd>Dev</dd>", "snapshot snapshot-1", "by alice",
		"changed since it was published", `href="/projects/Projects-1/runbooks/Runbooks-1/steps/s1"`,
		`action="/projects/Projects-1/runbooks/Runbooks-1/steps/s2"`, `value="enable"`, "python script on web",
		`emails “Restarted” to ops@example.com`, `action="/projects/Projects-1/runbooks/Runbooks-1/steps"`, `value="email" checked`, `value="typed"`,
		`action="/projects/Projects-1/runbooks/Runbooks-1/publish"`, `action="/projects/Projects-1/runbooks/Runbooks-1/run"`,
		`<label for="run-env">`, `<option value="Environments-1">Dev</option>`, `href="/tasks/Tasks-7"`, "Success",
		"publish the runbook to make its runs use them"} {
		if !strings.Contains(html, want) {
			t.Errorf("the runbook page lacks %q", want)
		}
	}
	if strings.Contains(html, "/projects/Projects-1/steps") {
		t.Error("the runbook page aims a form at the deployment process")
	}

	// A visitor who may only look sees the steps and runs, and no form.
	d.ReadOnly, d.MayRun = true, false
	html = renderPage(t, "runbook", d, nil)
	if strings.Contains(html, "<form") && strings.Count(html, "<form") != strings.Count(html, `action="/logout"`) {
		t.Errorf("a read-only visitor gets forms:\n%s", html)
	}
	for _, want := range []string{"Check", "Mail ops", `href="/tasks/Tasks-7"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the read-only runbook page lacks %q", want)
		}
	}

	// The API's refusal of a step shows next to its field.
	d.ReadOnly = false
	html = renderPage(t, "runbook", d, &apiError{Status: 400, Message: "runbook is invalid", Details: []string{"step.email.to: needs a recipient"}})
	if !strings.Contains(html, `role="alert"`) || !strings.Contains(html, `<span class="field-error">needs a recipient</span>`) {
		t.Error("the refusal is not shown next to the form")
	}

	// Never published: nothing to run yet.
	d.Runbook.PublishedSnapshotID, d.Snapshot, d.Runs = "", nil, nil
	html = renderPage(t, "runbook", d, nil)
	if !strings.Contains(html, "<dd>not yet</dd>") || strings.Contains(html, "/run\"") || !strings.Contains(html, "No runs yet") {
		t.Error("an unpublished runbook offers a run or says it is published")
	}
}

// The project page hides the process's forms from a visitor who may not
// change it, as the runbook page does.
func TestProjectPageHidesStepFormsFromReadOnlyVisitors(t *testing.T) {
	d := projectData{Project: model.Project{ID: "Projects-1", Name: "web"},
		Process: model.DeploymentProcess{Steps: []model.Step{{ID: "s1", Name: "Run", Script: &model.ScriptAction{Body: "echo"}}}}}
	html := renderPage(t, "project", d, nil)
	for _, want := range []string{`action="/projects/Projects-1/steps/s1"`, `action="/projects/Projects-1/steps"`, `href="/projects/Projects-1/steps/s1"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the project page lacks %q", want)
		}
	}
	d.ReadOnly = true
	html = renderPage(t, "project", d, nil)
	if strings.Contains(html, `action="/projects/Projects-1/steps`) || strings.Contains(html, "Add a step") {
		t.Error("a read-only visitor gets the step forms")
	}
}

// The step page posts back to the list its step is in.
func TestStepPageAimsAtItsList(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetPathValue("id", "Projects-1")
	r.SetPathValue("runbook", "Runbooks-1")
	p, _ := New(http.NotFoundHandler(), "test", nil)
	step := model.Step{ID: "s1", Name: "Check", Script: &model.ScriptAction{Syntax: model.SyntaxPython, Body: "print(1)"}}
	html := renderPage(t, "step", stepEditData{List: p.runbookSteps(r), Project: model.Project{ID: "Projects-1", Name: "web"}, Step: step}, nil)
	for _, want := range []string{`action="/projects/Projects-1/runbooks/Runbooks-1/steps/s1/edit"`, `href="/projects/Projects-1/runbooks/Runbooks-1#steps">Back to the runbook`,
		"runs use the published snapshot"} {
		if !strings.Contains(html, want) {
			t.Errorf("the runbook step page lacks %q", want)
		}
	}
	html = renderPage(t, "step", stepEditData{List: p.processSteps(r), Project: model.Project{ID: "Projects-1", Name: "web"}, Step: step}, nil)
	for _, want := range []string{`action="/projects/Projects-1/steps/s1/edit"`, `href="/projects/Projects-1#process">Back to web`} {
		if !strings.Contains(html, want) {
			t.Errorf("the process step page lacks %q", want)
		}
	}
	html = renderPage(t, "step", stepEditData{List: p.runbookSteps(r), Project: model.Project{ID: "Projects-1", Name: "web"}, Step: step, ReadOnly: true}, nil)
	if strings.Contains(html, `action="/projects/Projects-1/runbooks`) || !strings.Contains(html, "<fieldset disabled") || strings.Contains(html, "Save step") {
		t.Error("a read-only visitor gets the step's form")
	}
	if got := p.runbookSteps(r).page("Added step X"); got != "/projects/Projects-1/runbooks/Runbooks-1?done=Added+step+X%3A+publish+the+runbook+to+run+the+change#steps" {
		t.Errorf("after a change: %s", got)
	}
}

func TestGrantsInAProject(t *testing.T) {
	project := model.Project{ID: "Projects-1", ProjectGroupID: "ProjectGroups-1"}
	edit := []model.Permission{model.RunbookEdit}
	for _, tt := range []struct {
		name string
		me   wire.MyPermissions
		want bool
	}{
		{"administrator", wire.MyPermissions{IsAdmin: true}, true},
		{"no grant", wire.MyPermissions{}, false},
		{"viewer", wire.MyPermissions{Grants: []wire.MyGrant{{Permissions: []model.Permission{model.RunbookView}}}}, false},
		{"everywhere", wire.MyPermissions{Grants: []wire.MyGrant{{Permissions: edit}}}, true},
		{"this project", wire.MyPermissions{Grants: []wire.MyGrant{{Permissions: edit, ProjectIDs: []string{"Projects-1"}}}}, true},
		{"its group", wire.MyPermissions{Grants: []wire.MyGrant{{Permissions: edit, ProjectGroupIDs: []string{"ProjectGroups-1"}}}}, true},
		{"another project", wire.MyPermissions{Grants: []wire.MyGrant{{Permissions: edit, ProjectIDs: []string{"Projects-2"}}}}, false},
		{"some environments", wire.MyPermissions{Grants: []wire.MyGrant{{Permissions: edit, EnvironmentIDs: []string{"Environments-1"}}}}, true},
	} {
		if got := grantsIn(tt.me, model.RunbookEdit, project); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

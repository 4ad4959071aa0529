package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// portalUser logs in a user holding one role grant, through the API as
// the login page does, and returns their browser.
func portalUser(t *testing.T, hs *httptest.Server, name string, grant model.RoleGrant) *browser {
	t.Helper()
	var u model.User
	if st := admin(t, hs, "POST", "/api/v1/users", wire.CreateUserRequest{Username: name, Password: alicePassword}, &u); st != 201 {
		t.Fatalf("create user: %d", st)
	}
	if st := admin(t, hs, "POST", "/api/v1/teams", model.Team{Name: name + " team", MemberIDs: []string{u.ID}, Roles: []model.RoleGrant{grant}}, nil); st != 201 {
		t.Fatalf("create team: %d", st)
	}
	b := newBrowser(t, hs)
	b.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resp, raw := b.login(name, alicePassword); resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, raw)
	}
	return b
}

// getPage reads a portal page that must answer 200.
func (b *browser) getPage(path string) string {
	b.t.Helper()
	resp, raw := b.do("GET", path, "", nil)
	if resp.StatusCode != 200 {
		b.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	return string(raw)
}

func wantIn(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// In the portal's library, script modules are added, changed and deleted;
// a mistake comes back at its field with what was typed; a module a step
// includes cannot be deleted, and the page says which step.
func TestThePortalEditsScriptModules(t *testing.T) {
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)

	resp, body := b.post("/script-modules", url.Values{"name": {"bad name"}, "syntax": {"python"}, "body": {"def greet():\r\n    return 1\r\n"}})
	if resp.StatusCode != 400 {
		t.Fatalf("a bad module: %d", resp.StatusCode)
	}
	wantIn(t, "the refused form", body, `<span class="field-error">&#34;bad name&#34; is not a module name`, `value="bad name"`,
		`<option value="python" selected>`, "def greet():\n    return 1\n</textarea>")
	resp, _ = b.post("/script-modules", url.Values{"name": {"common"}, "description": {"greetings"}, "syntax": {"bash"}, "body": {"greet() { echo \"hi $1\"; }\r\n"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=") {
		t.Fatalf("add: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var mods wire.Page[model.ScriptModule]
	admin(t, hs, "GET", "/api/v1/script-modules?name=common", nil, &mods)
	if len(mods.Items) != 1 || mods.Items[0].Body != "greet() { echo \"hi $1\"; }\n" || mods.Items[0].Syntax != model.SyntaxBash {
		t.Fatalf("the added module: %+v", mods.Items)
	}
	m := mods.Items[0]
	wantIn(t, "the list", b.getPage("/script-modules"), "greetings", "greet() { echo &#34;hi $1&#34;; }", "/script-modules?edit="+m.ID)
	if resp, body := b.post("/script-modules", url.Values{"name": {"Common"}, "syntax": {"bash"}, "body": {"x"}}); resp.StatusCode != 409 ||
		!strings.Contains(body, `<span class="field-error">script module &#34;Common&#34; already exists`) {
		t.Errorf("a taken name: %d", resp.StatusCode)
	}
	wantIn(t, "the edit form", b.getPage("/script-modules?edit="+m.ID), "Change common", `action="/script-modules/`+m.ID+`"`)
	if resp, body := b.post("/script-modules/"+m.ID, url.Values{"name": {"common"}, "syntax": {"bash"}, "body": {"greet() { echo hello; }"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", resp.StatusCode, body)
	}
	m = model.ScriptModule{ID: m.ID}
	admin(t, hs, "GET", "/api/v1/script-modules/"+m.ID, nil, &m)
	if m.Body != "greet() { echo hello; }" || m.Description != "" {
		t.Errorf("the saved module: %+v", m)
	}

	var p model.Project
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "web"}, &p)
	var d model.DeploymentProcess
	if st := admin(t, hs, "PUT", "/api/v1/projects/"+p.ID+"/process", model.DeploymentProcess{Steps: []model.Step{{Name: "Greet",
		ScriptModules: []string{"common"}, Script: &model.ScriptAction{Body: "greet"}}}}, &d); st != 200 {
		t.Fatalf("save process: %d", st)
	}
	resp, body = b.post("/script-modules/"+m.ID+"/delete", url.Values{})
	if resp.StatusCode != 409 {
		t.Fatalf("delete a module in use: %d", resp.StatusCode)
	}
	wantIn(t, "the refusal", body, `script module &#34;common&#34; is included by web (step &#34;Greet&#34;)`)
	if st := admin(t, hs, "PUT", "/api/v1/projects/"+p.ID+"/process", model.DeploymentProcess{Version: d.Version, Steps: []model.Step{}}, nil); st != 200 {
		t.Fatalf("empty the process: %d", st)
	}
	if resp, _ := b.post("/script-modules/"+m.ID+"/delete", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if st := admin(t, hs, "GET", "/api/v1/script-modules/"+m.ID, nil, nil); st != 404 {
		t.Errorf("the deleted module: %d", st)
	}
}

// In the portal a step template is made with two parameters, changed into
// version 2 (the history shows both), refused at its fields with what was
// typed (never a sensitive default), refused when changed meanwhile, and
// cannot be deleted while a project's step uses it.
func TestThePortalEditsStepTemplates(t *testing.T) {
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	form := func(version string, extra url.Values) url.Values {
		v := url.Values{"name": {"Notify"}, "description": {"tells the chat"}, "kind": {"script"}, "syntax": {"bash"},
			"body": {"echo \"#{Channel}\"\r\n"}, "version": {version}, "rows": {"3"},
			"parameters[0].name": {"Channel"}, "parameters[0].label": {"Chat channel"}, "parameters[0].helpText": {"where to say it"},
			"parameters[0].control": {"text"}, "parameters[0].defaultValue": {"#ops"},
			"parameters[1].name": {"Hook"}, "parameters[1].control": {"sensitive"},
			"parameters[2].control": {"text"}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}

	wantIn(t, "the library", b.getPage("/step-templates"), `href="/step-templates/new"`)
	page := b.getPage("/step-templates/new")
	wantIn(t, "the new form", page, `name="parameters[1].name"`, `name="rows" value="2"`, "Create step template")
	// "Add another parameter" draws the form again with a row more, as typed.
	resp, body := b.post("/step-templates", form("0", url.Values{"more": {"1"}}))
	if resp.StatusCode != 200 {
		t.Fatalf("add a row: %d", resp.StatusCode)
	}
	wantIn(t, "the form with a row more", body, `name="rows" value="4"`, `name="parameters[3].name"`, `value="Channel"`, `value="#ops"`)
	var list wire.Page[model.StepTemplate]
	if admin(t, hs, "GET", "/api/v1/step-templates", nil, &list); list.Total != 0 {
		t.Fatalf("adding a row saved a template: %+v", list.Items)
	}

	resp, body = b.post("/step-templates", form("0", nil))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/step-templates/") {
		t.Fatalf("create: %d %s\n%s", resp.StatusCode, loc, body)
	}
	admin(t, hs, "GET", "/api/v1/step-templates", nil, &list)
	if len(list.Items) != 1 {
		t.Fatalf("the created templates: %+v", list.Items)
	}
	tmpl := list.Items[0]
	if tmpl.Version != 1 || tmpl.Script == nil || tmpl.Script.Body != "echo \"#{Channel}\"\n" || len(tmpl.Parameters) != 2 ||
		fmt.Sprint(tmpl.Parameters[0]) != fmt.Sprint(model.StepTemplateParameter{Name: "Channel", Label: "Chat channel", HelpText: "where to say it", Control: model.ControlText, DefaultValue: "#ops"}) ||
		tmpl.Parameters[1].Name != "Hook" || tmpl.Parameters[1].Control != model.ControlSensitive {
		t.Fatalf("the created template: %+v", tmpl)
	}
	wantIn(t, "the redirect", loc, tmpl.ID, "done=")

	// Refused at the fields, the input kept; a sensitive default is never
	// drawn back.
	resp, body = b.post("/step-templates/"+tmpl.ID, form("1", url.Values{"parameters[0].name": {"1bad"}, "parameters[1].defaultValue": {"typed-secret-value"}}))
	if resp.StatusCode != 400 {
		t.Fatalf("a bad form: %d", resp.StatusCode)
	}
	wantIn(t, "the refused form", body, `<span class="field-error">&#34;1bad&#34; is not a variable name`, `value="1bad"`,
		`<span class="field-error">a sensitive parameter has no default`, `value="Chat channel"`, "echo &#34;#{Channel}&#34;\n</textarea>")
	if strings.Contains(body, "typed-secret-value") {
		t.Errorf("the refused form shows the sensitive default")
	}

	// Version 2: the script changes, a select parameter is added.
	resp, body = b.post("/step-templates/"+tmpl.ID, form("1", url.Values{"body": {"echo v2 #{Channel} #{Mode}"},
		"parameters[2].name": {"Mode"}, "parameters[2].control": {"select"}, "parameters[2].options": {"loud\r\nquiet"}, "parameters[2].defaultValue": {"quiet"}}))
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "version+2") {
		t.Fatalf("save: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	admin(t, hs, "GET", "/api/v1/step-templates/"+tmpl.ID, nil, &tmpl)
	if tmpl.Version != 2 || len(tmpl.Parameters) != 3 || strings.Join(tmpl.Parameters[2].Options, ",") != "loud,quiet" {
		t.Fatalf("version 2: %+v", tmpl)
	}
	page = b.getPage("/step-templates/" + tmpl.ID)
	wantIn(t, "the template page", page, `id="current-version">version 2`, "Version history", "<td>2</td>", "<td>1</td>",
		"changes script.body", "Adds parameters Mode", "the first version", "Save as version 3", `name="version" value="2"`)
	// A form read at version 1 is refused now, and says so.
	resp, body = b.post("/step-templates/"+tmpl.ID, form("1", url.Values{"body": {"echo lost"}}))
	if resp.StatusCode != 409 {
		t.Fatalf("a stale save: %d", resp.StatusCode)
	}
	wantIn(t, "the stale refusal", body, "It is now version 2", "echo lost</textarea>")
	// Saved unchanged: no version 3.
	if resp, _ := b.post("/step-templates/"+tmpl.ID, form("2", url.Values{"body": {"echo v2 #{Channel} #{Mode}"},
		"parameters[2].name": {"Mode"}, "parameters[2].control": {"select"}, "parameters[2].options": {"loud\nquiet"}, "parameters[2].defaultValue": {"quiet"}})); !strings.Contains(resp.Header.Get("Location"), "Nothing+changed") {
		t.Errorf("an unchanged save: %s", resp.Header.Get("Location"))
	}

	// Used by a project at version 1: the page says it is behind, and
	// delete is refused, naming the project.
	var p model.Project
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "web"}, &p)
	var d model.DeploymentProcess
	if st := admin(t, hs, "PUT", "/api/v1/projects/"+p.ID+"/process", model.DeploymentProcess{Steps: []model.Step{{Name: "Tell",
		Template: &model.StepTemplateRef{ID: tmpl.ID, Version: 1, Parameters: map[string]string{"Hook": "hook-secret"}}}}}, &d); st != 200 {
		t.Fatalf("save process: %d", st)
	}
	wantIn(t, "the used template", b.getPage("/step-templates/"+tmpl.ID), "1 step(s) use an older version", "behind: update to 2",
		`href="/projects/`+p.ID+`/steps/`+d.Steps[0].ID+`"`)
	resp, body = b.post("/step-templates/"+tmpl.ID+"/delete", url.Values{})
	if resp.StatusCode != 409 {
		t.Fatalf("delete a template in use: %d", resp.StatusCode)
	}
	wantIn(t, "the refusal", body, `is used by web (step &#34;Tell&#34;); change those steps first`)
	if st := admin(t, hs, "PUT", "/api/v1/projects/"+p.ID+"/process", model.DeploymentProcess{Version: d.Version, Steps: []model.Step{}}, nil); st != 200 {
		t.Fatalf("empty the process: %d", st)
	}
	if resp, _ := b.post("/step-templates/"+tmpl.ID+"/delete", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if st := admin(t, hs, "GET", "/api/v1/step-templates/"+tmpl.ID, nil, nil); st != 404 {
		t.Errorf("the deleted template: %d", st)
	}
}

// A package step template keeps its feed and what the form does not show;
// someone who may only view the library sees no forms, and the API
// refuses their posts.
func TestThePortalLibraryFormsFollowPermissions(t *testing.T) {
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	var f model.Feed
	admin(t, hs, "POST", "/api/v1/feeds", model.Feed{Name: "Files", Type: model.FeedHTTP, URL: "https://files.example.com/"}, &f)
	var tmpl model.StepTemplate
	if st := admin(t, hs, "POST", "/api/v1/step-templates", model.StepTemplate{Name: "Site",
		Package: &model.PackageAction{PackageID: "site", StructuredConfigFiles: []string{"app.yaml"}}}, &tmpl); st != 201 {
		t.Fatalf("create: %d", st)
	}
	wantIn(t, "the package form", b.getPage("/step-templates/"+tmpl.ID), `value="package" checked`, `value="site"`, `<option value="`+f.ID+`" >Files (http)</option>`)
	resp, body := b.post("/step-templates/"+tmpl.ID, url.Values{"name": {"Site"}, "kind": {"package"}, "package": {"site"}, "feed": {f.ID},
		"acquisition": {"target"}, "substitute": {"config/*.json"}, "deploy": {"./migrate.sh"}, "version": {"1"}, "rows": {"0"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", resp.StatusCode, body)
	}
	admin(t, hs, "GET", "/api/v1/step-templates/"+tmpl.ID, nil, &tmpl)
	if pa := tmpl.Package; tmpl.Version != 2 || pa.FeedID != f.ID || pa.Acquisition != model.AcquireOnTarget || strings.Join(pa.SubstituteFiles, ",") != "config/*.json" ||
		strings.Join(pa.StructuredConfigFiles, ",") != "app.yaml" || pa.Deploy == nil || pa.Deploy.Body != "./migrate.sh" {
		t.Fatalf("the saved package template: %+v %+v", tmpl, tmpl.Package)
	}
	admin(t, hs, "POST", "/api/v1/script-modules", model.ScriptModule{Name: "common", Syntax: model.SyntaxBash, Body: "x() { :; }"}, nil)

	// A contributor (unlimited) may change processes but not the library.
	c := portalUser(t, hs, "carol", model.RoleGrant{RoleID: model.RoleProjectContributor})
	for _, path := range []string{"/step-templates", "/step-templates/" + tmpl.ID, "/script-modules"} {
		page := c.getPage(path)
		for _, banned := range []string{`href="/step-templates/new"`, `action="/step-templates`, `action="/script-modules`, "?edit="} {
			if strings.Contains(page, banned) {
				t.Errorf("%s shows a viewer %q", path, banned)
			}
		}
	}
	wantIn(t, "the read-only template", c.getPage("/step-templates/"+tmpl.ID), "Deploys package <code>site</code>", "Version history")
	if resp, _ := c.do("GET", "/step-templates/new", "", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the new page for a viewer: %d", resp.StatusCode)
	}
	if resp, _ := c.post("/step-templates/"+tmpl.ID+"/delete", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's delete: %d", resp.StatusCode)
	}
	if resp, _ := c.post("/script-modules", url.Values{"name": {"mine"}, "syntax": {"bash"}, "body": {"y"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's module: %d", resp.StatusCode)
	}
}

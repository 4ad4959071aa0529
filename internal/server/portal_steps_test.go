package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// portalAdmin logs a system administrator in through the API, as the
// portal's login page does, and returns a browser holding the session.
func portalAdmin(t *testing.T, hs *httptest.Server) *browser {
	t.Helper()
	var u model.User
	if st := admin(t, hs, "POST", "/api/v1/users", wire.CreateUserRequest{Username: "rm", Password: alicePassword}, &u); st != 201 {
		t.Fatalf("create user: %d", st)
	}
	if st := admin(t, hs, "POST", "/api/v1/teams", model.Team{Name: "Admins", MemberIDs: []string{u.ID},
		Roles: []model.RoleGrant{{RoleID: model.RoleSystemAdministrator}}}, nil); st != 201 {
		t.Fatalf("create team: %d", st)
	}
	b := newBrowser(t, hs)
	b.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resp, raw := b.login("rm", alicePassword); resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, raw)
	}
	return b
}

// post sends a portal form with the session's CSRF token.
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	form.Set("csrf_token", b.csrf)
	resp, raw := b.do("POST", path, form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	return resp, string(raw)
}

func processOf(t *testing.T, hs *httptest.Server, projectID string) model.DeploymentProcess {
	t.Helper()
	var d model.DeploymentProcess
	if st := admin(t, hs, "GET", "/api/v1/projects/"+projectID+"/process", nil, &d); st != 200 {
		t.Fatalf("read the process: %d", st)
	}
	return d
}

func stepNamed(d model.DeploymentProcess, name string) *model.Step {
	for i := range d.Steps {
		if d.Steps[i].Name == name {
			return &d.Steps[i]
		}
	}
	return nil
}

// The add-a-step form makes every kind of step; a mistake comes back next
// to its field and changes nothing.
func TestThePortalAddsEveryKindOfStep(t *testing.T) {
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	var web, api model.Project
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "web"}, &web)
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "api"}, &api)

	cases := []struct {
		name  string
		form  url.Values
		check func(t *testing.T, s *model.Step)
	}{
		{"a bash script on web targets", url.Values{"kind": {"script"}, "name": {"Hello"}, "body": {"echo hi\r\necho there"}, "roles": {"web, db"}},
			func(t *testing.T, s *model.Step) {
				if s.Script == nil || s.Script.Body != "echo hi\necho there" || s.Script.Syntax != model.SyntaxBash || strings.Join(s.TargetRoles, ",") != "web,db" {
					t.Errorf("got %+v %+v", s, s.Script)
				}
			}},
		{"a script kept in a package", url.Values{"kind": {"script-package"}, "name": {"Migrate"}, "package": {"tools"}, "file": {"db/migrate.sh"},
			"arguments": {"--env #{Octopus.Environment.Name}"}, "substitute": {"db/*.conf"}},
			func(t *testing.T, s *model.Step) {
				fp := s.Script.FromPackage
				if fp == nil || fp.PackageID != "tools" || fp.File != "db/migrate.sh" || fp.Arguments != "--env #{Octopus.Environment.Name}" || len(fp.SubstituteFiles) != 1 {
					t.Errorf("got %+v", fp)
				}
			}},
		{"a package", url.Values{"kind": {"package"}, "name": {"Site"}, "package": {"app"}, "substitute": {"a.json, b.yaml"}, "roles": {"web"}},
			func(t *testing.T, s *model.Step) {
				if s.Package == nil || s.Package.PackageID != "app" || len(s.Package.SubstituteFiles) != 2 {
					t.Errorf("got %+v", s.Package)
				}
			}},
		{"an approval", url.Values{"kind": {"manual"}, "name": {"Approve"}, "instructions": {"Look first"}, "teams": {"Ops"}, "roles": {"ignored"}},
			func(t *testing.T, s *model.Step) {
				if s.Manual == nil || s.Manual.Instructions != "Look first" || len(s.TargetRoles) != 0 {
					t.Errorf("got %+v", s)
				}
			}},
		{"a release of another project", url.Values{"kind": {"deploy-release"}, "name": {"API"}, "child": {api.ID}, "mode": {"ifNewer"}},
			func(t *testing.T, s *model.Step) {
				if s.DeployRelease == nil || s.DeployRelease.ProjectID != api.ID || s.DeployRelease.Mode != model.DeployIfNewer {
					t.Errorf("got %+v", s.DeployRelease)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := b.post("/projects/"+web.ID+"/steps", c.form)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("add: %d\n%s", resp.StatusCode, body)
			}
			s := stepNamed(processOf(t, hs, web.ID), c.form.Get("name"))
			if s == nil {
				t.Fatal("the step is not in the process")
			}
			c.check(t, s)
		})
	}

	mistakes := []struct {
		name    string
		form    url.Values
		message string
	}{
		{"a packaged script without its file", url.Values{"kind": {"script-package"}, "name": {"Broken"}, "package": {"tools"}},
			"the script&#39;s path inside the package"},
		{"a script with no body", url.Values{"kind": {"script"}, "name": {"Empty"}}, "is required"},
		{"a second step of the same name", url.Values{"kind": {"script"}, "name": {"hello"}, "body": {"x"}}, "already called"},
		{"a release step without its project", url.Values{"kind": {"deploy-release"}, "name": {"Child"}}, "the project whose release it deploys"},
	}
	for _, c := range mistakes {
		t.Run(c.name, func(t *testing.T) {
			before := processOf(t, hs, web.ID)
			resp, body := b.post("/projects/"+web.ID+"/steps", c.form)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("got %d, want 400", resp.StatusCode)
			}
			if !strings.Contains(body, `<span class="field-error">`) || !strings.Contains(body, c.message) {
				t.Errorf("the form does not show %q next to a field", c.message)
			}
			if !strings.Contains(body, `value="`+c.form.Get("name")+`"`) {
				t.Error("the form lost what was typed")
			}
			if after := processOf(t, hs, web.ID); after.Version != before.Version || len(after.Steps) != len(before.Steps) {
				t.Errorf("the process changed: version %d → %d", before.Version, after.Version)
			}
		})
	}
}

// The step page edits everything a step has and keeps its kind.
func TestThePortalEditsAStepsEverySetting(t *testing.T) {
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	var web, api model.Project
	var dev, prod model.Environment
	var pool model.WorkerPool
	admin(t, hs, "POST", "/api/v1/environments", model.Environment{Name: "Dev"}, &dev)
	admin(t, hs, "POST", "/api/v1/environments", model.Environment{Name: "Prod"}, &prod)
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "web"}, &web)
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "api"}, &api)
	admin(t, hs, "POST", "/api/v1/workerpools", model.WorkerPool{Name: "Builders"}, &pool)
	var beta model.Channel
	if st := admin(t, hs, "POST", "/api/v1/channels", model.Channel{ProjectID: web.ID, Name: "Beta"}, &beta); st != 201 {
		t.Fatalf("create a channel: %d", st)
	}
	channel := beta.ID
	for _, f := range []url.Values{
		{"kind": {"script"}, "name": {"Build"}, "body": {"make"}},
		{"kind": {"script"}, "name": {"Lint"}, "body": {"lint"}},
		{"kind": {"package"}, "name": {"Site"}, "package": {"app"}, "roles": {"web"}},
		{"kind": {"deploy-release"}, "name": {"API"}, "child": {api.ID}},
	} {
		if resp, body := b.post("/projects/"+web.ID+"/steps", f); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("add %s: %d\n%s", f.Get("name"), resp.StatusCode, body)
		}
	}
	idOf := func(name string) string { return stepNamed(processOf(t, hs, web.ID), name).ID }

	// The edit page shows the step's settings.
	resp, page := b.do("GET", "/projects/"+web.ID+"/steps/"+idOf("Site"), "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(page), `id="edit-structured"`) || !strings.Contains(string(page), "Builders") {
		t.Fatalf("the package step's page: %d", resp.StatusCode)
	}

	edits := []struct {
		step  string
		form  url.Values
		check func(t *testing.T, s *model.Step)
	}{
		{"Lint", url.Values{"name": {"Lint"}, "syntax": {"sh"}, "body": {"lint --strict"}, "pool": {pool.ID}, "startwithprevious": {"on"},
			"excluded": {prod.ID}, "channel": {channel}, "retries": {"3"}, "delay": {"5"}, "condition": {"always"}},
			func(t *testing.T, s *model.Step) {
				if s.Script.Syntax != model.SyntaxSh || s.Script.Body != "lint --strict" || s.WorkerPoolID != pool.ID || !s.StartWithPrevious ||
					len(s.ExcludedEnvironments) != 1 || s.ExcludedEnvironments[0] != prod.ID || len(s.Channels) != 1 ||
					s.Retries != 3 || s.RetryDelaySeconds != 5 || s.Condition != model.ConditionAlways {
					t.Errorf("got %+v", s)
				}
			}},
		{"Site", url.Values{"name": {"Website"}, "package": {"app"}, "roles": {"web"}, "structured": {"appsettings.json"}, "installdir": {"/srv/web"},
			"purge": {"on"}, "exclude": {"logs/**"}, "retain": {"3"}, "deploy": {"systemctl restart web"}, "parallelism": {"2"}, "window": {"1"},
			"environment": {dev.ID, prod.ID}, "required": {"on"}},
			func(t *testing.T, s *model.Step) {
				pk := s.Package
				if s.ID != idOf("Website") || pk.CustomInstallDir != "/srv/web" || !pk.PurgeCustomInstallDir || pk.RetainInstallations != 3 ||
					len(pk.StructuredConfigFiles) != 1 || pk.Deploy == nil || pk.Deploy.Body != "systemctl restart web" || pk.PreDeploy != nil ||
					s.MaxParallelism != 2 || s.WindowSize != 1 || len(s.Environments) != 2 || !s.Required {
					t.Errorf("got %+v %+v", s, pk)
				}
			}},
		{"API", url.Values{"name": {"API"}, "child": {api.ID}, "mode": {"ifDifferent"}, "childvars": {"Colour = blue\r\nSize=#{Size}\r\n\r\n"}},
			func(t *testing.T, s *model.Step) {
				dr := s.DeployRelease
				if dr.Mode != model.DeployIfDifferent || len(dr.Variables) != 2 || dr.Variables["Colour"] != "blue" || dr.Variables["Size"] != "#{Size}" {
					t.Errorf("got %+v", dr)
				}
			}},
	}
	for _, e := range edits {
		t.Run(e.step, func(t *testing.T) {
			resp, body := b.post("/projects/"+web.ID+"/steps/"+idOf(e.step)+"/edit", e.form)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("save: %d\n%s", resp.StatusCode, body)
			}
			e.check(t, stepNamed(processOf(t, hs, web.ID), e.form.Get("name")))
		})
	}

	// A mistake is shown next to its field and nothing changes.
	before := processOf(t, hs, web.ID)
	resp, body := b.post("/projects/"+web.ID+"/steps/"+idOf("Build")+"/edit",
		url.Values{"name": {"Build"}, "body": {"make"}, "condition": {"variable"}, "retries": {"11"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a variable condition without its expression: %d", resp.StatusCode)
	}
	for _, want := range []string{"is required with condition", "must be 0 to 10"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	if after := processOf(t, hs, web.ID); after.Version != before.Version {
		t.Errorf("the process changed: version %d → %d", before.Version, after.Version)
	}
}

package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// A runbook's draft is edited in the portal as a deployment process is:
// steps are added (python, email), edited, moved, disabled and deleted
// through the same forms; a refused step shows the API's message at the
// form; publishing and running work from the runbook's page, which lists
// the run. A visitor who may only look sees no form.
func TestThePortalEditsAndRunsARunbook(t *testing.T) {
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	var proj model.Project
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "web"}, &proj)
	var dev model.Environment
	admin(t, hs, "POST", "/api/v1/environments", model.Environment{Name: "Dev"}, &dev)
	var rb model.Runbook
	if st := admin(t, hs, "POST", "/api/v1/runbooks", model.Runbook{ProjectID: proj.ID, Name: "Restart", Description: "Restarts the site"}, &rb); st != 201 {
		t.Fatalf("create the runbook: %d", st)
	}
	page := "/projects/" + proj.ID + "/runbooks/" + rb.ID
	read := func() model.Runbook {
		t.Helper()
		var got model.Runbook
		if st := admin(t, hs, "GET", "/api/v1/runbooks/"+rb.ID, nil, &got); st != 200 {
			t.Fatalf("read the runbook: %d", st)
		}
		return got
	}
	names := func(steps []model.Step) string {
		var out []string
		for _, s := range steps {
			n := s.Name
			if s.Disabled {
				n += "(off)"
			}
			out = append(out, n)
		}
		return strings.Join(out, ",")
	}

	// The operations page links to the runbook's page.
	wantIn(t, "the operations page", b.getPage("/projects/"+proj.ID+"/operations"), `href="`+page+`"`)
	wantIn(t, "the new runbook's page", b.getPage(page), "Runbook: Restart", "Restarts the site", "No steps yet", "<dd>not yet</dd>", `action="`+page+`/steps"`)

	add := []url.Values{
		{"kind": {"script"}, "name": {"Check"}, "syntax": {"python"}, "body": {"print('env', get_octopusvariable('Octopus.Environment.Name'))\r\n"}},
		{"kind": {"email"}, "name": {"Mail ops"}, "email-to": {"ops@example.com"}, "email-subject": {"Restarted #{Octopus.Environment.Name}"}},
	}
	for _, f := range add {
		resp, body := b.post(page+"/steps", f)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("add %s: %d\n%s", f.Get("name"), resp.StatusCode, body)
		}
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, page+"?done=") || !strings.Contains(loc, "publish") {
			t.Errorf("after adding, to %s", loc)
		}
	}
	got := read()
	if names(got.Steps) != "Check,Mail ops" || got.Steps[0].Script.Syntax != model.SyntaxPython || got.Steps[1].Email == nil || got.Steps[1].Email.To[0] != "ops@example.com" {
		t.Fatalf("the draft: %+v", got.Steps)
	}
	check, mail := got.Steps[0], got.Steps[1]

	// A bad step (an email to nobody) is refused with the API's message at
	// the form, what was typed kept, and nothing saved.
	resp, body := b.post(page+"/steps", url.Values{"kind": {"email"}, "name": {"Mail nobody"}, "email-subject": {"typed subject"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad step: %d\n%s", resp.StatusCode, body)
	}
	wantIn(t, "the refusal", body, `role="alert"`, `<span class="field-error">is required: give at least one address or team (`, `value="typed subject"`)
	if names(read().Steps) != "Check,Mail ops" {
		t.Fatal("the refused step was saved")
	}

	// The step page edits a runbook step with the process's form.
	wantIn(t, "the step page", b.getPage(page+"/steps/"+mail.ID), `action="`+page+`/steps/`+mail.ID+`/edit"`, `href="`+page+`#steps"`, "runs use the published snapshot")
	resp, body = b.post(page+"/steps/"+mail.ID+"/edit", url.Values{"name": {"Mail ops"}, "email-to": {"ops@example.com, lead@example.com"},
		"email-subject": {"Restarted"}, "condition": {"failure"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", resp.StatusCode, body)
	}
	if m := read().Steps[1]; m.Email.Subject != "Restarted" || m.Condition != model.ConditionFailure || strings.Join(m.Email.To, ",") != "ops@example.com,lead@example.com" {
		t.Fatalf("the edited step: %+v %+v", m, m.Email)
	}
	resp, body = b.post(page+"/steps/"+check.ID+"/edit", url.Values{"name": {"Check"}, "syntax": {"python"}, "body": {"print(1)"}, "roles": {"web"},
		"retries": {"2"}, "delay": {"5"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit roles: %d\n%s", resp.StatusCode, body)
	}
	if c := read().Steps[0]; strings.Join(c.TargetRoles, ",") != "web" || c.Retries != 2 || c.RetryDelaySeconds != 5 {
		t.Fatalf("the roles and retries: %v %d %d", c.TargetRoles, c.Retries, c.RetryDelaySeconds)
	}
	// Roles back off so the run needs no target: it runs on the built-in worker.
	b.post(page+"/steps/"+check.ID+"/edit", url.Values{"name": {"Check"}, "syntax": {"python"}, "body": {"print('checked', 6 * 7)"}})

	// An edit the API refuses shows its message on the step page.
	resp, body = b.post(page+"/steps/"+mail.ID+"/edit", url.Values{"name": {"Mail ops"}, "email-subject": {"Restarted"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad edit: %d\n%s", resp.StatusCode, body)
	}
	wantIn(t, "the refused edit", body, `role="alert"`, "give at least one address or team")

	// Move, disable, enable, delete.
	for _, tt := range []struct{ step, action, want string }{
		{mail.ID, "up", "Mail ops,Check"},
		{mail.ID, "disable", "Mail ops(off),Check"},
		{mail.ID, "down", "Check,Mail ops(off)"},
		{mail.ID, "enable", "Check,Mail ops"},
		{mail.ID, "delete", "Check"},
	} {
		resp, body := b.post(page+"/steps/"+tt.step, url.Values{"action": {tt.action}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d\n%s", tt.action, resp.StatusCode, body)
		}
		if got := names(read().Steps); got != tt.want {
			t.Fatalf("after %s: %s, want %s", tt.action, got, tt.want)
		}
	}
	if resp, _ := b.post(page+"/steps/"+mail.ID, url.Values{"action": {"up"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a deleted step: %d", resp.StatusCode)
	}
	// Another project's runbook is not found under this one.
	var other model.Project
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "api"}, &other)
	if resp, _ := b.do("GET", "/projects/"+other.ID+"/runbooks/"+rb.ID, "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the runbook under another project: %d", resp.StatusCode)
	}

	// Publish from the page: the draft is then the published snapshot.
	wantIn(t, "the unpublished page", b.getPage(page), "not published yet", "<dd>not yet</dd>")
	resp, body = b.post(page+"/publish", url.Values{"back": {"runbook"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), page+"?done=") {
		t.Fatalf("publish: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	wantIn(t, "the published page", b.getPage(page), "the same steps as the published snapshot", "by rm", `<label for="run-env">`, `<option value="`+dev.ID+`">Dev</option>`)

	// Run it in Dev: the task page, then the run on the runbook's page.
	resp, body = b.post(page+"/run", url.Values{"back": {"runbook"}, "environment": {dev.ID}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/tasks/") {
		t.Fatalf("run: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	task := strings.TrimPrefix(resp.Header.Get("Location"), "/tasks/")
	var runs wire.Page[model.Deployment]
	waitFor(t, "the run to finish", 60*time.Second, func() bool {
		admin(t, hs, "GET", "/api/v1/runbooks/"+rb.ID+"/runs", nil, &runs)
		return len(runs.Items) == 1 && runs.Items[0].State.Finished()
	})
	if runs.Items[0].State != model.TaskSuccess {
		t.Errorf("the run: %s", runs.Items[0].State)
	}
	wantIn(t, "the page after the run", b.getPage(page), `href="/tasks/`+task+`"`, ">Success</a>", "<td>Dev</td>")

	// A run refused (no such environment) shows the API's message on the page.
	resp, body = b.post(page+"/run", url.Values{"back": {"runbook"}, "environment": {"Environments-999"}})
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("a bad run: %d\n%s", resp.StatusCode, body)
	}
	wantIn(t, "the refused run", body, `role="alert"`, "Runbook: Restart")

	// A viewer sees the steps and runs, and no form; the API refuses what
	// they would send anyway.
	v := portalUser(t, hs, "vera", model.RoleGrant{RoleID: model.RoleProjectViewer})
	view := v.getPage(page)
	wantIn(t, "the viewer's page", view, "Check", `href="/tasks/`+task+`"`)
	for _, banned := range []string{`action="` + page, "Add a step", `name="action"`, `aria-label="Edit Check"`} {
		if strings.Contains(view, banned) {
			t.Errorf("the viewer sees %q", banned)
		}
	}
	wantIn(t, "the viewer's step page", v.getPage(page+"/steps/"+check.ID), "You may look at this step but not change it", "<fieldset disabled")
	if strings.Contains(v.getPage(page+"/steps/"+check.ID), `action="`+page) {
		t.Error("the viewer gets the step's form")
	}
	if resp, _ := v.post(page+"/steps", add[0]); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's step: %d", resp.StatusCode)
	}
	if names(read().Steps) != "Check" {
		t.Error("the viewer changed the draft")
	}
}

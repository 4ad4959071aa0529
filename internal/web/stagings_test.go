package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// The staging forms, sent as a browser without JavaScript sends them to a
// whole server whose template's control scripts are tiny bash scripts run
// for real; what they did is read back through the API.

func TestMain(m *testing.M) {
	// Scripts (the stagings' control scripts) run under a supervisor: this
	// test binary, started again.
	scriptsvc.RunIfSupervisor()
	os.Exit(m.Run())
}

// status calls the API with the administrator's key and returns the status.
func (s *portalSite) status(method, path string, out any) int {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+"/api/v1"+path, nil)
	req.Header.Set("Authorization", "Bearer "+infraAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// staging polls a staging through the API until cond holds, or fails the
// test after a deadline.
func (s *portalSite) staging(id, what string, cond func(wire.StagingDetail) bool) wire.StagingDetail {
	s.t.Helper()
	var d wire.StagingDetail
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d = wire.StagingDetail{}
		status := s.status("GET", "/stagings/"+id, &d)
		if status == http.StatusOK && cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("staging %s never became %s: status %d, state %s, task %q, message %q", id, what, status, d.State, d.TaskID, d.Message)
		}
	}
}

// settled waits until the staging is in a state with no action running.
func (s *portalSite) settled(id string, state model.StagingState) wire.StagingDetail {
	s.t.Helper()
	return s.staging(id, string(state), func(d wire.StagingDetail) bool { return d.State == state && d.TaskID == "" })
}

// detail reads a staging through the API.
func (s *portalSite) detail(id string) wire.StagingDetail {
	s.t.Helper()
	var d wire.StagingDetail
	s.api("GET", "/stagings/"+id, nil, &d, http.StatusOK)
	return d
}

// gone waits until the staging no longer exists.
func (s *portalSite) gone(id string) {
	s.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); s.status("GET", "/stagings/"+id, nil) != http.StatusNotFound; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("staging %s is still there", id)
		}
	}
}

// expect checks a form's answer: its status, where a redirect goes (the
// start of it) and what a page shown again says.
func expect(t *testing.T, what string, status int, body, loc string, wantStatus int, wantLoc string, wantBody ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d (to %q)\n%s", what, status, wantStatus, loc, body)
	}
	if !strings.HasPrefix(loc, wantLoc) {
		t.Errorf("%s: sent to %q, want %q…", what, loc, wantLoc)
	}
	for _, w := range wantBody {
		if !strings.Contains(body, w) {
			t.Errorf("%s: the page does not say %q:\n%s", what, w, body)
		}
	}
	if status >= 400 && !strings.Contains(body, "<h1>") {
		t.Errorf("%s: a refused form is not shown again on its page:\n%s", what, body)
	}
}

// templateValues is the template form as a person fills it in: scripts
// that say ok, a config check that refuses tags starting with "bad", an
// info script giving a link, and an update that waits while a file exists
// (so a test can hold it busy).
func templateValues(hold string) url.Values {
	return url.Values{
		"create":  {"echo ok\r\n"},
		"update":  {fmt.Sprintf("while [ -e '%s' ]; do sleep 0.02; done\r\necho ok", hold)},
		"archive": {"echo ok"}, "cleanup": {"echo ok"},
		"configCheck": {`for a in "$@"; do case "$a" in tag=bad*) echo "tag ${a#tag=} is not in the registry"; exit 1 ;; esac; done` + "\r\necho ok"},
		"info":        {`echo "web,https://#{Staging.Name}.example.test/"`},
		"arguments":   {"pulpo"}, "baseDomain": {"example.test"}, "namespace": {"stagings"}, "namePattern": {""}, "tagKey": {""}, "workerPool": {""},
		"defaults":      {"app.replicas=1\r\ndeployment.cpu=500m\r\n"},
		"sensitiveKeys": {"app.password"},
		"scriptTimeout": {"20s"}, "checkInterval": {"1s"}, "statusTimeout": {"1m"}, "idleExpiry": {"72h"}, "archiveRetention": {"336h"},
		"version": {"0"},
	}
}

func TestStagingForms(t *testing.T) {
	s := startPortal(t)
	hold := filepath.Join(t.TempDir(), "hold")
	var proj model.Project
	s.api("POST", "/projects", model.Project{Name: "shop"}, &proj, http.StatusCreated)
	stagingsPage := "/projects/" + proj.ID + "/stagings"
	templatePath := "/projects/" + proj.ID + "/staging-template"

	// Without a template the page says who sets it up, and where.
	status, body := s.get(stagingsPage)
	expect(t, "the stagings page without a template", status, body, "", http.StatusOK, "",
		"No staging template yet", `href="`+templatePath+`"`, "Staging template edit permission")
	if strings.Contains(body, `id="new-staging"`) {
		t.Error("the create form is offered without a template")
	}

	// The template form: what does not read, and a missing required
	// script, are refused next to their fields, and nothing is saved.
	form := templateValues(hold)
	form.Set("scriptTimeout", "soon")
	form.Set("cleanup", "")
	status, body, loc := s.post(templatePath, form)
	expect(t, "a template with an unreadable timeout", status, body, loc, http.StatusBadRequest, "",
		`<span class="field-error">&#34;soon&#34; is not a duration`, `<span class="field-error">is required: the script that does cleanup`, "\necho ok\n</textarea>")
	if st := s.status("GET", templatePath, nil); st != http.StatusNotFound {
		t.Errorf("a refused template form saved a template: %d", st)
	}
	status, body, loc = s.post(templatePath, templateValues(hold))
	expect(t, "the template", status, body, loc, http.StatusSeeOther, templatePath+"?done=")
	var tmpl model.StagingTemplate
	s.api("GET", templatePath, nil, &tmpl, http.StatusOK)
	if tmpl.Scripts.Create != "echo ok\n" || !strings.Contains(tmpl.Scripts.Update, hold) || tmpl.ScriptTimeout.D != 20*time.Second || tmpl.CheckInterval.D != time.Second ||
		tmpl.IdleExpiry.D != 72*time.Hour || tmpl.ArchiveRetention.D != 336*time.Hour || tmpl.Defaults.App["replicas"] != "1" || tmpl.Defaults.Deployment["cpu"] != "500m" ||
		strings.Join(tmpl.SensitiveKeys, ",") != "app.password" || tmpl.BaseDomain != "example.test" || tmpl.Version != 1 ||
		tmpl.NamePattern != model.DefaultStagingNamePattern || tmpl.TagKey != model.DefaultStagingTagKey {
		t.Errorf("saved template: %+v", tmpl)
	}
	// Saving sends the version the form was drawn from: an edit of an
	// older version is refused, not lost.
	status, body = s.get(templatePath)
	expect(t, "the template page", status, body, "", http.StatusOK, "", `name="version" value="1"`, `name="scriptTimeout" value="20s"`, "\napp.replicas=1\ndeployment.cpu=500m\n</textarea>")
	form = templateValues(hold)
	form.Set("version", "1")
	status, body, loc = s.post(templatePath, form)
	expect(t, "the template again", status, body, loc, http.StatusSeeOther, templatePath+"?done=Saved+the+staging+template+%28version+2%29")
	form.Set("baseDomain", "stale.example.test")
	status, body, loc = s.post(templatePath, form)
	expect(t, "a template edited from an old version", status, body, loc, http.StatusConflict, "", "changed since you read it", "Open the template as it is now", `value="stale.example.test"`)
	if s.api("GET", templatePath, nil, &tmpl, http.StatusOK); tmpl.BaseDomain != "example.test" || tmpl.Version != 2 {
		t.Errorf("a stale edit changed the template: %+v", tmpl)
	}

	// With the template, the page offers the form and says how to start.
	status, body = s.get(stagingsPage)
	expect(t, "the stagings page without stagings", status, body, "", http.StatusOK, "", "No stagings yet",
		`pulpo staging create NAME --project "shop" --set app.tag=…`, `id="new-staging"`, "<code>app.replicas=1</code>", "<code>deployment.cpu=500m</code>")

	// A staging, created through the form; its page follows it.
	status, body, loc = s.post("/stagings", url.Values{"project": {proj.ID}, "name": {"feature-a"}, "config": {"app.tag=ab12cd\r\napp.password=s3cr3t-xyz\r\n"}})
	expect(t, "create feature-a", status, body, loc, http.StatusSeeOther, "/stagings/")
	m := regexp.MustCompile(`^/stagings/([^?]+)\?done=Creating`).FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("created, sent to %q", loc)
	}
	id := m[1]
	d := s.settled(id, model.StagingRunning)
	if d.Effective.App["tag"] != "ab12cd" || d.Effective.App["replicas"] != "1" || d.Effective.Deployment["cpu"] != "500m" ||
		len(d.Links) != 1 || d.Links[0].URL != "https://feature-a.example.test/" || d.CreatedBy != "ops" {
		t.Errorf("created %+v", d)
	}
	status, body = s.get(stagingsPage)
	expect(t, "the list", status, body, "", http.StatusOK, "", `<a href="/stagings/`+id+`">feature-a</a>`, ">Running<",
		`<a href="https://feature-a.example.test/" target="_blank" rel="noopener">web</a>`, "<code>app.tag=ab12cd</code>", "<code>app.password (sensitive)</code>")
	status, body = s.get("/stagings")
	expect(t, "every project's stagings", status, body, "", http.StatusOK, "", `<a href="/stagings/`+id+`">feature-a</a>`, `<a href="`+stagingsPage+`">shop</a>`)
	status, body = s.get("/stagings/" + id)
	expect(t, "the staging's page", status, body, "", http.StatusOK, "", "<h1>feature-a</h1>", `<span class="badge">sensitive: set</span>`,
		"<strong>set here</strong>", `action="/stagings/`+id+`/update"`, `action="/stagings/`+id+`/archive"`, `href="/tasks/`+d.Actions[0].TaskID+`"`)
	if strings.Contains(body, "s3cr3t-xyz") || strings.Contains(body, "data-busy") || strings.Contains(body, `/restore"`) {
		t.Errorf("the staging's page shows the secret, is busy, or offers a restore:\n%s", body)
	}

	// Refusals come back next to the form: config_check's own words, the
	// naming rule, a name taken, a line that is not KEY=VALUE; a secret
	// typed into a refused form is not written back into the page.
	for _, tt := range []struct {
		name, config string
		status       int
		want         []string
	}{
		{"feature-b", "app.tag=bad-1\napp.password=hunter2-secret", http.StatusBadRequest,
			[]string{`<pre class="script field-error" aria-label="What the config check said">tag bad-1 is not in the registry</pre>`, `value="feature-b"`, "type app.password again"}},
		{"Feature B", "app.tag=b1", http.StatusBadRequest, []string{`<span class="field-error">&#34;Feature B&#34; does not match the project&#39;s naming rule`}},
		{"feature-a", "app.tag=a2", http.StatusConflict, []string{"already has a staging called feature-a"}},
		{"feature-b", "app.tag b1", http.StatusBadRequest, []string{`<span class="field-error">line 1, &#34;app.tag b1&#34;, is not KEY=VALUE`}},
	} {
		status, body, loc := s.post("/stagings", url.Values{"project": {proj.ID}, "name": {tt.name}, "config": {tt.config}})
		expect(t, "create "+tt.name+" with "+tt.config, status, body, loc, tt.status, "", tt.want...)
		if strings.Contains(body, "hunter2-secret") {
			t.Errorf("the refused form shows the secret typed into it")
		}
	}
	var list []model.Staging
	if s.api("GET", "/stagings?projectId="+proj.ID, nil, &list, http.StatusOK); len(list) != 1 {
		t.Errorf("refused creates left stagings: %+v", list)
	}

	// An update through the form; while it runs, the page says so, links
	// the log and refreshes itself, and another action is refused (busy).
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	status, body, loc = s.post("/stagings/"+id+"/update", url.Values{"set": {"app.tag=ef34gh\r\napp.password=" + model.StagingMask}, "unset": {"deployment.cpu"}})
	expect(t, "update", status, body, loc, http.StatusSeeOther, "/stagings/"+id+"?done=Updating")
	d = s.staging(id, "busy", func(d wire.StagingDetail) bool { return d.TaskID != "" })
	status, body = s.get("/stagings/" + id)
	expect(t, "the busy staging's page", status, body, "", http.StatusOK, "", "data-busy", `<a href="/tasks/`+d.TaskID+`" class="button small">Watch the log</a>`, "Updating…")
	if strings.Contains(body, `action="/stagings/`+id+`/archive"`) {
		t.Error("a busy staging offers to archive")
	}
	status, body, loc = s.post("/stagings/"+id+"/archive", url.Values{})
	expect(t, "archive while busy", status, body, loc, http.StatusConflict, "", "is busy", "<h1>feature-a</h1>")
	os.Remove(hold)
	d = s.settled(id, model.StagingRunning)
	if _, removed := d.Overrides.Deployment["cpu"]; d.Effective.App["tag"] != "ef34gh" || d.Effective.Deployment["cpu"] != "" || !removed ||
		d.Effective.App["password"] != model.StagingMask || d.Actions[0].Action != model.StagingUpdate || !strings.Contains(d.Actions[0].Summary, "set app.tag") {
		t.Errorf("updated %+v", d)
	}
	if strings.Contains(d.Actions[0].Summary, "password") {
		t.Errorf("the mask sent back was taken as a new password: %q", d.Actions[0].Summary)
	}
	status, body, loc = s.post("/stagings/"+id+"/update", url.Values{"set": {"app.tag=bad-2"}})
	expect(t, "an update config_check refuses", status, body, loc, http.StatusBadRequest, "", "tag bad-2 is not in the registry</pre>", "\napp.tag=bad-2</textarea>")
	status, body, loc = s.post("/stagings/"+id+"/update", url.Values{"reset": {"deployment.cpu"}})
	expect(t, "reset a key", status, body, loc, http.StatusSeeOther, "/stagings/"+id)
	d = s.staging(id, "with its default cpu", func(d wire.StagingDetail) bool { return d.TaskID == "" && d.Effective.Deployment["cpu"] == "500m" })

	// Expiry: kept for a while, for ever, back to the template's.
	status, body, loc = s.post("/stagings/"+id+"/keep", url.Values{"keep": {"72h"}})
	expect(t, "keep 72h", status, body, loc, http.StatusSeeOther, "/stagings/"+id+"?done=Staging+feature-a+is+kept+until")
	if d = s.detail(id); d.KeepUntil == nil || time.Until(*d.KeepUntil) < 71*time.Hour || time.Until(*d.KeepUntil) > 73*time.Hour {
		t.Errorf("kept until %v", d.KeepUntil)
	}
	status, body, loc = s.post("/stagings/"+id+"/keep", url.Values{"keep": {"soon"}})
	expect(t, "keep until soon", status, body, loc, http.StatusBadRequest, "", `<span class="field-error">&#34;soon&#34; is not a time`, `value="soon"`)
	status, body, loc = s.post("/stagings/"+id+"/keep", url.Values{"keep": {"never"}})
	expect(t, "keep for ever", status, body, loc, http.StatusSeeOther, "/stagings/"+id+"?done=Staging+feature-a+never+expires")
	if d = s.detail(id); d.ExpiresAt != nil || d.KeepUntil == nil {
		t.Errorf("kept for ever, yet expires at %v (kept until %v)", d.ExpiresAt, d.KeepUntil)
	}
	status, body, loc = s.post("/stagings/"+id+"/keep", url.Values{"keep": {""}})
	expect(t, "expiry as the template says", status, body, loc, http.StatusSeeOther, "/stagings/"+id+"?done=Staging+feature-a+expires+as+the+template+says")
	if d = s.detail(id); d.KeepUntil != nil || d.ExpiresAt == nil {
		t.Errorf("back to the template's expiry: keep %v, expires %v", d.KeepUntil, d.ExpiresAt)
	}

	// Promoted: a release whose version is the tag.
	status, body, loc = s.post("/stagings/"+id+"/promote", url.Values{"version": {""}, "notes": {"from the portal"}})
	expect(t, "promote without a process", status, body, loc, http.StatusBadRequest, "", "has no enabled steps", "<h1>feature-a</h1>")
	var proc model.DeploymentProcess
	s.api("GET", "/projects/"+proj.ID+"/process", nil, &proc, http.StatusOK)
	proc.Steps = []model.Step{{Name: "Run", Script: &model.ScriptAction{Body: "echo ok"}}}
	s.api("PUT", "/projects/"+proj.ID+"/process", proc, nil, http.StatusOK)
	status, body = s.get("/stagings/" + id)
	expect(t, "the page before promoting", status, body, "", http.StatusOK, "", `action="/stagings/`+id+`/promote"`, "Empty: the project&#39;s next version.")
	status, body, loc = s.post("/stagings/"+id+"/promote", url.Values{"version": {""}, "notes": {"from the portal"}})
	expect(t, "promote", status, body, loc, http.StatusSeeOther, "/releases/")
	var rel model.Release
	// The tag, a commit hash, is no version: the release takes the next.
	if s.api("GET", strings.SplitN(loc, "?", 2)[0], nil, &rel, http.StatusOK); rel.Version != "0.0.1" || !strings.Contains(rel.Notes, "from the portal") ||
		!strings.Contains(rel.Notes, "app.tag=ef34gh") {
		t.Errorf("promoted to %+v", rel)
	}
	status, body, loc = s.post("/stagings/"+id+"/promote", url.Values{"version": {"1.4.0"}})
	expect(t, "promote as 1.4.0", status, body, loc, http.StatusSeeOther, "/releases/")
	if s.api("GET", strings.SplitN(loc, "?", 2)[0], nil, &rel, http.StatusOK); rel.Version != "1.4.0" {
		t.Errorf("promoted as 1.4.0 to %+v", rel)
	}

	// Archived: the page offers restore and cleanup instead; the list
	// leaves it out unless asked.
	status, body, loc = s.post("/stagings/"+id+"/archive", url.Values{})
	expect(t, "archive", status, body, loc, http.StatusSeeOther, "/stagings/"+id+"?done=Archiving")
	d = s.settled(id, model.StagingArchived)
	if d.CleanupAt == nil || d.Actions[0].Action != model.StagingArchive || d.Actions[0].By != "ops" {
		t.Errorf("archived %+v", d)
	}
	status, body = s.get("/stagings/" + id)
	expect(t, "the archived staging's page", status, body, "", http.StatusOK, "", `action="/stagings/`+id+`/restore"`, `action="/stagings/`+id+`/cleanup"`, ">Archived<")
	for _, banned := range []string{`/update"`, `/archive"`, `/promote"`, `/keep"`} {
		if strings.Contains(body, `action="/stagings/`+id+banned) {
			t.Errorf("the archived staging's page offers %s", banned)
		}
	}
	if _, body = s.get(stagingsPage); strings.Contains(body, "feature-a</a>") || !strings.Contains(body, "Show archived stagings (1)") {
		t.Errorf("the list shows an archived staging by default:\n%s", body)
	}
	if _, body = s.get(stagingsPage + "?archived=1"); !strings.Contains(body, "feature-a</a>") {
		t.Errorf("the list with archived ones:\n%s", body)
	}
	status, body, loc = s.post("/stagings/"+id+"/restore", url.Values{})
	expect(t, "restore", status, body, loc, http.StatusSeeOther, "/stagings/"+id+"?done=Restoring")
	s.settled(id, model.StagingRunning)
	s.post("/stagings/"+id+"/archive", url.Values{})
	s.settled(id, model.StagingArchived)

	// Cleanup asks to be confirmed; then the staging is gone.
	status, body, loc = s.post("/stagings/"+id+"/cleanup", url.Values{})
	expect(t, "cleanup unconfirmed", status, body, loc, http.StatusBadRequest, "", "nothing was cleaned up")
	s.settled(id, model.StagingArchived)
	status, body, loc = s.post("/stagings/"+id+"/cleanup", url.Values{"confirm": {"yes"}})
	expect(t, "cleanup", status, body, loc, http.StatusSeeOther, "/stagings/"+id+"?done=Cleaning+up")
	s.gone(id)
	status, body = s.get("/stagings/" + id)
	expect(t, "a cleaned-up staging's page", status, body, "", http.StatusNotFound, "", "it was cleaned up or deleted")

	// Delete forgets one without a script, once confirmed.
	status, body, loc = s.post("/stagings", url.Values{"project": {proj.ID}, "name": {"feature-c"}, "config": {"app.tag=c1"}})
	expect(t, "create feature-c", status, body, loc, http.StatusSeeOther, "/stagings/")
	c := s.settled(regexp.MustCompile(`^/stagings/([^?]+)`).FindStringSubmatch(loc)[1], model.StagingRunning)
	status, body, loc = s.post("/stagings/"+c.ID+"/delete", url.Values{})
	expect(t, "delete unconfirmed", status, body, loc, http.StatusBadRequest, "", "nothing was deleted")
	status, body, loc = s.post("/stagings/"+c.ID+"/delete", url.Values{"confirm": {"yes"}})
	expect(t, "delete", status, body, loc, http.StatusSeeOther, stagingsPage+"?done=Deleted+staging+feature-c")
	s.gone(c.ID)
}

package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// The portal's external feeds page adds, tests, searches, changes and
// removes a feed, and never shows its password.
func TestThePortalManagesExternalFeeds(t *testing.T) {
	const password = "folder-Pa55-word"
	files := staticFeed(t, "u", password, func(string) map[string]string {
		return map[string]string{"app.1.0.0.zip": "a", "app.1.1.0.zip": "b", "tool.2.0.0.tgz": "c"}
	})
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	page := func(path string) string {
		t.Helper()
		resp, raw := b.do("GET", path, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
		}
		if strings.Contains(string(raw), password) {
			t.Fatalf("GET %s shows the password", path)
		}
		return string(raw)
	}

	if resp, body := b.post("/feeds", url.Values{"name": {"Bad"}, "type": {"nuget"}, "url": {"https://nuget.example.com/"}}); resp.StatusCode != 400 ||
		!strings.Contains(body, "index.json") {
		t.Errorf("an invalid feed: %d", resp.StatusCode)
	}
	resp, _ := b.post("/feeds", url.Values{"name": {"Files"}, "type": {"http"}, "url": {files.URL}, "username": {"u"}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d", resp.StatusCode)
	}
	var list wire.Page[model.Feed]
	admin(t, hs, "GET", "/api/v1/feeds?name=Files", nil, &list)
	if len(list.Items) != 1 {
		t.Fatalf("the added feed: %+v", list)
	}
	f := list.Items[0]
	if body := page("/feeds"); !strings.Contains(body, "Files") || !strings.Contains(body, "password set") || !strings.Contains(body, "Built-in") {
		t.Errorf("the list does not show the feeds:\n%s", body)
	}
	resp, _ = b.post("/feeds/"+f.ID+"/test", url.Values{})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "answered") {
		t.Errorf("test: %d %s", resp.StatusCode, loc)
	}
	if body := page("/feeds?feed=" + f.ID + "&search=ap"); !strings.Contains(body, "packageId=app") || strings.Contains(body, "tool") {
		t.Errorf("search:\n%s", body)
	}
	if body := page("/feeds?feed=" + f.ID + "&packageId=app"); !strings.Contains(body, "<li>1.1.0</li><li>1.0.0</li>") {
		t.Errorf("versions:\n%s", body)
	}
	if body := page("/feeds?edit=" + f.ID); !strings.Contains(body, "leave empty to keep") || !strings.Contains(body, `value="`+files.URL+`"`) {
		t.Errorf("edit form:\n%s", body)
	}
	// Saved without a password: the stored one stays and still works.
	resp, _ = b.post("/feeds/"+f.ID, url.Values{"name": {"Folder"}, "type": {"http"}, "url": {files.URL}, "username": {"u"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	if resp, _ = b.post("/feeds/"+f.ID+"/test", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("test after a save without a password: %d", resp.StatusCode)
	}
	b.post("/feeds/"+f.ID, url.Values{"name": {"Folder"}, "type": {"http"}, "url": {files.URL}, "username": {"u"}, "password": {"wrong"}})
	if resp, body := b.post("/feeds/"+f.ID+"/test", url.Values{}); resp.StatusCode != http.StatusBadGateway ||
		!strings.Contains(body, "check the feed&#39;s username and password") {
		t.Errorf("test with a wrong password: %d", resp.StatusCode)
	}
	if resp, _ = b.post("/feeds/"+f.ID+"/delete", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("remove: %d", resp.StatusCode)
	}
	if st := admin(t, hs, "GET", "/api/v1/feeds/"+f.ID, nil, nil); st != 404 {
		t.Errorf("the removed feed: %d", st)
	}
}

// In the portal a package step is made from an external feed, downloaded
// by its targets; the release form lists that feed's versions, and the
// release takes the one chosen there.
func TestThePortalMakesStepsFromExternalFeeds(t *testing.T) {
	files := staticFeed(t, "u", "folder-Pa55-word", func(string) map[string]string {
		return map[string]string{"app.1.0.0.zip": "a", "app.1.1.0.zip": "b"}
	})
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	var f model.Feed
	admin(t, hs, "POST", "/api/v1/feeds", model.Feed{Name: "Files", Type: model.FeedHTTP, URL: files.URL, Username: "u", Password: "folder-Pa55-word"}, &f)
	var proj model.Project
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "web"}, &proj)
	page := func(path string) string {
		t.Helper()
		resp, raw := b.do("GET", path, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
		}
		return string(raw)
	}

	if body := page("/projects/" + proj.ID); !strings.Contains(body, `<option value="`+f.ID+`" >Files (http)</option>`) {
		t.Fatalf("the add-a-step form offers no external feed:\n%s", body)
	}
	resp, body := b.post("/projects/"+proj.ID+"/steps", url.Values{"kind": {"package"}, "name": {"Install"}, "package": {"app"},
		"feed": {f.ID}, "acquisition": {"target"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a package step: %d\n%s", resp.StatusCode, body)
	}
	var proc model.DeploymentProcess
	admin(t, hs, "GET", "/api/v1/projects/"+proj.ID+"/process", nil, &proc)
	if pa := proc.Steps[0].Package; pa == nil || pa.FeedID != f.ID || pa.Acquisition != model.AcquireOnTarget {
		t.Fatalf("the step: %+v", proc.Steps[0])
	}
	// The edit form shows them, and saving it without a change keeps them.
	if body := page("/projects/" + proj.ID + "/steps/" + proc.Steps[0].ID); !strings.Contains(body, `<option value="`+f.ID+`" selected>Files (http)</option>`) ||
		!strings.Contains(body, `<option value="target" selected>`) {
		t.Fatalf("the edit form:\n%s", body)
	}
	if body := page("/projects/" + proj.ID); !strings.Contains(body, "app (Install) version") || !strings.Contains(body, "<option>1.1.0</option><option>1.0.0</option>") {
		t.Fatalf("the release form lacks the feed's versions:\n%s", body)
	}
	if resp, body := b.post("/projects/"+proj.ID+"/releases", url.Values{"version": {"1.0.0"}, "package:Install": {"1.0.0"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create a release: %d\n%s", resp.StatusCode, body)
	}
	var rels wire.Page[model.Release]
	admin(t, hs, "GET", "/api/v1/releases?projectId="+proj.ID, nil, &rels)
	if len(rels.Items) != 1 || len(rels.Items[0].Packages) != 1 || rels.Items[0].Packages[0].Version != "1.0.0" || rels.Items[0].Packages[0].FeedID != f.ID {
		t.Fatalf("the release: %+v", rels.Items)
	}
}

// The step page shows the packages a script refers to and lets the step
// include script modules, or none.
func TestThePortalChoosesAStepsScriptModules(t *testing.T) {
	hs, _ := tlsServer(t)
	b := portalAdmin(t, hs)
	var proj model.Project
	admin(t, hs, "POST", "/api/v1/projects", model.Project{Name: "web"}, &proj)
	admin(t, hs, "POST", "/api/v1/script-modules", model.ScriptModule{Name: "common", Syntax: model.SyntaxBash, Body: "say() { echo \"$1\"; }"}, nil)
	var proc model.DeploymentProcess
	admin(t, hs, "GET", "/api/v1/projects/"+proj.ID+"/process", nil, &proc)
	proc.Steps = []model.Step{{Name: "Run", Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "say hi",
		Packages: []model.PackageReference{{Name: "tools", PackageID: "tools"}}}}}
	admin(t, hs, "PUT", "/api/v1/projects/"+proj.ID+"/process", proc, &proc)
	step := proc.Steps[0]
	resp, raw := b.do("GET", "/projects/"+proj.ID+"/steps/"+step.ID, "", nil)
	if body := string(raw); resp.StatusCode != 200 || !strings.Contains(body, "Octopus.Action.Package[tools]") || !strings.Contains(body, `name="module" value="common" >`) {
		t.Fatalf("the step page: %d\n%s", resp.StatusCode, body)
	}
	form := url.Values{"name": {"Run"}, "syntax": {"bash"}, "body": {"say hi"}, "modules-field": {"1"}, "module": {"common"}}
	for _, want := range [][]string{{"common"}, nil} {
		if resp, body := b.post("/projects/"+proj.ID+"/steps/"+step.ID+"/edit", form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save the step: %d\n%s", resp.StatusCode, body)
		}
		proc = model.DeploymentProcess{} // decoding into the last answer would keep its fields
		admin(t, hs, "GET", "/api/v1/projects/"+proj.ID+"/process", nil, &proc)
		if got := proc.Steps[0]; !slices.Equal(got.ScriptModules, want) || len(got.Script.Packages) != 1 {
			t.Fatalf("after the save: modules %q, packages %+v; want modules %q and the reference kept", got.ScriptModules, got.Script.Packages, want)
		}
		form.Del("module") // and none ticked next
	}
}

package server_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/testutil/archivetest"
	"github.com/pulpo-deploy/pulpo/internal/testutil/registrytest"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// TestExternalFeedsThroughTheAPI drives feeds over HTTP: a real registry
// on loopback, a static NuGet v3 feed and a Maven repository whose test
// servers check the credentials, and the built-in feed. No response ever
// carries a feed's password.
func TestExternalFeedsThroughTheAPI(t *testing.T) {
	reg := registrytest.Start(t)
	reg.Push(t, "team/web", "1.0.0", "1.2.0", "1.10.0", "latest")
	const nugetPassword, mavenPassword = "nuget-Pa55-word", "maven-Pa55-word"
	nuget := staticFeed(t, "ci", nugetPassword, func(url string) map[string]string {
		return map[string]string{
			"v3/index.json": fmt.Sprintf(`{"version": "3.0.0", "resources": [{"@id": "%[1]s/flat/", "@type": "PackageBaseAddress/3.0.0"},
				{"@id": "%[1]s/query", "@type": "SearchQueryService/3.5.0"}]}`, url),
			"flat/acme.web/index.json":                 `{"versions": ["1.0.0", "2.0.0"]}`,
			"flat/acme.web/2.0.0/acme.web.2.0.0.nupkg": "nupkg",
			"query": `{"data": [{"id": "Acme.Web"}]}`,
		}
	})
	maven := staticFeed(t, "deployer", mavenPassword, func(string) map[string]string {
		return map[string]string{
			"org/acme/api/maven-metadata.xml":  `<metadata><versioning><versions><version>3.1.0</version><version>3.0.0</version></versions></versioning></metadata>`,
			"org/acme/api/3.1.0/api-3.1.0.jar": "jar",
		}
	})

	ts := start(t, "")
	ctx := context.Background()
	c := ts.client
	secrets := []string{reg.Password, nugetPassword, mavenPassword, "wrong-Pa55"}
	// raw calls the API and checks no secret is in the answer.
	raw := func(method, path string, body any, out any) int {
		t.Helper()
		text := ""
		if body != nil {
			b, _ := json.Marshal(body)
			text = string(b)
		}
		status, _, got := ts.call(t, method, "/api/v1"+path, text, map[string]string{"Content-Type": "application/json"})
		for _, s := range secrets {
			if strings.Contains(string(got), s) {
				t.Fatalf("%s %s returned a password: %s", method, path, got)
			}
		}
		if out != nil {
			json.Unmarshal(got, out)
		}
		return status
	}

	var docker, nugetFeed, mavenFeed model.Feed
	if st := raw("POST", "/feeds", model.Feed{Name: "Registry", Type: model.FeedDocker, URL: reg.URL, Username: reg.Username, Password: reg.Password}, &docker); st != 201 || !docker.HasPassword {
		t.Fatalf("create the registry feed: %d %+v", st, docker)
	}
	if st := raw("POST", "/feeds", model.Feed{Name: "TeamCity", Type: model.FeedNuGet, URL: nuget.URL + "/v3/index.json", Username: "ci", Password: nugetPassword}, &nugetFeed); st != 201 {
		t.Fatalf("create the NuGet feed: %d", st)
	}
	if st := raw("POST", "/feeds", model.Feed{Name: "Nexus", Type: model.FeedMaven, URL: maven.URL, Username: "deployer", Password: mavenPassword}, &mavenFeed); st != 201 {
		t.Fatalf("create the Maven feed: %d", st)
	}
	var bad wire.ErrorBody
	if st := raw("POST", "/feeds", model.Feed{Name: "Bad", Type: model.FeedNuGet, URL: "https://nuget.example.com/", Password: "wrong-Pa55"}, &bad); st != 400 ||
		!strings.Contains(strings.Join(bad.Details, " "), "index.json") {
		t.Errorf("an invalid feed: %d %+v", st, bad)
	}

	var page wire.Page[model.Feed]
	raw("GET", "/feeds", nil, &page)
	var names []string
	for _, f := range page.Items {
		names = append(names, f.ID+" "+f.Name)
	}
	if want := []string{model.BuiltInFeedID + " Built-in", mavenFeed.ID + " Nexus", docker.ID + " Registry", nugetFeed.ID + " TeamCity"}; !slices.Equal(names, want) || page.Total != 4 {
		t.Errorf("list: %q (total %d), want %q", names, page.Total, want)
	}
	for _, f := range []model.Feed{docker, nugetFeed, mavenFeed} {
		var got model.Feed
		if raw("GET", "/feeds/"+f.ID, nil, &got); !got.HasPassword || got.Password != "" {
			t.Errorf("get %s: %+v", f.Name, got)
		}
		var res wire.FeedTest
		if st := raw("POST", "/feeds/"+f.ID+"/test", nil, &res); st != 200 || !res.OK {
			t.Errorf("test %s: %d %+v", f.Name, st, res)
		}
	}

	// Registry: tags newest first, the catalog, an image reference.
	vs, err := c.FeedVersions(ctx, docker.ID, "team/web", 0)
	if err != nil || !slices.Equal(vs.Versions, []string{"1.10.0", "1.2.0", "1.0.0", "latest"}) {
		t.Errorf("registry versions: %+v %v", vs, err)
	}
	found, err := c.SearchFeed(ctx, "Registry", "web", 10)
	if err != nil || !slices.Equal(found.Packages, []string{"team/web"}) {
		t.Errorf("registry search: %+v %v", found, err)
	}
	loc, err := c.LocateFeedPackage(ctx, docker.ID, "team/web", "1.2.0")
	if err != nil || loc.Image != reg.Host+"/team/web:1.2.0" {
		t.Errorf("registry locate: %+v %v", loc, err)
	}
	// NuGet and Maven.
	if vs, err := c.FeedVersions(ctx, nugetFeed.ID, "Acme.Web", 1); err != nil || !slices.Equal(vs.Versions, []string{"2.0.0"}) || vs.Total != 2 {
		t.Errorf("nuget versions: %+v %v", vs, err)
	}
	if loc, err := c.LocateFeedPackage(ctx, nugetFeed.ID, "Acme.Web", "2.0.0"); err != nil || loc.URL != nuget.URL+"/flat/acme.web/2.0.0/acme.web.2.0.0.nupkg" {
		t.Errorf("nuget locate: %+v %v", loc, err)
	}
	if vs, err := c.FeedVersions(ctx, mavenFeed.ID, "org.acme:api", 0); err != nil || !slices.Equal(vs.Versions, []string{"3.1.0", "3.0.0"}) {
		t.Errorf("maven versions: %+v %v", vs, err)
	}
	var missing wire.ErrorBody
	if st := raw("GET", "/feeds/"+mavenFeed.ID+"/versions?packageId=org.acme:nothing", nil, &missing); st != 404 || !strings.Contains(missing.Error, "not in the repository") {
		t.Errorf("a missing Maven package: %d %+v", st, missing)
	}

	// An update without a password keeps it; a wrong one makes the test
	// fail with a message saying what to fix, and no password.
	docker.Password = ""
	docker.Name = "Local registry"
	if st := raw("PUT", "/feeds/"+docker.ID, docker, &docker); st != 200 || !docker.HasPassword || docker.Name != "Local registry" {
		t.Fatalf("update without a password: %d %+v", st, docker)
	}
	if _, err := c.TestFeed(ctx, docker.ID); err != nil {
		t.Errorf("the kept password no longer works: %v", err)
	}
	docker.Password = "wrong-Pa55"
	if st := raw("PUT", "/feeds/"+docker.ID, docker, nil); st != 200 {
		t.Fatalf("update with a password: %d", st)
	}
	var failed wire.ErrorBody
	if st := raw("POST", "/feeds/"+docker.ID+"/test", nil, &failed); st != http.StatusBadGateway ||
		!strings.Contains(failed.Error, "feed Local registry: 401 Unauthorized: check the feed's username and password") {
		t.Errorf("test with a wrong password: %d %+v", st, failed)
	}
	if st := raw("GET", "/feeds/"+docker.ID+"/versions?packageId=team/web", nil, &failed); st != http.StatusBadGateway {
		t.Errorf("versions with a wrong password: %d %+v", st, failed)
	}

	// The built-in feed: listed, read-only, answering from the store.
	pkg := archivetest.TarGz(t, tar.Header{Name: "index.html", Size: 3})
	for _, v := range []string{"1.0.0", "1.3.0"} {
		if _, err := c.PushPackage(ctx, "shop."+v+".tar.gz", bytes.NewReader(pkg), int64(len(pkg)), client.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if vs, err := c.FeedVersions(ctx, model.BuiltInFeedID, "shop", 0); err != nil || !slices.Equal(vs.Versions, []string{"1.3.0", "1.0.0"}) {
		t.Errorf("built-in versions: %+v %v", vs, err)
	}
	if found, err := c.SearchFeed(ctx, model.BuiltInFeedID, "sh", 0); err != nil || !slices.Equal(found.Packages, []string{"shop"}) {
		t.Errorf("built-in search: %+v %v", found, err)
	}
	builtin := model.BuiltInFeed()
	builtin.Type, builtin.URL = model.FeedHTTP, "https://example.com/"
	if st := raw("PUT", "/feeds/"+model.BuiltInFeedID, builtin, nil); st != http.StatusConflict {
		t.Errorf("change the built-in feed: %d", st)
	}
	if st := raw("DELETE", "/feeds/"+model.BuiltInFeedID, nil, nil); st != http.StatusConflict {
		t.Errorf("delete the built-in feed: %d", st)
	}

	// The audit log records the changes, without the passwords.
	var audit wire.Page[model.AuditEvent]
	raw("GET", "/audit?objectId="+docker.ID, nil, &audit)
	if len(audit.Items) < 3 {
		t.Errorf("audit of the registry feed: %+v", audit.Items)
	}
	if st := raw("DELETE", "/feeds/"+nugetFeed.ID, nil, nil); st != http.StatusNoContent {
		t.Errorf("delete: %d", st)
	}
	if st := raw("GET", "/feeds/"+nugetFeed.ID, nil, nil); st != 404 {
		t.Errorf("a deleted feed: %d", st)
	}
}

// staticFeed serves files written into a temporary folder, checking
// basic-auth credentials; files gets the server's URL.
func staticFeed(t *testing.T, user, pass string, files func(url string) map[string]string) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	for name, body := range files(srv.URL) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// A release takes its image tag from a real registry through the server's
// own resolver, and a script step receives the image reference.
func TestAReleasePicksATagFromARealRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	reg.Push(t, "team/web", "1.0.0", "1.2.0", "latest")
	ts := start(t, "")
	ctx := context.Background()
	c := ts.client
	f, err := c.CreateFeed(ctx, model.Feed{Name: "Registry", Type: model.FeedDocker, URL: reg.URL, Username: reg.Username, Password: reg.Password})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.CreateProject(ctx, model.Project{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Roll out",
		Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: `echo "image=#{Octopus.Action.Package[web].Image}"`,
			Packages: []model.PackageReference{{Name: "web", PackageID: "team/web", FeedID: f.ID, Acquisition: model.AcquireNone}}}}}}); err != nil {
		t.Fatal(err)
	}
	rel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rel.Packages) != 1 || rel.Packages[0].Version != "1.2.0" || rel.Packages[0].FeedID != f.ID {
		t.Fatalf("the release's packages: %+v", rel.Packages)
	}
	d, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	if end := follow(t, ts, d.TaskID); end.State != model.TaskSuccess {
		t.Fatalf("deployment: %+v", end)
	}
	log, _ := c.TaskLog(ctx, d.TaskID, 0)
	want := "image=" + reg.Host + "/team/web:1.2.0"
	found := false
	for _, l := range log.Lines {
		found = found || l.Text == want
		if strings.Contains(l.Text, reg.Password) {
			t.Fatalf("the registry's password is in the log: %q", l.Text)
		}
	}
	if !found {
		t.Fatalf("the log lacks %q: %+v", want, log.Lines)
	}
	// The feed is in use now: it cannot be removed from under the project.
	if err := c.DeleteFeed(ctx, f.ID); err == nil || !strings.Contains(err.Error(), "project web") {
		t.Errorf("delete a feed in use: %v", err)
	}
}

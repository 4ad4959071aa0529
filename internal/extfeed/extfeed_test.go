package extfeed_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/extfeed"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/testutil/registrytest"
)

func open(t *testing.T, f model.Feed, password string) extfeed.Client {
	t.Helper()
	if f.Name == "" {
		f.Name = "Test"
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("feed %+v: %v", f, err)
	}
	c, err := extfeed.Open(f, password, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func wantError(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %q does not say %q", what, err, p)
		}
	}
}

// fileServer serves dir, after checking basic-auth credentials, as a
// static feed does.
func fileServer(t *testing.T, dir, user, pass string) *httptest.Server {
	t.Helper()
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="feed"`)
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// download fetches a located file as the server would.
func download(t *testing.T, loc extfeed.Location) string {
	t.Helper()
	req, _ := http.NewRequest("GET", loc.URL, nil)
	for k, v := range loc.Header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("download %s: %d %s", loc.URL, resp.StatusCode, b)
	}
	return string(b)
}

func TestDockerRegistry(t *testing.T) {
	reg := registrytest.Start(t)
	reg.Push(t, "team/web", "1.0.0", "1.2.0", "1.10.0", "2.0.0-beta.1", "latest", "v0.9.0")
	reg.Push(t, "team/api", "0.1.0")
	ctx := context.Background()
	c := open(t, model.Feed{Type: model.FeedDocker, URL: reg.URL, Username: reg.Username}, reg.Password)

	if err := c.Test(ctx); err != nil {
		t.Fatalf("test: %v", err)
	}
	vs, err := c.Versions(ctx, "team/web")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "tags", vs, []string{"2.0.0-beta.1", "1.10.0", "1.2.0", "1.0.0", "v0.9.0", "latest"})
	all, err := c.Search(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "catalog", all, []string{"team/api", "team/web"})
	some, _ := c.Search(ctx, "WEB", 10)
	equal(t, "search", some, []string{"team/web"})
	loc, err := c.Locate(ctx, "team/web", "1.2.0")
	if err != nil || loc.Image != reg.Host+"/team/web:1.2.0" || loc.URL != "" {
		t.Fatalf("locate: %+v %v", loc, err)
	}
	_, err = c.Versions(ctx, "team/nothing")
	var fe *extfeed.Error
	if !errors.As(err, &fe) || !fe.NotFound {
		t.Errorf("a missing repository: %v", err)
	}

	wrong := open(t, model.Feed{Name: "Registry", Type: model.FeedDocker, URL: reg.URL, Username: reg.Username}, "wrong")
	wantError(t, "wrong password", wrong.Test(ctx), "feed Registry", "401 Unauthorized", "check the feed's username and password")
	_, err = wrong.Versions(ctx, "team/web")
	wantError(t, "wrong password, tags", err, "401 Unauthorized", "check the feed's username and password")
	anonymous := open(t, model.Feed{Type: model.FeedDocker, URL: reg.URL}, "")
	wantError(t, "no credentials", anonymous.Test(ctx), "asks for credentials")
}

func TestDockerHubReferences(t *testing.T) {
	c := open(t, model.Feed{Type: model.FeedDocker, URL: "https://index.docker.io"}, "")
	for id, want := range map[string]string{"nginx": "nginx:1.25", "library/nginx": "nginx:1.25", "bitnami/redis": "bitnami/redis:1.25"} {
		loc, err := c.Locate(context.Background(), id, "1.25")
		if err != nil || loc.Image != want {
			t.Errorf("%s: %+v %v, want %s", id, loc, err, want)
		}
	}
	_, err := c.Search(context.Background(), "nginx", 5)
	wantError(t, "search Docker Hub", err, "does not list its repositories")
}

func TestNuGetV3(t *testing.T) {
	dir := t.TempDir()
	srv := fileServer(t, dir, "ci", "nuget-pw")
	write(t, dir, map[string]string{
		"v3/index.json": fmt.Sprintf(`{"version": "3.0.0", "resources": [
			{"@id": "%[1]s/flat/", "@type": "PackageBaseAddress/3.0.0"},
			{"@id": "%[1]s/query", "@type": "SearchQueryService"},
			{"@id": "%[1]s/query", "@type": "SearchQueryService/3.5.0"}]}`, srv.URL),
		"flat/my.app/index.json":                 `{"versions": ["1.0.0", "1.10.0", "1.2.0-beta.1", "1.2.0"]}`,
		"flat/my.app/1.10.0/my.app.1.10.0.nupkg": "nupkg bytes",
		"query":                                  `{"totalHits": 2, "data": [{"id": "My.App", "version": "1.10.0"}, {"id": "My.Lib", "version": "2.0.0"}]}`,
	})
	ctx := context.Background()
	f := model.Feed{Type: model.FeedNuGet, URL: srv.URL + "/v3/index.json", Username: "ci"}
	c := open(t, f, "nuget-pw")
	if err := c.Test(ctx); err != nil {
		t.Fatal(err)
	}
	vs, err := c.Versions(ctx, "My.App")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "versions", vs, []string{"1.10.0", "1.2.0", "1.2.0-beta.1", "1.0.0"})
	ids, err := c.Search(ctx, "my", 10)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "search", ids, []string{"My.App", "My.Lib"})
	loc, err := c.Locate(ctx, "My.App", "1.10.0")
	if err != nil || loc.Extension != ".nupkg" || loc.URL != srv.URL+"/flat/my.app/1.10.0/my.app.1.10.0.nupkg" {
		t.Fatalf("locate: %+v %v", loc, err)
	}
	if got := download(t, loc); got != "nupkg bytes" {
		t.Errorf("downloaded %q", got)
	}
	if _, err := c.Locate(ctx, "My.App", "9.9.9"); err == nil {
		t.Error("a missing version was located")
	}
	_, err = c.Versions(ctx, "Nothing.Here")
	wantError(t, "missing package", err, "package Nothing.Here is not in the feed")

	f.Name = "TeamCity"
	wantError(t, "wrong password", open(t, f, "nope").Test(ctx), "feed TeamCity: 401 Unauthorized: check the feed's username and password")
	f.URL = srv.URL + "/flat/my.app/index.json"
	wantError(t, "not a service index", open(t, f, "nuget-pw").Test(ctx), "not a NuGet v3 service index")
}

func TestMaven(t *testing.T) {
	dir := t.TempDir()
	srv := fileServer(t, dir, "deployer", "maven-pw")
	write(t, dir, map[string]string{
		"com/example/web/maven-metadata.xml": `<?xml version="1.0" encoding="UTF-8"?>
<metadata><groupId>com.example</groupId><artifactId>web</artifactId>
<versioning><latest>1.10.0</latest><release>1.10.0</release>
<versions><version>1.0.0</version><version>1.2.0</version><version>1.10.0</version><version>2.0.0-SNAPSHOT</version></versions>
</versioning></metadata>`,
		"com/example/web/1.10.0/web-1.10.0.war":                             "a war",
		"com/example/web/1.2.0/web-1.2.0.jar":                               "a jar",
		"com/example/web/1.2.0/web-1.2.0.zip":                               "a zip",
		"com/example/web/2.0.0-SNAPSHOT/maven-metadata.xml":                 `<metadata><versioning><snapshot><timestamp>20261201.101010</timestamp><buildNumber>3</buildNumber></snapshot></versioning></metadata>`,
		"com/example/web/2.0.0-SNAPSHOT/web-2.0.0-20261201.101010-3.tar.gz": "a snapshot",
	})
	ctx := context.Background()
	f := model.Feed{Name: "Nexus", Type: model.FeedMaven, URL: srv.URL + "/", Username: "deployer"}
	c := open(t, f, "maven-pw")
	if err := c.Test(ctx); err != nil {
		t.Fatal(err)
	}
	vs, err := c.Versions(ctx, "com.example:web")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "versions", vs, []string{"2.0.0-SNAPSHOT", "1.10.0", "1.2.0", "1.0.0"})
	for _, row := range []struct{ id, version, file, ext string }{
		{"com.example:web", "1.10.0", "1.10.0/web-1.10.0.war", ".war"},
		{"com.example:web", "1.2.0", "1.2.0/web-1.2.0.jar", ".jar"},
		{"com.example:web:zip", "1.2.0", "1.2.0/web-1.2.0.zip", ".zip"},
		{"com.example:web", "2.0.0-SNAPSHOT", "2.0.0-SNAPSHOT/web-2.0.0-20261201.101010-3.tar.gz", ".tar.gz"},
	} {
		loc, err := c.Locate(ctx, row.id, row.version)
		if err != nil || loc.URL != srv.URL+"/com/example/web/"+row.file || loc.Extension != row.ext {
			t.Errorf("%s %s: %+v %v", row.id, row.version, loc, err)
			continue
		}
		download(t, loc)
	}
	_, err = c.Locate(ctx, "com.example:web:ear", "1.2.0")
	wantError(t, "a packaging that is not there", err, "has no ear file")
	ids, err := c.Search(ctx, "com.example:web", 10)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "exact search", ids, []string{"com.example:web"})
	_, err = c.Search(ctx, "web", 10)
	wantError(t, "search by a word", err, "cannot be searched", "groupId:artifactId")
	_, err = c.Versions(ctx, "web")
	wantError(t, "an id without a group", err, "groupId:artifactId")
	wantError(t, "wrong password", open(t, f, "nope").Test(ctx), "feed Nexus: 401 Unauthorized: check the feed's username and password")
}

func TestHelm(t *testing.T) {
	dir := t.TempDir()
	srv := fileServer(t, dir, "helm", "helm-pw")
	write(t, dir, map[string]string{
		"charts/index.yaml": `apiVersion: v1
entries:
  web:
  - name: web
    version: 0.2.0
    urls: ["https://charts.example.com/web-0.2.0.tgz"]
  - name: web
    version: 0.10.0
    urls: ["web-0.10.0.tgz"]
  - name: web
    version: 0.1.0
    urls: ["files/web-0.1.0.tgz"]
  worker:
  - name: worker
    version: 1.0.0
    urls: ["worker-1.0.0.tgz"]
`,
		"charts/web-0.10.0.tgz": "chart",
	})
	ctx := context.Background()
	c := open(t, model.Feed{Type: model.FeedHelm, URL: srv.URL + "/charts", Username: "helm"}, "helm-pw")
	if err := c.Test(ctx); err != nil {
		t.Fatal(err)
	}
	vs, _ := c.Versions(ctx, "web")
	equal(t, "versions", vs, []string{"0.10.0", "0.2.0", "0.1.0"})
	ids, _ := c.Search(ctx, "", 10)
	equal(t, "search", ids, []string{"web", "worker"})
	loc, err := c.Locate(ctx, "web", "0.10.0")
	if err != nil || loc.URL != srv.URL+"/charts/web-0.10.0.tgz" || loc.Extension != ".tgz" || loc.Header.Get("Authorization") == "" {
		t.Fatalf("relative: %+v %v", loc, err)
	}
	download(t, loc)
	loc, _ = c.Locate(ctx, "web", "0.1.0")
	if loc.URL != srv.URL+"/charts/files/web-0.1.0.tgz" {
		t.Errorf("relative in a folder: %+v", loc)
	}
	// The credentials stay with the repository's own host.
	loc, _ = c.Locate(ctx, "web", "0.2.0")
	if loc.URL != "https://charts.example.com/web-0.2.0.tgz" || loc.Header.Get("Authorization") != "" {
		t.Errorf("absolute: %+v", loc)
	}
	_, err = c.Versions(ctx, "nothing")
	wantError(t, "missing chart", err, "chart nothing is not in the repository")
}

func TestHTTPFolder(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"pkgs/app.1.0.0.tar.gz":  "one",
		"pkgs/app.1.10.0.zip":    "ten",
		"pkgs/app.1.2.0.tgz":     "two",
		"pkgs/My.Lib.2.0.0.zip":  "lib",
		"pkgs/readme.txt":        "not a package",
		"pkgs/old/app.0.1.0.zip": "in a sub-folder",
		// An Apache autoindex page, with its sort links and parent link.
		"apache/index.html": `<html><body><h1>Index of /apache</h1><table>
<tr><th><a href="?C=N;O=D">Name</a></th></tr>
<tr><td><a href="/">Parent Directory</a></td></tr>
<tr><td><a href="tool.3.1.0.tar.gz">tool.3.1.0.tar.gz</a></td></tr>
<tr><td><a href="tool.3.0.0%2Bbuild.5.zip">tool.3.0.0+build.5.zip</a></td></tr>
<tr><td><a href="https://elsewhere.example.com/tool.9.0.0.zip">elsewhere</a></td></tr>
</table></body></html>`,
		"apache/tool.3.1.0.tar.gz": "tool",
	})
	srv := fileServer(t, dir, "u", "p")
	ctx := context.Background()

	c := open(t, model.Feed{Type: model.FeedHTTP, URL: srv.URL + "/pkgs", Username: "u"}, "p")
	if err := c.Test(ctx); err != nil {
		t.Fatal(err)
	}
	ids, _ := c.Search(ctx, "", 10)
	equal(t, "ids", ids, []string{"My.Lib", "app"})
	vs, _ := c.Versions(ctx, "app")
	equal(t, "versions", vs, []string{"1.10.0", "1.2.0", "1.0.0"})
	loc, err := c.Locate(ctx, "app", "1.2.0")
	if err != nil || loc.URL != srv.URL+"/pkgs/app.1.2.0.tgz" || loc.Extension != ".tgz" {
		t.Fatalf("locate: %+v %v", loc, err)
	}
	if got := download(t, loc); got != "two" {
		t.Errorf("downloaded %q", got)
	}

	a := open(t, model.Feed{Type: model.FeedHTTP, URL: srv.URL + "/apache/", Username: "u"}, "p")
	vs, err = a.Versions(ctx, "tool")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "apache versions", vs, []string{"3.1.0", "3.0.0+build.5"})
	wantError(t, "wrong password", open(t, model.Feed{Name: "Files", Type: model.FeedHTTP, URL: srv.URL + "/pkgs", Username: "u"}, "x").Test(ctx),
		"feed Files: 401 Unauthorized")
}

// GitHub itself cannot be reached from the test machines: this server
// imitates the API paths the feed uses.
func TestGitHub(t *testing.T) {
	const token = "ghp_test_token"
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /api/v3/rate_limit", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"resources": {}}`) })
	mux.HandleFunc("GET /api/v3/search/repositories", func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("q"); q != "tool in:name user:acme" {
			http.Error(w, "unexpected query "+q, http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"items": [{"full_name": "acme/tool"}, {"full_name": "acme/toolkit"}]}`)
	})
	mux.HandleFunc("GET /api/v3/repos/acme/tool/tags", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"name": "v1.0.0"}, {"name": "v1.2.0"}, {"name": "2.0.0"}, {"name": "nightly"}]`)
	})
	mux.HandleFunc("GET /api/v3/repos/acme/tool/zipball/v1.2.0", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "zip of v1.2.0") })
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"message": "Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	f := model.Feed{Name: "GHE", Type: model.FeedGitHub, URL: srv.URL + "/api/v3"}
	c := open(t, f, token)
	if err := c.Test(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := c.Search(ctx, "acme/tool", 10)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "search", ids, []string{"acme/tool", "acme/toolkit"})
	vs, err := c.Versions(ctx, "acme/tool")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "versions", vs, []string{"2.0.0", "1.2.0", "1.0.0"})
	loc, err := c.Locate(ctx, "acme/tool", "1.2.0")
	if err != nil || loc.URL != srv.URL+"/api/v3/repos/acme/tool/zipball/v1.2.0" || loc.Extension != ".zip" {
		t.Fatalf("locate: %+v %v", loc, err)
	}
	if got := download(t, loc); got != "zip of v1.2.0" {
		t.Errorf("downloaded %q", got)
	}
	_, err = c.Versions(ctx, "acme/missing")
	wantError(t, "missing repository", err, "repository acme/missing is not there")
	_, err = c.Versions(ctx, "not-a-repo")
	wantError(t, "bad id", err, "owner/repo")
	wantError(t, "wrong token", open(t, f, "bad").Test(ctx), "feed GHE: 401 Unauthorized: check the feed's username and password")
}

// A feed that answers without end is cut off, not read into memory.
func TestHostileFeedIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version": "3.0.0", "resources": [`))
		chunk := []byte(strings.Repeat(`{"@id": "x", "@type": "y"},`, 1000))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	c := open(t, model.Feed{Name: "Endless", Type: model.FeedNuGet, URL: srv.URL + "/v3/index.json"}, "")
	wantError(t, "endless index", c.Test(context.Background()), "feed Endless", "larger than")

	// A registry whose tag list never ends.
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name": "x/y", "tags": [`))
		chunk := []byte(strings.Repeat(`"1.0.0",`, 10000))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(reg.Close)
	_, err := open(t, model.Feed{Name: "Endless registry", Type: model.FeedDocker, URL: reg.URL}, "").Versions(context.Background(), "x/y")
	wantError(t, "endless tag list", err, "feed Endless registry", "larger than")
}

func TestSortVersions(t *testing.T) {
	equal(t, "mixed", extfeed.SortVersions([]string{"latest", "1.0.0", "v2.1.0", "1.10.0-rc.1", "1.10.0", "main", "1.9"}),
		[]string{"v2.1.0", "1.10.0", "1.10.0-rc.1", "1.9", "1.0.0", "latest", "main"})
}

func TestResolver(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"app.1.0.0.zip": "x"})
	srv := fileServer(t, dir, "u", "sealed-pw")
	r := extfeed.NewResolver(func(ctx context.Context, id string) (model.Feed, string, error) {
		if id != "Feeds-1" {
			return model.Feed{}, "", fmt.Errorf("feed %s not found", id)
		}
		return model.Feed{ID: id, Name: "Files", Type: model.FeedHTTP, URL: srv.URL, Username: "u", HasPassword: true}, "sealed-pw", nil
	}, nil)
	c, f, err := r.Client(context.Background(), "Feeds-1")
	if err != nil || f.Name != "Files" {
		t.Fatal(f, err)
	}
	vs, err := c.Versions(context.Background(), "app")
	equal(t, "versions", vs, []string{"1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Client(context.Background(), "Feeds-2"); err == nil {
		t.Error("a missing feed resolved")
	}
	if _, f, err := r.Client(context.Background(), ""); err == nil || f.ID != model.BuiltInFeedID {
		t.Errorf("the built-in feed without a client: %+v %v", f, err)
	}
}

package web_test

import (
	"bytes"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/archive"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// The import and export page, sent as a browser without JavaScript sends
// it, between two whole servers: an archive downloaded from one is dry-run
// and then imported into the other, and what arrived is read back through
// the API.

const archivePassword = "correct horse battery"

// postRaw sends a body of the given type and returns the status, the
// headers and the body.
func (s *portalSite) postRaw(path, contentType string, body []byte) (int, http.Header, []byte) {
	s.t.Helper()
	resp, err := s.http.Post(s.url+path, contentType, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// postMultipart sends the import form: fields, and the archive as a file
// when file is not nil.
func (s *portalSite) postMultipart(path string, fields url.Values, file []byte) (int, string) {
	s.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if s.csrf != "" {
		fields.Set("csrf_token", s.csrf)
	}
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("archive", "shop"+archive.Extension)
		fw.Write(file)
	}
	mw.Close()
	status, _, body := s.postRaw(path, mw.FormDataContentType(), b.Bytes())
	return status, string(body)
}

// project finds a project by name through the API, or nil.
func (s *portalSite) project(name string) *model.Project {
	s.t.Helper()
	var page wire.Page[model.Project]
	s.api("GET", "/projects?name="+url.QueryEscape(name), nil, &page, http.StatusOK)
	if len(page.Items) == 0 {
		return nil
	}
	return &page.Items[0]
}

// heldFields reads the hidden fields the import form carries to its next
// step (the archive held in the page, its name, the step, the choice).
func heldFields(t *testing.T, page string) url.Values {
	t.Helper()
	out := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="(held|name|step|update)" value="([^"]*)">`).FindAllStringSubmatch(page, -1) {
		out.Set(m[1], html.UnescapeString(m[2]))
	}
	if out.Get("held") == "" {
		t.Fatalf("the page holds no archive for the next step:\n%s", page)
	}
	return out
}

func TestArchivePageExportsAndImports(t *testing.T) {
	src := startPortal(t)
	doc := confdoc.Document{
		Environments: []confdoc.Environment{{Name: "Dev"}},
		Projects: []confdoc.Project{
			{Name: "shop", Steps: []confdoc.Step{{Name: "Hello", Script: &confdoc.ScriptAction{Syntax: model.SyntaxBash, Body: "echo #{Greeting}"}}},
				Variables: []confdoc.Variable{{Name: "Greeting", Value: "hello", Environments: []string{"Dev"}}, {Name: "Token", Value: "s3cret-token", Sensitive: true}}},
			{Name: "misc", Steps: []confdoc.Step{{Name: "Noop", Script: &confdoc.ScriptAction{Syntax: model.SyntaxBash, Body: "true"}}}},
		}}
	src.api("POST", "/apply", doc, nil, http.StatusOK)

	status, page := src.get("/archives")
	expect(t, "the page", status, page, "", http.StatusOK, "", `name="project" value="shop"`, `name="project" value="misc"`, `Import/export`)

	// Export: the passwords must match, and be long enough (the API says).
	exportForm := func(pw, pw2 string, projects ...string) url.Values {
		return url.Values{"project": projects, "password": {pw}, "password2": {pw2}}
	}
	status, page, _ = src.post("/archives/export", exportForm(archivePassword, archivePassword+"x", "shop"))
	expect(t, "passwords that differ", status, page, "", http.StatusBadRequest, "", "the two passwords differ", `value="shop" checked`)
	status, page, _ = src.post("/archives/export", exportForm("short", "short", "shop"))
	expect(t, "a short password", status, page, "", http.StatusBadRequest, "", "at least 12 characters")
	status, page, _ = src.post("/archives/export", exportForm(archivePassword, archivePassword))
	expect(t, "nothing chosen", status, page, "", http.StatusBadRequest, "", "name at least one project, or ask for all")

	form := exportForm(archivePassword, archivePassword, "shop")
	form.Set("csrf_token", src.csrf)
	status, hdr, file := src.postRaw("/archives/export", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if status != http.StatusOK || hdr.Get("Content-Type") != "application/octet-stream" ||
		!regexp.MustCompile(`^attachment; filename="pulpo-shop-\d{8}-\d{6}\`+archive.Extension+`"$`).MatchString(hdr.Get("Content-Disposition")) {
		t.Fatalf("export: %d %v\n%.500s", status, hdr, file)
	}
	contents, err := archive.Open(file, archivePassword)
	if err != nil {
		t.Fatalf("the downloaded archive does not open: %v", err)
	}
	if len(contents.Document.Projects) != 1 || contents.Document.Projects[0].Name != "shop" {
		t.Fatalf("the archive holds %+v", contents.Document.Projects)
	}
	if u, _ := url.Parse(src.url); contents.Manifest.Server != u.Host {
		t.Errorf("the archive says it was made on %q, want %q", contents.Manifest.Server, u.Host)
	}
	if bytes.Contains(file, []byte("s3cret-token")) {
		t.Fatal("the archive holds a sensitive value in the clear")
	}

	// Import into another server: a wrong password is shown in the page,
	// imports nothing, and keeps the archive for the next try.
	dst := startPortal(t)
	status, page = dst.postMultipart("/archives/import", url.Values{"step": {"dry"}, "password": {"not the password"}}, file)
	expect(t, "a wrong password", status, page, "", http.StatusBadRequest, "", archive.ErrPassword.Error(), `id="import-error"`)
	if strings.Contains(page, "not the password") {
		t.Error("the page shows the password typed")
	}
	held := heldFields(t, page)
	if held.Get("step") != "dry" || held.Get("name") != "shop"+archive.Extension {
		t.Errorf("after a wrong password the form goes on with %v", held)
	}
	if shop := dst.project("shop"); shop != nil {
		t.Fatalf("a refused import created the project: %+v", shop)
	}

	// The dry run, from the archive held in the page, shows the changes
	// and changes nothing.
	held.Set("password", archivePassword)
	status, page = dst.postMultipart("/archives/import", held, nil)
	expect(t, "the dry run", status, page, "", http.StatusOK, "", `id="import-changes"`, "A dry run (nothing changed yet)",
		"<td>project</td><td>shop</td><td><span class=\"badge change-created\">created</span>", "<td>environment</td><td>Dev</td>", ">Import</button>")
	if shop := dst.project("shop"); shop != nil {
		t.Fatalf("the dry run created the project: %+v", shop)
	}
	if strings.Contains(page, archivePassword) {
		t.Error("the dry run's page holds the password")
	}
	next := heldFields(t, page)
	if next.Get("step") != "import" || next.Get("update") != "false" || next.Get("held") != held.Get("held") {
		t.Errorf("the dry run's form goes on with step %q update %q, the same archive: %v", next.Get("step"), next.Get("update"), next.Get("held") == held.Get("held"))
	}

	// The import, with the same archive and the password typed again.
	next.Set("password", archivePassword)
	status, page = dst.postMultipart("/archives/import", next, nil)
	expect(t, "the import", status, page, "", http.StatusOK, "", "Imported the archive: 2 objects created or updated", `id="import-changes"`)
	if strings.Contains(page, `name="held"`) {
		t.Error("the page after the import still holds the archive")
	}
	shop := dst.project("shop")
	if shop == nil {
		t.Fatal("the import did not create the project")
	}
	var vs model.VariableSet
	dst.api("GET", "/projects/"+shop.ID+"/variables", nil, &vs, http.StatusOK)
	if len(vs.Variables) != 2 || !vs.Variables[1].Sensitive {
		t.Errorf("the imported variables: %+v", vs.Variables)
	}

	// Again, from the file: the project is now skipped, or with "update
	// existing" unchanged.
	status, page = dst.postMultipart("/archives/import", url.Values{"step": {"dry"}, "password": {archivePassword}}, file)
	expect(t, "a second dry run", status, page, "", http.StatusOK, "", "<td>project</td><td>shop</td><td><span class=\"badge change-skipped\">skipped</span>",
		`name="update" value="false"`)
	status, page = dst.postMultipart("/archives/import", url.Values{"step": {"dry"}, "password": {archivePassword}, "update": {"true"}}, file)
	expect(t, "a second dry run updating", status, page, "", http.StatusOK, "", "<td>project</td><td>shop</td><td><span class=\"badge change-unchanged\">unchanged</span>",
		`name="update" value="true"`, "will be updated to match it")

	// Not an archive, and no file at all.
	status, page = dst.postMultipart("/archives/import", url.Values{"step": {"dry"}, "password": {archivePassword}}, []byte("hello"))
	expect(t, "not an archive", status, page, "", http.StatusBadRequest, "", archive.ErrNotArchive.Error())
	status, page = dst.postMultipart("/archives/import", url.Values{"step": {"dry"}, "password": {archivePassword}}, nil)
	expect(t, "no file", status, page, "", http.StatusBadRequest, "", "choose the archive file to import")

	// Without the form's CSRF token the API refuses, and nothing is imported.
	dst.csrf = ""
	status, page = dst.postMultipart("/archives/import", url.Values{"step": {"import"}, "password": {archivePassword}, "update": {"true"}}, file)
	if status != http.StatusForbidden {
		t.Errorf("an import without the CSRF token: %d\n%s", status, page)
	}
}

// TestArchivePageIsForAdministrators: someone who may edit projects but is
// no administrator sees a refusal, and cannot export through the form.
func TestArchivePageIsForAdministrators(t *testing.T) {
	s := startPortal(t)
	const password = "another long passphrase"
	var u model.User
	s.api("POST", "/users", wire.CreateUserRequest{Username: "dev", Password: password}, &u, http.StatusCreated)
	jar, _ := cookiejar.New(nil)
	dev := &portalSite{t: t, url: s.url, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if status, _, _ := dev.post("/login", url.Values{"username": {"dev"}, "password": {password}, "next": {"/profile"}}); status != http.StatusSeeOther {
		t.Fatalf("log in: %d", status)
	}
	_, page := dev.get("/profile")
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the profile page:\n%s", page)
	}
	dev.csrf = m[1]
	status, page := dev.get("/archives")
	expect(t, "the page", status, page, "", http.StatusForbidden, "", "only administrators may export and import archives")
	status, page, _ = dev.post("/archives/export", url.Values{"all": {"true"}, "password": {archivePassword}, "password2": {archivePassword}})
	if status != http.StatusForbidden || strings.Contains(page, "PULPOARC") {
		t.Fatalf("a non-administrator's export: %d\n%.300s", status, page)
	}
}

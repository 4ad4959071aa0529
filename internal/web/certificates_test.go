package web_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/testutil/certtest"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// postFile sends a multipart form with a file, as a browser does.
func (s *portalSite) postFile(path string, fields map[string]string, file []byte) (int, string, string) {
	s.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf_token", s.csrf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("file", "upload.bin")
		fw.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", s.url+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header.Get("Location")
}

// The certificate pages upload a PEM and a PFX through the forms, show
// what openssl shows (thumbprint, expiry), put a wrong password next to the
// field, replace (listing the previous version, which names what replaced
// it), and archive and restore.
func TestCertificatePages(t *testing.T) {
	dir := t.TempDir()
	site := certtest.MakeDays(t, dir, "site", "rsa:2048", "site.example.test", 10)
	renewed := certtest.MakeDays(t, dir, "renewed", "ec", "site.example.test", 90)
	pfx := certtest.PFX(t, dir, site, "pfx-pass", false)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s := startPortal(t)

	status, body, loc := s.postFile("/certificates", map[string]string{"name": "Site PEM"}, append(read(site.Cert), read(site.Key)...))
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/certificates/Certificates-1") {
		t.Fatalf("upload: %d %q\n%s", status, loc, body)
	}
	status, body, _ = s.postFile("/certificates", map[string]string{"name": "Site PFX", "password": "wrong"}, read(pfx))
	if status != http.StatusBadRequest || !strings.Contains(body, "wrong password") || !strings.Contains(body, `value="Site PFX"`) {
		t.Errorf("a wrong password: %d\n%s", status, body)
	}
	if strings.Contains(body, `value="wrong"`) {
		t.Error("the refused form shows the password typed into it")
	}
	status, body, _ = s.postFile("/certificates", map[string]string{"name": "No file"}, nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "choose a certificate file") {
		t.Errorf("no file: %d\n%s", status, body)
	}
	if status, body, loc = s.postFile("/certificates", map[string]string{"name": "Site PFX", "password": "pfx-pass"}, read(pfx)); status != http.StatusSeeOther {
		t.Fatalf("PFX upload: %d %q\n%s", status, loc, body)
	}

	// The list shows the thumbprint openssl printed and flags the expiry
	// (10 days away: within Octopus's 20).
	status, body = s.get("/certificates")
	if status != http.StatusOK || strings.Count(body, site.Thumbprint) != 2 || !strings.Contains(body, "expires soon") {
		t.Errorf("list: %d\n%s", status, body)
	}
	status, body = s.get("/certificates/Certificates-1")
	if status != http.StatusOK || !strings.Contains(body, site.Thumbprint) || !strings.Contains(body, "CN=site.example.test") ||
		!strings.Contains(body, site.NotAfter.Format("2006-01-02")) || strings.Contains(body, "PRIVATE KEY") {
		t.Errorf("detail: %d\n%s", status, body)
	}

	// Renaming and limiting to an environment through the edit form.
	var dev model.Environment
	s.api("POST", "/environments", model.Environment{Name: "Dev"}, &dev, http.StatusCreated)
	if status, body, _ = s.post("/certificates/Certificates-1", url.Values{"name": {"Site"}, "notes": {"main site"}, "environment": {dev.ID}}); status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", status, body)
	}
	var edited model.Certificate
	s.api("GET", "/certificates/Certificates-1", nil, &edited, http.StatusOK)
	if edited.Name != "Site" || edited.Notes != "main site" || len(edited.EnvironmentIDs) != 1 || edited.Thumbprint != site.Thumbprint {
		t.Errorf("after editing: %+v", edited)
	}
	if status, body, _ = s.post("/certificates/Certificates-1", url.Values{"name": {""}}); status != http.StatusBadRequest || !strings.Contains(body, "is required") {
		t.Errorf("edit without a name: %d\n%s", status, body)
	}

	// Replacing keeps the previous version: the page lists it, linked, and
	// its page says what replaced it; it cannot come back under the taken
	// name.
	if status, body, loc = s.postFile("/certificates/Certificates-1/replace", nil, append(read(renewed.Cert), read(renewed.Key)...)); status != http.StatusSeeOther {
		t.Fatalf("replace: %d %q\n%s", status, loc, body)
	}
	status, body = s.get("/certificates/Certificates-1")
	if status != http.StatusOK || !strings.Contains(body, renewed.Thumbprint) || !strings.Contains(body, "Previous versions") ||
		!strings.Contains(body, `<a href="/certificates/Certificates-3"><code>`+site.Thumbprint+`</code></a>`) || !strings.Contains(body, site.NotAfter.Format("2006-01-02")) {
		t.Errorf("the replaced certificate's page: %d\n%s", status, body)
	}
	status, body = s.get("/certificates/Certificates-3")
	if status != http.StatusOK || !strings.Contains(body, site.Thumbprint) || !strings.Contains(body, `Replaced by <a href="/certificates/Certificates-1">Site</a>`) ||
		strings.Contains(body, "Previous versions") || strings.Contains(body, "/certificates/Certificates-3/replace") {
		t.Errorf("the backup's page: %d\n%s", status, body)
	}
	if status, body, _ = s.post("/certificates/Certificates-3/unarchive", url.Values{}); status != http.StatusConflict || !strings.Contains(body, "rename this earlier version") {
		t.Errorf("restoring the backup under a taken name: %d\n%s", status, body)
	}
	if status, body = s.get("/certificates?archived=true"); !strings.Contains(body, "earlier version, replaced by Certificates-1") {
		t.Errorf("the list with archived ones: %d\n%s", status, body)
	}

	// Archive hides it from the list; restore brings it back.
	if status, _, loc = s.post("/certificates/Certificates-1/archive", url.Values{}); status != http.StatusSeeOther {
		t.Fatalf("archive: %d", status)
	}
	var list wire.Page[model.Certificate]
	s.api("GET", "/certificates", nil, &list, http.StatusOK)
	if len(list.Items) != 1 || list.Items[0].Name != "Site PFX" {
		t.Errorf("after archiving: %+v", list.Items)
	}
	if status, _, _ = s.post("/certificates/Certificates-1/unarchive", url.Values{}); status != http.StatusSeeOther {
		t.Fatalf("restore: %d", status)
	}
	if status, _, _ = s.post("/certificates/Certificates-1/delete", url.Values{}); status != http.StatusSeeOther {
		t.Fatalf("delete: %d", status)
	}
	s.api("GET", "/certificates/Certificates-1", nil, nil, http.StatusNotFound)
	s.api("GET", "/certificates/Certificates-3", nil, nil, http.StatusNotFound) // its previous version went with it
}

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/testutil/certtest"
)

// TestCertificateCommands imports a PEM and an openssl-made PFX, lists and
// shows them (text and -o json), replaces (keeping the previous one, shown
// as a backup), refuses a wrong password and a
// delete while a variable uses the certificate, archives and deletes.
func TestCertificateCommands(t *testing.T) {
	dir := t.TempDir()
	site := certtest.Make(t, dir, "site", "rsa:2048", "site.example.test")
	renewed := certtest.MakeDays(t, dir, "renewed", "ec", "site.example.test", 90)
	pfx := certtest.PFX(t, dir, site, "pfx-pass", false)
	pemFile := filepath.Join(dir, "site.pem")
	os.WriteFile(pemFile, append(must(os.ReadFile(site.Cert)), must(os.ReadFile(site.Key))...), 0o600)
	renewedFile := filepath.Join(dir, "renewed.pem")
	os.WriteFile(renewedFile, append(must(os.ReadFile(renewed.Cert)), must(os.ReadFile(renewed.Key))...), 0o600)
	passFile := filepath.Join(dir, "pass")
	os.WriteFile(passFile, []byte("pfx-pass\n"), 0o600)
	wrongFile := filepath.Join(dir, "wrong")
	os.WriteFile(wrongFile, []byte("nope\n"), 0o600)

	s := startCLIServer(t)
	out := s.ok("certificate", "import", pemFile)
	contains(t, "import", out, `"site"`, "Certificates-1", site.Thumbprint)
	var imported model.Certificate
	if err := json.Unmarshal([]byte(s.ok("certificate", "import", pfx, "--name", "Site PFX", "--password-file", passFile, "-o", "json")), &imported); err != nil {
		t.Fatal(err)
	}
	if imported.Thumbprint != site.Thumbprint || imported.Format != "Pkcs12" || !imported.HasPrivateKey {
		t.Errorf("imported %+v", imported)
	}
	s.fails("wrong password", "certificate", "import", pfx, "--name", "Wrong", "--password-file", wrongFile)

	contains(t, "list", s.ok("certificate", "list"), "site", "Site PFX", site.Thumbprint, "valid")
	var list []model.Certificate
	if err := json.Unmarshal([]byte(s.ok("certificate", "list", "-o", "json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("list -o json: %+v, %v", list, err)
	}
	contains(t, "show", s.ok("certificate", "show", "Site PFX"), "CN=site.example.test", site.Thumbprint, "DNS:site.example.test")
	if pem := s.ok("certificate", "download", "Site PFX"); strings.TrimSpace(pem) != strings.TrimSpace(string(must(os.ReadFile(site.Cert)))) {
		t.Errorf("download:\n%s", pem)
	}

	// A variable names it: delete is refused, naming the project.
	s.ok("project", "create", "web")
	s.ok("variable", "set", "-p", "web", "SiteCert", "Site PFX", "--certificate")
	contains(t, "variable list", s.ok("variable", "list", "-p", "web"), imported.ID+" (certificate)")
	s.fails(`project "web"`, "certificate", "delete", "Site PFX")
	contains(t, "show usage", s.ok("certificate", "show", "Site PFX"), "Used by variable SiteCert of project web")

	s.ok("environment", "create", "Production")
	s.fails("variable SiteCert of project \"web\" may be used outside them", "certificate", "update", "Site PFX", "--environment", "Production")
	contains(t, "update", s.ok("certificate", "update", "site", "--environment", "Production", "--notes", "old one", "--name", "Site PEM"), `"Site PEM"`)
	contains(t, "show after update", s.ok("certificate", "show", "Site PEM"), "Environments: Environments-1")
	s.ok("certificate", "update", "Site PEM", "--all-environments")
	s.ok("certificate", "update", "Site PEM", "--name", "site")

	out = s.ok("certificate", "replace", "Site PFX", renewedFile)
	contains(t, "replace", out, imported.ID, renewed.Thumbprint, "The previous one is kept, archived, as Certificates-3 (thumbprint "+site.Thumbprint+")")
	contains(t, "show after replace", s.ok("certificate", "show", "Site PFX"), "Thumbprint:  "+renewed.Thumbprint, "Previous versions:", "Certificates-3  thumbprint "+site.Thumbprint)
	contains(t, "show the backup", s.ok("certificate", "show", "Certificates-3"), "Site PFX (Certificates-3)", "Replaced by: "+imported.ID)
	var shown struct {
		PreviousVersions []model.Certificate `json:"previousVersions"`
	}
	if err := json.Unmarshal([]byte(s.ok("certificate", "show", "Site PFX", "-o", "json")), &shown); err != nil || len(shown.PreviousVersions) != 1 || shown.PreviousVersions[0].ReplacedBy != imported.ID {
		t.Errorf("show -o json after replace: %+v, %v", shown, err)
	}
	contains(t, "list --archived with a backup", s.ok("certificate", "list", "--archived"), "Certificates-3", "archived, replaced by "+imported.ID)
	s.ok("certificate", "archive", "site")
	if strings.Contains(s.ok("certificate", "list"), "Certificates-1") {
		t.Error("an archived certificate is listed")
	}
	contains(t, "list --archived", s.ok("certificate", "list", "--archived"), "Certificates-1", "archived")
	s.ok("certificate", "archive", "site", "--restore")
	s.ok("certificate", "delete", "site")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

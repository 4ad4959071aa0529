package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/testutil/certtest"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// testClock is a clock the test moves on.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
}

// hookEvents is a webhook endpoint on loopback that keeps what it gets.
type hookEvents struct {
	mu     sync.Mutex
	events []map[string]any
}

func (h *hookEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev map[string]any
	b, _ := io.ReadAll(r.Body)
	json.Unmarshal(b, &ev)
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
}

func (h *hookEvents) byCertificate() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, e := range h.events {
		if e["event"] == string(model.EventCertificateExpiring) {
			id, _ := e["certificateId"].(string)
			out[id]++
		}
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls a condition until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCertificatesEndToEnd: certificates made by the real openssl are
// uploaded as PEM and as PFX (OpenSSL 3's AES/PBKDF2 and legacy 3DES),
// shown as openssl describes them, given to a script on the built-in
// worker through a certificate variable, kept out of every API answer,
// the task log and the database, and told of once when they near their
// end, to a webhook on loopback.
func TestCertificatesEndToEnd(t *testing.T) {
	dir := t.TempDir()
	site := certtest.MakeDays(t, dir, "site", "rsa:2048", "site.example.test", 30)
	later := certtest.MakeDays(t, dir, "later", "ec", "later.example.test", 60)
	const pfxPassword = "pfx-Pa55-word"
	modernPFX := certtest.PFX(t, dir, site, pfxPassword, false)
	legacyPFX := certtest.PFX(t, dir, site, pfxPassword, true)
	keyPEM := readFile(t, site.Key)
	certPEM := readFile(t, site.Cert)
	// Lines of the key's body: none may appear anywhere but in the script.
	var keyLines []string
	for _, l := range strings.Split(string(keyPEM), "\n") {
		if len(l) == 64 {
			keyLines = append(keyLines, l)
		}
	}
	if len(keyLines) < 5 {
		t.Fatalf("the key file is short: %s", keyPEM)
	}
	hook := &hookEvents{}
	hs := httptest.NewServer(hook)
	defer hs.Close()

	clk := &testClock{}
	data := t.TempDir()
	n, err := server.New(context.Background(), server.Config{DataDir: data, AdminAPIKey: adminKey, NodeName: "test", Version: "test",
		Clock: clk.Now, CertificateCheckTick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := serve(t, n)
	ctx := context.Background()
	c := ts.client

	// Uploads: what Pulpo reads matches what openssl prints.
	pemFile := append(append([]byte{}, certPEM...), keyPEM...)
	fromPEM, err := c.UploadCertificate(ctx, model.Certificate{Name: "Site PEM"}, pemFile, "")
	if err != nil {
		t.Fatal(err)
	}
	fromPFX, err := c.UploadCertificate(ctx, model.Certificate{Name: "Site PFX"}, readFile(t, modernPFX), pfxPassword)
	if err != nil {
		t.Fatalf("a PFX from openssl pkcs12 -export: %v", err)
	}
	fromLegacy, err := c.UploadCertificate(ctx, model.Certificate{Name: "Site legacy PFX"}, readFile(t, legacyPFX), pfxPassword)
	if err != nil {
		t.Fatalf("a 3DES PFX: %v", err)
	}
	for _, got := range []model.Certificate{fromPEM, fromPFX, fromLegacy} {
		if got.Thumbprint != site.Thumbprint || strings.ReplaceAll(got.Subject, ", ", ",") != site.Subject || strings.ReplaceAll(got.Issuer, ", ", ",") != site.Subject ||
			!got.NotAfter.Equal(site.NotAfter) || !got.HasPrivateKey || !got.SelfSigned || got.Expired || got.ExpiringSoon {
			t.Errorf("%s: %+v; openssl says thumbprint %s, subject %s, not after %s", got.Name, got, site.Thumbprint, site.Subject, site.NotAfter)
		}
	}
	if _, err := c.UploadCertificate(ctx, model.Certificate{Name: "Later"}, append(readFile(t, later.Cert), readFile(t, later.Key)...), ""); err != nil {
		t.Fatal(err)
	}
	// A wrong password and a key of another certificate: 400s that say why.
	var ce *client.Error
	_, err = c.UploadCertificate(ctx, model.Certificate{Name: "Wrong"}, readFile(t, modernPFX), "not-it")
	if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest || !strings.Contains(ce.Error(), "wrong password") {
		t.Errorf("a wrong PFX password: %v", err)
	}
	_, err = c.UploadCertificate(ctx, model.Certificate{Name: "Mismatch"}, append(append([]byte{}, certPEM...), readFile(t, later.Key)...), "")
	if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest || !strings.Contains(ce.Error(), "does not belong") {
		t.Errorf("a key of another certificate: %v", err)
	}
	list, err := c.Certificates(ctx, false)
	if err != nil || len(list) != 4 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	public, err := c.PublicCertificate(ctx, fromPFX.ID)
	if err != nil || string(public) != string(certPEM) {
		t.Errorf("the public certificate:\n%s\n%v", public, err)
	}

	// A step writes the certificate and key from a certificate variable.
	out := t.TempDir()
	dev, _ := c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	p, _ := c.CreateProject(ctx, model.Project{Name: "web"})
	if _, err := c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Install certificate", Script: &model.ScriptAction{Syntax: "bash",
		Body: `set -e
get_octopusvariable SiteCert.CertificatePem > ` + out + `/cert.pem
get_octopusvariable SiteCert.PrivateKeyPem > ` + out + `/key.pem
echo "$(get_octopusvariable SiteCert.Pfx)" | base64 -d > ` + out + `/site.pfx
echo "id=#{SiteCert} type=#{SiteCert.Type} thumbprint=#{SiteCert.Thumbprint} cn=#{SiteCert.SubjectCommonName}"
echo "not after #{SiteCert.NotAfter}"
echo "leaking the key:"
get_octopusvariable SiteCert.PrivateKeyPem
echo "and the password: #{SiteCert.Password}"`}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{{Name: "SiteCert", Type: "certificate", Value: "Site PFX"}}}); err != nil {
		t.Fatal(err)
	}
	rel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	end := follow(t, ts, d.TaskID)
	log, err := c.TaskLog(ctx, d.TaskID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, l := range log.Lines {
		text.WriteString(l.Text + "\n")
	}
	if end.State != model.TaskSuccess {
		t.Fatalf("deployment: %+v\n%s", end, text.String())
	}
	if got := readFile(t, filepath.Join(out, "cert.pem")); strings.TrimSpace(string(got)) != strings.TrimSpace(string(certPEM)) {
		t.Errorf("the script wrote another certificate:\n%s", got)
	}
	// The key the script got is the certificate's: the same public key.
	pubOfCert := certtest.OpenSSL(t, "x509", "-in", filepath.Join(out, "cert.pem"), "-noout", "-pubkey")
	pubOfKey := certtest.OpenSSL(t, "pkey", "-in", filepath.Join(out, "key.pem"), "-pubout")
	if pubOfCert != pubOfKey || !strings.Contains(pubOfKey, "PUBLIC KEY") {
		t.Errorf("the key does not match the certificate:\n%s\n%s", pubOfCert, pubOfKey)
	}
	// The Pfx opens with the upload's password and holds the certificate.
	fromPfx := certtest.OpenSSL(t, "pkcs12", "-in", filepath.Join(out, "site.pfx"), "-passin", "pass:"+pfxPassword, "-nokeys")
	if !strings.Contains(fromPfx, strings.TrimSpace(string(certPEM))) {
		t.Errorf("the Pfx holds another certificate:\n%s", fromPfx)
	}
	logText := text.String()
	if want := "id=" + fromPFX.ID + " type=Certificate thumbprint=" + site.Thumbprint + " cn=site.example.test"; !strings.Contains(logText, want) {
		t.Errorf("log lacks %q:\n%s", want, logText)
	}
	if !strings.Contains(logText, "and the password: ********") || !strings.Contains(logText, "********") {
		t.Errorf("the password is not masked:\n%s", logText)
	}
	secretsToFind := append([]string{pfxPassword}, keyLines...)
	for _, s := range secretsToFind {
		if strings.Contains(logText, s) {
			t.Errorf("the task log shows %q:\n%s", s, logText)
		}
	}

	// No API answer holds the key or the password.
	for _, path := range []string{"/api/v1/certificates", "/api/v1/certificates?archived=true", "/api/v1/certificates/" + fromPFX.ID,
		"/api/v1/certificates/" + fromPFX.ID + "/usage", "/api/v1/certificates/" + fromPFX.ID + "/public", "/api/v1/projects/" + p.ID + "/variables",
		"/api/v1/releases/" + rel.ID, "/api/v1/tasks/" + d.TaskID + "/log", "/api/v1/projects/" + p.ID + "/variables/preview?environmentId=Dev", "/api/v1/tasks/" + d.TaskID, "/api/v1/export", "/api/v1/audit"} {
		status, _, raw := ts.call(t, "GET", path, "", nil)
		if status != http.StatusOK {
			t.Errorf("%s: %d %s", path, status, raw)
		}
		for _, s := range append(secretsToFind, "PRIVATE KEY") {
			if strings.Contains(string(raw), s) {
				t.Errorf("%s shows %q", path, s)
			}
		}
	}
	// The variable preview shows the public values and blanks the key.
	var preview []wire.PreviewVariable
	_, _, raw := ts.call(t, "GET", "/api/v1/projects/"+p.ID+"/variables/preview?environmentId=Dev", "", nil)
	if err := json.Unmarshal(raw, &preview); err != nil {
		t.Fatalf("preview: %v: %s", err, raw)
	}
	shown := map[string]string{}
	for _, v := range preview {
		shown[v.Name] = v.Value
	}
	if shown["SiteCert.Thumbprint"] != site.Thumbprint || shown["SiteCert.PrivateKeyPem"] != "********" || shown["SiteCert"] != fromPFX.ID {
		t.Errorf("preview: %s", raw)
	}

	// Each upload left an audit record, without the file or password.
	var audit wire.Page[model.AuditEvent]
	_, _, raw = ts.call(t, "GET", "/api/v1/audit?take=500", "", nil)
	json.Unmarshal(raw, &audit)
	uploads := 0
	for _, e := range audit.Items {
		if e.ObjectType == "certificate" && e.Action == model.AuditCreate {
			uploads++
		}
	}
	if uploads != 4 || strings.Contains(string(raw), pfxPassword) || strings.Contains(string(raw), "certificateData") {
		t.Errorf("%d upload records in the audit log:\n%s", uploads, raw)
	}

	// Deleting it is refused while the project's variable names it.
	if err := c.DeleteCertificate(ctx, fromPFX.ID); !errors.As(err, &ce) || ce.Status != http.StatusConflict || !strings.Contains(ce.Error(), `project "web"`) {
		t.Errorf("delete in use: %v", err)
	}

	// Replacing it with the later certificate keeps the id: the next
	// deployment gets the new one, and the site one is kept, archived,
	// under a new id, its key shown by no API answer either.
	replaced, err := c.ReplaceCertificate(ctx, fromPFX.ID, append(readFile(t, later.Cert), readFile(t, later.Key)...), "")
	if err != nil || replaced.ID != fromPFX.ID || replaced.Thumbprint != later.Thumbprint {
		t.Fatalf("replace: %+v, %v", replaced, err)
	}
	var backups wire.Page[model.Certificate]
	_, _, raw = ts.call(t, "GET", "/api/v1/certificates?replacedBy="+fromPFX.ID, "", nil)
	if err := json.Unmarshal(raw, &backups); err != nil || len(backups.Items) != 1 {
		t.Fatalf("the backups: %s, %v", raw, err)
	}
	backup := backups.Items[0]
	if backup.ReplacedBy != fromPFX.ID || !backup.Archived || backup.Thumbprint != site.Thumbprint || backup.Name != "Site PFX" {
		t.Errorf("the backup: %+v", backup)
	}
	d, err = c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	if end := follow(t, ts, d.TaskID); end.State != model.TaskSuccess {
		t.Fatalf("the deployment after the replace: %+v", end)
	}
	log, _ = c.TaskLog(ctx, d.TaskID, 0)
	found := false
	for _, l := range log.Lines {
		found = found || strings.Contains(l.Text, "id="+fromPFX.ID+" type=Certificate thumbprint="+later.Thumbprint+" ")
	}
	if !found {
		t.Errorf("the deployment after the replace did not get the new certificate: %+v", log.Lines)
	}
	for _, path := range []string{"/api/v1/certificates?archived=true", "/api/v1/certificates?replacedBy=" + fromPFX.ID, "/api/v1/certificates/" + backup.ID,
		"/api/v1/certificates/" + backup.ID + "/public", "/api/v1/export"} {
		status, _, raw := ts.call(t, "GET", path, "", nil)
		if status != http.StatusOK {
			t.Errorf("%s: %d %s", path, status, raw)
		}
		for _, s := range append(secretsToFind, "PRIVATE KEY") {
			if strings.Contains(string(raw), s) {
				t.Errorf("%s shows %q", path, s)
			}
		}
	}

	// Expiry: a subscription hears of each certificate once, when it comes
	// within 20 days of its end; never of a backup.
	if _, err := c.CreateSubscription(ctx, model.Subscription{Name: "certs", Events: []model.EventKind{model.EventCertificateExpiring}, WebhookURL: hs.URL}); err != nil {
		t.Fatal(err)
	}
	clk.Set(site.NotAfter.Add(-19 * 24 * time.Hour))
	waitFor(t, "the expiring events of the two site certificates", 30*time.Second, func() bool { return len(hook.byCertificate()) == 2 })
	if got, _ := c.FindCertificate(ctx, fromPEM.ID); !got.ExpiringSoon || got.Expired {
		t.Errorf("flags 19 days before the end: %+v", got)
	}
	// Later, the later one and the one replaced by it come within their
	// window; by then the loop has gone round many times, and the first two
	// were still told of once, the backup never.
	clk.Set(later.NotAfter.Add(-10 * 24 * time.Hour))
	waitFor(t, "the expiring events of the later certificates", 30*time.Second, func() bool { return len(hook.byCertificate()) == 4 })
	for id, count := range hook.byCertificate() {
		if count != 1 || id == backup.ID {
			t.Errorf("certificate %s told of %d times", id, count)
		}
	}
	if got, _ := c.FindCertificate(ctx, fromPEM.ID); !got.Expired {
		t.Errorf("flags after the end: %+v", got)
	}

	// The database holds none of it in the clear.
	ts.close()
	dbFiles, _ := filepath.Glob(filepath.Join(data, "pulpo.db*"))
	if len(dbFiles) == 0 {
		t.Fatal("no database files to look into")
	}
	for _, path := range dbFiles {
		b := readFile(t, path)
		for _, s := range append(secretsToFind, "PRIVATE KEY") {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds %q in the clear", path, s)
			}
		}
	}
}

// uploadForRotation stores a certificate, and replaces it so a backup of
// it is kept too, whose material the rotation test checks afterwards.
func uploadForRotation(t *testing.T, c *client.Client) string {
	t.Helper()
	dir := t.TempDir()
	cert := certtest.Make(t, dir, "rotate", "ec", "rotate.example.test")
	got, err := c.UploadCertificate(context.Background(), model.Certificate{Name: "rotate"}, append(readFile(t, cert.Cert), readFile(t, cert.Key)...), "")
	if err != nil {
		t.Fatal(err)
	}
	renewed := certtest.Make(t, dir, "renewed", "ec", "rotate.example.test")
	if _, err := c.ReplaceCertificate(context.Background(), got.ID, append(readFile(t, renewed.Cert), readFile(t, renewed.Key)...), ""); err != nil {
		t.Fatal(err)
	}
	return got.ID
}

// checkCertificateResealed: the material of the certificate and of the
// backup its replace kept opens with the new key, not with the old one.
func checkCertificateResealed(t *testing.T, cfg server.Config, oldKey, newKey, id string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The raw rows hold no key: the material is sealed text.
	driver, dsn := "sqlite", "file:"+filepath.Join(cfg.DataDir, "pulpo.db")+"?mode=ro"
	if cfg.DatabaseURL != "" {
		driver, dsn = "pgx", cfg.DatabaseURL
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT id, doc, material, replaced_by FROM certificates`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	backups := 0
	for rows.Next() {
		var rid, doc, material, replacedBy string
		if err := rows.Scan(&rid, &doc, &material, &replacedBy); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rid)
		if replacedBy == id {
			backups++
		}
		if strings.Contains(doc+material, "PRIVATE KEY") || strings.Contains(material, "certificatePem") || !strings.Contains(doc, "rotate.example.test") {
			t.Errorf("certificate %s's raw row: doc %s, material %.80s", rid, doc, material)
		}
	}
	if err := rows.Err(); err != nil || len(ids) != 2 || backups != 1 {
		t.Fatalf("certificate rows %v, %d of them backups of %s: %v", ids, backups, id, err)
	}
	for _, k := range []struct {
		key   string
		opens bool
	}{{newKey, true}, {oldKey, false}} {
		key, err := secrets.ParseKey(k.key)
		if err != nil {
			t.Fatal(err)
		}
		box, _ := secrets.New(key)
		st.SetSealer(box)
		for _, rid := range ids {
			_, m, err := st.Read().CertificateMaterial(ctx, rid)
			if k.opens && (err != nil || !strings.Contains(m.PrivateKeyPEM, "PRIVATE KEY")) {
				t.Errorf("certificate %s with the new key: %v", rid, err)
			}
			if !k.opens && err == nil {
				t.Errorf("certificate %s still opens with the old key", rid)
			}
		}
	}
}

package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/actiontemplates"
	"github.com/OctopusDeploy/go-octopusdeploy/v2/pkg/certificates"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/testutil/certtest"
)

// octoPage is the part of Octopus's page these tests read.
type octoPage struct {
	TotalResults int
	Items        []map[string]any
	Links        map[string]string
}

// getOcto reads an Octopus API answer that must succeed.
func getOcto(t *testing.T, s *testServer, path string, out any) []byte {
	t.Helper()
	status, _, raw := s.call(t, "GET", path, "", nil)
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, raw)
		}
	}
	return raw
}

// The certificate library through Octopus's client and API: what was read
// from each certificate, Octopus's archived filter and paging, and never
// a key, the uploaded file or its password.
func TestOctopusClientReadsCertificates(t *testing.T) {
	s := start(t, "")
	ctx := context.Background()
	octo := octopus(t, s, "Spaces-1")
	dir := t.TempDir()
	site := certtest.MakeDays(t, dir, "site", "rsa:2048", "site.example.test", 30)
	other := certtest.MakeDays(t, dir, "other", "ec", "other.example.test", 60)
	old := certtest.MakeDays(t, dir, "old", "ec", "old.example.test", 10)
	const pfxPassword = "pfx-Pa55-w0rd"
	pfx := readFile(t, certtest.PFX(t, dir, other, pfxPassword, false))
	keyPEM := readFile(t, site.Key)

	withKey := append(readFile(t, site.Cert), keyPEM...)
	sitePEM, err := s.client.UploadCertificate(ctx, model.Certificate{Name: "Site", Notes: "the shop's"}, withKey, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.UploadCertificate(ctx, model.Certificate{Name: "Other"}, pfx, pfxPassword); err != nil {
		t.Fatal(err)
	}
	oldCert, err := s.client.UploadCertificate(ctx, model.Certificate{Name: "Old"}, readFile(t, old.Cert), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.ArchiveCertificate(ctx, oldCert.ID, true); err != nil {
		t.Fatal(err)
	}

	// Octopus's client: the archived one is left out.
	page, err := octo.Certificates.Get(certificates.CertificatesQuery{})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("certificates: %+v %v", page, err)
	}
	got, err := octo.Certificates.GetByID(sitePEM.ID)
	if err != nil {
		t.Fatal(err)
	}
	notAfter, err := time.Parse(time.RFC3339, got.NotAfter)
	if err != nil || !notAfter.Equal(site.NotAfter) {
		t.Errorf("NotAfter %q (%v), openssl says %v", got.NotAfter, err, site.NotAfter)
	}
	if got.Name != "Site" || got.Notes != "the shop's" || got.Thumbprint != site.Thumbprint || got.SubjectCommonName != site.CN ||
		!got.HasPrivateKey || got.CertificateDataFormat != "Pem" || !got.SelfSigned || got.IsExpired || got.Archived != "" ||
		got.SubjectDistinguishedName != "CN="+site.CN || got.IssuerCommonName != site.CN || got.Version != 3 ||
		got.SignatureAlgorithmName != "sha256RSA" || got.SpaceID != "Spaces-1" || string(got.TenantedDeploymentMode) != "Untenanted" ||
		len(got.SubjectAlternativeNames) != 1 || got.SubjectAlternativeNames[0] != "DNS:"+site.CN {
		t.Errorf("the PEM certificate: %+v", got)
	}
	var byName octoPage
	getOcto(t, s, "/api/Spaces-1/certificates?partialName=oth", &byName)
	if len(byName.Items) != 1 {
		t.Fatalf("partialName=oth: %+v", byName)
	}
	pfxCert := byName.Items[0]
	if pfxCert["CertificateDataFormat"] != "Pkcs12" || pfxCert["HasPrivateKey"] != true || pfxCert["SignatureAlgorithmName"] != "sha256ECDSA" ||
		pfxCert["Thumbprint"] != other.Thumbprint || pfxCert["Password"].(map[string]any)["HasValue"] != true {
		t.Errorf("the PFX certificate: %v", pfxCert)
	}

	// Octopus's archived filter: only the archived ones, with the time.
	archived, err := octo.Certificates.Get(certificates.CertificatesQuery{Archived: "true"})
	if err != nil || len(archived.Items) != 1 || archived.Items[0].Name != "Old" || archived.Items[0].Archived == "" {
		t.Fatalf("archived=true: %+v %v", archived, err)
	}
	if byID, err := octo.Certificates.GetByID(oldCert.ID); err != nil || byID.Archived == "" {
		t.Errorf("the archived certificate by id: %+v %v", byID, err)
	}
	var notArchived octoPage
	getOcto(t, s, "/api/Spaces-1/certificates?archived=false", &notArchived)
	if notArchived.TotalResults != 2 {
		t.Errorf("archived=false: %+v", notArchived)
	}

	// Paging, here and without the space in the path.
	var first, second octoPage
	getOcto(t, s, "/api/certificates?take=1", &first)
	if first.TotalResults != 2 || len(first.Items) != 1 || first.Items[0]["Name"] != "Other" || first.Links["Page.Next"] == "" {
		t.Fatalf("first page: %+v", first)
	}
	getOcto(t, s, first.Links["Page.Next"], &second)
	if len(second.Items) != 1 || second.Items[0]["Name"] != "Site" || second.Links["Page.Next"] != "" {
		t.Fatalf("second page: %+v", second)
	}
	var byIDs octoPage
	getOcto(t, s, "/api/Spaces-1/certificates?ids="+sitePEM.ID, &byIDs)
	if len(byIDs.Items) != 1 || byIDs.Items[0]["Id"] != sitePEM.ID {
		t.Errorf("ids=%s: %+v", sitePEM.ID, byIDs)
	}

	// No answer holds the key, the uploaded file or its password.
	block, _ := pem.Decode(keyPEM)
	secrets := []string{"PRIVATE KEY", "-----BEGIN", pfxPassword, base64.StdEncoding.EncodeToString(block.Bytes)[:40],
		base64.StdEncoding.EncodeToString(pfx)[:40]}
	for _, l := range strings.Split(string(keyPEM), "\n") {
		if len(l) == 64 {
			secrets = append(secrets, l)
		}
	}
	for _, path := range []string{"/api/Spaces-1/certificates", "/api/Spaces-1/certificates?archived=true", "/api/Spaces-1/certificates/all",
		"/api/certificates/" + sitePEM.ID, "/api/Spaces-1/certificates?partialName=oth"} {
		raw := string(getOcto(t, s, path, nil))
		for _, secret := range secrets {
			if strings.Contains(raw, secret) {
				t.Errorf("%s holds %q:\n%s", path, secret, raw)
			}
		}
	}

	// Read only: changes are refused with where to make them.
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/Spaces-1/certificates"}, {"PUT", "/api/Spaces-1/certificates/" + sitePEM.ID},
		{"POST", "/api/certificates/" + sitePEM.ID + "/archive"}, {"DELETE", "/api/Spaces-1/certificates/" + sitePEM.ID},
	} {
		status, _, raw := s.call(t, c.method, c.path, `{"Name":"x"}`, nil)
		if status != 405 || !strings.Contains(string(raw), "/api/v1/certificates") || !strings.Contains(string(raw), "pulpo certificate") {
			t.Errorf("%s %s: %d %s", c.method, c.path, status, raw)
		}
	}
	if status, _, raw := s.call(t, "GET", "/api/Spaces-1/certificates?archived=maybe", "", nil); status != 400 || !strings.Contains(string(raw), "maybe") {
		t.Errorf("archived=maybe: %d %s", status, raw)
	}
	if _, err := octo.Certificates.GetByID("Certificates-99"); apiStatus(err) != 404 {
		t.Errorf("an unknown certificate: %v", err)
	}

	// Replaced: the id keeps the new file; the archived backup names it in
	// ReplacedBy, as Octopus's does.
	renewed := certtest.MakeDays(t, dir, "renewed", "ec", "site.example.test", 90)
	if _, err := s.client.ReplaceCertificate(ctx, sitePEM.ID, readFile(t, renewed.Cert), ""); err != nil {
		t.Fatal(err)
	}
	if now, err := octo.Certificates.GetByID(sitePEM.ID); err != nil || now.Thumbprint != renewed.Thumbprint || now.ReplacedBy != "" {
		t.Errorf("the replaced certificate: %+v %v", now, err)
	}
	backups, err := octo.Certificates.Get(certificates.CertificatesQuery{Archived: "true", PartialName: "Site"})
	if err != nil || len(backups.Items) != 1 || backups.Items[0].ReplacedBy != sitePEM.ID || backups.Items[0].Thumbprint != site.Thumbprint {
		t.Errorf("the backup: %+v %v", backups, err)
	}
}

// Step templates through Octopus's client and API, as Octopus's action
// templates: the action they make, each parameter's control, kept
// versions, and no sensitive value, plain or sealed.
func TestOctopusClientReadsStepTemplates(t *testing.T) {
	s := start(t, "")
	ctx := context.Background()
	octo := octopus(t, s, "Spaces-1")
	const secret = "hook-S3cret-value"
	notify, err := s.client.CreateStepTemplate(ctx, model.StepTemplate{Name: "Notify", Description: "Tells the channel",
		Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo v1 #{Channel}"},
		Parameters: []model.StepTemplateParameter{
			{Name: "Channel", Label: "Channel", HelpText: "Where to post", Control: model.ControlSelect, Options: []string{"alerts", "builds"}, DefaultValue: "builds"},
			{Name: "Hook", Label: "Webhook secret", Control: model.ControlSensitive},
			{Name: "Message", Control: model.ControlMultiline},
			{Name: "Loud", Control: model.ControlCheckbox, DefaultValue: "False"},
			{Name: "Who", DefaultValue: "ops"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	notify.Script.Body = "echo v2 #{Channel}"
	if notify, err = s.client.UpdateStepTemplate(ctx, notify); err != nil || notify.Version != 2 {
		t.Fatalf("update: %+v %v", notify, err)
	}
	site, err := s.client.CreateStepTemplate(ctx, model.StepTemplate{Name: "Deploy site", Package: &model.PackageAction{PackageID: "web",
		SubstituteFiles: []string{"conf/*.ini"}, Deploy: &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo up"}}})
	if err != nil {
		t.Fatal(err)
	}
	// A step made from it holds the sensitive value, sealed.
	p, err := s.client.CreateProject(ctx, model.Project{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Tell", RunOnServer: true,
		Template: &model.StepTemplateRef{ID: notify.ID, Version: 2, Parameters: map[string]string{"Hook": secret}}}}}); err != nil {
		t.Fatal(err)
	}

	all, err := octo.ActionTemplates.GetAll()
	if err != nil || len(all) != 2 {
		t.Fatalf("action templates: %+v %v", all, err)
	}
	got, err := octo.ActionTemplates.GetByID(notify.ID)
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{}
	for k, v := range got.Properties {
		props[k] = v.Value
	}
	if got.Name != "Notify" || got.Description != "Tells the channel" || got.ActionType != "Octopus.Script" || got.Version != 2 ||
		got.CommunityActionTemplateID != "" || got.SpaceID != "Spaces-1" || props["Octopus.Action.Script.ScriptBody"] != "echo v2 #{Channel}" ||
		props["Octopus.Action.Script.Syntax"] != "Bash" || props["Octopus.Action.Script.ScriptSource"] != "Inline" || len(got.Packages) != 0 {
		t.Errorf("the script template: %+v %v", got, props)
	}
	controls := map[string]string{}
	for _, par := range got.Parameters {
		if par.ID == "" {
			t.Errorf("parameter %s has no id", par.Name)
		}
		controls[par.Name] = par.DisplaySettings["Octopus.ControlType"]
		switch par.Name {
		case "Channel":
			if par.DisplaySettings["Octopus.SelectOptions"] != "alerts\nbuilds" || par.DefaultValue == nil || par.DefaultValue.Value != "builds" ||
				par.Label != "Channel" || par.HelpText != "Where to post" {
				t.Errorf("the select parameter: %+v %+v", par, par.DefaultValue)
			}
		case "Hook":
			if par.DefaultValue == nil || !par.DefaultValue.IsSensitive || par.DefaultValue.SensitiveValue.HasValue {
				t.Errorf("the sensitive parameter's default: %+v", par.DefaultValue)
			}
		}
	}
	want := map[string]string{"Channel": "Select", "Hook": "Sensitive", "Message": "MultiLineText", "Loud": "Checkbox", "Who": "SingleLineText"}
	for name, control := range want {
		if controls[name] != control {
			t.Errorf("%s is %q, want %q", name, controls[name], control)
		}
	}
	again, _ := octo.ActionTemplates.GetByID(notify.ID)
	if again == nil || again.Parameters[0].ID != got.Parameters[0].ID {
		t.Errorf("parameter ids change between reads")
	}

	// The package template.
	pkg, err := octo.ActionTemplates.GetByID(site.ID)
	if err != nil || pkg.ActionType != "Octopus.TentaclePackage" || len(pkg.Packages) != 1 || pkg.Packages[0].PackageID != "web" ||
		pkg.Packages[0].FeedID != "feeds-builtin" || pkg.Packages[0].AcquisitionLocation != "Server" ||
		pkg.Properties["Octopus.Action.SubstituteInFiles.TargetFiles"].Value != "conf/*.ini" ||
		pkg.Properties["Octopus.Action.CustomScripts.Deploy.sh"].Value != "echo up" {
		t.Errorf("the package template: %+v %v", pkg, err)
	}

	// A kept version, as Octopus serves it.
	v1, err := actiontemplates.GetVersionByID(octo, "Spaces-1", notify.ID, 1)
	if err != nil || v1.Version != 1 || v1.Properties["Octopus.Action.Script.ScriptBody"].Value != "echo v1 #{Channel}" {
		t.Errorf("version 1: %+v %v", v1, err)
	}
	if status, _, raw := s.call(t, "GET", "/api/actiontemplates/"+notify.ID+"/versions/3", "", nil); status != 404 {
		t.Errorf("a version not kept: %d %s", status, raw)
	}
	if status, _, raw := s.call(t, "GET", "/api/actiontemplates/"+notify.ID+"/versions/latest", "", nil); status != 400 {
		t.Errorf("a version that is no number: %d %s", status, raw)
	}

	// Paging and filters.
	var first octoPage
	getOcto(t, s, "/api/Spaces-1/actiontemplates?take=1", &first)
	if first.TotalResults != 2 || len(first.Items) != 1 || first.Links["Page.Next"] == "" {
		t.Errorf("first page: %+v", first)
	}
	var named octoPage
	getOcto(t, s, "/api/actiontemplates?partialName=noti", &named)
	if len(named.Items) != 1 || named.Items[0]["Id"] != notify.ID {
		t.Errorf("partialName=noti: %+v", named)
	}

	// No answer holds the secret, plain or sealed.
	sealed := regexp.MustCompile(`v1\.[A-Za-z0-9_-]{20,}`)
	for _, path := range []string{"/api/Spaces-1/actiontemplates", "/api/Spaces-1/actiontemplates/all", "/api/actiontemplates/" + notify.ID,
		"/api/actiontemplates/" + notify.ID + "/versions/2"} {
		raw := getOcto(t, s, path, nil)
		if strings.Contains(string(raw), secret) || sealed.Match(raw) {
			t.Errorf("%s holds the secret:\n%s", path, raw)
		}
	}

	// Read only.
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/Spaces-1/actiontemplates"}, {"PUT", "/api/actiontemplates/" + notify.ID},
		{"DELETE", "/api/Spaces-1/actiontemplates/" + notify.ID}, {"POST", "/api/Spaces-1/actiontemplates/" + notify.ID + "/versions/1"},
	} {
		status, _, raw := s.call(t, c.method, c.path, `{"Name":"x","ActionType":"Octopus.Script"}`, nil)
		if status != 405 || !strings.Contains(string(raw), "/api/v1/step-templates") || !strings.Contains(string(raw), "pulpo step-template") {
			t.Errorf("%s %s: %d %s", c.method, c.path, status, raw)
		}
	}
	if status, _, _ := s.call(t, "GET", "/api/Spaces-1/actiontemplates/categories", "", nil); status != 404 {
		t.Errorf("categories: %d", status)
	}

	// The space's links name both collections.
	var root struct{ Links map[string]string }
	getOcto(t, s, "/api/Spaces-1", &root)
	if !strings.HasPrefix(root.Links["ActionTemplates"], "/api/Spaces-1/actiontemplates") || !strings.HasPrefix(root.Links["Certificates"], "/api/Spaces-1/certificates") {
		t.Errorf("links: %v", root.Links)
	}
}

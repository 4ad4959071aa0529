package apply_test

import (
	"context"
	"encoding/base64"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/apply"
	"github.com/pulpo-deploy/pulpo/internal/archive"
	"github.com/pulpo-deploy/pulpo/internal/confdoc"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/testutil/certtest"
)

// librarySource uses every library kind: a feed with a password, a script
// module, a step template with two versions whose step has a sensitive
// value, and a certificate (uploaded before, as a plain file needs) named
// by a project's and a library set's variables. Unused and other are what
// an archive of app leaves out.
const librarySource = `environments:
  - name: Dev
feeds:
  - {name: Artifacts, type: http, url: "http://files.example/pkgs", username: reader, password: feed-pw}
  - {name: Unused, type: http, url: "http://unused.example/"}
scriptModules:
  - {name: helpers, syntax: bash, body: 'say() { echo "$@"; }'}
stepTemplates:
  - name: Greeter
    versions:
      - parameters: [{name: Greeting, defaultValue: hi}, {name: Token, control: sensitive}]
        script: {body: "echo v1 #{Greeting}"}
      - parameters: [{name: Greeting, defaultValue: hi}, {name: Token, control: sensitive}]
        script: {body: "echo v2 #{Greeting}"}
librarySets:
  - name: Certs
    variables: [{name: Shared.Cert, type: certificate, value: Site TLS}]
projects:
  - name: app
    librarySets: [Certs]
    steps:
      - name: Greet
        template: {name: Greeter, version: 1, parameters: {Greeting: hello, Token: tok-1}}
      - name: Fetch
        scriptModules: [helpers]
        script:
          body: say fetched
          packages: [{name: tool, packageId: acme.tool, feed: Artifacts, acquisition: target}]
    variables:
      - {name: Site.Cert, type: certificate, value: Site TLS}
  - name: other
    steps: [{name: Noop, script: {body: "true"}}]
`

// uploadCert stores cert c as a password-protected PFX called name.
func uploadCert(t *testing.T, s *store.Store, name string, c certtest.Cert) model.Certificate {
	t.Helper()
	pfx, err := os.ReadFile(certtest.PFX(t, t.TempDir(), c, "pfx-pw", false))
	if err != nil {
		t.Fatal(err)
	}
	cert := model.Certificate{Name: name, CertificateData: base64.StdEncoding.EncodeToString(pfx), Password: "pfx-pw"}
	if err := s.Tx(context.Background(), func(q *store.Queries) error { return q.CreateCertificate(context.Background(), &cert) }); err != nil {
		t.Fatalf("upload certificate %s: %v", name, err)
	}
	return cert
}

func buildLibrary(t *testing.T, s *store.Store) certtest.Cert {
	t.Helper()
	sealedStore(t, s)
	c := certtest.Make(t, t.TempDir(), "site", "ec", "site.example")
	uploadCert(t, s, "Site TLS", c)
	mustApply(t, s, parse(t, librarySource), false)
	return c
}

func freshStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sealedStore(t, s)
	return s
}

func step(t *testing.T, q *store.Queries, project, name string) model.Step {
	t.Helper()
	p, err := q.FindProject(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	d, err := q.GetProcess(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("project %s has no step %s", project, name)
	return model.Step{}
}

func variable(t *testing.T, q *store.Queries, project, name string) model.Variable {
	t.Helper()
	p, err := q.FindProject(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := q.GetVariables(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Variables {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("project %s has no variable %s", project, name)
	return model.Variable{}
}

func change(res confdoc.Result, kind, name string) confdoc.Change {
	for _, c := range res.Changes {
		if c.Kind == kind && c.Name == name {
			return c
		}
	}
	return confdoc.Change{Kind: kind, Name: name, Action: "not reported"}
}

// TestLibraryPlainExportAndApply: a plain export names the library's
// objects and steps' references to them by name and carries no secret;
// applied to its own server it changes nothing (the feed keeps its
// password); applied to a fresh server it needs the certificate there,
// and then recreates the rest with the same template version numbers.
func TestLibraryPlainExportAndApply(t *testing.T) {
	eachStore(t, func(t *testing.T, src *store.Store) {
		ctx := context.Background()
		c := buildLibrary(t, src)
		doc, err := apply.Export(ctx, src.Read())
		if err != nil {
			t.Fatal(err)
		}
		out, err := doc.YAML()
		if err != nil {
			t.Fatal(err)
		}
		text := string(out)
		for _, want := range []string{"feed: Artifacts", "name: Greeter", "version: 2", "echo v1", "type: certificate", "value: Site TLS",
			"thumbprint: " + c.Thumbprint, "scriptModules: [helpers]"} {
			if !strings.Contains(text, want) {
				t.Errorf("the export lacks %q:\n%s", want, text)
			}
		}
		for _, secret := range []string{"feed-pw", "tok-1", "pfx-pw", "data:", "feedId", "Feeds-", "Certificates-", "ActionTemplates-"} {
			if strings.Contains(text, secret) {
				t.Errorf("the plain export holds %q:\n%s", secret, text)
			}
		}
		if res := mustApply(t, src, parse(t, text), false); res.Changed() != 0 {
			t.Errorf("the export applied to its own server changed %q", actions(res))
		}
		if _, pw, err := src.Read().FeedWithPassword(ctx, "Artifacts"); err != nil || pw != "feed-pw" {
			t.Errorf("the feed's password after applying a file without it: %q, %v", pw, err)
		}

		fresh := freshStore(t)
		_, err = apply.Apply(ctx, fresh, parse(t, text), false)
		if err == nil || !strings.Contains(err.Error(), `certificate "Site TLS"`) || !strings.Contains(err.Error(), "cannot carry") {
			t.Fatalf("applying to a server without the certificate: %v", err)
		}
		if feeds, _, _ := fresh.Read().ListFeeds(ctx, store.ListOptions{}); len(feeds) != 0 {
			t.Errorf("a refused apply left feeds %v", feeds)
		}
		cert := uploadCert(t, fresh, "Site TLS", c)
		if res := mustApply(t, fresh, parse(t, text), true); change(res, "feed", "Artifacts").Action != confdoc.Created {
			t.Errorf("the dry run's changes: %q", actions(res))
		}
		if tm, _, _ := fresh.Read().ListStepTemplates(ctx, store.ListOptions{}); len(tm) != 0 {
			t.Errorf("the dry run left step templates %v", tm)
		}
		if res := mustApply(t, fresh, parse(t, text), false); change(res, "step template", "Greeter").Action != confdoc.Created {
			t.Errorf("the fresh server's changes: %q", actions(res))
		}
		q := fresh.Read()
		feed, err := q.GetFeed(ctx, "Artifacts")
		if err != nil || feed.HasPassword || feed.URL != "http://files.example/pkgs" {
			t.Errorf("the fresh server's feed: %+v, %v", feed, err)
		}
		if got := step(t, q, "app", "Fetch").Script.Packages[0].FeedID; got != feed.ID {
			t.Errorf("the step's package feed is %q, want %q", got, feed.ID)
		}
		tmpl, err := q.FindStepTemplate(ctx, "Greeter")
		if err != nil || tmpl.Version != 2 {
			t.Fatalf("the fresh server's template: %+v, %v", tmpl, err)
		}
		greet := step(t, q, "app", "Greet")
		if greet.Template.ID != tmpl.ID || greet.Template.Version != 1 || !strings.Contains(greet.Script.Body, "echo v1") {
			t.Errorf("the template step moved off version 1: %+v %+v", greet.Template, greet.Script)
		}
		if v := variable(t, q, "app", "Site.Cert"); v.Value != cert.ID || !v.IsCertificate() {
			t.Errorf("the certificate variable: %+v, want the value %s", v, cert.ID)
		}
		again, err := apply.Export(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		againText, _ := again.YAML()
		if string(againText) != text {
			t.Errorf("the fresh server exports another document:\n%s\nthe source's:\n%s", againText, text)
		}
	})
}

// TestLibraryArchiveMovesSecrets: an archive of app holds the feed, module,
// template and certificate it uses (not Unused, not other's), with their
// secrets; a dry run of its import changes nothing; the import creates
// them on a fresh server, secrets sealed with that server's key and
// opening to the same values (the certificate archived, as at the
// source, after the variables naming it); importing again changes nothing.
func TestLibraryArchiveMovesSecrets(t *testing.T) {
	eachStore(t, func(t *testing.T, src *store.Store) {
		ctx := context.Background()
		buildLibrary(t, src)
		// Replaced, it keeps the earlier version (archived, of the same
		// name), which stays out of the archive.
		renewed, err := os.ReadFile(certtest.PFX(t, t.TempDir(), certtest.Make(t, t.TempDir(), "renewed", "ec", "site.example"), "pfx-pw", false))
		if err != nil {
			t.Fatal(err)
		}
		// Archived, it still serves the variables that name it.
		if err := src.Tx(ctx, func(q *store.Queries) error {
			if _, err := q.ReplaceCertificate(ctx, "Site TLS", model.Certificate{CertificateData: base64.StdEncoding.EncodeToString(renewed), Password: "pfx-pw"}); err != nil {
				return err
			}
			_, err := q.SetCertificateArchived(ctx, "Site TLS", true)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		doc, err := apply.ExportSelection(ctx, src.Read(), apply.Selection{Projects: []string{"app"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := archive.Count(doc); got["feeds"] != 1 || got["scriptModules"] != 1 || got["stepTemplates"] != 1 || got["certificates"] != 1 || got["projects"] != 1 {
			t.Errorf("the archive's counts: %v", got)
		}
		if len(doc.StepTemplates) != 1 || len(doc.StepTemplates[0].Versions) != 2 {
			t.Errorf("the archive's templates: %+v", doc.StepTemplates)
		}
		text, err := doc.YAML()
		if err != nil {
			t.Fatal(err)
		}
		_, srcMaterial, err := src.Read().CertificateMaterial(ctx, "Site TLS")
		if err != nil {
			t.Fatal(err)
		}

		fresh := freshStore(t)
		res, err := apply.Import(ctx, fresh, parse(t, string(text)), apply.ImportOptions{DryRun: true})
		if err != nil {
			t.Fatalf("dry run: %v", err)
		}
		for _, k := range [][2]string{{"feed", "Artifacts"}, {"script module", "helpers"}, {"step template", "Greeter"}, {"certificate", "Site TLS"}, {"project", "app"}} {
			if c := change(res, k[0], k[1]); c.Action != confdoc.Created {
				t.Errorf("dry run: %s %s %s", k[0], k[1], c.Action)
			}
		}
		q := fresh.Read()
		if feeds, _, _ := q.ListFeeds(ctx, store.ListOptions{}); len(feeds) != 0 {
			t.Errorf("the dry run left feeds %v", feeds)
		}
		if certs, _, _ := q.ListCertificates(ctx, store.CertificateFilter{}); len(certs) != 0 {
			t.Errorf("the dry run left certificates %v", certs)
		}

		if _, err := apply.Import(ctx, fresh, parse(t, string(text)), apply.ImportOptions{}); err != nil {
			t.Fatalf("import: %v", err)
		}
		if _, pw, err := q.FeedWithPassword(ctx, "Artifacts"); err != nil || pw != "feed-pw" {
			t.Errorf("the imported feed's password: %q, %v", pw, err)
		}
		if _, err := q.GetFeed(ctx, "Unused"); err == nil {
			t.Error("the archive of app brought the feed it does not use")
		}
		greet := step(t, q, "app", "Greet")
		if greet.Template.Version != 1 {
			t.Errorf("the template step is at version %d, want 1", greet.Template.Version)
		}
		if tok, err := q.OpenSealed(greet.Template.Sensitive["Token"]); err != nil || tok != "tok-1" {
			t.Errorf("the step's sensitive value: %q, %v", tok, err)
		}
		cert, material, err := q.CertificateMaterial(ctx, "Site TLS")
		if err != nil {
			t.Fatal(err)
		}
		if !cert.Archived {
			t.Error("the imported certificate is not archived as the source's is")
		}
		if material.PrivateKeyPEM != srcMaterial.PrivateKeyPEM || material.Password != "pfx-pw" || material.PrivateKeyPEM == "" {
			t.Error("the imported certificate's key or password differs from the source's")
		}
		if v := variable(t, q, "app", "Site.Cert"); v.Value != cert.ID {
			t.Errorf("the certificate variable names %q, want %s", v.Value, cert.ID)
		}
		res, err = apply.Import(ctx, fresh, parse(t, string(text)), apply.ImportOptions{})
		if err != nil || res.Changed() != 0 {
			t.Errorf("importing again: %v, %q", err, actions(res))
		}
	})
}

// TestLibraryImportKeepsOrUpdatesExisting: a server that has the library's
// objects by name, different, keeps them on import (skipped, what differs
// said) unless asked to update; its template's versions are matched by
// content (the file's version 1 is its version 2), a step at a version the
// server lacks is refused clearly, and with updates the certificate is
// replaced keeping its id.
func TestLibraryImportKeepsOrUpdatesExisting(t *testing.T) {
	src := freshStore(t)
	buildLibrary(t, src)
	ctx := context.Background()
	doc, err := apply.ExportSelection(ctx, src.Read(), apply.Selection{Projects: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	text, err := doc.YAML()
	if err != nil {
		t.Fatal(err)
	}
	eachStore(t, func(t *testing.T, dst *store.Store) {
		sealedStore(t, dst)
		other := uploadCert(t, dst, "Site TLS", certtest.Make(t, t.TempDir(), "other", "ec", "other.example"))
		mustApply(t, dst, parse(t, `feeds:
  - {name: Artifacts, type: http, url: "http://elsewhere.example/"}
scriptModules:
  - {name: helpers, syntax: bash, body: "say() { :; }"}
stepTemplates:
  - name: Greeter
    versions:
      - script: {body: "echo unrelated"}
      - parameters: [{name: Greeting, defaultValue: hi}, {name: Token, control: sensitive}]
        script: {body: "echo v1 #{Greeting}"}
`), false)
		q := dst.Read()

		// The file's version 2 matches nothing here.
		v2 := parse(t, string(text))
		v2.Projects[0].Steps[0].Template.Version = 2
		_, err := apply.Import(ctx, dst, v2, apply.ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), `step template "Greeter" version 2 of the file has no version`) || !strings.Contains(err.Error(), "--update-existing") {
			t.Errorf("a step at a version the server lacks: %v", err)
		}

		res, err := apply.Import(ctx, dst, parse(t, string(text)), apply.ImportOptions{})
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		for _, k := range [][3]string{{"feed", "Artifacts", "url"}, {"script module", "helpers", "body"}, {"step template", "Greeter", "version 3 (the file's 2)"},
			{"certificate", "Site TLS", "certificate (thumbprint"}} {
			c := change(res, k[0], k[1])
			if c.Action != confdoc.Skipped || !slices.ContainsFunc(c.Fields, func(f string) bool { return strings.HasPrefix(f, k[2]) }) {
				t.Errorf("%s %s: %s %q, want skipped for %s", k[0], k[1], c.Action, c.Fields, k[2])
			}
		}
		if c := change(res, "step template", "Greeter"); !slices.Contains(c.Fields, "the file's version 1 is version 2 here") {
			t.Errorf("the import does not say which version the step's became: %q", c.Fields)
		}
		if greet := step(t, q, "app", "Greet"); greet.Template.Version != 2 || !strings.Contains(greet.Script.Body, "echo v1") {
			t.Errorf("the imported step uses version %d (%q), want this server's 2 (the file's 1)", greet.Template.Version, greet.Script.Body)
		}
		if f, _ := q.GetFeed(ctx, "Artifacts"); f.URL != "http://elsewhere.example/" {
			t.Errorf("a kept feed changed: %+v", f)
		}

		res, err = apply.Import(ctx, dst, parse(t, string(text)), apply.ImportOptions{UpdateExisting: true, DryRun: true})
		if err != nil {
			t.Fatalf("dry run: %v", err)
		}
		if c := change(res, "step template", "Greeter"); c.Action != confdoc.Updated || !slices.Contains(c.Fields, "the file's version 1 is version 2 here") {
			t.Errorf("the dry run shows the template as %s %q", c.Action, c.Fields)
		}
		if tm, _ := q.FindStepTemplate(ctx, "Greeter"); tm.Version != 2 {
			t.Errorf("the dry run saved template version %d", tm.Version)
		}

		if _, err := apply.Import(ctx, dst, parse(t, string(text)), apply.ImportOptions{UpdateExisting: true}); err != nil {
			t.Fatalf("import with updates: %v", err)
		}
		cert, err := q.GetCertificate(ctx, "Site TLS")
		if err != nil || cert.ID != other.ID || cert.Thumbprint != doc.Certificates[0].Thumbprint {
			t.Errorf("the replaced certificate: %+v, %v; want id %s, thumbprint %s", cert, err, other.ID, doc.Certificates[0].Thumbprint)
		}
		// The import replaced it as a user would: this server's one is kept.
		if kept, _, err := q.ListCertificates(ctx, store.CertificateFilter{ReplacedBy: other.ID}); err != nil || len(kept) != 1 || kept[0].Thumbprint != other.Thumbprint {
			t.Errorf("the earlier version the import kept: %+v, %v", kept, err)
		}
		if tm, _ := q.FindStepTemplate(ctx, "Greeter"); tm.Version != 3 || !strings.Contains(tm.Script.Body, "echo v2") {
			t.Errorf("the template after updating: version %d %+v", tm.Version, tm.Script)
		}
		if f, _ := q.GetFeed(ctx, "Artifacts"); f.URL != "http://files.example/pkgs" || !f.HasPassword {
			t.Errorf("the updated feed: %+v", f)
		}
	})
}

// TestLibraryReferencesAreChecked: a file's references to the library are
// checked by name, and each mistake is named with its field.
func TestLibraryReferencesAreChecked(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		sealedStore(t, s)
		mustApply(t, s, parse(t, `feeds: [{name: Artifacts, type: http, url: "http://files.example/"}]`), false)
		for _, c := range []struct{ name, doc, want string }{
			{"a feed by id", `projects: [{name: p, steps: [{name: s, package: {packageId: app, feedId: Feeds-1}}]}]`,
				"steps[0].package.feedId: name the feed with feed: NAME"},
			{"an unknown feed", `projects: [{name: p, steps: [{name: s, script: {body: x, packages: [{name: t, packageId: t, feed: Nope}]}}]}]`,
				`steps[0].script.packages[0].feed: feed "Nope" is neither in the file nor on the server`},
			{"an unknown template", `projects: [{name: p, steps: [{name: s, template: {name: Nope, version: 1}}]}]`,
				`steps[0].template.name: step template "Nope" is neither in the file nor on the server`},
			{"a version out of order", `stepTemplates: [{name: T, versions: [{version: 2, script: {body: x}}]}]`,
				"versions[0].version: is 2, but the versions are listed oldest first from 1"},
			{"a template without versions", `stepTemplates: [{name: T, versions: []}]`, "versions: list at least one version"},
			{"a template's unknown feed", `stepTemplates: [{name: T, versions: [{package: {packageId: app, feed: Nope}}]}]`,
				`versions[0].package.feed: feed "Nope" is neither in the file nor on the server`},
			{"an unknown certificate", `projects: [{name: p, variables: [{name: C, type: certificate, value: Nope}]}]`,
				`variables[0].value: certificate "Nope" is neither in the file nor on the server`},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := apply.Apply(context.Background(), s, parse(t, c.doc), false)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("got %v, want an error with %q", err, c.want)
				}
			})
		}
	})
}

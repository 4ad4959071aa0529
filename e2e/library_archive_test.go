package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/testutil/certtest"
)

// libraryArchiveSource is a project that uses the library: a package from
// an external http-folder feed (FEED_URL) that asks for a password, a
// script module, a step template at version 1 of two, and a certificate
// variable.
const libraryArchiveSource = `environments:
  - name: Dev
lifecycles:
  - name: Dev only
    phases: [{name: Dev, manualEnvironments: [Dev]}]
feeds:
  - {name: Artifacts, type: http, url: "FEED_URL", username: reader, password: feed-pw-0123456789}
scriptModules:
  - {name: helpers, syntax: bash, body: 'shout() { echo "MODULE SAYS $*"; }'}
stepTemplates:
  - name: Greeter
    versions:
      - parameters: [{name: Greeting, defaultValue: hi}]
        script: {body: 'echo "TEMPLATE VERSION 1 #{Greeting}"'}
      - parameters: [{name: Greeting, defaultValue: hi}]
        script: {body: 'echo "TEMPLATE VERSION 2 #{Greeting}"'}
projects:
  - name: lib-user
    lifecycle: Dev only
    steps:
      - name: Greet
        template: {name: Greeter, version: 1, parameters: {Greeting: from A}}
      - name: Use
        scriptModules: [helpers]
        script:
          body: |
            shout hello
            echo "thumbprint #{Site.Cert.Thumbprint}"
            echo "tool says $(cat '#{Octopus.Action.Package[tool].ExtractedPath}/hello.txt')"
          packages: [{name: tool, packageId: tool, feed: Artifacts, acquisition: server, extract: true}]
    variables:
      - {name: Site.Cert, type: certificate, value: Site TLS}
`

// TestArchiveMovesALibraryProjectBetweenServers moves a project that uses
// a step template, a script module, a certificate and a package from an
// external feed to a fresh server in an archive, and deploys it there:
// the template step runs its version's body, the certificate's thumbprint
// is the uploaded one's, and the feed's password arrived (the feed
// refuses requests without it).
func TestArchiveMovesALibraryProjectBetweenServers(t *testing.T) {
	pkgDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(pkgDir, "tool.1.0.0.tar.gz"), toolPackage(t, "from the feed"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(pkgDir))
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "reader" || p != "feed-pw-0123456789" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer feed.Close()

	a := startServer(t, t.TempDir(), "", freePort(t))
	b := startServer(t, t.TempDir(), "", freePort(t))
	cert := certtest.Make(t, t.TempDir(), "site", "ec", "site.example")
	certPEM, err := os.ReadFile(cert.Cert)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(cert.Key)
	if err != nil {
		t.Fatal(err)
	}
	withKey := filepath.Join(t.TempDir(), "site.pem")
	if err := os.WriteFile(withKey, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	a.ok("certificate", "import", withKey, "--name", "Site TLS")
	applyText(t, a, strings.ReplaceAll(libraryArchiveSource, "FEED_URL", feed.URL))

	dir := t.TempDir()
	file := filepath.Join(dir, "lib.pulpoarchive")
	pwFile := filepath.Join(dir, "password.txt")
	if err := os.WriteFile(pwFile, []byte("tide pool octopus 2026\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.ok("export", "--archive", file, "--project", "lib-user", "--password-file", pwFile)
	dry := b.ok("import", file, "--dry-run", "--password-file", pwFile)
	for _, want := range []string{`created\s+feed\s+Artifacts`, `created\s+script module\s+helpers`, `created\s+step template\s+Greeter`,
		`created\s+certificate\s+Site TLS`, `created\s+project\s+lib-user`} {
		if !regexp.MustCompile(want).MatchString(dry) {
			t.Fatalf("the dry run does not show %q:\n%s", want, dry)
		}
	}
	b.ok("import", file, "--password-file", pwFile)

	d := deploy(t, b, "lib-user", "1.0.0")
	log := b.ok("task", "watch", d.TaskID)
	for _, want := range []string{"TEMPLATE VERSION 1 from A", "MODULE SAYS hello", "thumbprint " + cert.Thumbprint, "tool says from the feed", "Success"} {
		if !strings.Contains(log, want) {
			t.Fatalf("the deployment on B does not show %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "TEMPLATE VERSION 2") {
		t.Fatalf("the template step ran version 2:\n%s", log)
	}
}

// toolPackage is a .tar.gz holding hello.txt.
func toolPackage(t *testing.T, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(text))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

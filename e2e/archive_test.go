package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// archiveSource is server A's configuration: a project whose script step
// uses a lifecycle's environments, a library set's value and sensitive
// values of its own and of the library set.
const archiveSource = `environments:
  - name: Dev
  - name: Production
lifecycles:
  - name: Dev then Production
    phases:
      - {name: Dev, manualEnvironments: [Dev]}
      - {name: Production, manualEnvironments: [Production]}
librarySets:
  - name: Common
    variables:
      - {name: Region, value: eu-west-1}
      - {name: ApiToken, value: lib-token-0123456789, sensitive: true}
projects:
  - name: shop
    lifecycle: Dev then Production
    librarySets: [Common]
    steps:
      - name: Deploy
        script:
          syntax: bash
          body: |
            echo "STEP VERSION 1"
            echo "Region is #{Region} in #{Octopus.Environment.Name}"
            secret='#{DbPassword}'
            echo "secret length ${#secret} sha256 $(printf %s "$secret" | sha256sum | cut -c1-64)"
            echo "secret itself: #{DbPassword}"
            token='#{ApiToken}'
            echo "token length ${#token}"
    variables:
      - {name: DbPassword, value: s3cr3t-from-server-A, sensitive: true}
`

// TestArchiveMovesAProjectBetweenServers exports a project from one server
// process and imports it into another, fresh one, through the CLI only,
// then deploys it there.
func TestArchiveMovesAProjectBetweenServers(t *testing.T) {
	a := startServer(t, t.TempDir(), "", freePort(t))
	b := startServer(t, t.TempDir(), "", freePort(t))
	applyText(t, a, archiveSource)
	dir := t.TempDir()
	file := filepath.Join(dir, "shop.pulpoarchive")
	pwFile := filepath.Join(dir, "password.txt")
	const password = "tide pool octopus 2026"
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out := a.ok("export", "--archive", file, "--project", "shop", "--password-file", pwFile)
	if !strings.Contains(out, "Wrote "+file) {
		t.Fatalf("export:\n%s", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "s3cr3t") || strings.Contains(string(data), "Region") {
		t.Fatal("the archive shows its contents")
	}
	// withPassword runs the CLI against s with the password in the environment.
	withPassword := func(s *server, pw string, args ...string) result {
		t.Helper()
		return s.pulpoWith([]string{"PULPO_SERVER=" + s.url, "PULPO_API_KEY=" + apiKey, "PULPO_ARCHIVE_PASSWORD=" + pw}, args...)
	}
	if short := withPassword(a, "short", "export", "--archive", file+".2", "--project", "shop"); short.code == 0 ||
		!strings.Contains(short.stderr, "at least 12 characters") {
		t.Fatalf("a short password: exit %d\n%s", short.code, short.stderr)
	}

	noProjects := func(when string) {
		t.Helper()
		var projects []struct{ Name string }
		b.okJSON(&projects, "project", "list")
		if len(projects) != 0 {
			t.Fatalf("%s: server B has projects %v", when, projects)
		}
	}
	dry := b.ok("import", file, "--dry-run", "--password-file", pwFile)
	for _, want := range []string{`created\s+environment\s+Dev`, `created\s+lifecycle\s+Dev then Production`, `created\s+library set\s+Common`,
		`created\s+project\s+shop`, `Dry run, nothing changed`, `Archive of projects shop from 127\.0\.0\.1:\d+`} {
		if !regexp.MustCompile(want).MatchString(dry) {
			t.Fatalf("the dry run does not show %q:\n%s", want, dry)
		}
	}
	t.Logf("pulpo import --dry-run:\n%s", dry)
	noProjects("after the dry run")

	wrong := withPassword(b, "not the right password", "import", file)
	if wrong.code == 0 || !strings.Contains(wrong.stderr, "the password does not open this archive, or it was changed after export") {
		t.Fatalf("a wrong password: exit %d\n%s%s", wrong.code, wrong.stdout, wrong.stderr)
	}
	noProjects("after the wrong password")

	var res struct {
		DryRun  bool `json:"dryRun"`
		Changes []struct{ Kind, Name, Action string }
	}
	b.okJSON(&res, "import", file, "--password-file", pwFile)
	if res.DryRun || len(res.Changes) == 0 || res.Changes[len(res.Changes)-1].Name != "shop" || res.Changes[len(res.Changes)-1].Action != "created" {
		t.Fatalf("import: %+v", res)
	}

	sum := sha256.Sum256([]byte("s3cr3t-from-server-A"))
	d := deploy(t, b, "shop", "1.0.0")
	log := b.ok("task", "watch", d.TaskID)
	for _, want := range []string{"STEP VERSION 1", "Region is eu-west-1 in Dev", "secret length 20 sha256 " + hex.EncodeToString(sum[:]),
		"secret itself: ********", "token length 20", "Success"} {
		if !strings.Contains(log, want) {
			t.Fatalf("the deployment on B does not show %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "s3cr3t-from-server-A") {
		t.Fatalf("the sensitive value is not masked:\n%s", log)
	}

	// A changes its step; B skips the project unless asked to update it.
	applyText(t, a, strings.Replace(archiveSource, "STEP VERSION 1", "STEP VERSION 2", 1))
	if r := withPassword(a, password, "export", "--archive", file, "--project", "shop"); r.code != 0 {
		t.Fatalf("second export: %s", r.stderr)
	}
	skipped := withPassword(b, password, "import", file)
	if skipped.code != 0 || !regexp.MustCompile(`skipped\s+project\s+shop`).MatchString(skipped.stdout) ||
		!strings.Contains(skipped.stdout, "0 created, 0 updated") {
		t.Fatalf("import without --update-existing: exit %d\n%s%s", skipped.code, skipped.stdout, skipped.stderr)
	}
	updated := withPassword(b, password, "import", file, "--update-existing")
	if updated.code != 0 || !regexp.MustCompile(`updated\s+project\s+shop\s+steps`).MatchString(updated.stdout) {
		t.Fatalf("import with --update-existing: exit %d\n%s%s", updated.code, updated.stdout, updated.stderr)
	}
	t.Logf("pulpo import --update-existing:\n%s", updated.stdout)
	d = deploy(t, b, "shop", "2.0.0")
	if log := b.ok("task", "watch", d.TaskID); !strings.Contains(log, "STEP VERSION 2") || !strings.Contains(log, "Success") {
		t.Fatalf("the updated project's deployment:\n%s", log)
	}
}

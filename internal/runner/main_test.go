package runner

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeManifest(t *testing.T, path string, m any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, path, string(b))
}

func TestMainDeploysFromAManifestFile(t *testing.T) {
	f := newFixture(t)
	p := f.pkg(t, "1.4.0",
		file("Deploy.sh", `log "deployed $(cat app.config)"; set_octopusvariable Greeting hello`),
		file("app.config", "env=#{Octopus.Environment.Name}"),
	)
	m := f.manifest(p, "1.4.0")
	m.Variables = append(m.Variables, Variable{Name: "Octopus.Environment.Name", Value: "Production"})
	m.Bootstrap += `set_octopusvariable() { echo "##octopus[setVariable name='$(printf %s "$1" | base64)' value='$(printf %s "$2" | base64)']"; }` + "\n"
	m.SubstituteFiles = []string{"*.config"}
	manifest := writeManifest(t, filepath.Join(f.dir, "manifest.json"), m)

	var stdout, stderr bytes.Buffer
	if code := Main([]string{manifest}, "", &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	if got := f.logLines(t); len(got) != 1 || got[0] != "deployed env=Production" {
		t.Errorf("scripts ran as %q", got)
	}
	for _, line := range []string{
		"Deployed app 1.4.0 to " + filepath.Join(f.apps, "Production", "app", "1.4.0"),
		"##octopus[setVariable name='R3JlZXRpbmc=' value='aGVsbG8=']", // the script's, untouched
		// Where the package went, as Calamari reports it.
		"##octopus[setVariable name='T2N0b3B1cy5BY3Rpb24uUGFja2FnZS5JbnN0YWxsYXRpb25EaXJlY3RvcnlQYXRo'",
	} {
		if !strings.Contains(stdout.String(), line) {
			t.Errorf("stdout lacks %q:\n%s", line, &stdout)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	f := newFixture(t)
	failing := f.manifest(f.pkg(t, "1.0.0", file("Deploy.sh", "echo broken >&2; exit 4")), "1.0.0")
	badField := map[string]any{"package": map[string]any{"path": "/x.zip", "id": "app", "version": "1"}, "surprise": true}
	invalid := Manifest{Package: PackageFile{Path: "relative.zip", ID: "app", Version: "../1"}, Environment: "Production", AppsRoot: "/apps"}
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no manifest", nil, 2, "usage: pulpo run-package MANIFEST.json"},
		{"missing file", []string{filepath.Join(f.dir, "none.json")}, 2, "read manifest"},
		{"unknown field", []string{writeManifest(t, filepath.Join(f.dir, "bad.json"), badField)}, 2, `unknown field "surprise"`},
		{"invalid values", []string{writeManifest(t, filepath.Join(f.dir, "invalid.json"), invalid)}, 2,
			`invalid manifest: package.path must be an absolute path, not "relative.zip"; package.version: "../1" cannot contain '/' or NUL`},
		{"failed deployment", []string{writeManifest(t, filepath.Join(f.dir, "failing.json"), failing)}, 1,
			"broken\nStep Deploy failed: Deploy.sh exited with code 4\nDeployment failed: Deploy: Deploy.sh exited with code 4\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(c.args, "", &stdout, &stderr); code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			if !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("stderr %q lacks %q", &stderr, c.stderr)
			}
		})
	}
	if _, err := os.Stat(f.journal); err != nil {
		t.Errorf("the failed deployment was not journaled: %v", err)
	}
}

func TestManifestValidationListsEveryProblem(t *testing.T) {
	m := Manifest{
		Package:             PackageFile{Path: "/p.zip"},
		AppsRoot:            "apps",
		Environment:         "..",
		JournalPath:         "journal.json",
		RetainInstallations: -1,
		Scripts:             InlineScripts{Deploy: &InlineScript{Syntax: "powershell", Body: "x"}},
	}
	want := `invalid manifest: appsRoot must be an absolute path, not "apps"; journalPath must be an absolute path, not "journal.json"; ` +
		`package.id: is required; package.version: is required; environment: ".." cannot be a folder name; ` +
		`retainInstallations must be 0 (keep all) or more, not -1; scripts.deploy.syntax "powershell" is not supported: use bash, sh or python`
	if err := m.Validate(); err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

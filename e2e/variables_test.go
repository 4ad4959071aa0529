package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVariablesEndToEnd: scoped values per environment, a library set, an
// output variable from step 1 to step 2, and a sensitive value the script
// echoes, masked in the log and nowhere in the clear.
func TestVariablesEndToEnd(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data, "", freePort(t))
	const secret = "s3cr3t-e2e-Value!"
	s.ok("environment", "create", "Dev")
	s.ok("environment", "create", "Test")
	s.ok("library-set", "create", "Common")
	s.ok("variable", "set", "--library-set", "Common", "Smtp", "smtp.example")
	s.ok("project", "create", "app")
	s.ok("library-set", "include", "Common", "-p", "app")
	s.ok("variable", "set", "-p", "app", "Greeting", "hi dev", "--environment", "Dev")
	s.ok("variable", "set", "-p", "app", "Greeting", "hi test", "--environment", "Test")
	s.ok("variable", "set", "-p", "app", "DbPassword", secret, "--sensitive")
	s.ok("process", "step", "add", "-p", "app", "--name", "First", "--script",
		`set_octopusvariable Color "green-#{Octopus.Environment.Name}"
echo "password #{DbPassword}"
echo "smtp #{Smtp | ToUpper}"`)
	s.ok("process", "step", "add", "-p", "app", "--name", "Second", "--script",
		`echo "color #{Octopus.Action[First].Output.Color}"
echo "greeting #{Greeting}"`)
	s.ok("release", "create", "-p", "app", "--version", "1.0.0")

	for _, env := range []struct{ name, greeting, smtp string }{{"Dev", "hi dev", "SMTP.EXAMPLE"}, {"Test", "hi test", "SMTP2.EXAMPLE"}} {
		if env.name == "Test" {
			// A fix to the library set reaches the release on its way.
			s.ok("variable", "set", "--library-set", "Common", "Smtp", "smtp2.example")
			s.ok("release", "update-variables", "-p", "app", "1.0.0")
		}
		out := s.ok("release", "deploy", "-p", "app", "--version", "1.0.0", "--environment", env.name, "--watch")
		for _, want := range []string{"password ********", "smtp " + env.smtp, "color green-" + env.name, "greeting " + env.greeting} {
			if !strings.Contains(out, want) {
				t.Errorf("deploying to %s: the log lacks %q:\n%s", env.name, want, out)
			}
		}
		if strings.Contains(out, secret) {
			t.Fatalf("the secret is in the log:\n%s", out)
		}
	}

	// Deployed to the lifecycle's last phase, the release's variables are settled.
	if r := s.pulpo("release", "update-variables", "-p", "app", "1.0.0"); r.code == 0 || !strings.Contains(r.stderr, "last phase") {
		t.Errorf("update-variables after the last phase: exit %d\n%s", r.code, r.stderr)
	}

	// Nothing the API or CLI returns holds the secret.
	for _, args := range [][]string{
		{"variable", "list", "-p", "app", "-o", "json"},
		{"release", "show", "-p", "app", "1.0.0", "-o", "json"},
		{"release", "list", "-p", "app", "-o", "json"},
		{"export"},
	} {
		if out := s.ok(args...); strings.Contains(out, secret) {
			t.Errorf("pulpo %v shows the secret:\n%s", args, out)
		}
	}
	preview := s.ok("variables", "preview", "-p", "app", "--environment", "Test", "--step", "Second")
	for _, want := range []string{"Greeting    hi test", "DbPassword  ********", "Smtp        smtp2.example"} {
		if !strings.Contains(preview, want) {
			t.Errorf("preview lacks %q:\n%s", want, preview)
		}
	}
	if out := s.ok("variable", "list", "-p", "app"); !strings.Contains(out, "(sensitive, set)") {
		t.Errorf("the list should say the sensitive value is set:\n%s", out)
	}
	dbFiles, _ := filepath.Glob(filepath.Join(data, "pulpo-data", "pulpo.db*"))
	if len(dbFiles) == 0 {
		t.Fatal("no database files to grep")
	}
	for _, f := range dbFiles {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), secret) {
			t.Errorf("%s holds the secret in the clear", f)
		}
	}
}

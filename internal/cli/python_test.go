package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Python steps from the command line: --syntax python, or a --script-file
// ending in .py; the deployment runs them with Octopus's functions.
func TestPythonStepsFromTheCommandLine(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed: ", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "check.py")
	if err := os.WriteFile(file, []byte(`set_octopusvariable("Checked", "yes")`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startCLIServer(t)
	s.ok("environment", "create", "Dev")
	s.ok("project", "create", "web")
	s.ok("variable", "set", "-p", "web", "Greeting", "hello")
	s.ok("process", "step", "add", "-p", "web", "--name", "Greet", "--syntax", "python", "--script", `printhighlight("greeting: " + get_octopusvariable("greeting"))`)
	s.ok("process", "step", "add", "-p", "web", "--name", "Check", "--script-file", file)
	s.ok("process", "step", "add", "-p", "web", "--name", "Read", "--script", `echo "checked: #{Octopus.Action[Check].Output.Checked}"`)
	s.fails(`"ruby" is not supported: use bash, sh or python`, "process", "step", "add", "-p", "web", "--name", "X", "--syntax", "ruby", "--script", "puts 1")
	show := s.ok("process", "show", "-p", "web", "-o", "json")
	if n := strings.Count(show, `"syntax": "python"`); n != 2 {
		t.Errorf("want 2 python steps, got %d:\n%s", n, show)
	}
	s.ok("release", "create", "-p", "web", "--version", "1.0.0")
	out := s.ok("release", "deploy", "1.0.0", "-p", "web", "--environment", "Dev", "--watch")
	contains(t, "the deployment's log", out, "greeting: hello", "checked: yes")

	contains(t, "the runbook", s.ok("runbook", "create", "-p", "web", "Check", "--script-file", file, "-o", "json"), `"syntax": "python"`)
	s.ok("step-template", "create", "Checker", "--script-file", file)
	contains(t, "the step template", s.ok("step-template", "show", "Checker", "-o", "json"), `"syntax": "python"`)
}

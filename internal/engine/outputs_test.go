package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// The bash bootstrap must hand every value to the script byte for byte,
// whatever the value holds, under any name case, and define new ones.
func TestBashBootstrapReadsEveryValueBack(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed: ", err)
	}
	values := vars.NewValues()
	cases := []struct{ name, value, ask string }{
		{"Plain", "hello", "plain"},
		{"Single'Quote", `it's 'quoted'`, "single'quote"},
		{"Octopus.Action[Build Web].Output[web-1].Token", "t0k3n", "octopus.action[build web].output[web-1].token"},
		{"Dollar", `$HOME $(id) ${x} ` + "`id`", "DOLLAR"},
		{"Lines", "one\ntwo\n\nthree\n", "lines"},
		{"Backslash", `C:\path\n\t\\`, "backslash"},
		{"Unicode", "héllo wörld ✓", "unicode"},
		{"Empty", "", "empty"},
		{"Reference", "#{Plain} there", "reference"},
	}
	for _, c := range cases {
		values.Set(c.name, c.value)
	}
	script, problems := bootstrap(model.SyntaxBash, values)
	if len(problems) > 0 {
		t.Fatalf("every value renders, yet: %q", problems)
	}
	script += `__pulpo_define 'Runner.Defined' 'it'\''s the runner'` + "\n"
	for _, c := range cases {
		script += "printf '%s\\0' \"$(get_octopusvariable " + shellQuote(c.ask) + "; echo x)\"\n"
	}
	script += "printf '%s\\0' \"$(get_octopusvariable RUNNER.defined; echo x)\" \"$(get_octopusvariable Nope; echo x)\"\n"
	path := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bash, path).Output()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, script)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	want := make([]string, 0, len(cases)+2)
	for _, c := range cases {
		v := c.value
		if c.name == "Reference" {
			v = "hello there"
		}
		want = append(want, v+"x")
	}
	want = append(want, "it's the runnerx", "x")
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

// Reading or defining a variable must not start a process: a script with
// many variables starts as fast as one with few.
func TestBashBootstrapStartsNoProcessToReadOrDefine(t *testing.T) {
	values := vars.NewValues()
	values.Set("A", "1")
	b, _ := bootstrap(model.SyntaxBash, values)
	for _, fn := range []string{"get_octopusvariable() {", "__pulpo_define() {"} {
		i := strings.Index(b, fn)
		if i < 0 {
			t.Fatalf("bootstrap has no %s", fn)
		}
		body := b[i : i+strings.Index(b[i:], "\n}\n")]
		for _, spawn := range []string{"$(", "`", "|"} {
			if strings.Contains(body, spawn) {
				t.Errorf("%s… starts a process (%q):\n%s", fn, spawn, body)
			}
		}
	}
}

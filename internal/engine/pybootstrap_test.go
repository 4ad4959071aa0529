package engine

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/vars"
)

func needPython3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed: ", err)
	}
	return p
}

// The Python bootstrap hands every value to the script exactly as the bash
// one does (rendered, under any ASCII case of its name), takes values the
// runner defines, and its functions print the bash functions' messages.
func TestPythonBootstrapReadsEveryValueBackAndSpeaksServiceMessages(t *testing.T) {
	python := needPython3(t)
	values := vars.NewValues()
	cases := []struct{ name, value, ask string }{
		{"Plain", "hello", "plain"},
		{"Quotes", `it's "quoted" ''' """ \`, "QUOTES"},
		{"Lines", "one\ntwo\r\n\nthree\n", "lines"},
		{"Unicode", "héllo wörld ✓ 🐙", "unicode"},
		{"Nul", "a\x00b", "nul"},
		{"Empty", "", "empty"},
		{"Reference", "#{Plain} there", "reference"},
		{"Octopus.Action[Build Web].Output[web-1].Token", "t0k3n", "octopus.action[build web].output[web-1].token"},
		{"Ünïcode.Name", "kept", "Ünïcode.name"},
	}
	for _, c := range cases {
		values.Set(c.name, c.value)
	}
	boot, problems := pythonBootstrap(values, "")
	if len(problems) > 0 {
		t.Fatalf("every value renders, yet: %q", problems)
	}
	dir := t.TempDir()
	var script strings.Builder
	script.WriteString("import sys\nout = []\n")
	for _, c := range cases {
		script.WriteString("out.append(get_octopusvariable(" + pyString(c.ask) + "))\n")
	}
	script.WriteString(`out.append(get_pulpovariable("RUNNER.defined"))
out.append(get_octopusvariable("Nope"))
out.append(octopusvariables["Plain"])
sys.stdout.buffer.write("\x01".join(out).encode("utf-8") + b"\x02\n")
sys.stdout.flush()
set_octopusvariable("Out", "v'1")
set_octopusvariable("Secret", "s", True)
set_pulpovariable("Later", get_octopusvariable("out"))
createartifact("report.txt")
new_octopusartifact("sub/r.txt", "Report")
printverbose("v")
printhighlight("h")
printwait("w")
printwarning("x")
updateprogress(50, "half")
print(sys.argv[1:])
print("ünï ✓")
failstep("it broke")
print("not reached")
`)
	writeFile(t, filepath.Join(dir, "bootstrap.py"), boot)
	writeFile(t, filepath.Join(dir, "script.py"), script.String())
	writeFile(t, filepath.Join(dir, "defined.json"), `[["Runner.Defined", "it's the runner"]]`)
	cmd := exec.Command(python, "-u", "bootstrap.py", "--pulpo-defined", "defined.json", "script.py", "a b", "c")
	cmd.Dir = dir
	// A target whose locale is not UTF-8 still writes UTF-8 to the log.
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=ascii")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("failstep must exit 1: %v\n%s", err, out)
	}
	got, rest, ok := strings.Cut(string(out), "\x02\n")
	if !ok {
		t.Fatalf("no values in %q", out)
	}
	want := make([]string, 0, len(cases)+3)
	for _, c := range cases {
		v := c.value
		if c.name == "Reference" {
			v = "hello there"
		}
		want = append(want, v)
	}
	want = append(want, "it's the runner", "", "hello")
	if g := strings.Split(got, "\x01"); strings.Join(g, "|") != strings.Join(want, "|") {
		t.Errorf("values:\n got %q\nwant %q", g, want)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	wantLines := []string{
		"##octopus[setVariable name='" + b64("Out") + "' value='" + b64("v'1") + "']",
		"##octopus[setVariable name='" + b64("Secret") + "' value='" + b64("s") + "' sensitive='" + b64("True") + "']",
		"##octopus[setVariable name='" + b64("Later") + "' value='" + b64("v'1") + "']",
		"##octopus[createArtifact path='" + b64(filepath.Join(dir, "report.txt")) + "' name='" + b64("report.txt") + "']",
		"##octopus[createArtifact path='" + b64(filepath.Join(dir, "sub/r.txt")) + "' name='" + b64("Report") + "']",
		"##octopus[stdout-verbose]", "v", "##octopus[stdout-default]",
		"##octopus[stdout-highlight]", "h", "##octopus[stdout-default]",
		"##octopus[stdout-wait]", "w", "##octopus[stdout-default]",
		"##octopus[stdout-warning]", "x", "##octopus[stdout-default]",
		"##octopus[progress percentage='" + b64("50") + "' message='" + b64("half") + "']",
		"['a b', 'c']",
		"ünï ✓",
		"##octopus[resultMessage message='" + b64("it broke") + "']",
	}
	if g := strings.Split(strings.TrimSuffix(rest, "\n"), "\n"); strings.Join(g, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("messages:\n got %q\nwant %q", g, wantLines)
	}
	// Each message is one the engine reads.
	for _, l := range wantLines {
		if strings.HasPrefix(l, "##octopus[") && !strings.HasPrefix(l, "##octopus[stdout-") {
			if _, ok := parseServiceMessage(l); !ok {
				t.Errorf("the engine does not read %q", l)
			}
		}
	}
}

// An error in the script fails it with a traceback that starts at the
// script's own line; a syntax error names the script's line too.
func TestPythonBootstrapTracebacksAreTheScripts(t *testing.T) {
	python := needPython3(t)
	boot, _ := pythonBootstrap(vars.NewValues(), "")
	for _, tt := range []struct{ name, body, want, notWant string }{
		{"exception", "x = 1\n\ndef f():\n    raise ValueError('bad value')\nf()\n", `File "script.py", line 4, in f`, "bootstrap.py"},
		{"syntax error", "x = 1\nif x\n", `File "script.py", line 2`, "bootstrap.py"},
		{"exit code", "import sys\nsys.exit(7)\n", "", "Traceback"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "bootstrap.py"), boot)
			writeFile(t, filepath.Join(dir, "script.py"), tt.body)
			cmd := exec.Command(python, "-u", "bootstrap.py", "script.py")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			switch {
			case !ok:
				t.Fatalf("the script must fail: %v\n%s", err, out)
			case tt.name == "exit code" && ee.ExitCode() != 7:
				t.Errorf("exit code %d, want 7", ee.ExitCode())
			case tt.name != "exit code" && ee.ExitCode() != 1:
				t.Errorf("exit code %d, want 1", ee.ExitCode())
			}
			if !strings.Contains(string(out), tt.want) || strings.Contains(string(out), tt.notWant) {
				t.Errorf("output must have %q and not %q:\n%s", tt.want, tt.notWant, out)
			}
		})
	}
}

func writeFile(t *testing.T, p, text string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pyString is s as a Python string literal (ASCII, escapes for the rest).
func pyString(s string) string {
	var b strings.Builder
	b.WriteString(`"`)
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteString(`"`)
	return b.String()
}

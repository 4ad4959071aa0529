package scriptsvc_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed: ", err)
	}
}

// testBootstrap stands for the server's Python bootstrap: it defines a
// function and runs the script named by its first argument in its globals.
const testBootstrap = `import sys
def greet(name):
    print("hello " + name)
path = sys.argv[1]
sys.argv = sys.argv[1:]
exec(compile(open(path).read(), path, "exec"), globals())
`

func TestRunsPythonScripts(t *testing.T) {
	needPython(t)
	tests := []struct {
		name string
		cmd  contract.StartScriptCommand
		code int
		want []string
	}{
		{"plain", contract.StartScriptCommand{Body: "import sys\nprint('out')\nsys.exit(4)"}, 4, []string{"stdout:out"}},
		{"uncaught exception", contract.StartScriptCommand{Body: "raise SystemError('boom')"}, 1, []string{"stderr:Traceback (most recent call last):",
			`stderr:  File "/WS/script.py", line 1, in <module>`, "stderr:SystemError: boom"}},
		{"bootstrap and modules", contract.StartScriptCommand{Bootstrap: testBootstrap, Modules: map[string]string{"helpers": "WHO = 'modules'"},
			Body: "import helpers, sys\ngreet(helpers.WHO)\nprint(sys.argv[0])"}, 0, []string{"stdout:hello modules", "stdout:script.py"}},
	}
	root := t.TempDir()
	s := newService(t, root)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ticket := "py-" + strings.ReplaceAll(tt.name, " ", "-")
			tt.cmd.Ticket, tt.cmd.Syntax = ticket, "python"
			if _, err := s.StartScript(context.Background(), tt.cmd); err != nil {
				t.Fatal(err)
			}
			st, lines := runToEnd(t, s, ticket, 0)
			if st.ExitCode != tt.code {
				t.Errorf("exit code %d, want %d; lines %q", st.ExitCode, tt.code, texts(lines))
			}
			got := strings.Join(texts(lines), "\n")
			got = strings.ReplaceAll(got, filepath.Join(root, ticket), "/WS")
			got = strings.ReplaceAll(got, `File "script.py"`, `File "/WS/script.py"`)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("no line %q in:\n%s", w, got)
				}
			}
		})
	}
}

// Output reaches the log while the script runs: Python's buffering
// would otherwise hold it until the end.
func TestPythonOutputStreams(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	s := newService(t, filepath.Join(dir, "work"))
	body := "import os, sys, time\nprint('first')\ndeadline = time.time() + 60\n" +
		"while not os.path.exists(" + pyQuote(gate) + ") and time.time() < deadline:\n    time.sleep(0.02)\nprint('second')\n"
	start(t, s, "stream", "python", body)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var from int64
	for {
		st, err := s.GetStatus(ctx, contract.StatusRequest{Ticket: "stream", FromLogSeq: from, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if st.State == contract.ScriptComplete {
			t.Fatalf("the script ended before its first line was seen: %q", texts(st.Logs))
		}
		if len(st.Logs) > 0 {
			if st.Logs[0].Text != "first" {
				t.Fatalf("first line %q", st.Logs[0].Text)
			}
			from = st.NextLogSeq
			break
		}
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st, lines := runToEnd(t, s, "stream", from)
	if st.ExitCode != 0 || strings.Join(texts(lines), "|") != "stdout:second" {
		t.Fatalf("exit %d, lines %q", st.ExitCode, texts(lines))
	}
}

func TestPythonMissingSaysSo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	s := newService(t, t.TempDir())
	start(t, s, "nopy", "python", "print(1)")
	st, lines := runToEnd(t, s, "nopy", 0)
	if st.ExitCode == 0 || !strings.Contains(strings.Join(texts(lines), "\n"), "python3 is not on PATH on ") {
		t.Fatalf("exit %d, lines %q", st.ExitCode, texts(lines))
	}
}

func TestPythonModuleNamesAreChecked(t *testing.T) {
	s := newService(t, t.TempDir())
	for _, name := range []string{"../evil", "a.b", "script", ""} {
		_, err := s.StartScript(context.Background(), contract.StartScriptCommand{Ticket: "mods", Syntax: "python", Body: "x",
			Modules: map[string]string{name: "x"}})
		if err == nil || !strings.Contains(err.Error(), "is not a Python module name") {
			t.Errorf("module %q: %v", name, err)
		}
	}
	_, err := s.StartScript(context.Background(), contract.StartScriptCommand{Ticket: "mods", Syntax: "bash", Body: "x",
		Modules: map[string]string{"m": "x"}})
	if err == nil {
		t.Error("modules accepted with a bash script")
	}
}

func pyQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

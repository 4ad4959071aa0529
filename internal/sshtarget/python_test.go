package sshtarget_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// An SSH machine runs Python scripts: the bootstrap runs the script, with
// the modules beside it, and the exit code comes back.
func TestAPythonScriptRunsOverSSH(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed: ", err)
	}
	tg := newMachine(t).target(t)
	boot := "import sys\ndef greet():\n    print('hello from the bootstrap')\nsys.argv = sys.argv[1:]\n" +
		"exec(compile(open(sys.argv[0]).read(), sys.argv[0], 'exec'), globals())\n"
	st, err := tg.Scripts().StartScript(testContext(t), contract.StartScriptCommand{Ticket: "py", Syntax: "python",
		Body: "import helpers, sys\ngreet()\nprint(helpers.WHO)\nsys.exit(3)\n", Bootstrap: boot,
		Modules: map[string]string{"helpers": "WHO = 'module over ssh'\n"}, Wait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, lines := follow(t, tg.Scripts(), "py", 0)
	var got []string
	for _, l := range lines {
		got = append(got, l.Text)
	}
	if st.ExitCode != 3 || strings.Join(got, "|") != "hello from the bootstrap|module over ssh" {
		t.Fatalf("exit %d, lines %q", st.ExitCode, got)
	}
}

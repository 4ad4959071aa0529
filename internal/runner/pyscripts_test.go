package runner

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testPythonBootstrap stands for the server's (engine.pythonBootstrap,
// tested there and end to end in the engine's tests): it reads the
// values the runner defines and runs the script in its globals.
const testPythonBootstrap = `import json, sys
values = {"url": "https://prod.example.com"}
args = sys.argv[1:]
if args[0] == "--pulpo-defined":
    values.update({k.lower(): v for k, v in json.load(open(args[1]))})
    args = args[2:]
def get_octopusvariable(name):
    return values.get(name.lower(), "")
sys.argv = args
exec(compile(open(args[0]).read(), args[0], "exec"), globals())
`

func TestRunPythonScriptsGetThePythonBootstrapAndTheRunnersValues(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed: ", err)
	}
	f := newFixture(t)
	p := f.pkg(t, "1.0.0",
		file("Deploy.py", `import sys
print("Deploy.py: " + get_octopusvariable("Url") + " in " + get_octopusvariable("Octopus.Action.Package.InstallationDirectoryPath") + " as " + sys.argv[0])`),
	)
	m := f.manifest(p, "1.0.0")
	m.PythonBootstrap = testPythonBootstrap
	m.Scripts.PostDeploy = &InlineScript{Syntax: "python", Body: `print("inline: " + get_octopusvariable("octopus.action.package.installationdirectorypath"))`}
	out, err := run(t, m)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	folder := filepath.Join(f.apps, "Production", "app", "1.0.0")
	for _, line := range []string{"Deploy.py: https://prod.example.com in " + folder + " as " + filepath.Join(folder, "Deploy.py"), "inline: " + folder} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

package engine_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// An inline Python step gets Octopus's Python functions on the built-in
// worker: scoped values, any text exact, output variables a later bash
// step reads, masked secrets, artifacts, script modules, failstep and
// tracebacks that fail the step at the script's line.
func TestAnInlinePythonStepGetsOctopusFunctions(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed: ", err)
	}
	eachStore(t, func(t *testing.T, s *store.Store) {
		box, _ := secrets.New(secrets.NewKey())
		s.SetSealer(box)
		ctx := context.Background()
		const tricky = "it's \"quoted\" ''' \\ $HOME `id`\nsecond line\r\n\tü ✓ 🐙"
		f := setup(t, s, nil)
		err := s.Tx(ctx, func(q *store.Queries) error {
			vs, err := q.GetVariables(ctx, f.project.ID)
			if err != nil {
				return err
			}
			vs.Variables = append(vs.Variables, model.Variable{Name: "Tricky", Value: tricky},
				model.Variable{Name: "DbPassword", Value: "pa55-w0rd-x", Sensitive: true})
			if err := q.SaveVariables(ctx, &vs); err != nil {
				return err
			}
			return q.CreateScriptModule(ctx, &model.ScriptModule{Name: "helpers", Syntax: model.SyntaxPython,
				Body: "def shout(s):\n    return s.upper() + '!'\n"})
		})
		if err != nil {
			t.Fatal(err)
		}
		setSteps(t, s, f,
			python("Step A", `import helpers
print("greeting: " + get_octopusvariable("greeting"))
value = get_octopusvariable("TRICKY")
print("tricky " + ("exact" if value == `+engine.PyString(tricky)+` else "differs: %r" % value))
set_octopusvariable("Token", value)
set_octopusvariable("Secret", "s3cr3t-out", sensitive=True)
print("the password is " + get_octopusvariable("DbPassword"))
print(helpers.shout("module"))
with open("report.txt", "w") as f:
    f.write("report\n")
createartifact("report.txt", "the report.txt")
printhighlight("big news")
printwarning("careful")
updateprogress(50, "half way")
`, "helpers"),
			model.Step{Name: "Step B", Script: &model.ScriptAction{Syntax: model.SyntaxBash, Body: `
if [ "$(get_octopusvariable 'Octopus.Action[Step A].Output.Token')" = "$(get_octopusvariable Tricky)" ]; then echo "token exact"; fi
echo "secret: #{Octopus.Action[Step A].Output.Secret}"`}},
			python("Step C", `failstep("the database is not ready")`),
		)
		artifacts := t.TempDir()
		srv := newServer(t, s, t.TempDir(), func(c *engine.Config) { c.ArtifactsDir = artifacts })
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		log := logOf(t, s, d.TaskID)
		for _, want := range []string{"info greeting: hello dev\n", "info tricky exact\n", "info token exact\n",
			"info the password is ********\n", "info secret: ********\n", "info MODULE!\n",
			"highlight big news\n", "warning careful\n", "info Progress: 50% half way\n",
			"info Collected artifact the report.txt (7 bytes)\n", "error the database is not ready\n"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q", want)
			}
		}
		for _, leak := range []string{"pa55-w0rd-x", "s3cr3t-out", "##octopus"} {
			if strings.Contains(log, leak) {
				t.Errorf("log shows %q", leak)
			}
		}
		if !strings.Contains(task.Error, `step "Step C" failed`) || !strings.Contains(task.Error, "the database is not ready") {
			t.Errorf("task error %q", task.Error)
		}
		arts, err := s.Read().ListArtifacts(ctx, d.TaskID)
		if err != nil || len(arts) != 1 || arts[0].Name != "the report.txt" {
			t.Fatalf("artifacts %+v %v", arts, err)
		}
		if b, _ := os.ReadFile(filepath.Join(artifacts, arts[0].File)); string(b) != "report\n" {
			t.Fatalf("artifact content %q", b)
		}
		if t.Failed() {
			t.Log(log)
		}

		// An uncaught exception fails the step, showing the script's line.
		setSteps(t, s, f, python("Broken", "x = 1\n\ndef check():\n    raise ValueError('bad value')\n\ncheck()\n"))
		d = srv.deploy(srv.release(f, "1.0.1"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskFailed)
		log = logOf(t, s, d.TaskID)
		for _, want := range []string{`File "script.py", line 4, in check`, "ValueError: bad value"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, "bootstrap.py") {
			t.Errorf("the traceback shows the bootstrap:\n%s", log)
		}
	})
}

func python(name, body string, modules ...string) model.Step {
	return model.Step{Name: name, ScriptModules: modules, Script: &model.ScriptAction{Syntax: model.SyntaxPython, Body: body}}
}

// tarFiles is a package holding the given files.
func tarFiles(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, text := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(text))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(text))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Python scripts in packages get the Python bootstrap through the runner,
// with the values the runner learns (the installation folder); an inline
// Python step fetches the packages it refers to before it runs.
func TestPythonScriptsInPackagesGetTheFunctions(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed: ", err)
	}
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		folder := newFolderFeed(t, map[string][]byte{"app.1.0.0.tar.gz": tarFiles(t, map[string]string{
			"hello.txt": "v1.0",
			"Deploy.py": `print("Deploy.py sees " + get_octopusvariable("Greeting") + " in " + get_octopusvariable("Octopus.Action.Package.InstallationDirectoryPath"))
set_octopusvariable("FromPy", "yes")
`,
			"tools/check.py": `import sys, helpers
print("check.py sees " + get_octopusvariable("greeting") + " " + repr(sys.argv[1:]) + " " + helpers.shout("module"))
`,
		})})
		folder.versions["app"] = []string{"1.0.0"}
		resolver := feeds{"Feeds-1": {folder, model.Feed{ID: "Feeds-1", Name: "Artifacts", Type: model.FeedHTTP}}}
		f := setup(t, s, nil)
		err := s.Tx(ctx, func(q *store.Queries) error {
			feed := resolver["Feeds-1"].feed
			feed.ID, feed.URL = "", folder.srv.URL
			if err := q.CreateFeed(ctx, &feed); err != nil {
				return err
			}
			return q.CreateScriptModule(ctx, &model.ScriptModule{Name: "helpers", Syntax: model.SyntaxPython,
				Body: "def shout(s):\n    return s.upper() + '!'\n"})
		})
		if err != nil {
			t.Fatal(err)
		}
		setSteps(t, s, f,
			model.Step{Name: "Deploy app", Package: &model.PackageAction{PackageID: "app", FeedID: "Feeds-1",
				PostDeploy: &model.ScriptAction{Syntax: model.SyntaxPython,
					Body: `print("inline PostDeploy in " + get_octopusvariable("octopus.action.package.installationdirectorypath"))`}}},
			model.Step{Name: "Check", ScriptModules: []string{"helpers"}, Script: &model.ScriptAction{Syntax: model.SyntaxPython,
				FromPackage: &model.ScriptPackage{PackageID: "app", FeedID: "Feeds-1", File: "tools/check.py", Arguments: `a "b c"`}}},
			model.Step{Name: "Use refs", Script: &model.ScriptAction{Syntax: model.SyntaxPython,
				Body:     `print("tool says " + open(get_octopusvariable("Octopus.Action.Package[tool].ExtractedPath") + "/hello.txt").read())`,
				Packages: []model.PackageReference{{Name: "tool", PackageID: "app", FeedID: "Feeds-1", Acquisition: model.AcquireOnTarget, Extract: true}}}},
			script("Read output", `echo "from python: #{Octopus.Action[Deploy app].Output.FromPy}"`),
		)
		home := t.TempDir()
		srv := newServer(t, s, t.TempDir(), func(c *engine.Config) {
			worker, err := localtarget.New("built-in worker", home, "test", scriptsvc.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c.Worker, c.Feeds, c.FeedCacheDir = worker, resolver, t.TempDir()
		})
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		installed := filepath.Join(home, "apps", "Dev", "app", "1.0.0")
		for _, want := range []string{"info Deploy.py sees hello dev in " + installed + "\n", "info inline PostDeploy in " + installed + "\n",
			"info check.py sees hello dev ['a', 'b c'] MODULE!\n", "info tool says v1.0\n", "info from python: yes\n"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q", want)
			}
		}
		if t.Failed() {
			t.Log(log)
		}
	})
}

package server_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

const templateSecret = "tmpl-S3cret-Val!"

// TestStepTemplatesAcrossProjects: a template used by two projects is
// updated to version 2; one project moves (after a dry run shows the
// change), the other keeps version 1 until moved, as each deployment's log
// shows. The sensitive parameter is masked, sealed and never returned; a
// template in use cannot be deleted; a bash module's function is called.
func TestStepTemplatesAcrossProjects(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			url := ""
			if dialect == "postgres" {
				url = pg.Database(t)
			}
			stepTemplatesAcrossProjects(t, url)
		})
	}
}

func stepTemplatesAcrossProjects(t *testing.T, databaseURL string) {
	data := t.TempDir()
	cfg := server.Config{DataDir: data, DatabaseURL: databaseURL, AdminAPIKey: adminKey, NodeName: "test", Version: "test"}
	n, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := serve(t, n)
	ctx := context.Background()
	c := ts.client
	dev, err := c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateScriptModule(ctx, model.ScriptModule{Name: "greetings", Syntax: model.SyntaxBash,
		Body: "greet() {\n  echo \"module says hello to $1\"\n}\n"}); err != nil {
		t.Fatal(err)
	}
	v1 := model.StepTemplate{Name: "Announce", Description: "says what it is",
		Parameters: []model.StepTemplateParameter{
			{Name: "Greeting", Label: "Greeting", DefaultValue: "default-greeting-v1"},
			{Name: "Mode", Control: model.ControlSelect, Options: []string{"fast", "slow"}, DefaultValue: "fast"},
			{Name: "Token", Control: model.ControlSensitive, HelpText: "a secret"},
		},
		Script: &model.ScriptAction{Syntax: model.SyntaxBash,
			Body: "echo \"v1 body: #{Greeting} (#{Mode})\"\necho \"token: #{Token}\"\ngreet #{Octopus.Project.Name}\n"}}
	tmpl, err := c.CreateStepTemplate(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.Version != 1 || !strings.HasPrefix(tmpl.ID, "ActionTemplates-") {
		t.Fatalf("created: %+v", tmpl)
	}

	// Two projects use version 1: alpha gives its own greeting (a template
	// of a project variable), beta takes the default. Both have a project
	// variable called Greeting, which must not win over the parameter.
	projects := map[string]model.Project{}
	for _, name := range []string{"alpha", "beta"} {
		p, err := c.CreateProject(ctx, model.Project{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		projects[name] = p
		if _, err := c.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{
			{Name: "Greeting", Value: "project-variable-won"}, {Name: "Who", Value: "alpha-who"}}}); err != nil {
			t.Fatal(err)
		}
		params := map[string]string{"Token": templateSecret}
		if name == "alpha" {
			params["Greeting"] = "hi #{Who}"
		}
		// The action sent with a template ref is replaced by the template's.
		saved, err := c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Announce",
			Script:        &model.ScriptAction{Syntax: model.SyntaxBash, Body: "echo overwritten"},
			Template:      &model.StepTemplateRef{ID: tmpl.ID, Version: 1, Parameters: params},
			ScriptModules: []string{"greetings"}}}})
		if err != nil {
			t.Fatal(err)
		}
		s := saved.Steps[0]
		if s.Script == nil || !strings.Contains(s.Script.Body, "v1 body") || s.Template.Sensitive["Token"] != "" {
			t.Fatalf("saved step: %+v %+v", s.Script, s.Template)
		}
		if _, ok := s.Template.Sensitive["Token"]; !ok {
			t.Fatalf("the response does not say the sensitive value is set: %+v", s.Template)
		}
	}
	// Saving the process again without the secret keeps it.
	alphaProc, err := c.Process(ctx, projects["alpha"].ID)
	if err != nil {
		t.Fatal(err)
	}
	if alphaProc, err = c.SaveProcess(ctx, alphaProc); err != nil {
		t.Fatal(err)
	}

	// The variables preview of the step shows its parameters winning, the
	// secret masked.
	preview, err := c.PreviewVariables(ctx, projects["alpha"].ID, "", "", "Announce", "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]wire.PreviewVariable{}
	for _, pv := range preview {
		got[pv.Name] = pv
	}
	if got["Greeting"].Value != "hi alpha-who" || got["Mode"].Value != "fast" || got["Token"].Value != "********" || !got["Token"].Sensitive {
		t.Errorf("preview: %+v", got)
	}

	// Version 2: a new body, Mode gone, Extra added, Greeting's default changed.
	tmpl.Script.Body = "echo \"v2 body: #{Greeting} #{Extra}\"\necho \"token: #{Token}\"\ngreet v2\n"
	tmpl.Parameters = []model.StepTemplateParameter{
		{Name: "Greeting", DefaultValue: "default-greeting-v2"},
		{Name: "Extra", DefaultValue: "extra-default"},
		{Name: "Token", Control: model.ControlSensitive},
	}
	v2, err := c.UpdateStepTemplate(ctx, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 {
		t.Fatalf("the update made version %d", v2.Version)
	}
	// A stale version is refused.
	if _, err := c.UpdateStepTemplate(ctx, tmpl); err == nil || !strings.Contains(err.Error(), "changed since version 1") {
		t.Fatalf("stale update: %v", err)
	}
	versions, err := c.StepTemplateVersions(ctx, tmpl.ID)
	if err != nil || len(versions) != 2 || versions[1].Script.Body != v1.Script.Body {
		t.Fatalf("versions: %+v, %v", versions, err)
	}
	usage, err := c.StepTemplateUsage(ctx, tmpl.ID)
	if err != nil || len(usage) != 2 || !usage[0].Behind || !usage[1].Behind || usage[0].Version != 1 || usage[0].Latest != 2 {
		t.Fatalf("usage before the move: %+v, %v", usage, err)
	}

	// Dry run first: it shows the change and saves nothing.
	dry, err := c.UpdateStepTemplateOfStep(ctx, projects["alpha"].ID, "Announce", true)
	if err != nil {
		t.Fatal(err)
	}
	ch := dry.Change
	if ch.From != 1 || ch.To != 2 || !slices.Contains(ch.Fields, "script.body") || !slices.Equal(ch.ParametersAdded, []string{"Extra"}) ||
		!slices.Equal(ch.ParametersRemoved, []string{"Mode"}) || !slices.Equal(ch.DefaultsChanged, []string{"Greeting"}) {
		t.Fatalf("dry run: %+v", ch)
	}
	if after, _ := c.Process(ctx, projects["alpha"].ID); after.Version != alphaProc.Version || after.Steps[0].Template.Version != 1 {
		t.Fatalf("the dry run changed the process: %+v", after)
	}
	moved, err := c.UpdateStepTemplateOfStep(ctx, projects["alpha"].ID, "Announce", false)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Process.Version != alphaProc.Version+1 || moved.Process.Steps[0].Template.Version != 2 ||
		!strings.Contains(moved.Process.Steps[0].Script.Body, "v2 body") {
		t.Fatalf("moved: %+v", moved.Process)
	}
	events, err := c.Audit(ctx, client.AuditQuery{ProjectID: projects["alpha"].ID})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events.Items, func(e model.AuditEvent) bool { return strings.Contains(e.Summary, "step template version 2") }) {
		t.Errorf("no audit entry for the move: %+v", events.Items)
	}
	usage, _ = c.StepTemplateUsage(ctx, tmpl.ID)
	for _, u := range usage {
		if want := u.ProjectName == "beta"; u.Behind != want {
			t.Errorf("usage after moving alpha: %+v", u)
		}
	}

	// A template in use cannot be deleted, and says by whom.
	if err := c.DeleteStepTemplate(ctx, tmpl.ID); err == nil || !strings.Contains(err.Error(), "alpha") || !strings.Contains(err.Error(), "beta") {
		t.Fatalf("deleting a template in use: %v", err)
	}

	// Deploy both: alpha runs version 2, beta still version 1.
	logs := map[string]string{}
	releases := map[string]string{}
	for _, name := range []string{"alpha", "beta"} {
		rel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: projects[name].ID, Version: "1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		releases[name] = rel.ID
		d, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
		if err != nil {
			t.Fatal(err)
		}
		end := follow(t, ts, d.TaskID)
		log, err := c.TaskLog(ctx, d.TaskID, 0)
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		for _, l := range log.Lines {
			text.WriteString(l.Text + "\n")
		}
		logs[name] = text.String()
		if end.State != model.TaskSuccess {
			t.Fatalf("%s deployment: %+v\n%s", name, end, logs[name])
		}
		for _, path := range []string{"/api/v1/tasks/" + d.TaskID + "/log", "/api/v1/releases/" + rel.ID} {
			if _, _, raw := ts.call(t, "GET", path, "", nil); strings.Contains(string(raw), templateSecret) {
				t.Errorf("%s shows the secret", path)
			}
		}
	}
	for name, want := range map[string][]string{
		"alpha": {"v2 body: hi alpha-who extra-default", "token: ********", "module says hello to v2"},
		"beta":  {"v1 body: default-greeting-v1 (fast)", "token: ********", "module says hello to beta"},
	} {
		for _, w := range want {
			if !strings.Contains(logs[name], w) {
				t.Errorf("%s's log lacks %q:\n%s", name, w, logs[name])
			}
		}
		if strings.Contains(logs[name], templateSecret) || strings.Contains(logs[name], "project-variable-won") {
			t.Errorf("%s's log shows the secret or the project's Greeting:\n%s", name, logs[name])
		}
	}

	// Editing the module later does not change a release.
	mod, _ := c.FindScriptModule(ctx, "greetings")
	mod.Body = "greet() { echo changed module; }\n"
	if _, err := c.UpdateScriptModule(ctx, mod); err != nil {
		t.Fatal(err)
	}
	d, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: releases["beta"], EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, ts, d.TaskID)
	if log, _ := c.TaskLog(ctx, d.TaskID, 0); !slices.ContainsFunc(log.Lines, func(l model.LogLine) bool { return l.Text == "module says hello to beta" }) {
		t.Errorf("the release did not keep its module body: %+v", log.Lines)
	}

	// No API response holds the secret.
	for _, path := range []string{"/api/v1/projects/" + projects["alpha"].ID + "/process", "/api/v1/projects/" + projects["beta"].ID + "/process",
		"/api/v1/step-templates/" + tmpl.ID, "/api/v1/step-templates/" + tmpl.ID + "/versions", "/api/v1/releases?projectId=" + projects["beta"].ID,
		"/api/v1/audit", "/api/v1/export"} {
		if _, _, raw := ts.call(t, "GET", path, "", nil); strings.Contains(string(raw), templateSecret) {
			t.Errorf("%s shows the secret:\n%s", path, raw)
		}
	}
	ts.close()

	// The raw row holds the value sealed, which the master key opens.
	st, err := store.Open(ctx, store.Config{DatabaseURL: databaseURL, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The store reads the column as it is, sealed values untouched.
	stored, err := st.Read().GetProcess(ctx, projects["beta"].ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(stored)
	steps := stored.Steps
	if strings.Contains(string(raw), templateSecret) || steps[0].Template.Sensitive["Token"] == "" {
		t.Fatalf("the stored process: %s", raw)
	}
	if databaseURL == "" {
		files, _ := filepath.Glob(filepath.Join(data, "pulpo.db*"))
		for _, f := range files {
			if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(templateSecret)) {
				t.Errorf("%s holds the secret in the clear", f)
			}
		}
	}
	keyText, _ := os.ReadFile(filepath.Join(data, "master.key"))
	key, err := secrets.ParseKey(strings.TrimSpace(string(keyText)))
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secrets.New(key)
	if plain, err := box.Open(steps[0].Template.Sensitive["Token"]); err != nil || string(plain) != templateSecret {
		t.Fatalf("the sealed value opens to %q, %v", plain, err)
	}
}

// TestStepTemplateValidation: mistakes are 400s that say what to fix.
func TestStepTemplateValidation(t *testing.T) {
	ts := start(t, "")
	ctx := context.Background()
	c := ts.client
	tmpl, err := c.CreateStepTemplate(ctx, model.StepTemplate{Name: "Ok", Parameters: []model.StepTemplateParameter{{Name: "A"}},
		Script: &model.ScriptAction{Body: "echo #{A}"}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.CreateProject(ctx, model.Project{Name: "p"})
	for _, tc := range []struct {
		name, method, path, body string
		want                     []string
	}{
		{"bad parameters", "POST", "/api/v1/step-templates",
			`{"name":"T","parameters":[{"name":"A"},{"name":"a"},{"name":"1x"},{"name":"S","control":"sensitive","defaultValue":"pw"},{"name":"C","control":"dial"},{"name":"Sel","control":"select"}],"script":{"body":"echo"}}`,
			[]string{`another parameter is already called "a"`, `"1x" is not a variable name`, "a sensitive parameter has no default", `"dial" is not a control`, "a select needs the options"}},
		{"no action", "POST", "/api/v1/step-templates", `{"name":"T2"}`, []string{"says nothing to do"}},
		{"bad template", "POST", "/api/v1/step-templates", `{"name":"T3","script":{"body":"echo #{if x}"}}`, []string{"script.body"}},
		{"unknown parameter", "PUT", "/api/v1/projects/" + p.ID + "/process",
			`{"steps":[{"name":"s","template":{"id":"` + tmpl.ID + `","version":1,"parameters":{"Nope":"x"}}}]}`, []string{`has no parameter "Nope"`}},
		{"missing version", "PUT", "/api/v1/projects/" + p.ID + "/process",
			`{"steps":[{"name":"s","template":{"id":"` + tmpl.ID + `","version":9}}]}`, []string{"has no version 9"}},
		{"missing module", "PUT", "/api/v1/projects/" + p.ID + "/process",
			`{"steps":[{"name":"s","script":{"body":"echo"},"scriptModules":["nowhere"]}]}`, []string{`script module "nowhere" does not exist`}},
		{"bad module", "POST", "/api/v1/script-modules", `{"name":"a-b","syntax":"perl","body":""}`,
			[]string{`"a-b" is not a module name`, `"perl" is not a module syntax`, "body: is required"}},
		{"update not from a template", "POST", "/api/v1/projects/" + p.ID + "/process/steps/nothing/update-template", ``, []string{"was not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, eb, raw := ts.call(t, tc.method, tc.path, tc.body, map[string]string{"Content-Type": "application/json"})
			want := http.StatusBadRequest
			if tc.name == "update not from a template" {
				want = http.StatusNotFound
			}
			if status != want {
				t.Fatalf("status %d, want %d: %s", status, want, raw)
			}
			all := eb.Error + " " + strings.Join(eb.Details, " ")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("the error lacks %q: %s", w, raw)
				}
			}
		})
	}
}

// TestScriptModulesInPackagedScripts: a .py script kept in a package
// imports a python module the step includes; a .sh script kept in a
// package and a package step's Deploy script call a bash module's function.
func TestScriptModulesInPackagedScripts(t *testing.T) {
	ts := start(t, "")
	ctx := context.Background()
	c := ts.client
	dev, _ := c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if _, err := c.CreateScriptModule(ctx, model.ScriptModule{Name: "helpers", Syntax: model.SyntaxPython,
		Body: "def shout(s):\n    return s.upper() + '!'\n"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateScriptModule(ctx, model.ScriptModule{Name: "shell", Body: "twice() { echo \"$1 $1\"; }\n"}); err != nil {
		t.Fatal(err)
	}
	pkg := tarGz(t, map[string]string{"run.py": "import helpers\nprint(helpers.shout('python module works'))\n",
		"run.sh": "twice packaged-sh\n"})
	if _, err := c.PushPackage(ctx, "pyscripts.1.0.0.tar.gz", bytes.NewReader(pkg), int64(len(pkg)), client.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	p, _ := c.CreateProject(ctx, model.Project{Name: "py"})
	if _, err := c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Run",
		Script:        &model.ScriptAction{FromPackage: &model.ScriptPackage{PackageID: "pyscripts", File: "run.py"}},
		ScriptModules: []string{"helpers"}}, {Name: "Shell",
		Script:        &model.ScriptAction{FromPackage: &model.ScriptPackage{PackageID: "pyscripts", File: "run.sh"}},
		ScriptModules: []string{"shell"}}, {Name: "Install",
		Package:       &model.PackageAction{PackageID: "pyscripts", Deploy: &model.ScriptAction{Body: "twice package-deploy"}},
		ScriptModules: []string{"shell", "helpers"}}}}); err != nil {
		t.Fatal(err)
	}
	rel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	end := follow(t, ts, d.TaskID)
	log, _ := c.TaskLog(ctx, d.TaskID, 0)
	for _, want := range []string{"PYTHON MODULE WORKS!", "packaged-sh packaged-sh", "package-deploy package-deploy"} {
		if !slices.ContainsFunc(log.Lines, func(l model.LogLine) bool { return l.Text == want }) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if end.State != model.TaskSuccess || t.Failed() {
		t.Fatalf("deployment %s: %+v", end.State, log.Lines)
	}
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// TestRunbookStepsFromTemplates: a runbook step made from a template runs
// its version with the secret masked, shows in the template's usage, keeps
// the template from being deleted, and moves to a new version like a
// project's step; no runbook response shows the secret.
func TestRunbookStepsFromTemplates(t *testing.T) {
	ts := start(t, "")
	ctx := context.Background()
	c := ts.client
	dev, _ := c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	tmpl, err := c.CreateStepTemplate(ctx, model.StepTemplate{Name: "Rotate", Parameters: []model.StepTemplateParameter{{Name: "Key", Control: model.ControlSensitive}},
		Script: &model.ScriptAction{Body: `echo "rotate v1 #{Key}"`}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.CreateProject(ctx, model.Project{Name: "ops"})
	rb, err := c.CreateRunbook(ctx, model.Runbook{ProjectID: p.ID, Name: "Rotate keys", Steps: []model.Step{{Name: "Rotate",
		Template: &model.StepTemplateRef{ID: tmpl.ID, Version: 1, Parameters: map[string]string{"Key": templateSecret}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rb.Steps[0].Template.Sensitive["Key"]; !ok || rb.Steps[0].Template.Sensitive["Key"] != "" {
		t.Fatalf("the created runbook's step: %+v", rb.Steps[0].Template)
	}
	// Saving it back as read keeps the secret.
	if rb, err = c.UpdateRunbook(ctx, rb); err != nil {
		t.Fatal(err)
	}
	usage, err := c.StepTemplateUsage(ctx, tmpl.ID)
	if err != nil || len(usage) != 1 || usage[0].RunbookID != rb.ID || usage[0].ProjectName != "ops" {
		t.Fatalf("usage: %+v, %v", usage, err)
	}
	if err := c.DeleteStepTemplate(ctx, tmpl.ID); err == nil || !strings.Contains(err.Error(), "runbook Rotate keys") {
		t.Fatalf("deleting a template a runbook uses: %v", err)
	}
	run := func(want string) {
		t.Helper()
		if _, err := c.PublishRunbook(ctx, rb.ID); err != nil {
			t.Fatal(err)
		}
		d, err := c.RunRunbook(ctx, rb.ID, wire.RunRunbookRequest{EnvironmentID: dev.ID})
		if err != nil {
			t.Fatal(err)
		}
		follow(t, ts, d.TaskID)
		log, _ := c.TaskLog(ctx, d.TaskID, 0)
		if !slices.ContainsFunc(log.Lines, func(l model.LogLine) bool { return l.Text == want }) {
			t.Fatalf("the run's log lacks %q: %+v", want, log.Lines)
		}
	}
	run("rotate v1 ********")
	tmpl.Script.Body = `echo "rotate v2 #{Key}"`
	if _, err := c.UpdateStepTemplate(ctx, tmpl); err != nil {
		t.Fatal(err)
	}
	dry, err := c.UpdateStepTemplateOfRunbookStep(ctx, rb.ID, "Rotate", true)
	if err != nil || !slices.Equal(dry.Change.Fields, []string{"script.body"}) || dry.Process.Steps[0].Template.Version != 1 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if _, err := c.UpdateStepTemplateOfRunbookStep(ctx, rb.ID, "Rotate", false); err != nil {
		t.Fatal(err)
	}
	run("rotate v2 ********")
	for _, path := range []string{"/api/v1/runbooks/" + rb.ID, "/api/v1/runbooks?projectId=" + p.ID, "/api/v1/audit", "/api/v1/runbooks/" + rb.ID + "/runs"} {
		if _, _, raw := ts.call(t, "GET", path, "", nil); strings.Contains(string(raw), templateSecret) {
			t.Errorf("%s shows the secret:\n%s", path, raw)
		}
	}
}

package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

const secretValue = "s3cr3t-Pa55w0rd!"

// TestSensitiveVariablesStaySecret: write-only through the API, sealed in
// the database, masked in the task log however the script prints them.
func TestSensitiveVariablesStaySecret(t *testing.T) {
	data := t.TempDir()
	n, err := server.New(context.Background(), server.Config{DataDir: data, AdminAPIKey: adminKey, NodeName: "test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ts := serve(t, n)
	ctx := context.Background()
	c := ts.client
	dev, _ := c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	p, _ := c.CreateProject(ctx, model.Project{Name: "vault"})
	if _, err := c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Leak", Script: &model.ScriptAction{Syntax: "bash",
		Body: `echo "plain: #{DbPassword}"; echo "b64: $(printf '%s' '#{DbPassword}' | base64)"; echo "user: #{DbUser}"; echo "#{DbPassword}" >&2; exit 4`}}}}); err != nil {
		t.Fatal(err)
	}
	vs, err := c.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{
		{Name: "DbPassword", Value: secretValue, Sensitive: true},
		{Name: "DbUser", Value: "app"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if vs.Variables[0].Value != "" || !vs.Variables[0].Sensitive {
		t.Fatalf("the save response shows the secret: %+v", vs.Variables[0])
	}
	// Saving again without the value keeps it; a new sensitive value needs one.
	vs.Variables[1].Value = "app2"
	if vs, err = c.SaveVariables(ctx, vs); err != nil {
		t.Fatal(err)
	}
	_, err = c.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Version: vs.Version, Variables: append(vs.Variables,
		model.Variable{Name: "ApiKey", Sensitive: true})})
	if err == nil || !strings.Contains(err.Error(), "variables is invalid") {
		t.Fatalf("a new sensitive value without a value: %v", err)
	}

	rel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	var end model.Task
	c.FollowLog(ctx, d.TaskID, 0, func(ev client.Event) error {
		if ev.Kind == "end" {
			end = ev.Task
		}
		return nil
	})
	log, err := c.TaskLog(ctx, d.TaskID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, l := range log.Lines {
		text.WriteString(l.Text + "\n")
	}
	for _, want := range []string{"plain: ********", "b64: ********", "user: app2"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, text.String())
		}
	}
	if end.State != model.TaskFailed {
		t.Fatalf("the script exits 4; task %+v", end)
	}

	// Nothing the API returns holds the secret.
	for _, path := range []string{"/api/v1/projects/" + p.ID + "/variables", "/api/v1/releases/" + rel.ID, "/api/v1/releases?projectId=" + p.ID,
		"/api/v1/projects/" + p.ID + "/releases", "/api/v1/projects/" + p.ID + "/releases/1.0.0", "/api/v1/export", "/api/v1/tasks/" + d.TaskID + "/log",
		"/api/v1/tasks/" + d.TaskID} {
		_, _, raw := ts.call(t, "GET", path, "", nil)
		if strings.Contains(string(raw), secretValue) {
			t.Errorf("%s shows the secret:\n%s", path, raw)
		}
	}
	ts.close()
	dbFiles, _ := filepath.Glob(filepath.Join(data, "pulpo.db*"))
	if len(dbFiles) == 0 {
		t.Fatal("no database files to look into")
	}
	for _, path := range dbFiles {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), secretValue) {
			t.Errorf("%s holds the secret in the clear", path)
		}
	}
}

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

func TestRotatingTheMasterKeyKeepsEverySecret(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			url := ""
			if dialect == "postgres" {
				url = pg.Database(t)
			}
			rotateAndCheck(t, url)
		})
	}
}

func rotateAndCheck(t *testing.T, databaseURL string) {
	data := t.TempDir()
	cfg := server.Config{DataDir: data, DatabaseURL: databaseURL, AdminAPIKey: adminKey, NodeName: "test", Version: "test"}
	n, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := serve(t, n)
	ctx := context.Background()
	c := ts.client
	dev, _ := c.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	p, _ := c.CreateProject(ctx, model.Project{Name: "vault"})
	c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Show", Script: &model.ScriptAction{Syntax: "bash", Body: `echo "len ${#A}"; [ "#{Secret}" = "rotate-me-please" ] && echo same`}}}})
	if _, err := c.SaveVariables(ctx, model.VariableSet{OwnerID: p.ID, Variables: []model.Variable{{Name: "Secret", Value: "rotate-me-please", Sensitive: true}}}); err != nil {
		t.Fatal(err)
	}
	c.CreateMachine(ctx, model.Machine{Name: "db", Kind: model.MachineSSH, Usage: model.UsageTarget, Address: "db:22",
		SSH: &model.SSHEndpoint{User: "u", HostKeyFingerprint: "SHA256:x"}, Credentials: &model.SSHCredentials{Password: "pw-secret"},
		EnvironmentIDs: []string{dev.ID}, Roles: []string{"db"}})
	rel, _ := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.0.0"})
	ts.close()
	oldKey, _ := os.ReadFile(filepath.Join(data, "master.key"))

	newKey, count, err := server.RotateMasterKey(ctx, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if count < 5 { // key check, server key, machine, project variable, release snapshot
		t.Fatalf("re-sealed only %d secrets", count)
	}
	if cur, _ := os.ReadFile(filepath.Join(data, "master.key")); strings.TrimSpace(string(cur)) != newKey || string(cur) == string(oldKey) {
		t.Fatal("master.key does not hold the new key")
	}

	// The server starts with the new key and the secret still works.
	n, err = server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts = serve(t, n)
	d, err := ts.client.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	end := follow(t, ts, d.TaskID)
	if end.State != model.TaskSuccess {
		t.Fatalf("deployment after rotation: %+v", end)
	}
	log, _ := ts.client.TaskLog(ctx, d.TaskID, 0)
	found := false
	for _, l := range log.Lines {
		found = found || l.Text == "same"
	}
	if !found {
		t.Fatalf("the secret did not survive the rotation: %+v", log.Lines)
	}
	ts.close()

	// The old key no longer opens the database.
	_, err = server.New(ctx, server.Config{DataDir: data, DatabaseURL: databaseURL, MasterKey: strings.TrimSpace(string(oldKey)), NodeName: "test", Version: "test"})
	if err == nil || !strings.Contains(err.Error(), "not the one this database was made with") {
		t.Fatalf("the old key: %v", err)
	}
}

// follow waits for a task to end through its live log and returns it.
func follow(t *testing.T, ts *testServer, taskID string) model.Task {
	t.Helper()
	var end model.Task
	if err := ts.client.FollowLog(context.Background(), taskID, 0, func(ev client.Event) error {
		if ev.Kind == "end" {
			end = ev.Task
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return end
}

package server_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/client"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/store"
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
	// A sensitive parameter of a step made from a step template, sealed in
	// the process and in the release snapshot.
	tmpl, err := c.CreateStepTemplate(ctx, model.StepTemplate{Name: "Check", Parameters: []model.StepTemplateParameter{{Name: "Pw", Control: model.ControlSensitive}},
		Script: &model.ScriptAction{Body: `[ "#{Pw}" = "template-secret" ] && echo tsame`}})
	if err != nil {
		t.Fatal(err)
	}
	templated, _ := c.CreateProject(ctx, model.Project{Name: "templated"})
	if _, err := c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: templated.ID, Steps: []model.Step{{Name: "Check",
		Template: &model.StepTemplateRef{ID: tmpl.ID, Version: 1, Parameters: map[string]string{"Pw": "template-secret"}}}}}); err != nil {
		t.Fatal(err)
	}
	templatedRel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: templated.ID, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}

	// A webhook's signing secret, from a subscription nothing triggers
	// (only the test's own ping below).
	sub, err := c.CreateSubscription(ctx, model.Subscription{Name: "hook", Events: []model.EventKind{model.EventMachineUnhealthy},
		WebhookURL: "http://127.0.0.1:1/hook", Secret: "hook-secret"})
	if err != nil {
		t.Fatal(err)
	}
	// An external feed's password.
	if _, err := c.CreateFeed(ctx, model.Feed{Name: "Nexus", Type: model.FeedMaven, URL: "https://nexus.example.com/repository/releases/",
		Username: "ci", Password: "feed-password"}); err != nil {
		t.Fatal(err)
	}
	// A staging template's sensitive default and a staging's sensitive
	// override.
	if _, err := c.SaveStagingTemplate(ctx, model.StagingTemplate{ProjectID: p.ID,
		Scripts:       model.StagingScripts{Create: "echo created", Update: "echo updated", Archive: "echo archived", Cleanup: "echo removed"},
		Defaults:      model.StagingConfig{App: map[string]string{"password": "default-pw", "replicas": "1"}},
		SensitiveKeys: []string{"app.password", "app.token"}}); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateStaging(ctx, wire.StagingRequest{ProjectID: p.ID, Name: "feature-1", Set: map[string]string{"app.token": "override-token"}})
	if err != nil {
		t.Fatal(err)
	}
	if end := follow(t, ts, created.TaskID); end.State != model.TaskSuccess {
		t.Fatalf("staging create: %+v", end)
	}
	// A value a parent deployment passes down to its child, sealed in the
	// child deployment's options.
	parent, _ := c.CreateProject(ctx, model.Project{Name: "parent"})
	if _, err := c.SaveVariables(ctx, model.VariableSet{OwnerID: parent.ID, Variables: []model.Variable{{Name: "Handed", Value: "handed-down", Sensitive: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SaveProcess(ctx, model.DeploymentProcess{ProjectID: parent.ID, Steps: []model.Step{{Name: "Vault",
		DeployRelease: &model.DeployReleaseAction{ProjectID: p.ID, Variables: map[string]string{"FromParent": "#{Handed}"}}}}}); err != nil {
		t.Fatal(err)
	}
	parentRel, err := c.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: parent.ID, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	pd, err := c.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: parentRel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	if end := follow(t, ts, pd.TaskID); end.State != model.TaskSuccess {
		t.Fatalf("parent deployment: %+v", end)
	}
	children, err := c.Deployments(ctx, client.ListOptions{Filters: map[string]string{"projectId": p.ID}})
	if err != nil || len(children.Items) != 1 {
		t.Fatalf("the child deployment: %+v, %v", children, err)
	}
	child := children.Items[0].ID
	certID := uploadForRotation(t, c)
	ts.close()
	oldKey, _ := os.ReadFile(filepath.Join(data, "master.key"))

	newKey, count, err := server.RotateMasterKey(ctx, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	// key check, server key, machine, project variable, release snapshot,
	// webhook secret, feed password, staging default and override, the
	// parent's variable and its snapshot, the value passed to the child,
	// the certificate and the backup its replace kept, the template
	// parameter in a process and a release
	if count < 16 {
		t.Fatalf("re-sealed only %d secrets", count)
	}
	if cur, _ := os.ReadFile(filepath.Join(data, "master.key")); strings.TrimSpace(string(cur)) != newKey || string(cur) == string(oldKey) {
		t.Fatal("master.key does not hold the new key")
	}
	checkResealed(t, cfg, strings.TrimSpace(string(oldKey)), newKey, sub.ID, p.ID, child)
	checkCertificateResealed(t, cfg, strings.TrimSpace(string(oldKey)), newKey, certID)

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
	d, err = ts.client.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: templatedRel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, ts, d.TaskID)
	log, _ = ts.client.TaskLog(ctx, d.TaskID, 0)
	if !slices.ContainsFunc(log.Lines, func(l model.LogLine) bool { return l.Text == "tsame" }) {
		t.Fatalf("the template parameter did not survive the rotation: %+v", log.Lines)
	}
	ts.close()

	// The old key no longer opens the database.
	_, err = server.New(ctx, server.Config{DataDir: data, DatabaseURL: databaseURL, MasterKey: strings.TrimSpace(string(oldKey)), NodeName: "test", Version: "test"})
	if err == nil || !strings.Contains(err.Error(), "not the one this database was made with") {
		t.Fatalf("the old key: %v", err)
	}
}

// checkResealed opens, with the new key and not with the old one, the
// secrets stored outside variables: a webhook's signing secret, a feed's
// password, a staging
// template's sensitive default and a staging's sensitive override, and the
// value a parent deployment passed to its child.
func checkResealed(t *testing.T, cfg server.Config, oldKey, newKey, subscriptionID, projectID, childDeploymentID string) {
	t.Helper()
	ctx := context.Background()
	box := func(text string) *secrets.Box {
		k, err := secrets.ParseKey(text)
		if err != nil {
			t.Fatal(err)
		}
		b, err := secrets.New(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	oldBox, newBox := box(oldKey), box(newKey)
	st, err := store.Open(ctx, store.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q := st.Read()

	opens := func(what, sealed, want string) {
		t.Helper()
		if got, err := newBox.Open(sealed); err != nil || string(got) != want {
			t.Errorf("%s with the new key: %q, %v; want %q", what, got, err, want)
		}
		if _, err := oldBox.Open(sealed); err == nil {
			t.Errorf("%s still opens with the old key", what)
		}
	}
	tmpl, err := q.GetStagingTemplate(ctx, projectID)
	if err != nil {
		t.Fatal(err)
	}
	opens("the staging template's default", tmpl.Defaults.App["password"], "default-pw")
	if tmpl.Defaults.App["replicas"] != "1" {
		t.Errorf("a default that is not sensitive changed: %q", tmpl.Defaults.App["replicas"])
	}
	staging, err := q.GetStagingByName(ctx, projectID, "feature-1")
	if err != nil {
		t.Fatal(err)
	}
	if o := staging.Overrides.App["token"]; o == nil {
		t.Errorf("the staging lost its override: %+v", staging.Overrides)
	} else {
		opens("the staging's override", *o, "override-token")
	}
	d, err := q.GetDeployment(ctx, childDeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.ParentVariables) != 1 {
		t.Fatalf("the child deployment's values from its parent: %+v", d.ParentVariables)
	}
	opens("the value the parent passed down", d.ParentVariables[0].Value, "handed-down")

	// The feed's password opens with the new key only.
	st.SetSealer(newBox)
	if _, pw, err := st.Read().FeedWithPassword(ctx, "Nexus"); pw != "feed-password" || err != nil {
		t.Errorf("the feed's password with the new key: %q, %v", pw, err)
	}
	st.SetSealer(oldBox)
	if _, _, err := st.Read().FeedWithPassword(ctx, "Nexus"); err == nil {
		t.Error("the feed's password still opens with the old key")
	}

	// The webhook's secret is read, opened, only to sign a delivery.
	claimSecret := func(b *secrets.Box) (string, error) {
		st.SetSealer(b)
		secret := ""
		err := st.Tx(ctx, func(q *store.Queries) error {
			if _, err := q.EnqueuePing(ctx, subscriptionID); err != nil {
				return err
			}
			due, err := q.ClaimDueDeliveries(ctx, 100, time.Now().Add(time.Hour))
			if err != nil {
				return err
			}
			for _, d := range due {
				if d.SubscriptionID == subscriptionID {
					secret = d.Secret
				}
			}
			return errors.New("rolled back") // leave the database as it was
		})
		return secret, err
	}
	if secret, err := claimSecret(newBox); secret != "hook-secret" {
		t.Errorf("the webhook secret with the new key: %q, %v", secret, err)
	}
	if _, err := claimSecret(oldBox); err == nil || !strings.Contains(err.Error(), "open the secret") {
		t.Errorf("the webhook secret with the old key: %v", err)
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

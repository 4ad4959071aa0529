package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/notify"
	"github.com/pulpo-deploy/pulpo/internal/server"
	"github.com/pulpo-deploy/pulpo/internal/testutil/smtptest"
	"github.com/pulpo-deploy/pulpo/internal/wire"
)

// deployEmailStep saves a process whose one step mails ops, deploys it to
// Dev and returns the finished task and its log.
func deployEmailStep(t *testing.T, s *testServer) (model.Task, string) {
	t.Helper()
	ctx := context.Background()
	dev, err := s.client.CreateEnvironment(ctx, model.Environment{Name: "Dev"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.client.CreateProject(ctx, model.Project{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.SaveProcess(ctx, model.DeploymentProcess{ProjectID: p.ID, Steps: []model.Step{{Name: "Mail",
		Email: &model.EmailAction{To: []string{"ops@example.com"}, Subject: "#{Octopus.Project.Name} #{Octopus.Release.Number} in #{Octopus.Environment.Name}"}}}}); err != nil {
		t.Fatal(err)
	}
	rel, err := s.client.CreateRelease(ctx, wire.CreateReleaseRequest{ProjectID: p.ID, Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.client.Deploy(ctx, wire.CreateDeploymentRequest{ReleaseID: rel.ID, EnvironmentID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	var task model.Task
	waitFor(t, "the deployment", 30*time.Second, func() bool {
		task, err = s.client.Task(ctx, d.TaskID)
		return err == nil && task.State.Finished()
	})
	log, err := s.client.TaskLog(ctx, d.TaskID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range log.Lines {
		b.WriteString(l.Text + "\n")
	}
	return task, b.String()
}

// The server gives email steps its SMTP server; without one, the step
// fails saying how to give it one. The API refuses a step that is wrong.
func TestEmailStepsGoThroughTheServersSMTPServer(t *testing.T) {
	t.Run("with SMTP", func(t *testing.T) {
		box := smtptest.Start(t)
		n, err := server.New(context.Background(), server.Config{DataDir: t.TempDir(), AdminAPIKey: adminKey, NodeName: "test", Version: "test",
			SMTP: &notify.Mailer{Addr: box.Addr, From: "pulpo@example.com", Timeout: 10 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		s := serve(t, n)
		task, log := deployEmailStep(t, s)
		if task.State != model.TaskSuccess || !strings.Contains(log, `Sent email "web 1.2.3 in Dev" to 1 recipient`) {
			t.Fatalf("task %s (%s)\n%s", task.State, task.Error, log)
		}
		if mail := box.Received(); len(mail) != 1 || !strings.Contains(mail[0].Data, "Subject: web 1.2.3 in Dev\r\n") || !strings.Contains(mail[0].Data, "From: pulpo@example.com\r\n") {
			t.Fatalf("mail: %+v", mail)
		}
		for _, tt := range []struct{ body, want string }{
			{`{"projectId":"Projects-1","version":2,"steps":[{"name":"M","email":{"to":["not an address"],"subject":"S"}}]}`, `steps[0].email.to[0]: \"not an address\" is not an email address`},
			{`{"projectId":"Projects-1","version":2,"steps":[{"name":"M","email":{"toTeams":["Nobody"],"subject":"S"}}]}`, `steps[0].email.toTeams: team \"Nobody\" does not exist`},
			{`{"projectId":"Projects-1","version":2,"steps":[{"name":"M","email":{"to":["a@example.com"]}}]}`, `steps[0].email.subject: is required`},
		} {
			status, _, raw := s.call(t, "PUT", "/api/v1/projects/Projects-1/process", tt.body, nil)
			if status != 400 || !strings.Contains(string(raw), tt.want) {
				t.Errorf("%s: %d %s", tt.body, status, raw)
			}
		}
	})
	t.Run("without SMTP", func(t *testing.T) {
		task, log := deployEmailStep(t, start(t, ""))
		if task.State != model.TaskFailed || !strings.Contains(task.Error, "start it with --smtp-host and --smtp-from") || !strings.Contains(log, "no SMTP server") {
			t.Fatalf("task %s (%s)\n%s", task.State, task.Error, log)
		}
	})
}

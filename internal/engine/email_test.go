package engine_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/notify"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/testutil/smtptest"
)

// startMailbox serves SMTP on a free loopback port and returns the mailer
// the server would wire to it.
func startMailbox(t *testing.T) (*smtptest.Server, engine.Mail) {
	t.Helper()
	box := smtptest.Start(t)
	return box, stepMail{&notify.Mailer{Addr: box.Addr, From: "pulpo@example.com", Timeout: 10 * time.Second}}
}

// stepMail is the server's wiring of the mailer to the engine.
type stepMail struct{ m *notify.Mailer }

func (s stepMail) SendMail(ctx context.Context, m engine.MailMessage) error {
	return s.m.SendMessage(ctx, notify.Message{To: m.To, Cc: m.Cc, Bcc: m.Bcc, Subject: m.Subject, Body: m.Body, HTML: m.HTML})
}

// addEmailSteps creates team Ops (two members with addresses, one
// without) and appends steps to the project's process.
func addEmailSteps(t *testing.T, s *store.Store, f fixture, steps ...model.Step) {
	t.Helper()
	ctx := context.Background()
	err := s.Tx(ctx, func(q *store.Queries) error {
		team := model.Team{Name: "Ops"}
		for _, u := range []model.User{{Username: "ann", EmailAddress: "ann@example.com"}, {Username: "bob", EmailAddress: "bob@example.com"}, {Username: "cid"}} {
			if err := q.CreateUser(ctx, &u); err != nil {
				return err
			}
			team.MemberIDs = append(team.MemberIDs, u.ID)
		}
		if err := q.CreateTeam(ctx, &team); err != nil {
			return err
		}
		proc, err := q.GetProcess(ctx, f.project.ID)
		if err != nil {
			return err
		}
		proc.Steps = append(proc.Steps, steps...)
		return q.SaveProcess(ctx, &proc)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// parsed reads a received mail: its headers and decoded body.
func parsed(t *testing.T, m smtptest.Mail) (mail.Header, string, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatalf("not a mail message: %v\n%s", err, m.Data)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return msg.Header, subject, strings.TrimRight(string(body), "\r\n")
}

var (
	releaseMail = model.Step{Name: "Tell stakeholders", Email: &model.EmailAction{
		To: []string{"#{Owner}"}, ToTeams: []string{"ops"}, Cc: []string{"Lead <lead@example.com>"}, Bcc: []string{"audit@example.com"},
		Subject: "Déployé: #{Octopus.Project.Name} #{Octopus.Release.Number} → #{Octopus.Environment.Name}",
		Body:    "<p>#{Octopus.Release.Notes}</p><p>Token #{Token}</p>", IsHTML: true}}
	failureMail = model.Step{Name: "Tell ops", Condition: model.ConditionFailure, Email: &model.EmailAction{
		To: []string{"ops@example.com"}, Subject: "#{Octopus.Project.Name} failed in #{Octopus.Environment.Name}",
		Body: "Error: #{Octopus.Deployment.Error}\nDetail: #{Octopus.Deployment.ErrorDetail}\n" +
			"#{each step in Octopus.Step}#{step}: #{step.Status.Code}#{if step.Status.Error} (#{step.Status.Error})#{/if}\n#{/each}"}}
)

func addVariables(t *testing.T, s *store.Store, f fixture, vs ...model.Variable) {
	t.Helper()
	ctx := context.Background()
	err := s.Tx(ctx, func(q *store.Queries) error {
		set, err := q.GetVariables(ctx, f.project.ID)
		if err != nil {
			return err
		}
		set.Variables = append(set.Variables, vs...)
		return q.SaveVariables(ctx, &set)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAnEmailStepMailsTheRenderedMessageAfterADeployment(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		box, err := secrets.New(secrets.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		s.SetSealer(box)
		f := setup(t, s, twoPhases(), "echo built")
		ifFailed := failureMail
		ifFailed.Name, ifFailed.Condition, ifFailed.ConditionExpression = "Tell ops if anything failed", model.ConditionVariable, "#{if Octopus.Deployment.Error}true#{/if}"
		addEmailSteps(t, s, f, releaseMail, failureMail, ifFailed)
		addVariables(t, s, f, model.Variable{Name: "Owner", Value: "owner@example.com"},
			model.Variable{Name: "Token", Value: "tok-s3cret", Sensitive: true})
		mbox, mailer := startMailbox(t)
		srv := newServer(t, s, t.TempDir(), func(c *engine.Config) { c.Mail = mailer })
		r := model.Release{ProjectID: f.project.ID, Version: "1.4.0", Notes: "Fixes the cart"}
		if _, err := srv.engine.CreateRelease(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
		d := srv.deploy(r, f.envs["Dev"])
		waitTask(t, s, d.TaskID, model.TaskSuccess)
		log := logOf(t, s, d.TaskID)
		got := mbox.Received()
		if len(got) != 1 {
			t.Fatalf("%d mails, want 1 (the failure mail is skipped)\n%s", len(got), log)
		}
		slices.Sort(got[0].To)
		if want := []string{"ann@example.com", "audit@example.com", "bob@example.com", "lead@example.com", "owner@example.com"}; !slices.Equal(got[0].To, want) {
			t.Errorf("recipients %v, want %v", got[0].To, want)
		}
		h, subject, body := parsed(t, got[0])
		if subject != "Déployé: web 1.4.0 → Dev" || !strings.HasPrefix(h.Get("Subject"), "=?utf-8?q?") {
			t.Errorf("subject %q (header %q)", subject, h.Get("Subject"))
		}
		if body != "<p>Fixes the cart</p><p>Token tok-s3cret</p>" {
			t.Errorf("body %q", body)
		}
		if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("content type %q", ct)
		}
		if to := h.Get("To"); to != "<owner@example.com>, <ann@example.com>, <bob@example.com>" {
			t.Errorf("To %q", to)
		}
		if cc := h.Get("Cc"); cc != "<lead@example.com>" {
			t.Errorf("Cc %q", cc)
		}
		if strings.Contains(strings.ToLower(got[0].Data), "bcc") || strings.Contains(got[0].Data, "audit@") {
			t.Errorf("the Bcc address is in the message:\n%s", got[0].Data)
		}
		if h.Get("Date") == "" || !strings.HasSuffix(h.Get("Message-ID"), "@example.com>") {
			t.Errorf("headers %v", h)
		}
		for _, want := range []string{`Sent email "Déployé: web 1.4.0 → Dev" to 5 recipients`, `members of team "Ops" without an email address are not sent the email: cid`,
			"Skipped: it runs only when an earlier step has failed", "Skipped: the step's condition is not true"} {
			if !strings.Contains(strings.ToLower(log), strings.ToLower(want)) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, "tok-s3cret") || strings.Contains(log, "Fixes the cart") {
			t.Errorf("the log shows the body:\n%s", log)
		}
	})
}

func TestAFailureEmailStepMailsTheErrorOnlyWhenAStepFailed(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, twoPhases(), "echo about to fail; exit 3")
		addEmailSteps(t, s, f, releaseMail, failureMail)
		box, mailer := startMailbox(t)
		srv := newServer(t, s, t.TempDir(), func(c *engine.Config) { c.Mail = mailer })
		d := srv.deploy(srv.release(f, "2.0.0"), f.envs["Test"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		log := logOf(t, s, d.TaskID)
		got := box.Received()
		if len(got) != 1 {
			t.Fatalf("%d mails, want the failure mail alone\n%s", len(got), log)
		}
		if !slices.Equal(got[0].To, []string{"ops@example.com"}) {
			t.Errorf("recipients %v", got[0].To)
		}
		h, subject, body := parsed(t, got[0])
		if subject != "web failed in Test" || h.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("subject %q, headers %v", subject, h)
		}
		if !strings.Contains(body, "Error: ") || !strings.Contains(body, "exit code 3") || !strings.Contains(body, "\r\nDetail: ") {
			t.Errorf("body %q", body)
		}
		// Octopus's step status variables, step by step (by name: the
		// variables sort), the failed one with the error its log shows.
		lines := strings.Split(body, "\r\n")
		var statuses []string
		for _, l := range lines {
			if strings.HasPrefix(l, "Step A: ") || strings.HasPrefix(l, "Tell ") {
				statuses = append(statuses, l)
			}
		}
		if len(statuses) != 3 || !strings.HasPrefix(statuses[0], "Step A: Failed (") || !strings.Contains(statuses[0], "exit code 3") ||
			statuses[1] != "Tell ops: Running" || statuses[2] != "Tell stakeholders: Skipped" {
			t.Errorf("step statuses %q in body %q", statuses, body)
		}
		if !strings.Contains(task.Error, "exit code 3") || !strings.Contains(log, `Sent email "web failed in Test" to 1 recipient`) {
			t.Errorf("task error %q\n%s", task.Error, log)
		}
	})
}

func TestAnEmailStepOnAServerWithoutSMTPFails(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, twoPhases())
		addEmailSteps(t, s, f, releaseMail)
		srv := newServer(t, s, t.TempDir())
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		if !strings.Contains(task.Error, "--smtp-host and --smtp-from") || !strings.Contains(logOf(t, s, d.TaskID), "no SMTP server") {
			t.Fatalf("error %q\n%s", task.Error, logOf(t, s, d.TaskID))
		}
	})
}

func TestAnEmailStepNamingNoTeamIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, twoPhases())
		ctx := context.Background()
		err := s.Tx(ctx, func(q *store.Queries) error {
			proc := model.DeploymentProcess{ProjectID: f.project.ID, Version: 1, Steps: []model.Step{{Name: "Mail",
				Email: &model.EmailAction{ToTeams: []string{"Nobody"}, Subject: "S"}}}}
			return q.SaveProcess(ctx, &proc)
		})
		var v *model.ValidationError
		if !errors.As(err, &v) || !strings.Contains(err.Error(), `steps[0].email.toTeams: team "Nobody" does not exist`) {
			t.Fatalf("saved: %v", err)
		}
	})
}

func TestAnEmailThatCannotBeSentFailsTheStepAfterItsRetries(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		f := setup(t, s, twoPhases())
		step := failureMail
		step.Condition, step.Retries = "", 1
		addEmailSteps(t, s, f, step)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there any more
		mailer := stepMail{&notify.Mailer{Addr: addr, From: "pulpo@example.com", Timeout: 5 * time.Second}}
		srv := newServer(t, s, t.TempDir(), func(c *engine.Config) { c.Mail = mailer })
		d := srv.deploy(srv.release(f, "1.0.0"), f.envs["Dev"])
		task := waitTask(t, s, d.TaskID, model.TaskFailed)
		log := logOf(t, s, d.TaskID)
		if !strings.Contains(task.Error, "send the email: reach the SMTP server "+addr) || !strings.Contains(log, "Attempt 1 of 2 to send the email failed") {
			t.Fatalf("error %q\n%s", task.Error, log)
		}
	})
}

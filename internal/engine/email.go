package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/template"
	"github.com/pulpo-deploy/pulpo/internal/vars"
)

// MailMessage is the mail of an email step, rendered: bare addresses, the
// subject and the body.
type MailMessage struct {
	To, Cc, Bcc []string
	Subject     string
	Body        string
	HTML        bool
}

// Mail sends email steps' mail; the server gives its SMTP server.
type Mail interface {
	SendMail(ctx context.Context, m MailMessage) error
}

// errNoSMTP is the failure of an email step on a server that has no SMTP
// server to send through.
var errNoSMTP = errors.New("this server has no SMTP server to send email through: start it with --smtp-host and --smtp-from (and --smtp-user with $PULPO_SMTP_PASSWORD if the SMTP server wants a login)")

// sendEmail runs an email step on the server: it renders the mail with
// the step's variables (Octopus.Deployment.Error among them after a
// failure), expands teams to their members' addresses and sends it,
// trying again as often as the step allows. The body is never logged: it
// may hold sensitive values (sent, as Octopus sends them; masked only in
// the log).
func (h deployHandler) sendEmail(ctx context.Context, run *tasks.Run, x deployment, step model.Step, act *model.Activity, values *vars.Values) error {
	if act.State == model.ActivityPending {
		now := run.Store().Now().UTC()
		act.State, act.StartedAt = model.ActivityRunning, &now
		if err := run.Tx(ctx, func(q *store.Queries) error { return q.UpdateActivity(ctx, run.Lease, act) }); err != nil {
			return err
		}
	}
	fail := func(err error) error {
		err = fmt.Errorf("step %q: %w", step.Name, err)
		run.Logf(act.ID, model.LevelError, "%s", run.Masked(err.Error()))
		h.setState(run, act, model.ActivityFailed)
		return err
	}
	stepValues := vars.Resolve(x.release.VariableSnapshot.Variables, vars.Scope{EnvironmentID: x.env.ID, StepID: step.ID, ChannelID: x.release.ChannelID})
	for _, name := range values.Names() {
		v, _ := values.Get(name)
		stepValues.Set(name, v) // system variables are not the project's to override
	}
	acts, err := run.Store().Read().ListActivities(ctx, run.Task.ID)
	if err != nil {
		return err
	}
	h.addOutputs(run, x, acts, step.ID, stepValues)
	for _, prefix := range []string{"Octopus.", "Pulpo."} {
		stepValues.Set(prefix+"Step.Name", step.Name)
		stepValues.Set(prefix+"Action.Name", step.Name)
	}
	if strings.Contains(step.Email.Subject+step.Email.Body, "Octopus.Step") {
		if err := h.stepStatuses(ctx, run, x, stepValues); err != nil {
			return err
		}
	}
	holds, err := conditionHolds(step, stepValues, run.Store().Now)
	if err != nil {
		return fail(err)
	}
	if !holds {
		run.Logf(act.ID, model.LevelInfo, "Skipped: the step's condition is not true")
		h.setState(run, act, model.ActivitySkipped)
		return nil
	}
	if h.e.cfg.Mail == nil {
		return fail(errNoSMTP)
	}
	msg, err := h.renderEmail(ctx, run, act, step.Email, stepValues)
	if err != nil {
		return fail(err)
	}
	for attempt := 1; ; attempt++ {
		err = h.e.cfg.Mail.SendMail(ctx, msg)
		if err == nil || attempt > step.Retries || ctx.Err() != nil {
			break
		}
		delay := time.Duration(step.RetryDelaySeconds) * time.Second
		run.Logf(act.ID, model.LevelWarning, "Attempt %d of %d to send the email failed (%v); trying again in %s", attempt, step.Retries+1, err, delay)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	if ctx.Err() != nil {
		return context.Cause(ctx) // shutdown or lease lost: whoever resumes sends it
	}
	if err != nil {
		return fail(fmt.Errorf("send the email: %w", err))
	}
	n := len(msg.To) + len(msg.Cc) + len(msg.Bcc)
	run.Logf(act.ID, model.LevelHighlight, "Sent email %q to %d recipient%s", run.Masked(msg.Subject), n, map[bool]string{true: "", false: "s"}[n == 1])
	h.setState(run, act, model.ActivitySuccess)
	return nil
}

// renderEmail renders the subject, body and addresses and turns teams
// into their members' addresses; each address is sent to once, in the
// first of To, Cc and Bcc that names it.
func (h deployHandler) renderEmail(ctx context.Context, run *tasks.Run, act *model.Activity, a *model.EmailAction, values *vars.Values) (MailMessage, error) {
	opts := template.Options{Now: run.Store().Now}
	var msg MailMessage
	var err error
	if msg.Subject, err = template.Evaluate(a.Subject, values, opts); err != nil {
		return msg, fmt.Errorf("the subject: %w", err)
	}
	// A value with a line break would start a header of its own.
	msg.Subject = strings.Join(strings.Fields(msg.Subject), " ")
	if msg.Subject == "" {
		return msg, errors.New("the subject is empty once rendered")
	}
	if msg.Body, err = template.Evaluate(a.Body, values, opts); err != nil {
		return msg, fmt.Errorf("the body: %w", err)
	}
	msg.HTML = a.IsHTML
	seen := map[string]bool{}
	q := run.Store().Read()
	for _, l := range []struct {
		field     string
		addresses []string
		teams     []string
		out       *[]string
	}{{"to", a.To, a.ToTeams, &msg.To}, {"cc", a.Cc, a.CcTeams, &msg.Cc}, {"bcc", a.Bcc, a.BccTeams, &msg.Bcc}} {
		add := func(addr string) {
			if key := strings.ToLower(addr); !seen[key] {
				seen[key] = true
				*l.out = append(*l.out, addr)
			}
		}
		for _, entry := range l.addresses {
			rendered, err := template.Evaluate(entry, values, opts)
			if err != nil {
				return msg, fmt.Errorf("%s address %q: %w", l.field, entry, err)
			}
			list, err := model.ParseEmailAddresses(rendered)
			if err != nil {
				return msg, fmt.Errorf("%s address %q: %w", l.field, entry, err)
			}
			for _, addr := range list {
				add(addr)
			}
		}
		for _, team := range l.teams {
			name, addrs, without, err := q.TeamMailboxes(ctx, team)
			switch {
			case errors.Is(err, store.ErrNotFound):
				run.Logf(act.ID, model.LevelWarning, "Team %s no longer exists: nobody in it is sent the email", team)
				continue
			case err != nil:
				return msg, err
			}
			if len(without) > 0 {
				run.Logf(act.ID, model.LevelWarning, "Members of team %q without an email address are not sent the email: %s", name, strings.Join(without, ", "))
			}
			for _, addr := range addrs {
				add(addr)
			}
		}
	}
	if len(msg.To)+len(msg.Cc)+len(msg.Bcc) == 0 {
		return msg, errors.New("the email has no recipient: its addresses rendered empty and its teams have no members with an email address")
	}
	return msg, nil
}

// stepStatuses sets Octopus's step status variables for a mail about the
// deployment: Octopus.Step[NAME].Status.Code (Pending, Running, Success,
// Failed, Skipped or Canceled), and for a failed step .Status.Error (the
// last error its log shows) and .Status.ErrorDetail (all of them), so a
// body can go through #{each step in Octopus.Step}. The log is masked, so
// these carry no sensitive value.
func (h deployHandler) stepStatuses(ctx context.Context, run *tasks.Run, x deployment, values *vars.Values) error {
	if err := run.Flush(ctx); err != nil { // the log so far, in the store
		return err
	}
	q := run.Store().Read()
	acts, err := q.ListActivities(ctx, run.Task.ID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, s := range x.release.ProcessSnapshot.Steps {
		names[s.ID] = s.Name
	}
	parent := map[int]int{}
	stepOf := map[int]string{} // step activity id -> step name
	for _, a := range acts {
		parent[a.ID] = a.ParentID
		if a.Kind == model.ActivityStep {
			name := names[a.StepID]
			if name == "" {
				name = a.Name
			}
			stepOf[a.ID] = name
			prefix := "Octopus.Step[" + name + "].Status."
			values.Set(prefix+"Code", string(a.State))
			values.Set(prefix+"Error", "")
			values.Set(prefix+"ErrorDetail", "")
		}
	}
	// The step a log line belongs to: its activity's nearest step ancestor.
	owner := func(id int) string {
		for range len(acts) + 1 {
			if name, ok := stepOf[id]; ok {
				return name
			}
			p, ok := parent[id]
			if !ok || p == 0 {
				return ""
			}
			id = p
		}
		return ""
	}
	failures := map[string][]string{}
	const page, most = 1000, 100000
	var after int64
	for read := 0; read < most; read += page {
		lines, err := q.ReadLog(ctx, run.Task.ID, after, page)
		if err != nil {
			return err
		}
		for _, l := range lines {
			after = l.Seq
			if l.Level == model.LevelError {
				if name := owner(l.ActivityID); name != "" {
					failures[name] = append(failures[name], l.Text)
				}
			}
		}
		if len(lines) < page {
			break
		}
	}
	for name, list := range failures {
		prefix := "Octopus.Step[" + name + "].Status."
		if code, _ := values.Get(prefix + "Code"); code != string(model.ActivityFailed) {
			continue
		}
		values.Set(prefix+"Error", list[len(list)-1])
		values.Set(prefix+"ErrorDetail", strings.Join(list, "\n"))
	}
	return nil
}

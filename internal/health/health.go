// Package health checks machines: whether they answer, and what their
// policy's health script says. Checks run on a schedule per machine policy
// and on demand; machines unavailable for too long are removed when their
// policy says so.
package health

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Targets reaches machines and forgets removed ones.
type Targets interface {
	Target(m model.Machine) (contract.Target, error)
	Forget(m model.Machine)
}

// WarningPrefix starts a health script line that makes the result Warning.
const WarningPrefix = "##pulpo[warning]"

// Checker runs health checks.
type Checker struct {
	Store   *store.Store
	Targets Targets
	Logger  *slog.Logger
	// ConnectTimeout bounds reaching the machine (default 30 s).
	ConnectTimeout time.Duration
	// ScriptTimeout bounds the health script (default 2 min).
	ScriptTimeout time.Duration
	// Every is how often the schedule is looked at (default 5 s).
	Every time.Duration
	// Concurrency caps checks running at once (default 10).
	Concurrency int
	// OnHealthy is told, in the transaction recording it, of a machine
	// found healthy after it was not (machine triggers deploy to it).
	OnHealthy func(ctx context.Context, q *store.Queries, m model.Machine)

	// once fills in the defaults: checks run concurrently (the schedule,
	// the API, a deployment's health check step checking its targets).
	once sync.Once
}

func (c *Checker) defaults() { c.once.Do(c.fillDefaults) }

func (c *Checker) fillDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.ScriptTimeout <= 0 {
		c.ScriptTimeout = 2 * time.Minute
	}
	if c.Every <= 0 {
		c.Every = 5 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 10
	}
}

// Check checks one machine now and records the result.
func (c *Checker) Check(ctx context.Context, m model.Machine) (model.Machine, error) {
	c.defaults()
	policy, err := c.Store.Read().GetMachinePolicy(ctx, m.PolicyID)
	if err != nil {
		return m, err
	}
	status, reason := c.examine(ctx, m, policy)
	if ctx.Err() != nil {
		return m, ctx.Err()
	}
	return c.record(ctx, m, status, reason)
}

// record stores a check's result, telling subscribers of a machine gone
// bad and machine triggers of one turned healthy.
func (c *Checker) record(ctx context.Context, m model.Machine, status model.HealthStatus, reason string) (model.Machine, error) {
	before := m.Health.Status
	err := c.Store.Tx(ctx, func(q *store.Queries) (err error) {
		if m, err = q.SetMachineHealth(ctx, m.ID, status, reason, c.Store.Now().UTC()); err != nil {
			return err
		}
		if bad(status) && !bad(before) {
			return q.EnqueueEvent(ctx, machineEvent(m, before))
		}
		if status == model.HealthHealthy && before != model.HealthHealthy && c.OnHealthy != nil {
			c.OnHealthy(ctx, q, m)
		}
		return nil
	})
	return m, err
}

// bad reports whether a status is worth telling people about.
func bad(s model.HealthStatus) bool {
	return s == model.HealthUnhealthy || s == model.HealthUnavailable
}

// machineEvent tells subscribers a machine stopped being healthy. It
// belongs to every environment of the machine; subscriptions narrowed to
// environments get it when one of them matches (the first is used).
func machineEvent(m model.Machine, before model.HealthStatus) store.Event {
	env := ""
	if len(m.EnvironmentIDs) > 0 {
		env = m.EnvironmentIDs[0]
	}
	return store.Event{Kind: model.EventMachineUnhealthy, EnvironmentID: env, Payload: map[string]any{
		"machine": map[string]any{"id": m.ID, "name": m.Name, "roles": m.Roles, "environmentIds": m.EnvironmentIDs,
			"status": m.Health.Status, "previousStatus": before, "reason": m.Health.Reason},
	}}
}

func (c *Checker) examine(ctx context.Context, m model.Machine, policy model.MachinePolicy) (model.HealthStatus, string) {
	t, about, err := c.reach(ctx, m)
	if err != nil {
		return model.HealthUnavailable, err.Error()
	}
	if strings.TrimSpace(policy.HealthCheckScript) == "" {
		return model.HealthHealthy, about
	}
	code, lines, err := c.runScript(ctx, t, m, policy.HealthCheckScript)
	if err != nil {
		return model.HealthUnavailable, err.Error()
	}
	var warnings []string
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, WarningPrefix); ok {
			warnings = append(warnings, strings.TrimSpace(rest))
		}
	}
	switch {
	case code != 0:
		return model.HealthUnhealthy, fmt.Sprintf("the health script failed (%s): %s", contract.DescribeExitCode(code), tail(lines, 20))
	case len(warnings) > 0:
		return model.HealthWarning, strings.Join(warnings, "; ")
	}
	return model.HealthHealthy, about
}

// runScript runs the health script (not isolated: a long deployment must
// not hold a health check up) and collects its output.
func (c *Checker) runScript(ctx context.Context, t contract.Target, m model.Machine, body string) (int, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.ScriptTimeout)
	defer cancel()
	svc := t.Scripts()
	ticket := "health-" + strings.ToLower(m.ID) + "-" + strings.ToLower(rand.Text()[:8])
	st, err := svc.StartScript(ctx, contract.StartScriptCommand{Ticket: ticket, Syntax: "bash", Body: body, Wait: time.Second})
	if err != nil {
		return 0, nil, fmt.Errorf("start the health script: %w", err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		if st.State != contract.ScriptComplete {
			svc.CancelScript(dctx, contract.StatusRequest{Ticket: ticket})
		}
		svc.CompleteScript(dctx, ticket)
	}()
	var lines []string
	next := int64(0)
	for {
		for _, l := range st.Logs {
			if l.Seq >= next && l.Source != contract.Diagnostic {
				lines = append(lines, l.Text)
			}
		}
		next = max(next, st.NextLogSeq)
		if st.State == contract.ScriptComplete {
			return st.ExitCode, lines, nil
		}
		st, err = svc.GetStatus(ctx, contract.StatusRequest{Ticket: ticket, FromLogSeq: next, Wait: 2 * time.Second})
		if err != nil {
			if ctx.Err() != nil {
				return 0, nil, fmt.Errorf("the health script did not finish within %s", c.ScriptTimeout)
			}
			return 0, nil, fmt.Errorf("follow the health script: %w", err)
		}
	}
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "no output"
	}
	return strings.Join(lines, "\n")
}

// Run checks machines as their policies ask, and removes machines that have
// been unavailable too long, until ctx ends.
func (c *Checker) Run(ctx context.Context) {
	c.defaults()
	t := time.NewTicker(c.Every)
	defer t.Stop()
	for {
		c.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Round does what the schedule asks for now: checks the machines that are
// due and removes those unavailable too long. Run calls it on a timer.
func (c *Checker) Round(ctx context.Context) {
	c.defaults()
	q := c.Store.Read()
	machines, _, err := q.ListMachines(ctx, store.MachineFilter{})
	if err != nil {
		c.Logger.Warn("health checks: list machines", "error", err)
		return
	}
	policies := map[string]model.MachinePolicy{}
	now := c.Store.Now()
	sem := make(chan struct{}, c.Concurrency)
	var wg sync.WaitGroup
	for _, m := range machines {
		p, ok := policies[m.PolicyID]
		if !ok {
			if p, err = q.GetMachinePolicy(ctx, m.PolicyID); err != nil {
				continue
			}
			policies[m.PolicyID] = p
		}
		if since := m.Health.UnavailableSince; since != nil && p.DeleteUnavailableAfter.D > 0 && now.Sub(*since) >= p.DeleteUnavailableAfter.D {
			c.remove(ctx, m, p)
			continue
		}
		if m.Disabled || p.HealthCheckInterval.D <= 0 {
			continue
		}
		if m.Health.CheckedAt != nil && now.Sub(*m.Health.CheckedAt) < p.HealthCheckInterval.D {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if checked, err := c.Check(ctx, m); err != nil {
				c.Logger.Warn("health check", "machine", m.Name, "error", err)
			} else if checked.Health.Status != m.Health.Status {
				c.Logger.Info("machine health changed", "machine", m.Name, "from", m.Health.Status, "to", checked.Health.Status, "reason", checked.Health.Reason)
			}
		}()
	}
	wg.Wait()
}

func (c *Checker) remove(ctx context.Context, m model.Machine, p model.MachinePolicy) {
	err := c.Store.Tx(ctx, func(q *store.Queries) error { return q.DeleteMachine(ctx, m.ID) })
	if err != nil {
		c.Logger.Warn("remove unavailable machine", "machine", m.Name, "error", err)
		return
	}
	c.Targets.Forget(m)
	c.Logger.Info("removed a machine unavailable for too long", "machine", m.Name, "since", m.Health.UnavailableSince, "policy", p.Name)
}

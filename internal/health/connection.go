package health

import (
	"context"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
)

// reach connects to the machine and says what runs there.
func (c *Checker) reach(ctx context.Context, m model.Machine) (contract.Target, string, error) {
	t, err := c.Targets.Target(m)
	if err != nil {
		return nil, "", err
	}
	cctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	caps, err := t.Capabilities(cctx)
	cancel()
	if err != nil {
		return nil, "", err
	}
	return t, fmt.Sprintf("Pulpo %s on %s/%s", caps.Version, caps.OS, caps.Arch), nil
}

// CheckHealth checks one machine for a deployment's health check step: a
// full check (Check), or with connectionOnly only whether it answers. A
// connection-only check records a machine it cannot reach as Unavailable,
// and one that answers as Healthy only when it was Unavailable or never
// checked: it knows nothing of the policy's script, so it leaves a script's
// verdict alone. What it returns is what it found.
func (c *Checker) CheckHealth(ctx context.Context, m model.Machine, connectionOnly bool) (model.Health, error) {
	if !connectionOnly {
		checked, err := c.Check(ctx, m)
		return checked.Health, err
	}
	c.defaults()
	_, about, err := c.reach(ctx, m)
	if ctx.Err() != nil {
		return m.Health, ctx.Err()
	}
	if err != nil {
		checked, rerr := c.record(ctx, m, model.HealthUnavailable, err.Error())
		return checked.Health, rerr
	}
	if st := m.Health.Status; st == "" || st == model.HealthUnknown || st == model.HealthUnavailable {
		checked, rerr := c.record(ctx, m, model.HealthHealthy, about)
		return checked.Health, rerr
	}
	return model.Health{Status: model.HealthHealthy, Reason: "answers: " + about, CheckedAt: m.Health.CheckedAt}, nil
}

package cli

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// healthCheckFlags are "process step add"'s options for a health check step.
type healthCheckFlags struct {
	on         bool
	kind       string
	onError    string
	includeNew bool
}

func (h *healthCheckFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&h.on, "health-check", false, "make a health check step: the server checks the targets of --role now, e.g. after a step that provisioned or restarted them")
	fs.StringVar(&h.kind, "health-check-type", "full", "with --health-check: full (reach each target and run its machine policy's health script) or connection (only reach it)")
	fs.StringVar(&h.onError, "health-check-on-error", "fail", "with --health-check: fail the deployment on a target that is not healthy, or skip it for the rest of the deployment")
	fs.BoolVar(&h.includeNew, "include-new-targets", false, "with --health-check: check the targets of --role added since the deployment started and keep the healthy ones in it (otherwise they are left out)")
}

// check refuses health check options without --health-check, and
// --health-check with another kind of step (other says which flags make one).
func (h *healthCheckFlags) check(fs *pflag.FlagSet, other bool) error {
	extra := fs.Changed("health-check-type") || fs.Changed("health-check-on-error") || fs.Changed("include-new-targets")
	switch {
	case h.on && other:
		return fmt.Errorf("--health-check makes a health check step: leave out --script, --script-file, --script-package, --package, --package-ref, --manual, --deploy-release, --template and the --email-* flags")
	case !h.on && extra:
		return fmt.Errorf("--health-check-type, --health-check-on-error and --include-new-targets are options of a health check step: add --health-check")
	}
	return nil
}

// action is the step's health check, or nil without --health-check.
func (h *healthCheckFlags) action() (*model.HealthCheckAction, error) {
	if !h.on {
		return nil, nil
	}
	hc := &model.HealthCheckAction{IncludeNewTargets: h.includeNew}
	switch h.kind {
	case "full", "":
		hc.Type = model.HealthCheckFull
	case "connection", string(model.HealthCheckConnection):
		hc.Type = model.HealthCheckConnection
	default:
		return nil, fmt.Errorf("--health-check-type is full or connection, not %q", h.kind)
	}
	switch h.onError {
	case "fail", "":
		hc.OnError = model.HealthCheckFail
	case "skip":
		hc.OnError = model.HealthCheckSkip
	default:
		return nil, fmt.Errorf("--health-check-on-error is fail or skip, not %q", h.onError)
	}
	return hc, nil
}

// healthCheckSummary describes a health check step in "process show".
func healthCheckSummary(hc *model.HealthCheckAction) string {
	s := "health check"
	if hc.ConnectionOnly() {
		s = "connection test"
	}
	if hc.SkipsUnhealthy() {
		s += ", skip unhealthy targets"
	} else {
		s += ", fail on unhealthy targets"
	}
	if hc.IncludeNewTargets {
		s += ", include new targets"
	}
	return s
}

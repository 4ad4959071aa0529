package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/transfer"
)

// RunnerSource gives the runner binaries this server hands to targets, so
// every target runs the conventions of the server's version and nobody
// upgrades machines by hand.
type RunnerSource interface {
	// Runner returns the runner built for a platform; ok is false when
	// the server has none for it.
	Runner(ctx context.Context, goos, goarch string) (r Runner, ok bool, err error)
}

// Runner is one runner binary.
type Runner struct {
	// Version is the Pulpo version it was built as; empty when unknown.
	Version string
	Source  transfer.Source
}

// ownRunner names the target's own binary, which scripts reach as
// $PULPO_RUNNER.
const ownRunner = `"$PULPO_RUNNER"`

// runnerFor makes sure the target has the server's runner, sending it by
// hash when the target's own binary is another build, and returns the
// shell word that runs it.
func (h deployHandler) runnerFor(ctx context.Context, run *tasks.Run, p placement, caps contract.Capabilities) (string, error) {
	if h.e.cfg.Runners == nil {
		return ownRunner, nil
	}
	r, ok, err := h.e.cfg.Runners.Runner(ctx, caps.OS, caps.Arch)
	if err != nil {
		return "", fmt.Errorf("find the runner for %s/%s: %w", caps.OS, caps.Arch, err)
	}
	if !ok {
		run.Logf(p.act.ID, model.LevelWarning, "This server has no runner built for %s/%s, so %s runs the conventions with its own (Pulpo %s)",
			caps.OS, caps.Arch, p.target.Name(), caps.Version)
		return ownRunner, nil
	}
	version := r.Version
	if version == "" {
		version = "build " + r.Source.SHA256()[:12]
	}
	if caps.RunnerSHA256 == r.Source.SHA256() {
		run.Logf(p.act.ID, model.LevelVerbose, "The runner on %s is the server's (Pulpo %s)", p.target.Name(), version)
		return ownRunner, nil
	}
	rel := "runners/pulpo-" + r.Source.SHA256()[:16]
	info, rep, err := transfer.Send(ctx, p.target.Files(), rel, r.Source, h.e.cfg.TargetRetry)
	if err != nil {
		return "", fmt.Errorf("send the runner (Pulpo %s) to %s: %w", version, p.target.Name(), err)
	}
	if rep.Cached {
		run.Logf(p.act.ID, model.LevelVerbose, "The runner of Pulpo %s is on %s already: 0 bytes sent", version, p.target.Name())
	} else {
		run.Logf(p.act.ID, model.LevelInfo, "Sent the runner of Pulpo %s to %s, whose own binary is Pulpo %s: %d bytes sent",
			version, p.target.Name(), caps.Version, rep.Sent)
	}
	return shellWord(info.Path), nil
}

// shellWord quotes s for a POSIX shell.
func shellWord(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

package sshtarget

import (
	"context"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// scriptService runs scripts through the remote process. Every call is
// idempotent (the ticket names the run), so each may be repeated on a new
// process after the old one or its connection died.
type scriptService struct{ t *Target }

var _ contract.ScriptService = scriptService{}

func (s scriptService) StartScript(ctx context.Context, cmd contract.StartScriptCommand) (contract.ScriptStatus, error) {
	return s.status(ctx, "start script "+cmd.Ticket, func(scripts contract.ScriptService) (contract.ScriptStatus, error) {
		return scripts.StartScript(ctx, cmd)
	})
}

func (s scriptService) GetStatus(ctx context.Context, req contract.StatusRequest) (contract.ScriptStatus, error) {
	return s.status(ctx, "status of script "+req.Ticket, func(scripts contract.ScriptService) (contract.ScriptStatus, error) {
		return scripts.GetStatus(ctx, req)
	})
}

func (s scriptService) CancelScript(ctx context.Context, req contract.StatusRequest) (contract.ScriptStatus, error) {
	return s.status(ctx, "cancel script "+req.Ticket, func(scripts contract.ScriptService) (contract.ScriptStatus, error) {
		return scripts.CancelScript(ctx, req)
	})
}

func (s scriptService) CompleteScript(ctx context.Context, ticket string) error {
	_, err := s.status(ctx, "complete script "+ticket, func(scripts contract.ScriptService) (contract.ScriptStatus, error) {
		return contract.ScriptStatus{}, scripts.CompleteScript(ctx, ticket)
	})
	return err
}

// status makes a script call, saying what it was doing when it fails.
func (s scriptService) status(ctx context.Context, what string, fn func(contract.ScriptService) (contract.ScriptStatus, error)) (contract.ScriptStatus, error) {
	var st contract.ScriptStatus
	err := s.t.call(ctx, always, func(rpc *agentrpc.Target) (err error) {
		st, err = fn(rpc.Scripts())
		return err
	})
	if err != nil {
		return contract.ScriptStatus{}, fmt.Errorf("%s on %s: %w", what, s.t.cfg.Name, err)
	}
	return st, nil
}

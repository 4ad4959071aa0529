package sshtarget

import (
	"context"
	"fmt"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// scriptService runs scripts through remote calls. Every call is idempotent
// (the ticket names the run), so each may be repeated after a reconnect.
type scriptService struct{ t *Target }

var _ contract.ScriptService = scriptService{}

func (s scriptService) StartScript(ctx context.Context, cmd contract.StartScriptCommand) (contract.ScriptStatus, error) {
	var st contract.ScriptStatus
	if err := s.t.call(ctx, methodStartScript, true, cmd, &st); err != nil {
		return contract.ScriptStatus{}, fmt.Errorf("start script %s on %s: %w", cmd.Ticket, s.t.cfg.Name, err)
	}
	return st, nil
}

func (s scriptService) GetStatus(ctx context.Context, req contract.StatusRequest) (contract.ScriptStatus, error) {
	var st contract.ScriptStatus
	if err := s.t.call(ctx, methodGetStatus, true, req, &st); err != nil {
		return contract.ScriptStatus{}, fmt.Errorf("status of script %s on %s: %w", req.Ticket, s.t.cfg.Name, err)
	}
	return st, nil
}

func (s scriptService) CancelScript(ctx context.Context, req contract.StatusRequest) (contract.ScriptStatus, error) {
	var st contract.ScriptStatus
	if err := s.t.call(ctx, methodCancelScript, true, req, &st); err != nil {
		return contract.ScriptStatus{}, fmt.Errorf("cancel script %s on %s: %w", req.Ticket, s.t.cfg.Name, err)
	}
	return st, nil
}

func (s scriptService) CompleteScript(ctx context.Context, ticket string) error {
	if err := s.t.call(ctx, methodCompleteScript, true, ticketRequest{Ticket: ticket}, nil); err != nil {
		return fmt.Errorf("complete script %s on %s: %w", ticket, s.t.cfg.Name, err)
	}
	return nil
}

package sshtarget

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
)

// startScript starts a run under the workspaces lock and then waits for news
// outside it, so a long wait does not hold up other starts.
func startScript(ctx context.Context, target *localtarget.Target, cmd contract.StartScriptCommand) (contract.ScriptStatus, error) {
	wait := cmd.Wait
	cmd.Wait = 0
	var st contract.ScriptStatus
	err := withWorkspacesLocked(ctx, target, func() (err error) {
		st, err = target.ScriptSvc.StartScript(ctx, cmd)
		return err
	})
	if err != nil || wait <= 0 || st.State == contract.ScriptComplete || len(st.Logs) > 0 {
		return st, err
	}
	return target.ScriptSvc.GetStatus(ctx, contract.StatusRequest{Ticket: cmd.Ticket, Wait: wait})
}

// cancelScript is startScript's counterpart for cancel.
func cancelScript(ctx context.Context, target *localtarget.Target, req contract.StatusRequest) (contract.ScriptStatus, error) {
	wait := req.Wait
	req.Wait = 0
	var st contract.ScriptStatus
	err := withWorkspacesLocked(ctx, target, func() (err error) {
		st, err = target.ScriptSvc.CancelScript(ctx, req)
		return err
	})
	if err != nil || wait <= 0 || st.State == contract.ScriptComplete || len(st.Logs) > 0 {
		return st, err
	}
	req.Wait = wait
	return target.ScriptSvc.GetStatus(ctx, req)
}

// workspacesLockFile is in the workspace root; its leading dot keeps it
// apart from ticket folders, which start with a letter or digit.
const workspacesLockFile = ".remote-calls.lock"

// lockPoll is how often a call waiting for the workspaces lock tries again.
const lockPoll = 5 * time.Millisecond

// withWorkspacesLocked runs fn holding an exclusive lock on the machine's
// workspaces. The script service serialises calls about one ticket with a
// mutex, which works within one process; here every call is a process of
// its own, so two starts of one ticket arriving together (a retried call
// racing its original) are serialised by this file lock instead.
func withWorkspacesLocked(ctx context.Context, target *localtarget.Target, fn func() error) error {
	name := filepath.Join(target.FileSvc.Home, "work", workspacesLockFile)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("lock the workspaces: %w", err)
	}
	defer f.Close()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			return fmt.Errorf("lock %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}

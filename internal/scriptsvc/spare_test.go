package scriptsvc

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

func waitSpare(t *testing.T, s *Service) *supervisorProc {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.spareMu.Lock()
		sp := s.spare
		s.spareMu.Unlock()
		if sp != nil {
			return sp
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no spare supervisor was started")
	return nil
}

func runOnce(t *testing.T, s *Service, ticket string) contract.ScriptStatus {
	t.Helper()
	ctx := context.Background()
	st, err := s.StartScript(ctx, contract.StartScriptCommand{Ticket: ticket, Syntax: "bash", Body: "echo " + ticket, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for st.State != contract.ScriptComplete {
		if st, err = s.GetStatus(ctx, contract.StatusRequest{Ticket: ticket, Wait: time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestASpareSupervisorRunsTheNextScript(t *testing.T) {
	s, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runOnce(t, s, "first")
	spare := waitSpare(t, s)
	if st := runOnce(t, s, "second"); st.ExitCode != 0 {
		t.Fatalf("second: %+v", st)
	}
	st, _ := readState(s.dir("second"))
	if st.SupervisorPID != spare.cmd.Process.Pid {
		t.Fatalf("the spare (pid %d) should have run the second script, not pid %d", spare.cmd.Process.Pid, st.SupervisorPID)
	}

	// A spare that died is not used; the script still runs.
	dead := waitSpare(t, s)
	syscall.Kill(dead.cmd.Process.Pid, syscall.SIGKILL)
	<-dead.exited
	dead.exited <- nil
	if st := runOnce(t, s, "third"); st.ExitCode != 0 {
		t.Fatalf("after the spare died: %+v", st)
	}

	// Closing the service lets the spare go.
	last := waitSpare(t, s)
	s.Close()
	select {
	case <-last.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the spare supervisor outlived its service")
	}
}

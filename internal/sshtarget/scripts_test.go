package sshtarget_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
)

func TestAScriptRunsOnceAndItsOutputArrivesInOrder(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	scripts := m.target(t).Scripts()
	runs := filepath.Join(t.TempDir(), "runs")
	body := fmt.Sprintf("echo run >> %q\nfor i in 1 2 3 4 5; do echo line $i; done\necho oops >&2\nexit 3", runs)
	cmd := contract.StartScriptCommand{Ticket: "once", Syntax: "bash", Body: body, Wait: 10 * time.Second}

	// Several starts at once, as a retried call racing its original would
	// arrive.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := scripts.StartScript(testContext(t), cmd)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	end, lines := follow(t, scripts, "once", 0)
	// And once more after it ended.
	again, err := scripts.StartScript(testContext(t), cmd)
	if err != nil {
		t.Fatal(err)
	}

	if end.ExitCode != 3 || again.State != contract.ScriptComplete || again.ExitCode != 3 {
		t.Errorf("exit code %d, then %s/%d; want 3", end.ExitCode, again.State, again.ExitCode)
	}
	for i, l := range lines {
		if l.Seq != int64(i) {
			t.Errorf("line %d has sequence number %d", i, l.Seq)
		}
	}
	var stdout []string
	for _, l := range lines {
		if l.Source == contract.Stdout {
			stdout = append(stdout, l.Text)
		}
	}
	// stdout and stderr are separate pipes: only each one's own order is certain.
	if want := []string{"line 1", "line 2", "line 3", "line 4", "line 5"}; !slices.Equal(stdout, want) {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if !slices.Contains(texts(lines), "stderr:oops") {
		t.Errorf("stderr line missing from %q", texts(lines))
	}
	if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 1 {
		t.Errorf("the script ran %d times, want once", strings.Count(string(b), "run"))
	}
}

func TestReadingTheLogFromAnyPositionReturnsExactlyTheRest(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	scripts := m.target(t).Scripts()
	start(t, scripts, "ten", "for i in $(seq 1 10); do echo line $i; done")
	follow(t, scripts, "ten", 0)
	tests := []struct {
		from      int64
		wantFirst int // number in the first line returned; 0 for none
		wantCount int
	}{
		{from: 0, wantFirst: 1, wantCount: 10},
		{from: 4, wantFirst: 5, wantCount: 6},
		{from: 9, wantFirst: 10, wantCount: 1},
		{from: 10, wantCount: 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("from %d", tt.from), func(t *testing.T) {
			st, err := scripts.GetStatus(testContext(t), contract.StatusRequest{Ticket: "ten", FromLogSeq: tt.from})
			if err != nil {
				t.Fatal(err)
			}
			if st.State != contract.ScriptComplete || st.ExitCode != 0 || st.NextLogSeq != 10 || len(st.Logs) != tt.wantCount {
				t.Fatalf("got %s, exit %d, next %d, %d lines; want Complete, 0, 10, %d lines", st.State, st.ExitCode, st.NextLogSeq, len(st.Logs), tt.wantCount)
			}
			for i, l := range st.Logs {
				if l.Seq != tt.from+int64(i) || l.Text != fmt.Sprintf("line %d", tt.wantFirst+i) {
					t.Errorf("line %d is %+v", i, l)
				}
			}
		})
	}
}

func TestCancelStopsTheScriptAndItsChildren(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	scripts := m.target(t).Scripts()
	start(t, scripts, "cancel-me", "sleep 300 &\necho pids $$ $!\nwait")
	var pids []int
	waitFor(t, "the script prints its pids", func() bool {
		st, err := scripts.GetStatus(testContext(t), contract.StatusRequest{Ticket: "cancel-me", Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range st.Logs {
			if f := strings.Fields(l.Text); len(f) == 3 && f[0] == "pids" {
				for _, s := range f[1:] {
					pid, _ := strconv.Atoi(s)
					pids = append(pids, pid)
				}
			}
		}
		return len(pids) == 2
	})

	if _, err := scripts.CancelScript(testContext(t), contract.StatusRequest{Ticket: "cancel-me"}); err != nil {
		t.Fatal(err)
	}
	end, lines := follow(t, scripts, "cancel-me", 0)

	if end.ExitCode != contract.ExitCanceled {
		t.Errorf("exit code %d, want %d", end.ExitCode, contract.ExitCanceled)
	}
	if !strings.Contains(strings.Join(texts(lines), "\n"), "cancellation requested") {
		t.Errorf("the log should say the script was canceled: %q", texts(lines))
	}
	for _, pid := range pids { // the shell and its sleep
		waitFor(t, fmt.Sprintf("process %d is gone", pid), func() bool { return gone(pid) })
	}
	if err := scripts.CompleteScript(testContext(t), "cancel-me"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m.home, "work", "cancel-me")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CompleteScript left the workspace: %v", err)
	}
}

func TestAScriptOutlivesTheConnectionAndAnotherTargetPicksItUp(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	gate := filepath.Join(t.TempDir(), "gate")
	first := m.target(t)
	start(t, first.Scripts(), "outlive", gatedScript(gate))
	next := followUntil(t, first.Scripts(), "outlive", "before")

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Scripts().GetStatus(testContext(t), contract.StatusRequest{Ticket: "outlive"}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("a closed target answered: %v", err)
	}
	openGate(t, gate) // only now can the script go on
	end, rest := follow(t, m.target(t).Scripts(), "outlive", next)

	if end.ExitCode != 7 {
		t.Errorf("exit code %d, want 7", end.ExitCode)
	}
	if len(rest) != 1 || rest[0].Text != "after" || rest[0].Seq != next {
		t.Errorf("remaining log %+v, want just \"after\" at %d", rest, next)
	}
}

func TestACallInterruptedByALostProcessIsRepeatedOnANewOne(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	tg := m.target(t)
	scripts := tg.Scripts()
	tests := []struct {
		name      string
		interrupt func(t *testing.T)
	}{
		{name: "the SSH connection drops", interrupt: func(t *testing.T) { m.srv.DropConnections(t) }},
		{name: "the remote process is killed", interrupt: func(t *testing.T) { killRemoteServe(t, m.home) }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ticket := fmt.Sprintf("lost-%d", i)
			gate := filepath.Join(t.TempDir(), "gate")
			start(t, scripts, ticket, gatedScript(gate))
			next := followUntil(t, scripts, ticket, "before")

			type result struct {
				st  contract.ScriptStatus
				err error
			}
			done := make(chan result, 1)
			go func() {
				st, err := scripts.GetStatus(testContext(t), contract.StatusRequest{Ticket: ticket, FromLogSeq: next, Wait: 20 * time.Second})
				done <- result{st, err}
			}()
			waitFor(t, "the long poll is open", func() bool { return sshtarget.OpenCalls(tg) == 1 })
			tt.interrupt(t)
			openGate(t, gate)
			r := <-done

			if r.err != nil {
				t.Fatalf("the call was not repeated on a new process: %v", r.err)
			}
			if len(r.st.Logs) == 0 || r.st.Logs[0].Text != "after" {
				t.Fatalf("got %+v, want the line after the gate", r.st)
			}
			if end, _ := follow(t, scripts, ticket, next); end.ExitCode != 7 {
				t.Errorf("exit code %d, want 7", end.ExitCode)
			}
		})
	}
}

func TestStatusWaitsOnTheMachine(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	gate := filepath.Join(t.TempDir(), "gate")
	tg := m.target(t)
	scripts := tg.Scripts()
	start(t, scripts, "poll", gatedScript(gate))
	next := followUntil(t, scripts, "poll", "before")

	t.Run("with no news it answers when Wait has passed", func(t *testing.T) {
		began := time.Now()
		st, err := scripts.GetStatus(testContext(t), contract.StatusRequest{Ticket: "poll", FromLogSeq: next, Wait: 300 * time.Millisecond})
		if err != nil || st.State != contract.ScriptRunning || len(st.Logs) != 0 {
			t.Fatalf("got %+v, %v; want Running with no lines", st, err)
		}
		if waited := time.Since(began); waited < 300*time.Millisecond {
			t.Fatalf("answered after %s, before Wait passed", waited)
		}
	})
	t.Run("a caller that gives up ends the wait on the machine", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		began := time.Now()
		st, err := scripts.GetStatus(ctx, contract.StatusRequest{Ticket: "poll", FromLogSeq: next, Wait: time.Minute})
		// As from an agent: the machine's handler sees the call abandoned
		// and answers what there is so far, which still arrives.
		if err != nil || st.State != contract.ScriptRunning {
			t.Fatalf("got %+v, %v", st, err)
		}
		if waited := time.Since(began); waited > 4*time.Second {
			t.Fatalf("answered after %s: the machine kept waiting", waited)
		}
		// The call stays open until the machine has ended it too.
		waitFor(t, "the machine ends the abandoned call", func() bool { return sshtarget.OpenCalls(tg) == 0 })
	})
	t.Run("news ends the wait", func(t *testing.T) {
		done := make(chan contract.ScriptStatus, 1)
		go func() {
			st, _ := scripts.GetStatus(testContext(t), contract.StatusRequest{Ticket: "poll", FromLogSeq: next, Wait: time.Minute})
			done <- st
		}()
		waitFor(t, "the long poll is open", func() bool { return sshtarget.OpenCalls(tg) == 1 })
		select {
		case st := <-done:
			t.Fatalf("the long poll answered before the script printed: %+v", st)
		default:
		}
		openGate(t, gate)
		select {
		case st := <-done:
			if len(st.Logs) == 0 || st.Logs[0].Text != "after" {
				t.Fatalf("got %+v, want the line after the gate", st)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the long poll did not answer when the script printed")
		}
	})
	follow(t, scripts, "poll", next)
}

func TestManyCallsShareOneRemoteProcess(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	scripts := m.target(t).Scripts()
	const n = 20
	// Started at once on a target that has not connected yet: the first
	// calls also share one connection and one remote process.
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs <- runScript(testContext(t), scripts, fmt.Sprintf("many-%d", i), fmt.Sprintf("echo output of %d", i), 10*time.Second)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if pids := remoteServePIDs(m.home); len(pids) != 1 {
		t.Errorf("%d remote processes ran the calls, want 1", len(pids))
	}
}

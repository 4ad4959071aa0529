package scriptsvc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
)

func TestMain(m *testing.M) {
	scriptsvc.RunIfSupervisor() // this test binary is also the supervisor
	os.Exit(m.Run())
}

func newService(t *testing.T, root string) *scriptsvc.Service {
	t.Helper()
	s, err := scriptsvc.New(root, scriptsvc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runToEnd follows a run until it completes, collecting its lines.
func runToEnd(t *testing.T, s contract.ScriptService, ticket string, from int64) (contract.ScriptStatus, []contract.OutputLine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var lines []contract.OutputLine
	for {
		st, err := s.GetStatus(ctx, contract.StatusRequest{Ticket: ticket, FromLogSeq: from, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, st.Logs...)
		from = st.NextLogSeq
		if st.State == contract.ScriptComplete {
			return st, lines
		}
		if ctx.Err() != nil {
			t.Fatalf("script %s did not complete: %+v", ticket, st)
		}
	}
}

func texts(lines []contract.OutputLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, string(l.Source)+":"+l.Text)
	}
	return out
}

func start(t *testing.T, s contract.ScriptService, ticket, syntax, body string) contract.ScriptStatus {
	t.Helper()
	st, err := s.StartScript(context.Background(), contract.StartScriptCommand{Ticket: ticket, Syntax: syntax, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRunsScriptsAndReportsOutputAndExitCode(t *testing.T) {
	tests := []struct {
		name   string
		syntax string
		body   string
		code   int
		lines  []string
	}{
		{"bash success", "bash", "echo one\necho two >&2\necho three", 0, []string{"stdout:one", "stderr:two", "stdout:three"}},
		{"sh failure", "sh", "echo failing; exit 3", 3, []string{"stdout:failing"}},
		{"blank and unterminated lines", "bash", "printf 'a\\n\\nb'", 0, []string{"stdout:a", "stdout:", "stdout:b"}},
		{"killed by a signal", "bash", "kill -9 $$", 128 + 9, nil},
		{"pulpo settings are hidden", "bash", "echo key=${PULPO_SECRET_FOR_TEST:-none}", 0, []string{"stdout:key=none"}},
	}
	t.Setenv("PULPO_SECRET_FOR_TEST", "API-SHOULDNOTLEAK")
	s := newService(t, t.TempDir())
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ticket := fmt.Sprintf("t-%d", i)
			start(t, s, ticket, tt.syntax, tt.body)
			st, lines := runToEnd(t, s, ticket, 0)
			if st.ExitCode != tt.code {
				t.Errorf("exit code %d, want %d", st.ExitCode, tt.code)
			}
			got := texts(lines)
			if tt.syntax == "bash" && tt.name == "bash success" {
				// stdout and stderr are separate pipes: their relative order is not guaranteed.
				if len(got) != 3 || !strings.Contains(strings.Join(got, ","), "stderr:two") {
					t.Errorf("lines %q", got)
				}
			} else if strings.Join(got, "|") != strings.Join(tt.lines, "|") {
				t.Errorf("lines %q, want %q", got, tt.lines)
			}
			for i, l := range lines {
				if l.Seq != int64(i) {
					t.Errorf("line %d has seq %d", i, l.Seq)
				}
			}
		})
	}
}

func TestStartingATicketTwiceRunsItOnce(t *testing.T) {
	dir := t.TempDir()
	s := newService(t, filepath.Join(dir, "work"))
	marker := filepath.Join(dir, "runs")
	body := fmt.Sprintf("echo run >> %s", marker)
	start(t, s, "once", "bash", body)
	runToEnd(t, s, "once", 0)
	start(t, s, "once", "bash", body)
	// A second service on the same folder (a restarted server) also finds it.
	start(t, newService(t, filepath.Join(dir, "work")), "once", "bash", body)
	b, _ := os.ReadFile(marker)
	if got := strings.Count(string(b), "run"); got != 1 {
		t.Fatalf("script ran %d times", got)
	}
}

func TestReadsFromAnyPositionAndAcrossRestarts(t *testing.T) {
	root := t.TempDir()
	first := newService(t, root)
	start(t, first, "long", "bash", "for i in $(seq 1 12000); do echo line $i; done")
	// Read part of it from the first service, the rest from a new one, as a
	// restarted server would.
	st, err := first.GetStatus(context.Background(), contract.StatusRequest{Ticket: "long", Wait: 5 * time.Second})
	if err != nil || len(st.Logs) == 0 {
		t.Fatalf("first read: %v %+v", err, st)
	}
	end, rest := runToEnd(t, newService(t, root), "long", st.NextLogSeq)
	all := append(st.Logs, rest...)
	if end.ExitCode != 0 || len(all) != 12000 {
		t.Fatalf("got %d lines, exit %d", len(all), end.ExitCode)
	}
	for i, l := range all {
		if l.Text != fmt.Sprintf("line %d", i+1) || l.Seq != int64(i) {
			t.Fatalf("line %d is %+v", i, l)
		}
	}
	// Reading again from an earlier position gives the same lines.
	again, err := first.GetStatus(context.Background(), contract.StatusRequest{Ticket: "long", FromLogSeq: 11998})
	if err != nil || len(again.Logs) != 2 || again.Logs[0].Text != "line 11999" {
		t.Fatalf("re-read: %v %+v", err, again.Logs)
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		// A zombie still answers kill(0); it is gone once its state is Z or it has no /proc entry.
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d is still running", pid)
}

// pidsFrom waits for a script to print "pids A B" and returns them.
func pidsFrom(t *testing.T, s contract.ScriptService, ticket string) []int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st, err := s.GetStatus(context.Background(), contract.StatusRequest{Ticket: ticket, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range st.Logs {
			if f := strings.Fields(l.Text); len(f) == 3 && f[0] == "pids" {
				a, _ := strconv.Atoi(f[1])
				b, _ := strconv.Atoi(f[2])
				return []int{a, b}
			}
		}
	}
	t.Fatal("script never printed its pids")
	return nil
}

func TestCancelStopsTheScriptAndItsChildren(t *testing.T) {
	s := newService(t, t.TempDir())
	start(t, s, "cancel-me", "bash", "sleep 300 &\necho pids $$ $!\nwait")
	pids := pidsFrom(t, s, "cancel-me")
	if _, err := s.CancelScript(context.Background(), contract.StatusRequest{Ticket: "cancel-me"}); err != nil {
		t.Fatal(err)
	}
	st, lines := runToEnd(t, s, "cancel-me", 0)
	if st.ExitCode != contract.ExitCanceled {
		t.Fatalf("exit code %d, want %d", st.ExitCode, contract.ExitCanceled)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
	if !strings.Contains(strings.Join(texts(lines), "\n"), "cancellation requested") {
		t.Fatalf("the log should say the script was canceled: %q", texts(lines))
	}
}

func TestASupervisorKilledMidRunGivesAnUnknownResult(t *testing.T) {
	root := t.TempDir()
	s := newService(t, root)
	start(t, s, "orphan", "bash", "echo pids $$ $$; sleep 300")
	pidsFrom(t, s, "orphan")
	b, err := os.ReadFile(filepath.Join(root, "orphan", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscanf(string(b[strings.Index(string(b), `"supervisorPid":`)+len(`"supervisorPid":`):]), "%d", &pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	st, _ := runToEnd(t, s, "orphan", 0)
	if st.ExitCode != contract.ExitUnknownResult {
		t.Fatalf("exit code %d, want %d", st.ExitCode, contract.ExitUnknownResult)
	}
	// Cancel still reaches the script through its process group.
	s.CancelScript(context.Background(), contract.StatusRequest{Ticket: "orphan"})
}

func TestUnknownAndInvalidTickets(t *testing.T) {
	s := newService(t, t.TempDir())
	st, err := s.GetStatus(context.Background(), contract.StatusRequest{Ticket: "never-started"})
	if err != nil || st.State != contract.ScriptComplete || st.ExitCode != contract.ExitUnknownTicket {
		t.Fatalf("unknown ticket: %v %+v", err, st)
	}
	for _, bad := range []string{"", "../escape", "a/b", strings.Repeat("x", 200)} {
		if _, err := s.StartScript(context.Background(), contract.StartScriptCommand{Ticket: bad, Syntax: "bash", Body: "true"}); err == nil {
			t.Errorf("ticket %q accepted", bad)
		}
	}
	if _, err := s.StartScript(context.Background(), contract.StartScriptCommand{Ticket: "x", Syntax: "perl", Body: "1"}); err == nil {
		t.Error("unknown syntax accepted")
	}
}

func TestCompleteRemovesTheWorkspace(t *testing.T) {
	root := t.TempDir()
	s := newService(t, root)
	start(t, s, "done", "bash", "true")
	runToEnd(t, s, "done", 0)
	if err := s.CompleteScript(context.Background(), "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "done")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("workspace still there: %v", err)
	}
}

// waitFor polls the script's status until cond holds, collecting nothing.
func waitFor(t *testing.T, s contract.ScriptService, ticket string, what string, cond func(contract.ScriptStatus) bool) contract.ScriptStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := s.GetStatus(context.Background(), contract.StatusRequest{Ticket: ticket, Wait: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
	}
	t.Fatalf("script %s never got to: %s", ticket, what)
	return contract.ScriptStatus{}
}

func TestIsolatedScriptsTakeTurnsOnATarget(t *testing.T) {
	s := newService(t, t.TempDir())
	gate := filepath.Join(t.TempDir(), "gate")
	ctx := context.Background()
	isolated := func(ticket, body string) {
		if _, err := s.StartScript(ctx, contract.StartScriptCommand{Ticket: ticket, Syntax: "bash", Body: body, Isolated: true}); err != nil {
			t.Fatal(err)
		}
	}
	isolated("first", fmt.Sprintf("echo first started; while [ ! -e %q ]; do sleep 0.02; done; echo first done", gate))
	waitFor(t, s, "first", "running", func(st contract.ScriptStatus) bool { return st.State == contract.ScriptRunning })
	isolated("second", "echo second ran")
	isolated("third", "echo third ran")

	// Both wait, and say why.
	for _, ticket := range []string{"second", "third"} {
		waitFor(t, s, ticket, "waiting with a message", func(st contract.ScriptStatus) bool {
			return st.State == contract.ScriptPending && len(st.Logs) > 0 && strings.Contains(st.Logs[0].Text, "waiting for another script")
		})
	}
	// A waiting script canceled never runs.
	if _, err := s.CancelScript(ctx, contract.StatusRequest{Ticket: "third"}); err != nil {
		t.Fatal(err)
	}
	third, lines := runToEnd(t, s, "third", 0)
	if third.ExitCode != contract.ExitCanceled || strings.Contains(strings.Join(texts(lines), "\n"), "third ran") {
		t.Fatalf("canceled while waiting: exit %d, %q", third.ExitCode, texts(lines))
	}

	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	first, _ := runToEnd(t, s, "first", 0)
	second, lines := runToEnd(t, s, "second", 0)
	if first.ExitCode != 0 || second.ExitCode != 0 || !strings.Contains(strings.Join(texts(lines), "\n"), "stdout:second ran") {
		t.Fatalf("after the first ended: %d %d %q", first.ExitCode, second.ExitCode, texts(lines))
	}
	// Scripts that are not isolated do not wait.
	isolated("fourth", fmt.Sprintf("while [ ! -e %q.2 ]; do sleep 0.02; done", gate))
	waitFor(t, s, "fourth", "running", func(st contract.ScriptStatus) bool { return st.State == contract.ScriptRunning })
	start(t, s, "health", "bash", "echo healthy")
	if st, _ := runToEnd(t, s, "health", 0); st.ExitCode != 0 {
		t.Fatalf("health check: %+v", st)
	}
	os.WriteFile(gate+".2", nil, 0o600)
	runToEnd(t, s, "fourth", 0)
}

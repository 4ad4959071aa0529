package sshtarget_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/sshtarget"
	"github.com/pulpo-deploy/pulpo/internal/testutil/sshdtest"
)

// builtVersion is stamped into the pulpo binary the tests send, so a test
// can tell the machine's answer from the server's own setting.
const builtVersion = "test-remote-build"

// pulpoBinary is the real pulpo binary, built once in TestMain: the machine
// runs it as "remote-call" and as the script supervisor.
var pulpoBinary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "pulpo-sshtarget-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pulpoBinary = filepath.Join(dir, "pulpo")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+builtVersion, "-o", pulpoBinary, "../../cmd/pulpo")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build pulpo: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// machine is an sshd on loopback and a remote home for one test.
type machine struct {
	srv  *sshdtest.Server
	home string
}

func newMachine(t *testing.T) machine {
	t.Helper()
	return machine{srv: sshdtest.Start(t), home: filepath.Join(t.TempDir(), "remote-home")}
}

func (m machine) config() sshtarget.Config {
	return sshtarget.Config{
		Name:               "test-machine",
		Host:               "127.0.0.1",
		Port:               m.srv.Port,
		User:               m.srv.User,
		PrivateKeyPEM:      m.srv.ClientKeyPEM,
		HostKeyFingerprint: m.srv.HostKeyFingerprint,
		RemoteHome:         m.home,
		LocalBinary:        pulpoBinary,
		Version:            "server-version",
	}
}

// target returns a new Target for the machine, closed when the test ends.
func (m machine) target(t *testing.T) *sshtarget.Target {
	t.Helper()
	return newTarget(t, m.config())
}

func newTarget(t *testing.T, cfg sshtarget.Config) *sshtarget.Target {
	t.Helper()
	tg, err := sshtarget.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, s contract.ScriptService, ticket, body string) contract.ScriptStatus {
	t.Helper()
	st, err := s.StartScript(testContext(t), contract.StartScriptCommand{Ticket: ticket, Syntax: "bash", Body: body, Wait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// follow reads a run from a sequence number until it completes.
func follow(t *testing.T, s contract.ScriptService, ticket string, from int64) (contract.ScriptStatus, []contract.OutputLine) {
	t.Helper()
	ctx := testContext(t)
	var lines []contract.OutputLine
	for {
		st, err := s.GetStatus(ctx, contract.StatusRequest{Ticket: ticket, FromLogSeq: from, Wait: 5 * time.Second})
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

// followUntil reads a run until a line with the given text arrives, and
// returns the next sequence number to read.
func followUntil(t *testing.T, s contract.ScriptService, ticket, text string) int64 {
	t.Helper()
	ctx := testContext(t)
	var from int64
	for {
		st, err := s.GetStatus(ctx, contract.StatusRequest{Ticket: ticket, FromLogSeq: from, Wait: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range st.Logs {
			if l.Text == text {
				return l.Seq + 1
			}
		}
		from = st.NextLogSeq
		if st.State == contract.ScriptComplete || ctx.Err() != nil {
			t.Fatalf("script %s never printed %q: %+v", ticket, text, st)
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

// gatedScript prints "before", waits (at most 30s) until the gate file
// exists, then prints "after" and exits 7.
func gatedScript(gate string) string {
	return fmt.Sprintf("echo before\nfor i in $(seq 600); do [ -e %q ] && break; sleep 0.05; done\necho after\nexit 7", gate)
}

func openGate(t *testing.T, gate string) {
	t.Helper()
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gone reports whether a process has exited (a zombie counts: it runs no more).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && strings.Contains(string(b), ") Z ")
}

// remoteServePIDs lists the "remote-serve --home HOME" processes running on
// the machine (which is this one).
func remoteServePIDs(home string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 4 && args[1] == "remote-serve" && args[3] == home && !gone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killRemoteServe kills the machine's remote-serve process, as the OOM
// killer or an administrator might, and waits until it is gone.
func killRemoteServe(t *testing.T, home string) {
	t.Helper()
	var pids []int
	// One that served an earlier connection may still be on its way out.
	waitFor(t, "one remote process runs", func() bool {
		pids = remoteServePIDs(home)
		return len(pids) == 1
	})
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the remote process is gone", func() bool { return gone(pids[0]) })
}

// runScript does what a deployment step does: it runs an echo command as a
// script to its end, waiting up to wait in each call, checks that it exits
// 0 having printed just what it echoes, and completes it.
func runScript(ctx context.Context, scripts contract.ScriptService, ticket, echo string, wait time.Duration) error {
	st, err := scripts.StartScript(ctx, contract.StartScriptCommand{Ticket: ticket, Syntax: "bash", Body: echo, Wait: wait})
	if err != nil {
		return err
	}
	lines := st.Logs
	for st.State != contract.ScriptComplete {
		if st, err = scripts.GetStatus(ctx, contract.StatusRequest{Ticket: ticket, FromLogSeq: st.NextLogSeq, Wait: wait}); err != nil {
			return err
		}
		lines = append(lines, st.Logs...)
	}
	want := strings.TrimPrefix(echo, "echo ")
	if st.ExitCode != 0 || len(lines) != 1 || lines[0].Text != want {
		return fmt.Errorf("script %s ended with %d having printed %q, want 0 and just %q", ticket, st.ExitCode, texts(lines), want)
	}
	return scripts.CompleteScript(ctx, ticket)
}

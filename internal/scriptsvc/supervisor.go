package scriptsvc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// SupervisorCommand is the argument that turns the pulpo binary into a
// supervisor: "pulpo supervise <workspace>".
const SupervisorCommand = "supervise"

// CancelGrace is how long a canceled script has between SIGTERM and SIGKILL.
const CancelGrace = 10 * time.Second

// maxLineBytes splits longer output lines, so one runaway line cannot
// exhaust memory.
const maxLineBytes = 64 << 10

// SpareArgument, given as the workspace, makes a spare supervisor: it waits
// for its workspace's path on standard input, and exits quietly when the
// input closes first (the service that started it has gone).
const SpareArgument = "-"

// Supervise runs the script of a workspace to completion and records its
// output and exit code. It returns the process exit code for the supervisor
// itself (0 unless it could not do its job).
func Supervise(dir string) int {
	if dir == SpareArgument {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil {
			return 0 // never needed
		}
		dir = strings.TrimSpace(line)
		os.Stdin.Close()
		if err := os.Chdir(dir); err != nil {
			fmt.Fprintf(os.Stderr, "pulpo supervise %s: %v\n", dir, err)
			return 1
		}
	}
	if err := supervise(dir); err != nil {
		fmt.Fprintf(os.Stderr, "pulpo supervise %s: %v\n", dir, err)
		return 1
	}
	return 0
}

func supervise(dir string) error {
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("another supervisor holds this workspace: %w", err)
	}
	st, err := readState(dir)
	if err != nil {
		return err
	}
	if st.State != contract.ScriptPending {
		return nil // an earlier supervisor started it; never run a script twice
	}
	var cmdSpec command
	b, err := os.ReadFile(filepath.Join(dir, commandFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &cmdSpec); err != nil {
		return fmt.Errorf("read %s: %w", commandFile, err)
	}

	out, err := os.OpenFile(filepath.Join(dir, outputFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	w := &outputWriter{f: out}

	// Signals are watched before the script starts, so a cancel that comes
	// at once is not lost.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	if cmdSpec.Isolated {
		// Still Pending, but with our pid, so a cancel can reach us while we wait.
		st.SupervisorPID = os.Getpid()
		if err := writeState(dir, st); err != nil {
			return err
		}
		release, canceled, err := waitIsolation(filepath.Dir(dir), sigs, w)
		if err != nil {
			return err
		}
		if canceled {
			w.write(contract.Diagnostic, "canceled before the script started")
			return finish(dir, st, contract.ExitCanceled, true)
		}
		defer release()
	}

	interp := interpreter(cmdSpec.Syntax)
	if cmdSpec.Syntax == syntaxPython {
		if _, err := exec.LookPath(interp); err != nil {
			w.write(contract.Diagnostic, pythonNotFound())
			return finish(dir, st, 127, false)
		}
	}
	cmd := exec.Command(interp, scriptArgs(cmdSpec)...)
	cmd.Dir = dir
	cmd.Env = scriptEnv(os.Environ())
	if cmdSpec.Syntax == syntaxPython {
		// Lines reach the log as they are printed, also from Python
		// programs the script starts.
		cmd.Env = append(cmd.Env, "PYTHONUNBUFFERED=1")
	}
	if exe, err := os.Executable(); err == nil {
		// The runner is this binary: package steps call "$PULPO_RUNNER run-package".
		cmd.Env = append(cmd.Env, RunnerEnv+"="+exe)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, so cancel reaches its children
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	st.SupervisorPID, st.StartedAt = os.Getpid(), &now
	if err := cmd.Start(); err != nil {
		w.write(contract.Diagnostic, fmt.Sprintf("could not start %s: %v", cmdSpec.Syntax, err))
		return finish(dir, st, 127, false)
	}
	st.State, st.ProcessGroup = contract.ScriptRunning, cmd.Process.Pid
	if err := writeState(dir, st); err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return err
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.copyLines(contract.Stdout, stdout) }()
	go func() { defer wg.Done(); w.copyLines(contract.Stderr, stderr) }()

	exited := make(chan error, 1)
	go func() { wg.Wait(); exited <- cmd.Wait() }()

	canceled := false
	var waitErr error
	var killTimer <-chan time.Time
loop:
	for {
		select {
		case waitErr = <-exited:
			break loop
		case <-sigs:
			if !canceled {
				canceled = true
				w.write(contract.Diagnostic, "cancellation requested: stopping the script")
				syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				killTimer = time.After(CancelGrace)
			}
		case <-killTimer:
			w.write(contract.Diagnostic, fmt.Sprintf("the script did not stop within %s: killing it", CancelGrace))
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	// Children that outlived the shell would keep writing; the run is over.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	code := exitCode(waitErr)
	if canceled {
		code = contract.ExitCanceled
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return finish(dir, st, code, canceled)
}

// isolationLockFile serialises isolated scripts on one target, across every
// caller, server node and restart: the kernel drops the lock with its holder.
const isolationLockFile = ".isolation.lock"

// isolationPoll is how often a waiting supervisor tries the lock again.
const isolationPoll = 50 * time.Millisecond

// waitIsolation takes the target's isolation lock, saying so in the script's
// output if it has to wait. A cancel while waiting gives up the wait.
func waitIsolation(root string, sigs <-chan os.Signal, w *outputWriter) (release func(), canceled bool, err error) {
	f, err := os.OpenFile(filepath.Join(root, isolationLockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("open isolation lock: %w", err)
	}
	release = func() { f.Close() }
	said := false
	tick := time.NewTicker(isolationPoll)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if said {
				w.write(contract.Diagnostic, "the other script has finished; starting")
			}
			return release, false, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, false, fmt.Errorf("take isolation lock: %w", err)
		}
		if !said {
			said = true
			w.write(contract.Diagnostic, "waiting for another script on this target to finish (one deployment script runs at a time)")
		}
		select {
		case <-sigs:
			f.Close()
			return nil, true, nil
		case <-tick.C:
		}
	}
}

func finish(dir string, st state, code int, canceled bool) error {
	now := time.Now().UTC()
	st.State, st.ExitCode, st.Canceled, st.CompletedAt = contract.ScriptComplete, code, canceled, &now
	return finishState(dir, st)
}

func interpreter(syntax string) string {
	switch syntax {
	case "sh":
		return "sh"
	case syntaxPython:
		return "python3"
	}
	return "bash"
}

func scriptArgs(c command) []string {
	switch c.Syntax {
	case "sh":
		return []string{c.ScriptFile}
	case syntaxPython:
		// -u: unbuffered, so output streams live.
		if c.Script != "" {
			return []string{"-u", c.ScriptFile, c.Script}
		}
		return []string{"-u", c.ScriptFile}
	}
	return []string{"--noprofile", "--norc", c.ScriptFile}
}

// RunnerEnv names the variable that tells scripts where the pulpo binary
// (the runner of package steps) is.
const RunnerEnv = "PULPO_RUNNER"

// scriptEnv passes the supervisor's environment on, without Pulpo's own
// settings: those can hold API keys, which scripts must never see.
func scriptEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PULPO_") {
			out = append(out, kv)
		}
	}
	return out
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return contract.ExitUnknownResult
}

// outputWriter appends numbered lines to the output file. Each line goes
// out in one write, so readers see whole lines or none.
type outputWriter struct {
	mu  sync.Mutex
	f   *os.File
	seq int64
}

func (w *outputWriter) write(src contract.OutputSource, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, _ := json.Marshal(contract.OutputLine{Seq: w.seq, Time: time.Now().UTC(), Source: src, Text: text})
	w.f.Write(append(b, '\n'))
	w.seq++
}

func (w *outputWriter) copyLines(src contract.OutputSource, r io.Reader) {
	br := bufio.NewReaderSize(r, maxLineBytes)
	for {
		line, isPrefix, err := br.ReadLine()
		if len(line) > 0 || (err == nil && !isPrefix) {
			w.write(src, strings.ToValidUTF8(strings.TrimSuffix(string(line), "\r"), string(utf8.RuneError)))
		}
		if err != nil {
			return
		}
	}
}

// RunIfSupervisor makes a binary serve as a supervisor when invoked as one.
// Test binaries call it first thing in TestMain, so the script service can
// use them as its supervisor.
func RunIfSupervisor() {
	if len(os.Args) == 3 && os.Args[1] == SupervisorCommand {
		os.Exit(Supervise(os.Args[2]))
	}
}

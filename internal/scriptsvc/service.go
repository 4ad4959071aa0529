package scriptsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// Service serves contract.ScriptService from workspaces under a root folder.
type Service struct {
	root string
	// supervisor is the command line that starts a supervisor, to which the
	// workspace path is appended.
	supervisor []string
	// poll is how often waiting calls look at a workspace again.
	poll    time.Duration
	noSpare bool

	mu      sync.Mutex
	tickets map[string]*sync.Mutex // serialises calls per ticket
	cursors map[string]cursor

	// spare is a supervisor already started and waiting to be told its
	// workspace: starting a Go process costs more than a short script, so
	// the next script should not wait for it.
	spareMu sync.Mutex
	spare   *supervisorProc
}

// supervisorProc is a started supervisor process.
type supervisorProc struct {
	cmd    *exec.Cmd
	stderr *limitedBuffer
	exited chan error
	// workspace receives the workspace path of a spare; nil otherwise.
	workspace *os.File
}

// Options tune a Service.
type Options struct {
	// Supervisor is the command that starts a supervisor, e.g.
	// ["/usr/bin/pulpo", "supervise"]; the current executable by default.
	Supervisor []string
	// Poll is how often waiting calls check a workspace; 10ms by default.
	Poll time.Duration
	// NoSpare turns off the spare supervisor, for a process that serves
	// one call and exits (an SSH remote call), where it would be wasted.
	NoSpare bool
}

// New returns a service keeping its workspaces under root.
func New(root string, opts Options) (*Service, error) {
	// Supervisors run inside their workspace, so a relative root would point
	// somewhere else from there.
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("script workspace root: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create script workspace root %s: %w", root, err)
	}
	if len(opts.Supervisor) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable for the script supervisor: %w", err)
		}
		opts.Supervisor = []string{exe, SupervisorCommand}
	}
	if opts.Poll <= 0 {
		opts.Poll = 10 * time.Millisecond
	}
	return &Service{root: root, supervisor: opts.Supervisor, poll: opts.Poll, noSpare: opts.NoSpare,
		tickets: map[string]*sync.Mutex{}, cursors: map[string]cursor{}}, nil
}

var _ contract.ScriptService = (*Service)(nil)

// RunnerPath is the binary scripts reach as $PULPO_RUNNER: the supervisor's.
func (s *Service) RunnerPath() string { return s.supervisor[0] }

func (s *Service) lockTicket(ticket string) func() {
	s.mu.Lock()
	m, ok := s.tickets[ticket]
	if !ok {
		m = &sync.Mutex{}
		s.tickets[ticket] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (s *Service) dir(ticket string) string { return filepath.Join(s.root, ticket) }

// StartScript starts the script of a new ticket; for a known ticket it
// reports the existing run instead, so a retried start never runs a script twice.
func (s *Service) StartScript(ctx context.Context, cmd contract.StartScriptCommand) (contract.ScriptStatus, error) {
	if err := contract.ValidTicket(cmd.Ticket); err != nil {
		return contract.ScriptStatus{}, err
	}
	if cmd.Syntax != "bash" && cmd.Syntax != "sh" && cmd.Syntax != syntaxPython {
		return contract.ScriptStatus{}, fmt.Errorf("script syntax %q is not supported: use bash, sh or python", cmd.Syntax)
	}
	for name := range cmd.Modules {
		if cmd.Syntax != syntaxPython {
			return contract.ScriptStatus{}, fmt.Errorf("script modules come with python scripts only, not %s", cmd.Syntax)
		}
		if name == "" || strings.ContainsAny(name, `/\.`) || name == "script" || name == "bootstrap" {
			return contract.ScriptStatus{}, fmt.Errorf("script module %q is not a Python module name that can sit beside the script", name)
		}
	}
	if err := s.start(ctx, cmd); err != nil {
		return contract.ScriptStatus{}, err
	}
	return s.GetStatus(ctx, contract.StatusRequest{Ticket: cmd.Ticket, Wait: cmd.Wait})
}

func (s *Service) start(ctx context.Context, cmd contract.StartScriptCommand) error {
	unlock := s.lockTicket(cmd.Ticket)
	defer unlock()
	dir := s.dir(cmd.Ticket)
	st, err := readState(dir)
	switch {
	case err == nil && st.State != contract.ScriptPending:
		return nil // started before
	case err == nil:
		// Pending: a start was cut short before the supervisor took over.
		if alive, lerr := supervisorAlive(dir); lerr != nil || alive {
			return lerr
		}
	case errors.Is(err, os.ErrNotExist):
		if err := s.prepare(dir, cmd); err != nil {
			os.RemoveAll(dir)
			return err
		}
	default:
		return fmt.Errorf("start script %s: %w", cmd.Ticket, err)
	}
	return s.launch(ctx, dir)
}

func (s *Service) prepare(dir string, cmd contract.StartScriptCommand) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	if cmd.Syntax == syntaxPython {
		return preparePython(dir, cmd)
	}
	script := "script.sh"
	if err := os.WriteFile(filepath.Join(dir, script), []byte(cmd.Body), 0o600); err != nil {
		return fmt.Errorf("write script: %w", err)
	}
	run := script
	if cmd.Bootstrap != "" {
		// The bootstrap runs the script in its own shell with ".", so the
		// script's exit ends the run with its code.
		run = "bootstrap.sh"
		text := cmd.Bootstrap + "\n. ./" + script + "\n"
		if err := os.WriteFile(filepath.Join(dir, run), []byte(text), 0o600); err != nil {
			return fmt.Errorf("write script bootstrap: %w", err)
		}
	}
	return writeCommand(dir, command{Syntax: cmd.Syntax, ScriptFile: run, TaskID: cmd.TaskID, Isolated: cmd.Isolated})
}

// writeCommand ends the preparation of a workspace.
func writeCommand(dir string, c command) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, commandFile), b, false); err != nil {
		return err
	}
	// The state file is written last: its presence means the workspace is whole.
	return writeState(dir, state{State: contract.ScriptPending, CreatedAt: time.Now().UTC()})
}

// launch hands the workspace to a supervisor (the spare, or a new one) and
// waits until it has taken over.
func (s *Service) launch(ctx context.Context, dir string) error {
	sp := s.takeSpare(dir)
	if sp == nil {
		var err error
		if sp, err = s.startSupervisor(dir); err != nil {
			return err
		}
	}
	if !s.noSpare {
		go s.refillSpare()
	}
	stderr, exited := sp.stderr, sp.exited
	pause := s.backoff()
	deadline := time.After(30 * time.Second)
	for {
		st, err := readState(dir)
		// Taken over: running, done, or waiting its turn on the target.
		if err == nil && (st.State != contract.ScriptPending || st.SupervisorPID > 0) {
			return nil
		}
		select {
		case err := <-exited:
			if st, rerr := readState(dir); rerr == nil && st.State != contract.ScriptPending {
				return nil // it ran the script and finished already
			}
			return fmt.Errorf("script supervisor exited before starting the script (%v): %s", err, strings.TrimSpace(stderr.String()))
		case <-deadline:
			return fmt.Errorf("script supervisor did not start the script within 30s")
		case <-ctx.Done():
			// It may still start; a retried StartScript with the same ticket finds it.
			return ctx.Err()
		case <-time.After(pause()):
		}
	}
}

// startSupervisor starts a supervisor for dir, or a spare when dir is
// empty: one that reads its workspace from standard input.
func (s *Service) startSupervisor(dir string) (*supervisorProc, error) {
	arg, cwd := dir, dir
	if dir == "" {
		arg, cwd = SpareArgument, s.root
	}
	args := append(append([]string(nil), s.supervisor[1:]...), arg)
	c := exec.Command(s.supervisor[0], args...)
	c.Dir = cwd
	// A session of its own: signals aimed at the server (Ctrl-C, a stop)
	// do not reach scripts, which are resumed after a restart instead.
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	sp := &supervisorProc{cmd: c, stderr: &limitedBuffer{}, exited: make(chan error, 1)}
	c.Stderr = sp.stderr
	if dir == "" {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("start script supervisor: %w", err)
		}
		c.Stdin, sp.workspace = r, w
		defer r.Close()
	}
	if err := c.Start(); err != nil {
		if sp.workspace != nil {
			sp.workspace.Close()
		}
		return nil, fmt.Errorf("start script supervisor: %w", err)
	}
	go func() { sp.exited <- c.Wait() }() // reaps it while this process lives
	return sp, nil
}

// takeSpare gives dir to the waiting spare supervisor, if there is a live one.
func (s *Service) takeSpare(dir string) *supervisorProc {
	s.spareMu.Lock()
	sp := s.spare
	s.spare = nil
	s.spareMu.Unlock()
	if sp == nil {
		return nil
	}
	select {
	case err := <-sp.exited:
		sp.exited <- err
		sp.workspace.Close()
		return nil
	default:
	}
	_, err := sp.workspace.Write([]byte(dir + "\n"))
	sp.workspace.Close()
	if err != nil {
		return nil // it died just now; the caller starts one
	}
	return sp
}

// refillSpare starts a new spare supervisor unless one is waiting.
func (s *Service) refillSpare() {
	s.spareMu.Lock()
	defer s.spareMu.Unlock()
	if s.spare != nil {
		return
	}
	sp, err := s.startSupervisor("")
	if err != nil {
		return // the next script starts its own
	}
	s.spare = sp
}

// Close lets the spare supervisor go; it exits when its pipe closes.
func (s *Service) Close() {
	s.spareMu.Lock()
	defer s.spareMu.Unlock()
	if s.spare != nil {
		s.spare.workspace.Close()
		s.spare = nil
	}
}

// GetStatus reports a run's state and the output lines from FromLogSeq on,
// waiting up to req.Wait for something new.
func (s *Service) GetStatus(ctx context.Context, req contract.StatusRequest) (contract.ScriptStatus, error) {
	if err := contract.ValidTicket(req.Ticket); err != nil {
		return contract.ScriptStatus{}, err
	}
	deadline := time.Now().Add(req.Wait)
	pause := s.backoff()
	for {
		st, err := s.status(req.Ticket, req.FromLogSeq)
		if err == nil && st.State == contract.ScriptRunning && len(st.Logs) > 0 && time.Now().Before(deadline) {
			// A short script has usually ended by now: one quick look lets
			// the reply say so, instead of costing the caller another call.
			time.Sleep(firstPoll)
			if again, aerr := s.status(req.Ticket, req.FromLogSeq); aerr == nil {
				st = again
			}
		}
		if err != nil || st.State == contract.ScriptComplete || len(st.Logs) > 0 || !time.Now().Before(deadline) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, nil // what there is so far; the caller asks again
		case <-time.After(pause()):
		}
	}
}

// firstPoll is the pause of a wait's first looks (quickPolls of them): a
// short script is seen to end within a millisecond; after that pauses double
// up to s.poll, so a long script costs a look every s.poll. A look is a few
// small file reads.
const (
	firstPoll  = time.Millisecond
	quickPolls = 30
)

func (s *Service) backoff() func() time.Duration {
	next, n := firstPoll, 0
	return func() time.Duration {
		n++
		if n <= quickPolls {
			return firstPoll
		}
		d := next
		next = min(next*2, s.poll)
		return d
	}
}

func (s *Service) status(ticket string, from int64) (contract.ScriptStatus, error) {
	dir := s.dir(ticket)
	out := contract.ScriptStatus{Ticket: ticket, NextLogSeq: from}
	st, err := readState(dir)
	if errors.Is(err, os.ErrNotExist) {
		out.State, out.ExitCode = contract.ScriptComplete, contract.ExitUnknownTicket
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("script %s: %w", ticket, err)
	}
	if st.State == contract.ScriptRunning {
		alive, err := supervisorAlive(dir)
		if err != nil {
			return out, err
		}
		if !alive {
			// It may have finished between the two reads.
			if st, err = readState(dir); err != nil {
				return out, err
			}
			if st.State != contract.ScriptComplete {
				st.State, st.ExitCode = contract.ScriptComplete, contract.ExitUnknownResult
			}
		}
	}
	// Lines are read after the state: a Complete state means every line is
	// already in the file.
	s.mu.Lock()
	hint := s.cursors[ticket]
	s.mu.Unlock()
	lines, next, err := readOutput(dir, from, hint)
	if err != nil {
		return out, err
	}
	s.mu.Lock()
	s.cursors[ticket] = next
	s.mu.Unlock()
	out.State, out.ExitCode, out.Logs = st.State, st.ExitCode, lines
	if n := len(lines); n > 0 {
		out.NextLogSeq = lines[n-1].Seq + 1
		if n == maxReadLines && out.State == contract.ScriptComplete {
			out.State = contract.ScriptRunning // more lines to fetch before the end is reported
		}
	}
	return out, nil
}

// CancelScript signals the run's supervisor to stop the script; when the
// supervisor is gone it kills the script's process group itself.
func (s *Service) CancelScript(ctx context.Context, req contract.StatusRequest) (contract.ScriptStatus, error) {
	if err := contract.ValidTicket(req.Ticket); err != nil {
		return contract.ScriptStatus{}, err
	}
	unlock := s.lockTicket(req.Ticket)
	dir := s.dir(req.Ticket)
	st, err := readState(dir)
	switch {
	case err == nil && st.State == contract.ScriptRunning:
		alive, lerr := supervisorAlive(dir)
		if lerr == nil && alive {
			syscall.Kill(st.SupervisorPID, syscall.SIGTERM)
		} else if st.ProcessGroup > 0 {
			syscall.Kill(-st.ProcessGroup, syscall.SIGKILL)
		}
	case err == nil && st.State == contract.ScriptPending:
		// Never started: make sure it never will. A supervisor waiting for
		// its turn on the target is told to give up.
		now := time.Now().UTC()
		st.State, st.ExitCode, st.Canceled, st.CompletedAt = contract.ScriptComplete, contract.ExitCanceled, true, &now
		if alive, _ := supervisorAlive(dir); !alive {
			finishState(dir, st)
		} else if st.SupervisorPID > 0 {
			syscall.Kill(st.SupervisorPID, syscall.SIGTERM)
		}
	}
	unlock()
	return s.GetStatus(ctx, req)
}

// CompleteScript removes a finished run's workspace.
func (s *Service) CompleteScript(ctx context.Context, ticket string) error {
	if err := contract.ValidTicket(ticket); err != nil {
		return err
	}
	unlock := s.lockTicket(ticket)
	defer unlock()
	dir := s.dir(ticket)
	if st, err := readState(dir); err == nil && st.State == contract.ScriptRunning {
		if alive, _ := supervisorAlive(dir); alive {
			return fmt.Errorf("script %s is still running; cancel it first", ticket)
		}
	}
	s.mu.Lock()
	delete(s.cursors, ticket)
	delete(s.tickets, ticket)
	s.mu.Unlock()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove workspace of %s: %w", ticket, err)
	}
	return nil
}

// supervisorAlive reports whether a supervisor holds the workspace's lock.
// The lock dies with its process, so this cannot be fooled by a reused pid.
func supervisorAlive(dir string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return false, fmt.Errorf("check supervisor of %s: %w", dir, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("check supervisor of %s: %w", dir, err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}

// limitedBuffer keeps the first few KiB written to it, for error messages.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 4096 - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

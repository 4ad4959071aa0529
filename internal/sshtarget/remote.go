package sshtarget

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/comms"
)

// remoteServeCommand makes the pulpo binary serve the agent protocol over
// its stdin and stdout: "pulpo remote-serve --home HOME".
const remoteServeCommand = "remote-serve"

// exitReportWait bounds waiting for a remote process's exit status, which
// follows the end of its output, to say why it ended.
const exitReportWait = 5 * time.Second

// remoteProcess is one remote-serve process on the machine and the calls
// made to it over its SSH session.
type remoteProcess struct {
	session *ssh.Session
	conn    *comms.Conn
	// rpc makes the contract's calls over conn.
	rpc    *agentrpc.Target
	stderr *tailBuffer
	// exited is closed once the session has ended, with exitErr set.
	exited  chan struct{}
	exitErr error
}

// close ends the process's session; the process exits when its stdin
// closes.
func (p *remoteProcess) close() {
	if p.conn != nil {
		p.conn.Close()
	}
	p.session.Close()
}

// explain adds the process's own account to the error of a call whose
// session ended under it: a crash leaves its reason on stderr.
func (p *remoteProcess) explain(ctx context.Context, name string, err error) error {
	select {
	case <-p.exited:
	case <-ctx.Done():
		return err
	case <-time.After(exitReportWait):
		return err
	}
	var exit *ssh.ExitError
	if !errors.As(p.exitErr, &exit) {
		return err // the connection dropped, or a clean exit: nothing to add
	}
	return fmt.Errorf("%w; pulpo on %s ended (%v)%s", err, name, exit, outputSuffix(p.stderr.String()))
}

// remoteProcess returns the live remote process, starting one if there is
// none: connecting and sending the binary first if need be.
func (t *Target) remoteProcess(ctx context.Context) (*remoteProcess, error) {
	if p := t.liveProcess(); p != nil {
		return p, nil
	}
	select {
	case t.starting <- struct{}{}:
		defer func() { <-t.starting }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if p := t.liveProcess(); p != nil { // another call started one meanwhile
		return p, nil
	}
	for attempt := 1; ; attempt++ {
		p, err := t.startProcess(ctx)
		if err == nil {
			return t.keep(p)
		}
		var again *retryableError
		if !errors.As(err, &again) || attempt > 1 || ctx.Err() != nil {
			return nil, err
		}
	}
}

// liveProcess is the current remote process, or nil when there is none or
// its session has ended.
func (t *Target) liveProcess() *remoteProcess {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.proc != nil && !t.proc.conn.IsClosed() {
		return t.proc
	}
	return nil
}

// keep makes p the current remote process, replacing a dead one.
func (t *Target) keep(p *remoteProcess) (*remoteProcess, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		p.close()
		return nil, t.errClosed()
	}
	old := t.proc
	t.proc = p
	t.mu.Unlock()
	if old != nil {
		old.close()
	}
	return p, nil
}

func (t *Target) startProcess(ctx context.Context) (*remoteProcess, error) {
	conn, err := t.client(ctx)
	if err != nil {
		return nil, err
	}
	exe, err := t.remoteBinary(ctx, conn)
	if err != nil {
		return nil, err
	}
	return t.launch(ctx, conn, exe)
}

// launch runs remote-serve in a new session on conn and waits until it is
// ready for calls.
func (t *Target) launch(ctx context.Context, conn *ssh.Client, exe string) (*remoteProcess, error) {
	session, err := t.session(conn)
	if err != nil {
		return nil, err
	}
	stdin, err := session.StdinPipe()
	if err != nil {
		session.Close()
		return nil, fmt.Errorf("run pulpo on %s: %w", t.cfg.Name, err)
	}
	stdout, err := session.StdoutPipe()
	if err != nil {
		session.Close()
		return nil, fmt.Errorf("run pulpo on %s: %w", t.cfg.Name, err)
	}
	p := &remoteProcess{session: session, stderr: &tailBuffer{}, exited: make(chan struct{})}
	session.Stderr = p.stderr
	command := shellQuote(exe) + " " + remoteServeCommand + " --home " + shellQuote(t.cfg.RemoteHome)
	if err := session.Start(command); err != nil {
		session.Close()
		t.forget(conn)
		return nil, &retryableError{fmt.Errorf("run pulpo on %s: %w", t.cfg.Name, err)}
	}
	go func() {
		p.exitErr = session.Wait()
		close(p.exited)
	}()
	out := bufio.NewReader(stdout)
	noise, err := awaitReady(ctx, out, session)
	if err != nil {
		return nil, t.notReady(ctx, conn, p, noise, err)
	}
	// The reader keeps whatever it read past the ready line.
	p.conn, err = comms.NewConn(sshStream{Reader: out, Writer: stdin, session: session}, t.cfg.HostKeyFingerprint, t.logger)
	if err != nil {
		return nil, fmt.Errorf("talk to pulpo on %s: %w", t.cfg.Name, err)
	}
	callConn := p.conn
	p.rpc = agentrpc.NewTarget(t.cfg.Name, func(context.Context) (*comms.Conn, error) { return callConn, nil })
	go func() {
		// Calls end with the process, even if something held its stdout open.
		<-p.exited
		callConn.Close()
	}()
	return p, nil
}

// sshStream is a remote process's stdout and stdin as one stream; closing
// it ends the SSH session.
type sshStream struct {
	io.Reader
	io.Writer
	session *ssh.Session
}

func (s sshStream) Close() error { return s.session.Close() }

package sshtarget

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// keepAliveInterval is how often an idle connection is checked. A peer that
// vanished without closing TCP (a cut cable, a dead VM) would otherwise
// hold calls until their contexts end.
const keepAliveInterval = 30 * time.Second

// client returns the open connection, connecting first if there is none.
// The caller holds t.starting.
func (t *Target) client(ctx context.Context) (*ssh.Client, error) {
	t.mu.Lock()
	conn, closed := t.conn, t.closed
	t.mu.Unlock()
	if closed {
		return nil, t.errClosed()
	}
	if conn != nil {
		return conn, nil
	}
	conn, err := handshake(ctx, t.cfg.address(), t.clientCfg, t.cfg.DialTimeout)
	if err != nil {
		if authRefused(err) {
			// The library's words name methods, not what to fix.
			err = fmt.Errorf("the machine refused user %q with the %s given; check the target's credentials: %w",
				t.cfg.User, t.cfg.credentials(), err)
		}
		return nil, err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		conn.Close()
		return nil, t.errClosed()
	}
	t.conn = conn
	t.mu.Unlock()
	go t.watch(conn)
	return conn, nil
}

// authRefused says the machine answered but let none of our credentials
// in. The ssh package gives this error no type, only its text.
func authRefused(err error) bool {
	return strings.Contains(err.Error(), "ssh: unable to authenticate")
}

func (t *Target) errClosed() error {
	return fmt.Errorf("ssh target %s: %w", t.cfg.Name, net.ErrClosed)
}

// watch keeps a connection alive and forgets it once it ends, so the next
// call reconnects.
func (t *Target) watch(conn *ssh.Client) {
	done := make(chan struct{})
	go keepAlive(conn, done)
	conn.Wait()
	close(done)
	t.forget(conn)
}

// forget drops a connection (if it is still the current one) and closes it.
func (t *Target) forget(conn *ssh.Client) {
	t.mu.Lock()
	if t.conn == conn {
		t.conn = nil
	}
	t.mu.Unlock()
	conn.Close()
}

// keepAlive closes the connection when the peer stops answering.
func keepAlive(conn *ssh.Client, done <-chan struct{}) {
	tick := time.NewTicker(keepAliveInterval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		answered := make(chan error, 1)
		go func() {
			// OpenSSH answers requests it does not know with a failure,
			// which is an answer all the same.
			_, _, err := conn.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				conn.Close()
				return
			}
		case <-time.After(keepAliveInterval):
			conn.Close()
			return
		case <-done:
			return
		}
	}
}

// session opens a session on conn. A failure other than the machine's
// refusal means the connection is gone: it is dropped, and the error says
// that trying again on a new one may help.
func (t *Target) session(conn *ssh.Client) (*ssh.Session, error) {
	sess, err := conn.NewSession()
	if err == nil {
		return sess, nil
	}
	err = fmt.Errorf("open an SSH session on %s: %w", t.cfg.Name, err)
	var refused *ssh.OpenChannelError
	if errors.As(err, &refused) { // the server said no; the connection is fine
		return nil, err
	}
	t.forget(conn)
	return nil, &retryableError{err}
}

// retryableError is a failure to start the remote process that starting
// it again may cure: the connection was found dead (a new one is made), or
// the binary was missing (it is sent again).
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// runOutput runs a shell command on the machine and returns its stdout.
func (t *Target) runOutput(ctx context.Context, conn *ssh.Client, command string) (string, error) {
	sess, err := t.session(conn)
	if err != nil {
		return "", err
	}
	defer sess.Close()
	var stdout, stderr tailBuffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run(command) }()
	select {
	case err := <-done:
		if err != nil {
			return "", fmt.Errorf("%s: %w: %s", command, err, stderr.String())
		}
		return stdout.String(), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// handshake connects and runs the SSH handshake within timeout, or until
// ctx ends.
func handshake(ctx context.Context, address string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", address, err)
	}
	// The SSH handshake takes no context: a deadline bounds it, and closing
	// the socket ends it early when ctx ends.
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	conn, chans, reqs, err := ssh.NewClientConn(nc, address, cfg)
	if !stop() && err == nil {
		conn.Close()
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		var mismatch *HostKeyMismatchError
		if !errors.As(err, &mismatch) && ctx.Err() != nil {
			err = fmt.Errorf("the SSH handshake did not finish: %w", ctx.Err())
		}
		return nil, fmt.Errorf("connect to %s: %w", address, err)
	}
	nc.SetDeadline(time.Time{})
	return ssh.NewClient(conn, chans, reqs), nil
}

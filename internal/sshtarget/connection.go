package sshtarget

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// keepAliveInterval is how often an idle connection is checked. A peer that
// vanished without closing TCP (a cut cable, a dead VM) would otherwise
// hold calls until their contexts end.
const keepAliveInterval = 30 * time.Second

// client returns the open connection, connecting first if there is none.
func (t *Target) client(ctx context.Context) (*ssh.Client, error) {
	select {
	case t.dialing <- struct{}{}:
		defer func() { <-t.dialing }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
	var files *sftp.Client
	if t.conn == conn {
		files = t.sftp
		t.conn, t.sftp = nil, nil
	}
	t.mu.Unlock()
	if files != nil {
		files.Close()
	}
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

// sftpClient returns an SFTP client on the open connection.
func (t *Target) sftpClient(ctx context.Context) (*sftp.Client, error) {
	conn, err := t.client(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	files := t.sftp
	t.mu.Unlock()
	if files != nil {
		return files, nil
	}
	// Concurrent writes overlap round trips; memory stays bounded by the
	// client's limit on requests in flight.
	files, err = sftp.NewClient(conn, sftp.UseConcurrentWrites(true))
	if err != nil {
		return nil, fmt.Errorf("start SFTP on %s: %w", t.cfg.Name, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.conn != conn:
		files.Close()
		return nil, fmt.Errorf("start SFTP on %s: the connection was lost", t.cfg.Name)
	case t.sftp != nil: // another call started one meanwhile
		files.Close()
		return t.sftp, nil
	}
	t.sftp = files
	return files, nil
}

// session opens a session when one of the connection's slots is free. Call
// release when the session is closed.
func (t *Target) session(ctx context.Context, conn *ssh.Client) (sess *ssh.Session, release func(), err error) {
	select {
	case t.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	release = func() { <-t.sessions }
	sess, err = conn.NewSession()
	if err != nil {
		release()
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) { // the server said no; the connection is fine
			return nil, nil, fmt.Errorf("open an SSH session on %s: %w", t.cfg.Name, err)
		}
		t.forget(conn)
		return nil, nil, &connectionError{started: false, err: fmt.Errorf("open an SSH session on %s: %w", t.cfg.Name, err)}
	}
	return sess, release, nil
}

// connectionError is a call that failed because the connection did. started
// says whether the remote side may have begun serving it.
type connectionError struct {
	started bool
	err     error
}

func (e *connectionError) Error() string { return e.err.Error() }
func (e *connectionError) Unwrap() error { return e.err }

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

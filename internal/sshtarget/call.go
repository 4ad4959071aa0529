package sshtarget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// replyGrace is how long a call whose context ended still waits for the
// remote side's answer: it sees its stdin close and answers at once with
// what it has, as the local service does when its context ends.
const replyGrace = 2 * time.Second

// exitCommandNotFound is the shell's status for a missing program.
const exitCommandNotFound = 127

// call runs method on the machine with req and decodes its result into
// result. It reconnects when the connection turns out to be gone, and then
// repeats the call once if that cannot do harm: when the remote side never
// saw it, or when the call is idempotent.
func (t *Target) call(ctx context.Context, method string, idempotent bool, req, result any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", method, err)
	}
	for attempt := 1; ; attempt++ {
		err := t.callOnce(ctx, method, body, result)
		var lost *connectionError
		if err == nil || !errors.As(err, &lost) || attempt > 1 || ctx.Err() != nil || (lost.started && !idempotent) {
			return err
		}
	}
}

func (t *Target) callOnce(ctx context.Context, method string, body []byte, result any) error {
	conn, err := t.client(ctx)
	if err != nil {
		return err
	}
	exe, err := t.remoteBinary(ctx, conn)
	if err != nil {
		return err
	}
	sess, release, err := t.session(ctx, conn)
	if err != nil {
		return err
	}
	defer release()
	defer sess.Close()
	stdin, err := sess.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr limitedBuffer
	sess.Stderr = &stderr
	command := shellQuote(exe) + " " + remoteCallCommand + " --home " + shellQuote(t.cfg.RemoteHome) + " " + method
	if err := sess.Start(command); err != nil {
		t.forget(conn)
		return &connectionError{started: false, err: fmt.Errorf("run pulpo on %s: %w", t.cfg.Name, err)}
	}
	// stdin stays open while we wait: its end tells the remote side that
	// we gave up.
	if _, err := stdin.Write(append(body, '\n')); err != nil {
		t.forget(conn)
		return &connectionError{started: true, err: fmt.Errorf("send the request to %s: %w", t.cfg.Name, err)}
	}
	type outcome struct {
		rep      reply
		noise    string
		replyErr error
		exitErr  error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		o.rep, o.noise, o.replyErr = readReply(stdout)
		o.exitErr = sess.Wait()
		done <- o
	}()
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		stdin.Close()
		select {
		case o = <-done:
			if o.replyErr != nil || o.rep.Error != "" {
				return ctx.Err() // the remote side's error only echoes ours
			}
		case <-time.After(replyGrace):
			return ctx.Err()
		}
	}
	if o.replyErr != nil {
		return t.noReply(conn, o.exitErr, o.noise, &stderr)
	}
	if o.rep.Error != "" {
		return &remoteError{msg: o.rep.Error, code: o.rep.Code}
	}
	if result != nil {
		if err := json.Unmarshal(o.rep.Result, result); err != nil {
			return fmt.Errorf("read the reply of %s: %w", t.cfg.Name, err)
		}
	}
	return nil
}

// noReply explains a call that ended without a reply.
func (t *Target) noReply(conn *ssh.Client, exitErr error, noise string, stderr *limitedBuffer) error {
	output := stderr.String()
	if noise != "" {
		output = noise + "\n" + output
	}
	var exit *ssh.ExitError
	switch {
	case errors.As(exitErr, &exit) && exit.ExitStatus() == exitCommandNotFound:
		// Someone removed the binary: send it again and repeat the call,
		// which never ran.
		t.setRemoteExe("")
		return &connectionError{started: false, err: fmt.Errorf("the pulpo binary on %s is missing: %s", t.cfg.Name, output)}
	case errors.As(exitErr, &exit):
		return fmt.Errorf("pulpo on %s ended without answering (%v): %s", t.cfg.Name, exitErr, output)
	case exitErr == nil:
		return fmt.Errorf("pulpo on %s ended without answering: %s", t.cfg.Name, output)
	default: // no exit status: the connection ended under the call
		t.forget(conn)
		return &connectionError{started: true, err: fmt.Errorf("the SSH connection to %s was lost during the call: %w", t.cfg.Name, exitErr)}
	}
}

// runOutput runs a shell command on the machine and returns its stdout.
func (t *Target) runOutput(ctx context.Context, conn *ssh.Client, command string) (string, error) {
	sess, release, err := t.session(ctx, conn)
	if err != nil {
		return "", err
	}
	defer release()
	defer sess.Close()
	var stdout, stderr limitedBuffer
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

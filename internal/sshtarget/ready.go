package sshtarget

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// serveReady is the line remote-serve prints on stdout before its first
// frame. What comes before it is the login shell's (a chatty .bashrc) and
// is skipped.
const serveReady = "pulpo remote-serve ready/1"

// serveStartTimeout bounds starting remote-serve until it is ready.
const serveStartTimeout = 30 * time.Second

// exitCommandNotFound is the shell's status for a missing program.
const exitCommandNotFound = 127

// notReadyInTimeError is awaitReady's error when the start took too long.
type notReadyInTimeError struct{}

func (notReadyInTimeError) Error() string {
	return fmt.Sprintf("it was not ready within %s", serveStartTimeout)
}

// awaitReady reads the process's stdout up to its ready line and returns
// what came before it. When ctx ends or the start takes too long, closing
// the session ends the read.
func awaitReady(ctx context.Context, out *bufio.Reader, session io.Closer) (string, error) {
	tctx, cancel := context.WithTimeout(ctx, serveStartTimeout)
	defer cancel()
	stop := context.AfterFunc(tctx, func() { session.Close() })
	noise, err := readReady(out)
	if !stop() {
		if ctx.Err() != nil {
			return noise, ctx.Err()
		}
		return noise, notReadyInTimeError{}
	}
	return noise, err
}

// readReady reads lines up to the ready line, which may follow output
// without a line end, and returns what came before it.
func readReady(out *bufio.Reader) (string, error) {
	var noise tailBuffer
	for {
		line, err := out.ReadString('\n')
		if before, ok := strings.CutSuffix(strings.TrimRight(line, "\r\n"), serveReady); ok && err == nil {
			noise.Write([]byte(before))
			return noise.String(), nil
		}
		noise.Write([]byte(line))
		if err != nil {
			return noise.String(), err
		}
	}
}

// notReady explains a remote process that did not become ready; the error
// is retryable when starting it again may help.
func (t *Target) notReady(ctx context.Context, conn *ssh.Client, p *remoteProcess, noise string, readErr error) error {
	output := func() string { return outputSuffix(strings.TrimSpace(noise + "\n" + p.stderr.String())) }
	var late notReadyInTimeError
	switch {
	case ctx.Err() != nil:
		p.session.Close()
		return fmt.Errorf("start pulpo on %s: %w", t.cfg.Name, ctx.Err())
	case errors.As(readErr, &late):
		p.session.Close()
		return fmt.Errorf("start pulpo on %s: %w%s", t.cfg.Name, readErr, output())
	}
	// The exit status follows the end of the output.
	select {
	case <-p.exited:
	case <-time.After(exitReportWait):
	}
	p.session.Close()
	select {
	case <-p.exited:
	default:
		return fmt.Errorf("pulpo on %s closed its output without getting ready (%v)%s", t.cfg.Name, readErr, output())
	}
	var exit *ssh.ExitError
	switch {
	case errors.As(p.exitErr, &exit) && exit.ExitStatus() == exitCommandNotFound:
		// Someone removed the binary: send it again.
		t.remoteExe = ""
		return &retryableError{fmt.Errorf("the pulpo binary on %s is missing%s", t.cfg.Name, output())}
	case errors.As(p.exitErr, &exit):
		return fmt.Errorf("pulpo on %s ended before it was ready (%v)%s", t.cfg.Name, exit, output())
	case p.exitErr == nil:
		return fmt.Errorf("pulpo on %s ended before it was ready%s", t.cfg.Name, output())
	default: // no exit status: the connection ended under the start
		t.forget(conn)
		return &retryableError{fmt.Errorf("the SSH connection to %s was lost while pulpo started: %w", t.cfg.Name, p.exitErr)}
	}
}

// outputSuffix appends what a process printed to an error message.
func outputSuffix(output string) string {
	if output == "" {
		return ""
	}
	return ": " + output
}

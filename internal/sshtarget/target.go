// Package sshtarget reaches a Linux machine over SSH without an agent
// installed there. The server sends its own (static) pulpo binary once,
// addressed by its hash, and every call runs
//
//	<home>/bin/pulpo-<hash16> remote-call --home <home> <method>
//
// in a new session of one kept-open SSH connection: a JSON request on stdin,
// a JSON reply on stdout. On the machine that command serves the call with
// the local script and file services (internal/localtarget), so tickets,
// workspaces and detached supervisors behave exactly as on the built-in
// worker, and scripts outlive the SSH connection. Files travel over SFTP.
package sshtarget

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// maxCallSessions bounds the sessions open at once on the connection: sshd
// refuses more than MaxSessions (10 by default), and SFTP holds one.
const maxCallSessions = 8

// Target is a machine reached over SSH. It connects on first use and
// reconnects after the connection drops. It is safe for concurrent use.
type Target struct {
	cfg       Config
	clientCfg *ssh.ClientConfig
	// sessions is a semaphore of maxCallSessions slots.
	sessions chan struct{}
	// dialing is held (a one-slot semaphore) while a connection is made, so
	// concurrent first calls share one.
	dialing chan struct{}

	// installing is held while the binary is looked for and sent.
	installing chan struct{}

	mu     sync.Mutex
	closed bool
	conn   *ssh.Client
	sftp   *sftp.Client // on conn; nil until needed
	// remoteExe is the path of the pulpo binary on the machine, once it is
	// known to be there.
	remoteExe string
}

var _ contract.Target = (*Target)(nil)

// New checks the configuration and returns a target. It does not connect:
// the first call does.
func New(cfg Config) (*Target, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	auth, err := cfg.authMethods()
	if err != nil {
		return nil, err
	}
	return &Target{
		cfg: cfg,
		clientCfg: &ssh.ClientConfig{
			User:              cfg.User,
			Auth:              auth,
			HostKeyCallback:   pinnedHostKey(cfg.address(), cfg.HostKeyFingerprint),
			HostKeyAlgorithms: hostKeyAlgorithms(),
		},
		sessions:   make(chan struct{}, maxCallSessions),
		dialing:    make(chan struct{}, 1),
		installing: make(chan struct{}, 1),
	}, nil
}

// Name is shown in task logs.
func (t *Target) Name() string { return t.cfg.Name }

// Scripts runs scripts on the machine.
func (t *Target) Scripts() contract.ScriptService { return scriptService{t} }

// Files moves files to and from the machine.
func (t *Target) Files() contract.FileService { return fileService{t} }

// Capabilities asks the machine what it offers; it proves the machine is
// reachable, presents the pinned host key, accepts our credentials and runs
// our binary.
func (t *Target) Capabilities(ctx context.Context) (contract.Capabilities, error) {
	var caps contract.Capabilities
	if err := t.call(ctx, methodCapabilities, true, struct{}{}, &caps); err != nil {
		return contract.Capabilities{}, fmt.Errorf("capabilities of %s: %w", t.cfg.Name, err)
	}
	if caps.Version == "" {
		caps.Version = t.cfg.Version
	}
	return caps, nil
}

// Close ends the connection. Scripts started on the machine keep running;
// another Target can follow them. Calls after Close fail.
func (t *Target) Close() error {
	t.mu.Lock()
	t.closed = true
	conn, files := t.conn, t.sftp
	t.conn, t.sftp = nil, nil
	t.mu.Unlock()
	if files != nil {
		files.Close()
	}
	if conn != nil {
		if err := conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("close ssh connection to %s: %w", t.cfg.Name, err)
		}
	}
	return nil
}

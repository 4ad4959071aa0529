// Package sshtarget reaches a Linux machine over SSH without an agent
// installed there. The server sends its own (static) pulpo binary once,
// addressed by its hash, and runs
//
//	<home>/bin/pulpo-<hash16> remote-serve --home <home>
//
// in one session of a kept-open SSH connection. That process speaks the
// agent protocol (internal/comms, internal/agentrpc) over its stdin and
// stdout for as long as the session lives, so calls are multiplexed over
// it as over an agent's TLS connection and cost about as little. On the
// machine it serves the local script and file services
// (internal/localtarget), so tickets, workspaces and detached supervisors
// behave exactly as on an agent, and scripts outlive the SSH connection;
// a new process picks them up by ticket.
package sshtarget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// Target is a machine reached over SSH. It connects and starts its remote
// process on first use, and again after either dies. It is safe for
// concurrent use.
type Target struct {
	cfg       Config
	clientCfg *ssh.ClientConfig
	logger    *slog.Logger

	// starting is held (a one-slot semaphore) while the connection is made,
	// the binary sent and the remote process started, so concurrent first
	// calls share one of each.
	starting chan struct{}
	// remoteExe is the path of the pulpo binary on the machine, once it is
	// known to be there; only touched while starting is held.
	remoteExe string

	mu     sync.Mutex
	closed bool
	conn   *ssh.Client
	proc   *remoteProcess
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
		logger:   slog.New(slog.DiscardHandler),
		starting: make(chan struct{}, 1),
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
	err := t.call(ctx, always, func(rpc *agentrpc.Target) (err error) {
		caps, err = rpc.Capabilities(ctx)
		return err
	})
	if err != nil {
		return contract.Capabilities{}, fmt.Errorf("capabilities of %s: %w", t.cfg.Name, err)
	}
	if caps.Version == "" {
		caps.Version = t.cfg.Version
	}
	return caps, nil
}

// Close ends the remote process and the connection. Scripts started on the
// machine keep running; another Target can follow them. Calls after Close
// fail.
func (t *Target) Close() error {
	t.mu.Lock()
	t.closed = true
	proc, conn := t.proc, t.conn
	t.proc, t.conn = nil, nil
	t.mu.Unlock()
	var err error
	if conn != nil {
		// First, so that ending the process's session does not wait for
		// the machine to answer.
		if cerr := conn.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("close ssh connection to %s: %w", t.cfg.Name, cerr)
		}
	}
	if proc != nil {
		proc.close()
	}
	return err
}

// Package targets turns a stored machine into a contract.Target the engine
// can use, and owns the server's live connections: the polling agents that
// dialled in, the listening agents it dialled, and SSH sessions. Changing or
// removing a machine drops its connection at once.
package targets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Config is what the manager needs.
type Config struct {
	Store    *store.Store
	Identity *comms.Identity
	Secrets  *secrets.Box
	Logger   *slog.Logger
	// PollWait is how long a call waits for a polling agent to connect
	// (or reconnect) before it fails. Default two minutes.
	PollWait time.Duration
	// SSH makes SSH targets; nil leaves them unsupported.
	SSH SSHDialer
	// PollingAddresses lists every live node's polling address, which
	// polling agents are told so they connect to each node; nil tells
	// them nothing.
	PollingAddresses func(ctx context.Context) []string
}

// tellServersEvery is how often a connected polling agent is told the
// nodes' addresses again (nodes come and go).
const tellServersEvery = 30 * time.Second

// addressesFor is how long the nodes' polling addresses, once read, are
// what every agent is told: thousands of agents connecting at once (after a
// restart) or told every 30 s must not each cost database queries.
const addressesFor = 5 * time.Second

// SSHDialer makes a target for an SSH machine with its opened credentials.
type SSHDialer interface {
	Target(m model.Machine, creds model.SSHCredentials) (t contract.Target, closer interface{ Close() error }, err error)
}

// Manager holds live connections to machines.
type Manager struct {
	cfg Config

	mu        sync.Mutex
	polling   map[string]*comms.Conn // by agent thumbprint
	arrived   chan struct{}          // closed and replaced when a polling agent connects
	listening map[string]*listenEntry
	ssh       map[string]*sshEntry

	addrMu  sync.Mutex
	addrs   []string
	addrsAt time.Time // when addrs were read; zero when never
}

type listenEntry struct {
	mu         sync.Mutex
	address    string
	thumbprint string
	conn       *comms.Conn
}

type sshEntry struct {
	fingerprint string
	target      contract.Target
	closer      interface{ Close() error }
}

// New returns a manager with no connections.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 2 * time.Minute
	}
	return &Manager{cfg: cfg, polling: map[string]*comms.Conn{}, arrived: make(chan struct{}),
		listening: map[string]*listenEntry{}, ssh: map[string]*sshEntry{}}
}

// Target returns the machine as a target. Nothing is dialled until the
// first call.
func (m *Manager) Target(machine model.Machine) (contract.Target, error) {
	switch machine.Kind {
	case model.MachinePolling:
		tp := machine.Thumbprint
		return agentrpc.NewTarget(machine.Name, func(ctx context.Context) (*comms.Conn, error) {
			return m.pollingConn(ctx, machine.Name, tp)
		}), nil
	case model.MachineListening:
		return agentrpc.NewTarget(machine.Name, func(ctx context.Context) (*comms.Conn, error) {
			return m.listeningConn(ctx, machine)
		}), nil
	case model.MachineSSH:
		return m.sshTarget(machine)
	}
	return nil, fmt.Errorf("machine %s: unknown kind %q", machine.Name, machine.Kind)
}

// PollingListener is the door polling agents connect to. An agent gets in
// only if a polling machine with its thumbprint exists.
func (m *Manager) PollingListener() *comms.PollingListener {
	return &comms.PollingListener{
		Identity:  m.cfg.Identity,
		Trusted:   m.trustsPolling,
		Connected: m.pollingConnected,
		Logger:    m.cfg.Logger,
	}
}

func (m *Manager) trustsPolling(thumbprint string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	machine, err := m.cfg.Store.Read().MachineByThumbprint(ctx, thumbprint)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			m.cfg.Logger.Error("check polling agent", "thumbprint", thumbprint, "error", err)
		}
		return false
	}
	return machine.Kind == model.MachinePolling
}

func (m *Manager) pollingConnected(c *comms.Conn) {
	m.mu.Lock()
	old := m.polling[c.Peer]
	m.polling[c.Peer] = c
	close(m.arrived)
	m.arrived = make(chan struct{})
	m.mu.Unlock()
	if old != nil && old != c {
		old.Close() // the agent reconnected; its old connection is dead or dying
	}
	m.cfg.Logger.Info("polling agent connected", "thumbprint", c.Peer)
	go m.watchPolling(c)
}

// watchPolling is the one goroutine a polling connection has here (idle
// connections are what a server with thousands of agents holds, and each
// goroutine's stack is a few KiB): it keeps the agent told of the nodes,
// and forgets the connection when it ends.
func (m *Manager) watchPolling(c *comms.Conn) {
	if m.cfg.PollingAddresses != nil {
		m.tellServers(c)
	} else {
		<-c.Closed()
	}
	m.mu.Lock()
	if m.polling[c.Peer] == c {
		delete(m.polling, c.Peer)
	}
	m.mu.Unlock()
	m.cfg.Logger.Info("polling agent disconnected", "thumbprint", c.Peer)
}

// tellServers keeps a polling agent told of every node to connect to,
// until its connection ends (which also ends a call in flight on it).
func (m *Manager) tellServers(c *comms.Conn) {
	for {
		ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		if addrs := m.pollingAddresses(ctx); len(addrs) > 0 && !c.IsClosed() {
			err := c.Call(ctx, agentrpc.MethodServers, agentrpc.ServersRequest{Addresses: addrs}, nil, nil)
			if err != nil && !c.IsClosed() {
				// Agents of older builds do not know the call; they keep
				// polling the node they were given.
				m.cfg.Logger.Debug("tell polling agent the nodes", "thumbprint", c.Peer, "error", err)
			}
		}
		stop()
		t := time.NewTimer(tellServersEvery)
		select {
		case <-c.Closed():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// pollingAddresses are the live nodes' polling addresses, read at most
// once every addressesFor.
func (m *Manager) pollingAddresses(ctx context.Context) []string {
	m.addrMu.Lock()
	defer m.addrMu.Unlock()
	if m.addrsAt.IsZero() || time.Since(m.addrsAt) >= addressesFor {
		m.addrs, m.addrsAt = m.cfg.PollingAddresses(ctx), time.Now()
	}
	return m.addrs
}

// pollingConn waits for the agent's connection, which it opens itself.
func (m *Manager) pollingConn(ctx context.Context, name, thumbprint string) (*comms.Conn, error) {
	timer := time.NewTimer(m.cfg.PollWait)
	defer timer.Stop()
	for {
		m.mu.Lock()
		c := m.polling[thumbprint]
		arrived := m.arrived
		m.mu.Unlock()
		if c != nil && !c.IsClosed() {
			return c, nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-timer.C:
			return nil, fmt.Errorf("polling agent %s has not connected to this server within %s; is it running, and can it reach the server's polling port?", name, m.cfg.PollWait)
		}
	}
}

// listeningConn dials the agent, or reuses the connection while it lives
// and the machine's address and thumbprint are unchanged.
func (m *Manager) listeningConn(ctx context.Context, machine model.Machine) (*comms.Conn, error) {
	m.mu.Lock()
	e := m.listening[machine.ID]
	if e == nil {
		e = &listenEntry{}
		m.listening[machine.ID] = e
	}
	m.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil && !e.conn.IsClosed() && e.address == machine.Address && e.thumbprint == machine.Thumbprint {
		return e.conn, nil
	}
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
	c, err := comms.DialAgent(ctx, machine.Address, m.cfg.Identity, machine.Thumbprint, m.cfg.Logger)
	if err != nil {
		return nil, err
	}
	e.conn, e.address, e.thumbprint = c, machine.Address, machine.Thumbprint
	return c, nil
}

func (m *Manager) sshTarget(machine model.Machine) (contract.Target, error) {
	if m.cfg.SSH == nil {
		return nil, errors.New("this server cannot reach SSH machines")
	}
	m.mu.Lock()
	e := m.ssh[machine.ID]
	m.mu.Unlock()
	if e != nil && machine.SSH != nil && e.fingerprint == machine.SSH.HostKeyFingerprint {
		return e.target, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sealed, err := m.cfg.Store.Read().MachineCredentials(ctx, machine.ID)
	if err != nil {
		return nil, err
	}
	var creds model.SSHCredentials
	if sealed != "" {
		if err := OpenCredentials(m.cfg.Secrets, sealed, &creds); err != nil {
			return nil, fmt.Errorf("machine %s: %w", machine.Name, err)
		}
	}
	t, closer, err := m.cfg.SSH.Target(machine, creds)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if old := m.ssh[machine.ID]; old != nil {
		old.closer.Close()
	}
	m.ssh[machine.ID] = &sshEntry{fingerprint: machine.SSH.HostKeyFingerprint, target: t, closer: closer}
	m.mu.Unlock()
	return t, nil
}

// Forget drops every live connection of a machine, as it was: call it when
// a machine is removed or its address or trust changes.
func (m *Manager) Forget(machine model.Machine) {
	m.mu.Lock()
	var closers []interface{ Close() error }
	if c := m.polling[machine.Thumbprint]; c != nil && machine.Thumbprint != "" {
		closers = append(closers, c)
		delete(m.polling, machine.Thumbprint)
	}
	if e := m.listening[machine.ID]; e != nil {
		delete(m.listening, machine.ID)
		e.mu.Lock()
		if e.conn != nil {
			closers = append(closers, e.conn)
		}
		e.mu.Unlock()
	}
	if e := m.ssh[machine.ID]; e != nil {
		delete(m.ssh, machine.ID)
		closers = append(closers, e.closer)
	}
	m.mu.Unlock()
	for _, c := range closers {
		c.Close()
	}
}

// Sweep drops polling connections whose machine is gone or no longer polls,
// including changes made through another server node. It runs until ctx ends.
func (m *Manager) Sweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.sweepPolling(ctx)
	}
}

// sweepPolling drops the polling agents no machine trusts any more. One
// query reads every trusted thumbprint; when it fails nobody is dropped,
// since a database that does not answer says nothing about trust.
func (m *Manager) sweepPolling(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	machines, _, err := m.cfg.Store.Read().ListMachines(qctx, store.MachineFilter{})
	if err != nil {
		if ctx.Err() == nil {
			m.cfg.Logger.Warn("check the trust of polling agents", "error", err)
		}
		return
	}
	trusted := make(map[string]bool, len(machines))
	for _, mc := range machines {
		if mc.Kind == model.MachinePolling {
			trusted[strings.ToUpper(mc.Thumbprint)] = true
		}
	}
	m.mu.Lock()
	var dropped []*comms.Conn
	for tp, c := range m.polling {
		if !trusted[strings.ToUpper(tp)] {
			delete(m.polling, tp)
			dropped = append(dropped, c)
		}
	}
	m.mu.Unlock()
	for _, c := range dropped {
		m.cfg.Logger.Info("dropping a polling agent that is no longer trusted", "thumbprint", c.Peer)
		c.Close()
	}
}

// Close drops every connection.
func (m *Manager) Close() {
	m.mu.Lock()
	var closers []interface{ Close() error }
	for _, c := range m.polling {
		closers = append(closers, c)
	}
	for _, e := range m.listening {
		e.mu.Lock()
		if e.conn != nil {
			closers = append(closers, e.conn)
		}
		e.mu.Unlock()
	}
	for _, e := range m.ssh {
		closers = append(closers, e.closer)
	}
	m.polling, m.listening, m.ssh = map[string]*comms.Conn{}, map[string]*listenEntry{}, map[string]*sshEntry{}
	m.mu.Unlock()
	for _, c := range closers {
		c.Close()
	}
}

// Package agent is the program that runs on a deployment target or worker:
// it keeps its own certificate, trusts the servers it was told to, and
// serves the script and file services to them, listening for their
// connections, polling out to them, or both.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
)

// Settings is what an agent is told once and keeps in its home folder
// (agent.json), so "pulpo agent" alone starts it the same way again.
type Settings struct {
	Name string `json:"name,omitempty"`
	// Listen is the address to accept servers on (listening mode).
	Listen string `json:"listen,omitempty"`
	// Server is the host:port of a server's polling endpoint (polling mode).
	Server string `json:"server,omitempty"`
	// AlsoPoll are more nodes' polling endpoints of the same server; the
	// agent also learns them from the nodes it reaches.
	AlsoPoll []string `json:"alsoPoll,omitempty"`
	// TrustedServers are the thumbprints of the servers this agent obeys.
	TrustedServers []string `json:"trustedServers,omitempty"`
}

const settingsFile = "agent.json"

// LoadSettings reads home/agent.json; a missing file gives empty settings.
func LoadSettings(home string) (Settings, error) {
	var s Settings
	b, err := os.ReadFile(filepath.Join(home, settingsFile))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read agent settings: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read %s: %w", filepath.Join(home, settingsFile), err)
	}
	return s, nil
}

// SaveSettings writes home/agent.json.
func SaveSettings(home string, s Settings) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", home, err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(home, settingsFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write agent settings: %w", err)
	}
	return os.Rename(tmp, filepath.Join(home, settingsFile))
}

// Identity loads or creates the agent's certificate in home.
func Identity(home, name string) (*comms.Identity, error) {
	if name == "" {
		name, _ = os.Hostname()
	}
	return comms.LoadOrCreateIdentity(home, "pulpo-agent "+name)
}

// Config is how to run an agent.
type Config struct {
	Home     string
	Settings Settings
	Version  string
	Logger   *slog.Logger
	// Supervisor overrides the script supervisor command (tests).
	Supervisor []string
	// Backoff is the polling reconnect schedule.
	Backoff comms.Backoff
}

// Agent is a running agent.
type Agent struct {
	cfg      Config
	id       *comms.Identity
	target   *localtarget.Target
	trust    *comms.TrustSet
	sessions *comms.Sessions
	mux      *comms.Mux

	// pollers are the polling connections by address, each with its stop.
	pollers map[string]context.CancelFunc
	// pollCtx and pollWG are Start's, for pollers started later.
	pollCtx context.Context
	pollWG  *sync.WaitGroup

	mu       sync.Mutex
	addr     net.Addr
	pollings int // connections made, for tests and status
}

// New prepares an agent: its identity, workspaces and trust list.
func New(cfg Config) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Settings.Listen == "" && cfg.Settings.Server == "" && len(cfg.Settings.AlsoPoll) == 0 {
		return nil, errors.New("the agent has nothing to do: give --listen ADDRESS (the server dials the agent) or --server ADDRESS (the agent dials the server), or register it first")
	}
	if len(cfg.Settings.TrustedServers) == 0 {
		return nil, errors.New("the agent trusts no server: give the server's thumbprint with --trust (the server prints it at start and \"pulpo server-info\" shows it)")
	}
	for i, tp := range cfg.Settings.TrustedServers {
		n, err := comms.NormalizeThumbprint(tp)
		if err != nil {
			return nil, fmt.Errorf("trusted server: %w", err)
		}
		cfg.Settings.TrustedServers[i] = n
	}
	home, err := filepath.Abs(cfg.Home)
	if err != nil {
		return nil, err
	}
	cfg.Home = home
	id, err := Identity(home, cfg.Settings.Name)
	if err != nil {
		return nil, err
	}
	name := cfg.Settings.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	t, err := localtarget.New(name, home, cfg.Version, scriptsvc.Options{Supervisor: cfg.Supervisor})
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, id: id, target: t, trust: comms.NewTrustSet(cfg.Settings.TrustedServers...),
		sessions: comms.NewSessions(), mux: agentrpc.NewMux(t), pollers: map[string]context.CancelFunc{}}
	a.mux.Handle(agentrpc.MethodServers, func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var req agentrpc.ServersRequest
		if err := c.Decode(&req); err != nil {
			return nil, err
		}
		a.discovered(req.Addresses)
		return struct{}{}, nil
	})
	// A server that is no longer trusted loses its connections at once.
	a.trust.OnRevoke(a.sessions.Drop)
	return a, nil
}

// Thumbprint is the agent certificate's thumbprint, which servers pin.
func (a *Agent) Thumbprint() string { return a.id.Thumbprint }

// Trust is the set of servers the agent obeys; changing it takes effect at once.
func (a *Agent) Trust() *comms.TrustSet { return a.trust }

// Sessions counts the agent's live server connections.
func (a *Agent) Sessions() int { return a.sessions.Count() }

// ListenAddr is where a listening agent accepts servers, once Start returned.
func (a *Agent) ListenAddr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// Start binds the listening address (if any) and serves in the background
// until ctx ends; done is closed when everything has stopped.
func (a *Agent) Start(ctx context.Context) (done <-chan struct{}, err error) {
	var wg sync.WaitGroup
	s := a.cfg.Settings
	if s.Listen != "" {
		ln, err := net.Listen("tcp", s.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", s.Listen, err)
		}
		a.mu.Lock()
		a.addr = ln.Addr()
		a.mu.Unlock()
		a.cfg.Logger.Info("agent listening", "address", ln.Addr().String(), "thumbprint", a.id.Thumbprint)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := comms.ServeListening(ctx, ln, a.id, a.trust.Trusts, a.mux, a.sessions, a.cfg.Logger); err != nil {
				a.cfg.Logger.Error("listening stopped", "error", err)
			}
		}()
	}
	a.mu.Lock()
	a.pollCtx, a.pollWG = ctx, &wg
	a.mu.Unlock()
	for _, addr := range a.configuredServers() {
		a.mu.Lock()
		a.poll(addr)
		a.mu.Unlock()
	}
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch, nil
}

// configuredServers are the polling addresses the agent was given.
func (a *Agent) configuredServers() []string {
	var out []string
	for _, addr := range append([]string{a.cfg.Settings.Server}, a.cfg.Settings.AlsoPoll...) {
		if addr != "" && !slices.Contains(out, addr) {
			out = append(out, addr)
		}
	}
	return out
}

// poll starts a polling connection to addr; a.mu is held.
func (a *Agent) poll(addr string) {
	if _, ok := a.pollers[addr]; ok || a.pollCtx == nil || a.pollCtx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(a.pollCtx)
	a.pollers[addr] = cancel
	a.cfg.Logger.Info("agent polling", "server", addr, "thumbprint", a.id.Thumbprint)
	a.pollWG.Add(1)
	go func() {
		defer a.pollWG.Done()
		comms.PollServer(ctx, addr, a.id, a.cfg.Settings.TrustedServers[0], a.mux, a.sessions, a.cfg.Backoff, a.cfg.Logger, func() {
			a.mu.Lock()
			a.pollings++
			a.mu.Unlock()
		})
	}()
}

// discovered takes a node's list of its server's polling addresses: the
// agent connects to each it lacks, and stops polling nodes it learned of
// before that have gone (those it was given stay).
func (a *Agent) discovered(addresses []string) {
	if a.cfg.Settings.Server == "" && len(a.cfg.Settings.AlsoPoll) == 0 {
		return // a listening agent: servers dial it
	}
	configured := a.configuredServers()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, addr := range addresses {
		if _, _, err := net.SplitHostPort(addr); err == nil {
			a.poll(addr)
		}
	}
	for addr, stop := range a.pollers {
		if !slices.Contains(addresses, addr) && !slices.Contains(configured, addr) {
			a.cfg.Logger.Info("agent stops polling a node that left", "server", addr)
			stop()
			delete(a.pollers, addr)
		}
	}
}

// Polling lists the addresses the agent polls now.
func (a *Agent) Polling() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.pollers))
	for addr := range a.pollers {
		out = append(out, addr)
	}
	slices.Sort(out)
	return out
}

// Run starts the agent and waits until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	done, err := a.Start(ctx)
	if err != nil {
		return err
	}
	<-done
	return nil
}

// WaitConnected waits until a polling agent has connected n times in all.
func (a *Agent) WaitConnected(ctx context.Context, n int) error {
	for {
		a.mu.Lock()
		got := a.pollings
		a.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

package targets

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/agentrpc"
	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/contract"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// pollingGoroutines counts the goroutines running this package's code.
func pollingGoroutines() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("internal/targets.(*Manager)")) {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A server with thousands of polling agents holds thousands of idle
// connections: each costs the manager one goroutine, which tells the agent
// the nodes and forgets the connection when it ends.
func TestAPollingConnectionCostsOneGoroutine(t *testing.T) {
	for _, tell := range []bool{true, false} {
		name := map[bool]string{true: "telling the nodes", false: "no nodes to tell"}[tell]
		t.Run(name, func(t *testing.T) {
			server, err := comms.NewIdentity("server")
			if err != nil {
				t.Fatal(err)
			}
			logger := slog.New(slog.DiscardHandler)
			cfg := Config{Identity: server, Logger: logger}
			var lookups atomic.Int64
			if tell {
				cfg.PollingAddresses = func(context.Context) []string {
					lookups.Add(1)
					return []string{"127.0.0.1:10943", "127.0.0.1:10944"}
				}
			}
			m := New(cfg)
			defer m.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			l := m.PollingListener()
			l.Trusted = func(string) bool { return true } // no store here
			go l.Serve(ctx, ln)

			const agents = 8
			var told atomic.Int64
			stops := make([]context.CancelFunc, agents)
			for i := range agents {
				id, err := comms.NewIdentity("agent")
				if err != nil {
					t.Fatal(err)
				}
				mux := comms.NewMux()
				mux.Handle(agentrpc.MethodServers, func(_ context.Context, c *comms.ServerCall) (any, error) {
					var req agentrpc.ServersRequest
					if err := c.Decode(&req); err != nil || len(req.Addresses) != 2 {
						t.Errorf("told %+v, %v", req, err)
					}
					told.Add(1)
					return struct{}{}, nil
				})
				actx, stop := context.WithCancel(ctx)
				stops[i] = stop
				go comms.PollServer(actx, ln.Addr().String(), id, server.Thumbprint, mux, comms.NewSessions(),
					comms.Backoff{Initial: 10 * time.Millisecond}, logger, nil)
			}
			connected := func() int {
				m.mu.Lock()
				defer m.mu.Unlock()
				return len(m.polling)
			}
			waitFor(t, "every agent to connect", func() bool { return connected() == agents })
			if tell {
				waitFor(t, "every agent to be told the nodes", func() bool { return told.Load() == agents })
			}
			waitFor(t, "one goroutine per connection", func() bool { return pollingGoroutines() == agents })

			// An agent that goes is forgotten, and its goroutine ends.
			stops[0]()
			waitFor(t, "the agent's connection to be forgotten", func() bool { return connected() == agents-1 })
			waitFor(t, "its goroutine to end", func() bool { return pollingGoroutines() == agents-1 })
			if got := pollingGoroutines(); got != agents-1 {
				t.Errorf("%d goroutines for %d connections", got, agents-1)
			}
			for _, stop := range stops {
				stop()
			}
			waitFor(t, "every connection to be forgotten", func() bool { return connected() == 0 && pollingGoroutines() == 0 })
			if strings.Contains(name, "telling") && told.Load() < agents {
				t.Errorf("told %d agents", told.Load())
			}
			// Agents connecting together share one reading of the nodes.
			if got := lookups.Load(); tell && got != 1 {
				t.Errorf("the nodes' addresses were read %d times for %d agents", got, agents)
			}
		})
	}
}

// The nodes' addresses are read again once the last reading is stale, so a
// node that joins is told to agents within addressesFor of the 30 s round.
func TestNodesAddressesAreReadAgainWhenStale(t *testing.T) {
	nodes := []string{"a:10943"}
	reads := 0
	m := New(Config{PollingAddresses: func(context.Context) []string { reads++; return nodes }})
	ctx := context.Background()
	if got := m.pollingAddresses(ctx); len(got) != 1 || reads != 1 {
		t.Fatalf("got %v after %d reads", got, reads)
	}
	nodes = []string{"a:10943", "b:10943"}
	if got := m.pollingAddresses(ctx); len(got) != 1 || reads != 1 {
		t.Fatalf("a fresh reading was not reused: %v after %d reads", got, reads)
	}
	m.addrsAt = time.Now().Add(-addressesFor)
	if got := m.pollingAddresses(ctx); len(got) != 2 || reads != 2 {
		t.Fatalf("a stale reading was reused: %v after %d reads", got, reads)
	}
}

// The trust sweep drops a polling agent no machine trusts any more, keeps
// the trusted ones, and drops nobody while the database does not answer.
func TestTheTrustSweepDropsOnlyTheUntrusted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	server, err := comms.NewIdentity("server")
	if err != nil {
		t.Fatal(err)
	}
	m := New(Config{Identity: server, Logger: slog.New(slog.DiscardHandler), Store: st})
	defer m.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := m.PollingListener()
	l.Trusted = func(string) bool { return true } // let both in; the sweep judges
	go l.Serve(ctx, ln)
	var kept, gone *comms.Identity
	for _, p := range []**comms.Identity{&kept, &gone} {
		if *p, err = comms.NewIdentity("agent"); err != nil {
			t.Fatal(err)
		}
		go comms.PollServer(ctx, ln.Addr().String(), *p, server.Thumbprint, comms.NewMux(), comms.NewSessions(),
			comms.Backoff{Initial: time.Hour}, slog.New(slog.DiscardHandler), nil)
	}
	err = st.Tx(ctx, func(q *store.Queries) error {
		return q.CreateMachine(ctx, &model.Machine{Name: "kept", Kind: model.MachinePolling, Usage: model.UsageWorker, WorkerPoolIDs: []string{"WorkerPools-1"}, Thumbprint: kept.Thumbprint}, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	connected := func(tp string) bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.polling[tp] != nil
	}
	waitFor(t, "both agents to connect", func() bool { return connected(kept.Thumbprint) && connected(gone.Thumbprint) })

	m.sweepPolling(ctx)
	if !connected(kept.Thumbprint) || connected(gone.Thumbprint) {
		t.Errorf("after the sweep: trusted connected %v, untrusted connected %v", connected(kept.Thumbprint), connected(gone.Thumbprint))
	}
	st.Close()
	m.sweepPolling(ctx)
	if !connected(kept.Thumbprint) {
		t.Error("a database that does not answer dropped a trusted agent")
	}
}

// fakeSSH makes SSH targets that record being closed.
type fakeSSH struct{ closed atomic.Int64 }

func (f *fakeSSH) Target(m model.Machine, _ model.SSHCredentials) (contract.Target, interface{ Close() error }, error) {
	return agentrpc.NewTarget(m.Name, nil), closerFunc(func() error { f.closed.Add(1); return nil }), nil
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }

// Forgetting a machine (deleted, or its address or trust changed) drops its
// live connection at once, whichever kind it is, and leaves the others'.
func TestForgettingAMachineDropsItsConnection(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	server, err := comms.NewIdentity("server")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	ssh := &fakeSSH{}
	m := New(Config{Identity: server, Logger: quiet, Store: st, SSH: ssh})
	defer m.Close()
	mux := comms.NewMux()
	mux.Handle(agentrpc.MethodCapabilities, func(context.Context, *comms.ServerCall) (any, error) {
		return contract.Capabilities{Version: "test"}, nil
	})

	// Two listening agents, each with its count of the servers connected to it.
	listening := func(name string) (model.Machine, *comms.Sessions) {
		id, err := comms.NewIdentity(name)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sessions := comms.NewSessions()
		go comms.ServeListening(ctx, ln, id, func(tp string) bool { return tp == server.Thumbprint }, mux, sessions, quiet)
		return model.Machine{ID: "Machines-" + name, Name: name, Kind: model.MachineListening, Address: ln.Addr().String(), Thumbprint: id.Thumbprint}, sessions
	}
	web, webSessions := listening("web")
	db, dbSessions := listening("db")
	for _, mc := range []model.Machine{web, db} {
		tg, err := m.Target(mc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tg.Capabilities(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both agents to hold a connection", func() bool { return webSessions.Count() == 1 && dbSessions.Count() == 1 })

	// A polling agent, which would not come back for an hour once dropped.
	l := m.PollingListener()
	l.Trusted = func(string) bool { return true } // no machine stored: Forget is what is tested
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go l.Serve(ctx, ln)
	pollID, err := comms.NewIdentity("poll")
	if err != nil {
		t.Fatal(err)
	}
	pollSessions := comms.NewSessions()
	go comms.PollServer(ctx, ln.Addr().String(), pollID, server.Thumbprint, mux, pollSessions, comms.Backoff{Initial: time.Hour}, quiet, nil)
	poll := model.Machine{ID: "Machines-poll", Name: "poll", Kind: model.MachinePolling, Thumbprint: pollID.Thumbprint}
	waitFor(t, "the polling agent to connect", func() bool { return pollSessions.Count() == 1 })

	// An SSH machine, whose target holds its connection.
	sshMachine := model.Machine{Name: "ssh", Kind: model.MachineSSH, Usage: model.UsageWorker, WorkerPoolIDs: []string{"WorkerPools-1"},
		Address: "127.0.0.1:22", SSH: &model.SSHEndpoint{User: "deploy", HostKeyFingerprint: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"}}
	if err := st.Tx(ctx, func(q *store.Queries) error { return q.CreateMachine(ctx, &sshMachine, "") }); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Target(sshMachine); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		machine model.Machine
		dropped func() bool
	}{
		{name: "listening", machine: web, dropped: func() bool { return webSessions.Count() == 0 }},
		{name: "polling", machine: poll, dropped: func() bool { return pollSessions.Count() == 0 }},
		{name: "ssh", machine: sshMachine, dropped: func() bool { return ssh.closed.Load() == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.dropped() {
				t.Fatal("dropped before it was forgotten")
			}
			m.Forget(tt.machine)
			waitFor(t, "its connection to end", tt.dropped)
		})
	}
	if dbSessions.Count() != 1 {
		t.Error("forgetting the other machines dropped db's connection")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.listening) != 1 || m.listening[db.ID] == nil || len(m.polling) != 0 || len(m.ssh) != 0 {
		t.Errorf("the manager still holds %d listening (want only db), %d polling and %d SSH connections", len(m.listening), len(m.polling), len(m.ssh))
	}
}

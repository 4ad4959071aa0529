package comms

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// Polling agents that lost their server at the same moment (it restarted)
// must not all dial it again in the same instant: each wait is drawn from
// the upper half of the schedule's.
func TestReconnectWaitsAreJittered(t *testing.T) {
	for _, d := range []time.Duration{time.Second, 30 * time.Second, 20 * time.Millisecond} {
		lo, hi := d, time.Duration(0)
		seen := map[time.Duration]bool{}
		for range 2000 {
			w := jittered(d)
			if w < d/2 || w > d {
				t.Fatalf("jittered(%s) = %s, outside [%s, %s]", d, w, d/2, d)
			}
			lo, hi = min(lo, w), max(hi, w)
			seen[w] = true
		}
		if lo > d*11/20 || hi < d*19/20 || len(seen) < 100 {
			t.Errorf("jittered(%s) spread only over [%s, %s] (%d values)", d, lo, hi, len(seen))
		}
	}
	if jittered(0) != 0 || jittered(1) != 1 {
		t.Error("no wait must stay no wait")
	}
}

// gatedListener lets connections through only while up; others it closes
// as they arrive, so a dial fails at once, as to a server that is down.
type gatedListener struct {
	net.Listener
	up *atomic.Bool
}

func (g gatedListener) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil || g.up.Load() {
			return c, err
		}
		c.Close()
	}
}

// A polling agent that cannot reach its server waits 1 s, then twice as
// long after each failed dial, up to 30 s; once it has been connected it
// starts again from 1 s. The waits are followed through an injected sleep,
// one at a time, instead of being lived through.
func TestPollingReconnectWaitsGrowAndStartAgainAfterAConnection(t *testing.T) {
	server, err := NewIdentity("server")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := NewIdentity("agent")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	var up atomic.Bool
	connected := make(chan *Conn, 1)
	pl := &PollingListener{Identity: server, Trusted: func(string) bool { return true }, Connected: func(c *Conn) { connected <- c }, Logger: quiet}
	go pl.Serve(ctx, gatedListener{ln, &up})

	waits, resume := make(chan time.Duration), make(chan struct{})
	b := Backoff{sleep: func(ctx context.Context, d time.Duration) bool {
		select {
		case waits <- d:
		case <-ctx.Done():
			return false
		}
		select {
		case <-resume:
			return true
		case <-ctx.Done():
			return false
		}
	}}
	polled := make(chan struct{})
	go func() {
		PollServer(ctx, ln.Addr().String(), agent, server.Thumbprint, NewMux(), NewSessions(), b, quiet, nil)
		close(polled)
	}()
	defer func() { cancel(); <-polled }()

	// expect takes the agent's next wait, checks it is the schedule's w
	// (jittered into its upper half), and lets the agent go on, first
	// running before, if given, while the agent is held.
	expect := func(w time.Duration, before func()) {
		t.Helper()
		select {
		case d := <-waits:
			if d < w/2 || d > w {
				t.Fatalf("the agent waited %s, want %s (or down to half of it)", d, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the agent did not come to its %s wait", w)
		}
		if before != nil {
			before()
		}
		resume <- struct{}{}
	}

	s := time.Second
	// The server is down from the start; it comes up during the last wait.
	for _, w := range []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s} {
		expect(w, nil)
	}
	expect(30*s, func() { up.Store(true) })
	var conn *Conn
	select {
	case conn = <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not connect once the server was up")
	}

	// The connection drops and the server is down again: the schedule
	// starts from 1 s, after the drop and at the first failed dial alike.
	up.Store(false)
	conn.Close()
	for _, w := range []time.Duration{1 * s, 1 * s, 2 * s, 4 * s} {
		expect(w, nil)
	}
}

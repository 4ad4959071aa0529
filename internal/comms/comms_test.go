package comms_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/comms"
)

var quiet = slog.New(slog.DiscardHandler)

func identity(t *testing.T, name string) *comms.Identity {
	t.Helper()
	id, err := comms.NewIdentity(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// testMux answers echo, slow (blocks until canceled), upload and download.
func testMux(canceled chan<- string) *comms.Mux {
	m := comms.NewMux()
	m.Handle("echo", func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var p struct{ Text string }
		if err := c.Decode(&p); err != nil {
			return nil, err
		}
		return map[string]string{"text": p.Text}, nil
	})
	m.Handle("fail", func(ctx context.Context, c *comms.ServerCall) (any, error) {
		return nil, &comms.CodedError{Code: "no_space", Err: errors.New("disk full")}
	})
	m.Handle("slow", func(ctx context.Context, c *comms.ServerCall) (any, error) {
		<-ctx.Done()
		canceled <- "slow"
		return nil, ctx.Err()
	})
	m.Handle("upload", func(ctx context.Context, c *comms.ServerCall) (any, error) {
		b, err := io.ReadAll(c.Body)
		return map[string]int{"length": len(b)}, err
	})
	m.Handle("download", func(ctx context.Context, c *comms.ServerCall) (any, error) {
		data := bytes.Repeat([]byte("x"), 1<<20)
		if err := c.SendBody(int64(len(data)), bytes.NewReader(data)); err != nil {
			return nil, err
		}
		return map[string]string{"done": "yes"}, nil
	})
	return m
}

// connect starts an agent in the given mode and returns the server's Conn to it.
func connect(t *testing.T, mode string, server, agent *comms.Identity, sessions *comms.Sessions, canceled chan string) *comms.Conn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	mux := testMux(canceled)
	switch mode {
	case "listening":
		ln := listen(t)
		go comms.ServeListening(ctx, ln, agent, func(tp string) bool { return tp == server.Thumbprint }, mux, sessions, quiet)
		conn, err := comms.DialAgent(ctx, ln.Addr().String(), server, agent.Thumbprint, quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	case "polling":
		ln := listen(t)
		conns := make(chan *comms.Conn, 1)
		pl := &comms.PollingListener{Identity: server, Trusted: func(tp string) bool { return tp == agent.Thumbprint },
			Connected: func(c *comms.Conn) { conns <- c }, Logger: quiet}
		go pl.Serve(ctx, ln)
		go comms.PollServer(ctx, ln.Addr().String(), agent, server.Thumbprint, mux, sessions, comms.Backoff{Initial: 20 * time.Millisecond}, quiet, nil)
		select {
		case c := <-conns:
			if c.Peer != agent.Thumbprint {
				t.Fatalf("peer %s, want %s", c.Peer, agent.Thumbprint)
			}
			t.Cleanup(func() { c.Close() })
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("the polling agent never connected")
		}
	}
	return nil
}

func TestCallsInBothModes(t *testing.T) {
	for _, mode := range []string{"listening", "polling"} {
		t.Run(mode, func(t *testing.T) {
			server, agent := identity(t, "server"), identity(t, "agent")
			canceled := make(chan string, 1)
			conn := connect(t, mode, server, agent, comms.NewSessions(), canceled)
			ctx := context.Background()

			// Many calls at once over the one connection.
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var out struct{ Text string }
					want := strings.Repeat("a", i)
					if err := conn.Call(ctx, "echo", map[string]string{"text": want}, &out, nil); err != nil || out.Text != want {
						errs <- errors.Join(err, errors.New("wrong echo "+out.Text))
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}

			var re *comms.RemoteError
			if err := conn.Call(ctx, "fail", nil, nil, nil); !errors.As(err, &re) || re.Code != "no_space" || re.Message != "disk full" {
				t.Fatalf("remote error: %#v", err)
			}
			if err := conn.Call(ctx, "nope", nil, nil, nil); !errors.As(err, &re) || re.Code != "unknown_method" {
				t.Fatalf("unknown method: %v", err)
			}
			if err := conn.Call(ctx, "echo", map[string]any{"text": "x", "extra": 1}, nil, nil); err == nil || !strings.Contains(err.Error(), "unknown field") {
				t.Fatalf("strict parameters: %v", err)
			}

			body := bytes.Repeat([]byte("y"), 3<<20)
			var up struct{ Length int }
			if err := conn.Call(ctx, "upload", nil, &up, &comms.CallOptions{Body: bytes.NewReader(body), BodyLength: int64(len(body))}); err != nil || up.Length != len(body) {
				t.Fatalf("upload: %v %+v", err, up)
			}
			var sink bytes.Buffer
			var down struct{ Done string }
			if err := conn.Call(ctx, "download", nil, &down, &comms.CallOptions{Sink: &sink}); err != nil || sink.Len() != 1<<20 || down.Done != "yes" {
				t.Fatalf("download: %v %d %+v", err, sink.Len(), down)
			}

			// Abandoning a call ends the handler's context on the agent.
			cctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- conn.Call(cctx, "slow", nil, nil, nil) }()
			time.AfterFunc(50*time.Millisecond, cancel)
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("canceled call returned %v", err)
			}
			select {
			case <-canceled:
			case <-time.After(10 * time.Second):
				t.Fatal("the agent's handler never saw the call canceled")
			}
		})
	}
}

func TestTrustIsPinnedBothWays(t *testing.T) {
	server, agent, stranger := identity(t, "server"), identity(t, "agent"), identity(t, "stranger")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A listening agent that trusts only "server".
	ln := listen(t)
	go comms.ServeListening(ctx, ln, agent, func(tp string) bool { return tp == server.Thumbprint }, testMux(nil), comms.NewSessions(), quiet)
	if _, err := comms.DialAgent(ctx, ln.Addr().String(), stranger, agent.Thumbprint, quiet); err == nil ||
		!strings.Contains(err.Error(), "does not trust this side's certificate "+stranger.Thumbprint) {
		t.Fatalf("an untrusted server was let in, or the error is unclear: %v", err)
	}
	// The server refuses an agent that is not the one it pinned.
	var ue *comms.UntrustedError
	if _, err := comms.DialAgent(ctx, ln.Addr().String(), server, stranger.Thumbprint, quiet); !errors.As(err, &ue) || ue.Thumbprint != agent.Thumbprint {
		t.Fatalf("a wrong agent certificate was accepted: %v", err)
	}

	// A polling agent the server does not trust never gets a connection.
	pln := listen(t)
	connected := make(chan *comms.Conn, 1)
	pl := &comms.PollingListener{Identity: server, Trusted: func(tp string) bool { return tp == agent.Thumbprint },
		Connected: func(c *comms.Conn) { connected <- c }, Logger: quiet}
	go pl.Serve(ctx, pln)
	conn, err := net.Dial("tcp", pln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	polled := make(chan struct{}, 1)
	pctx, pcancel := context.WithCancel(ctx)
	go comms.PollServer(pctx, pln.Addr().String(), stranger, server.Thumbprint, testMux(nil), comms.NewSessions(), comms.Backoff{Initial: 10 * time.Millisecond}, quiet, func() { polled <- struct{}{} })
	// And a polling agent refuses a server that is not the pinned one.
	go comms.PollServer(pctx, pln.Addr().String(), agent, stranger.Thumbprint, testMux(nil), comms.NewSessions(), comms.Backoff{Initial: 10 * time.Millisecond}, quiet, func() { polled <- struct{}{} })
	select {
	case c := <-connected:
		t.Fatalf("an untrusted polling agent connected: %s", c.Peer)
	case <-polled:
		t.Fatal("a polling agent connected to a server it does not trust")
	case <-time.After(500 * time.Millisecond):
		// Several retries have come and gone; none got through.
	}
	pcancel()
}

func TestRevokingTrustDropsTheConnection(t *testing.T) {
	server, agent := identity(t, "server"), identity(t, "agent")
	sessions := comms.NewSessions()
	conn := connect(t, "listening", server, agent, sessions, nil)
	if err := conn.Call(context.Background(), "echo", map[string]string{"text": "hi"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	trust := comms.NewTrustSet(server.Thumbprint)
	trust.OnRevoke(sessions.Drop)
	trust.Remove(server.Thumbprint)
	select {
	case <-conn.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("the connection survived the revocation")
	}
	var nse *comms.NotSentError
	if err := conn.Call(context.Background(), "echo", map[string]string{"text": "hi"}, nil, nil); !errors.As(err, &nse) {
		t.Fatalf("a call after revocation: %v", err)
	}
}

func TestNormalizeThumbprint(t *testing.T) {
	id := identity(t, "x")
	lower := strings.ToLower(id.Thumbprint)
	var colons []string
	for i := 0; i < len(lower); i += 2 {
		colons = append(colons, lower[i:i+2])
	}
	for _, in := range []string{id.Thumbprint, lower, strings.Join(colons, ":"), " " + lower + " "} {
		if got, err := comms.NormalizeThumbprint(in); err != nil || got != id.Thumbprint {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "abc", strings.Repeat("Z", 64)} {
		if _, err := comms.NormalizeThumbprint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestIdentityPersists(t *testing.T) {
	dir := t.TempDir()
	a, err := comms.LoadOrCreateIdentity(dir, "agent")
	if err != nil {
		t.Fatal(err)
	}
	b, err := comms.LoadOrCreateIdentity(dir, "agent")
	if err != nil || a.Thumbprint != b.Thumbprint {
		t.Fatalf("identity changed across loads: %v", err)
	}
}

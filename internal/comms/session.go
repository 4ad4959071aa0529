package comms

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// handshakeTimeout bounds TLS and the hello that follows it.
const handshakeTimeout = 15 * time.Second

// hello is the acceptor's first frame: it proves the acceptor let the
// dialler in (with TLS 1.3 a refused client certificate shows only at the
// first read) and names the protocol.
type hello struct {
	Protocol string `json:"protocol"`
}

const protocolV1 = "pulpo-comms/1"

func yamuxConfig(logger *slog.Logger) *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = true
	cfg.KeepAliveInterval = 10 * time.Second
	cfg.ConnectionWriteTimeout = 15 * time.Second
	cfg.MaxStreamWindowSize = 4 << 20 // bulk transfers need a wide window
	cfg.StreamOpenTimeout = 30 * time.Second
	cfg.LogOutput = nil
	cfg.Logger = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	return cfg
}

// accept finishes the acceptor's side of a handshake and returns the
// dialler's thumbprint.
func accept(ctx context.Context, raw net.Conn, cfg *tls.Config) (*tls.Conn, string, error) {
	conn := tls.Server(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("handshake with %s: %w", raw.RemoteAddr(), err)
	}
	peer := Thumbprint(conn.ConnectionState().PeerCertificates[0].Raw)
	conn.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	if err := writeFrame(conn, hello{Protocol: protocolV1}); err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("hello to %s: %w", raw.RemoteAddr(), err)
	}
	conn.SetWriteDeadline(time.Time{})
	return conn, peer, nil
}

// dial opens a TLS connection to addr and waits for the acceptor's hello.
func dial(ctx context.Context, addr string, cfg *tls.Config, ownThumbprint string) (*tls.Conn, error) {
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	d := tls.Dialer{Config: cfg, NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}}
	c, err := d.DialContext(hctx, "tcp", addr)
	if err != nil {
		var ue *UntrustedError
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("connect to %s: %w", addr, ue)
		}
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	conn := c.(*tls.Conn)
	deadline, _ := hctx.Deadline()
	conn.SetReadDeadline(deadline)
	var h hello
	if err := readFrame(conn, &h); err != nil {
		conn.Close()
		if strings.Contains(err.Error(), "bad certificate") || strings.Contains(err.Error(), "certificate required") {
			return nil, fmt.Errorf("connect to %s: it does not trust this side's certificate %s; add that thumbprint to its trusted list", addr, ownThumbprint)
		}
		return nil, fmt.Errorf("connect to %s: no hello: %w", addr, err)
	}
	if h.Protocol != protocolV1 {
		conn.Close()
		return nil, fmt.Errorf("connect to %s: it speaks %q, this side %q", addr, h.Protocol, protocolV1)
	}
	conn.SetReadDeadline(time.Time{})
	return conn, nil
}

// DialAgent connects the server to a listening agent whose certificate must
// have the pinned thumbprint.
func DialAgent(ctx context.Context, addr string, id *Identity, pinned string, logger *slog.Logger) (*Conn, error) {
	conn, err := dial(ctx, addr, DialerTLS(id, pinned), id.Thumbprint)
	if err != nil {
		return nil, err
	}
	session, err := yamux.Client(conn, yamuxConfig(logger))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return &Conn{session: session, Peer: pinned}, nil
}

// PollingListener is the server's door for polling agents: each trusted
// agent that dials in becomes a Conn on which the server makes calls.
type PollingListener struct {
	Identity *Identity
	Trusted  func(thumbprint string) bool
	// Connected receives each new connection; it must not block for long.
	Connected func(*Conn)
	Logger    *slog.Logger
}

// Serve accepts agents on ln until ctx ends.
func (p *PollingListener) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	cfg := ListenerTLS(p.Identity, p.Trusted)
	for {
		raw, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept polling agents: %w", err)
		}
		go func() {
			conn, peer, err := accept(ctx, raw, cfg)
			if err != nil {
				p.Logger.Warn("polling agent refused", "remote", raw.RemoteAddr().String(), "error", err)
				return
			}
			session, err := yamux.Client(conn, yamuxConfig(p.Logger))
			if err != nil {
				conn.Close()
				return
			}
			p.Connected(&Conn{session: session, Peer: peer})
		}()
	}
}

// Sessions tracks an agent's live sessions by the thumbprint of the peer
// they were opened for, so revoking trust can drop them at once.
type Sessions struct {
	mu   sync.Mutex
	live map[string]map[io.Closer]bool
}

// NewSessions returns an empty tracker.
func NewSessions() *Sessions { return &Sessions{live: map[string]map[io.Closer]bool{}} }

func (s *Sessions) add(peer string, c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live[peer] == nil {
		s.live[peer] = map[io.Closer]bool{}
	}
	s.live[peer][c] = true
}

func (s *Sessions) remove(peer string, c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live[peer], c)
}

// Drop closes every session with peer.
func (s *Sessions) Drop(peer string) {
	s.mu.Lock()
	var closers []io.Closer
	for c := range s.live[peer] {
		closers = append(closers, c)
	}
	delete(s.live, peer)
	s.mu.Unlock()
	for _, c := range closers {
		c.Close()
	}
}

// Count reports how many sessions are live.
func (s *Sessions) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.live {
		n += len(m)
	}
	return n
}

// ServeListening is a listening agent: it accepts servers it trusts on ln
// and answers their calls until ctx ends.
func ServeListening(ctx context.Context, ln net.Listener, id *Identity, trusted func(string) bool, mux *Mux, sessions *Sessions, logger *slog.Logger) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	cfg := ListenerTLS(id, trusted)
	for {
		raw, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept servers: %w", err)
		}
		go func() {
			conn, peer, err := accept(ctx, raw, cfg)
			if err != nil {
				logger.Warn("connection refused", "remote", raw.RemoteAddr().String(), "error", err)
				return
			}
			session, err := yamux.Server(conn, yamuxConfig(logger))
			if err != nil {
				conn.Close()
				return
			}
			sessions.add(peer, session)
			defer sessions.remove(peer, session)
			defer session.Close()
			logger.Info("server connected", "remote", raw.RemoteAddr().String(), "thumbprint", peer)
			mux.Serve(ctx, session)
		}()
	}
}

// Backoff is the polling agent's reconnect schedule: Initial after a
// connection ends, doubling up to Max while dials fail. Each wait is drawn
// from its upper half (jittered), so the agents of a server that restarted,
// which all lost it at the same moment, come back spread out rather than in
// one burst of handshakes, and sooner on average.
type Backoff struct {
	Initial, Max time.Duration

	// sleep waits d unless ctx ends first, and says whether it waited;
	// tests replace it to follow the schedule without living through it.
	sleep func(ctx context.Context, d time.Duration) bool
}

// wait sleeps d, or less if ctx ends first, which it reports as false.
func (b Backoff) wait(ctx context.Context, d time.Duration) bool {
	if b.sleep != nil {
		return b.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jittered draws a wait from [d/2, d].
func jittered(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d - rand.N(d/2)
}

// PollServer is a polling agent: it dials the server at addr (pinning its
// thumbprint), answers the calls the server makes over that connection, and
// dials again with backoff whenever it drops, until ctx ends. connected is
// told each time a connection is up (it may be nil).
func PollServer(ctx context.Context, addr string, id *Identity, serverThumbprint string, mux *Mux, sessions *Sessions, b Backoff, logger *slog.Logger, connected func()) error {
	if b.Initial <= 0 {
		b.Initial = time.Second
	}
	if b.Max <= 0 {
		b.Max = 30 * time.Second
	}
	wait := b.Initial
	for {
		conn, err := dial(ctx, addr, DialerTLS(id, serverThumbprint), id.Thumbprint)
		if err == nil {
			session, serr := yamux.Server(conn, yamuxConfig(logger))
			if serr == nil {
				wait = b.Initial
				logger.Info("connected to the server", "address", addr)
				if connected != nil {
					connected()
				}
				sessions.add(serverThumbprint, session)
				mux.Serve(ctx, session)
				sessions.remove(serverThumbprint, session)
				session.Close()
				logger.Warn("connection to the server ended", "address", addr)
			} else {
				conn.Close()
				err = serr
			}
		}
		if err != nil {
			logger.Warn("cannot reach the server", "address", addr, "error", err, "retry in", wait)
		}
		if !b.wait(ctx, jittered(wait)) {
			return nil
		}
		if err != nil {
			wait = min(wait*2, b.Max)
		}
	}
}

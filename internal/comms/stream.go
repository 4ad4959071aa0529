package comms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"syscall"

	"github.com/hashicorp/yamux"
)

// NewConn is the server's side of a connection over any byte stream whose
// other end is already trusted, such as an SSH session running pulpo
// remote-serve: calls travel over it exactly as over an agent's TLS
// connection. peer names the other end. Closing the Conn closes rwc.
func NewConn(rwc io.ReadWriteCloser, peer string, logger *slog.Logger) (*Conn, error) {
	session, err := yamux.Client(rwc, yamuxConfig(logger))
	if err != nil {
		rwc.Close()
		return nil, fmt.Errorf("start calls to %s: %w", peer, err)
	}
	return &Conn{session: session, Peer: peer}, nil
}

// ServeStream is the agent's side over any byte stream: it answers calls
// with mux until the other end closes the stream (then it returns nil) or
// ctx ends.
// Handlers still running when it returns see their contexts end.
func ServeStream(ctx context.Context, rwc io.ReadWriteCloser, mux *Mux, logger *slog.Logger) error {
	session, err := yamux.Server(rwc, yamuxConfig(logger))
	if err != nil {
		rwc.Close()
		return fmt.Errorf("serve calls: %w", err)
	}
	defer session.Close()
	err = mux.Serve(ctx, session)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case streamEnded(err):
		return nil
	}
	return fmt.Errorf("serve calls: %w", err)
}

// streamEnded says err means the other end closed the stream: a read
// sees its end, or a write finds nobody reading.
func streamEnded(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// OpenCalls is how many calls are open on the connection. A call counts
// until both sides have closed it, so zero means the other side has
// finished every call too, abandoned ones included.
func (c *Conn) OpenCalls() int { return c.session.NumStreams() }

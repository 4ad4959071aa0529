package comms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/yamux"
)

// RemoteError is an error the other side returned from a call: the call
// arrived and was answered.
type RemoteError struct {
	Method  string
	Message string
	// Code classifies the error for callers that map it back to a type.
	Code string
}

func (e *RemoteError) Error() string { return e.Message }

// Answered says the agent received the call and answered it.
func (e *RemoteError) Answered() bool { return true }

// CodedError lets a handler give its error a code the caller can match.
type CodedError struct {
	Code string
	Err  error
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

// NotSentError wraps a failure that happened before the request left, so
// the call certainly did not run and may be retried as it is.
type NotSentError struct{ Err error }

func (e *NotSentError) Error() string { return e.Err.Error() }
func (e *NotSentError) Unwrap() error { return e.Err }

// ErrSessionClosed is returned for calls on a connection that has gone.
var ErrSessionClosed = errors.New("the connection to the agent is closed")

// Conn is the server's side of one agent connection: it opens a stream per
// call. It is safe for concurrent use.
type Conn struct {
	session *yamux.Session
	// Peer is the thumbprint of the certificate the agent presented.
	Peer string
}

// Closed is closed when the connection ends.
func (c *Conn) Closed() <-chan struct{} { return c.session.CloseChan() }

// IsClosed reports whether the connection has ended.
func (c *Conn) IsClosed() bool { return c.session.IsClosed() }

// Close ends the connection and every call on it.
func (c *Conn) Close() error { return c.session.Close() }

// CallOptions carry bulk data with a call.
type CallOptions struct {
	// Body is sent after the request: exactly BodyLength bytes.
	Body       io.Reader
	BodyLength int64
	// Sink receives the reply's body, if it has one.
	Sink io.Writer
}

// Call runs method on the agent with params and decodes its result into
// result (which may be nil). Ending ctx abandons the call and tells the
// agent, whose handler sees its context end.
func (c *Conn) Call(ctx context.Context, method string, params, result any, opts *CallOptions) error {
	err := c.call(ctx, method, params, result, opts)
	if err != nil && ctx.Err() != nil {
		// Whatever the agent answered, the caller gave up first.
		var nse *NotSentError
		if errors.As(err, &nse) {
			return &NotSentError{fmt.Errorf("%s: %w", method, context.Cause(ctx))}
		}
		return fmt.Errorf("%s: %w", method, context.Cause(ctx))
	}
	return err
}

func (c *Conn) call(ctx context.Context, method string, params, result any, opts *CallOptions) error {
	if c.session.IsClosed() {
		return &NotSentError{ErrSessionClosed}
	}
	if opts == nil {
		opts = &CallOptions{}
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("%s: encode parameters: %w", method, err)
	}
	stream, err := c.session.OpenStream()
	if err != nil {
		return &NotSentError{fmt.Errorf("%s: open stream: %w", method, err)}
	}
	// Closing the stream is how an abandoned call is told to the agent.
	var closeOnce sync.Once
	closeStream := func() { closeOnce.Do(func() { stream.Close() }) }
	defer closeStream()
	stop := context.AfterFunc(ctx, closeStream)
	defer stop()

	bodyLen := int64(-1)
	if opts.Body != nil {
		bodyLen = opts.BodyLength
	}
	if err := writeFrame(stream, request{Method: method, Params: raw, BodyLength: bodyLen}); err != nil {
		return c.callErr(ctx, method, &NotSentError{err})
	}
	if opts.Body != nil {
		n, err := io.Copy(stream, io.LimitReader(opts.Body, opts.BodyLength))
		if err == nil && n != opts.BodyLength {
			err = fmt.Errorf("the body ended after %d of %d bytes", n, opts.BodyLength)
		}
		if err != nil {
			return c.callErr(ctx, method, fmt.Errorf("send body: %w", err))
		}
	}
	var h head
	if err := readFrame(stream, &h); err != nil {
		return c.callErr(ctx, method, fmt.Errorf("read reply: %w", err))
	}
	if h.Error != nil {
		return &RemoteError{Method: method, Message: h.Error.Message, Code: h.Error.Code}
	}
	if h.BodyLength >= 0 {
		sink := opts.Sink
		if sink == nil {
			sink = io.Discard
		}
		n, err := io.Copy(sink, io.LimitReader(stream, h.BodyLength))
		if err == nil && n != h.BodyLength {
			err = fmt.Errorf("the reply's body ended after %d of %d bytes", n, h.BodyLength)
		}
		if err != nil {
			return c.callErr(ctx, method, fmt.Errorf("receive body: %w", err))
		}
	}
	var tl tail
	if err := readFrame(stream, &tl); err != nil {
		return c.callErr(ctx, method, fmt.Errorf("read reply: %w", err))
	}
	if tl.Error != nil {
		return &RemoteError{Method: method, Message: tl.Error.Message, Code: tl.Error.Code}
	}
	if result != nil && len(tl.Result) > 0 {
		if err := json.Unmarshal(tl.Result, result); err != nil {
			return fmt.Errorf("%s: decode result: %w", method, err)
		}
	}
	return nil
}

// callErr prefers the context's reason when the call was abandoned.
func (c *Conn) callErr(ctx context.Context, method string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", method, context.Cause(ctx))
	}
	if c.session.IsClosed() {
		return fmt.Errorf("%s: %w (%v)", method, ErrSessionClosed, err)
	}
	return fmt.Errorf("%s: %w", method, err)
}

// HandlerFunc serves one method.
type HandlerFunc func(ctx context.Context, call *ServerCall) (any, error)

// Mux routes calls to handlers by method name.
type Mux struct {
	handlers map[string]HandlerFunc
}

// NewMux returns an empty mux.
func NewMux() *Mux { return &Mux{handlers: map[string]HandlerFunc{}} }

// Handle registers a handler.
func (m *Mux) Handle(method string, h HandlerFunc) { m.handlers[method] = h }

// ServerCall is one incoming call.
type ServerCall struct {
	Method string
	params json.RawMessage
	// Body is the call's bulk data, or nil.
	Body     io.Reader
	stream   io.Writer
	headSent bool
}

// Decode reads the parameters strictly.
func (c *ServerCall) Decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: bad parameters: %w", c.Method, err)
	}
	return nil
}

// SendBody streams n bytes from r as the reply's body; call it at most once,
// before returning.
func (c *ServerCall) SendBody(n int64, r io.Reader) error {
	if c.headSent {
		return errors.New("the reply's body was already sent")
	}
	c.headSent = true
	if err := writeFrame(c.stream, head{BodyLength: n}); err != nil {
		return err
	}
	copied, err := io.Copy(c.stream, io.LimitReader(r, n))
	if err == nil && copied != n {
		err = fmt.Errorf("the body ended after %d of %d bytes", copied, n)
	}
	return err
}

// serveStream answers one call. The caller closes the stream to abandon a
// call; then the handler's context ends.
func (m *Mux) serveStream(ctx context.Context, stream *yamux.Stream) {
	defer stream.Close()
	var req request
	if err := readFrame(stream, &req); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	call := &ServerCall{Method: req.Method, params: req.Params, stream: stream}
	var bodyDone chan struct{}
	if req.BodyLength >= 0 {
		call.Body = io.LimitReader(stream, req.BodyLength)
		bodyDone = make(chan struct{})
		go func() {
			// Notice the caller going away once the body has been read.
			<-bodyDone
			watchClose(stream, cancel)
		}()
	} else {
		go watchClose(stream, cancel)
	}
	h, ok := m.handlers[req.Method]
	var result any
	var err error
	if !ok {
		err = &CodedError{Code: "unknown_method", Err: fmt.Errorf("the agent does not know the call %q; it may be older than the server", req.Method)}
	} else {
		result, err = h(ctx, call)
	}
	if bodyDone != nil {
		// Drain what the handler did not read, so the next frame is in place.
		io.Copy(io.Discard, call.Body)
		close(bodyDone)
	}
	if err != nil {
		we := &wireError{Message: err.Error()}
		var ce *CodedError
		if errors.As(err, &ce) {
			we.Code = ce.Code
		}
		if !call.headSent {
			writeFrame(stream, head{BodyLength: -1, Error: we})
			return
		}
		writeFrame(stream, tail{Error: we})
		return
	}
	if !call.headSent {
		if writeFrame(stream, head{BodyLength: -1}) != nil {
			return
		}
	}
	raw, err := json.Marshal(result)
	if err != nil {
		writeFrame(stream, tail{Error: &wireError{Message: "encode result: " + err.Error()}})
		return
	}
	writeFrame(stream, tail{Result: raw})
}

// watchClose cancels when the caller closes its side: after the request the
// caller sends nothing more, so any read that ends means it has gone.
func watchClose(stream *yamux.Stream, cancel context.CancelFunc) {
	var b [1]byte
	stream.Read(b[:])
	cancel()
}

// Serve answers calls on an agent's session until it ends.
func (m *Mux) Serve(ctx context.Context, session *yamux.Session) error {
	for {
		stream, err := session.AcceptStreamWithContext(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		go m.serveStream(ctx, stream)
	}
}

package comms_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/comms"
)

// streamMux answers echo, upload (the body's length and hash), download
// (a reply body) and wait, which says it started and then blocks until its
// call is abandoned.
func streamMux(started, abandoned chan<- struct{}) *comms.Mux {
	m := comms.NewMux()
	m.Handle("echo", func(ctx context.Context, c *comms.ServerCall) (any, error) {
		var p struct{ Text string }
		if err := c.Decode(&p); err != nil {
			return nil, err
		}
		return p.Text, nil
	})
	m.Handle("upload", func(ctx context.Context, c *comms.ServerCall) (any, error) {
		h := sha256.New()
		n, err := io.Copy(h, c.Body)
		return fmt.Sprintf("%d bytes, sha256 %x", n, h.Sum(nil)), err
	})
	m.Handle("download", func(ctx context.Context, c *comms.ServerCall) (any, error) {
		return "sent", c.SendBody(5, bytes.NewReader([]byte("hello")))
	})
	m.Handle("wait", func(ctx context.Context, c *comms.ServerCall) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		abandoned <- struct{}{}
		return nil, ctx.Err()
	})
	return m
}

// overPipe serves mux over one end of an in-memory pipe until ctx ends, and
// returns the Conn on the other end and what serving returned.
func overPipe(ctx context.Context, t *testing.T, mux *comms.Mux) (*comms.Conn, <-chan error) {
	t.Helper()
	serverEnd, agentEnd := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- comms.ServeStream(ctx, agentEnd, mux, quiet) }()
	conn, err := comms.NewConn(serverEnd, "pipe", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, served
}

func TestCallsOverAByteStream(t *testing.T) {
	started, abandoned := make(chan struct{}, 1), make(chan struct{}, 1)
	conn, _ := overPipe(t.Context(), t, streamMux(started, abandoned))
	body := bytes.Repeat([]byte("z"), 3<<20+7) // wider than a stream's window
	bodySum := sha256.Sum256(body)

	tests := []struct {
		name    string
		call    func(ctx context.Context) (string, error)
		want    string
		wantErr error
		// wantAnswer expects an error the other side returned.
		wantAnswer bool
	}{
		{name: "a call", want: "hello", call: func(ctx context.Context) (string, error) {
			var out string
			err := conn.Call(ctx, "echo", map[string]string{"text": "hello"}, &out, nil)
			return out, err
		}},
		{name: "a call with a body", want: fmt.Sprintf("%d bytes, sha256 %s", len(body), hex.EncodeToString(bodySum[:])),
			call: func(ctx context.Context) (string, error) {
				var out string
				err := conn.Call(ctx, "upload", nil, &out, &comms.CallOptions{Body: bytes.NewReader(body), BodyLength: int64(len(body))})
				return out, err
			}},
		{name: "a reply with a body", want: "sent hello", call: func(ctx context.Context) (string, error) {
			var out string
			var sink bytes.Buffer
			err := conn.Call(ctx, "download", nil, &out, &comms.CallOptions{Sink: &sink})
			return out + " " + sink.String(), err
		}},
		{name: "an abandoned call ends its handler", want: "the handler saw it", wantErr: context.Canceled,
			call: func(ctx context.Context) (string, error) {
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				go func() {
					<-started
					cancel()
				}()
				err := conn.Call(ctx, "wait", nil, nil, nil)
				select {
				case <-abandoned:
					return "the handler saw it", err
				case <-time.After(10 * time.Second):
					return "the handler never saw it", err
				}
			}},
		{name: "an unknown method is answered", wantAnswer: true, call: func(ctx context.Context) (string, error) {
			return "", conn.Call(ctx, "nope", nil, nil, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call(t.Context())
			var remote *comms.RemoteError
			if answered := errors.As(err, &remote); answered != tt.wantAnswer || !answered && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v (answered: %v)", err, tt.wantErr, tt.wantAnswer)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Each call's stream closes once both sides are done with it.
	deadline := time.Now().Add(10 * time.Second)
	for conn.OpenCalls() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls are still open after all have ended", conn.OpenCalls())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestServingAByteStreamEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(conn *comms.Conn, cancel context.CancelFunc)
		want error
	}{
		{name: "when the stream ends", end: func(conn *comms.Conn, _ context.CancelFunc) { conn.Close() }},
		{name: "when its context ends", end: func(_ *comms.Conn, cancel context.CancelFunc) { cancel() }, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			conn, served := overPipe(ctx, t, streamMux(nil, nil))
			if err := conn.Call(ctx, "echo", map[string]string{"text": "hi"}, nil, nil); err != nil {
				t.Fatal(err)
			}
			tt.end(conn, cancel)
			select {
			case err := <-served:
				if !errors.Is(err, tt.want) {
					t.Fatalf("serving returned %v, want %v", err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("serving did not end")
			}
			select {
			case <-conn.Closed():
			case <-time.After(10 * time.Second):
				t.Fatal("the connection did not notice")
			}
		})
	}
}

// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// a free loopback port for tests, and keeps every message it is sent.
package smtptest

import (
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Mail is one message as the server received it.
type Mail struct {
	From string
	// To lists the envelope recipients (Bcc ones too).
	To []string
	// Data is the message: headers and body.
	Data string
}

// Server is the SMTP server; Addr is where it listens (host:port).
type Server struct {
	Addr string
	mu   sync.Mutex
	mail []Mail
}

// Start serves SMTP until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Received is what arrived so far, oldest first.
func (s *Server) Received() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mail)
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s   *Server
	cur Mail
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.cur.From = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.cur.To = append(x.cur.To, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.cur.Data = string(b)
	x.s.mu.Lock()
	x.s.mail = append(x.s.mail, x.cur)
	x.s.mu.Unlock()
	return err
}

func (x *session) Reset()        { x.cur = Mail{} }
func (x *session) Logout() error { return nil }

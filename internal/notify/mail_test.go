package notify_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/notify"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// mailbox is an SMTP server that keeps what it is sent.
type mailbox struct {
	mu   sync.Mutex
	mail []mailed
}

type mailed struct {
	from string
	to   []string
	data string
}

type mailSession struct {
	box *mailbox
	cur mailed
}

func (b *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: b}, nil }

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.cur.data = string(b)
	s.box.mu.Lock()
	s.box.mail = append(s.box.mail, s.cur)
	s.box.mu.Unlock()
	return err
}

func (s *mailSession) Reset()        { s.cur = mailed{} }
func (s *mailSession) Logout() error { return nil }

func startMailbox(t *testing.T) (*mailbox, string) {
	t.Helper()
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return box, ln.Addr().String()
}

func TestEventsAreMailed(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	box, addr := startMailbox(t)
	sub := model.Subscription{Name: "ops mail", Events: []model.EventKind{model.EventDeploymentFailed}, EmailTo: []string{"ops@example.com", "lead@example.com"}}
	err := s.Tx(ctx, func(q *store.Queries) error {
		if err := q.CreateSubscription(ctx, &sub); err != nil {
			return err
		}
		return q.EnqueueEvent(ctx, store.Event{Kind: model.EventDeploymentFailed, Payload: map[string]any{
			"project": map[string]string{"name": "shop"}, "release": map[string]string{"version": "1.4.0"},
			"environment": map[string]string{"name": "Production"}, "error": "step \"Install\" failed"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &notify.Dispatcher{Store: s, Mailer: &notify.Mailer{Addr: addr, From: "pulpo@example.com", Timeout: 10 * time.Second}}
	if n, err := d.Round(ctx); err != nil || n != 1 {
		t.Fatalf("round: %d %v", n, err)
	}
	log, _, _ := s.Read().ListDeliveries(ctx, sub.ID, store.ListOptions{})
	if len(log) != 1 || log[0].State != model.DeliverySucceeded || log[0].Channel != "email" {
		t.Fatalf("delivery: %+v", log)
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	if len(box.mail) != 1 {
		t.Fatalf("got %d mails", len(box.mail))
	}
	m := box.mail[0]
	if m.from != "pulpo@example.com" || strings.Join(m.to, ",") != "ops@example.com,lead@example.com" ||
		!strings.Contains(m.data, "Subject: [Pulpo] deployment-failed: shop 1.4.0 to Production") || !strings.Contains(m.data, `step \"Install\" failed`) {
		t.Fatalf("mail: %+v", m)
	}
}

func TestMailWithoutAnSMTPServerIsRetriedThenGivenUp(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	sub := model.Subscription{Name: "nowhere", Events: []model.EventKind{model.EventDeploymentFailed}, EmailTo: []string{"ops@example.com"}}
	s.Tx(ctx, func(q *store.Queries) error {
		if err := q.CreateSubscription(ctx, &sub); err != nil {
			return err
		}
		_, err := q.EnqueuePing(ctx, sub.ID)
		return err
	})
	d := &notify.Dispatcher{Store: s, Retries: []time.Duration{}}
	d.Round(ctx)
	log, _, _ := s.Read().ListDeliveries(ctx, sub.ID, store.ListOptions{})
	if len(log) != 1 || log[0].State != model.DeliveryFailed || !strings.Contains(log[0].LastError, "no SMTP server is configured") {
		t.Fatalf("delivery: %+v", log)
	}
}

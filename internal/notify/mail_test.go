package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/notify"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/testutil/smtptest"
)

func TestEventsAreMailed(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	box := smtptest.Start(t)
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
	d := &notify.Dispatcher{Store: s, Mailer: &notify.Mailer{Addr: box.Addr, From: "pulpo@example.com", Timeout: 10 * time.Second}}
	if n, err := d.Round(ctx); err != nil || n != 1 {
		t.Fatalf("round: %d %v", n, err)
	}
	log, _, _ := s.Read().ListDeliveries(ctx, sub.ID, store.ListOptions{})
	if len(log) != 1 || log[0].State != model.DeliverySucceeded || log[0].Channel != "email" {
		t.Fatalf("delivery: %+v", log)
	}
	mail := box.Received()
	if len(mail) != 1 {
		t.Fatalf("got %d mails", len(mail))
	}
	m := mail[0]
	if m.From != "pulpo@example.com" || strings.Join(m.To, ",") != "ops@example.com,lead@example.com" ||
		!strings.Contains(m.Data, "Subject: [Pulpo] deployment-failed: shop 1.4.0 to Production") || !strings.Contains(m.Data, `step \"Install\" failed`) {
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

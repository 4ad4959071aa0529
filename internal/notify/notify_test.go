package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/notify"
	"github.com/pulpo-deploy/pulpo/internal/secrets"
	"github.com/pulpo-deploy/pulpo/internal/store"
)

// receiver is a webhook endpoint that fails as often as told, then accepts.
type receiver struct {
	mu       sync.Mutex
	failures int
	got      []received
}

type received struct {
	event, signature string
	timestamp        int64
	body             []byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ts, _ := strconv.ParseInt(req.Header.Get(notify.HeaderTimestamp), 10, 64)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, received{req.Header.Get(notify.HeaderEvent), req.Header.Get(notify.HeaderSignature), ts, body})
	if r.failures > 0 {
		r.failures--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	box, _ := secrets.New(secrets.NewKey())
	s.SetSealer(box)
	return s
}

func TestDeliveriesAreSignedRetriedAndLogged(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	rcv := &receiver{failures: 1}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	sub := model.Subscription{Name: "page", Events: []model.EventKind{model.EventDeploymentSucceeded}, WebhookURL: srv.URL, Secret: "s3cret"}
	other := model.Subscription{Name: "failures only", Events: []model.EventKind{model.EventDeploymentFailed}, WebhookURL: srv.URL}
	err := s.Tx(ctx, func(q *store.Queries) error {
		if err := q.CreateSubscription(ctx, &sub); err != nil {
			return err
		}
		if err := q.CreateSubscription(ctx, &other); err != nil {
			return err
		}
		return q.EnqueueEvent(ctx, store.Event{Kind: model.EventDeploymentSucceeded, ProjectID: "Projects-1", EnvironmentID: "Environments-1",
			Payload: map[string]any{"release": map[string]string{"version": "1.0.0"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Secret != "" || !sub.HasSecret {
		t.Fatalf("the secret is write-only: %+v", sub)
	}

	d := &notify.Dispatcher{Store: s, Retries: []time.Duration{0}}
	if n, err := d.Round(ctx); err != nil || n != 1 {
		t.Fatalf("first round: %d %v", n, err)
	}
	log, _, _ := s.Read().ListDeliveries(ctx, sub.ID, store.ListOptions{})
	if len(log) != 1 || log[0].State != model.DeliveryPending || log[0].Attempts != 1 || log[0].LastStatus != 503 {
		t.Fatalf("after a 503: %+v", log)
	}
	if n, err := d.Round(ctx); err != nil || n != 1 {
		t.Fatalf("retry round: %d %v", n, err)
	}
	log, _, _ = s.Read().ListDeliveries(ctx, sub.ID, store.ListOptions{})
	if len(log) != 1 || log[0].State != model.DeliverySucceeded || log[0].Attempts != 2 || log[0].DeliveredAt == nil {
		t.Fatalf("after the retry: %+v", log)
	}
	if n, _ := d.Round(ctx); n != 0 {
		t.Fatalf("a delivered event was sent again")
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 2 {
		t.Fatalf("the endpoint got %d requests, want 2", len(rcv.got))
	}
	for _, g := range rcv.got {
		if g.event != "deployment-succeeded" || !notify.Verify("s3cret", g.signature, g.timestamp, g.body) || notify.Verify("other", g.signature, g.timestamp, g.body) {
			t.Fatalf("request %+v is not signed with the secret", g)
		}
		var body map[string]any
		if err := json.Unmarshal(g.body, &body); err != nil || body["event"] != "deployment-succeeded" || body["deliveryId"] != log[0].ID {
			t.Fatalf("body %s", g.body)
		}
	}
}

func TestADeliveryIsGivenUpAfterItsRetries(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusInternalServerError) }))
	defer srv.Close()
	sub := model.Subscription{Name: "down", Events: []model.EventKind{model.EventMachineUnhealthy}, WebhookURL: srv.URL}
	s.Tx(ctx, func(q *store.Queries) error {
		if err := q.CreateSubscription(ctx, &sub); err != nil {
			return err
		}
		_, err := q.EnqueuePing(ctx, sub.ID)
		return err
	})
	d := &notify.Dispatcher{Store: s, Retries: []time.Duration{0}}
	d.Round(ctx)
	d.Round(ctx)
	log, _, _ := s.Read().ListDeliveries(ctx, sub.ID, store.ListOptions{})
	if len(log) != 1 || log[0].State != model.DeliveryFailed || log[0].Attempts != 2 || log[0].LastStatus != 500 || log[0].LastError == "" {
		t.Fatalf("after every retry failed: %+v", log)
	}
}

func TestSubscriptionsAreChecked(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tests := []struct {
		name string
		sub  model.Subscription
		want string
	}{
		{"no events", model.Subscription{Name: "a", WebhookURL: "https://x.example"}, "events: is required"},
		{"an unknown event", model.Subscription{Name: "a", WebhookURL: "https://x.example", Events: []model.EventKind{"deployment-exploded"}}, `"deployment-exploded" is not an event`},
		{"not a URL", model.Subscription{Name: "a", WebhookURL: "ftp://x", Events: []model.EventKind{model.EventPing + "x"}}, `webhookUrl: "ftp://x" is not an http(s) URL`},
		{"an unknown project", model.Subscription{Name: "a", WebhookURL: "https://x.example", Events: []model.EventKind{model.EventDeploymentFailed}, ProjectIDs: []string{"Projects-404"}}, `project "Projects-404" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Tx(ctx, func(q *store.Queries) error { return q.CreateSubscription(ctx, &tt.sub) })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

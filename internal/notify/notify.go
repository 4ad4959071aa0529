// Package notify delivers events to webhook subscriptions from the outbox
// the store keeps: signed with HMAC-SHA256, retried with growing delays,
// every attempt recorded in the delivery log.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/store"
)

// Headers of a delivery. The signature is HMAC-SHA256 under the
// subscription's secret of "<timestamp>.<body>", hex, as "sha256=…";
// receivers check it and refuse old timestamps to stop replays.
const (
	HeaderEvent     = "X-Pulpo-Event"
	HeaderDelivery  = "X-Pulpo-Delivery"
	HeaderTimestamp = "X-Pulpo-Timestamp"
	HeaderSignature = "X-Pulpo-Signature"
)

// Sign is the signature header value of body sent at timestamp (Unix seconds).
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", timestamp)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature header, for receivers written in Go.
func Verify(secret, signature string, timestamp int64, body []byte) bool {
	return hmac.Equal([]byte(signature), []byte(Sign(secret, timestamp, body)))
}

// DefaultRetries are the waits after each failed attempt; after the last
// the delivery is given up. About seven hours in all, as an endpoint down
// for a morning still gets its events.
var DefaultRetries = []time.Duration{time.Second, 10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 4 * time.Hour}

// Dispatcher sends due deliveries.
type Dispatcher struct {
	Store  *store.Store
	Client *http.Client
	Logger *slog.Logger
	// Retries are the waits between attempts (DefaultRetries when nil).
	Retries []time.Duration
	// Batch is how many deliveries one round takes (default 20).
	Batch int
	// Tick is how often Run looks for due deliveries (default 1 s).
	Tick time.Duration
	// Mailer sends email deliveries; nil fails them with the reason.
	Mailer *Mailer
}

func (d *Dispatcher) defaults() {
	if d.Client == nil {
		d.Client = &http.Client{Timeout: 15 * time.Second}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Retries == nil {
		d.Retries = DefaultRetries
	}
	if d.Batch <= 0 {
		d.Batch = 20
	}
	if d.Tick <= 0 {
		d.Tick = time.Second
	}
}

// Run sends deliveries as they fall due until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	d.defaults()
	t := time.NewTicker(d.Tick)
	defer t.Stop()
	for {
		for {
			n, err := d.Round(ctx)
			if err != nil && ctx.Err() == nil {
				d.Logger.Warn("deliver notifications", "error", err)
			}
			if n < d.Batch || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Round sends the deliveries due now and returns how many it tried.
func (d *Dispatcher) Round(ctx context.Context) (int, error) {
	d.defaults()
	var due []store.DueDelivery
	// The claim holds them for longer than one attempt can take.
	lease := d.Store.Now().Add(2*d.Client.Timeout + time.Minute)
	err := d.Store.Tx(ctx, func(q *store.Queries) (err error) {
		due, err = q.ClaimDueDeliveries(ctx, d.Batch, lease)
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, dd := range due {
		status, sendErr := d.send(ctx, dd)
		var retryAt *time.Time
		msg := ""
		if sendErr != nil {
			msg = sendErr.Error()
			if dd.Attempts < len(d.Retries) {
				t := d.Store.Now().Add(d.Retries[dd.Attempts])
				retryAt = &t
			}
			d.Logger.Info("webhook delivery failed", "delivery", dd.ID, "attempt", dd.Attempts+1, "error", sendErr, "retry", retryAt != nil)
		}
		err := d.Store.Tx(ctx, func(q *store.Queries) error {
			return q.RecordDelivery(ctx, dd.ID, sendErr == nil, status, msg, retryAt)
		})
		if err != nil {
			return len(due), err
		}
	}
	return len(due), nil
}

// send delivers one event by its channel.
func (d *Dispatcher) send(ctx context.Context, dd store.DueDelivery) (int, error) {
	if dd.Channel == store.ChannelEmail {
		if d.Mailer == nil {
			return 0, fmt.Errorf("no SMTP server is configured (pulpo server --smtp-host)")
		}
		return 0, d.Mailer.Send(ctx, dd.EmailTo, string(dd.Event), []byte(dd.Payload))
	}
	return d.post(ctx, dd)
}

// post posts one delivery to its webhook; a 2xx answer is success.
func (d *Dispatcher) post(ctx context.Context, dd store.DueDelivery) (int, error) {
	body := []byte(dd.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dd.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build the request: %w", err)
	}
	ts := d.Store.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Pulpo-Webhook")
	req.Header.Set(HeaderEvent, string(dd.Event))
	req.Header.Set(HeaderDelivery, dd.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	if dd.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(dd.Secret, ts, body))
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post to %s: %w", dd.URL, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%s answered %s: %s", dd.URL, resp.Status, bytes.TrimSpace(snippet))
	}
	return resp.StatusCode, nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

type subscriptionDoc struct {
	Events         []model.EventKind `json:"events"`
	ProjectIDs     []string          `json:"projectIds,omitempty"`
	EnvironmentIDs []string          `json:"environmentIds,omitempty"`
	WebhookURL     string            `json:"webhookUrl,omitempty"`
	EmailTo        []string          `json:"emailTo,omitempty"`
}

const subscriptionColumns = `id, name, disabled, doc, secret`

// scanSubscription reads a subscription; its secret stays sealed.
func scanSubscription(s scanner) (model.Subscription, string, error) {
	var sub model.Subscription
	var doc, sealed string
	if err := s.Scan(&sub.ID, &sub.Name, &sub.Disabled, &doc, &sealed); err != nil {
		return sub, "", err
	}
	var d subscriptionDoc
	if err := unmarshal(doc, &d); err != nil {
		return sub, "", fmt.Errorf("read subscription %s: %w", sub.ID, err)
	}
	sub.Events, sub.ProjectIDs, sub.EnvironmentIDs, sub.WebhookURL, sub.EmailTo = d.Events, d.ProjectIDs, d.EnvironmentIDs, d.WebhookURL, d.EmailTo
	sub.HasSecret = sealed != ""
	return sub, sealed, nil
}

func (q *Queries) subscriptionDoc(ctx context.Context, s *model.Subscription) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	var problems []string
	for _, id := range s.ProjectIDs {
		if _, err := q.GetProject(ctx, id); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("projectIds: project %q does not exist", id))
		} else if err != nil {
			return "", err
		}
	}
	for _, id := range s.EnvironmentIDs {
		if _, err := q.GetEnvironment(ctx, id); errors.Is(err, ErrNotFound) {
			problems = append(problems, fmt.Sprintf("environmentIds: environment %q does not exist", id))
		} else if err != nil {
			return "", err
		}
	}
	if len(problems) > 0 {
		return "", &model.ValidationError{Subject: "subscription", Problems: problems}
	}
	return marshal(subscriptionDoc{Events: s.Events, ProjectIDs: s.ProjectIDs, EnvironmentIDs: s.EnvironmentIDs, WebhookURL: s.WebhookURL, EmailTo: s.EmailTo})
}

// CreateSubscription stores a subscription, its secret sealed.
func (q *Queries) CreateSubscription(ctx context.Context, s *model.Subscription) error {
	doc, err := q.subscriptionDoc(ctx, s)
	if err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "subscriptions", "subscription", s.Name, ""); err != nil {
		return err
	}
	sealed := ""
	if s.Secret != "" {
		if sealed, err = q.Seal(s.Secret); err != nil {
			return err
		}
	}
	if s.ID, _, err = q.nextID(ctx, "Subscriptions"); err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO subscriptions (id, name, name_key, disabled, doc, secret) VALUES (?, ?, ?, ?, ?, ?)`,
		s.ID, s.Name, model.NameKey(s.Name), s.Disabled, doc, sealed)
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	s.Secret, s.HasSecret = "", sealed != ""
	return nil
}

// GetSubscription reads a subscription (by id or name) without its secret.
func (q *Queries) GetSubscription(ctx context.Context, id string) (model.Subscription, error) {
	s, _, err := scanSubscription(q.queryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ? OR name_key = ?`, id, model.NameKey(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("subscription", id)
	}
	return s, err
}

// ListSubscriptions returns subscriptions by name, without secrets.
func (q *Queries) ListSubscriptions(ctx context.Context, opts ListOptions) ([]model.Subscription, int, error) {
	where, args := opts.nameFilter(nil, nil, "name_key")
	total, err := q.count(ctx, `SELECT COUNT(*) FROM subscriptions`+whereClause(where), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list subscriptions: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions`+whereClause(where)+` ORDER BY name_key`+opts.page(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list subscriptions: %w", err)
	}
	out, err := collect(rows, func(s scanner) (model.Subscription, error) {
		sub, _, err := scanSubscription(s)
		return sub, err
	})
	return out, total, err
}

// UpdateSubscription replaces a subscription; an empty secret keeps the
// one it has.
func (q *Queries) UpdateSubscription(ctx context.Context, s *model.Subscription) error {
	doc, err := q.subscriptionDoc(ctx, s)
	if err != nil {
		return err
	}
	if err := q.checkNameFree(ctx, "subscriptions", "subscription", s.Name, s.ID); err != nil {
		return err
	}
	res, err := q.exec(ctx, `UPDATE subscriptions SET name = ?, name_key = ?, disabled = ?, doc = ? WHERE id = ?`,
		s.Name, model.NameKey(s.Name), s.Disabled, doc, s.ID)
	if err != nil {
		return fmt.Errorf("update subscription: %w", err)
	}
	if err := mustAffect(res, "subscription", s.ID); err != nil {
		return err
	}
	if s.Secret != "" {
		sealed, err := q.Seal(s.Secret)
		if err != nil {
			return err
		}
		if _, err := q.exec(ctx, `UPDATE subscriptions SET secret = ? WHERE id = ?`, sealed, s.ID); err != nil {
			return fmt.Errorf("update subscription: %w", err)
		}
	}
	got, err := q.GetSubscription(ctx, s.ID)
	*s = got
	return err
}

// DeleteSubscription removes a subscription and its deliveries.
func (q *Queries) DeleteSubscription(ctx context.Context, id string) error {
	if _, err := q.exec(ctx, `DELETE FROM deliveries WHERE subscription_id = ?`, id); err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	res, err := q.exec(ctx, `DELETE FROM subscriptions WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	return mustAffect(res, "subscription", id)
}

// Event is something that happened, for subscribers.
type Event struct {
	Kind          model.EventKind
	ProjectID     string
	EnvironmentID string
	// Payload is the event's JSON body, without "event" and "occurredAt",
	// which Enqueue adds.
	Payload map[string]any
}

// EnqueueEvent records a delivery for every subscription that wants the
// event, in the caller's transaction: the event goes out if and only if
// what it tells of is committed.
func (q *Queries) EnqueueEvent(ctx context.Context, e Event) error {
	subs, _, err := q.ListSubscriptions(ctx, ListOptions{})
	if err != nil {
		return err
	}
	now := q.now()
	for _, s := range subs {
		if !s.Wants(e.Kind, e.ProjectID, e.EnvironmentID) {
			continue
		}
		if err := q.enqueueAll(ctx, s, e, now); err != nil {
			return err
		}
	}
	return nil
}

// enqueueAll queues the event for each of the subscription's channels.
func (q *Queries) enqueueAll(ctx context.Context, s model.Subscription, e Event, now time.Time) error {
	if s.WebhookURL != "" {
		if err := q.enqueue(ctx, s.ID, ChannelWebhook, e, now); err != nil {
			return err
		}
	}
	if len(s.EmailTo) > 0 {
		return q.enqueue(ctx, s.ID, ChannelEmail, e, now)
	}
	return nil
}

// Delivery channels.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// EnqueuePing records a ping for one subscription, to test its endpoint.
func (q *Queries) EnqueuePing(ctx context.Context, subscriptionID string) (model.Delivery, error) {
	s, err := q.GetSubscription(ctx, subscriptionID)
	if err != nil {
		return model.Delivery{}, err
	}
	e := Event{Kind: model.EventPing, Payload: map[string]any{"message": "Pulpo is testing this subscription"}}
	if err := q.enqueueAll(ctx, s, e, q.now()); err != nil {
		return model.Delivery{}, err
	}
	list, _, err := q.ListDeliveries(ctx, subscriptionID, ListOptions{Take: 1})
	if err != nil || len(list) == 0 {
		return model.Delivery{}, err
	}
	return list[0], nil
}

func (q *Queries) enqueue(ctx context.Context, subscriptionID, channel string, e Event, now time.Time) error {
	id, seq, err := q.nextID(ctx, "Deliveries")
	if err != nil {
		return err
	}
	body := map[string]any{"event": e.Kind, "deliveryId": id, "occurredAt": now.UTC().Format(time.RFC3339Nano)}
	for k, v := range e.Payload {
		body[k] = v
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO deliveries (id, seq, subscription_id, event, payload, state, created_at, next_attempt_at, channel)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, seq, subscriptionID, e.Kind, string(payload), model.DeliveryPending, toMicros(now), toMicros(now), channel)
	if err != nil {
		return fmt.Errorf("queue delivery: %w", err)
	}
	return nil
}

const deliveryColumns = `id, subscription_id, event, payload, state, attempts, created_at, next_attempt_at, delivered_at, last_status, last_error, channel`

func scanDelivery(s scanner) (model.Delivery, error) {
	var d model.Delivery
	var created, next, delivered int64
	err := s.Scan(&d.ID, &d.SubscriptionID, &d.Event, &d.Payload, &d.State, &d.Attempts, &created, &next, &delivered, &d.LastStatus, &d.LastError, &d.Channel)
	d.CreatedAt = fromMicros(created)
	if d.State == model.DeliveryPending {
		d.NextAttemptAt = fromOptionalMicros(next)
	}
	d.DeliveredAt = fromOptionalMicros(delivered)
	return d, err
}

// ListDeliveries is a subscription's delivery log, newest first.
func (q *Queries) ListDeliveries(ctx context.Context, subscriptionID string, opts ListOptions) ([]model.Delivery, int, error) {
	total, err := q.count(ctx, `SELECT COUNT(*) FROM deliveries WHERE subscription_id = ?`, subscriptionID)
	if err != nil {
		return nil, 0, fmt.Errorf("list deliveries: %w", err)
	}
	rows, err := q.query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE subscription_id = ? ORDER BY seq DESC`+opts.page(), subscriptionID)
	if err != nil {
		return nil, 0, fmt.Errorf("list deliveries: %w", err)
	}
	out, err := collect(rows, scanDelivery)
	return out, total, err
}

// DueDelivery is a delivery to attempt, with where and how to sign it.
type DueDelivery struct {
	model.Delivery
	URL     string
	Secret  string
	EmailTo []string
}

// ClaimDueDeliveries takes up to n pending deliveries whose time has come
// and pushes their next attempt to leaseUntil, so no other node sends them
// meanwhile; RecordDelivery then says how the attempt went.
func (q *Queries) ClaimDueDeliveries(ctx context.Context, n int, leaseUntil time.Time) ([]DueDelivery, error) {
	rows, err := q.query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE state = ? AND next_attempt_at <= ?
		ORDER BY next_attempt_at LIMIT ?`+q.d.forUpdate(true), model.DeliveryPending, toMicros(q.now()), n)
	if err != nil {
		return nil, fmt.Errorf("find due deliveries: %w", err)
	}
	due, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, err
	}
	out := make([]DueDelivery, 0, len(due))
	for _, d := range due {
		if _, err := q.exec(ctx, `UPDATE deliveries SET next_attempt_at = ? WHERE id = ?`, toMicros(leaseUntil), d.ID); err != nil {
			return nil, err
		}
		s, sealed, err := scanSubscription(q.queryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ?`, d.SubscriptionID))
		if err != nil {
			return nil, fmt.Errorf("subscription of delivery %s: %w", d.ID, err)
		}
		secret := ""
		if sealed != "" {
			if secret, err = q.OpenSealed(sealed); err != nil {
				return nil, fmt.Errorf("open the secret of subscription %s: %w", s.Name, err)
			}
		}
		out = append(out, DueDelivery{Delivery: d, URL: s.WebhookURL, Secret: secret, EmailTo: s.EmailTo})
	}
	return out, nil
}

// RecordDelivery notes an attempt: delivered, to be retried at retryAt, or
// (retryAt nil) given up.
func (q *Queries) RecordDelivery(ctx context.Context, id string, delivered bool, status int, errMsg string, retryAt *time.Time) error {
	now := toMicros(q.now())
	var err error
	switch {
	case delivered:
		_, err = q.exec(ctx, `UPDATE deliveries SET state = ?, attempts = attempts + 1, delivered_at = ?, last_status = ?, last_error = '', next_attempt_at = 0 WHERE id = ?`,
			model.DeliverySucceeded, now, status, id)
	case retryAt != nil:
		_, err = q.exec(ctx, `UPDATE deliveries SET attempts = attempts + 1, last_status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?`,
			status, errMsg, toMicros(*retryAt), id)
	default:
		_, err = q.exec(ctx, `UPDATE deliveries SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?, next_attempt_at = 0 WHERE id = ?`,
			model.DeliveryFailed, status, errMsg, id)
	}
	if err != nil {
		return fmt.Errorf("record delivery %s: %w", id, err)
	}
	return nil
}

-- Webhook subscriptions and the outbox of their deliveries.

-- +goose Up
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- events, project and environment ids, URL, as JSON
    doc TEXT NOT NULL,
    -- the signing secret, sealed with the master key
    secret TEXT NOT NULL DEFAULT ''
);
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT NOT NULL DEFAULT 0,
    last_status INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id, seq);

-- +goose Down
DROP TABLE deliveries;
DROP TABLE subscriptions;

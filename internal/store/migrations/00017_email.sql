-- Deliveries by email besides webhooks.

-- +goose Up
ALTER TABLE deliveries ADD COLUMN channel TEXT NOT NULL DEFAULT 'webhook';

-- +goose Down
ALTER TABLE deliveries DROP COLUMN channel;

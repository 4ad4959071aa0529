-- How long a lifecycle's releases are kept.

-- +goose Up
ALTER TABLE lifecycles ADD COLUMN release_retention TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE lifecycles DROP COLUMN release_retention;

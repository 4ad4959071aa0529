-- The package versions a release deploys, chosen when it is created.

-- +goose Up
ALTER TABLE releases ADD COLUMN packages TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE releases DROP COLUMN packages;

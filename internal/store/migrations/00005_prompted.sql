-- Values given for prompted variables when a deployment was asked for, as
-- JSON (values of sensitive variables sealed).

-- +goose Up
ALTER TABLE deployments ADD COLUMN prompted TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE deployments DROP COLUMN prompted;

-- Triggers: releases created on package pushes, scheduled deployments.

-- +goose Up
CREATE TABLE triggers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    package_key TEXT NOT NULL DEFAULT '',
    -- the rest of the trigger, as JSON
    doc TEXT NOT NULL,
    next_run_at BIGINT NOT NULL DEFAULT 0,
    last_run_at BIGINT NOT NULL DEFAULT 0,
    last_result TEXT NOT NULL DEFAULT '',
    UNIQUE (project_id, name_key)
);
CREATE INDEX triggers_due ON triggers (kind, next_run_at);
CREATE INDEX triggers_by_package ON triggers (package_key);

-- +goose Down
DROP TABLE triggers;

-- Stagings: per-feature environments made by a project's control scripts.

-- +goose Up
CREATE TABLE staging_templates (
    project_id TEXT PRIMARY KEY REFERENCES projects(id),
    -- scripts, defaults and timings, as JSON (sensitive defaults sealed)
    doc TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE stagings (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    -- differences from the template's defaults (sensitive values sealed)
    overrides TEXT NOT NULL,
    links TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    state_changed_at BIGINT NOT NULL,
    archived_at BIGINT NOT NULL DEFAULT 0,
    keep_until BIGINT NOT NULL DEFAULT 0,
    -- the action under way; another waits for it
    task_id TEXT NOT NULL DEFAULT '',
    last_check_at BIGINT NOT NULL DEFAULT 0,
    last_check_code INTEGER,
    version INTEGER NOT NULL,
    UNIQUE (project_id, name_key)
);
CREATE TABLE staging_actions (
    task_id TEXT PRIMARY KEY,
    staging_id TEXT NOT NULL,
    action TEXT NOT NULL,
    by_user TEXT NOT NULL,
    at BIGINT NOT NULL,
    summary TEXT NOT NULL DEFAULT ''
);
CREATE INDEX staging_actions_by_staging ON staging_actions (staging_id, at);

-- +goose Down
DROP TABLE staging_actions;
DROP TABLE stagings;
DROP TABLE staging_templates;

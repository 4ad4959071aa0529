-- Channels: a project's paths for releases (lifecycle, package rules).

-- +goose Up
CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    lifecycle_id TEXT NOT NULL DEFAULT '',
    -- description and rules, as JSON
    doc TEXT NOT NULL,
    UNIQUE (project_id, name_key)
);
ALTER TABLE releases ADD COLUMN channel_id TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN version_template TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE projects DROP COLUMN version_template;
ALTER TABLE releases DROP COLUMN channel_id;
DROP TABLE channels;

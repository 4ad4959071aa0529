-- Runbooks: operations processes of a project, run from published
-- snapshots (kept as releases marked with their runbook).

-- +goose Up
CREATE TABLE runbooks (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    -- description, steps and environments, as JSON
    doc TEXT NOT NULL,
    published_release_id TEXT NOT NULL DEFAULT '',
    snapshots INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project_id, name_key)
);
ALTER TABLE releases ADD COLUMN runbook_id TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN runbook_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE deployments DROP COLUMN runbook_id;
ALTER TABLE releases DROP COLUMN runbook_id;
DROP TABLE runbooks;

-- Pulpo's first schema. Types are limited to TEXT, BIGINT, INTEGER and
-- BOOLEAN so one file serves SQLite and PostgreSQL. Times are BIGINT
-- microseconds since the Unix epoch (UTC): exact and ordered on both.
-- Structured parts that are always read whole (phases, process, variables,
-- release snapshots) are JSON in TEXT columns.

-- +goose Up
CREATE TABLE id_sequences (
    kind TEXT PRIMARY KEY,
    next_value BIGINT NOT NULL
);

CREATE TABLE environments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    sort_order INTEGER NOT NULL
);

CREATE TABLE lifecycles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    phases TEXT NOT NULL
);

CREATE TABLE project_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    project_group_id TEXT NOT NULL REFERENCES project_groups(id),
    lifecycle_id TEXT NOT NULL REFERENCES lifecycles(id),
    process TEXT NOT NULL,
    process_version INTEGER NOT NULL,
    variables TEXT NOT NULL,
    variables_version INTEGER NOT NULL
);

CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    version TEXT NOT NULL,
    version_key TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    process TEXT NOT NULL,
    variables TEXT NOT NULL,
    UNIQUE (project_id, version_key)
);
CREATE INDEX releases_by_project ON releases (project_id, created_at);

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    deployment_id TEXT NOT NULL DEFAULT '',
    project_id TEXT NOT NULL DEFAULT '',
    environment_id TEXT NOT NULL DEFAULT '',
    queued_at BIGINT NOT NULL,
    started_at BIGINT,
    completed_at BIGINT,
    error TEXT NOT NULL DEFAULT '',
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    -- The lease: the node running the task, until when, and an epoch that
    -- every claim increases so a node that lost the task cannot write to it.
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_expires_at BIGINT NOT NULL DEFAULT 0,
    lease_epoch BIGINT NOT NULL DEFAULT 0,
    next_log_seq BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX tasks_by_state ON tasks (state, seq);
CREATE INDEX tasks_by_project ON tasks (project_id, seq);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    release_id TEXT NOT NULL REFERENCES releases(id),
    project_id TEXT NOT NULL REFERENCES projects(id),
    environment_id TEXT NOT NULL REFERENCES environments(id),
    task_id TEXT NOT NULL REFERENCES tasks(id),
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deployments_by_release ON deployments (release_id);
CREATE INDEX deployments_by_project_environment ON deployments (project_id, environment_id, created_at);

CREATE TABLE task_activities (
    task_id TEXT NOT NULL REFERENCES tasks(id),
    id INTEGER NOT NULL,
    parent_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    step_id TEXT NOT NULL DEFAULT '',
    started_at BIGINT,
    ended_at BIGINT,
    script_ticket TEXT NOT NULL DEFAULT '',
    next_script_log_seq BIGINT NOT NULL DEFAULT 0,
    exit_code INTEGER,
    PRIMARY KEY (task_id, id)
);

CREATE TABLE task_log (
    task_id TEXT NOT NULL REFERENCES tasks(id),
    seq BIGINT NOT NULL,
    activity_id INTEGER NOT NULL,
    at BIGINT NOT NULL,
    level TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    purpose TEXT NOT NULL DEFAULT '',
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT
);

-- Every server starts with a default lifecycle (no phases: each environment
-- in order) and a default project group.
INSERT INTO id_sequences (kind, next_value) VALUES ('Lifecycles', 1), ('ProjectGroups', 1);
INSERT INTO lifecycles (id, name, name_key, description, phases)
    VALUES ('Lifecycles-1', 'Default Lifecycle', 'default lifecycle', 'Every environment in order, one phase each.', '[]');
INSERT INTO project_groups (id, name, name_key, description)
    VALUES ('ProjectGroups-1', 'Default Project Group', 'default project group', '');

-- +goose Down
DROP TABLE api_keys;
DROP TABLE users;
DROP TABLE task_log;
DROP TABLE task_activities;
DROP TABLE deployments;
DROP TABLE tasks;
DROP TABLE releases;
DROP TABLE projects;
DROP TABLE project_groups;
DROP TABLE lifecycles;
DROP TABLE environments;
DROP TABLE id_sequences;

-- Users, service accounts, sessions, teams, custom roles and the audit log.

-- +goose Up
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN is_service BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
CREATE INDEX api_keys_by_user ON api_keys (user_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL
);

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    grants TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);

-- Only ever inserted into: nothing in Pulpo updates or deletes a row.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    occurred_at BIGINT NOT NULL,
    actor_id TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    object_type TEXT NOT NULL DEFAULT '',
    object_id TEXT NOT NULL DEFAULT '',
    object_name TEXT NOT NULL DEFAULT '',
    project_id TEXT NOT NULL DEFAULT '',
    environment_id TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL,
    before_doc TEXT NOT NULL DEFAULT '',
    after_doc TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_time ON audit_events (occurred_at);
CREATE INDEX audit_by_actor ON audit_events (actor_id, occurred_at);
CREATE INDEX audit_by_project ON audit_events (project_id, occurred_at);
CREATE INDEX audit_by_environment ON audit_events (environment_id, occurred_at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE roles;
DROP TABLE sessions;
DROP INDEX api_keys_by_user;
ALTER TABLE users DROP COLUMN external_id;
ALTER TABLE users DROP COLUMN disabled;
ALTER TABLE users DROP COLUMN is_service;
ALTER TABLE users DROP COLUMN email;

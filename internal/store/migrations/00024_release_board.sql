-- The release board: build information pushed by CI, the work items a
-- release delivers, and links that show the board without logging in.

-- +goose Up
CREATE TABLE build_information (
    id TEXT PRIMARY KEY,
    package_id TEXT NOT NULL,
    -- lower-cased package id and version: one record per package version
    package_key TEXT NOT NULL,
    version TEXT NOT NULL,
    version_key TEXT NOT NULL,
    -- build url, number, branch, vcs, commits and work items, as JSON
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX build_information_version ON build_information (package_key, version_key);

CREATE TABLE release_work_items (
    release_id TEXT PRIMARY KEY REFERENCES releases(id) ON DELETE CASCADE,
    -- the work items, as JSON, fixed when the release was created
    items TEXT NOT NULL
);

CREATE TABLE board_shares (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- SHA-256 of the token, hex: the token itself is shown once
    token_hash TEXT NOT NULL UNIQUE,
    project_group_id TEXT NOT NULL DEFAULT '',
    project_id TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT NOT NULL DEFAULT 0,
    revoked_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE board_shares;
DROP TABLE release_work_items;
DROP TABLE build_information;

-- Server nodes and their heartbeats; task priority for the queue.

-- +goose Up
ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tasks_by_priority ON tasks (state, priority, seq);

CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    version TEXT NOT NULL DEFAULT '',
    started_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    slots INTEGER NOT NULL,
    running INTEGER NOT NULL DEFAULT 0,
    draining BOOLEAN NOT NULL DEFAULT FALSE,
    api_url TEXT NOT NULL DEFAULT '',
    polling_address TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE nodes;
DROP INDEX tasks_by_priority;
ALTER TABLE tasks DROP COLUMN priority;

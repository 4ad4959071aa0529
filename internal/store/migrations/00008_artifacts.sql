-- Files scripts hand over as artifacts, kept with their task.

-- +goose Up
CREATE TABLE task_artifacts (
    task_id TEXT NOT NULL REFERENCES tasks(id),
    id INTEGER NOT NULL,
    activity_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, id)
);

-- +goose Down
DROP TABLE task_artifacts;

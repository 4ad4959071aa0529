-- Questions running deployments ask people (manual interventions, guided
-- failure); scheduled tasks; per-deployment options.

-- +goose Up
CREATE TABLE interruptions (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks(id),
    project_id TEXT NOT NULL DEFAULT '',
    environment_id TEXT NOT NULL DEFAULT '',
    activity_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    -- The question as JSON: title, instructions, teams, machine, error, answers.
    question TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    taken_by TEXT NOT NULL DEFAULT '',
    taken_at BIGINT,
    answer TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    answered_by TEXT NOT NULL DEFAULT '',
    answered_at BIGINT
);
CREATE INDEX interruptions_by_task ON interruptions (task_id, seq);
CREATE INDEX interruptions_pending ON interruptions (answer, seq);
ALTER TABLE tasks ADD COLUMN not_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN not_after BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN options TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN use_guided_failure BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE environments DROP COLUMN use_guided_failure;
ALTER TABLE deployments DROP COLUMN options;
ALTER TABLE tasks DROP COLUMN not_after;
ALTER TABLE tasks DROP COLUMN not_before;
DROP TABLE interruptions;

-- Output variables a script set, per target node of a task's log tree, as
-- JSON (sensitive values sealed). Saved with the log lines that set them.

-- +goose Up
ALTER TABLE task_activities ADD COLUMN outputs TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE task_activities DROP COLUMN outputs;

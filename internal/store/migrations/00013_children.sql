-- Releases of other projects a parent release deploys, and which task
-- started a task (a parent deployment its children).

-- +goose Up
ALTER TABLE releases ADD COLUMN children TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN parent_task_id TEXT NOT NULL DEFAULT '';
CREATE INDEX tasks_by_parent ON tasks (parent_task_id);

-- +goose Down
DROP INDEX tasks_by_parent;
ALTER TABLE tasks DROP COLUMN parent_task_id;
ALTER TABLE releases DROP COLUMN children;

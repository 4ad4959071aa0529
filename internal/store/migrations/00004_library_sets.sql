-- Library variable sets that projects include; releases snapshot them.

-- +goose Up
CREATE TABLE library_variable_sets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    variables TEXT NOT NULL,
    variables_version INTEGER NOT NULL
);

ALTER TABLE projects ADD COLUMN library_sets TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE projects DROP COLUMN library_sets;
DROP TABLE library_variable_sets;

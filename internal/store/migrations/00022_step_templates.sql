-- Step templates (Octopus's action templates) and script modules: the
-- library's shared steps and shared script code.

-- +goose Up
CREATE TABLE action_templates (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    -- the newest version's content, as JSON
    doc TEXT NOT NULL
);
-- Every version's content, kept so steps that use an older one keep it.
CREATE TABLE action_template_versions (
    template_id TEXT NOT NULL REFERENCES action_templates(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (template_id, version)
);
CREATE TABLE script_modules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    syntax TEXT NOT NULL,
    body TEXT NOT NULL
);

-- +goose Down
DROP TABLE script_modules;
DROP TABLE action_template_versions;
DROP TABLE action_templates;

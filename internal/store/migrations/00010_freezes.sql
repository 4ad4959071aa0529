-- Deployment freezes: windows in which deployments are refused.

-- +goose Up
CREATE TABLE deployment_freezes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    -- description, environment and project ids, as JSON
    doc TEXT NOT NULL
);

-- +goose Down
DROP TABLE deployment_freezes;

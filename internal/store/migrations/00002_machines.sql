-- Machines: deployment targets and workers, how they are reached, their
-- policies and pools; the server's own settings (its identity).

-- +goose Up
CREATE TABLE machine_policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    health_check_interval_us BIGINT NOT NULL,
    health_check_script TEXT NOT NULL DEFAULT '',
    when_unavailable TEXT NOT NULL,
    delete_unavailable_after_us BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE worker_pools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    is_default BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE machines (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    usage TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    thumbprint TEXT NOT NULL DEFAULT '',
    ssh TEXT NOT NULL DEFAULT '',
    -- SSH credentials, sealed with the server's master key.
    credentials TEXT NOT NULL DEFAULT '',
    environments TEXT NOT NULL,
    roles TEXT NOT NULL,
    worker_pools TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    policy_id TEXT NOT NULL REFERENCES machine_policies(id),
    health_status TEXT NOT NULL DEFAULT 'Unknown',
    health_reason TEXT NOT NULL DEFAULT '',
    health_checked_at BIGINT,
    unavailable_since BIGINT
);
CREATE INDEX machines_by_thumbprint ON machines (thumbprint);

CREATE TABLE server_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

ALTER TABLE task_activities ADD COLUMN machine_id TEXT NOT NULL DEFAULT '';

INSERT INTO id_sequences (kind, next_value) VALUES ('MachinePolicies', 1), ('WorkerPools', 1);
INSERT INTO machine_policies (id, name, name_key, description, health_check_interval_us, when_unavailable)
    VALUES ('MachinePolicies-1', 'Default Machine Policy', 'default machine policy',
            'Checks every machine each hour; deployments fail on machines they cannot reach.', 3600000000, 'fail');
INSERT INTO worker_pools (id, name, name_key, description, is_default)
    VALUES ('WorkerPools-1', 'Default Worker Pool', 'default worker pool',
            'Steps not aimed at targets run here; on the server''s built-in worker while the pool has no workers.', TRUE);

-- +goose Down
ALTER TABLE task_activities DROP COLUMN machine_id;
DROP TABLE server_settings;
DROP TABLE machines;
DROP TABLE worker_pools;
DROP TABLE machine_policies;

-- External package feeds: Docker/OCI registries, NuGet v3, Maven, Helm,
-- GitHub releases, HTTP folders. The built-in feed is not a row.

-- +goose Up
CREATE TABLE feeds (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    url TEXT NOT NULL,
    username TEXT NOT NULL DEFAULT '',
    -- the password or token, sealed with the master key
    password TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE feeds;

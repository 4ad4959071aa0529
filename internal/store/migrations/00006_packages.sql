-- The built-in package feed: one row per package version; the file is in
-- the packages folder, named <packageId>.<version><extension>.

-- +goose Up
CREATE TABLE packages (
    id TEXT PRIMARY KEY,
    package_id TEXT NOT NULL,
    package_key TEXT NOT NULL,
    version TEXT NOT NULL,
    version_key TEXT NOT NULL,
    extension TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL DEFAULT '',
    UNIQUE (package_key, version_key)
);
CREATE INDEX packages_by_id ON packages (package_key, published_at);

-- +goose Down
DROP TABLE packages;

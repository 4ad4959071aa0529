-- The certificate library.

-- +goose Up
CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    -- notes, environment ids and what was read from the certificate
    -- (subject, issuer, dates, names...), as JSON: public
    doc TEXT NOT NULL,
    thumbprint TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    -- certificate, private key, chain, the file as uploaded and its
    -- password, as JSON sealed with the master key
    material TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    replaced_at BIGINT NOT NULL DEFAULT 0,
    -- the not_after a certificate-expiring event was sent for
    expiry_notified BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE certificates;

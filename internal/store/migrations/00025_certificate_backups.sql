-- Replacing a certificate keeps the previous one, as Octopus does: a copy
-- under a new id, archived, that names the certificate that replaced it.

-- +goose Up
-- the id of the certificate that replaced this one ('' for a current one)
ALTER TABLE certificates ADD COLUMN replaced_by TEXT NOT NULL DEFAULT '';
CREATE INDEX certificates_replaced_by ON certificates (replaced_by);

-- +goose Down
DROP INDEX certificates_replaced_by;
ALTER TABLE certificates DROP COLUMN replaced_by;

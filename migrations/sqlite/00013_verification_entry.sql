-- How the wristband and the bag's code reached the bedside page (SPEC §7: scan pages tell a
-- scan from typing): scanned, typed or camera; empty when the client did not say (API clients
-- and verifications before this version).

-- +goose Up
ALTER TABLE verifications ADD COLUMN wristband_entry TEXT NOT NULL DEFAULT ''
    CHECK (wristband_entry IN ('', 'scanned', 'typed', 'camera'));
ALTER TABLE verifications ADD COLUMN code_entry TEXT NOT NULL DEFAULT ''
    CHECK (code_entry IN ('', 'scanned', 'typed', 'camera'));

-- +goose Down
ALTER TABLE verifications DROP COLUMN code_entry;
ALTER TABLE verifications DROP COLUMN wristband_entry;

-- How a custody scan's code reached the dispatch or receipt page (SPEC §7: scan pages tell a
-- scan from typing): scanned, typed or camera; empty when the client did not say.

-- +goose Up
ALTER TABLE custody_scans ADD COLUMN entry TEXT NOT NULL DEFAULT ''
    CHECK (entry IN ('', 'scanned', 'typed', 'camera'));

-- +goose Down
ALTER TABLE custody_scans DROP COLUMN entry;

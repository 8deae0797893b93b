-- The second pharmacist's independent check of a dose bag's preparation (SPEC §6): who checked
-- it and when, never the preparer; a bag is labelled and dispatched only once it is checked.
-- Each label print counts its copies, so that the bag's trace shows how many copies of each
-- serial were printed (SPEC §8).

-- +goose Up
ALTER TABLE dose_bags ADD COLUMN checked_by BIGINT REFERENCES users (id);
ALTER TABLE dose_bags ADD COLUMN checked_at TIMESTAMPTZ;
ALTER TABLE dose_bags ADD CONSTRAINT dose_bags_checked_together CHECK ((checked_by IS NULL) = (checked_at IS NULL));
ALTER TABLE dose_bags ADD CONSTRAINT dose_bags_checked_by_another CHECK (checked_by IS NULL OR checked_by <> prepared_by);

ALTER TABLE label_prints ADD COLUMN copies INTEGER NOT NULL DEFAULT 0 CHECK (copies >= 0);

-- +goose Down
ALTER TABLE label_prints DROP COLUMN copies;
ALTER TABLE dose_bags DROP CONSTRAINT dose_bags_checked_by_another;
ALTER TABLE dose_bags DROP CONSTRAINT dose_bags_checked_together;
ALTER TABLE dose_bags DROP COLUMN checked_at;
ALTER TABLE dose_bags DROP COLUMN checked_by;

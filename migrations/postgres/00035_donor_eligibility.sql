-- Donor eligibility (21 CFR 1271.45–.50): the maternal donor's test results and screening, and
-- the responsible person's signed determinations. donations.eligibility holds the standing
-- determination; this history says who determined it, when and why.

-- +goose Up
CREATE TABLE donor_tests (
    id          BIGSERIAL PRIMARY KEY,
    donation_id BIGINT NOT NULL REFERENCES donations (id),
    test        TEXT NOT NULL CHECK (test IN ('hiv_1_2', 'hbv', 'hcv', 'syphilis', 'htlv_1_2', 'cmv')),
    result      TEXT NOT NULL CHECK (result IN ('reactive', 'non_reactive')),
    tested_at   TIMESTAMPTZ NOT NULL,
    entered_by  BIGINT NOT NULL REFERENCES users (id),
    entered_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX donor_tests_donation ON donor_tests (donation_id, id);

CREATE TABLE donor_screenings (
    id                     BIGSERIAL PRIMARY KEY,
    donation_id            BIGINT NOT NULL REFERENCES donations (id),
    questionnaire_complete BOOLEAN NOT NULL,
    outcome                TEXT NOT NULL CHECK (outcome IN ('acceptable', 'not_acceptable')),
    notes                  TEXT NOT NULL DEFAULT '',
    screened_at            TIMESTAMPTZ NOT NULL,
    entered_by             BIGINT NOT NULL REFERENCES users (id),
    entered_at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX donor_screenings_donation ON donor_screenings (donation_id, id);

-- signed is false only for the determinations carried over from donations recorded with
-- their eligibility already set, which nobody signed electronically.
CREATE TABLE eligibility_determinations (
    id            BIGSERIAL PRIMARY KEY,
    donation_id   BIGINT NOT NULL REFERENCES donations (id),
    determination TEXT NOT NULL CHECK (determination IN ('eligible', 'ineligible')),
    reason        TEXT NOT NULL DEFAULT '',
    user_id       BIGINT NOT NULL REFERENCES users (id),
    printed_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    meaning       TEXT NOT NULL,
    signed        BOOLEAN NOT NULL,
    signed_at     TIMESTAMPTZ NOT NULL,
    CHECK (determination = 'eligible' OR reason <> '')
);
CREATE INDEX eligibility_determinations_donation ON eligibility_determinations (donation_id, id);

INSERT INTO eligibility_determinations (donation_id, determination, reason, user_id, printed_name, role, meaning, signed, signed_at)
SELECT d.id, d.eligibility, 'recorded with the donation when it was entered', d.created_by, u.full_name, 'qc',
       'Donor eligibility recorded with the donation, without an electronic signature', FALSE, d.created_at
FROM donations d JOIN users u ON u.id = d.created_by
WHERE d.eligibility IN ('eligible', 'ineligible')
ORDER BY d.id;

-- +goose Down
DROP TABLE eligibility_determinations;
DROP TABLE donor_screenings;
DROP TABLE donor_tests;

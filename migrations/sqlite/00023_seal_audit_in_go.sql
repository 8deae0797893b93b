-- PostgreSQL drops a function and triggers SQLite never had (see the PostgreSQL migration of the
-- same number); this migration keeps the two dialects' versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;

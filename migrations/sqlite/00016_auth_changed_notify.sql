-- PostgreSQL adds triggers that notify the service processes of session and account changes
-- (see the PostgreSQL migration of the same number); SQLite has no notices, and the service
-- keeps no sessions in memory on it. This migration keeps the two dialects' versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;

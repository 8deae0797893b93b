-- PostgreSQL reads the audit chain's head under its advisory lock with a function (see the
-- PostgreSQL migration of the same number). SQLite serializes writers with its own database
-- lock, so it needs nothing; this migration keeps the two dialects' versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;

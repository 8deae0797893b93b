-- PostgreSQL appends audit entries with a function (see the PostgreSQL migration of the same
-- number). SQLite serializes writers with its own database lock and the service seals entries
-- itself; this migration keeps the two dialects' versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;

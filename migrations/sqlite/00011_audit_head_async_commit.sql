-- PostgreSQL's audit_chain_head now also makes its transaction commit asynchronously (see the
-- PostgreSQL migration of the same number). SQLite commits with synchronous=FULL and needs
-- nothing; this migration keeps the two dialects' versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;

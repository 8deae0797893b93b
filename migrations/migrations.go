// Package migrations holds the versioned SQL schema, one set per dialect, and applies it with
// goose under a lock so that two processes starting at once do not race.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Dialects the schema exists for.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// lockID is the PostgreSQL advisory lock key held while migrating ("cordtrace" in ASCII).
const lockID = 0x636f72647472616365 & 0x7fffffffffffffff

func provider(db *sql.DB, dialect string, logger *slog.Logger) (*goose.Provider, error) {
	sub, err := fs.Sub(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", dialect, err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if logger != nil {
		opts = append(opts, goose.WithSlog(logger))
	}
	var gooseDialect goose.Dialect
	switch dialect {
	case Postgres:
		gooseDialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case SQLite:
		gooseDialect = goose.DialectSQLite3
		opts = append(opts, goose.WithLocker(&sqliteLocker{}))
	default:
		return nil, fmt.Errorf("no migrations for dialect %q", dialect)
	}
	return goose.NewProvider(gooseDialect, db, sub, opts...)
}

// Up applies every pending migration and returns the versions it applied.
func Up(ctx context.Context, db *sql.DB, dialect string, logger *slog.Logger) ([]int64, error) {
	p, err := provider(db, dialect, logger)
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// UpTo applies the pending migrations up to version, so that a test can put data in the
// schema a migration finds.
func UpTo(ctx context.Context, db *sql.DB, dialect string, version int64) error {
	p, err := provider(db, dialect, nil)
	if err != nil {
		return err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("apply migrations up to %d: %w", version, err)
	}
	return nil
}

// Migration is one migration and whether it has been applied.
type Migration struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// Status lists every migration the binary knows and whether the database has it.
func Status(ctx context.Context, db *sql.DB, dialect string) ([]Migration, error) {
	p, err := provider(db, dialect, nil)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Migration, 0, len(st))
	for _, s := range st {
		out = append(out, Migration{
			Version:   s.Source.Version,
			Name:      s.Source.Path,
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// sqliteLocker keeps two processes that open the same embedded database file from migrating
// it at once. SQLite has no advisory locks, so the lock is a row that only one process can
// insert; a row older than staleAfter is taken to be left by a crashed process.
type sqliteLocker struct{}

const sqliteLockStaleAfter = 2 * time.Minute

func (*sqliteLocker) Lock(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS cordtrace_migration_lock (
		id INTEGER PRIMARY KEY CHECK (id = 1), locked_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create migration lock table: %w", err)
	}
	for {
		now := time.Now().Unix()
		if _, err := db.ExecContext(ctx, `DELETE FROM cordtrace_migration_lock WHERE locked_at < ?`,
			now-int64(sqliteLockStaleAfter/time.Second)); err != nil {
			return fmt.Errorf("clear stale migration lock: %w", err)
		}
		res, err := db.ExecContext(ctx, `INSERT OR IGNORE INTO cordtrace_migration_lock (id, locked_at) VALUES (1, ?)`, now)
		if err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("another process holds the migration lock"), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (*sqliteLocker) Unlock(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `DELETE FROM cordtrace_migration_lock`)
	return err
}

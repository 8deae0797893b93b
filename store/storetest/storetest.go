// Package storetest gives each test a fresh, migrated database: the embedded SQLite always,
// and PostgreSQL too when CORDTRACE_TEST_DATABASE_URL is set. Each package clones its databases
// from a template it migrates once, and drops them all when it ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"cordtrace/migrations"
	"cordtrace/store"
)

const (
	// EnvDatabaseURL names a PostgreSQL server (any database on it) on which tests may create
	// and drop databases.
	EnvDatabaseURL = "CORDTRACE_TEST_DATABASE_URL"
	// EnvRequirePostgres, when "1", turns a missing PostgreSQL into a failure instead of a
	// skip, so that CI cannot pass without running the PostgreSQL tests.
	EnvRequirePostgres = "CORDTRACE_REQUIRE_POSTGRES"
)

// Backends names the databases tests run on.
const (
	SQLite   = migrations.SQLite
	Postgres = migrations.Postgres
)

// Backends returns the backends this run tests: SQLite, and PostgreSQL when configured.
func Backends(t testing.TB) []string {
	if os.Getenv(EnvDatabaseURL) != "" {
		return []string{SQLite, Postgres}
	}
	if os.Getenv(EnvRequirePostgres) == "1" {
		t.Fatalf("%s=1 but %s is not set: the PostgreSQL tests cannot run", EnvRequirePostgres, EnvDatabaseURL)
	}
	return []string{SQLite}
}

// PostgresOnly skips a test of what only PostgreSQL does when the tests have no PostgreSQL
// (CI requires it: Backends then fails instead).
func PostgresOnly(t testing.TB) {
	t.Helper()
	if !slices.Contains(Backends(t), Postgres) {
		t.Skip("PostgreSQL only: set " + EnvDatabaseURL)
	}
}

// Each runs fn once per backend as a subtest, each with a fresh store.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, b := range Backends(t) {
		t.Run(b, func(t *testing.T) { fn(t, Open(t, b, store.Options{})) })
	}
}

// Options returns store options for a fresh, migrated database of the backend, dropped when
// the test ends. Fields already set in base are kept.
func Options(t testing.TB, backend string, base store.Options) store.Options {
	t.Helper()
	if base.PasswordCost == 0 {
		base.PasswordCost = 4 // bcrypt's minimum: the hash is not what these tests test
	}
	switch backend {
	case SQLite:
		tmpl, err := sqliteTemplate()
		if err != nil {
			t.Fatalf("SQLite template: %v", err)
		}
		dir := t.TempDir()
		if err := copyFile(tmpl, filepath.Join(dir, "cordtrace.db")); err != nil {
			t.Fatal(err)
		}
		base.DatabaseURL, base.DataDir = "", dir
	case Postgres:
		u, err := postgresClone(t)
		if err != nil {
			t.Fatalf("PostgreSQL test database: %v", err)
		}
		base.DatabaseURL = u
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	return base
}

// Open returns a store on a fresh database of the backend, closed when the test ends.
func Open(t testing.TB, backend string, opts store.Options) *store.Store {
	t.Helper()
	return OpenWith(t, Options(t, backend, opts))
}

// OpenWith returns a store opened with opts as they are (from Options, maybe changed after),
// closed when the test ends: another store on the same database, say.
func OpenWith(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	sqlDB, dialect, err := store.OpenDB(opts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(sqlDB, dialect, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Main runs a package's tests and then drops its template databases. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	cleanup()
	os.Exit(code)
}

var (
	mu           sync.Mutex
	sqliteTmpl   string
	pgTmplName   string
	cleanupFuncs []func()
)

func cleanup() {
	mu.Lock()
	defer mu.Unlock()
	for i := len(cleanupFuncs) - 1; i >= 0; i-- {
		cleanupFuncs[i]()
	}
	cleanupFuncs = nil
}

func sqliteTemplate() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if sqliteTmpl != "" {
		return sqliteTmpl, nil
	}
	dir, err := os.MkdirTemp("", "cordtrace-test-")
	if err != nil {
		return "", err
	}
	cleanupFuncs = append(cleanupFuncs, func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "template.db")
	db, err := sql.Open("sqlite", store.SQLiteDSN(path))
	if err != nil {
		return "", err
	}
	if _, err := migrations.Up(context.Background(), db, migrations.SQLite, nil); err != nil {
		db.Close()
		return "", err
	}
	// Fold the write-ahead log into the file so that a plain copy of it is complete.
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		db.Close()
		return "", err
	}
	if err := db.Close(); err != nil {
		return "", err
	}
	sqliteTmpl = path
	return path, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// withDatabase returns the server URL with its database name replaced.
func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvDatabaseURL, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// admin opens the server URL for CREATE and DROP DATABASE.
func admin() (*sql.DB, error) {
	db, err := sql.Open("pgx", os.Getenv(EnvDatabaseURL))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s does not answer: %w", EnvDatabaseURL, err)
	}
	return db, nil
}

func postgresTemplate(adminDB *sql.DB) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if pgTmplName != "" {
		return pgTmplName, nil
	}
	name := randomName("cordtrace_tmpl_")
	if _, err := adminDB.Exec("CREATE DATABASE " + name); err != nil {
		return "", fmt.Errorf("create template database: %w", err)
	}
	cleanupFuncs = append(cleanupFuncs, func() { dropDatabase(name) })
	u, err := withDatabase(os.Getenv(EnvDatabaseURL), name)
	if err != nil {
		return "", err
	}
	db, err := sql.Open("pgx", u)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := migrations.Up(context.Background(), db, migrations.Postgres, nil); err != nil {
		return "", err
	}
	pgTmplName = name
	return name, nil
}

func postgresClone(t testing.TB) (string, error) {
	adminDB, err := admin()
	if err != nil {
		return "", err
	}
	defer adminDB.Close()
	tmpl, err := postgresTemplate(adminDB)
	if err != nil {
		return "", err
	}
	name := randomName("cordtrace_test_")
	// Cloning needs the template to have no other connection; retry briefly in case the
	// migration's pool is still closing.
	for attempt := 0; ; attempt++ {
		_, err = adminDB.Exec("CREATE DATABASE " + name + " TEMPLATE " + tmpl)
		if err == nil || attempt == 20 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return "", fmt.Errorf("clone template database: %w", err)
	}
	t.Cleanup(func() { dropDatabase(name) })
	return withDatabase(os.Getenv(EnvDatabaseURL), name)
}

func dropDatabase(name string) {
	adminDB, err := admin()
	if err != nil {
		return
	}
	defer adminDB.Close()
	adminDB.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
}

package store_test

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"testing"

	"cordtrace/migrations"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// The row types mirror the SQL; a column added to one and not the other fails here rather
// than as a runtime error on some rarely used path.
func TestModelsMatchMigratedSchema(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		db := st.Gorm()
		for _, model := range store.Models() {
			stmt := db.Model(model).Statement
			if err := stmt.Parse(model); err != nil {
				t.Fatal(err)
			}
			table := stmt.Schema.Table
			cols, err := db.Migrator().ColumnTypes(table)
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			var inDB, inModel []string
			for _, c := range cols {
				inDB = append(inDB, c.Name())
			}
			for _, f := range stmt.Schema.Fields {
				if f.DBName != "" {
					inModel = append(inModel, f.DBName)
				}
			}
			slices.Sort(inDB)
			slices.Sort(inModel)
			if !slices.Equal(inDB, inModel) {
				t.Errorf("table %s:\n  database %v\n  model    %v", table, inDB, inModel)
			}
		}
	})
}

// Processes starting together on an empty database must not both try to migrate it.
func TestConcurrentMigrationsAreSerialized(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			opts := storetest.Options(t, b, store.Options{})
			// Start from an empty database: roll the clone back to nothing first.
			fresh := emptyDatabase(t, opts)
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					st, err := store.Open(context.Background(), fresh)
					if err == nil {
						st.Close()
					}
					errs[i] = err
				}(i)
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("process %d: %v", i, err)
				}
			}
			db, dialect, err := store.OpenDB(fresh)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			list, err := migrations.Status(context.Background(), db, dialect)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range list {
				if !m.Applied {
					t.Errorf("migration %d not applied", m.Version)
				}
			}
		})
	}
}

// emptyDatabase drops every table of the test database so that migrations start from zero.
func emptyDatabase(t *testing.T, opts store.Options) store.Options {
	t.Helper()
	db, dialect, err := store.OpenDB(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stmts []string
	if dialect == migrations.Postgres {
		stmts = []string{`DROP SCHEMA public CASCADE`, `CREATE SCHEMA public`}
	} else {
		stmts = sqliteDrops(t, db)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return opts
}

func sqliteDrops(t *testing.T, db *sql.DB) []string {
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stmts := []string{`PRAGMA foreign_keys = OFF`}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		stmts = append(stmts, `DROP TABLE "`+name+`"`)
	}
	return stmts
}

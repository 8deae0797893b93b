package loadtest

import (
	"context"
	"database/sql"
	"fmt"
	neturl "net/url"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// baselines measures, with as many connections as the run has clients, a bare round trip
// (SELECT 1) and a single-row insert into a temporary table, each for d.
func baselines(ctx context.Context, url string, conns int, d time.Duration) (sel, ins *Stats, err error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	cs := make([]*sql.Conn, conns)
	for i := range cs {
		if cs[i], err = db.Conn(ctx); err != nil {
			return nil, nil, fmt.Errorf("connect to %s: %w", redact(url), err)
		}
		defer cs[i].Close()
		// A temporary table is private to its connection and dropped with it.
		if _, err := cs[i].ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS loadtest_probe
			(id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text NOT NULL)`); err != nil {
			return nil, nil, fmt.Errorf("create the probe table: %w", err)
		}
	}
	measure := func(name, query string, args ...any) (*Stats, error) {
		recs := make([][]time.Duration, conns)
		errs := make([]error, conns)
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(d)
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					t0 := time.Now()
					if _, err := c.ExecContext(ctx, query, args...); err != nil {
						errs[i] = err
						return
					}
					recs[i] = append(recs[i], time.Since(t0))
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		var all []time.Duration
		for i := range recs {
			if errs[i] != nil {
				return nil, fmt.Errorf("%s: %w", name, errs[i])
			}
			all = append(all, recs[i]...)
		}
		st := &Stats{Endpoint: name, Requests: int64(len(all)), OK: int64(len(all)), Errors: map[string]int64{}}
		summarize(st, all, elapsed)
		return st, nil
	}
	if sel, err = measure("SELECT 1", "SELECT 1"); err != nil {
		return nil, nil, err
	}
	if ins, err = measure("INSERT one row", "INSERT INTO loadtest_probe (at, note) VALUES (now(), $1)", "load test probe row"); err != nil {
		return nil, nil, err
	}
	return sel, ins, nil
}

// redact hides a password in a database URL shown in an error.
func redact(url string) string {
	if u, err := neturl.Parse(url); err == nil {
		return u.Redacted()
	}
	return "the database"
}

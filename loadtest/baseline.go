package loadtest

import (
	"context"
	"database/sql"
	"fmt"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// baseline is what the run's endpoints are compared with: PostgreSQL alone, on the same
// database, with as many connections as the run has clients.
type baseline struct {
	Select1 *Stats // a bare round trip
	Insert  *Stats // a one-row insert into a temporary table: no WAL, so no wait for the disk
	// Durable is a one-row insert into a table of the database's own, whose commit waits for
	// the disk as each of the service's writes does. Paced like the run when it is paced, it
	// shows what the machine's disk and CPU let PostgreSQL alone hold at that rate.
	Durable *Stats
}

// measureBaseline measures each baseline for d. tag names the durable insert's table,
// which is dropped at the end; rate, when above 0, paces the durable insert.
func measureBaseline(ctx context.Context, url, tag string, conns int, d time.Duration, rate float64) (baseline, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return baseline{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	cs := make([]*sql.Conn, conns)
	for i := range cs {
		if cs[i], err = db.Conn(ctx); err != nil {
			return baseline{}, fmt.Errorf("connect to %s: %w", redact(url), err)
		}
		defer cs[i].Close()
		// A temporary table is private to its connection. It is dropped before the connection
		// closes: a backend drops its temporary tables only as it exits, after the close has
		// returned, and the run ends with the baselines.
		if _, err := cs[i].ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS loadtest_probe
			(id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text NOT NULL)`); err != nil {
			return baseline{}, fmt.Errorf("create the probe table: %w", err)
		}
		defer func(c *sql.Conn) {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS pg_temp.loadtest_probe`)
		}(cs[i])
	}
	durableTable := "loadtest_probe_" + strings.ToLower(tag)
	if _, err := cs[0].ExecContext(ctx, `CREATE TABLE `+durableTable+`
		(id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text NOT NULL)`); err != nil {
		return baseline{}, fmt.Errorf("create the durable probe table %s: %w", durableTable, err)
	}
	defer func() {
		_, _ = cs[0].ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+durableTable)
	}()

	var b baseline
	const note = "load test probe row"
	if b.Select1, err = measureQuery(ctx, cs, d, 0, "SELECT 1", "SELECT 1"); err != nil {
		return baseline{}, err
	}
	if b.Insert, err = measureQuery(ctx, cs, d, 0, "INSERT one row", "INSERT INTO loadtest_probe (at, note) VALUES (now(), $1)", note); err != nil {
		return baseline{}, err
	}
	name := "INSERT one row, durable"
	if rate > 0 {
		name += fmt.Sprintf(", paced at %.0f/s", rate)
	}
	if b.Durable, err = measureQuery(ctx, cs, d, rate, name, "INSERT INTO "+durableTable+" (at, note) VALUES (now(), $1)", note); err != nil {
		return baseline{}, err
	}
	return b, nil
}

// measureQuery runs query on every connection for d, each as fast as it is answered or, with
// rate above 0, at rate a second in all, each latency counted from when it was due (as
// engine.claim does).
func measureQuery(ctx context.Context, cs []*sql.Conn, d time.Duration, rate float64, name, query string, args ...any) (*Stats, error) {
	recs := make([][]time.Duration, len(cs))
	errs := make([]error, len(cs))
	var scheduled atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	next := func() (time.Time, bool) {
		if rate <= 0 {
			now := time.Now()
			return now, now.Before(deadline)
		}
		due := dueAt(start, rate, scheduled.Add(1)-1)
		return due, due.Before(deadline) && waitUntil(ctx, due)
	}
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				due, ok := next()
				if !ok {
					return
				}
				if _, err := c.ExecContext(ctx, query, args...); err != nil {
					errs[i] = err
					return
				}
				recs[i] = append(recs[i], time.Since(due))
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

// redact hides a password in a database URL shown in an error.
func redact(url string) string {
	if u, err := neturl.Parse(url); err == nil {
		return u.Redacted()
	}
	return "the database"
}

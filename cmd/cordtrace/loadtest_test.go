package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"cordtrace/loadtest"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

// A short run of the load program (cordtrace-load) against a real serve process seeds its site through the API, gets only
// expected outcomes, and reports every figure: rates, percentiles, errors and, on PostgreSQL,
// the cost relative to the database baselines, and a durable insert's figures, whose table it
// drops, after the run; paced, it says so, and paces that insert too. The warm-up is summed
// up apart, and its writes are not counted as the run's. No timing is asserted.
func TestLoadtestReportsTheFigures(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			vars := backendEnv(t, b)
			base := startProcess(t, vars)
			var db *sql.DB
			if b == storetest.Postgres {
				var err error
				if db, _, err = store.OpenDB(store.Options{DatabaseURL: vars["DATABASE_URL"]}); err != nil {
					t.Fatal(err)
				}
				defer db.Close()
			}
			for _, c := range []struct{ scenario, rate string }{{"verify", "0"}, {"scan", "0"}, {"mixed", "0"}, {"verify", "400"}} {
				scenario := c.scenario
				args := []string{"-target", base, "-scenario", scenario, "-concurrency", "3", "-count", "24", "-rate", c.rate,
					"-admin-password", vars["CORDTRACE_ADMIN_PASSWORD"], "-baseline-duration", "100ms", "-warmup", "100ms"}
				if b == storetest.Postgres {
					args = append(args, "-database-url", vars["DATABASE_URL"])
				}
				var out, errOut strings.Builder
				code := loadtest.Main(context.Background(), args, envOf(nil), &out, &errOut)
				if code != loadtest.ExitOK {
					t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", scenario, code, out.String(), errOut.String())
				}
				report := out.String()
				want := []string{"requests/s", "p50", "p95", "p99", "unexpected outcomes: 0", "warm-up before the run, not counted below: "}
				switch scenario {
				case "verify":
					want = append(want, "POST /api/v1/bedside/verify")
				case "scan":
					want = append(want, "POST /api/v1/scans/dispatch", "POST /api/v1/scans/receive")
				default:
					want = append(want, "POST /api/v1/bedside/verify", "POST /api/v1/scans/dispatch", "POST /api/v1/scans/receive")
				}
				if c.rate != "0" {
					want = append(want, "paced at "+c.rate+" requests/s")
				}
				if b == storetest.Postgres {
					want = append(want, "SELECT 1", "INSERT one row", "÷ SELECT 1", "÷ INSERT", "INSERT one row, durable")
					if c.rate != "0" {
						want = append(want, "INSERT one row, durable, paced at "+c.rate+"/s")
					}
					if n := countRows(t, db, `SELECT count(*) FROM pg_tables WHERE tablename LIKE 'loadtest\_probe%'`); n != 0 {
						t.Errorf("%s: %d probe tables left in the service's database", scenario, n)
					}
				}
				for _, w := range want {
					if !strings.Contains(report, w) {
						t.Errorf("%s: the report lacks %q:\n%s", scenario, w, report)
					}
				}
				progress := errOut.String()
				if !strings.Contains(progress, "seeding through the API") {
					t.Errorf("%s: no progress on stderr:\n%s", scenario, progress)
				}
				if b == storetest.Postgres {
					// The baselines' tables, made and dropped, would slow the run's first requests.
					run, baselines := strings.Index(progress, "running "+scenario), strings.Index(progress, "measuring PostgreSQL baselines")
					if run < 0 || baselines < run {
						t.Errorf("%s: the baselines were not measured after the run:\n%s", scenario, progress)
					}
				}
			}
		})
	}
}

func TestLoadtestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-scenario", "browse", "-admin-password", "x"},
		{"-concurrency", "0", "-admin-password", "x"},
		{"-rate", "-5", "-admin-password", "x"},
		{"-warmup", "-1s", "-admin-password", "x"},
		{"-admin-password", ""},
	} {
		var out, errOut strings.Builder
		code := loadtest.Main(context.Background(), args, envOf(nil), &out, &errOut)
		if code == loadtest.ExitOK || !strings.Contains(errOut.String(), "cordtrace-load:") {
			t.Errorf("%v: exit %d, %q", args, code, errOut.String())
		}
	}
}

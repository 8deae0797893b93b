package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"cordtrace/store/storetest"
)

// A short load test against a real serve process seeds its site through the API, gets only
// expected outcomes, and reports every figure: rates, percentiles, errors and, on PostgreSQL,
// the cost relative to the database baselines. No timing is asserted.
func TestLoadtestReportsTheFigures(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			vars := backendEnv(t, b)
			base := startProcess(t, vars)
			for _, scenario := range []string{"verify", "scan", "mixed"} {
				args := []string{"loadtest", "-target", base, "-scenario", scenario, "-concurrency", "3", "-count", "24",
					"-admin-password", vars["CORDTRACE_ADMIN_PASSWORD"], "-baseline-duration", "100ms"}
				if b == storetest.Postgres {
					args = append(args, "-database-url", vars["DATABASE_URL"])
				}
				var out, errOut strings.Builder
				code := run(context.Background(), args, envOf(nil), nil, &out, &errOut)
				if code != exitOK {
					t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", scenario, code, out.String(), errOut.String())
				}
				report := out.String()
				want := []string{"requests/s", "p50", "p95", "p99", "unexpected outcomes: 0"}
				switch scenario {
				case "verify":
					want = append(want, "POST /api/v1/bedside/verify")
				case "scan":
					want = append(want, "POST /api/v1/scans/dispatch", "POST /api/v1/scans/receive")
				default:
					want = append(want, "POST /api/v1/bedside/verify", "POST /api/v1/scans/dispatch", "POST /api/v1/scans/receive")
				}
				if b == storetest.Postgres {
					want = append(want, "SELECT 1", "INSERT one row", "÷ SELECT 1", "÷ INSERT", "writes of the run: ", "redone alone")
				}
				for _, w := range want {
					if !strings.Contains(report, w) {
						t.Errorf("%s: the report lacks %q:\n%s", scenario, w, report)
					}
				}
				if !strings.Contains(errOut.String(), "seeding through the API") {
					t.Errorf("%s: no progress on stderr:\n%s", scenario, errOut.String())
				}
			}
			if b == storetest.Postgres {
				checkWriteGroupMetrics(t, base)
			}
		})
	}
}

func TestLoadtestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"loadtest", "-scenario", "browse", "-admin-password", "x"},
		{"loadtest", "-concurrency", "0", "-admin-password", "x"},
		{"loadtest", "-admin-password", ""},
	} {
		code, _, errOut := runCmd(t, nil, "", args...)
		if code == exitOK || !strings.Contains(errOut, "cordtrace loadtest:") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

// checkWriteGroupMetrics checks that /metrics counts how the load's writes were written: every
// one of them, together or alone, and none redone (nothing in the load is refused by the
// database).
func checkWriteGroupMetrics(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(series string) float64 {
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, series+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f
			}
		}
		t.Fatalf("/metrics lacks %s", series)
		return 0
	}
	together, alone := value(`cordtrace_grouped_writes_total{written="together"}`), value(`cordtrace_grouped_writes_total{written="alone"}`)
	groups, redone := value(`cordtrace_write_groups_total`), value(`cordtrace_grouped_writes_total{written="redone"}`)
	// 24 requests of each scenario, seeding's scans and verifications besides
	if together+alone < 3*24 || redone != 0 || together < 2*groups {
		t.Fatalf("write groups: %v together in %v groups, %v alone, %v redone", together, groups, alone, redone)
	}
}

package loadtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"time"
)

// Exit statuses of Main.
const (
	ExitOK      = 0
	ExitFailed  = 1 // the run had unexpected outcomes
	ExitUsage   = 2
	ExitRuntime = 3 // the run could not be made (service unreachable, seeding refused)
)

// Main is the cordtrace-load command: it parses args, runs the scenario against a running
// service and prints the report. getenv supplies the defaults of some flags.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cordtrace-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{Progress: stderr}
	fs.StringVar(&cfg.Target, "target", "http://127.0.0.1:8080", "base URL of the running service")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "concurrent clients")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long to run (ignored when -count is given)")
	fs.IntVar(&cfg.Count, "count", 0, "stop after this many requests instead of after -duration")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "how long to run the scenario before the timed run, left out of the figures (0: none)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests a second in all, paced evenly, each latency counted from when it was due (0: as fast as the clients go)")
	fs.StringVar(&cfg.Scenario, "scenario", ScenarioVerify, "verify (bedside verifications), scan (dispatch and receipt) or mixed")
	fs.StringVar(&cfg.AdminUser, "admin-user", "admin", "an administrator, who creates the run's users")
	fs.StringVar(&cfg.AdminPassword, "admin-password", getenv("CORDTRACE_LOADTEST_ADMIN_PASSWORD"), "the administrator's password (CORDTRACE_LOADTEST_ADMIN_PASSWORD)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", getenv("DATABASE_URL"), "the service's PostgreSQL database, for the SELECT 1 and INSERT baselines (DATABASE_URL); empty: no baseline")
	fs.IntVar(&cfg.Bags, "bags", 0, "bags prepared for custody scans, two scans each (0: enough for -count, or for -duration at -rate or at most 2,000 scans/s, and for the warm-up)")
	fs.DurationVar(&cfg.BaselineDuration, "baseline-duration", 2*time.Second, "how long each PostgreSQL baseline runs")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: cordtrace-load [flags]\n\nSeeds its own users, lots, patients and dose bags through the API of a running service,\n"+
			"drives bedside verifications and custody scans, and prints requests/s, latency percentiles and\n"+
			"unexpected outcomes per endpoint, with each endpoint's cost relative to PostgreSQL round trips.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cordtrace-load: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	// It usually shares the machine with the service it measures: the CPU its collector
	// spares is the service's. The environment's GOGC wins.
	if getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "cordtrace-load: %v\n", err)
		return ExitRuntime
	}
	rep.Print(stdout)
	if rep.UnexpectedErrors() > 0 {
		return ExitFailed
	}
	return ExitOK
}

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
	if len(args) > 0 && args[0] == "seed" {
		return seedMain(ctx, args[1:], getenv, stdout, stderr)
	}
	fs := flag.NewFlagSet("cordtrace-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{Progress: stderr}
	fs.StringVar(&cfg.Target, "target", "http://127.0.0.1:8080", "base URL of the running service")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "concurrent clients")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long to run (ignored when -count is given)")
	fs.IntVar(&cfg.Count, "count", 0, "stop after this many requests instead of after -duration (pages: rounds of every page)")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "how long to run the scenario before the timed run, left out of the figures (0: none)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests a second in all, paced evenly, each latency counted from when it was due (0: as fast as the clients go)")
	fs.StringVar(&cfg.Scenario, "scenario", ScenarioVerify, "verify (bedside verifications), scan (dispatch and receipt), mixed, or pages (the daily pages of a site made by 'cordtrace-load seed', as its users qa1 and doctor.s01 with -admin-password; -count rounds of every page, or -duration)")
	fs.StringVar(&cfg.AdminUser, "admin-user", "admin", "an administrator, who creates the run's users")
	fs.StringVar(&cfg.AdminPassword, "admin-password", getenv("CORDTRACE_LOADTEST_ADMIN_PASSWORD"), "the administrator's password (CORDTRACE_LOADTEST_ADMIN_PASSWORD)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", getenv("DATABASE_URL"), "the service's PostgreSQL database, for the SELECT 1 and INSERT baselines (DATABASE_URL); empty: no baseline")
	fs.IntVar(&cfg.Bags, "bags", 0, "bags prepared for custody scans, two scans each (0: enough for -count, or for -duration at -rate or at most 2,000 scans/s, and for the warm-up)")
	fs.DurationVar(&cfg.BaselineDuration, "baseline-duration", 2*time.Second, "how long each PostgreSQL baseline runs")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: cordtrace-load [flags]\n       cordtrace-load seed [flags]   (years of history straight into an empty database; seed -h)\n\n"+
			"Seeds its own users, lots, patients and dose bags through the API of a running service,\n"+
			"drives bedside verifications and custody scans, or opens the daily pages of a seeded site, and prints\n"+
			"requests/s, latency percentiles and unexpected outcomes per endpoint, with each endpoint's cost\n"+
			"relative to PostgreSQL round trips.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
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

// seedMain is `cordtrace-load seed`: it writes a whole history straight into an empty database.
func seedMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cordtrace-load seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := HistoryConfig{Progress: stderr, FacilityID: getenv("CORDTRACE_FACILITY_ID"), ProductCode: getenv("CORDTRACE_PRODUCT_CODE")}
	fs.StringVar(&cfg.DatabaseURL, "database-url", getenv("DATABASE_URL"), "the PostgreSQL database to fill, new and empty (DATABASE_URL); empty: the SQLite file in -data-dir")
	fs.StringVar(&cfg.DataDir, "data-dir", "data", "the SQLite database's directory, without -database-url")
	fs.IntVar(&cfg.Years, "years", 5, "years of history, ending now")
	fs.IntVar(&cfg.Sites, "sites", 10, "sites, each with its ward, physician, nurses and pharmacists")
	fs.IntVar(&cfg.Patients, "patients", 20000, "patients enrolled over the years")
	fs.IntVar(&cfg.Bags, "bags", 40000, "dose bags prepared: one infused for each treated patient, the rest expired on the ward and made again")
	fs.IntVar(&cfg.AuditEntries, "audit-entries", 1000000, "audit entries to reach, patient data shown on pages making up what the history does not record itself")
	fs.IntVar(&cfg.Batch, "batch", 5000, "rows a transaction")
	fs.StringVar(&cfg.Password, "password", getenv("CORDTRACE_LOADTEST_ADMIN_PASSWORD"), "every seeded user's password (CORDTRACE_LOADTEST_ADMIN_PASSWORD)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: cordtrace-load seed [flags]\n\nWrites years of a programme straight into a new, empty database: users (admin, qc1, qa1, doctor.s01,\n"+
			"nurse.s01 …, all with -password), lots with QC and signatures, units, patients, orders, dose bags with\n"+
			"their custody scans, verifications and infusions, and the sealed audit chain that records them.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	rep, err := SeedHistory(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "cordtrace-load seed: %v\n", err)
		return ExitRuntime
	}
	fmt.Fprintf(stdout, "seeded %d years, %d sites: %d patients, %d lots, %d dose bags, %d audit entries; %d rows in %s (%.0f rows/s)\n",
		cfg.Years, cfg.Sites, rep.Patients, rep.Lots, rep.DoseBags, rep.AuditEntries, rep.Rows, rep.Elapsed.Round(time.Second), float64(rep.Rows)/rep.Elapsed.Seconds())
	return ExitOK
}

// parseFlags parses a command's flags, which take no arguments besides. When the command must
// not run (help asked for, or a bad flag), ok is false and code is its exit code.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, false
		}
		return ExitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return ExitUsage, false
	}
	return 0, true
}

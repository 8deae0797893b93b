package loadtest

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// pacedRun drives count verifications at rate against a service that answers the first
// request after stall and the others at once, with one client. Rate 0 is an unpaced run.
func pacedRun(t *testing.T, rate float64, count int, stall time.Duration) (time.Duration, Stats) {
	t.Helper()
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/bedside/verify" {
			http.NotFound(w, r)
			return
		}
		if seen.Add(1) == 1 {
			time.Sleep(stall)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"pass":true,"checks":[]}`))
	}))
	t.Cleanup(srv.Close)
	cfg := Config{Target: srv.URL, Concurrency: 1, Count: count, Rate: rate, Scenario: ScenarioVerify, AdminPassword: "x"}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	e := &engine{cfg: cfg, site: &site{verifyBags: []*bag{{verifyBody: []byte(`{}`)}}}}
	elapsed, recs := e.drive(context.Background())
	stats := merge(recs, elapsed)
	if len(stats) != 1 || stats[0].Requests != int64(count) || stats[0].OK != int64(count) {
		t.Fatalf("want %d verifications, all as expected; got %+v", count, stats)
	}
	return elapsed, stats[0]
}

// A paced run spreads its requests over the schedule instead of sending them as fast as the
// clients go.
func TestPacedRunKeepsToItsSchedule(t *testing.T) {
	const rate, count = 200, 11 // the last one is due 50 ms after the first
	elapsed, _ := pacedRun(t, rate, count, 0)
	if elapsed < 50*time.Millisecond {
		t.Fatalf("%d requests paced at %d/s took %s; the last was due after 50 ms", count, rate, elapsed)
	}
}

// In a paced run, a request that could not be sent when it was due, because the service was
// still busy with earlier ones, counts the wait in its latency: otherwise a stall would hide
// behind the client that waited for it (coordinated omission).
func TestPacedLatencyCountsFromWhenARequestWasDue(t *testing.T) {
	const stall = 200 * time.Millisecond
	// 20 requests due within 19 ms, all but the first sent only after the 200 ms stall: each
	// waited at least 181 ms from when it was due.
	_, paced := pacedRun(t, 1000, 20, stall)
	if paced.P50 < stall-20*time.Millisecond {
		t.Errorf("paced run: p50 %s behind a %s stall, want at least %s", paced.P50, stall, stall-20*time.Millisecond)
	}
}

func TestRateMustBeARate(t *testing.T) {
	for _, rate := range []float64{-1, math.NaN(), math.Inf(1)} {
		cfg := Config{Target: "http://x", Concurrency: 1, Count: 1, Rate: rate, Scenario: ScenarioVerify, AdminPassword: "x"}
		if err := cfg.validate(); err == nil {
			t.Errorf("rate %v accepted", rate)
		}
	}
}

// The warm-up's requests, the slow first one here, are left out of the run's figures and
// summed up apart; the timed run starts once the warm-up's last request is answered.
func TestWarmupIsLeftOutOfTheFigures(t *testing.T) {
	const stall, count = 200 * time.Millisecond, 5
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) == 1 {
			time.Sleep(stall)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"pass":true,"checks":[]}`))
	}))
	t.Cleanup(srv.Close)
	cfg := Config{Target: srv.URL, Concurrency: 1, Count: count, Warmup: 10 * time.Millisecond, Scenario: ScenarioVerify, AdminPassword: "x"}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	e := &engine{cfg: cfg, site: &site{verifyBags: []*bag{{verifyBody: []byte(`{}`)}}}}
	warm := e.warmUp(context.Background())
	if warm.Requests < 1 || warm.Max < stall || warm.Unexpected != 0 {
		t.Fatalf("warm-up: %+v, want the stalled request in it, answered as expected", warm)
	}
	elapsed, recs := e.drive(context.Background())
	stats := merge(recs, elapsed)
	if len(stats) != 1 || stats[0].Requests != count || stats[0].OK != count {
		t.Fatalf("run: want %d verifications, all as expected; got %+v", count, stats)
	}
	if stats[0].Max >= stall {
		t.Fatalf("run: max %s, want the warm-up's stalled request left out", stats[0].Max)
	}
	if got, want := seen.Load(), warm.Requests+count; got != want {
		t.Fatalf("the service answered %d requests, want %d: the warm-up's %d and the run's %d", got, want, warm.Requests, count)
	}
}

// An unexpected outcome in the warm-up is counted, and fails the run as one in the run would.
func TestWarmupCountsItsUnexpectedOutcomes(t *testing.T) {
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"pass":true,"checks":[]}`))
	}))
	t.Cleanup(srv.Close)
	cfg := Config{Target: srv.URL, Concurrency: 1, Count: 1, Warmup: 10 * time.Millisecond, Scenario: ScenarioVerify, AdminPassword: "x"}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	e := &engine{cfg: cfg, site: &site{verifyBags: []*bag{{verifyBody: []byte(`{}`)}}}}
	warm := e.warmUp(context.Background())
	if warm.Unexpected != 1 {
		t.Fatalf("warm-up: %+v, want its one 503 counted as unexpected", warm)
	}
	if n := (Report{Warmup: warm}).UnexpectedErrors(); n != 1 {
		t.Fatalf("the report counts %d unexpected outcomes, want the warm-up's one", n)
	}
}

func TestWarmupMustNotBeNegative(t *testing.T) {
	cfg := Config{Target: "http://x", Concurrency: 1, Count: 1, Warmup: -time.Second, Scenario: ScenarioVerify, AdminPassword: "x"}
	if err := cfg.validate(); err == nil {
		t.Error("a negative warm-up was accepted")
	}
}

// The pool of bags for custody scans holds the run's scans and its warm-up's, two a bag, and
// a bag more for each client; a paced run sizes both at its rate.
func TestBagsToSeedCoverTheRunAndItsWarmup(t *testing.T) {
	for _, tc := range []struct {
		name             string
		cfg              Config
		verify, scanBags int
	}{
		{"verify: a bag per client", Config{Scenario: ScenarioVerify, Concurrency: 16, Duration: time.Minute, Warmup: time.Second}, 16, 0},
		{"scan, given bags", Config{Scenario: ScenarioScan, Concurrency: 16, Count: 8000, Bags: 6000, Warmup: time.Second}, 0, 6000},
		{"scan, by count, unpaced warm-up", Config{Scenario: ScenarioScan, Concurrency: 16, Count: 8000, Warmup: time.Second}, 0, (8000+2000)/2 + 16},
		{"scan, by duration, unpaced", Config{Scenario: ScenarioScan, Concurrency: 4, Duration: 10 * time.Second, Warmup: time.Second}, 0, (20000+2000)/2 + 4},
		{"scan, paced: run and warm-up at the rate", Config{Scenario: ScenarioScan, Concurrency: 4, Duration: 10 * time.Second, Rate: 100, Warmup: 2 * time.Second}, 0, (1000+200)/2 + 4},
		{"mixed: half the requests are scans", Config{Scenario: ScenarioMixed, Concurrency: 8, Duration: 10 * time.Second, Rate: 400, Warmup: time.Second}, 8, (4000+400)/4 + 8},
		{"scan, no warm-up", Config{Scenario: ScenarioScan, Concurrency: 2, Count: 10}, 0, 5 + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verify, scan := tc.cfg.bagsToSeed()
			if verify != tc.verify || scan != tc.scanBags {
				t.Errorf("bags to seed: %d for the bedside and %d for scans, want %d and %d", verify, scan, tc.verify, tc.scanBags)
			}
		})
	}
}

// Package loadtest drives a running cordtrace service the way a busy hospital does: nurses
// verifying doses at the bedside and custody scans at dispatch and receipt. It seeds its own
// users, lots, patients and bags through the API, measures throughput and latency per
// endpoint, and measures bare PostgreSQL round trips on the same database, so that results
// from different machines can be compared as ratios.
package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios.
const (
	ScenarioVerify = "verify" // bedside verifications of received bags
	ScenarioScan   = "scan"   // dispatch then receipt of prepared bags
	ScenarioMixed  = "mixed"  // both, half and half
)

// Endpoints measured.
const (
	EndpointVerify   = "POST /api/v1/bedside/verify"
	EndpointDispatch = "POST /api/v1/scans/dispatch"
	EndpointReceive  = "POST /api/v1/scans/receive"
)

// Config is one run.
type Config struct {
	Target      string // base URL of the service, e.g. http://127.0.0.1:8080
	Concurrency int
	// Duration bounds the run; Count, when above 0, bounds it by requests instead.
	Duration time.Duration
	Count    int
	// Rate, when above 0, paces the run: requests are due at that many a second in all, spread
	// evenly, and each one's latency counts from when it was due, so that a service falling
	// behind shows in the latencies instead of slowing the clients down. 0: each client sends
	// its next request as soon as its last one is answered.
	Rate float64
	// Warmup, when above 0, runs the scenario that long before the timed run, as the run
	// would (paced, when it is), and leaves those requests out of the figures: the first
	// requests after the seeding meet what a service meets only once, such as its first
	// statements on new rows and sessions not yet checked. Their outcomes still count as
	// unexpected when they are.
	Warmup   time.Duration
	Scenario string
	// AdminUser and AdminPassword log in to create the run's users.
	AdminUser, AdminPassword string
	// DatabaseURL is the service's PostgreSQL database, for the baseline; empty skips it.
	DatabaseURL string
	// Bags is the pool of prepared bags for custody scans (two scans each); 0 sizes it from
	// Count, or from Duration at Rate or, unpaced, at most 2,000 scans/s (bagsToSeed).
	Bags int
	// BaselineDuration is how long each PostgreSQL baseline runs (default 2 s).
	BaselineDuration time.Duration
	// Progress receives a line a second; Out the report.
	Progress io.Writer
}

func (c *Config) validate() error {
	switch c.Scenario {
	case ScenarioVerify, ScenarioScan, ScenarioMixed, ScenarioPages:
	default:
		return fmt.Errorf("scenario %q: use verify, scan, mixed or pages", c.Scenario)
	}
	if c.Target == "" {
		return fmt.Errorf("give the service's URL, such as http://127.0.0.1:8080")
	}
	if _, err := newConn(c.Target); err != nil {
		return err
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		return fmt.Errorf("concurrency %d: use 1 to 1024 clients", c.Concurrency)
	}
	if c.Warmup < 0 {
		return fmt.Errorf("warm-up %s: give a duration of 0 or more", c.Warmup)
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("rate %v: give requests a second above 0, or 0 for as fast as the clients go", c.Rate)
	}
	if c.Count <= 0 && c.Duration <= 0 && c.Scenario != ScenarioPages {
		return fmt.Errorf("give a duration (such as 30s) or a request count above 0")
	}
	if c.AdminPassword == "" {
		return fmt.Errorf("give the admin password (-admin-password or CORDTRACE_LOADTEST_ADMIN_PASSWORD) so that the run can create its users")
	}
	if c.BaselineDuration <= 0 {
		c.BaselineDuration = 2 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}

// Stats are one endpoint's figures.
type Stats struct {
	Endpoint string
	Requests int64
	OK       int64 // requests with the expected outcome
	// Errors counts the other outcomes by status ("409", "200 stop" for a failed
	// verification, "transport" for a connection failure).
	Errors        map[string]int64
	PerSecond     float64
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// Report is the result of a run.
type Report struct {
	Scenario      string
	Concurrency   int
	Rate          float64 // requests a second offered, when paced (Config.Rate)
	Elapsed       time.Duration
	Requests      int64
	PerSecond     float64
	Endpoints     []Stats
	SeedTime      time.Duration
	SeedRequests  int64
	PoolExhausted bool
	// Warmup is the requests before the timed run (Config.Warmup), left out of the figures
	// above.
	Warmup *Warmup
	// baseline: SELECT 1, a single-row insert and a durable one on the same database, when
	// the run was given it.
	baseline
}

// Warmup sums up the requests of the warm-up, all endpoints together.
type Warmup struct {
	Elapsed    time.Duration
	Requests   int64
	P99, Max   time.Duration
	Unexpected int64
}

// UnexpectedErrors counts every request whose outcome was not the expected one, the
// warm-up's included.
func (r Report) UnexpectedErrors() int64 {
	var n int64
	for _, e := range r.Endpoints {
		n += e.unexpected()
	}
	if r.Warmup != nil {
		n += r.Warmup.Unexpected
	}
	return n
}

func (st Stats) unexpected() int64 {
	var n int64
	for _, c := range st.Errors {
		n += c
	}
	return n
}

// recorder collects one worker's measurements; workers never share one.
type recorder struct {
	lat    map[string][]time.Duration
	ok     map[string]int64
	errors map[string]map[string]int64
}

func newRecorder() *recorder {
	return &recorder{lat: map[string][]time.Duration{}, ok: map[string]int64{}, errors: map[string]map[string]int64{}}
}

func (r *recorder) add(endpoint string, d time.Duration, outcome string) {
	r.lat[endpoint] = append(r.lat[endpoint], d)
	if outcome == "" {
		r.ok[endpoint]++
		return
	}
	if r.errors[endpoint] == nil {
		r.errors[endpoint] = map[string]int64{}
	}
	r.errors[endpoint][outcome]++
}

// engine runs the scenario's workers.
type engine struct {
	cfg     Config
	conns   []*conn // each client's own, for the measured requests (made by phase)
	site    *site
	count   int          // requests of the phase (warm-up or run), 0 for no bound
	issued  atomic.Int64 // requests of the phase started, for count
	done    atomic.Int64 // requests of the phase finished, for progress
	failed  atomic.Int64
	nextBag atomic.Int64
	out     atomic.Bool // the scan pool ran dry
	start   time.Time   // of the phase: request n of a paced run is due n/Rate seconds after it
}

// unpacedScansPerSecond is the most custody scans a second an unpaced run is given bags for
// (Config.Bags).
const unpacedScansPerSecond = 2000.0

// bagsToSeed is how many bags the run prepares: one per client for the bedside (verifications
// of one bag queue on its row lock), and for custody scans Config.Bags or, when that is 0,
// enough for the run and its warm-up, two scans a bag, at the run's rate when it is paced and
// at unpacedScansPerSecond when it is not, half of it in a mixed run.
func (cfg Config) bagsToSeed() (verifyBags, scanBags int) {
	if cfg.Scenario != ScenarioScan {
		verifyBags = cfg.Concurrency
	}
	if cfg.Scenario == ScenarioVerify {
		return verifyBags, 0
	}
	if cfg.Bags > 0 {
		return verifyBags, cfg.Bags
	}
	perSecond := unpacedScansPerSecond
	if cfg.Rate > 0 {
		perSecond = cfg.Rate
	}
	scans := float64(cfg.Count)
	if cfg.Count <= 0 {
		scans = perSecond * cfg.Duration.Seconds()
	}
	scans += perSecond * cfg.Warmup.Seconds()
	if cfg.Scenario == ScenarioMixed {
		scans /= 2
	}
	return verifyBags, int(math.Ceil(scans/2)) + cfg.Concurrency
}

// Run seeds the site, drives the scenario, measures the baselines and returns the report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	if cfg.Scenario == ScenarioPages {
		return runPages(ctx, cfg)
	}
	c := newClient(cfg.Target, cfg.Concurrency)
	verifyBags, scanBags := cfg.bagsToSeed()
	fmt.Fprintf(cfg.Progress, "seeding through the API: %d users, %d bags for the bedside, %d bags for custody scans\n", 6, verifyBags, scanBags)
	s, err := seed(ctx, c, cfg, verifyBags, scanBags, cfg.Progress)
	if err != nil {
		return Report{}, fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(cfg.Progress, "seeded in %s with %d requests (run tag %s)\n", s.seedTime.Round(time.Millisecond), s.seedRequests, s.tag)

	rep := Report{Scenario: cfg.Scenario, Concurrency: cfg.Concurrency, Rate: cfg.Rate, SeedTime: s.seedTime, SeedRequests: s.seedRequests}

	e := &engine{cfg: cfg, site: s}
	defer e.closeConns()
	if cfg.Warmup > 0 {
		fmt.Fprintf(cfg.Progress, "warming up for %s (not counted)\n", cfg.Warmup)
		rep.Warmup = e.warmUp(ctx)
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
	}
	if cfg.Rate > 0 {
		fmt.Fprintf(cfg.Progress, "running %s with %d clients, paced at %.0f requests/s\n", cfg.Scenario, cfg.Concurrency, cfg.Rate)
	} else {
		fmt.Fprintf(cfg.Progress, "running %s with %d clients\n", cfg.Scenario, cfg.Concurrency)
	}
	var recs []*recorder
	rep.Elapsed, recs = e.drive(ctx)
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	// The baselines come after the run: each of their connections creates and drops a table,
	// and with them just before the run its first verifications took 120-140 ms on the
	// server, against 10-45 ms without (PostgreSQL's backends reloading the catalog caches
	// those changes invalidated).
	if cfg.DatabaseURL != "" {
		fmt.Fprintf(cfg.Progress, "measuring PostgreSQL baselines (%s each, %d connections)\n", cfg.BaselineDuration, cfg.Concurrency)
		if rep.baseline, err = measureBaseline(ctx, cfg.DatabaseURL, s.tag, cfg.Concurrency, cfg.BaselineDuration, cfg.Rate); err != nil {
			return Report{}, fmt.Errorf("baseline: %w", err)
		}
	}
	rep.PoolExhausted = e.out.Load()
	rep.Endpoints = merge(recs, rep.Elapsed)
	for _, st := range rep.Endpoints {
		rep.Requests += st.Requests
	}
	rep.PerSecond = float64(rep.Requests) / rep.Elapsed.Seconds()
	return rep, nil
}

// drive runs the clients until the run's duration or count is reached, and returns how long
// it took and each client's measurements. Requests still in flight at the end are cut off.
func (e *engine) drive(ctx context.Context) (time.Duration, []*recorder) {
	runCtx := ctx
	if e.cfg.Count <= 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, e.cfg.Duration)
		defer cancel()
	}
	return e.phase(runCtx, runCtx, e.cfg.Count)
}

// closeConns closes the clients' connections.
func (e *engine) closeConns() {
	for _, cn := range e.conns {
		_ = cn.close()
	}
}

// warmUp runs the clients for the warm-up and sums up its requests. Those in flight at its
// end are waited for, so that the timed run starts with none of them.
func (e *engine) warmUp(ctx context.Context) *Warmup {
	claimCtx, cancel := context.WithTimeout(ctx, e.cfg.Warmup)
	defer cancel()
	elapsed, recs := e.phase(claimCtx, ctx, 0)
	// One percentile over every endpoint's latencies: merge gives one for each.
	var all []time.Duration
	for _, r := range recs {
		for _, ds := range r.lat {
			all = append(all, ds...)
		}
	}
	var pooled Stats
	summarize(&pooled, all, elapsed)
	w := &Warmup{Elapsed: elapsed, Requests: int64(len(all)), P99: pooled.P99, Max: pooled.Max}
	for _, st := range merge(recs, elapsed) {
		w.Unexpected += st.unexpected()
	}
	return w
}

// phase runs the clients, each claiming requests until claimCtx ends or count (when above 0)
// were claimed and sending them with reqCtx, and returns how long it took and each client's
// measurements.
func (e *engine) phase(claimCtx, reqCtx context.Context, count int) (time.Duration, []*recorder) {
	if e.conns == nil {
		e.conns = make([]*conn, e.cfg.Concurrency)
		for w := range e.conns {
			e.conns[w], _ = newConn(e.cfg.Target) // the target was checked (Config.validate)
		}
	}
	e.count = count
	e.issued.Store(0)
	e.done.Store(0)
	e.failed.Store(0)
	recs := make([]*recorder, e.cfg.Concurrency)
	var wg sync.WaitGroup
	e.start = time.Now()
	stopProgress := e.progress(e.start)
	for w := range e.cfg.Concurrency {
		recs[w] = newRecorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.worker(claimCtx, reqCtx, w, recs[w])
		}()
	}
	wg.Wait()
	elapsed := time.Since(e.start)
	stopProgress()
	return elapsed, recs
}

func (e *engine) progress(start time.Time) (stop func()) {
	last, lastAt := int64(0), start
	return everySecond(func(now time.Time) {
		n := e.done.Load()
		fmt.Fprintf(e.cfg.Progress, "%5.0fs  %8d requests  %7.0f/s  %d unexpected\n",
			now.Sub(start).Seconds(), n, float64(n-last)/now.Sub(lastAt).Seconds(), e.failed.Load())
		last, lastAt = n, now
	})
}

// everySecond calls report once a second until stop is called; stop returns after the last
// call.
func everySecond(report func(now time.Time)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				report(now)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// claim reserves the next request and returns when it is due: now, or in a paced run its
// place in the schedule, waited for when still ahead. false ends the worker.
func (e *engine) claim(ctx context.Context) (due time.Time, ok bool) {
	if ctx.Err() != nil {
		return time.Time{}, false
	}
	n := e.issued.Add(1)
	if e.count > 0 && n > int64(e.count) {
		return time.Time{}, false
	}
	if e.cfg.Rate <= 0 {
		return time.Now(), true
	}
	due = dueAt(e.start, e.cfg.Rate, n-1)
	return due, waitUntil(ctx, due)
}

// dueAt is when request n (from 0) of a run paced at rate a second from start is due.
func dueAt(start time.Time, rate float64, n int64) time.Time {
	return start.Add(time.Duration(float64(n) / rate * float64(time.Second)))
}

// waitUntil waits for t, and tells false when ctx ended first.
func waitUntil(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// worker runs one client, claiming its requests with claimCtx and sending them with ctx. In
// the scan scenario it takes the next bag of the pool, dispatches it and receives it; in the
// mixed one it verifies its own bag between two scans.
func (e *engine) worker(claimCtx, ctx context.Context, w int, rec *recorder) {
	s := e.site
	var vb *bag
	if len(s.verifyBags) > 0 {
		vb = s.verifyBags[w%len(s.verifyBags)]
	}
	var sb *bag
	cn := e.conns[w]
	step := 0
	for {
		if e.cfg.Scenario == ScenarioVerify || (e.cfg.Scenario == ScenarioMixed && step%2 == 0) {
			due, ok := e.claim(claimCtx)
			if !ok {
				return
			}
			e.verify(ctx, rec, cn, due, vb)
		} else {
			if sb == nil {
				i := int(e.nextBag.Add(1) - 1)
				if i >= len(s.scanBags) {
					e.out.Store(true)
					return
				}
				sb = s.scanBags[i]
				due, ok := e.claim(claimCtx)
				if !ok {
					return
				}
				e.send(ctx, rec, cn, due, EndpointDispatch, s.pharmacist, sb.dispatchBody, http.StatusCreated, nil)
			} else {
				due, ok := e.claim(claimCtx)
				if !ok {
					return
				}
				e.send(ctx, rec, cn, due, EndpointReceive, s.nurse, sb.receiveBody, http.StatusCreated, nil)
				sb = nil
			}
		}
		step++
	}
}

func (e *engine) verify(ctx context.Context, rec *recorder, cn *conn, due time.Time, b *bag) {
	e.send(ctx, rec, cn, due, EndpointVerify, e.site.nurse, b.verifyBody, http.StatusOK, func(body []byte) string {
		var v struct {
			Pass   bool `json:"pass"`
			Checks []struct {
				Code string `json:"code"`
				Pass bool   `json:"pass"`
			} `json:"checks"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return "200 unreadable"
		}
		if !v.Pass {
			for _, c := range v.Checks {
				if !c.Pass {
					return "200 stop " + c.Code
				}
			}
			return "200 stop"
		}
		return ""
	})
}

// send makes one measured request on the client's connection cn, due at due (its latency
// counts from then); check, if given, judges a body with the expected status.
func (e *engine) send(ctx context.Context, rec *recorder, cn *conn, due time.Time, endpoint, token string, body []byte, want int, check func([]byte) string) {
	path := endpoint[len("POST "):]
	status, resp, err := cn.post(ctx, path, token, body)
	d := time.Since(due)
	if err != nil && ctx.Err() != nil {
		return // the run ended while this request was in flight: not a measurement
	}
	outcome := ""
	switch {
	case err != nil:
		outcome = "transport"
	case status != want:
		outcome = strconv.Itoa(status)
	case check != nil:
		outcome = check(resp)
	}
	if outcome != "" {
		e.failed.Add(1)
	}
	e.done.Add(1)
	rec.add(endpoint, d, outcome)
}

func merge(recs []*recorder, elapsed time.Duration) []Stats {
	byName := map[string]*Stats{}
	lat := map[string][]time.Duration{}
	for _, r := range recs {
		for ep, ds := range r.lat {
			st := byName[ep]
			if st == nil {
				st = &Stats{Endpoint: ep, Errors: map[string]int64{}}
				byName[ep] = st
			}
			st.Requests += int64(len(ds))
			st.OK += r.ok[ep]
			for k, v := range r.errors[ep] {
				st.Errors[k] += v
			}
			lat[ep] = append(lat[ep], ds...)
		}
	}
	var out []Stats
	for ep, st := range byName {
		summarize(st, lat[ep], elapsed)
		out = append(out, *st)
	}
	order := []string{EndpointVerify, EndpointDispatch, EndpointReceive}
	for _, p := range dailyPages {
		order = append(order, p.name)
	}
	sort.Slice(out, func(i, j int) bool {
		return slices.Index(order, out[i].Endpoint) < slices.Index(order, out[j].Endpoint)
	})
	return out
}

// summarize fills the rate and the percentiles from the latencies.
func summarize(st *Stats, ds []time.Duration, elapsed time.Duration) {
	slices.Sort(ds)
	pct := func(p float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		return ds[max(0, min(len(ds)-1, int(math.Ceil(p*float64(len(ds))))-1))]
	}
	st.PerSecond = float64(len(ds)) / elapsed.Seconds()
	st.P50, st.P95, st.P99 = pct(0.50), pct(0.95), pct(0.99)
	if len(ds) > 0 {
		st.Max = ds[len(ds)-1]
	}
}

package loadtest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ScenarioPages opens the pages people open every day, on a site seeded by `cordtrace-load
// seed`, logged in as its users qa1 and doctor.s01 with -admin-password.
const ScenarioPages = "pages"

// Users the pages scenario logs in as: seeded by SeedHistory.
const (
	pagesQA     = "qa1"
	pagesDoctor = "doctor.s01"
)

// dailyPage is one page measured: its name in the report, who opens it and its address, with
// {lot} or {patient} standing for an id drawn at each request.
type dailyPage struct {
	name, user, path string
}

var dailyPages = []dailyPage{
	{"GET /lots", pagesQA, "/lots"},
	{"GET /lots/{id}", pagesQA, "/lots/{lot}"},
	{"GET /trace/lots/{id}", pagesQA, "/trace/lots/{lot}"},
	{"GET /patients/{id}", pagesDoctor, "/patients/{patient}"},
	{"GET /trace/patients/{id}", pagesDoctor, "/trace/patients/{patient}"},
	{"GET /dashboards/lab", pagesQA, "/dashboards/lab"},
	{"GET /dashboards/lab?days=1825", pagesQA, "/dashboards/lab?days=1825"},
	{"GET /dashboards/stock", pagesQA, "/dashboards/stock"},
	{"GET /dashboards/compliance", pagesQA, "/dashboards/compliance"},
	{"GET /dashboards/compliance?period=week", pagesQA, "/dashboards/compliance?period=week"},
}

// pageIDs are the lots and patients the pages are opened for.
type pageIDs struct {
	lots, patients []int64
}

// runPages logs in, finds lots (the newest released ones and the oldest, used up and
// expired) and patients infused from them, opens every page once to warm up, then
// Config.Count rounds of every page (or rounds until Config.Duration), and reports each
// page's latency.
func runPages(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Count <= 0 && cfg.Duration <= 0 {
		cfg.Count = 50
	}
	api := newClient(cfg.Target, cfg.Concurrency)
	ids, err := findPageIDs(ctx, api, cfg.AdminPassword)
	if err != nil {
		return Report{}, err
	}
	fmt.Fprintf(cfg.Progress, "pages: %d lots and %d patients to open\n", len(ids.lots), len(ids.patients))
	browsers := map[string]*http.Client{}
	for _, u := range []string{pagesQA, pagesDoctor} {
		if browsers[u], err = browserLogin(ctx, cfg.Target, u, cfg.AdminPassword); err != nil {
			return Report{}, err
		}
	}
	open := func(ctx context.Context, rng *rand.Rand, p dailyPage) (time.Duration, string) {
		path := strings.NewReplacer("{lot}", strconv.FormatInt(ids.lots[rng.IntN(len(ids.lots))], 10),
			"{patient}", strconv.FormatInt(ids.patients[rng.IntN(len(ids.patients))], 10)).Replace(p.path)
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(cfg.Target, "/")+path, nil)
		if err != nil {
			return 0, "request"
		}
		res, err := browsers[p.user].Do(req)
		if err != nil {
			return time.Since(start), "transport"
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		d := time.Since(start)
		switch {
		case err != nil:
			return d, "transport"
		case res.StatusCode != http.StatusOK:
			return d, strconv.Itoa(res.StatusCode)
		}
		return d, ""
	}

	rep := Report{Scenario: cfg.Scenario, Concurrency: cfg.Concurrency}
	warm := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	var warmLat []time.Duration
	var warmBad int64
	for _, p := range dailyPages {
		d, outcome := open(ctx, rng, p)
		warmLat = append(warmLat, d)
		if outcome != "" {
			warmBad++
		}
	}
	var pooled Stats
	summarize(&pooled, warmLat, time.Since(warm))
	rep.Warmup = &Warmup{Elapsed: time.Since(warm), Requests: int64(len(warmLat)), P99: pooled.P99, Max: pooled.Max, Unexpected: warmBad}

	runCtx := ctx
	if cfg.Count <= 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	total := int64(cfg.Count * len(dailyPages))
	var next, done atomic.Int64
	recs := make([]*recorder, cfg.Concurrency)
	start := time.Now()
	stop := everySecond(func(now time.Time) {
		fmt.Fprintf(cfg.Progress, "%5.0fs  %6d pages opened\n", now.Sub(start).Seconds(), done.Load())
	})
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		recs[w] = newRecorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for runCtx.Err() == nil {
				i := next.Add(1) - 1
				if total > 0 && i >= total {
					return
				}
				p := dailyPages[i%int64(len(dailyPages))]
				d, outcome := open(runCtx, rng, p)
				if runCtx.Err() != nil && outcome == "transport" {
					return // the run ended while this page was loading
				}
				recs[w].add(p.name, d, outcome)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	stop()
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	rep.Elapsed = time.Since(start)
	rep.Endpoints = merge(recs, rep.Elapsed)
	for _, st := range rep.Endpoints {
		rep.Requests += st.Requests
	}
	rep.PerSecond = float64(rep.Requests) / rep.Elapsed.Seconds()
	return rep, nil
}

// findPageIDs asks the API, as QA, for the newest released lots and the oldest expired ones,
// and for the patients infused from them.
func findPageIDs(ctx context.Context, c *client, password string) (pageIDs, error) {
	var login struct {
		Token string `json:"token"`
	}
	if err := c.call(ctx, 200, "POST", "/api/v1/auth/login", "", map[string]string{"username": pagesQA, "password": password}, &login); err != nil {
		return pageIDs{}, fmt.Errorf("log in as %s, a user of a site seeded by `cordtrace-load seed` (give its -password as -admin-password): %w", pagesQA, err)
	}
	var ids pageIDs
	for _, status := range []string{"released", "expired"} {
		var list struct {
			Lots []struct {
				ID int64 `json:"id"`
			} `json:"lots"`
		}
		if err := c.call(ctx, 200, "GET", "/api/v1/lots?limit=100&status="+status, login.Token, nil, &list); err != nil {
			return ids, err
		}
		for _, l := range list.Lots {
			ids.lots = append(ids.lots, l.ID)
		}
	}
	for _, id := range ids.lots {
		if len(ids.patients) >= 200 {
			break
		}
		var lot struct {
			Infused []int64 `json:"infused_patients"`
		}
		if err := c.call(ctx, 200, "GET", "/api/v1/lots/"+strconv.FormatInt(id, 10), login.Token, nil, &lot); err != nil {
			return ids, err
		}
		ids.patients = append(ids.patients, lot.Infused...)
	}
	if len(ids.lots) == 0 || len(ids.patients) == 0 {
		return ids, fmt.Errorf("the site has %d released or expired lots and %d patients infused from them: seed it first (cordtrace-load seed)", len(ids.lots), len(ids.patients))
	}
	return ids, nil
}

// browserLogin logs in through the login form, as a browser does, and returns a client that
// keeps the session's cookie and does not follow redirects (a redirect to the login page is
// an unexpected outcome, not a page).
func browserLogin(ctx context.Context, target, username, password string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"username": {username}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(target, "/")+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("log in as %s: %w", username, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("log in as %s: status %d, want 303", username, res.StatusCode)
	}
	return c, nil
}

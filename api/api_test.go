package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cordtrace/api"
	"cordtrace/domain"
	"cordtrace/labels"
	"cordtrace/store"
	"cordtrace/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const adminPassword = "admin password 1"

// syncBuffer collects log output written from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a running API on a fresh database, with an admin.
type testServer struct {
	t     *testing.T
	url   string
	store *store.Store
	srv   *api.Server
	logs  *syncBuffer
}

func newTestServer(t *testing.T, backend string) *testServer {
	t.Helper()
	return newTestServerWith(t, backend, store.Options{})
}

// newTestServerWith is newTestServer with store options, such as a fixed clock.
func newTestServerWith(t *testing.T, backend string, opts store.Options) *testServer {
	t.Helper()
	return newTestServerConfig(t, backend, opts, api.Config{MetricsToken: testMetricsToken})
}

// newTestServerConfig is newTestServerWith with server settings too (Logger and BodyLimit are
// the tests' own).
//
// The store gets one connection unless opts says otherwise, the smallest pool an operator can
// set (CORDTRACE_DB_CONNS): a handler that held a connection while waiting for a second would
// hang here until the database timeout and fail its test.
func newTestServerConfig(t *testing.T, backend string, opts store.Options, cfg api.Config) *testServer {
	t.Helper()
	if opts.MaxConns == 0 {
		opts.MaxConns = 1
	}
	st := storetest.Open(t, backend, opts)
	if _, err := st.EnsureAdmin(context.Background(), adminPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsureLabelKey(context.Background(), func() (domain.LabelKey, error) {
		kid, pub, priv, err := labels.NewLabelKey(time.Now())
		return domain.LabelKey{KID: kid, PublicKey: pub, PrivatePEM: priv}, err
	}); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg.Logger, cfg.BodyLimit = slog.New(slog.NewJSONHandler(logs, nil)), "4K"
	srv := api.New(api.ServicesOf(st),
		cfg)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testServer{t: t, url: hs.URL, store: st, srv: srv, logs: logs}
}

// eachServer runs fn against a server on every backend.
func eachServer(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) { fn(t, newTestServer(t, b)) })
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// errorOf returns the "error" object of an error response, failing the test if it is not there.
func (r response) errorOf(t *testing.T) map[string]any {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok || e["code"] == "" || e["message"] == "" {
		t.Fatalf("not an error body: %s", r.body)
	}
	return e
}

func (ts *testServer) do(method, path, token string, body any) response {
	ts.t.Helper()
	var reqBody []byte
	switch b := body.(type) {
	case nil:
	case string:
		reqBody = []byte(b)
	default:
		reqBody, _ = json.Marshal(b)
	}
	return ts.raw(method, path, token, reqBody, false)
}

func (ts *testServer) login(username, password string) string {
	ts.t.Helper()
	r := ts.do("POST", "/api/v1/auth/login", "", map[string]string{"username": username, "password": password})
	if r.status != http.StatusOK {
		ts.t.Fatalf("login %s: %d %s", username, r.status, r.body)
	}
	return r.json(ts.t)["token"].(string)
}

// userWith creates a user holding roles and returns a session token for them.
func (ts *testServer) userWith(adminToken, username string, roles ...domain.Role) string {
	ts.t.Helper()
	r := ts.do("POST", "/api/v1/users", adminToken, map[string]any{
		"username": username, "full_name": "Full " + username, "password": "a good password", "roles": roles,
	})
	if r.status != http.StatusCreated {
		ts.t.Fatalf("create %s: %d %s", username, r.status, r.body)
	}
	return ts.login(username, "a good password")
}

func TestLoginMeLogout(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		r := ts.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": adminPassword})
		if r.status != http.StatusOK {
			t.Fatalf("login: %d %s", r.status, r.body)
		}
		body := r.json(t)
		token, _ := body["token"].(string)
		user, _ := body["user"].(map[string]any)
		if token == "" || user["username"] != "admin" || user["full_name"] == nil || user["id"] == nil {
			t.Fatalf("login body = %s", r.body)
		}
		if roles, _ := user["roles"].([]any); len(roles) != 1 || roles[0] != "admin" {
			t.Fatalf("roles = %v", user["roles"])
		}
		if _, leaked := user["password_hash"]; leaked {
			t.Fatal("login answer carries the password hash")
		}
		cookie := r.header.Get("Set-Cookie")
		if !strings.Contains(cookie, api.SessionCookie+"="+token) || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
			t.Fatalf("cookie = %q", cookie)
		}

		if r := ts.do("GET", "/api/v1/me", token, nil); r.status != 200 || r.json(t)["username"] != "admin" {
			t.Fatalf("me: %d %s", r.status, r.body)
		}
		// The web pages authenticate with the cookie instead of the header.
		req, _ := http.NewRequest("GET", ts.url+"/api/v1/me", nil)
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: token})
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("me by cookie: %v %v", res.StatusCode, err)
		}
		res.Body.Close()

		if r := ts.do("POST", "/api/v1/auth/logout", token, nil); r.status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		if r := ts.do("GET", "/api/v1/me", token, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("me after logout: %d", r.status)
		}
	})
}

func TestErrorsNameTheProblem(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		nurse := ts.userWith(admin, "nurse.ada", domain.RoleNurse)
		validUser := map[string]any{"username": "qc.bo", "full_name": "Bo", "password": "long enough pw", "roles": []string{"qc"}}
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			code, field, inMessage    string
		}{
			{"malformed JSON", "POST", "/api/v1/users", admin, `{"username":`, 400, "invalid", "", "cut off"},
			{"not JSON", "POST", "/api/v1/users", admin, `hello`, 400, "invalid", "", "not valid json"},
			{"empty body", "POST", "/api/v1/users", admin, ``, 400, "invalid", "", "empty"},
			{"two objects", "POST", "/api/v1/users", admin, `{} {}`, 400, "invalid", "", "exactly one"},
			{"misspelt field", "POST", "/api/v1/users", admin, `{"usrname":"x"}`, 400, "invalid", "usrname", "spelling"},
			{"wrong type", "POST", "/api/v1/users", admin, `{"username":5}`, 400, "invalid", "username", "string"},
			{"rule on a field", "POST", "/api/v1/users", admin, map[string]any{"username": "ok.name", "full_name": "X", "password": "short", "roles": []string{"qc"}}, 400, "invalid", "password", "at least"},
			{"unknown role", "POST", "/api/v1/users", admin, map[string]any{"username": "ok.name", "full_name": "X", "password": "long enough pw", "roles": []string{"chef"}}, 400, "invalid", "roles", "not a role"},
			{"body too large", "POST", "/api/v1/users", admin, `{"username":"` + strings.Repeat("a", 5000) + `"}`, 413, "too_large", "", "too large"},
			{"no token", "GET", "/api/v1/me", "", nil, 401, "unauthenticated", "", "log in"},
			{"bad token", "GET", "/api/v1/me", "nope", nil, 401, "unauthenticated", "", "log in"},
			{"wrong role", "POST", "/api/v1/users", nurse, validUser, 403, "forbidden", "", "admin"},
			{"no such route", "GET", "/api/v1/nothing-here", admin, nil, 404, "not_found", "", "no such"},
			{"missing login field", "POST", "/api/v1/auth/login", "", map[string]string{"username": "admin"}, 400, "invalid", "password", "required"},
			{"wrong password", "POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "not it at all"}, 401, "unauthenticated", "", "wrong"},
			{"bad query", "GET", "/api/v1/audit?limit=-3", admin, nil, 400, "invalid", "limit", "whole number"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.do(tc.method, tc.path, tc.token, tc.body)
				if r.status != tc.status {
					t.Fatalf("status = %d, want %d: %s", r.status, tc.status, r.body)
				}
				e := r.errorOf(t)
				if e["code"] != tc.code {
					t.Errorf("code = %v, want %s", e["code"], tc.code)
				}
				if tc.field != "" && e["field"] != tc.field {
					t.Errorf("field = %v, want %s", e["field"], tc.field)
				}
				if !strings.Contains(strings.ToLower(e["message"].(string)), tc.inMessage) {
					t.Errorf("message %q does not say %q", e["message"], tc.inMessage)
				}
				if e["request_id"] == "" || e["request_id"] != r.header.Get("X-Request-Id") {
					t.Errorf("request_id = %v, header %q", e["request_id"], r.header.Get("X-Request-Id"))
				}
			})
		}
		// A duplicate is a conflict, and none of the refused requests wrote anything.
		if r := ts.do("POST", "/api/v1/users", admin, validUser); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/users", admin, validUser); r.status != 409 || r.errorOf(t)["code"] != "conflict" {
			t.Fatalf("duplicate: %d %s", r.status, r.body)
		}
		r := ts.do("GET", "/api/v1/audit?entity_type=user&limit=1000", admin, nil)
		var creates int
		for _, e := range r.json(t)["entries"].([]any) {
			if e.(map[string]any)["action"] == "user.create" {
				creates++
			}
		}
		if creates != 3 { // admin, nurse.ada, qc.bo
			t.Fatalf("user.create entries = %d, want 3", creates)
		}
	})
}

func TestAuditEndpoints(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		ts.userWith(admin, "qa.cy", domain.RoleQA)
		r := ts.do("GET", "/api/v1/audit?entity_type=user&entity_id=2", admin, nil)
		entries := r.json(t)["entries"].([]any)
		if r.status != 200 || len(entries) != 1 {
			t.Fatalf("audit: %d %s", r.status, r.body)
		}
		e := entries[0].(map[string]any)
		for _, k := range []string{"seq", "at", "user_name", "role", "action", "entity_type", "entity_id", "after", "request_id", "prev_hash", "hash"} {
			if _, ok := e[k]; !ok {
				t.Errorf("entry lacks %s: %v", k, e)
			}
		}
		if e["user_name"] != "Administrator" || e["role"] != "admin" {
			t.Errorf("entry actor = %v / %v", e["user_name"], e["role"])
		}
		r = ts.do("GET", "/api/v1/audit/verify", admin, nil)
		v := r.json(t)
		if r.status != 200 || v["ok"] != true || v["first_bad"] != nil || v["entries"].(float64) < 3 {
			t.Fatalf("verify: %d %s", r.status, r.body)
		}
		if !strings.Contains(ts.logs.String(), `"request_id"`) || !strings.Contains(ts.logs.String(), `"route":"/api/v1/audit/verify"`) {
			t.Fatalf("access log lacks request id or route:\n%s", ts.logs.String())
		}
	})
}

func TestHealthAndReadiness(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	if r := ts.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	if r := ts.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	ts.store.Close()
	r := ts.do("GET", "/readyz", "", nil)
	if r.status != http.StatusServiceUnavailable || r.errorOf(t)["code"] != "unavailable" {
		t.Fatalf("readyz without a database: %d %s", r.status, r.body)
	}
}

func TestRequestIDFromClientIsKeptOnlyWhenSafe(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	for _, tc := range []struct {
		sent string
		kept bool
	}{{"trace-42.a:b", true}, {"evil<script>", false}, {strings.Repeat("x", 65), false}, {"with space", false}} {
		req, _ := http.NewRequest("GET", ts.url+"/healthz", nil)
		req.Header.Set("X-Request-Id", tc.sent)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("X-Request-Id")
		if (got == tc.sent) != tc.kept || got == "" {
			t.Errorf("sent %q, got %q; want kept=%v", tc.sent, got, tc.kept)
		}
	}
}

func TestChangePassword(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		r := ts.do("POST", "/api/v1/me/password", admin, map[string]string{"current_password": "not it", "new_password": "a new password"})
		if r.status != 401 {
			t.Fatalf("wrong current password: %d %s", r.status, r.body)
		}
		r = ts.do("POST", "/api/v1/me/password", admin, map[string]string{"current_password": adminPassword, "new_password": "short"})
		if r.status != 400 || r.errorOf(t)["field"] != "new_password" {
			t.Fatalf("short new password: %d %s", r.status, r.body)
		}
		if r := ts.do("POST", "/api/v1/me/password", admin, map[string]string{"current_password": adminPassword, "new_password": "a new password"}); r.status != 204 {
			t.Fatalf("change: %d %s", r.status, r.body)
		}
		ts.login("admin", "a new password")
		if r := ts.do("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": adminPassword}); r.status != 401 {
			t.Fatalf("old password still works: %d", r.status)
		}
	})
}

// testMetricsToken opens /metrics on the test servers (api.Config.MetricsToken).
const testMetricsToken = "metrics token of the tests"

// /metrics answers only the bearer of the metrics token on the service's address, and not at
// all there without one (it is then served on an address of its own).
func TestMetricsNeedTheToken(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	for token, want := range map[string]int{"": 401, "a guess": 401, testMetricsToken: 200} {
		if r := ts.do("GET", "/metrics", token, nil); r.status != want {
			t.Errorf("/metrics with token %q: %d, want %d", token, r.status, want)
		}
	}
	closed := newTestServerConfig(t, storetest.SQLite, store.Options{}, api.Config{MetricsToken: ""})
	if r := closed.do("GET", "/metrics", testMetricsToken, nil); r.status != 404 {
		t.Errorf("/metrics without a configured token: %d, want 404", r.status)
	}
}

func TestMetrics(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	ts.do("GET", "/api/v1/me", "", nil)
	ts.do("GET", "/api/v1/no-such-thing/12345", "", nil)
	r := ts.do("GET", "/metrics", testMetricsToken, nil)
	body := string(r.body)
	for _, want := range []string{
		`cordtrace_http_requests_total{method="GET",route="/api/v1/me",status="401"} 1`,
		`cordtrace_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me",status="401",le="0.001"}`,
		`route="unmatched"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "12345") {
		t.Error("a raw path id became a metric label")
	}
}

// A request whose client went away before the answer is logged as such (499, WARN), not as
// a server error: the logs' errors are left for the service's own faults.
func TestClientGoneIsNotAServerError(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, "GET", "/api/v1/lots", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		rec := httptest.NewRecorder()
		ts.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != 499 {
			t.Fatalf("status %d (%s), want 499", rec.Code, rec.Body)
		}
		var line map[string]any
		for _, l := range strings.Split(strings.TrimSpace(ts.logs.String()), "\n") {
			if strings.Contains(l, `"status":499`) {
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatal(err)
				}
			}
		}
		if line["level"] != "WARN" || line["client_gone"] == nil || line["err"] != nil {
			t.Fatalf("access log line %v; want level WARN with client_gone and no err", line)
		}
	})
}

// A browser asking for a page gets an error as a page (what was wrong, what to do, the
// request's id), escaped; the JSON API keeps answering JSON (SPEC §11) and FHIR an
// OperationOutcome, whatever the browser accepts.
func TestErrorsForBrowsersArePages(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	get := func(path, accept string) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodGet, ts.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", accept)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, body := get("/no-such-page/<script>", "text/html,application/xhtml+xml")
	if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "<h1>Not Found</h1>") || !strings.Contains(body, "there is no such page or API call; check the address") ||
		!strings.Contains(body, res.Header.Get("X-Request-Id")) || strings.Contains(body, "<script>") {
		t.Fatalf("a missing page for a browser: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	res, body = get("/api/v1/no-such-call", "text/html")
	if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"code"`) {
		t.Fatalf("a missing API call asked for by a browser: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	// FHIR clients get an OperationOutcome, as FHIR wants, whatever they accept.
	res, body = get(api.FHIRPrefix+"/NoSuchResource/1", "text/html")
	if res.StatusCode < 400 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/fhir+json") || !strings.Contains(body, `"OperationOutcome"`) {
		t.Fatalf("a FHIR error asked for by a browser: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
}

// The session cookie set by POST /auth/login is Secure when the server is configured so
// (CORDTRACE_SECURE_COOKIES) or when the request came over HTTPS, here by X-Forwarded-Proto.
func TestLoginCookieSecure(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b, func(t *testing.T) {
			loginCookie := func(ts *testServer, header http.Header) *http.Cookie {
				t.Helper()
				body := strings.NewReader(`{"username":"admin","password":"` + adminPassword + `"}`)
				req, _ := http.NewRequest(http.MethodPost, ts.url+"/api/v1/auth/login", body)
				req.Header.Set("Content-Type", "application/json")
				for k, v := range header {
					req.Header[k] = v
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				for _, ck := range res.Cookies() {
					if ck.Name == api.SessionCookie {
						return ck
					}
				}
				t.Fatalf("login: %d, no session cookie", res.StatusCode)
				return nil
			}
			plain := newTestServer(t, b)
			if loginCookie(plain, nil).Secure {
				t.Error("a plain-HTTP login without the setting got a Secure cookie")
			}
			if !loginCookie(plain, http.Header{"X-Forwarded-Proto": {"https"}}).Secure {
				t.Error("a login through a TLS proxy got a cookie that is not Secure")
			}
			configured := newTestServerConfig(t, b, store.Options{}, api.Config{SecureCookies: true})
			if !loginCookie(configured, nil).Secure {
				t.Error("with SecureCookies the cookie is not Secure")
			}
		})
	}
}

// eligible is a donation just recorded (201), with its donor's tests and screening recorded and
// the donor determined eligible by a QA person of its own, as a lot needs for a normal release.
func (r response) eligible(t *testing.T, ts *testServer) map[string]any {
	t.Helper()
	if r.status != http.StatusCreated {
		t.Fatalf("donation: %d %s", r.status, r.body)
	}
	don := r.json(t)
	storetest.DetermineEligible(t, ts.store, int64(don["id"].(float64)))
	don["eligibility"] = string(domain.Eligible)
	return don
}

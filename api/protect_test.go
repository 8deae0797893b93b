package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"cordtrace/api"
	"cordtrace/domain"
	"cordtrace/store/storetest"
)

// A write that the browser authenticates with the session cookie must come from one of our
// pages and, to the JSON API, be JSON: a form or a script on another site (even a sibling
// sub-domain, which SameSite lets through) is refused. Clients with a bearer token are not
// browsers sending an ambient cookie, and are unaffected.
func TestCrossSiteWritesAreRefused(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		n := 0
		post := func(auth, contentType string, header map[string]string) int {
			t.Helper()
			n++
			body := `{"username":"user` + string(rune('a'+n)) + `","full_name":"A User","password":"a good password","roles":["qc"]}`
			req, _ := http.NewRequest(http.MethodPost, ts.url+"/api/v1/users", strings.NewReader(body))
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			switch auth {
			case "cookie":
				req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: admin})
			case "bearer":
				req.Header.Set("Authorization", "Bearer "+admin)
			}
			for k, v := range header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode
		}
		cases := []struct {
			name        string
			auth, ctype string
			header      map[string]string
			want        int
		}{
			{"a page of another site, text/plain", "cookie", "text/plain", map[string]string{"Origin": "https://evil.example"}, 403},
			{"a sibling sub-domain", "cookie", "application/json", map[string]string{"Origin": "https://other.hospital.example", "Sec-Fetch-Site": "same-site"}, 403},
			{"cross-site by Sec-Fetch-Site alone", "cookie", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
			{"our own page, but a form's body", "cookie", "application/x-www-form-urlencoded", map[string]string{"Sec-Fetch-Site": "same-origin"}, 415},
			{"our own page, text/plain", "cookie", "text/plain", nil, 415},
			{"our own page, JSON", "cookie", "application/json", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": ts.url}, 201},
			{"a bearer client, whatever its origin", "bearer", "application/json", map[string]string{"Origin": "https://tools.example"}, 201},
		}
		for _, c := range cases {
			if got := post(c.auth, c.ctype, c.header); got != c.want {
				t.Errorf("%s: %d, want %d", c.name, got, c.want)
			}
		}
	})
}

// Every answer carries the security headers, not-found pages and errors included; API answers
// are never cached; folders of static files are not listed; an address that is not UTF-8 is a
// 400, not a 500.
func TestEveryAnswerIsProtected(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	registerWeb(t, ts)
	get := func(path, accept string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.url+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	for _, c := range []struct {
		path, accept string
		status       int
		noStore      bool
	}{
		{"/login", "text/html", 200, false},
		{"/no-such-page", "text/html", 404, false},
		{"/api/v1/no-such-call", "", 404, true},
		{"/api/v1/me", "", 401, true},
		{"/api/v1/label-keys", "", 200, true},
		{"/static/app.css", "", 200, false},
	} {
		res := get(c.path, c.accept)
		h := res.Header
		if res.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.path, res.StatusCode, c.status)
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: without the security headers: %v", c.path, h)
		}
		if got := h.Get("Cache-Control") == "no-store"; got != c.noStore {
			t.Errorf("%s: Cache-Control %q", c.path, h.Get("Cache-Control"))
		}
	}
	for _, dir := range []string{"/static/", "/static/vendor/"} {
		if res := get(dir, "text/html"); res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404 and no listing", dir, res.StatusCode)
		}
	}
	for _, bad := range []string{"/%ff", "/lots/%c3%28", "/api/v1/lots/%ff%fe"} {
		if res := get(bad, "text/html"); res.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", bad, res.StatusCode)
		}
	}
}

// After logging in, the page goes back only to a path of this site, read as a browser reads
// it: a tab or a line break that a browser drops does not make "/\t/evil.example" a path.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	registerWeb(t, ts)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for next, want := range map[string]string{"/\t/evil.example": "/", "/\n/evil.example": "/", "/lots": "/lots"} {
		res, err := client.PostForm(ts.url+"/login", url.Values{"username": {"admin"}, "password": {adminPassword}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || strings.ContainsAny(loc, "\t\n") || strings.Contains(loc, "evil") || (want != "/" && loc != want) {
			t.Errorf("next %q: %d Location %q", next, res.StatusCode, loc)
		}
	}
}

// Spraying a few passwords over many accounts from one client: after
// domain.LoginFailuresPerAddress failures in the window, the client is told to wait (429 with
// Retry-After, the wait in the message), even with a right password; another client is not.
func TestPasswordSprayingIsThrottled(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		for i := range 12 {
			ts.userWith(admin, fmt.Sprintf("nurse.%02d", i), domain.RoleNurse)
		}
		login := func(user, pw, from string) response {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, ts.url+"/api/v1/auth/login", strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", from) // the test's proxy, on the loopback, is trusted
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return response{status: res.StatusCode, header: res.Header, body: b}
		}
		refused := 0
		for i := range domain.LoginFailuresPerAddress {
			if r := login(fmt.Sprintf("nurse.%02d", i), "Winter2026!", "198.51.100.7"); r.status == 401 {
				refused++
			}
		}
		if refused != domain.LoginFailuresPerAddress {
			t.Fatalf("%d of %d wrong passwords answered 401", refused, domain.LoginFailuresPerAddress)
		}
		r := login("nurse.11", "a good password", "198.51.100.7")
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(r.errorOf(t)["message"]), "wait ") {
			t.Fatalf("the right password after the spray: %d %v %s, want 429 with Retry-After and the wait", r.status, r.header, r.body)
		}
		if r := login("nurse.11", "a good password", "203.0.113.9"); r.status != http.StatusOK {
			t.Fatalf("another client: %d %s", r.status, r.body)
		}
	})
}

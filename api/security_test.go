package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"

	"cordtrace/api"
	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
	"cordtrace/web"
)

// publicRoutes are the API routes open without a session, on purpose. A new route without a
// permission fails TestEveryRouteFollowsThePermissionTable until it is added here.
var publicRoutes = map[string]bool{
	"POST /api/v1/auth/login": true, // how a session starts
	"GET /api/v1/label-keys":  true, // public keys, so that anyone can check a printed label
	"GET /fhir/metadata":      true, // the FHIR CapabilityStatement, read by clients before they log in
}

// Every /api/v1 and /fhir route the router serves, as read from the router itself, is called as
// anonymous and as each role: a caller whose roles lack the route's permission gets 403
// (anonymous 401), one whose roles hold it gets past authorization (the empty body may then be
// refused, never with 401, 403 or a server error). A route that bypasses the permission table
// fails the test.
func TestEveryRouteFollowsThePermissionTable(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		for _, role := range domain.AllRoles {
			ts.userWith(admin, "only."+string(role), role)
		}
		declared := map[string]api.Route{}
		for _, rt := range ts.srv.Routes() {
			declared[rt.Method+" "+rt.Path] = rt
		}
		var apiRoutes int
		for _, er := range ts.srv.Echo().Routes() {
			fhir := strings.HasPrefix(er.Path, "/fhir/")
			if !strings.HasPrefix(er.Path, api.APIPrefix+"/") && !fhir {
				continue
			}
			// FHIR answers errors as an OperationOutcome, the rest of the API as {"error": …}.
			errorCode := func(r response) any {
				if fhir { // the OperationOutcome's issue type
					o := r.json(t)
					issues, _ := o["issue"].([]any)
					if o["resourceType"] != "OperationOutcome" || len(issues) != 1 {
						return o["resourceType"]
					}
					return issues[0].(map[string]any)["code"]
				}
				return r.errorOf(t)["code"]
			}
			apiRoutes++
			key := er.Method + " " + er.Path
			path := echoParam.ReplaceAllString(er.Path, "1")
			rt, ok := declared[key]
			if !ok {
				t.Errorf("%s is served but not in the permission table: register it with Server.handle and a permission", key)
				continue
			}
			if rt.Permission == "" {
				if !publicRoutes[key] {
					t.Errorf("%s needs no session: add a permission, or list it in publicRoutes if it must be public", key)
				}
				if r := ts.do(er.Method, path, "", nil); r.status == 401 || r.status == 403 || r.status >= 500 {
					t.Errorf("%s anonymous: %d, want a public route to answer: %s", key, r.status, r.body)
				}
				continue
			}
			if domain.RolesFor(rt.Permission) == nil {
				t.Errorf("%s needs permission %q, which the permission table does not know", key, rt.Permission)
				continue
			}
			if r := ts.do(er.Method, path, "", nil); r.status != http.StatusUnauthorized || (!fhir && errorCode(r) != domain.EUnauthenticated) || (fhir && errorCode(r) != "login") {
				t.Errorf("%s anonymous: %d %s, want 401 unauthenticated", key, r.status, r.body)
			}
			for _, role := range domain.AllRoles {
				// A fresh session per call: a route such as logout may end the one it is called with.
				token := ts.login("only."+string(role), "a good password")
				allowed := slices.Contains(domain.RolesFor(rt.Permission), role)
				r := ts.do(er.Method, path, token, nil)
				switch {
				case allowed && (r.status == 401 || r.status == 403 || r.status >= 500):
					t.Errorf("%s as %s: %d %s; the table grants %s to %s", key, role, r.status, r.body, rt.Permission, role)
				case !allowed && (r.status != http.StatusForbidden || (!fhir && errorCode(r) != domain.EForbidden) || (fhir && errorCode(r) != "forbidden")):
					t.Errorf("%s as %s: %d %s; want 403, the table does not grant %s to %s", key, role, r.status, r.body, rt.Permission, role)
				}
			}
		}
		if apiRoutes < len(ts.srv.Routes()) || apiRoutes < 40 {
			t.Fatalf("found %d API routes in the router, %d declared: the enumeration is broken", apiRoutes, len(ts.srv.Routes()))
		}
	})
}

// Through the API: the fifth wrong password locks the account for exactly 15 minutes (told
// only to the right password), the lock is in the audit trail, other accounts are untouched;
// a session ends after 15 idle minutes, on the header and on the cookie alike.
func TestLoginLockoutAndIdleSessionOverHTTP(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) { testLockoutAndIdle(t, backend) })
	}
}

func testLockoutAndIdle(t *testing.T, backend string) {
	{
		clk := &testClock{t: time.Now().UTC()}
		ts := newTestServerWith(t, backend, store.Options{Now: clk.Now, SessionIdle: 15 * time.Minute})
		admin := ts.login("admin", adminPassword)
		ts.userWith(admin, "nurse.ben", domain.RoleNurse)
		ts.userWith(admin, "nurse.cy", domain.RoleNurse)
		login := func(user, pw string) response {
			return ts.do("POST", "/api/v1/auth/login", "", map[string]string{"username": user, "password": pw})
		}

		for i := 1; i < domain.MaxFailedLogins; i++ {
			if r := login("nurse.ben", "wrong password!"); r.status != 401 || r.errorOf(t)["code"] != domain.EUnauthenticated {
				t.Fatalf("wrong password %d: %d %s", i, r.status, r.body)
			}
		}
		// The fifth locks the account, but answers as a wrong password for an unknown user does:
		// only the right password learns of the lock.
		unknown := login("nobody.here", "wrong password!").errorOf(t)["message"]
		if r := login("nurse.ben", "wrong password!"); r.status != 401 || r.errorOf(t)["code"] != domain.EUnauthenticated || r.errorOf(t)["message"] != unknown {
			t.Fatalf("fifth wrong password: %d %s, want the unknown user's 401", r.status, r.body)
		}
		if r := login("nurse.ben", "a good password"); r.status != 401 || r.errorOf(t)["code"] != domain.EAccountLocked {
			t.Fatalf("right password while locked: %d %s", r.status, r.body)
		}
		if r := login("nurse.cy", "a good password"); r.status != 200 {
			t.Fatalf("another account is affected by the lock: %d %s", r.status, r.body)
		}
		clk.Advance(domain.LockoutDuration - time.Second)
		if r := login("nurse.ben", "a good password"); r.status != 401 || r.errorOf(t)["code"] != domain.EAccountLocked {
			t.Fatalf("right password a second before the lock ends: %d %s", r.status, r.body)
		}
		clk.Advance(time.Second)
		ben := ts.login("nurse.ben", "a good password")

		admin = ts.login("admin", adminPassword) // the first session has been idle 15 minutes
		var locks []map[string]any
		for _, e := range ts.do("GET", "/api/v1/audit?entity_type=user&limit=1000", admin, nil).json(t)["entries"].([]any) {
			if e := e.(map[string]any); e["action"] == "user.lock" {
				locks = append(locks, e)
			}
		}
		if len(locks) != 1 || !strings.Contains(fmt.Sprint(locks[0]["reason"]), "5 failed logins") {
			t.Fatalf("lock audit entries: %v", locks)
		}

		// Idle expiry: use keeps a session alive, 15 idle minutes end it.
		for i := 0; i < 3; i++ {
			clk.Advance(14 * time.Minute)
			if r := ts.do("GET", "/api/v1/me", ben, nil); r.status != 200 {
				t.Fatalf("after %d×14 active minutes: %d %s", i+1, r.status, r.body)
			}
		}
		cookieMe := func() int {
			req, _ := http.NewRequest("GET", ts.url+"/api/v1/me", nil)
			req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: ben})
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if st := cookieMe(); st != 200 {
			t.Fatalf("cookie session: %d", st)
		}
		clk.Advance(15*time.Minute + time.Second)
		r := ts.do("GET", "/api/v1/me", ben, nil)
		if r.status != 401 || !strings.Contains(r.errorOf(t)["message"].(string), "without activity") {
			t.Fatalf("idle session: %d %s", r.status, r.body)
		}
		if st := cookieMe(); st != 401 {
			t.Fatalf("idle session by cookie: %d", st)
		}
	}
}

// auditCount is the number of entries in the audit chain, which must verify.
func (ts *testServer) auditCount(admin string) int {
	ts.t.Helper()
	v := ts.do("GET", "/api/v1/audit/verify", admin, nil).json(ts.t)
	if v["ok"] != true {
		ts.t.Fatalf("audit chain does not verify: %v", v)
	}
	return int(v["entries"].(float64))
}

// raw sends a body as it is, chunked when chunked is set (no Content-Length, so the size limit
// can only be found while reading).
func (ts *testServer) raw(method, path, token string, body []byte, chunked bool) response {
	ts.t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = io.MultiReader(rd) // hides the length from net/http
	}
	req, _ := http.NewRequest(method, ts.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	checkAgainstOpenAPI(ts.t, req, body, res, b)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// Hostile bodies on a representative set of write routes: too large (with and without a
// length), malformed, of the wrong shape, with wrong types or unknown fields, with characters a
// database cannot store. Each is refused with the right status and a field where there is one,
// never with a server error, and none writes anything.
func TestHostileBodiesAreRefusedWithoutWriting(t *testing.T) {
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		lotPath, _ := releasedLot(t, ts, admin, "h")
		qc, qa := ts.login("h.qc", "a good password"), ts.login("h.qa", "a good password")
		doc := ts.userWith(admin, "dr.h", domain.RolePhysician)
		pharm := ts.userWith(admin, "ph.h", domain.RolePharmacist)
		nurse := ts.userWith(admin, "rn.h", domain.RoleNurse)
		routes := []struct {
			path, token string
			textField   string // a string field of the request
			timeField   string // a time field, or ""
		}{
			{"/api/v1/auth/login", "", "username", ""},
			{"/api/v1/users", admin, "full_name", ""},
			{"/api/v1/donations", qc, "eligibility", "collected_at"},
			{"/api/v1/lots", qc, "lot_number", "manufactured_at"},
			{lotPath + "/qc-results", qc, "reason", ""},
			{lotPath + "/recall", qa, "reason", ""},
			{"/api/v1/spec-versions", qa, "reason", ""},
			{"/api/v1/patients", doc, "name", "enrolled_at"},
			{"/api/v1/scans/dispatch", pharm, "code", ""},
			{"/api/v1/bedside/verify", nurse, "wristband", ""},
			{"/api/v1/adverse-events", doc, "description", "onset_at"},
		}
		before := ts.auditCount(admin)
		for _, rt := range routes {
			f := rt.textField
			cases := []struct {
				name    string
				body    string
				chunked bool
				status  int
				field   string
			}{
				{"too large", `{"` + f + `":"` + strings.Repeat("x", 5000) + `"}`, false, 413, ""},
				{"too large, chunked", `{"` + f + `":"` + strings.Repeat("x", 5000) + `"}`, true, 413, ""},
				{"cut off", `{"` + f + `":`, false, 400, ""},
				{"not JSON", `<xml/>`, false, 400, ""},
				{"a list", `[{"` + f + `":"x"}]`, false, 400, ""},
				{"nested too deep", `{"` + f + `":` + strings.Repeat("[", 1500), false, 400, ""},
				{"wrong type", `{"` + f + `":12}`, false, 400, f},
				{"object for a string", `{"` + f + `":{"$gt":""}}`, false, 400, f},
				{"unknown field", `{"` + f + `":"x","is_admin":true}`, false, 400, "is_admin"},
				{"NUL in text", `{"` + f + `":"a\u0000b"}`, false, 400, ""},
			}
			if rt.timeField != "" {
				cases = append(cases, struct {
					name    string
					body    string
					chunked bool
					status  int
					field   string
				}{"not a time", `{"` + rt.timeField + `":"yesterday"}`, false, 400, rt.timeField})
			}
			for _, tc := range cases {
				r := ts.raw("POST", rt.path, rt.token, []byte(tc.body), tc.chunked)
				if r.status >= 500 {
					t.Errorf("POST %s %s: server error %d %s", rt.path, tc.name, r.status, r.body)
					continue
				}
				if tc.name == "NUL in text" {
					// Refused as invalid or by the route's own rules, but never stored.
					if r.status < 400 {
						t.Errorf("POST %s %s: %d %s, want it refused", rt.path, tc.name, r.status, r.body)
					}
					continue
				}
				if r.status != tc.status {
					t.Errorf("POST %s %s: %d %s, want %d", rt.path, tc.name, r.status, r.body, tc.status)
					continue
				}
				e := r.errorOf(t)
				if tc.field != "" && e["field"] != tc.field {
					t.Errorf("POST %s %s: field %v, want %s (%s)", rt.path, tc.name, e["field"], tc.field, r.body)
				}
				if tc.status == 413 && (e["code"] != domain.ETooLarge || !strings.Contains(e["message"].(string), "too large")) {
					t.Errorf("POST %s %s: %s", rt.path, tc.name, r.body)
				}
			}
		}
		// Text the database cannot store is refused as input, on a body otherwise valid.
		for _, tc := range []struct {
			path, token, field string
			body               map[string]any
		}{
			{"/api/v1/users", admin, "full_name", map[string]any{"username": "nul.user", "full_name": "Nul\x00Name", "password": "a good password", "roles": []string{"qc"}}},
			{"/api/v1/patients", doc, "name", map[string]any{"subject_id": "SVP-077", "mrn": "MRN0077", "name": "Li\x00Wei",
				"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": time.Now().UTC().Add(-time.Hour)}},
		} {
			r := ts.do("POST", tc.path, tc.token, tc.body)
			if r.status != 400 || r.errorOf(t)["field"] != tc.field {
				t.Errorf("POST %s with a NUL in %s: %d %s, want 400 naming the field", tc.path, tc.field, r.status, r.body)
			}
		}
		// Query strings are outside input too.
		for _, path := range []string{"/api/v1/lots?q=%00", "/api/v1/lots?q=%27%3B%20DROP%20TABLE%20lots%3B--", "/api/v1/lots?q=%25_%5C",
			"/api/v1/audit?entity_type=%00&entity_id=%00", "/api/v1/audit?entity_id=1%27%20OR%20%271%27=%271"} {
			token := qc
			if strings.HasPrefix(path, "/api/v1/audit") {
				token = admin
			}
			if r := ts.do("GET", path, token, nil); r.status >= 500 {
				t.Errorf("GET %s: %d %s", path, r.status, r.body)
			}
		}
		if after := ts.auditCount(admin); after != before {
			t.Fatalf("hostile bodies wrote %d audit entries", after-before)
		}
	})
}

// Injection strings kept in free-text fields come back exactly as sent in JSON, and inert on
// the lot page (escaped by html/template) and in the certificate's PDF text; the tables they
// name are still there.
func TestInjectionStringsStayInert(t *testing.T) {
	const (
		sqlInj  = `'); DROP TABLE lots;--`
		htmlInj = `"><script>alert(1)</script>`
		both    = htmlInj + ` ` + sqlInj + ` <img src=x onerror=alert(2)>`
	)
	eachServer(t, func(t *testing.T, ts *testServer) {
		admin := ts.login("admin", adminPassword)
		registerWeb(t, ts)
		qc := ts.userWith(admin, "qc.inj", domain.RoleQC)
		if r := ts.do("POST", "/api/v1/users", admin, map[string]any{"username": "qa.inj", "full_name": both,
			"password": "a good password", "roles": []string{"qa"}}); r.status != 201 || r.json(t)["full_name"] != both {
			t.Fatalf("user with a hostile name: %d %s", r.status, r.body)
		}
		qa := ts.login("qa.inj", "a good password")
		now := time.Now().UTC()
		var lotPaths []string
		for _, number := range []string{htmlInj, sqlInj} {
			don := ts.do("POST", "/api/v1/donations", qc, map[string]any{"collected_at": now.Add(-72 * time.Hour)}).eligible(t, ts)
			r := ts.do("POST", "/api/v1/lots", qc, map[string]any{"donation_id": don["id"], "lot_number": number,
				"manufactured_at": now.Add(-48 * time.Hour), "expires_at": now.AddDate(1, 0, 0)})
			if r.status != 201 || r.json(t)["lot_number"] != number {
				t.Fatalf("lot %q: %d %s", number, r.status, r.body)
			}
			path := fmt.Sprintf("/api/v1/lots/%d", int64(r.json(t)["id"].(float64)))
			ts.do("POST", path+"/quarantine", qc, nil)
			if r := ts.do("POST", path+"/reject", qa, map[string]string{"password": "a good password", "reason": both}); r.status != 200 {
				t.Fatalf("hold: %d %s", r.status, r.body)
			}
			lotPaths = append(lotPaths, path)
		}
		doc := ts.userWith(admin, "dr.inj", domain.RolePhysician)
		p := ts.do("POST", "/api/v1/patients", doc, map[string]any{"subject_id": "SVP-009", "mrn": "MRN0009", "name": both,
			"date_of_birth": "1960-05-01", "weight_kg": 70, "arm": "huc_msc", "enrolled_at": now.Add(-time.Hour)})
		if p.status != 201 {
			t.Fatalf("patient: %d %s", p.status, p.body)
		}
		pid := int64(p.json(t)["id"].(float64))
		ae := ts.do("POST", "/api/v1/adverse-events", doc, map[string]any{"patient_id": pid, "serious": false, "severity": "mild", "description": both, "onset_at": now.Add(-time.Minute)})
		if ae.status != 201 || ae.json(t)["description"] != both {
			t.Fatalf("adverse event: %d %s", ae.status, ae.body)
		}

		// JSON gives every string back verbatim.
		if got := ts.do("GET", fmt.Sprintf("/api/v1/patients/%d", pid), doc, nil).json(t)["name"]; got != both {
			t.Errorf("patient name came back as %q", got)
		}
		for i, path := range lotPaths {
			d := ts.do("GET", path, qc, nil).json(t)
			sig := d["signatures"].([]any)[0].(map[string]any)
			if d["lot"].(map[string]any)["lot_number"] != []string{htmlInj, sqlInj}[i] || sig["printed_name"] != both || sig["reason"] != both {
				t.Errorf("lot %s came back as %v", path, d)
			}
		}
		if lots := ts.do("GET", "/api/v1/lots", qc, nil).json(t)["lots"].([]any); len(lots) != 2 {
			t.Fatalf("lots after the injection: %d", len(lots))
		}
		entries := ts.do("GET", "/api/v1/audit?limit=1000", admin, nil).body
		if !bytes.Contains(entries, mustJSON(t, both)) {
			t.Error("the audit trail does not hold the text as sent")
		}

		// The lot page escapes what it shows.
		page := webGet(t, ts, qa, strings.TrimPrefix(lotPaths[0], "/api/v1"))
		for _, raw := range []string{"<script>", "<img", `"><script>`} {
			if strings.Contains(page, raw) {
				t.Errorf("lot page carries %q unescaped", raw)
			}
		}
		for _, escaped := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;script&gt;"} {
			if !strings.Contains(page, escaped) {
				t.Errorf("lot page lacks the escaped text %q", escaped)
			}
		}
		if page := webGet(t, ts, qa, strings.TrimPrefix(lotPaths[1], "/api/v1")); !strings.Contains(page, "&#39;); DROP TABLE lots;--") {
			t.Error("lot page does not show the SQL string as text")
		}

		// The certificate prints the strings as text, and its file name is a well-formed header.
		for i, path := range lotPaths {
			r := ts.do("GET", path+"/coa.pdf", qa, nil)
			if r.status != 200 {
				t.Fatalf("coa: %d %s", r.status, r.body)
			}
			text := pdfText(t, r.body)
			if !strings.Contains(text, []string{htmlInj, sqlInj}[i]) || !strings.Contains(text, "<script>alert(1)</script>") {
				t.Errorf("certificate text lacks the lot number or signer as sent:\n%s", text)
			}
			checkContentDisposition(t, r.header.Get("Content-Disposition"), "coa-"+[]string{htmlInj, sqlInj}[i]+".pdf")
		}
		ts.auditCount(admin)
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// registerWeb adds the web pages to the test server, as serve does.
func registerWeb(t *testing.T, ts *testServer) {
	t.Helper()
	pages, err := web.Parse()
	if err != nil {
		t.Fatal(err)
	}
	web.Register(ts.srv.Echo(), pages, web.ServicesOf(ts.store), web.Session{Cookie: api.SessionCookie})
}

// webGet fetches a page with the session cookie and returns its HTML.
func webGet(t *testing.T, ts *testServer, token, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.url+path, nil)
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: token})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return string(b)
}

// pdfText is the text of every page of a PDF.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	rd, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("PDF does not parse: %v", err)
	}
	var all strings.Builder
	for i := 1; i <= rd.NumPage(); i++ {
		text, err := rd.Page(i).GetPlainText(nil)
		if err != nil {
			t.Fatalf("PDF page %d: %v", i, err)
		}
		all.WriteString(text)
	}
	return all.String()
}

// checkContentDisposition checks that the header parses and names the file as wanted.
func checkContentDisposition(t *testing.T, header, wantName string) {
	t.Helper()
	disp, params, err := mime.ParseMediaType(header)
	if err != nil || disp != "inline" || params["filename"] != wantName {
		t.Errorf("Content-Disposition %q: %q %v %v, want inline with file name %q", header, disp, params, err, wantName)
	}
}

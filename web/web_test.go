package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"cordtrace/api"
	"cordtrace/domain"
	"cordtrace/store"
	"cordtrace/store/storetest"
	"cordtrace/web"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// registerPages adds the pages to e, every service served by st, as serve does.
func registerPages(t *testing.T, e *echo.Echo, st *store.Store) {
	t.Helper()
	pages, err := web.Parse()
	if err != nil {
		t.Fatal(err)
	}
	web.Register(e, pages, web.ServicesOf(st), web.Session{Cookie: api.SessionCookie})
}

// getPage fetches a page as client, returning its status and body.
func getPage(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// pagesServer serves the pages alone (no JSON API) on st, until the test ends.
func pagesServer(t *testing.T, st *store.Store) *httptest.Server {
	t.Helper()
	e := echo.New()
	registerPages(t, e, st)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

// newQC creates the QC user qc.ann, whose password is "a good password".
func newQC(t *testing.T, st *store.Store) domain.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), domain.Actor{FullName: "t"}, domain.NewUser{Username: "qc.ann", FullName: "Ann QC",
		Password: "a good password", Roles: []domain.Role{domain.RoleQC}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// logIn logs username in to the pages at base with "a good password", and returns a client
// holding the session.
func logIn(t *testing.T, base, username string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	res, err := client.PostForm(base+"/login", url.Values{"username": {username}, "password": {"a good password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return client
}

func TestLoginAndLotPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		st.EnsureAdmin(ctx, "admin password 1")
		qc := newQC(t, st)
		actor := qc.ActingAs(domain.RoleQC, "")
		d, _ := st.CreateDonation(ctx, actor, domain.NewDonation{CollectedAt: time.Now().Add(-time.Hour)})
		storetest.DetermineEligible(t, st, d.ID)
		lot, err := st.CreateLot(ctx, actor, domain.NewLot{DonationID: d.ID, LotNumber: "WEB-<b>1</b>", ManufacturedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().AddDate(1, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		srv := pagesServer(t, st)
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		get := func(path string) (int, string) { return getPage(t, client, srv.URL+path) }
		if status, body := get("/lots"); status != 200 || !strings.Contains(body, "<h1>Log in</h1>") {
			t.Fatalf("lots before login: %d", status)
		}
		res, _ := client.PostForm(srv.URL+"/login", url.Values{"username": {"qc.ann"}, "password": {"wrong password"}})
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 401 || !strings.Contains(string(b), "wrong") || !strings.Contains(string(b), `value="qc.ann"`) {
			t.Fatalf("wrong password: %d", res.StatusCode)
		}
		res, _ = client.PostForm(srv.URL+"/login", url.Values{"username": {"qc.ann"}, "password": {"a good password"}})
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), "<h1>Lots</h1>") || !strings.Contains(string(b), "Ann QC") {
			t.Fatalf("after login: %d", res.StatusCode)
		}
		// Lot numbers are shown as text, never as markup.
		if !strings.Contains(string(b), "WEB-&lt;b&gt;1&lt;/b&gt;") || strings.Contains(string(b), "WEB-<b>1</b>") {
			t.Fatal("a lot number was rendered as HTML")
		}
		status, body := get("/lots/" + strconv.FormatInt(lot.ID, 10))
		if status != 200 || !strings.Contains(body, "Evaluation against specification v1") || !strings.Contains(body, "bv2_potency") {
			t.Fatalf("lot page: %d", status)
		}
		// The security headers are the server's, on every answer: api.TestEveryAnswerIsProtected.
		// The pharmacy's and the ward's pages are theirs: QC is told whose they are.
		for _, path := range []string{"/pharmacy", "/pharmacy/orders/1", "/dispatch", "/receive", "/bedside"} {
			if status, body := get(path); status != 403 || !strings.Contains(body, "start page is /lots") {
				t.Errorf("%s as QC: %d, want 403 naming the start page", path, status)
			}
		}
		if status, _ := get("/static/app.css"); status != 200 {
			t.Fatalf("stylesheet: %d", status)
		}
	})
}

// The patient pages show names and MRNs: physicians and nurses open them; every other role
// gets 403 and no patient data. A physician lands on the list after logging in.
func TestPatientPagesOnlyForCarers(t *testing.T) {
	st := storetest.Open(t, storetest.SQLite, store.Options{})
	ctx := context.Background()
	srv := pagesServer(t, st)
	var doc domain.User
	for _, role := range domain.AllRoles {
		u, err := st.CreateUser(ctx, domain.Actor{FullName: "t"}, domain.NewUser{Username: "only." + string(role), FullName: "Only " + string(role), Password: "a good password", Roles: []domain.Role{role}})
		if err != nil {
			t.Fatal(err)
		}
		if role == domain.RolePhysician {
			doc = u
		}
	}
	docActor := doc.ActingAs(domain.RolePhysician, "")
	p, err := st.Enrol(ctx, docActor,
		domain.Patient{SubjectID: "SVP-001", MRN: "MRNSECRET1", Name: "Secret Name", DateOfBirth: "1960-05-01", WeightKg: 70, Arm: domain.ArmHUCMSC, EnrolledAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	const event = "Transient fever after enrolment"
	if _, err := st.ReportAdverseEvent(ctx, docActor, domain.AdverseEvent{PatientID: p.ID, Severity: "mild", Description: event,
		OnsetAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, role := range domain.AllRoles {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		res, err := client.PostForm(srv.URL+"/login", url.Values{"username": {"only." + string(role)}, "password": {"a good password"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if role == domain.RolePhysician && res.Request.URL.Path != "/patients" {
			t.Errorf("a physician lands on %s after login, want /patients", res.Request.URL.Path)
		}
		carer := role == domain.RolePhysician || role == domain.RoleNurse
		for _, path := range []string{"/patients", "/patients/" + strconv.FormatInt(p.ID, 10)} {
			res, err := client.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			shows := strings.Contains(string(b), "Secret Name") || strings.Contains(string(b), "MRNSECRET1")
			if carer && path != "/patients" && !strings.Contains(string(b), event) {
				t.Errorf("%s %s: the patient's adverse event is not shown", role, path)
			}
			switch {
			case carer && (res.StatusCode != 200 || !shows):
				t.Errorf("%s %s: %d, patient shown %v; want the patient", role, path, res.StatusCode, shows)
			case !carer && (res.StatusCode != 403 || shows):
				t.Errorf("%s %s: %d, patient shown %v; want 403 and no patient data", role, path, res.StatusCode, shows)
			}
		}
	}
	// Each page that showed the patient recorded it, by the reader: the list and the patient's
	// page, for the physician and for the nurse; the refused roles recorded nothing.
	entries, err := st.ListAudit(ctx, domain.AuditFilter{EntityType: "patient", EntityID: strconv.FormatInt(p.ID, 10)})
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for _, e := range entries {
		if e.Action == "patient.disclose" {
			shown = append(shown, string(e.Role)+" "+e.After)
		}
	}
	want := []string{"physician page.patients", "physician page.patients", "physician page.patient", "nurse page.patients", "nurse page.patient"}
	var got []string // the physician lands on the list after login, so sees it twice
	for _, e := range shown {
		role, after, _ := strings.Cut(e, " ")
		var d struct {
			Fields []string
			Via    string
		}
		if err := json.Unmarshal([]byte(after), &d); err != nil || !slices.Contains(d.Fields, domain.FieldName) || !slices.Contains(d.Fields, domain.FieldMRN) {
			t.Errorf("disclosure %s: want the fields name and mrn", e)
		}
		got = append(got, role+" "+d.Via)
	}
	if !slices.Equal(got, want) {
		t.Errorf("disclosures recorded by the pages: %q, want %q", got, want)
	}
}

// A page whose record exists but cannot be read says so as a server error, not as "no such
// record" (404): the cause is logged, and nobody is told a lot or patient does not exist.
func TestPageReadFailureIsNotNotFound(t *testing.T) {
	st := storetest.Open(t, storetest.SQLite, store.Options{})
	ctx := context.Background()
	qc := newQC(t, st)
	actor := qc.ActingAs(domain.RoleQC, "")
	d, _ := st.CreateDonation(ctx, actor, domain.NewDonation{CollectedAt: time.Now().Add(-time.Hour)})
	storetest.DetermineEligible(t, st, d.ID)
	lot, err := st.CreateLot(ctx, actor, domain.NewLot{DonationID: d.ID, LotNumber: "WEB-1", ManufacturedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	srv := pagesServer(t, st)
	client := logIn(t, srv.URL, "qc.ann")
	lotPage := srv.URL + "/lots/" + strconv.FormatInt(lot.ID, 10)
	if status, _ := getPage(t, client, lotPage); status != 200 {
		t.Fatalf("lot page: %d", status)
	}
	// The lot's results can no longer be read; the session still can.
	if _, err := st.SQLDB().Exec(`ALTER TABLE qc_results RENAME TO qc_results_away`); err != nil {
		t.Fatal(err)
	}
	if status, body := getPage(t, client, lotPage); status < 500 || strings.Contains(body, "There is no such lot") {
		t.Fatalf("lot page with its results unreadable: %d, want a server error, not a missing lot", status)
	}
	if status, _ := getPage(t, client, srv.URL+"/lots/999999"); status != http.StatusNotFound {
		t.Fatalf("a lot that does not exist: %d, want 404", status)
	}
}

// Logging out of the pages is audited with the request's id, as logging in is, so that the
// entry leads to the request's line in the access log.
func TestLogoutIsAuditedWithItsRequestID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		newQC(t, st)
		e := echo.New()
		e.Use(middleware.RequestID())
		registerPages(t, e, st)
		srv := httptest.NewServer(e)
		t.Cleanup(srv.Close)
		client := logIn(t, srv.URL, "qc.ann")
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := client.PostForm(srv.URL+"/logout", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		id := res.Header.Get(echo.HeaderXRequestID)
		entries, err := st.ListAudit(ctx, domain.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Action == "auth.logout" {
				if id == "" || e.RequestID != id {
					t.Fatalf("logout audited with request id %q; the response's is %q", e.RequestID, id)
				}
				return
			}
		}
		t.Fatal("the logout was not audited")
	})
}

// A logout that cannot be recorded is not shown as done: the answer is an error, not the login
// page, and the session's cookie stays so that the person can try again.
func TestLogoutThatFailsKeepsTheSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		newQC(t, st)
		srv := pagesServer(t, st)
		client := logIn(t, srv.URL, "qc.ann")
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		if err := st.SQLDB().Close(); err != nil { // the database goes away
			t.Fatal(err)
		}
		res, err := client.PostForm(srv.URL+"/logout", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 500 || len(res.Cookies()) != 0 {
			t.Fatalf("logout without a database: %d, cookies set %v; want an error and the session's cookie kept", res.StatusCode, res.Cookies())
		}
	})
}

// The login page says the configured idle time, and the session cookie is Secure when the
// configuration says so or when the request came over HTTPS (behind a proxy, by
// X-Forwarded-Proto); otherwise a plain-HTTP test site keeps working.
func TestSessionSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		newQC(t, st)
		pages, err := web.Parse()
		if err != nil {
			t.Fatal(err)
		}
		serve := func(session web.Session) string {
			e := echo.New()
			web.Register(e, pages, web.ServicesOf(st), session)
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)
			return srv.URL
		}
		for _, tc := range []struct {
			idle time.Duration
			text string
		}{{15 * time.Minute, "after 15 minutes without activity, 12 hours after the login"}, {time.Hour, "after 1 hour without activity"}, {90 * time.Minute, "after 1 hour 30 minutes without activity"}} {
			base := serve(web.Session{Cookie: api.SessionCookie, Idle: tc.idle})
			if _, body := getPage(t, http.DefaultClient, base+"/login?expired=1"); !strings.Contains(body, tc.text) {
				t.Errorf("idle %s: the login page does not say %q", tc.idle, tc.text)
			}
		}
		secureAfterLogin := func(base string, header http.Header) bool {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"username": {"qc.ann"}, "password": {"a good password"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range header {
				req.Header[k] = v
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			for _, ck := range res.Cookies() {
				if ck.Name == api.SessionCookie && ck.Value != "" {
					return ck.Secure
				}
			}
			t.Fatalf("no session cookie after logging in: %d", res.StatusCode)
			return false
		}
		plain := serve(web.Session{Cookie: api.SessionCookie})
		if secureAfterLogin(plain, nil) {
			t.Error("plain HTTP without the setting: the cookie is Secure, which a browser would not send back")
		}
		if !secureAfterLogin(plain, http.Header{"X-Forwarded-Proto": {"https"}}) {
			t.Error("behind a TLS proxy: the cookie is not Secure")
		}
		if !secureAfterLogin(serve(web.Session{Cookie: api.SessionCookie, Secure: true}), nil) {
			t.Error("CORDTRACE_SECURE_COOKIES: the cookie is not Secure")
		}
	})
}

// Static files are sent compressed, with an ETag: a browser that has one gets 304 and no body.
// The bedside page does not load the camera's decoder; the page fetches it when the camera
// opens (camera_test.go).
func TestStaticFilesAreCompressedAndCacheable(t *testing.T) {
	st := storetest.Open(t, storetest.SQLite, store.Options{})
	srv := pagesServer(t, st)
	get := func(path string, header map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	for _, path := range []string{"/static/app.js", "/static/app.css", "/static/vendor/jsQR.js"} {
		res := get(path, map[string]string{"Accept-Encoding": "gzip"})
		tag := res.Header.Get("ETag")
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || tag == "" || res.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: %d, Content-Encoding %q, ETag %q, Cache-Control %q; want 200, gzip, a tag, no-cache", path, res.StatusCode,
				res.Header.Get("Content-Encoding"), tag, res.Header.Get("Cache-Control"))
		}
		if again := get(path, map[string]string{"If-None-Match": tag}); again.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", path, again.StatusCode)
		}
	}
	pages, err := web.Parse()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if err := pages.Render(rec, http.StatusOK, "bedside", web.View{Title: "Bedside"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rec.Body.String(), "jsQR") {
		t.Error("the bedside page loads the camera's decoder with every visit")
	}
}

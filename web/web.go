// Package web serves the pages people use in a browser: templates and static files embedded in
// the binary, so that everything works offline on the hospital network. Pages call the same
// domain services as the JSON API and authenticate with the API's session cookie.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"cordtrace/domain"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// PageNames lists every page template; each is parsed with the layout once, at start.
var PageNames = []string{"login", "lots", "lot", "pharmacy", "prepare", "scan", "bedside", "trace", "lot_trace", "patient_trace", "dashboards", "dashboard", "patients", "patient", "users", "donation", "safety", "deviations", "adverse_event", "trial", "follow_up_worklist", "follow_up", "endpoints"}

// funcs are the helpers templates may call. They format; they decide nothing.
var funcs = template.FuncMap{
	"can": func(u *domain.User, perm string) bool {
		if u == nil {
			return false
		}
		_, err := domain.Authorize(*u, domain.Permission(perm))
		return err == nil
	},
	"cells":   formatCells,
	"sci":     func(v float64) string { return formatCells(int64(v)) },
	"when":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"day":     func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"blocked": domain.LotStatusBlocks,
	"meaning": func(a string) string { return domain.SignatureAction(a).Meaning() },
	"join":    strings.Join,
	// replicates numbers the BV2 assay's wells: three per group.
	"replicates": func() []int { return []int{1, 2, 3} },
}

// formatCells writes a cell count as the pages show it: 7.00 × 10^7 (domain.CellsText, spaced).
func formatCells(n int64) string {
	if n <= 0 {
		return "0"
	}
	return strings.Replace(domain.CellsText(n), "×", " × ", 1)
}

// Pages are the parsed templates.
type Pages struct {
	byName map[string]*template.Template
}

// Parse parses every page once. A template error stops the service at start rather than at
// the first person who opens the page.
func Parse() (*Pages, error) {
	p := &Pages{byName: map[string]*template.Template{}}
	for _, name := range PageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// View is what every page gets: its title, the user (nil before login), a message to show,
// and the page's own data.
type View struct {
	Title string
	User  *domain.User
	Flash string
	Data  any
}

// Render writes a page. It renders into a buffer first, so that a template error becomes a
// clean error response instead of half a page.
func (p *Pages) Render(w http.ResponseWriter, status int, name string, v View) error {
	t, ok := p.byName[name]
	if !ok {
		return fmt.Errorf("no page %q", name)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := w.Header()
	// The security headers (Content-Security-Policy and the rest) are the server's, sent with
	// every answer: api.ContentSecurityPolicy.
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

// Services are what the pages call.
type Services struct {
	Auth       domain.AuthService
	Users      domain.UserService
	Lab        domain.LabService
	Donors     domain.DonorService
	Recall     domain.RecallService
	Audit      domain.AuditService
	Pharmacy   domain.PharmacyService
	Patients   domain.PatientService
	Trace      domain.TraceService
	Dashboards domain.DashboardService
	// Records records that a page showed patients' names and MRNs (RecordDisclosure).
	Records domain.RecordService
	// Safety feeds the safety worklist and the deviations.
	Safety domain.SafetyService
	// Trial is randomization, follow-up and endpoints.
	Trial domain.TrialService
}

// Backend is one store that provides every service the pages call, as the database store does.
type Backend interface {
	domain.AuthService
	domain.UserService
	domain.LabService
	domain.DonorService
	domain.RecallService
	domain.AuditService
	domain.PharmacyService
	domain.PatientService
	domain.TraceService
	domain.DashboardService
	domain.RecordService
	domain.SafetyService
	domain.TrialService
}

// ServicesOf takes every service from one backend, so that none is left nil.
func ServicesOf(b Backend) Services {
	return Services{Auth: b, Users: b, Lab: b, Donors: b, Recall: b, Audit: b, Pharmacy: b, Patients: b, Trace: b,
		Dashboards: b, Records: b, Safety: b, Trial: b}
}

// staticFiles serves the embedded static files, compressed by the route's middleware, each with
// an ETag of its content: a browser keeps its copy and asks again with If-None-Match, and gets
// 304 until a new build changes the file (no-cache: it always asks, so a new build is never
// missed). The tags are computed once, at start.
func staticFiles(static fs.FS) echo.HandlerFunc {
	tags := map[string]string{}
	fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tags[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	files := http.StripPrefix("/static/", http.FileServer(filesOnly{http.FS(static)}))
	return func(c echo.Context) error {
		if tag, ok := tags[strings.TrimPrefix(c.Request().URL.Path, "/static/")]; ok {
			h := c.Response().Header()
			h.Set("ETag", tag) // http.ServeContent answers If-None-Match with it
			h.Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// filesOnly serves the files of a file system and nothing of its folders: a folder's address
// answers 404, never a listing of what it holds.
type filesOnly struct{ http.FileSystem }

func (f filesOnly) Open(name string) (http.File, error) {
	file, err := f.FileSystem.Open(name)
	if err != nil {
		return nil, err
	}
	if info, err := file.Stat(); err != nil || info.IsDir() {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}

// Session is how the pages keep a login: the cookie's name, whether it is sent over HTTPS
// only, and the idle time after which the service ends a session (said on the login page).
type Session struct {
	Cookie string
	// Secure marks the cookie Secure always; without it, only requests that came over HTTPS
	// (directly or, behind a proxy, by X-Forwarded-Proto) get a Secure cookie.
	Secure bool
	Idle   time.Duration
	// Lifetime is the longest a session lasts however busy (said on the login page too).
	Lifetime time.Duration
}

// Handler serves the pages.
type Handler struct {
	pages   *Pages
	svc     Services
	session Session
}

// Register adds the pages and static files to e.
func Register(e *echo.Echo, pages *Pages, svc Services, session Session) {
	if session.Idle <= 0 {
		session.Idle = domain.DefaultSessionIdle
	}
	if session.Lifetime <= 0 {
		session.Lifetime = domain.DefaultSessionLifetime
	}
	h := &Handler{pages: pages, svc: svc, session: session}
	static, _ := fs.Sub(staticFS, "static")
	e.GET("/static/*", staticFiles(static), middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024}))
	e.GET("/", h.home)
	e.GET("/login", h.loginPage)
	e.POST("/login", h.login)
	e.POST("/logout", h.logout)
	e.GET("/lots", h.withUser(h.lots))
	e.GET("/lots/:id", h.withUser(h.lot))
	e.GET("/donations/:id", h.withUser(h.donation))
	e.GET("/pharmacy", h.withUser(h.withPerm(domain.PermPrepareDose, h.pharmacy)))
	e.GET("/pharmacy/orders/:id", h.withUser(h.withPerm(domain.PermPrepareDose, h.prepare)))
	e.GET("/dispatch", h.withUser(h.withPerm(domain.PermDispatch, h.scanPage(domain.ScanDispatch))))
	e.GET("/receive", h.withUser(h.withPerm(domain.PermReceive, h.scanPage(domain.ScanReceive))))
	e.GET("/bedside", h.withUser(h.withPerm(domain.PermBedside, h.bedside)))
	e.GET("/trace", h.withUser(h.traceIndex))
	e.GET("/trace/lots/:id", h.withUser(h.lotTrace))
	e.GET("/trace/patients/:id", h.withUser(h.patientTrace))
	e.GET("/dashboards", h.withUser(h.dashboards))
	e.GET("/patients", h.withUser(h.patients))
	e.GET("/patients/:id", h.withUser(h.patient))
	e.GET("/users", h.withUser(h.withPerm(domain.PermManageUsers, h.users)))
	e.GET("/safety", h.withUser(h.withPerm(domain.PermSafetyReporting, h.safety)))
	e.GET("/adverse-events/:id", h.withUser(h.withPerm(domain.PermReadAdverseEvent, h.adverseEvent)))
	e.GET("/deviations", h.withUser(h.withPerm(domain.PermDeviations, h.deviations)))
	e.GET("/trial", h.withUser(h.withPerm(domain.PermTrialRead, h.trial)))
	e.GET("/trial/endpoints", h.withUser(h.withPerm(domain.PermTrialRead, h.endpoints)))
	e.GET("/follow-up", h.withUser(h.withPerm(domain.PermListPatients, h.followUpWorklist)))
	e.GET("/patients/:id/follow-up", h.withUser(h.withPerm(domain.PermListPatients, h.followUp)))
	e.GET("/dashboards/lab", h.withUser(h.dashboard(domain.PermDashboardLab, h.dashLab)))
	e.GET("/dashboards/stock", h.withUser(h.dashboard(domain.PermDashboardStock, h.dashStock)))
	e.GET("/dashboards/compliance", h.withUser(h.dashboard(domain.PermDashboardCompliance, h.dashCompliance)))
}

// withUser requires a session; without one the browser goes to the login page with a message
// saying why.
func (h *Handler) withUser(next func(c echo.Context, u domain.User) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		back := url.QueryEscape(c.Request().URL.RequestURI())
		ck, err := c.Cookie(h.session.Cookie)
		if err != nil {
			return c.Redirect(http.StatusSeeOther, "/login?next="+back)
		}
		u, err := h.svc.Auth.Authenticate(c.Request().Context(), ck.Value)
		if err != nil {
			if domain.ErrorCode(err) != domain.EUnauthenticated {
				return err
			}
			return c.Redirect(http.StatusSeeOther, "/login?expired=1&next="+back)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c, u)
	}
}

// withPerm opens a page only to the roles the permission table gives its work; others get the
// trace page (open to everyone) with a 403 that says whose page it is and where theirs is.
func (h *Handler) withPerm(perm domain.Permission, next func(echo.Context, domain.User) error) func(echo.Context, domain.User) error {
	return func(c echo.Context, u domain.User) error {
		if _, err := domain.Authorize(u, perm); err != nil {
			msg := domain.ErrorMessage(err) + " Your own start page is " + homeOf(u) + "."
			return h.pages.Render(c.Response(), http.StatusForbidden, "trace", View{Title: "Trace", User: &u, Flash: msg})
		}
		return next(c, u)
	}
}

func (h *Handler) home(c echo.Context) error {
	ck, err := c.Cookie(h.session.Cookie)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	u, err := h.svc.Auth.Authenticate(c.Request().Context(), ck.Value)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return c.Redirect(http.StatusSeeOther, homeOf(u))
}

// homeOf is where each role starts its day: the nurse at the bedside, the pharmacist at the
// worklist, the lab at its lots, the physician at the patients.
func homeOf(u domain.User) string {
	switch {
	case u.HasRole(domain.RoleQC), u.HasRole(domain.RoleQA):
		return "/lots"
	case u.HasRole(domain.RolePharmacist):
		return "/pharmacy"
	case u.HasRole(domain.RoleNurse):
		return "/bedside"
	case u.HasRole(domain.RolePhysician):
		return "/patients"
	}
	return "/trace"
}

// durationText writes a session's idle time as the login page says it: "15 minutes",
// "1 hour", "1 hour 30 minutes".
func durationText(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	total := int(d.Round(time.Minute) / time.Minute)
	if total < 1 {
		return plural(int(d.Round(time.Second)/time.Second), "second")
	}
	h, m := total/60, total%60
	switch {
	case h == 0:
		return plural(m, "minute")
	case m == 0:
		return plural(h, "hour")
	}
	return plural(h, "hour") + " " + plural(m, "minute")
}

func (h *Handler) secureCookie(c echo.Context) bool {
	return h.session.Secure || c.Scheme() == "https"
}

// loginData keeps what was typed, and the page to return to after logging in.
type loginData struct{ Username, Next string }

// safeNext accepts only a path of this site, read as a browser reads it, so that a login link
// cannot send anyone to another site. Browsers drop tabs and line breaks from an address and
// treat a backslash as a slash, so "/\t/evil.example" is "//evil.example", another host: any
// such character refuses the path.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return ""
	}
	if strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' || unicode.IsSpace(r) }) {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}

func (h *Handler) loginPage(c echo.Context) error {
	v := View{Title: "Log in", Data: loginData{Next: safeNext(c.QueryParam("next"))}}
	if c.QueryParam("expired") != "" {
		v.Flash = fmt.Sprintf("Your session has ended (after %s without activity, %s after the login, or because your account changed). Log in again to go on; everything you saved is kept.",
			durationText(h.session.Idle), durationText(h.session.Lifetime))
	}
	return h.pages.Render(c.Response(), http.StatusOK, "login", v)
}

func (h *Handler) login(c echo.Context) error {
	username, password, next := c.FormValue("username"), c.FormValue("password"), safeNext(c.FormValue("next"))
	sess, err := h.svc.Auth.Login(c.Request().Context(), domain.Credentials{Username: username, Password: password,
		RequestID: c.Response().Header().Get(echo.HeaderXRequestID), ClientAddress: c.RealIP()})
	if err != nil {
		return h.pages.Render(c.Response(), http.StatusUnauthorized, "login", View{Title: "Log in", Flash: domain.ErrorMessage(err), Data: loginData{Username: username, Next: next}})
	}
	c.SetCookie(&http.Cookie{Name: h.session.Cookie, Value: sess.Token, Path: "/", HttpOnly: true, Secure: h.secureCookie(c), SameSite: http.SameSiteStrictMode})
	if next == "" {
		next = homeOf(sess.User)
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// logout ends the session. When it cannot be ended (the database is unreachable) the person is
// told so and the cookie stays, so that they can try again: a session that only looked ended
// would stay open, on a shared ward computer, for whoever comes next.
func (h *Handler) logout(c echo.Context) error {
	if ck, err := c.Cookie(h.session.Cookie); err == nil {
		ctx := c.Request().Context()
		u, err := h.svc.Auth.Authenticate(ctx, ck.Value)
		switch {
		case err == nil:
			if err := h.svc.Auth.Logout(ctx, u.ActingAs("", c.Response().Header().Get(echo.HeaderXRequestID)), ck.Value); err != nil {
				return err
			}
		case domain.ErrorCode(err) != domain.EUnauthenticated:
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: h.session.Cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.secureCookie(c), SameSite: http.SameSiteStrictMode})
	return c.Redirect(http.StatusSeeOther, "/login")
}

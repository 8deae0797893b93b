// Package web serves the pages people use in a browser: templates and static files embedded in
// the binary, so that everything works offline on the hospital network. Pages call the same
// domain services as the JSON API and authenticate with the API's session cookie.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// PageNames lists every page template; each is parsed with the layout once, at start.
var PageNames = []string{"login", "lots", "lot"}

// Pages are the parsed templates.
type Pages struct {
	byName map[string]*template.Template
}

// Parse parses every page once. A template error stops the service at start rather than at
// the first person who opens the page.
func Parse() (*Pages, error) {
	p := &Pages{byName: map[string]*template.Template{}}
	for _, name := range PageNames {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
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
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

// Services are what the pages call.
type Services struct {
	Auth domain.AuthService
	Lab  domain.LabService
}

// Handler serves the pages.
type Handler struct {
	pages  *Pages
	svc    Services
	cookie string
	secure bool
}

// Register adds the pages and static files to e. cookie is the session cookie's name.
func Register(e *echo.Echo, pages *Pages, svc Services, cookie string, secure bool) {
	h := &Handler{pages: pages, svc: svc, cookie: cookie, secure: secure}
	static, _ := fs.Sub(staticFS, "static")
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServer(http.FS(static)))))
	e.GET("/", h.home)
	e.GET("/login", h.loginPage)
	e.POST("/login", h.login)
	e.POST("/logout", h.logout)
	e.GET("/lots", h.withUser(h.lots))
	e.GET("/lots/:id", h.withUser(h.lot))
}

// withUser requires a session; without one the browser goes to the login page with a message
// saying why.
func (h *Handler) withUser(next func(c echo.Context, u domain.User) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(h.cookie)
		if err != nil {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		u, err := h.svc.Auth.Authenticate(c.Request().Context(), ck.Value)
		if err != nil {
			return h.pages.Render(c.Response(), http.StatusUnauthorized, "login", View{Title: "Log in", Flash: domain.ErrorMessage(err), Data: loginData{}})
		}
		return next(c, u)
	}
}

func (h *Handler) home(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/lots") }

type loginData struct{ Username string }

func (h *Handler) loginPage(c echo.Context) error {
	return h.pages.Render(c.Response(), http.StatusOK, "login", View{Title: "Log in", Data: loginData{}})
}

func (h *Handler) login(c echo.Context) error {
	username, password := c.FormValue("username"), c.FormValue("password")
	sess, err := h.svc.Auth.Login(c.Request().Context(), username, password, c.Response().Header().Get(echo.HeaderXRequestID))
	if err != nil {
		return h.pages.Render(c.Response(), http.StatusUnauthorized, "login", View{Title: "Log in", Flash: domain.ErrorMessage(err), Data: loginData{Username: username}})
	}
	c.SetCookie(&http.Cookie{Name: h.cookie, Value: sess.Token, Path: "/", HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
	return c.Redirect(http.StatusSeeOther, "/lots")
}

func (h *Handler) logout(c echo.Context) error {
	if ck, err := c.Cookie(h.cookie); err == nil {
		if u, err := h.svc.Auth.Authenticate(c.Request().Context(), ck.Value); err == nil {
			h.svc.Auth.Logout(c.Request().Context(), domain.Actor{UserID: u.ID, Username: u.Username, FullName: u.FullName}, ck.Value)
		}
	}
	c.SetCookie(&http.Cookie{Name: h.cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
	return c.Redirect(http.StatusSeeOther, "/login")
}

type lotsData struct {
	Lots     []domain.Lot
	Statuses []domain.LotStatus
	Status   string
	Query    string
}

func (h *Handler) lots(c echo.Context, u domain.User) error {
	f := domain.LotFilter{Query: c.QueryParam("q")}
	view := View{Title: "Lots", User: &u}
	if st := c.QueryParam("status"); st != "" {
		status, err := domain.ParseLotStatus(st)
		if err != nil {
			view.Flash = domain.ErrorMessage(err)
		}
		f.Status = status
	}
	lots, err := h.svc.Lab.ListLots(c.Request().Context(), f)
	if err != nil {
		view.Flash = domain.ErrorMessage(err)
	}
	view.Data = lotsData{Lots: lots, Statuses: domain.LotStatuses, Status: string(f.Status), Query: f.Query}
	return h.pages.Render(c.Response(), http.StatusOK, "lots", view)
}

func (h *Handler) lot(c echo.Context, u domain.User) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return h.pages.Render(c.Response(), http.StatusNotFound, "lots", View{Title: "Lots", User: &u, Flash: "There is no such lot.", Data: lotsData{Statuses: domain.LotStatuses}})
	}
	d, err := h.svc.Lab.LotDetail(c.Request().Context(), id)
	if err != nil {
		return h.pages.Render(c.Response(), http.StatusNotFound, "lots", View{Title: "Lots", User: &u, Flash: domain.ErrorMessage(err), Data: lotsData{Statuses: domain.LotStatuses}})
	}
	return h.pages.Render(c.Response(), http.StatusOK, "lot", View{Title: "Lot " + d.Lot.LotNumber, User: &u, Data: d})
}

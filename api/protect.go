package api

import (
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// ContentSecurityPolicy allows scripts, styles, images and connections from this server only.
// Inline style attributes are allowed for the server-drawn SVG charts; inline scripts are not.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders sends the same protective headers with every answer, pages, errors and
// not-found pages included; answers of the JSON and FHIR APIs hold records that a shared cache
// or the browser's history must not keep.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if p := c.Request().URL.Path; strings.HasPrefix(p, APIPrefix+"/") || strings.HasPrefix(p, "/fhir/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// refuseMalformedPath answers 400 for an address that is not valid UTF-8 once decoded: no
// route has one, and a handler must never see one.
func refuseMalformedPath(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !utf8.ValidString(c.Request().URL.Path) {
			return domain.Errorf(domain.EInvalid, "the address holds bytes that are not UTF-8 text; check the link")
		}
		return next(c)
	}
}

// refuseCrossSite protects writes that a browser authenticates with the session cookie, which
// it sends along whatever page started the request: such a write must come from one of our
// own pages (Sec-Fetch-Site, else Origin), and one to the JSON API must be JSON, which a form on
// another site cannot send. A client that authenticates with a bearer token sends no cookie a
// browser would add, so it is not affected.
func refuseCrossSite(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if req.Header.Get(echo.HeaderAuthorization) != "" {
			return next(c)
		}
		if _, err := req.Cookie(SessionCookie); err != nil {
			return next(c)
		}
		if !sameOrigin(req) {
			return domain.Errorf(domain.EForbidden, "this request came from another site, and the session cookie may not be used for it; use cordtrace's own pages")
		}
		if strings.HasPrefix(req.URL.Path, APIPrefix+"/") && (req.ContentLength != 0 || req.Header.Get(echo.HeaderContentType) != "") {
			if mt, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); mt != echo.MIMEApplicationJSON {
				return &domain.Error{Code: codeUnsupportedMedia, Message: "send the request body as JSON (Content-Type: application/json)"}
			}
		}
		return next(c)
	}
}

// sameOrigin tells whether a browser's request came from a page of this server. Browsers send
// Sec-Fetch-Site with every request; older ones send Origin with every cross-origin write. A
// request with neither did not come from a browser's page on another site.
func sameOrigin(req *http.Request) bool {
	switch req.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := req.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, req.Host)
}

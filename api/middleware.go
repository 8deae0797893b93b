package api

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// Context keys.
const (
	ctxUser  = "cordtrace.user"
	ctxActor = "cordtrace.actor"
	ctxError = "cordtrace.error" // a server error, kept for the access log
	// the cause of a request abandoned by its client, kept for the access log
	ctxClientGone = "cordtrace.client_gone"
)

// SessionCookie carries the session token for the web pages.
const SessionCookie = "cordtrace_session"

var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// dropUnsafeRequestID removes a client's X-Request-Id unless it is short and plain, because
// the id is written into the logs and the audit trail; a fresh one is generated instead.
func dropUnsafeRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !safeRequestID.MatchString(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

// refuseNULInQuery refuses a query string holding a NUL character, which no parameter needs
// and PostgreSQL cannot compare against text (request bodies are checked by decode).
func refuseNULInQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if strings.Contains(c.Request().URL.RawQuery, "%00") {
			for name, values := range c.QueryParams() {
				for _, v := range values {
					if strings.ContainsRune(name, 0) || strings.ContainsRune(v, 0) {
						return domain.FieldError(strings.ReplaceAll(name, "\x00", ""),
							"the query parameter %s holds a NUL character (%%00); remove it", strings.ReplaceAll(name, "\x00", ""))
					}
				}
			}
		}
		return next(c)
	}
}

// deadline bounds the request's database work by Config.DBTimeout: when the database stops
// answering, queries give up with context.DeadlineExceeded, which handleError turns into 503.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.DBTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// logRequests writes one structured line per request, with the request id that the client
// also sees, so that a complaint can be matched to its log line.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		s.metrics.observe(c, time.Since(start))
		attrs := []slog.Attr{
			slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
			slog.String("method", req.Method),
			slog.String("route", c.Path()),
			slog.String("uri", req.RequestURI),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
		}
		if u, ok := c.Get(ctxUser).(domain.User); ok {
			attrs = append(attrs, slog.String("user", u.Username))
		}
		level := slog.LevelInfo
		if err, ok := c.Get(ctxError).(error); ok {
			level = slog.LevelError
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		if err, ok := c.Get(ctxClientGone).(error); ok {
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("client_gone", err.Error()))
		}
		s.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

// sessionToken finds the token in the Authorization header or, for the web pages, the cookie.
func sessionToken(c echo.Context) string {
	if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
		if token, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(token)
		}
		return ""
	}
	if ck, err := c.Cookie(SessionCookie); err == nil {
		return ck.Value
	}
	return ""
}

// authenticate requires a valid session and puts its user in the context.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := s.svc.Auth.Authenticate(c.Request().Context(), sessionToken(c))
		if err != nil {
			return err
		}
		c.Set(ctxUser, u)
		return next(c)
	}
}

// require refuses users whose roles do not hold p, and records the role they act under.
func (s *Server) require(p domain.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := c.Get(ctxUser).(domain.User)
			role, err := domain.Authorize(u, p)
			if err != nil {
				return err
			}
			c.Set(ctxActor, u.ActingAs(role, requestID(c)))
			return next(c)
		}
	}
}

func requestID(c echo.Context) string { return c.Response().Header().Get(echo.HeaderXRequestID) }

func currentUser(c echo.Context) domain.User   { return c.Get(ctxUser).(domain.User) }
func currentActor(c echo.Context) domain.Actor { return c.Get(ctxActor).(domain.Actor) }

func noContent(c echo.Context) error { return c.NoContent(http.StatusNoContent) }

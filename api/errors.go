package api

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// statusByCode is the one table that maps domain error codes to HTTP statuses (SPEC §11).
var statusByCode = map[string]int{
	domain.EInvalid:         http.StatusBadRequest,
	domain.EUnauthenticated: http.StatusUnauthorized,
	domain.EAccountLocked:   http.StatusUnauthorized,
	domain.EAccountDisabled: http.StatusUnauthorized,
	domain.EForbidden:       http.StatusForbidden,
	domain.ENotFound:        http.StatusNotFound,
	domain.EConflict:        http.StatusConflict,
	domain.ERuleViolated:    http.StatusUnprocessableEntity,
	domain.ETooLarge:        http.StatusRequestEntityTooLarge,
	domain.ETooManyRequests: http.StatusTooManyRequests,
	domain.EUnavailable:     http.StatusServiceUnavailable,
	domain.EInternal:        http.StatusInternalServerError,
	codeUnsupportedMedia:    http.StatusUnsupportedMediaType,
}

// codeUnsupportedMedia is a request body in a format the call does not take: an HTTP matter,
// not a domain one.
const codeUnsupportedMedia = "unsupported_media_type"

// errorBody is the error format of SPEC §11: {"error":{"code","message"}}, with the field at
// fault and the request id added for whoever has to follow it up.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// fromEchoError turns Echo's own errors (no route, body too large, …) into domain errors.
func fromEchoError(he *echo.HTTPError) *domain.Error {
	switch he.Code {
	case http.StatusNotFound:
		return domain.Errorf(domain.ENotFound, "there is no such page or API call; check the address")
	case http.StatusMethodNotAllowed:
		return &domain.Error{Code: "method_not_allowed", Message: "this address does not accept that method"}
	case http.StatusRequestEntityTooLarge:
		return domain.Errorf(domain.ETooLarge, "the request body is too large; send less data per request")
	case http.StatusUnauthorized:
		return domain.Errorf(domain.EUnauthenticated, "log in first")
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return domain.Errorf(domain.EInvalid, "the request is malformed: %v", he.Message)
	}
	return &domain.Error{Code: domain.EInternal, Message: fmt.Sprint(he.Message)}
}

func statusOf(code string) int {
	if st, ok := statusByCode[code]; ok {
		return st
	}
	if code == "method_not_allowed" {
		return http.StatusMethodNotAllowed
	}
	return http.StatusInternalServerError
}

// handleError is Echo's error handler: every error leaves the service here.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client went away (a closed page, a scanner's timeout): nobody reads the
		// answer and no fault of ours is to blame, so the log says so instead of an error.
		c.Set(ctxClientGone, err)
		c.Response().WriteHeader(statusClientClosedRequest)
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) && !isDomainError(err) {
		err = fromEchoError(he)
	}
	if !isDomainError(err) && databaseUnreachable(err) {
		err = fmt.Errorf("%w: %w", errUnavailable, err)
	}
	code := domain.ErrorCode(err)
	status := statusOf(code)
	if wait := domain.ErrorRetryAfter(err); wait > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
	}
	if status >= 500 {
		// The cause stays in the log; the client gets a sentence it can act on.
		c.Set(ctxError, err)
	}
	body := errorBody{Error: errorDetail{
		Code:      code,
		Message:   domain.ErrorMessage(err),
		Field:     domain.ErrorField(err),
		RequestID: c.Response().Header().Get(echo.HeaderXRequestID),
	}}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else if isFHIR(c) {
		err = fhirError(c, status, code, body.Error.Message)
	} else if wantsPage(c) {
		err = errorPage(c, status, body.Error)
	} else {
		err = c.JSON(status, body)
	}
	if err != nil {
		s.log.Error("write error response", "err", err)
	}
}

// statusClientClosedRequest is the status logged for a request whose client went away before
// the answer (nginx's convention); it is never received.
const statusClientClosedRequest = 499

// errUnavailable is what a client is told when the database cannot be reached: the request
// may be repeated once the service answers again, and a write that got this answer was not
// acknowledged, so it must be checked (GET) or repeated rather than assumed done.
var errUnavailable = domain.Errorf(domain.EUnavailable,
	"the database cannot be reached right now, so this request was not completed; try again in a minute, and if it keeps failing call IT support")

// databaseUnreachable reports whether err is a failure to reach the database (a lost
// connection, a refused one, a wait past the deadline) rather than a bug. The store classifies
// its writes itself; this catches the same failures on paths it returns unclassified.
func databaseUnreachable(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &netErr) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

func isDomainError(err error) bool {
	var de *domain.Error
	return errors.As(err, &de)
}

// wantsPage tells whether a browser asked for one of the web pages (not the JSON API), whose
// reader should see the error as a page, not as JSON.
func wantsPage(c echo.Context) bool {
	return !strings.HasPrefix(c.Request().URL.Path, "/api/") && strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html")
}

var errorPageTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · cordtrace</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main><h1>{{.Title}}</h1><p class="flash" role="alert">{{.Message}}</p>
<p><a href="/">Back to your start page</a></p>
{{with .RequestID}}<p>Reference for support: {{.}}</p>{{end}}</main></body></html>
`))

// errorPage writes the error as a page: what was wrong and what to do, and the request id
// that finds its line in the log.
func errorPage(c echo.Context, status int, e errorDetail) error {
	var b bytes.Buffer
	err := errorPageTemplate.Execute(&b, struct{ Title, Message, RequestID string }{http.StatusText(status), e.Message, e.RequestID})
	if err != nil {
		return err
	}
	return c.HTMLBlob(status, b.Bytes())
}

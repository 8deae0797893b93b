package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/labstack/echo/v4"

	"cordtrace/store/storetest"
)

// Failures to reach the database leave the service as 503 with a message saying what to do,
// whichever path returns them unclassified; other unknown errors stay 500.
func TestUnreachableDatabaseIs503(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	for name, tc := range map[string]struct {
		err    error
		status int
	}{
		"deadline":  {fmt.Errorf("read lots: %w", context.DeadlineExceeded), 503},
		"refused":   {fmt.Errorf("connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), 503},
		"reset":     {fmt.Errorf("query: %w", syscall.ECONNRESET), 503},
		"plain bug": {fmt.Errorf("nil map"), 500},
	} {
		path := "/test-error/" + strings.ReplaceAll(name, " ", "-")
		ts.srv.Echo().GET(path, func(echo.Context) error { return tc.err })
		res, err := http.Get(ts.url + path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%s: %d %+v, want %d", name, res.StatusCode, body, tc.status)
		}
		if tc.status == 503 && (body.Error.Code != "unavailable" || !strings.Contains(body.Error.Message, "try again")) {
			t.Errorf("%s: %+v", name, body)
		}
	}
}

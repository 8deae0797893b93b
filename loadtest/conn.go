package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strconv"
	"time"
)

// conn is one client's own connection for the run's measured requests. Each request is
// written and its answer read on the client's goroutine: http.Transport keeps two goroutines
// per connection and hands every request and answer between them, which on a machine the load
// generator shares with the service it measures takes CPU from the service.
type conn struct {
	addr, host string
	c          net.Conn
	r          *bufio.Reader
	w          *bufio.Writer
	// afterFunc is context.AfterFunc, or a test's that runs the cut when it chooses.
	afterFunc func(ctx context.Context, f func()) (stop func() bool)
}

// newConn is a connection to the service at base (http only; dialled at the first request).
func newConn(base string) (*conn, error) {
	u, err := neturl.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", base, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("target %q: the load generator speaks plain http to the service", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &conn{addr: addr, host: u.Host, afterFunc: context.AfterFunc}, nil
}

// post sends body as JSON with the bearer token and returns the status and the answer. A
// connection that failed, was cut by ctx or that the service closes is dialled again at the
// next request.
func (c *conn) post(ctx context.Context, path, token string, body []byte) (status int, answer []byte, err error) {
	if c.c == nil {
		var d net.Dialer
		if c.c, err = d.DialContext(ctx, "tcp", c.addr); err != nil {
			return 0, nil, err
		}
		c.r, c.w = bufio.NewReader(c.c), bufio.NewWriter(c.c)
	}
	// The cut runs on a goroutine of its own, which may start only after the answer came
	// and c.c was closed and cleared: it holds on to the connection it is for.
	nc := c.c
	cut := c.afterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	keep := false
	defer func() {
		if !cut() || !keep {
			_ = c.c.Close()
			c.c = nil
		}
	}()
	c.w.WriteString("POST " + path + " HTTP/1.1\r\nHost: " + c.host + "\r\nContent-Type: application/json\r\n")
	if token != "" {
		c.w.WriteString("Authorization: Bearer " + token + "\r\n")
	}
	c.w.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	c.w.Write(body)
	if err := c.w.Flush(); err != nil {
		return 0, nil, err
	}
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, nil, err
	}
	answer, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	keep = !res.Close
	return res.StatusCode, answer, nil
}

// close closes the connection, if open (post clears a connection it closed).
func (c *conn) close() error {
	if c.c == nil {
		return nil
	}
	err := c.c.Close()
	c.c = nil
	return err
}

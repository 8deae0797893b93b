package loadtest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A client's connection sends the request as the service expects it (method, path, JSON
// body, bearer token) and reads answers of either framing, keeps one connection while the
// service keeps it, dials again after the service closed it or a request was cut off, and
// refuses a target it cannot speak to.
func TestConnTalksHTTP(t *testing.T) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok" ||
			r.Header.Get("Content-Type") != "application/json" || string(body) != `{"a":1}` {
			http.Error(w, "unexpected request: "+r.Method+" "+r.Header.Get("Authorization")+" "+string(body), http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/chunked":
			w.WriteHeader(http.StatusCreated)
			for _, part := range []string{`{"pass":`, `true}`} {
				_, _ = io.WriteString(w, part)
				w.(http.Flusher).Flush() // no Content-Length: the answer comes in chunks
			}
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		case "/slow":
			time.Sleep(200 * time.Millisecond)
			_, _ = io.WriteString(w, "late")
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	cn, err := newConn(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.close()
	ctx := context.Background()
	post := func(ctx context.Context, path string, wantStatus int, wantBody string) error {
		t.Helper()
		status, body, err := cn.post(ctx, path, "tok", []byte(`{"a":1}`))
		if err != nil {
			return err
		}
		if status != wantStatus || string(body) != wantBody {
			t.Fatalf("%s: %d %q, want %d %q", path, status, body, wantStatus, wantBody)
		}
		return nil
	}
	for _, path := range []string{"/a", "/chunked", "/b"} {
		want, status := "ok", http.StatusOK
		if path == "/chunked" {
			want, status = `{"pass":true}`, http.StatusCreated
		}
		if err := post(ctx, path, status, want); err != nil {
			t.Fatal(err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d connections for three requests, want one kept", n)
	}
	if err := post(ctx, "/close", http.StatusOK, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := post(ctx, "/a", http.StatusOK, "ok"); err != nil {
		t.Fatalf("after the service closed the connection: %v", err)
	}
	if n := dials.Load(); n != 2 {
		t.Fatalf("%d connections, want a second after the service closed the first", n)
	}
	cut, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := post(cut, "/slow", http.StatusOK, "late"); err == nil {
		t.Fatal("a request cut off by its context came back without an error")
	}
	if err := post(ctx, "/a", http.StatusOK, "ok"); err != nil {
		t.Fatalf("after a request was cut off: %v", err)
	}
	if n := dials.Load(); n != 3 {
		t.Fatalf("%d connections, want a third after the cut-off one", n)
	}
	for _, target := range []string{"https://127.0.0.1:1", "127.0.0.1:8080", "ftp://x"} {
		if _, err := newConn(target); err == nil || !strings.Contains(err.Error(), "target") {
			t.Errorf("target %q: %v, want it refused", target, err)
		}
	}
}

// A request whose context ends just as its answer arrives, as at the end of every run, is
// answered, and the cut, whose goroutine may start only after post returned and closed the
// connection, acts on that connection alone: the next request is answered on a new one.
func TestConnSurvivesACutAfterTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	cn, err := newConn(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.close()
	var late func()
	cn.afterFunc = func(_ context.Context, f func()) func() bool {
		late = f
		return func() bool { return false } // already started: the cut is on its way
	}
	if status, _, err := cn.post(context.Background(), "/", "", nil); err != nil || status != http.StatusOK {
		t.Fatalf("the request whose context ended: %d %v", status, err)
	}
	late() // the cut's goroutine, starting only now
	cn.afterFunc = context.AfterFunc
	if status, body, err := cn.post(context.Background(), "/", "", nil); err != nil || status != http.StatusOK || string(body) != "ok" {
		t.Fatalf("after the cut: %d %q %v", status, body, err)
	}
}

package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"cordtrace/api"
	"cordtrace/store/storetest"
)

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

func openAPIDoc(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromData(api.OpenAPI)
		if specErr == nil {
			specErr = specDoc.Validate(context.Background())
		}
		if specErr == nil {
			specRouter, specErr = gorillamux.NewRouter(specDoc)
		}
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	return specDoc, specRouter
}

var echoParam = regexp.MustCompile(`:([a-z_]+)`)

// infraRoutes are the routes outside /api/v1 that the description covers.
var infraRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/openapi.yaml": true}

// Every route the server registers is described, and the description names no route that
// does not exist.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, _ := openAPIDoc(t)
	srv := api.New(api.Services{}, api.Config{})
	registered := map[string]bool{}
	for _, r := range srv.Echo().Routes() {
		if !strings.HasPrefix(r.Path, "/api/") && !strings.HasPrefix(r.Path, "/fhir/") && !infraRoutes[r.Path] {
			continue // a web page, not API
		}
		key := r.Method + " " + echoParam.ReplaceAllString(r.Path, "{$1}")
		registered[key] = true
		item := doc.Paths.Find(echoParam.ReplaceAllString(r.Path, "{$1}"))
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s is served but missing from openapi.yaml", key)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !registered[method+" "+path] {
				t.Errorf("openapi.yaml describes %s %s, which the server does not serve", method, path)
			}
		}
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	ts := newTestServer(t, storetest.SQLite)
	r := ts.do("GET", "/openapi.yaml", "", nil)
	if r.status != 200 || !bytes.Equal(r.body, api.OpenAPI) {
		t.Fatalf("/openapi.yaml: %d", r.status)
	}
}

// checkAgainstOpenAPI validates an exchange made by a test: every response must match the
// description (status included), and every request the server accepted must too.
func checkAgainstOpenAPI(t testing.TB, req *http.Request, reqBody []byte, res *http.Response, resBody []byte) {
	t.Helper()
	_, router := openAPIDoc(t)
	req = req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := router.FindRoute(req)
	if err != nil {
		if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed {
			return // a test of an address that does not exist
		}
		t.Errorf("openapi: %s %s: %v", req.Method, req.URL.Path, err)
		return
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if res.StatusCode < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("openapi: accepted request %s %s does not match the description: %v", req.Method, req.URL.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Body: io.NopCloser(bytes.NewReader(resBody)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("openapi: response %d to %s %s does not match the description: %v", res.StatusCode, req.Method, req.URL.Path, err)
	}
}

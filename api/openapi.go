package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// OpenAPI is the API's OpenAPI 3 description. It is maintained by hand beside the handlers;
// tests fail when a route is missing from it or an answer does not match it.
//
//go:embed openapi.yaml
var OpenAPI []byte

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", OpenAPI)
}

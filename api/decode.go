package api

import (
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// decode reads one JSON object into v. Unknown fields are refused rather than ignored: a
// misspelt "reason" or "witness" silently dropped is how a check gets skipped.
func decode(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return domain.Errorf(domain.EInvalid, "the body must hold exactly one JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var he *echo.HTTPError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &he):
		return err // body over the size limit
	case errors.Is(err, io.EOF):
		return domain.Errorf(domain.EInvalid, "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Errorf(domain.EInvalid, "the request body is cut off; send a complete JSON object")
	case errors.As(err, &syntax):
		return domain.Errorf(domain.EInvalid, "the request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return domain.Errorf(domain.EInvalid, "the request body must be a JSON object")
		}
		return domain.FieldError(typeErr.Field, "%s must be a %s, not a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return domain.FieldError(field, "%q is not a field of this request; check its spelling", field)
	}
	return domain.Errorf(domain.EInvalid, "the request body cannot be read: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean (true or false)"
	case "slice", "array":
		return "list"
	case "struct", "map":
		return "object"
	}
	return "number"
}

// required names the first empty field among name/value pairs.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return domain.FieldError(pairs[i], "%s is required", pairs[i])
		}
	}
	return nil
}

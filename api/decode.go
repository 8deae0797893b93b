package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"cordtrace/domain"
)

// decode reads one JSON object into v. Unknown fields are refused rather than ignored: a
// misspelt "reason" or "witness" silently dropped is how a check gets skipped.
//
// The body is read whole first (the body limit bounds it): a decoder reading as it goes can
// finish a value from the last chunk that crossed the limit and miss the refusal.
func decode(c echo.Context, v any) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return decodeError(err)
	}
	if err := decodeBytes(body, v); err != nil {
		return err
	}
	return nil
}

// decodeBytes is decode's parsing of a body already read.
func decodeBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		err = decodeError(err)
		if domain.ErrorField(err) == "" {
			if field := blame(body, v); field != "" {
				return domain.FieldError(field, "%s has the wrong format: %s", field, domain.ErrorMessage(err))
			}
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return domain.Errorf(domain.EInvalid, "the body must hold exactly one JSON object")
	}
	// PostgreSQL cannot store a NUL character in text (SQLite would keep it): refuse it here, on
	// both, rather than fail at the database.
	if bytes.Contains(body, []byte(`\u0000`)) {
		var doc any
		if json.Unmarshal(body, &doc) == nil {
			if field, ok := nulField("", doc); ok {
				return domain.FieldError(field, "%s holds a NUL character (\\u0000), which cannot be stored; remove it", field)
			}
		}
	}
	return nil
}

// nulField returns the path of the first string (or key) holding a NUL character.
func nulField(path string, v any) (string, bool) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v := v.(type) {
	case string:
		return path, strings.ContainsRune(v, 0)
	case []any:
		for _, e := range v {
			if f, ok := nulField(path, e); ok {
				return f, true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.ContainsRune(k, 0) {
				return join(strings.ReplaceAll(k, "\x00", "")), true
			}
			if f, ok := nulField(join(k), e); ok {
				return f, true
			}
		}
	}
	return "", false
}

// blame finds the top-level field whose value alone fails to decode into v's type, for errors
// that do not say (a time that does not parse, say). It returns "" when no single field does.
func blame(body []byte, v any) string {
	var fields map[string]json.RawMessage
	rt := reflect.TypeOf(v)
	if json.Unmarshal(body, &fields) != nil || rt.Kind() != reflect.Pointer {
		return ""
	}
	for name, raw := range fields {
		one, _ := json.Marshal(map[string]json.RawMessage{name: raw})
		if json.Unmarshal(one, reflect.New(rt.Elem()).Interface()) != nil {
			return name
		}
	}
	return ""
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
	var timeErr *time.ParseError
	if errors.As(err, &timeErr) {
		return domain.Errorf(domain.EInvalid, "%q is not a time: give one such as 2026-11-25T08:30:00Z (RFC 3339, with the zone)", timeErr.Value)
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

package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/kanal-dev/kanal/internal/conversation"
)

// decode reads a JSON body into v: the body must be JSON, within the size
// limit, hold exactly one value and no unknown fields.
func (s *Server) decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt != "application/json" {
			return &httpError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", msg: "send a JSON body with Content-Type: application/json"}
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return &httpError{status: http.StatusBadRequest, code: "malformed_json", msg: "the body must hold a single JSON value"}
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)}
	case errors.Is(err, io.EOF):
		return &httpError{status: http.StatusBadRequest, code: "malformed_json", msg: "the body is empty; send a JSON object"}
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return &httpError{status: http.StatusBadRequest, code: "malformed_json", msg: "the body is not valid JSON: " + err.Error()}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return &httpError{status: http.StatusBadRequest, code: "invalid_input", msg: "wrong type for " + field,
			fields: map[string]string{field: "must be " + jsonKind(typ.Type.Kind().String())}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &httpError{status: http.StatusBadRequest, code: "unknown_field", msg: fmt.Sprintf("unknown field %q", name),
			fields: map[string]string{name: "is not a known field"}}
	}
	return &httpError{status: http.StatusBadRequest, code: "malformed_json", msg: "the body is not valid JSON: " + err.Error()}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "ptr":
		return "a value of another type"
	}
	return "a number"
}

// limitParam reads ?limit= with a default and a maximum.
func limitParam(r *http.Request, def, max int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, &httpError{status: http.StatusBadRequest, code: "invalid_input", msg: "bad limit",
			fields: map[string]string{"limit": fmt.Sprintf("must be a whole number from 1 to %d", max)}}
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// page cuts a list fetched with limit+1 rows to limit and returns the cursor
// of the next page ("" on the last page).
func page[T any](items []T, limit int, cursor func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, cursor(items[len(items)-1])
}

// listParams reads ?limit= (default 50, at most 200) and ?cursor=.
func listParams(r *http.Request) (int, conversation.Cursor, error) {
	limit, err := limitParam(r, 50, 200)
	if err != nil {
		return 0, conversation.Cursor{}, err
	}
	c, err := conversation.DecodeCursor(r.URL.Query().Get("cursor"))
	return limit, c, err
}

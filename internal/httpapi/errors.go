package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/store"
)

// apiError is the body of every error answer:
// {"error":{"code":"...","message":"...","fields":{...}}}.
type apiError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// writeError maps a domain error to its HTTP status and body. It is the one
// place where errors meet HTTP.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := s.mapError(err)
	if status >= 500 {
		lvl := slog.LevelError
		if status == http.StatusServiceUnavailable {
			lvl = slog.LevelWarn
		}
		s.log.Log(r.Context(), lvl, "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, map[string]apiError{"error": body})
}

func (s *Server) mapError(err error) (int, apiError) {
	var v *errs.Validation
	if errors.As(err, &v) {
		return http.StatusBadRequest, apiError{Code: "invalid_input", Message: v.Error(), Fields: v.Fields}
	}
	var he *httpError
	if errors.As(err, &he) {
		return he.status, apiError{Code: he.code, Message: he.msg, Fields: he.fields}
	}
	var p *errs.Public
	if errors.As(err, &p) {
		return statusOf(p.Kind), apiError{Code: p.Code, Message: p.Msg}
	}
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return http.StatusNotFound, apiError{Code: "not_found", Message: "not found"}
	case errors.Is(err, errs.ErrConflict):
		return http.StatusConflict, apiError{Code: "conflict", Message: "conflict"}
	case errors.Is(err, errs.ErrForbidden):
		return http.StatusForbidden, apiError{Code: "forbidden", Message: "you may not do this"}
	case errors.Is(err, errs.ErrUnauthenticated):
		return http.StatusUnauthorized, apiError{Code: "unauthenticated", Message: "log in or send an API token"}
	case errors.Is(err, errs.ErrRateLimited):
		return http.StatusTooManyRequests, apiError{Code: "rate_limited", Message: "too many requests; slow down"}
	case errors.Is(err, errs.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, apiError{Code: "too_large", Message: "request body too large"}
	case errors.Is(err, errs.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), store.IsUnavailable(err):
		return http.StatusServiceUnavailable, apiError{Code: "database_unavailable", Message: "the database is unavailable; try again shortly"}
	}
	return http.StatusInternalServerError, apiError{Code: "internal", Message: "internal error"}
}

func statusOf(kind error) int {
	switch kind {
	case errs.ErrNotFound:
		return http.StatusNotFound
	case errs.ErrConflict:
		return http.StatusConflict
	case errs.ErrForbidden:
		return http.StatusForbidden
	case errs.ErrUnauthenticated:
		return http.StatusUnauthorized
	case errs.ErrRateLimited:
		return http.StatusTooManyRequests
	case errs.ErrTooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.ErrUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// httpError is an error that only the HTTP layer produces (bad JSON, body
// too large, unsupported media type).
type httpError struct {
	status int
	code   string
	msg    string
	fields map[string]string
}

func (e *httpError) Error() string { return e.msg }

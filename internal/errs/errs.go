// Package errs holds Kanal's domain error kinds. Domain packages wrap these
// with %w; the HTTP layer maps them to status codes in one place.
package errs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel error kinds.
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrForbidden       = errors.New("forbidden")
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrUnavailable     = errors.New("unavailable")
	ErrRateLimited     = errors.New("rate limited")
	ErrTooLarge        = errors.New("too large")
	ErrInvalid         = errors.New("invalid") // bad input that is not about one field
)

// Validation is a bad-input error naming the fields at fault. Its message is
// safe to show to the caller.
type Validation struct {
	Fields map[string]string
}

// Invalid builds a Validation error for one field.
func Invalid(field, msg string) *Validation {
	return &Validation{Fields: map[string]string{field: msg}}
}

// Add records one more field problem and returns v for chaining.
func (v *Validation) Add(field, msg string) *Validation {
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	v.Fields[field] = msg
	return v
}

// OrNil returns v when it holds a problem, or nil.
func (v *Validation) OrNil() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

func (v *Validation) Error() string {
	keys := make([]string, 0, len(v.Fields))
	for k := range v.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+v.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Public is an error whose message may be shown to the caller as is. Kind is
// one of the sentinel errors above.
type Public struct {
	Kind error
	Code string
	Msg  string
}

func (p *Public) Error() string { return p.Msg }
func (p *Public) Unwrap() error { return p.Kind }

// New returns a Public error of the given kind with a machine code and a
// message for people.
func New(kind error, code, format string, args ...any) error {
	return &Public{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...)}
}

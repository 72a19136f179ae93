package routing

import (
	"errors"
	"fmt"
	"strings"
)

// Problem is one thing wrong with a policy or scenario: the JSON path of the
// offending value (queues[2].targets[0].timeout_s) and the rule it breaks.
type Problem struct {
	Path string `json:"path"`
	Rule string `json:"rule"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Rule
	}
	return p.Path + ": " + p.Rule
}

// Problems is a validation error: every problem found, in document order.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

// problems collects Problems while walking a document.
type problems struct{ list Problems }

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, Problem{Path: path, Rule: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}

// AsProblems returns the problems of a validation error, or nil.
func AsProblems(err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return ps
	}
	return nil
}

// Errors of the engine's operations.
var (
	ErrUnknownItem  = errors.New("routing: unknown work item")
	ErrUnknownAgent = errors.New("routing: unknown agent")
	ErrUnknownQueue = errors.New("routing: unknown queue")
	ErrNoOffer      = errors.New("routing: no pending offer for this item and agent")
	ErrState        = errors.New("routing: the item is not in a state that allows this")
	ErrDuplicate    = errors.New("routing: duplicate id")
)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

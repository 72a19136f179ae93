package store

import (
	"bufio"
	"fmt"
	"io/fs"
	"strings"
)

// Queries is a set of named SQL statements read from a package's .sql file.
// A statement starts with a line `-- name: some-name`. A statement that only
// one dialect needs differently is named `some-name@postgres` or
// `some-name@sqlite`; Get picks it for that dialect.
type Queries struct {
	m map[string]string
}

// MustQueries parses every *.sql file of fsys, and panics on a malformed one
// (the files are embedded, so a panic shows at start-up and in every test).
func MustQueries(fsys fs.FS) *Queries {
	q := &Queries{m: map[string]string{}}
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("store: no query files: %v", err))
	}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			panic(err)
		}
		if err := q.parse(f, string(b)); err != nil {
			panic(err)
		}
	}
	return q
}

func (q *Queries) parse(file, src string) error {
	var name string
	var body strings.Builder
	flush := func() error {
		if name == "" {
			return nil
		}
		s := strings.TrimSpace(body.String())
		s = strings.TrimSuffix(s, ";")
		if s == "" {
			return fmt.Errorf("store: %s: query %q is empty", file, name)
		}
		if _, dup := q.m[name]; dup {
			return fmt.Errorf("store: %s: query %q defined twice", file, name)
		}
		q.m[name] = s
		body.Reset()
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
			if err := flush(); err != nil {
				return err
			}
			name = strings.TrimSpace(rest)
			continue
		}
		if name != "" {
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	return flush()
}

// Get returns the statement called name for dialect d. It panics on an
// unknown name: that is a programming error that every test would show.
func (q *Queries) Get(d Dialect, name string) string {
	if s, ok := q.m[name+"@"+string(d)]; ok {
		return s
	}
	s, ok := q.m[name]
	if !ok {
		panic("store: unknown query " + name)
	}
	return s
}

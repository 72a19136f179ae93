package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps the writer's statements prepared. SQLite spends about as
// long preparing a statement as running it, and the writer runs the same few
// dozen statements all day. The single write connection is busy while a
// transaction is open, so a statement first seen inside a transaction runs
// unprepared and is prepared after that transaction ends.
// PostgreSQL's driver keeps its own per-connection statement cache, so the
// cache is only used on SQLite (a nil *stmtCache is a no-op).
type stmtCache struct {
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	missed map[string]bool
}

func newStmtCache() *stmtCache {
	return &stmtCache{m: map[string]*sql.Stmt{}, missed: map[string]bool{}}
}

const maxCachedStmts = 512

func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.m[query]
	if st == nil && len(c.m) < maxCachedStmts {
		c.missed[query] = true
	}
	return st
}

// prepareMissed prepares the statements seen since the last call. It must
// run while no transaction holds the write connection.
func (c *stmtCache) prepareMissed(ctx context.Context, db *sql.DB) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.missed {
		delete(c.missed, q)
		if st, err := db.PrepareContext(ctx, q); err == nil {
			c.m[q] = st
		}
	}
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
}

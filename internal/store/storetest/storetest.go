// Package storetest opens throw-away databases for tests: SQLite in a
// temporary folder always, and PostgreSQL (a fresh schema per test) when
// KANAL_TEST_DATABASE_URL is set. Run runs one test body on both, so every
// store-backed behaviour is proven on both dialects.
package storetest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kanal-dev/kanal/internal/store"
)

// EnvURL names the variable holding the PostgreSQL URL for tests.
const EnvURL = "KANAL_TEST_DATABASE_URL"

// Run runs fn as two subtests, "sqlite" and "postgres", each with a new
// empty, migrated database. The postgres subtest is skipped when
// KANAL_TEST_DATABASE_URL is unset.
func Run(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Config returns a store.Config for a new empty database of dialect d; the
// database is removed when the test ends.
func Config(t testing.TB, d store.Dialect) store.Config {
	t.Helper()
	if d == store.SQLite {
		return store.Config{DataDir: t.TempDir()}
	}
	return store.Config{DataDir: t.TempDir(), URL: PostgresURL(t)}
}

// Open opens a new empty, migrated database of dialect d, closed when the
// test ends.
func Open(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), Config(t, d))
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL creates a fresh schema in the test database and returns a URL
// whose search_path points at it. It skips the test when no test database
// is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skip(EnvURL + " is not set; PostgreSQL tests skipped")
	}
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("postgres: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("postgres: drop schema: %v", err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres: bad %s: %v", EnvURL, err)
	}
	qs := u.Query()
	qs.Set("search_path", schema)
	u.RawQuery = qs.Encode()
	return u.String()
}

// Dialects lists the dialects a test may run on.
func Dialects() []store.Dialect { return []store.Dialect{store.SQLite, store.Postgres} }

// Package store opens Kanal's database (embedded SQLite or PostgreSQL), applies
// migrations and runs writes through a single group-committing writer: many
// concurrent requests share one transaction and one fsync. Domain packages
// keep their own SQL in embedded .sql files and run it through Tx and Reader.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names a SQL dialect.
type Dialect string

// The two dialects Kanal speaks.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config says which database to open.
type Config struct {
	// DataDir holds the SQLite file when URL is empty.
	DataDir string
	// URL is a PostgreSQL URL (postgres://...). Empty means embedded SQLite.
	URL string
	// MaxBatch caps how many writes share one transaction. 0 means 256.
	MaxBatch int
	Logger   *slog.Logger
}

// DB is an open database with its writer.
type DB struct {
	dialect Dialect
	read    *sql.DB
	write   *sql.DB
	reqs    chan *writeReq
	stop    chan struct{}
	done    chan struct{}
	max     int
	log     *slog.Logger
	stats   WriterStats
	stmts   *stmtCache // SQLite only
	closing sync.RWMutex
	closed  bool
}

// WriterStats counts the writer's work, for metrics and benchmarks.
type WriterStats struct {
	Batches uint64
	Writes  uint64
}

// Open opens (and creates) the database, applies pending migrations and
// starts the writer.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	db := &DB{max: cfg.MaxBatch, log: cfg.Logger}
	if db.max <= 0 {
		db.max = 256
	}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if cfg.URL != "" {
		db.dialect = Postgres
		db.read, err = sql.Open("pgx", cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.read.SetMaxOpenConns(16)
		db.read.SetMaxIdleConns(16)
		db.read.SetConnMaxIdleTime(5 * time.Minute)
		db.write = db.read
	} else {
		db.dialect = SQLite
		if cfg.DataDir == "" {
			return nil, errors.New("open sqlite: no data directory")
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		path := filepath.Join(cfg.DataDir, "kanal.db")
		const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
			"&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-8000)" +
			"&_pragma=journal_size_limit(67108864)&_time_format=sqlite"
		db.write, err = sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		db.write.SetMaxOpenConns(1)
		db.write.SetMaxIdleConns(1)
		db.write.SetConnMaxLifetime(0)
		db.read, err = sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		db.read.SetMaxOpenConns(8)
		db.read.SetMaxIdleConns(8)
		db.stmts = newStmtCache()
	}
	if err := db.migrate(ctx); err != nil {
		db.closePools()
		return nil, err
	}
	db.reqs = make(chan *writeReq, 4*db.max)
	db.stop = make(chan struct{})
	db.done = make(chan struct{})
	go db.writer()
	return db, nil
}

// Dialect tells which SQL dialect the database speaks.
func (db *DB) Dialect() Dialect { return db.dialect }

// Reader returns the read side of the database.
func (db *DB) Reader() *Reader { return &Reader{db: db.read, d: db.dialect} }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close stops the writer after the writes already queued and closes the pools.
func (db *DB) Close() error {
	db.closing.Lock()
	wasClosed := db.closed
	db.closed = true
	db.closing.Unlock()
	if wasClosed {
		return nil
	}
	if db.stop != nil {
		close(db.stop) // the writer drains what is queued, then exits
		<-db.done
	}
	return db.closePools()
}

func (db *DB) closePools() error {
	db.stmts.close()
	err := db.read.Close()
	if db.write != db.read {
		err = errors.Join(err, db.write.Close())
	}
	return err
}

// NewID returns a new opaque, time-sortable id.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Now returns the current time in Unix milliseconds, the unit of every
// timestamp column.
func Now() int64 { return time.Now().UnixMilli() }

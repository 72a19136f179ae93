package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Tx is one write inside a (possibly shared) transaction. A function handed
// to DB.Write sees its own writes and those of earlier writes in the batch.
type Tx struct {
	tx    *sql.Tx
	d     Dialect
	after []func()
	stmts *stmtCache
}

// Dialect tells which SQL dialect the transaction speaks.
func (t *Tx) Dialect() Dialect { return t.d }

// Exec runs a statement.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmts.get(query); st != nil {
		r, err := t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		return r, classify(err)
	}
	r, err := t.tx.ExecContext(ctx, query, args...)
	return r, classify(err)
}

// Query runs a query returning rows.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmts.get(query); st != nil {
		r, err := t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
		return r, classify(err)
	}
	r, err := t.tx.QueryContext(ctx, query, args...)
	return r, classify(err)
}

// QueryRow runs a query returning one row.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *Row {
	if st := t.stmts.get(query); st != nil {
		return &Row{r: t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)}
	}
	return &Row{r: t.tx.QueryRowContext(ctx, query, args...)}
}

// AfterCommit registers f to run once the transaction has committed. It does
// not run when this write or the transaction fails.
func (t *Tx) AfterCommit(f func()) { t.after = append(t.after, f) }

// Row is the result of QueryRow; Scan reports ErrNotFound for no row.
type Row struct{ r *sql.Row }

// Scan copies the row's columns into dest.
func (r *Row) Scan(dest ...any) error { return classify(r.r.Scan(dest...)) }

// Reader runs read-only queries on the read pool.
type Reader struct {
	db *sql.DB
	d  Dialect
}

// Dialect tells which SQL dialect the reader speaks.
func (r *Reader) Dialect() Dialect { return r.d }

// Query runs a query returning rows.
func (r *Reader) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := r.db.QueryContext(ctx, query, args...)
	return rows, classify(err)
}

// QueryRow runs a query returning one row.
func (r *Reader) QueryRow(ctx context.Context, query string, args ...any) *Row {
	return &Row{r: r.db.QueryRowContext(ctx, query, args...)}
}

// Querier is what both Tx and Reader offer: code that only reads takes one, so
// it runs inside a write or on its own.
type Querier interface {
	Dialect() Dialect
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *Row
}

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	err  error
	done chan struct{}
}

// Write runs fn in a write transaction and returns once it has committed
// (durably: SQLite syncs fully, PostgreSQL commits synchronously). Concurrent
// calls share one transaction: each runs in its own savepoint, so a failing
// fn rolls back only its own work. fn must not keep state outside the
// database until Write has returned nil.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	// Queueing happens under the read lock so that Close cannot slip in
	// between the check and the send and leave a request nobody will run.
	db.closing.RLock()
	if db.closed {
		db.closing.RUnlock()
		return fmt.Errorf("%w: store is closed", ErrUnavailable)
	}
	select {
	case db.reqs <- req:
		db.closing.RUnlock()
	case <-ctx.Done():
		db.closing.RUnlock()
		return ctx.Err()
	}
	<-req.done // once queued, a write always completes or fails on its own
	return req.err
}

// Stats returns the writer's counters.
func (db *DB) Stats() WriterStats {
	return WriterStats{Batches: atomic.LoadUint64(&db.stats.Batches), Writes: atomic.LoadUint64(&db.stats.Writes)}
}

func (db *DB) writer() {
	defer close(db.done)
	batch := make([]*writeReq, 0, db.max)
	for {
		var first *writeReq
		select {
		case first = <-db.reqs:
		case <-db.stop:
			// Drain what is queued, then stop.
			for {
				select {
				case r := <-db.reqs:
					db.runBatch([]*writeReq{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < db.max {
			select {
			case r := <-db.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.runBatch(batch)
	}
}

func (db *DB) runBatch(batch []*writeReq) {
	atomic.AddUint64(&db.stats.Batches, 1)
	atomic.AddUint64(&db.stats.Writes, uint64(len(batch)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	finish := func(err error) {
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
			close(r.done)
		}
	}
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		finish(fmt.Errorf("begin: %w", classifyWrite(err)))
		return
	}
	tx := &Tx{tx: sqlTx, d: db.dialect, stmts: db.stmts}
	shared := len(batch) > 1
	var ok int
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if shared {
			if _, err := tx.Exec(ctx, "SAVEPOINT w"); err != nil {
				_ = sqlTx.Rollback()
				finish(fmt.Errorf("savepoint: %w", classifyWrite(err)))
				return
			}
		}
		mark := len(tx.after)
		r.err = runFn(r.fn, tx)
		if r.err != nil {
			tx.after = tx.after[:mark]
			if !shared {
				_ = sqlTx.Rollback()
				finish(nil)
				return
			}
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT w"); err != nil {
				_ = sqlTx.Rollback()
				finish(fmt.Errorf("rollback to savepoint: %w", classifyWrite(err)))
				return
			}
		}
		if shared {
			if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT w"); err != nil {
				_ = sqlTx.Rollback()
				finish(fmt.Errorf("release savepoint: %w", classifyWrite(err)))
				return
			}
		}
		if r.err == nil {
			ok++
		}
	}
	if ok == 0 {
		_ = sqlTx.Rollback()
		finish(nil)
		return
	}
	if err := sqlTx.Commit(); err != nil {
		finish(fmt.Errorf("commit: %w", classifyWrite(err)))
		return
	}
	db.stmts.prepareMissed(ctx, db.write) // the connection is free again
	for _, f := range tx.after {
		f()
	}
	finish(nil)
}

// classifyWrite marks any failure of the transaction machinery itself as
// the database being unavailable.
func classifyWrite(err error) error {
	err = classify(err)
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func runFn(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(tx)
}

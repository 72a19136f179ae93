// Package jobs runs durable jobs stored in the database; outbound delivery
// uses it. A job is enqueued inside the caller's write transaction (an
// outbox), so it exists exactly when the change that asked for it committed.
// Workers claim due jobs under a lease through the store's single writer, run
// their handler, and then delete the job (success), schedule another try with
// exponential backoff and full jitter, or move it to the dead letters, where
// an operator can list and retry it. Delivery is at least once: a job whose
// worker died is claimed again once its lease has expired, so handlers must
// be idempotent.
package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kanal-dev/kanal/internal/store"
)

//go:embed queries.sql
var queryFS embed.FS

var queries = store.MustQueries(queryFS)

// States of a job.
const (
	StatePending = "pending"
	StateRunning = "running"
	StateDead    = "dead"
)

// maxErrorLen caps the stored last_error.
const maxErrorLen = 4000

// finishTimeout bounds the write that records a job's outcome, retries included.
const finishTimeout = 30 * time.Second

// Job is one durable job.
type Job struct {
	ID          string          `json:"id"`
	WorkspaceID string          `json:"workspace_id"`
	Kind        string          `json:"kind"`
	Payload     json.RawMessage `json:"payload"`
	State       string          `json:"state"`
	Attempts    int             `json:"attempts"`
	MaxAttempts int             `json:"max_attempts"`
	RunAt       int64           `json:"run_at"`
	CreatedAt   int64           `json:"created_at"`
	UpdatedAt   int64           `json:"updated_at"`
	LastError   string          `json:"last_error,omitempty"`
}

// Handler runs one job. Its context ends shortly before the job's lease
// does; a handler must honour it, or the job may be claimed again while it
// still runs elsewhere. An error means another try later, unless it is
// Permanent or the attempts are used up.
type Handler func(ctx context.Context, j Job) error

// DeadFunc runs in the transaction that moves a job to the dead letters, with
// the error that killed it. If it fails, the job still goes dead (without its
// work) and the failure is appended to last_error and logged.
type DeadFunc func(ctx context.Context, tx *store.Tx, j Job, cause error) error

// Options tune a Queue. Zero values take the defaults.
type Options struct {
	Workers     int           // concurrent handlers; default 4
	Lease       time.Duration // how long a claim holds a job; default 60s
	Poll        time.Duration // how often to look for due jobs without a Notify; default 1s
	BaseBackoff time.Duration // ceiling of the first retry delay; default 2s
	MaxBackoff  time.Duration // largest retry delay ceiling; default 1h
	MaxAttempts int           // tries before a job goes dead; default 10
	Owner       string        // lease owner name; default host name plus a random suffix
	Now         func() time.Time
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Lease <= 0 {
		o.Lease = 60 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 2 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Hour
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.Owner == "" {
		o.Owner = randomOwner()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func randomOwner() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "kanal"
	}
	return host + "-" + hex.EncodeToString(b)
}

type registration struct {
	fn     Handler
	onDead DeadFunc
}

// Queue enqueues, runs and manages jobs.
type Queue struct {
	db   *store.DB
	log  *slog.Logger
	o    Options
	wake chan struct{}

	mu       sync.RWMutex
	handlers map[string]registration

	busyMu sync.Mutex
	busy   map[string]struct{} // ids whose handler runs in this process

	running atomic.Bool
	// jitter picks the delay in [0, ceil]; tests replace it.
	jitter func(ceil time.Duration) time.Duration
}

// New returns a queue on db. Register handlers with Handle before Run.
func New(db *store.DB, logger *slog.Logger, o Options) *Queue {
	o.defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Queue{
		db:       db,
		log:      logger,
		o:        o,
		wake:     make(chan struct{}, 1),
		handlers: map[string]registration{},
		busy:     map[string]struct{}{},
		jitter:   fullJitter,
	}
}

func fullJitter(ceil time.Duration) time.Duration {
	if ceil <= 0 {
		return 0
	}
	return time.Duration(mrand.Int64N(int64(ceil) + 1))
}

// Handle registers the handler of a kind of job, and optionally onDead (may
// be nil), which runs in the same transaction that marks a job of this kind
// dead. Registering a kind twice panics.
func (q *Queue) Handle(kind string, h Handler, onDead func(ctx context.Context, tx *store.Tx, j Job, cause error) error) {
	if kind == "" || h == nil {
		panic("jobs: Handle needs a kind and a handler")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, dup := q.handlers[kind]; dup {
		panic("jobs: kind " + kind + " registered twice")
	}
	q.handlers[kind] = registration{fn: h, onDead: onDead}
}

func (q *Queue) handler(kind string) (registration, bool) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	r, ok := q.handlers[kind]
	return r, ok
}

func (q *Queue) now() int64 { return q.o.Now().UnixMilli() }

// Enqueue adds a job inside the caller's write transaction: it exists once
// that transaction commits, and not at all if it fails. payload is encoded as
// JSON. A zero runAt means now. The queue is woken after the commit.
func (q *Queue) Enqueue(ctx context.Context, tx *store.Tx, workspaceID, kind string, payload any, runAt time.Time) (string, error) {
	if kind == "" {
		return "", errors.New("jobs: enqueue: empty kind")
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("jobs: enqueue %s: encode payload: %w", kind, err)
	}
	now := q.now()
	at := now
	if !runAt.IsZero() {
		at = runAt.UnixMilli()
	}
	id := store.NewID()
	if _, err := tx.Exec(ctx, queries.Get(tx.Dialect(), "insert"),
		id, workspaceID, kind, string(data), q.o.MaxAttempts, at, now); err != nil {
		return "", fmt.Errorf("jobs: enqueue %s: %w", kind, err)
	}
	tx.AfterCommit(q.Notify)
	return id, nil
}

// EnqueueUnique queues a job inside tx unless a live (not dead) job with the
// same key exists; it tells whether it queued one. Recurring work (one
// poller per inbox) uses it so that restarts and several nodes never start a
// second chain.
func (q *Queue) EnqueueUnique(ctx context.Context, tx *store.Tx, workspaceID, kind, key string, payload any, runAt time.Time) (bool, error) {
	var id string
	err := tx.QueryRow(ctx, queries.Get(tx.Dialect(), "unique-exists"), key).Scan(&id)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("jobs: enqueue %s: %w", kind, err)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return false, fmt.Errorf("jobs: enqueue %s: encode payload: %w", kind, err)
	}
	now := q.now()
	at := now
	if !runAt.IsZero() {
		at = runAt.UnixMilli()
	}
	if _, err := tx.Exec(ctx, queries.Get(tx.Dialect(), "insert-unique"),
		store.NewID(), workspaceID, kind, string(data), q.o.MaxAttempts, at, now, key); err != nil {
		if store.IsUnique(err) {
			return false, nil
		}
		return false, fmt.Errorf("jobs: enqueue %s: %w", kind, err)
	}
	tx.AfterCommit(q.Notify)
	return true, nil
}

// Notify wakes the queue to look for due jobs; it never blocks.
func (q *Queue) Notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run runs jobs with Options.Workers workers until ctx is done. Then it
// waits for the handlers in flight, at most Options.Lease (their contexts
// end before their leases do, and are not cancelled by ctx), and returns.
// A Queue runs once at a time.
func (q *Queue) Run(ctx context.Context) error {
	if !q.running.CompareAndSwap(false, true) {
		return errors.New("jobs: queue is already running")
	}
	defer q.running.Store(false)

	base := context.WithoutCancel(ctx)
	work := make(chan claimed)
	done := make(chan struct{}, q.o.Workers)
	var wg sync.WaitGroup
	for range q.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				q.process(base, c)
				done <- struct{}{}
			}
		}()
	}

	tick := time.NewTicker(q.o.Poll)
	defer tick.Stop()
	free, more := q.o.Workers, true
loop:
	for {
		if free > 0 && more && ctx.Err() == nil {
			cs, err := q.claim(ctx, free)
			if err != nil {
				if ctx.Err() == nil {
					q.log.Warn("jobs: claim", "err", err)
				}
				more = false
			} else {
				// A full claim suggests more is due: claim again as soon
				// as a worker is free.
				more = len(cs) == free
			}
			for _, c := range cs {
				work <- c // a worker is free for each claimed job
				free--
			}
		}
		select {
		case <-ctx.Done():
			break loop
		case <-q.wake:
			more = true
		case <-tick.C:
			more = true
		case <-done:
			free++
		drain:
			for {
				select {
				case <-done:
					free++
				default:
					break drain
				}
			}
		}
	}

	close(work)
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	t := time.NewTimer(q.o.Lease)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		q.log.Warn("jobs: handlers still running at shutdown; their jobs will be claimed again when their leases expire")
	}
	return nil
}

// claimed is a job this process holds the lease of.
type claimed struct {
	Job
	owner      string
	leaseUntil int64
	deadline   time.Time // when the handler's context ends
}

// claim takes up to n due jobs under a new lease.
func (q *Queue) claim(ctx context.Context, n int) ([]claimed, error) {
	start := time.Now()
	now := q.now()
	// Look before writing, so that an idle queue costs reads only.
	r := q.db.Reader()
	var one int
	err := r.QueryRow(ctx, queries.Get(r.Dialect(), "any-due"), now).Scan(&one)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: look for due jobs: %w", err)
	}

	lease := q.o.Lease
	leaseUntil := now + lease.Milliseconds()
	// Leave the handler a margin to record the outcome while the lease holds.
	margin := min(lease/10, 5*time.Second)
	deadline := start.Add(lease - margin)
	var jobs []Job
	err = q.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		jobs, err = scanJobs(tx.Query(ctx, queries.Get(tx.Dialect(), "claim"), q.o.Owner, leaseUntil, now, n))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: claim: %w", err)
	}
	out := make([]claimed, len(jobs))
	for i, j := range jobs {
		out[i] = claimed{Job: j, owner: q.o.Owner, leaseUntil: leaseUntil, deadline: deadline}
	}
	return out, nil
}

// process runs a claimed job's handler and records the outcome.
func (q *Queue) process(ctx context.Context, c claimed) {
	if !q.markBusy(c.ID) {
		// Its handler overran an earlier lease and still runs here; running
		// it again now would run it twice at once. The new lease lapses and
		// the job is claimed again later.
		q.log.Warn("jobs: claimed a job whose handler still runs; skipped", "job", c.ID, "kind", c.Kind)
		return
	}
	defer q.unmarkBusy(c.ID)

	reg, ok := q.handler(c.Kind)
	var err error
	if !ok {
		err = fmt.Errorf("jobs: no handler registered for kind %q", c.Kind)
	} else {
		hctx, cancel := context.WithDeadline(ctx, c.deadline)
		err = q.call(hctx, reg.fn, c.Job)
		cancel()
	}
	if err == nil {
		if err := q.finish(ctx, c, func(tx *store.Tx) error {
			return execFenced(ctx, tx, "delete", c)
		}); err != nil {
			q.logFinish(c, "delete", err)
		}
		return
	}
	var rep *repeatError
	if errors.As(err, &rep) {
		now := q.now()
		if err := q.finish(ctx, c, func(tx *store.Tx) error {
			return execFenced(ctx, tx, "repeat", c, now+rep.after.Milliseconds(), string(rep.payload), now)
		}); err != nil {
			q.logFinish(c, "repeat", err)
		}
		return
	}
	q.fail(ctx, c, reg.onDead, err)
}

// call runs h, turning a panic into an error.
func (q *Queue) call(ctx context.Context, h Handler, j Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			q.log.Error("jobs: handler panicked", "job", j.ID, "kind", j.Kind, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("jobs: handler panicked: %v", p)
		}
	}()
	return h(ctx, j)
}

// fail records a failed try: another try later, or the dead letters.
func (q *Queue) fail(ctx context.Context, c claimed, onDead DeadFunc, cause error) {
	msg := errorText(cause)
	now := q.now()
	if c.Attempts < c.MaxAttempts && !IsPermanent(cause) {
		delay := q.backoff(c.Attempts, retryAfterOf(cause))
		runAt := now + delay.Milliseconds()
		err := q.finish(ctx, c, func(tx *store.Tx) error {
			return execFenced(ctx, tx, "reschedule", c, runAt, msg, now)
		})
		if err != nil {
			q.logFinish(c, "reschedule", err)
			return
		}
		q.log.Info("jobs: job failed; will retry", "job", c.ID, "kind", c.Kind, "workspace", c.WorkspaceID,
			"attempts", c.Attempts, "retry_in", delay, "err", msg)
		return
	}

	j := c.Job
	j.State, j.LastError, j.UpdatedAt = StateDead, msg, now
	err := q.finish(ctx, c, func(tx *store.Tx) error {
		if err := execFenced(ctx, tx, "bury", c, msg, now); err != nil {
			return err
		}
		return runOnDead(ctx, onDead, tx, j, cause)
	})
	var he *hookError
	if errors.As(err, &he) {
		q.log.Error("jobs: on-dead hook failed; job dead without it", "job", c.ID, "kind", c.Kind, "err", he.err)
		msg = errorText(fmt.Errorf("%s; on-dead hook failed: %w", msg, he.err))
		err = q.finish(ctx, c, func(tx *store.Tx) error {
			return execFenced(ctx, tx, "bury", c, msg, now)
		})
	}
	if err != nil {
		q.logFinish(c, "bury", err)
		return
	}
	q.log.Warn("jobs: job dead", "job", c.ID, "kind", c.Kind, "workspace", c.WorkspaceID,
		"attempts", c.Attempts, "err", msg)
}

// hookError marks a failure of an on-dead hook, as opposed to one of the
// store.
type hookError struct{ err error }

func (e *hookError) Error() string { return "on-dead hook: " + e.err.Error() }
func (e *hookError) Unwrap() error { return e.err }

func runOnDead(ctx context.Context, onDead DeadFunc, tx *store.Tx, j Job, cause error) (err error) {
	if onDead == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = &hookError{fmt.Errorf("panic: %v", p)}
		}
	}()
	if err := onDead(ctx, tx, j, cause); err != nil {
		return &hookError{err}
	}
	return nil
}

// errLeaseLost means the job was claimed again (its lease had expired), so
// this worker's outcome no longer counts.
var errLeaseLost = errors.New("jobs: lease lost")

// execFenced runs a statement that finishes a job only while c's lease holds.
func execFenced(ctx context.Context, tx *store.Tx, name string, c claimed, args ...any) error {
	all := append([]any{c.ID, c.owner, c.Attempts, c.leaseUntil}, args...)
	res, err := tx.Exec(ctx, queries.Get(tx.Dialect(), name), all...)
	if err != nil {
		return fmt.Errorf("jobs: %s %s: %w", name, c.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("jobs: %s %s: %w", name, c.ID, err)
	}
	if n == 0 {
		return errLeaseLost
	}
	return nil
}

// finish runs the write recording a job's outcome, retrying while the store
// is unavailable. If it never succeeds, the lease lapses and the job runs
// again.
func (q *Queue) finish(ctx context.Context, c claimed, fn func(tx *store.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := q.db.Write(ctx, fn)
		if err == nil || !errors.Is(err, store.ErrUnavailable) || errors.Is(err, errLeaseLost) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (q *Queue) logFinish(c claimed, what string, err error) {
	if errors.Is(err, errLeaseLost) {
		q.log.Warn("jobs: lease expired before the job finished; outcome dropped", "job", c.ID, "kind", c.Kind, "outcome", what)
		return
	}
	q.log.Error("jobs: record outcome; the job runs again when its lease expires", "job", c.ID, "kind", c.Kind, "outcome", what, "err", err)
}

func (q *Queue) markBusy(id string) bool {
	q.busyMu.Lock()
	defer q.busyMu.Unlock()
	if _, ok := q.busy[id]; ok {
		return false
	}
	q.busy[id] = struct{}{}
	return true
}

func (q *Queue) unmarkBusy(id string) {
	q.busyMu.Lock()
	defer q.busyMu.Unlock()
	delete(q.busy, id)
}

// backoff returns the delay before the next try after the given number of
// attempts: full jitter under base*2^(attempts-1) capped at MaxBackoff, and
// no less than atLeast.
func (q *Queue) backoff(attempts int, atLeast time.Duration) time.Duration {
	ceil := min(q.o.BaseBackoff, q.o.MaxBackoff)
	for i := 1; i < attempts && ceil < q.o.MaxBackoff; i++ {
		if ceil > q.o.MaxBackoff/2 {
			ceil = q.o.MaxBackoff
			break
		}
		ceil *= 2
	}
	return max(q.jitter(ceil), atLeast)
}

// Dead returns up to limit dead jobs of a workspace, newest first, with ids
// below before (empty: from the newest). Pass the last id as the next before.
func (q *Queue) Dead(ctx context.Context, workspaceID string, before string, limit int) ([]Job, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	r := q.db.Reader()
	jobs, err := scanJobs(r.Query(ctx, queries.Get(r.Dialect(), "list-dead"), workspaceID, before, limit))
	if err != nil {
		return nil, fmt.Errorf("jobs: list dead: %w", err)
	}
	return jobs, nil
}

// Retry brings a dead job back: pending, due now, attempts reset. It reports
// store.ErrNotFound when the workspace has no such dead job.
func (q *Queue) Retry(ctx context.Context, workspaceID, id string) error {
	err := q.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, queries.Get(tx.Dialect(), "retry"), id, workspaceID, q.now())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("dead job %s: %w", id, store.ErrNotFound)
		}
		tx.AfterCommit(q.Notify)
		return nil
	})
	if err != nil {
		return fmt.Errorf("jobs: retry: %w", err)
	}
	return nil
}

// Depth counts the jobs not yet done (pending or running) and the dead ones.
func (q *Queue) Depth(ctx context.Context) (pending, dead int64, err error) {
	r := q.db.Reader()
	if err := r.QueryRow(ctx, queries.Get(r.Dialect(), "depth")).Scan(&pending, &dead); err != nil {
		return 0, 0, fmt.Errorf("jobs: depth: %w", err)
	}
	return pending, dead, nil
}

func scanJobs(rows *sql.Rows, err error) ([]Job, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Job{}
	for rows.Next() {
		var j Job
		var payload string
		if err := rows.Scan(&j.ID, &j.WorkspaceID, &j.Kind, &payload, &j.State, &j.Attempts, &j.MaxAttempts,
			&j.RunAt, &j.LastError, &j.CreatedAt, &j.UpdatedAt); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		j.Payload = json.RawMessage(payload)
		out = append(out, j)
	}
	return out, rows.Err()
}

// errorText is err's message made fit to store: valid UTF-8 without NUL
// bytes (PostgreSQL text takes neither), at most maxErrorLen bytes.
func errorText(err error) string {
	s := strings.ToValidUTF8(err.Error(), "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > maxErrorLen {
		s = strings.ToValidUTF8(s[:maxErrorLen], "")
	}
	return s
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks a handler's error as one that must not be retried: the job
// goes dead at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent tells whether err (or an error it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type retryAfterError struct {
	err error
	d   time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter asks for the next try no sooner than d (an HTTP 429's
// Retry-After, say); the try still counts as an attempt. RetryAfter(nil, d)
// is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, d: d}
}

// RetryAfterOf tells how long err (from RetryAfter) asks the queue to wait
// before the next try; 0 when it asks nothing.
func RetryAfterOf(err error) time.Duration { return retryAfterOf(err) }

func retryAfterOf(err error) time.Duration {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.d
	}
	return 0
}

// Repeat is what a handler of recurring work returns on success: the job
// runs again after the given time, with a new payload (a poller's cursor),
// its attempts counted afresh.
func Repeat(after time.Duration, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return Permanent(fmt.Errorf("jobs: repeat: encode payload: %w", err))
	}
	return &repeatError{after: after, payload: b}
}

type repeatError struct {
	after   time.Duration
	payload []byte
}

func (e *repeatError) Error() string { return "jobs: repeat" }

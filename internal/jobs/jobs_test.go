package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newQueue(db *store.DB, o Options) *Queue {
	return New(db, slog.New(slog.DiscardHandler), o)
}

func enqueue(t *testing.T, db *store.DB, q *Queue, ws, kind string, payload any) string {
	t.Helper()
	var id string
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		id, err = q.Enqueue(context.Background(), tx, ws, kind, payload, time.Time{})
		return err
	})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return id
}

// stored is a job row as the database holds it.
type stored struct {
	Job
	LeaseOwner string
}

func load(t *testing.T, db *store.DB, id string) (stored, bool) {
	t.Helper()
	var s stored
	var payload string
	var owner *string
	err := db.Reader().QueryRow(context.Background(),
		`SELECT id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, last_error, created_at, updated_at, lease_owner
		 FROM jobs WHERE id = $1`, id).
		Scan(&s.ID, &s.WorkspaceID, &s.Kind, &payload, &s.State, &s.Attempts, &s.MaxAttempts, &s.RunAt,
			&s.LastError, &s.CreatedAt, &s.UpdatedAt, &owner)
	if errors.Is(err, store.ErrNotFound) {
		return stored{}, false
	}
	if err != nil {
		t.Fatalf("load %s: %v", id, err)
	}
	s.Payload = []byte(payload)
	if owner != nil {
		s.LeaseOwner = *owner
	}
	return s, true
}

func mustLoad(t *testing.T, db *store.DB, id string) stored {
	t.Helper()
	s, ok := load(t, db, id)
	if !ok {
		t.Fatalf("job %s is gone", id)
	}
	return s
}

// step claims what is due and runs it, in this goroutine. It returns how
// many jobs it ran.
func step(t *testing.T, q *Queue) int {
	t.Helper()
	cs, err := q.claim(context.Background(), 100)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	for _, c := range cs {
		q.process(context.Background(), c)
	}
	return len(cs)
}

// waitFor polls cond until it holds, failing the test after a generous
// timeout. It is a safety net, not a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// run starts q.Run and returns a function that stops it and waits for it.
func run(t *testing.T, q *Queue) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- q.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func depth(t *testing.T, q *Queue) (int64, int64) {
	t.Helper()
	p, d, err := q.Depth(context.Background())
	if err != nil {
		t.Fatalf("depth: %v", err)
	}
	return p, d
}

func TestSuccessDeletes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		q := newQueue(db, Options{Poll: 10 * time.Millisecond})
		got := make(chan Job, 1)
		q.Handle("send", func(ctx context.Context, j Job) error {
			got <- j
			return nil
		}, nil)
		id := enqueue(t, db, q, "ws1", "send", map[string]string{"to": "x"})
		if p, d := depth(t, q); p != 1 || d != 0 {
			t.Fatalf("depth = %d, %d; want 1, 0", p, d)
		}
		stop := run(t, q)
		var j Job
		select {
		case j = <-got:
		case <-time.After(8 * time.Second):
			t.Fatal("handler never ran")
		}
		if j.ID != id || j.WorkspaceID != "ws1" || j.Kind != "send" || j.State != StateRunning || j.Attempts != 1 {
			t.Fatalf("handler got %+v", j)
		}
		if string(j.Payload) != `{"to":"x"}` {
			t.Fatalf("payload = %s", j.Payload)
		}
		waitFor(t, "the job to be deleted", func() bool { _, ok := load(t, db, id); return !ok })
		stop()
		if p, d := depth(t, q); p != 0 || d != 0 {
			t.Fatalf("depth = %d, %d; want 0, 0", p, d)
		}
	})
}

func TestBackoffGrowsThenDead(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		q := newQueue(db, Options{BaseBackoff: time.Second, MaxBackoff: 5 * time.Second, MaxAttempts: 6, Now: clk.Now})
		q.jitter = func(ceil time.Duration) time.Duration { return ceil } // the top of the jitter range
		var deadCalls int
		q.Handle("flaky", func(ctx context.Context, j Job) error {
			return errors.New("boom")
		}, func(ctx context.Context, tx *store.Tx, j Job, cause error) error {
			deadCalls++
			return nil
		})
		id := enqueue(t, db, q, "ws1", "flaky", nil)
		want := []time.Duration{1, 2, 4, 5, 5} // seconds: doubling, capped
		for i, w := range want {
			if n := step(t, q); n != 1 {
				t.Fatalf("try %d: ran %d jobs", i+1, n)
			}
			s := mustLoad(t, db, id)
			if s.State != StatePending || s.Attempts != i+1 || s.LastError != "boom" || s.LeaseOwner != "" {
				t.Fatalf("try %d: stored %+v", i+1, s)
			}
			if got := time.Duration(s.RunAt-clk.Now().UnixMilli()) * time.Millisecond; got != w*time.Second {
				t.Fatalf("try %d: next run in %v, want %v", i+1, got, w*time.Second)
			}
			// Not due yet: nothing to claim.
			if n := step(t, q); n != 0 {
				t.Fatalf("try %d: ran %d jobs before they were due", i+1, n)
			}
			clk.Set(time.UnixMilli(s.RunAt))
		}
		if n := step(t, q); n != 1 {
			t.Fatalf("last try: ran %d jobs", n)
		}
		s := mustLoad(t, db, id)
		if s.State != StateDead || s.Attempts != 6 || s.LastError != "boom" {
			t.Fatalf("after max attempts: %+v", s)
		}
		if deadCalls != 1 {
			t.Fatalf("onDead ran %d times", deadCalls)
		}
		clk.Advance(time.Hour)
		if n := step(t, q); n != 0 {
			t.Fatalf("a dead job was claimed")
		}
		if p, d := depth(t, q); p != 0 || d != 1 {
			t.Fatalf("depth = %d, %d; want 0, 1", p, d)
		}
	})
}

func TestBackoffJitterBounds(t *testing.T) {
	q := &Queue{o: Options{BaseBackoff: time.Second, MaxBackoff: time.Minute}, jitter: fullJitter}
	for attempts := 1; attempts <= 70; attempts++ {
		ceil := time.Second << min(attempts-1, 10)
		ceil = min(ceil, time.Minute)
		for range 50 {
			if d := q.backoff(attempts, 0); d < 0 || d > ceil {
				t.Fatalf("attempts %d: delay %v outside [0, %v]", attempts, d, ceil)
			}
		}
	}
	for range 50 {
		if d := q.backoff(1, 10*time.Second); d < 10*time.Second {
			t.Fatalf("retry-after ignored: %v", d)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		q := newQueue(db, Options{BaseBackoff: time.Second, Now: clk.Now})
		q.Handle("limited", func(ctx context.Context, j Job) error {
			return RetryAfter(errors.New("429 too many requests"), 30*time.Second)
		}, nil)
		id := enqueue(t, db, q, "ws1", "limited", nil)
		step(t, q)
		s := mustLoad(t, db, id)
		if s.State != StatePending || s.Attempts != 1 || s.LastError != "429 too many requests" {
			t.Fatalf("stored %+v", s)
		}
		if s.RunAt < clk.Now().Add(30*time.Second).UnixMilli() {
			t.Fatalf("run_at %d sooner than the retry-after", s.RunAt)
		}
	})
}

func insertWorkspace(ctx context.Context, tx *store.Tx, id string) error {
	_, err := tx.Exec(ctx, "INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4)", id, id, "W", 1)
	return err
}

func workspaceExists(t *testing.T, db *store.DB, id string) bool {
	t.Helper()
	var n int
	if err := db.Reader().QueryRow(context.Background(), "SELECT COUNT(*) FROM workspaces WHERE id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestPermanentDeadAtOnceWithOnDead(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		q := newQueue(db, Options{})
		var seen Job
		var seenCause error
		q.Handle("send", func(ctx context.Context, j Job) error {
			return Permanent(fmt.Errorf("provider said: %w", errors.New("invalid recipient")))
		}, func(ctx context.Context, tx *store.Tx, j Job, cause error) error {
			seen, seenCause = j, cause
			// Work done here commits with the job's death.
			return insertWorkspace(ctx, tx, "marker-"+j.ID)
		})
		id := enqueue(t, db, q, "ws1", "send", nil)
		step(t, q)
		s := mustLoad(t, db, id)
		if s.State != StateDead || s.Attempts != 1 || s.LastError != "provider said: invalid recipient" {
			t.Fatalf("stored %+v", s)
		}
		if seen.ID != id || seen.State != StateDead || seen.LastError != s.LastError || !IsPermanent(seenCause) {
			t.Fatalf("onDead got %+v, %v", seen, seenCause)
		}
		if !workspaceExists(t, db, "marker-"+id) {
			t.Fatal("onDead's write did not commit")
		}
	})
}

func TestOnDeadFailureRollsBackItsWork(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		q := newQueue(db, Options{})
		q.Handle("send", func(ctx context.Context, j Job) error {
			return Permanent(errors.New("nope"))
		}, func(ctx context.Context, tx *store.Tx, j Job, cause error) error {
			if err := insertWorkspace(ctx, tx, "marker-"+j.ID); err != nil {
				return err
			}
			return errors.New("hook broke")
		})
		id := enqueue(t, db, q, "ws1", "send", nil)
		step(t, q)
		s := mustLoad(t, db, id)
		if s.State != StateDead || !strings.Contains(s.LastError, "nope") || !strings.Contains(s.LastError, "hook broke") {
			t.Fatalf("stored %+v", s)
		}
		if workspaceExists(t, db, "marker-"+id) {
			t.Fatal("the failed hook's write committed")
		}
	})
}

func TestPanicAndUnknownKindFail(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		q := newQueue(db, Options{})
		q.Handle("panics", func(ctx context.Context, j Job) error { panic("kaboom") }, nil)
		p := enqueue(t, db, q, "ws1", "panics", nil)
		u := enqueue(t, db, q, "ws1", "nosuchkind", nil)
		if n := step(t, q); n != 2 {
			t.Fatalf("ran %d jobs", n)
		}
		if s := mustLoad(t, db, p); s.State != StatePending || s.Attempts != 1 || !strings.Contains(s.LastError, "panicked: kaboom") {
			t.Fatalf("panicking job: %+v", s)
		}
		if s := mustLoad(t, db, u); s.State != StatePending || s.Attempts != 1 || !strings.Contains(s.LastError, `no handler registered for kind "nosuchkind"`) {
			t.Fatalf("unknown kind: %+v", s)
		}
	})
}

func TestRetryBringsDeadBack(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		q := newQueue(db, Options{Now: clk.Now})
		fail := true
		runs := 0
		q.Handle("send", func(ctx context.Context, j Job) error {
			runs++
			if fail {
				return Permanent(errors.New("down"))
			}
			return nil
		}, nil)
		id := enqueue(t, db, q, "ws1", "send", nil)
		step(t, q)
		if s := mustLoad(t, db, id); s.State != StateDead {
			t.Fatalf("stored %+v", s)
		}
		ctx := context.Background()
		for _, c := range []struct{ ws, id string }{{"ws2", id}, {"ws1", "nope"}} {
			if err := q.Retry(ctx, c.ws, c.id); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("retry %s/%s: %v, want ErrNotFound", c.ws, c.id, err)
			}
		}
		clk.Advance(time.Minute)
		if err := q.Retry(ctx, "ws1", id); err != nil {
			t.Fatalf("retry: %v", err)
		}
		s := mustLoad(t, db, id)
		if s.State != StatePending || s.Attempts != 0 || s.RunAt != clk.Now().UnixMilli() {
			t.Fatalf("after retry: %+v", s)
		}
		if err := q.Retry(ctx, "ws1", id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("retry of a pending job: %v, want ErrNotFound", err)
		}
		fail = false
		if n := step(t, q); n != 1 {
			t.Fatalf("ran %d jobs", n)
		}
		if _, ok := load(t, db, id); ok || runs != 2 {
			t.Fatalf("job still there (or ran %d times)", runs)
		}
	})
}

func TestDeadListsOneWorkspace(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		q := newQueue(db, Options{})
		q.Handle("send", func(ctx context.Context, j Job) error { return Permanent(errors.New("x")) }, nil)
		var a []string
		for range 5 {
			a = append(a, enqueue(t, db, q, "wa", "send", nil))
		}
		b := enqueue(t, db, q, "wb", "send", nil)
		enqueue(t, db, q, "wa", "other", nil) // stays pending: unknown kind, retried
		if n := step(t, q); n != 7 {
			t.Fatalf("ran %d jobs", n)
		}
		ctx := context.Background()
		var got []string
		before := ""
		for page := 0; ; page++ {
			js, err := q.Dead(ctx, "wa", before, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(js) == 0 {
				break
			}
			if page > 5 {
				t.Fatal("paging does not end")
			}
			for _, j := range js {
				if j.WorkspaceID != "wa" || j.State != StateDead || j.LastError != "x" {
					t.Fatalf("listed %+v", j)
				}
				got = append(got, j.ID)
			}
			before = js[len(js)-1].ID
		}
		if len(got) != 5 {
			t.Fatalf("listed %d dead jobs of wa, want 5", len(got))
		}
		for i := range got {
			if got[i] != a[len(a)-1-i] {
				t.Fatalf("order: got %v, want newest first of %v", got, a)
			}
		}
		js, err := q.Dead(ctx, "wb", "", 0)
		if err != nil || len(js) != 1 || js[0].ID != b {
			t.Fatalf("wb: %v, %v", js, err)
		}
		js, err = q.Dead(ctx, "wc", "", 10)
		if err != nil || js == nil || len(js) != 0 {
			t.Fatalf("wc: %#v, %v", js, err)
		}
		if p, d := depth(t, q); p != 1 || d != 6 {
			t.Fatalf("depth = %d, %d; want 1, 6", p, d)
		}
	})
}

func TestExpiredLeaseIsReclaimed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		runs := 0
		h := func(ctx context.Context, j Job) error { runs++; return nil }
		qa := newQueue(db, Options{Owner: "a", Lease: 10 * time.Second, Now: clk.Now})
		qb := newQueue(db, Options{Owner: "b", Lease: 10 * time.Second, Now: clk.Now})
		qa.Handle("send", h, nil)
		qb.Handle("send", h, nil)
		id := enqueue(t, db, qa, "ws1", "send", nil)
		ctx := context.Background()

		// a claims the job and "crashes": it never reports back in time.
		ca, err := qa.claim(ctx, 10)
		if err != nil || len(ca) != 1 {
			t.Fatalf("a claimed %d: %v", len(ca), err)
		}
		if s := mustLoad(t, db, id); s.State != StateRunning || s.LeaseOwner != "a" || s.Attempts != 1 {
			t.Fatalf("after a's claim: %+v", s)
		}
		clk.Advance(9 * time.Second)
		if cs, err := qb.claim(ctx, 10); err != nil || len(cs) != 0 {
			t.Fatalf("b claimed %d jobs under a live lease: %v", len(cs), err)
		}
		clk.Advance(2 * time.Second)
		cb, err := qb.claim(ctx, 10)
		if err != nil || len(cb) != 1 || cb[0].ID != id {
			t.Fatalf("b claimed %v: %v", cb, err)
		}
		if s := mustLoad(t, db, id); s.State != StateRunning || s.LeaseOwner != "b" || s.Attempts != 2 {
			t.Fatalf("after b's claim: %+v", s)
		}

		// a comes back late: its outcome no longer counts.
		qa.process(ctx, ca[0])
		if s := mustLoad(t, db, id); s.State != StateRunning || s.LeaseOwner != "b" {
			t.Fatalf("a's stale outcome was recorded: %+v", s)
		}
		qb.process(ctx, cb[0])
		if _, ok := load(t, db, id); ok {
			t.Fatal("b's success did not delete the job")
		}
		if runs != 2 {
			t.Fatalf("runs = %d", runs)
		}
	})
}

func TestConcurrentWorkersRunEachJobOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		const jobs = 300
		var mu sync.Mutex
		count := map[string]int{}
		inflight := map[string]bool{}
		var overlaps []string
		h := func(ctx context.Context, j Job) error {
			mu.Lock()
			count[j.ID]++
			if inflight[j.ID] {
				overlaps = append(overlaps, j.ID)
			}
			inflight[j.ID] = true
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
			mu.Lock()
			inflight[j.ID] = false
			mu.Unlock()
			return nil
		}
		var qs []*Queue
		for i := range 3 {
			q := newQueue(db, Options{Owner: fmt.Sprintf("node%d", i), Workers: 4, Poll: 5 * time.Millisecond})
			q.Handle("send", h, nil)
			qs = append(qs, q)
		}
		var ids []string
		for _, q := range qs {
			run(t, q)
		}
		// Enqueue while the workers run, in a few transactions.
		for i := range jobs {
			ids = append(ids, enqueue(t, db, qs[i%len(qs)], fmt.Sprintf("ws%d", i%7), "send", i))
		}
		waitFor(t, "all jobs to finish", func() bool {
			p, d := depth(t, qs[0])
			return p == 0 && d == 0
		})
		mu.Lock()
		defer mu.Unlock()
		if len(overlaps) > 0 {
			t.Fatalf("%d times a job ran twice at once, e.g. %s", len(overlaps), overlaps[0])
		}
		for _, id := range ids {
			if count[id] != 1 {
				t.Fatalf("job %s ran %d times", id, count[id])
			}
		}
		if len(count) != jobs {
			t.Fatalf("%d jobs ran, want %d", len(count), jobs)
		}
	})
}

func TestEnqueueInFailedWriteLeavesNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		q := newQueue(db, Options{})
		ctx := context.Background()
		var id string
		err := db.Write(ctx, func(tx *store.Tx) error {
			var err error
			if id, err = q.Enqueue(ctx, tx, "ws1", "send", "x", time.Time{}); err != nil {
				return err
			}
			return errors.New("caller changed its mind")
		})
		if err == nil {
			t.Fatal("write succeeded")
		}
		if _, ok := load(t, db, id); ok {
			t.Fatal("the job of a failed write exists")
		}
		if p, d := depth(t, q); p != 0 || d != 0 {
			t.Fatalf("depth = %d, %d", p, d)
		}
		if len(q.wake) != 0 {
			t.Fatal("a failed write woke the queue")
		}
		enqueue(t, db, q, "ws1", "send", "x")
		if len(q.wake) != 1 {
			t.Fatal("a committed enqueue did not wake the queue")
		}
	})
}

func TestEnqueueLaterRunsLater(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		q := newQueue(db, Options{Now: clk.Now})
		q.Handle("send", func(ctx context.Context, j Job) error { return nil }, nil)
		ctx := context.Background()
		var id string
		if err := db.Write(ctx, func(tx *store.Tx) error {
			var err error
			id, err = q.Enqueue(ctx, tx, "ws1", "send", nil, clk.Now().Add(time.Minute))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n := step(t, q); n != 0 {
			t.Fatal("a future job ran early")
		}
		clk.Advance(time.Minute)
		if n := step(t, q); n != 1 {
			t.Fatal("a due job did not run")
		}
		if _, ok := load(t, db, id); ok {
			t.Fatal("job not deleted")
		}
	})
}

func TestRunWaitsForInFlightHandlers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		q := newQueue(db, Options{Poll: 10 * time.Millisecond})
		started := make(chan struct{})
		release := make(chan struct{})
		var ctxErr error
		q.Handle("slow", func(ctx context.Context, j Job) error {
			close(started)
			<-release
			ctxErr = ctx.Err()
			return nil
		}, nil)
		id := enqueue(t, db, q, "ws1", "slow", nil)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- q.Run(ctx) }()
		select {
		case <-started:
		case <-time.After(8 * time.Second):
			t.Fatal("handler never started")
		}
		cancel()
		close(release)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if ctxErr != nil {
			t.Fatalf("stopping Run cancelled the handler: %v", ctxErr)
		}
		if _, ok := load(t, db, id); ok {
			t.Fatal("Run returned before the in-flight job was recorded")
		}
	})
}

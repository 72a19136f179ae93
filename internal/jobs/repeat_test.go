package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

func TestRepeatAndUniqueKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		q := newQueue(db, Options{Now: clk.Now})
		var cursors []string
		q.Handle("poll", func(ctx context.Context, j Job) error {
			cursors = append(cursors, string(j.Payload))
			if len(cursors) == 2 {
				return Permanent(context.Canceled) // stop the chain once
			}
			return Repeat(30*time.Second, map[string]int{"cursor": len(cursors)})
		}, nil)
		enqueueUnique := func() bool {
			var ok bool
			err := db.Write(context.Background(), func(tx *store.Tx) error {
				var err error
				ok, err = q.EnqueueUnique(context.Background(), tx, "ws", "poll", "poll:inbox-1", map[string]int{"cursor": 0}, time.Time{})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !enqueueUnique() {
			t.Fatal("first unique job must be queued")
		}
		if enqueueUnique() {
			t.Fatal("a second live job with the same key must not be queued")
		}
		if n := step(t, q); n != 1 {
			t.Fatalf("ran %d", n)
		}
		if step(t, q) != 0 {
			t.Fatal("a repeated job waits for its time")
		}
		if enqueueUnique() {
			t.Fatal("the repeated job is still live")
		}
		clk.Advance(31 * time.Second)
		if step(t, q) != 1 {
			t.Fatal("the repeated job runs again when due")
		}
		if len(cursors) != 2 || cursors[0] != `{"cursor":0}` || cursors[1] != `{"cursor":1}` {
			t.Fatalf("payloads: %v", cursors)
		}
		// Dead now: a new chain may start.
		if !enqueueUnique() {
			t.Fatal("after the chain died, a new one may start")
		}
	})
}

package event_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/bus"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

func newWorkspace(t *testing.T, db *store.DB, id string) {
	t.Helper()
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(context.Background(), "INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $1, $1, 1)", id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Seq is gap-free per workspace even when concurrent writes fail and roll
// back, and each workspace counts on its own.
func TestSeqIsGapFreePerWorkspace(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := event.NewLog(db, nil)
		newWorkspace(t, db, "a")
		newWorkspace(t, db, "b")
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ws := "a"
				if i%2 == 1 {
					ws = "b"
				}
				_ = db.Write(ctx, func(tx *store.Tx) error {
					if _, err := log.Append(ctx, tx, ws, event.New{Type: "test.happened", CustomerID: "c1", Data: map[string]int{"i": i}}); err != nil {
						return err
					}
					if i%5 == 0 {
						return errors.New("roll back")
					}
					return nil
				})
			}()
		}
		wg.Wait()
		for _, ws := range []string{"a", "b"} {
			evs, err := log.After(ctx, ws, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 80 {
				t.Fatalf("%s: %d events, want 80", ws, len(evs))
			}
			for i, e := range evs {
				if e.Seq != int64(i+1) || e.WorkspaceID != ws {
					t.Fatalf("%s: event %d has seq %d ws %s", ws, i, e.Seq, e.WorkspaceID)
				}
			}
			page, _ := log.After(ctx, ws, 40, 10)
			if len(page) != 10 || page[0].Seq != 41 {
				t.Fatalf("after 40: %+v", page)
			}
			tl, _ := log.ForCustomer(ctx, ws, "c1", 0, 5)
			if len(tl) != 5 || tl[0].Seq != 80 || tl[4].Seq != 76 {
				t.Fatalf("timeline newest first: %v", tl)
			}
			tl, _ = log.ForCustomer(ctx, ws, "c1", 76, 5)
			if tl[0].Seq != 75 {
				t.Fatalf("timeline page 2 starts at %d", tl[0].Seq)
			}
		}
	})
}

// The dispatcher publishes exactly the committed events, once, in order.
func TestDispatcherPublishesCommittedEventsOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b := bus.NewInProc()
		sub := b.Subscribe(1000)
		d := event.NewDispatcher(b, slog.New(slog.DiscardHandler))
		log := event.NewLog(db, d)
		newWorkspace(t, db, "a")
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx, log) }()
		<-d.Ready()
		for i := range 50 {
			_ = db.Write(ctx, func(tx *store.Tx) error {
				if _, err := log.Append(ctx, tx, "a", event.New{Type: "test.happened"}); err != nil {
					return err
				}
				if i%10 == 9 {
					return errors.New("not committed")
				}
				return nil
			})
		}
		var got []int64
		timeout := time.After(10 * time.Second)
		for len(got) < 45 {
			select {
			case e := <-sub.C:
				got = append(got, e.Seq)
			case <-timeout:
				t.Fatalf("got %d events: %v", len(got), got)
			}
		}
		for i, s := range got {
			if s != int64(i+1) {
				t.Fatalf("event %d has seq %d", i, s)
			}
		}
		select {
		case e := <-sub.C:
			t.Fatalf("extra event %+v", e)
		case <-time.After(100 * time.Millisecond):
		}
		cancel()
		<-done
	})
}

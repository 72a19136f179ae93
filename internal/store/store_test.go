package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

func TestGroupCommitIsolatesFailures(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		err := db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4)", "w1", "w1", "W", 1)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Many concurrent writes; every third fails after writing. The
		// failures must leave nothing behind; the rest must all commit.
		var wg sync.WaitGroup
		errsSeen := make([]error, 300)
		for i := range 300 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errsSeen[i] = db.Write(ctx, func(tx *store.Tx) error {
					if _, err := tx.Exec(ctx, "UPDATE workspaces SET event_seq = event_seq + 1 WHERE id = $1", "w1"); err != nil {
						return err
					}
					if i%3 == 0 {
						return errors.New("boom")
					}
					return nil
				})
			}()
		}
		wg.Wait()
		for i, err := range errsSeen {
			if (i%3 == 0) != (err != nil) {
				t.Fatalf("write %d: err = %v", i, err)
			}
		}
		var seq int
		if err := db.Reader().QueryRow(ctx, "SELECT event_seq FROM workspaces WHERE id = $1", "w1").Scan(&seq); err != nil {
			t.Fatal(err)
		}
		if seq != 200 {
			t.Fatalf("seq = %d, want 200", seq)
		}
		if db.Stats().Batches >= db.Stats().Writes {
			t.Logf("no batching happened (%+v); fine on a slow machine", db.Stats())
		}
	})
}

func TestUniqueAndNotFound(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ins := func() error {
			return db.Write(ctx, func(tx *store.Tx) error {
				_, err := tx.Exec(ctx, "INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4)", store.NewID(), "same", "W", 1)
				return err
			})
		}
		if err := ins(); err != nil {
			t.Fatal(err)
		}
		if err := ins(); !store.IsUnique(err) {
			t.Fatalf("second insert: %v, want a unique violation", err)
		}
		var n string
		err := db.Reader().QueryRow(ctx, "SELECT name FROM workspaces WHERE slug = $1", "nope").Scan(&n)
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestPanicInWriteIsAnError(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		err := db.Write(context.Background(), func(tx *store.Tx) error { panic("oops") })
		if err == nil {
			t.Fatal("want error")
		}
		if err := db.Write(context.Background(), func(tx *store.Tx) error { return nil }); err != nil {
			t.Fatalf("writer must survive a panic: %v", err)
		}
	})
}

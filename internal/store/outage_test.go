package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/store"
)

// TestWriteAfterCloseFails: once the store is closed (the end of a drain), a
// write must fail with ErrUnavailable, not wait forever for a writer that has
// stopped.
func TestWriteAfterCloseFails(t *testing.T) {
	db, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res := make(chan error, 1)
		go func() { res <- db.Write(ctx, func(*store.Tx) error { return nil }) }()
		select {
		case err := <-res:
			cancel()
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("write %d after Close: %v, want ErrUnavailable", i, err)
			}
		case <-time.After(3 * time.Second):
			cancel()
			// The goroutine stays blocked; the test process ends anyway.
			t.Fatalf("write %d after Close never returned", i)
		}
	}
}

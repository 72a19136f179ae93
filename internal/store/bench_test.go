package store_test

// Run with: go test -run '^$' -bench GroupCommit -benchtime 20000x ./internal/store/

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

// BenchmarkGroupCommit has 64 goroutines each doing db.Write with one small
// INSERT, as concurrent requests do. Every write is durable when Write
// returns (SQLite synchronous=FULL, PostgreSQL synchronous commit), so the
// figure is how far the group commit stretches one fsync. It reports
// writes/s and writes/batch (writes sharing one transaction, from Stats).
func BenchmarkGroupCommit(b *testing.B) {
	for _, d := range storetest.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			db := storetest.Open(b, d)
			ctx := context.Background()
			if err := db.Write(ctx, func(tx *store.Tx) error {
				_, err := tx.Exec(ctx, "CREATE TABLE bench_writes (id TEXT PRIMARY KEY, n INTEGER NOT NULL, at BIGINT NOT NULL)")
				return err
			}); err != nil {
				b.Fatal(err)
			}
			const goroutines = 64
			var next atomic.Int64
			var failed atomic.Value
			before := db.Stats()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							return
						}
						err := db.Write(ctx, func(tx *store.Tx) error {
							_, err := tx.Exec(ctx, "INSERT INTO bench_writes (id, n, at) VALUES ($1, $2, $3)",
								"w"+strconv.FormatInt(n, 10), n, store.Now())
							return err
						})
						if err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			after := db.Stats()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
			if batches := after.Batches - before.Batches; batches > 0 {
				b.ReportMetric(float64(after.Writes-before.Writes)/float64(batches), "writes/batch")
			}
		})
	}
}

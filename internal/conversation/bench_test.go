package conversation_test

// Benchmarks of the conversation service on SQLite, and on PostgreSQL when
// KANAL_TEST_DATABASE_URL is set. Run them with, for example:
//
//	go test -run '^$' -bench . -benchtime 5s ./internal/conversation/
//
// docs/PERFORMANCE.md records the figures and the commands.

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

// benchClients is how many goroutines ingest at once, like the 64 clients
// of `kanal loadtest`.
const benchClients = 64

// BenchmarkIngest ingests messages from 64 goroutines through the service
// (no HTTP), spread over 1,000 customers so identity resolution and
// continuity run as in production. It reports messages/s and how many
// writes shared one transaction on average.
func BenchmarkIngest(b *testing.B) {
	for _, d := range storetest.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			a := testutil.New(b, d, testutil.Options{NoWorkers: true})
			w := a.Setup("Bench", "bench@example.com")
			ctx := context.Background()
			ib, err := a.Inboxes.Create(ctx, event.Actor{Kind: event.ActorUser, ID: w.OwnerID}, w.ID, "api", "bench", nil)
			if err != nil {
				b.Fatal(err)
			}
			const customers = 1000
			var seq atomic.Int64
			before := a.DB.Stats()
			b.SetParallelism(max(1, benchClients/parallelism()))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					c := strconv.FormatInt(n%customers, 10)
					_, err := a.Conversations.Ingest(ctx, conversation.Inbound{
						WorkspaceID: w.ID, InboxID: ib.ID, ProviderID: "bench-" + strconv.FormatInt(n, 10),
						Claims: []customer.Claim{{Kind: customer.KindExternalID, Value: "c-" + c},
							{Kind: customer.KindEmail, Value: "c" + c + "@example.com"}},
						Profile: customer.Profile{Name: "Customer " + c, Email: "c" + c + "@example.com"},
						Text:    "Merhaba, siparişim nerede?",
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			after := a.DB.Stats()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			if batches := after.Batches - before.Batches; batches > 0 {
				b.ReportMetric(float64(after.Writes-before.Writes)/float64(batches), "writes/batch")
			}
		})
	}
}

// parallelism is what RunParallel multiplies SetParallelism by.
func parallelism() int { return max(1, runtime.GOMAXPROCS(0)) }

// BenchmarkListConversations lists 50 conversations of a workspace holding
// 100,000: the first page and a page deep in the list (via the cursor), with
// and without a status filter, and the first page through the HTTP API
// (authentication and JSON included). Each call is timed on its own;
// p50-ms / p99-ms are exact percentiles over the b.N calls.
func BenchmarkListConversations(b *testing.B) {
	for _, d := range storetest.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			a, w, _ := busyWorkspace(b, d)
			ctx := context.Background()
			// Depth: 90% into the list (and into the open ones).
			deep := cursorAt(b, a.DB, w.ID, "", busyTotal*9/10)
			deepOpen := cursorAt(b, a.DB, w.ID, conversation.StatusOpen, openCount(busyTotal)*9/10)
			cases := []struct {
				name   string
				filter conversation.Filter
				after  conversation.Cursor
			}{
				{"first-page", conversation.Filter{}, conversation.Cursor{}},
				{"deep-page", conversation.Filter{}, deep},
				{"first-page-status-open", conversation.Filter{Status: conversation.StatusOpen}, conversation.Cursor{}},
				{"deep-page-status-open", conversation.Filter{Status: conversation.StatusOpen}, deepOpen},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					timed(b, func() {
						cs, err := a.Conversations.List(ctx, w.ID, c.filter, c.after, 50)
						if err != nil {
							b.Fatal(err)
						}
						if len(cs) != 50 {
							b.Fatalf("got %d conversations, want 50", len(cs))
						}
					})
				})
			}
			client := &http.Client{Timeout: 30 * time.Second}
			for _, path := range []string{"/api/v1/conversations?limit=50", "/api/v1/conversations?limit=50&status=open"} {
				name := "http-first-page"
				if strings.Contains(path, "status=") {
					name += "-status-open"
				}
				b.Run(name, func(b *testing.B) {
					req, _ := http.NewRequest("GET", a.URL+path, nil)
					req.Header.Set("Authorization", "Bearer "+w.Token)
					timed(b, func() {
						resp, err := client.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						drain(resp)
						if resp.StatusCode != http.StatusOK {
							b.Fatalf("status %d", resp.StatusCode)
						}
					})
				})
			}
		})
	}
}

// busyTotal is how many conversations the busy workspace holds.
const busyTotal = 100_000

// busyWorkspace starts an app with a workspace holding busyTotal
// conversations (all active within the last 28 hours, so inside the default
// 7-day continuity window) of busyTotal/10 customers, and an api inbox.
func busyWorkspace(b *testing.B, d store.Dialect) (*testutil.App, testutil.Workspace, string) {
	b.Helper()
	a := testutil.New(b, d, testutil.Options{NoWorkers: true})
	w := a.Setup("Bench", "bench@example.com")
	ib, err := a.Inboxes.Create(context.Background(), event.Actor{Kind: event.ActorUser, ID: w.OwnerID}, w.ID, "api", "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	seedConversations(b, a.DB, w.ID, ib.ID, busyTotal)
	b.Logf("%s: seeded %d conversations in %s", d, busyTotal, time.Since(start).Round(time.Millisecond))
	return a, w, ib.ID
}

// BenchmarkIngestBusyWorkspace ingests messages from returning customers
// of a workspace holding 100,000 recent conversations, one goroutine at a
// time, each message from another customer: 30% of them have only resolved
// conversations, the rest an open, pending or snoozed one. It measures the
// threading lookup (open-for-customer) at scale. Run it with a fixed
// -benchtime such as 1000x (at most busyTotal/10 distinct customers).
func BenchmarkIngestBusyWorkspace(b *testing.B) {
	for _, d := range storetest.Dialects() {
		b.Run(string(d), func(b *testing.B) {
			a, w, inboxID := busyWorkspace(b, d)
			ctx := context.Background()
			var seq atomic.Int64
			b.Run("returning-customers", func(b *testing.B) {
				timed(b, func() {
					n := int(seq.Add(1))
					_, err := a.Conversations.Ingest(ctx, conversation.Inbound{
						WorkspaceID: w.ID, InboxID: inboxID, ProviderID: "busy-" + strconv.Itoa(n),
						Claims: []customer.Claim{{Kind: customer.KindExternalID, Value: seedExternalID(n % (busyTotal / 10))}},
						Text:   "Merhaba, siparişim nerede?",
					})
					if err != nil {
						b.Fatal(err)
					}
				})
			})
		})
	}
}

// timed runs f b.N times, timing each call, and reports p50-ms and p99-ms.
func timed(b *testing.B, f func()) {
	b.Helper()
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		f()
		samples = append(samples, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(samples)
	pct := func(p float64) float64 {
		i := int(float64(len(samples))*p+0.999999) - 1
		i = max(0, min(i, len(samples)-1))
		return float64(samples[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func drain(resp *http.Response) {
	buf := make([]byte, 32<<10)
	for {
		if _, err := resp.Body.Read(buf); err != nil {
			break
		}
	}
	resp.Body.Close()
}

// Seed data: status by index (40% open, 20% pending, 10% snoozed, 30%
// resolved), 10 conversations per customer, one second of activity apart.
func statusOf(i int) string {
	switch i % 10 {
	case 0, 1, 2, 3:
		return conversation.StatusOpen
	case 4, 5:
		return conversation.StatusPending
	case 6:
		return conversation.StatusSnoozed
	}
	return conversation.StatusResolved
}

func openCount(total int) int {
	n := 0
	for i := range total {
		if statusOf(i) == conversation.StatusOpen {
			n++
		}
	}
	return n
}

// seedExternalID is the external_id identity of seeded customer n.
func seedExternalID(n int) string { return "seed-" + strconv.Itoa(n) }

// seedConversations inserts total conversations and total/10 customers
// (each with an external_id identity, seedExternalID) with multi-row
// INSERTs, 10,000 rows per db.Write transaction. Customer n owns the
// conversations n, n+total/10, ...; they all have the same status
// (statusOf), so 30% of the customers have only resolved conversations.
func seedConversations(b *testing.B, db *store.DB, workspaceID, inboxID string, total int) {
	b.Helper()
	ctx := context.Background()
	customers := max(1, total/10)
	base := time.Now().Add(-time.Duration(total) * time.Second).UnixMilli()
	custIDs := make([]string, customers)
	for i := range custIDs {
		custIDs[i] = store.NewID()
	}
	const perTx, perStmt = 10_000, 500
	insertRows := func(tx *store.Tx, head string, rows int, cols int, row func(i int, args []any)) error {
		var sb strings.Builder
		sb.WriteString(head)
		args := make([]any, 0, rows*cols)
		for i := range rows {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('(')
			for c := range cols {
				if c > 0 {
					sb.WriteByte(',')
				}
				if tx.Dialect() == store.SQLite {
					sb.WriteByte('?') // modernc binds "$n" by name, quadratic in the count
				} else {
					sb.WriteString("$" + strconv.Itoa(i*cols+c+1))
				}
			}
			sb.WriteByte(')')
			args = args[:len(args)+cols]
			row(i, args[len(args)-cols:])
		}
		_, err := tx.Exec(ctx, sb.String(), args...)
		return err
	}
	for lo := 0; lo < customers; lo += perTx {
		hi := min(customers, lo+perTx)
		err := db.Write(ctx, func(tx *store.Tx) error {
			for s := lo; s < hi; s += perStmt {
				e := min(hi, s+perStmt)
				err := insertRows(tx, "INSERT INTO customers (id, workspace_id, name, email, created_at, updated_at) VALUES ",
					e-s, 6, func(i int, a []any) {
						n := s + i
						a[0], a[1], a[2], a[3], a[4], a[5] = custIDs[n], workspaceID, fmt.Sprintf("Customer %d", n),
							fmt.Sprintf("c%d@example.com", n), base, base
					})
				if err != nil {
					return fmt.Errorf("seed customers: %w", err)
				}
				err = insertRows(tx, "INSERT INTO identities (id, workspace_id, customer_id, kind, value, value_norm, created_at) VALUES ",
					e-s, 7, func(i int, a []any) {
						n := s + i
						a[0], a[1], a[2], a[3], a[4], a[5], a[6] = store.NewID(), workspaceID, custIDs[n], customer.KindExternalID,
							seedExternalID(n), seedExternalID(n), base
					})
				if err != nil {
					return fmt.Errorf("seed identities: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for lo := 0; lo < total; lo += perTx {
		hi := min(total, lo+perTx)
		err := db.Write(ctx, func(tx *store.Tx) error {
			for s := lo; s < hi; s += perStmt {
				e := min(hi, s+perStmt)
				err := insertRows(tx, "INSERT INTO conversations (id, workspace_id, customer_id, inbox_id, channel, last_inbox_id, "+
					"last_channel, status, priority, created_at, updated_at, last_activity_at) VALUES ", e-s, 12, func(i int, a []any) {
					n := s + i
					at := base + int64(n)*1000
					a[0], a[1], a[2], a[3], a[4], a[5] = store.NewID(), workspaceID, custIDs[n%customers], inboxID, "api", inboxID
					a[6], a[7], a[8], a[9], a[10], a[11] = "api", statusOf(n), conversation.PriorityNormal, at, at, at
				})
				if err != nil {
					return fmt.Errorf("seed conversations: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if db.Dialect() == store.Postgres {
		// Fresh tables have no statistics until autovacuum gets to them.
		if err := db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, "ANALYZE conversations")
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// cursorAt returns the cursor just before the offset-th conversation of the
// list (optionally of one status), newest activity first.
func cursorAt(b *testing.B, db *store.DB, workspaceID, status string, offset int) conversation.Cursor {
	b.Helper()
	var c conversation.Cursor
	query := "SELECT last_activity_at, id FROM conversations WHERE workspace_id = $1 AND ($2 = '' OR status = $2) " +
		"ORDER BY last_activity_at DESC, id DESC LIMIT 1 OFFSET " + strconv.Itoa(offset)
	if err := db.Reader().QueryRow(context.Background(), query, workspaceID, status).Scan(&c.At, &c.ID); err != nil {
		b.Fatal(err)
	}
	return c
}

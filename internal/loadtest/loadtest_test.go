package loadtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/loadtest"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/testutil"
)

func TestRunAgainstInProcessServer(t *testing.T) {
	a := testutil.New(t, store.SQLite, testutil.Options{})
	w := a.Setup("Load", "load@example.com")
	var progress bytes.Buffer
	const requests, customers = 200, 10
	res, err := loadtest.Run(context.Background(), loadtest.Options{
		URL: a.URL, Token: w.Token, Clients: 2, Requests: requests, Customers: customers,
		Progress: &progress, ProgressEvery: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != requests || res.OK != requests || res.Errors != 0 || len(res.ErrorsByStatus) != 0 {
		t.Fatalf("requests %d ok %d errors %d %v, want %d all ok", res.Requests, res.OK, res.Errors, res.ErrorsByStatus, requests)
	}
	if res.Duplicates != 0 {
		t.Fatalf("%d duplicates; every message id should be unique", res.Duplicates)
	}
	// Identity resolution: the messages come from exactly `customers`
	// customers; continuity threads each customer into one conversation.
	if res.DistinctCustomers != customers || res.DistinctConversations != customers {
		t.Fatalf("customers %d conversations %d, want %d each", res.DistinctCustomers, res.DistinctConversations, customers)
	}
	if err := loadtest.Check(res); err != nil {
		t.Fatalf("check: %v", err)
	}
	if res.InboxID == "" || res.Clients != 2 {
		t.Fatalf("result: %+v", res)
	}
	if res.Latency.Max < res.Latency.P99 || res.Latency.P99 < res.Latency.P50 || res.Latency.P50 <= 0 {
		t.Fatalf("latency not ordered: %+v", res.Latency)
	}

	// The server stored every message, in the inbox the run created.
	var msgs, convs int
	r := a.DB.Reader()
	if err := r.QueryRow(context.Background(), "SELECT COUNT(*) FROM messages WHERE inbox_id = $1", res.InboxID).Scan(&msgs); err != nil {
		t.Fatal(err)
	}
	if err := r.QueryRow(context.Background(), "SELECT COUNT(*) FROM conversations WHERE inbox_id = $1", res.InboxID).Scan(&convs); err != nil {
		t.Fatal(err)
	}
	if msgs != requests || convs != customers {
		t.Fatalf("stored %d messages in %d conversations, want %d in %d", msgs, convs, requests, customers)
	}

	// A second run on the same inbox (by id) adds as many again: new run id,
	// new message ids.
	res2, err := loadtest.Run(context.Background(), loadtest.Options{
		URL: a.URL, Token: w.Token, InboxID: res.InboxID, Clients: 2, Requests: 50, Customers: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res2.OK != 50 || res2.Errors != 0 || res2.InboxID != res.InboxID {
		t.Fatalf("second run: %+v", res2)
	}
	b, err := json.Marshal(res2)
	if err != nil || !strings.Contains(string(b), `"p99_ms"`) {
		t.Fatalf("json: %s %v", b, err)
	}
}

func TestRunCountsErrorsByStatus(t *testing.T) {
	a := testutil.New(t, store.SQLite, testutil.Options{NoWorkers: true})
	w := a.Setup("Load", "load@example.com")
	// A bad token is refused before any load is sent.
	if _, err := loadtest.Run(context.Background(), loadtest.Options{URL: a.URL, Token: "kanal_nope", Requests: 5}); err == nil {
		t.Fatal("bad token: no error")
	}
	// An inbox that is not an api inbox, or does not exist, too.
	if _, err := loadtest.Run(context.Background(), loadtest.Options{URL: a.URL, Token: w.Token, InboxID: "nope", Requests: 5}); err == nil {
		t.Fatal("unknown inbox: no error")
	}
	// A server that refuses every inbound message: all of them count as
	// errors under their status, and the counts still add up.
	h := http.NewServeMux()
	h.HandleFunc("GET /api/v1/inboxes/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"x","type":"api"}`))
	})
	h.HandleFunc("POST /api/v1/inboxes/{id}/inbound", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"unavailable"}}`, http.StatusServiceUnavailable)
	})
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	srv := ts.URL
	res, err := loadtest.Run(context.Background(), loadtest.Options{URL: srv, Token: "t", InboxID: "x", Clients: 3, Requests: 30})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 30 || res.Errors != 30 || res.OK != 0 || res.ErrorsByStatus["503"] != 30 || res.ErrorRate() != 1 {
		t.Fatalf("result: %+v", res)
	}
	if loadtest.Check(res) == nil {
		t.Fatal("check passed a run where every request failed")
	}
}

func TestCheckAllowsOnePercent(t *testing.T) {
	for _, c := range []struct {
		res  loadtest.Result
		pass bool
	}{
		{loadtest.Result{Requests: 100, OK: 100}, true},
		{loadtest.Result{Requests: 100, OK: 99, Errors: 1}, true},
		{loadtest.Result{Requests: 100, OK: 98, Errors: 2}, false},
		{loadtest.Result{}, false},
		{loadtest.Result{Requests: 10, OK: 10, Interrupted: true}, false},
	} {
		if err := loadtest.Check(c.res); (err == nil) != c.pass {
			t.Errorf("%+v: check = %v, want pass %v", c.res, err, c.pass)
		}
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 0.1: 1} {
		if got := loadtest.Percentile(s, p); got != want*time.Millisecond {
			t.Errorf("p%v = %v, want %v", p, got, want*time.Millisecond)
		}
	}
	l := loadtest.Summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond})
	if l.Min != 1 || l.P50 != 2 || l.Max != 3 || l.Mean != 2 || l.P99 != 3 {
		t.Fatalf("summary: %+v", l)
	}
}

func TestBodyIsValidJSON(t *testing.T) {
	b := loadtest.Body(nil, "abcd", 1234, 1000)
	var in struct {
		ExternalMessageID string `json:"external_message_id"`
		Customer          struct {
			Email      string `json:"email"`
			ExternalID string `json:"external_id"`
		} `json:"customer"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if in.ExternalMessageID != "lt-abcd-1234" || in.Customer.ExternalID != "lt-abcd-234" || in.Customer.Email != "lt-abcd-234@example.com" {
		t.Fatalf("body: %+v", in)
	}
}

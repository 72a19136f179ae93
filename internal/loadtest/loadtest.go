// Package loadtest drives Kanal's API channel (POST
// /api/v1/inboxes/{id}/inbound) with many concurrent clients and measures
// throughput and latency. It is the engine of `kanal loadtest`.
//
// Every request carries a unique external_message_id; the customers are
// spread over a fixed number of identities (an external_id and an e-mail
// each) so identity resolution and conversation continuity are exercised the
// way real traffic does. A run is always bounded: by a duration or by a
// number of requests, and by a hard time cap.
package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits on the options, so a typo cannot turn the tool into a flood.
const (
	MaxClients   = 4096
	MaxRequests  = 100_000_000
	MaxDuration  = time.Hour
	DefaultCap   = 10 * time.Minute // time cap of a --requests run without a duration
	DefaultInbox = "loadtest"       // name of the inbox the tool creates
)

// Options configure a run.
type Options struct {
	// URL is the server's base URL (http://127.0.0.1:8080).
	URL string
	// Token is an API token (Authorization: Bearer).
	Token string
	// InboxID is an api inbox; empty creates one named "loadtest".
	InboxID string
	// Clients is the number of concurrent clients (each sends its next
	// request when the previous one has answered).
	Clients int
	// Duration is how long the measured phase lasts. With Requests set it
	// is a cap (0: DefaultCap).
	Duration time.Duration
	// Requests, when > 0, ends the measured phase after that many requests.
	Requests int
	// Customers is how many distinct customers the messages come from.
	Customers int
	// Warmup runs before the measured phase; its requests are not counted.
	Warmup time.Duration
	// Timeout bounds one request (0: 30 s).
	Timeout time.Duration
	// Progress, when set, gets one line per ProgressEvery (0: 1 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// RunID prefixes message and customer ids (empty: random). Two runs with
	// the same RunID would send duplicate message ids.
	RunID string
	// Transport replaces the HTTP transport (tests); nil builds one with
	// MaxIdleConnsPerHost = Clients.
	Transport http.RoundTripper
}

// Latency summarises the recorded request durations, in milliseconds.
type Latency struct {
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// Result is the outcome of a run. Only requests of the measured phase count.
type Result struct {
	URL       string `json:"url"`
	InboxID   string `json:"inbox_id"`
	RunID     string `json:"run_id"`
	Clients   int    `json:"clients"`
	Customers int    `json:"customers"`
	// Requests is every measured request that completed (OK + Errors).
	Requests int64 `json:"requests"`
	OK       int64 `json:"ok"`
	Errors   int64 `json:"errors"`
	// ErrorsByStatus counts failures by HTTP status ("500") or by "transport"
	// (no HTTP answer) and "bad_body" (202 with an unreadable body).
	ErrorsByStatus map[string]int64 `json:"errors_by_status"`
	// Duplicates counts 202 answers flagged duplicate (should be 0: ids are unique).
	Duplicates int64 `json:"duplicates"`
	// DistinctCustomers / DistinctConversations are the distinct ids the
	// server answered with (continuity: about one conversation per customer).
	DistinctCustomers     int `json:"distinct_customers"`
	DistinctConversations int `json:"distinct_conversations"`
	// WarmupRequests completed during the warm-up (not in any other figure).
	WarmupRequests int64 `json:"warmup_requests"`
	// Elapsed is the wall time of the measured phase.
	Elapsed    time.Duration `json:"-"`
	ElapsedSec float64       `json:"elapsed_s"`
	// Throughput is Requests / Elapsed; OKThroughput counts successes only.
	Throughput   float64 `json:"throughput_rps"`
	OKThroughput float64 `json:"ok_throughput_rps"`
	Latency      Latency `json:"latency"`
	// Interrupted is set when the context ended the run early.
	Interrupted bool `json:"interrupted"`
}

// MaxErrorRate is the share of failed requests above which a run fails.
const MaxErrorRate = 0.01

// Check tells whether a run passed: at least one request completed, at most
// MaxErrorRate of them failed and the run was not interrupted.
func Check(r Result) error {
	switch {
	case r.Requests == 0:
		return errors.New("no request completed")
	case r.ErrorRate() > MaxErrorRate:
		return fmt.Errorf("%d of %d requests failed (%.2f%%, more than %g%%)", r.Errors, r.Requests, 100*r.ErrorRate(), 100*MaxErrorRate)
	case r.Interrupted:
		return errors.New("interrupted before the end")
	}
	return nil
}

// ErrorRate is Errors / Requests (0 without requests).
func (r Result) ErrorRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

func (o *Options) normalize() error {
	if o.URL == "" {
		o.URL = "http://127.0.0.1:8080"
	}
	o.URL = strings.TrimRight(o.URL, "/")
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q must be an http(s) URL", o.URL)
	}
	if o.Token == "" {
		return errors.New("a token is required")
	}
	if o.Clients == 0 {
		o.Clients = 64
	}
	if o.Clients < 1 || o.Clients > MaxClients {
		return fmt.Errorf("clients must be 1 to %d", MaxClients)
	}
	if o.Customers == 0 {
		o.Customers = 1000
	}
	if o.Customers < 1 {
		return errors.New("customers must be at least 1")
	}
	if o.Requests < 0 || o.Requests > MaxRequests {
		return fmt.Errorf("requests must be 0 to %d", MaxRequests)
	}
	if o.Duration < 0 || o.Warmup < 0 || o.Timeout < 0 {
		return errors.New("durations must not be negative")
	}
	if o.Requests == 0 && o.Duration == 0 {
		return errors.New("give a duration or a number of requests")
	}
	if o.Requests > 0 && o.Duration == 0 {
		o.Duration = DefaultCap
	}
	if o.Duration > MaxDuration || o.Warmup > MaxDuration {
		return fmt.Errorf("duration and warmup must be at most %s", MaxDuration)
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.RunID == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		o.RunID = hex.EncodeToString(b)
	}
	return nil
}

// IsLoopback tells whether rawURL's host is a loopback address or localhost.
func IsLoopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// NewTransport returns the one transport a run uses: keep-alive connections,
// at least one idle connection kept per client, no proxy, no compression.
func NewTransport(clients int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        clients + 16,
		MaxIdleConnsPerHost: clients + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// worker is one client's private tallies, merged at the end.
type worker struct {
	samples       []time.Duration
	errs          map[string]int64
	ok, dup       int64
	customers     map[string]struct{}
	conversations map[string]struct{}
	body          []byte
	respBuf       bytes.Buffer
}

type runner struct {
	o      Options
	client *http.Client
	target string

	seq       atomic.Int64 // message sequence, all phases
	tickets   atomic.Int64 // measured requests claimed (Requests mode)
	done      atomic.Int64 // measured requests completed
	errors    atomic.Int64 // measured requests failed
	warmDone  atomic.Int64 // warm-up requests completed
	measureAt time.Time
	deadline  time.Time
}

// Run runs a load test. It returns an error when the target is unusable
// (bad token, inbox not found or not an api inbox) or the options are bad;
// failing requests are counted in the Result, not returned. When ctx ends
// early the partial Result is returned with Interrupted set.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.normalize(); err != nil {
		return Result{}, err
	}
	tr := o.Transport
	if tr == nil {
		t := NewTransport(o.Clients)
		defer t.CloseIdleConnections()
		tr = t
	}
	r := &runner{o: o, client: &http.Client{Transport: tr, Timeout: o.Timeout}}
	inbox, err := r.prepareInbox(ctx)
	if err != nil {
		return Result{}, err
	}
	r.target = o.URL + "/api/v1/inboxes/" + url.PathEscape(inbox) + "/inbound"

	start := time.Now()
	r.measureAt = start.Add(o.Warmup)
	r.deadline = r.measureAt.Add(o.Duration)
	workers := make([]*worker, o.Clients)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{errs: map[string]int64{}, customers: map[string]struct{}{}, conversations: map[string]struct{}{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, w)
		}()
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.progress(start, stopProgress)
	}()
	wg.Wait()
	end := time.Now()
	close(stopProgress)
	<-progressDone

	res := Result{URL: o.URL, InboxID: inbox, RunID: o.RunID, Clients: o.Clients, Customers: o.Customers,
		ErrorsByStatus: map[string]int64{}, WarmupRequests: r.warmDone.Load(), Interrupted: ctx.Err() != nil}
	customers, conversations := map[string]struct{}{}, map[string]struct{}{}
	var all []time.Duration
	for _, w := range workers {
		res.OK += w.ok
		res.Duplicates += w.dup
		for k, n := range w.errs {
			res.ErrorsByStatus[k] += n
			res.Errors += n
		}
		all = append(all, w.samples...)
		for k := range w.customers {
			customers[k] = struct{}{}
		}
		for k := range w.conversations {
			conversations[k] = struct{}{}
		}
	}
	res.Requests = res.OK + res.Errors
	res.DistinctCustomers, res.DistinctConversations = len(customers), len(conversations)
	if end.After(r.measureAt) {
		res.Elapsed = end.Sub(r.measureAt)
	}
	res.ElapsedSec = res.Elapsed.Seconds()
	if res.Elapsed > 0 {
		res.Throughput = float64(res.Requests) / res.Elapsed.Seconds()
		res.OKThroughput = float64(res.OK) / res.Elapsed.Seconds()
	}
	res.Latency = Summarize(all)
	return res, nil
}

// loop is one client: send, wait for the answer, repeat, until the run ends.
func (r *runner) loop(ctx context.Context, w *worker) {
	for ctx.Err() == nil {
		now := time.Now()
		measured := !now.Before(r.measureAt)
		if measured {
			if !now.Before(r.deadline) {
				return
			}
			if r.o.Requests > 0 && r.tickets.Add(1) > int64(r.o.Requests) {
				return
			}
		}
		n := r.seq.Add(1)
		status, res, err := r.send(ctx, w, n)
		took := time.Since(now)
		if ctx.Err() != nil {
			return // interrupted: the cut request is neither a success nor an error
		}
		if !measured {
			r.warmDone.Add(1)
			continue
		}
		w.samples = append(w.samples, took)
		switch {
		case err != nil && status == 0:
			w.errs["transport"]++
			r.errors.Add(1)
		case status != http.StatusAccepted:
			w.errs[strconv.Itoa(status)]++
			r.errors.Add(1)
		case err != nil:
			w.errs["bad_body"]++
			r.errors.Add(1)
		default:
			w.ok++
			if res.Duplicate {
				w.dup++
			}
			w.customers[res.CustomerID] = struct{}{}
			w.conversations[res.ConversationID] = struct{}{}
		}
		r.done.Add(1)
	}
}

type inboundAnswer struct {
	CustomerID     string `json:"customer_id"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	Duplicate      bool   `json:"duplicate"`
}

// Body returns the inbound request for message n of run, from customer
// n mod customers. Ids are plain ASCII, so the JSON is built by hand: the
// load generator shares the machine with the server and must stay cheap.
func Body(dst []byte, run string, n int64, customers int) []byte {
	c := n % int64(customers)
	dst = append(dst, `{"external_message_id":"lt-`...)
	dst = append(dst, run...)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, n, 10)
	dst = append(dst, `","customer":{"name":"Loadtest Customer `...)
	dst = strconv.AppendInt(dst, c, 10)
	dst = append(dst, `","email":"lt-`...)
	dst = append(dst, run...)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, c, 10)
	dst = append(dst, `@example.com","external_id":"lt-`...)
	dst = append(dst, run...)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, c, 10)
	dst = append(dst, `"},"text":"Load test message `...)
	dst = strconv.AppendInt(dst, n, 10)
	dst = append(dst, `: merhaba, siparişim nerede?"}`...)
	return dst
}

func (r *runner) send(ctx context.Context, w *worker, n int64) (int, inboundAnswer, error) {
	w.body = Body(w.body[:0], r.o.RunID, n, r.o.Customers)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.target, bytes.NewReader(w.body))
	if err != nil {
		return 0, inboundAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.o.Token)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, inboundAnswer{}, err
	}
	defer resp.Body.Close()
	w.respBuf.Reset()
	_, err = w.respBuf.ReadFrom(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, inboundAnswer{}, err
	}
	var a inboundAnswer
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(w.respBuf.Bytes(), &a); err != nil {
			return resp.StatusCode, a, err
		}
		if a.MessageID == "" || a.ConversationID == "" || a.CustomerID == "" {
			return resp.StatusCode, a, errors.New("answer lacks ids")
		}
	}
	return resp.StatusCode, a, nil
}

// prepareInbox checks the token and the inbox, or creates the inbox.
func (r *runner) prepareInbox(ctx context.Context) (string, error) {
	if r.o.InboxID != "" {
		status, body, err := r.call(ctx, http.MethodGet, "/api/v1/inboxes/"+url.PathEscape(r.o.InboxID), nil)
		if err != nil {
			return "", err
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("inbox %s: %s", r.o.InboxID, describe(status, body))
		}
		var in struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &in)
		if in.Type != "api" {
			return "", fmt.Errorf("inbox %s is a %q inbox; the load test needs an api inbox", r.o.InboxID, in.Type)
		}
		return r.o.InboxID, nil
	}
	status, body, err := r.call(ctx, http.MethodPost, "/api/v1/inboxes", []byte(`{"type":"api","name":"`+DefaultInbox+`"}`))
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("create inbox: %s", describe(status, body))
	}
	var in struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.ID == "" {
		return "", fmt.Errorf("create inbox: unexpected answer %.200s", body)
	}
	return in.ID, nil
}

func (r *runner) call(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.o.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+r.o.Token)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot reach the server: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func describe(status int, body []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return fmt.Sprintf("HTTP %d %s: %s", status, e.Error.Code, e.Error.Message)
	}
	return fmt.Sprintf("HTTP %d: %.200s", status, bytes.TrimSpace(body))
}

// progress prints a line per tick until stop is closed.
func (r *runner) progress(start time.Time, stop <-chan struct{}) {
	if r.o.Progress == nil {
		return
	}
	t := time.NewTicker(r.o.ProgressEvery)
	defer t.Stop()
	last, lastAt := int64(0), start
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			total := r.warmDone.Load() + r.done.Load()
			rate := float64(total-last) / now.Sub(lastAt).Seconds()
			last, lastAt = total, now
			phase := "run"
			frac := 0.0
			if now.Before(r.measureAt) {
				phase = "warmup"
			} else if r.o.Requests > 0 {
				frac = float64(r.done.Load()) / float64(r.o.Requests)
			} else {
				frac = float64(now.Sub(r.measureAt)) / float64(r.deadline.Sub(r.measureAt))
			}
			fmt.Fprintf(r.o.Progress, "%s %-6s %6.1fs  %9d req  %8.0f req/s  %d errors\n",
				bar(frac, 20), phase, now.Sub(start).Seconds(), r.done.Load(), rate, r.errors.Load())
		}
	}
}

func bar(frac float64, width int) string {
	frac = math.Max(0, math.Min(1, frac))
	n := int(frac * float64(width))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// Summarize computes exact percentiles (nearest rank) over every sample.
func Summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Latency{
		Min:  ms(s[0]),
		Mean: ms(sum / time.Duration(len(s))),
		P50:  ms(Percentile(s, 50)),
		P90:  ms(Percentile(s, 90)),
		P95:  ms(Percentile(s, 95)),
		P99:  ms(Percentile(s, 99)),
		Max:  ms(s[len(s)-1]),
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest sample with at least p% of the samples
// at or below it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// WriteSummary prints a human-readable summary of res.
func WriteSummary(w io.Writer, res Result) {
	fmt.Fprintf(w, "Target:       %s (inbox %s, run %s)\n", res.URL, res.InboxID, res.RunID)
	fmt.Fprintf(w, "Clients:      %d, customers: %d\n", res.Clients, res.Customers)
	fmt.Fprintf(w, "Requests:     %d in %.2fs (+%d warm-up, not counted)\n", res.Requests, res.Elapsed.Seconds(), res.WarmupRequests)
	fmt.Fprintf(w, "Succeeded:    %d (202), duplicates: %d\n", res.OK, res.Duplicates)
	fmt.Fprintf(w, "Errors:       %d (%.2f%%)", res.Errors, 100*res.ErrorRate())
	if len(res.ErrorsByStatus) > 0 {
		keys := make([]string, 0, len(res.ErrorsByStatus))
		for k := range res.ErrorsByStatus {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s: %d", k, res.ErrorsByStatus[k]))
		}
		fmt.Fprintf(w, " — %s", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Throughput:   %.0f req/s (%.0f successful/s)\n", res.Throughput, res.OKThroughput)
	l := res.Latency
	fmt.Fprintf(w, "Latency (ms): p50 %.2f  p90 %.2f  p95 %.2f  p99 %.2f  max %.2f  (mean %.2f, min %.2f)\n",
		l.P50, l.P90, l.P95, l.P99, l.Max, l.Mean, l.Min)
	fmt.Fprintf(w, "Identities:   %d distinct customers, %d distinct conversations answered\n", res.DistinctCustomers, res.DistinctConversations)
	if res.Interrupted {
		fmt.Fprintln(w, "Interrupted:  the run was stopped early; figures cover what completed.")
	}
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/store/storetest"
)

// Every bound below is a guard against hangs, never an assertion on speed.
const (
	cliTimeout     = 60 * time.Second // one CLI command
	startTimeout   = 30 * time.Second // serve until it logs its address
	exitTimeout    = 45 * time.Second // a signalled server until it exits (drain is 15 s)
	requestTimeout = 30 * time.Second // one HTTP request

	ownerEmail    = "owner@example.com"
	ownerPassword = "correct-horse-42"
)

// ---------------------------------------------------------------------------
// Environment and CLI

// cleanEnv is the test process's environment without any KANAL_* variable,
// plus extra ("K=V"), so that only what a test sets reaches the binary.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KANAL_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

type cliResult struct {
	Stdout, Stderr string
	Code           int
}

// runCLI runs the binary to completion in a fresh working directory (so the
// default ./kanal-data never lands in the repository).
func runCLI(t testing.TB, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kanalBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = cleanEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("kanal %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("kanal %s: did not finish within %s", strings.Join(args, " "), cliTimeout)
	}
	return res
}

// mustCLI runs the binary and fails the test unless it exits 0.
func mustCLI(t testing.TB, env []string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, env, args...)
	if r.Code != 0 {
		t.Fatalf("kanal %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// ---------------------------------------------------------------------------
// Backends

// backend is where one Kanal keeps its data: a data folder (SQLite file and
// secret key) and, for PostgreSQL, a database URL.
type backend struct {
	Name    string
	DataDir string
	DBURL   string
}

// storeArgs are the --data / --database-url flags for this backend.
func (b backend) storeArgs() []string {
	args := []string{"--data", b.DataDir}
	if b.DBURL != "" {
		args = append(args, "--database-url", b.DBURL)
	}
	return args
}

// forEachBackend runs fn as subtest "sqlite" and subtest "postgres"; the
// latter is skipped when KANAL_TEST_DATABASE_URL is unset.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, backend{Name: "sqlite", DataDir: filepath.Join(t.TempDir(), "data")})
	})
	t.Run("postgres", func(t *testing.T) {
		u := storetest.PostgresURL(t) // skips without KANAL_TEST_DATABASE_URL
		fn(t, backend{Name: "postgres", DataDir: filepath.Join(t.TempDir(), "data"), DBURL: u})
	})
}

// provision creates the workspace and owner with `kanal setup` and returns an
// API token made with `kanal token create`.
func provision(t testing.TB, b backend) string {
	t.Helper()
	mustCLI(t, nil, append([]string{"setup", "--workspace", "E2E Test", "--email", ownerEmail, "--password", ownerPassword}, b.storeArgs()...)...)
	r := mustCLI(t, nil, append([]string{"token", "create", "--email", ownerEmail, "--name", "e2e"}, b.storeArgs()...)...)
	tok := strings.TrimSpace(r.Stdout)
	if !strings.HasPrefix(tok, "kanal_") || strings.ContainsAny(tok, " \n") {
		t.Fatalf("token create printed %q, want one token starting with kanal_", r.Stdout)
	}
	return tok
}

// ---------------------------------------------------------------------------
// Server subprocess

// server is a running `kanal serve`.
type server struct {
	t    testing.TB
	cmd  *exec.Cmd
	URL  string // http://127.0.0.1:PORT, from the "kanal is running" log line
	logs *logSink
	done chan struct{} // closed when the process has exited
	code int           // exit code, valid after done
}

// logSink keeps the server's stderr and reports the address it logs.
type logSink struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	running chan map[string]any // the "kanal is running" record, once
	sent    bool
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i]
		var rec map[string]any
		if !l.sent && json.Unmarshal(line, &rec) == nil && rec["msg"] == "kanal is running" {
			l.sent = true
			l.running <- rec
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// startServer runs `kanal serve ARGS...` with env added to a clean
// environment and waits until it logs "kanal is running". Logs are JSON
// because stderr is not a terminal.
func startServer(t testing.TB, env []string, args ...string) *server {
	t.Helper()
	s, err := tryStartServer(t, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tryStartServer(t testing.TB, env []string, args ...string) (*server, error) {
	t.Helper()
	s := &server{t: t, logs: &logSink{running: make(chan map[string]any, 1)}, done: make(chan struct{})}
	s.cmd = exec.Command(kanalBin, append([]string{"serve"}, args...)...)
	s.cmd.Dir = t.TempDir()
	s.cmd.Env = cleanEnv(env...)
	s.cmd.Stderr = s.logs
	s.cmd.Stdout = s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kanal serve: %w", err)
	}
	go func() {
		err := s.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			s.code = ee.ExitCode() // -1 when killed by a signal
		default:
			s.code = -2
		}
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			var errLines []string
			for _, l := range strings.Split(s.logs.String(), "\n") {
				if strings.Contains(l, `"level":"ERROR"`) {
					errLines = append(errLines, l)
				}
			}
			t.Logf("kanal serve %s error logs:\n%s\nlast logs:\n%s", strings.Join(args, " "),
				strings.Join(errLines, "\n"), tail(s.logs.String(), 60))
		}
	})
	select {
	case rec := <-s.logs.running:
		u, _ := rec["url"].(string)
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme != "http" || pu.Host == "" {
			return nil, fmt.Errorf("kanal serve logged url %q", u)
		}
		host, _, _ := net.SplitHostPort(pu.Host)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("kanal serve listens on %q; tests use loopback only", pu.Host)
		}
		s.URL = u
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("kanal serve exited with %d before it was running:\n%s", s.code, s.logs.String())
	case <-time.After(startTimeout):
		s.kill()
		return nil, fmt.Errorf("kanal serve did not log its address within %s:\n%s", startTimeout, s.logs.String())
	}
}

// signal sends sig unless the process has already exited.
func (s *server) signal(sig syscall.Signal) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(sig)
}

// kill SIGKILLs the server and waits for it to be gone.
func (s *server) kill() {
	s.signal(syscall.SIGKILL)
	<-s.done
}

// wait waits for the process to exit and returns its exit code; ok is false
// when it did not exit within d.
func (s *server) wait(d time.Duration) (code int, ok bool) {
	select {
	case <-s.done:
		return s.code, true
	default:
	}
	select {
	case <-s.done:
		return s.code, true
	case <-time.After(d):
		return 0, false
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// ---------------------------------------------------------------------------
// HTTP API client

type apiClient struct {
	base  string
	token string
	hc    *http.Client
}

func newAPI(base, token string) *apiClient {
	tr := &http.Transport{
		Proxy:               nil, // loopback only; ignore any HTTP_PROXY
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	return &apiClient{base: base, token: token, hc: &http.Client{Transport: tr, Timeout: requestTimeout}}
}

func (c *apiClient) close() { c.hc.CloseIdleConnections() }

type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r apiResponse) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

func (r apiResponse) errorCode() string {
	e, _ := r.json()["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// do sends a request; err is a transport error (no HTTP answer).
func (c *apiClient) do(method, path string, body any) (apiResponse, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiResponse{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return apiResponse{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return apiResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{}, err
	}
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// must sends a request and fails the test on a transport error or another status.
func (c *apiClient) must(t testing.TB, want int, method, path string, body any) apiResponse {
	t.Helper()
	r, err := c.do(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// createInbox creates an api inbox and returns its id.
func createInbox(t testing.TB, c *apiClient, name string) string {
	t.Helper()
	r := c.must(t, http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "api", "name": name})
	id, _ := r.json()["id"].(string)
	if id == "" {
		t.Fatalf("create inbox: no id in %s", r.Body)
	}
	return id
}

// inbound is the body of POST /api/v1/inboxes/{id}/inbound.
func inbound(extID, email string) map[string]any {
	return map[string]any{
		"external_message_id": extID,
		"customer":            map[string]any{"email": email},
		"text":                "Hello, message " + extID,
	}
}

// ingestResult is the 202 answer of an inbound post.
type ingestResult struct {
	CustomerID     string `json:"customer_id"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	Duplicate      bool   `json:"duplicate"`
}

// ack is an acknowledged (202) inbound message.
type ack struct {
	ingestResult
	Email string
}

// waitUntil polls cond every 50 ms until it holds or within passes; it is a
// guard against hangs, not a timing assertion.
func waitUntil(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Load generator

// load fires inbound messages from concurrent workers until stopped or each
// worker has sent max requests.
type load struct {
	api      *apiClient
	inboxID  string
	prefix   string
	stopc    chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	done     chan struct{} // closed when every worker has returned
	inflight atomic.Int64
	nacked   atomic.Int64

	mu       sync.Mutex
	acked    map[string]ack
	statuses map[int]int
	connErrs int
	refused  int      // connection errors that were refused dials
	errs     []string // a few connection errors, for the log
	others   []answer // every answer but a well-formed, fresh 202
}

// answer is an HTTP answer the load did not count as acknowledged.
type answer struct {
	ExtID  string
	Status int
	Body   []byte
	Code   string // error.code of an error body
}

func (a answer) String() string {
	return fmt.Sprintf("%s: status %d: %s", a.ExtID, a.Status, bytes.TrimSpace(a.Body))
}

// startLoad starts workers goroutines, each sending at most max messages.
// Customers are shared by pairs of workers so that concurrent messages of one
// customer land in the same conversation.
func startLoad(api *apiClient, inboxID, prefix string, workers, max int) *load {
	l := &load{api: api, inboxID: inboxID, prefix: prefix, stopc: make(chan struct{}),
		acked: map[string]ack{}, statuses: map[int]int{}, done: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go l.worker(w, max, fmt.Sprintf("%s-c%02d@example.com", prefix, w/2))
	}
	go func() { l.wg.Wait(); close(l.done) }()
	return l
}

func (l *load) worker(w, max int, email string) {
	defer l.wg.Done()
	path := "/api/v1/inboxes/" + l.inboxID + "/inbound"
	for i := range max {
		select {
		case <-l.stopc:
			return
		default:
		}
		extID := fmt.Sprintf("%s-w%02d-%06d", l.prefix, w, i)
		l.inflight.Add(1)
		r, err := l.api.do("POST", path, inbound(extID, email))
		l.inflight.Add(-1)
		if err != nil {
			l.mu.Lock()
			l.connErrs++
			if errors.Is(err, syscall.ECONNREFUSED) {
				l.refused++ // never reached the server
			}
			if len(l.errs) < 3 {
				l.errs = append(l.errs, err.Error())
			}
			l.mu.Unlock()
			time.Sleep(10 * time.Millisecond) // the server may be gone; do not spin
			continue
		}
		l.mu.Lock()
		l.statuses[r.Status]++
		var res ingestResult
		if r.Status == http.StatusAccepted && json.Unmarshal(r.Body, &res) == nil &&
			res.MessageID != "" && res.ConversationID != "" && !res.Duplicate {
			l.acked[extID] = ack{ingestResult: res, Email: email}
			l.nacked.Add(1)
		} else {
			// Includes a 202 that is malformed or claims a fresh id is a duplicate.
			l.others = append(l.others, answer{ExtID: extID, Status: r.Status, Body: r.Body, Code: r.errorCode()})
		}
		l.mu.Unlock()
	}
}

// stop tells the workers to send nothing more and waits for them; requests
// already sent finish (or fail) first.
func (l *load) stop() {
	l.stopOnce.Do(func() { close(l.stopc) })
	l.wg.Wait()
}

// finished reports whether every worker has returned.
func (l *load) finished() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// count returns how many answers had status.
func (l *load) count(status int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.statuses[status]
}

// unexpected lists (up to 20 of) the answers allow rejects; nil allows none.
func (l *load) unexpected(allow func(answer) bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, a := range l.others {
		if allow == nil || !allow(a) {
			out = append(out, a.String())
		}
	}
	return out
}

// summary describes what the load saw.
func (l *load) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf("acknowledged %d, statuses %v, connection errors %d (%d refused dials), not acknowledged %d",
		len(l.acked), l.statuses, l.connErrs, l.refused, len(l.others))
	if len(l.errs) > 0 {
		s += fmt.Sprintf(" (e.g. %q)", l.errs)
	}
	return s
}

// firstN joins up to 20 lines for a failure message.
func firstN(lines []string) string {
	return "  " + strings.Join(lines[:min(len(lines), 20)], "\n  ")
}

// ---------------------------------------------------------------------------
// Durability check

// verifyDurable checks, on a (restarted) server, that every acknowledged
// message exists: re-posting its external_message_id answers duplicate:true
// with the same ids, and the message is listed in its conversation.
func verifyDurable(t *testing.T, api *apiClient, inboxID string, acked map[string]ack) {
	t.Helper()
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	path := "/api/v1/inboxes/" + inboxID + "/inbound"

	var (
		mu       sync.Mutex
		problems []string
		foundDup int
		wg       sync.WaitGroup
	)
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for id := range work {
				a := acked[id]
				r, err := api.do("POST", path, inbound(id, a.Email))
				var res ingestResult
				var p string
				switch {
				case err != nil:
					p = fmt.Sprintf("%s: re-post: %v", id, err)
				case r.Status != http.StatusAccepted:
					p = fmt.Sprintf("%s: re-post: status %d: %s", id, r.Status, bytes.TrimSpace(r.Body))
				case json.Unmarshal(r.Body, &res) != nil:
					p = fmt.Sprintf("%s: re-post: body %s", id, r.Body)
				case !res.Duplicate:
					p = fmt.Sprintf("%s: acknowledged as message %s but LOST: re-post stored it anew as %s", id, a.MessageID, res.MessageID)
				case res.MessageID != a.MessageID || res.ConversationID != a.ConversationID:
					p = fmt.Sprintf("%s: acknowledged as message %s in %s, re-post answers %s in %s", id, a.MessageID, a.ConversationID, res.MessageID, res.ConversationID)
				}
				mu.Lock()
				if p != "" {
					problems = append(problems, p)
				} else {
					foundDup++
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()

	// Every acknowledged message is listed in its conversation.
	byConv := map[string]map[string]bool{}
	for _, a := range acked {
		if byConv[a.ConversationID] == nil {
			byConv[a.ConversationID] = map[string]bool{}
		}
		byConv[a.ConversationID][a.MessageID] = true
	}
	foundListed := 0
	for conv, want := range byConv {
		listed := listMessageIDs(t, api, conv)
		for id := range want {
			if listed[id] {
				foundListed++
			} else {
				problems = append(problems, fmt.Sprintf("message %s is not listed in conversation %s", id, conv))
			}
		}
	}

	t.Logf("durability: acknowledged %d, found by re-post %d, listed in their conversations %d (%d conversations)",
		len(acked), foundDup, foundListed, len(byConv))
	if len(problems) > 0 {
		slices.Sort(problems)
		t.Errorf("%d problem(s) with acknowledged messages; first ones:\n  %s", len(problems), strings.Join(problems[:min(len(problems), 20)], "\n  "))
	}
	if foundDup != len(acked) || foundListed != len(acked) {
		t.Errorf("acknowledged %d messages, found %d by re-post and %d listed; want all", len(acked), foundDup, foundListed)
	}
}

// listMessageIDs pages through a conversation's messages and returns their ids.
func listMessageIDs(t testing.TB, api *apiClient, conv string) map[string]bool {
	t.Helper()
	listed := map[string]bool{}
	cursor := ""
	for range 1000 { // pages; bounded
		q := "/api/v1/conversations/" + conv + "/messages?limit=200"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := api.must(t, http.StatusOK, "GET", q, nil)
		var body struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("list messages of %s: %v: %s", conv, err, r.Body)
		}
		for _, m := range body.Items {
			if listed[m.ID] {
				t.Fatalf("list messages of %s: %s listed twice (paging loops?)", conv, m.ID)
			}
			listed[m.ID] = true
		}
		if body.NextCursor == "" {
			return listed
		}
		cursor = body.NextCursor
	}
	t.Fatalf("list messages of %s: more than 1000 pages", conv)
	return nil
}

// ---------------------------------------------------------------------------
// TCP proxy with a kill switch, for database outages

// tcpProxy forwards loopback connections to target. Cut closes every
// connection and refuses new ones (accepting and resetting them at once)
// until Restore.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			reset(c)
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *tcpProxy) serve(c net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		reset(c)
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		reset(c)
		reset(up)
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
	wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Cut drops every connection (with a reset) and refuses new ones.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		reset(c)
	}
	clear(p.conns)
}

// Restore lets new connections through again.
func (p *tcpProxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *tcpProxy) close() {
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

// reset closes c with an RST, as a failing network would.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

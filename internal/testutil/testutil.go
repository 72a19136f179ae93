// Package testutil starts a whole Kanal (store, services, HTTP API, workers)
// in-process on a throw-away database, for scenario tests against the real
// router. Use it with storetest.Dialects to run on SQLite and PostgreSQL.
package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/app"
	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/config"
	"github.com/kanal-dev/kanal/internal/httpapi"
	"github.com/kanal-dev/kanal/internal/metrics"
	"github.com/kanal-dev/kanal/internal/realtime"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

// App is a running Kanal for one test.
type App struct {
	*app.Services
	Realtime *realtime.Hub
	Server   *httptest.Server
	URL      string
	t        testing.TB
}

// Options tune a test app.
type Options struct {
	MaxBody int64
	// NoWorkers leaves the job workers and dispatcher stopped.
	NoWorkers bool
	// Adapters replace the shipped channel adapters (nil keeps them).
	Adapters []channel.Adapter
}

// Run runs fn once per dialect ("sqlite", and "postgres" when
// KANAL_TEST_DATABASE_URL is set) with a fresh App.
func Run(t *testing.T, fn func(t *testing.T, a *App)) {
	t.Helper()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) { fn(t, New(t, d, Options{})) })
	}
}

// New starts a Kanal on a new empty database of dialect d.
func New(t testing.TB, d store.Dialect, o Options) *App {
	t.Helper()
	sc := storetest.Config(t, d)
	cfg := config.Defaults(func(string) string { return "" })
	cfg.DataDir, cfg.DatabaseURL = sc.DataDir, sc.URL
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	// The server starts first so that its URL is the public URL the
	// adapters are built with.
	var handler http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	srv.Start()
	cfg.PublicURL = srv.URL
	s, err := app.Open(context.Background(), cfg, logger, o.Adapters)
	if err != nil {
		srv.Close()
		t.Fatalf("open app: %v", err)
	}
	a := &App{Services: s, t: t, Server: srv, URL: srv.URL}
	a.Realtime = realtime.New(realtime.Deps{Bus: s.Bus, Log: s.Log, DB: s.DB, Conversations: s.Conversations,
		Members: s.Auth, Logger: logger}, realtime.Options{PresenceGrace: 100 * time.Millisecond})
	maxBody := o.MaxBody
	if maxBody == 0 {
		maxBody = cfg.MaxBody
	}
	handler = httpapi.New(httpapi.Deps{
		DB: s.DB, Log: s.Log, Workspaces: s.Workspaces, Auth: s.Auth, Teams: s.Teams, Inboxes: s.Inboxes,
		Customers: s.Customers, Conversations: s.Conversations, Jobs: s.Jobs, Webhooks: s.Webhooks, Media: s.Media, Channels: s.Channels, Canned: s.Canned, Metrics: metrics.New(), Logger: logger,
		Realtime: a.Realtime, PublicURL: a.URL, MaxBody: maxBody, Version: "test",
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	hubDone := make(chan struct{})
	go func() { _ = a.Realtime.Run(ctx); close(hubDone) }()
	if !o.NoWorkers {
		go func() { _ = s.Dispatcher.Run(ctx, s.Log); done <- struct{}{} }()
		go func() { _ = s.Jobs.Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		a.Server.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
		_ = a.Realtime.Shutdown(sctx)
		scancel()
		cancel()
		<-hubDone
		if !o.NoWorkers {
			<-done
			<-done
		}
		s.Close()
	})
	return a
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Workspace is a workspace made for a test, with an owner's API token.
type Workspace struct {
	ID      string
	Slug    string
	OwnerID string
	Email   string
	Token   string
}

// Password is the password of every user the helpers create.
const Password = "correct-horse-42"

// Setup creates a workspace with an owner and an API token for the owner.
func (a *App) Setup(name, email string) Workspace {
	a.t.Helper()
	w, u, err := a.Auth.Setup(context.Background(), name, "", email, "", Password)
	if err != nil {
		a.t.Fatalf("setup %s: %v", name, err)
	}
	tok, _, err := a.Auth.CreateToken(context.Background(), w.ID, u.ID, "test")
	if err != nil {
		a.t.Fatalf("token: %v", err)
	}
	return Workspace{ID: w.ID, Slug: w.Slug, OwnerID: u.ID, Email: u.Email, Token: tok}
}

// Client calls the API as one caller (a token, or a cookie session).
type Client struct {
	a     *App
	Token string
	HTTP  *http.Client
}

// Client returns an API client sending token as a Bearer token ("" sends none).
func (a *App) Client(token string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{a: a, Token: token, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// Response is an API answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Decode decodes the body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrorCode returns error.code of an error body.
func (r Response) ErrorCode() string {
	e, _ := r.JSON()["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// Do sends a request. body may be nil, a []byte / string (sent as is) or any
// value (sent as JSON). JSON content type is set when there is a body.
func (c *Client) Do(method, path string, body any, headers ...string) Response {
	c.a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.a.t.Fatalf("encode: %v", err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.a.URL+path, rd)
	if err != nil {
		c.a.t.Fatalf("request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Must sends a request and fails the test unless the status is want.
func (c *Client) Must(want int, method, path string, body any) Response {
	c.a.t.Helper()
	r := c.Do(method, path, body)
	if r.Status != want {
		c.a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// Eventually polls cond until it holds or the deadline passes; it is for
// waiting on background work, never for asserting on speed.
func Eventually(t testing.TB, within time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting: %s", msg)
}

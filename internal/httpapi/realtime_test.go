package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kanal-dev/kanal/internal/bus"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/httpapi"
	"github.com/kanal-dev/kanal/internal/metrics"
	"github.com/kanal-dev/kanal/internal/realtime"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

// wait is the safety net of every wait in these tests; nothing asserts on
// how fast something happens.
const wait = 20 * time.Second

// rtEnv is a test Kanal with a real-time hub behind its own HTTP server.
type rtEnv struct {
	*testutil.App
	Hub  *realtime.Hub
	t    *testing.T
	run  func() // starts the hub when rtOptions.manualRun is set
	wsTo string // ws://host:port
}

type rtOptions struct {
	hub        realtime.Options
	smallBufs  bool    // tiny server socket send buffers (slow-consumer test)
	privateBus bus.Bus // feed the hub from this bus instead of the app's
	manualRun  bool    // start the hub only when env.run() is called
}

// eachDialect runs fn on SQLite and, when configured, PostgreSQL.
func eachDialect(t *testing.T, o rtOptions, fn func(t *testing.T, e *rtEnv)) {
	t.Helper()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) { fn(t, newRT(t, d, o)) })
	}
}

func newRT(t *testing.T, d store.Dialect, o rtOptions) *rtEnv {
	t.Helper()
	a := testutil.New(t, d, testutil.Options{})
	select {
	case <-a.Dispatcher.Ready():
	case <-time.After(wait):
		t.Fatal("dispatcher did not start")
	}
	if o.hub.PresenceGrace == 0 {
		o.hub.PresenceGrace = 100 * time.Millisecond
	}
	b := bus.Bus(a.Bus)
	if o.privateBus != nil {
		b = o.privateBus
	}
	hub := realtime.New(realtime.Deps{Bus: b, Log: a.Log, DB: a.DB, Conversations: a.Conversations, Members: a.Auth}, o.hub)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	var once sync.Once
	run := func() { once.Do(func() { go func() { _ = hub.Run(ctx); close(runDone) }() }) }
	if !o.manualRun {
		run()
	}
	var handler http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	if o.smallBufs {
		srv.Listener = smallBufListener{srv.Listener}
	}
	srv.Start()
	s := a.Services
	handler = httpapi.New(httpapi.Deps{
		DB: s.DB, Log: s.Log, Workspaces: s.Workspaces, Auth: s.Auth, Teams: s.Teams, Inboxes: s.Inboxes,
		Customers: s.Customers, Conversations: s.Conversations, Jobs: s.Jobs, Webhooks: s.Webhooks, Media: s.Media,
		Channels: s.Channels, Canned: s.Canned, Metrics: metrics.New(), Realtime: hub,
		PublicURL: srv.URL, MaxBody: 1 << 20, Version: "test",
	})
	a.URL = srv.URL // a.Client(...) now calls this server
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), wait)
		defer scancel()
		if err := hub.Shutdown(sctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		cancel()
		once.Do(func() { close(runDone) })
		<-runDone
		srv.Close()
	})
	return &rtEnv{App: a, Hub: hub, t: t, run: run, wsTo: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// smallBufListener gives accepted connections a tiny send buffer, so a
// client that does not read fills it (and then its queue) quickly.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// frame is any server frame.
type frame struct {
	Type           string      `json:"type"`
	Event          event.Event `json:"event"`
	WorkspaceID    string      `json:"workspace_id"`
	LastSeq        int64       `json:"last_seq"`
	After          *int64      `json:"after"`
	Reset          bool        `json:"reset"`
	UserID         string      `json:"user_id"`
	Status         string      `json:"status"`
	ConversationID string      `json:"conversation_id"`
	Typing         bool        `json:"typing"`
	Code           string      `json:"code"`
	Message        string      `json:"message"`
}

// sock is a test client socket; a goroutine reads it into a channel (a
// read with a deadline would drop the connection).
type sock struct {
	t      *testing.T
	c      *websocket.Conn
	frames chan frame
	done   chan struct{}
	err    error // set before done closes
	once   sync.Once
}

type dialOpt struct {
	token    string
	cookie   string
	origin   string
	query    string
	noReader bool
	tinyRecv bool
}

func (e *rtEnv) dial(o dialOpt) (*sock, *http.Response, error) {
	h := http.Header{}
	if o.token != "" {
		h.Set("Authorization", "Bearer "+o.token)
	}
	if o.cookie != "" {
		h.Set("Cookie", "kanal_session="+o.cookie)
	}
	if o.origin != "" {
		h.Set("Origin", o.origin)
	}
	opts := &websocket.DialOptions{HTTPHeader: h}
	if o.tinyRecv {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			return c, err
		}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, e.wsTo+"/api/v1/ws"+o.query, opts)
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(1 << 20)
	s := &sock{t: e.t, c: c, frames: make(chan frame, 100000), done: make(chan struct{})}
	if !o.noReader {
		s.startReading()
	}
	e.t.Cleanup(func() { _ = c.CloseNow() })
	return s, resp, nil
}

func (e *rtEnv) mustDial(t *testing.T, o dialOpt) *sock {
	t.Helper()
	s, resp, err := e.dial(o)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	return s
}

func (s *sock) startReading() {
	s.once.Do(func() {
		go func() {
			defer close(s.done)
			for {
				_, b, err := s.c.Read(context.Background())
				if err != nil {
					s.err = err
					return
				}
				var f frame
				if err := json.Unmarshal(b, &f); err != nil {
					s.err = fmt.Errorf("bad frame %s: %w", b, err)
					return
				}
				s.frames <- f
			}
		}()
	})
}

// next returns the next frame; it fails the test if the socket closes.
func (s *sock) next(t *testing.T) frame {
	t.Helper()
	select {
	case f := <-s.frames:
		return f
	case <-s.done:
		select {
		case f := <-s.frames:
			return f
		default:
		}
		t.Fatalf("socket closed: %v", s.err)
	case <-time.After(wait):
		t.Fatal("no frame came")
	}
	return frame{}
}

// nextEvent returns the next event frame, skipping presence and the like.
func (s *sock) nextEvent(t *testing.T) frame {
	t.Helper()
	f, _ := s.until(t, func(f frame) bool { return f.Type == "event" })
	return f
}

// until returns the first frame for which ok holds, and the frames before it.
func (s *sock) until(t *testing.T, ok func(frame) bool) (frame, []frame) {
	t.Helper()
	var skipped []frame
	for {
		f := s.next(t)
		if ok(f) {
			return f, skipped
		}
		skipped = append(skipped, f)
	}
}

// closed waits for the socket to end and returns the frames still unread
// and the close error.
func (s *sock) closed(t *testing.T) ([]frame, error) {
	t.Helper()
	var got []frame
	for {
		select {
		case f := <-s.frames:
			got = append(got, f)
		case <-s.done:
			for {
				select {
				case f := <-s.frames:
					got = append(got, f)
				default:
					return got, s.err
				}
			}
		case <-time.After(wait):
			t.Fatal("the socket did not close")
		}
	}
}

func (s *sock) send(t *testing.T, v any) {
	t.Helper()
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func isEvent(typ string) func(frame) bool {
	return func(f frame) bool { return f.Type == "event" && f.Event.Type == typ }
}

// appendEvents appends n filler events of typ to the workspace in one
// transaction, each with about pad bytes of data.
func (e *rtEnv) appendEvents(t *testing.T, workspaceID, typ string, n, pad int) {
	t.Helper()
	if err := e.tryAppend(workspaceID, typ, n, pad); err != nil {
		t.Fatalf("append events: %v", err)
	}
}

func (e *rtEnv) tryAppend(workspaceID, typ string, n, pad int) error {
	ctx := context.Background()
	return e.DB.Write(ctx, func(tx *store.Tx) error {
		for i := range n {
			if _, err := e.Log.Append(ctx, tx, workspaceID, event.New{Type: typ, Data: map[string]any{"i": i, "pad": strings.Repeat("x", pad)}}); err != nil {
				return err
			}
		}
		return nil
	})
}

// headSeq is the workspace's newest seq, read through the API.
func (e *rtEnv) headSeq(t *testing.T, token string) int64 {
	t.Helper()
	var last int64
	for {
		r := e.Client(token).Must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/events?after=%d&limit=1000", last), nil)
		var body struct {
			LastSeq int64 `json:"last_seq"`
		}
		r.Decode(t, &body)
		if body.LastSeq == last {
			return last
		}
		last = body.LastSeq
	}
}

// login opens a session and returns its cookie value.
func (e *rtEnv) login(t *testing.T, email string) string {
	t.Helper()
	r := e.Client("").Must(http.StatusOK, "POST", "/api/v1/auth/login", map[string]any{"email": email, "password": testutil.Password})
	c, err := http.ParseSetCookie(r.Header.Get("Set-Cookie"))
	if err != nil || c.Name != "kanal_session" {
		t.Fatalf("login cookie: %v %v", c, err)
	}
	return c.Value
}

// member adds a member with role and returns their id and an API token.
func (e *rtEnv) member(t *testing.T, w testutil.Workspace, email, role string) (string, string) {
	t.Helper()
	m := e.Client(w.Token).Must(http.StatusCreated, "POST", "/api/v1/users",
		map[string]any{"email": email, "password": testutil.Password, "role": role}).JSON()
	id, _ := m["id"].(string)
	tok, _, err := e.Auth.CreateToken(context.Background(), w.ID, id, "rt")
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return id, tok
}

// inbound creates an api inbox (once per workspace) and posts a customer
// message; it returns the conversation and message ids.
func (e *rtEnv) inbound(t *testing.T, w testutil.Workspace, email, ext string) (string, string) {
	t.Helper()
	c := e.Client(w.Token)
	var inbox string
	for _, ib := range c.Must(http.StatusOK, "GET", "/api/v1/inboxes", nil).JSON()["items"].([]any) {
		inbox, _ = ib.(map[string]any)["id"].(string)
	}
	if inbox == "" {
		inbox = c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "api", "name": "App"}).JSON()["id"].(string)
	}
	r := c.Must(http.StatusAccepted, "POST", "/api/v1/inboxes/"+inbox+"/inbound", map[string]any{
		"external_message_id": ext, "text": "Merhaba, siparişim nerede?",
		"customer": map[string]any{"name": "Ayşe Yılmaz", "email": email}}).JSON()
	return r["conversation_id"].(string), r["message_id"].(string)
}

// seqs checks that the event frames are consecutive from first and returns
// the last seq.
func consecutive(t *testing.T, fs []frame, first int64) int64 {
	t.Helper()
	want := first
	for _, f := range fs {
		if f.Type != "event" {
			continue
		}
		if f.Event.Seq != want {
			t.Fatalf("got seq %d, want %d (a gap or a duplicate)", f.Event.Seq, want)
		}
		want++
	}
	return want - 1
}

func TestRealtimeConnect(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		head := e.headSeq(t, w.Token)

		s := e.mustDial(t, dialOpt{token: w.Token})
		hello := s.next(t)
		if hello.Type != "hello" || hello.WorkspaceID != w.ID || hello.UserID != w.OwnerID || hello.LastSeq != head || hello.After != nil {
			t.Fatalf("hello: %+v, head %d", hello, head)
		}

		// A session cookie from a page of this host.
		cookie := e.login(t, w.Email)
		cs := e.mustDial(t, dialOpt{cookie: cookie, origin: e.URL})
		if h := cs.next(t); h.Type != "hello" || h.UserID != w.OwnerID {
			t.Fatalf("cookie hello: %+v", h)
		}
		// ... but not from another site's page.
		_, resp, err := e.dial(dialOpt{cookie: cookie, origin: "https://evil.example"})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign origin with a cookie: err %v, resp %v", err, resp)
		}
		// A Bearer token is not ambient, so any origin may use it.
		bs := e.mustDial(t, dialOpt{token: w.Token, origin: "https://integration.example"})
		if h := bs.next(t); h.Type != "hello" {
			t.Fatalf("bearer hello: %+v", h)
		}

		_, resp, err = e.dial(dialOpt{})
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("no credentials: %v %v", err, resp)
		}
		_, resp, err = e.dial(dialOpt{token: w.Token, query: "?after=x"})
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("bad after: %v %v", err, resp)
		}
		if r := e.Client(w.Token).Do("GET", "/api/v1/ws", nil); r.Status != http.StatusUpgradeRequired || r.ErrorCode() != "upgrade_required" {
			t.Fatalf("plain GET: %d %s", r.Status, r.Body)
		}
		testutil.Eventually(t, wait, func() bool { return e.Hub.Connections() == 3 }, "three sockets open")
	})
}

func TestRealtimeInboundEvents(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		s := e.mustDial(t, dialOpt{token: w.Token})
		hello := s.next(t)
		conv, msg := e.inbound(t, w, "ayse@example.com", "m-1")
		got, before := s.until(t, isEvent(event.MessageCreated))
		all := append(before, got)
		consecutive(t, all, hello.LastSeq+1)
		if got.Event.WorkspaceID != w.ID || got.Event.ConversationID != conv || !strings.Contains(string(got.Event.Data), msg) {
			t.Fatalf("message.created: %+v", got.Event)
		}
		types := map[string]bool{}
		for _, f := range all {
			types[f.Event.Type] = true
		}
		for _, typ := range []string{event.InboxCreated, event.CustomerCreated, event.ConversationCreated} {
			if !types[typ] {
				t.Errorf("no %s event before message.created: %v", typ, types)
			}
		}
	})
}

func TestRealtimeWorkspaceIsolation(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		a := e.Setup("A", "a@example.com")
		b := e.Setup("B", "b@example.com")
		sa := e.mustDial(t, dialOpt{token: a.Token})
		sb := e.mustDial(t, dialOpt{token: b.Token})
		sa.next(t)
		sb.next(t)
		e.inbound(t, a, "ayse@example.com", "m-1")
		sa.until(t, isEvent(event.MessageCreated))
		e.appendEvents(t, b.ID, "test.marker", 1, 0)
		_, before := sb.until(t, isEvent("test.marker"))
		for _, f := range before {
			if f.Type == "event" {
				t.Fatalf("B saw another event: %+v", f.Event)
			}
		}
	})
}

func TestRealtimeResume(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")

		// From the start: everything, in order.
		s := e.mustDial(t, dialOpt{token: w.Token, query: "?after=0"})
		hello := s.next(t)
		if hello.After == nil || *hello.After != 0 {
			t.Fatalf("hello: %+v", hello)
		}
		var fs []frame
		for range hello.LastSeq {
			fs = append(fs, s.nextEvent(t))
		}
		consecutive(t, fs, 1)

		e.appendEvents(t, w.ID, "test.filler", 5, 100)
		for range 5 {
			fs = append(fs, s.nextEvent(t))
		}
		last := consecutive(t, fs, 1)
		_ = s.c.Close(websocket.StatusNormalClosure, "")

		e.appendEvents(t, w.ID, "test.filler", 50, 100)
		s = e.mustDial(t, dialOpt{token: w.Token, query: fmt.Sprintf("?after=%d", last)})
		if h := s.next(t); h.Type != "hello" || *h.After != last || h.LastSeq != last+50 {
			t.Fatalf("resume hello: %+v (last %d)", h, last)
		}
		fs = nil
		for range 50 {
			fs = append(fs, s.nextEvent(t))
		}
		last = consecutive(t, fs, last+1)
		// Then live, still without a gap or a repeat.
		e.appendEvents(t, w.ID, "test.live", 3, 10)
		fs = nil
		for range 3 {
			fs = append(fs, s.nextEvent(t))
		}
		if fs[0].Event.Type != "test.live" {
			t.Fatalf("live: %+v", fs[0])
		}
		consecutive(t, fs, last+1)

		// A cursor beyond the log (another install's) is reset.
		r := e.mustDial(t, dialOpt{token: w.Token, query: "?after=999999"})
		if h := r.next(t); !h.Reset || h.LastSeq != last+3 || h.After != nil {
			t.Fatalf("reset hello: %+v", h)
		}
	})
}

func TestRealtimeResumeWhileProducing(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		s := e.mustDial(t, dialOpt{token: w.Token})
		start := s.next(t).LastSeq
		cursor := start
		resume := func() {
			t.Helper()
			_ = s.c.CloseNow()
			s = e.mustDial(t, dialOpt{token: w.Token, query: fmt.Sprintf("?after=%d", cursor)})
			if h := s.next(t); h.Type != "hello" || *h.After != cursor {
				t.Fatalf("hello: %+v", h)
			}
		}
		var total int
		// nextEvent reads the next event and checks it follows the cursor.
		// A burst larger than the socket's queue may drop it as a slow
		// consumer (1013); a client then resumes, and so does this one.
		// Any other close (a resync) is a failure: the hub lost nothing.
		nextEvent := func() frame {
			t.Helper()
			for {
				select {
				case f := <-s.frames:
					if f.Type != "event" {
						continue
					}
					if f.Event.Seq != cursor+1 {
						t.Fatalf("seq %d after %d", f.Event.Seq, cursor)
					}
					cursor = f.Event.Seq
					total++
					return f
				case <-s.done:
					if len(s.frames) > 0 {
						continue
					}
					if websocket.CloseStatus(s.err) != websocket.StatusTryAgainLater {
						t.Fatalf("socket closed: %v", s.err)
					}
					resume()
				case <-time.After(wait):
					t.Fatal("no event came")
				}
			}
		}

		// Events commit all the time, one to three per transaction, while
		// the client keeps dropping its connection and resuming.
		stop := make(chan struct{})
		errc := make(chan error, 1)
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					errc <- nil
					return
				default:
				}
				if err := e.tryAppend(w.ID, "test.filler", 1+i%3, 50); err != nil {
					errc <- err
					return
				}
			}
		}()
		for round := range 25 {
			for range 3 + round%7 {
				nextEvent()
			}
			resume()
		}
		close(stop)
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(wait):
			t.Fatal("producer did not stop")
		}
		e.appendEvents(t, w.ID, "test.marker", 1, 0)
		for nextEvent().Event.Type != "test.marker" {
		}
		if want := int(cursor - start); total != want {
			t.Fatalf("received %d events, want %d", total, want)
		}
	})
}

func TestRealtimeSlowConsumer(t *testing.T) {
	eachDialect(t, rtOptions{smallBufs: true, hub: realtime.Options{WriteTimeout: wait}}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		normal := e.mustDial(t, dialOpt{token: w.Token})
		start := normal.next(t).LastSeq
		slow := e.mustDial(t, dialOpt{token: w.Token, noReader: true, tinyRecv: true})
		testutil.Eventually(t, wait, func() bool { return e.Hub.Connections() == 2 }, "two sockets")

		// 1,000 events of about 1 KiB, in batches the normal client reads
		// before the next: far more than the slow one's queue (256) and
		// socket buffers hold.
		const batches, per = 40, 25
		cursor := start
		for range batches {
			e.appendEvents(t, w.ID, "test.filler", per, 1000)
			for range per {
				f := normal.nextEvent(t)
				if f.Event.Seq != cursor+1 {
					t.Fatalf("normal client: seq %d after %d (%s)", f.Event.Seq, cursor, f.Type)
				}
				cursor = f.Event.Seq
			}
		}
		testutil.Eventually(t, wait, func() bool { return e.Hub.Connections() == 1 }, "the slow socket is dropped")

		// The slow client reads at last: a prefix of the events, then 1013.
		slow.startReading()
		fs, err := slow.closed(t)
		if websocket.CloseStatus(err) != websocket.StatusTryAgainLater {
			t.Fatalf("slow client closed with %v, want 1013", err)
		}
		if len(fs) == 0 || fs[0].Type != "hello" {
			t.Fatalf("slow client frames: %d", len(fs))
		}
		last := consecutive(t, fs[1:], start+1)
		if last >= cursor {
			t.Fatalf("the slow client got everything (%d); it was not dropped for being slow", last)
		}
		// ... and resumes from where it stopped.
		again := e.mustDial(t, dialOpt{token: w.Token, query: fmt.Sprintf("?after=%d", last)})
		again.next(t)
		var rest []frame
		for range cursor - last {
			rest = append(rest, again.nextEvent(t))
		}
		consecutive(t, rest, last+1)

		// The normal client kept up and is still live.
		e.appendEvents(t, w.ID, "test.marker", 1, 0)
		if f := normal.nextEvent(t); f.Event.Seq != cursor+1 || f.Event.Type != "test.marker" {
			t.Fatalf("normal client after the drop: %+v", f)
		}
	})
}

func TestRealtimePermissions(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		agentID, agentTok := e.member(t, w, "agent@example.com", "agent")
		owner := e.mustDial(t, dialOpt{token: w.Token})
		agent := e.mustDial(t, dialOpt{token: agentTok})
		owner.next(t)
		agent.next(t)

		e.Client(w.Token).Must(http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "ci"})
		e.appendEvents(t, w.ID, event.JobDead, 1, 0)
		e.appendEvents(t, w.ID, "test.marker", 1, 0)
		_, seen := agent.until(t, isEvent("test.marker"))
		for _, f := range seen {
			if strings.HasPrefix(f.Event.Type, "token.") || strings.HasPrefix(f.Event.Type, "job.") {
				t.Fatalf("the agent got %s", f.Event.Type)
			}
		}
		owner.until(t, isEvent(event.TokenCreated))
		owner.until(t, isEvent(event.JobDead))
		owner.until(t, isEvent("test.marker"))

		// Promoted to admin, the agent's open socket follows.
		e.Client(w.Token).Must(http.StatusOK, "PATCH", "/api/v1/users/"+agentID, map[string]any{"role": "admin"})
		agent.until(t, isEvent(event.MembershipChanged))
		e.Client(w.Token).Must(http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "ci-2"})
		agent.until(t, isEvent(event.TokenCreated))

		// Removed, it is closed.
		e.Client(w.Token).Must(http.StatusNoContent, "DELETE", "/api/v1/users/"+agentID, nil)
		if _, err := agent.closed(t); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Fatalf("removed member's socket: %v", err)
		}
		// Added back as an agent, a replay from the start shows the old
		// removal as history and does not close the socket.
		e.Client(w.Token).Must(http.StatusCreated, "POST", "/api/v1/users", map[string]any{"email": "agent@example.com", "role": "agent"})
		tok, _, err := e.Auth.CreateToken(context.Background(), w.ID, agentID, "again")
		if err != nil {
			t.Fatal(err)
		}
		back := e.mustDial(t, dialOpt{token: tok, query: "?after=0"})
		back.next(t)
		e.appendEvents(t, w.ID, "test.marker2", 1, 0)
		_, seen = back.until(t, isEvent("test.marker2"))
		removed := false
		for _, f := range seen {
			removed = removed || f.Event.Type == event.MembershipRemoved
			if strings.HasPrefix(f.Event.Type, "token.") {
				t.Fatalf("the agent again got %s", f.Event.Type)
			}
		}
		if !removed {
			t.Fatal("the replay lacks the removal")
		}
	})
}

func TestRealtimePresence(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		agentID, agentTok := e.member(t, w, "agent@example.com", "agent")
		idleID, _ := e.member(t, w, "idle@example.com", "agent")
		owner := e.mustDial(t, dialOpt{token: w.Token})
		owner.next(t)
		presenceOf := func(uid, status string) func(frame) bool {
			return func(f frame) bool { return f.Type == "presence" && f.UserID == uid && f.Status == status }
		}
		list := func() map[string]string {
			var body struct {
				Items []struct {
					UserID string `json:"user_id"`
					Status string `json:"status"`
				} `json:"items"`
			}
			e.Client(w.Token).Must(http.StatusOK, "GET", "/api/v1/presence", nil).Decode(t, &body)
			m := map[string]string{}
			for _, it := range body.Items {
				m[it.UserID] = it.Status
			}
			return m
		}

		a1 := e.mustDial(t, dialOpt{token: agentTok})
		a1.next(t)
		owner.until(t, presenceOf(agentID, realtime.Online))
		if m := list(); m[agentID] != "online" || m[w.OwnerID] != "online" || m[idleID] != "offline" || len(m) != 3 {
			t.Fatalf("presence: %v", m)
		}

		a1.send(t, map[string]any{"type": "presence", "status": "away"})
		owner.until(t, presenceOf(agentID, realtime.Away))
		if m := list(); m[agentID] != "away" {
			t.Fatalf("presence: %v", m)
		}

		// A second socket (another tab) is online: the member is online.
		a2 := e.mustDial(t, dialOpt{token: agentTok})
		a2.next(t)
		owner.until(t, presenceOf(agentID, realtime.Online))
		// It closes: every remaining socket is away.
		_ = a2.c.Close(websocket.StatusNormalClosure, "")
		owner.until(t, presenceOf(agentID, realtime.Away))
		// The last one closes: offline once the grace period is over.
		_ = a1.c.Close(websocket.StatusNormalClosure, "")
		_, between := owner.until(t, presenceOf(agentID, realtime.Offline))
		for _, f := range between {
			if f.Type == "presence" && f.UserID == agentID {
				t.Fatalf("presence flapped before offline: %+v", f)
			}
		}
		if m := list(); m[agentID] != "offline" {
			t.Fatalf("presence: %v", m)
		}
	})
}

func TestRealtimeTyping(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		other := e.Setup("Başka", "other@example.com")
		_, agentTok := e.member(t, w, "agent@example.com", "agent")
		conv, _ := e.inbound(t, w, "ayse@example.com", "m-1")
		foreign, _ := e.inbound(t, other, "veli@example.com", "m-1")

		sender := e.mustDial(t, dialOpt{token: w.Token})
		tab := e.mustDial(t, dialOpt{token: w.Token})
		agent := e.mustDial(t, dialOpt{token: agentTok})
		outsider := e.mustDial(t, dialOpt{token: other.Token})
		for _, s := range []*sock{sender, tab, agent, outsider} {
			s.next(t)
		}

		sender.send(t, map[string]any{"type": "typing", "conversation_id": conv, "typing": true})
		isTyping := func(f frame) bool { return f.Type == "typing" }
		for _, s := range []*sock{agent, tab} {
			f, _ := s.until(t, isTyping)
			if f.ConversationID != conv || f.UserID != w.OwnerID || !f.Typing {
				t.Fatalf("typing: %+v", f)
			}
		}
		// The sender's frames are handled in order: the answer to a bad
		// frame sent after the typing frame comes before any echo would.
		sender.send(t, "not json")
		_, before := sender.until(t, func(f frame) bool { return f.Type == "error" })
		for _, f := range before {
			if f.Type == "typing" {
				t.Fatal("typing echoed to its sender")
			}
		}

		sender.send(t, map[string]any{"type": "typing", "conversation_id": conv, "typing": false})
		if f, _ := agent.until(t, isTyping); f.Typing {
			t.Fatalf("typing false: %+v", f)
		}

		// Not a conversation of this workspace.
		for _, id := range []string{foreign, "00000000-0000-0000-0000-000000000000"} {
			sender.send(t, map[string]any{"type": "typing", "conversation_id": id, "typing": true})
			if f, _ := sender.until(t, func(f frame) bool { return f.Type == "error" }); f.Code != "not_found" {
				t.Fatalf("typing in %s: %+v", id, f)
			}
		}
		sender.send(t, map[string]any{"type": "typing", "conversation_id": conv})
		if f, _ := sender.until(t, func(f frame) bool { return f.Type == "error" }); f.Code != "invalid_input" {
			t.Fatalf("typing without typing: %+v", f)
		}
		// The other workspace heard nothing.
		e.appendEvents(t, other.ID, "test.marker", 1, 0)
		_, before = outsider.until(t, isEvent("test.marker"))
		for _, f := range before {
			if f.Type == "typing" || f.Type == "event" {
				t.Fatalf("the other workspace got %+v", f)
			}
		}
	})
}

func TestRealtimeReadReceipt(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		other := e.Setup("Başka", "other@example.com")
		conv, msg := e.inbound(t, w, "ayse@example.com", "m-1")
		conv2, msg2 := e.inbound(t, w, "veli@example.com", "m-2")
		foreign, foreignMsg := e.inbound(t, other, "can@example.com", "m-1")
		s := e.mustDial(t, dialOpt{token: w.Token})
		s.next(t)

		c := e.Client(w.Token)
		r := c.Must(http.StatusOK, "POST", "/api/v1/conversations/"+conv+"/read", map[string]any{"message_id": msg}).JSON()
		if r["user_id"] != w.OwnerID || r["message_id"] != msg || r["conversation_id"] != conv || r["read_at"] == nil {
			t.Fatalf("receipt: %v", r)
		}
		f, _ := s.until(t, isEvent("conversation.read"))
		var data struct {
			UserID    string `json:"user_id"`
			MessageID string `json:"message_id"`
			ReadAt    int64  `json:"read_at"`
		}
		if err := json.Unmarshal(f.Event.Data, &data); err != nil || data.UserID != w.OwnerID || data.MessageID != msg ||
			data.ReadAt == 0 || f.Event.ConversationID != conv || f.Event.ActorID != w.OwnerID {
			t.Fatalf("conversation.read: %+v %s", f.Event, f.Event.Data)
		}

		for _, tc := range []struct {
			conv, msg string
			status    int
		}{
			{conv, msg2, http.StatusBadRequest},        // a message of another conversation
			{conv2, foreignMsg, http.StatusBadRequest}, // of another workspace
			{conv, "", http.StatusBadRequest},
			{foreign, foreignMsg, http.StatusNotFound}, // another workspace's conversation
			{"nope", msg, http.StatusNotFound},
		} {
			if r := c.Do("POST", "/api/v1/conversations/"+tc.conv+"/read", map[string]any{"message_id": tc.msg}); r.Status != tc.status {
				t.Errorf("read %s/%s: %d %s, want %d", tc.conv, tc.msg, r.Status, r.Body, tc.status)
			}
		}
		if r := c.Do("POST", "/api/v1/conversations/"+conv+"/read", map[string]any{"message_id": msg, "extra": 1}); r.Status != http.StatusBadRequest {
			t.Errorf("unknown field: %d", r.Status)
		}
	})
}

func TestRealtimeBadFrames(t *testing.T) {
	eachDialect(t, rtOptions{}, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		s := e.mustDial(t, dialOpt{token: w.Token})
		s.next(t)
		isError := func(f frame) bool { return f.Type == "error" }
		for _, tc := range []struct {
			frame any
			code  string
		}{
			{"not json", "malformed_frame"},
			{"[1,2]", "malformed_frame"},
			{`{"status":"away"}`, "malformed_frame"},
			{map[string]any{"type": "dance"}, "unknown_type"},
			{map[string]any{"type": "resume", "after": 3}, "unknown_type"},
			{map[string]any{"type": "presence", "status": "busy"}, "invalid_input"},
			{map[string]any{"type": "presence", "status": 1}, "invalid_input"},
			{map[string]any{"type": "typing", "typing": true}, "invalid_input"},
		} {
			s.send(t, tc.frame)
			if f, _ := s.until(t, isError); f.Code != tc.code || f.Message == "" {
				t.Errorf("%v: %+v, want %s", tc.frame, f, tc.code)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := s.c.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if f, _ := s.until(t, isError); f.Code != "unsupported_frame" {
			t.Errorf("binary: %+v", f)
		}
		// Still open and live.
		e.appendEvents(t, w.ID, "test.marker", 1, 0)
		s.until(t, isEvent("test.marker"))

		// A frame over 4 KiB closes the socket.
		_ = s.c.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","conversation_id":"`+strings.Repeat("x", 5000)+`"}`))
		if _, err := s.closed(t); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("oversize frame: %v", err)
		}
		testutil.Eventually(t, wait, func() bool { return e.Hub.Connections() == 0 }, "socket gone")
	})
}

func TestRealtimeHeartbeat(t *testing.T) {
	o := rtOptions{hub: realtime.Options{PingInterval: 50 * time.Millisecond, PongTimeout: time.Second}}
	eachDialect(t, o, func(t *testing.T, e *rtEnv) {
		w := e.Setup("Mağaza", "owner@example.com")
		alive := e.mustDial(t, dialOpt{token: w.Token})
		alive.next(t)
		// A client that never reads never answers pings.
		e.mustDial(t, dialOpt{token: w.Token, noReader: true})
		testutil.Eventually(t, wait, func() bool { return e.Hub.Connections() == 2 }, "two sockets")
		testutil.Eventually(t, wait, func() bool { return e.Hub.Connections() == 1 }, "the silent socket is dropped")
		e.appendEvents(t, w.ID, "test.marker", 1, 0)
		alive.until(t, isEvent("test.marker"))
	})
}

func TestRealtimeResync(t *testing.T) {
	private := bus.NewInProc()
	o := rtOptions{privateBus: private, manualRun: true, hub: realtime.Options{BusBuffer: 1}}
	// One dialect is enough: this is about the hub, not the store.
	e := newRT(t, store.SQLite, o)
	w := e.Setup("Mağaza", "owner@example.com")
	s := e.mustDial(t, dialOpt{token: w.Token})
	head := s.next(t).LastSeq
	testutil.Eventually(t, wait, func() bool { return e.Hub.Connections() == 1 }, "socket registered")

	// The hub is not reading yet: two events overflow its subscription.
	private.Publish([]event.Event{{WorkspaceID: w.ID, Seq: head + 1, Type: "x"}, {WorkspaceID: w.ID, Seq: head + 2, Type: "x"}})
	e.run()
	fs, err := s.closed(t)
	if len(fs) == 0 || fs[len(fs)-1].Type != "resync" || websocket.CloseStatus(err) != realtime.StatusResync {
		t.Fatalf("after an overflow: %+v, %v", fs, err)
	}

	// Live, a gap in seq (an event that never reached the hub) also asks
	// for a resync. While the socket still catches up, a gap is filled
	// from the log instead, so keep publishing one until the socket is live.
	s = e.mustDial(t, dialOpt{token: w.Token})
	head = s.next(t).LastSeq
	deadline := time.Now().Add(wait)
	for closed := false; !closed; {
		if time.Now().After(deadline) {
			t.Fatal("a gap did not close the socket")
		}
		private.Publish([]event.Event{{WorkspaceID: w.ID, Seq: head + 2, Type: "x"}})
		select {
		case <-s.done:
			closed = true
		case <-time.After(20 * time.Millisecond):
		}
	}
	fs, err = s.closed(t)
	if len(fs) == 0 || fs[len(fs)-1].Type != "resync" || websocket.CloseStatus(err) != realtime.StatusResync {
		t.Fatalf("after a gap: %+v, %v", fs, err)
	}
}

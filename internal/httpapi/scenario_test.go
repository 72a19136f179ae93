package httpapi_test

// Scenario tests: named, table-driven stories through the real router on
// SQLite and PostgreSQL. Every case gets a fresh Kanal (testutil.Run) so
// that per-server state such as the login rate limiter never leaks between
// cases. The helpers at the top are shared with security_test.go and
// badinput_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel/api"
	"github.com/kanal-dev/kanal/internal/testutil"
)

// ---------------------------------------------------------------------------
// Shared helpers

// call sends a request (with optional header pairs) and fails the test
// unless the answer has status want.
func call(t testing.TB, c *testutil.Client, want int, method, path string, body any, headers ...string) testutil.Response {
	t.Helper()
	r := c.Do(method, path, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// wantErr checks an error answer's status and code and returns its fields.
func wantErr(t testing.TB, what string, r testutil.Response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status || r.ErrorCode() != code {
		t.Fatalf("%s: got %d %q, want %d %q: %s", what, r.Status, r.ErrorCode(), status, code, r.Body)
	}
	return errFields(r)
}

// errFields returns error.fields of an error body (nil when absent).
func errFields(r testutil.Response) map[string]any {
	e, _ := r.JSON()["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	return f
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// Typed views of the API's JSON.
type (
	eventJSON struct {
		Seq            int64  `json:"seq"`
		Type           string `json:"type"`
		CustomerID     string `json:"customer_id"`
		ConversationID string `json:"conversation_id"`
	}
	convJSON struct {
		ID             string   `json:"id"`
		CustomerID     string   `json:"customer_id"`
		InboxID        string   `json:"inbox_id"`
		LastInboxID    string   `json:"last_inbox_id"`
		Channel        string   `json:"channel"`
		LastChannel    string   `json:"last_channel"`
		Status         string   `json:"status"`
		Priority       string   `json:"priority"`
		AssigneeID     *string  `json:"assignee_id"`
		TeamID         *string  `json:"team_id"`
		Labels         []string `json:"labels"`
		SnoozedUntil   *int64   `json:"snoozed_until"`
		ResolvedAt     *int64   `json:"resolved_at"`
		FirstResponse  *int64   `json:"first_response_at"`
		LastActivityAt int64    `json:"last_activity_at"`
	}
	msgJSON struct {
		ID             string  `json:"id"`
		ConversationID string  `json:"conversation_id"`
		CustomerID     string  `json:"customer_id"`
		InboxID        string  `json:"inbox_id"`
		Kind           string  `json:"kind"`
		Direction      string  `json:"direction"`
		AuthorKind     string  `json:"author_kind"`
		AuthorID       *string `json:"author_id"`
		Text           string  `json:"text"`
		ProviderID     *string `json:"provider_id"`
		Status         string  `json:"status"`
		StatusReason   string  `json:"status_reason"`
	}
	jobJSON struct {
		ID        string          `json:"id"`
		Kind      string          `json:"kind"`
		State     string          `json:"state"`
		Payload   json.RawMessage `json:"payload"`
		LastError string          `json:"last_error"`
	}
	ingestJSON struct {
		CustomerID     string `json:"customer_id"`
		ConversationID string `json:"conversation_id"`
		MessageID      string `json:"message_id"`
		Duplicate      bool   `json:"duplicate"`
	}
	pageJSON[T any] struct {
		Items      []T    `json:"items"`
		NextCursor string `json:"next_cursor"`
		LastSeq    int64  `json:"last_seq"`
		NextBefore *int64 `json:"next_before"`
	}
)

func decodePage[T any](t testing.TB, r testutil.Response) pageJSON[T] {
	t.Helper()
	var p pageJSON[T]
	r.Decode(t, &p)
	return p
}

// allEvents reads a workspace's whole event log, page by page.
func allEvents(t testing.TB, c *testutil.Client) []eventJSON {
	t.Helper()
	var out []eventJSON
	after := int64(0)
	for {
		p := decodePage[eventJSON](t, call(t, c, http.StatusOK, "GET", "/api/v1/events?limit=1000&after="+strconv.FormatInt(after, 10), nil))
		out = append(out, p.Items...)
		if len(p.Items) < 1000 {
			return out
		}
		after = p.LastSeq
	}
}

// lastSeq is the seq of the newest event of the caller's workspace.
func lastSeq(t testing.TB, c *testutil.Client) int64 {
	t.Helper()
	evs := allEvents(t, c)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Seq
}

// sessionCookie returns the kanal_session cookie a response sets (nil if none).
func sessionCookie(r testutil.Response) *http.Cookie {
	for _, line := range r.Header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == "kanal_session" {
			return c
		}
	}
	return nil
}

// login posts credentials from a fresh client (no token, empty jar).
func login(a *testutil.App, email, password string) testutil.Response {
	return a.Client("").Do("POST", "/api/v1/auth/login", map[string]any{"email": email, "password": password})
}

// withCookie sends a request carrying only the given session cookie value.
func withCookie(a *testutil.App, value, method, path string, body any, headers ...string) testutil.Response {
	return a.Client("").Do(method, path, body, append([]string{"Cookie", "kanal_session=" + value}, headers...)...)
}

// env is one workspace with its owner, for a scenario.
type env struct {
	t     *testing.T
	a     *testutil.App
	ws    testutil.Workspace
	owner *testutil.Client
}

func newEnv(t *testing.T, a *testutil.App, name, email string) *env {
	t.Helper()
	ws := a.Setup(name, email)
	return &env{t: t, a: a, ws: ws, owner: a.Client(ws.Token)}
}

// addMember has the owner add a member with a password and returns the
// member's id and a client with an API token of theirs.
func (e *env) addMember(role, email string) (string, *testutil.Client) {
	e.t.Helper()
	m := call(e.t, e.owner, http.StatusCreated, "POST", "/api/v1/users",
		map[string]any{"email": email, "name": strings.ToUpper(role[:1]) + role[1:] + " " + email[:strings.IndexByte(email, '@')],
			"password": testutil.Password, "role": role}).JSON()
	id := str(m, "id")
	if id == "" || str(m, "role") != role {
		e.t.Fatalf("add member: %v", m)
	}
	tok, _, err := e.a.Auth.CreateToken(context.Background(), e.ws.ID, id, "test")
	if err != nil {
		e.t.Fatalf("token for %s: %v", email, err)
	}
	return id, e.a.Client(tok)
}

// apiInbox creates an api inbox and returns its id and signing secret.
func (e *env) apiInbox(name string) (string, string) {
	e.t.Helper()
	ib := call(e.t, e.owner, http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "api", "name": name}).JSON()
	secrets, _ := ib["secrets"].(map[string]any)
	secret := str(secrets, "signing_secret")
	if str(ib, "id") == "" || len(secret) < 16 {
		e.t.Fatalf("inbox: %v", ib)
	}
	return str(ib, "id"), secret
}

// inbound posts a customer message to an api inbox and expects 202.
func (e *env) inbound(inboxID, extID string, cust map[string]any, text string) ingestJSON {
	e.t.Helper()
	var res ingestJSON
	call(e.t, e.owner, http.StatusAccepted, "POST", "/api/v1/inboxes/"+inboxID+"/inbound",
		map[string]any{"external_message_id": extID, "customer": cust, "text": text}).Decode(e.t, &res)
	if res.CustomerID == "" || res.ConversationID == "" || res.MessageID == "" {
		e.t.Fatalf("inbound %s: %+v", extID, res)
	}
	return res
}

func (e *env) conversation(id string) convJSON {
	e.t.Helper()
	var c convJSON
	call(e.t, e.owner, http.StatusOK, "GET", "/api/v1/conversations/"+id, nil).Decode(e.t, &c)
	return c
}

func (e *env) patchConv(c *testutil.Client, id string, body any) convJSON {
	e.t.Helper()
	var out convJSON
	call(e.t, c, http.StatusOK, "PATCH", "/api/v1/conversations/"+id, body).Decode(e.t, &out)
	return out
}

func (e *env) messages(convID string) []msgJSON {
	e.t.Helper()
	return decodePage[msgJSON](e.t, call(e.t, e.owner, http.StatusOK, "GET", "/api/v1/conversations/"+convID+"/messages?limit=200", nil)).Items
}

func (e *env) message(convID, msgID string) msgJSON {
	e.t.Helper()
	for _, m := range e.messages(convID) {
		if m.ID == msgID {
			return m
		}
	}
	e.t.Fatalf("message %s not in conversation %s", msgID, convID)
	return msgJSON{}
}

func (e *env) deadJobs() []jobJSON {
	e.t.Helper()
	return decodePage[jobJSON](e.t, call(e.t, e.owner, http.StatusOK, "GET", "/api/v1/jobs/dead?limit=200", nil)).Items
}

// conversationIDs lists the ids a conversation list query returns (one page
// of up to 200).
func (e *env) conversationIDs(c *testutil.Client, query string) []string {
	e.t.Helper()
	p := decodePage[convJSON](e.t, call(e.t, c, http.StatusOK, "GET", "/api/v1/conversations?limit=200&"+query, nil))
	ids := []string{}
	for _, cv := range p.Items {
		ids = append(ids, cv.ID)
	}
	return ids
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// callbackServer is an integrator's endpoint for an api inbox: it checks
// X-Kanal-Signature with the inbox's secret and answers with answer().
type callbackServer struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []api.Callback
	badSig int
	answer func() (int, string)
}

func newCallbackServer(t *testing.T, secret string, answer func() (int, string)) *callbackServer {
	cs := &callbackServer{answer: answer}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		cs.mu.Lock()
		if !api.Verify(secret, body, r.Header.Get(api.SignatureHeader)) {
			cs.badSig++
			cs.mu.Unlock()
			http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
			return
		}
		var cb api.Callback
		_ = json.Unmarshal(body, &cb)
		cs.calls = append(cs.calls, cb)
		status, out := cs.answer()
		cs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *callbackServer) snapshot() ([]api.Callback, int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Clone(cs.calls), cs.badSig
}

func (cs *callbackServer) setAnswer(f func() (int, string)) {
	cs.mu.Lock()
	cs.answer = f
	cs.mu.Unlock()
}

// deliveryFixture is an api inbox whose callback_url points at a test
// server, and a conversation on it.
type deliveryFixture struct {
	inboxID, secret string
	cb              *callbackServer
	conv            ingestJSON
}

func (e *env) deliveryFixture(answer func() (int, string)) deliveryFixture {
	e.t.Helper()
	id, secret := e.apiInbox("Integration")
	cb := newCallbackServer(e.t, secret, answer)
	ib := call(e.t, e.owner, http.StatusOK, "PATCH", "/api/v1/inboxes/"+id,
		map[string]any{"config": map[string]any{"callback_url": cb.URL + "/kanal"}}).JSON()
	if cfg, _ := ib["config"].(map[string]any); str(cfg, "callback_url") != cb.URL+"/kanal" {
		e.t.Fatalf("callback_url not set: %v", ib)
	}
	conv := e.inbound(id, "in-1", map[string]any{"name": "Elif Kaya", "email": "elif@example.com", "external_id": "crm-42"}, "Kargom nerede?")
	return deliveryFixture{inboxID: id, secret: secret, cb: cb, conv: conv}
}

func (e *env) reply(convID, text string) msgJSON {
	e.t.Helper()
	var m msgJSON
	call(e.t, e.owner, http.StatusCreated, "POST", "/api/v1/conversations/"+convID+"/messages", map[string]any{"text": text}).Decode(e.t, &m)
	return m
}

// waitStatus polls until a message reaches status (background delivery).
func (e *env) waitStatus(convID, msgID, status string) msgJSON {
	e.t.Helper()
	var m msgJSON
	testutil.Eventually(e.t, 15*time.Second, func() bool {
		m = e.message(convID, msgID)
		return m.Status == status
	}, "message "+msgID+" to reach status "+status)
	return m
}

// loginFrom posts a login from the given loopback address (127.0.0.0/8), so
// that the server sees a distinct client address.
func loginFrom(t testing.TB, a *testutil.App, ip, email, password string) testutil.Response {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	b, _ := json.Marshal(map[string]any{"email": email, "password": password})
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Post(a.URL+"/api/v1/auth/login", "application/json", bytes.NewReader(b))
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Skipf("this system has no loopback address %s (needs all of 127.0.0.0/8, as Linux has)", ip)
	}
	if err != nil {
		t.Fatalf("login from %s: %v", ip, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return testutil.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// postJSON is a goroutine-safe POST (testutil.Client fails the test from
// the calling goroutine, which must be the test's own).
func postJSON(a *testutil.App, token, path string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", a.URL+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// concurrently posts n inbound messages at once (body(i) for the i-th) and
// returns the results, failing unless all are 202.
func (e *env) concurrently(n int, inboxID string, body func(i int) map[string]any) []ingestJSON {
	e.t.Helper()
	out := make([]ingestJSON, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, b, err := postJSON(e.a, e.ws.Token, "/api/v1/inboxes/"+inboxID+"/inbound", body(i))
			if err == nil && status != http.StatusAccepted {
				err = fmt.Errorf("status %d: %s", status, b)
			}
			if err == nil {
				err = json.Unmarshal(b, &out[i])
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			e.t.Fatalf("concurrent inbound %d: %v", i, err)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Scenarios

type scenario struct {
	name string
	run  func(t *testing.T, e *env)
}

func TestScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			testutil.Run(t, func(t *testing.T, a *testutil.App) {
				sc.run(t, newEnv(t, a, "Acme Destek", "owner@acme.test"))
			})
		})
	}
}

var scenarios = []scenario{
	{name: "login sets an HttpOnly SameSite=Lax cookie and logout revokes it", run: func(t *testing.T, e *env) {
		r := login(e.a, e.ws.Email, testutil.Password)
		if r.Status != http.StatusOK {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		ck := sessionCookie(r)
		if ck == nil || ck.Value == "" {
			t.Fatalf("login set no session cookie: %v", r.Header.Values("Set-Cookie"))
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge <= 0 {
			t.Fatalf("session cookie attributes: %+v", ck)
		}
		me := r.JSON()
		if str(me, "role") != "owner" || str(me["user"].(map[string]any), "id") != e.ws.OwnerID ||
			str(me["workspace"].(map[string]any), "id") != e.ws.ID {
			t.Fatalf("login body: %s", r.Body)
		}

		for _, bad := range []struct{ what, email, password string }{
			{"wrong password", e.ws.Email, "wrong-password-1"},
			{"unknown user", "nobody@acme.test", testutil.Password},
			{"not an e-mail", "nobody", testutil.Password},
		} {
			r := login(e.a, bad.email, bad.password)
			wantErr(t, bad.what, r, http.StatusUnauthorized, "bad_credentials")
			if sessionCookie(r) != nil {
				t.Fatalf("%s set a session cookie", bad.what)
			}
		}
		r = e.a.Client("").Do("POST", "/api/v1/auth/login",
			map[string]any{"email": e.ws.Email, "password": testutil.Password, "workspace": "no-such-workspace"})
		wantErr(t, "login into a foreign workspace", r, http.StatusForbidden, "no_workspace")

		me2 := call(t, e.a.Client(""), http.StatusOK, "GET", "/api/v1/me", nil, "Cookie", "kanal_session="+ck.Value).JSON()
		if str(me2, "role") != "owner" || str(me2["user"].(map[string]any), "email") != e.ws.Email {
			t.Fatalf("me via cookie: %v", me2)
		}

		out := call(t, e.a.Client(""), http.StatusNoContent, "POST", "/api/v1/auth/logout", nil, "Cookie", "kanal_session="+ck.Value)
		if cleared := sessionCookie(out); cleared == nil || cleared.Value != "" || cleared.MaxAge >= 0 {
			t.Fatalf("logout did not clear the cookie: %v", out.Header.Values("Set-Cookie"))
		}
		r = withCookie(e.a, ck.Value, "GET", "/api/v1/me", nil)
		wantErr(t, "revoked session", r, http.StatusUnauthorized, "session_invalid")
		r = withCookie(e.a, "made-up-session", "GET", "/api/v1/me", nil)
		wantErr(t, "unknown session", r, http.StatusUnauthorized, "session_invalid")
	}},

	{name: "login attempts are rate limited with Retry-After", run: func(t *testing.T, e *env) {
		var limited testutil.Response
		attempts := 0
		for attempts < 30 {
			attempts++
			r := login(e.a, e.ws.Email, "wrong-password-1")
			if r.Status == http.StatusTooManyRequests {
				limited = r
				break
			}
			wantErr(t, fmt.Sprintf("attempt %d", attempts), r, http.StatusUnauthorized, "bad_credentials")
		}
		if limited.Status != http.StatusTooManyRequests {
			t.Fatalf("no 429 after %d wrong passwords", attempts)
		}
		if attempts < 2 {
			t.Fatalf("the very first attempt was rate limited")
		}
		wantErr(t, "limited attempt", limited, http.StatusTooManyRequests, "rate_limited")
		if n, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Fatalf("Retry-After = %q", limited.Header.Get("Retry-After"))
		}
		// While limited, even the right password is refused and no session opens.
		r := login(e.a, e.ws.Email, testutil.Password)
		wantErr(t, "right password while limited", r, http.StatusTooManyRequests, "rate_limited")
		if sessionCookie(r) != nil {
			t.Fatal("a rate-limited login set a session cookie")
		}
		// API tokens are not affected.
		call(t, e.owner, http.StatusOK, "GET", "/api/v1/me", nil)
	}},

	{name: "login attempts for one e-mail are limited across client addresses", run: func(t *testing.T, e *env) {
		var limited testutil.Response
		for i := 2; i < 40; i++ {
			r := loginFrom(t, e.a, fmt.Sprintf("127.0.0.%d", i), e.ws.Email, "wrong-password-1")
			if r.Status == http.StatusTooManyRequests {
				limited = r
				break
			}
			wantErr(t, fmt.Sprintf("attempt from 127.0.0.%d", i), r, http.StatusUnauthorized, "bad_credentials")
		}
		wantErr(t, "attempts from many addresses", limited, http.StatusTooManyRequests, "rate_limited")
		if limited.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		// Another account from a fresh address is not limited.
		if r := loginFrom(t, e.a, "127.0.0.99", "other@acme.test", "wrong-password-1"); r.Status != http.StatusUnauthorized {
			t.Fatalf("other account: %d %s", r.Status, r.Body)
		}
	}},

	{name: "the per-e-mail login limit counts every spelling of the address",
		run: func(t *testing.T, e *env) {
			// Such a spelling names the account.
			if r := loginFrom(t, e.a, "127.0.0.200", "Owner <"+e.ws.Email+">", testutil.Password); r.Status != http.StatusOK {
				t.Fatalf("login with a display name: %d %s", r.Status, r.Body)
			}
			limited := false
			for i := 2; i < 40 && !limited; i++ {
				spelling := fmt.Sprintf("Guess %d <%s>", i, e.ws.Email)
				r := loginFrom(t, e.a, fmt.Sprintf("127.0.0.%d", i), spelling, "wrong-password-1")
				limited = r.Status == http.StatusTooManyRequests
			}
			if !limited {
				t.Fatal("38 wrong passwords for one account from 38 addresses were never rate limited")
			}
		}},

	{name: "concurrent retries of one inbound message store it once", run: func(t *testing.T, e *env) {
		ib, _ := e.apiInbox("App")
		res := e.concurrently(8, ib, func(int) map[string]any {
			return map[string]any{"external_message_id": "same", "text": "Merhaba", "customer": map[string]any{"email": "race@example.com"}}
		})
		fresh := 0
		for _, r := range res {
			if !r.Duplicate {
				fresh++
			}
			if r.MessageID != res[0].MessageID || r.ConversationID != res[0].ConversationID || r.CustomerID != res[0].CustomerID {
				t.Fatalf("retries landed apart: %+v", res)
			}
		}
		if fresh != 1 {
			t.Fatalf("%d of 8 identical posts were stored as new: %+v", fresh, res)
		}
		if n := len(e.messages(res[0].ConversationID)); n != 1 {
			t.Fatalf("messages: %d", n)
		}
		for i, ev := range allEvents(t, e.owner) {
			if ev.Seq != int64(i+1) {
				t.Fatalf("event seq gap at %d: %d", i, ev.Seq)
			}
		}
	}},

	{name: "concurrent first messages of a new customer make one customer and one conversation", run: func(t *testing.T, e *env) {
		ibA, _ := e.apiInbox("A")
		ibB, _ := e.apiInbox("B")
		res := e.concurrently(8, ibA, func(i int) map[string]any {
			return map[string]any{"external_message_id": fmt.Sprintf("m-%d", i), "text": strconv.Itoa(i),
				"customer": map[string]any{"email": "burst@example.com", "phone": "+90 532 999 88 77"}}
		})
		res = append(res, e.inbound(ibB, "b-1", map[string]any{"phone": "05329998877"}, "B"))
		for _, r := range res {
			if r.Duplicate || r.CustomerID != res[0].CustomerID || r.ConversationID != res[0].ConversationID {
				t.Fatalf("burst split: %+v", res)
			}
		}
		if n := len(e.messages(res[0].ConversationID)); n != 9 {
			t.Fatalf("messages: %d, want 9", n)
		}
		if n := len(decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers", nil)).Items); n != 1 {
			t.Fatalf("customers: %d, want 1", n)
		}
		if n := len(e.conversationIDs(e.owner, "")); n != 1 {
			t.Fatalf("conversations: %d, want 1", n)
		}
	}},

	{name: "cookie requests from another site are refused, bearer requests are not", run: func(t *testing.T, e *env) {
		ck := sessionCookie(call(t, e.a.Client(""), http.StatusOK, "POST", "/api/v1/auth/login",
			map[string]any{"email": e.ws.Email, "password": testutil.Password}))
		tokens := func() int {
			return len(decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/tokens", nil)).Items)
		}
		before, seq := tokens(), lastSeq(t, e.owner)
		for _, c := range []struct {
			what, method, path string
			body               any
			headers            []string
		}{
			{"POST token, Sec-Fetch-Site cross-site", "POST", "/api/v1/tokens", map[string]any{"name": "evil"}, []string{"Sec-Fetch-Site", "cross-site"}},
			{"POST token, Sec-Fetch-Site same-site", "POST", "/api/v1/tokens", map[string]any{"name": "evil"}, []string{"Sec-Fetch-Site", "same-site"}},
			{"POST token, foreign Origin", "POST", "/api/v1/tokens", map[string]any{"name": "evil"}, []string{"Origin", "https://evil.example"}},
			{"PATCH workspace, cross-site", "PATCH", "/api/v1/workspace", map[string]any{"name": "Pwned"}, []string{"Sec-Fetch-Site", "cross-site"}},
			{"POST users, cross-site", "POST", "/api/v1/users", map[string]any{"email": "evil@evil.example", "password": "evil-password-1", "role": "owner"}, []string{"Sec-Fetch-Site", "cross-site"}},
			{"logout, cross-site", "POST", "/api/v1/auth/logout", nil, []string{"Sec-Fetch-Site", "cross-site"}},
		} {
			r := withCookie(e.a, ck.Value, c.method, c.path, c.body, c.headers...)
			wantErr(t, c.what, r, http.StatusForbidden, "cross_origin")
		}
		if got := tokens(); got != before {
			t.Fatalf("a refused cross-site request created a token: %d -> %d", before, got)
		}
		if got := lastSeq(t, e.owner); got != seq {
			t.Fatalf("refused cross-site requests appended events: %d -> %d", seq, got)
		}
		// The session survived the cross-site logout, and safe methods pass.
		call(t, e.a.Client(""), http.StatusOK, "GET", "/api/v1/me", nil, "Cookie", "kanal_session="+ck.Value, "Sec-Fetch-Site", "cross-site")
		// Same-origin cookie writes pass.
		call(t, e.a.Client(""), http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "same-origin"},
			"Cookie", "kanal_session="+ck.Value, "Sec-Fetch-Site", "same-origin")
		call(t, e.a.Client(""), http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "same-origin-2"},
			"Cookie", "kanal_session="+ck.Value, "Origin", e.a.URL)
		// A bearer token is not subject to the check: browsers never send it cross-site on their own.
		call(t, e.owner, http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "bearer"},
			"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/workspace", map[string]any{"name": "Acme 2"}, "Sec-Fetch-Site", "cross-site")
		if got := tokens(); got != before+3 {
			t.Fatalf("tokens: %d, want %d", got, before+3)
		}
	}},

	{name: "users: adding members, role limits and the last owner", run: func(t *testing.T, e *env) {
		agentID, agent := e.addMember("agent", "agent@acme.test")
		r := login(e.a, "agent@acme.test", testutil.Password)
		if r.Status != http.StatusOK {
			t.Fatalf("agent login: %d %s", r.Status, r.Body)
		}
		me := r.JSON()
		perms, _ := me["permissions"].([]any)
		if str(me, "role") != "agent" || len(perms) != 2 || sessionCookie(r) == nil {
			t.Fatalf("agent login body: %s", r.Body)
		}
		wantErr(t, "agent adds a user", agent.Do("POST", "/api/v1/users",
			map[string]any{"email": "x@acme.test", "password": testutil.Password, "role": "agent"}), http.StatusForbidden, "forbidden")
		wantErr(t, "agent changes a role", agent.Do("PATCH", "/api/v1/users/"+agentID, map[string]any{"role": "admin"}), http.StatusForbidden, "forbidden")

		adminID, admin := e.addMember("admin", "admin@acme.test")
		wantErr(t, "admin adds an owner", admin.Do("POST", "/api/v1/users",
			map[string]any{"email": "boss@acme.test", "password": testutil.Password, "role": "owner"}), http.StatusForbidden, "forbidden")
		wantErr(t, "admin promotes to owner", admin.Do("PATCH", "/api/v1/users/"+agentID, map[string]any{"role": "owner"}), http.StatusForbidden, "forbidden")
		wantErr(t, "admin promotes self to owner", admin.Do("PATCH", "/api/v1/users/"+adminID, map[string]any{"role": "owner"}), http.StatusForbidden, "forbidden")
		wantErr(t, "admin demotes the owner", admin.Do("PATCH", "/api/v1/users/"+e.ws.OwnerID, map[string]any{"role": "agent"}), http.StatusForbidden, "forbidden")
		wantErr(t, "admin removes the owner", admin.Do("DELETE", "/api/v1/users/"+e.ws.OwnerID, nil), http.StatusForbidden, "forbidden")
		sup := call(t, admin, http.StatusCreated, "POST", "/api/v1/users",
			map[string]any{"email": "sup@acme.test", "password": testutil.Password, "role": "supervisor"}).JSON()
		if str(sup, "role") != "supervisor" {
			t.Fatalf("admin adds a supervisor: %v", sup)
		}

		f := wantErr(t, "unknown role", e.owner.Do("POST", "/api/v1/users",
			map[string]any{"email": "x@acme.test", "password": testutil.Password, "role": "boss"}), http.StatusBadRequest, "invalid_input")
		if _, ok := f["role"]; !ok {
			t.Fatalf("fields: %v", f)
		}
		f = wantErr(t, "short password", e.owner.Do("POST", "/api/v1/users",
			map[string]any{"email": "y@acme.test", "password": "short", "role": "agent"}), http.StatusBadRequest, "invalid_input")
		if _, ok := f["password"]; !ok {
			t.Fatalf("fields: %v", f)
		}
		wantErr(t, "existing member", e.owner.Do("POST", "/api/v1/users",
			map[string]any{"email": "AGENT@acme.test", "password": testutil.Password, "role": "agent"}), http.StatusConflict, "member_exists")

		wantErr(t, "last owner steps down", e.owner.Do("PATCH", "/api/v1/users/"+e.ws.OwnerID, map[string]any{"role": "admin"}), http.StatusConflict, "last_owner")
		wantErr(t, "last owner leaves", e.owner.Do("DELETE", "/api/v1/users/"+e.ws.OwnerID, nil), http.StatusConflict, "last_owner")
		wantErr(t, "unknown user", e.owner.Do("PATCH", "/api/v1/users/00000000-0000-7000-8000-000000000000", map[string]any{"role": "admin"}), http.StatusNotFound, "not_found")

		// A role change reaches a token already in the token cache at once.
		wantErr(t, "agent creates a team", agent.Do("POST", "/api/v1/teams", map[string]any{"name": "Early"}), http.StatusForbidden, "forbidden")
		call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/users/"+agentID, map[string]any{"role": "admin"})
		call(t, agent, http.StatusCreated, "POST", "/api/v1/teams", map[string]any{"name": "Promoted"})
		call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/users/"+agentID, map[string]any{"role": "agent"})
		wantErr(t, "demoted agent creates a team", agent.Do("POST", "/api/v1/teams", map[string]any{"name": "Late"}), http.StatusForbidden, "forbidden")

		// With a second owner the first may step down.
		call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/users/"+adminID, map[string]any{"role": "owner"})
		m := call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/users/"+e.ws.OwnerID, map[string]any{"role": "admin"}).JSON()
		if str(m, "role") != "admin" {
			t.Fatalf("step down: %v", m)
		}
		wantErr(t, "new last owner steps down", admin.Do("PATCH", "/api/v1/users/"+adminID, map[string]any{"role": "agent"}), http.StatusConflict, "last_owner")

		// Removing a member ends their token.
		call(t, admin, http.StatusNoContent, "DELETE", "/api/v1/users/"+agentID, nil)
		wantErr(t, "removed member's token", agent.Do("GET", "/api/v1/me", nil), http.StatusUnauthorized, "token_invalid")
		wantErr(t, "removed member", admin.Do("GET", "/api/v1/users/"+agentID, nil), http.StatusNotFound, "not_found")
		users := decodePage[map[string]any](t, call(t, admin, http.StatusOK, "GET", "/api/v1/users", nil)).Items
		if len(users) != 3 {
			t.Fatalf("users after removal: %v", users)
		}
	}},

	{name: "teams CRUD with member_ids checked against members", run: func(t *testing.T, e *env) {
		agentID, _ := e.addMember("agent", "agent@acme.test")
		tm := call(t, e.owner, http.StatusCreated, "POST", "/api/v1/teams",
			map[string]any{"name": "Destek", "member_ids": []string{agentID, agentID}}).JSON()
		id := str(tm, "id")
		if ids, _ := tm["member_ids"].([]any); id == "" || len(ids) != 1 || ids[0] != agentID {
			t.Fatalf("team: %v", tm)
		}
		f := wantErr(t, "unknown member", e.owner.Do("POST", "/api/v1/teams",
			map[string]any{"name": "Satış", "member_ids": []string{agentID, "no-such-user"}}), http.StatusBadRequest, "invalid_input")
		if _, ok := f["member_ids[1]"]; !ok {
			t.Fatalf("fields: %v", f)
		}
		wantErr(t, "duplicate name", e.owner.Do("POST", "/api/v1/teams", map[string]any{"name": "Destek"}), http.StatusConflict, "team_exists")
		wantErr(t, "blank name", e.owner.Do("POST", "/api/v1/teams", map[string]any{"name": "  "}), http.StatusBadRequest, "invalid_input")
		if n := len(decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/teams", nil)).Items); n != 1 {
			t.Fatalf("teams after refused creates: %d", n)
		}

		got := call(t, e.owner, http.StatusOK, "GET", "/api/v1/teams/"+id, nil).JSON()
		if str(got, "name") != "Destek" {
			t.Fatalf("get team: %v", got)
		}
		want := []string{agentID, e.ws.OwnerID}
		slices.Sort(want)
		up := call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/teams/"+id,
			map[string]any{"name": "Destek 2", "member_ids": []string{e.ws.OwnerID, agentID}}).JSON()
		if str(up, "name") != "Destek 2" || fmt.Sprint(up["member_ids"]) != fmt.Sprint(want) {
			t.Fatalf("patch team: %v", up)
		}
		f = wantErr(t, "patch with a non-member", e.owner.Do("PATCH", "/api/v1/teams/"+id,
			map[string]any{"name": "Broken", "member_ids": []string{e.ws.OwnerID, "ghost"}}), http.StatusBadRequest, "invalid_input")
		if _, ok := f["member_ids[1]"]; !ok {
			t.Fatalf("fields: %v", f)
		}
		got = call(t, e.owner, http.StatusOK, "GET", "/api/v1/teams/"+id, nil).JSON()
		if str(got, "name") != "Destek 2" || fmt.Sprint(got["member_ids"]) != fmt.Sprint(want) {
			t.Fatalf("a refused patch changed the team: %v", got)
		}
		// Members who leave the workspace leave its teams.
		call(t, e.owner, http.StatusNoContent, "DELETE", "/api/v1/users/"+agentID, nil)
		got = call(t, e.owner, http.StatusOK, "GET", "/api/v1/teams/"+id, nil).JSON()
		if fmt.Sprint(got["member_ids"]) != fmt.Sprint([]string{e.ws.OwnerID}) {
			t.Fatalf("removed member still in the team: %v", got)
		}
		up = call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/teams/"+id, map[string]any{"member_ids": []string{}}).JSON()
		if ids, _ := up["member_ids"].([]any); len(ids) != 0 || str(up, "name") != "Destek 2" {
			t.Fatalf("empty members: %v", up)
		}

		call(t, e.owner, http.StatusNoContent, "DELETE", "/api/v1/teams/"+id, nil)
		wantErr(t, "deleted team", e.owner.Do("GET", "/api/v1/teams/"+id, nil), http.StatusNotFound, "not_found")
		wantErr(t, "delete again", e.owner.Do("DELETE", "/api/v1/teams/"+id, nil), http.StatusNotFound, "not_found")
		wantErr(t, "patch deleted", e.owner.Do("PATCH", "/api/v1/teams/"+id, map[string]any{"name": "X"}), http.StatusNotFound, "not_found")
	}},

	{name: "inboxes CRUD and secrets shown only to admins", run: func(t *testing.T, e *env) {
		id, secret := e.apiInbox("Mobil Uygulama")
		_, agent := e.addMember("agent", "agent@acme.test")
		_, sup := e.addMember("supervisor", "sup@acme.test")
		_, admin := e.addMember("admin", "admin@acme.test")
		for who, c := range map[string]*testutil.Client{"agent": agent, "supervisor": sup} {
			for _, path := range []string{"/api/v1/inboxes/" + id, "/api/v1/inboxes"} {
				r := call(t, c, http.StatusOK, "GET", path, nil)
				if strings.Contains(string(r.Body), `"secrets"`) || strings.Contains(string(r.Body), secret) {
					t.Fatalf("%s sees secrets at %s: %s", who, path, r.Body)
				}
			}
			ib := call(t, c, http.StatusOK, "GET", "/api/v1/inboxes/"+id, nil).JSON()
			if set, _ := ib["secrets_set"].([]any); len(set) != 1 || set[0] != "signing_secret" || str(ib, "name") != "Mobil Uygulama" {
				t.Fatalf("%s view: %v", who, ib)
			}
		}
		ib := call(t, admin, http.StatusOK, "GET", "/api/v1/inboxes/"+id, nil).JSON()
		if s, _ := ib["secrets"].(map[string]any); str(s, "signing_secret") != secret {
			t.Fatalf("admin view: %v", ib)
		}
		if cfg, _ := ib["config"].(map[string]any); cfg["signing_secret"] != nil {
			t.Fatalf("the secret is in the public config: %v", ib)
		}
		if str(ib, "webhook_url") != e.a.URL+"/api/v1/inboxes/"+id+"/inbound" {
			t.Fatalf("webhook_url: %v", ib)
		}

		for _, bad := range []struct {
			what  string
			body  map[string]any
			field string
		}{
			{"unknown type", map[string]any{"type": "fax", "name": "X"}, "type"},
			{"no name", map[string]any{"type": "api", "name": " "}, "name"},
			{"bad callback", map[string]any{"type": "api", "name": "X", "config": map[string]any{"callback_url": "ftp://x"}}, "config.callback_url"},
			{"unknown setting", map[string]any{"type": "api", "name": "X", "config": map[string]any{"colour": "red"}}, "config.colour"},
			{"short secret", map[string]any{"type": "api", "name": "X", "config": map[string]any{"signing_secret": "short"}}, "config.signing_secret"},
		} {
			f := wantErr(t, bad.what, e.owner.Do("POST", "/api/v1/inboxes", bad.body), http.StatusBadRequest, "invalid_input")
			if _, ok := f[bad.field]; !ok {
				t.Fatalf("%s: fields %v, want %s", bad.what, f, bad.field)
			}
		}

		up := call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/inboxes/"+id, map[string]any{"name": "Mobil 2"}).JSON()
		if str(up, "name") != "Mobil 2" || str(up["secrets"].(map[string]any), "signing_secret") != secret {
			t.Fatalf("patch name: %v", up)
		}
		up = call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/inboxes/"+id,
			map[string]any{"config": map[string]any{"callback_url": "https://hooks.example/kanal"}}).JSON()
		if cfg, _ := up["config"].(map[string]any); str(cfg, "callback_url") != "https://hooks.example/kanal" || str(up, "name") != "Mobil 2" {
			t.Fatalf("patch config: %v", up)
		}
		f := wantErr(t, "patch bad callback", e.owner.Do("PATCH", "/api/v1/inboxes/"+id,
			map[string]any{"config": map[string]any{"callback_url": "not a url"}}), http.StatusBadRequest, "invalid_input")
		if _, ok := f["config.callback_url"]; !ok {
			t.Fatalf("fields: %v", f)
		}
		up = call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/inboxes/"+id, map[string]any{"config": map[string]any{"callback_url": nil}}).JSON()
		if cfg, _ := up["config"].(map[string]any); len(cfg) != 0 {
			t.Fatalf("null did not remove the setting: %v", up)
		}
		wantErr(t, "agent patches", agent.Do("PATCH", "/api/v1/inboxes/"+id, map[string]any{"name": "X"}), http.StatusForbidden, "forbidden")

		call(t, e.owner, http.StatusNoContent, "DELETE", "/api/v1/inboxes/"+id, nil)
		wantErr(t, "deleted inbox", e.owner.Do("GET", "/api/v1/inboxes/"+id, nil), http.StatusNotFound, "not_found")
		wantErr(t, "delete again", e.owner.Do("DELETE", "/api/v1/inboxes/"+id, nil), http.StatusNotFound, "not_found")
		wantErr(t, "patch deleted", e.owner.Do("PATCH", "/api/v1/inboxes/"+id, map[string]any{"name": "X"}), http.StatusNotFound, "not_found")
		wantErr(t, "inbound to deleted", e.owner.Do("POST", "/api/v1/inboxes/"+id+"/inbound",
			map[string]any{"external_message_id": "m-1", "text": "hi", "customer": map[string]any{"email": "a@example.com"}}), http.StatusNotFound, "not_found")
		if n := len(decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/inboxes", nil)).Items); n != 0 {
			t.Fatalf("deleted inbox still listed: %d", n)
		}
	}},

	{name: "api inbound creates customer, conversation and message; a retry stores nothing", run: func(t *testing.T, e *env) {
		ib, _ := e.apiInbox("App")
		body := map[string]any{"external_message_id": "m-1", "text": "Siparişim nerede?", "subject": "Sipariş",
			"customer": map[string]any{"name": "Ayşe Yılmaz", "email": "ayse@example.com", "attributes": map[string]any{"plan": "gold"}}}
		var first, again ingestJSON
		call(t, e.owner, http.StatusAccepted, "POST", "/api/v1/inboxes/"+ib+"/inbound", body).Decode(t, &first)
		if first.Duplicate || first.CustomerID == "" || first.ConversationID == "" || first.MessageID == "" {
			t.Fatalf("first: %+v", first)
		}
		seq := lastSeq(t, e.owner)
		call(t, e.owner, http.StatusAccepted, "POST", "/api/v1/inboxes/"+ib+"/inbound", body).Decode(t, &again)
		if !again.Duplicate || again.MessageID != first.MessageID || again.ConversationID != first.ConversationID || again.CustomerID != first.CustomerID {
			t.Fatalf("retry: %+v vs %+v", again, first)
		}
		if got := lastSeq(t, e.owner); got != seq {
			t.Fatalf("retry appended events: %d -> %d", seq, got)
		}
		ms := e.messages(first.ConversationID)
		if len(ms) != 1 || ms[0].ID != first.MessageID || ms[0].Direction != "in" || ms[0].AuthorKind != "customer" ||
			ms[0].Text != "Siparişim nerede?" || ms[0].ProviderID == nil || *ms[0].ProviderID != "m-1" || ms[0].Status != "received" {
			t.Fatalf("messages after retry: %+v", ms)
		}
		c := e.conversation(first.ConversationID)
		if c.CustomerID != first.CustomerID || c.InboxID != ib || c.Channel != "api" || c.Status != "open" || c.Priority != "normal" {
			t.Fatalf("conversation: %+v", c)
		}
		cust := call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+first.CustomerID, nil).JSON()
		if str(cust, "name") != "Ayşe Yılmaz" || str(cust, "email") != "ayse@example.com" {
			t.Fatalf("customer: %v", cust)
		}
		if attrs, _ := cust["attributes"].(map[string]any); attrs["plan"] != "gold" {
			t.Fatalf("customer attributes: %v", cust)
		}
		if n := len(decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers", nil)).Items); n != 1 {
			t.Fatalf("customers: %d", n)
		}
	}},

	{name: "identity resolution by e-mail and phone", run: func(t *testing.T, e *env) {
		ib, _ := e.apiInbox("App")
		r1 := e.inbound(ib, "e-1", map[string]any{"name": "Deniz", "email": "deniz@example.com"}, "Merhaba")
		r2 := e.inbound(ib, "e-2", map[string]any{"email": "deniz@example.com"}, "Orada mısınız?")
		if r2.Duplicate || r2.CustomerID != r1.CustomerID || r2.MessageID == r1.MessageID || r2.ConversationID != r1.ConversationID {
			t.Fatalf("same e-mail: %+v vs %+v", r2, r1)
		}
		if n := len(e.messages(r1.ConversationID)); n != 2 {
			t.Fatalf("messages: %d", n)
		}
		r3 := e.inbound(ib, "p-1", map[string]any{"phone": "0532 123 45 67"}, "Selam")
		if r3.CustomerID == r1.CustomerID {
			t.Fatal("a new phone joined the e-mail customer")
		}
		r4 := e.inbound(ib, "p-2", map[string]any{"phone": "+905321234567"}, "Selam yine")
		if r4.CustomerID != r3.CustomerID {
			t.Fatalf("0532 123 45 67 and +905321234567 are two customers: %s, %s", r3.CustomerID, r4.CustomerID)
		}
		cust := call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+r3.CustomerID, nil).JSON()
		ids, _ := cust["identities"].([]any)
		if str(cust, "phone") != "+905321234567" || len(ids) != 1 || str(ids[0].(map[string]any), "normalized") != "+905321234567" {
			t.Fatalf("phone customer: %v", cust)
		}
		// A known e-mail with a new phone: the customer of the e-mail gains the phone.
		r5 := e.inbound(ib, "x-1", map[string]any{"email": "deniz@example.com", "phone": "+90 532 765 43 21"}, "Numaram bu")
		r6 := e.inbound(ib, "x-2", map[string]any{"phone": "05327654321"}, "Telefondan yazıyorum")
		if r5.CustomerID != r1.CustomerID || r6.CustomerID != r1.CustomerID {
			t.Fatalf("phone added to the e-mail customer: %s, %s, want %s", r5.CustomerID, r6.CustomerID, r1.CustomerID)
		}
		if n := len(decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers", nil)).Items); n != 2 {
			t.Fatalf("customers: %d, want 2", n)
		}
	}},

	{name: "identity resolution ignores the case of ASCII e-mail addresses",
		run: func(t *testing.T, e *env) {
			ib, _ := e.apiInbox("App")
			r1 := e.inbound(ib, "c-1", map[string]any{"email": "deniz.ilhan@example.com"}, "Merhaba")
			r2 := e.inbound(ib, "c-2", map[string]any{"email": "DENIZ.ILHAN@Example.com"}, "Merhaba yine")
			if r2.CustomerID != r1.CustomerID {
				t.Fatalf("upper-case e-mail made a second customer: %s vs %s", r2.CustomerID, r1.CustomerID)
			}
			e.addMember("agent", "ilker@acme.test")
			if r := login(e.a, "ILKER@acme.test", testutil.Password); r.Status != http.StatusOK {
				t.Fatalf("login with the upper-case address: %d %s", r.Status, r.Body)
			}
		}},

	{name: "continuity across inboxes, after resolve, and when switched off", run: func(t *testing.T, e *env) {
		ibA, _ := e.apiInbox("A")
		ibB, _ := e.apiInbox("B")
		cust := map[string]any{"email": "can@example.com", "name": "Can"}
		r1 := e.inbound(ibA, "a-1", cust, "İlk mesaj")
		r2 := e.inbound(ibB, "b-1", cust, "Diğer kanaldan")
		if r2.CustomerID != r1.CustomerID || r2.ConversationID != r1.ConversationID {
			t.Fatalf("second inbox did not join the open conversation: %+v vs %+v", r2, r1)
		}
		c := e.conversation(r1.ConversationID)
		if c.InboxID != ibA || c.LastInboxID != ibB || c.LastChannel != "api" {
			t.Fatalf("conversation after second inbox: %+v", c)
		}
		if c := e.patchConv(e.owner, r1.ConversationID, map[string]any{"status": "resolved"}); c.Status != "resolved" || c.ResolvedAt == nil {
			t.Fatalf("resolve: %+v", c)
		}
		r3 := e.inbound(ibA, "a-2", cust, "Yeni bir sorum var")
		if r3.CustomerID != r1.CustomerID || r3.ConversationID == r1.ConversationID {
			t.Fatalf("message after resolve joined the resolved conversation: %+v", r3)
		}
		if c := e.conversation(r1.ConversationID); c.Status != "resolved" {
			t.Fatalf("resolved conversation reopened: %+v", c)
		}

		ws := call(t, e.owner, http.StatusOK, "GET", "/api/v1/workspace", nil).JSON()
		settings, _ := ws["settings"].(map[string]any)
		settings["continuity"] = false
		up := call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/workspace", map[string]any{"settings": settings}).JSON()
		if s, _ := up["settings"].(map[string]any); s["continuity"] != false {
			t.Fatalf("settings: %v", up)
		}
		r4 := e.inbound(ibB, "b-2", cust, "Diğer kanaldan tekrar")
		if r4.CustomerID != r1.CustomerID || r4.ConversationID == r3.ConversationID || r4.ConversationID == r1.ConversationID {
			t.Fatalf("without continuity the other inbox joined a conversation: %+v (open one %s)", r4, r3.ConversationID)
		}
		if r5 := e.inbound(ibB, "b-3", cust, "Aynı kanal"); r5.ConversationID != r4.ConversationID {
			t.Fatalf("same inbox without continuity: %s, want %s", r5.ConversationID, r4.ConversationID)
		}
		if r6 := e.inbound(ibA, "a-3", cust, "İlk kanal"); r6.ConversationID != r3.ConversationID {
			t.Fatalf("first inbox without continuity: %s, want %s", r6.ConversationID, r3.ConversationID)
		}
	}},

	{name: "workspace PATCH keeps the settings it is not given",
		run: func(t *testing.T, e *env) {
			up := call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/workspace", map[string]any{"settings": map[string]any{"continuity": false}}).JSON()
			s, _ := up["settings"].(map[string]any)
			if s["continuity"] != false || s["phone_region"] != "TR" || s["locale"] != "tr" || s["continuity_window_days"] != float64(7) {
				t.Fatalf("settings after a partial PATCH: %v", s)
			}
			got := call(t, e.owner, http.StatusOK, "GET", "/api/v1/workspace", nil).JSON()
			if fmt.Sprint(got["settings"]) != fmt.Sprint(up["settings"]) || str(got, "name") != "Acme Destek" {
				t.Fatalf("stored workspace: %v", got)
			}
			f := wantErr(t, "bad window", e.owner.Do("PATCH", "/api/v1/workspace",
				map[string]any{"settings": map[string]any{"continuity_window_days": 400}}), http.StatusBadRequest, "invalid_input")
			if _, ok := f["settings.continuity_window_days"]; !ok {
				t.Fatalf("fields: %v", f)
			}
			_, admin := e.addMember("admin", "admin@acme.test")
			wantErr(t, "admin changes settings", admin.Do("PATCH", "/api/v1/workspace",
				map[string]any{"settings": map[string]any{"continuity": true}}), http.StatusForbidden, "forbidden")
		}},

	{name: "conversation status, priority, labels and who may assign", run: func(t *testing.T, e *env) {
		agentID, agent := e.addMember("agent", "agent@acme.test")
		agent2ID, _ := e.addMember("agent", "agent2@acme.test")
		_, sup := e.addMember("supervisor", "sup@acme.test")
		team := str(call(t, e.owner, http.StatusCreated, "POST", "/api/v1/teams", map[string]any{"name": "Destek"}).JSON(), "id")
		ib, _ := e.apiInbox("App")
		cv := e.inbound(ib, "m-1", map[string]any{"email": "musteri@example.com"}, "Yardım").ConversationID
		path := "/api/v1/conversations/" + cv

		if c := e.patchConv(e.owner, cv, map[string]any{"status": "pending"}); c.Status != "pending" {
			t.Fatalf("pending: %+v", c)
		}
		until := time.Now().Add(48 * time.Hour).UnixMilli()
		if c := e.patchConv(e.owner, cv, map[string]any{"status": "snoozed", "snoozed_until": until}); c.Status != "snoozed" || c.SnoozedUntil == nil || *c.SnoozedUntil != until {
			t.Fatalf("snoozed: %+v", c)
		}
		if c := e.patchConv(agent, cv, map[string]any{"status": "open"}); c.Status != "open" || c.SnoozedUntil != nil {
			t.Fatalf("reopen: %+v", c)
		}
		for _, bad := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"status": "closed"}, "status"},
			{map[string]any{"status": "snoozed"}, "snoozed_until"},
			{map[string]any{"priority": "whenever"}, "priority"},
			{map[string]any{"labels": []string{strings.Repeat("x", 101)}}, "labels"},
		} {
			f := wantErr(t, fmt.Sprint(bad.body), e.owner.Do("PATCH", path, bad.body), http.StatusBadRequest, "invalid_input")
			if _, ok := f[bad.field]; !ok {
				t.Fatalf("%v: fields %v", bad.body, f)
			}
		}
		if c := e.patchConv(agent, cv, map[string]any{"priority": "urgent", "labels": []string{"vip", " vip ", "iade", ""}}); c.Priority != "urgent" ||
			!slices.Equal(c.Labels, []string{"iade", "vip"}) {
			t.Fatalf("priority and labels: %+v", c)
		}

		// An agent may take a conversation, not give it to others or to a team.
		if c := e.patchConv(agent, cv, map[string]any{"assignee_id": agentID}); c.AssigneeID == nil || *c.AssigneeID != agentID {
			t.Fatalf("agent takes: %+v", c)
		}
		wantErr(t, "agent assigns another", agent.Do("PATCH", path, map[string]any{"assignee_id": agent2ID}), http.StatusForbidden, "forbidden")
		wantErr(t, "agent sets the team", agent.Do("PATCH", path, map[string]any{"team_id": team}), http.StatusForbidden, "forbidden")
		if c := e.conversation(cv); c.AssigneeID == nil || *c.AssigneeID != agentID || c.TeamID != nil {
			t.Fatalf("refused assignment changed the conversation: %+v", c)
		}
		// A supervisor may.
		if c := e.patchConv(sup, cv, map[string]any{"assignee_id": agent2ID, "team_id": team}); c.AssigneeID == nil || *c.AssigneeID != agent2ID ||
			c.TeamID == nil || *c.TeamID != team {
			t.Fatalf("supervisor assigns: %+v", c)
		}
		f := wantErr(t, "assign a non-member", sup.Do("PATCH", path, map[string]any{"assignee_id": "ghost"}), http.StatusBadRequest, "invalid_input")
		if _, ok := f["assignee_id"]; !ok {
			t.Fatalf("fields: %v", f)
		}
		f = wantErr(t, "unknown team", sup.Do("PATCH", path, map[string]any{"team_id": "ghost"}), http.StatusBadRequest, "invalid_input")
		if _, ok := f["team_id"]; !ok {
			t.Fatalf("fields: %v", f)
		}
		if c := e.patchConv(e.owner, cv, map[string]any{"assignee_id": nil, "team_id": nil, "labels": []string{}}); c.AssigneeID != nil || c.TeamID != nil || len(c.Labels) != 0 {
			t.Fatalf("clear: %+v", c)
		}
		wantErr(t, "unknown conversation", e.owner.Do("PATCH", "/api/v1/conversations/00000000-0000-7000-8000-000000000000",
			map[string]any{"status": "open"}), http.StatusNotFound, "not_found")
	}},

	{name: "conversation list filters", run: func(t *testing.T, e *env) {
		agentID, agent := e.addMember("agent", "agent@acme.test")
		ibA, _ := e.apiInbox("A")
		ibB, _ := e.apiInbox("B")
		c1 := e.inbound(ibA, "1", map[string]any{"email": "c1@example.com"}, "bir")
		c2 := e.inbound(ibA, "2", map[string]any{"email": "c2@example.com"}, "iki")
		c3 := e.inbound(ibB, "3", map[string]any{"email": "c3@example.com"}, "üç")
		c4 := e.inbound(ibA, "4", map[string]any{"email": "c4@example.com"}, "dört")
		e.patchConv(e.owner, c1.ConversationID, map[string]any{"status": "resolved"})
		e.patchConv(e.owner, c2.ConversationID, map[string]any{"labels": []string{"vip"}})
		e.patchConv(e.owner, c3.ConversationID, map[string]any{"assignee_id": e.ws.OwnerID, "status": "pending"})
		e.patchConv(e.owner, c4.ConversationID, map[string]any{"labels": []string{"vip", "iade"}, "assignee_id": agentID})
		all := []string{c1.ConversationID, c2.ConversationID, c3.ConversationID, c4.ConversationID}
		for _, f := range []struct {
			c     *testutil.Client
			query string
			want  []string
		}{
			{e.owner, "", all},
			{e.owner, "status=resolved", []string{c1.ConversationID}},
			{e.owner, "status=open", []string{c2.ConversationID, c4.ConversationID}},
			{e.owner, "status=pending", []string{c3.ConversationID}},
			{e.owner, "assignee=me", []string{c3.ConversationID}},
			{agent, "assignee=me", []string{c4.ConversationID}},
			{e.owner, "assignee=" + agentID, []string{c4.ConversationID}},
			{e.owner, "assignee=none", []string{c1.ConversationID, c2.ConversationID}},
			{e.owner, "label=vip", []string{c2.ConversationID, c4.ConversationID}},
			{e.owner, "label=iade", []string{c4.ConversationID}},
			{e.owner, "label=none-such", nil},
			{e.owner, "inbox=" + ibB, []string{c3.ConversationID}},
			{e.owner, "inbox=" + ibA, []string{c1.ConversationID, c2.ConversationID, c4.ConversationID}},
			{e.owner, "channel=api", all},
			{e.owner, "channel=whatsapp", nil},
			{e.owner, "customer=" + c2.CustomerID, []string{c2.ConversationID}},
			{e.owner, "status=open&label=vip&assignee=none", []string{c2.ConversationID}},
		} {
			if got := e.conversationIDs(f.c, f.query); !sameSet(got, f.want) {
				t.Errorf("?%s: got %v, want %v", f.query, got, f.want)
			}
		}
		f := wantErr(t, "bad status filter", e.owner.Do("GET", "/api/v1/conversations?status=closed", nil), http.StatusBadRequest, "invalid_input")
		if _, ok := f["status"]; !ok {
			t.Fatalf("fields: %v", f)
		}
	}},

	{name: "cursor pagination of conversations, customers and messages", run: func(t *testing.T, e *env) {
		ib, _ := e.apiInbox("App")
		var convs, custs []string
		for i := range 7 {
			r := e.inbound(ib, fmt.Sprintf("m-%d", i), map[string]any{"email": fmt.Sprintf("c%d@example.com", i)}, "0")
			convs, custs = append(convs, r.ConversationID), append(custs, r.CustomerID)
		}
		one := convs[0] // its thread grows to 7 messages
		for i := 1; i < 7; i++ {
			e.inbound(ib, fmt.Sprintf("thread-%d", i), map[string]any{"email": "c0@example.com"}, strconv.Itoa(i))
		}
		for _, c := range []struct {
			base string
			want []string
		}{
			{"/api/v1/conversations?", convs},
			{"/api/v1/conversations?inbox=" + ib + "&status=open&", convs},
			{"/api/v1/customers?", custs},
			{"/api/v1/conversations/" + one + "/messages?", nil},
		} {
			var ids []string
			var sizes []int
			cursor := ""
			for page := 0; ; page++ {
				if page == 10 {
					t.Fatalf("%s: more than 10 pages", c.base)
				}
				path := c.base + "limit=3"
				if cursor != "" {
					path += "&cursor=" + url.QueryEscape(cursor)
				}
				p := decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", path, nil))
				sizes = append(sizes, len(p.Items))
				for _, it := range p.Items {
					ids = append(ids, str(it, "id"))
				}
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			if !slices.Equal(sizes, []int{3, 3, 1}) {
				t.Errorf("%s: page sizes %v, want 3+3+1", c.base, sizes)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Errorf("%s: %s on two pages", c.base, id)
				}
				seen[id] = true
			}
			if c.want != nil && !sameSet(ids, c.want) {
				t.Errorf("%s: got %v, want %v", c.base, ids, c.want)
			}
		}
		// Messages come oldest first: the thread's texts are 0..6 in order.
		ms := e.messages(one)
		for i, m := range ms {
			if m.Text != strconv.Itoa(i) {
				t.Fatalf("message order: %+v", ms)
			}
		}
		// Conversations come newest activity first.
		p := decodePage[convJSON](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/conversations", nil))
		for i := 1; i < len(p.Items); i++ {
			if p.Items[i-1].LastActivityAt < p.Items[i].LastActivityAt {
				t.Fatalf("conversations not newest first: %+v", p.Items)
			}
		}
	}},

	{name: "replies are queued and notes are internal", run: func(t *testing.T, e *env) {
		ib, _ := e.apiInbox("App")
		in := e.inbound(ib, "m-1", map[string]any{"email": "a@example.com"}, "Merhaba")
		reply := e.reply(in.ConversationID, "Size nasıl yardımcı olabilirim?")
		if reply.Status != "queued" || reply.Kind != "message" || reply.Direction != "out" || reply.AuthorKind != "agent" ||
			reply.AuthorID == nil || *reply.AuthorID != e.ws.OwnerID || reply.ConversationID != in.ConversationID || reply.InboxID != ib {
			t.Fatalf("reply: %+v", reply)
		}
		var note msgJSON
		call(t, e.owner, http.StatusCreated, "POST", "/api/v1/conversations/"+in.ConversationID+"/notes", map[string]any{"text": "VIP müşteri"}).Decode(t, &note)
		if note.Kind != "note" || note.Direction != "internal" || note.Text != "VIP müşteri" {
			t.Fatalf("note: %+v", note)
		}
		ms := e.messages(in.ConversationID)
		if len(ms) != 3 || ms[0].ID != in.MessageID || ms[1].ID != reply.ID || ms[2].ID != note.ID {
			t.Fatalf("messages: %+v", ms)
		}
		if c := e.conversation(in.ConversationID); c.FirstResponse == nil {
			t.Fatalf("first response not recorded: %+v", c)
		}
		cpath := "/api/v1/conversations/" + in.ConversationID
		for _, bad := range []struct {
			path  string
			body  map[string]any
			field string
		}{
			{cpath + "/messages", map[string]any{"text": "  "}, "text"},
			{cpath + "/messages", map[string]any{"text": "hi", "channel": "pigeon"}, "channel"},
			{cpath + "/notes", map[string]any{"text": ""}, "text"},
		} {
			f := wantErr(t, fmt.Sprint(bad.path, bad.body), e.owner.Do("POST", bad.path, bad.body), http.StatusBadRequest, "invalid_input")
			if _, ok := f[bad.field]; !ok {
				t.Fatalf("%v: fields %v", bad.body, f)
			}
		}
		wantErr(t, "reply to unknown", e.owner.Do("POST", "/api/v1/conversations/00000000-0000-7000-8000-000000000000/messages",
			map[string]any{"text": "hi"}), http.StatusNotFound, "not_found")
		if n := len(e.messages(in.ConversationID)); n != 3 {
			t.Fatalf("refused replies were stored: %d messages", n)
		}
		call(t, e.owner, http.StatusNoContent, "DELETE", "/api/v1/inboxes/"+ib, nil)
		wantErr(t, "reply after the inbox is gone", e.owner.Do("POST", cpath+"/messages", map[string]any{"text": "hi"}), http.StatusConflict, "inbox_gone")
	}},

	{name: "event log: gap-free seq from 1, resumable with after", run: func(t *testing.T, e *env) {
		ib, _ := e.apiInbox("App")
		in := e.inbound(ib, "m-1", map[string]any{"email": "a@example.com"}, "bir")
		e.inbound(ib, "m-2", map[string]any{"email": "b@example.com"}, "iki")
		call(t, e.owner, http.StatusCreated, "POST", "/api/v1/teams", map[string]any{"name": "Destek"})
		e.patchConv(e.owner, in.ConversationID, map[string]any{"status": "pending"})
		call(t, e.owner, http.StatusCreated, "POST", "/api/v1/conversations/"+in.ConversationID+"/notes", map[string]any{"text": "not"})

		evs := allEvents(t, e.owner)
		for i, ev := range evs {
			if ev.Seq != int64(i+1) {
				t.Fatalf("event %d has seq %d: %+v", i, ev.Seq, evs)
			}
		}
		n := int64(len(evs))
		if n < 10 || evs[0].Type != "workspace.created" || evs[n-1].Type != "note.created" {
			t.Fatalf("events: %+v", evs)
		}
		p := decodePage[eventJSON](t, call(t, e.owner, http.StatusOK, "GET", fmt.Sprintf("/api/v1/events?after=%d", n-2), nil))
		if len(p.Items) != 2 || p.Items[0].Seq != n-1 || p.Items[1].Seq != n || p.LastSeq != n {
			t.Fatalf("after=%d: %+v", n-2, p)
		}
		p = decodePage[eventJSON](t, call(t, e.owner, http.StatusOK, "GET", fmt.Sprintf("/api/v1/events?after=%d", n), nil))
		if len(p.Items) != 0 || p.LastSeq != n {
			t.Fatalf("after=last: %+v", p)
		}
		var paged []int64
		after := int64(0)
		for range 100 {
			p := decodePage[eventJSON](t, call(t, e.owner, http.StatusOK, "GET", fmt.Sprintf("/api/v1/events?after=%d&limit=3", after), nil))
			if len(p.Items) == 0 {
				break
			}
			for _, ev := range p.Items {
				paged = append(paged, ev.Seq)
			}
			after = p.LastSeq
		}
		if int64(len(paged)) != n || paged[n-1] != n {
			t.Fatalf("paging with limit=3: %v", paged)
		}
		call(t, e.owner, http.StatusCreated, "POST", "/api/v1/teams", map[string]any{"name": "Satış"})
		p = decodePage[eventJSON](t, call(t, e.owner, http.StatusOK, "GET", fmt.Sprintf("/api/v1/events?after=%d", n), nil))
		if len(p.Items) != 1 || p.Items[0].Seq != n+1 || p.Items[0].Type != "team.created" {
			t.Fatalf("resume: %+v", p)
		}
	}},

	{name: "customer timeline newest first with next_before", run: func(t *testing.T, e *env) {
		ib, _ := e.apiInbox("App")
		in := e.inbound(ib, "m-1", map[string]any{"email": "zey@example.com", "name": "Zeynep"}, "bir")
		e.inbound(ib, "m-2", map[string]any{"email": "zey@example.com", "phone": "05321112233"}, "iki")
		other := e.inbound(ib, "o-1", map[string]any{"email": "other@example.com"}, "başka")
		call(t, e.owner, http.StatusOK, "PATCH", "/api/v1/customers/"+in.CustomerID, map[string]any{"name": "Zeynep Ak"})
		call(t, e.owner, http.StatusCreated, "POST", "/api/v1/customers/"+in.CustomerID+"/identities", map[string]any{"kind": "external_id", "value": "crm-7"})
		e.patchConv(e.owner, in.ConversationID, map[string]any{"priority": "high"})
		call(t, e.owner, http.StatusCreated, "POST", "/api/v1/conversations/"+in.ConversationID+"/notes", map[string]any{"text": "not"})

		var want []int64
		for _, ev := range allEvents(t, e.owner) {
			if ev.CustomerID == in.CustomerID {
				want = append(want, ev.Seq)
			}
		}
		slices.Reverse(want)
		if len(want) < 8 {
			t.Fatalf("customer events: %v", want)
		}
		var got []int64
		before := ""
		for range 20 {
			path := "/api/v1/customers/" + in.CustomerID + "/timeline?limit=3" + before
			p := decodePage[eventJSON](t, call(t, e.owner, http.StatusOK, "GET", path, nil))
			for _, ev := range p.Items {
				if ev.CustomerID != in.CustomerID {
					t.Fatalf("timeline holds another customer's event: %+v", ev)
				}
				got = append(got, ev.Seq)
			}
			if p.NextBefore == nil {
				break
			}
			if len(p.Items) != 3 || *p.NextBefore != p.Items[2].Seq {
				t.Fatalf("page: %+v", p)
			}
			before = fmt.Sprintf("&before=%d", *p.NextBefore)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("timeline seqs %v, want %v", got, want)
		}
		p := decodePage[eventJSON](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+other.CustomerID+"/timeline", nil))
		if len(p.Items) == 0 || p.NextBefore != nil {
			t.Fatalf("other customer's timeline: %+v", p)
		}
		wantErr(t, "timeline of unknown customer", e.owner.Do("GET", "/api/v1/customers/00000000-0000-7000-8000-000000000000/timeline", nil),
			http.StatusNotFound, "not_found")
	}},

	{name: "delivery: a reply reaches sent through the signed callback", run: func(t *testing.T, e *env) {
		fx := e.deliveryFixture(func() (int, string) { return http.StatusOK, `{"id":"ext-1"}` })
		reply := e.reply(fx.conv.ConversationID, "Kargonuz yolda.")
		if reply.Status != "queued" {
			t.Fatalf("reply: %+v", reply)
		}
		m := e.waitStatus(fx.conv.ConversationID, reply.ID, "sent")
		if m.ProviderID == nil || *m.ProviderID != "ext-1" || m.StatusReason != "" {
			t.Fatalf("sent message: %+v", m)
		}
		calls, bad := fx.cb.snapshot()
		if bad != 0 || len(calls) != 1 {
			t.Fatalf("callback calls %d, bad signatures %d", len(calls), bad)
		}
		cb := calls[0]
		if cb.Event != "message.created" || cb.InboxID != fx.inboxID || cb.ConversationID != fx.conv.ConversationID ||
			cb.Message["id"] != reply.ID || cb.Message["text"] != "Kargonuz yolda." ||
			cb.Customer["id"] != fx.conv.CustomerID || cb.Customer["external_id"] != "crm-42" {
			t.Fatalf("callback body: %+v", cb)
		}
		if len(e.deadJobs()) != 0 {
			t.Fatal("a delivered reply left a dead job")
		}
	}},

	{name: "delivery: a refused callback fails the message; the dead job can be retried", run: func(t *testing.T, e *env) {
		fx := e.deliveryFixture(func() (int, string) { return http.StatusBadRequest, `{"error":"unknown conversation"}` })
		reply := e.reply(fx.conv.ConversationID, "Merhaba")
		m := e.waitStatus(fx.conv.ConversationID, reply.ID, "failed")
		if m.StatusReason == "" || !strings.Contains(m.StatusReason, "400") {
			t.Fatalf("failed message: %+v", m)
		}
		var job jobJSON
		testutil.Eventually(t, 10*time.Second, func() bool {
			for _, j := range e.deadJobs() {
				var p struct {
					MessageID string `json:"message_id"`
				}
				_ = json.Unmarshal(j.Payload, &p)
				if p.MessageID == reply.ID {
					job = j
					return true
				}
			}
			return false
		}, "the delivery job in the dead letters")
		if job.Kind != "deliver_message" || job.State != "dead" || job.LastError == "" {
			t.Fatalf("dead job: %+v", job)
		}
		if _, bad := fx.cb.snapshot(); bad != 0 {
			t.Fatalf("%d callbacks with a bad signature", bad)
		}
		_, agent := e.addMember("agent", "agent@acme.test")
		wantErr(t, "agent retries", agent.Do("POST", "/api/v1/jobs/"+job.ID+"/retry", nil), http.StatusForbidden, "forbidden")
		wantErr(t, "retry unknown job", e.owner.Do("POST", "/api/v1/jobs/no-such-job/retry", nil), http.StatusNotFound, "not_found")

		fx.cb.setAnswer(func() (int, string) { return http.StatusOK, `{"id":"ext-2"}` })
		call(t, e.owner, http.StatusNoContent, "POST", "/api/v1/jobs/"+job.ID+"/retry", nil)
		testutil.Eventually(t, 10*time.Second, func() bool {
			for _, j := range e.deadJobs() {
				if j.ID == job.ID {
					return false
				}
			}
			return true
		}, "the retried job to leave the dead letters")
	}},

	{name: "delivery: a retried dead job sends the message again",
		run: func(t *testing.T, e *env) {
			fx := e.deliveryFixture(func() (int, string) { return http.StatusBadRequest, `{"error":"not yet"}` })
			reply := e.reply(fx.conv.ConversationID, "Merhaba")
			e.waitStatus(fx.conv.ConversationID, reply.ID, "failed")
			var jobID string
			testutil.Eventually(t, 10*time.Second, func() bool {
				if js := e.deadJobs(); len(js) == 1 {
					jobID = js[0].ID
					return true
				}
				return false
			}, "the dead job")
			fx.cb.setAnswer(func() (int, string) { return http.StatusOK, `{"id":"ext-2"}` })
			call(t, e.owner, http.StatusNoContent, "POST", "/api/v1/jobs/"+jobID+"/retry", nil)
			m := e.waitStatus(fx.conv.ConversationID, reply.ID, "sent")
			if m.ProviderID == nil || *m.ProviderID != "ext-2" {
				t.Fatalf("resent message: %+v", m)
			}
			if calls, _ := fx.cb.snapshot(); len(calls) != 2 {
				t.Fatalf("callback calls: %d, want 2", len(calls))
			}
		}},

	{name: "an inbound id equal to a reply's provider id is not a duplicate",
		run: func(t *testing.T, e *env) {
			fx := e.deliveryFixture(func() (int, string) { return http.StatusOK, `{"id":"ext-1"}` })
			reply := e.reply(fx.conv.ConversationID, "Merhaba")
			e.waitStatus(fx.conv.ConversationID, reply.ID, "sent")
			var res ingestJSON
			call(t, e.owner, http.StatusAccepted, "POST", "/api/v1/inboxes/"+fx.inboxID+"/inbound",
				map[string]any{"external_message_id": "ext-1", "text": "Teşekkürler", "customer": map[string]any{"email": "elif@example.com"}}).Decode(t, &res)
			if res.Duplicate || res.MessageID == reply.ID {
				t.Fatalf("customer message taken for a duplicate of the reply: %+v", res)
			}
			if n := len(e.messages(fx.conv.ConversationID)); n != 3 {
				t.Fatalf("messages: %d, want 3", n)
			}
		}},
}

package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kanal-dev/kanal/internal/app"
	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/webchat"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/httpapi"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/metrics"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

// The web chat widget's endpoints (internal/httpapi/widget.go), on both
// stores: a Kanal with the widget mounted behind its own HTTP server.

const hostSite = "https://shop.example.com"

var widgetAssetRef = regexp.MustCompile(`(?:src|href)="(/[^"]+)"`)

type wcEnv struct {
	*testutil.App
	t      *testing.T
	svc    *webchat.Service
	ws     testutil.Workspace
	agent  *testutil.Client
	in     inbox.Inbox
	key    string
	secret string
	wsTo   string
}

func wcAdapters() []channel.Adapter {
	as := app.Adapters("")
	for _, a := range as {
		if a.Type().Name == webchat.TypeName {
			return as
		}
	}
	return append(as, webchat.NewAdapter())
}

func eachWidgetDialect(t *testing.T, o webchat.Options, cfg map[string]any, fn func(t *testing.T, e *wcEnv)) {
	t.Helper()
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) { fn(t, newWidgetEnv(t, d, o, cfg)) })
	}
}

func newWidgetEnv(t *testing.T, d store.Dialect, o webchat.Options, cfg map[string]any) *wcEnv {
	t.Helper()
	a := testutil.New(t, d, testutil.Options{Adapters: wcAdapters()})
	var n int
	if err := a.DB.Reader().QueryRow(context.Background(), "SELECT COUNT(*) FROM webchat_visitors").Scan(&n); err != nil {
		t.Skipf("the webchat_visitors table is missing (migration 0007_webchat.sql not applied yet): %v", err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	s := a.Services
	svc := webchat.New(webchat.Deps{DB: s.DB, Log: s.Log, Bus: s.Bus, Workspaces: s.Workspaces, Inboxes: s.Inboxes,
		Customers: s.Customers, Conversations: s.Conversations, Media: s.Media, Realtime: a.Realtime, PublicURL: srv.URL}, o)
	api := httpapi.New(httpapi.Deps{
		DB: s.DB, Log: s.Log, Workspaces: s.Workspaces, Auth: s.Auth, Teams: s.Teams, Inboxes: s.Inboxes,
		Customers: s.Customers, Conversations: s.Conversations, Jobs: s.Jobs, Webhooks: s.Webhooks, Media: s.Media,
		Channels: s.Channels, Canned: s.Canned, Metrics: metrics.New(), Realtime: a.Realtime,
		PublicURL: srv.URL, MaxBody: 1 << 20, Version: "test",
	})
	api.MountWidget(svc)
	handler = api
	a.URL = srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { _ = svc.Run(ctx); close(runDone) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), wait)
		defer scancel()
		if err := svc.Shutdown(sctx); err != nil {
			t.Errorf("widget shutdown: %v", err)
		}
		cancel()
		<-runDone
		srv.Close()
	})
	w := a.Setup("Işık Mağazaları", "owner@example.com")
	if cfg == nil {
		cfg = map[string]any{}
	}
	if _, ok := cfg["allowed_origins"]; !ok {
		cfg["allowed_origins"] = []any{hostSite}
	}
	in, err := a.Inboxes.Create(context.Background(), event.System, w.ID, webchat.TypeName, "Web sitesi", cfg)
	if err != nil {
		t.Fatalf("create webchat inbox: %v", err)
	}
	return &wcEnv{App: a, t: t, svc: svc, ws: w, agent: a.Client(w.Token), in: in, key: in.PublicKey,
		secret: in.Secrets[webchat.SecretIdentity], wsTo: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// visitor is a widget session as a browser holds it.
type visitor struct {
	e     *wcEnv
	token string
	id    string
	key   string
}

func (e *wcEnv) req(method, path string, body any, hdr ...string) testutil.Response {
	e.t.Helper()
	return e.Client("").Do(method, path, body, hdr...)
}

func (e *wcEnv) session(token string, claim map[string]any) (testutil.Response, *visitor) {
	e.t.Helper()
	body := map[string]any{}
	if claim != nil {
		body["identity"] = claim
	}
	var hdr []string
	if token != "" {
		hdr = []string{"Authorization", "Bearer " + token}
	}
	r := e.req("POST", "/widget/"+e.key+"/session", body, hdr...)
	if r.Status != http.StatusOK {
		return r, nil
	}
	var out struct {
		Token   string `json:"token"`
		Visitor struct {
			ID string `json:"id"`
		} `json:"visitor"`
	}
	r.Decode(e.t, &out)
	return r, &visitor{e: e, token: out.Token, id: out.Visitor.ID, key: e.key}
}

func (e *wcEnv) anon() *visitor {
	e.t.Helper()
	r, v := e.session("", nil)
	if v == nil {
		e.t.Fatalf("session: %d %s", r.Status, r.Body)
	}
	return v
}

func (e *wcEnv) claim(user string) map[string]any {
	return map[string]any{"user_id": user, "email": user + "@example.com", "name": "Müşteri " + user, "hmac": webchat.IdentityHash(e.secret, user)}
}

func (v *visitor) do(method, path string, body any, hdr ...string) testutil.Response {
	v.e.t.Helper()
	return v.e.req(method, "/widget/"+v.key+path, body, append([]string{"Authorization", "Bearer " + v.token}, hdr...)...)
}

type wcMsg struct {
	ID          string `json:"id"`
	ClientID    string `json:"client_id"`
	Author      string `json:"author"`
	Text        string `json:"text"`
	Status      string `json:"status"`
	CreatedAt   int64  `json:"created_at"`
	Attachments []struct {
		URL         string `json:"url"`
		FileName    string `json:"file_name"`
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
	} `json:"attachments"`
}

func (v *visitor) send(text, clientID string) (testutil.Response, wcMsg) {
	v.e.t.Helper()
	r := v.do("POST", "/messages", map[string]any{"text": text, "client_id": clientID})
	var out struct {
		Message wcMsg `json:"message"`
	}
	if r.Status < 300 {
		r.Decode(v.e.t, &out)
	}
	return r, out.Message
}

func (v *visitor) mustSend(text string) wcMsg {
	v.e.t.Helper()
	r, m := v.send(text, fmt.Sprintf("c-%d", time.Now().UnixNano()))
	if r.Status != http.StatusCreated {
		v.e.t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	return m
}

func (v *visitor) history() []wcMsg {
	v.e.t.Helper()
	r := v.do("GET", "/messages", nil)
	if r.Status != http.StatusOK {
		v.e.t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	var out struct {
		Items []wcMsg `json:"items"`
	}
	r.Decode(v.e.t, &out)
	return out.Items
}

func texts(ms []wcMsg) string {
	var b []string
	for _, m := range ms {
		b = append(b, m.Author+":"+m.Text)
	}
	return strings.Join(b, " | ")
}

// conversationOf finds the visitor's conversation through the agents' API.
func (e *wcEnv) conversationOf(messageText string) (convID, customerID string) {
	e.t.Helper()
	var out struct {
		Items []struct {
			ID         string `json:"id"`
			CustomerID string `json:"customer_id"`
		} `json:"items"`
	}
	e.agent.Must(200, "GET", "/api/v1/conversations?inbox="+e.in.ID, nil).Decode(e.t, &out)
	for _, c := range out.Items {
		var ms struct {
			Items []struct {
				Text string `json:"text"`
			} `json:"items"`
		}
		e.agent.Must(200, "GET", "/api/v1/conversations/"+c.ID+"/messages", nil).Decode(e.t, &ms)
		for _, m := range ms.Items {
			if m.Text == messageText {
				return c.ID, c.CustomerID
			}
		}
	}
	e.t.Fatalf("no conversation holds %q", messageText)
	return "", ""
}

func TestWidgetConfigOriginsAndPages(t *testing.T) {
	eachWidgetDialect(t, webchat.Options{}, map[string]any{
		"greeting": map[string]any{"tr": "Merhaba! Nasıl yardımcı olabiliriz?", "en": "Hi!"}, "color": "#aa3300", "pre_chat": "name_email",
	}, func(t *testing.T, e *wcEnv) {
		r := e.req("GET", "/widget/"+e.key+"/config", nil)
		if r.Status != 200 {
			t.Fatalf("config: %d %s", r.Status, r.Body)
		}
		c := r.JSON()
		if c["name"] != "Web sitesi" || c["color"] != "#aa3300" || c["pre_chat"] != "name_email" || c["online"] != false ||
			c["max_file_mb"] != float64(10) || c["greeting"].(map[string]any)["tr"] != "Merhaba! Nasıl yardımcı olabiliriz?" {
			t.Errorf("config %s", r.Body)
		}
		for _, secretish := range []string{e.secret, "allowed_origins", e.in.ID, e.ws.ID} {
			if strings.Contains(string(r.Body), secretish) {
				t.Errorf("config leaks %q", secretish)
			}
		}

		// Unknown keys and keys of other inbox types are 404.
		apiIn, err := e.Inboxes.Create(context.Background(), event.System, e.ws.ID, "api", "App", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"nope", apiIn.PublicKey, strings.Repeat("a", 100)} {
			if r := e.req("GET", "/widget/"+k+"/config", nil); r.Status != 404 || r.ErrorCode() != "no_widget" {
				t.Errorf("key %q: %d %s", k, r.Status, r.Body)
			}
		}

		// CORS: the allowed site gets CORS headers; another site is refused;
		// Kanal's own page (the iframe) needs none.
		r = e.req("GET", "/widget/"+e.key+"/config", nil, "Origin", hostSite)
		if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != hostSite || !strings.Contains(r.Header.Get("Vary"), "Origin") {
			t.Errorf("allowed origin: %d %v", r.Status, r.Header)
		}
		r = e.req("GET", "/widget/"+e.key+"/config", nil, "Origin", "https://evil.example.net")
		if r.Status != 403 || r.ErrorCode() != "origin_not_allowed" || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("forbidden origin: %d %s %v", r.Status, r.Body, r.Header)
		}
		if r := e.req("POST", "/widget/"+e.key+"/session", map[string]any{}, "Origin", "https://evil.example.net"); r.Status != 403 {
			t.Errorf("session from a forbidden origin: %d", r.Status)
		}
		r = e.req("GET", "/widget/"+e.key+"/config", nil, "Origin", e.URL)
		if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("own origin: %d %v", r.Status, r.Header)
		}
		r = e.req("OPTIONS", "/widget/"+e.key+"/messages", nil, "Origin", hostSite, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization,content-type")
		if r.Status != 204 || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("preflight: %d %v", r.Status, r.Header)
		}
		if r := e.req("OPTIONS", "/widget/"+e.key+"/messages", nil, "Origin", "https://evil.example.net"); r.Status != 403 {
			t.Errorf("forbidden preflight: %d", r.Status)
		}

		// The iframe page: only the allowed site may frame it; Kanal's scripts only.
		r = e.req("GET", "/widget/"+e.key+"/frame", nil)
		csp := r.Header.Get("Content-Security-Policy")
		if r.Status != 200 || !strings.Contains(csp, "frame-ancestors 'self' "+hostSite) || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") || r.Header.Get("X-Frame-Options") != "" || !strings.Contains(string(r.Body), `id="app"`) {
			t.Errorf("frame: %d %q %s", r.Status, csp, r.Body)
		}
		for _, m := range widgetAssetRef.FindAllStringSubmatch(string(r.Body), -1) {
			if a := e.req("GET", m[1], nil); a.Status != 200 || !strings.Contains(a.Header.Get("Cache-Control"), "immutable") {
				t.Errorf("asset %s: %d %v", m[1], a.Status, a.Header)
			}
		}
		// The loader: JavaScript any site may load.
		r = e.req("GET", "/widget.js", nil)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") ||
			r.Header.Get("Cross-Origin-Resource-Policy") != "cross-origin" || !bytes.Contains(r.Body, []byte("data-inbox")) {
			t.Errorf("loader: %d %v", r.Status, r.Header)
		}

		// Admins get the embed tag and the identity secret.
		r = e.agent.Must(200, "GET", "/api/v1/inboxes/"+e.in.ID+"/widget", nil)
		emb := r.JSON()
		if emb["public_key"] != e.key || emb["identity_secret"] != e.secret ||
			emb["embed"] != `<script src="`+e.URL+`/widget.js" data-inbox="`+e.key+`" async></script>` {
			t.Errorf("embed: %s", r.Body)
		}
		if r := e.agent.Do("GET", "/api/v1/inboxes/"+apiIn.ID+"/widget", nil); r.Status != 409 {
			t.Errorf("embed of an api inbox: %d", r.Status)
		}
	})
}

func TestWidgetOnlineFollowsAgentsAndHours(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			// Open Mondays 09:00-18:00 in Istanbul; the clock says Monday 10:00 or 20:00.
			now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("TRT", 3*3600))
			var mu sync.Mutex
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			e := newWidgetEnv(t, d, webchat.Options{Now: clock}, map[string]any{"business_hours": map[string]any{
				"timezone": "Europe/Istanbul", "days": map[string]any{"mon": []any{map[string]any{"open": "09:00", "close": "18:00"}}}}})
			online := func() map[string]any { return e.req("GET", "/widget/"+e.key+"/config", nil).JSON() }
			if c := online(); c["online"] != false || c["agents_available"] != false || c["in_business_hours"] != true {
				t.Errorf("nobody connected: %v", c)
			}
			v := e.anon()
			vs := v.dial(t, "")
			vs.next(t, "hello")
			agent := e.agentSocket(t)
			f := vs.next(t, "availability")
			if f["online"] != true {
				t.Errorf("availability frame %v", f)
			}
			if c := online(); c["online"] != true || c["agents_available"] != true {
				t.Errorf("agent connected: %v", c)
			}
			mu.Lock()
			now = now.Add(10 * time.Hour)
			mu.Unlock()
			if c := online(); c["online"] != false || c["in_business_hours"] != false || c["agents_available"] != true {
				t.Errorf("after hours: %v", c)
			}
			_ = agent.CloseNow()
		})
	}
}

func TestWidgetSessionsAndIdentity(t *testing.T) {
	eachWidgetDialect(t, webchat.Options{}, nil, func(t *testing.T, e *wcEnv) {
		r, v := e.session("", nil)
		if r.Status != 200 || !strings.HasPrefix(v.token, "kv_") || r.JSON()["identified"] != false {
			t.Fatalf("anonymous: %d %s", r.Status, r.Body)
		}
		// The token is stored hashed, like API tokens.
		var stored string
		rd := e.DB.Reader()
		if err := rd.QueryRow(context.Background(), "SELECT token_hash FROM webchat_visitors WHERE id = $1", v.id).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(v.token))
		if stored != hex.EncodeToString(sum[:]) || strings.Contains(stored, v.token) {
			t.Errorf("stored %q", stored)
		}
		// Resume keeps the visitor; an unknown token starts a new one.
		r, again := e.session(v.token, nil)
		if again.id != v.id || again.token != v.token || r.JSON()["resumed"] != true {
			t.Errorf("resume: %s", r.Body)
		}
		_, other := e.session("kv_"+strings.Repeat("A", 43), nil)
		if other.id == v.id || other.token == v.token {
			t.Error("an unknown token resumed a visitor")
		}
		// No or a bad token on visitor routes: 401.
		for _, tok := range []string{"", "garbage", "kv_" + strings.Repeat("B", 43)} {
			bad := &visitor{e: e, token: tok, key: e.key}
			if r := bad.do("GET", "/messages", nil); r.Status != 401 || r.ErrorCode() != "visitor_token_invalid" {
				t.Errorf("token %q: %d %s", tok, r.Status, r.Body)
			}
		}

		// A valid claim: the visitor is the site's user, on every device.
		r, dev1 := e.session("", e.claim("u-1001"))
		if r.JSON()["identified"] != true {
			t.Fatalf("valid hmac refused: %s", r.Body)
		}
		dev1.mustSend("Merhaba, siparişim nerede?")
		_, dev2 := e.session("", e.claim("u-1001"))
		if dev2.id == dev1.id {
			t.Error("a second device got the first one's visitor")
		}
		if h := texts(dev2.history()); h != "visitor:Merhaba, siparişim nerede?" {
			t.Errorf("second device history %q", h)
		}
		dev2.mustSend("İkinci cihazdan yazıyorum")
		if h := texts(dev1.history()); !strings.Contains(h, "İkinci cihazdan") {
			t.Errorf("first device history %q", h)
		}
		conv, cust := e.conversationOf("Merhaba, siparişim nerede?")
		if c2, _ := e.conversationOf("İkinci cihazdan yazıyorum"); c2 != conv {
			t.Error("the two devices wrote into two conversations")
		}
		var c struct {
			Name       string `json:"name"`
			Email      string `json:"email"`
			Identities []struct{ Kind, Value string }
		}
		e.agent.Must(200, "GET", "/api/v1/customers/"+cust, nil).Decode(t, &c)
		kinds := map[string]string{}
		for _, id := range c.Identities {
			kinds[id.Kind] = id.Value
		}
		if kinds["external_id"] != "u-1001" || kinds["email"] != "u-1001@example.com" || kinds["web_visitor"] == "" || c.Name != "Müşteri u-1001" {
			t.Errorf("identified customer %+v", c)
		}

		// Forged, absent or another inbox's hmac: an anonymous visitor,
		// who never sees the user's conversation.
		forged := e.claim("u-1001")
		forged["hmac"] = webchat.IdentityHash("another-inbox-secret-xyz", "u-1001")
		noHmac := e.claim("u-1001")
		delete(noHmac, "hmac")
		upper := e.claim("u-1001")
		upper["user_id"] = "u-1002" // signed for u-1001
		for i, cl := range []map[string]any{forged, noHmac, upper} {
			r, fv := e.session("", cl)
			if r.JSON()["identified"] != false {
				t.Errorf("claim %d accepted: %s", i, r.Body)
			}
			if h := fv.history(); len(h) != 0 {
				t.Errorf("claim %d sees %q", i, texts(h))
			}
		}
		// The identified token without its claim (signed out) or with
		// another user's: a new visitor.
		r, out := e.session(dev1.token, nil)
		if out.id == dev1.id || r.JSON()["identified"] != false || len(out.history()) != 0 {
			t.Errorf("signed out resumed the user: %s", r.Body)
		}
		_, other2 := e.session(dev1.token, e.claim("u-2002"))
		if other2.id == dev1.id || len(other2.history()) != 0 {
			t.Error("another user resumed the first one's visitor")
		}

		// A device that opened before the user's first message (written on
		// another device) finds it.
		_, early := e.session("", e.claim("u-5005"))
		_, late := e.session("", e.claim("u-5005"))
		late.mustSend("Tabletten ilk mesaj")
		if h := texts(early.history()); h != "visitor:Tabletten ilk mesaj" {
			t.Errorf("the earlier device %q", h)
		}

		// An anonymous visitor who writes and then signs in keeps the
		// conversation: the customer takes the user's identity.
		a := e.anon()
		a.mustSend("Önce anonim yazdım")
		r, signed := e.session(a.token, e.claim("u-3003"))
		if signed.id != a.id || signed.token != a.token || r.JSON()["identified"] != true {
			t.Errorf("sign-in: %s", r.Body)
		}
		if h := texts(signed.history()); h != "visitor:Önce anonim yazdım" {
			t.Errorf("after sign-in %q", h)
		}
		_, other3 := e.session("", e.claim("u-3003"))
		if h := texts(other3.history()); h != "visitor:Önce anonim yazdım" {
			t.Errorf("the user's other device %q", h)
		}
	})
}

func TestWidgetMessagesAndIsolation(t *testing.T) {
	eachWidgetDialect(t, webchat.Options{}, nil, func(t *testing.T, e *wcEnv) {
		a, b := e.anon(), e.anon()
		r, m := a.send("Merhaba, siparişim nerede?", "same-client-id")
		if r.Status != 201 || m.Author != "visitor" || m.ClientID != "same-client-id" || m.ID == "" || r.JSON()["duplicate"] != false {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		// A retry with the same client id stores nothing and answers the first.
		r, again := a.send("Merhaba, siparişim nerede?", "same-client-id")
		if r.Status != 200 || again.ID != m.ID || r.JSON()["duplicate"] != true {
			t.Errorf("retry: %d %s", r.Status, r.Body)
		}
		// Another visitor's same client id is another message.
		r, bm := b.send("Ben başka biriyim", "same-client-id")
		if r.Status != 201 || bm.ID == m.ID {
			t.Errorf("b: %d %s", r.Status, r.Body)
		}
		conv, cust := e.conversationOf("Merhaba, siparişim nerede?")
		var agentMsgs struct {
			Items []struct{ Text, Channel, Direction string }
		}
		e.agent.Must(200, "GET", "/api/v1/conversations/"+conv+"/messages", nil).Decode(t, &agentMsgs)
		if len(agentMsgs.Items) != 1 || agentMsgs.Items[0].Channel != "webchat" || agentMsgs.Items[0].Direction != "in" {
			t.Errorf("agent view %+v", agentMsgs)
		}
		var cu struct {
			Identities []struct{ Kind, Value string }
		}
		e.agent.Must(200, "GET", "/api/v1/customers/"+cust, nil).Decode(t, &cu)
		if len(cu.Identities) != 1 || cu.Identities[0].Kind != "web_visitor" || cu.Identities[0].Value != a.id {
			t.Errorf("anonymous customer identities %+v", cu.Identities)
		}

		// Agents reply and write a note: the visitor sees the reply only.
		e.agent.Must(201, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": "Kargoya verildi, yarın elinizde."})
		e.agent.Must(201, "POST", "/api/v1/conversations/"+conv+"/notes", map[string]any{"text": "GİZLİ NOT: müşteri VIP"})
		h := a.history()
		if got := texts(h); got != "visitor:Merhaba, siparişim nerede? | agent:Kargoya verildi, yarın elinizde." {
			t.Errorf("history %q", got)
		}
		if bytes.Contains(a.do("GET", "/messages", nil).Body, []byte("GİZLİ")) {
			t.Error("a note reached the visitor")
		}
		// The reply goes out through the webchat adapter: sent.
		testutil.Eventually(t, wait, func() bool {
			h := a.history()
			return len(h) == 2 && h[1].Status == "sent"
		}, "the reply is marked sent")
		// b sees only b's message; b's token is useless on another inbox.
		if got := texts(b.history()); got != "visitor:Ben başka biriyim" {
			t.Errorf("b history %q", got)
		}
		other, err := e.Inboxes.Create(context.Background(), event.System, e.ws.ID, webchat.TypeName, "Başka site", map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		if r := e.req("GET", "/widget/"+other.PublicKey+"/messages", nil, "Authorization", "Bearer "+a.token); r.Status != 401 {
			t.Errorf("a's token on another inbox: %d", r.Status)
		}

		// Paging: newest first pages, oldest first within a page.
		for i := range 3 {
			a.mustSend(fmt.Sprintf("mesaj %d", i))
		}
		p1 := a.do("GET", "/messages?limit=2", nil).JSON()
		items := p1["items"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["text"] != "mesaj 1" || p1["next_before"] == "" {
			t.Errorf("page 1 %v", p1)
		}
		p2 := a.do("GET", "/messages?limit=2&before="+p1["next_before"].(string), nil).JSON()
		if it := p2["items"].([]any); len(it) != 2 || it[1].(map[string]any)["text"] != "mesaj 0" {
			t.Errorf("page 2 %v", p2)
		}

		// Bad input.
		for _, c := range []struct {
			body any
			code string
		}{
			{map[string]any{"text": "", "client_id": "x1"}, "invalid_input"},
			{map[string]any{"text": "hi"}, "invalid_input"},
			{map[string]any{"text": "hi", "client_id": "bad id!"}, "invalid_input"},
			{map[string]any{"text": strings.Repeat("ş", 6000), "client_id": "x2"}, "invalid_input"},
			{map[string]any{"text": "hi", "client_id": "x3", "customer_id": cust}, "unknown_field"},
			{"not json", "malformed_json"},
		} {
			if r := a.do("POST", "/messages", c.body); r.Status != 400 || r.ErrorCode() != c.code {
				t.Errorf("%v: %d %s", c.body, r.Status, r.Body)
			}
		}

		// The contact form stores the e-mail on the customer, not as an identity.
		r = a.do("POST", "/contact", map[string]any{"email": "ayse@example.com", "name": "Ayşe"})
		if r.Status != 200 {
			t.Fatalf("contact: %d %s", r.Status, r.Body)
		}
		var cu2 struct {
			Name, Email string
			Identities  []struct{ Kind string }
		}
		e.agent.Must(200, "GET", "/api/v1/customers/"+cust, nil).Decode(t, &cu2)
		if cu2.Email != "ayse@example.com" || cu2.Name != "Ayşe" || len(cu2.Identities) != 1 {
			t.Errorf("customer after contact %+v", cu2)
		}
		if r := a.do("POST", "/contact", map[string]any{"email": "not-an-email"}); r.Status != 400 {
			t.Errorf("bad e-mail: %d", r.Status)
		}
	})
}

func multipartBody(t *testing.T, clientID, fileName, ctype string, data []byte) (*bytes.Buffer, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("client_id", clientID)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName))
	h.Set("Content-Type", ctype)
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(data)
	_ = mw.Close()
	return &b, mw.FormDataContentType()
}

func (v *visitor) upload(t *testing.T, clientID, fileName, ctype string, data []byte) testutil.Response {
	body, ct := multipartBody(t, clientID, fileName, ctype, data)
	return v.do("POST", "/attachments", body.Bytes(), "Content-Type", ct)
}

var pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"), make([]byte, 64)...)

func TestWidgetAttachments(t *testing.T) {
	eachWidgetDialect(t, webchat.Options{UploadsPerVisitor: webchat.Limit{Every: time.Millisecond, Burst: 100}}, map[string]any{"max_file_mb": 1}, func(t *testing.T, e *wcEnv) {
		a, b := e.anon(), e.anon()
		name := `"><img src=x onerror=alert(1)>.png`
		r := a.upload(t, "up-1", name, "image/png", pngBytes)
		if r.Status != 201 {
			t.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		var out struct{ Message wcMsg }
		r.Decode(t, &out)
		att := out.Message.Attachments
		if len(att) != 1 || !strings.HasPrefix(att[0].URL, "/widget/"+e.key+"/media/") || att[0].ContentType != "image/png" || att[0].Size != int64(len(pngBytes)) {
			t.Fatalf("attachment %+v", att)
		}
		if r := a.upload(t, "up-1", name, "image/png", pngBytes); r.Status != 200 || r.JSON()["duplicate"] != true {
			t.Errorf("retried upload: %d %s", r.Status, r.Body)
		}
		// The visitor fetches it with the token; nobody else does.
		path := strings.TrimPrefix(att[0].URL, "/widget/"+e.key)
		got := a.do("GET", path, nil)
		if got.Status != 200 || !bytes.Equal(got.Body, pngBytes) || got.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("media: %d %v", got.Status, got.Header)
		}
		if r := b.do("GET", path, nil); r.Status != 404 {
			t.Errorf("another visitor got the file: %d", r.Status)
		}
		if r := e.req("GET", att[0].URL, nil); r.Status != 401 {
			t.Errorf("no token: %d", r.Status)
		}
		// Agents see Kanal's copy, shown inline by the workspace.
		conv, _ := func() (string, string) {
			var out struct {
				Items []struct{ ID string } `json:"items"`
			}
			e.agent.Must(200, "GET", "/api/v1/conversations?inbox="+e.in.ID, nil).Decode(t, &out)
			return out.Items[0].ID, ""
		}()
		var ms struct {
			Items []struct {
				Attachments []struct {
					URL      string `json:"url"`
					FileName string `json:"file_name"`
				} `json:"attachments"`
			}
		}
		e.agent.Must(200, "GET", "/api/v1/conversations/"+conv+"/messages", nil).Decode(t, &ms)
		if len(ms.Items) != 1 || !strings.HasPrefix(ms.Items[0].Attachments[0].URL, "/api/v1/media/") || ms.Items[0].Attachments[0].FileName != strings.ReplaceAll(name, `"`, "") {
			t.Errorf("agent attachment %+v", ms.Items)
		}

		// Limits, with messages a visitor can act on.
		big := append(append([]byte{}, pngBytes...), make([]byte, 1<<20)...)
		r = a.upload(t, "up-2", "büyük.png", "image/png", big)
		if r.Status != 413 || r.ErrorCode() != "file_too_large" || !strings.Contains(r.JSON()["error"].(map[string]any)["message"].(string), "1 MB") {
			t.Errorf("too large: %d %s", r.Status, r.Body)
		}
		r = a.upload(t, "up-3", "sayfa.html", "image/png", []byte("<html><script>alert(1)</script></html>"))
		if r.Status != 415 || r.ErrorCode() != "file_type_not_allowed" || !strings.Contains(string(r.Body), "text/html") ||
			!strings.Contains(string(r.Body), "application/pdf") {
			t.Errorf("html: %d %s", r.Status, r.Body)
		}
		r = a.upload(t, "up-4", "x.exe", "application/octet-stream", []byte("MZ\x90\x00\x03\x00\x00\x00"))
		if r.Status != 415 {
			t.Errorf("exe: %d %s", r.Status, r.Body)
		}
		if r := a.do("POST", "/attachments", map[string]any{"file": "x"}); r.Status != 415 {
			t.Errorf("json body: %d", r.Status)
		}
		pdf := []byte("%PDF-1.7\n1 0 obj\n")
		if r := a.upload(t, "up-5", "fatura.pdf", "application/pdf", pdf); r.Status != 201 {
			t.Errorf("pdf: %d %s", r.Status, r.Body)
		}
		if h := a.history(); len(h) != 2 {
			t.Errorf("history after refused uploads: %q", texts(h))
		}
	})
}

func TestWidgetRateLimitLosesNothingAcknowledged(t *testing.T) {
	eachWidgetDialect(t, webchat.Options{MessagesPerVisitor: webchat.Limit{Every: 400 * time.Millisecond, Burst: 3}},
		nil, func(t *testing.T, e *wcEnv) {
			v := e.anon()
			acked := map[string]string{}
			var refused []string
			for i := range 8 {
				cid := fmt.Sprintf("flood-%d", i)
				r, m := v.send(fmt.Sprintf("sel %d", i), cid)
				switch r.Status {
				case 201:
					acked[cid] = m.ID
				case 429:
					if r.ErrorCode() != "rate_limited" || r.Header.Get("Retry-After") == "" ||
						!strings.Contains(string(r.Body), "too fast") || !strings.Contains(string(r.Body), "not sent") {
						t.Errorf("429: %v %s", r.Header, r.Body)
					}
					refused = append(refused, cid)
				default:
					t.Fatalf("flood: %d %s", r.Status, r.Body)
				}
			}
			if len(acked) < 3 || len(refused) == 0 {
				t.Fatalf("acked %d refused %d: no limit?", len(acked), len(refused))
			}
			if n := len(v.history()); n != len(acked) {
				t.Errorf("stored %d, acknowledged %d", n, len(acked))
			}
			// The widget retries what was refused, and repeats what was
			// acknowledged (a lost answer): nothing is stored twice.
			for _, cid := range refused {
				testutil.Eventually(t, wait, func() bool {
					r, m := v.send("sel "+strings.TrimPrefix(cid, "flood-"), cid)
					if r.Status == 201 {
						acked[cid] = m.ID
					}
					return r.Status == 201
				}, "the refused message goes through later")
			}
			for cid, id := range acked {
				testutil.Eventually(t, wait, func() bool {
					r, m := v.send("again", cid)
					if r.Status == 200 && m.ID != id {
						t.Errorf("%s: another message %s", cid, m.ID)
					}
					return r.Status == 200
				}, "the repeat is answered as a duplicate")
			}
			h := v.history()
			seen := map[string]bool{}
			for _, m := range h {
				if seen[m.Text] {
					t.Errorf("stored twice: %q", m.Text)
				}
				seen[m.Text] = true
			}
			if len(h) != 8 {
				t.Errorf("stored %d of 8: %q", len(h), texts(h))
			}
		})
}

// vsock is a visitor's socket in a test.
type vsock struct {
	c      *websocket.Conn
	frames chan map[string]any
}

func (v *visitor) dial(t *testing.T, query string, hdr ...string) *vsock {
	t.Helper()
	s, resp, err := v.tryDial(query, hdr...)
	if err != nil {
		st := 0
		if resp != nil {
			st = resp.StatusCode
		}
		t.Fatalf("dial: %v (%d)", err, st)
	}
	t.Cleanup(func() { _ = s.c.CloseNow() })
	return s
}

func (v *visitor) tryDial(query string, hdr ...string) (*vsock, *http.Response, error) {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, v.e.wsTo+"/widget/"+v.key+"/ws"+query, &websocket.DialOptions{HTTPHeader: h,
		Subprotocols: []string{"kanal.widget.v1", "kanal.token." + v.token}})
	if err != nil {
		return nil, resp, err
	}
	s := &vsock{c: c, frames: make(chan map[string]any, 1000)}
	go func() {
		defer close(s.frames)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var f map[string]any
			if json.Unmarshal(b, &f) == nil {
				s.frames <- f
			}
		}
	}()
	return s, resp, nil
}

// next returns the next frame of type typ, skipping others (availability,
// typing...) unless they are what is asked for.
func (s *vsock) next(t *testing.T, typ string) map[string]any {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				t.Fatalf("socket closed waiting for %s", typ)
			}
			if f["type"] == typ {
				return f
			}
		case <-timeout:
			t.Fatalf("no %s frame", typ)
		}
	}
}

// none checks that no frame matching bad arrives within a short while.
func (s *vsock) none(t *testing.T, d time.Duration, bad func(map[string]any) bool) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				return
			}
			if bad(f) {
				t.Errorf("unexpected frame %v", f)
			}
		case <-timeout:
			return
		}
	}
}

func (s *vsock) send(t *testing.T, f map[string]any) {
	t.Helper()
	b, _ := json.Marshal(f)
	if err := s.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// agentSocket opens the owner's real-time socket.
func (e *wcEnv) agentSocket(t *testing.T) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.wsTo+"/api/v1/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + e.ws.Token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func readUntil(t *testing.T, c *websocket.Conn, match func(map[string]any) bool) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("agent socket: %v", err)
		}
		var f map[string]any
		if json.Unmarshal(b, &f) == nil && match(f) {
			return f
		}
	}
}

func TestWidgetSocket(t *testing.T) {
	eachWidgetDialect(t, webchat.Options{}, nil, func(t *testing.T, e *wcEnv) {
		a, b := e.anon(), e.anon()
		// The first socket opens before the visitor wrote: it follows the
		// customer its first message makes.
		as := a.dial(t, "")
		hello := as.next(t, "hello")
		if hello["visitor_id"] != a.id {
			t.Errorf("hello %v", hello)
		}
		first := a.mustSend("Merhaba, siparişim nerede?")
		f := as.next(t, "message")
		if f["message"].(map[string]any)["id"] != first.ID {
			t.Errorf("own message frame %v", f)
		}
		bs := b.dial(t, "")
		bs.next(t, "hello")
		b.mustSend("b yazıyor")
		conv, cust := e.conversationOf("Merhaba, siparişim nerede?")

		// An agent's reply arrives; a note does not; b gets nothing of a's.
		reply := e.agent.Must(201, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": "Bakıyorum hemen."}).JSON()
		f = as.next(t, "message")
		msg := f["message"].(map[string]any)
		if msg["author"] != "agent" || msg["text"] != "Bakıyorum hemen." || msg["id"] != reply["id"] || f["seq"] == nil {
			t.Errorf("reply frame %v", f)
		}
		for k := range msg {
			if k == "author_id" || k == "workspace_id" || k == "customer_id" || k == "conversation_id" {
				t.Errorf("frame leaks %s", k)
			}
		}
		e.agent.Must(201, "POST", "/api/v1/conversations/"+conv+"/notes", map[string]any{"text": "GİZLİ NOT"})
		e.agent.Must(200, "PATCH", "/api/v1/conversations/"+conv, map[string]any{"labels": []string{"vip"}, "priority": "high"})
		as.none(t, 300*time.Millisecond, func(f map[string]any) bool { return f["type"] == "message" || f["type"] == "event" })
		bs.none(t, 200*time.Millisecond, func(f map[string]any) bool {
			m, _ := f["message"].(map[string]any)
			return f["type"] == "message" && m["author"] != "visitor"
		})

		// Typing both ways.
		agent := e.agentSocket(t)
		readUntil(t, agent, func(f map[string]any) bool { return f["type"] == "hello" })
		ab, _ := json.Marshal(map[string]any{"type": "typing", "conversation_id": conv, "typing": true})
		if err := agent.Write(context.Background(), websocket.MessageText, ab); err != nil {
			t.Fatal(err)
		}
		if f := as.next(t, "typing"); f["typing"] != true || len(f) != 2 {
			t.Errorf("agent typing frame %v", f)
		}
		bs.none(t, 200*time.Millisecond, func(f map[string]any) bool { return f["type"] == "typing" })
		as.send(t, map[string]any{"type": "typing", "typing": true})
		tf := readUntil(t, agent, func(f map[string]any) bool { return f["type"] == "typing" && f["customer_id"] != nil })
		if tf["conversation_id"] != conv || tf["customer_id"] != cust || tf["typing"] != true {
			t.Errorf("visitor typing at the agent %v", tf)
		}

		// The agent reads: the visitor sees "seen".
		e.agent.Must(200, "POST", "/api/v1/conversations/"+conv+"/read", map[string]any{"message_id": first.ID})
		if f := as.next(t, "seen"); f["message_id"] != first.ID || f["read_at"] == nil {
			t.Errorf("seen %v", f)
		}
		// The visitor reads: the agent's message becomes read, an event agents get.
		as.send(t, map[string]any{"type": "read", "message_id": reply["id"]})
		ev := readUntil(t, agent, func(f map[string]any) bool {
			ev, _ := f["event"].(map[string]any)
			d, _ := ev["data"].(map[string]any)
			return ev["type"] == "message.status_changed" && d["message_id"] == reply["id"] && d["status"] == "read"
		})
		_ = ev
		as.send(t, map[string]any{"type": "read", "message_id": "0198aaaa-0000-7000-8000-00000000dead"})
		if f := as.next(t, "error"); f["code"] != "invalid_input" {
			t.Errorf("bad read %v", f)
		}
		as.send(t, map[string]any{"type": "subscribe", "conversation_id": conv})
		if f := as.next(t, "error"); f["code"] != "unknown_type" {
			t.Errorf("unknown frame %v", f)
		}

		// Resume: what was missed while away is replayed, after the cursor only.
		cursor := int64(f["seq"].(float64))
		_ = as.c.Close(websocket.StatusNormalClosure, "")
		e.agent.Must(201, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": "Siz yokken yazdım."})
		again := a.dial(t, fmt.Sprintf("?after=%d", cursor))
		if h := again.next(t, "hello"); h["after"] != float64(cursor) {
			t.Errorf("resume hello %v", h)
		}
		got := []string{}
		for len(got) < 2 {
			m := again.next(t, "message")["message"].(map[string]any)
			got = append(got, m["text"].(string))
			if m["text"] == "Siz yokken yazdım." {
				break
			}
		}
		if got[len(got)-1] != "Siz yokken yazdım." || strings.Contains(strings.Join(got, "|"), "Merhaba") {
			t.Errorf("replayed %q", got)
		}
		if h := a.dial(t, "?after=99999999").next(t, "hello"); h["reset"] != true {
			t.Errorf("after beyond the log: %v", h)
		}

		// Refusals before the upgrade.
		bad := &visitor{e: e, token: "kv_" + strings.Repeat("C", 43), key: e.key}
		if _, resp, err := bad.tryDial(""); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("bad token: %v", err)
		}
		if _, resp, err := a.tryDial("", "Origin", "https://evil.example.net"); err == nil || resp == nil || resp.StatusCode != 403 {
			t.Errorf("forbidden origin: %v", err)
		}
		if s, _, err := a.tryDial("", "Origin", hostSite); err != nil {
			t.Errorf("allowed origin: %v", err)
		} else {
			_ = s.c.CloseNow()
		}
		if r := a.do("GET", "/ws", nil); r.Status != 426 {
			t.Errorf("plain GET: %d", r.Status)
		}
	})
}

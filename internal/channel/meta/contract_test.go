package meta_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/api"
	"github.com/kanal-dev/kanal/internal/channel/meta"
	fakemeta "github.com/kanal-dev/kanal/internal/fakes/meta"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

const (
	turkish   = "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"
	appSecret = "kanal-test-app-secret"
	verify    = "kanal-verify-token"
	token     = "EAAkanalPageToken"
)

// env is one inbox of one type on a running Kanal, with the fake Graph API
// it talks to.
type env struct {
	t       *testing.T
	a       *testutil.App
	c       *testutil.Client
	fake    *fakemeta.Server
	hook    *fakemeta.Hook
	typ     string
	inboxID string
	account string
	seq     *int
}

// id returns a new numeric id (senders, mids) unique in the test app.
func (e *env) id() string {
	*e.seq++
	return fmt.Sprintf("7%09d", *e.seq)
}

func (e *env) mid() string { return "m_" + e.typ + "_" + e.id() }

func (e *env) post(body []byte) (int, testutil.Response) {
	e.t.Helper()
	st, b, err := e.hook.Post(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return st, testutil.Response{Status: st, Body: b}
}

func (e *env) mustPost(body []byte) {
	e.t.Helper()
	if st, r := e.post(body); st != http.StatusOK {
		e.t.Fatalf("webhook: %d %s", st, r.Body)
	}
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.a.DB.Reader().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// stored counts what a refused call must not have added.
func (e *env) stored() [3]int {
	return [3]int{e.count("SELECT COUNT(*) FROM events"), e.count("SELECT COUNT(*) FROM messages"), e.count("SELECT COUNT(*) FROM customers")}
}

// copies counts the messages of this inbox with a provider id.
func (e *env) copies(pid string) int {
	return e.count("SELECT COUNT(*) FROM messages WHERE inbox_id = $1 AND provider_id = $2", e.inboxID, pid)
}

func (e *env) conversationOf(pid string) string {
	e.t.Helper()
	var id string
	err := e.a.DB.Reader().QueryRow(context.Background(), "SELECT conversation_id FROM messages WHERE inbox_id = $1 AND provider_id = $2 AND direction = 'in'",
		e.inboxID, pid).Scan(&id)
	if err != nil {
		e.t.Fatalf("no message %s: %v", pid, err)
	}
	return id
}

func (e *env) messages(conv string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, it := range e.c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages?limit=200", nil).JSON()["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// inbound returns the inbound message with a provider id, through the API.
func (e *env) inbound(pid string) map[string]any {
	e.t.Helper()
	for _, m := range e.messages(e.conversationOf(pid)) {
		if m["provider_id"] == pid {
			return m
		}
	}
	e.t.Fatalf("message %s not listed", pid)
	return nil
}

// reply sends an agent's reply and waits until it is sent or failed.
func (e *env) reply(conv, text, want string) map[string]any {
	e.t.Helper()
	r := e.c.Must(http.StatusCreated, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": text}).JSON()
	var got map[string]any
	testutil.Eventually(e.t, 15*time.Second, func() bool {
		for _, m := range e.messages(conv) {
			if m["id"] == r["id"] {
				got = m
			}
		}
		return got != nil && (got["status"] == "sent" || got["status"] == "failed")
	}, "reply delivered or failed")
	if got["status"] != want {
		e.t.Fatalf("reply %v, want %s", got, want)
	}
	return got
}

// customerConversation ingests a text from a new customer and returns the
// sender and the conversation.
func (e *env) customerConversation() (string, string) {
	e.t.Helper()
	from, mid := e.id(), e.mid()
	e.mustPost(e.hook.Body(e.hook.Text(mid, from, "Merhaba", time.Now())))
	return from, e.conversationOf(mid)
}

func (e *env) setLastInbound(conv string, ago time.Duration) {
	e.t.Helper()
	err := e.a.DB.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(context.Background(), "UPDATE conversations SET last_inbound_at = $1 WHERE id = $2", time.Now().Add(-ago).UnixMilli(), conv)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"Meta's verification GET", func(t *testing.T, e *env) {
		if st, body, err := e.hook.Verify(verify, "1158201444"); err != nil || st != http.StatusOK || body != "1158201444" {
			t.Fatalf("good token: %d %q %v", st, body, err)
		}
		if st, _, _ := e.hook.Verify("wrong", "1158201444"); st != http.StatusForbidden {
			t.Fatalf("wrong token: %d", st)
		}
	}},
	{"bad signature: 401, nothing stored", func(t *testing.T, e *env) {
		from, mid := e.id(), e.mid()
		body := e.hook.Body(e.hook.Text(mid, from, turkish, time.Now()))
		unescaped := []byte(strings.ReplaceAll(string(body), `\/`, `/`)) // re-encoded: another body
		before := e.stored()
		for name, sig := range map[string]string{"none": "", "wrong secret": fakemeta.Sign("other", body),
			"garbage": "sha256=deadbeef", "extended": fakemeta.Sign(appSecret, body) + "00"} {
			st, _, err := e.hook.PostSigned(body, sig)
			if err != nil || st != http.StatusUnauthorized {
				t.Fatalf("%s: %d %v", name, st, err)
			}
		}
		if st, _, _ := e.hook.PostSigned(append(unescaped, ' '), fakemeta.Sign(appSecret, body)); st != http.StatusUnauthorized {
			t.Fatalf("changed body: %d", st)
		}
		if e.stored() != before || e.copies(mid) != 0 {
			t.Fatal("a refused call stored something")
		}
	}},
	{"Turkish text kept byte-exact, customer by scoped id", func(t *testing.T, e *env) {
		from, mid := e.id(), e.mid()
		body := e.hook.Body(e.hook.Text(mid, from, turkish, time.Now()))
		if !strings.Contains(string(body), `\u0130stanbul`) || !strings.Contains(string(body), `\ud83d\ude4f`) {
			t.Fatalf("the fake must escape like Meta: %s", body)
		}
		e.mustPost(body)
		m := e.inbound(mid)
		if m["text"] != turkish || m["content_type"] != "text" || m["direction"] != "in" || m["channel"] != e.typ {
			t.Fatalf("message %v", m)
		}
		cust := e.c.Must(http.StatusOK, "GET", "/api/v1/customers/"+m["customer_id"].(string), nil).JSON()
		ids := fmt.Sprint(cust["identities"])
		if !strings.Contains(ids, "kind:"+e.typ) || !strings.Contains(ids, "value:"+from) {
			t.Fatalf("identities %s", ids)
		}
	}},
	{"duplicate mid: one message", func(t *testing.T, e *env) {
		from, mid := e.id(), e.mid()
		e.mustPost(e.hook.Body(e.hook.Text(mid, from, "bir", time.Now())))
		// The same message in another call, batched with a new one.
		other := e.mid()
		e.mustPost(e.hook.Body(e.hook.Text(mid, from, "bir", time.Now()), e.hook.Text(other, from, "iki", time.Now())))
		if e.copies(mid) != 1 || e.copies(other) != 1 {
			t.Fatalf("copies %d %d", e.copies(mid), e.copies(other))
		}
		if n := len(e.messages(e.conversationOf(mid))); n != 2 {
			t.Fatalf("%d messages in the conversation", n)
		}
	}},
	{"retried webhook: one message, nothing new", func(t *testing.T, e *env) {
		from, mid := e.id(), e.mid()
		body := e.hook.Body(e.hook.Text(mid, from, "Kargom nerede?", time.Now()))
		e.mustPost(body)
		after := e.stored()
		for range 3 {
			e.mustPost(body)
		}
		if e.stored() != after || e.copies(mid) != 1 {
			t.Fatalf("a retry stored something: %v → %v", after, e.stored())
		}
	}},
	{"echo skipped", func(t *testing.T, e *env) {
		to, mid := e.id(), e.mid()
		before := e.stored()
		e.mustPost(e.hook.Body(e.hook.Echo(mid, to, "Sayfadan gönderildi", time.Now())))
		if e.stored() != before || e.copies(mid) != 0 {
			t.Fatal("an echo was stored")
		}
	}},
	{"postback is interactive", func(t *testing.T, e *env) {
		from, mid := e.id(), e.mid()
		e.mustPost(e.hook.Body(e.hook.Postback(mid, from, "Siparişim nerede?", "ORDER_STATUS", time.Now())))
		m := e.inbound(mid)
		if m["text"] != "Siparişim nerede?" || m["content_type"] != "interactive" || !strings.Contains(m["raw"].(string), "ORDER_STATUS") {
			t.Fatalf("postback %v", m)
		}
	}},
	{"reaction", func(t *testing.T, e *env) {
		from, _ := e.customerConversation()
		ev := e.hook.Reaction(from, "m_something", "react", "❤️", time.Now())
		before := e.count("SELECT COUNT(*) FROM messages WHERE inbox_id = $1 AND content_type = 'reaction'", e.inboxID)
		e.mustPost(e.hook.Body(ev))
		e.mustPost(e.hook.Body(ev)) // retried
		if n := e.count("SELECT COUNT(*) FROM messages WHERE inbox_id = $1 AND content_type = 'reaction'", e.inboxID); n != before+1 {
			t.Fatalf("%d reactions", n-before)
		}
	}},
	{"unknown event: unsupported with raw", func(t *testing.T, e *env) {
		from := e.id()
		body := e.hook.Body(e.hook.Unknown(from, time.Now()))
		e.mustPost(body)
		e.mustPost(body)
		var id, ctype, raw string
		err := e.a.DB.Reader().QueryRow(context.Background(), `SELECT m.provider_id, m.content_type, m.raw FROM messages m
			JOIN identities i ON i.customer_id = m.customer_id WHERE m.inbox_id = $1 AND i.value = $2`, e.inboxID, from).Scan(&id, &ctype, &raw)
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "unsupported" || !strings.Contains(raw, `"referral"`) || !strings.Contains(raw, "kampanya-ekim") || e.copies(id) != 1 {
			t.Fatalf("%s %s %s", id, ctype, raw)
		}
		m := e.inbound(id)
		if m["raw"] != raw {
			t.Fatalf("API raw %v", m["raw"])
		}
	}},
	{"attachment fetched once and kept", func(t *testing.T, e *env) {
		from, mid := e.id(), e.mid()
		name := "kargo_" + e.typ + "_n.jpg"
		jpeg := []byte("\xff\xd8\xff\xe0 kargo fişi")
		u := e.fake.AddMedia(name, "image/jpeg", jpeg)
		body := e.hook.Body(e.hook.Image(mid, from, u, time.Now()))
		e.mustPost(body)
		var att map[string]any
		testutil.Eventually(t, 15*time.Second, func() bool {
			atts := e.inbound(mid)["attachments"].([]any)
			att = atts[0].(map[string]any)
			return att["ref"] == nil
		}, "media fetched")
		got := e.c.Must(http.StatusOK, "GET", att["url"].(string), nil)
		if string(got.Body) != string(jpeg) || att["content_type"] != "image/jpeg" || att["file_name"] != name {
			t.Fatalf("attachment %v, body %q", att, got.Body)
		}
		if m := e.inbound(mid); m["content_type"] != "image" {
			t.Fatalf("message %v", m)
		}
		e.mustPost(body) // retried: no second message, no second download
		if e.copies(mid) != 1 || e.fake.Fetches(name) != 1 {
			t.Fatalf("copies %d, fetches %d", e.copies(mid), e.fake.Fetches(name))
		}
	}},
	{"unknown account or object: 404, nothing stored", func(t *testing.T, e *env) {
		from, mid := e.id(), e.mid()
		before := e.stored()
		wrongObject := *e.hook
		wrongObject.Object = map[string]string{fakemeta.ObjectPage: fakemeta.ObjectInstagram, fakemeta.ObjectInstagram: fakemeta.ObjectPage}[e.hook.Object]
		for name, body := range map[string][]byte{
			"other account": e.hook.BodyFor("999999999", e.hook.Text(mid, from, "yanlış sayfa", time.Now())),
			"other object":  wrongObject.Body(wrongObject.Text(mid, from, "yanlış nesne", time.Now())),
		} {
			st, r := e.post(body)
			if st != http.StatusNotFound || r.ErrorCode() != "unknown_account" {
				t.Fatalf("%s: %d %s", name, st, r.Body)
			}
		}
		if e.stored() != before || e.copies(mid) != 0 {
			t.Fatal("an unknown account stored something")
		}
	}},
	{"invalid JSON: 400, listed in webhook failures", func(t *testing.T, e *env) {
		bad := []byte(`{"object":"` + e.hook.Object + `","entry":[{"id":"` + e.account + `","messaging":[`)
		before := e.stored()
		st, r := e.post(bad)
		if st != http.StatusBadRequest || r.ErrorCode() != "malformed_webhook" {
			t.Fatalf("%d %s", st, r.Body)
		}
		if e.stored() != before {
			t.Fatal("a malformed call stored messages or events")
		}
		found := false
		for _, f := range e.c.Must(http.StatusOK, "GET", "/api/v1/webhook-failures?limit=200", nil).JSON()["items"].([]any) {
			f := f.(map[string]any)
			found = found || (f["inbox_id"] == e.inboxID && f["body"] == string(bad))
		}
		if !found {
			t.Fatal("the body is not in /api/v1/webhook-failures")
		}
	}},
	{"reply within 24 h: RESPONSE; statuses out of order end right", func(t *testing.T, e *env) {
		from, conv := e.customerConversation()
		m := e.reply(conv, turkish, "sent")
		sent := e.fake.SentTo(from)
		if len(sent) != 1 || sent[0].MessagingType != meta.TypeResponse || sent[0].Tag != "" || sent[0].Text != turkish ||
			sent[0].Token != token || sent[0].AccountID != e.account || m["provider_id"] != sent[0].MessageID {
			t.Fatalf("sent %+v, message %v", sent, m)
		}
		pid := sent[0].MessageID
		// The read report first, then the delivery report.
		if e.typ == meta.Instagram {
			e.mustPost(e.hook.Body(e.hook.Seen(from, pid, time.Now())))
		} else {
			e.mustPost(e.hook.Body(e.hook.Read(from, time.Now()))) // a watermark: names no message
		}
		e.mustPost(e.hook.Body(e.hook.Delivery(from, time.Now(), pid)))
		e.mustPost(e.hook.Body(e.hook.Delivery(from, time.Now(), pid, "m_unknown")))
		want := map[string]string{meta.Messenger: "delivered", meta.Instagram: "read"}[e.typ]
		got := ""
		for _, x := range e.messages(conv) {
			if x["id"] == m["id"] {
				got, _ = x["status"].(string)
			}
		}
		if got != want {
			t.Fatalf("status %q, want %s", got, want)
		}
	}},
	{"reply after 3 days: MESSAGE_TAG HUMAN_AGENT", func(t *testing.T, e *env) {
		from, conv := e.customerConversation()
		e.setLastInbound(conv, 72*time.Hour)
		e.reply(conv, "Gecikme için özür dileriz.", "sent")
		sent := e.fake.SentTo(from)
		if len(sent) != 1 || sent[0].MessagingType != meta.TypeMessageTag || sent[0].Tag != meta.TagHumanAgent {
			t.Fatalf("sent %+v", sent)
		}
	}},
	{"reply after 8 days: failed, Meta not called", func(t *testing.T, e *env) {
		from, conv := e.customerConversation()
		e.setLastInbound(conv, 8*24*time.Hour)
		m := e.reply(conv, "Merhaba", "failed")
		if !strings.Contains(m["status_reason"].(string), "outside the 7-day human agent window") || len(e.fake.SentTo(from)) != 0 {
			t.Fatalf("message %v, sent %+v", m, e.fake.SentTo(from))
		}
	}},
	{"Meta refuses outside the window: failed", func(t *testing.T, e *env) {
		_, conv := e.customerConversation()
		e.fake.Fail(fakemeta.OutsideWindow)
		m := e.reply(conv, "Merhaba", "failed")
		if r := m["status_reason"].(string); !strings.Contains(r, "outside the messaging window") || !strings.Contains(r, "2018278") {
			t.Fatalf("reason %q", r)
		}
	}},
	{"server error retried until sent", func(t *testing.T, e *env) {
		from, conv := e.customerConversation()
		e.fake.Fail(fakemeta.ServerError)
		e.reply(conv, "Tekrar deniyoruz", "sent")
		if sent := e.fake.SentTo(from); len(sent) != 2 || sent[0].MessageID != "" || sent[1].MessageID == "" {
			t.Fatalf("sent %+v", sent)
		}
	}},
	{"connection test", func(t *testing.T, e *env) {
		r := e.c.Must(http.StatusOK, "POST", "/api/v1/inboxes/"+e.inboxID+"/test", nil).JSON()
		if r["ok"] != true || !strings.Contains(fmt.Sprint(r["account"]), "Kanal Mağaza") && !strings.Contains(fmt.Sprint(r["account"]), "@kanalmagaza") {
			t.Fatalf("test %v", r)
		}
	}},
}

func TestContract(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			fake := fakemeta.Start(t)
			fake.Token = token
			a := testutil.New(t, d, testutil.Options{Adapters: []channel.Adapter{meta.NewMessenger(nil), meta.NewInstagram(nil), api.NewSender(nil)}})
			w := a.Setup("Mağaza", "owner@example.com")
			c := a.Client(w.Token)
			seq := 0
			for _, typ := range []string{meta.Messenger, meta.Instagram} {
				t.Run(typ, func(t *testing.T) {
					account, key := "106540352242922", meta.KeyPageID
					if typ == meta.Instagram {
						account, key = "17841405822304914", meta.KeyInstagramID
					}
					fake.AddAccount(account, map[string]string{"name": "Kanal Mağaza", "username": "kanalmagaza"})
					ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": typ, "name": typ,
						"config": map[string]any{key: account, meta.KeyAccessToken: token, meta.KeyAppSecret: appSecret,
							meta.KeyVerifyToken: verify, meta.KeyAPIBaseURL: fake.BaseURL()}}).JSON()
					hook := fakemeta.MessengerHook(ib["webhook_url"].(string), appSecret, account)
					if typ == meta.Instagram {
						hook = fakemeta.InstagramHook(ib["webhook_url"].(string), appSecret, account)
					}
					for _, cs := range cases {
						t.Run(cs.name, func(t *testing.T) {
							cs.run(t, &env{t: t, a: a, c: c, fake: fake, hook: hook, typ: typ, inboxID: ib["id"].(string), account: account, seq: &seq})
						})
					}
				})
			}
		})
	}
}

func TestGeneratedVerifyToken(t *testing.T) {
	a := testutil.New(t, storetest.Dialects()[0], testutil.Options{Adapters: []channel.Adapter{meta.NewMessenger(nil), api.NewSender(nil)}})
	w := a.Setup("Mağaza", "owner@example.com")
	c := a.Client(w.Token)
	r := c.Do("POST", "/api/v1/inboxes", map[string]any{"type": "messenger", "name": "FB",
		"config": map[string]any{meta.KeyPageID: 106540352242922, meta.KeyAccessToken: token, meta.KeyAppSecret: appSecret}})
	if r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a numeric page_id must be refused: %d %s", r.Status, r.Body)
	}
	ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "messenger", "name": "FB",
		"config": map[string]any{meta.KeyPageID: "106540352242922", meta.KeyAccessToken: token, meta.KeyAppSecret: appSecret}}).JSON()
	gen, _ := ib["secrets"].(map[string]any)
	tok, _ := gen[meta.KeyVerifyToken].(string)
	if len(tok) < 32 {
		t.Fatalf("generated verify token %v", ib)
	}
	hook := fakemeta.MessengerHook(ib["webhook_url"].(string), appSecret, "106540352242922")
	if st, body, err := hook.Verify(tok, "42"); err != nil || st != 200 || body != "42" {
		t.Fatalf("%d %q %v", st, body, err)
	}
}

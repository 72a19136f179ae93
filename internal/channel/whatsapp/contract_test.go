package whatsapp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/api"
	"github.com/kanal-dev/kanal/internal/channel/whatsapp"
	fake "github.com/kanal-dev/kanal/internal/fakes/whatsapp"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

const turkish = "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"

// kit is one running Kanal with a WhatsApp inbox wired to a fake Graph API.
type kit struct {
	t    *testing.T
	a    *testutil.App
	c    *testutil.Client
	f    *fake.Server
	path string // the inbox's webhook path
}

func (k *kit) post(t *testing.T, body []byte) (int, string) {
	t.Helper()
	code, rb, err := k.f.Post(body)
	if err != nil {
		t.Fatalf("post webhook: %v", err)
	}
	return code, string(rb)
}

func (k *kit) mustPost(t *testing.T, body []byte) {
	t.Helper()
	if code, rb := k.post(t, body); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, rb)
	}
}

// seq is the workspace's last event number.
func (k *kit) seq(t *testing.T) int64 {
	t.Helper()
	var last int64
	for {
		var out struct {
			Items   []any `json:"items"`
			LastSeq int64 `json:"last_seq"`
		}
		k.c.Must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/events?after=%d&limit=1000", last), nil).Decode(t, &out)
		if len(out.Items) == 0 {
			return last
		}
		last = out.LastSeq
	}
}

func (k *kit) nothingSince(t *testing.T, seq int64) {
	t.Helper()
	if now := k.seq(t); now != seq {
		t.Fatalf("events were stored: seq %d → %d", seq, now)
	}
}

func (k *kit) customer(t *testing.T, waID string) map[string]any {
	t.Helper()
	items := k.c.Must(http.StatusOK, "GET", "/api/v1/customers?q="+waID, nil).JSON()["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("%d customers for %s", len(items), waID)
	}
	return k.c.Must(http.StatusOK, "GET", "/api/v1/customers/"+items[0].(map[string]any)["id"].(string), nil).JSON()
}

func (k *kit) conversation(t *testing.T, waID string) string {
	t.Helper()
	id := k.customer(t, waID)["id"].(string)
	items := k.c.Must(http.StatusOK, "GET", "/api/v1/conversations?customer="+id, nil).JSON()["items"].([]any)
	if len(items) == 0 {
		t.Fatalf("no conversation for %s", waID)
	}
	return items[0].(map[string]any)["id"].(string)
}

func (k *kit) messages(t *testing.T, conv string) []map[string]any {
	t.Helper()
	var out struct {
		Items []map[string]any `json:"items"`
	}
	k.c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages?limit=200", nil).Decode(t, &out)
	return out.Items
}

func (k *kit) message(t *testing.T, conv, id string) map[string]any {
	t.Helper()
	for _, m := range k.messages(t, conv) {
		if m["id"] == id {
			return m
		}
	}
	t.Fatalf("message %s not in %s", id, conv)
	return nil
}

func (k *kit) byProviderID(t *testing.T, conv, pid string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range k.messages(t, conv) {
		if m["provider_id"] == pid {
			out = append(out, m)
		}
	}
	return out
}

// write posts a text from a customer and returns their conversation.
func (k *kit) write(t *testing.T, waID, text string) string {
	t.Helper()
	k.mustPost(t, k.f.TextWebhook(fake.Contact{WaID: waID, Name: "Müşteri " + waID[len(waID)-2:]}, "", text))
	return k.conversation(t, waID)
}

func (k *kit) reply(t *testing.T, conv string, body any) map[string]any {
	t.Helper()
	return k.c.Must(http.StatusCreated, "POST", "/api/v1/conversations/"+conv+"/messages", body).JSON()
}

func (k *kit) waitStatus(t *testing.T, conv, id, status string) map[string]any {
	t.Helper()
	var m map[string]any
	testutil.Eventually(t, 15*time.Second, func() bool {
		m = k.message(t, conv, id)
		return m["status"] == status
	}, "message "+id+" "+status)
	return m
}

// sentFor returns what the fake accepted for a Kanal message.
func (k *kit) sentFor(t *testing.T, id string) fake.Sent {
	t.Helper()
	for _, s := range k.f.Sent() {
		if s.Opaque == id && !s.Refused {
			return s
		}
	}
	t.Fatalf("the fake accepted nothing for %s", id)
	return fake.Sent{}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestContract(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			f := fake.New(fake.Options{})
			t.Cleanup(f.Close)
			a := testutil.New(t, d, testutil.Options{Adapters: []channel.Adapter{whatsapp.New(nil), api.NewSender(nil)}})
			w := a.Setup("Mağaza", "owner@example.com")
			c := a.Client(w.Token)
			ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "whatsapp", "name": "WhatsApp",
				"config": f.InboxConfig()}).JSON()
			hook, _ := ib["webhook_url"].(string)
			if !strings.HasPrefix(hook, a.URL+"/webhooks/whatsapp/") {
				t.Fatalf("webhook_url %q", hook)
			}
			if set := fmt.Sprint(ib["secrets_set"]); !strings.Contains(set, "app_secret") || strings.Contains(fmt.Sprint(ib["config"]), f.Options().AppSecret) {
				t.Fatalf("secrets shown: %v", ib)
			}
			f.WebhookURL = hook
			k := &kit{t: t, a: a, c: c, f: f, path: strings.TrimPrefix(hook, a.URL)}
			for _, tc := range contractCases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, k) })
			}
		})
	}
}

var contractCases = []struct {
	name string
	run  func(t *testing.T, k *kit)
}{
	{"verification GET echoes hub.challenge only with the verify token", func(t *testing.T, k *kit) {
		anon := k.a.Client("")
		r := anon.Do("GET", k.path+"?hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=1158201444", nil)
		if r.Status != http.StatusOK || string(r.Body) != "1158201444" {
			t.Fatalf("challenge: %d %q", r.Status, r.Body)
		}
		if r := anon.Do("GET", k.path+"?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444", nil); r.Status != http.StatusForbidden {
			t.Fatalf("wrong token: %d", r.Status)
		}
	}},
	{"bad signature → 401, nothing stored", func(t *testing.T, k *kit) {
		body := k.f.TextWebhook(fake.Contact{WaID: "905321000001", Name: "Kötü"}, "", "Merhaba")
		seq := k.seq(t)
		for name, sig := range map[string]string{
			"zeros":          "sha256=" + strings.Repeat("0", 64),
			"missing":        "",
			"other secret":   fake.Sign("other-secret", body),
			"extended":       fake.Sign(k.f.Options().AppSecret, body) + "00",
			"unescaped body": fake.Sign(k.f.Options().AppSecret, bytes.ReplaceAll(body, []byte(`\u00f6`), []byte("ö"))),
		} {
			code, rb, err := k.f.PostSigned(body, sig)
			if err != nil || code != http.StatusUnauthorized || !strings.Contains(string(rb), "bad_signature") {
				t.Fatalf("%s: %d %s %v", name, code, rb, err)
			}
		}
		k.nothingSince(t, seq)
	}},
	{"unknown phone_number_id → 404, nothing stored", func(t *testing.T, k *kit) {
		seq := k.seq(t)
		if code, rb := k.post(t, fixture(t, "other_number.json")); code != http.StatusNotFound || !strings.Contains(rb, "unknown_account") {
			t.Fatalf("%d %s", code, rb)
		}
		k.nothingSince(t, seq)
	}},
	{"invalid JSON → 400, listed in webhook-failures", func(t *testing.T, k *kit) {
		bad := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[`)
		seq := k.seq(t)
		if code, rb := k.post(t, bad); code != http.StatusBadRequest || !strings.Contains(rb, "malformed_webhook") {
			t.Fatalf("%d %s", code, rb)
		}
		k.nothingSince(t, seq)
		fails := k.c.Must(http.StatusOK, "GET", "/api/v1/webhook-failures", nil).JSON()["items"].([]any)
		if len(fails) == 0 || fails[0].(map[string]any)["body"] != string(bad) {
			t.Fatalf("failures: %v", fails)
		}
	}},
	{"Turkish text byte-exact in and out", func(t *testing.T, k *kit) {
		k.mustPost(t, fixture(t, "text.json"))
		conv := k.conversation(t, "905321234567")
		ms := k.messages(t, conv)
		if len(ms) != 1 || ms[0]["text"] != turkish || ms[0]["content_type"] != "text" ||
			!strings.HasPrefix(ms[0]["provider_id"].(string), "wamid.") {
			t.Fatalf("inbound: %v", ms)
		}
		cust := k.customer(t, "905321234567")
		ids := fmt.Sprint(cust["identities"])
		if cust["name"] != "Ayşe Yılmaz" || cust["phone"] != "+905321234567" || !strings.Contains(ids, "whatsapp") || !strings.Contains(ids, "phone") {
			t.Fatalf("customer: %v", cust)
		}
		out := k.reply(t, conv, map[string]any{"text": turkish})
		m := k.waitStatus(t, conv, out["id"].(string), "sent")
		s := k.sentFor(t, out["id"].(string))
		if s.Text != turkish || s.To != "905321234567" || s.Type != "text" || m["provider_id"] != s.ID {
			t.Fatalf("outbound %+v, message %v", s, m)
		}
	}},
	{"duplicate wamid → one message", func(t *testing.T, k *kit) {
		conv := k.conversation(t, "905321234567")
		pid := k.messages(t, conv)[0]["provider_id"].(string)
		seq := k.seq(t)
		again := k.f.TextWebhook(fake.Contact{WaID: "905321234567", Name: "Ayşe Yılmaz"}, pid, "başka bir metin")
		k.mustPost(t, again)
		k.nothingSince(t, seq)
		if n := len(k.byProviderID(t, conv, pid)); n != 1 {
			t.Fatalf("%d messages with %s", n, pid)
		}
	}},
	{"retried webhook → one message", func(t *testing.T, k *kit) {
		body := k.f.TextWebhook(fake.Contact{WaID: "905321000002", Name: "Can"}, "", "Kargom nerede?")
		k.mustPost(t, body)
		conv := k.conversation(t, "905321000002")
		seq := k.seq(t)
		k.mustPost(t, body)
		k.mustPost(t, body)
		k.nothingSince(t, seq)
		if n := len(k.messages(t, conv)); n != 1 {
			t.Fatalf("%d messages", n)
		}
	}},
	{"unknown type → unsupported with raw", func(t *testing.T, k *kit) {
		k.mustPost(t, k.f.UnknownWebhook(fake.Contact{WaID: "905321000003", Name: "Deniz"}, ""))
		k.mustPost(t, fixture(t, "order.json"))
		ms := k.messages(t, k.conversation(t, "905321000003"))
		if len(ms) != 1 || ms[0]["content_type"] != "unsupported" || !strings.Contains(ms[0]["raw"].(string), "131051") {
			t.Fatalf("unsupported: %v", ms)
		}
		var order map[string]any
		for _, m := range k.messages(t, k.conversation(t, "905321234567")) {
			if strings.Contains(fmt.Sprint(m["raw"]), "product_retailer_id") {
				order = m
			}
		}
		if order == nil || order["content_type"] != "unsupported" {
			t.Fatal("the order message was dropped")
		}
	}},
	{"location", func(t *testing.T, k *kit) {
		k.mustPost(t, k.f.LocationWebhook(fake.Contact{WaID: "905321000004", Name: "Ece"}, "", 41.037, 28.985, "Taksim Mağaza", "Beyoğlu, İstanbul"))
		ms := k.messages(t, k.conversation(t, "905321000004"))
		if len(ms) != 1 || ms[0]["content_type"] != "location" || ms[0]["text"] != "Taksim Mağaza\nBeyoğlu, İstanbul\n41.037, 28.985" ||
			!strings.Contains(ms[0]["raw"].(string), "latitude") {
			t.Fatalf("location: %v", ms)
		}
	}},
	{"top-level errors are ignored", func(t *testing.T, k *kit) {
		seq := k.seq(t)
		k.mustPost(t, k.f.ErrorsWebhook(130429, "Rate limit hit"))
		k.mustPost(t, fixture(t, "errors.json"))
		k.nothingSince(t, seq)
	}},
	{"media fetched once, sha256 verified, served by Kanal", func(t *testing.T, k *kit) {
		data := []byte("\xff\xd8\xff\xe0 JFIF fotoğraf")
		sum := k.f.AddMedia("3000000000000001", "image/jpeg", data)
		body := k.f.ImageWebhook(fake.Contact{WaID: "905321000005", Name: "Fatma"}, "", "3000000000000001", "Hasarlı ürün")
		k.mustPost(t, body)
		conv := k.conversation(t, "905321000005")
		var att map[string]any
		testutil.Eventually(t, 15*time.Second, func() bool {
			m := k.messages(t, conv)[0]
			att = m["attachments"].([]any)[0].(map[string]any)
			return att["ref"] == nil
		}, "media fetched")
		m := k.messages(t, conv)[0]
		if m["content_type"] != "image" || m["text"] != "Hasarlı ürün" || att["sha256"] != sum || att["content_type"] != "image/jpeg" {
			t.Fatalf("message %v", m)
		}
		r := k.c.Must(http.StatusOK, "GET", att["url"].(string), nil)
		if !bytes.Equal(r.Body, data) {
			t.Fatalf("served %q", r.Body)
		}
		k.mustPost(t, body) // Meta retries the call: nothing more is fetched
		if n := k.f.Downloads("3000000000000001"); n != 1 {
			t.Fatalf("%d downloads", n)
		}
		if n := len(k.messages(t, conv)); n != 1 {
			t.Fatalf("%d messages", n)
		}
	}},
	{"media whose sha256 does not match is not stored", func(t *testing.T, k *kit) {
		data := []byte("the real bytes")
		k.f.AddMedia("3000000000000002", "image/jpeg", data)
		body := k.f.ImageWebhook(fake.Contact{WaID: "905321000006", Name: "Gül"}, "", "3000000000000002", "")
		real := sha256.Sum256(data)
		other := sha256.Sum256([]byte("other bytes"))
		body = bytes.Replace(body, []byte(base64.StdEncoding.EncodeToString(real[:])), []byte(base64.StdEncoding.EncodeToString(other[:])), 1)
		k.mustPost(t, body)
		conv := k.conversation(t, "905321000006")
		testutil.Eventually(t, 15*time.Second, func() bool { return k.f.Downloads("3000000000000002") >= 2 }, "a retried download")
		att := k.messages(t, conv)[0]["attachments"].([]any)[0].(map[string]any)
		if att["ref"] != "3000000000000002" || att["url"] != "" || att["sha256"] != hex.EncodeToString(other[:]) {
			t.Fatalf("attachment %v", att)
		}
	}},
	{"statuses out of order: read before delivered", func(t *testing.T, k *kit) {
		conv := k.write(t, "905321000007", "Merhaba")
		out := k.reply(t, conv, map[string]any{"text": "Size nasıl yardımcı olabiliriz?"})
		id := out["id"].(string)
		k.waitStatus(t, conv, id, "sent")
		wamid := k.sentFor(t, id).ID
		if err := k.f.Deliver(wamid, "read", "delivered", "sent"); err != nil {
			t.Fatal(err)
		}
		if m := k.message(t, conv, id); m["status"] != "read" {
			t.Fatalf("status %v", m["status"])
		}
	}},
	{"statuses out of order: delivered after failed", func(t *testing.T, k *kit) {
		conv := k.conversation(t, "905321000007")
		out := k.reply(t, conv, map[string]any{"text": "Kargonuz yolda."})
		id := out["id"].(string)
		k.waitStatus(t, conv, id, "sent")
		wamid := k.sentFor(t, id).ID
		failed := k.f.StatusFor(wamid, "failed")
		failed.ErrorCode, failed.ErrorTitle = 131026, "Message undeliverable"
		k.mustPost(t, k.f.StatusWebhook(failed))
		if m := k.message(t, conv, id); m["status"] != "failed" || m["status_reason"] != "131026: Message undeliverable" {
			t.Fatalf("after failed: %v %v", m["status"], m["status_reason"])
		}
		if err := k.f.Deliver(wamid, "delivered"); err != nil {
			t.Fatal(err)
		}
		if m := k.message(t, conv, id); m["status"] != "delivered" || m["status_reason"] != "" {
			t.Fatalf("after delivered: %v %v", m["status"], m["status_reason"])
		}
	}},
	{"a report without biz_opaque_callback_data is found by wamid", func(t *testing.T, k *kit) {
		conv := k.conversation(t, "905321000007")
		out := k.reply(t, conv, map[string]any{"text": "İyi günler!"})
		id := out["id"].(string)
		k.waitStatus(t, conv, id, "sent")
		st := k.f.StatusFor(k.sentFor(t, id).ID, "read")
		st.Opaque = ""
		k.mustPost(t, k.f.StatusWebhook(st))
		if m := k.message(t, conv, id); m["status"] != "read" {
			t.Fatalf("status %v", m["status"])
		}
	}},
	{"outbound retried after a 500 reaches sent", func(t *testing.T, k *kit) {
		conv := k.conversation(t, "905321000007")
		before := k.f.Requests(fake.Messages)
		k.f.Fail(fake.Messages, fake.Failure{Status: http.StatusInternalServerError, Code: 131000, Message: "Something went wrong"})
		out := k.reply(t, conv, map[string]any{"text": "Tekrar deniyoruz"})
		k.waitStatus(t, conv, out["id"].(string), "sent")
		if n := k.f.Requests(fake.Messages) - before; n != 2 {
			t.Fatalf("%d requests", n)
		}
	}},
	{"outbound retried after a 429 reaches sent", func(t *testing.T, k *kit) {
		conv := k.conversation(t, "905321000007")
		k.f.Fail(fake.Messages, fake.Failure{Status: http.StatusTooManyRequests, RetryAfter: "1", Body: `{"error":{"message":"slow down","code":4}}`})
		out := k.reply(t, conv, map[string]any{"text": "Biraz yavaş"})
		k.waitStatus(t, conv, out["id"].(string), "sent")
	}},
	{"permanent 4xx → failed with the provider's reason", func(t *testing.T, k *kit) {
		conv := k.conversation(t, "905321000007")
		k.f.Fail(fake.Messages, fake.Failure{Status: http.StatusBadRequest, Code: 100, Message: "(#100) Invalid parameter"})
		out := k.reply(t, conv, map[string]any{"text": "Bu gitmeyecek"})
		m := k.waitStatus(t, conv, out["id"].(string), "failed")
		if !strings.Contains(m["status_reason"].(string), "Invalid parameter") {
			t.Fatalf("reason %q", m["status_reason"])
		}
	}},
	{"Meta's 131047 → failed: reply window closed", func(t *testing.T, k *kit) {
		conv := k.write(t, "905321000008", "Merhaba")
		k.f.SetEnforceWindow(true)
		k.f.Advance(25 * time.Hour) // Meta's clock says the window closed; Kanal's does not
		defer func() { k.f.Advance(-25 * time.Hour); k.f.SetEnforceWindow(false) }()
		out := k.reply(t, conv, map[string]any{"text": "Geç cevap"})
		m := k.waitStatus(t, conv, out["id"].(string), "failed")
		if !strings.HasPrefix(m["status_reason"].(string), "reply window closed") {
			t.Fatalf("reason %q", m["status_reason"])
		}
	}},
	{"24-hour window: free text → 409, a template goes out", func(t *testing.T, k *kit) {
		conv := k.write(t, "905321000009", "Siparişim gelmedi")
		cust := k.customer(t, "905321000009")["id"].(string)
		err := k.a.DB.Write(context.Background(), func(tx *store.Tx) error {
			_, err := tx.Exec(context.Background(), "UPDATE messages SET created_at = created_at - $1 WHERE customer_id = $2 AND direction = 'in'",
				(25 * time.Hour).Milliseconds(), cust)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		r := k.c.Do("POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": "Merhaba, yardımcı olalım"})
		if r.Status != http.StatusConflict || r.ErrorCode() != "reply_window_closed" {
			t.Fatalf("free text: %d %s", r.Status, r.Body)
		}
		k.f.SetEnforceWindow(true)
		k.f.Advance(25 * time.Hour)
		defer func() { k.f.Advance(-25 * time.Hour); k.f.SetEnforceWindow(false) }()
		out := k.reply(t, conv, map[string]any{"template": map[string]any{"name": "siparis_guncelleme", "language": "tr", "params": []string{"Ayşe", "KN-1042"}}})
		k.waitStatus(t, conv, out["id"].(string), "sent")
		s := k.sentFor(t, out["id"].(string))
		if s.Type != "template" || s.Template != "siparis_guncelleme" || s.Language != "tr" || fmt.Sprint(s.Params) != "[Ayşe KN-1042]" {
			t.Fatalf("template %+v", s)
		}
	}},
	{"user_changed_number moves the identity", func(t *testing.T, k *kit) {
		k.write(t, "905321000010", "Numaram değişecek")
		seq := k.seq(t)
		k.mustPost(t, k.f.ChangedNumberWebhook("905321000010", "905329990010", ""))
		if k.seq(t) == seq {
			t.Fatal("no identity event")
		}
		cust := k.customer(t, "905329990010")
		ids := fmt.Sprint(cust["identities"])
		if cust["phone"] != "+905329990010" || strings.Contains(ids, "905321000010") || strings.Count(ids, "905329990010") < 2 {
			t.Fatalf("after the move: %v", cust)
		}
		// The customer writes from the new number: same customer, same conversation.
		conv := k.write(t, "905329990010", "Yeni numaramdan yazıyorum")
		if n := len(k.messages(t, conv)); n != 2 {
			t.Fatalf("%d messages in the conversation", n)
		}
	}},
}

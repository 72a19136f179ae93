package telegram_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/api"
	"github.com/kanal-dev/kanal/internal/channel/telegram"
	fake "github.com/kanal-dev/kanal/internal/fakes/telegram"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

const token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// TestContract runs the channel contract end to end: the fake Bot API
// registers Kanal's webhook, delivers updates with the secret header, takes
// the replies and serves the files.
func TestContract(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			f := fake.New(t, token)
			a := testutil.New(t, d, testutil.Options{Adapters: []channel.Adapter{telegram.New(nil), api.NewSender(nil)}})
			w := a.Setup("Mağaza", "owner@example.com")
			c := a.Client(w.Token)

			// Creating the inbox registers the webhook (set_webhook) with a generated secret.
			ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "telegram", "name": "Destek botu",
				"config": map[string]any{"bot_token": token, "api_base_url": f.URL, "set_webhook": true}}).JSON()
			if ib["setup_error"] != nil {
				t.Fatalf("setup: %v", ib["setup_error"])
			}
			secret, _ := ib["secrets"].(map[string]any)["secret_token"].(string)
			if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(secret) {
				t.Fatalf("generated secret_token %q", secret)
			}
			hook := ib["webhook_url"].(string)
			if wh := f.Webhook(); wh.URL != hook || wh.SecretToken != secret || strings.Join(wh.AllowedUpdates, ",") != "message,edited_message,callback_query" {
				t.Fatalf("setWebhook got %+v, want %s", wh, hook)
			}
			if strings.Contains(fmt.Sprint(ib), token) {
				t.Fatal("the bot token must never be shown back")
			}
			if r := c.Must(http.StatusOK, "POST", "/api/v1/inboxes/"+ib["id"].(string)+"/test", nil).JSON(); r["ok"] != true || r["account"] != "@kanal_test_bot" {
				t.Fatalf("test connection: %v", r)
			}

			events := func() int {
				return len(c.Must(http.StatusOK, "GET", "/api/v1/events?limit=1000", nil).JSON()["items"].([]any))
			}
			convs := func() []any {
				return c.Must(http.StatusOK, "GET", "/api/v1/conversations", nil).JSON()["items"].([]any)
			}
			messages := func(conv string) []map[string]any {
				var out []map[string]any
				for _, m := range c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages", nil).JSON()["items"].([]any) {
					out = append(out, m.(map[string]any))
				}
				return out
			}
			last := func(conv string) map[string]any { m := messages(conv); return m[len(m)-1] }
			var conv string // Ayşe's conversation, once it exists
			ayse := fake.User{ID: 1111, FirstName: "Ayşe", LastName: "Yılmaz", Username: "ayse"}
			turkish := "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"
			f.AddFile(fake.File{ID: "PH-large", Path: "photos/file_12.jpg", ContentType: "image/jpeg", Body: []byte("\xff\xd8JPEG-kutu")})

			cases := []struct {
				name   string
				body   []byte
				secret string // "-": no header
				status int
				stores bool // new events expected
				check  func(t *testing.T, body []byte)
			}{
				{name: "missing secret", body: fake.Text(1, 42, ayse, "Merhaba"), secret: "-", status: 401},
				{name: "wrong secret", body: fake.Text(1, 42, ayse, "Merhaba"), secret: secret[:63] + "x", status: 401},
				{name: "text", body: fake.Text(1, 42, ayse, "Merhaba"), status: 200, stores: true, check: func(t *testing.T, _ []byte) {
					list := convs()
					if len(list) != 1 {
						t.Fatalf("%d conversations", len(list))
					}
					cv := list[0].(map[string]any)
					conv = cv["id"].(string)
					m := last(conv)
					if m["text"] != "Merhaba" || m["provider_id"] != "1111:42" || m["content_type"] != "text" || m["channel"] != "telegram" {
						t.Fatalf("message %v", m)
					}
					cust := c.Must(http.StatusOK, "GET", "/api/v1/customers/"+cv["customer_id"].(string), nil).JSON()
					ids := fmt.Sprint(cust["identities"])
					if cust["name"] != "Ayşe Yılmaz" || !strings.Contains(ids, "kind:telegram") || !strings.Contains(ids, "value:1111") {
						t.Fatalf("customer %v", cust)
					}
				}},
				{name: "retried update", body: fake.Text(1, 42, ayse, "Merhaba"), status: 200, check: func(t *testing.T, _ []byte) {
					if n := len(messages(conv)); n != 1 {
						t.Fatalf("%d messages after a retry", n)
					}
				}},
				{name: "turkish text", body: fake.Text(2, 43, ayse, turkish), status: 200, stores: true, check: func(t *testing.T, _ []byte) {
					if got := last(conv)["text"]; got != turkish {
						t.Fatalf("text %q", got)
					}
				}},
				{name: "photo", body: fake.Photo(3, 44, ayse, "Kutu ezik geldi", "PH-small", "PH-large"), status: 200, stores: true, check: func(t *testing.T, _ []byte) {
					var att map[string]any
					testutil.Eventually(t, 15*time.Second, func() bool {
						atts := last(conv)["attachments"].([]any)
						att = atts[0].(map[string]any)
						return att["ref"] == nil
					}, "photo fetched")
					if r := c.Must(http.StatusOK, "GET", att["url"].(string), nil); string(r.Body) != "\xff\xd8JPEG-kutu" {
						t.Fatalf("media %q", r.Body)
					}
					m := last(conv)
					if m["content_type"] != "image" || m["text"] != "Kutu ezik geldi" || att["content_type"] != "image/jpeg" || att["file_name"] != "file_12.jpg" {
						t.Fatalf("photo message %v", m)
					}
					if n, dl := len(f.Calls("getFile")), f.Downloads("photos/file_12.jpg"); n != 1 || dl != 1 {
						t.Fatalf("getFile %d, downloads %d: want one each", n, dl)
					}
				}},
				{name: "location", body: fake.Location(4, 45, ayse, 41.0082, 28.9784), status: 200, stores: true, check: func(t *testing.T, _ []byte) {
					m := last(conv)
					if m["content_type"] != "location" || m["text"] != "📍 41.0082,28.9784" || !strings.Contains(fmt.Sprint(m["raw"]), `"latitude":41.0082`) {
						t.Fatalf("location %v", m)
					}
				}},
				{name: "contact", body: fake.Contact(5, 46, ayse, "+905321234567", "Mehmet", "Öztürk"), status: 200, stores: true, check: func(t *testing.T, _ []byte) {
					m := last(conv)
					if m["content_type"] != "contacts" || m["text"] != "👤 Mehmet Öztürk, +905321234567" || !strings.Contains(fmt.Sprint(m["raw"]), "+905321234567") {
						t.Fatalf("contact %v", m)
					}
					cust := c.Must(http.StatusOK, "GET", "/api/v1/customers/"+m["customer_id"].(string), nil).JSON()
					if cust["phone"] != "" || strings.Contains(fmt.Sprint(cust["identities"]), "905321234567") {
						t.Fatalf("a shared contact's phone became the sender's: %v", cust)
					}
				}},
				{name: "callback query", body: fake.Callback(6, ayse, "cbq-1", "iade_talebi", 1000), status: 200, stores: true, check: func(t *testing.T, body []byte) {
					m := last(conv)
					if m["content_type"] != "interactive" || m["text"] != "iade_talebi" || m["provider_id"] != "cb:cbq-1" {
						t.Fatalf("callback %v", m)
					}
					var ans map[string]string
					if json.Unmarshal(body, &ans) != nil || ans["method"] != "answerCallbackQuery" || ans["callback_query_id"] != "cbq-1" {
						t.Fatalf("webhook answer %s", body)
					}
				}},
				{name: "edited message", body: fake.Edited(7, 42, ayse, "Merhaba, sipariş no 1042", fake.Date+60), status: 200, stores: true, check: func(t *testing.T, _ []byte) {
					m := last(conv)
					if m["text"] != "Merhaba, sipariş no 1042" || m["provider_id"] != fmt.Sprintf("1111:42:edit:%d", fake.Date+60) || !strings.Contains(fmt.Sprint(m["raw"]), `"edited":true`) {
						t.Fatalf("edit %v", m)
					}
				}},
				{name: "unsupported content", body: fake.Update(8, "message", fake.Message(47, ayse, map[string]any{"dice": map[string]any{"emoji": "🎲", "value": 4}})),
					status: 200, stores: true, check: func(t *testing.T, _ []byte) {
						m := last(conv)
						if m["content_type"] != "unsupported" || !strings.Contains(fmt.Sprint(m["raw"]), `"dice"`) {
							t.Fatalf("unsupported %v", m)
						}
					}},
				{name: "unknown update type skipped", body: fake.Unknown(9, ayse), status: 200},
				{name: "group message skipped", body: fake.Group(10, 7, ayse, -1001234567890, "/destek"), status: 200},
				{name: "invalid JSON", body: []byte(`{"update_id": 11, "message": {`), status: 400, check: func(t *testing.T, body []byte) {
					if !strings.Contains(string(body), "malformed_webhook") {
						t.Fatalf("answer %s", body)
					}
					fails := c.Must(http.StatusOK, "GET", "/api/v1/webhook-failures", nil).JSON()["items"].([]any)
					if len(fails) != 1 || fails[0].(map[string]any)["body"] != `{"update_id": 11, "message": {` {
						t.Fatalf("failures %v", fails)
					}
				}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					before := events()
					var (
						st   int
						body []byte
						err  error
					)
					switch tc.secret {
					case "":
						st, body, err = f.Deliver(tc.body)
					case "-":
						st, body, err = fake.Post(hook, "", tc.body)
					default:
						st, body, err = fake.Post(hook, tc.secret, tc.body)
					}
					if err != nil || st != tc.status {
						t.Fatalf("status %d (%v): %s", st, err, body)
					}
					if after := events(); (after != before) != tc.stores {
						t.Fatalf("events %d → %d", before, after)
					}
					if tc.check != nil {
						tc.check(t, body)
					}
				})
			}
			if t.Failed() {
				return
			}

			t.Run("reply sent after one 500", func(t *testing.T) {
				f.Fail("sendMessage", fake.Failure{Status: 500, Description: "Internal Server Error"})
				reply := "Kargonuz yolda, yarın İstanbul'da 🙏"
				r := c.Must(http.StatusCreated, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": reply}).JSON()
				var m map[string]any
				testutil.Eventually(t, 20*time.Second, func() bool { m = last(conv); return m["status"] != "queued" }, "reply delivered")
				if m["id"] != r["id"] || m["status"] != "sent" || m["provider_id"] != "1111:1001" {
					t.Fatalf("reply %v", m)
				}
				calls := f.Calls("sendMessage")
				if len(calls) != 2 || calls[1].Params["text"] != reply || calls[1].Params["chat_id"] != "1111" {
					t.Fatalf("sendMessage calls %+v", calls)
				}
			})

			t.Run("blocked bot", func(t *testing.T) {
				f.Block(2222)
				if st, body, err := f.Deliver(fake.Text(20, 5, fake.User{ID: 2222, FirstName: "Can"}, "Selam")); err != nil || st != 200 {
					t.Fatalf("%d %v %s", st, err, body)
				}
				var other string
				for _, cv := range convs() {
					if id := cv.(map[string]any)["id"].(string); id != conv {
						other = id
					}
				}
				c.Must(http.StatusCreated, "POST", "/api/v1/conversations/"+other+"/messages", map[string]any{"text": "Merhaba Can"})
				var m map[string]any
				testutil.Eventually(t, 20*time.Second, func() bool { m = last(other); return m["status"] != "queued" }, "reply failed")
				if m["status"] != "failed" || !strings.Contains(fmt.Sprint(m["status_reason"]), "Forbidden: bot was blocked by the user") {
					t.Fatalf("reply to a blocked bot %v", m)
				}
			})
		})
	}
}

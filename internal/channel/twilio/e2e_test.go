package twilio_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/api"
	"github.com/kanal-dev/kanal/internal/channel/twilio"
	faketwilio "github.com/kanal-dev/kanal/internal/fakes/twilio"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

const (
	sid      = "AC0123456789abcdef0123456789abcdef"
	otherSID = "ACffffffffffffffffffffffffffffffff"
	token    = "s3cret-auth-token"
	turkish  = "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"
)

// TestTwilioEndToEnd drives a whole Kanal with the Twilio adapter against
// the fake Twilio: signed webhooks in, replies out, status callbacks back.
func TestTwilioEndToEnd(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			tw := twilio.NewTwilio(nil, "")
			a := testutil.New(t, d, testutil.Options{Adapters: []channel.Adapter{tw, api.NewSender(nil)}})
			tw.PublicURL = a.URL // known once the server runs; set before anything is sent
			w := a.Setup("Mağaza", "owner@example.com")
			c := a.Client(w.Token)
			f := faketwilio.New(t, sid, token)

			ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "twilio", "name": "SMS",
				"config": map[string]any{"account_sid": sid, "auth_token": token, "from": "+908501234567", "api_base_url": f.URL}}).JSON()
			hook := ib["webhook_url"].(string)
			if !strings.HasPrefix(hook, a.URL+"/webhooks/twilio/") {
				t.Fatalf("webhook_url %s", hook)
			}
			test := c.Must(http.StatusOK, "POST", "/api/v1/inboxes/"+ib["id"].(string)+"/test", nil).JSON()
			if test["ok"] != true || test["account"] != "Kanal Test Account (+908501234567)" {
				t.Fatalf("connection test: %v", test)
			}
			events := func() int {
				return len(c.Must(http.StatusOK, "GET", "/api/v1/events?limit=1000", nil).JSON()["items"].([]any))
			}
			items := func(path string) []any {
				return c.Must(http.StatusOK, "GET", path, nil).JSON()["items"].([]any)
			}
			messages := func(conv string) []map[string]any {
				var out []map[string]any
				for _, m := range items("/api/v1/conversations/" + conv + "/messages") {
					out = append(out, m.(map[string]any))
				}
				return out
			}
			post := func(params url.Values) faketwilio.Response {
				t.Helper()
				r, err := f.Post(hook, params)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}

			sms := f.Inbound(faketwilio.Message{From: "+905321234567", Body: turkish})

			t.Run("bad signature", func(t *testing.T) {
				before := events()
				body := faketwilio.Scrambled(sms)
				cases := []struct{ name, sig string }{
					{"none", ""},
					{"garbage", "deadbeef"},
					{"other token", faketwilio.Sign("other-token", hook, sms)},
					{"other URL", faketwilio.Sign(token, hook+"x", sms)},
					{"unsorted", unsortedSign(token, hook, sms)},
				}
				for _, cs := range cases {
					r, err := f.PostRaw(hook, body, cs.sig)
					if err != nil {
						t.Fatal(err)
					}
					if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "bad_signature") {
						t.Fatalf("%s: %d %s", cs.name, r.Status, r.Body)
					}
				}
				if events() != before {
					t.Fatal("a refused call stored something")
				}
			})

			t.Run("unknown account", func(t *testing.T) {
				before := events()
				other := faketwilio.New(t, otherSID, token) // same token, other account
				r, err := other.Post(hook, other.Inbound(faketwilio.Message{From: "+905321234567", Body: "x"}))
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != http.StatusNotFound || !strings.Contains(r.Body, "unknown_account") {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				if events() != before {
					t.Fatal("an unknown account stored something")
				}
			})

			var conv string
			t.Run("sms in Turkish, byte-exact, TwiML answer", func(t *testing.T) {
				r := post(sms)
				if r.Status != http.StatusOK || r.ContentType != "text/xml" || r.Body != twilio.EmptyTwiML {
					t.Fatalf("answer: %d %q %q", r.Status, r.ContentType, r.Body)
				}
				convs := items("/api/v1/conversations")
				if len(convs) != 1 {
					t.Fatalf("%d conversations", len(convs))
				}
				conv = convs[0].(map[string]any)["id"].(string)
				ms := messages(conv)
				if len(ms) != 1 || ms[0]["text"] != turkish || ms[0]["provider_id"] != sms.Get("MessageSid") {
					t.Fatalf("messages: %v", ms)
				}
			})

			t.Run("duplicate MessageSid", func(t *testing.T) {
				before := events()
				if r := post(sms); r.Status != http.StatusOK {
					t.Fatalf("retry: %d %s", r.Status, r.Body)
				}
				if n := len(messages(conv)); n != 1 || events() != before {
					t.Fatalf("%d messages, events %d → %d", n, before, events())
				}
			})

			t.Run("whatsapp and sms from one number are one customer", func(t *testing.T) {
				wa := f.Inbound(faketwilio.Message{From: "whatsapp:+905321234567", Body: "WhatsApp'tan yazıyorum", ProfileName: "Ayşe"})
				if r := post(wa); r.Status != http.StatusOK {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				custs := items("/api/v1/customers")
				if len(custs) != 1 {
					t.Fatalf("%d customers", len(custs))
				}
				cust := c.Must(http.StatusOK, "GET", "/api/v1/customers/"+custs[0].(map[string]any)["id"].(string), nil).JSON()
				ids := fmt.Sprint(cust["identities"])
				if !strings.Contains(ids, "kind:phone") || !strings.Contains(ids, "kind:whatsapp") || cust["name"] != "Ayşe" {
					t.Fatalf("customer: %v", cust)
				}
				if n := len(messages(conv)); n != 2 {
					t.Fatalf("%d messages in the conversation", n)
				}
			})

			t.Run("mms media fetched once and served", func(t *testing.T) {
				msid := "MM" + strings.Repeat("7", 32)
				u1 := f.AddMedia(msid, "image/jpeg", []byte("\xff\xd8\xff JPEG bytes"))
				u2 := f.AddMedia(msid, "application/pdf", []byte("%PDF-1.7 fatura"))
				mms := f.Inbound(faketwilio.Message{SID: msid, From: "+905321234567", Body: "Fatura ve fotoğraf",
					Media: []string{u1, u2}, MediaTypes: []string{"image/jpeg", "application/pdf"}})
				if r := post(mms); r.Status != http.StatusOK {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				var atts []any
				testutil.Eventually(t, 10*time.Second, func() bool {
					ms := messages(conv)
					atts = ms[len(ms)-1]["attachments"].([]any)
					return len(atts) == 2 && atts[0].(map[string]any)["ref"] == nil && atts[1].(map[string]any)["ref"] == nil
				}, "media fetched")
				for i, want := range []string{"\xff\xd8\xff JPEG bytes", "%PDF-1.7 fatura"} {
					att := atts[i].(map[string]any)
					r := c.Must(http.StatusOK, "GET", att["url"].(string), nil)
					if string(r.Body) != want {
						t.Fatalf("media %d: %q", i, r.Body)
					}
				}
				if post(mms).Status != http.StatusOK || f.MediaFetches(u1) != 1 || f.MediaFetches(u2) != 1 {
					t.Fatalf("fetched %d and %d times", f.MediaFetches(u1), f.MediaFetches(u2))
				}
			})

			t.Run("malformed bodies", func(t *testing.T) {
				before := events()
				bad := "MessageSid=SM" + strings.Repeat("9", 32) + "&AccountSid=" + sid + "&From=%2B905321234567&Body=%zz"
				lenient, _ := url.ParseQuery(bad)
				nosid := url.Values{"AccountSid": {sid}, "From": {"+905321234567"}, "Body": {"x"}}
				for _, b := range []struct{ body, sig string }{
					{bad, faketwilio.Sign(token, hook, lenient)},
					{nosid.Encode(), faketwilio.Sign(token, hook, nosid)},
				} {
					r, err := f.PostRaw(hook, b.body, b.sig)
					if err != nil {
						t.Fatal(err)
					}
					if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "malformed_webhook") {
						t.Fatalf("%q: %d %s", b.body, r.Status, r.Body)
					}
				}
				if events() != before {
					t.Fatal("a malformed call stored events")
				}
				fails := items("/api/v1/webhook-failures")
				if len(fails) != 2 || fails[1].(map[string]any)["body"] != bad ||
					fails[1].(map[string]any)["content_type"] != "application/x-www-form-urlencoded" {
					t.Fatalf("failures: %v", fails)
				}
			})

			reply := func(text string) (id, providerID string) {
				t.Helper()
				m := c.Must(http.StatusCreated, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": text}).JSON()
				id = m["id"].(string)
				testutil.Eventually(t, 20*time.Second, func() bool {
					for _, x := range messages(conv) {
						if x["id"] == id && x["status"] == "sent" {
							providerID, _ = x["provider_id"].(string)
							return true
						}
					}
					return false
				}, "reply sent")
				return id, providerID
			}
			status := func(id string) (string, string) {
				for _, x := range messages(conv) {
					if x["id"] == id {
						return x["status"].(string), x["status_reason"].(string)
					}
				}
				return "", ""
			}

			var first, firstSID string
			t.Run("reply reaches sent after one 500", func(t *testing.T) {
				n := len(f.Sent())
				f.Fail(faketwilio.Failure{Status: 500})
				first, firstSID = reply(turkish)
				sent := f.Sent()[n:]
				if len(sent) != 2 || sent[0].Status != 500 || sent[1].SID != firstSID {
					t.Fatalf("calls: %+v (provider id %s)", sent, firstSID)
				}
				form := sent[1].Form
				if form.Get("Body") != turkish || form.Get("To") != "+905321234567" || form.Get("From") != "+908501234567" ||
					form.Get("StatusCallback") != hook || sent[1].User != sid || sent[1].Password != token {
					t.Fatalf("form %v, auth %s:%s", form, sent[1].User, sent[1].Password)
				}
			})

			t.Run("status callbacks in scrambled order", func(t *testing.T) {
				if err := f.Report(firstSID, "delivered", "sent", "queued", "sending"); err != nil {
					t.Fatal(err)
				}
				if st, _ := status(first); st != "delivered" {
					t.Fatalf("after delivered, sent: %s", st)
				}
				second, secondSID := reply("İkinci cevap")
				if err := f.Report(secondSID, "failed", "delivered"); err != nil {
					t.Fatal(err)
				}
				if st, _ := status(second); st != "delivered" {
					t.Fatalf("after failed, delivered: %s", st)
				}
				third, thirdSID := reply("Üçüncü cevap")
				if err := f.Report(thirdSID, "sending", "undelivered", "sent"); err != nil {
					t.Fatal(err)
				}
				if st, reason := status(third); st != "failed" || reason != "ErrorCode 30003: Unreachable destination handset" {
					t.Fatalf("after undelivered: %s %q", st, reason)
				}
				// A report about a message Kanal never sent is ignored.
				if r := post(f.StatusCallback("SM"+strings.Repeat("0", 32), "delivered", 0, "")); r.Status != http.StatusOK {
					t.Fatalf("unknown sid: %d %s", r.Status, r.Body)
				}
			})
		})
	}
}

// unsortedSign signs the parameters in the order the fake scrambles them
// (reverse), the mistake the sorting rule exists to catch.
func unsortedSign(token, u string, params url.Values) string {
	q, _ := url.ParseQuery(faketwilio.Scrambled(params))
	var b strings.Builder
	b.WriteString(u)
	for _, kv := range strings.Split(faketwilio.Scrambled(params), "&") {
		k, _, _ := strings.Cut(kv, "=")
		k, _ = url.QueryUnescape(k)
		b.WriteString(k + q.Get(k))
	}
	return twilio.Signature(token, b.String(), nil)
}

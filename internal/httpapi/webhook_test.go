package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/app"
	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

// fakeAdapter is a provider with a tiny wire format, for testing the webhook
// machinery itself: {"account":"...","messages":[{"id","from","text"}],
// "statuses":[{"id","status"}],"moves":[{"from","to"}]}, signed with
// X-Fake-Signature: hex HMAC-SHA256 of the body with the inbox's secret.
type fakeAdapter struct{}

func (fakeAdapter) Type() inbox.Type {
	return inbox.Type{Name: "fake", SecretKeys: []string{"secret"}, Webhook: true,
		Validate: func(cfg map[string]any, sec map[string]string) error {
			if sec["secret"] == "" {
				return errs.Invalid("secret", "is required")
			}
			return nil
		}}
}

func (fakeAdapter) Send(ctx context.Context, o channel.Outbound) (string, error) {
	return "fake-out-1", nil
}

func (fakeAdapter) Verify(in inbox.Inbox, r *http.Request, publicURL string, body []byte) error {
	m := hmac.New(sha256.New, []byte(in.Secrets["secret"]))
	m.Write(body)
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(r.Header.Get("X-Fake-Signature"))) {
		return channel.ErrBadSignature
	}
	return nil
}

func (fakeAdapter) FetchMedia(ctx context.Context, in inbox.Inbox, ref string) (channel.Media, error) {
	if ref == "gone" {
		return channel.Media{}, errs.New(errs.ErrNotFound, "gone", "expired")
	}
	return channel.Media{Body: io.NopCloser(strings.NewReader("JPEG:" + ref)), ContentType: "image/jpeg"}, nil
}

func (fakeAdapter) Challenge(in inbox.Inbox, r *http.Request) (int, string) {
	if r.URL.Query().Get("token") != in.Secrets["secret"] {
		return http.StatusForbidden, "no"
	}
	return http.StatusOK, r.URL.Query().Get("challenge")
}

func (fakeAdapter) Parse(in inbox.Inbox, r *http.Request, body []byte) (channel.Batch, error) {
	var p struct {
		Account  string
		Messages []struct{ ID, From, Text, Media string }
		Statuses []struct{ ID, Status string }
		Moves    []struct{ From, To string }
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return channel.Batch{}, err
	}
	if acct, _ := in.Config["account"].(string); p.Account != acct {
		return channel.Batch{}, channel.ErrUnknownAccount
	}
	var b channel.Batch
	for _, m := range p.Messages {
		msg := channel.Message{ProviderID: m.ID, Text: m.Text,
			Claims: []customer.Claim{{Kind: customer.KindPhone, Value: m.From}}}
		if m.Media != "" {
			msg.ContentType = "image"
			msg.Attachments = []conversation.Attachment{{Ref: m.Media, FileName: "foto.jpg", ContentType: "image/jpeg"}}
		}
		b.Messages = append(b.Messages, msg)
	}
	for _, s := range p.Statuses {
		b.Statuses = append(b.Statuses, channel.Status{ProviderMessageID: s.ID, Status: s.Status})
	}
	for _, mv := range p.Moves {
		b.Identities = append(b.Identities, channel.IdentityChange{Kind: customer.KindPhone, Old: mv.From, New: mv.To})
	}
	return b, nil
}

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestWebhookMachinery(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			a := testutil.New(t, d, testutil.Options{Adapters: append(app.Adapters(""), fakeAdapter{})})
			w := a.Setup("Mağaza", "owner@example.com")
			c := a.Client(w.Token)
			ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "fake", "name": "Fake",
				"config": map[string]any{"account": "acct-1", "secret": "s3cret"}}).JSON()
			hook := ib["webhook_url"].(string)
			path := strings.TrimPrefix(hook, a.URL)
			if !strings.HasPrefix(path, "/webhooks/fake/") {
				t.Fatalf("webhook_url %s", hook)
			}
			post := func(body, sig string) testutil.Response {
				return a.Client("").Do("POST", path, body, "X-Fake-Signature", sig)
			}
			events := func() int {
				return len(c.Must(http.StatusOK, "GET", "/api/v1/events?limit=1000", nil).JSON()["items"].([]any))
			}

			// The provider's GET check.
			anon := a.Client("")
			if r := anon.Do("GET", path+"?token=s3cret&challenge=42", nil); r.Status != 200 || string(r.Body) != "42" {
				t.Fatalf("challenge: %d %s", r.Status, r.Body)
			}
			if r := anon.Do("GET", path+"?token=wrong&challenge=42", nil); r.Status != http.StatusForbidden {
				t.Fatalf("bad verify token: %d", r.Status)
			}

			msg := `{"account":"acct-1","messages":[{"id":"p-1","from":"+905321234567","text":"Merhaba"},{"id":"p-2","from":"+905321234567","text":"Orada mısınız?"}]}`
			before := events()
			if r := post(msg, "deadbeef"); r.Status != http.StatusUnauthorized || r.ErrorCode() != "bad_signature" {
				t.Fatalf("bad signature: %d %s", r.Status, r.Body)
			}
			if r := post(msg, sign("s3cret", msg)+"00"); r.Status != http.StatusUnauthorized {
				t.Fatalf("extended signature: %d", r.Status)
			}
			if events() != before {
				t.Fatal("a refused call must store nothing")
			}
			if r := a.Client("").Do("POST", "/webhooks/fake/nosuchkey", msg, "X-Fake-Signature", sign("s3cret", msg)); r.Status != http.StatusNotFound {
				t.Fatalf("unknown key: %d", r.Status)
			}
			other := strings.Replace(msg, "acct-1", "acct-2", 1)
			if r := post(other, sign("s3cret", other)); r.Status != http.StatusNotFound || r.ErrorCode() != "unknown_account" {
				t.Fatalf("unknown account: %d %s", r.Status, r.Body)
			}
			if events() != before {
				t.Fatal("an unknown account must store nothing")
			}

			// Both messages in one call, one conversation; a retry stores nothing.
			if r := post(msg, sign("s3cret", msg)); r.Status != http.StatusOK {
				t.Fatalf("webhook: %d %s", r.Status, r.Body)
			}
			convs := c.Must(http.StatusOK, "GET", "/api/v1/conversations", nil).JSON()["items"].([]any)
			if len(convs) != 1 {
				t.Fatalf("%d conversations", len(convs))
			}
			conv := convs[0].(map[string]any)["id"].(string)
			after := events()
			if r := post(msg, sign("s3cret", msg)); r.Status != http.StatusOK || events() != after {
				t.Fatalf("retry: %d, events %d → %d", r.Status, after, events())
			}
			msgs := c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages", nil).JSON()["items"].([]any)
			if len(msgs) != 2 {
				t.Fatalf("%d messages", len(msgs))
			}

			// A reply goes out; delivery reports in any order end at read.
			reply := c.Must(http.StatusCreated, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": "Buradayız"}).JSON()
			testutil.Eventually(t, 10*time.Second, func() bool {
				m := c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages", nil).JSON()["items"].([]any)
				return m[len(m)-1].(map[string]any)["status"] == "sent"
			}, "reply sent")
			st := `{"account":"acct-1","statuses":[{"id":"fake-out-1","status":"read"},{"id":"fake-out-1","status":"delivered"},{"id":"unknown","status":"read"}]}`
			if r := post(st, sign("s3cret", st)); r.Status != http.StatusOK {
				t.Fatalf("statuses: %d %s", r.Status, r.Body)
			}
			m := c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages", nil).JSON()["items"].([]any)
			if last := m[len(m)-1].(map[string]any); last["id"] != reply["id"] || last["status"] != "read" {
				t.Fatalf("after reports: %v", last)
			}

			// The customer changed their number.
			mv := `{"account":"acct-1","moves":[{"from":"+905321234567","to":"+905329999999"}]}`
			if r := post(mv, sign("s3cret", mv)); r.Status != http.StatusOK {
				t.Fatalf("move: %d %s", r.Status, r.Body)
			}
			found := c.Must(http.StatusOK, "GET", "/api/v1/customers?q=5329999999", nil).JSON()["items"].([]any)
			cust := c.Must(http.StatusOK, "GET", "/api/v1/customers/"+found[0].(map[string]any)["id"].(string), nil).JSON()
			if ids := fmt.Sprint(cust["identities"]); !strings.Contains(ids, "+905329999999") || strings.Contains(ids, "+905321234567") {
				t.Fatalf("identities after the move: %s", ids)
			}

			// Media arrive by reference and are fetched once, then served by Kanal.
			pic := `{"account":"acct-1","messages":[{"id":"p-3","from":"+905329999999","text":"","media":"m-77"}]}`
			if r := post(pic, sign("s3cret", pic)); r.Status != http.StatusOK {
				t.Fatalf("media message: %d %s", r.Status, r.Body)
			}
			var att map[string]any
			testutil.Eventually(t, 10*time.Second, func() bool {
				m := c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages", nil).JSON()["items"].([]any)
				atts := m[len(m)-1].(map[string]any)["attachments"].([]any)
				att = atts[0].(map[string]any)
				return att["ref"] == nil
			}, "media fetched")
			u := att["url"].(string)
			if r := c.Must(http.StatusOK, "GET", u, nil); string(r.Body) != "JPEG:m-77" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("media: %q %v", r.Body, r.Header)
			}
			if att["size"] != float64(len("JPEG:m-77")) || att["sha256"] == "" {
				t.Fatalf("attachment: %v", att)
			}
			if r := a.Client("").Do("GET", u, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("media without credentials: %d", r.Status)
			}

			// A body that cannot be read: 400, kept for inspection, nothing else stored.
			bad := `{"account": "acct-1", "messages": [`
			n := events()
			if r := post(bad, sign("s3cret", bad)); r.Status != http.StatusBadRequest || r.ErrorCode() != "malformed_webhook" {
				t.Fatalf("malformed: %d %s", r.Status, r.Body)
			}
			if events() != n {
				t.Fatal("a malformed call must store no events")
			}
			fails := c.Must(http.StatusOK, "GET", "/api/v1/webhook-failures", nil).JSON()["items"].([]any)
			if len(fails) != 1 || fails[0].(map[string]any)["body"] != bad {
				t.Fatalf("failures: %v", fails)
			}
		})
	}
}

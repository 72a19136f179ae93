package telegram

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testInbox() inbox.Inbox {
	return inbox.Inbox{ID: "ib1", Type: TypeName, Config: map[string]any{},
		Secrets: map[string]string{"bot_token": "123:TEST", "secret_token": "s3cret-Token_1"}}
}

func TestVerify(t *testing.T) {
	a := New(nil)
	in := testInbox()
	for _, tc := range []struct {
		name, header string
		set          bool
		ok           bool
	}{
		{"right", "s3cret-Token_1", true, true},
		{"missing", "", false, false},
		{"empty", "", true, false},
		{"wrong", "s3cret-Token_2", true, false},
		{"prefix", "s3cret-Token_", true, false},
		{"longer", "s3cret-Token_1x", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/webhooks/telegram/k", nil)
			if tc.set {
				r.Header.Set(SecretHeader, tc.header)
			}
			err := a.Verify(in, r, "https://kanal.example", []byte(`{}`))
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, channel.ErrBadSignature)) {
				t.Fatalf("err %v", err)
			}
		})
	}
	noSecret := testInbox()
	delete(noSecret.Secrets, "secret_token")
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set(SecretHeader, "")
	if err := a.Verify(noSecret, r, "", nil); !errors.Is(err, channel.ErrBadSignature) {
		t.Fatalf("an inbox without secret must refuse everything: %v", err)
	}
}

func TestParse(t *testing.T) {
	type want struct {
		skip        bool
		providerID  string
		contentType string
		text        string
		name        string
		ref         string
		mime        string
		fileName    string
		size        int64
		raw         []string // substrings of Raw; nil: Raw empty
		at          int64
		answer      bool // the webhook answer carries answerCallbackQuery
	}
	cases := []struct {
		file string
		want want
	}{
		{"text.json", want{providerID: "1111:42", contentType: "text", text: "Siparişim nerede?", name: "Ayşe", at: 1739321024}},
		{"turkish.json", want{providerID: "1111:43", contentType: "text", text: "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏", name: "Ayşe Yılmaz", at: 1739321030}},
		{"photo.json", want{providerID: "1111:44", contentType: "image", text: "Kutu ezik geldi", name: "Ayşe", ref: "AgACAgIAAxkBAAIBs-large", mime: "image/jpeg", size: 98213, at: 1739321040}},
		{"document.json", want{providerID: "1111:45", contentType: "document", name: "Ayşe", ref: "BQACAgIAAxkBAAIBt", mime: "application/pdf", fileName: "fatura-2025-02.pdf", size: 48211, at: 1739321050}},
		{"voice.json", want{providerID: "1111:46", contentType: "audio", name: "Ayşe", ref: "AwACAgIAAxkBAAIBu", mime: "audio/ogg", size: 12044, at: 1739321060}},
		{"video.json", want{providerID: "1111:47", contentType: "video", text: "Açarken", name: "Ayşe", ref: "BAACAgIAAxkBAAIBv", mime: "video/mp4", fileName: "kutu.mp4", size: 1048576, at: 1739321070}},
		{"sticker.json", want{providerID: "1111:48", contentType: "sticker", text: "👍", name: "Ayşe", ref: "CAACAgIAAxkBAAIBw", mime: "image/webp", size: 23004, at: 1739321080}},
		{"location.json", want{providerID: "1111:49", contentType: "location", text: "📍 41.008238,28.978359", name: "Ayşe",
			raw: []string{`"latitude":41.008238`}, at: 1739321090}},
		{"venue.json", want{providerID: "1111:50", contentType: "location", text: "📍 41.0369,28.985\nTaksim Meydanı, Beyoğlu, İstanbul", name: "Ayşe",
			raw: []string{`"title":"Taksim Meydanı"`}, at: 1739321100}},
		{"contact.json", want{providerID: "1111:51", contentType: "contacts", text: "👤 Mehmet Öztürk, +905321234567", name: "Ayşe",
			raw: []string{`"phone_number":"+905321234567"`, `"user_id":2222`}, at: 1739321110}},
		{"edited_message.json", want{providerID: "1111:42:edit:1739321200", contentType: "text", text: "Siparişim nerede? (No: 1042)", name: "Ayşe",
			raw: []string{`"edited":true`, `"original_provider_id":"1111:42"`, `"edit_date":1739321200`}, at: 1739321200}},
		{"live_location.json", want{skip: true}},
		{"callback_query.json", want{providerID: "cb:4382bfdwdsb323b2d9", contentType: "interactive", text: "iade_talebi", name: "Ayşe",
			raw: []string{`"data":"iade_talebi"`}, answer: true}},
		{"my_chat_member.json", want{skip: true}},
		{"group_message.json", want{skip: true}},
		{"poll.json", want{providerID: "1111:53", contentType: "unsupported", name: "Ayşe", raw: []string{`"poll":{"id":"5834713271"`}, at: 1739321700}},
		{"business_message.json", want{providerID: "1111:54:business_message", contentType: "unsupported", text: "İşletme hesabına yazıyorum", name: "Ayşe",
			raw: []string{`"business_connection_id":"AbCdEf123"`, `"update_id":912345694`}, at: 1739321800}},
	}
	a := New(nil)
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			body := fixture(t, tc.file)
			b, err := a.Parse(testInbox(), httptest.NewRequest("POST", "/", nil), body)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if w.skip {
				if len(b.Messages) != 0 || b.Reply != nil {
					t.Fatalf("want skipped, got %+v", b)
				}
				return
			}
			if len(b.Messages) != 1 {
				t.Fatalf("%d messages", len(b.Messages))
			}
			m := b.Messages[0]
			if m.ProviderID != w.providerID || m.ContentType != w.contentType || m.Text != w.text {
				t.Fatalf("got id %q type %q text %q", m.ProviderID, m.ContentType, m.Text)
			}
			if len(m.Claims) != 1 || m.Claims[0].Kind != customer.KindTelegram || m.Claims[0].Value != "1111" {
				t.Fatalf("claims %+v (a shared contact's phone is never the sender's)", m.Claims)
			}
			if m.Profile.Name != w.name || m.Profile.Phone != "" {
				t.Fatalf("profile %+v", m.Profile)
			}
			if w.ref == "" && len(m.Attachments) != 0 {
				t.Fatalf("attachments %+v", m.Attachments)
			}
			if w.ref != "" {
				if len(m.Attachments) != 1 {
					t.Fatalf("attachments %+v", m.Attachments)
				}
				at := m.Attachments[0]
				if at.Ref != w.ref || at.ContentType != w.mime || at.FileName != w.fileName || at.Size != w.size || at.URL != "" {
					t.Fatalf("attachment %+v", at)
				}
			}
			if w.raw == nil && m.Raw != "" {
				t.Fatalf("raw %s", m.Raw)
			}
			for _, s := range w.raw {
				if !strings.Contains(m.Raw, s) {
					t.Fatalf("raw %s lacks %s", m.Raw, s)
				}
			}
			if m.Raw != "" && !json.Valid([]byte(m.Raw)) {
				t.Fatalf("raw is not JSON: %s", m.Raw)
			}
			if w.at == 0 && !m.At.IsZero() || w.at != 0 && !m.At.Equal(time.Unix(w.at, 0)) {
				t.Fatalf("at %v", m.At)
			}
			if w.answer != (b.Reply != nil) {
				t.Fatalf("reply set: %v", b.Reply != nil)
			}
			if b.Reply != nil {
				rec := httptest.NewRecorder()
				b.Reply(rec)
				var ans map[string]string
				_ = json.Unmarshal(rec.Body.Bytes(), &ans)
				if rec.Code != http.StatusOK || ans["method"] != "answerCallbackQuery" || ans["callback_query_id"] != "4382bfdwdsb323b2d9" {
					t.Fatalf("answer %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	a := New(nil)
	for _, tc := range []struct{ name, body string }{
		{"not json", `{"update_id": 1, "message": {`},
		{"array", `[1,2]`},
		{"no update_id", `{"message":{"message_id":1,"chat":{"id":1,"type":"private"},"from":{"id":1},"text":"a"}}`},
		{"update_id not a number", `{"update_id":"x"}`},
		{"message not an object", `{"update_id":1,"message":"hi"}`},
		{"message without ids", `{"update_id":1,"message":{"text":"a"}}`},
		{"callback without from", `{"update_id":1,"callback_query":{"id":"q"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := a.Parse(testInbox(), httptest.NewRequest("POST", "/", nil), []byte(tc.body)); err == nil || errors.Is(err, channel.ErrUnknownAccount) {
				t.Fatalf("want a malformed error, got %v", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := map[string]string{"bot_token": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "secret_token": "abcDEF_123-x"}
	with := func(k, v string) map[string]string {
		s := map[string]string{}
		for a, b := range ok {
			s[a] = b
		}
		if v == "" {
			delete(s, k)
		} else {
			s[k] = v
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		cfg     map[string]any
		secrets map[string]string
		field   string // "" = valid
	}{
		{"minimal", map[string]any{}, ok, ""},
		{"all keys", map[string]any{"api_base_url": "http://127.0.0.1:8081", "set_webhook": true}, ok, ""},
		{"no token", map[string]any{}, with("bot_token", ""), "bot_token"},
		{"token with a path", map[string]any{}, with("bot_token", "123:abc/../x"), "bot_token"},
		{"secret too long", map[string]any{}, with("secret_token", strings.Repeat("a", 257)), "secret_token"},
		{"secret with a dot", map[string]any{}, with("secret_token", "a.b"), "secret_token"},
		{"no secret", map[string]any{}, with("secret_token", ""), "secret_token"},
		{"base url", map[string]any{"api_base_url": "ftp://x"}, ok, "api_base_url"},
		{"set_webhook string", map[string]any{"set_webhook": "yes"}, ok, "set_webhook"},
		{"unknown key", map[string]any{"webhook_url": "x"}, ok, "webhook_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validate(tc.cfg, tc.secrets)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("want an error on %s, got %v", tc.field, err)
			}
		})
	}
	// Kanal's generated secrets (hex) are valid secret_tokens.
	if !secretRE.MatchString(strings.Repeat("0f", 32)) {
		t.Fatal("a generated secret must be accepted")
	}
}

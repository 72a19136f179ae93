package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	fake "github.com/kanal-dev/kanal/internal/fakes/whatsapp"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

const (
	testPNID   = "106540352242922"
	testSecret = "test-app-secret"
	turkish    = "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"
	opaqueID   = "0195f3a2-7c1e-7b3d-9a4f-2b6c8d0e1f23"
	outWamid   = "wamid.HBgMOTA1MzIxMjM0NTY3FQIAERgSMDFBQkNERUYwMTIzNDU2Nzg5AA=="
	hexOfTest  = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")
)

func testInbox(extra map[string]any) inbox.Inbox {
	in := inbox.Inbox{ID: "ib1", Type: TypeName, Config: map[string]any{KeyPhoneNumberID: testPNID},
		Secrets: map[string]string{KeyAccessToken: "test-access-token", KeyAppSecret: testSecret, KeyVerifyToken: "verify-me"}}
	for k, v := range extra {
		in.Config[k] = v
	}
	return in
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	claims := Claims("905321234567")
	att := func(ref, ctype, name, sum string) []conversation.Attachment {
		return []conversation.Attachment{{Ref: ref, ContentType: ctype, FileName: name, SHA256: sum}}
	}
	type want struct {
		contentType string
		text        string
		attachments []conversation.Attachment
		raw         bool // Raw is the message's JSON as received
	}
	cases := []struct {
		name       string
		file       string
		msg        *want
		statuses   []channel.Status
		identities []channel.IdentityChange
		err        error // errors.Is; nil: no error
	}{
		{name: "text in Meta's escaped form", file: "text.json", msg: &want{contentType: "text", text: turkish}},
		{name: "image with url and base64 sha256", file: "image.json", msg: &want{contentType: "image", text: "Kargo fişi",
			attachments: att("1479537139650973", "image/jpeg", "image.jpg", hexOfTest)}},
		{name: "document keeps its file name", file: "document.json", msg: &want{contentType: "document", text: "Fatura",
			attachments: att("2208478982863150", "application/pdf", "fatura-2026-03.pdf", hexOfTest)}},
		{name: "voice note", file: "audio.json", msg: &want{contentType: "audio",
			attachments: att("1003383421387256", "audio/ogg; codecs=opus", "audio.ogg", hexOfTest)}},
		{name: "video with caption", file: "video.json", msg: &want{contentType: "video", text: "Kutu hasarlı geldi",
			attachments: att("1166846181421424", "video/mp4", "video.mp4", hexOfTest)}},
		{name: "sticker", file: "sticker.json", msg: &want{contentType: "sticker",
			attachments: att("1228459555076545", "image/webp", "sticker.webp", hexOfTest)}},
		{name: "location", file: "location.json", msg: &want{contentType: "location", raw: true,
			text: "Taksim Mağaza\nTaksim Meydanı, Beyoğlu, İstanbul\n41.037, 28.985\nhttps://maps.example.com/taksim"}},
		{name: "contacts", file: "contacts.json", msg: &want{contentType: "contacts", raw: true,
			text: "Mehmet Öztürk, +90 532 765 43 21, mehmet@example.com"}},
		{name: "interactive button reply", file: "interactive_button.json", msg: &want{contentType: "interactive", raw: true, text: "Evet, iptal et"}},
		{name: "interactive list reply", file: "interactive_list.json", msg: &want{contentType: "interactive", raw: true, text: "Kargo takibi\nSiparişim nerede?"}},
		{name: "template quick-reply button", file: "button.json", msg: &want{contentType: "interactive", raw: true, text: "Kampanyaları durdur"}},
		{name: "reaction", file: "reaction.json", msg: &want{contentType: "reaction", raw: true, text: "👍"}},
		{name: "unknown type is kept as unsupported", file: "order.json", msg: &want{contentType: "unsupported", raw: true}},
		{name: "WhatsApp's unsupported type", file: "unsupported.json", msg: &want{contentType: "unsupported", raw: true}},
		{name: "user changed number moves phone and whatsapp", file: "system_changed_number.json", identities: []channel.IdentityChange{
			{Kind: customer.KindPhone, Old: "+905321234567", New: "+905329999999"},
			{Kind: customer.KindWhatsApp, Old: "905321234567", New: "905329999999"}}},
		{name: "sent", file: "status_sent.json", statuses: []channel.Status{{ProviderMessageID: outWamid, MessageID: opaqueID, Status: "sent"}}},
		{name: "delivered", file: "status_delivered.json", statuses: []channel.Status{{ProviderMessageID: outWamid, MessageID: opaqueID, Status: "delivered"}}},
		{name: "read", file: "status_read.json", statuses: []channel.Status{{ProviderMessageID: outWamid, MessageID: opaqueID, Status: "read"}}},
		{name: "failed with its reason", file: "status_failed.json", statuses: []channel.Status{{ProviderMessageID: outWamid, MessageID: opaqueID,
			Status: "failed", Reason: "131026: Message undeliverable (Message Undeliverable.)"}}},
		{name: "top-level errors are ignored", file: "errors.json"},
		{name: "other fields are skipped", file: "mixed_fields.json", msg: &want{contentType: "text", text: "Merhaba"}},
		{name: "another business number", file: "other_number.json", err: channel.ErrUnknownAccount},
	}
	a := New(nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := fixture(t, c.file)
			b, err := a.Parse(testInbox(nil), httptest.NewRequest("POST", "/", nil), body)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.Statuses, c.statuses) {
				t.Errorf("statuses %+v, want %+v", b.Statuses, c.statuses)
			}
			if !reflect.DeepEqual(b.Identities, c.identities) {
				t.Errorf("identities %+v, want %+v", b.Identities, c.identities)
			}
			if c.msg == nil {
				if len(b.Messages) != 0 {
					t.Fatalf("messages %+v, want none", b.Messages)
				}
				return
			}
			if len(b.Messages) != 1 {
				t.Fatalf("%d messages", len(b.Messages))
			}
			m := b.Messages[0]
			if m.ContentType != c.msg.contentType || m.Text != c.msg.text {
				t.Errorf("got %s %q, want %s %q", m.ContentType, m.Text, c.msg.contentType, c.msg.text)
			}
			if !reflect.DeepEqual(m.Attachments, c.msg.attachments) {
				t.Errorf("attachments %+v, want %+v", m.Attachments, c.msg.attachments)
			}
			if !strings.HasPrefix(m.ProviderID, "wamid.") || !reflect.DeepEqual(m.Claims, claims) || m.Profile.Name != "Ayşe Yılmaz" {
				t.Errorf("id %q claims %+v profile %+v", m.ProviderID, m.Claims, m.Profile)
			}
			if !m.At.Equal(time.Unix(1739321024, 0)) {
				t.Errorf("at %v", m.At)
			}
			if c.msg.raw {
				if !json.Valid([]byte(m.Raw)) || !bytes.Contains(body, []byte(m.Raw)) {
					t.Errorf("raw %q is not the message as received", m.Raw)
				}
			} else if m.Raw != "" {
				t.Errorf("raw %q", m.Raw)
			}
		})
	}
}

func TestParseRefusals(t *testing.T) {
	a := New(nil)
	text := fixture(t, "text.json")
	cases := []struct {
		name    string
		in      inbox.Inbox
		body    string
		unknown bool // ErrUnknownAccount rather than malformed
	}{
		{name: "invalid JSON", in: testInbox(nil), body: `{"object":"whatsapp_business_account","entry":[`},
		{name: "not a WhatsApp object", in: testInbox(nil), body: `{"object":"page","entry":[]}`},
		{name: "message without id", in: testInbox(nil), body: strings.Replace(string(text), `"id":"wamid.`, `"xid":"wamid.`, 1)},
		{name: "another WABA when waba_id is set", in: testInbox(map[string]any{KeyWABAID: "555"}), body: string(text), unknown: true},
		{name: "missing metadata", in: testInbox(nil), body: strings.Replace(string(text), testPNID, "", 1), unknown: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Parse(c.in, httptest.NewRequest("POST", "/", nil), []byte(c.body))
			if err == nil || errors.Is(err, channel.ErrUnknownAccount) != c.unknown {
				t.Fatalf("err %v, unknown account wanted: %v", err, c.unknown)
			}
		})
	}
	if _, err := a.Parse(testInbox(map[string]any{KeyWABAID: "102290129340398"}), httptest.NewRequest("POST", "/", nil), text); err != nil {
		t.Fatalf("matching waba_id: %v", err)
	}
}

func TestVerify(t *testing.T) {
	a := New(nil)
	body := fixture(t, "text.json")
	// The same JSON with the characters unescaped: what a re-encoder makes.
	var v any
	_ = json.Unmarshal(body, &v)
	reencoded, _ := json.Marshal(v)
	good := Sign(testSecret, body)
	cases := []struct {
		name string
		in   inbox.Inbox
		body []byte
		sig  string
		ok   bool
	}{
		{name: "good", in: testInbox(nil), body: body, sig: good, ok: true},
		{name: "upper-case hex", in: testInbox(nil), body: body, sig: "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), ok: true},
		{name: "missing", in: testInbox(nil), body: body},
		{name: "other secret", in: testInbox(nil), body: body, sig: Sign("other", body)},
		{name: "extended", in: testInbox(nil), body: body, sig: good + "00"},
		{name: "no prefix", in: testInbox(nil), body: body, sig: strings.TrimPrefix(good, "sha256=")},
		{name: "sha1 header value", in: testInbox(nil), body: body, sig: "sha1=" + strings.TrimPrefix(good, "sha256=")},
		{name: "re-encoded body", in: testInbox(nil), body: reencoded, sig: good},
		{name: "inbox without app secret", in: inbox.Inbox{Config: map[string]any{}, Secrets: map[string]string{}}, body: body, sig: Sign("", body)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			if c.sig != "" {
				r.Header.Set(SignatureHeader, c.sig)
			}
			err := a.Verify(c.in, r, "https://kanal.example.com", c.body)
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, channel.ErrBadSignature)) {
				t.Fatalf("err %v, want ok=%v", err, c.ok)
			}
		})
	}
	if !bytes.Equal(body, fixture(t, "text.json")) {
		t.Fatal("the body changed")
	}
	if fake.Sign(testSecret, body) != good {
		t.Fatal("the fake signs differently")
	}
}

func TestChallenge(t *testing.T) {
	a := New(nil)
	cases := []struct {
		name, query string
		status      int
		body        string
	}{
		{"good", "hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", 200, "1158201444"},
		{"wrong token", "hub.mode=subscribe&hub.verify_token=verify-mf&hub.challenge=1158201444", 403, "forbidden"},
		{"token prefix", "hub.mode=subscribe&hub.verify_token=verify&hub.challenge=1", 403, "forbidden"},
		{"no token", "hub.mode=subscribe&hub.challenge=1", 403, "forbidden"},
		{"wrong mode", "hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1", 403, "forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body := a.Challenge(testInbox(nil), httptest.NewRequest("GET", "/?"+c.query, nil))
			if st != c.status || body != c.body {
				t.Fatalf("%d %q", st, body)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	typ := New(nil).Type()
	if typ.Name != "whatsapp" || !typ.Webhook || typ.ReplyWindow != 24*time.Hour ||
		!reflect.DeepEqual(typ.Reach, []string{customer.KindWhatsApp, customer.KindPhone}) {
		t.Fatalf("type %+v", typ)
	}
	secrets := map[string]string{KeyAccessToken: "t", KeyAppSecret: "s", KeyVerifyToken: "v"}
	cases := []struct {
		name    string
		cfg     map[string]any
		secrets map[string]string
		bad     []string
	}{
		{name: "minimal", cfg: map[string]any{KeyPhoneNumberID: testPNID}, secrets: secrets},
		{name: "everything", cfg: map[string]any{KeyPhoneNumberID: testPNID, KeyWABAID: "102290129340398", KeyAPIBaseURL: "http://127.0.0.1:9/v21.0"}, secrets: secrets},
		{name: "nothing", cfg: map[string]any{}, secrets: map[string]string{}, bad: []string{KeyPhoneNumberID, KeyAccessToken, KeyAppSecret, KeyVerifyToken}},
		{name: "number as a JSON number", cfg: map[string]any{KeyPhoneNumberID: 106540352242922.0}, secrets: secrets, bad: []string{KeyPhoneNumberID}},
		{name: "bad base URL", cfg: map[string]any{KeyPhoneNumberID: testPNID, KeyAPIBaseURL: "graph.facebook.com"}, secrets: secrets, bad: []string{KeyAPIBaseURL}},
		{name: "bad waba id", cfg: map[string]any{KeyPhoneNumberID: testPNID, KeyWABAID: "abc"}, secrets: secrets, bad: []string{KeyWABAID}},
		{name: "unknown key", cfg: map[string]any{KeyPhoneNumberID: testPNID, "token": "x"}, secrets: secrets, bad: []string{"token"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := typ.Validate(c.cfg, c.secrets)
			if len(c.bad) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var v *errs.Validation
			if !errors.As(err, &v) {
				t.Fatalf("err %v", err)
			}
			for _, k := range c.bad {
				if v.Fields[k] == "" {
					t.Errorf("%s not named: %v", k, v.Fields)
				}
			}
			if len(v.Fields) != len(c.bad) {
				t.Errorf("fields %v", v.Fields)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	id := "0195f3a2-0000-7000-8000-000000000001"
	long := strings.Repeat("ş", MaxTextChars+1)
	tmpl, _ := json.Marshal(conversation.Template{Name: "siparis_guncelleme", Language: "tr", Params: []string{"Ayşe", "KN-1042"}})
	cases := []struct {
		name  string
		msg   conversation.Message
		types []string
		check func(t *testing.T, out []outMessage)
		err   string
	}{
		{name: "text byte for byte", msg: conversation.Message{Text: turkish + "\n"}, types: []string{"text"}, check: func(t *testing.T, out []outMessage) {
			if out[0].Text.Body != turkish+"\n" || out[0].Text.PreviewURL {
				t.Errorf("%+v", out[0].Text)
			}
		}},
		{name: "4096 characters are fine", msg: conversation.Message{Text: long[len("ş"):]}, types: []string{"text"}},
		{name: "longer text is refused", msg: conversation.Message{Text: long}, err: "at most 4096"},
		{name: "link preview", msg: conversation.Message{Text: "Takip: https://kargo.example.com/KN-1042"}, types: []string{"text"}, check: func(t *testing.T, out []outMessage) {
			if !out[0].Text.PreviewURL {
				t.Error("no preview")
			}
		}},
		{name: "template with body parameters", msg: conversation.Message{ContentType: "template", Raw: string(tmpl), Text: "siparis_guncelleme"},
			types: []string{"template"}, check: func(t *testing.T, out []outMessage) {
				b, _ := json.Marshal(out[0].Template)
				want := `{"name":"siparis_guncelleme","language":{"code":"tr"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ayşe"},{"type":"text","text":"KN-1042"}]}]}`
				if string(b) != want {
					t.Errorf("template %s", b)
				}
			}},
		{name: "template without language", msg: conversation.Message{ContentType: "template", Raw: `{"name":"x"}`}, err: "language"},
		{name: "attachments by type, caption on the first", msg: conversation.Message{Text: "Faturanız ekte", Attachments: []conversation.Attachment{
			{URL: "https://cdn.example.com/f.pdf", ContentType: "application/pdf", FileName: "fatura.pdf"},
			{URL: "https://cdn.example.com/a.jpg", ContentType: "image/jpeg"},
			{URL: "https://cdn.example.com/v.mp4"},
			{URL: "https://cdn.example.com/s.ogg", ContentType: "audio/ogg"},
		}}, types: []string{"document", "image", "video", "audio"}, check: func(t *testing.T, out []outMessage) {
			if out[0].Document.Caption != "Faturanız ekte" || out[0].Document.Filename != "fatura.pdf" || out[1].Image.Link != "https://cdn.example.com/a.jpg" {
				t.Errorf("%+v %+v", out[0].Document, out[1].Image)
			}
		}},
		{name: "no caption on audio", msg: conversation.Message{Text: "Dinleyin", Attachments: []conversation.Attachment{
			{URL: "https://cdn.example.com/s.ogg", ContentType: "audio/ogg"}}}, types: []string{"text", "audio"}},
		{name: "Kanal's own files are not sent yet", msg: conversation.Message{Attachments: []conversation.Attachment{{URL: "/api/v1/media/abc"}}}, err: "public http(s) URL"},
		{name: "nothing to send", msg: conversation.Message{Text: "  "}, err: "nothing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.msg.ID = id
			out, err := build(c.msg, "905321234567")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) && !(c.err == "nothing" && strings.Contains(err.Error(), "no text")) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, m := range out {
				types = append(types, m.Type)
				if m.To != "905321234567" || m.BizOpaqueCallbackData != id || m.MessagingProduct != "whatsapp" || m.RecipientType != "individual" {
					t.Errorf("envelope %+v", m)
				}
			}
			if !reflect.DeepEqual(types, c.types) {
				t.Fatalf("types %v, want %v", types, c.types)
			}
			if c.check != nil {
				c.check(t, out)
			}
		})
	}
}

// outbound returns a reply to a customer with a WhatsApp identity.
func outbound(in inbox.Inbox, id, text string) channel.Outbound {
	return channel.Outbound{Inbox: in,
		Customer: customer.Customer{ID: "c1", Identities: []customer.Identity{
			{Kind: customer.KindPhone, Value: "+90 532 123 45 67", Normalized: "+905321234567"},
			{Kind: customer.KindWhatsApp, Value: "905321234567", Normalized: "+905321234567"}}},
		Message: conversation.Message{ID: id, Text: text, Direction: conversation.DirectionOut}}
}

func TestSendErrors(t *testing.T) {
	f := fake.New(fake.Options{})
	defer f.Close()
	in := testInbox(map[string]any{KeyAPIBaseURL: f.BaseURL})
	cases := []struct {
		name      string
		failure   *fake.Failure
		inbox     inbox.Inbox
		permanent bool
		retry     time.Duration // RetryAfter asked for
		reason    string        // in the error text
	}{
		{name: "accepted", reason: ""},
		{name: "5xx is retried", failure: &fake.Failure{Status: 503, Body: "upstream down"}, reason: "HTTP 503"},
		{name: "graph temporary error is retried", failure: &fake.Failure{Status: 500, Code: 131000, Message: "Something went wrong"}, reason: "131000"},
		{name: "429 with Retry-After", failure: &fake.Failure{Status: 429, RetryAfter: "7"}, retry: 7 * time.Second, reason: "HTTP 429"},
		{name: "429 without Retry-After", failure: &fake.Failure{Status: 429}, retry: 5 * time.Second},
		{name: "throughput 130429", failure: &fake.Failure{Status: 400, Code: 130429, Message: "(#130429) Rate limit hit"}, retry: 2 * time.Second},
		{name: "pair rate 131056", failure: &fake.Failure{Status: 400, Code: 131056, Message: "(#131056) Pair rate limit hit"}, retry: 6 * time.Second},
		{name: "window closed 131047", failure: &fake.Failure{Status: 400, Body: fake.WindowClosedBody}, permanent: true, reason: "reply window closed"},
		{name: "bad parameter", failure: &fake.Failure{Status: 400, Code: 100, Message: "(#100) Invalid parameter", Details: "Parameter value is not valid"},
			permanent: true, reason: "100: (#100) Invalid parameter: Parameter value is not valid (HTTP 400)"},
		{name: "expired token", inbox: func() inbox.Inbox {
			i := testInbox(map[string]any{KeyAPIBaseURL: f.BaseURL})
			i.Secrets[KeyAccessToken] = "expired"
			return i
		}(), permanent: true, reason: "190"},
		{name: "wrong phone number id", inbox: testInbox(map[string]any{KeyAPIBaseURL: f.BaseURL, KeyPhoneNumberID: "1"}), permanent: true, reason: "does not exist"},
		{name: "network error is retried", inbox: testInbox(map[string]any{KeyAPIBaseURL: "http://127.0.0.1:1/v21.0"}), reason: "whatsapp:"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := New(nil)
			if c.failure != nil {
				f.Fail(fake.Messages, *c.failure)
			}
			ib := in
			if c.inbox.Config != nil {
				ib = c.inbox
			}
			id := "0195f3a2-0000-7000-8000-00000000001" + string(rune('a'+i))
			pid, err := a.Send(context.Background(), outbound(ib, id, turkish))
			if c.failure == nil && c.inbox.Config == nil {
				if err != nil || !strings.HasPrefix(pid, "wamid.") {
					t.Fatalf("send: %q %v", pid, err)
				}
				last := f.Sent()[len(f.Sent())-1]
				if last.ID != pid || last.To != "905321234567" || last.Text != turkish || last.Opaque != id || last.Type != "text" {
					t.Fatalf("sent %+v", last)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if jobs.IsPermanent(err) != c.permanent {
				t.Errorf("permanent %v, want %v: %v", jobs.IsPermanent(err), c.permanent, err)
			}
			var we *Error
			got := time.Duration(0)
			if errors.As(err, &we) {
				got = we.RetryAfter
			}
			if got != c.retry {
				t.Errorf("retry after %v, want %v", got, c.retry)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q does not say %q", err, c.reason)
			}
		})
	}
}

func TestSendPairLimit(t *testing.T) {
	f := fake.New(fake.Options{})
	defer f.Close()
	now := time.Unix(1_800_000_000, 0)
	a := New(nil)
	a.PairBurst, a.PairEvery, a.Now = 3, 6*time.Second, func() time.Time { return now }
	in := testInbox(map[string]any{KeyAPIBaseURL: f.BaseURL})
	for i := range 3 {
		if _, err := a.Send(context.Background(), outbound(in, "0195f3a2-0000-7000-8000-00000000010"+string(rune('0'+i)), "Merhaba")); err != nil {
			t.Fatalf("burst %d: %v", i, err)
		}
	}
	_, err := a.Send(context.Background(), outbound(in, "0195f3a2-0000-7000-8000-000000000104", "Merhaba"))
	var we *Error
	if err == nil || jobs.IsPermanent(err) || !errors.As(err, &we) || we.RetryAfter != 6*time.Second {
		t.Fatalf("over the burst: %v", err)
	}
	if n := f.Requests(fake.Messages); n != 3 {
		t.Fatalf("%d requests reached the provider", n)
	}
	// Another customer is not held back; the first gets a token 6 s later.
	o := outbound(in, "0195f3a2-0000-7000-8000-000000000105", "Merhaba")
	o.Customer.Identities = []customer.Identity{{Kind: customer.KindWhatsApp, Value: "905320000000"}}
	if _, err := a.Send(context.Background(), o); err != nil {
		t.Fatalf("other recipient: %v", err)
	}
	now = now.Add(6 * time.Second)
	if _, err := a.Send(context.Background(), outbound(in, "0195f3a2-0000-7000-8000-000000000104", "Merhaba")); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

func TestPairLimiterRefill(t *testing.T) {
	now := time.Unix(0, 0)
	l := newPairLimiter(DefaultPairBurst, DefaultPairEvery, func() time.Time { return now })
	for i := range DefaultPairBurst {
		if _, ok := l.take("k"); !ok {
			t.Fatalf("burst refused at %d", i)
		}
	}
	if wait, ok := l.take("k"); ok || wait != DefaultPairEvery {
		t.Fatalf("46th: %v %v", wait, ok)
	}
	now = now.Add(3 * time.Second)
	if wait, ok := l.take("k"); ok || wait != 3*time.Second {
		t.Fatalf("half-way: %v %v", wait, ok)
	}
	now = now.Add(time.Hour)
	l.sweep(now)
	if len(l.buckets) != 0 {
		t.Fatal("full buckets are kept")
	}
}

func TestSendResumesAfterPartialFailure(t *testing.T) {
	f := fake.New(fake.Options{})
	defer f.Close()
	a := New(nil)
	in := testInbox(map[string]any{KeyAPIBaseURL: f.BaseURL})
	o := outbound(in, "0195f3a2-0000-7000-8000-000000000201", strings.Repeat("a", MaxCaptionChars+1))
	o.Message.Attachments = []conversation.Attachment{{URL: "https://cdn.example.com/1.jpg", ContentType: "image/jpeg"},
		{URL: "https://cdn.example.com/2.jpg", ContentType: "image/jpeg"}}
	// The text goes out, the first image fails: the retry sends the images only.
	f.Fail(fake.Messages, fake.Failure{Status: http.StatusOK}, fake.Failure{Status: http.StatusBadGateway})
	if _, err := a.Send(context.Background(), o); err == nil || jobs.IsPermanent(err) {
		t.Fatalf("the first try should fail for a retry: %v", err)
	}
	pid, err := a.Send(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var accepted []string
	for _, s := range f.Sent() {
		if !s.Refused {
			accepted = append(accepted, s.Type+":"+s.Link)
		}
	}
	want := []string{"text:", "image:https://cdn.example.com/1.jpg", "image:https://cdn.example.com/2.jpg"}
	if !reflect.DeepEqual(accepted, want) {
		t.Fatalf("accepted %v, want %v", accepted, want)
	}
	if pid != f.Sent()[0].ID {
		t.Fatalf("provider id %s is not the first part's", pid)
	}
}

func TestFetchMedia(t *testing.T) {
	f := fake.New(fake.Options{})
	defer f.Close()
	data := []byte("\xff\xd8\xff\xe0 fake jpeg")
	sum := f.AddMedia("1479537139650973", "image/jpeg", data)
	in := testInbox(map[string]any{KeyAPIBaseURL: f.BaseURL})
	a := New(nil)
	md, err := a.FetchMedia(context.Background(), in, "1479537139650973")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(md.Body)
	md.Body.Close()
	if !bytes.Equal(got, data) || md.SHA256 != sum || md.ContentType != "image/jpeg" || f.Downloads("1479537139650973") != 1 {
		t.Fatalf("media %q %+v, downloads %d", got, md, f.Downloads("1479537139650973"))
	}

	cases := []struct {
		name      string
		setup     func()
		in        inbox.Inbox
		ref       string
		permanent bool
	}{
		{name: "unknown media id", ref: "404404", permanent: true},
		{name: "bad media id", ref: "../etc", permanent: true},
		{name: "expired URL is retried", setup: func() { f.Fail(fake.Download, fake.Failure{Status: 404, Body: "URL signature expired"}) }, ref: "1479537139650973"},
		{name: "graph 5xx is retried", setup: func() { f.Fail(fake.MediaInfo, fake.Failure{Status: 502}) }, ref: "1479537139650973"},
		{name: "bad token", in: func() inbox.Inbox {
			i := testInbox(map[string]any{KeyAPIBaseURL: f.BaseURL})
			i.Secrets[KeyAccessToken] = "nope"
			return i
		}(), ref: "1479537139650973", permanent: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup()
			}
			ib := in
			if c.in.Config != nil {
				ib = c.in
			}
			_, err := a.FetchMedia(context.Background(), ib, c.ref)
			if err == nil || jobs.IsPermanent(err) != c.permanent {
				t.Fatalf("err %v, permanent wanted %v", err, c.permanent)
			}
		})
	}
	// The media URL answered by Graph expires; a fresh try gets a new one.
	f.Advance(10 * time.Minute)
	if md, err := a.FetchMedia(context.Background(), in, "1479537139650973"); err != nil {
		t.Fatalf("after the clock moved: %v", err)
	} else {
		md.Body.Close()
	}
}

func TestTester(t *testing.T) {
	f := fake.New(fake.Options{})
	defer f.Close()
	a := New(nil)
	got, err := a.Test(context.Background(), testInbox(map[string]any{KeyAPIBaseURL: f.BaseURL}))
	if err != nil || got != "15550783881 (Kanal Test)" {
		t.Fatalf("test: %q %v", got, err)
	}
	bad := testInbox(map[string]any{KeyAPIBaseURL: f.BaseURL})
	bad.Secrets[KeyAccessToken] = "nope"
	if _, err := a.Test(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "190") {
		t.Fatalf("bad token: %v", err)
	}
	if f.Requests(fake.PhoneNumber) != 2 {
		t.Fatalf("%d requests", f.Requests(fake.PhoneNumber))
	}
}

func TestHexSHA256(t *testing.T) {
	for in, want := range map[string]string{
		hexOfTest:                  hexOfTest,
		strings.ToUpper(hexOfTest): hexOfTest,
		"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=": hexOfTest,
		"n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg":  hexOfTest,
		"":           "",
		"not-a-hash": "",
	} {
		if got := hexSHA256(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

// The default client has a timeout.
func TestNewClient(t *testing.T) {
	if a := New(nil); a.Client.Timeout != 15*time.Second {
		t.Fatal(a.Client.Timeout)
	}
	c := &http.Client{}
	if New(c).Client != c {
		t.Fatal("client not kept")
	}
}

package meta

import (
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
	"unicode/utf8"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	fakemeta "github.com/kanal-dev/kanal/internal/fakes/meta"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

const (
	turkish = "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"
	pageID  = "106540352242922"
	psid    = "6485731984824712"
	igID    = "17841405822304914"
	igsid   = "1254459154682919"
	secret  = "app-secret-for-tests"
)

func testInbox(a *Adapter, base string) inbox.Inbox {
	in := inbox.Inbox{ID: "ib1", Type: a.f.name, Config: map[string]any{}, Secrets: map[string]string{
		KeyAccessToken: "EAAtoken", KeyAppSecret: secret, KeyVerifyToken: "verify-me"}}
	if a.f.name == Messenger {
		in.Config[KeyPageID] = pageID
	} else {
		in.Config[KeyInstagramID] = igID
	}
	if base != "" {
		in.Config[KeyAPIBaseURL] = base
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

// msg is what a test checks of a parsed message.
type msg struct {
	id, from, kind, ctype, text string
	refs                        []string
	names                       []string
	raw                         string // a substring of Raw ("" = Raw must be empty)
}

type st struct{ mid, status string }

func TestParseFixtures(t *testing.T) {
	m, ig := NewMessenger(nil), NewInstagram(nil)
	cases := []struct {
		name     string
		a        *Adapter
		file     string
		messages []msg
		statuses []st
	}{
		{name: "messenger text, Turkish escaped like Meta", a: m, file: "messenger_text.json",
			messages: []msg{{id: "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
				from: psid, kind: customer.KindMessenger, ctype: "text", text: turkish}}},
		{name: "messenger image and file", a: m, file: "messenger_attachments.json",
			messages: []msg{{id: "m_att1", from: psid, kind: customer.KindMessenger, ctype: "image",
				refs: []string{"https://scontent.xx.fbcdn.net/v/t1.15752-9/480432711_n.jpg?_nc_cat=1&ccb=1-7&oh=00_AYB&oe=67D1",
					"https://cdn.fbsbx.com/v/t59.2708-21/480_n.pdf/Fatura-Mart.pdf?_nc_cat=1&oh=00_AY"},
				names: []string{"480432711_n.jpg", "Fatura-Mart.pdf"}}}},
		{name: "messenger postback", a: m, file: "messenger_postback.json",
			messages: []msg{{id: "m_postback1", from: psid, kind: customer.KindMessenger, ctype: "interactive",
				text: "Siparişim nerede?", raw: `"payload":"ORDER_STATUS"`}}},
		{name: "messenger postback without mid gets a stable id", a: m, file: "messenger_postback_nomid.json",
			messages: []msg{{id: "interactive:", from: psid, kind: customer.KindMessenger, ctype: "interactive",
				text: "Başla", raw: `GET_STARTED`}}},
		{name: "messenger quick reply quoting a message", a: m, file: "messenger_quick_reply.json",
			messages: []msg{{id: "m_qr1", from: psid, kind: customer.KindMessenger, ctype: "interactive", text: "Evet",
				raw: `"reply_to":{"mid":"m_earlier"}`}}},
		{name: "messenger echo skipped", a: m, file: "messenger_echo.json"},
		{name: "messenger delivery names mids", a: m, file: "messenger_delivery.json",
			statuses: []st{{"m_out1", "delivered"}, {"m_out2", "delivered"}}},
		{name: "messenger watermark read skipped", a: m, file: "messenger_read.json"},
		{name: "messenger reaction and unreaction", a: m, file: "messenger_reaction.json",
			messages: []msg{{id: "reaction:", from: psid, kind: customer.KindMessenger, ctype: "reaction", text: "❤️", raw: `"action":"react"`},
				{id: "reaction:", from: psid, kind: customer.KindMessenger, ctype: "reaction", raw: `"action":"unreact"`}}},
		{name: "messenger unknown event kept raw", a: m, file: "messenger_referral.json",
			messages: []msg{{id: "unsupported:", from: psid, kind: customer.KindMessenger, ctype: "unsupported", raw: `"referral"`}}},
		{name: "messenger other page's entry ignored", a: m, file: "messenger_two_pages.json",
			messages: []msg{{id: "m_mine", from: psid, kind: customer.KindMessenger, ctype: "text", text: "bu sayfa"}}},
		{name: "instagram text", a: ig, file: "instagram_text.json",
			messages: []msg{{id: "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTQ4NDI1MjIzNDc2OTc5",
				from: igsid, kind: customer.KindInstagram, ctype: "text", text: turkish}}},
		{name: "instagram image", a: ig, file: "instagram_image.json",
			messages: []msg{{id: "aWdfig_image1", from: igsid, kind: customer.KindInstagram, ctype: "image",
				refs: []string{"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17951&signature=AbC"}, names: []string{""}}}},
		{name: "instagram story mention kept raw", a: ig, file: "instagram_story_mention.json",
			messages: []msg{{id: "aWdfig_story1", from: igsid, kind: customer.KindInstagram, ctype: "unsupported", raw: `"story_mention"`}}},
		{name: "instagram messaging_seen names the mid", a: ig, file: "instagram_seen.json",
			statuses: []st{{"aWdfig_out1", "read"}}},
		{name: "instagram unsent message", a: ig, file: "instagram_deleted.json",
			messages: []msg{{id: "aWdfig_text1#deleted", from: igsid, kind: customer.KindInstagram, ctype: "unsupported", raw: `"is_deleted":true`}}},
		{name: "instagram echo skipped", a: ig, file: "instagram_echo.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := fixture(t, c.file)
			b, err := c.a.Parse(testInbox(c.a, ""), nil, body)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Messages) != len(c.messages) {
				t.Fatalf("%d messages, want %d: %+v", len(b.Messages), len(c.messages), b.Messages)
			}
			for i, w := range c.messages {
				g := b.Messages[i]
				if strings.HasSuffix(w.id, ":") {
					if !strings.HasPrefix(g.ProviderID, w.id) || len(g.ProviderID) != len(w.id)+32 {
						t.Errorf("id %q, want %s<hash>", g.ProviderID, w.id)
					}
				} else if g.ProviderID != w.id {
					t.Errorf("id %q, want %q", g.ProviderID, w.id)
				}
				if len(g.Claims) != 1 || g.Claims[0].Kind != w.kind || g.Claims[0].Value != w.from {
					t.Errorf("claims %+v", g.Claims)
				}
				if g.ContentType != w.ctype || g.Text != w.text {
					t.Errorf("content %q %q, want %q %q", g.ContentType, g.Text, w.ctype, w.text)
				}
				if g.At.IsZero() || g.At.UnixMilli() < 1739321024123 {
					t.Errorf("at %v (timestamps are milliseconds)", g.At)
				}
				if len(g.Attachments) != len(w.refs) {
					t.Fatalf("attachments %+v", g.Attachments)
				}
				for j, ref := range w.refs {
					if a := g.Attachments[j]; a.Ref != ref || a.URL != "" || a.FileName != w.names[j] {
						t.Errorf("attachment %d: %+v, want ref %s name %q", j, a, ref, w.names[j])
					}
				}
				if (w.raw == "") != (g.Raw == "") || !strings.Contains(g.Raw, w.raw) {
					t.Errorf("raw %q, want it to hold %q", g.Raw, w.raw)
				}
				if g.Raw != "" && !json.Valid([]byte(g.Raw)) {
					t.Errorf("raw is not JSON: %s", g.Raw)
				}
			}
			if len(b.Statuses) != len(c.statuses) {
				t.Fatalf("statuses %+v, want %+v", b.Statuses, c.statuses)
			}
			for i, w := range c.statuses {
				if g := b.Statuses[i]; g.ProviderMessageID != w.mid || g.Status != w.status {
					t.Errorf("status %+v, want %+v", g, w)
				}
			}
			// The same bytes give the same ids: a retried call dedupes.
			again, _ := c.a.Parse(testInbox(c.a, ""), nil, body)
			for i := range again.Messages {
				if again.Messages[i].ProviderID != b.Messages[i].ProviderID {
					t.Errorf("unstable id %q vs %q", again.Messages[i].ProviderID, b.Messages[i].ProviderID)
				}
			}
		})
	}
}

func TestParseRefusals(t *testing.T) {
	m, ig := NewMessenger(nil), NewInstagram(nil)
	cases := []struct {
		name    string
		a       *Adapter
		body    string
		unknown bool // ErrUnknownAccount (404) rather than malformed (400)
		ok      bool
	}{
		{name: "invalid JSON", a: m, body: `{"object":"page","entry":[`},
		{name: "not an object", a: m, body: `[1,2]`},
		{name: "no object", a: m, body: `{"entry":[]}`},
		{name: "bad event", a: m, body: `{"object":"page","entry":[{"id":"` + pageID + `","messaging":[{"sender":{"id":{}}}]}]}`},
		{name: "other page", a: m, body: `{"object":"page","entry":[{"id":"1","messaging":[]}]}`, unknown: true},
		{name: "instagram object on messenger", a: m, body: `{"object":"instagram","entry":[{"id":"` + pageID + `","messaging":[]}]}`, unknown: true},
		{name: "page object on instagram", a: ig, body: `{"object":"page","entry":[{"id":"` + igID + `","messaging":[]}]}`, unknown: true},
		{name: "other instagram account", a: ig, body: `{"object":"instagram","entry":[{"id":"` + pageID + `","messaging":[]}]}`, unknown: true},
		{name: "numeric entry id", a: m, body: `{"object":"page","entry":[{"id":` + pageID + `,"time":1,"messaging":[]}]}`, ok: true},
		{name: "no entries", a: ig, body: `{"object":"instagram","entry":[]}`, ok: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.a.Parse(testInbox(c.a, ""), nil, []byte(c.body))
			switch {
			case c.ok && err != nil:
				t.Fatalf("want ok, got %v", err)
			case c.ok:
			case err == nil:
				t.Fatal("want an error")
			case c.unknown != errors.Is(err, channel.ErrUnknownAccount):
				t.Fatalf("unknown account %v, got %v", c.unknown, err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	a := NewMessenger(nil)
	in := testInbox(a, "")
	body := fixture(t, "messenger_text.json")
	var v any
	_ = json.Unmarshal(body, &v)
	reencoded, _ := json.Marshal(v) // "Ç" instead of "\u00c7": another body
	cases := []struct {
		name, sig string
		body      []byte
		ok        bool
	}{
		{"good", Sign(secret, body), body, true},
		{"upper-case hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(Sign(secret, body), "sha256=")), body, true},
		{"missing", "", body, false},
		{"other secret", Sign("nope", body), body, false},
		{"sha1", "sha1=" + strings.TrimPrefix(Sign(secret, body), "sha256="), body, false},
		{"extended", Sign(secret, body) + "00", body, false},
		{"truncated", Sign(secret, body)[:40], body, false},
		{"not hex", "sha256=zz", body, false},
		{"re-encoded body", Sign(secret, body), reencoded, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/webhooks/messenger/k", nil)
			if c.sig != "" {
				r.Header.Set(SignatureHeader, c.sig)
			}
			err := a.Verify(in, r, "", c.body)
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, channel.ErrBadSignature)) {
				t.Fatalf("ok %v, got %v", c.ok, err)
			}
		})
	}
	// The fake signs the same way.
	if fakemeta.Sign(secret, body) != Sign(secret, body) {
		t.Fatal("fake and adapter disagree on the signature")
	}
}

func TestChallenge(t *testing.T) {
	a := NewInstagram(nil)
	in := testInbox(a, "")
	cases := []struct {
		name, query string
		status      int
		body        string
	}{
		{"ok", "hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", 200, "1158201444"},
		{"wrong token", "hub.mode=subscribe&hub.verify_token=verify-you&hub.challenge=1", 403, "forbidden"},
		{"no token", "hub.mode=subscribe&hub.challenge=1", 403, "forbidden"},
		{"wrong mode", "hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1", 403, "forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body := a.Challenge(in, httptest.NewRequest("GET", "/webhooks/instagram/k?"+c.query, nil))
			if st != c.status || body != c.body {
				t.Fatalf("%d %q", st, body)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *int64 { v := now.Add(-d).UnixMilli(); return &v }
	cases := []struct {
		name      string
		last      *int64
		human     bool
		typ, tag  string
		permanent string
	}{
		{"an hour ago", ago(time.Hour), true, TypeResponse, "", ""},
		{"exactly 24 h", ago(24 * time.Hour), true, TypeResponse, "", ""},
		{"a bot within 24 h", ago(23 * time.Hour), false, TypeResponse, "", ""},
		{"3 days, a person", ago(72 * time.Hour), true, TypeMessageTag, TagHumanAgent, ""},
		{"3 days, a bot", ago(72 * time.Hour), false, "", "", "written by a person"},
		{"exactly 7 days", ago(7 * 24 * time.Hour), true, TypeMessageTag, TagHumanAgent, ""},
		{"8 days", ago(8 * 24 * time.Hour), true, "", "", "outside the 7-day human agent window"},
		{"never wrote", nil, true, "", "", "outside the 7-day human agent window"},
		{"clock skew", ago(-time.Minute), true, TypeResponse, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ, tag, err := Window(now, c.last, c.human)
			if c.permanent != "" {
				if !jobs.IsPermanent(err) || !strings.Contains(err.Error(), c.permanent) {
					t.Fatalf("want a permanent %q, got %v", c.permanent, err)
				}
				return
			}
			if err != nil || typ != c.typ || tag != c.tag {
				t.Fatalf("%q %q %v, want %q %q", typ, tag, err, c.typ, c.tag)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	long := strings.Repeat("Siparişiniz yola çıktı, İstanbul aktarma merkezinde. ", 90) // ~4.8k characters
	cases := []struct {
		name    string
		text    string
		limit   int
		measure func(string) int
		parts   int // 0: only check the limits
	}{
		{"short messenger", turkish, MessengerTextLimit, messenger.measure, 1},
		{"short instagram", turkish, InstagramTextLimit, instagram.measure, 1},
		{"blank", " \n ", MessengerTextLimit, messenger.measure, -1},
		{"long messenger", long, MessengerTextLimit, messenger.measure, 3},
		{"long instagram counts bytes", long, InstagramTextLimit, instagram.measure, 0},
		{"emoji count twice in UTF-16", strings.Repeat("🙏", 1500), MessengerTextLimit, messenger.measure, 2},
		{"no spaces", strings.Repeat("ışık", 700), InstagramTextLimit, instagram.measure, 0},
		{"paragraphs", strings.Repeat("a", 1200) + "\n\n" + strings.Repeat("b", 1200), MessengerTextLimit, messenger.measure, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parts := Split(c.text, c.limit, c.measure)
			switch {
			case c.parts == -1 && len(parts) != 0:
				t.Fatalf("blank text gave %q", parts)
			case c.parts > 0 && len(parts) != c.parts:
				t.Fatalf("%d parts, want %d", len(parts), c.parts)
			}
			var rebuilt []string
			for _, p := range parts {
				if c.measure(p) > c.limit || p == "" || !utf8.ValidString(p) {
					t.Fatalf("bad part (%d > %d?): %q", c.measure(p), c.limit, p)
				}
				rebuilt = append(rebuilt, p)
			}
			if c.parts == 1 && parts[0] != c.text {
				t.Fatalf("a short text must go as it is: %q", parts[0])
			}
			squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
			if c.parts >= 0 && squash(strings.Join(rebuilt, "")) != squash(c.text) {
				t.Fatal("parts lost text")
			}
		})
	}
}

// retryDelay reads the delay of a jobs.RetryAfter error (the queue's type is
// unexported; tests read it by reflection).
func retryDelay(err error) (time.Duration, bool) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		v := reflect.ValueOf(e)
		if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct && v.Elem().Type().Name() == "retryAfterError" {
			return time.Duration(v.Elem().FieldByName("d").Int()), true
		}
	}
	return 0, false
}

func outbound(in inbox.Inbox, kind, to, text string, last time.Duration, atts ...conversation.Attachment) channel.Outbound {
	at := time.Now().Add(-last).UnixMilli()
	return channel.Outbound{Inbox: in,
		Conversation: conversation.Conversation{ID: "c1", LastInboundAt: &at},
		Customer:     customer.Customer{ID: "cu1", Identities: []customer.Identity{{Kind: kind, Value: to}}},
		Message:      conversation.Message{ID: "msg1", Text: text, AuthorKind: conversation.AuthorAgent, Attachments: atts}}
}

func TestSendErrors(t *testing.T) {
	fake := fakemeta.Start(t)
	a := NewMessenger(nil)
	in := testInbox(a, fake.BaseURL())
	cases := []struct {
		name      string
		fail      []fakemeta.Failure
		permanent bool
		delay     time.Duration // > 0: a RetryAfter of this delay
		contains  string
	}{
		{name: "server error is retried", fail: []fakemeta.Failure{fakemeta.ServerError}, contains: "HTTP 500"},
		{name: "bad gateway without JSON is retried", fail: []fakemeta.Failure{fakemeta.BadGatewayRaw}, contains: "HTTP 502"},
		{name: "429 waits Retry-After", fail: []fakemeta.Failure{fakemeta.TooMany}, delay: 7 * time.Second, contains: "code 4"},
		{name: "613 rate limit waits", fail: []fakemeta.Failure{fakemeta.RateLimited}, delay: DefaultRateLimitWait, contains: "code 613"},
		{name: "outside window is permanent", fail: []fakemeta.Failure{fakemeta.OutsideWindow}, permanent: true, contains: "outside the messaging window"},
		{name: "invalid token is permanent", fail: []fakemeta.Failure{fakemeta.InvalidToken}, permanent: true, contains: "access_token"},
		{name: "unknown user is permanent", fail: []fakemeta.Failure{fakemeta.NoSuchUser}, permanent: true, contains: "No matching user"},
		{name: "unavailable person is permanent", fail: []fakemeta.Failure{fakemeta.Unavailable}, permanent: true, contains: "cannot be reached"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake.Fail(c.fail...)
			_, err := a.Send(context.Background(), outbound(in, customer.KindMessenger, psid, "Merhaba", time.Hour))
			if err == nil {
				t.Fatal("want an error")
			}
			if jobs.IsPermanent(err) != c.permanent {
				t.Fatalf("permanent %v: %v", c.permanent, err)
			}
			d, ok := retryDelay(err)
			if (c.delay > 0) != ok || d != c.delay {
				t.Fatalf("retry after %v (%v), want %v", d, ok, c.delay)
			}
			if !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("%q does not say %q", err, c.contains)
			}
		})
	}
	t.Run("network error is retried", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		_, err := a.Send(context.Background(), outbound(testInbox(a, dead.URL), customer.KindMessenger, psid, "x", time.Hour))
		if err == nil || jobs.IsPermanent(err) {
			t.Fatalf("want a retried error, got %v", err)
		}
	})
	refusals := []struct {
		name string
		o    func() channel.Outbound
		says string
	}{
		{"no identity", func() channel.Outbound {
			return outbound(in, customer.KindInstagram, igsid, "x", time.Hour)
		}, "no messenger id"},
		{"template", func() channel.Outbound {
			o := outbound(in, customer.KindMessenger, psid, "x", time.Hour)
			o.Message.ContentType = "template"
			return o
		}, "no message templates"},
		{"Kanal-stored attachment", func() channel.Outbound {
			return outbound(in, customer.KindMessenger, psid, "", time.Hour,
				conversation.Attachment{URL: "/api/v1/media/123", FileName: "fatura.pdf", ContentType: "application/pdf"})
		}, "public URL"},
		{"8 days", func() channel.Outbound {
			return outbound(in, customer.KindMessenger, psid, "x", 8*24*time.Hour)
		}, "outside the 7-day human agent window"},
		{"bot after 24 h", func() channel.Outbound {
			o := outbound(in, customer.KindMessenger, psid, "x", 30*time.Hour)
			o.Message.AuthorKind = conversation.AuthorBot
			return o
		}, "written by a person"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			before := len(fake.Sent())
			_, err := a.Send(context.Background(), c.o())
			if !jobs.IsPermanent(err) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("want a permanent %q, got %v", c.says, err)
			}
			if len(fake.Sent()) != before {
				t.Fatal("a refused reply must not reach Meta")
			}
		})
	}
}

func TestSendRequests(t *testing.T) {
	fake := fakemeta.Start(t)
	fake.Token = "EAAtoken"
	long := strings.Repeat("Kargonuz Ankara'dan çıktı; yarın teslim edilecek. ", 100) // ~5k characters
	img := conversation.Attachment{URL: "https://cdn.example.com/kanal/kargo.jpg", FileName: "kargo.jpg", ContentType: "image/jpeg"}
	pdf := conversation.Attachment{URL: "https://cdn.example.com/kanal/fatura.pdf", FileName: "fatura.pdf", ContentType: "application/pdf"}
	cases := []struct {
		name      string
		a         *Adapter
		kind, to  string
		text      string
		last      time.Duration
		atts      []conversation.Attachment
		wantTexts int
		wantType  string
		wantTag   string
	}{
		{"messenger Turkish within 24 h", NewMessenger(nil), customer.KindMessenger, psid, turkish, time.Hour, nil, 1, TypeResponse, ""},
		{"instagram Turkish after 3 days", NewInstagram(nil), customer.KindInstagram, igsid, turkish, 72 * time.Hour, nil, 1, TypeMessageTag, TagHumanAgent},
		{"messenger long text split", NewMessenger(nil), customer.KindMessenger, psid, long, time.Hour, nil, 3, TypeResponse, ""},
		{"instagram long text split by bytes", NewInstagram(nil), customer.KindInstagram, igsid, long, time.Hour, nil, 6, TypeResponse, ""},
		{"text and two attachments", NewMessenger(nil), customer.KindMessenger, psid, "Faturanız ekte", time.Hour, []conversation.Attachment{img, pdf}, 1, TypeResponse, ""},
		{"attachment only", NewInstagram(nil), customer.KindInstagram, igsid, "", time.Hour, []conversation.Attachment{img}, 0, TypeResponse, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := testInbox(c.a, fake.BaseURL())
			before := len(fake.Sent())
			id, err := c.a.Send(context.Background(), outbound(in, c.kind, c.to, c.text, c.last, c.atts...))
			if err != nil {
				t.Fatal(err)
			}
			sent := fake.Sent()[before:]
			if len(sent) != c.wantTexts+len(c.atts) {
				t.Fatalf("%d calls, want %d", len(sent), c.wantTexts+len(c.atts))
			}
			if id == "" || id != sent[len(sent)-1].MessageID {
				t.Fatalf("id %q, want the last part's %q", id, sent[len(sent)-1].MessageID)
			}
			var texts []string
			for i, s := range sent {
				if s.AccountID != c.a.accountID(in) || s.Token != "EAAtoken" || s.Recipient != c.to || s.MessagingType != c.wantType || s.Tag != c.wantTag {
					t.Fatalf("call %d: %+v", i, s)
				}
				if i < c.wantTexts {
					texts = append(texts, s.Text)
					if c.a.f.measure(s.Text) > c.a.f.textLimit {
						t.Fatalf("part %d too long: %d", i, c.a.f.measure(s.Text))
					}
					continue
				}
				att, want := s.Attachment, c.atts[i-c.wantTexts]
				if att == nil || att.URL != want.URL || !att.IsReusable || att.Type != attachmentType(want.ContentType) {
					t.Fatalf("attachment call %d: %+v", i, att)
				}
			}
			if c.wantTexts == 1 && texts[0] != c.text {
				t.Fatalf("text not byte-exact: %q", texts[0])
			}
			if strings.Join(strings.Fields(strings.Join(texts, " ")), " ") != strings.Join(strings.Fields(c.text), " ") {
				t.Fatal("the parts do not add up to the text")
			}
		})
	}
	t.Run("instagram through its Facebook Page posts to the Page", func(t *testing.T) {
		a := NewInstagram(nil)
		in := testInbox(a, fake.BaseURL())
		in.Config[KeyPageID] = pageID
		before := len(fake.Sent())
		if _, err := a.Send(context.Background(), outbound(in, customer.KindInstagram, igsid, "Merhaba", time.Hour)); err != nil {
			t.Fatal(err)
		}
		if s := fake.Sent()[before:]; len(s) != 1 || s[0].AccountID != pageID {
			t.Fatalf("sent %+v", s)
		}
	})
	t.Run("a failure after a part went out says so", func(t *testing.T) {
		a := NewMessenger(&http.Client{Transport: &failAfter{ok: 1}})
		in := testInbox(a, fake.BaseURL())
		_, err := a.Send(context.Background(), outbound(in, customer.KindMessenger, psid, "Ekte", time.Hour, img))
		if err == nil || !strings.Contains(err.Error(), "part 2 of 2 failed after 1 went out") || jobs.IsPermanent(err) {
			t.Fatalf("got %v", err)
		}
	})
}

// failAfter lets the first ok requests through and answers 500 to the
// others.
type failAfter struct {
	ok, n int
}

func (f *failAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	f.n++
	if f.n <= f.ok {
		return http.DefaultTransport.RoundTrip(r)
	}
	return &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(`{"error":{"message":"boom","code":2}}`)), Request: r}, nil
}

func TestFetchMedia(t *testing.T) {
	fake := fakemeta.Start(t)
	a := NewInstagram(nil)
	in := testInbox(a, fake.BaseURL())
	jpeg := []byte("\xff\xd8\xff\xe0 fake jpeg")
	u := fake.AddMedia("foto_n.jpg", "image/jpeg", jpeg)
	md, err := a.FetchMedia(context.Background(), in, u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(md.Body)
	md.Body.Close()
	if string(got) != string(jpeg) || md.ContentType != "image/jpeg" || md.FileName != "foto_n.jpg" {
		t.Fatalf("%q %q %q", got, md.ContentType, md.FileName)
	}
	fake.ExpireMedia("foto_n.jpg")
	if _, err := a.FetchMedia(context.Background(), in, u); !jobs.IsPermanent(err) {
		t.Fatalf("an expired link is permanent, got %v", err)
	}
	if _, err := a.FetchMedia(context.Background(), in, "file:///etc/passwd"); !jobs.IsPermanent(err) {
		t.Fatalf("not a URL: %v", err)
	}
	if fake.Fetches("foto_n.jpg") != 1 {
		t.Fatalf("fetches %d", fake.Fetches("foto_n.jpg"))
	}
}

func TestConnectionTest(t *testing.T) {
	fake := fakemeta.Start(t)
	fake.Token = "EAAtoken"
	fake.AddAccount(pageID, map[string]string{"name": "Kanal Mağaza"})
	fake.AddAccount(igID, map[string]string{"name": "Kanal Mağaza", "username": "kanalmagaza"})
	m, ig := NewMessenger(nil), NewInstagram(nil)
	if s, err := m.Test(context.Background(), testInbox(m, fake.BaseURL())); err != nil || !strings.Contains(s, `"Kanal Mağaza"`) {
		t.Fatalf("messenger: %q %v", s, err)
	}
	if s, err := ig.Test(context.Background(), testInbox(ig, fake.BaseURL())); err != nil || !strings.Contains(s, "@kanalmagaza") {
		t.Fatalf("instagram: %q %v", s, err)
	}
	bad := testInbox(m, fake.BaseURL())
	bad.Secrets[KeyAccessToken] = "expired"
	if _, err := m.Test(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "access_token") {
		t.Fatalf("bad token: %v", err)
	}
}

func TestValidate(t *testing.T) {
	secrets := map[string]string{KeyAccessToken: "t", KeyAppSecret: "s", KeyVerifyToken: "v"}
	cases := []struct {
		name    string
		a       *Adapter
		cfg     map[string]any
		secrets map[string]string
		bad     []string
	}{
		{"messenger ok", NewMessenger(nil), map[string]any{KeyPageID: pageID}, secrets, nil},
		{"instagram ok with Instagram Login base", NewInstagram(nil), map[string]any{KeyInstagramID: igID, KeyAPIBaseURL: "https://graph.instagram.com/v21.0"}, secrets, nil},
		{"messenger wants page_id", NewMessenger(nil), map[string]any{KeyInstagramID: igID}, secrets, []string{KeyPageID, KeyInstagramID}},
		{"instagram with its Page", NewInstagram(nil), map[string]any{KeyInstagramID: igID, KeyPageID: pageID}, secrets, nil},
		{"instagram with a bad Page id", NewInstagram(nil), map[string]any{KeyInstagramID: igID, KeyPageID: "sayfam"}, secrets, []string{KeyPageID}},
		{"a secret given as config is still checked", NewMessenger(nil), map[string]any{KeyPageID: pageID, "token": "x"}, secrets, []string{"token"}},
		{"id as a JSON number", NewInstagram(nil), map[string]any{KeyInstagramID: 17841405822304914.0}, secrets, []string{KeyInstagramID}},
		{"bad base URL", NewMessenger(nil), map[string]any{KeyPageID: pageID, KeyAPIBaseURL: "graph.facebook.com"}, secrets, []string{KeyAPIBaseURL}},
		{"missing secrets", NewMessenger(nil), map[string]any{KeyPageID: pageID}, map[string]string{}, []string{KeyAccessToken, KeyAppSecret, KeyVerifyToken}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.a.Type().Validate(c.cfg, c.secrets)
			if len(c.bad) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, k := range c.bad {
				if !strings.Contains(err.Error(), k) {
					b, _ := json.Marshal(err)
					t.Errorf("no complaint about %s: %v %s", k, err, b)
				}
			}
		})
	}
	ty := NewInstagram(nil).Type()
	if ty.Name != Instagram || !ty.Webhook || ty.ReplyWindow != 7*24*time.Hour || len(ty.Reach) != 1 || ty.Reach[0] != customer.KindInstagram {
		t.Fatalf("type %+v", ty)
	}
}

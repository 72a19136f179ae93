package telegram

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	fake "github.com/kanal-dev/kanal/internal/fakes/telegram"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

const token = "123:TEST"

func fakeInbox(f *fake.Server) inbox.Inbox {
	in := testInbox()
	in.Config["api_base_url"] = f.URL
	return in
}

func outbound(in inbox.Inbox, chat string, m conversation.Message) channel.Outbound {
	if m.ID == "" {
		m.ID = "msg-1"
	}
	return channel.Outbound{Inbox: in, Message: m, Customer: customer.Customer{ID: "c1",
		Identities: []customer.Identity{{Kind: customer.KindEmail, Value: "a@example.com"}, {Kind: customer.KindTelegram, Value: chat, Normalized: chat}}}}
}

func TestSendErrors(t *testing.T) {
	cases := []struct {
		name      string
		script    func(f *fake.Server)
		chat      string
		msg       conversation.Message
		permanent bool
		code      int           // APIError code, 0: none expected
		retry     time.Duration // APIError.RetryAfter
		contains  string
		noCall    bool
	}{
		{name: "blocked", chat: "2222", script: func(f *fake.Server) { f.Block(2222) },
			permanent: true, code: 403, contains: "Forbidden: bot was blocked by the user"},
		{name: "429 retry_after", script: func(f *fake.Server) { f.TooMany("sendMessage", 7) },
			code: 429, retry: 7 * time.Second, contains: "Too Many Requests"},
		{name: "500", script: func(f *fake.Server) {
			f.Fail("sendMessage", fake.Failure{Status: 500, Description: "Internal Server Error"})
		}, code: 500},
		{name: "502 from a proxy", script: func(f *fake.Server) {
			f.Fail("sendMessage", fake.Failure{Status: 502, Raw: "<html>Bad Gateway</html>"})
		}, code: 502},
		{name: "400 chat not found", script: func(f *fake.Server) {
			f.Fail("sendMessage", fake.Failure{Status: 400, Description: "Bad Request: chat not found"})
		}, permanent: true, code: 400, contains: "chat not found"},
		{name: "stored file", msg: conversation.Message{Attachments: []conversation.Attachment{{URL: "/api/v1/media/abc", ContentType: "image/png"}}},
			permanent: true, contains: "stored in Kanal", noCall: true},
		{name: "attachment without URL", msg: conversation.Message{Attachments: []conversation.Attachment{{Ref: "x"}}},
			permanent: true, contains: "URL", noCall: true},
		{name: "template", msg: conversation.Message{Text: "order_update", ContentType: "template"}, permanent: true, contains: "template", noCall: true},
		{name: "no telegram identity", chat: "-", permanent: true, contains: "Telegram identity", noCall: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fake.New(t, token)
			if tc.script != nil {
				tc.script(f)
			}
			chat, msg := tc.chat, tc.msg
			if chat == "" {
				chat = "1111"
			}
			if msg.Text == "" && len(msg.Attachments) == 0 {
				msg.Text = "Merhaba"
			}
			o := outbound(fakeInbox(f), chat, msg)
			if chat == "-" {
				o.Customer.Identities = o.Customer.Identities[:1]
			}
			pid, err := New(nil).Send(context.Background(), o)
			if err == nil || pid != "" {
				t.Fatalf("want an error, got %q", pid)
			}
			if jobs.IsPermanent(err) != tc.permanent {
				t.Fatalf("permanent %v: %v", jobs.IsPermanent(err), err)
			}
			var ae *APIError
			if got := errors.As(err, &ae); got != (tc.code != 0) || (got && (ae.Code != tc.code || ae.RetryAfter != tc.retry)) {
				t.Fatalf("api error %+v from %v", ae, err)
			}
			if !strings.Contains(err.Error(), tc.contains) || strings.Contains(err.Error(), token) {
				t.Fatalf("error text %q", err)
			}
			if calls := len(f.Calls("")); (calls == 0) != tc.noCall {
				t.Fatalf("%d calls", calls)
			}
		})
	}

	t.Run("network", func(t *testing.T) {
		f := fake.New(t, token)
		f.Close()
		_, err := New(nil).Send(context.Background(), outbound(fakeInbox(f), "1111", conversation.Message{Text: "a"}))
		if err == nil || jobs.IsPermanent(err) || strings.Contains(err.Error(), token) {
			t.Fatalf("a network error is retried and never shows the token: %v", err)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		f := fake.New(t, "999:OTHER")
		_, err := New(nil).Send(context.Background(), outbound(fakeInbox(f), "1111", conversation.Message{Text: "a"}))
		if !jobs.IsPermanent(err) || !strings.Contains(err.Error(), "BotFather") {
			t.Fatalf("%v", err)
		}
	})
}

func TestSend(t *testing.T) {
	turkish := "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"
	long := strings.Repeat("Kargonuz yolda, yarın teslim edilecek. 🙏\n", 150) // > 4096 UTF-16 units
	type call struct{ method, field, value string }
	cases := []struct {
		name  string
		msg   conversation.Message
		calls []call
	}{
		{"text", conversation.Message{Text: turkish}, []call{{"sendMessage", "text", turkish}}},
		{"html only", conversation.Message{HTML: "<p>Merhaba <b>Ayşe</b> &amp; ekibi</p>"}, []call{{"sendMessage", "text", "Merhaba Ayşe & ekibi"}}},
		{"photo with caption", conversation.Message{Text: turkish, Attachments: []conversation.Attachment{{URL: "https://cdn.example.com/kutu.jpg", ContentType: "image/jpeg"}}},
			[]call{{"sendPhoto", "photo", "https://cdn.example.com/kutu.jpg"}, {"sendPhoto", "caption", turkish}}},
		{"photo by extension", conversation.Message{Attachments: []conversation.Attachment{{URL: "https://cdn.example.com/a/b.PNG?x=1"}}},
			[]call{{"sendPhoto", "photo", "https://cdn.example.com/a/b.PNG?x=1"}}},
		{"document", conversation.Message{Attachments: []conversation.Attachment{{URL: "https://cdn.example.com/fatura.pdf", ContentType: "application/pdf"}}},
			[]call{{"sendDocument", "document", "https://cdn.example.com/fatura.pdf"}}},
		{"long text then photo", conversation.Message{Text: long, Attachments: []conversation.Attachment{{URL: "https://cdn.example.com/k.jpg"}}},
			[]call{{"sendMessage", "", ""}, {"sendMessage", "", ""}, {"sendPhoto", "caption", ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fake.New(t, token)
			pid, err := New(nil).Send(context.Background(), outbound(fakeInbox(f), "1111", tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			if pid != "1111:1001" {
				t.Fatalf("provider id %q", pid)
			}
			calls := f.Calls("")
			i := 0
			for _, want := range tc.calls {
				for i < len(calls) && calls[i].Method != want.method {
					i++
				}
				if i == len(calls) {
					t.Fatalf("no %s in %+v", want.method, calls)
				}
				if want.field != "" && calls[i].Params[want.field] != want.value {
					t.Fatalf("%s %s = %q, want %q", want.method, want.field, calls[i].Params[want.field], want.value)
				}
				if calls[i].Params["chat_id"] != "1111" {
					t.Fatalf("chat_id %q", calls[i].Params["chat_id"])
				}
				if want.field == "" {
					i++
				}
			}
			if tc.name == "long text then photo" {
				var joined string
				for _, c := range f.Calls("sendMessage") {
					if utf16Len(c.Params["text"]) > MaxText {
						t.Fatalf("a part of %d units", utf16Len(c.Params["text"]))
					}
					joined += c.Params["text"]
				}
				if joined != long {
					t.Fatal("the parts do not give the text back")
				}
			}
		})
	}
}

func TestSendResumesAfterPartialFailure(t *testing.T) {
	f := fake.New(t, token)
	f.Fail("sendMessage", fake.Failure{}) // the first part goes through
	f.TooMany("sendMessage", 3)           // the second is refused once
	a := New(nil)
	o := outbound(fakeInbox(f), "1111", conversation.Message{ID: "m-long", Text: strings.Repeat("a", 3000) + "\n" + strings.Repeat("b", 3000)})
	_, err := a.Send(context.Background(), o)
	var ae *APIError
	if err == nil || jobs.IsPermanent(err) || !errors.As(err, &ae) || ae.RetryAfter != 3*time.Second {
		t.Fatalf("first try: %v", err)
	}
	a.now = func() time.Time { return time.Now().Add(4 * time.Second) } // past retry_after
	pid, err := a.Send(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, c := range f.Calls("sendMessage") {
		texts = append(texts, c.Params["text"][:1])
	}
	if strings.Join(texts, "") != "abb" || pid != "1111:1001" {
		t.Fatalf("sent %v, provider id %s: the retry must send only the missing part", texts, pid)
	}
}

func TestRateLimit(t *testing.T) {
	f := fake.New(t, token)
	a := New(nil)
	clock := time.Unix(1739321024, 0)
	a.now = func() time.Time { return clock }
	in := fakeInbox(f)
	send := func(chat string) error {
		_, err := a.Send(context.Background(), outbound(in, chat, conversation.Message{ID: "m-" + chat + clock.String(), Text: "a"}))
		return err
	}
	for i := range 3 { // a short burst is fine
		if err := send("1111"); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	err := send("1111")
	if err == nil || jobs.IsPermanent(err) || !strings.Contains(err.Error(), "one message a second") {
		t.Fatalf("4th message in the same second: %v", err)
	}
	if n := len(f.Calls("sendMessage")); n != 3 {
		t.Fatalf("%d calls: a limited message must not reach Telegram", n)
	}
	if err := send("3333"); err != nil {
		t.Fatalf("another chat is not limited: %v", err)
	}
	if wait := a.chats.take(in.ID + ":1111"); wait <= 0 || wait > time.Second {
		t.Fatalf("wait %v", wait)
	}
	clock = clock.Add(time.Second)
	if err := send("1111"); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	// A 429 holds the chat for retry_after.
	f.TooMany("sendMessage", 30)
	clock = clock.Add(time.Minute)
	if err := send("1111"); err == nil {
		t.Fatal("want the 429")
	}
	clock = clock.Add(10 * time.Second)
	if wait := a.chats.take(in.ID + ":1111"); wait != 20*time.Second {
		t.Fatalf("held for %v, want 20s", wait)
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		max   int
		parts []string
	}{
		{"short", "Merhaba", 10, []string{"Merhaba"}},
		{"at a space", "aaaa bbbb cccc", 10, []string{"aaaa bbbb ", "cccc"}},
		{"at a line break", "aaaa\nbb bbb cccc", 12, []string{"aaaa\nbb bbb ", "cccc"}},
		{"hard", "aaaaaaaaaaaa", 5, []string{"aaaaa", "aaaaa", "aa"}},
		{"emoji not cut", "🙏🙏🙏", 3, []string{"🙏", "🙏", "🙏"}},
		{"turkish", "ışıkİĞÜ", 3, []string{"ışı", "kİĞ", "Ü"}},
		{"white space part dropped", "aaa" + strings.Repeat(" ", 8) + "b", 4, []string{"aaa ", "   b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := split(tc.text, tc.max)
			if strings.Join(got, "|") != strings.Join(tc.parts, "|") {
				t.Fatalf("got %q", got)
			}
			for _, p := range got {
				if !utf8.ValidString(p) || utf16Len(p) > tc.max {
					t.Fatalf("bad part %q", p)
				}
			}
		})
	}
}

func TestTestAndSetup(t *testing.T) {
	f := fake.New(t, token)
	a := New(nil)
	in := fakeInbox(f)
	if got, err := a.Test(context.Background(), in); err != nil || got != "@kanal_test_bot" {
		t.Fatalf("test: %q %v", got, err)
	}
	bad := fakeInbox(f)
	bad.Secrets = map[string]string{"bot_token": "1:WRONG", "secret_token": "x"}
	if _, err := a.Test(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "BotFather") {
		t.Fatalf("wrong token: %v", err)
	}

	hook := "https://kanal.example.com/webhooks/telegram/abc"
	if err := a.Setup(context.Background(), in, hook); err != nil || len(f.Calls("setWebhook")) != 0 {
		t.Fatalf("without set_webhook nothing is called: %v", err)
	}
	in.Config["set_webhook"] = true
	if err := a.Setup(context.Background(), in, hook); err != nil {
		t.Fatal(err)
	}
	w := f.Webhook()
	if w.URL != hook || w.SecretToken != "s3cret-Token_1" || strings.Join(w.AllowedUpdates, ",") != "message,edited_message,callback_query" {
		t.Fatalf("webhook %+v", w)
	}
	f.Fail("setWebhook", fake.Failure{Status: 400, Description: "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"})
	err := a.Setup(context.Background(), in, "https://kanal.example.com:9000/webhooks/telegram/abc")
	if err == nil || !strings.Contains(err.Error(), "ports 80, 88, 443 or 8443") || !strings.Contains(err.Error(), ":9000") {
		t.Fatalf("refused webhook: %v", err)
	}
}

func TestFetchMedia(t *testing.T) {
	f := fake.New(t, token)
	f.AddFile(fake.File{ID: "F1", Path: "photos/file_7.jpg", ContentType: "image/jpeg", Body: []byte("JPEG!")})
	f.AddFile(fake.File{ID: "F2", Path: "documents/file 8.pdf", Body: []byte("%PDF")})
	a := New(nil)
	in := fakeInbox(f)
	for _, tc := range []struct{ ref, body, ctype, name string }{
		{"F1", "JPEG!", "image/jpeg", "file_7.jpg"},
		{"F2", "%PDF", "", "file 8.pdf"}, // octet-stream: the update's mime_type stays
	} {
		t.Run(tc.ref, func(t *testing.T) {
			m, err := a.FetchMedia(context.Background(), in, tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(m.Body)
			m.Body.Close()
			if string(b) != tc.body || m.ContentType != tc.ctype || m.FileName != tc.name {
				t.Fatalf("got %q %q %q", b, m.ContentType, m.FileName)
			}
		})
	}
	if _, err := a.FetchMedia(context.Background(), in, "gone"); !jobs.IsPermanent(err) {
		t.Fatalf("an unknown file_id is permanent: %v", err)
	}
	f.Fail("getFile", fake.Failure{Status: http.StatusBadRequest, Description: "Bad Request: file is too big"})
	if _, err := a.FetchMedia(context.Background(), in, "F1"); !jobs.IsPermanent(err) || !strings.Contains(err.Error(), "too big") {
		t.Fatalf("too big: %v", err)
	}
	f.Fail("getFile", fake.Failure{Status: 500, Description: "Internal Server Error"})
	if _, err := a.FetchMedia(context.Background(), in, "F1"); err == nil || jobs.IsPermanent(err) {
		t.Fatalf("5xx is retried: %v", err)
	}
}

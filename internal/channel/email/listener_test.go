package email_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/api"
	"github.com/kanal-dev/kanal/internal/channel/email"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/event"
	fake "github.com/kanal-dev/kanal/internal/fakes/email"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

const support = "destek@magaza.example"

// kit is one running Kanal with an e-mail inbox, its SMTP listener and a
// fake SMTP server catching the replies.
type kit struct {
	a       *testutil.App
	c       *testutil.Client
	ad      *email.Adapter
	l       *email.Listener
	out     *fake.Server
	inboxID string
	wsID    string
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deliver sends a mail to the listener with net/smtp, as an MTA would.
func (k *kit) deliver(from string, to []string, data []byte) error {
	c, err := smtp.Dial(k.l.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("mx.sender.example"); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (k *kit) mustDeliver(t *testing.T, data []byte, to ...string) {
	t.Helper()
	if len(to) == 0 {
		to = []string{support}
	}
	if err := k.deliver("sender@mx.sender.example", to, data); err != nil {
		t.Fatalf("deliver: %v", err)
	}
}

func smtpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

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

func (k *kit) conversations(t *testing.T, addr string) []string {
	t.Helper()
	items := k.c.Must(http.StatusOK, "GET", "/api/v1/customers?q="+addr, nil).JSON()["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("%d customers for %s", len(items), addr)
	}
	id := items[0].(map[string]any)["id"].(string)
	var ids []string
	for _, c := range k.c.Must(http.StatusOK, "GET", "/api/v1/conversations?customer="+id, nil).JSON()["items"].([]any) {
		ids = append(ids, c.(map[string]any)["id"].(string))
	}
	return ids
}

func (k *kit) conversation(t *testing.T, addr string) string {
	t.Helper()
	ids := k.conversations(t, addr)
	if len(ids) != 1 {
		t.Fatalf("%d conversations for %s", len(ids), addr)
	}
	return ids[0]
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

func meta(t *testing.T, m map[string]any) email.Meta {
	t.Helper()
	raw, _ := m["raw"].(string)
	md, ok := email.ReadMeta(raw)
	if !ok {
		t.Fatalf("no e-mail meta in %v", m)
	}
	return md
}

func TestListener(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			out, err := fake.Start(fake.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(out.Close)
			ad := email.New(email.Options{MaxMessageBytes: 512 << 10, MaxAttachmentBytes: 256 << 10, Hostname: "kanal.test", Timeout: 20 * time.Second})
			a := testutil.New(t, d, testutil.Options{Adapters: []channel.Adapter{ad, api.NewSender(nil)}})
			ad.Bind(email.Deps{Media: a.Media, Inboxes: a.Inboxes, Store: a.Webhooks, Conversations: a.Conversations, MediaBaseURL: a.URL})
			l, err := ad.Listen(email.ListenerOptions{Addr: "127.0.0.1:0", Domain: "mx.kanal.test"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := l.Shutdown(ctx); err != nil {
					t.Errorf("shutdown: %v", err)
				}
			})
			w := a.Setup("Mağaza", "owner@example.com")
			c := a.Client(w.Token)
			ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "email", "name": "Mağaza Destek",
				"config": map[string]any{"address": support, "smtp": out.Config(), "dkim": map[string]any{"selector": "s1"}}}).JSON()
			if set := fmt.Sprint(ib["secrets_set"]); !strings.Contains(set, email.SecretDKIMKey) || !strings.Contains(set, email.SecretReplyKey) {
				t.Fatalf("generated secrets: %v", ib)
			}
			k := &kit{a: a, c: c, ad: ad, l: l, out: out, inboxID: ib["id"].(string), wsID: w.ID}
			for _, tc := range listenerCases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, k) })
			}
		})
	}
}

var listenerCases = []struct {
	name string
	run  func(t *testing.T, k *kit)
}{
	{"RCPT: the address and its +tag forms are accepted, others refused", func(t *testing.T, k *kit) {
		seq := k.seq(t)
		for _, rcpt := range []string{"satis@magaza.example", "destek@baska.example", "destekci@magaza.example", "destek@magaza.example.evil"} {
			err := k.deliver("x@example.com", []string{rcpt}, fixture(t, "gmail_reply.eml"))
			if smtpCode(err) != 550 {
				t.Fatalf("%s: %v", rcpt, err)
			}
		}
		if k.seq(t) != seq {
			t.Fatal("a refused mail stored something")
		}
		// Two forms of the same inbox in one mail: stored once.
		k.mustDeliver(t, fixture(t, "gmail_reply.eml"), "Destek@Magaza.Example", "destek+siparis@magaza.example")
		conv := k.conversation(t, "ayse.yilmaz@gmail.com")
		ms := k.messages(t, conv)
		if len(ms) != 1 {
			t.Fatalf("%d messages", len(ms))
		}
		m := ms[0]
		if !strings.HasPrefix(m["text"].(string), "Merhaba,\n\nSiparişim hâlâ gelmedi.") || strings.Contains(m["text"].(string), "> Siparişiniz") {
			t.Fatalf("text %q", m["text"])
		}
		if !strings.Contains(m["html"].(string), "Siparişiniz 123 kargoya verildi") || strings.Contains(m["html"].(string), "<script") {
			t.Fatalf("html %q", m["html"])
		}
		if m["provider_id"] != "CAF3x9vZ+QkRmT7yq8Yd5t0uM1p2a3b4c5d6e7f8g9h@mail.gmail.com" || m["content_type"] != "text" || m["channel"] != "email" {
			t.Fatalf("message %v", m)
		}
		if md := meta(t, m); !md.Folded || md.From.Addr != "ayse.yilmaz@gmail.com" {
			t.Fatalf("meta %+v", md)
		}
		cv := k.c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv, nil).JSON()
		if cv["subject"] != "Re: Sipariş 123" {
			t.Fatalf("subject %v", cv["subject"])
		}
		cust := k.c.Must(http.StatusOK, "GET", "/api/v1/customers?q=ayse.yilmaz@gmail.com", nil).JSON()["items"].([]any)[0].(map[string]any)
		if cust["name"] != "Ayşe Yılmaz" || cust["email"] != "ayse.yilmaz@gmail.com" {
			t.Fatalf("customer %v", cust)
		}
	}},
	{"the same mail delivered again is stored once", func(t *testing.T, k *kit) {
		seq := k.seq(t)
		k.mustDeliver(t, fixture(t, "gmail_reply.eml"))
		k.mustDeliver(t, fixture(t, "gmail_reply.eml"), "destek+baska@magaza.example")
		if k.seq(t) != seq {
			t.Fatal("a duplicate stored something")
		}
	}},
	{"DATA over the size limit is refused with 552, nothing stored", func(t *testing.T, k *kit) {
		seq := k.seq(t)
		big := "From: buyuk@example.com\r\nTo: " + support + "\r\nSubject: büyük\r\nMessage-ID: <big@example.com>\r\n\r\n" +
			strings.Repeat(strings.Repeat("x", 76)+"\r\n", 8000)
		err := k.deliver("buyuk@example.com", []string{support}, []byte(big))
		if smtpCode(err) != 552 {
			t.Fatalf("err %v", err)
		}
		if k.seq(t) != seq {
			t.Fatal("stored something")
		}
	}},
	{"a reply joins its conversation; another customer's mail with the same subject does not", func(t *testing.T, k *kit) {
		conv := k.conversation(t, "ayse.yilmaz@gmail.com")
		reply := "From: =?UTF-8?Q?Ay=C5=9Fe_Y=C4=B1lmaz?= <ayse.yilmaz@gmail.com>\r\nTo: " + support + "\r\nSubject: Re: Sipariş 123\r\n" +
			"Message-ID: <second@mail.gmail.com>\r\nIn-Reply-To: <CAF3x9vZ+QkRmT7yq8Yd5t0uM1p2a3b4c5d6e7f8g9h@mail.gmail.com>\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n\r\nBir de fatura istiyorum.\r\n"
		k.mustDeliver(t, []byte(reply))
		if n := len(k.messages(t, conv)); n != 2 {
			t.Fatalf("%d messages in the conversation", n)
		}
		other := strings.NewReplacer("ayse.yilmaz@gmail.com", "baska.musteri@example.org", "second@", "third@").Replace(reply)
		k.mustDeliver(t, []byte(other))
		if c := k.conversation(t, "baska.musteri@example.org"); c == conv {
			t.Fatal("threaded by subject across customers")
		}
		if n := len(k.messages(t, conv)); n != 2 {
			t.Fatalf("%d messages in the first conversation", n)
		}
	}},
	{"an auto-reply is stored and flagged", func(t *testing.T, k *kit) {
		k.mustDeliver(t, fixture(t, "autoreply.eml"))
		ms := k.messages(t, k.conversation(t, "mehmet.ozturk@ornek.com.tr"))
		if len(ms) != 1 || ms[0]["content_type"] != email.ContentAutoReply || meta(t, ms[0]).Auto != "auto-submitted: auto-replied" {
			t.Fatalf("messages %v", ms)
		}
	}},
	{"attachments and inline images are stored and served", func(t *testing.T, k *kit) {
		k.mustDeliver(t, fixture(t, "apple_mail.eml"))
		ms := k.messages(t, k.conversation(t, "zeynep.celik@icloud.com"))
		if len(ms) != 1 {
			t.Fatalf("%d messages", len(ms))
		}
		m := ms[0]
		atts := m["attachments"].([]any)
		if len(atts) != 1 {
			t.Fatalf("attachments %v", atts)
		}
		att := atts[0].(map[string]any)
		url := att["url"].(string)
		if att["file_name"] != "IMG_1234.png" || att["content_type"] != "image/png" || !strings.Contains(m["html"].(string), url) ||
			strings.Contains(m["html"].(string), "cid:") {
			t.Fatalf("attachment %v html %q", att, m["html"])
		}
		r := k.c.Must(http.StatusOK, "GET", strings.TrimPrefix(url, k.a.URL), nil)
		if !bytes.HasPrefix(r.Body, []byte("\x89PNG")) {
			t.Fatalf("served %q", r.Body)
		}
		// Over the attachment limit: named in the text, not kept.
		big := "From: dosya@example.com\r\nTo: " + support + "\r\nSubject: dosya\r\nMessage-ID: <file@example.com>\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nEkte.\r\n--B\r\n" +
			"Content-Type: application/zip\r\nContent-Disposition: attachment; filename=arsiv.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			strings.Repeat(strings.Repeat("QUFB", 19)+"\r\n", 5000) + "--B--\r\n"
		k.mustDeliver(t, []byte(big))
		m = k.messages(t, k.conversation(t, "dosya@example.com"))[0]
		if len(m["attachments"].([]any)) != 0 || !strings.Contains(m["text"].(string), "arsiv.zip") || !strings.Contains(m["text"].(string), "not kept") {
			t.Fatalf("message %v", m)
		}
	}},
	{"a mail without sender is refused", func(t *testing.T, k *kit) {
		err := k.deliver("x@example.com", []string{support}, []byte("To: "+support+"\r\nSubject: kimsiz\r\n\r\nmetin\r\n"))
		if smtpCode(err) != 550 {
			t.Fatalf("err %v", err)
		}
	}},
	{"a reply goes out threaded and signed; the answer to its token address and its bounce come back", func(t *testing.T, k *kit) {
		conv := k.conversation(t, "ayse.yilmaz@gmail.com")
		sent := k.c.Must(http.StatusCreated, "POST", "/api/v1/conversations/"+conv+"/messages",
			map[string]any{"text": "Merhaba Ayşe Hanım,\nFaturanız hazırlanıyor."}).JSON()
		id := sent["id"].(string)
		var m map[string]any
		testutil.Eventually(t, 15*time.Second, func() bool {
			m = k.message(t, conv, id)
			return m["status"] == "sent"
		}, "the reply is sent")
		mails := k.out.Mails()
		if len(mails) == 0 {
			t.Fatal("nothing sent")
		}
		data := mails[len(mails)-1].Data
		msg, err := mail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		pid := m["provider_id"].(string)
		h := msg.Header
		if h.Get("Message-Id") != "<"+pid+">" || h.Get("In-Reply-To") != "<second@mail.gmail.com>" ||
			!strings.Contains(h.Get("References"), "<second@mail.gmail.com>") || h.Get("Auto-Submitted") != "" {
			t.Fatalf("headers %v (provider id %s)", h, pid)
		}
		rt, err := mail.ParseAddress(h.Get("Reply-To"))
		if err != nil || !strings.HasPrefix(rt.Address, "destek+") || !strings.HasSuffix(rt.Address, "@magaza.example") {
			t.Fatalf("reply-to %q", h.Get("Reply-To"))
		}
		in, err := k.a.Inboxes.Get(context.Background(), k.wsID, k.inboxID)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := email.DNSRecords(in, "")
		if err != nil {
			t.Fatal(err)
		}
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
			for _, r := range recs {
				if r.Name == name {
					return []string{r.Value}, nil
				}
			}
			return nil, errors.New("NXDOMAIN " + name)
		}})
		if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "magaza.example" {
			t.Fatalf("dkim: %v %+v", err, vs)
		}
		// Kanal's own mail coming back (a copy to the support address) is
		// not a customer message.
		seq := k.seq(t)
		k.mustDeliver(t, data)
		if k.seq(t) != seq {
			t.Fatal("Kanal's own mail was stored")
		}
		// The customer answers the token address, from another mailbox and
		// without In-Reply-To: the token still names the conversation.
		answer := "From: Ayşe <ayse.yilmaz@gmail.com>\r\nTo: " + rt.Address + "\r\nSubject: Re: Sipariş 123\r\nMessage-ID: <answer@mail.gmail.com>\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n\r\nTeşekkürler!\r\n"
		k.mustDeliver(t, []byte(answer), rt.Address)
		var got map[string]any
		for _, x := range k.messages(t, conv) {
			if x["provider_id"] == "answer@mail.gmail.com" {
				got = x
			}
		}
		if got == nil || meta(t, got).ConversationHint != conv {
			t.Fatalf("answer %v", got)
		}
		// The reply bounces.
		dsn := strings.ReplaceAll(string(fixture(t, "bounce.eml")), "kanal.0191f0a2-4444-7def-8abc-0123456789ab@example.com", pid)
		k.mustDeliver(t, []byte(dsn))
		m = k.message(t, conv, id)
		if m["status"] != "failed" || !strings.Contains(m["status_reason"].(string), "5.1.1") {
			t.Fatalf("after the bounce: %v %v", m["status"], m["status_reason"])
		}
	}},
	{"threading by token and Message-ID: into the named conversation, even resolved, never across customers", func(t *testing.T, k *kit) {
		if _, ok := reflect.TypeOf(channel.Message{}).FieldByName("ThreadKeys"); !ok {
			t.Skip("needs the conversation threading change (channel.Message.ConversationHint and ThreadKeys)")
		}
		mk := func(from, id, extra, body string) []byte {
			return []byte("From: " + from + "\r\nTo: " + support + "\r\nSubject: Konu\r\nMessage-ID: <" + id + ">\r\n" + extra +
				"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
		}
		k.mustDeliver(t, mk("thread@example.com", "a1@example.com", "", "İlk talep"))
		convA := k.conversation(t, "thread@example.com")
		k.c.Must(http.StatusOK, "PATCH", "/api/v1/conversations/"+convA, map[string]any{"status": "resolved"})
		k.mustDeliver(t, mk("thread@example.com", "b1@example.com", "", "Yeni konu"))
		var convB string
		for _, id := range k.conversations(t, "thread@example.com") {
			if id != convA {
				convB = id
			}
		}
		if convB == "" {
			t.Fatal("a new mail after resolving opened no conversation")
		}
		// An answer to the first mail goes to the first conversation and
		// reopens it, though the second is the customer's latest.
		k.mustDeliver(t, mk("thread@example.com", "a2@example.com", "In-Reply-To: <a1@example.com>\r\nReferences: <a1@example.com>\r\n", "İlk talebe ek"))
		if n := len(k.messages(t, convA)); n != 2 {
			t.Fatalf("%d messages in the first conversation", n)
		}
		if st := k.c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+convA, nil).JSON()["status"]; st != "open" {
			t.Fatalf("status %v", st)
		}
		// An answer to Kanal's reply in the first conversation, through the
		// token address only, goes there too.
		out := k.c.Must(http.StatusCreated, "POST", "/api/v1/conversations/"+convA+"/messages", map[string]any{"text": "Bakıyoruz."}).JSON()
		var replyTo string
		testutil.Eventually(t, 15*time.Second, func() bool {
			for _, m := range k.out.Mails() {
				if bytes.Contains(m.Data, []byte("kanal."+out["id"].(string))) {
					msg, _ := mail.ReadMessage(bytes.NewReader(m.Data))
					a, _ := mail.ParseAddress(msg.Header.Get("Reply-To"))
					replyTo = a.Address
					return true
				}
			}
			return false
		}, "the reply goes out")
		k.mustDeliver(t, mk("thread@example.com", "a3@example.com", "", "Teşekkürler"), replyTo)
		if n := len(k.messages(t, convA)); n != 4 {
			t.Fatalf("%d messages in the first conversation", n)
		}
		if n := len(k.messages(t, convB)); n != 1 {
			t.Fatalf("%d messages in the second conversation", n)
		}
		// Another customer answering the same Message-ID gets their own.
		k.mustDeliver(t, mk("colleague@example.com", "c1@example.com", "In-Reply-To: <a1@example.com>\r\n", "Ben de"))
		if c := k.conversation(t, "colleague@example.com"); c == convA || c == convB {
			t.Fatal("threaded across customers")
		}
	}},
	{"a reply by Kanal's automation is marked Auto-Submitted", func(t *testing.T, k *kit) {
		conv := k.conversation(t, "mehmet.ozturk@ornek.com.tr")
		_, err := k.a.Conversations.Send(context.Background(), systemActor(), k.wsID, conv, replyOf("Talebiniz alındı."))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 15*time.Second, func() bool {
			for _, m := range k.out.Mails() {
				if bytes.Contains(m.Data, []byte("Auto-Submitted: auto-replied")) {
					return true
				}
			}
			return false
		}, "an automatic mail goes out")
	}},
}

func systemActor() event.Actor { return event.System }

func replyOf(text string) conversation.Reply { return conversation.Reply{Text: text} }

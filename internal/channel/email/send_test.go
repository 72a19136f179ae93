package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	fake "github.com/kanal-dev/kanal/internal/fakes/email"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
	"github.com/kanal-dev/kanal/internal/media"
)

const (
	testConv    = "0191f0a2-7c3b-7def-8abc-0123456789ab"
	testMsg     = "0191f0a2-9999-7def-8abc-0123456789ab"
	testSeed    = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	testReplKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

// history is a conversation's messages, for threading.
type history []conversation.Message

func (h history) Messages(_ context.Context, _, _ string, after conversation.Cursor, limit int) ([]conversation.Message, error) {
	if after.ID != "" {
		return nil, nil
	}
	return h, nil
}

func testInbox(smtpCfg map[string]any, dkimCfg map[string]any, secrets map[string]string) inbox.Inbox {
	cfg := map[string]any{"address": "destek@example.com"}
	if smtpCfg != nil {
		cfg["smtp"] = smtpCfg
	}
	if dkimCfg != nil {
		cfg["dkim"] = dkimCfg
	}
	sec := map[string]string{SecretDKIMKey: testSeed, SecretReplyKey: testReplKey}
	for k, v := range secrets {
		sec[k] = v
	}
	return inbox.Inbox{ID: "ib1", WorkspaceID: "ws1", Type: TypeName, Name: "Kanal Destek", Config: cfg, Secrets: sec}
}

func testOutbound(in inbox.Inbox, text string) channel.Outbound {
	return channel.Outbound{
		Inbox:        in,
		Conversation: conversation.Conversation{ID: testConv, WorkspaceID: "ws1", Subject: "Sipariş 123"},
		Customer: customer.Customer{Name: "Ayşe Yılmaz", Identities: []customer.Identity{
			{Kind: customer.KindEmail, Value: "Ayse.Yilmaz@gmail.com", Normalized: "ayse.yilmaz@gmail.com"}}},
		Message: conversation.Message{ID: testMsg, Text: text, AuthorKind: conversation.AuthorAgent, Direction: conversation.DirectionOut},
	}
}

func lastInboundHistory() history {
	return history{{ID: "m1", Direction: conversation.DirectionIn, Channel: TypeName, Raw: encodeMeta(Meta{
		MessageID:  "CAF3x9vZ@mail.gmail.com",
		References: []string{"root@example.com", "kanal.old@example.com"},
		From:       Address{Name: "Ayşe Yılmaz", Addr: "ayse.yilmaz@gmail.com"},
		ReplyTo:    []Address{{Name: "Ayşe (iş)", Addr: "ayse@isyeri.example"}}})}}
}

func TestSendOverSMTP(t *testing.T) {
	for _, mode := range []string{fake.TLSNone, fake.TLSStartTLS, fake.TLSImplicit} {
		for _, mech := range []string{"PLAIN", "LOGIN"} {
			t.Run(mode+"/"+mech, func(t *testing.T) {
				srv, err := fake.Start(fake.Options{TLS: mode, Username: "destek@example.com", Password: "gizli şifre", Mechanisms: []string{mech}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(srv.Close)
				a := New(Options{RootCAs: srv.RootCAs, Hostname: "kanal.test", Timeout: 20 * time.Second})
				a.Bind(Deps{Conversations: lastInboundHistory()})
				in := testInbox(srv.Config(), nil, map[string]string{SecretSMTPPassword: "gizli şifre"})
				id, err := a.Send(context.Background(), testOutbound(in, "Merhaba Ayşe Hanım,\nSiparişiniz yolda."))
				if err != nil {
					t.Fatal(err)
				}
				mails := srv.Mails()
				if len(mails) != 1 {
					t.Fatalf("%d mails", len(mails))
				}
				m := mails[0]
				if m.From != "destek@example.com" || len(m.To) != 1 || m.To[0] != "ayse@isyeri.example" || m.Auth != "destek@example.com" ||
					m.TLS != (mode != fake.TLSNone) {
					t.Fatalf("envelope %+v", m)
				}
				msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatal(err)
				}
				h := msg.Header
				if id != "kanal."+testMsg+"@example.com" || h.Get("Message-Id") != "<"+id+">" {
					t.Fatalf("id %q header %q", id, h.Get("Message-Id"))
				}
				if h.Get("In-Reply-To") != "<CAF3x9vZ@mail.gmail.com>" ||
					h.Get("References") != "<root@example.com> <kanal.old@example.com> <CAF3x9vZ@mail.gmail.com>" {
					t.Fatalf("threading: %q / %q", h.Get("In-Reply-To"), h.Get("References"))
				}
				rt, err := mail.ParseAddress(h.Get("Reply-To"))
				if err != nil {
					t.Fatal(err)
				}
				local, tag, _, _ := splitAddress(rt.Address)
				if conv, ok := ParseReplyToken(mustHex(testReplKey), tag); !ok || conv != testConv || local != "destek" {
					t.Fatalf("reply-to %q", rt.Address)
				}
				dec := new(mime.WordDecoder)
				if subj, _ := dec.DecodeHeader(h.Get("Subject")); subj != "Re: Sipariş 123" {
					t.Fatalf("subject %q", subj)
				}
				if h.Get("Auto-Submitted") != "" || h.Get("X-Loop") != "destek@example.com" || h.Get("Dkim-Signature") != "" {
					t.Fatalf("headers %v", h)
				}
				p, err := Parse(m.Data, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if p.Text != "Merhaba Ayşe Hanım,\nSiparişiniz yolda." || !strings.Contains(p.HTML, "Merhaba Ayşe Hanım,<br>") {
					t.Fatalf("body %q / %q", p.Text, p.HTML)
				}
			})
		}
	}
}

func TestSendDKIM(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(rsaKey))}))
	rsaPKCS1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))
	for name, key := range map[string]string{"ed25519 generated": testSeed, "rsa pkcs8": rsaPEM, "rsa pkcs1": rsaPKCS1} {
		t.Run(name, func(t *testing.T) {
			srv, err := fake.Start(fake.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			a := New(Options{Timeout: 20 * time.Second})
			a.Bind(Deps{Conversations: lastInboundHistory()})
			in := testInbox(srv.Config(), map[string]any{"selector": "s1"}, map[string]string{SecretDKIMKey: key})
			if _, err := a.Send(context.Background(), testOutbound(in, "İmzalı yanıt: çğıöşü")); err != nil {
				t.Fatal(err)
			}
			recs, err := DNSRecords(in, "mx.example.com")
			if err != nil {
				t.Fatal(err)
			}
			txt := map[string]string{}
			for _, r := range recs {
				if r.Type == "TXT" {
					txt[r.Name] = r.Value
				}
			}
			if !strings.HasPrefix(txt["s1._domainkey.example.com"], "v=DKIM1;") || !strings.HasPrefix(txt["example.com"], "v=spf1") ||
				!strings.HasPrefix(txt["_dmarc.example.com"], "v=DMARC1;") {
				t.Fatalf("records %+v", recs)
			}
			lookups := 0
			verify := func(data []byte) error {
				vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
					lookups++
					if v, ok := txt[domain]; ok {
						return []string{v}, nil
					}
					return nil, errors.New("no such record: " + domain)
				}})
				if err != nil {
					return err
				}
				if len(vs) != 1 {
					return errors.New("not one signature")
				}
				if vs[0].Err != nil {
					return vs[0].Err
				}
				if vs[0].Domain != "example.com" {
					return errors.New("domain " + vs[0].Domain)
				}
				return nil
			}
			data := srv.Mails()[0].Data
			if err := verify(data); err != nil || lookups == 0 {
				t.Fatalf("verify: %v (%d look-ups)", err, lookups)
			}
			// Any change of a signed field breaks the signature.
			tampered := bytes.Replace(data, []byte("Reply-To:"), []byte("X-Was-Reply-To:"), 1)
			tampered = bytes.Replace(tampered, []byte("\r\n\r\n"), []byte("\r\nReply-To: attacker@evil.example\r\n\r\n"), 1)
			if err := verify(tampered); err == nil {
				t.Fatal("a changed Reply-To still verifies")
			}
		})
	}
}

func TestSendRefusals(t *testing.T) {
	srv, err := fake.Start(fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	a := New(Options{Timeout: 10 * time.Second})
	a.Bind(Deps{Conversations: history{}})
	in := testInbox(srv.Config(), nil, nil)
	send := func(o channel.Outbound) error { _, err := a.Send(context.Background(), o); return err }

	t.Run("header injection in the subject", func(t *testing.T) {
		o := testOutbound(in, "x")
		o.Conversation.Subject = "Sipariş\r\nBcc: victim@example.com"
		if err := send(o); !jobs.IsPermanent(err) || !errors.Is(err, ErrHeaderInjection) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("header injection in the customer's name", func(t *testing.T) {
		o := testOutbound(in, "x")
		o.Customer.Name = "Ayşe\nBcc: victim@example.com"
		if err := send(o); !jobs.IsPermanent(err) || !errors.Is(err, ErrHeaderInjection) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("header injection in the inbox name", func(t *testing.T) {
		o := testOutbound(in, "x")
		o.Inbox.Name = "Destek\r\nX-Evil: 1"
		if err := send(o); !jobs.IsPermanent(err) || !errors.Is(err, ErrHeaderInjection) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("attachment by URL", func(t *testing.T) {
		o := testOutbound(in, "x")
		o.Message.Attachments = []conversation.Attachment{{URL: "https://files.example.com/a.pdf", FileName: "a.pdf"}}
		if err := send(o); !jobs.IsPermanent(err) || !strings.Contains(err.Error(), "by URL") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("template", func(t *testing.T) {
		o := testOutbound(in, "x")
		o.Message.ContentType = "template"
		if err := send(o); !jobs.IsPermanent(err) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("no address", func(t *testing.T) {
		o := testOutbound(in, "x")
		o.Customer = customer.Customer{Name: "Telefonlu"}
		if err := send(o); !jobs.IsPermanent(err) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("no smtp", func(t *testing.T) {
		if err := send(testOutbound(testInbox(nil, nil, nil), "x")); !jobs.IsPermanent(err) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("5xx is permanent", func(t *testing.T) {
		srv.RefuseRcpt(fake.Reply(550, [3]int{5, 1, 1}, "No such user"))
		defer srv.RefuseRcpt(nil)
		if err := send(testOutbound(in, "x")); !jobs.IsPermanent(err) || !strings.Contains(err.Error(), "No such user") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("4xx is retried later", func(t *testing.T) {
		srv.RefuseData(fake.Reply(451, [3]int{4, 3, 0}, "Try later"))
		defer srv.RefuseData(nil)
		err := send(testOutbound(in, "x"))
		if err == nil || jobs.IsPermanent(err) || jobs.RetryAfterOf(err) == 0 {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("wrong password is permanent and says so", func(t *testing.T) {
		auth, err := fake.Start(fake.Options{Username: "u", Password: "right"})
		if err != nil {
			t.Fatal(err)
		}
		defer auth.Close()
		err = send(testOutbound(testInbox(auth.Config(), nil, map[string]string{SecretSMTPPassword: "wrong"}), "x"))
		if !jobs.IsPermanent(err) || !strings.Contains(err.Error(), "refused the login") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("nobody listening is retried", func(t *testing.T) {
		err := send(testOutbound(testInbox(map[string]any{"host": "127.0.0.1", "port": 1, "tls": "none"}, nil, nil), "x"))
		if err == nil || jobs.IsPermanent(err) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestBuildAutoSubmitted(t *testing.T) {
	a := New(Options{})
	a.Bind(Deps{Conversations: history{}})
	in := testInbox(map[string]any{"host": "smtp.example.com"}, nil, nil)
	for kind, want := range map[string]string{conversation.AuthorAgent: "", conversation.AuthorBot: "auto-replied", conversation.AuthorSystem: "auto-replied"} {
		o := testOutbound(in, "Talebiniz alındı.")
		o.Message.AuthorKind = kind
		out, err := a.Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := mail.ReadMessage(bytes.NewReader(out.Bytes))
		if got := msg.Header.Get("Auto-Submitted"); got != want {
			t.Fatalf("%s: Auto-Submitted %q", kind, got)
		}
		// Without an inbound mail to answer: the customer's address, no
		// In-Reply-To, the subject as is.
		if msg.Header.Get("In-Reply-To") != "" || out.To[0] != "ayse.yilmaz@gmail.com" {
			t.Fatalf("%v %v", msg.Header, out.To)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func mustHex(s string) []byte { return must(hex.DecodeString(s)) }

// files is a media store holding files in a folder.
type files struct{ dir string }

func (f files) Save(context.Context, string, string, string, io.Reader, int64, string) (media.File, error) {
	return media.File{}, errors.New("read only")
}

func (f files) Open(_ context.Context, _, id string) (media.File, *os.File, error) {
	fh, err := os.Open(filepath.Join(f.dir, id))
	if err != nil {
		return media.File{}, nil, err
	}
	return media.File{ID: id, FileName: "Fatura Şubat.pdf", ContentType: "application/pdf"}, fh, nil
}

func TestSendAttachesStoredFiles(t *testing.T) {
	dir := t.TempDir()
	pdf := []byte("%PDF-1.4 fatura")
	if err := os.WriteFile(filepath.Join(dir, "f1"), pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	a := New(Options{})
	a.Bind(Deps{Conversations: history{}, Media: files{dir}, MediaBaseURL: "https://kanal.example.com"})
	o := testOutbound(testInbox(map[string]any{"host": "smtp.example.com"}, nil, nil), "Fatura ekte.")
	o.Message.Attachments = []conversation.Attachment{{URL: "https://kanal.example.com/api/v1/media/f1"}}
	out, err := a.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(out.Bytes, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f := partNamed(p, "Fatura Şubat.pdf"); f == nil || !bytes.Equal(f.Data, pdf) || p.Text != "Fatura ekte." {
		t.Fatalf("parts %+v text %q", p.Parts, p.Text)
	}
	o.Message.Attachments = []conversation.Attachment{{URL: "/api/v1/media/missing"}}
	if _, err := a.Build(context.Background(), o); !jobs.IsPermanent(err) {
		t.Fatalf("missing file: %v", err)
	}
}

package email

import (
	"errors"
	"strings"
	"testing"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
)

func TestValidate(t *testing.T) {
	sec := map[string]string{SecretDKIMKey: testSeed, SecretReplyKey: testReplKey}
	ok := []map[string]any{
		{"address": "destek@example.com"},
		{"address": "destek@example.com", "imap": map[string]any{"host": "imap.gmail.com", "port": float64(993), "tls": "tls", "folder": "INBOX"},
			"smtp": map[string]any{"host": "smtp.gmail.com", "port": "587", "tls": "STARTTLS"}, "dkim": map[string]any{"selector": "kanal2026"}},
	}
	for _, cfg := range ok {
		if err := validate(cfg, sec); err != nil {
			t.Fatalf("%v: %v", cfg, err)
		}
	}
	bad := map[string]struct {
		cfg     map[string]any
		secrets map[string]string
		field   string
	}{
		"no address":         {map[string]any{}, sec, "address"},
		"plus address":       {map[string]any{"address": "destek+x@example.com"}, sec, "address"},
		"CRLF in address":    {map[string]any{"address": "destek@example.com\r\nBcc: x@y.z"}, sec, "address"},
		"unknown key":        {map[string]any{"address": "a@example.com", "pop3": true}, sec, "pop3"},
		"imap without host":  {map[string]any{"address": "a@example.com", "imap": map[string]any{"port": 993}}, sec, "imap.host"},
		"bad port":           {map[string]any{"address": "a@example.com", "smtp": map[string]any{"host": "h", "port": 70000}}, sec, "smtp.port"},
		"bad tls":            {map[string]any{"address": "a@example.com", "smtp": map[string]any{"host": "h", "tls": "ssl"}}, sec, "smtp.tls"},
		"user, no password":  {map[string]any{"address": "a@example.com", "smtp": map[string]any{"host": "h", "username": "u"}}, sec, SecretSMTPPassword},
		"bad dkim selector":  {map[string]any{"address": "a@example.com", "dkim": map[string]any{"selector": "a b"}}, sec, "dkim.selector"},
		"bad dkim key":       {map[string]any{"address": "a@example.com", "dkim": map[string]any{}}, map[string]string{SecretDKIMKey: "not a key"}, SecretDKIMKey},
		"imap not an object": {map[string]any{"address": "a@example.com", "imap": "imap.example.com"}, sec, "imap"},
	}
	for name, tc := range bad {
		err := validate(tc.cfg, tc.secrets)
		var v *errs.Validation
		if !errors.As(err, &v) || v.Fields[tc.field] == "" {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestSettingsDefaults(t *testing.T) {
	in := inbox.Inbox{Config: map[string]any{"address": "Destek@Example.com",
		"imap": map[string]any{"host": "imap.example.com", "tls": "starttls", "username": "u"},
		"smtp": map[string]any{"host": "smtp.example.com", "tls": "tls"}},
		Secrets: map[string]string{SecretIMAPPassword: "p", SecretDKIMKey: testSeed, SecretReplyKey: testReplKey}}
	s, err := SettingsOf(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.Address != "destek@example.com" || s.Local != "destek" || s.Domain != "example.com" || s.DKIM != nil {
		t.Fatalf("%+v", s)
	}
	if s.IMAP.Port != 143 || s.IMAP.Folder != "INBOX" || s.IMAP.Password != "p" || s.SMTP.Port != 465 {
		t.Fatalf("imap %+v smtp %+v", s.IMAP, s.SMTP)
	}
}

func TestReplyToken(t *testing.T) {
	key := mustHex(testReplKey)
	tok := ReplyToken(key, testConv)
	if len(tok) != 36 || strings.ToLower(tok) != tok {
		t.Fatalf("token %q", tok)
	}
	if id, ok := ParseReplyToken(key, tok); !ok || id != testConv {
		t.Fatalf("parse %q %v", id, ok)
	}
	if id, ok := ParseReplyToken(key, strings.ToUpper(tok)); !ok || id != testConv {
		t.Fatal("an MTA that upper-cases the local part breaks the token")
	}
	if _, ok := ParseReplyToken([]byte("another key of sixteen+"), tok); ok {
		t.Fatal("a token made with another key is accepted")
	}
	forged := []byte(tok)
	forged[3] ^= 1
	if _, ok := ParseReplyToken(key, string(forged)); ok {
		t.Fatal("a changed token is accepted")
	}
	addr := ReplyAddress("destek@example.com", tok)
	s := Settings{Address: "destek@example.com", Local: "destek", Domain: "example.com", ReplyKey: key}
	if !s.accepts(addr) || !s.accepts("DESTEK@example.com") || s.accepts("destek@example.org") || s.accepts("destekci@example.com") {
		t.Fatal("accepts")
	}
	if id, ok := tokenIn(s, []string{"other@example.com", "destek+nope@example.com", addr}); !ok || id != testConv {
		t.Fatalf("tokenIn %q %v", id, ok)
	}
}

func TestCursor(t *testing.T) {
	c := ParseCursor("v1:1700000000:42:1790000000")
	if c.UIDValidity != 1700000000 || c.UID != 42 || c.At.Unix() != 1790000000 || c.String() != "v1:1700000000:42:1790000000" {
		t.Fatalf("%+v", c)
	}
	for _, s := range []string{"", "v2:1:2:3", "v1:x:2:3", "v1:1:2"} {
		if ParseCursor(s) != (Cursor{}) {
			t.Fatalf("%q", s)
		}
	}
}

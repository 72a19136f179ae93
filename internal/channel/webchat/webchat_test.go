package webchat

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/errs"
)

// Fixed vectors, computed independently (Python's hmac module).
func TestIdentityHashVectors(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	cases := []struct{ user, want string }{
		{"user-42", "d6f70521973278294ce7b05519c3131f25d1710102d6c7e2842e84faa1ca1b01"},
		{"müşteri-ç", "6e1a34b5f2b669ce844fc0d1ed29eb2c3735116da7bda40f1795f92810db1fb2"},
	}
	for _, c := range cases {
		if got := IdentityHash(secret, c.user); got != c.want {
			t.Errorf("IdentityHash(%q) = %s, want %s", c.user, got, c.want)
		}
		if !VerifyIdentity(secret, c.user, c.want) || !VerifyIdentity(secret, c.user, strings.ToUpper(c.want)) {
			t.Errorf("VerifyIdentity refused the right hmac for %q", c.user)
		}
	}
	bad := []struct{ secret, user, mac string }{
		{secret, "user-43", cases[0].want},                         // another user
		{"another-secret-of-16+", "user-42", cases[0].want},        // another inbox
		{secret, "user-42", cases[0].want[:63]},                    // truncated
		{secret, "user-42", ""},                                    // absent
		{secret, "", IdentityHash(secret, "")},                     // no user
		{"", "user-42", IdentityHash("", "user-42")},               // no secret
		{secret, "user-42", strings.Repeat("0", 64)},               // forged
		{secret, "user-42", cases[0].want[:62] + "zz"},             // not hex
		{secret, "user-42", "sha256=" + cases[0].want[:57]},        // wrong format
		{secret, "user-42 ", IdentityHash(secret, "user-42") + ""}, // a different string
	}
	for i, b := range bad {
		if VerifyIdentity(b.secret, b.user, b.mac) {
			t.Errorf("case %d: VerifyIdentity accepted %q for %q", i, b.mac, b.user)
		}
	}
}

func TestTokens(t *testing.T) {
	a, b := newToken(), newToken()
	if a == b || !wellFormedToken(a) || !strings.HasPrefix(a, "kv_") {
		t.Fatalf("tokens %q %q", a, b)
	}
	if hashToken(a) == a || len(hashToken(a)) != 64 {
		t.Error("the stored form must be a SHA-256, not the token")
	}
	for _, bad := range []string{"", "kv_", "kanal_" + a[3:], a + "x", a[:len(a)-1] + "!", strings.Replace(a, "kv_", "KV_", 1)} {
		if wellFormedToken(bad) {
			t.Errorf("%q passed as a token", bad)
		}
	}
}

func parse(t *testing.T, js string) (Settings, error) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return ParseSettings(m)
}

func TestSettings(t *testing.T) {
	s, err := parse(t, `{}`)
	if err != nil || s.PreChat != "none" || s.MaxFileMB != 10 || len(s.FileTypes) != 5 || s.Color != DefaultColor || len(s.AllowedOrigins) != 0 {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	s, err = parse(t, `{"allowed_origins":["https://www.Example.com:443","http://127.0.0.1:5173/","https://www.example.com"],
		"pre_chat":"name_email","greeting":{"tr":"Merhaba!","en":"Hi!"},"offline_message":{"tr":"Çevrimdışıyız"},
		"max_file_mb":5,"file_types":["image/*","application/pdf"],"color":"#AA3300",
		"business_hours":{"timezone":"Europe/Istanbul","days":{"mon":[{"open":"09:00","close":"18:00"}],"sat":[{"open":"10:00","close":"14:00"}]}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.AllowedOrigins, " "); got != "https://www.example.com http://127.0.0.1:5173" {
		t.Errorf("origins %q", got)
	}
	if !s.OriginAllowed("https://WWW.example.com") || !s.OriginAllowed("http://127.0.0.1:5173") || s.OriginAllowed("http://127.0.0.1:5174") ||
		s.OriginAllowed("https://www.example.com.evil.test") || s.OriginAllowed("null") {
		t.Error("OriginAllowed")
	}
	if !s.TypeAllowed("image/png") || !s.TypeAllowed("image/webp") || !s.TypeAllowed("application/pdf") || s.TypeAllowed("text/html") ||
		s.TypeAllowed("application/pdfx") {
		t.Error("TypeAllowed")
	}
	if s.MaxFileBytes() != 5<<20 || s.Color != "#aa3300" || s.Greeting["tr"] != "Merhaba!" {
		t.Errorf("%+v", s)
	}
	ist, _ := time.LoadLocation("Europe/Istanbul")
	monday := time.Date(2026, 11, 23, 0, 0, 0, 0, ist)
	for _, c := range []struct {
		at   time.Time
		open bool
	}{
		{monday.Add(9 * time.Hour), true},
		{monday.Add(17*time.Hour + 59*time.Minute), true},
		{monday.Add(18 * time.Hour), false},
		{monday.Add(8*time.Hour + 59*time.Minute), false},
		{monday.Add(24*time.Hour + 10*time.Hour), false},  // Tuesday: closed
		{monday.Add(5*24*time.Hour + 11*time.Hour), true}, // Saturday
		{monday.Add(9 * time.Hour).UTC(), true},           // the zone, not the caller's
	} {
		if got := s.BusinessHours.Open(c.at); got != c.open {
			t.Errorf("Open(%s) = %v", c.at, got)
		}
	}
	var none *BusinessHours
	if !none.Open(time.Now()) {
		t.Error("no schedule must mean always open")
	}

	for _, bad := range []string{
		`{"allowed_origins":"https://x.test"}`,
		`{"allowed_origins":["https://x.test/path"]}`,
		`{"allowed_origins":["javascript:alert(1)"]}`,
		`{"pre_chat":"always"}`,
		`{"greeting":{"de":"Hallo"}}`,
		`{"max_file_mb":0}`,
		`{"max_file_mb":2.5}`,
		`{"max_file_mb":500}`,
		`{"file_types":["pdf"]}`,
		`{"file_types":[]}`,
		`{"color":"red"}`,
		`{"business_hours":{"timezone":"Mars/Olympus","days":{}}}`,
		`{"business_hours":{"days":{"funday":[]}}}`,
		`{"business_hours":{"days":{"mon":[{"open":"18:00","close":"09:00"}]}}}`,
		`{"business_hours":{"days":{"mon":[{"open":"9","close":"18:00"}]}}}`,
		`{"callback_url":"https://x.test"}`,
	} {
		_, err := parse(t, bad)
		var v *errs.Validation
		if err == nil || !errorsAs(err, &v) {
			t.Errorf("%s: accepted (%v)", bad, err)
		}
	}
}

func errorsAs(err error, v **errs.Validation) bool {
	x, ok := err.(*errs.Validation)
	*v = x
	return ok
}

func TestTypeValidateNeedsSecret(t *testing.T) {
	ty := NewAdapter().Type()
	if ty.Name != "webchat" || ty.Webhook || len(ty.Reach) != 1 || ty.Reach[0] != "web_visitor" || ty.Generated[0] != "identity_secret" {
		t.Fatalf("%+v", ty)
	}
	if err := ty.Validate(map[string]any{}, map[string]string{"identity_secret": "short"}); err == nil {
		t.Error("a short identity_secret passed")
	}
	if err := ty.Validate(map[string]any{}, map[string]string{"identity_secret": strings.Repeat("a", 64)}); err != nil {
		t.Error(err)
	}
}

func TestSniff(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	cases := []struct {
		head     []byte
		declared string
		want     string
	}{
		{png, "application/pdf", "image/png"},         // the bytes win
		{[]byte("%PDF-1.7\n"), "", "application/pdf"}, // sniffed
		{[]byte("<html><script>alert(1)</script>"), "image/png", "text/html"},
		{[]byte("just some text"), "text/html", "text/plain"}, // never take html from the browser
		{[]byte("just some text"), "text/csv", "text/csv"},    // generic: the browser's word
		{[]byte{0, 1, 2, 3}, "application/vnd.ms-excel", "application/vnd.ms-excel"},
	}
	for _, c := range cases {
		if got := sniff(c.head, c.declared); got != c.want {
			t.Errorf("sniff(%q, %q) = %q, want %q", c.head, c.declared, got, c.want)
		}
	}
}

func TestViewHidesInternals(t *testing.T) {
	s := &Service{d: Deps{PublicURL: "https://kanal.example.com"}}
	s.text = New(Deps{}, Options{}).text
	author, pid := "user-1", "visitor-9:client-1"
	m := conversation.Message{ID: "m1", AuthorKind: "agent", AuthorID: &author, Text: "", HTML: "<p>Merhaba &amp; <b>hoş geldiniz</b></p><script>x()</script>",
		Raw: `{"secret":1}`, StatusReason: "provider said no", Status: "sent",
		Attachments: []conversation.Attachment{
			{URL: "/api/v1/media/0198aaaa-0000-7000-8000-000000000001", FileName: "a.png", ContentType: "image/png", Size: 3},
			{URL: "https://kanal.example.com/api/v1/media/0198aaaa-0000-7000-8000-000000000002", FileName: "b.pdf"},
			{URL: "https://cdn.example.org/x.pdf", FileName: "c.pdf"},
			{URL: "", Ref: "wamid.1", FileName: "d.jpg"},
		}}
	v := s.view("KEY", m)
	b, _ := json.Marshal(v)
	for _, leak := range []string{"user-1", "secret", "provider said no", "script", "wamid", "/api/v1/"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("visitor view leaks %q: %s", leak, b)
		}
	}
	if v.Text != "Merhaba & hoş geldiniz" || v.Author != "agent" {
		t.Errorf("%+v", v)
	}
	want := []string{"/widget/KEY/media/0198aaaa-0000-7000-8000-000000000001", "/widget/KEY/media/0198aaaa-0000-7000-8000-000000000002",
		"https://cdn.example.org/x.pdf", ""}
	for i, a := range v.Attachments {
		if a.URL != want[i] {
			t.Errorf("attachment %d: %q, want %q", i, a.URL, want[i])
		}
	}
	cust := conversation.Message{ID: "m2", AuthorKind: "customer", ProviderID: &pid, Text: "hi"}
	if v := s.view("KEY", cust); v.Author != "visitor" || v.ClientID != "client-1" {
		t.Errorf("%+v", v)
	}
}

package email

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t *testing.T, name string) *Parsed {
	t.Helper()
	p, err := Parse(fixture(t, name), Limits{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func partNamed(p *Parsed, name string) *Part {
	for i := range p.Parts {
		if p.Parts[i].FileName == name {
			return &p.Parts[i]
		}
	}
	return nil
}

func TestParseCorpus(t *testing.T) {
	cases := []struct {
		file  string
		check func(t *testing.T, p *Parsed)
	}{
		{"gmail_reply.eml", func(t *testing.T, p *Parsed) {
			want := "Merhaba,\n\nSiparişim hâlâ gelmedi. Kargo takip numarası çalışmıyor, lütfen kontrol\neder misiniz? Işık Yılmaz adına kayıtlı.\n\nTeşekkürler,\nAyşe"
			if p.Reply != want || !p.Folded {
				t.Fatalf("reply %q folded %v", p.Reply, p.Folded)
			}
			if !strings.Contains(p.Text, "> Siparişiniz 123 kargoya verildi.") || !strings.Contains(p.HTML, `class="gmail_quote"`) {
				t.Fatalf("the original is not kept: %q", p.Text)
			}
			if p.From != (Address{Name: "Ayşe Yılmaz", Addr: "ayse.yilmaz@gmail.com"}) || p.Subject != "Re: Sipariş 123" {
				t.Fatalf("from %+v subject %q", p.From, p.Subject)
			}
			if p.MessageID != "CAF3x9vZ+QkRmT7yq8Yd5t0uM1p2a3b4c5d6e7f8g9h@mail.gmail.com" ||
				fmt.Sprint(p.InReplyTo) != "[kanal.0191f0a2-7c3b-7def-8abc-0123456789ab@example.com]" || len(p.References) != 1 {
				t.Fatalf("ids %q %v %v", p.MessageID, p.InReplyTo, p.References)
			}
			if fmt.Sprint(p.Recipients) != "[support+token@example.com support@example.com]" || p.Auto != "" || p.Date.IsZero() {
				t.Fatalf("recipients %v auto %q date %v", p.Recipients, p.Auto, p.Date)
			}
		}},
		{"gmail_reply_tr.eml", func(t *testing.T, p *Parsed) {
			if p.Reply != "İade talebimi nasıl takip edebilirim?\n\nAyşe" || p.Subject != "Ynt: İade talebi" || p.From.Name != "Ayşe Yılmaz" {
				t.Fatalf("reply %q subject %q from %+v", p.Reply, p.Subject, p.From)
			}
		}},
		{"outlook_reply.eml", func(t *testing.T, p *Parsed) {
			if !strings.HasPrefix(p.Reply, "Merhaba,\n\nFaturamdaki tutar yanlış görünüyor, düzeltebilir misiniz?") ||
				!strings.HasSuffix(p.Reply, "Örnek Ticaret A.Ş.") || strings.Contains(p.Reply, "Kimden") {
				t.Fatalf("reply %q", p.Reply)
			}
			if p.Subject != "YNT: Fatura 2026-09 İtiraz" || p.From != (Address{Name: "Mehmet Öztürk", Addr: "mehmet.ozturk@ornek.com.tr"}) {
				t.Fatalf("subject %q from %+v", p.Subject, p.From)
			}
			if !strings.Contains(p.HTML, "yanlış görünüyor") || !strings.Contains(p.HTML, "divRplyFwdMsg") {
				t.Fatalf("html not decoded from windows-1254: %q", p.HTML)
			}
		}},
		{"outlook_invite.eml", func(t *testing.T, p *Parsed) {
			inv := partNamed(p, "invite.ics")
			if inv == nil || !bytes.Contains(inv.Data, []byte("METHOD:REQUEST")) || !bytes.Contains(inv.Data, []byte("Görüşme: sipariş iadesi")) {
				t.Fatalf("invite not kept: %+v", p.Parts)
			}
			if len(p.Parts) != 1 {
				t.Fatalf("the invite sent twice (body and attachment) is kept once: %d parts", len(p.Parts))
			}
			if p.Reply != "İade için kısa bir görüşme yapalım mı?" || p.Subject != "Görüşme: sipariş iadesi" {
				t.Fatalf("reply %q subject %q", p.Reply, p.Subject)
			}
		}},
		{"outlook_winmail.eml", func(t *testing.T, p *Parsed) {
			w := partNamed(p, "winmail.dat")
			if w == nil || w.ContentType != "application/ms-tnef" || len(w.Data) != 1028 || !bytes.HasPrefix(w.Data, []byte("\x78\x9f\x3e\x22")) {
				t.Fatalf("winmail.dat: %+v", p.Parts)
			}
			if p.Reply != "Teklifimiz ektedir. İyi çalışmalar." || p.From.Name != "Mehmet Öztürk" {
				t.Fatalf("reply %q from %+v", p.Reply, p.From)
			}
		}},
		{"apple_mail.eml", func(t *testing.T, p *Parsed) {
			if p.Reply != "Ürünün fotoğrafı ekte, kutusu hasarlı geldi." || !p.Folded {
				t.Fatalf("reply %q", p.Reply)
			}
			img := partNamed(p, "IMG_1234.png")
			if img == nil || !img.Inline || img.ContentID != "3A1F2C9E-1B2D-4E5F-8A9B-0C1D2E3F4A5B" || !bytes.HasPrefix(img.Data, []byte("\x89PNG")) {
				t.Fatalf("inline image: %+v", p.Parts)
			}
			if !strings.Contains(p.HTML, "cid:3A1F2C9E-1B2D-4E5F-8A9B-0C1D2E3F4A5B") || p.Subject != "Re: Hasarlı ürün" {
				t.Fatalf("html %q subject %q", p.HTML, p.Subject)
			}
		}},
		{"thunderbird.eml", func(t *testing.T, p *Parsed) {
			if p.Reply != "Merhaba,\n\nÜyeliğimi iptal etmek istiyorum. Şifremi de unuttum." || !p.Folded {
				t.Fatalf("reply %q", p.Reply)
			}
			if !strings.Contains(p.Text, "-- \nGökhan Şahin") || p.From.Name != "Gökhan Şahin" || p.Subject != "Üyelik iptali" {
				t.Fatalf("text %q from %+v subject %q", p.Text, p.From, p.Subject)
			}
		}},
		{"forwarded.eml", func(t *testing.T, p *Parsed) {
			if p.Folded || !strings.Contains(p.Reply, "Gönderiniz teslim edilemedi. Adres: Kadıköy, İstanbul.") {
				t.Fatalf("a forward must be kept whole: %q", p.Reply)
			}
		}},
		{"html_only.eml", func(t *testing.T, p *Parsed) {
			if !strings.Contains(p.Text, "Mesaj: Şubeniz Pazar günü açık mı?") || !strings.Contains(p.Text, "https://example.com/form/42") ||
				strings.Contains(p.Text, "alert") {
				t.Fatalf("text derived from HTML: %q", p.Text)
			}
			if !strings.Contains(p.HTML, "Çağla Güneş") || p.Subject != "Şube saatleri" || p.From.Name != "Çağla Güneş" {
				t.Fatalf("html %q subject %q from %+v", p.HTML, p.Subject, p.From)
			}
		}},
		{"autoreply.eml", func(t *testing.T, p *Parsed) {
			if p.Auto != "auto-submitted: auto-replied" || p.Bounce != nil {
				t.Fatalf("auto %q", p.Auto)
			}
		}},
		{"list.eml", func(t *testing.T, p *Parsed) {
			if p.Auto != "precedence: bulk" {
				t.Fatalf("auto %q", p.Auto)
			}
		}},
		{"bounce.eml", func(t *testing.T, p *Parsed) {
			b := p.Bounce
			if b == nil || !b.Failed() || b.OriginalMessageID != "kanal.0191f0a2-4444-7def-8abc-0123456789ab@example.com" ||
				b.Status != "5.1.1" || b.Recipient != "nobody@ornek.invalid" || !strings.Contains(b.Diagnostic, "User unknown") {
				t.Fatalf("bounce %+v", b)
			}
			if p.Auto == "" {
				t.Fatal("a bounce is automatic")
			}
		}},
		{"attachment.eml", func(t *testing.T, p *Parsed) {
			pdf := partNamed(p, "Fatura_Şubat.pdf")
			if pdf == nil || pdf.ContentType != "application/pdf" || !bytes.HasPrefix(pdf.Data, []byte("%PDF-1.4")) || pdf.Inline {
				t.Fatalf("attachment: %+v", p.Parts)
			}
			if p.Subject != "Şubat faturası" || p.Reply != "Faturayı ekledim." {
				t.Fatalf("subject %q reply %q", p.Subject, p.Reply)
			}
		}},
		{"malformed.eml", func(t *testing.T, p *Parsed) {
			if p.MessageID != "bozuk@ornek.com" || p.From.Addr != "" {
				t.Fatalf("id %q from %+v", p.MessageID, p.From)
			}
		}},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		seen[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			p := mustParse(t, tc.file)
			checkInvariants(t, p, Limits{MaxAttachmentBytes: DefaultMaxAttachmentBytes})
			tc.check(t, p)
		})
	}
	files, _ := filepath.Glob("testdata/*.eml")
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no test", f)
		}
	}
}

// checkInvariants holds for any input Parse accepts.
func checkInvariants(t testing.TB, p *Parsed, lim Limits) {
	t.Helper()
	for name, s := range map[string]string{"text": p.Text, "reply": p.Reply, "html": p.HTML, "subject": p.Subject,
		"from": p.From.Name + p.From.Addr, "id": p.MessageID} {
		if !utf8.ValidString(s) {
			t.Fatalf("%s is not UTF-8: %q", name, s)
		}
	}
	if strings.ContainsAny(p.Subject, "\r\n") || len(p.Subject) > 500 {
		t.Fatalf("subject %q", p.Subject)
	}
	if strings.ContainsAny(p.From.Addr, "\r\n <>") || strings.ContainsAny(p.From.Name, "\r\n") {
		t.Fatalf("from %+v", p.From)
	}
	if len(p.Reply) > len(p.Text) && p.Text != "" {
		t.Fatalf("the reply is longer than the text")
	}
	for _, part := range p.Parts {
		if int64(len(part.Data)) > lim.MaxAttachmentBytes || part.FileName == "" || strings.ContainsAny(part.FileName, "/\\\r\n") {
			t.Fatalf("part %q %d bytes", part.FileName, len(part.Data))
		}
	}
}

func TestParseCharsets(t *testing.T) {
	cp1254 := []byte("Fiyat \xfdade \xd0\xfe\xfe\xfd") // "Fiyat iade" in windows-1254 bytes: ı ğ ş ş ı
	cases := []struct {
		name, raw, subject, text string
	}{
		{"windows-1254 B subject, 8bit body", "From: a@example.com\r\nSubject: =?windows-1254?B?" + base64.StdEncoding.EncodeToString([]byte("\xddade talebi \xfeube")) +
			"?=\r\nContent-Type: text/plain; charset=windows-1254\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + string(cp1254) + "\r\n",
			"İade talebi şube", "Fiyat ıade Ğşşı"},
		{"ISO-8859-9 Q subject, QP body", "From: a@example.com\r\nSubject: =?ISO-8859-9?Q?G=F6nderi_gecikti=F0i?=\r\nContent-Type: text/plain; charset=iso-8859-9\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nKarg=FD nerede? =DDstanbul\r\n",
			"Gönderi gecikti" + "ği", "Kargı nerede? İstanbul"},
		{"latin5 alias", "From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=latin5\r\n\r\n\xe7ay \xfeeker\r\n", "x", "çay şeker"},
		{"no charset, 8-bit body read as windows-1254", "From: a@example.com\r\nSubject: y\r\n\r\n\xdcr\xfcn gelmedi\r\n", "y", "Ürün gelmedi"},
		{"8-bit subject without encoded words", "From: a@example.com\r\nSubject: Sipari\xfe\r\n\r\nmetin\r\n", "Sipariş", "metin"},
		{"UTF-8 subject split over encoded words", "From: a@example.com\r\nSubject: =?UTF-8?B?xLBh?=\r\n =?UTF-8?B?ZGU=?=\r\n\r\nok\r\n", "İade", "ok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.raw), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != tc.subject || p.Text != tc.text {
				t.Fatalf("subject %q text %q", p.Subject, p.Text)
			}
		})
	}
}

// A mail with a large attachment: the attachment over the limit is named
// and dropped, a smaller one is kept byte for byte, and a mail over the
// message limit keeps its headers.
func TestParseLargeAttachment(t *testing.T) {
	big := make([]byte, 3<<20)
	small := make([]byte, 600<<10)
	rand.Read(big)
	rand.Read(small)
	var b strings.Builder
	b.WriteString("From: Büyük Dosya <buyuk@example.com>\r\nTo: support@example.com\r\nSubject: Dosyalar\r\nMessage-ID: <big@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nİki dosya.\r\n")
	for _, f := range []struct {
		name string
		data []byte
	}{{"video.mp4", big}, {"foto.jpg", small}} {
		b.WriteString("--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"" + f.name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(f.data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--B--\r\n")
	raw := []byte(b.String())
	lim := Limits{MaxMessageBytes: 8 << 20, MaxAttachmentBytes: 1 << 20}
	p, err := Parse(raw, lim)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, p, lim)
	if len(p.Dropped) != 1 || p.Dropped[0].FileName != "video.mp4" || p.Dropped[0].Size != int64(len(big)) {
		t.Fatalf("dropped %+v", p.Dropped)
	}
	if f := partNamed(p, "foto.jpg"); f == nil || !bytes.Equal(f.Data, small) {
		t.Fatalf("the small file is not kept: %+v", p.Parts)
	}
	// Over the message limit: headers only, and a note.
	p, err = Parse(raw, Limits{MaxMessageBytes: 1 << 20, MaxAttachmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if p.MessageID != "big@example.com" || p.From.Name != "Büyük Dosya" || len(p.Parts) != 0 || len(p.Problems) != 1 || p.Text != "" {
		t.Fatalf("too large: %+v", p)
	}
}

func TestParseNeverPanics(t *testing.T) {
	deep := "From: a@example.com\r\n"
	for i := range 200 {
		deep += fmt.Sprintf("Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	inputs := map[string]string{
		"no header":               "just some text\nwithout any header\n",
		"header only":             "From: a@example.com\r\nSubject: x\r\n",
		"binary":                  "\x00\x01\x02\xff\xfe From: \x00",
		"deep nesting":            deep,
		"boundary everywhere":     strings.Repeat("Content-Type: multipart/mixed; boundary=x\r\n--x\r\n", 100),
		"huge header line":        "From: a@example.com\r\nSubject: " + strings.Repeat("ş", 100000) + "\r\n\r\nbody",
		"CRLF in encoded subject": "From: a@example.com\r\nSubject: =?utf-8?Q?a=0D=0ABcc:_evil@example.com?=\r\n\r\nbody",
	}
	for name, raw := range inputs {
		t.Run(name, func(t *testing.T) {
			p, err := Parse([]byte(raw), Limits{})
			if err != nil {
				return
			}
			checkInvariants(t, p, Limits{MaxAttachmentBytes: DefaultMaxAttachmentBytes})
		})
	}
	if _, err := Parse([]byte("  \r\n"), Limits{}); err == nil {
		t.Fatal("an empty mail is an error")
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("From: a@example.com\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n--r\r\n\r\nx\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--r--"))
	lim := Limits{MaxMessageBytes: 1 << 20, MaxAttachmentBytes: 64 << 10}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(raw, lim)
		if err != nil {
			return
		}
		checkInvariants(t, p, lim)
		FoldSubject(p.Text, p.Subject)
	})
}

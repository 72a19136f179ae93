package email

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"net/textproto"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
)

// Limits bound what Parse keeps.
type Limits struct {
	// MaxMessageBytes: a bigger mail keeps only its headers and a note.
	MaxMessageBytes int64
	// MaxAttachmentBytes: a bigger attachment is named in Dropped, not kept.
	MaxAttachmentBytes int64
}

// Address is a mailbox: a display name and an address.
type Address struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"address"`
}

func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	return (&mail.Address{Name: a.Name, Address: a.Addr}).String()
}

// Part is a file a mail carries: an attachment or an inline image.
type Part struct {
	FileName    string
	ContentType string
	ContentID   string // without angle brackets, for cid: references
	Inline      bool
	Data        []byte
}

// Dropped is a file a mail carried that Kanal did not keep.
type Dropped struct {
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Reason      string `json:"reason"`
}

// Bounce is a delivery status notification (RFC 3464) about a mail.
type Bounce struct {
	OriginalMessageID string // bare, of the mail that bounced
	Recipient         string
	Action            string // failed, delayed, delivered, relayed, expanded
	Status            string // e.g. 5.1.1
	Diagnostic        string
}

// Failed tells whether the report says the mail will not be delivered.
func (b *Bounce) Failed() bool { return strings.EqualFold(b.Action, "failed") }

// Reason is a one-line explanation of the bounce.
func (b *Bounce) Reason() string {
	r := strings.TrimSpace(b.Status + " " + b.Diagnostic)
	if b.Recipient != "" {
		r = b.Recipient + ": " + r
	}
	return clip(oneLine(r), 500)
}

// Parsed is a mail read into what Kanal needs.
type Parsed struct {
	// MessageID is the Message-ID without angle brackets ("" when absent).
	MessageID  string
	InReplyTo  []string
	References []string
	From       Address
	ReplyTo    []Address
	To, Cc     []Address
	// Recipients are the bare addresses of To, Cc, Delivered-To,
	// X-Original-To and Envelope-To, lower-cased.
	Recipients []string
	Subject    string
	Date       time.Time
	// Text is the whole plain text (derived from the HTML when the mail has
	// none); HTML is the mail's HTML as sent (Kanal sanitises it on store).
	Text string
	HTML string
	// Reply is Text with quoted history and signature folded away; Folded
	// tells whether anything was.
	Reply  string
	Folded bool
	Parts  []Part
	// Dropped lists the files not kept (too large, too many).
	Dropped []Dropped
	// Auto is why the mail is automatic (an auto-reply, a bounce, a list
	// mail), "" for a person's mail.
	Auto string
	// Loop holds the X-Loop values.
	Loop []string
	// Bounce is set when the mail is a delivery status notification.
	Bounce *Bounce
	// Problems are what could not be read; the rest was.
	Problems []string
	Size     int
}

// ProviderID is the mail's idempotency key: its Message-ID, or a hash of
// the bytes when it has none (or one too long to store).
func (p *Parsed) ProviderID(raw []byte) string {
	if p.MessageID != "" && len(p.MessageID) <= 250 {
		return p.MessageID
	}
	if p.MessageID != "" {
		sum := sha256.Sum256([]byte(p.MessageID))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// maxBoundaries bounds the multipart nesting Parse hands to the MIME parser
// (whose cost grows with depth); real mail has a handful.
const maxBoundaries = 64

var (
	msgIDRe      = regexp.MustCompile(`<([^<>\s]{1,995})>`)
	boundaryRe   = regexp.MustCompile(`(?i)boundary\s*=`)
	addrSpecRe   = regexp.MustCompile(`[A-Za-z0-9._%+\-=!#$&'*/?^{|}~]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	spaceRunRe   = regexp.MustCompile(`[ \t]+`)
	manyBlanksRe = regexp.MustCompile(`\n{3,}`)
)

// Parse reads a mail (RFC 5322 bytes). It never panics and returns an error
// only for input that is not mail at all; anything it could not read is in
// Problems and the rest is kept.
func Parse(raw []byte, lim Limits) (p *Parsed, err error) {
	if lim.MaxMessageBytes <= 0 {
		lim.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if lim.MaxAttachmentBytes <= 0 {
		lim.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	p = &Parsed{Size: len(raw)}
	defer func() {
		if r := recover(); r != nil {
			// A parser bug must not lose the mail: keep what the headers say.
			fb := &Parsed{Size: len(raw), Problems: []string{fmt.Sprintf("the MIME structure could not be read (%v)", r)}}
			fallback(fb, raw, false)
			p, err = fb, nil
		}
	}()
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("email: empty message")
	}
	switch {
	case int64(len(raw)) > lim.MaxMessageBytes:
		p.Problems = append(p.Problems, fmt.Sprintf("the mail is %s, over the %s limit: only its headers were kept",
			humanSize(int64(len(raw))), humanSize(lim.MaxMessageBytes)))
		fallback(p, raw, true)
	case len(boundaryRe.FindAllIndex(raw, maxBoundaries+1)) > maxBoundaries:
		p.Problems = append(p.Problems, "the mail nests too many MIME parts: shown as plain text")
		fallback(p, raw, false)
	default:
		parser := enmime.NewParser(enmime.DisableCharacterDetection(true), enmime.SkipMalformedParts(true),
			enmime.MultipartWOBoundaryAsSinglePart(true), enmime.StripMediaTypeInvalidCharacters(true), enmime.MaxStoredPartErrors(20))
		env, perr := parser.ReadEnvelope(bytes.NewReader(raw))
		if perr != nil || env == nil || env.Root == nil {
			p.Problems = append(p.Problems, fmt.Sprintf("the MIME structure could not be read (%v): shown as plain text", perr))
			fallback(p, raw, false)
		} else {
			fromEnvelope(p, env, lim)
		}
	}
	finish(p)
	return p, nil
}

// header is what Parse reads headers through, for enmime and fallback alike.
type header interface {
	Get(key string) string
	Values(key string) []string
}

type envHeader struct{ e *enmime.Envelope }

func (h envHeader) Get(k string) string      { return h.e.GetHeader(k) }
func (h envHeader) Values(k string) []string { return h.e.GetHeaderValues(k) }

type mimeHeader textproto.MIMEHeader

func (h mimeHeader) Get(k string) string { return decodeWords(textproto.MIMEHeader(h).Get(k)) }
func (h mimeHeader) Values(k string) []string {
	var out []string
	for _, v := range textproto.MIMEHeader(h).Values(k) {
		out = append(out, decodeWords(v))
	}
	return out
}

func decodeWords(s string) string {
	d := mime.WordDecoder{CharsetReader: charsetReader}
	if out, err := d.DecodeHeader(s); err == nil {
		return out
	}
	return s
}

func fromEnvelope(p *Parsed, env *enmime.Envelope, lim Limits) {
	readHeaders(p, envHeader{env}, env.Root.Header.Get)
	p.Text, p.HTML = env.Text, env.HTML
	for _, e := range env.Errors {
		if e != nil && e.Severe {
			p.Problems = append(p.Problems, e.Error())
		}
	}
	seen := map[*enmime.Part]bool{}
	var files []*enmime.Part
	add := func(parts []*enmime.Part) {
		for _, part := range parts {
			if part != nil && !seen[part] {
				seen[part] = true
				files = append(files, part)
			}
		}
	}
	add(env.Attachments)
	add(env.Inlines)
	add(env.OtherParts)
	for i, part := range files {
		ct := strings.ToLower(part.ContentType)
		if strings.HasPrefix(ct, "multipart/") {
			continue
		}
		// Text bodies marked inline are the body, already in Text/HTML.
		if (ct == "text/plain" || ct == "text/html") && part.FileName == "" && part.Disposition != "attachment" {
			continue
		}
		if ct == "message/delivery-status" || ct == "message/global-delivery-status" {
			continue
		}
		f := Part{FileName: fileName(part, i+1), ContentType: partType(part), ContentID: strings.Trim(part.ContentID, "<> "),
			Inline: part.Disposition == "inline" || (part.Disposition == "" && part.ContentID != "" && strings.HasPrefix(ct, "image/"))}
		size := int64(len(part.Content))
		if size > lim.MaxAttachmentBytes {
			p.Dropped = append(p.Dropped, Dropped{FileName: f.FileName, ContentType: f.ContentType, Size: size,
				Reason: "larger than the " + humanSize(lim.MaxAttachmentBytes) + " limit"})
			continue
		}
		f.Data = part.Content
		if slices.ContainsFunc(p.Parts, func(o Part) bool { return o.FileName == f.FileName && bytes.Equal(o.Data, f.Data) }) {
			continue // Outlook sends an invite twice: in the body and attached
		}
		p.Parts = append(p.Parts, f)
	}
	if strings.EqualFold(env.Root.ContentType, "multipart/report") {
		p.Bounce = readReport(env.Root)
	}
}

// fallback reads what it can without a MIME parser: the headers, and the
// body as text unless headersOnly.
func fallback(p *Parsed, raw []byte, headersOnly bool) {
	br := bufio.NewReader(bytes.NewReader(raw))
	tp := textproto.NewReader(br)
	h, herr := tp.ReadMIMEHeader()
	if h == nil {
		h = textproto.MIMEHeader{}
	}
	readHeaders(p, mimeHeader(h), h.Get)
	if headersOnly {
		return
	}
	var body []byte
	if herr != nil && len(h) == 0 {
		body = raw // no header block at all: all of it is text
	} else {
		body, _ = readAll(br, 1<<20)
	}
	p.Text = toUTF8(body, "")
}

func readAll(br *bufio.Reader, max int) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(&limited{br, max})
	return buf.Bytes(), err
}

type limited struct {
	r *bufio.Reader
	n int
}

func (l *limited) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("limit")
	}
	if len(b) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= n
	return n, err
}

func readHeaders(p *Parsed, h header, rawGet func(string) string) {
	if ids := msgIDs(rawGet("Message-ID")); len(ids) > 0 {
		p.MessageID = ids[0]
	} else if id := strings.Trim(strings.TrimSpace(rawGet("Message-ID")), "<>"); strings.Contains(id, "@") && !strings.ContainsAny(id, " \t\r\n") {
		p.MessageID = clip(id, 995)
	}
	p.InReplyTo = msgIDs(rawGet("In-Reply-To"))
	p.References = msgIDs(rawGet("References"))
	if from := addresses(h.Get("From")); len(from) > 0 {
		p.From = from[0]
	} else if s := addresses(h.Get("Sender")); len(s) > 0 {
		p.From = s[0]
	} else if rp := addresses(h.Get("Return-Path")); len(rp) > 0 {
		p.From = rp[0]
	}
	p.ReplyTo = addresses(h.Get("Reply-To"))
	p.To = addresses(h.Get("To"))
	p.Cc = addresses(h.Get("Cc"))
	seen := map[string]bool{}
	rcpt := func(list []Address) {
		for _, a := range list {
			if a.Addr != "" && !seen[a.Addr] {
				seen[a.Addr] = true
				p.Recipients = append(p.Recipients, a.Addr)
			}
		}
	}
	rcpt(p.To)
	rcpt(p.Cc)
	for _, k := range []string{"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"} {
		for _, v := range h.Values(k) {
			rcpt(addresses(v))
		}
	}
	p.Subject = clip(oneLine(toUTF8([]byte(h.Get("Subject")), "")), 500)
	if d, err := mail.ParseDate(strings.TrimSpace(rawGet("Date"))); err == nil && d.Year() > 1970 && d.Year() < 3000 {
		p.Date = d.UTC()
	}
	p.Auto = autoReason(h, p.From)
	for _, v := range h.Values("X-Loop") {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
			p.Loop = append(p.Loop, strings.Trim(v, "<>"))
		}
	}
}

// msgIDs reads the msg-ids of a Message-ID, In-Reply-To or References
// field, without angle brackets; at most the last 50.
func msgIDs(v string) []string {
	var out []string
	for _, m := range msgIDRe.FindAllStringSubmatch(v, -1) {
		out = append(out, m[1])
	}
	if len(out) > 50 {
		out = append(out[:1], out[len(out)-49:]...)
	}
	return out
}

// addresses reads an address list leniently: the standard parser, then
// anything that looks like an address.
func addresses(v string) []Address {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var out []Address
	if list, err := enmime.ParseAddressList(v); err == nil {
		for _, a := range list {
			if addr := cleanAddr(a.Address); addr != "" {
				out = append(out, Address{Name: clip(oneLine(toUTF8([]byte(a.Name), "")), 200), Addr: addr})
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	for _, m := range addrSpecRe.FindAllString(v, 20) {
		if addr := cleanAddr(m); addr != "" {
			out = append(out, Address{Addr: addr})
		}
	}
	return out
}

func cleanAddr(a string) string {
	a = strings.ToLower(strings.Trim(strings.TrimSpace(a), "<>"))
	if len(a) > 320 || !utf8.ValidString(a) || strings.ContainsAny(a, " \t\r\n,;<>\"") {
		return ""
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return ""
	}
	return a
}

// partType is a file's content type: text parts were converted to UTF-8 by
// the parser, so they say so; a calendar keeps its method.
func partType(p *enmime.Part) string {
	ct := strings.ToLower(strings.TrimSpace(p.ContentType))
	if ct == "" || !strings.Contains(ct, "/") {
		return "application/octet-stream"
	}
	if strings.HasPrefix(ct, "text/") {
		params := map[string]string{"charset": "utf-8"}
		if m := p.ContentTypeParams["method"]; m != "" && ct == "text/calendar" {
			params["method"] = m
		}
		if s := mime.FormatMediaType(ct, params); s != "" {
			return s
		}
	}
	return ct
}

// fileName is a file's name, or one made from its type.
func fileName(p *enmime.Part, n int) string {
	name := strings.TrimSpace(toUTF8([]byte(p.FileName), ""))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return -1
		}
		return r
	}, name)
	if name != "" && name != "." && name != ".." {
		return clip(name, 200)
	}
	ct := strings.ToLower(p.ContentType)
	switch ct {
	case "text/calendar", "application/ics":
		return "invite.ics"
	case "application/ms-tnef", "application/vnd.ms-tnef":
		return "winmail.dat"
	case "message/rfc822":
		return "message.eml"
	case "text/rfc822-headers":
		return "headers.txt"
	}
	base := "attachment"
	if strings.HasPrefix(ct, "image/") {
		base = "image"
	}
	ext := ""
	if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
		ext = exts[0]
		for _, e := range exts { // prefer the common spelling
			if e == ".jpg" || e == ".png" || e == ".gif" || e == ".pdf" || e == ".txt" {
				ext = e
			}
		}
	}
	return base + "-" + strconv.Itoa(n) + ext
}

// finish normalises the texts and folds the reply.
func finish(p *Parsed) {
	p.Text = normalizeText(p.Text)
	p.HTML = strings.ToValidUTF8(p.HTML, "\uFFFD")
	if strings.TrimSpace(p.Text) == "" && strings.TrimSpace(p.HTML) != "" {
		p.Text = normalizeText(htmlText(p.HTML))
	}
	p.Reply, p.Folded = Fold(p.Text)
	for i := range p.Parts {
		if ext := path.Ext(p.Parts[i].FileName); ext == "" && p.Parts[i].ContentType == "message/rfc822" {
			p.Parts[i].FileName += ".eml"
		}
	}
}

func normalizeText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.ReplaceAll(s, "\u00a0", " ")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "-- " { // the signature delimiter keeps its space
			lines[i] = strings.TrimRight(l, " \t")
		}
	}
	s = strings.Join(lines, "\n")
	s = manyBlanksRe.ReplaceAllString(s, "\n\n")
	return strings.Trim(s, "\n")
}

// toUTF8 returns b as valid UTF-8: as is when it is, else decoded from
// charset (windows-1254 when none is known: the Turkish legacy default and
// a superset of ISO-8859-9 and mostly of Latin-1).
func toUTF8(b []byte, charset string) string {
	if utf8.Valid(b) {
		return string(b)
	}
	if charset == "" {
		charset = "windows-1254"
	}
	if r, err := charsetReader(charset, bytes.NewReader(b)); err == nil {
		var out bytes.Buffer
		if _, err := out.ReadFrom(r); err == nil && utf8.Valid(out.Bytes()) {
			return out.String()
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' || r == '\v' || r == '\f' || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(spaceRunRe.ReplaceAllString(s, " "))
}

// clip cuts s to at most n bytes at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 0, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// readReport reads a multipart/report delivery status notification.
func readReport(root *enmime.Part) *Bounce {
	var status, original *enmime.Part
	_ = root.DepthMatchAll(func(p *enmime.Part) bool {
		switch strings.ToLower(p.ContentType) {
		case "message/delivery-status", "message/global-delivery-status":
			if status == nil {
				status = p
			}
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			if original == nil {
				original = p
			}
		}
		return false
	})
	if status == nil {
		return nil
	}
	b := &Bounce{}
	// The status is a per-message block then one block per recipient,
	// separated by blank lines.
	blocks := strings.Split(strings.ReplaceAll(string(status.Content), "\r\n", "\n"), "\n\n")
	for _, blk := range blocks {
		h, _ := textproto.NewReader(bufio.NewReader(strings.NewReader(strings.TrimSpace(blk) + "\n\n"))).ReadMIMEHeader()
		action := strings.ToLower(strings.TrimSpace(h.Get("Action")))
		if action == "" {
			continue
		}
		if b.Action == "" || (action == "failed" && b.Action != "failed") {
			b.Action = action
			b.Status = strings.TrimSpace(h.Get("Status"))
			b.Recipient = dsnAddress(h.Get("Final-Recipient"))
			if b.Recipient == "" {
				b.Recipient = dsnAddress(h.Get("Original-Recipient"))
			}
			b.Diagnostic = clip(oneLine(dsnText(h.Get("Diagnostic-Code"))), 400)
		}
	}
	if b.Action == "" {
		return nil
	}
	if original != nil {
		h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(original.Content))).ReadMIMEHeader()
		if ids := msgIDs(h.Get("Message-Id")); len(ids) > 0 {
			b.OriginalMessageID = ids[0]
		}
	}
	return b
}

// dsnAddress reads "rfc822; someone@example.com".
func dsnAddress(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[i+1:]
	}
	return cleanAddr(v)
}

// dsnText reads "smtp; 550 5.1.1 ..." as its text.
func dsnText(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 && i < 12 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// autoReason tells why a mail is automatic, from its headers (RFC 3834
// and common practice), or "".
func autoReason(h header, from Address) string {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && !strings.HasPrefix(v, "no") {
		return "auto-submitted: " + clip(v, 40)
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" && !strings.EqualFold(v, "no") {
			return strings.ToLower(k)
		}
	}
	switch p := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); p {
	case "bulk", "junk", "list", "auto_reply":
		return "precedence: " + p
	}
	if h.Get("List-Id") != "" || h.Get("List-Unsubscribe") != "" {
		return "mailing list"
	}
	if strings.TrimSpace(h.Get("Return-Path")) == "<>" {
		return "empty return path"
	}
	if ct := strings.ToLower(h.Get("Content-Type")); strings.HasPrefix(ct, "multipart/report") {
		return "delivery report"
	}
	local, _, _, _ := splitAddress(from.Addr)
	switch local {
	case "mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply", "bounce", "bounces":
		return "sender " + local
	}
	return ""
}

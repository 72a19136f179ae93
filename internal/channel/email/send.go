package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// ErrHeaderInjection refuses a reply whose subject, name or address holds a
// line break: it would add header fields of the sender's choosing.
var ErrHeaderInjection = errors.New("email: a header value holds a line break")

var replyPrefixRe = regexp.MustCompile(`(?i)^\s*(re|ynt|yanıt|aw|sv|antw)\s*:`)

// Outgoing is a built mail, ready for SMTP.
type Outgoing struct {
	MessageID string // without angle brackets: the message's provider id
	From      string // envelope sender
	To        []string
	Bytes     []byte
}

// Send delivers an agent's (or Kanal's) reply over the inbox's SMTP
// server. It returns the mail's Message-ID as the provider id.
func (a *Adapter) Send(ctx context.Context, o channel.Outbound) (string, error) {
	s, err := SettingsOf(o.Inbox)
	if err != nil {
		return "", jobs.Permanent(err)
	}
	if s.SMTP == nil {
		return "", jobs.Permanent(errors.New("this e-mail inbox has no SMTP server set up (config smtp)"))
	}
	out, err := a.Build(ctx, o)
	if err != nil {
		return "", err
	}
	if err := a.deliver(ctx, s.SMTP, out); err != nil {
		return "", err
	}
	return out.MessageID, nil
}

// Build makes the mail for an outbound message: addresses, threading
// headers, reply token, body, files from Kanal's media store and the DKIM
// signature. Errors the sender cannot fix by retrying are jobs.Permanent.
func (a *Adapter) Build(ctx context.Context, o channel.Outbound) (Outgoing, error) {
	s, err := SettingsOf(o.Inbox)
	if err != nil {
		return Outgoing{}, jobs.Permanent(err)
	}
	m := o.Message
	if m.ContentType == "template" {
		return Outgoing{}, jobs.Permanent(errors.New("e-mail has no message templates: send text"))
	}
	last, err := a.lastInbound(ctx, o)
	if err != nil {
		return Outgoing{}, err
	}
	to := recipient(last, o.Customer)
	if to == nil {
		return Outgoing{}, jobs.Permanent(errors.New("the customer has no e-mail address"))
	}
	subject := strings.TrimSpace(o.Conversation.Subject)
	if subject == "" {
		subject = o.Inbox.Name
	}
	if !replyPrefixRe.MatchString(subject) && last != nil {
		subject = "Re: " + subject
	}
	id := "kanal." + m.ID + "@" + s.Domain
	out := Outgoing{MessageID: id, From: s.Address, To: []string{to.Addr}}
	for _, v := range []string{subject, o.Inbox.Name, to.Name, to.Addr, s.Address} {
		if hasCRLF(v) || strings.ContainsRune(v, 0) {
			return Outgoing{}, jobs.Permanent(ErrHeaderInjection)
		}
	}
	var h mail.Header
	h.SetDate(a.o.Now())
	h.SetAddressList("From", []*mail.Address{{Name: o.Inbox.Name, Address: s.Address}})
	h.SetAddressList("To", []*mail.Address{{Name: to.Name, Address: to.Addr}})
	if tok := ReplyToken(s.ReplyKey, o.Conversation.ID); tok != "" {
		h.SetAddressList("Reply-To", []*mail.Address{{Name: o.Inbox.Name, Address: ReplyAddress(s.Address, tok)}})
	}
	h.SetSubject(subject)
	h.SetMessageID(id)
	if last != nil && last.MessageID != "" && safeID(last.MessageID) {
		refs := []string{}
		for _, r := range last.References {
			if safeID(r) && r != last.MessageID {
				refs = append(refs, r)
			}
		}
		refs = append(refs, last.MessageID)
		if len(refs) > 20 { // the first (the thread's root) and the latest
			refs = append(refs[:1], refs[len(refs)-19:]...)
		}
		h.SetMsgIDList("In-Reply-To", []string{last.MessageID})
		h.SetMsgIDList("References", refs)
	}
	if m.AuthorKind == conversation.AuthorBot || m.AuthorKind == conversation.AuthorSystem {
		h.Set("Auto-Submitted", "auto-replied")
	}
	h.Set("X-Loop", s.Address)
	h.Set("MIME-Version", "1.0")
	var files []file
	for i, att := range m.Attachments {
		f, err := a.attachment(ctx, o, i, att)
		if err != nil {
			return Outgoing{}, err
		}
		files = append(files, f)
	}
	body, err := writeBody(h, m.Text, m.HTML, files)
	if err != nil {
		return Outgoing{}, jobs.Permanent(err)
	}
	if s.DKIM != nil {
		if body, err = sign(body, s.DKIM); err != nil {
			return Outgoing{}, jobs.Permanent(err)
		}
	}
	out.Bytes = body
	return out, nil
}

func safeID(id string) bool {
	if id == "" || len(id) > 250 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= 0x20 || id[i] >= 0x7f || id[i] == '<' || id[i] == '>' {
			return false
		}
	}
	return true
}

// lastInbound returns the Meta of the conversation's latest inbound mail on
// an e-mail inbox, or nil.
func (a *Adapter) lastInbound(ctx context.Context, o channel.Outbound) (*Meta, error) {
	d := a.deps.Load()
	if d == nil || d.Conversations == nil || o.Conversation.ID == "" {
		return nil, nil
	}
	var last *Meta
	var after conversation.Cursor
	for range 1000 {
		page, err := d.Conversations.Messages(ctx, o.Conversation.WorkspaceID, o.Conversation.ID, after, 200)
		if err != nil {
			return nil, fmt.Errorf("email: read the conversation: %w", err)
		}
		for _, msg := range page {
			if msg.Direction == conversation.DirectionIn && msg.Channel == TypeName {
				if meta, ok := ReadMeta(msg.Raw); ok {
					meta := meta
					last = &meta
				}
			}
		}
		if len(page) < 200 {
			break
		}
		after = conversation.Cursor{At: page[len(page)-1].CreatedAt, ID: page[len(page)-1].ID}
	}
	return last, nil
}

// recipient is whom a reply goes to: the Reply-To (else From) of the last
// inbound mail, else the customer's e-mail.
func recipient(last *Meta, c customer.Customer) *Address {
	if last != nil {
		if len(last.ReplyTo) > 0 && last.ReplyTo[0].Addr != "" {
			return &last.ReplyTo[0]
		}
		if last.From.Addr != "" {
			return &last.From
		}
	}
	for _, id := range c.Identities {
		if id.Kind == customer.KindEmail {
			v := id.Normalized
			if v == "" {
				v = id.Value
			}
			if addr := cleanAddr(v); addr != "" {
				return &Address{Name: c.Name, Addr: addr}
			}
		}
	}
	if addr := cleanAddr(c.Email); addr != "" {
		return &Address{Name: c.Name, Addr: addr}
	}
	return nil
}

type file struct {
	name, contentType string
	data              []byte
}

// attachment reads a reply's file from Kanal's media store. Files held
// elsewhere (a URL) are not fetched.
func (a *Adapter) attachment(ctx context.Context, o channel.Outbound, i int, att conversation.Attachment) (file, error) {
	d, err := a.bound()
	if err != nil {
		return file{}, err
	}
	u := att.URL
	if d.MediaBaseURL != "" {
		u = strings.TrimPrefix(u, d.MediaBaseURL)
	}
	id, ok := strings.CutPrefix(u, "/api/v1/media/")
	if !ok || id == "" || strings.Contains(id, "/") || d.Media == nil {
		return file{}, jobs.Permanent(fmt.Errorf("attachment %d is not a file stored in Kanal; e-mail replies cannot attach files by URL yet", i+1))
	}
	f, fh, err := d.Media.Open(ctx, o.Inbox.WorkspaceID, id)
	if err != nil {
		return file{}, jobs.Permanent(fmt.Errorf("attachment %d: %w", i+1, err))
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, a.o.MaxAttachmentBytes+1))
	if err != nil {
		return file{}, err
	}
	if int64(len(data)) > a.o.MaxAttachmentBytes {
		return file{}, jobs.Permanent(fmt.Errorf("attachment %d is larger than %s", i+1, humanSize(a.o.MaxAttachmentBytes)))
	}
	name := f.FileName
	if att.FileName != "" {
		name = att.FileName
	}
	return file{name: oneLine(name), contentType: f.ContentType, data: data}, nil
}

// writeBody writes the header and a text + HTML alternative body, inside
// multipart/mixed when there are files.
func writeBody(h mail.Header, text, html string, files []file) ([]byte, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if strings.TrimSpace(text) == "" && html != "" {
		text = htmlText(html)
	}
	if html == "" {
		html = textHTML(text)
	}
	var buf bytes.Buffer
	alternative := func(iw *mail.InlineWriter) error {
		var th mail.InlineHeader
		th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		w, err := iw.CreatePart(th)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		var hh mail.InlineHeader
		hh.SetContentType("text/html", map[string]string{"charset": "utf-8"})
		if w, err = iw.CreatePart(hh); err != nil {
			return err
		}
		if _, err := io.WriteString(w, `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>`+html+`</body></html>`); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		return iw.Close()
	}
	if len(files) == 0 {
		iw, err := mail.CreateInlineWriter(&buf, h)
		if err != nil {
			return nil, err
		}
		if err := alternative(iw); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	mw, err := mail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	iw, err := mw.CreateInline()
	if err != nil {
		return nil, err
	}
	if err := alternative(iw); err != nil {
		return nil, err
	}
	for _, f := range files {
		var ah mail.AttachmentHeader
		ct := f.contentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		ah.Set("Content-Type", ct)
		ah.SetFilename(f.name)
		w, err := mw.CreateAttachment(ah)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// dialSMTP connects to an SMTP server in its TLS mode, says EHLO and logs
// in. The connection is cut when ctx ends or the adapter's timeout passes;
// call the returned stop when done.
func (a *Adapter) dialSMTP(ctx context.Context, srv *Server) (c *smtp.Client, stop func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, a.o.Timeout)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", srv.Addr())
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("smtp: connect to %s: %w", srv.Addr(), err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			conn.Close()
		case <-done:
		}
	}()
	stop = func() { close(done); cancel(); conn.Close() }
	fail := func(err error) (*smtp.Client, func(), error) { stop(); return nil, nil, err }
	tc := a.tlsConfig(srv.Host)
	switch srv.TLS {
	case TLSImplicit:
		tconn := tls.Client(conn, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			return fail(fmt.Errorf("smtp: TLS with %s: %w", srv.Addr(), err))
		}
		c = smtp.NewClient(tconn)
	case TLSStartTLS:
		// go-smtp says EHLO as "localhost" before STARTTLS; servers take it.
		if c, err = smtp.NewClientStartTLS(conn, tc); err != nil {
			return fail(fmt.Errorf("smtp: STARTTLS with %s: %w", srv.Addr(), err))
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout, c.SubmissionTimeout = a.o.Timeout, a.o.Timeout
	if srv.TLS != TLSStartTLS {
		if err := c.Hello(a.o.Hostname); err != nil {
			return fail(fmt.Errorf("smtp: EHLO to %s: %w", srv.Addr(), err))
		}
	}
	if srv.Username != "" {
		var auth sasl.Client
		switch {
		case c.SupportsAuth("PLAIN"):
			auth = sasl.NewPlainClient("", srv.Username, srv.Password)
		case c.SupportsAuth("LOGIN"):
			auth = sasl.NewLoginClient(srv.Username, srv.Password)
		default:
			return fail(jobs.Permanent(fmt.Errorf("smtp: %s offers neither AUTH PLAIN nor LOGIN (does it want TLS first?)", srv.Addr())))
		}
		if err := c.Auth(auth); err != nil {
			return fail(classify(fmt.Errorf("smtp: %s refused the login of %s: %w", srv.Addr(), srv.Username, err), err))
		}
	}
	return c, stop, nil
}

func (a *Adapter) deliver(ctx context.Context, srv *Server, out Outgoing) error {
	c, stop, err := a.dialSMTP(ctx, srv)
	if err != nil {
		return classify(err, err)
	}
	defer stop()
	if err := c.SendMail(out.From, out.To, bytes.NewReader(out.Bytes)); err != nil {
		return classify(fmt.Errorf("smtp: %s: %w", srv.Addr(), err), err)
	}
	_ = c.Quit()
	return nil
}

// classify marks an SMTP 5xx answer permanent; 4xx and network errors are
// retried (421/450/451/452 after a minute at least).
func classify(wrapped, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		switch {
		case se.Code >= 500:
			return jobs.Permanent(wrapped)
		case se.Code >= 400:
			return jobs.RetryAfter(wrapped, time.Minute)
		}
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return jobs.Permanent(wrapped)
	}
	return wrapped
}

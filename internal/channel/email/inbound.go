package email

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// ContentAutoReply is the content type of an automatic mail (an
// out-of-office answer, a list mail, a mailer daemon's note): stored and
// shown like text, never to be answered automatically.
const ContentAutoReply = "autoreply"

// Meta is what Kanal keeps of a mail's envelope, as JSON in the message's
// Raw: enough to answer it in the same thread and to show where it came
// from.
type Meta struct {
	MessageID  string    `json:"message_id,omitempty"`
	InReplyTo  []string  `json:"in_reply_to,omitempty"`
	References []string  `json:"references,omitempty"`
	From       Address   `json:"from"`
	ReplyTo    []Address `json:"reply_to,omitempty"`
	To         []Address `json:"to,omitempty"`
	Cc         []Address `json:"cc,omitempty"`
	Date       string    `json:"date,omitempty"`
	// Auto is why the mail is automatic ("" for a person's mail).
	Auto string `json:"auto,omitempty"`
	// Folded tells that Text is the new part only; HTML holds it all.
	Folded bool `json:"folded,omitempty"`
	// ConversationHint is the conversation the reply token names.
	ConversationHint string `json:"conversation_hint,omitempty"`
	// ThreadKeys are the Message-IDs the mail answers, newest first.
	ThreadKeys []string  `json:"thread_keys,omitempty"`
	Dropped    []Dropped `json:"dropped,omitempty"`
	Problems   []string  `json:"problems,omitempty"`
	Size       int       `json:"size"`
}

// ReadMeta reads the Meta of a stored e-mail message (ok false when Raw is
// not one).
func ReadMeta(raw string) (Meta, bool) {
	var m Meta
	if raw == "" || json.Unmarshal([]byte(raw), &m) != nil || m.From.Addr == "" {
		return Meta{}, false
	}
	return m, true
}

// Inbound is a mail read for one inbox.
type Inbound struct {
	// Message is what to store; Skip tells there is none (Kanal's own
	// mail coming back, a report with nothing to apply).
	Message channel.Message
	Status  *channel.Status
	Skip    bool
	// Why is a short note about what was done (for logs).
	Why  string
	Meta Meta
}

// Batch returns the channel batch of an Inbound.
func (ib Inbound) Batch() channel.Batch {
	var b channel.Batch
	if ib.Status != nil {
		b.Statuses = append(b.Statuses, *ib.Status)
	}
	if !ib.Skip {
		b.Messages = append(b.Messages, ib.Message)
	}
	return b
}

// ErrNoSender is returned for a mail with no sender address to answer.
var ErrNoSender = errors.New("email: the mail has no sender address")

// Read turns one mail into what Kanal stores for the inbox: a message (its
// files saved in the media store) or a delivery report. envelope lists the
// SMTP recipients when the mail came through the listener.
func (a *Adapter) Read(ctx context.Context, in inbox.Inbox, raw []byte, envelope []string) (Inbound, error) {
	s, err := SettingsOf(in)
	if err != nil {
		return Inbound{}, err
	}
	p, err := Parse(raw, a.Limits())
	if err != nil {
		return Inbound{Skip: true, Why: err.Error()}, nil
	}
	return a.read(ctx, in, s, p, raw, envelope)
}

func (a *Adapter) read(ctx context.Context, in inbox.Inbox, s Settings, p *Parsed, raw []byte, envelope []string) (Inbound, error) {
	// Kanal's own mail coming back (a copy to the support address, a
	// forwarding loop) is not a customer message.
	if slices.Contains(p.Loop, s.Address) || isOwnMessageID(p.MessageID, s.Domain) {
		return Inbound{Skip: true, Why: "own mail"}, nil
	}
	if p.Bounce != nil {
		ib := Inbound{Skip: true, Why: "delivery report " + p.Bounce.Action}
		if p.Bounce.Failed() && p.Bounce.OriginalMessageID != "" {
			ib.Status = &channel.Status{ProviderMessageID: p.Bounce.OriginalMessageID, Status: conversation.StatusFailed,
				Reason: "bounced: " + p.Bounce.Reason()}
		}
		return ib, nil
	}
	if p.From.Addr == "" {
		return Inbound{}, ErrNoSender
	}
	meta := Meta{MessageID: p.MessageID, InReplyTo: p.InReplyTo, References: p.References, From: p.From, ReplyTo: p.ReplyTo,
		To: p.To, Cc: p.Cc, Auto: p.Auto, Folded: p.Folded, Dropped: p.Dropped, Problems: p.Problems, Size: p.Size}
	if !p.Date.IsZero() {
		meta.Date = p.Date.Format(time.RFC3339)
	}
	if id, ok := tokenIn(s, append(slices.Clone(envelope), p.Recipients...)); ok {
		meta.ConversationHint = id
	}
	meta.ThreadKeys = threadKeys(p)
	m := channel.Message{
		ProviderID: p.ProviderID(raw),
		Claims:     []customer.Claim{{Kind: customer.KindEmail, Value: p.From.Addr, Field: "from"}},
		Profile:    customer.Profile{Name: p.From.Name, Email: p.From.Addr},
		Subject:    p.Subject,
		ContentType: func() string {
			if p.Auto != "" {
				return ContentAutoReply
			}
			return "text"
		}(),
		At: p.Date,
	}
	html := p.HTML
	parts := p.Parts
	if len(parts) > conversation.MaxAttachments {
		for _, f := range parts[conversation.MaxAttachments:] {
			meta.Dropped = append(meta.Dropped, Dropped{FileName: f.FileName, ContentType: f.ContentType, Size: int64(len(f.Data)),
				Reason: fmt.Sprintf("more than %d files", conversation.MaxAttachments)})
		}
		parts = parts[:conversation.MaxAttachments]
	}
	if len(parts) > 0 {
		d, err := a.bound()
		if err != nil {
			return Inbound{}, err
		}
		if d.Media == nil {
			return Inbound{}, errors.New("email: no media store to keep attachments in")
		}
		for _, f := range parts {
			file, err := d.Media.Save(ctx, in.WorkspaceID, f.FileName, f.ContentType, bytes.NewReader(f.Data), a.o.MaxAttachmentBytes, "")
			if err != nil {
				return Inbound{}, fmt.Errorf("email: store attachment %q: %w", f.FileName, err)
			}
			url := d.MediaBaseURL + file.URL()
			m.Attachments = append(m.Attachments, conversation.Attachment{URL: url, FileName: file.FileName,
				ContentType: file.ContentType, Size: file.Size, SHA256: file.SHA256})
			if f.ContentID != "" && html != "" {
				html = strings.ReplaceAll(html, "cid:"+f.ContentID, url)
			}
		}
	}
	text := p.Reply
	if len(meta.Dropped) > 0 {
		var notes []string
		for _, d := range meta.Dropped {
			notes = append(notes, fmt.Sprintf("[%s (%s) was not kept: %s]", d.FileName, humanSize(d.Size), d.Reason))
		}
		text = strings.TrimSpace(text + "\n\n" + strings.Join(notes, "\n"))
	}
	if len(p.Problems) > 0 && strings.TrimSpace(text) == "" {
		text = "[" + p.Problems[0] + "]"
	}
	m.Text = clipText(text, conversation.MaxTextBytes)
	if html == "" && p.Folded {
		html = textHTML(p.Text) // the whole mail, for "show the quoted text"
	}
	m.HTML = html
	m.Raw = encodeMeta(meta)
	m.ConversationHint, m.ThreadKeys = meta.ConversationHint, meta.ThreadKeys
	return Inbound{Message: m, Meta: meta, Why: "message"}, nil
}

// threadKeys are the Message-IDs a mail answers, newest first: In-Reply-To,
// then References from the end.
func threadKeys(p *Parsed) []string {
	var keys []string
	add := func(id string) {
		if id != "" && !slices.Contains(keys, id) && len(keys) < 20 {
			keys = append(keys, id)
		}
	}
	for _, id := range p.InReplyTo {
		add(id)
	}
	for i := len(p.References) - 1; i >= 0; i-- {
		add(p.References[i])
	}
	return keys
}

// encodeMeta writes Meta within the Raw limit, shedding the longest lists
// first.
func encodeMeta(m Meta) string {
	for range 6 {
		b, _ := json.Marshal(m)
		if len(b) <= conversation.MaxTextBytes {
			return string(b)
		}
		switch {
		case len(m.References) > 2:
			m.References = append(m.References[:1], m.References[len(m.References)-1])
		case len(m.To) > 5 || len(m.Cc) > 5:
			m.To, m.Cc = m.To[:min(len(m.To), 5)], m.Cc[:min(len(m.Cc), 5)]
		case len(m.Dropped) > 5:
			m.Dropped = m.Dropped[:5]
		case len(m.Problems) > 3:
			m.Problems = m.Problems[:3]
		default:
			m.ThreadKeys, m.InReplyTo = m.ThreadKeys[:min(len(m.ThreadKeys), 3)], m.InReplyTo[:min(len(m.InReplyTo), 1)]
		}
	}
	b, _ := json.Marshal(Meta{MessageID: m.MessageID, From: m.From, Auto: m.Auto, Size: m.Size})
	return string(b)
}

func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const more = "\n[…]"
	return clip(s, max-len(more)) + more
}

// isOwnMessageID tells whether id is one Kanal made for a mail from domain
// (kanal.<message id>@domain).
func isOwnMessageID(id, domain string) bool {
	return strings.HasPrefix(id, "kanal.") && strings.HasSuffix(strings.ToLower(id), "@"+domain)
}

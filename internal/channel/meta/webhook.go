package meta

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// SignatureHeader carries Meta's signature of a webhook body.
const SignatureHeader = "X-Hub-Signature-256"

// Sign returns the X-Hub-Signature-256 value of body: "sha256=" and the
// lowercase hex HMAC-SHA256 of the raw bytes with the app secret.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks X-Hub-Signature-256 over the raw body, in constant time,
// before anything is parsed.
func (a *Adapter) Verify(in inbox.Inbox, r *http.Request, publicURL string, body []byte) error {
	return VerifySignature(in.String(KeyAppSecret), r, body)
}

// VerifySignature checks Meta's X-Hub-Signature-256 over the raw body with
// the app secret, in constant time (WhatsApp, Messenger and Instagram all
// sign this way).
func VerifySignature(secret string, r *http.Request, body []byte) error {
	got := strings.TrimSpace(r.Header.Get(SignatureHeader))
	if secret == "" || len(got) < 7 || !strings.EqualFold(got[:7], "sha256=") {
		return channel.ErrBadSignature
	}
	sum, err := hex.DecodeString(got[7:])
	if err != nil {
		return channel.ErrBadSignature
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), sum) {
		return channel.ErrBadSignature
	}
	return nil
}

// Challenge answers Meta's GET verification of the callback URL: 200 with
// hub.challenge when hub.mode is subscribe and hub.verify_token is the
// inbox's verify token, else 403.
func (a *Adapter) Challenge(in inbox.Inbox, r *http.Request) (int, string) {
	return AnswerChallenge(in.String(KeyVerifyToken), r)
}

// AnswerChallenge answers Meta's GET subscription check with the challenge
// when hub.verify_token is want (constant time), else 403.
func AnswerChallenge(want string, r *http.Request) (int, string) {
	q := r.URL.Query()
	tok := q.Get("hub.verify_token")
	if q.Get("hub.mode") != "subscribe" || want == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(want)) != 1 {
		return http.StatusForbidden, "forbidden"
	}
	return http.StatusOK, q.Get("hub.challenge")
}

// The webhook payload, as far as Kanal reads it.
type payload struct {
	Object string `json:"object"`
	Entry  []struct {
		ID        flexString        `json:"id"`
		Messaging []json.RawMessage `json:"messaging"`
	} `json:"entry"`
}

type party struct {
	ID flexString `json:"id"`
}

// event is one entry[].messaging[] item.
type event struct {
	Sender    party      `json:"sender"`
	Recipient party      `json:"recipient"`
	Timestamp flexString `json:"timestamp"`
	Message   *struct {
		Mid           string `json:"mid"`
		Text          string `json:"text"`
		IsEcho        bool   `json:"is_echo"`
		IsDeleted     bool   `json:"is_deleted"`
		IsUnsupported bool   `json:"is_unsupported"`
		QuickReply    *struct {
			Payload string `json:"payload"`
		} `json:"quick_reply"`
		ReplyTo     json.RawMessage `json:"reply_to"`
		Attachments []struct {
			Type    string `json:"type"`
			Payload struct {
				URL string `json:"url"`
			} `json:"payload"`
		} `json:"attachments"`
	} `json:"message"`
	Postback *struct {
		Mid     string `json:"mid"`
		Title   string `json:"title"`
		Payload string `json:"payload"`
	} `json:"postback"`
	Reaction *struct {
		Mid      string `json:"mid"`
		Action   string `json:"action"`
		Reaction string `json:"reaction"`
		Emoji    string `json:"emoji"`
	} `json:"reaction"`
	Delivery *struct {
		Mids []string `json:"mids"`
	} `json:"delivery"`
	Read *struct {
		Mid  string   `json:"mid"`
		Mids []string `json:"mids"`
	} `json:"read"`
}

// flexString reads a JSON string or number (ids and timestamps are strings
// or numbers depending on the product and its version).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	*f = flexString(n.String())
	return nil
}

// millis reads a timestamp in milliseconds since the epoch.
func (f flexString) millis() time.Time {
	n, err := strconv.ParseInt(string(f), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// Parse reads a verified webhook call. The object must be this type's
// ("page" or "instagram") and at least one entry must be for the inbox's
// account, else ErrUnknownAccount; entries of other accounts are ignored
// (Meta posts every account of an app to the app's one callback URL).
func (a *Adapter) Parse(in inbox.Inbox, r *http.Request, body []byte) (channel.Batch, error) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return channel.Batch{}, err
	}
	if p.Object == "" {
		return channel.Batch{}, errors.New("not a Meta webhook: no object")
	}
	if p.Object != a.f.object {
		return channel.Batch{}, fmt.Errorf("object %q on a %s inbox: %w", p.Object, a.f.name, channel.ErrUnknownAccount)
	}
	account := a.accountID(in)
	var b channel.Batch
	matched := false
	for _, e := range p.Entry {
		if string(e.ID) != account {
			continue
		}
		matched = true
		for _, raw := range e.Messaging {
			if err := a.parseEvent(&b, account, raw); err != nil {
				return channel.Batch{}, err
			}
		}
	}
	if !matched && len(p.Entry) > 0 {
		return channel.Batch{}, channel.ErrUnknownAccount
	}
	return b, nil
}

// Claims returns the identity claims of a customer's Page- or
// Instagram-scoped id on this type.
func (a *Adapter) Claims(scopedID string) []customer.Claim {
	return []customer.Claim{{Kind: a.f.kind, Value: scopedID}}
}

func (a *Adapter) parseEvent(b *channel.Batch, account string, raw json.RawMessage) error {
	var e event
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("messaging event: %w", err)
	}
	sender := strings.TrimSpace(string(e.Sender.ID))
	at := e.Timestamp.millis()
	switch {
	case e.Delivery != nil:
		for _, mid := range e.Delivery.Mids {
			if mid != "" {
				b.Statuses = append(b.Statuses, channel.Status{ProviderMessageID: mid, Status: conversation.StatusDelivered})
			}
		}
		return nil
	case e.Read != nil:
		// Messenger reports reads as a watermark ("everything sent before
		// this time"), which names no message: skipped. Instagram's
		// messaging_seen names the message.
		mids := e.Read.Mids
		if e.Read.Mid != "" {
			mids = append(mids, e.Read.Mid)
		}
		for _, mid := range mids {
			if mid != "" {
				b.Statuses = append(b.Statuses, channel.Status{ProviderMessageID: mid, Status: conversation.StatusRead})
			}
		}
		return nil
	}
	if e.Message != nil && e.Message.IsEcho {
		return nil // sent by the Page (its inbox, another app or Kanal itself)
	}
	if sender == "" || sender == account {
		return nil // nobody to file it under, or the account's own action
	}
	m := channel.Message{Claims: a.Claims(sender), At: at}
	switch {
	case e.Message != nil:
		msg := e.Message
		m.ProviderID = msg.Mid
		m.Text = msg.Text
		keepRaw := msg.QuickReply != nil || len(msg.ReplyTo) > 0 || msg.IsUnsupported
		for _, att := range msg.Attachments {
			ct := contentType(att.Type)
			u, err := url.Parse(att.Payload.URL)
			if ct == "" || att.Payload.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				keepRaw = true // a share, story mention, template, location...: kept as the provider sent it
				continue
			}
			name := fileName(u)
			m.Attachments = append(m.Attachments, conversation.Attachment{Ref: att.Payload.URL, FileName: name,
				ContentType: mime.TypeByExtension(path.Ext(name))})
			if m.ContentType == "" {
				m.ContentType = ct
			}
		}
		switch {
		case msg.IsDeleted:
			// The customer unsent a message: the same mid comes back, so it
			// gets its own id.
			m.ProviderID, m.Text, m.Attachments, m.ContentType, keepRaw = msg.Mid+"#deleted", "", nil, "unsupported", true
		case msg.QuickReply != nil:
			m.ContentType = "interactive"
		case m.ContentType == "" && m.Text == "":
			m.ContentType = "unsupported"
			keepRaw = true
		case m.ContentType == "":
			m.ContentType = "text"
		}
		if keepRaw {
			m.Raw = string(raw)
		}
	case e.Postback != nil:
		m.ProviderID = e.Postback.Mid
		m.Text = e.Postback.Title
		if m.Text == "" {
			m.Text = e.Postback.Payload
		}
		m.ContentType, m.Raw = "interactive", string(raw)
	case e.Reaction != nil:
		if e.Reaction.Action != "unreact" {
			m.Text = e.Reaction.Emoji
			if m.Text == "" {
				m.Text = e.Reaction.Reaction
			}
		}
		m.ContentType, m.Raw = "reaction", string(raw)
	default:
		// Referrals, opt-ins, edits, handovers...: kept as they came.
		m.ContentType, m.Raw = "unsupported", string(raw)
	}
	if m.ProviderID == "" {
		m.ProviderID = syntheticID(m.ContentType, raw)
	}
	b.Messages = append(b.Messages, m)
	return nil
}

// syntheticID names an event Meta gives no id: a hash of its bytes, which
// are the same when Meta retries the call.
func syntheticID(kind string, raw []byte) string {
	sum := sha256.Sum256(raw)
	return kind + ":" + hex.EncodeToString(sum[:16])
}

// contentType maps an attachment type with a downloadable file to Kanal's
// content type; "" for the others.
func contentType(t string) string {
	switch t {
	case "image":
		return "image"
	case "video":
		return "video"
	case "audio":
		return "audio"
	case "file":
		return "document"
	}
	return ""
}

// fileName guesses a file's name from its CDN URL (Messenger file links
// end with the original name); "" when the URL names none.
func fileName(u *url.URL) string {
	name := path.Base(u.Path)
	if name == "." || name == "/" || !strings.Contains(name, ".") {
		return ""
	}
	return name
}

package whatsapp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/meta"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// SignatureHeader carries Meta's signature of a webhook body.
const SignatureHeader = meta.SignatureHeader

// Sign returns the X-Hub-Signature-256 value of body (see meta.Sign).
func Sign(appSecret string, body []byte) string { return meta.Sign(appSecret, body) }

// Verify checks X-Hub-Signature-256 over the raw body, in constant time.
func (a *Adapter) Verify(in inbox.Inbox, r *http.Request, publicURL string, body []byte) error {
	return meta.VerifySignature(in.String(KeyAppSecret), r, body)
}

// Challenge answers Meta's GET verification of the callback URL.
func (a *Adapter) Challenge(in inbox.Inbox, r *http.Request) (int, string) {
	return meta.AnswerChallenge(in.String(KeyVerifyToken), r)
}

// The webhook payload, as far as Kanal reads it.
type payload struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string          `json:"field"`
			Value json.RawMessage `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type value struct {
	MessagingProduct string `json:"messaging_product"`
	Metadata         struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID string `json:"wa_id"`
	} `json:"contacts"`
	Messages []json.RawMessage `json:"messages"`
	Statuses []status          `json:"statuses"`
	Errors   []graphError      `json:"errors"` // top-level errors (130429...): nothing to store
}

type status struct {
	ID                    string       `json:"id"`
	Status                string       `json:"status"`
	Timestamp             flexString   `json:"timestamp"`
	RecipientID           string       `json:"recipient_id"`
	BizOpaqueCallbackData string       `json:"biz_opaque_callback_data"`
	Errors                []graphError `json:"errors"`
}

// graphError is an error object of the Graph API, in webhooks and in
// responses.
type graphError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

type media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

type message struct {
	From      string     `json:"from"`
	ID        string     `json:"id"`
	Timestamp flexString `json:"timestamp"`
	Type      string     `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *media `json:"image"`
	Audio    *media `json:"audio"`
	Video    *media `json:"video"`
	Document *media `json:"document"`
	Sticker  *media `json:"sticker"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
		URL       string  `json:"url"`
	} `json:"location"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
			FirstName     string `json:"first_name"`
			LastName      string `json:"last_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
			WaID  string `json:"wa_id"`
		} `json:"phones"`
		Emails []struct {
			Email string `json:"email"`
		} `json:"emails"`
	} `json:"contacts"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"list_reply"`
		NfmReply *struct {
			Body string `json:"body"`
			Name string `json:"name"`
		} `json:"nfm_reply"`
	} `json:"interactive"`
	Button *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	System *struct {
		Body    string `json:"body"`
		Type    string `json:"type"`
		NewWaID string `json:"new_wa_id"`
		WaID    string `json:"wa_id"`
	} `json:"system"`
}

// flexString reads a JSON string or number as text (Meta's timestamps are
// strings; a number is tolerated).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
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
		return err
	}
	*f = flexString(n.String())
	return nil
}

// unix reads seconds since the epoch; zero when absent or unreadable.
func (f flexString) unix() time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(string(f)), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// Parse reads a verified webhook call: customer messages, delivery reports
// and number changes. Every "messages" change must be about this inbox's
// phone number (and entry ids about its waba_id, when set), else the whole
// call is refused with channel.ErrUnknownAccount.
func (a *Adapter) Parse(in inbox.Inbox, r *http.Request, body []byte) (channel.Batch, error) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return channel.Batch{}, fmt.Errorf("whatsapp: %w", err)
	}
	if p.Object != "whatsapp_business_account" {
		return channel.Batch{}, fmt.Errorf("whatsapp: object is %q, want whatsapp_business_account", p.Object)
	}
	pnid, waba := phoneNumberID(in), strings.TrimSpace(in.String(KeyWABAID))
	var values []value
	for _, e := range p.Entry {
		if waba != "" && e.ID != waba {
			return channel.Batch{}, fmt.Errorf("whatsapp business account %q: %w", e.ID, channel.ErrUnknownAccount)
		}
		for _, c := range e.Changes {
			if c.Field != "messages" {
				continue // template reviews, account updates...: not Kanal's business yet
			}
			var v value
			if err := json.Unmarshal(c.Value, &v); err != nil {
				return channel.Batch{}, fmt.Errorf("whatsapp: value: %w", err)
			}
			if v.Metadata.PhoneNumberID != pnid {
				return channel.Batch{}, fmt.Errorf("phone number id %q: %w", v.Metadata.PhoneNumberID, channel.ErrUnknownAccount)
			}
			values = append(values, v)
		}
	}
	var b channel.Batch
	for _, v := range values {
		names := map[string]string{}
		for _, c := range v.Contacts {
			names[c.WaID] = c.Profile.Name
		}
		for _, raw := range v.Messages {
			var m message
			if err := json.Unmarshal(raw, &m); err != nil {
				return channel.Batch{}, fmt.Errorf("whatsapp: message: %w", err)
			}
			if m.ID == "" {
				return channel.Batch{}, errors.New("whatsapp: a message has no id")
			}
			name := names[m.From]
			if name == "" && len(v.Contacts) == 1 && v.Contacts[0].WaID == "" {
				name = v.Contacts[0].Profile.Name
			}
			msg, moves := mapMessage(m, raw, name)
			b.Identities = append(b.Identities, moves...)
			if msg != nil {
				b.Messages = append(b.Messages, *msg)
			}
		}
		for _, s := range v.Statuses {
			st, ok := mapStatus(s)
			if ok {
				b.Statuses = append(b.Statuses, st)
			}
		}
	}
	return b, nil
}

// Claims returns the identities a WhatsApp sender has, in priority order:
// the phone number in E.164, then the WhatsApp id.
func Claims(waID string) []customer.Claim {
	return []customer.Claim{
		{Kind: customer.KindPhone, Value: "+" + waID},
		{Kind: customer.KindWhatsApp, Value: waID},
	}
}

// mapMessage turns one WhatsApp message into Kanal's form. A number change
// comes back as identity moves and no message.
func mapMessage(m message, raw json.RawMessage, name string) (*channel.Message, []channel.IdentityChange) {
	msg := &channel.Message{ProviderID: m.ID, Claims: Claims(m.From), Profile: customer.Profile{Name: name},
		At: m.Timestamp.unix(), ContentType: m.Type}
	keepRaw := func() { msg.Raw = string(raw) }
	unsupported := func() {
		msg.ContentType, msg.Raw = "unsupported", string(raw)
	}
	withMedia := func(md *media) {
		if md == nil || md.ID == "" {
			unsupported()
			return
		}
		fileName := md.Filename
		if fileName == "" {
			fileName = m.Type + extension(md.MimeType)
		}
		msg.Text = md.Caption
		msg.Attachments = []conversation.Attachment{{Ref: md.ID, ContentType: md.MimeType, FileName: fileName, SHA256: hexSHA256(md.SHA256)}}
	}
	switch m.Type {
	case "text":
		if m.Text == nil {
			unsupported()
			break
		}
		msg.Text = m.Text.Body
	case "image":
		withMedia(m.Image)
	case "audio":
		withMedia(m.Audio)
	case "video":
		withMedia(m.Video)
	case "document":
		withMedia(m.Document)
	case "sticker":
		withMedia(m.Sticker)
	case "location":
		if m.Location == nil {
			unsupported()
			break
		}
		l := m.Location
		var lines []string
		for _, s := range []string{l.Name, l.Address} {
			if s = strings.TrimSpace(s); s != "" {
				lines = append(lines, s)
			}
		}
		lines = append(lines, fmt.Sprintf("%s, %s", strconv.FormatFloat(l.Latitude, 'f', -1, 64), strconv.FormatFloat(l.Longitude, 'f', -1, 64)))
		if l.URL != "" {
			lines = append(lines, l.URL)
		}
		msg.Text = strings.Join(lines, "\n")
		keepRaw()
	case "contacts":
		var lines []string
		for _, c := range m.Contacts {
			n := strings.TrimSpace(c.Name.FormattedName)
			if n == "" {
				n = strings.TrimSpace(c.Name.FirstName + " " + c.Name.LastName)
			}
			parts := []string{}
			if n != "" {
				parts = append(parts, n)
			}
			for _, p := range c.Phones {
				parts = append(parts, p.Phone)
			}
			for _, e := range c.Emails {
				parts = append(parts, e.Email)
			}
			lines = append(lines, strings.Join(parts, ", "))
		}
		msg.Text = strings.Join(lines, "\n")
		keepRaw()
	case "interactive":
		if i := m.Interactive; i != nil {
			switch {
			case i.ButtonReply != nil:
				msg.Text = i.ButtonReply.Title
			case i.ListReply != nil:
				msg.Text = i.ListReply.Title
				if d := strings.TrimSpace(i.ListReply.Description); d != "" {
					msg.Text += "\n" + d
				}
			case i.NfmReply != nil:
				msg.Text = i.NfmReply.Body
			}
		}
		keepRaw()
	case "button":
		// A quick-reply button of a template: shown like an interactive reply.
		msg.ContentType = "interactive"
		if m.Button != nil {
			msg.Text = m.Button.Text
			if msg.Text == "" {
				msg.Text = m.Button.Payload
			}
		}
		keepRaw()
	case "reaction":
		if m.Reaction != nil {
			msg.Text = m.Reaction.Emoji // empty: the reaction was removed
		}
		keepRaw()
	case "system":
		if moves := numberChange(m); moves != nil {
			return nil, moves
		}
		unsupported()
		if m.System != nil {
			msg.Text = m.System.Body
		}
	default:
		unsupported()
	}
	return msg, nil
}

// numberChange returns the identity moves of a user_changed_number system
// message: the phone and the WhatsApp id, from the old number to the new.
func numberChange(m message) []channel.IdentityChange {
	s := m.System
	if s == nil || (s.Type != "user_changed_number" && s.Type != "customer_changed_number") {
		return nil
	}
	to := s.WaID
	if to == "" {
		to = s.NewWaID
	}
	if m.From == "" || to == "" || to == m.From {
		return nil
	}
	return []channel.IdentityChange{
		{Kind: customer.KindPhone, Old: "+" + m.From, New: "+" + to},
		{Kind: customer.KindWhatsApp, Old: m.From, New: to},
	}
}

// mapStatus turns a delivery report into Kanal's form; statuses Kanal has
// no state for (deleted, warning...) are skipped.
func mapStatus(s status) (channel.Status, bool) {
	switch s.Status {
	case "sent", "delivered", "read", "failed":
	default:
		return channel.Status{}, false
	}
	if s.ID == "" {
		return channel.Status{}, false
	}
	st := channel.Status{ProviderMessageID: s.ID, Status: s.Status}
	if kanalID.MatchString(s.BizOpaqueCallbackData) {
		st.MessageID = strings.ToLower(s.BizOpaqueCallbackData)
	}
	if s.Status == "failed" {
		st.Reason = "failed"
		if len(s.Errors) > 0 {
			st.Reason = s.Errors[0].reason()
		}
	}
	return st, true
}

// reason is an error as an agent sees it: "code: title" (or the message).
func (e graphError) reason() string {
	text := strings.TrimSpace(e.Title)
	if text == "" {
		text = strings.TrimSpace(e.Message)
	}
	if d := strings.TrimSpace(e.ErrorData.Details); d != "" && d != text {
		if text == "" {
			text = d
		} else {
			text += " (" + d + ")"
		}
	}
	if e.Code == 0 {
		return text
	}
	if text == "" {
		return strconv.Itoa(e.Code)
	}
	return strconv.Itoa(e.Code) + ": " + text
}

// kanalID matches Kanal's message ids (UUIDs), the only values of
// biz_opaque_callback_data taken as ours.
var kanalID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// hexSHA256 returns a media checksum as lowercase hex. Meta gives it as hex
// or as base64 depending on the endpoint; anything else is dropped rather
// than failing every download.
func hexSHA256(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
			return strings.ToLower(s)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return hex.EncodeToString(b)
		}
	}
	return ""
}

// extension returns a file name extension for a media type.
func extension(mimeType string) string {
	t, _, _ := strings.Cut(mimeType, ";")
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "audio/ogg":
		return ".ogg"
	case "audio/mpeg":
		return ".mp3"
	case "audio/aac":
		return ".aac"
	case "audio/amr":
		return ".amr"
	case "audio/mp4":
		return ".m4a"
	case "video/mp4":
		return ".mp4"
	case "video/3gpp":
		return ".3gp"
	case "application/pdf":
		return ".pdf"
	case "text/plain":
		return ".txt"
	}
	return ""
}

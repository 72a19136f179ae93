package twilio

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// EmptyTwiML is Kanal's answer to every Twilio call: nothing to do.
const EmptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

func replyTwiML(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, EmptyTwiML)
}

// statusMap maps Twilio's MessageStatus to Kanal's delivery statuses; the
// statuses that are not there (queued, accepted, scheduled, sending, and
// any Twilio adds later) are ignored.
var statusMap = map[string]string{
	"sent":        conversation.StatusSent,
	"delivered":   conversation.StatusDelivered,
	"read":        conversation.StatusRead,
	"undelivered": conversation.StatusFailed,
	"failed":      conversation.StatusFailed,
	"canceled":    conversation.StatusFailed,
}

// maxMedia caps NumMedia (Twilio sends at most 10).
const maxMedia = conversation.MaxAttachments

// Parse reads a verified Twilio call: a customer message (MessageSid with a
// Body) or a status callback (MessageStatus without a Body). The answer is
// always an empty TwiML document.
func (a *Adapter) Parse(in inbox.Inbox, r *http.Request, body []byte) (channel.Batch, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return channel.Batch{}, fmt.Errorf("not a form body: %w", err)
	}
	if acct := vals.Get("AccountSid"); acct == "" || acct != in.String(KeyAccountSID) {
		return channel.Batch{}, channel.ErrUnknownAccount
	}
	b := channel.Batch{Reply: replyTwiML}
	sid := vals.Get("MessageSid")
	if sid == "" {
		sid = vals.Get("SmsSid")
	}
	if sid == "" {
		return channel.Batch{}, errors.New("no MessageSid: not a messaging webhook")
	}
	status := vals.Get("MessageStatus")
	if vals.Has("MessageStatus") && !vals.Has("Body") && status != "received" && status != "receiving" {
		st, ok := statusMap[status]
		if !ok {
			return b, nil
		}
		s := channel.Status{ProviderMessageID: sid, Status: st}
		if st == conversation.StatusFailed {
			s.Reason = failureReason(status, vals.Get("ErrorCode"), vals.Get("ErrorMessage"))
		}
		b.Statuses = append(b.Statuses, s)
		return b, nil
	}
	m, err := message(sid, vals)
	if err != nil {
		return channel.Batch{}, err
	}
	b.Messages = append(b.Messages, m)
	return b, nil
}

func failureReason(status, code, msg string) string {
	var r string
	switch {
	case code != "" && code != "0":
		r = "ErrorCode " + code
	case status == "canceled":
		r = "canceled"
	default:
		r = status
	}
	if msg != "" {
		r += ": " + msg
	}
	return r
}

func message(sid string, vals url.Values) (channel.Message, error) {
	from := vals.Get("From")
	if from == "" {
		return channel.Message{}, fmt.Errorf("message %s has no From", sid)
	}
	m := channel.Message{ProviderID: sid, Text: vals.Get("Body")}
	if strings.HasPrefix(from, WhatsAppPrefix) {
		num := strings.TrimPrefix(from, WhatsAppPrefix)
		m.Claims = []customer.Claim{{Kind: customer.KindPhone, Value: num}, {Kind: customer.KindWhatsApp, Value: num}}
		m.Profile.Name = strings.TrimSpace(vals.Get("ProfileName"))
	} else {
		m.Claims = []customer.Claim{{Kind: customer.KindPhone, Value: from}}
	}
	n := 0
	if s := vals.Get("NumMedia"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 0 {
			return channel.Message{}, fmt.Errorf("message %s: bad NumMedia %q", sid, s)
		}
	}
	if n > maxMedia {
		return channel.Message{}, fmt.Errorf("message %s: NumMedia %d is over %d", sid, n, maxMedia)
	}
	for i := range n {
		ref := vals.Get("MediaUrl" + strconv.Itoa(i))
		u, err := url.Parse(ref)
		if ref == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return channel.Message{}, fmt.Errorf("message %s: MediaUrl%d %q is not a URL", sid, i, ref)
		}
		ct := vals.Get("MediaContentType" + strconv.Itoa(i))
		m.Attachments = append(m.Attachments, conversation.Attachment{Ref: ref, ContentType: ct, FileName: fileName(u, ct)})
	}
	switch {
	case len(m.Attachments) > 0:
		m.ContentType = contentKind(m.Attachments[0].ContentType)
	case vals.Get("Latitude") != "" && vals.Get("Longitude") != "":
		m.ContentType = "location"
		raw, _ := json.Marshal(map[string]string{"latitude": vals.Get("Latitude"), "longitude": vals.Get("Longitude"),
			"address": vals.Get("Address"), "label": vals.Get("Label")})
		m.Raw = string(raw)
	case strings.TrimSpace(m.Text) == "":
		// Something Kanal cannot show (a WhatsApp reaction, say): kept as is.
		m.ContentType = "unsupported"
		m.Raw = vals.Encode()
	}
	return m, nil
}

func contentKind(ct string) string {
	switch major, _, _ := strings.Cut(ct, "/"); major {
	case "image", "audio", "video":
		return major
	}
	return "document"
}

var extensions = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
	"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/amr": ".amr", "audio/mp4": ".m4a",
	"video/mp4": ".mp4", "video/3gpp": ".3gp", "application/pdf": ".pdf",
	"text/vcard": ".vcf", "text/x-vcard": ".vcf", "text/plain": ".txt",
}

// fileName names a Twilio media file after its SID (the URL's last segment)
// with an extension for its type.
func fileName(u *url.URL, ct string) string {
	name := path.Base(u.Path)
	if name == "." || name == "/" {
		name = "media"
	}
	if ext, ok := extensions[strings.ToLower(ct)]; ok && !strings.Contains(name, ".") {
		name += ext
	}
	return name
}

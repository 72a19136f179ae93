package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// Limits of WhatsApp messages, in characters.
const (
	MaxTextChars    = 4096
	MaxCaptionChars = 1024
)

// Graph API error codes Kanal treats specially.
const (
	CodeWindowClosed = 131047 // re-engagement: more than 24 hours since the customer's last message
	CodeThroughput   = 130429 // the business number's messages per second
	CodePairRate     = 131056 // too many messages to the same user
	CodeSpamRate     = 131048 // spam rate limit
	CodeNotOnApp     = 131026 // undeliverable
)

// Error is a refusal by the Graph API, or by Kanal's own pair limiter
// (HTTPStatus 0). Its text is what the agent sees on a failed message.
type Error struct {
	HTTPStatus int
	Code       int
	Message    string
	// RetryAfter, when set, is how long to wait before trying again.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	switch {
	case e.Code == CodeWindowClosed:
		return "reply window closed: the customer last wrote more than 24 hours ago; only an approved template can be sent (WhatsApp 131047)"
	case e.HTTPStatus == 0:
		return e.Message
	case e.Code != 0:
		return fmt.Sprintf("whatsapp: %d: %s (HTTP %d)", e.Code, e.Message, e.HTTPStatus)
	default:
		return fmt.Sprintf("whatsapp: HTTP %d: %s", e.HTTPStatus, e.Message)
	}
}

// The request body of POST /{phone-number-id}/messages.
type outMessage struct {
	MessagingProduct      string       `json:"messaging_product"`
	RecipientType         string       `json:"recipient_type"`
	To                    string       `json:"to"`
	Type                  string       `json:"type"`
	Text                  *outText     `json:"text,omitempty"`
	Image                 *outMedia    `json:"image,omitempty"`
	Audio                 *outMedia    `json:"audio,omitempty"`
	Video                 *outMedia    `json:"video,omitempty"`
	Document              *outMedia    `json:"document,omitempty"`
	Template              *outTemplate `json:"template,omitempty"`
	BizOpaqueCallbackData string       `json:"biz_opaque_callback_data,omitempty"`
}

type outText struct {
	PreviewURL bool   `json:"preview_url"`
	Body       string `json:"body"`
}

type outMedia struct {
	Link     string `json:"link"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

type outTemplate struct {
	Name     string `json:"name"`
	Language struct {
		Code string `json:"code"`
	} `json:"language"`
	Components []outComponent `json:"components,omitempty"`
}

type outComponent struct {
	Type       string         `json:"type"`
	Parameters []outParameter `json:"parameters"`
}

type outParameter struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Send sends one reply: a template, or the text and each attachment (by
// link) as separate WhatsApp messages, every one tagged with Kanal's message
// id in biz_opaque_callback_data. It returns the first WhatsApp message id.
//
// Errors: 131047 (window closed) and other 4xx are permanent; 429, 130429
// and 131056 ask for a later retry; 5xx and network errors are retried. A
// reply of several parts that fails half-way resumes after the parts
// already sent (remembered in memory), so a retry does not repeat them.
func (a *Adapter) Send(ctx context.Context, o channel.Outbound) (string, error) {
	a.init()
	pnid := phoneNumberID(o.Inbox)
	if pnid == "" {
		return "", jobs.Permanent(errors.New("the whatsapp inbox has no phone_number_id"))
	}
	to := Recipient(o.Customer)
	if to == "" {
		return "", jobs.Permanent(errors.New("the customer has no WhatsApp or phone number"))
	}
	parts, err := build(o.Message, to)
	if err != nil {
		return "", jobs.Permanent(err)
	}
	done := a.progress.get(o.Message.ID)
	ids := make([]string, len(parts))
	for i, p := range parts {
		if id, ok := done[i]; ok {
			ids[i] = id
			continue
		}
		if wait, ok := a.limiter.take(pnid + "/" + to); !ok {
			return "", jobs.RetryAfter(&Error{Message: fmt.Sprintf("pair rate limit: too many messages to %s; next in %s", to, wait.Round(time.Second)),
				RetryAfter: wait}, wait)
		}
		id, err := a.post(ctx, o.Inbox, pnid, p)
		if err != nil {
			if jobs.IsPermanent(err) {
				a.progress.forget(o.Message.ID)
			}
			return "", err
		}
		ids[i] = id
		if len(parts) > 1 {
			a.progress.set(o.Message.ID, i, id)
		}
	}
	a.progress.forget(o.Message.ID)
	return ids[0], nil
}

// Recipient returns the WhatsApp id (international number without "+") a
// reply goes to: the customer's WhatsApp identity, else a phone identity,
// else the profile phone.
func Recipient(c customer.Customer) string {
	pick := func(kind string) string {
		for _, id := range c.Identities {
			if id.Kind != kind {
				continue
			}
			v := id.Normalized
			if v == "" {
				v = id.Value
			}
			if v = digitsOnly(v); v != "" {
				return v
			}
		}
		return ""
	}
	if v := pick(customer.KindWhatsApp); v != "" {
		return v
	}
	if v := pick(customer.KindPhone); v != "" {
		return v
	}
	return digitsOnly(c.Phone)
}

func digitsOnly(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return ""
	}
	return s
}

// build turns an outbound message into the WhatsApp messages that carry it.
// Its errors are permanent: the message cannot be sent as it is.
func build(m conversation.Message, to string) ([]outMessage, error) {
	base := func(typ string) outMessage {
		return outMessage{MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: typ, BizOpaqueCallbackData: m.ID}
	}
	if m.ContentType == "template" {
		var t conversation.Template
		if err := json.Unmarshal([]byte(m.Raw), &t); err != nil {
			return nil, fmt.Errorf("the template is unreadable: %w", err)
		}
		if strings.TrimSpace(t.Name) == "" {
			return nil, errors.New("the template has no name")
		}
		if strings.TrimSpace(t.Language) == "" {
			return nil, errors.New("the template needs a language code (tr, en_US...)")
		}
		out := base("template")
		out.Template = &outTemplate{Name: t.Name}
		out.Template.Language.Code = t.Language
		if len(t.Params) > 0 {
			c := outComponent{Type: "body"}
			for _, p := range t.Params {
				c.Parameters = append(c.Parameters, outParameter{Type: "text", Text: p})
			}
			out.Template.Components = []outComponent{c}
		}
		return []outMessage{out}, nil
	}
	text := m.Text // sent byte for byte
	if strings.TrimSpace(text) == "" {
		text = ""
	}
	if n := utf8.RuneCountInString(text); n > MaxTextChars {
		return nil, fmt.Errorf("the text has %d characters; WhatsApp takes at most %d", n, MaxTextChars)
	}
	var media []outMessage
	for i, att := range m.Attachments {
		u, err := url.Parse(att.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("attachment %d (%s) has no public http(s) URL; sending files stored in Kanal to WhatsApp is not supported yet", i+1, att.FileName)
		}
		ctype := att.ContentType
		if ctype == "" {
			ctype = mime.TypeByExtension(path.Ext(u.Path))
		}
		typ := mediaType(ctype)
		om := base(typ)
		md := &outMedia{Link: att.URL}
		if typ == "document" {
			md.Filename = att.FileName
			if md.Filename == "" {
				md.Filename = path.Base(u.Path)
			}
		}
		switch typ {
		case "image":
			om.Image = md
		case "video":
			om.Video = md
		case "audio":
			om.Audio = md
		default:
			om.Document = md
		}
		media = append(media, om)
	}
	// A short text rides as the caption of the first attachment that takes one.
	if text != "" && len(media) > 0 && utf8.RuneCountInString(text) <= MaxCaptionChars && media[0].Type != "audio" {
		switch media[0].Type {
		case "image":
			media[0].Image.Caption = text
		case "video":
			media[0].Video.Caption = text
		default:
			media[0].Document.Caption = text
		}
		text = ""
	}
	var out []outMessage
	if text != "" {
		t := base("text")
		t.Text = &outText{Body: text, PreviewURL: strings.Contains(text, "https://") || strings.Contains(text, "http://")}
		out = append(out, t)
	}
	out = append(out, media...)
	if len(out) == 0 {
		return nil, errors.New("the message has no text, attachment or template to send")
	}
	return out, nil
}

// mediaType picks the WhatsApp message type for a content type.
func mediaType(ctype string) string {
	t, _, _ := strings.Cut(strings.ToLower(ctype), ";")
	switch {
	case strings.HasPrefix(t, "image/"):
		return "image"
	case strings.HasPrefix(t, "video/"):
		return "video"
	case strings.HasPrefix(t, "audio/"):
		return "audio"
	}
	return "document"
}

// post sends one WhatsApp message and returns its id.
func (a *Adapter) post(ctx context.Context, in inbox.Inbox, pnid string, m outMessage) (string, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return "", jobs.Permanent(err)
	}
	rb, err := a.call(ctx, in, http.MethodPost, baseURL(in)+"/"+url.PathEscape(pnid)+"/messages", body)
	if err != nil {
		return "", err
	}
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(rb, &out); err != nil {
		return "", fmt.Errorf("whatsapp: unreadable answer: %w", err)
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		// Accepted without an id: the delivery reports still find the
		// message by biz_opaque_callback_data.
		return "", nil
	}
	return out.Messages[0].ID, nil
}

// maxAnswer caps a Graph API JSON answer.
const maxAnswer = 1 << 20

// call makes one Graph API request with the inbox's token and returns the
// body of a 2xx answer, or a classified error.
func (a *Adapter) call(ctx context.Context, in inbox.Inbox, method, target string, body []byte) ([]byte, error) {
	a.init()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, jobs.Permanent(fmt.Errorf("whatsapp: bad api_base_url: %w", err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+in.String(KeyAccessToken))
	req.Header.Set("User-Agent", "Kanal")
	resp, err := a.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("whatsapp: reading the answer: %w", err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return rb, nil
	}
	return nil, classify(resp.StatusCode, resp.Header, rb)
}

// classify maps a Graph API error answer to a job error.
func classify(status int, h http.Header, body []byte) error {
	var env struct {
		Error struct {
			Message   string `json:"message"`
			Code      int    `json:"code"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &env)
	e := &Error{HTTPStatus: status, Code: env.Error.Code, Message: strings.TrimSpace(env.Error.Message)}
	if d := strings.TrimSpace(env.Error.ErrorData.Details); d != "" && d != e.Message {
		if e.Message == "" {
			e.Message = d
		} else {
			e.Message += ": " + d
		}
	}
	if e.Message == "" {
		e.Message = truncate(strings.TrimSpace(string(body)), 200)
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
	}
	e.Message = truncate(e.Message, 500)
	switch e.Code {
	case CodeWindowClosed:
		return jobs.Permanent(e)
	case CodeThroughput, CodePairRate, CodeSpamRate, 4, 80007:
		e.RetryAfter = retryAfter(h.Get("Retry-After"), defaultWait(e.Code))
		return jobs.RetryAfter(e, e.RetryAfter)
	case 1, 2, 131000, 131016, 133004:
		return e // temporary trouble at Meta
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.RetryAfter = retryAfter(h.Get("Retry-After"), 5*time.Second)
		return jobs.RetryAfter(e, e.RetryAfter)
	case status >= 500 || status == http.StatusRequestTimeout:
		return e
	}
	return jobs.Permanent(e)
}

func defaultWait(code int) time.Duration {
	switch code {
	case CodeThroughput:
		return 2 * time.Second
	case CodePairRate:
		return DefaultPairEvery
	}
	return time.Minute // account-level and spam limits
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), or def.
func retryAfter(h string, def time.Duration) time.Duration {
	h = strings.TrimSpace(h)
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, time.Hour)
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return min(d, time.Hour)
		}
		return 0
	}
	return def
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

package meta

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf16"
)

// Objects of Meta's messaging webhooks.
const (
	ObjectPage      = "page"
	ObjectInstagram = "instagram"
)

// Event is one entry[].messaging[] item of a webhook.
type Event map[string]any

// Hook builds, signs and posts Meta-shaped webhook calls to one Kanal
// inbox.
type Hook struct {
	URL       string // the inbox's webhook_url
	AppSecret string
	Object    string // ObjectPage or ObjectInstagram
	AccountID string // the Page or Instagram account id (entry[].id)
	Client    *http.Client
}

// MessengerHook posts "page" webhooks for a Facebook Page.
func MessengerHook(webhookURL, appSecret, pageID string) *Hook {
	return &Hook{URL: webhookURL, AppSecret: appSecret, Object: ObjectPage, AccountID: pageID}
}

// InstagramHook posts "instagram" webhooks for an Instagram account.
func InstagramHook(webhookURL, appSecret, instagramID string) *Hook {
	return &Hook{URL: webhookURL, AppSecret: appSecret, Object: ObjectInstagram, AccountID: instagramID}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func (h *Hook) event(from, to string, at time.Time) Event {
	return Event{"sender": map[string]string{"id": from}, "recipient": map[string]string{"id": to}, "timestamp": ms(at)}
}

// Text is a customer's text message.
func (h *Hook) Text(mid, from, text string, at time.Time) Event {
	e := h.event(from, h.AccountID, at)
	e["message"] = map[string]any{"mid": mid, "text": text}
	return e
}

// Media is a customer's message with one file: typ is image, video, audio
// or file; url is where the file is (AddMedia).
func (h *Hook) Media(mid, from, typ, url string, at time.Time) Event {
	e := h.event(from, h.AccountID, at)
	e["message"] = map[string]any{"mid": mid,
		"attachments": []any{map[string]any{"type": typ, "payload": map[string]any{"url": url}}}}
	return e
}

// Image is a customer's picture.
func (h *Hook) Image(mid, from, url string, at time.Time) Event {
	return h.Media(mid, from, "image", url, at)
}

// QuickReply is a customer's tap on a quick reply.
func (h *Hook) QuickReply(mid, from, text, payload string, at time.Time) Event {
	e := h.event(from, h.AccountID, at)
	e["message"] = map[string]any{"mid": mid, "text": text, "quick_reply": map[string]string{"payload": payload}}
	return e
}

// ReplyTo is a customer's text message quoting an earlier message.
func (h *Hook) ReplyTo(mid, from, text, quoted string, at time.Time) Event {
	e := h.event(from, h.AccountID, at)
	e["message"] = map[string]any{"mid": mid, "text": text, "reply_to": map[string]string{"mid": quoted}}
	return e
}

// Postback is a customer's tap on a button; mid may be "" (older versions
// send none).
func (h *Hook) Postback(mid, from, title, payload string, at time.Time) Event {
	e := h.event(from, h.AccountID, at)
	p := map[string]any{"title": title, "payload": payload}
	if mid != "" {
		p["mid"] = mid
	}
	e["postback"] = p
	return e
}

// Echo is the copy Meta sends of a message the account sent to a customer.
func (h *Hook) Echo(mid, to, text string, at time.Time) Event {
	e := h.event(h.AccountID, to, at)
	e["message"] = map[string]any{"mid": mid, "text": text, "is_echo": true, "app_id": 1517776481860111, "metadata": "kanal"}
	return e
}

// Reaction is a customer's reaction to a message (action react or
// unreact).
func (h *Hook) Reaction(from, mid, action, emoji string, at time.Time) Event {
	e := h.event(from, h.AccountID, at)
	r := map[string]any{"mid": mid, "action": action}
	if action == "react" {
		r["reaction"], r["emoji"] = "love", emoji
	}
	e["reaction"] = r
	return e
}

// Unknown is an event Kanal does not map (a referral from an ad link).
func (h *Hook) Unknown(from string, at time.Time) Event {
	e := h.event(from, h.AccountID, at)
	e["referral"] = map[string]any{"ref": "kampanya-ekim", "source": "SHORTLINK", "type": "OPEN_THREAD"}
	return e
}

// Delivery reports that the customer's device got the listed messages.
func (h *Hook) Delivery(from string, watermark time.Time, mids ...string) Event {
	e := h.event(from, h.AccountID, watermark)
	e["delivery"] = map[string]any{"mids": mids, "watermark": ms(watermark)}
	return e
}

// Read is Messenger's read report: everything sent before the watermark
// was read (no message ids).
func (h *Hook) Read(from string, watermark time.Time) Event {
	e := h.event(from, h.AccountID, watermark)
	e["read"] = map[string]any{"watermark": ms(watermark)}
	return e
}

// Seen is Instagram's messaging_seen report of one message.
func (h *Hook) Seen(from, mid string, at time.Time) Event {
	e := h.event(from, h.AccountID, at)
	e["read"] = map[string]any{"mid": mid}
	return e
}

// Body is a webhook body with one entry, for the hook's account, carrying
// the events; escaped like Meta's (non-ASCII as \uXXXX, "/" as "\/").
func (h *Hook) Body(events ...Event) []byte { return h.BodyFor(h.AccountID, events...) }

// BodyFor is Body for another account id (to test routing).
func (h *Hook) BodyFor(accountID string, events ...Event) []byte {
	if events == nil {
		events = []Event{}
	}
	at := time.Now()
	if len(events) > 0 {
		if ts, ok := events[0]["timestamp"].(int64); ok {
			at = time.UnixMilli(ts)
		}
	}
	b, err := json.Marshal(map[string]any{"object": h.Object,
		"entry": []any{map[string]any{"id": accountID, "time": ms(at), "messaging": events}}})
	if err != nil {
		panic(err)
	}
	return Escape(b)
}

// Escape rewrites JSON the way Meta's payloads look: every non-ASCII
// character as \uXXXX (UTF-16 surrogate pairs beyond the BMP) and "/" as
// "\/". The signature is over these bytes, not a re-encoding.
func Escape(b []byte) []byte {
	var out bytes.Buffer
	for _, r := range string(b) {
		switch {
		case r == '/':
			out.WriteString(`\/`)
		case r < 0x80:
			out.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.Bytes()
}

// Sign returns the X-Hub-Signature-256 value of body.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Post signs body with the app secret and posts it; it returns the status
// and the answer's body.
func (h *Hook) Post(body []byte) (int, []byte, error) {
	return h.PostSigned(body, Sign(h.AppSecret, body))
}

// PostSigned posts body with the given X-Hub-Signature-256 ("" sends none).
func (h *Hook) PostSigned(body []byte, signature string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp.StatusCode, rb, err
}

// Verify makes Meta's GET check of the callback URL with a verify token and
// returns the status and body.
func (h *Hook) Verify(verifyToken, challenge string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, h.URL, nil)
	if err != nil {
		return 0, "", err
	}
	q := req.URL.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.verify_token", verifyToken)
	q.Set("hub.challenge", challenge)
	req.URL.RawQuery = q.Encode()
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb), err
}

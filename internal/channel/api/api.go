// Package api is the generic API channel: an in-house system, a mobile app or
// a point of sale posts customer messages to Kanal's inbound endpoint, and
// Kanal posts agents' replies to the inbox's callback URL, signed with
// X-Kanal-Signature: sha256=<hex HMAC-SHA256 of the raw body>.
package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// TypeName is the inbox type of the API channel.
const TypeName = "api"

// SignatureHeader carries the HMAC of an outbound callback's body.
const SignatureHeader = "X-Kanal-Signature"

// Type describes API inboxes: config callback_url (optional), secret
// signing_secret (generated when not given).
func (s *Sender) Type() inbox.Type {
	return inbox.Type{
		Name:       TypeName,
		SecretKeys: []string{"signing_secret"},
		Generated:  []string{"signing_secret"},
		Webhook:    true,
		Validate: func(cfg map[string]any, secrets map[string]string) error {
			v := &errs.Validation{}
			for k, val := range cfg {
				switch k {
				case "callback_url":
					s, ok := val.(string)
					u, err := url.Parse(s)
					if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
						v.Add(k, "must be an http(s) URL")
					}
				default:
					v.Add(k, "is not a setting of api inboxes (known: callback_url, signing_secret)")
				}
			}
			if s := secrets["signing_secret"]; len(s) < 16 {
				v.Add("signing_secret", "must be at least 16 characters")
			}
			return v.OrNil()
		},
	}
}

// Sign returns the X-Kanal-Signature value of body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify tells, in constant time, whether sig is body's signature.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// Sender is the API channel's adapter: it posts replies to callback URLs.
type Sender struct {
	Client *http.Client
}

// NewSender returns a sender with a bounded HTTP client.
func NewSender(c *http.Client) *Sender {
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	return &Sender{Client: c}
}

// Callback is the JSON body Kanal posts for a reply.
type Callback struct {
	Event          string         `json:"event"`
	InboxID        string         `json:"inbox_id"`
	ConversationID string         `json:"conversation_id"`
	Message        map[string]any `json:"message"`
	Customer       map[string]any `json:"customer"`
}

// Send posts one reply. 2xx is sent (the response's "id" becomes the
// provider id); 429 and 5xx and network errors are retried; other 4xx are
// permanent failures.
func (s *Sender) Send(ctx context.Context, o channel.Outbound) (string, error) {
	target := o.Inbox.String("callback_url")
	if target == "" {
		return "", jobs.Permanent(errors.New("the api inbox has no callback_url"))
	}
	ids := map[string]string{}
	for _, id := range o.Customer.Identities {
		ids[id.Kind] = id.Value
	}
	body, err := json.Marshal(Callback{
		Event: "message.created", InboxID: o.Inbox.ID, ConversationID: o.Conversation.ID,
		Message: map[string]any{"id": o.Message.ID, "text": o.Message.Text, "html": o.Message.HTML,
			"attachments": o.Message.Attachments, "author_id": o.Message.AuthorID, "created_at": o.Message.CreatedAt},
		Customer: map[string]any{"id": o.Customer.ID, "name": o.Customer.Name, "email": o.Customer.Email,
			"phone": o.Customer.Phone, "external_id": ids["external_id"]},
	})
	if err != nil {
		return "", jobs.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return "", jobs.Permanent(fmt.Errorf("bad callback_url: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Kanal")
	req.Header.Set(SignatureHeader, Sign(o.Inbox.String("signing_secret"), body))
	req.Header.Set("X-Kanal-Message-Id", o.Message.ID)
	resp, err := s.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("callback: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		var out struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(rb, &out)
		return out.ID, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", jobs.RetryAfter(fmt.Errorf("callback: %s", resp.Status), retryAfter(resp.Header.Get("Retry-After")))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return "", fmt.Errorf("callback: %s", resp.Status)
	default:
		return "", jobs.Permanent(fmt.Errorf("callback refused: %s: %s", resp.Status, truncate(string(rb), 200)))
	}
}

func retryAfter(h string) time.Duration {
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

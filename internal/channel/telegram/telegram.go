// Package telegram is the Telegram Bot API channel: customers write to a
// bot in private chats, Telegram calls Kanal's webhook with one Update per
// request (authenticated by the X-Telegram-Bot-Api-Secret-Token header), and
// agents' replies go out with sendMessage, sendPhoto and sendDocument.
//
// Inbox config: bot_token (secret, from BotFather), secret_token (secret,
// generated when absent), api_base_url (optional, default
// https://api.telegram.org) and set_webhook (optional bool: Setup registers
// the webhook with setWebhook).
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// TypeName is the inbox type of the Telegram channel.
const TypeName = "telegram"

// SecretHeader carries the inbox's secret_token on every webhook call.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// DefaultBaseURL is the hosted Bot API.
const DefaultBaseURL = "https://api.telegram.org"

// AllowedUpdates are the update types Setup subscribes to.
var AllowedUpdates = []string{"message", "edited_message", "callback_query"}

var (
	tokenRE  = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{1,200}$`)
	secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// Adapter is the Telegram channel. It is safe for concurrent use.
type Adapter struct {
	client *http.Client
	now    func() time.Time

	chats    *limiter // ≈1 message a second per chat
	bots     *limiter // ≈30 messages a second per bot
	progress *progress
}

// New returns the Telegram adapter; a nil client gets a 15 s timeout.
func New(c *http.Client) *Adapter {
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	a := &Adapter{client: c, now: time.Now, progress: &progress{m: map[string]progressEntry{}}}
	a.chats = newLimiter(1, 3, func() time.Time { return a.now() })
	a.bots = newLimiter(30, 30, func() time.Time { return a.now() })
	return a
}

// Type describes Telegram inboxes.
func (a *Adapter) Type() inbox.Type {
	return inbox.Type{
		Name:       TypeName,
		SecretKeys: []string{"bot_token", "secret_token"},
		Generated:  []string{"secret_token"},
		Webhook:    true,
		Reach:      []string{customer.KindTelegram},
		Validate:   validate,
	}
}

func validate(cfg map[string]any, secrets map[string]string) error {
	v := &errs.Validation{}
	for k, val := range cfg {
		switch k {
		case "api_base_url":
			s, ok := val.(string)
			u, err := url.Parse(s)
			if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				v.Add(k, "must be an http(s) URL such as "+DefaultBaseURL)
			}
		case "set_webhook":
			if _, ok := val.(bool); !ok {
				v.Add(k, "must be true or false")
			}
		default:
			v.Add(k, "is not a setting of telegram inboxes (known: bot_token, secret_token, api_base_url, set_webhook)")
		}
	}
	if t := secrets["bot_token"]; t == "" {
		v.Add("bot_token", "is required (the token BotFather gave, like 123456789:AAH…)")
	} else if !tokenRE.MatchString(t) {
		v.Add("bot_token", "must look like 123456789:AAH… (digits, a colon, then letters, digits, _ or -)")
	}
	if !secretRE.MatchString(secrets["secret_token"]) {
		v.Add("secret_token", "must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -")
	}
	return v.OrNil()
}

func baseURL(in inbox.Inbox) string {
	b := strings.TrimRight(in.String("api_base_url"), "/")
	if b == "" {
		return DefaultBaseURL
	}
	return b
}

// APIError is a Bot API call that did not succeed: Telegram's
// {"ok":false,"error_code":…,"description":…} answer, or an HTTP error of a
// proxy in front of it.
type APIError struct {
	Method      string
	Code        int    // error_code, or the HTTP status
	Description string // Telegram's description, e.g. "Forbidden: bot was blocked by the user"
	RetryAfter  time.Duration
}

func (e *APIError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("telegram %s: HTTP %d", e.Method, e.Code)
	}
	return fmt.Sprintf("telegram %s: %s", e.Method, e.Description)
}

// Temporary tells whether a retry may succeed: 429, 5xx and timeouts.
func (e *APIError) Temporary() bool {
	return e.Code == http.StatusTooManyRequests || e.Code >= 500 || e.Code == http.StatusRequestTimeout
}

// jobError turns a Bot API error into what the job queue expects: 429 with
// its retry_after, 5xx and network errors retried, the rest permanent.
func jobError(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err // network: retried
	}
	switch {
	case ae.Code == http.StatusTooManyRequests:
		return jobs.RetryAfter(err, ae.RetryAfter)
	case ae.Temporary():
		return err
	default:
		return jobs.Permanent(err)
	}
}

type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// call posts params as JSON to a Bot API method and decodes result into out.
func (a *Adapter) call(ctx context.Context, in inbox.Inbox, method string, params any, out any) error {
	token := in.String("bot_token")
	if token == "" {
		return &APIError{Method: method, Code: http.StatusUnauthorized, Description: "the inbox has no bot_token"}
	}
	body, err := json.Marshal(params)
	if err != nil {
		return jobs.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL(in)+"/bot"+token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return &APIError{Method: method, Code: http.StatusBadRequest, Description: "bad api_base_url: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Kanal")
	resp, err := a.client.Do(req)
	if err != nil {
		// The URL holds the token: never let it reach logs or status reasons.
		return fmt.Errorf("telegram %s: %w", method, scrub(err, token))
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("telegram %s: read answer: %w", method, scrub(err, token))
	}
	var r apiResponse
	if err := json.Unmarshal(rb, &r); err != nil || (!r.OK && r.ErrorCode == 0) {
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return fmt.Errorf("telegram %s: unreadable answer: %.200s", method, rb)
		}
		return &APIError{Method: method, Code: resp.StatusCode, Description: strings.TrimSpace(resp.Status)}
	}
	if !r.OK {
		e := &APIError{Method: method, Code: r.ErrorCode, Description: r.Description}
		if r.Parameters.RetryAfter > 0 {
			e.RetryAfter = time.Duration(r.Parameters.RetryAfter) * time.Second
		}
		if e.Code == http.StatusUnauthorized || (e.Code == http.StatusNotFound && method == "getMe") {
			e.Description = strings.TrimSpace(e.Description + " (Telegram refused the bot_token; copy it again from BotFather)")
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			return fmt.Errorf("telegram %s: unreadable result: %w", method, err)
		}
	}
	return nil
}

// scrub removes the bot token from an error's text (url.Error quotes the URL).
func scrub(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return scrubbed{msg: strings.ReplaceAll(err.Error(), token, "<token>"), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (s scrubbed) Error() string { return s.msg }

// Unwrap keeps errors.Is(err, context.DeadlineExceeded) and the like working.
func (s scrubbed) Unwrap() error {
	var ue *url.Error
	if errors.As(s.err, &ue) {
		return ue.Err
	}
	return errors.Unwrap(s.err)
}

// Test checks the bot token with getMe and returns the bot's @username.
func (a *Adapter) Test(ctx context.Context, in inbox.Inbox) (string, error) {
	var me struct {
		ID        int64  `json:"id"`
		FirstName string `json:"first_name"`
		Username  string `json:"username"`
	}
	if err := a.call(ctx, in, "getMe", struct{}{}, &me); err != nil {
		return "", err
	}
	if me.Username == "" {
		return me.FirstName, nil
	}
	return "@" + me.Username, nil
}

// Setup registers webhookURL with setWebhook when the inbox has
// set_webhook: true, with the inbox's secret_token and the update types
// Kanal reads. Without set_webhook it does nothing (the admin registers the
// webhook by hand).
func (a *Adapter) Setup(ctx context.Context, in inbox.Inbox, webhookURL string) error {
	if on, _ := in.Config["set_webhook"].(bool); !on {
		return nil
	}
	params := map[string]any{"url": webhookURL, "secret_token": in.String("secret_token"), "allowed_updates": AllowedUpdates}
	if err := a.call(ctx, in, "setWebhook", params, nil); err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			hint := ""
			if ae.Code == http.StatusBadRequest {
				hint = " (Telegram needs a public https URL on port 443, 80, 88 or 8443 with a valid certificate)"
			}
			return fmt.Errorf("telegram refused the webhook %s: %s%s", webhookURL, ae.Description, hint)
		}
		return fmt.Errorf("telegram setWebhook could not be called: %w", err)
	}
	return nil
}

// limiter is a token bucket per key: rate tokens a second, up to burst.
type limiter struct {
	rate, burst float64
	now         func() time.Time
	mu          sync.Mutex
	m           map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
	hold   time.Time // no sending before (a 429's retry_after)
}

func newLimiter(rate, burst float64, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: burst, now: now, m: map[string]*bucket{}}
}

// take spends a token of key and returns 0, or returns how long to wait
// for one (spending nothing).
func (l *limiter) take(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.m[key]
	if !ok {
		if len(l.m) >= 50000 {
			l.gc(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.m[key] = b
	}
	if now.Before(b.hold) {
		return b.hold.Sub(now)
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// block stops key for d (Telegram said so).
func (l *limiter) block(key string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.m[key]
	if !ok {
		b = &bucket{at: now}
		l.m[key] = b
	}
	b.hold, b.tokens, b.at = now.Add(d), 0, now.Add(d)
}

// gc forgets buckets that are full again (idle keys).
func (l *limiter) gc(now time.Time) {
	for k, b := range l.m {
		if now.After(b.hold) && b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.m, k)
		}
	}
}

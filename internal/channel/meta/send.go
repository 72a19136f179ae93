package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// Messaging types and the tag of a reply.
const (
	TypeResponse   = "RESPONSE"
	TypeMessageTag = "MESSAGE_TAG"
	TagHumanAgent  = "HUMAN_AGENT"
)

// DefaultRateLimitWait is how long a send waits after Meta's rate limit
// errors (codes 4, 17, 32, 613, HTTP 429) when Meta says nothing more.
const DefaultRateLimitWait = time.Minute

// Errors of the messaging window, as agents read them (the message's
// status reason).
var (
	ErrOutsideHumanAgentWindow = errors.New("outside the 7-day human agent window")
	ErrHumanAgentOnly          = errors.New("outside the 24-hour window: after 24 hours Meta only accepts replies written by a person (HUMAN_AGENT tag), not automated ones")
)

// request is a Send API body.
type request struct {
	Recipient struct {
		ID string `json:"id"`
	} `json:"recipient"`
	MessagingType string         `json:"messaging_type"`
	Tag           string         `json:"tag,omitempty"`
	Message       map[string]any `json:"message"`
}

// Window picks the messaging type of a reply sent at now to a customer who
// last wrote at lastInbound (nil: never): RESPONSE within 24 hours,
// MESSAGE_TAG with the HUMAN_AGENT tag until 7 days when a person wrote the
// reply, else a permanent error.
func Window(now time.Time, lastInbound *int64, human bool) (messagingType, tag string, err error) {
	if lastInbound == nil {
		return "", "", jobs.Permanent(fmt.Errorf("%w: the customer has not written on this channel", ErrOutsideHumanAgentWindow))
	}
	age := now.Sub(time.UnixMilli(*lastInbound))
	switch {
	case age <= StandardWindow:
		return TypeResponse, "", nil
	case age > HumanAgentWindow:
		return "", "", jobs.Permanent(ErrOutsideHumanAgentWindow)
	case !human:
		return "", "", jobs.Permanent(ErrHumanAgentOnly)
	}
	return TypeMessageTag, TagHumanAgent, nil
}

// Send sends one reply through the Send API: its text (split into parts
// under the type's limit, in order) and then each attachment, one Send API
// call each. It returns the message id of the last part, so a delivery
// report of the whole reply matches it.
//
// A call that fails after earlier parts went out returns the error with
// how many parts were sent; a retry sends the whole reply again (Meta's
// Send API has no idempotency key).
func (a *Adapter) Send(ctx context.Context, o channel.Outbound) (string, error) {
	if o.Message.ContentType == "template" {
		return "", jobs.Permanent(fmt.Errorf("%s has no message templates; send a normal reply within 7 days of the customer's last message", a.f.name))
	}
	to := recipient(o.Customer, a.f.kind)
	if to == "" {
		return "", jobs.Permanent(fmt.Errorf("the customer has no %s id to send to", a.f.kind))
	}
	human := o.Message.AuthorKind != conversation.AuthorBot && o.Message.AuthorKind != conversation.AuthorSystem
	mtype, tag, err := Window(a.now(), o.Conversation.LastInboundAt, human)
	if err != nil {
		return "", err
	}
	text := o.Message.Text
	if strings.TrimSpace(text) == "" && o.Message.HTML != "" {
		text = htmlText(o.Message.HTML)
	}
	var parts []map[string]any
	for _, p := range Split(text, a.f.textLimit, a.f.measure) {
		parts = append(parts, map[string]any{"text": p})
	}
	for i, att := range o.Message.Attachments {
		u, err := url.Parse(att.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", jobs.Permanent(fmt.Errorf("attachment %d (%s) is not at a public URL Meta can download; %s takes attachments by absolute https URL",
				i+1, att.FileName, a.f.name))
		}
		parts = append(parts, map[string]any{"attachment": map[string]any{
			"type": attachmentType(att.ContentType), "payload": map[string]any{"url": att.URL, "is_reusable": true}}})
	}
	if len(parts) == 0 {
		return "", jobs.Permanent(errors.New("the reply has neither text nor attachments"))
	}
	var id string
	for i, p := range parts {
		req := request{MessagingType: mtype, Tag: tag, Message: p}
		req.Recipient.ID = to
		id, err = a.post(ctx, o.Inbox, req)
		if err != nil {
			if i > 0 {
				return "", wrapf(err, "part %d of %d failed after %d went out", i+1, len(parts), i)
			}
			return "", err
		}
	}
	return id, nil
}

// wrapf prefixes err's text, keeping what it is (permanent, retry-after).
func wrapf(err error, format string, args ...any) error {
	return &prefixed{prefix: fmt.Sprintf(format, args...), err: err}
}

type prefixed struct {
	prefix string
	err    error
}

func (e *prefixed) Error() string { return e.prefix + ": " + e.err.Error() }
func (e *prefixed) Unwrap() error { return e.err }

// recipient is the customer's scoped id of the given kind: the newest one
// when the customer has several (one per Page or account).
func recipient(c customer.Customer, kind string) string {
	id := ""
	for _, i := range c.Identities {
		if i.Kind == kind {
			id = i.Value
		}
	}
	return strings.TrimSpace(id)
}

func attachmentType(contentType string) string {
	switch {
	case strings.HasPrefix(contentType, "image/"):
		return "image"
	case strings.HasPrefix(contentType, "video/"):
		return "video"
	case strings.HasPrefix(contentType, "audio/"):
		return "audio"
	}
	return "file"
}

var (
	htmlBreaks = regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>|</li>`)
	htmlTags   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// htmlText is the plain text of an HTML reply (Meta shows no markup).
func htmlText(h string) string {
	h = htmlBreaks.ReplaceAllString(h, "\n")
	return strings.TrimSpace(html.UnescapeString(htmlTags.ReplaceAllString(h, "")))
}

// Split cuts text into parts of at most limit units of measure, in order,
// preferring paragraph breaks, then line breaks, then spaces, never inside
// a character. The whitespace a part is cut at is dropped. Blank text gives
// no part.
func Split(text string, limit int, measure func(string) int) []string {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	if measure(text) <= limit {
		return []string{text}
	}
	var parts []string
	text = strings.TrimSpace(text)
	for text != "" {
		if measure(text) <= limit {
			parts = append(parts, text)
			break
		}
		// The longest prefix within the limit, on a character boundary.
		end, n := 0, 0
		for i, r := range text {
			w := measure(string(r))
			if n+w > limit {
				break
			}
			n += w
			end = i + utf8.RuneLen(r)
		}
		if end == 0 { // a single character over the limit: cannot happen for sane limits
			_, end = utf8.DecodeRuneInString(text)
		}
		cut := end
		for _, sep := range []string{"\n\n", "\n", " "} {
			if i := strings.LastIndex(text[:end], sep); i > end/2 {
				cut = i
				break
			}
		}
		if cut == end {
			// No good break: any whitespace, else a hard cut.
			if i := strings.LastIndexFunc(text[:end], unicode.IsSpace); i > end/2 {
				cut = i
			}
		}
		part := strings.TrimRightFunc(text[:cut], unicode.IsSpace)
		if part == "" {
			part, cut = text[:end], end
		}
		parts = append(parts, part)
		text = strings.TrimLeftFunc(text[cut:], unicode.IsSpace)
	}
	return parts
}

// graphError is the Graph API's error object.
type graphError struct {
	Message     string `json:"message"`
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode"`
	IsTransient bool   `json:"is_transient"`
	UserTitle   string `json:"error_user_title"`
	UserMessage string `json:"error_user_msg"`
	FBTraceID   string `json:"fbtrace_id"`
	httpStatus  int
}

func (e *graphError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.UserMessage
	}
	if msg == "" {
		msg = http.StatusText(e.httpStatus)
	}
	s := fmt.Sprintf("meta: %s (HTTP %d", msg, e.httpStatus)
	if e.Code != 0 {
		s += fmt.Sprintf(", code %d", e.Code)
		if e.Subcode != 0 {
			s += fmt.Sprintf("/%d", e.Subcode)
		}
	}
	if e.FBTraceID != "" {
		s += ", fbtrace_id " + e.FBTraceID
	}
	return s + ")"
}

// Meta's error codes Kanal treats specially.
const (
	codeUnknown          = 1
	codeService          = 2
	codeAppRateLimit     = 4
	codePermission       = 10
	codeUserRateLimit    = 17
	codePageRateLimit    = 32
	codeInvalidToken     = 190
	codeUnavailableUser  = 551
	codeCallsRateLimit   = 613
	codeTemporarySend    = 1200
	subcodeOutsideWindow = 2018278
)

// classify turns a failed Graph API answer into the error the job queue
// needs: RetryAfter for rate limits, plain (retried) for server trouble,
// Permanent for everything Meta will refuse again.
func classify(status int, header http.Header, body []byte) error {
	var env struct {
		Error *graphError `json:"error"`
	}
	_ = json.Unmarshal(body, &env)
	e := env.Error
	if e == nil {
		e = &graphError{}
		if s := strings.TrimSpace(string(body)); s != "" && utf8.ValidString(s) {
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			e.Message = s
		}
	}
	e.httpStatus = status
	switch {
	case e.Code == codePermission && e.Subcode == subcodeOutsideWindow,
		e.Code == codePermission && strings.Contains(strings.ToLower(e.Message), "outside of allowed window"):
		return jobs.Permanent(fmt.Errorf("outside the messaging window: Meta refused the reply: %w", e))
	case status == http.StatusTooManyRequests, e.Code == codeAppRateLimit, e.Code == codeUserRateLimit,
		e.Code == codePageRateLimit, e.Code == codeCallsRateLimit:
		return jobs.RetryAfter(e, retryAfter(header))
	case e.Code == codeInvalidToken:
		return jobs.Permanent(fmt.Errorf("the access_token is invalid or expired: %w", e))
	case e.Code == codeUnavailableUser:
		return jobs.Permanent(fmt.Errorf("the customer cannot be reached on this channel: %w", e))
	case status >= 500, status == http.StatusRequestTimeout, e.IsTransient,
		e.Code == codeUnknown, e.Code == codeService, e.Code == codeTemporarySend:
		return e
	}
	return jobs.Permanent(e)
}

// retryAfter reads Retry-After (seconds or a date), else the default wait.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && time.Until(t) > 0 {
		return time.Until(t)
	}
	return DefaultRateLimitWait
}

// post sends one Send API call and returns the message id.
func (a *Adapter) post(ctx context.Context, in inbox.Inbox, r request) (string, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return "", jobs.Permanent(err)
	}
	target := baseURL(in) + "/" + url.PathEscape(a.sendID(in)) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return "", jobs.Permanent(fmt.Errorf("bad api_base_url: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+in.String(KeyAccessToken))
	resp, err := a.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("meta: send: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", classify(resp.StatusCode, resp.Header, rb)
	}
	var out struct {
		RecipientID string `json:"recipient_id"`
		MessageID   string `json:"message_id"`
	}
	_ = json.Unmarshal(rb, &out)
	// Sent, even if Meta named no id: a retry would send it twice.
	return out.MessageID, nil
}

// Test checks the inbox's access token by reading the account's name:
// GET {api_base_url}/{id}?fields=name (Instagram: username,name).
func (a *Adapter) Test(ctx context.Context, in inbox.Inbox) (string, error) {
	fields := "name"
	if a.f.name == Instagram {
		fields = "username,name"
	}
	id := a.accountID(in)
	target := baseURL(in) + "/" + url.PathEscape(id) + "?fields=" + url.QueryEscape(fields)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", fmt.Errorf("bad api_base_url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+in.String(KeyAccessToken))
	resp, err := a.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("meta: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", classify(resp.StatusCode, resp.Header, rb)
	}
	var out struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Username string `json:"username"`
	}
	if err := json.Unmarshal(rb, &out); err != nil {
		return "", fmt.Errorf("meta: unreadable answer: %w", err)
	}
	switch {
	case out.Username != "":
		return fmt.Sprintf("%s @%s (%s)", a.f.label, out.Username, id), nil
	case out.Name != "":
		return fmt.Sprintf("%s %q (%s)", a.f.label, out.Name, id), nil
	}
	return fmt.Sprintf("%s %s", a.f.label, id), nil
}

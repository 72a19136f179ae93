package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// Twilio error codes Send tells apart.
const (
	CodeTooManyRequests = 20429
	CodeInvalidTo       = 21211
	CodeUnsubscribed    = 21610
	CodeNotMobile       = 21614
)

// APIError is an error answer of Twilio's REST API.
type APIError struct {
	HTTPStatus int    `json:"-"`
	Code       int    `json:"code"`
	Message    string `json:"message"`
	MoreInfo   string `json:"more_info"`
}

func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("twilio %d: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("twilio: HTTP %d: %s", e.HTTPStatus, e.Message)
}

// Send posts one reply to Messages.json. 201 is sent (the sid is the
// provider id). 429 and Twilio error 20429 are retried after Retry-After,
// 5xx and network errors are retried, other 4xx (an invalid number, an
// unsubscribed customer, a landline) fail permanently with Twilio's message.
func (a *Adapter) Send(ctx context.Context, o channel.Outbound) (string, error) {
	in := o.Inbox
	sid, token, from := in.String(KeyAccountSID), in.Secrets[KeyAuthToken], in.String(KeyFrom)
	if sid == "" || token == "" || from == "" {
		return "", jobs.Permanent(errors.New("the twilio inbox lacks account_sid, auth_token or from"))
	}
	phone := customerPhone(o.Customer)
	if phone == "" {
		return "", jobs.Permanent(errors.New("the customer has no phone number to send to"))
	}
	whatsapp := strings.HasPrefix(from, WhatsAppPrefix)
	form := url.Values{}
	if whatsapp {
		form.Set("To", WhatsAppPrefix+phone)
	} else {
		form.Set("To", phone)
	}
	if serviceSID.MatchString(from) {
		form.Set("MessagingServiceSid", from)
	} else {
		form.Set("From", from)
	}
	m := o.Message
	if m.ContentType == "template" {
		var t conversation.Template
		if err := json.Unmarshal([]byte(m.Raw), &t); err != nil || t.Name == "" {
			return "", jobs.Permanent(fmt.Errorf("the template message has no template: %v", err))
		}
		if !strings.HasPrefix(t.Name, "HX") {
			return "", jobs.Permanent(fmt.Errorf("template %q: Twilio templates are named by their Content SID (HX…)", t.Name))
		}
		form.Set("ContentSid", t.Name)
		if len(t.Params) > 0 {
			vars := map[string]string{}
			for i, p := range t.Params {
				vars[strconv.Itoa(i+1)] = p
			}
			b, _ := json.Marshal(vars)
			form.Set("ContentVariables", string(b))
		}
	} else {
		if whatsapp && !a.windowOpen(o.Conversation) {
			return "", jobs.Permanent(errors.New("reply window closed: the customer last wrote more than 24 hours ago; WhatsApp accepts only an approved template (a Content SID) now"))
		}
		if m.Text != "" {
			form.Set("Body", m.Text)
		}
		for _, att := range m.Attachments {
			if u, err := url.Parse(att.URL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
				form.Add("MediaUrl", att.URL)
			}
		}
		if !form.Has("Body") && !form.Has("MediaUrl") {
			return "", jobs.Permanent(errors.New("nothing Twilio can send: no text, and attachments kept in Kanal have no public URL"))
		}
	}
	if a.PublicURL != "" && in.PublicKey != "" {
		form.Set("StatusCallback", WebhookURL(a.PublicURL, in))
	}
	endpoint := baseURL(in) + "/2010-04-01/Accounts/" + url.PathEscape(sid) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", jobs.Permanent(fmt.Errorf("bad api_base_url: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Kanal")
	req.SetBasicAuth(sid, token)
	resp, err := a.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("twilio: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var out struct {
			SID string `json:"sid"`
		}
		if err := json.Unmarshal(rb, &out); err != nil || out.SID == "" {
			// Twilio took the message; without a sid its reports cannot be
			// matched, but sending it again would double it.
			return "", nil
		}
		return out.SID, nil
	}
	return "", classify(resp, rb)
}

// classify turns a Twilio error answer into a retryable, delayed or
// permanent error.
func classify(resp *http.Response, body []byte) error {
	e := apiError(resp, body)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || e.Code == CodeTooManyRequests:
		return jobs.RetryAfter(e, retryAfter(resp.Header.Get("Retry-After")))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return e
	default:
		return jobs.Permanent(e)
	}
}

func apiError(resp *http.Response, body []byte) *APIError {
	e := &APIError{HTTPStatus: resp.StatusCode}
	if json.Unmarshal(body, e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(truncate(string(body), 200))
		if e.Message == "" {
			e.Message = resp.Status
		}
	}
	return e
}

func (a *Adapter) windowOpen(c conversation.Conversation) bool {
	if c.LastInboundAt == nil {
		return false
	}
	return a.now().Sub(time.UnixMilli(*c.LastInboundAt)) <= ReplyWindow
}

// customerPhone picks the number a reply goes to, in E.164: a phone
// identity, else a WhatsApp one, else the profile's phone.
func customerPhone(c customer.Customer) string {
	for _, kind := range []string{customer.KindPhone, customer.KindWhatsApp} {
		for _, id := range c.Identities {
			if id.Kind != kind {
				continue
			}
			if e164.MatchString(id.Normalized) {
				return id.Normalized
			}
			if v := strings.TrimPrefix(id.Value, WhatsAppPrefix); e164.MatchString(v) {
				return v
			}
		}
	}
	if e164.MatchString(c.Phone) {
		return c.Phone
	}
	return ""
}

func retryAfter(h string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return time.Second
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// FetchMedia downloads a file a customer sent: Twilio's media URL, with
// HTTP Basic account_sid:auth_token when it points at Twilio (the redirect
// to the file's storage drops the credentials, as net/http does for other
// hosts).
func (a *Adapter) FetchMedia(ctx context.Context, in inbox.Inbox, ref string) (channel.Media, error) {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return channel.Media{}, jobs.Permanent(fmt.Errorf("media reference %q is not a URL", ref))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
	if err != nil {
		return channel.Media{}, jobs.Permanent(err)
	}
	req.Header.Set("User-Agent", "Kanal")
	if twilioHost(in, u) {
		req.SetBasicAuth(in.String(KeyAccountSID), in.Secrets[KeyAuthToken])
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return channel.Media{}, fmt.Errorf("twilio media: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return channel.Media{}, classify(resp, rb)
	}
	return channel.Media{Body: resp.Body, ContentType: resp.Header.Get("Content-Type")}, nil
}

// twilioHost tells whether a media URL is Twilio's (or the configured API
// base's), the only hosts that get the account's credentials.
func twilioHost(in inbox.Inbox, u *url.URL) bool {
	h := strings.ToLower(u.Hostname())
	if h == "twilio.com" || strings.HasSuffix(h, ".twilio.com") {
		return true
	}
	b, err := url.Parse(baseURL(in))
	return err == nil && strings.EqualFold(b.Host, u.Host)
}

// Test fetches the account (GET /2010-04-01/Accounts/{sid}.json) and
// returns its friendly name.
func (a *Adapter) Test(ctx context.Context, in inbox.Inbox) (string, error) {
	sid := in.String(KeyAccountSID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(in)+"/2010-04-01/Accounts/"+url.PathEscape(sid)+".json", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Kanal")
	req.SetBasicAuth(sid, in.Secrets[KeyAuthToken])
	resp, err := a.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("twilio: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", apiError(resp, rb)
	}
	var acct struct {
		FriendlyName string `json:"friendly_name"`
		Status       string `json:"status"`
	}
	if err := json.Unmarshal(rb, &acct); err != nil {
		return "", fmt.Errorf("twilio: unreadable account: %w", err)
	}
	desc := acct.FriendlyName
	if desc == "" {
		desc = sid
	}
	if acct.Status != "" && acct.Status != "active" {
		return "", fmt.Errorf("twilio account %s is %s", desc, acct.Status)
	}
	return desc + " (" + in.String(KeyFrom) + ")", nil
}

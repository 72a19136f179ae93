// Package whatsapp is the WhatsApp Business Cloud API channel (Meta): one
// inbox is one business phone number. Meta posts customer messages and
// delivery reports to the inbox's webhook URL, signed with
// X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret);
// replies go out through the Graph API's /{phone-number-id}/messages with the
// inbox's access token; media the customer sends are fetched by media id.
package whatsapp

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// TypeName is the inbox type of WhatsApp Cloud API inboxes.
const TypeName = "whatsapp"

// DefaultBaseURL is the Graph API version Kanal speaks when an inbox sets no
// api_base_url.
const DefaultBaseURL = "https://graph.facebook.com/v21.0"

// ReplyWindow is WhatsApp's customer-service window: free-form replies only
// within 24 hours of the customer's last message.
const ReplyWindow = 24 * time.Hour

// Config keys of a WhatsApp inbox.
const (
	KeyPhoneNumberID = "phone_number_id"
	KeyAccessToken   = "access_token"
	KeyAppSecret     = "app_secret"
	KeyVerifyToken   = "verify_token"
	KeyAPIBaseURL    = "api_base_url"
	KeyWABAID        = "waba_id"
)

// Pair rate limit: Meta allows about one message every 6 seconds to the
// same user from one business number, with bursts up to 45 (error 131056).
const (
	DefaultPairBurst = 45
	DefaultPairEvery = 6 * time.Second
)

// Adapter is the WhatsApp channel: inbox type, webhook receiver, sender,
// media fetcher and connection tester.
type Adapter struct {
	Client *http.Client
	// PairBurst and PairEvery tune the per-recipient limiter (defaults
	// DefaultPairBurst and DefaultPairEvery); set them before the first use.
	PairBurst int
	PairEvery time.Duration
	// Now is the limiter's clock (default time.Now).
	Now func() time.Time

	once     sync.Once
	limiter  *pairLimiter
	progress *progress
}

// New returns the WhatsApp adapter. A nil client gets one with a 15 s timeout.
func New(c *http.Client) *Adapter {
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	return &Adapter{Client: c}
}

func (a *Adapter) init() {
	a.once.Do(func() {
		if a.Client == nil {
			a.Client = &http.Client{Timeout: 15 * time.Second}
		}
		burst, every, now := a.PairBurst, a.PairEvery, a.Now
		if burst <= 0 {
			burst = DefaultPairBurst
		}
		if every <= 0 {
			every = DefaultPairEvery
		}
		if now == nil {
			now = time.Now
		}
		a.limiter = newPairLimiter(burst, every, now)
		a.progress = newProgress()
	})
}

var (
	graphID   = regexp.MustCompile(`^[0-9]{1,32}$`)
	knownKeys = []string{KeyPhoneNumberID, KeyAccessToken, KeyAppSecret, KeyVerifyToken, KeyAPIBaseURL, KeyWABAID}
)

// Type describes WhatsApp inboxes. Config: phone_number_id (required),
// api_base_url and waba_id (optional). Secrets: access_token and app_secret
// (required), verify_token (generated when not given, shown to admins).
func (a *Adapter) Type() inbox.Type {
	return inbox.Type{
		Name:        TypeName,
		SecretKeys:  []string{KeyAccessToken, KeyAppSecret, KeyVerifyToken},
		Generated:   []string{KeyVerifyToken},
		Webhook:     true,
		Reach:       []string{customer.KindWhatsApp, customer.KindPhone},
		ReplyWindow: ReplyWindow,
		Validate:    validate,
	}
}

func validate(cfg map[string]any, secrets map[string]string) error {
	v := &errs.Validation{}
	str := func(k string) (string, bool) {
		s, ok := cfg[k].(string)
		return strings.TrimSpace(s), ok
	}
	for k := range cfg {
		switch k {
		case KeyPhoneNumberID, KeyAPIBaseURL, KeyWABAID:
		default:
			v.Add(k, "is not a setting of whatsapp inboxes (known: "+strings.Join(knownKeys, ", ")+")")
		}
	}
	if s, ok := str(KeyPhoneNumberID); !ok || !graphID.MatchString(s) {
		v.Add(KeyPhoneNumberID, "is required: the Phone number ID from Meta's WhatsApp API setup page, digits as a string")
	}
	if _, set := cfg[KeyWABAID]; set {
		if s, ok := str(KeyWABAID); !ok || !graphID.MatchString(s) {
			v.Add(KeyWABAID, "must be the WhatsApp Business Account ID, digits as a string")
		}
	}
	if _, set := cfg[KeyAPIBaseURL]; set {
		s, ok := str(KeyAPIBaseURL)
		u, err := url.Parse(s)
		if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			v.Add(KeyAPIBaseURL, "must be an http(s) URL such as "+DefaultBaseURL)
		}
	}
	for _, k := range []string{KeyAccessToken, KeyAppSecret, KeyVerifyToken} {
		s := secrets[k]
		switch {
		case strings.TrimSpace(s) == "":
			v.Add(k, "is required")
		case len(s) > 4096:
			v.Add(k, "must be at most 4096 characters")
		}
	}
	return v.OrNil()
}

// baseURL is the inbox's Graph API root, without a trailing slash.
func baseURL(in inbox.Inbox) string {
	if s := strings.TrimSpace(in.String(KeyAPIBaseURL)); s != "" {
		return strings.TrimRight(s, "/")
	}
	return DefaultBaseURL
}

func phoneNumberID(in inbox.Inbox) string { return strings.TrimSpace(in.String(KeyPhoneNumberID)) }

// What the adapter implements.
var (
	_ channel.Adapter      = (*Adapter)(nil)
	_ channel.Receiver     = (*Adapter)(nil)
	_ channel.Challenger   = (*Adapter)(nil)
	_ channel.MediaFetcher = (*Adapter)(nil)
	_ channel.Tester       = (*Adapter)(nil)
)

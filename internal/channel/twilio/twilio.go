// Package twilio is the Twilio Programmable Messaging channel: SMS, MMS and
// WhatsApp through Twilio. One inbox is one Twilio sender: a phone number, a
// whatsapp:+number or a Messaging Service. Twilio posts customer messages
// and status callbacks as signed forms (X-Twilio-Signature) to the inbox's
// webhook URL; replies go out through the REST API's Messages.json with
// HTTP Basic account_sid:auth_token.
package twilio

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// TypeName is the inbox type of Twilio inboxes.
const TypeName = "twilio"

// DefaultBaseURL is Twilio's REST API, used when an inbox sets no
// api_base_url.
const DefaultBaseURL = "https://api.twilio.com"

// ReplyWindow is WhatsApp's customer-service window: free-form replies only
// within 24 hours of the customer's last message; templates any time. It
// applies to inboxes whose sender is a whatsapp: address.
const ReplyWindow = 24 * time.Hour

// WhatsAppPrefix marks WhatsApp addresses in Twilio's From and To.
const WhatsAppPrefix = "whatsapp:"

// Config keys of a Twilio inbox.
const (
	KeyAccountSID = "account_sid"
	KeyAuthToken  = "auth_token"
	KeyFrom       = "from"
	KeyAPIBaseURL = "api_base_url"
)

var (
	accountSID = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	e164       = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	knownKeys  = []string{KeyAccountSID, KeyAuthToken, KeyFrom, KeyAPIBaseURL}
)

// Adapter is the Twilio channel: inbox type, webhook receiver, sender,
// media fetcher and connection tester.
type Adapter struct {
	Client *http.Client
	// PublicURL is Kanal's public address. Replies ask Twilio for status
	// callbacks at PublicURL + "/webhooks/twilio/" + the inbox's public key;
	// empty sends no StatusCallback (the number's own webhook settings
	// apply).
	PublicURL string
	// Now is the clock of the WhatsApp reply window (default time.Now).
	Now func() time.Time
}

// NewTwilio returns the Twilio adapter. publicURL is Kanal's public address
// (the --public-url setting). A nil client gets one with a 30 s timeout.
func NewTwilio(c *http.Client, publicURL string) *Adapter {
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	return &Adapter{Client: c, PublicURL: strings.TrimRight(publicURL, "/")}
}

func (a *Adapter) client() *http.Client {
	if a.Client == nil {
		return http.DefaultClient
	}
	return a.Client
}

func (a *Adapter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Type describes Twilio inboxes. Config: account_sid and from (required),
// api_base_url (optional). Secret: auth_token (required).
//
// Reach is phone and WhatsApp identities. ReplyWindow stays 0 because the
// window applies only to inboxes whose from is a whatsapp: address; Send
// enforces it for those.
func (a *Adapter) Type() inbox.Type {
	return inbox.Type{
		Name:       TypeName,
		SecretKeys: []string{KeyAuthToken},
		Webhook:    true,
		Reach:      []string{customer.KindPhone, customer.KindWhatsApp},
		Validate:   validate,
	}
}

func validate(cfg map[string]any, secrets map[string]string) error {
	v := &errs.Validation{}
	str := func(k string) (string, bool) {
		s, ok := cfg[k].(string)
		return s, ok
	}
	for k := range cfg {
		switch k {
		case KeyAccountSID, KeyFrom, KeyAPIBaseURL:
		default:
			v.Add(k, "is not a setting of twilio inboxes (known: "+strings.Join(knownKeys, ", ")+")")
		}
	}
	if s, ok := str(KeyAccountSID); !ok || !accountSID.MatchString(s) {
		v.Add(KeyAccountSID, "is required: the Account SID from the Twilio console (AC followed by 32 hex digits)")
	}
	if s, ok := str(KeyFrom); !ok || !validFrom(s) {
		v.Add(KeyFrom, "is required: an E.164 number (+905xxxxxxxxx), whatsapp:+E.164, or a Messaging Service SID (MG…)")
	}
	if _, set := cfg[KeyAPIBaseURL]; set {
		s, ok := str(KeyAPIBaseURL)
		u, err := url.Parse(s)
		if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			v.Add(KeyAPIBaseURL, "must be an http(s) URL such as "+DefaultBaseURL)
		}
	}
	if strings.TrimSpace(secrets[KeyAuthToken]) == "" {
		v.Add(KeyAuthToken, "is required: the Auth Token from the Twilio console")
	}
	return v.OrNil()
}

func validFrom(s string) bool {
	return e164.MatchString(s) || serviceSID.MatchString(s) ||
		(strings.HasPrefix(s, WhatsAppPrefix) && e164.MatchString(strings.TrimPrefix(s, WhatsAppPrefix)))
}

func baseURL(in inbox.Inbox) string {
	if b := in.String(KeyAPIBaseURL); b != "" {
		return strings.TrimRight(b, "/")
	}
	return DefaultBaseURL
}

// WebhookURL is the address Twilio calls for an inbox: messages and status
// callbacks alike.
func WebhookURL(publicURL string, in inbox.Inbox) string {
	return strings.TrimRight(publicURL, "/") + "/webhooks/" + TypeName + "/" + in.PublicKey
}

// Package netgsm is the Netgsm channel: Turkish SMS through Netgsm's REST v2
// API with an API sub-user (HTTP Basic usercode:password). Replies go out
// through /sms/rest/v2/send under the inbox's approved sender name
// (msgheader) with the İYS filter the inbox is configured for. Netgsm has no
// push for inbound SMS or delivery reports, so the adapter is a
// channel.Poller: each round reads the inbox (/sms/rest/v2/inbox) and the
// reports of recent sends (/sms/rest/v2/report).
package netgsm

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// TypeName is the inbox type of Netgsm inboxes.
const TypeName = "netgsm"

// DefaultBaseURL is Netgsm's API, used when an inbox sets no api_base_url.
const DefaultBaseURL = "https://api.netgsm.com.tr"

// Config keys of a Netgsm inbox.
const (
	KeyUsercode         = "usercode"
	KeyPassword         = "password"
	KeyMsgHeader        = "msgheader"
	KeyAPIBaseURL       = "api_base_url"
	KeyCommercial       = "commercial"
	KeyIYSRecipientType = "iys_recipient_type"
)

// İYS filter values of a send (iysfilter).
const (
	IYSInformational = "0"  // not a commercial message: no İYS check
	IYSIndividual    = "11" // commercial, to individuals (BIREYSEL): İYS consent checked
	IYSMerchant      = "12" // commercial, to merchants (TACIR): İYS rejections honoured
)

// Turkey's time: Netgsm reads and writes dates in it (UTC+3, no DST since
// 2016). A fixed zone needs no time zone database.
var turkey = time.FixedZone("TRT", 3*60*60)

var knownKeys = []string{KeyUsercode, KeyPassword, KeyMsgHeader, KeyAPIBaseURL, KeyCommercial, KeyIYSRecipientType}

// Adapter is the Netgsm channel: inbox type, sender, poller and connection
// tester.
type Adapter struct {
	Client *http.Client
	// Now is the adapter's clock (default time.Now).
	Now func() time.Time
	// MaxTracked bounds the sends remembered for delivery reports
	// (default 10000); the oldest are forgotten first.
	MaxTracked int

	mu      sync.Mutex
	tracked map[string]map[string]*tracked // inbox id → job id → send
	count   int
}

// NewNetgsm returns the Netgsm adapter. A nil client gets one with a 30 s
// timeout.
func NewNetgsm(c *http.Client) *Adapter {
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	return &Adapter{Client: c}
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

// Type describes Netgsm inboxes. Config: usercode and msgheader (required),
// api_base_url, commercial (bool) and iys_recipient_type ("individual" or
// "merchant", with commercial only). Secret: password (required).
func (a *Adapter) Type() inbox.Type {
	return inbox.Type{
		Name:       TypeName,
		SecretKeys: []string{KeyPassword},
		Webhook:    false,
		Reach:      []string{customer.KindPhone},
		Validate:   validate,
	}
}

func validate(cfg map[string]any, secrets map[string]string) error {
	v := &errs.Validation{}
	for k := range cfg {
		switch k {
		case KeyUsercode, KeyMsgHeader, KeyAPIBaseURL, KeyCommercial, KeyIYSRecipientType:
		default:
			v.Add(k, "is not a setting of netgsm inboxes (known: "+strings.Join(knownKeys, ", ")+")")
		}
	}
	if s, ok := cfg[KeyUsercode].(string); !ok || strings.TrimSpace(s) == "" {
		v.Add(KeyUsercode, "is required: the API sub-user (API alt kullanıcı) name")
	}
	if s, ok := cfg[KeyMsgHeader].(string); !ok || strings.TrimSpace(s) == "" || len([]rune(s)) > 11 {
		v.Add(KeyMsgHeader, "is required: the approved sender name (mesaj başlığı), at most 11 characters")
	}
	if _, set := cfg[KeyAPIBaseURL]; set {
		s, ok := cfg[KeyAPIBaseURL].(string)
		u, err := url.Parse(s)
		if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			v.Add(KeyAPIBaseURL, "must be an http(s) URL such as "+DefaultBaseURL)
		}
	}
	commercial := false
	if c, set := cfg[KeyCommercial]; set {
		b, ok := c.(bool)
		if !ok {
			v.Add(KeyCommercial, "must be true or false")
		}
		commercial = b
	}
	if r, set := cfg[KeyIYSRecipientType]; set {
		switch s, _ := r.(string); {
		case s != "individual" && s != "merchant":
			v.Add(KeyIYSRecipientType, `must be "individual" or "merchant"`)
		case !commercial:
			v.Add(KeyIYSRecipientType, "applies to commercial messages only: set commercial to true, or remove it")
		}
	}
	if strings.TrimSpace(secrets[KeyPassword]) == "" {
		v.Add(KeyPassword, "is required: the API sub-user's password")
	}
	return v.OrNil()
}

// IYSFilter returns the iysfilter an inbox's sends carry: "0" unless the
// inbox sends commercial messages, then "11" (individuals, the default) or
// "12" (merchants).
func IYSFilter(in inbox.Inbox) string {
	if c, _ := in.Config[KeyCommercial].(bool); !c {
		return IYSInformational
	}
	if in.String(KeyIYSRecipientType) == "merchant" {
		return IYSMerchant
	}
	return IYSIndividual
}

func baseURL(in inbox.Inbox) string {
	if b := in.String(KeyAPIBaseURL); b != "" {
		return strings.TrimRight(b, "/")
	}
	return DefaultBaseURL
}

// Package meta is the Facebook Messenger and Instagram messaging channel:
// two inbox types, messenger (one inbox is one Facebook Page) and instagram
// (one inbox is one Instagram professional account), that speak the same
// Messenger Platform.
//
// Meta posts customer messages, postbacks, reactions and delivery/read
// reports to the inbox's webhook URL, signed with X-Hub-Signature-256
// (HMAC-SHA256 of the raw body with the app secret), after checking the URL
// with a hub.challenge GET. Replies go out through the Send API,
// POST {api_base_url}/{page_id or instagram_id}/messages, with the Page (or
// Instagram) access token: messaging_type RESPONSE within 24 hours of the
// customer's last message, MESSAGE_TAG HUMAN_AGENT between 24 hours and 7
// days, refused after that. Files the customer sends arrive as public CDN
// links that expire; Kanal downloads each once and keeps its own copy.
package meta

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// Inbox type names.
const (
	Messenger = "messenger"
	Instagram = "instagram"
)

// DefaultBaseURL is the Graph API root Kanal speaks when an inbox sets no
// api_base_url. Instagram accounts connected with Instagram Login (no
// Facebook Page) use https://graph.instagram.com/v21.0 instead.
const DefaultBaseURL = "https://graph.facebook.com/v21.0"

// Config keys.
const (
	KeyPageID      = "page_id"      // messenger; optional on instagram (see sendID)
	KeyInstagramID = "instagram_id" // instagram
	KeyAccessToken = "access_token"
	KeyAppSecret   = "app_secret"
	KeyVerifyToken = "verify_token"
	KeyAPIBaseURL  = "api_base_url"
)

// Messaging windows: a reply within StandardWindow of the customer's last
// message is a RESPONSE; until HumanAgentWindow it needs the HUMAN_AGENT
// tag (and a person writing it); after that Meta refuses it.
const (
	StandardWindow   = 24 * time.Hour
	HumanAgentWindow = 7 * 24 * time.Hour
)

// Text limits of one Send API message. Messenger documents "2000
// characters" and Instagram both "less than 1000 characters" and "1000
// bytes or less", so Kanal stays strictly under each: Messenger parts hold
// at most 1999 UTF-16 code units, Instagram parts at most 999 UTF-8 bytes.
const (
	MessengerTextLimit = 1999
	InstagramTextLimit = 999
)

// flavor is what differs between the two inbox types.
type flavor struct {
	name      string // inbox type
	object    string // webhook "object"
	idKey     string // config key of the account id
	kind      string // identity kind of the customer's scoped id
	label     string // for messages: "Facebook Page", "Instagram account"
	textLimit int
	measure   func(string) int // length unit of textLimit
}

var (
	messenger = flavor{name: Messenger, object: "page", idKey: KeyPageID, kind: customer.KindMessenger,
		label: "Facebook Page", textLimit: MessengerTextLimit, measure: utf16Len}
	instagram = flavor{name: Instagram, object: "instagram", idKey: KeyInstagramID, kind: customer.KindInstagram,
		label: "Instagram account", textLimit: InstagramTextLimit, measure: func(s string) int { return len(s) }}
)

// Adapter is one of the two Meta messaging channels: inbox type, webhook
// receiver (Verify, Parse, Challenge), sender, media fetcher and connection
// tester.
type Adapter struct {
	Client *http.Client
	// Now is the clock of the messaging window (default time.Now).
	Now func() time.Time
	f   flavor
}

// NewMessenger returns the Facebook Messenger adapter. A nil client gets
// one with a 15 s timeout.
func NewMessenger(c *http.Client) *Adapter { return newAdapter(c, messenger) }

// NewInstagram returns the Instagram messaging adapter. A nil client gets
// one with a 15 s timeout.
func NewInstagram(c *http.Client) *Adapter { return newAdapter(c, instagram) }

func newAdapter(c *http.Client, f flavor) *Adapter {
	if c == nil {
		c = &http.Client{Timeout: 15 * time.Second}
	}
	return &Adapter{Client: c, f: f}
}

func (a *Adapter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Adapter) client() *http.Client {
	if a.Client != nil {
		return a.Client
	}
	return http.DefaultClient
}

// Type describes the inbox type. Config: page_id (messenger) or
// instagram_id (instagram), required, digits as a string; api_base_url,
// optional; on instagram, page_id, optional (the linked Facebook Page). Secrets: access_token and app_secret (required), verify_token
// (generated when not given, shown to admins).
func (a *Adapter) Type() inbox.Type {
	f := a.f
	return inbox.Type{
		Name:        f.name,
		SecretKeys:  secretKeys,
		Generated:   []string{KeyVerifyToken},
		Webhook:     true,
		Reach:       []string{f.kind},
		ReplyWindow: HumanAgentWindow,
		Validate:    func(cfg map[string]any, secrets map[string]string) error { return validate(f, cfg, secrets) },
	}
}

var (
	graphID    = regexp.MustCompile(`^[0-9]{1,32}$`)
	secretKeys = []string{KeyAccessToken, KeyAppSecret, KeyVerifyToken}
)

func validate(f flavor, cfg map[string]any, secrets map[string]string) error {
	v := &errs.Validation{}
	known := []string{f.idKey, KeyAccessToken, KeyAppSecret, KeyVerifyToken, KeyAPIBaseURL}
	if f.name == Instagram {
		known = append(known, KeyPageID)
	}
	for k := range cfg {
		if !slices.Contains(known, k) {
			v.Add(k, "is not a setting of "+f.name+" inboxes (known: "+strings.Join(known, ", ")+")")
		}
	}
	if raw, set := cfg[KeyPageID]; set && f.name == Instagram {
		if s, ok := raw.(string); !ok || !graphID.MatchString(strings.TrimSpace(s)) {
			v.Add(KeyPageID, "must be the ID of the Facebook Page linked to the Instagram account, digits as a string")
		}
	}
	if s, ok := cfg[f.idKey].(string); !ok || !graphID.MatchString(strings.TrimSpace(s)) {
		if f.name == Messenger {
			v.Add(f.idKey, "is required: the Facebook Page ID, digits as a string")
		} else {
			v.Add(f.idKey, "is required: the Instagram professional account ID, digits as a string")
		}
	}
	if raw, set := cfg[KeyAPIBaseURL]; set {
		s, ok := raw.(string)
		u, err := url.Parse(strings.TrimSpace(s))
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

// accountID is the inbox's Page or Instagram account id.
func (a *Adapter) accountID(in inbox.Inbox) string { return strings.TrimSpace(in.String(a.f.idKey)) }

// sendID is the node replies are posted to: the account id, except for an
// Instagram account connected through its Facebook Page (Messenger
// Platform with Facebook Login), whose replies go to the Page's
// /{page_id}/messages when the inbox names that Page.
func (a *Adapter) sendID(in inbox.Inbox) string {
	if a.f.name == Instagram {
		if p := strings.TrimSpace(in.String(KeyPageID)); p != "" {
			return p
		}
	}
	return a.accountID(in)
}

// baseURL is the inbox's Graph API root, without a trailing slash.
func baseURL(in inbox.Inbox) string {
	if s := strings.TrimSpace(in.String(KeyAPIBaseURL)); s != "" {
		return strings.TrimRight(s, "/")
	}
	return DefaultBaseURL
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

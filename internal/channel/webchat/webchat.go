// Package webchat is the web chat channel: the widget that a business embeds
// in its site talks to Kanal itself, so Kanal is the provider. Visitors get
// an opaque token (hashed at rest), their messages are ingested like any
// channel's (idempotent on the widget's client id), and agents' replies
// reach them over the visitor's own WebSocket, with typing, read receipts and
// "seen". The HTTP side is internal/httpapi/widget.go; the protocol is in
// docs/widget.md.
package webchat

import (
	"context"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // business hours name IANA zones; the binary must not depend on the host's zoneinfo

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// TypeName is the inbox type of the web chat widget.
const TypeName = "webchat"

// SecretIdentity is the generated secret that signs identified visitors:
// hmac = hex HMAC-SHA256(identity_secret, user_id).
const SecretIdentity = "identity_secret"

// Defaults of an inbox's settings.
const (
	DefaultMaxFileMB = 10
	MaxMaxFileMB     = 50
	DefaultColor     = "#1f6feb"
)

// DefaultFileTypes are the attachments a visitor may send unless the inbox
// says otherwise: images and PDF.
var DefaultFileTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}

// Pre-chat forms.
const (
	PreChatNone      = "none"
	PreChatNameEmail = "name_email"
)

// Adapter is the web chat channel's adapter. Replies need no provider: the
// visitor's socket carries them (message.created events), so Send only
// marks them sent; delivered and read come from the widget.
type Adapter struct{}

// NewAdapter returns the web chat adapter.
func NewAdapter() *Adapter { return &Adapter{} }

// Send accepts a reply for delivery through the visitor's socket.
func (a *Adapter) Send(ctx context.Context, o channel.Outbound) (string, error) { return "", nil }

// Type describes web chat inboxes. Config: allowed_origins (the sites that
// may embed the widget; empty: any), pre_chat (none | name_email), greeting
// and offline_message ({tr, en}), business_hours (optional weekly schedule),
// max_file_mb (default 10), file_types (default images and PDF), color
// (#rrggbb). Secret: identity_secret, generated.
func (a *Adapter) Type() inbox.Type {
	return inbox.Type{
		Name:       TypeName,
		SecretKeys: []string{SecretIdentity},
		Generated:  []string{SecretIdentity},
		Webhook:    false,
		Reach:      []string{customer.KindWebVisitor},
		Validate: func(cfg map[string]any, secrets map[string]string) error {
			_, err := ParseSettings(cfg)
			if s := secrets[SecretIdentity]; len(s) < 16 {
				v, _ := err.(*errs.Validation)
				if v == nil {
					v = &errs.Validation{}
				}
				v.Add(SecretIdentity, "must be at least 16 characters")
				return v
			}
			return err
		},
	}
}

// Settings are a web chat inbox's config, read and checked.
type Settings struct {
	AllowedOrigins []string          `json:"allowed_origins"`
	PreChat        string            `json:"pre_chat"`
	Greeting       map[string]string `json:"greeting"`
	OfflineMessage map[string]string `json:"offline_message"`
	BusinessHours  *BusinessHours    `json:"business_hours,omitempty"`
	MaxFileMB      int               `json:"max_file_mb"`
	FileTypes      []string          `json:"file_types"`
	Color          string            `json:"color"`
}

// MaxFileBytes is the attachment size limit in bytes.
func (s Settings) MaxFileBytes() int64 { return int64(s.MaxFileMB) << 20 }

// OriginAllowed tells whether a site (scheme://host[:port]) may embed the
// widget and call its API from its own pages.
func (s Settings) OriginAllowed(origin string) bool {
	o, ok := normOrigin(origin)
	return ok && slices.Contains(s.AllowedOrigins, o)
}

// TypeAllowed tells whether a file of the content type may be sent.
func (s Settings) TypeAllowed(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	for _, t := range s.FileTypes {
		if t == mt || (strings.HasSuffix(t, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}

var (
	colorRe = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	mimeRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9!#$&^_.+-]*/([a-z0-9][a-z0-9!#$&^_.+-]*|\*)$`)
)

// ParseSettings reads an inbox's config with defaults; a bad value is a
// validation error naming the key.
func ParseSettings(cfg map[string]any) (Settings, error) {
	s := Settings{PreChat: PreChatNone, Greeting: map[string]string{}, OfflineMessage: map[string]string{},
		MaxFileMB: DefaultMaxFileMB, FileTypes: DefaultFileTypes, Color: DefaultColor, AllowedOrigins: []string{}}
	v := &errs.Validation{}
	for k, val := range cfg {
		switch k {
		case "allowed_origins":
			list, ok := val.([]any)
			if !ok {
				v.Add(k, "must be a list of origins such as https://www.example.com")
				continue
			}
			for _, item := range list {
				str, _ := item.(string)
				o, ok := normOrigin(str)
				if !ok {
					v.Add(k, fmt.Sprintf("%q is not an origin (scheme://host[:port], no path)", str))
					break
				}
				if !slices.Contains(s.AllowedOrigins, o) {
					s.AllowedOrigins = append(s.AllowedOrigins, o)
				}
			}
			if len(s.AllowedOrigins) > 50 {
				v.Add(k, "at most 50 origins")
			}
		case "pre_chat":
			str, _ := val.(string)
			if str != PreChatNone && str != PreChatNameEmail {
				v.Add(k, "must be none or name_email")
			}
			s.PreChat = str
		case "greeting", "offline_message":
			m, err := texts(val)
			if err != nil {
				v.Add(k, err.Error())
			}
			if k == "greeting" {
				s.Greeting = m
			} else {
				s.OfflineMessage = m
			}
		case "business_hours":
			if val == nil {
				continue
			}
			bh, err := parseHours(val)
			if err != nil {
				v.Add(k, err.Error())
			}
			s.BusinessHours = bh
		case "max_file_mb":
			n, ok := number(val)
			if !ok || n != float64(int(n)) || n < 1 || n > MaxMaxFileMB {
				v.Add(k, fmt.Sprintf("must be a whole number from 1 to %d", MaxMaxFileMB))
				continue
			}
			s.MaxFileMB = int(n)
		case "file_types":
			list, ok := val.([]any)
			if !ok || len(list) == 0 || len(list) > 50 {
				v.Add(k, "must be a list of 1 to 50 MIME types such as image/png, image/* or application/pdf")
				continue
			}
			s.FileTypes = nil
			for _, item := range list {
				str, _ := item.(string)
				str = strings.ToLower(strings.TrimSpace(str))
				if !mimeRe.MatchString(str) {
					v.Add(k, fmt.Sprintf("%q is not a MIME type (type/subtype or type/*)", str))
					break
				}
				s.FileTypes = append(s.FileTypes, str)
			}
		case "color":
			str, _ := val.(string)
			if !colorRe.MatchString(str) {
				v.Add(k, "must be a colour as #rrggbb")
			}
			s.Color = strings.ToLower(str)
		default:
			v.Add(k, "is not a setting of webchat inboxes (known: allowed_origins, pre_chat, greeting, offline_message, "+
				"business_hours, max_file_mb, file_types, color, identity_secret)")
		}
	}
	return s, v.OrNil()
}

// InboxSettings reads an inbox's settings; a stored config is valid (Validate ran
// on every write), so errors only fall back to defaults.
func InboxSettings(in inbox.Inbox) Settings {
	s, _ := ParseSettings(in.Config)
	return s
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func texts(val any) (map[string]string, error) {
	m, ok := val.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be an object {\"tr\": \"…\", \"en\": \"…\"}")
	}
	out := map[string]string{}
	for lang, t := range m {
		str, ok := t.(string)
		if (lang != "tr" && lang != "en") || !ok || len(str) > 1000 {
			return nil, fmt.Errorf("must be an object with tr and en texts of at most 1000 bytes")
		}
		out[lang] = strings.TrimSpace(str)
	}
	return out, nil
}

// normOrigin returns an origin in its canonical form (lower-case scheme and
// host, no default port).
func normOrigin(s string) (string, bool) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "https" && strings.HasSuffix(host, ":443")) || (u.Scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return strings.ToLower(u.Scheme) + "://" + host, true
}

// BusinessHours is a weekly schedule in a time zone: the widget is online
// only inside one of the day's intervals (and while an agent is connected).
type BusinessHours struct {
	TimeZone string                `json:"timezone"`
	Days     map[string][]Interval `json:"days"` // mon ... sun; a missing day is closed
	loc      *time.Location
}

// Interval is an opening time range of a day, "09:00" to "18:00" (end
// exclusive, after start; "24:00" closes at midnight).
type Interval struct {
	Open  string `json:"open"`
	Close string `json:"close"`
	from  int    // minutes after midnight
	to    int
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseHours(val any) (*BusinessHours, error) {
	m, ok := val.(map[string]any)
	if !ok {
		return nil, fmt.Errorf(`must be an object {"timezone":"Europe/Istanbul","days":{"mon":[{"open":"09:00","close":"18:00"}]}}`)
	}
	bh := &BusinessHours{Days: map[string][]Interval{}}
	tz, _ := m["timezone"].(string)
	if tz == "" {
		tz = "Europe/Istanbul"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("timezone %q is not an IANA time zone", tz)
	}
	bh.TimeZone, bh.loc = tz, loc
	for k := range m {
		if k != "timezone" && k != "days" {
			return nil, fmt.Errorf("unknown key %q (known: timezone, days)", k)
		}
	}
	days, ok := m["days"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("days must be an object of mon ... sun")
	}
	for day, list := range days {
		if !slices.Contains(dayNames, day) {
			return nil, fmt.Errorf("day %q is not one of mon, tue, wed, thu, fri, sat, sun", day)
		}
		items, ok := list.([]any)
		if !ok || len(items) > 10 {
			return nil, fmt.Errorf("days.%s must be a list of at most 10 {open, close} intervals", day)
		}
		for _, it := range items {
			o, _ := it.(map[string]any)
			open, _ := o["open"].(string)
			closeAt, _ := o["close"].(string)
			from, ok1 := clock(open)
			to, ok2 := clock(closeAt)
			if !ok1 || !ok2 || to <= from || len(o) != 2 {
				return nil, fmt.Errorf("days.%s: each interval is {\"open\":\"HH:MM\",\"close\":\"HH:MM\"} with close after open", day)
			}
			bh.Days[day] = append(bh.Days[day], Interval{Open: open, Close: closeAt, from: from, to: to})
		}
	}
	return bh, nil
}

func clock(s string) (int, bool) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// Open tells whether t falls within the schedule; a nil schedule is always
// open.
func (b *BusinessHours) Open(t time.Time) bool {
	if b == nil {
		return true
	}
	t = t.In(b.loc)
	mins := t.Hour()*60 + t.Minute()
	for _, iv := range b.Days[dayNames[t.Weekday()]] {
		if mins >= iv.from && mins < iv.to {
			return true
		}
	}
	return false
}

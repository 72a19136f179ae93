package webchat

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/microcosm-cc/bluemonday"

	"github.com/kanal-dev/kanal/internal/bus"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/media"
	"github.com/kanal-dev/kanal/internal/realtime"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/workspace"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Limits of what a visitor sends.
const (
	MaxTextBytes     = 10_000
	MaxClientIDBytes = 100
	MaxNameBytes     = 200
)

// Deps are what the web chat service uses.
type Deps struct {
	DB            *store.DB
	Log           *event.Log
	Bus           bus.Bus
	Workspaces    *workspace.Service
	Inboxes       *inbox.Service
	Customers     *customer.Service
	Conversations *conversation.Service
	Media         *media.Store
	// Realtime is the agents' hub: their typing and presence reach
	// visitors, visitors' typing reaches them. Nil: neither (the widget
	// then always shows the offline form).
	Realtime *realtime.Hub
	Logger   *slog.Logger
	// PublicURL is Kanal's public address without a trailing slash.
	PublicURL string
}

// Limit is a token bucket: one more every Every, at most Burst at once.
type Limit struct {
	Every time.Duration
	Burst int
}

// Options tune the service; zero values take the defaults.
type Options struct {
	MessagesPerVisitor Limit // messages and attachments a visitor sends (1/s, burst 10)
	MessagesPerIP      Limit // the same from one IP address (5/s, burst 60)
	UploadsPerVisitor  Limit // attachments a visitor sends (1 per 10 s, burst 5)
	SessionsPerIP      Limit // new visitor sessions from one IP (1 per 3 s, burst 20)
	RequestsPerIP      Limit // any widget request from one IP (20/s, burst 200)
	SocketsPerIP       Limit // visitor sockets opened from one IP (1 per 2 s, burst 20)
	QueueSize          int   // frames waiting for one visitor socket (64)
	PingInterval       time.Duration
	PongTimeout        time.Duration
	WriteTimeout       time.Duration
	BusBuffer          int
	// Now is the clock for business hours (time.Now).
	Now func() time.Time
}

func (o *Options) defaults() {
	lim := func(l *Limit, every time.Duration, burst int) {
		if l.Every <= 0 {
			l.Every = every
		}
		if l.Burst <= 0 {
			l.Burst = burst
		}
	}
	lim(&o.MessagesPerVisitor, time.Second, 10)
	lim(&o.MessagesPerIP, 200*time.Millisecond, 60)
	lim(&o.UploadsPerVisitor, 10*time.Second, 5)
	lim(&o.SessionsPerIP, 3*time.Second, 20)
	lim(&o.RequestsPerIP, 50*time.Millisecond, 200)
	lim(&o.SocketsPerIP, 2*time.Second, 20)
	if o.QueueSize <= 0 {
		o.QueueSize = 64
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = 60 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.BusBuffer <= 0 {
		o.BusBuffer = 8192
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Service is the visitor side of web chat inboxes.
type Service struct {
	d     Deps
	o     Options
	log   *slog.Logger
	text  *bluemonday.Policy
	hub   *hub
	mu    sync.Mutex
	cache map[string]cachedInbox
}

type cachedInbox struct {
	in inbox.Inbox
	at time.Time
}

// New returns the web chat service. It subscribes to the bus at once; call
// Run to deliver events to visitors' sockets.
func New(d Deps, o Options) *Service {
	o.defaults()
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{d: d, o: o, log: d.Logger, text: bluemonday.StrictPolicy(), cache: map[string]cachedInbox{}}
	s.hub = newHub(s)
	return s
}

// Options returns the service's options with defaults applied (the HTTP
// layer reads the rate limits).
func (s *Service) Options() Options { return s.o }

// Inbox finds a web chat inbox by its public key (the data-inbox of the
// embed tag), from a cache at most a few seconds old.
func (s *Service) Inbox(ctx context.Context, key string) (inbox.Inbox, Settings, error) {
	if key == "" || len(key) > 64 {
		return inbox.Inbox{}, Settings{}, errNoInbox
	}
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if !ok || time.Since(c.at) > 5*time.Second {
		in, err := s.d.Inboxes.ByPublicKey(ctx, key)
		if errors.Is(err, errs.ErrNotFound) {
			return inbox.Inbox{}, Settings{}, errNoInbox
		}
		if err != nil {
			return inbox.Inbox{}, Settings{}, err
		}
		c = cachedInbox{in: in, at: time.Now()}
		s.mu.Lock()
		if len(s.cache) > 10000 {
			clear(s.cache)
		}
		s.cache[key] = c
		s.mu.Unlock()
	}
	if c.in.Type != TypeName {
		return inbox.Inbox{}, Settings{}, errNoInbox
	}
	return c.in, InboxSettings(c.in), nil
}

var errNoInbox = errs.New(errs.ErrNotFound, "no_widget", "no chat widget has this key")

// Availability is whether someone can answer now.
type Availability struct {
	Online        bool `json:"online"`
	Agents        bool `json:"agents_available"`
	BusinessHours bool `json:"in_business_hours"`
}

// Availability tells whether the widget is online: an agent has the
// workspace open and it is within business hours.
func (s *Service) Availability(in inbox.Inbox, st Settings) Availability {
	a := Availability{BusinessHours: st.BusinessHours.Open(s.o.Now())}
	if s.d.Realtime != nil {
		a.Agents = s.d.Realtime.Available(in.WorkspaceID)
	}
	a.Online = a.Agents && a.BusinessHours
	return a
}

// Visitor is one widget session: a browser's token.
type Visitor struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"-"`
	InboxID     string `json:"-"`
	CustomerID  string `json:"-"`
	ExternalID  string `json:"-"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	CreatedAt   int64  `json:"created_at"`
	LastSeenAt  int64  `json:"-"`
}

// Identified tells whether the visitor is a signed-in user of the site.
func (v Visitor) Identified() bool { return v.ExternalID != "" }

func scanVisitor(r interface{ Scan(...any) error }) (Visitor, error) {
	var v Visitor
	err := r.Scan(&v.ID, &v.WorkspaceID, &v.InboxID, &v.CustomerID, &v.ExternalID, &v.Name, &v.Email, &v.CreatedAt, &v.LastSeenAt)
	return v, err
}

// ErrBadToken refuses a request whose visitor token is missing or unknown.
var ErrBadToken = errs.New(errs.ErrUnauthenticated, "visitor_token_invalid",
	"the visitor token is missing or unknown; start a session with POST /widget/{key}/session")

// Authenticate finds the visitor of a token on an inbox.
func (s *Service) Authenticate(ctx context.Context, in inbox.Inbox, token string) (Visitor, error) {
	if !wellFormedToken(token) {
		return Visitor{}, ErrBadToken
	}
	r := s.d.DB.Reader()
	v, err := scanVisitor(r.QueryRow(ctx, q.Get(r.Dialect(), "visitor-by-token"), hashToken(token)))
	if errors.Is(err, errs.ErrNotFound) || (err == nil && (v.InboxID != in.ID || v.WorkspaceID != in.WorkspaceID)) {
		return Visitor{}, ErrBadToken
	}
	if err != nil {
		return Visitor{}, err
	}
	// The customer is the one holding the visitor's identity now: the
	// user's first message may have come from another device, or an agent
	// may have merged customers since.
	kind, value := customer.KindWebVisitor, v.ID
	if v.Identified() {
		kind, value = customer.KindExternalID, v.ExternalID
	}
	var owner string
	err = r.QueryRow(ctx, q.Get(r.Dialect(), "identity-owner"), v.WorkspaceID, kind, value).Scan(&owner)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return Visitor{}, err
	}
	if owner != "" && owner != v.CustomerID {
		before := v.CustomerID
		v.CustomerID = owner
		if err := s.d.DB.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "set-visitor-customer"), v.WorkspaceID, v.ID, owner)
			return err
		}); err != nil {
			return Visitor{}, err
		}
		s.hub.bind(v, before)
	}
	if now := store.Now(); now-v.LastSeenAt > int64(time.Hour/time.Millisecond) {
		v.LastSeenAt = now
		if err := s.d.DB.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "touch-visitor"), v.WorkspaceID, v.ID, now)
			return err
		}); err != nil {
			s.log.Warn("webchat: touch visitor", "err", err)
		}
	}
	return v, nil
}

// Session is the answer to a session request.
type Session struct {
	Token   string  `json:"token"`
	Visitor Visitor `json:"visitor"`
	// Identified is true when the identity claim was verified: the visitor
	// is the site's user and sees that user's conversation on any device.
	Identified bool `json:"identified"`
	// Resumed is true when the token sent was kept (false: a new token).
	Resumed bool `json:"resumed"`
}

// StartSession creates or resumes a visitor. token is the one the browser
// holds ("" for none). A claim whose hmac verifies makes the visitor the
// site's user (customer identity external_id = user_id); an unsigned or
// forged claim is ignored and the visitor is anonymous. A token of an
// identified visitor is only resumed with a valid claim for the same user:
// without one (the user signed out) a new anonymous visitor starts, so the
// next person on a shared computer does not see the conversation.
func (s *Service) StartSession(ctx context.Context, in inbox.Inbox, token string, claim *Claim) (Session, error) {
	var cur *Visitor
	if token != "" {
		v, err := s.Authenticate(ctx, in, token)
		switch {
		case err == nil:
			cur = &v
		case !errors.Is(err, ErrBadToken):
			return Session{}, err
		}
	}
	var userID string
	if claim != nil {
		claim.UserID = strings.TrimSpace(claim.UserID)
		if len(claim.UserID) <= 255 && utf8.ValidString(claim.UserID) && VerifyIdentity(in.Secrets[SecretIdentity], claim.UserID, claim.HMAC) {
			userID = claim.UserID
		}
	}
	name, email := "", ""
	if userID != "" {
		name, email = cleanName(claim.Name), cleanEmail(claim.Email)
	}
	switch {
	case cur != nil && userID == "" && !cur.Identified():
		return Session{Token: token, Visitor: *cur, Resumed: true}, nil
	case cur != nil && userID != "" && cur.ExternalID == userID:
		v, err := s.identify(ctx, in, *cur, userID, name, email)
		return Session{Token: token, Visitor: v, Identified: true, Resumed: true}, err
	case cur != nil && userID != "" && !cur.Identified():
		// An anonymous visitor signs in: keep the token, become the user.
		v, err := s.identify(ctx, in, *cur, userID, name, email)
		return Session{Token: token, Visitor: v, Identified: true, Resumed: true}, err
	}
	v := Visitor{ID: store.NewID(), WorkspaceID: in.WorkspaceID, InboxID: in.ID, CreatedAt: store.Now()}
	v.LastSeenAt = v.CreatedAt
	tok := newToken()
	err := s.d.DB.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert-visitor"), v.ID, v.WorkspaceID, v.InboxID, hashToken(tok), nil, "", "", "", v.CreatedAt)
		return err
	})
	if err != nil {
		return Session{}, err
	}
	if userID == "" {
		return Session{Token: tok, Visitor: v}, nil
	}
	v, err = s.identify(ctx, in, v, userID, name, email)
	return Session{Token: tok, Visitor: v, Identified: true}, err
}

// identify makes v the site's user userID. When the user is already a
// customer, the visitor becomes that customer; when not and the visitor
// wrote as an anonymous visitor, that customer takes the user's identity
// (the anonymous conversation carries on).
func (s *Service) identify(ctx context.Context, in inbox.Inbox, v Visitor, userID, name, email string) (Visitor, error) {
	w, err := s.d.Workspaces.Get(ctx, in.WorkspaceID)
	if err != nil {
		return Visitor{}, err
	}
	before := v.CustomerID
	// A returning user with nothing new (every page load): no write.
	if owner, err := s.owner(ctx, s.d.DB.Reader(), in.WorkspaceID, userID); err != nil {
		return Visitor{}, err
	} else if v.ExternalID == userID && owner == v.CustomerID && (name == "" || name == v.Name) && (email == "" || email == v.Email) {
		return v, nil
	}
	err = s.d.DB.Write(ctx, func(tx *store.Tx) error {
		owner, err := s.owner(ctx, tx, in.WorkspaceID, userID)
		if err != nil {
			return err
		}
		cust := owner
		if owner == "" && v.CustomerID != "" {
			cust = v.CustomerID // the anonymous customer takes the identity below
		}
		v.ExternalID, v.CustomerID = userID, cust
		if name != "" {
			v.Name = name
		}
		if email != "" {
			v.Email = email
		}
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "set-visitor-identity"), v.WorkspaceID, v.ID, v.ExternalID, nullable(v.CustomerID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "set-visitor-contact"), v.WorkspaceID, v.ID, v.Name, v.Email); err != nil {
			return err
		}
		if v.CustomerID == "" {
			return nil // the customer is made with the first message
		}
		return s.linkIdentities(ctx, tx, w.Settings.PhoneRegion, v, before == v.CustomerID && owner == "")
	})
	if err != nil {
		return Visitor{}, err
	}
	if v.CustomerID != before {
		s.hub.bind(v, before)
	}
	return v, nil
}

// owner is the customer whose external_id is userID ("" when none).
func (s *Service) owner(ctx context.Context, r store.Querier, workspaceID, userID string) (string, error) {
	var id string
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "identity-owner"), workspaceID, customer.KindExternalID, userID).Scan(&id)
	if errors.Is(err, errs.ErrNotFound) {
		return "", nil
	}
	return id, err
}

// linkIdentities adds the visitor's other identities to its customer inside
// tx: the web_visitor id, and for a signed-in user external_id and the
// e-mail. An identity another customer has is left alone: nothing a visitor
// says ever joins them to someone else's customer. The profile's empty name
// and e-mail are filled.
func (s *Service) linkIdentities(ctx context.Context, tx *store.Tx, region string, v Visitor, anonymousFirst bool) error {
	actor := event.Actor{Kind: event.ActorCustomer, ID: v.CustomerID}
	claims := []customer.Claim{}
	if anonymousFirst {
		claims = append(claims, customer.Claim{Kind: customer.KindWebVisitor, Value: v.ID})
	}
	if v.Identified() {
		claims = append(claims, customer.Claim{Kind: customer.KindExternalID, Value: v.ExternalID})
		if !anonymousFirst {
			claims = append(claims, customer.Claim{Kind: customer.KindWebVisitor, Value: v.ID})
		}
		if v.Email != "" {
			claims = append(claims, customer.Claim{Kind: customer.KindEmail, Value: v.Email})
		}
	} else {
		claims = append(claims, customer.Claim{Kind: customer.KindWebVisitor, Value: v.ID})
	}
	id, _, err := s.d.Customers.Resolve(ctx, tx, v.WorkspaceID, region, claims, customer.Profile{Name: v.Name, Email: v.Email}, actor)
	if err != nil {
		return err
	}
	if id != v.CustomerID {
		return fmt.Errorf("webchat: visitor %s resolved to customer %s, not %s", v.ID, id, v.CustomerID)
	}
	return nil
}

// SetContact records the name and e-mail a visitor gives (the pre-chat form,
// the offline form) on the visitor and, once it exists, the customer's
// profile (empty fields only). The e-mail is not an identity: it is
// unverified, so it never links the visitor to another customer.
func (s *Service) SetContact(ctx context.Context, v Visitor, name, email string) (Visitor, error) {
	val := &errs.Validation{}
	if n := strings.TrimSpace(name); len(n) > MaxNameBytes || !utf8.ValidString(n) {
		val.Add("name", fmt.Sprintf("must be at most %d characters", MaxNameBytes))
	}
	e := strings.TrimSpace(email)
	if e != "" {
		if _, err := customer.Normalize(customer.KindEmail, e, ""); err != nil {
			val.Add("email", "must be an e-mail address such as ayse@example.com")
		}
	}
	if name == "" && email == "" {
		val.Add("email", "give a name or an e-mail")
	}
	if err := val.OrNil(); err != nil {
		return Visitor{}, err
	}
	if n := cleanName(name); n != "" {
		v.Name = n
	}
	if e != "" {
		v.Email = e
	}
	w, err := s.d.Workspaces.Get(ctx, v.WorkspaceID)
	if err != nil {
		return Visitor{}, err
	}
	err = s.d.DB.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "set-visitor-contact"), v.WorkspaceID, v.ID, v.Name, v.Email); err != nil {
			return err
		}
		if v.CustomerID == "" {
			return nil
		}
		_, _, err := s.d.Customers.Resolve(ctx, tx, v.WorkspaceID, w.Settings.PhoneRegion, primaryClaims(v),
			customer.Profile{Name: v.Name, Email: v.Email}, event.Actor{Kind: event.ActorCustomer, ID: v.CustomerID})
		return err
	})
	return v, err
}

func primaryClaims(v Visitor) []customer.Claim {
	if v.Identified() {
		return []customer.Claim{{Kind: customer.KindExternalID, Value: v.ExternalID}}
	}
	return []customer.Claim{{Kind: customer.KindWebVisitor, Value: v.ID}}
}

func cleanName(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s))
	for len(s) > MaxNameBytes {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	if !utf8.ValidString(s) {
		return ""
	}
	return s
}

func cleanEmail(s string) string {
	s = strings.TrimSpace(s)
	if _, err := customer.Normalize(customer.KindEmail, s, ""); err != nil {
		return ""
	}
	return s
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Message is a message as a visitor sees it: no notes, no agent ids, no
// provider payloads.
type Message struct {
	ID          string       `json:"id"`
	ClientID    string       `json:"client_id,omitempty"` // the visitor's own messages: the id the widget gave
	Author      string       `json:"author"`              // visitor, agent, bot or system
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments"`
	CreatedAt   int64        `json:"created_at"`
	// Status of an agent's message from the visitor's side: sent,
	// delivered or read; "received" for the visitor's own.
	Status string `json:"status"`
}

// Attachment is a file of a message. URL is Kanal's copy under the widget
// (/widget/{key}/media/{id}, fetched with the visitor token) or the http(s)
// address an agent's reply gave.
type Attachment struct {
	URL         string `json:"url"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

const mediaPath = "/api/v1/media/"

// view renders a stored message for the visitor of inbox key.
func (s *Service) view(key string, m conversation.Message) Message {
	out := Message{ID: m.ID, Text: m.Text, CreatedAt: m.CreatedAt, Status: m.Status, Attachments: []Attachment{}}
	switch m.AuthorKind {
	case conversation.AuthorCustomer:
		out.Author = "visitor"
		if m.ProviderID != nil {
			if _, cid, ok := strings.Cut(*m.ProviderID, ":"); ok {
				out.ClientID = cid
			}
		}
	case conversation.AuthorAgent, conversation.AuthorBot, conversation.AuthorSystem:
		out.Author = m.AuthorKind
	default:
		out.Author = "agent"
	}
	if out.Text == "" && m.HTML != "" {
		out.Text = strings.TrimSpace(html.UnescapeString(s.text.Sanitize(m.HTML)))
	}
	for _, a := range m.Attachments {
		u := a.URL
		if i := strings.Index(u, mediaPath); i >= 0 && (i == 0 || strings.HasPrefix(u, s.d.PublicURL+mediaPath)) {
			u = "/widget/" + key + "/media/" + u[i+len(mediaPath):]
		} else if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			u = "" // not fetched yet, or not a web address
		}
		out.Attachments = append(out.Attachments, Attachment{URL: u, FileName: a.FileName, ContentType: a.ContentType, Size: a.Size})
	}
	return out
}

// History returns a page of the visitor's messages in this inbox, oldest
// first, before the cursor (zero: the newest), and the cursor of the page
// before it ("" when there is none).
func (s *Service) History(ctx context.Context, in inbox.Inbox, v Visitor, before conversation.Cursor, limit int) ([]Message, string, error) {
	out := []Message{}
	if v.CustomerID == "" {
		return out, "", nil
	}
	if before.ID == "" {
		before = conversation.Cursor{At: 1<<62 - 1, ID: "~"}
	}
	r := s.d.DB.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "history"), v.WorkspaceID, v.CustomerID, in.ID, before.At, before.ID, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("webchat: history: %w", err)
	}
	defer rows.Close()
	var ms []conversation.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, "", err
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(ms) > limit {
		ms = ms[:limit]
		last := ms[len(ms)-1]
		next = conversation.Cursor{At: last.CreatedAt, ID: last.ID}.Encode()
	}
	for i := len(ms) - 1; i >= 0; i-- {
		out = append(out, s.view(in.PublicKey, ms[i]))
	}
	return out, next, nil
}

// Outgoing is a message a visitor sends.
type Outgoing struct {
	ClientID    string
	Text        string
	Attachments []conversation.Attachment
}

// ValidateClientID checks the widget's idempotency key.
func ValidateClientID(id string) error {
	if id == "" || len(id) > MaxClientIDBytes {
		return errs.Invalid("client_id", fmt.Sprintf("must be 1 to %d characters (a UUID the widget makes per message)", MaxClientIDBytes))
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return errs.Invalid("client_id", "may hold letters, digits, '-', '_' and '.' only")
		}
	}
	return nil
}

// providerID is the message's idempotency key on the inbox: the visitor's id
// and the widget's client id, so that two visitors' ids never collide.
func providerID(v Visitor, clientID string) string { return v.ID + ":" + clientID }

// Existing returns the visitor's message with this client id, if stored.
func (s *Service) Existing(ctx context.Context, in inbox.Inbox, v Visitor, clientID string) (Message, bool, error) {
	r := s.d.DB.Reader()
	var id string
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "message-by-provider-id"), in.ID, providerID(v, clientID)).Scan(&id)
	if errors.Is(err, errs.ErrNotFound) {
		return Message{}, false, nil
	}
	if err != nil {
		return Message{}, false, err
	}
	m, err := s.d.Conversations.GetMessage(ctx, v.WorkspaceID, id)
	if err != nil {
		return Message{}, false, err
	}
	return s.view(in.PublicKey, m), true, nil
}

// Send stores a visitor's message (ingest: customer, conversation,
// message.created) and returns it once committed. A client id already
// stored returns the first message with duplicate set and stores nothing.
func (s *Service) Send(ctx context.Context, in inbox.Inbox, v Visitor, o Outgoing) (Message, bool, error) {
	if err := ValidateClientID(o.ClientID); err != nil {
		return Message{}, false, err
	}
	if len(o.Text) > MaxTextBytes {
		return Message{}, false, errs.Invalid("text", fmt.Sprintf("must be at most %d bytes", MaxTextBytes))
	}
	if !utf8.ValidString(o.Text) {
		return Message{}, false, errs.Invalid("text", "must be valid UTF-8")
	}
	if strings.TrimSpace(o.Text) == "" && len(o.Attachments) == 0 {
		return Message{}, false, errs.Invalid("text", "write something")
	}
	ct := "text"
	if len(o.Attachments) > 0 {
		ct = "document"
		if strings.HasPrefix(o.Attachments[0].ContentType, "image/") {
			ct = "image"
		}
	}
	// Ingest checks attachment URLs are absolute; Kanal's own copies are
	// then stored with their relative address, like fetched media.
	atts := make([]conversation.Attachment, len(o.Attachments))
	copy(atts, o.Attachments)
	for i := range atts {
		if strings.HasPrefix(atts[i].URL, "/") {
			atts[i].URL = s.publicBase() + atts[i].URL
		}
	}
	p, err := s.d.Conversations.Prepare(ctx, conversation.Inbound{WorkspaceID: v.WorkspaceID, InboxID: in.ID,
		ProviderID: providerID(v, o.ClientID), Claims: primaryClaims(v), Profile: customer.Profile{Name: v.Name, Email: v.Email},
		Text: o.Text, Attachments: atts, ContentType: ct})
	if err != nil {
		return Message{}, false, err
	}
	w, err := s.d.Workspaces.Get(ctx, v.WorkspaceID)
	if err != nil {
		return Message{}, false, err
	}
	var res conversation.IngestResult
	var m conversation.Message
	before := v.CustomerID
	err = s.d.DB.Write(ctx, func(tx *store.Tx) error {
		var err error
		if res, err = s.d.Conversations.IngestTx(ctx, tx, p); err != nil {
			return err
		}
		if !res.Duplicate {
			for i, a := range o.Attachments {
				if strings.HasPrefix(a.URL, "/") {
					if err := s.d.Conversations.SetAttachment(ctx, tx, v.WorkspaceID, res.MessageID, i, a); err != nil {
						return err
					}
				}
			}
		}
		if v.CustomerID != res.CustomerID {
			v.CustomerID = res.CustomerID
			if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "set-visitor-customer"), v.WorkspaceID, v.ID, v.CustomerID); err != nil {
				return err
			}
			if err := s.linkIdentities(ctx, tx, w.Settings.PhoneRegion, v, false); err != nil {
				return err
			}
		}
		m, err = s.d.Conversations.GetMessageTx(ctx, tx, v.WorkspaceID, res.MessageID)
		return err
	})
	if err != nil {
		return Message{}, false, err
	}
	if before != v.CustomerID {
		s.hub.bind(v, before)
	}
	return s.view(in.PublicKey, m), res.Duplicate, nil
}

func (s *Service) publicBase() string {
	if s.d.PublicURL != "" {
		return s.d.PublicURL
	}
	return "http://localhost"
}

// Upload is a file a visitor attaches.
type Upload struct {
	FileName string
	// DeclaredType is what the browser said; the stored type is sniffed
	// from the bytes when they tell.
	DeclaredType string
	Body         io.Reader
}

// Errors of attachments, with messages a visitor can act on.
func errTooLarge(st Settings) error {
	return errs.New(errs.ErrTooLarge, "file_too_large", "The file is larger than %d MB; send a smaller one.", st.MaxFileMB)
}

// ErrTypeNotAllowed refuses a file of a type the inbox does not take.
type ErrTypeNotAllowed struct {
	Type    string
	Allowed []string
}

func (e *ErrTypeNotAllowed) Error() string {
	return fmt.Sprintf("Files of type %s cannot be sent here. Allowed: %s.", e.Type, strings.Join(e.Allowed, ", "))
}

// sniffGeneric are types sniffing gives for content it cannot tell apart;
// for those the browser's word is taken (and checked against the allowed
// list).
var sniffGeneric = map[string]bool{"application/octet-stream": true, "application/zip": true, "text/plain": true}

// Attach stores a visitor's file (size and type checked against the inbox's
// limits) and sends it as a message, with text as its caption. The size
// check reads at most max bytes; the type check sniffs the first 512.
func (s *Service) Attach(ctx context.Context, in inbox.Inbox, st Settings, v Visitor, clientID, text string, up Upload) (Message, bool, error) {
	if err := ValidateClientID(clientID); err != nil {
		return Message{}, false, err
	}
	if m, ok, err := s.Existing(ctx, in, v, clientID); err != nil || ok {
		return m, ok, err
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(up.Body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return Message{}, false, err
	}
	head = head[:n]
	if n == 0 {
		return Message{}, false, errs.Invalid("file", "the file is empty")
	}
	ctype := sniff(head, up.DeclaredType)
	if !st.TypeAllowed(ctype) {
		return Message{}, false, &ErrTypeNotAllowed{Type: ctype, Allowed: st.FileTypes}
	}
	f, err := s.d.Media.Save(ctx, v.WorkspaceID, up.FileName, ctype, io.MultiReader(bytes.NewReader(head), up.Body), st.MaxFileBytes(), "")
	if errors.Is(err, media.ErrTooLarge) {
		return Message{}, false, errTooLarge(st)
	}
	if err != nil {
		return Message{}, false, err
	}
	return s.Send(ctx, in, v, Outgoing{ClientID: clientID, Text: text,
		Attachments: []conversation.Attachment{{URL: f.URL(), FileName: f.FileName, ContentType: f.ContentType, Size: f.Size, SHA256: f.SHA256}}})
}

func sniff(head []byte, declared string) string {
	t := http.DetectContentType(head)
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	if sniffGeneric[t] && declared != "" {
		d := strings.ToLower(strings.TrimSpace(declared))
		if i := strings.IndexByte(d, ';'); i >= 0 {
			d = d[:i]
		}
		// Never take the browser's word for something a page could run.
		if mimeRe.MatchString(d) && !strings.Contains(d, "html") && !strings.Contains(d, "xml") && !strings.Contains(d, "javascript") {
			return d
		}
	}
	return t
}

// MediaVisible tells whether a stored file belongs to one of the visitor's
// messages in this inbox.
func (s *Service) MediaVisible(ctx context.Context, in inbox.Inbox, v Visitor, id string) (bool, error) {
	if _, err := uuid.Parse(id); err != nil || v.CustomerID == "" || strings.ContainsAny(id, `%_\`) {
		return false, nil
	}
	r := s.d.DB.Reader()
	var mid string
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "media-visible"), v.WorkspaceID, v.CustomerID, in.ID, "%"+mediaPath+id+`"%`).Scan(&mid)
	if errors.Is(err, errs.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// MarkRead records that the visitor saw the agents' messages up to
// messageID (read) or that the widget got them (delivered): their delivery
// status moves on, which agents see as message.status_changed events.
func (s *Service) MarkRead(ctx context.Context, in inbox.Inbox, v Visitor, messageID, status string) (int, error) {
	if status != conversation.StatusRead && status != conversation.StatusDelivered {
		return 0, errs.Invalid("status", "must be read or delivered")
	}
	if v.CustomerID == "" {
		return 0, nil
	}
	m, err := s.d.Conversations.GetMessage(ctx, v.WorkspaceID, messageID)
	if errors.Is(err, errs.ErrNotFound) || (err == nil && (m.CustomerID != v.CustomerID || m.InboxID != in.ID || m.Kind != conversation.KindMessage)) {
		return 0, errs.Invalid("message_id", "is not a message of this chat")
	}
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.d.DB.Write(ctx, func(tx *store.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, q.Get(tx.Dialect(), "unread-up-to"), v.WorkspaceID, m.ConversationID, v.CustomerID, in.ID, m.CreatedAt)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			ok, err := s.d.Conversations.SetStatus(ctx, tx, v.WorkspaceID, id, status, "", "")
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	return n, err
}

// CurrentConversation is the visitor's conversation whose last message went
// through this inbox ("" when there is none).
func (s *Service) CurrentConversation(ctx context.Context, in inbox.Inbox, v Visitor) (string, error) {
	if v.CustomerID == "" {
		return "", nil
	}
	r := s.d.DB.Reader()
	var id string
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "current-conversation"), v.WorkspaceID, v.CustomerID, in.ID).Scan(&id)
	if errors.Is(err, errs.ErrNotFound) {
		return "", nil
	}
	return id, err
}

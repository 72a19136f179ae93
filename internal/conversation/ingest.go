package conversation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/workspace"
)

// Limits of an inbound message.
const (
	MaxTextBytes   = 64 << 10
	MaxAttachments = 20
)

// Inbound is a normalised inbound message from any channel.
type Inbound struct {
	WorkspaceID string
	InboxID     string
	// ProviderID is the provider's message id: the idempotency key, unique per inbox.
	ProviderID string
	Claims     []customer.Claim
	Profile    customer.Profile
	Text       string
	HTML       string
	Subject    string
	// Attachments' metadata; the files are stored by the channel.
	Attachments []Attachment
	// At is when the provider says the message was sent (zero: now).
	At time.Time
	// ContentType names what the message carries (default text); Raw keeps
	// the provider's payload for types Kanal shows only generically.
	ContentType string
	Raw         string
	// ConversationHint names the conversation the channel says the message
	// answers (an e-mail reply token, authenticated by the channel). It is
	// followed when that conversation is the same customer's, even when
	// resolved (it is reopened).
	ConversationHint string
	// ThreadKeys are provider ids of earlier messages of the inbox that the
	// message answers, newest first (e-mail In-Reply-To and References).
	// Never by subject, never across customers.
	ThreadKeys []string
}

// IngestResult tells where an inbound message landed.
type IngestResult struct {
	CustomerID      string `json:"customer_id"`
	ConversationID  string `json:"conversation_id"`
	MessageID       string `json:"message_id"`
	Duplicate       bool   `json:"duplicate"`
	NewCustomer     bool   `json:"-"`
	NewConversation bool   `json:"-"`
}

func (in *Inbound) validate() error {
	v := &errs.Validation{}
	if in.ProviderID == "" || len(in.ProviderID) > 255 {
		v.Add("external_message_id", "must be 1 to 255 characters")
	}
	if len(in.Text) > MaxTextBytes {
		v.Add("text", fmt.Sprintf("must be at most %d bytes", MaxTextBytes))
	}
	if !utf8.ValidString(in.Text) {
		v.Add("text", "must be valid UTF-8")
	}
	if len(in.ThreadKeys) > 50 {
		v.Add("thread_keys", "at most 50")
	}
	if len(in.Raw) > MaxTextBytes {
		v.Add("raw", fmt.Sprintf("must be at most %d bytes", MaxTextBytes))
	}
	if strings.TrimSpace(in.Text) == "" && strings.TrimSpace(in.HTML) == "" && len(in.Attachments) == 0 && in.Raw == "" {
		v.Add("text", "a message needs text or attachments")
	}
	if len(in.Attachments) > MaxAttachments {
		v.Add("attachments", fmt.Sprintf("at most %d attachments", MaxAttachments))
	}
	for i, a := range in.Attachments {
		u, err := url.Parse(a.URL)
		if a.Ref == "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
			v.Add(fmt.Sprintf("attachments[%d].url", i), "must be an http(s) URL")
		}
		if a.Size < 0 {
			v.Add(fmt.Sprintf("attachments[%d].size", i), "must not be negative")
		}
		if len(a.FileName) > 255 {
			v.Add(fmt.Sprintf("attachments[%d].file_name", i), "must be at most 255 characters")
		}
	}
	if len(in.Subject) > 500 {
		v.Add("subject", "must be at most 500 characters")
	}
	return v.OrNil()
}

// Ingest stores an inbound message in one transaction: dedupe on the
// provider id, resolve the customer by identity, thread it into a
// conversation (continuity), insert the message and append the events. It
// returns after commit; a retried message returns the first one's ids with
// Duplicate set and stores nothing.
func (s *Service) Ingest(ctx context.Context, in Inbound) (IngestResult, error) {
	p, err := s.Prepare(ctx, in)
	if err != nil {
		return IngestResult{}, err
	}
	var res IngestResult
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		res, err = s.IngestTx(ctx, tx, p)
		return err
	})
	if err != nil {
		return IngestResult{}, err
	}
	return res, nil
}

// Prepared is an inbound message checked and ready to be stored.
type Prepared struct {
	in       Inbound
	settings workspace.Settings
	inbox    inbox.Inbox
}

// Prepare validates an inbound message and reads what storing it needs
// (outside the write transaction, from caches).
func (s *Service) Prepare(ctx context.Context, in Inbound) (Prepared, error) {
	if err := in.validate(); err != nil {
		return Prepared{}, err
	}
	w, err := s.ws.Get(ctx, in.WorkspaceID)
	if err != nil {
		return Prepared{}, err
	}
	ib, err := s.inboxes.Get(ctx, in.WorkspaceID, in.InboxID)
	if err != nil {
		return Prepared{}, err
	}
	if in.HTML != "" {
		in.HTML = s.Sanitize(in.HTML)
	}
	return Prepared{in: in, settings: w.Settings, inbox: ib}, nil
}

// IngestTx stores a prepared inbound message inside tx (see Ingest), so a
// channel can store all the items of one webhook call atomically.
func (s *Service) IngestTx(ctx context.Context, tx *store.Tx, p Prepared) (IngestResult, error) {
	in, ib := p.in, p.inbox
	var res IngestResult
	err := func() error {
		d := tx.Dialect()
		err := tx.QueryRow(ctx, q.Get(d, "message-by-provider-id"), in.InboxID, in.ProviderID).Scan(&res.MessageID, &res.ConversationID, &res.CustomerID)
		if err == nil {
			res.Duplicate = true
			return nil
		}
		if !errors.Is(err, errs.ErrNotFound) {
			return fmt.Errorf("dedupe: %w", err)
		}
		actor := event.Actor{Kind: event.ActorCustomer}
		res.CustomerID, res.NewCustomer, err = s.customers.Resolve(ctx, tx, in.WorkspaceID, p.settings.PhoneRegion, in.Claims, in.Profile, actor)
		if err != nil {
			return err
		}
		actor.ID = res.CustomerID
		// The identity the customer wrote from: a reply goes back to it
		// even when the customer has others of its kind (after a merge).
		identityID, err := s.customers.IdentityID(ctx, tx, in.WorkspaceID, p.settings.PhoneRegion, in.Claims[0])
		if err != nil {
			return fmt.Errorf("thread: %w", err)
		}
		now := store.Now()
		status := ""
		if !res.NewCustomer {
			res.ConversationID, status, err = s.threaded(ctx, tx, in, res.CustomerID)
			if err != nil {
				return fmt.Errorf("thread: %w", err)
			}
		}
		if !res.NewCustomer && res.ConversationID == "" {
			if p.settings.Continuity {
				since := now - p.settings.ContinuityWindow().Milliseconds()
				err = tx.QueryRow(ctx, q.Get(d, "open-for-customer"), in.WorkspaceID, res.CustomerID, since).Scan(&res.ConversationID, &status)
			} else {
				err = tx.QueryRow(ctx, q.Get(d, "open-for-customer-in-inbox"), in.WorkspaceID, res.CustomerID, in.InboxID).Scan(&res.ConversationID, &status)
			}
			if err != nil && !errors.Is(err, errs.ErrNotFound) {
				return fmt.Errorf("thread: %w", err)
			}
		}
		if res.ConversationID == "" {
			c := Conversation{ID: store.NewID(), WorkspaceID: in.WorkspaceID, CustomerID: res.CustomerID, InboxID: ib.ID,
				Channel: ib.Type, LastInboxID: ib.ID, LastChannel: ib.Type, Status: StatusOpen, Priority: PriorityNormal,
				Subject: in.Subject, Labels: []string{}, CreatedAt: now, UpdatedAt: now, LastActivityAt: now, LastInboundAt: &now}
			if _, err := tx.Exec(ctx, q.Get(d, "insert-conversation"), c.ID, c.WorkspaceID, c.CustomerID, c.InboxID, c.Channel,
				c.Status, c.Priority, c.Subject, now, now, nullable(identityID)); err != nil {
				return fmt.Errorf("create conversation: %w", err)
			}
			res.ConversationID, res.NewConversation = c.ID, true
			if _, err := s.log.Append(ctx, tx, in.WorkspaceID, event.New{Type: event.ConversationCreated, CustomerID: c.CustomerID,
				ConversationID: c.ID, Actor: actor, Data: c}); err != nil {
				return err
			}
		} else {
			if _, err := tx.Exec(ctx, q.Get(d, "touch-inbound"), in.WorkspaceID, res.ConversationID, ib.ID, ib.Type, now, nullable(identityID)); err != nil {
				return fmt.Errorf("thread: %w", err)
			}
			if status == StatusPending || status == StatusSnoozed || status == StatusResolved { // the customer's answer reopens it
				if _, err := s.log.Append(ctx, tx, in.WorkspaceID, event.New{Type: event.ConversationUpdated, CustomerID: res.CustomerID,
					ConversationID: res.ConversationID, Actor: actor,
					Data: map[string]any{"changes": map[string]any{"status": map[string]string{"from": status, "to": StatusOpen}}}}); err != nil {
					return err
				}
			}
		}
		pid := in.ProviderID
		m := Message{ID: store.NewID(), WorkspaceID: in.WorkspaceID, ConversationID: res.ConversationID, CustomerID: res.CustomerID,
			InboxID: ib.ID, Channel: ib.Type, Kind: KindMessage, Direction: DirectionIn, AuthorKind: AuthorCustomer,
			AuthorID: &res.CustomerID, Text: in.Text, HTML: in.HTML, Attachments: in.Attachments, ProviderID: &pid,
			Status: StatusReceived, CreatedAt: now, UpdatedAt: now, ContentType: in.ContentType, Raw: in.Raw}
		if m.Attachments == nil {
			m.Attachments = []Attachment{}
		}
		if err := s.insertMessage(ctx, tx, &m); err != nil {
			return err
		}
		res.MessageID = m.ID
		for i, a := range m.Attachments {
			if a.Ref != "" {
				if err := s.outbox(ctx, tx, in.WorkspaceID, FetchMediaJob, FetchMediaPayload{MessageID: m.ID, Index: i}); err != nil {
					return err
				}
			}
		}
		_, err = s.log.Append(ctx, tx, in.WorkspaceID, event.New{Type: event.MessageCreated, CustomerID: m.CustomerID,
			ConversationID: m.ConversationID, Actor: actor, Data: m})
		return err
	}()
	if err != nil {
		return IngestResult{}, err
	}
	return res, nil
}

// threaded returns the conversation the message's hint or thread keys name,
// when it is the customer's ("" when none is).
func (s *Service) threaded(ctx context.Context, tx *store.Tx, in Inbound, customerID string) (id, status string, err error) {
	d := tx.Dialect()
	if in.ConversationHint != "" {
		err := tx.QueryRow(ctx, q.Get(d, "conversation-of-customer"), in.WorkspaceID, in.ConversationHint, customerID).Scan(&id, &status)
		if err == nil {
			return id, status, nil
		}
		if !errors.Is(err, errs.ErrNotFound) {
			return "", "", err
		}
	}
	for _, key := range in.ThreadKeys {
		if key == "" {
			continue
		}
		var at int64
		err := tx.QueryRow(ctx, q.Get(d, "conversation-by-thread-key"), in.InboxID, key, in.WorkspaceID, customerID).Scan(&id, &status, &at)
		if err == nil {
			return id, status, nil
		}
		if !errors.Is(err, errs.ErrNotFound) {
			return "", "", err
		}
	}
	return "", "", nil
}

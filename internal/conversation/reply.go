package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/store"
)

// Reply is an agent's outbound message.
type Reply struct {
	Text        string
	HTML        string
	Attachments []Attachment
	// Channel picks another channel the customer has; empty answers on the
	// conversation's last channel.
	Channel string
	// Template sends an approved template (the only thing a channel with a
	// closed reply window accepts).
	Template *Template
}

// Template names a provider-approved message template and its parameters.
type Template struct {
	Name     string   `json:"name"`
	Language string   `json:"language"`
	Params   []string `json:"params"`
}

// ErrWindowClosed tells that the channel's reply window is closed.
var ErrWindowClosed = errs.New(errs.ErrConflict, "reply_window_closed",
	"the customer last wrote on this channel too long ago; only an approved template can be sent")

// Send queues an agent's reply: the message (status queued) and its delivery
// job are written in one transaction; the job sends it.
func (s *Service) Send(ctx context.Context, actor event.Actor, workspaceID, conversationID string, r Reply) (Message, error) {
	v := &errs.Validation{}
	if strings.TrimSpace(r.Text) == "" && len(r.Attachments) == 0 && r.Template == nil {
		v.Add("text", "a reply needs text, attachments or a template")
	}
	if r.Template != nil && (strings.TrimSpace(r.Template.Name) == "" || len(r.Template.Name) > 512) {
		v.Add("template.name", "must be 1 to 512 characters")
	}
	if len(r.Text) > MaxTextBytes {
		v.Add("text", fmt.Sprintf("must be at most %d bytes", MaxTextBytes))
	}
	if err := v.OrNil(); err != nil {
		return Message{}, err
	}
	if r.HTML != "" {
		r.HTML = s.Sanitize(r.HTML)
	}
	var m Message
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		c, err := s.get(ctx, tx, workspaceID, conversationID)
		if err != nil {
			return err
		}
		ib, err := s.pickInbox(ctx, tx, c, r.Channel)
		if err != nil {
			return err
		}
		now := store.Now()
		if t, _ := s.inboxes.Type(ib.Type); t.ReplyWindow > 0 && r.Template == nil {
			var last int64
			if err := tx.QueryRow(ctx, q.Get(tx.Dialect(), "last-inbound"), c.CustomerID, ib.ID).Scan(&last); err != nil {
				return err
			}
			if now-last > t.ReplyWindow.Milliseconds() {
				return ErrWindowClosed
			}
		}
		author := actor.ID
		m = Message{ID: store.NewID(), WorkspaceID: workspaceID, ConversationID: c.ID, CustomerID: c.CustomerID, InboxID: ib.ID,
			Channel: ib.Type, Kind: KindMessage, Direction: DirectionOut, AuthorKind: authorKind(actor), AuthorID: &author,
			Text: r.Text, HTML: r.HTML, Attachments: r.Attachments, Status: StatusQueued, CreatedAt: now, UpdatedAt: now}
		if r.Template != nil {
			raw, _ := json.Marshal(r.Template)
			m.ContentType, m.Raw = "template", string(raw)
			if m.Text == "" {
				m.Text = r.Template.Name
			}
		}
		if m.Attachments == nil {
			m.Attachments = []Attachment{}
		}
		if err := s.insertMessage(ctx, tx, &m); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "touch-outbound"), workspaceID, c.ID, now); err != nil {
			return err
		}
		if err := s.outbox(ctx, tx, workspaceID, DeliverJob, DeliverPayload{MessageID: m.ID}); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.MessageCreated, CustomerID: c.CustomerID,
			ConversationID: c.ID, Actor: actor, Data: m})
		return err
	})
	return m, err
}

func authorKind(a event.Actor) string {
	if a.Kind == event.ActorSystem {
		return AuthorSystem
	}
	return AuthorAgent
}

// pickInbox chooses the inbox a reply goes out through: the conversation's
// last inbox, or the first inbox of the asked channel that can reach one of
// the customer's identities.
func (s *Service) pickInbox(ctx context.Context, tx *store.Tx, c Conversation, channel string) (inbox.Inbox, error) {
	if channel == "" || channel == c.LastChannel {
		ib, err := s.inboxes.GetTx(ctx, tx, c.WorkspaceID, c.LastInboxID)
		if err != nil {
			return inbox.Inbox{}, errs.New(errs.ErrConflict, "inbox_gone", "the conversation's inbox no longer exists; pick another channel")
		}
		return ib, nil
	}
	if _, ok := s.inboxes.Type(channel); !ok {
		return inbox.Inbox{}, errs.Invalid("channel", "is not a known channel")
	}
	cust, err := s.customers.GetTx(ctx, tx, c.WorkspaceID, c.CustomerID)
	if err != nil {
		return inbox.Inbox{}, err
	}
	ibs, err := s.inboxes.ListType(ctx, tx, c.WorkspaceID, channel)
	if err != nil {
		return inbox.Inbox{}, err
	}
	if len(ibs) == 0 {
		return inbox.Inbox{}, errs.New(errs.ErrConflict, "channel_unavailable", "this workspace has no %s inbox", channel)
	}
	t, _ := s.inboxes.Type(channel)
	if len(t.Reach) == 0 {
		return ibs[0], nil
	}
	for _, id := range cust.Identities {
		if slices.Contains(t.Reach, id.Kind) {
			return ibs[0], nil
		}
	}
	return inbox.Inbox{}, errs.New(errs.ErrConflict, "channel_unreachable", "the customer has no identity the %s channel can reach", channel)
}

// AddNote adds a private note, seen by agents only.
func (s *Service) AddNote(ctx context.Context, actor event.Actor, workspaceID, conversationID, text string) (Message, error) {
	if strings.TrimSpace(text) == "" || len(text) > MaxTextBytes {
		return Message{}, errs.Invalid("text", fmt.Sprintf("must be 1 to %d bytes", MaxTextBytes))
	}
	var m Message
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		c, err := s.get(ctx, tx, workspaceID, conversationID)
		if err != nil {
			return err
		}
		now := store.Now()
		author := actor.ID
		m = Message{ID: store.NewID(), WorkspaceID: workspaceID, ConversationID: c.ID, CustomerID: c.CustomerID, InboxID: c.LastInboxID,
			Channel: c.LastChannel, Kind: KindNote, Direction: DirectionInternal, AuthorKind: authorKind(actor), AuthorID: &author,
			Text: text, Attachments: []Attachment{}, Status: StatusSent, CreatedAt: now, UpdatedAt: now}
		if err := s.insertMessage(ctx, tx, &m); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.NoteCreated, CustomerID: c.CustomerID,
			ConversationID: c.ID, Actor: actor, Data: m})
		return err
	})
	return m, err
}

// statusRank orders delivery statuses so that reports arriving out of order
// never move a message backwards. A delivered or read report wins over a
// failure.
var statusRank = map[string]int{StatusQueued: 0, StatusSent: 1, StatusFailed: 2, StatusDelivered: 3, StatusRead: 4}

// SetStatus records a delivery status of an outbound message inside tx. A
// status ranked below the current one is ignored (returns false).
func (s *Service) SetStatus(ctx context.Context, tx *store.Tx, workspaceID, messageID, status, reason, providerID string) (bool, error) {
	if _, ok := statusRank[status]; !ok {
		return false, errs.Invalid("status", "must be one of queued, sent, delivered, read, failed")
	}
	m, err := s.getMessage(ctx, tx, workspaceID, messageID)
	if err != nil {
		return false, err
	}
	if m.Direction != DirectionOut || statusRank[status] <= statusRank[m.Status] {
		return false, nil
	}
	if status != StatusFailed {
		reason = ""
	}
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "set-message-status"), workspaceID, messageID, status, reason,
		nullable(providerID), store.Now()); err != nil {
		return false, fmt.Errorf("set message status: %w", err)
	}
	_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.MessageStatusChanged, CustomerID: m.CustomerID,
		ConversationID: m.ConversationID, Actor: event.System,
		Data: map[string]any{"message_id": m.ID, "from": m.Status, "status": status, "reason": reason, "provider_id": providerID}})
	return true, err
}

// Requeue puts a failed outbound message back in the queue, for a delivery
// that someone asked to try again. The status machine never moves backwards
// on its own; this is the one deliberate way back.
func (s *Service) Requeue(ctx context.Context, tx *store.Tx, workspaceID, messageID string) error {
	m, err := s.getMessage(ctx, tx, workspaceID, messageID)
	if err != nil {
		return err
	}
	if m.Direction != DirectionOut || m.Status != StatusFailed {
		return nil
	}
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "set-message-status"), workspaceID, messageID, StatusQueued, "", nil, store.Now()); err != nil {
		return fmt.Errorf("requeue message: %w", err)
	}
	_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.MessageStatusChanged, CustomerID: m.CustomerID,
		ConversationID: m.ConversationID, Actor: event.System,
		Data: map[string]any{"message_id": m.ID, "from": m.Status, "status": StatusQueued, "reason": "retry"}})
	return err
}

// ProviderStatus applies a provider's delivery report inside tx. The message
// is found by our id when the provider echoes it, else by the provider's id
// on the inbox. A report about an unknown message is ignored (false).
func (s *Service) ProviderStatus(ctx context.Context, tx *store.Tx, workspaceID, inboxID, messageID, providerID, status, reason string) (bool, error) {
	if messageID == "" {
		err := tx.QueryRow(ctx, q.Get(tx.Dialect(), "outbound-by-provider-id"), inboxID, providerID).Scan(&messageID)
		if errors.Is(err, errs.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	ok, err := s.SetStatus(ctx, tx, workspaceID, messageID, status, reason, providerID)
	if errors.Is(err, errs.ErrNotFound) {
		return false, nil
	}
	return ok, err
}

// SetAttachment replaces one attachment of a message inside tx (the media
// worker's fetched copy) and tells the timeline.
func (s *Service) SetAttachment(ctx context.Context, tx *store.Tx, workspaceID, messageID string, index int, a Attachment) error {
	m, err := s.getMessage(ctx, tx, workspaceID, messageID)
	if err != nil {
		return err
	}
	if index < 0 || index >= len(m.Attachments) {
		return fmt.Errorf("message %s has no attachment %d: %w", messageID, index, errs.ErrNotFound)
	}
	m.Attachments[index] = a
	atts, _ := json.Marshal(m.Attachments)
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "set-attachments"), workspaceID, messageID, string(atts), store.Now()); err != nil {
		return fmt.Errorf("set attachment: %w", err)
	}
	_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.MessageUpdated, CustomerID: m.CustomerID,
		ConversationID: m.ConversationID, Actor: event.System,
		Data: map[string]any{"message_id": m.ID, "attachments": m.Attachments}})
	return err
}

// GetMessageTx returns a message inside a transaction.
func (s *Service) GetMessageTx(ctx context.Context, tx *store.Tx, workspaceID, id string) (Message, error) {
	return s.getMessage(ctx, tx, workspaceID, id)
}

// DB returns the service's database, for callers composing writes.
func (s *Service) DB() *store.DB { return s.db }

package conversation

import (
	"context"
	"errors"
	"strings"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
)

// Receipt says that a user read a conversation up to a message.
type Receipt struct {
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	MessageID      string `json:"message_id"`
	ReadAt         int64  `json:"read_at"`
	Seq            int64  `json:"seq"` // of the conversation.read event
}

// MarkRead records that the acting user read the conversation up to
// messageID (a message or note of that conversation) by appending a
// conversation.read event {user_id, message_id, read_at}. Receipts are not
// deduplicated: marking the same message twice appends two events.
func (s *Service) MarkRead(ctx context.Context, actor event.Actor, workspaceID, conversationID, messageID string) (Receipt, error) {
	if actor.Kind != event.ActorUser || actor.ID == "" {
		return Receipt{}, errs.New(errs.ErrForbidden, "forbidden", "only a user can mark a conversation read")
	}
	messageID = strings.TrimSpace(messageID)
	r := Receipt{ConversationID: conversationID, UserID: actor.ID, MessageID: messageID}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		// The conversation first: another workspace's id is 404 whatever the body.
		c, err := s.get(ctx, tx, workspaceID, conversationID)
		if err != nil {
			return err
		}
		if messageID == "" {
			return errs.Invalid("message_id", "is required")
		}
		m, err := s.getMessage(ctx, tx, workspaceID, messageID)
		if errors.Is(err, errs.ErrNotFound) || (err == nil && m.ConversationID != c.ID) {
			return errs.Invalid("message_id", "is not a message of this conversation")
		}
		if err != nil {
			return err
		}
		r.ReadAt = store.Now()
		// The type becomes event.ConversationRead once that constant exists.
		ev, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: event.ConversationRead, CustomerID: c.CustomerID,
			ConversationID: c.ID, Actor: actor,
			Data: map[string]any{"user_id": r.UserID, "message_id": r.MessageID, "read_at": r.ReadAt}})
		r.Seq = ev.Seq
		return err
	})
	if err != nil {
		return Receipt{}, err
	}
	return r, nil
}

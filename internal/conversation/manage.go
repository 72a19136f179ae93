package conversation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
)

// Cursor is a position in a list ordered by time and id.
type Cursor struct {
	At int64
	ID string
}

// Encode writes the cursor as an opaque string.
func (c Cursor) Encode() string {
	if c.ID == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At, 10) + "|" + c.ID))
}

// DecodeCursor reads what Encode wrote; "" is the zero cursor.
func DecodeCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errs.Invalid("cursor", "is not a cursor this API returned")
	}
	at, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, errs.Invalid("cursor", "is not a cursor this API returned")
	}
	return Cursor{At: n, ID: id}, nil
}

// Filter selects conversations for a list view. Empty fields do not filter.
type Filter struct {
	Status   string
	Assignee string // a user id, or "none" for unassigned
	Team     string
	Inbox    string
	Label    string
	Channel  string
	Customer string
}

// List returns conversations newest activity first, after the cursor.
func (s *Service) List(ctx context.Context, workspaceID string, f Filter, after Cursor, limit int) ([]Conversation, error) {
	v := &errs.Validation{}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		v.Add("status", "must be one of "+strings.Join(statuses, ", "))
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	var sb strings.Builder
	args := []any{workspaceID}
	arg := func(a any) string {
		args = append(args, a)
		return "$" + strconv.Itoa(len(args))
	}
	sb.WriteString(q.Get(s.db.Dialect(), "list-conversations-base"))
	if f.Status != "" {
		sb.WriteString(" AND c.status = " + arg(f.Status))
	}
	switch f.Assignee {
	case "":
	case "none":
		sb.WriteString(" AND c.assignee_id IS NULL")
	default:
		sb.WriteString(" AND c.assignee_id = " + arg(f.Assignee))
	}
	if f.Team != "" {
		sb.WriteString(" AND c.team_id = " + arg(f.Team))
	}
	if f.Inbox != "" {
		p := arg(f.Inbox)
		sb.WriteString(" AND (c.inbox_id = " + p + " OR c.last_inbox_id = " + p + ")")
	}
	if f.Channel != "" {
		sb.WriteString(" AND c.last_channel = " + arg(f.Channel))
	}
	if f.Customer != "" {
		sb.WriteString(" AND c.customer_id = " + arg(f.Customer))
	}
	if f.Label != "" {
		sb.WriteString(" AND EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = c.id AND l.label = " + arg(f.Label) + ")")
	}
	if after.ID != "" {
		at, id := arg(after.At), arg(after.ID)
		// A row-value comparison, so PostgreSQL walks the list index from the cursor.
		sb.WriteString(" AND (c.last_activity_at, c.id) < (" + at + ", " + id + ")")
	}
	sb.WriteString(" ORDER BY c.last_activity_at DESC, c.id DESC LIMIT " + arg(limit))
	rows, err := s.db.Reader().Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	defer rows.Close()
	out := []Conversation{}
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Patch is a partial update of a conversation; nil fields stay. Clearing the
// assignee or team is done with ClearAssignee / ClearTeam.
type Patch struct {
	Status        *string
	SnoozedUntil  *int64
	Priority      *string
	AssigneeID    *string
	ClearAssignee bool
	TeamID        *string
	ClearTeam     bool
	Labels        *[]string
	Subject       *string
}

// Update applies a patch and appends a conversation.updated event listing
// what changed.
func (s *Service) Update(ctx context.Context, actor event.Actor, workspaceID, id string, p Patch) (Conversation, error) {
	v := &errs.Validation{}
	if p.Status != nil && !slices.Contains(statuses, *p.Status) {
		v.Add("status", "must be one of "+strings.Join(statuses, ", "))
	}
	if p.Status != nil && *p.Status == StatusSnoozed && p.SnoozedUntil == nil {
		v.Add("snoozed_until", "is required when snoozing")
	}
	if p.Priority != nil && !slices.Contains(priorities, *p.Priority) {
		v.Add("priority", "must be one of "+strings.Join(priorities, ", "))
	}
	if p.Labels != nil {
		if len(*p.Labels) > 50 {
			v.Add("labels", "at most 50 labels")
		}
		for _, l := range *p.Labels {
			if len(l) > 100 {
				v.Add("labels", "each label must be at most 100 characters")
			}
		}
	}
	if p.Subject != nil && len(*p.Subject) > 500 {
		v.Add("subject", "must be at most 500 characters")
	}
	if err := v.OrNil(); err != nil {
		return Conversation{}, err
	}
	var c Conversation
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if c, err = s.get(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		before := c
		changes := map[string]any{}
		d := tx.Dialect()
		now := store.Now()
		if p.Status != nil && *p.Status != c.Status {
			c.Status = *p.Status
			switch c.Status {
			case StatusResolved:
				c.ResolvedAt = &now
			default:
				c.ResolvedAt = nil
			}
		}
		if c.Status == StatusSnoozed {
			if p.SnoozedUntil != nil {
				c.SnoozedUntil = p.SnoozedUntil
			}
		} else {
			c.SnoozedUntil = nil
		}
		if p.Priority != nil {
			c.Priority = *p.Priority
		}
		if p.ClearAssignee {
			c.AssigneeID = nil
		} else if p.AssigneeID != nil {
			var uid string
			if err := tx.QueryRow(ctx, q.Get(d, "member-exists"), workspaceID, *p.AssigneeID).Scan(&uid); err != nil {
				if errors.Is(err, errs.ErrNotFound) {
					return errs.Invalid("assignee_id", "is not a member of this workspace")
				}
				return err
			}
			c.AssigneeID = p.AssigneeID
		}
		if p.ClearTeam {
			c.TeamID = nil
		} else if p.TeamID != nil {
			var tid string
			if err := tx.QueryRow(ctx, q.Get(d, "team-exists"), workspaceID, *p.TeamID).Scan(&tid); err != nil {
				if errors.Is(err, errs.ErrNotFound) {
					return errs.Invalid("team_id", "is not a team of this workspace")
				}
				return err
			}
			c.TeamID = p.TeamID
		}
		if p.Subject != nil {
			c.Subject = strings.TrimSpace(*p.Subject)
		}
		if p.Labels != nil {
			c.Labels = normLabels(*p.Labels)
		}
		diff(changes, "status", before.Status, c.Status)
		diff(changes, "priority", before.Priority, c.Priority)
		diff(changes, "assignee_id", deref(before.AssigneeID), deref(c.AssigneeID))
		diff(changes, "team_id", deref(before.TeamID), deref(c.TeamID))
		diff(changes, "subject", before.Subject, c.Subject)
		if !slices.Equal(before.Labels, c.Labels) {
			changes["labels"] = map[string]any{"from": before.Labels, "to": c.Labels}
		}
		if before.SnoozedUntil != c.SnoozedUntil && (before.SnoozedUntil == nil || c.SnoozedUntil == nil || *before.SnoozedUntil != *c.SnoozedUntil) {
			changes["snoozed_until"] = map[string]any{"from": before.SnoozedUntil, "to": c.SnoozedUntil}
		}
		if len(changes) == 0 {
			return nil
		}
		c.UpdatedAt = now
		labels, _ := json.Marshal(c.Labels)
		if _, err := tx.Exec(ctx, q.Get(d, "update-conversation"), workspaceID, id, c.Status, c.Priority, nullPtr(c.AssigneeID),
			nullPtr(c.TeamID), c.Subject, string(labels), nullPtr(c.SnoozedUntil), nullPtr(c.ResolvedAt), now); err != nil {
			return fmt.Errorf("update conversation: %w", err)
		}
		if _, ok := changes["labels"]; ok {
			if _, err := tx.Exec(ctx, q.Get(d, "delete-labels"), id); err != nil {
				return err
			}
			for _, l := range c.Labels {
				if _, err := tx.Exec(ctx, q.Get(d, "insert-label"), workspaceID, id, l); err != nil {
					return err
				}
			}
		}
		c.derive()
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.ConversationUpdated, CustomerID: c.CustomerID,
			ConversationID: c.ID, Actor: actor, Data: map[string]any{"changes": changes, "conversation": c}})
		return err
	})
	return c, err
}

func diff(m map[string]any, k, from, to string) {
	if from != to {
		m[k] = map[string]any{"from": from, "to": to}
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

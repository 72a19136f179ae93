// Package conversation keeps conversations, their messages and private notes:
// ingest of inbound messages (dedupe, identity, threading with continuity),
// replies through the outbox, the status machine and the list views.
package conversation

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/microcosm-cc/bluemonday"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/workspace"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Statuses of a conversation.
const (
	StatusOpen     = "open"
	StatusPending  = "pending"
	StatusSnoozed  = "snoozed"
	StatusResolved = "resolved"
)

// Priorities of a conversation.
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityHigh   = "high"
	PriorityUrgent = "urgent"
)

// Message kinds, directions, authors and delivery statuses.
const (
	KindMessage = "message"
	KindNote    = "note"

	DirectionIn       = "in"
	DirectionOut      = "out"
	DirectionInternal = "internal"

	AuthorCustomer = "customer"
	AuthorAgent    = "agent"
	AuthorBot      = "bot"
	AuthorSystem   = "system"

	StatusQueued    = "queued"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
	StatusReceived  = "received"
)

var (
	statuses   = []string{StatusOpen, StatusPending, StatusSnoozed, StatusResolved}
	priorities = []string{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}
)

// Conversation is a thread of work with one customer.
type Conversation struct {
	ID                   string   `json:"id"`
	WorkspaceID          string   `json:"workspace_id"`
	CustomerID           string   `json:"customer_id"`
	InboxID              string   `json:"inbox_id"`
	Channel              string   `json:"channel"`
	LastInboxID          string   `json:"last_inbox_id"`
	LastChannel          string   `json:"last_channel"`
	Status               string   `json:"status"`
	Priority             string   `json:"priority"`
	AssigneeID           *string  `json:"assignee_id"`
	TeamID               *string  `json:"team_id"`
	Subject              string   `json:"subject"`
	Labels               []string `json:"labels"`
	SnoozedUntil         *int64   `json:"snoozed_until"`
	CreatedAt            int64    `json:"created_at"`
	UpdatedAt            int64    `json:"updated_at"`
	LastActivityAt       int64    `json:"last_activity_at"`
	LastInboundAt        *int64   `json:"last_inbound_at"`
	FirstResponseAt      *int64   `json:"first_response_at"`
	ResolvedAt           *int64   `json:"resolved_at"`
	FirstResponseSeconds *float64 `json:"first_response_seconds"`
	ResolutionSeconds    *float64 `json:"resolution_seconds"`
}

func (c *Conversation) derive() {
	c.FirstResponseSeconds, c.ResolutionSeconds = nil, nil
	if c.FirstResponseAt != nil {
		s := float64(*c.FirstResponseAt-c.CreatedAt) / 1000
		c.FirstResponseSeconds = &s
	}
	if c.ResolvedAt != nil {
		s := float64(*c.ResolvedAt-c.CreatedAt) / 1000
		c.ResolutionSeconds = &s
	}
}

// Attachment is a file carried by a message; the bytes live elsewhere.
type Attachment struct {
	URL         string `json:"url"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	// Ref is the provider's handle of a file Kanal has not fetched yet (a
	// WhatsApp media id); the media worker downloads it once, stores it and
	// sets URL to Kanal's own copy. SHA256 (hex), when the provider gives
	// it, is checked on download.
	Ref    string `json:"ref,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// FetchMediaJob is the job kind that downloads a provider-held attachment.
const FetchMediaJob = "fetch_media"

// FetchMediaPayload is the payload of a FetchMediaJob.
type FetchMediaPayload struct {
	MessageID string `json:"message_id"`
	Index     int    `json:"index"`
}

// Message is one message or private note in a conversation.
type Message struct {
	ID             string       `json:"id"`
	WorkspaceID    string       `json:"workspace_id"`
	ConversationID string       `json:"conversation_id"`
	CustomerID     string       `json:"customer_id"`
	InboxID        string       `json:"inbox_id"`
	Channel        string       `json:"channel"`
	Kind           string       `json:"kind"`
	Direction      string       `json:"direction"`
	AuthorKind     string       `json:"author_kind"`
	AuthorID       *string      `json:"author_id"`
	Text           string       `json:"text"`
	HTML           string       `json:"html"`
	Attachments    []Attachment `json:"attachments"`
	ProviderID     *string      `json:"provider_id"`
	Status         string       `json:"status"`
	StatusReason   string       `json:"status_reason"`
	CreatedAt      int64        `json:"created_at"`
	UpdatedAt      int64        `json:"updated_at"`
	// ContentType is text, image, audio, video, document, sticker,
	// location, contacts, interactive, reaction, template or unsupported.
	ContentType string `json:"content_type"`
	// Raw keeps the provider's payload of a message Kanal could not fully
	// map (and a template's parameters on outbound).
	Raw string `json:"raw,omitempty"`
}

// Service manages conversations and messages.
type Service struct {
	db        *store.DB
	log       *event.Log
	ws        *workspace.Service
	customers *customer.Service
	inboxes   *inbox.Service
	outbox    Enqueuer
	policy    *bluemonday.Policy
}

// Enqueuer queues a job inside a transaction.
type Enqueuer func(ctx context.Context, tx *store.Tx, workspaceID, kind string, payload any) error

// DeliverJob is the job kind that sends an outbound message.
const DeliverJob = "deliver_message"

// DeliverPayload is the payload of a DeliverJob.
type DeliverPayload struct {
	MessageID string `json:"message_id"`
}

// NewService returns the conversation service. enqueue queues delivery jobs.
func NewService(db *store.DB, log *event.Log, ws *workspace.Service, customers *customer.Service, inboxes *inbox.Service, enqueue Enqueuer) *Service {
	return &Service{db: db, log: log, ws: ws, customers: customers, inboxes: inboxes, outbox: enqueue, policy: bluemonday.UGCPolicy()}
}

// Sanitize makes customer-supplied HTML safe to show.
func (s *Service) Sanitize(html string) string { return s.policy.Sanitize(html) }

type scanner interface{ Scan(dest ...any) error }

func scanConversation(r scanner) (Conversation, error) {
	var c Conversation
	var assignee, team sql.NullString
	var snoozed, inbound, first, resolved sql.NullInt64
	var labels string
	if err := r.Scan(&c.ID, &c.WorkspaceID, &c.CustomerID, &c.InboxID, &c.Channel, &c.LastInboxID, &c.LastChannel, &c.Status,
		&c.Priority, &assignee, &team, &c.Subject, &labels, &snoozed, &c.CreatedAt, &c.UpdatedAt, &c.LastActivityAt,
		&inbound, &first, &resolved); err != nil {
		return Conversation{}, err
	}
	c.AssigneeID, c.TeamID = ptrString(assignee), ptrString(team)
	c.SnoozedUntil, c.LastInboundAt, c.FirstResponseAt, c.ResolvedAt = ptrInt(snoozed), ptrInt(inbound), ptrInt(first), ptrInt(resolved)
	c.Labels = []string{}
	if err := json.Unmarshal([]byte(labels), &c.Labels); err != nil {
		return Conversation{}, fmt.Errorf("conversation %s: labels: %w", c.ID, err)
	}
	c.derive()
	return c, nil
}

func scanMessage(r scanner) (Message, error) {
	var m Message
	var author, provider sql.NullString
	var atts string
	if err := r.Scan(&m.ID, &m.WorkspaceID, &m.ConversationID, &m.CustomerID, &m.InboxID, &m.Channel, &m.Kind, &m.Direction,
		&m.AuthorKind, &author, &m.Text, &m.HTML, &atts, &provider, &m.Status, &m.StatusReason, &m.CreatedAt, &m.UpdatedAt,
		&m.ContentType, &m.Raw); err != nil {
		return Message{}, err
	}
	m.AuthorID, m.ProviderID = ptrString(author), ptrString(provider)
	m.Attachments = []Attachment{}
	if err := json.Unmarshal([]byte(atts), &m.Attachments); err != nil {
		return Message{}, fmt.Errorf("message %s: attachments: %w", m.ID, err)
	}
	return m, nil
}

func ptrString(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	return &n.String
}

func ptrInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullPtr[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// Get returns a conversation of the workspace.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Conversation, error) {
	return s.get(ctx, s.db.Reader(), workspaceID, id)
}

func (s *Service) get(ctx context.Context, r store.Querier, workspaceID, id string) (Conversation, error) {
	c, err := scanConversation(r.QueryRow(ctx, q.Get(r.Dialect(), "get-conversation"), workspaceID, id))
	if err != nil {
		return Conversation{}, fmt.Errorf("conversation %s: %w", id, err)
	}
	return c, nil
}

// GetMessage returns a message of the workspace.
func (s *Service) GetMessage(ctx context.Context, workspaceID, id string) (Message, error) {
	return s.getMessage(ctx, s.db.Reader(), workspaceID, id)
}

func (s *Service) getMessage(ctx context.Context, r store.Querier, workspaceID, id string) (Message, error) {
	m, err := scanMessage(r.QueryRow(ctx, q.Get(r.Dialect(), "get-message"), workspaceID, id))
	if err != nil {
		return Message{}, fmt.Errorf("message %s: %w", id, err)
	}
	return m, nil
}

// Messages lists a conversation's messages and notes, oldest first, after
// the cursor (zero: from the start).
func (s *Service) Messages(ctx context.Context, workspaceID, conversationID string, after Cursor, limit int) ([]Message, error) {
	if _, err := s.Get(ctx, workspaceID, conversationID); err != nil {
		return nil, err
	}
	r := s.db.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "list-messages"), workspaceID, conversationID, after.At, after.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *Service) insertMessage(ctx context.Context, tx *store.Tx, m *Message) error {
	atts, _ := json.Marshal(m.Attachments)
	if m.Attachments == nil {
		atts = []byte("[]")
	}
	_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert-message"), m.ID, m.WorkspaceID, m.ConversationID, m.CustomerID, m.InboxID,
		m.Channel, m.Kind, m.Direction, m.AuthorKind, nullPtr(m.AuthorID), m.Text, m.HTML, string(atts), nullPtr(m.ProviderID),
		m.Status, m.StatusReason, m.CreatedAt, m.contentType(), m.Raw)
	if err != nil {
		return fmt.Errorf("insert message: %w", err)
	}
	return nil
}

func (m *Message) contentType() string {
	if m.ContentType == "" {
		m.ContentType = "text"
	}
	return m.ContentType
}

func normLabels(in []string) []string {
	out := make([]string, 0, len(in))
	for _, l := range in {
		l = strings.TrimSpace(l)
		if l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// Package event is Kanal's event log: every mutation appends typed events in
// the same transaction as the change, numbered by a gap-free per-workspace
// seq. The log is the customer timeline, the real-time feed and the outbox.
package event

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"

	"github.com/kanal-dev/kanal/internal/store"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Types of events.
const (
	WorkspaceCreated     = "workspace.created"
	UserCreated          = "user.created"
	MembershipChanged    = "membership.changed"
	MembershipRemoved    = "membership.removed"
	TeamCreated          = "team.created"
	TeamUpdated          = "team.updated"
	TeamDeleted          = "team.deleted"
	InboxCreated         = "inbox.created"
	InboxUpdated         = "inbox.updated"
	InboxDeleted         = "inbox.deleted"
	CustomerCreated      = "customer.created"
	CustomerUpdated      = "customer.updated"
	IdentityAdded        = "customer.identity_added"
	IdentityChanged      = "customer.identity_changed"
	CustomerMerged       = "customer.merged"   // data: {merge, survivor}; on the survivor's timeline
	CustomerUnmerged     = "customer.unmerged" // data: {merge, restored}; on the survivor's timeline
	CustomerActivity     = "customer.activity" // a shop or app event; data: {id, type, occurred_at, idempotency_key, data}
	ConversationCreated  = "conversation.created"
	ConversationUpdated  = "conversation.updated"
	ConversationRead     = "conversation.read"
	MessageCreated       = "message.created"
	MessageStatusChanged = "message.status_changed"
	MessageUpdated       = "message.updated"
	NoteCreated          = "note.created"
	JobDead              = "job.dead"
	WorkspaceUpdated     = "workspace.updated"
	TokenCreated         = "token.created"
	TokenRevoked         = "token.revoked"
)

// Actor kinds.
const (
	ActorUser     = "user"
	ActorCustomer = "customer"
	ActorSystem   = "system"
	ActorAPI      = "api"
)

// Event is one entry of the log.
type Event struct {
	ID             int64           `json:"-"`
	WorkspaceID    string          `json:"workspace_id"`
	Seq            int64           `json:"seq"`
	Type           string          `json:"type"`
	CustomerID     string          `json:"customer_id,omitempty"`
	ConversationID string          `json:"conversation_id,omitempty"`
	ActorKind      string          `json:"actor_kind"`
	ActorID        string          `json:"actor_id,omitempty"`
	Data           json.RawMessage `json:"data"`
	CreatedAt      int64           `json:"created_at"`
}

// Actor is who caused a change.
type Actor struct {
	Kind string
	ID   string
}

// System is the actor for Kanal's own changes.
var System = Actor{Kind: ActorSystem}

// New describes an event to append.
type New struct {
	Type           string
	CustomerID     string
	ConversationID string
	Actor          Actor
	Data           any
}

// Notifier is told, after commit, that new events exist.
type Notifier interface{ Notify() }

// Log appends to and reads the event log.
type Log struct {
	db       *store.DB
	notifier Notifier
}

// NewLog returns the event log of db. n (may be nil) is told after every
// commit that appended events.
func NewLog(db *store.DB, n Notifier) *Log { return &Log{db: db, notifier: n} }

// Append writes e into the log inside tx, taking the workspace's next seq.
func (l *Log) Append(ctx context.Context, tx *store.Tx, workspaceID string, e New) (Event, error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: encode: %w", e.Type, err)
	}
	if e.Data == nil {
		data = []byte("{}")
	}
	ev := Event{
		WorkspaceID: workspaceID, Type: e.Type, CustomerID: e.CustomerID,
		ConversationID: e.ConversationID, ActorKind: e.Actor.Kind, ActorID: e.Actor.ID,
		Data: data, CreatedAt: store.Now(),
	}
	if ev.ActorKind == "" {
		ev.ActorKind = ActorSystem
	}
	if tx.Dialect() == store.Postgres {
		if err := tx.QueryRow(ctx, q.Get(tx.Dialect(), "next-seq"), workspaceID).Scan(&ev.Seq); err != nil {
			return Event{}, fmt.Errorf("event %s: next seq: %w", e.Type, err)
		}
	}
	if err := tx.QueryRow(ctx, q.Get(tx.Dialect(), "insert"), ev.WorkspaceID, ev.Seq, ev.Type,
		nullable(ev.CustomerID), nullable(ev.ConversationID), ev.ActorKind, nullable(ev.ActorID),
		string(ev.Data), ev.CreatedAt).Scan(&ev.ID, &ev.Seq); err != nil {
		return Event{}, fmt.Errorf("event %s: insert: %w", e.Type, err)
	}
	if l.notifier != nil {
		tx.AfterCommit(l.notifier.Notify)
	}
	return ev, nil
}

// After returns up to limit events of the workspace with seq > after, in order.
func (l *Log) After(ctx context.Context, workspaceID string, after int64, limit int) ([]Event, error) {
	r := l.db.Reader()
	return scanAll(r.Query(ctx, q.Get(r.Dialect(), "list-after"), workspaceID, after, limit))
}

// ForCustomer returns up to limit events about a customer with seq < before,
// newest first. before <= 0 starts at the newest.
func (l *Log) ForCustomer(ctx context.Context, workspaceID, customerID string, before int64, limit int) ([]Event, error) {
	if before <= 0 {
		before = 1<<62 - 1
	}
	r := l.db.Reader()
	return scanAll(r.Query(ctx, q.Get(r.Dialect(), "list-customer"), workspaceID, customerID, before, limit))
}

// ForCustomers is ForCustomer over several customers at once: a survivor
// and the customers merged into it (customer.Service.TimelineIDs), whose
// events keep their own customer_id in the log.
func (l *Log) ForCustomers(ctx context.Context, workspaceID string, customerIDs []string, before int64, limit int) ([]Event, error) {
	if len(customerIDs) == 1 {
		return l.ForCustomer(ctx, workspaceID, customerIDs[0], before, limit)
	}
	if before <= 0 {
		before = 1<<62 - 1
	}
	ids, err := json.Marshal(customerIDs)
	if err != nil {
		return nil, err
	}
	r := l.db.Reader()
	return scanAll(r.Query(ctx, q.Get(r.Dialect(), "list-customers"), workspaceID, string(ids), before, limit))
}

// Tail returns up to limit events of all workspaces with a log id > afterID,
// in commit order. The dispatcher uses it.
func (l *Log) Tail(ctx context.Context, afterID int64, limit int) ([]Event, error) {
	r := l.db.Reader()
	return scanAll(r.Query(ctx, q.Get(r.Dialect(), "tail"), afterID, limit))
}

// MaxID returns the id of the newest event.
func (l *Log) MaxID(ctx context.Context) (int64, error) {
	r := l.db.Reader()
	var id int64
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "max-id")).Scan(&id)
	return id, err
}

func scanAll(rows *sql.Rows, err error) ([]Event, error) {
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var cust, conv, actor sql.NullString
		var data string
		if err := rows.Scan(&e.ID, &e.WorkspaceID, &e.Seq, &e.Type, &cust, &conv, &e.ActorKind, &actor, &data, &e.CreatedAt); err != nil {
			return nil, fmt.Errorf("events: scan: %w", err)
		}
		e.CustomerID, e.ConversationID, e.ActorID = cust.String, conv.String, actor.String
		e.Data = json.RawMessage(data)
		out = append(out, e)
	}
	return out, rows.Err()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

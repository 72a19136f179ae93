package channel

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/workspace"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Message is one inbound customer message in Kanal's normal form.
type Message struct {
	// ProviderID is the provider's message id: the idempotency key.
	ProviderID  string
	Claims      []customer.Claim
	Profile     customer.Profile
	Text        string
	HTML        string
	Subject     string
	Attachments []conversation.Attachment
	ContentType string // text, image, ..., unsupported
	Raw         string // the provider's payload, for types shown generically
	At          time.Time
	// ConversationHint and ThreadKeys: see conversation.Inbound.
	ConversationHint string
	ThreadKeys       []string
}

// Status is a provider's delivery report about an outbound message.
type Status struct {
	ProviderMessageID string
	MessageID         string // Kanal's id, when the provider echoes it back
	Status            string // sent, delivered, read, failed
	Reason            string
}

// IdentityChange moves a customer's identity to a new value.
type IdentityChange struct {
	Kind, Old, New string
}

// Batch is what one webhook call carries.
type Batch struct {
	Messages   []Message
	Statuses   []Status
	Identities []IdentityChange
	// Reply, when set, writes the 2xx answer the provider expects (TwiML,
	// a challenge); otherwise Kanal answers 200 {"ok":true}.
	Reply func(w http.ResponseWriter)
}

// Receiver is implemented by the adapters whose providers call Kanal.
type Receiver interface {
	// Verify authenticates a call over its raw body, before anything is
	// parsed: an error wrapping ErrBadSignature refuses it.
	Verify(in inbox.Inbox, r *http.Request, publicURL string, body []byte) error
	// Parse reads a verified call. ErrUnknownAccount: the payload is for an
	// account that is not this inbox's. Any other error is a malformed call.
	Parse(in inbox.Inbox, r *http.Request, body []byte) (Batch, error)
}

// Challenger is implemented by adapters whose provider verifies the webhook
// URL with a GET (Meta's hub.challenge).
type Challenger interface {
	Challenge(in inbox.Inbox, r *http.Request) (status int, body string)
}

// Errors adapters return.
var (
	ErrBadSignature   = errs.New(errs.ErrUnauthenticated, "bad_signature", "the webhook signature does not match")
	ErrUnknownAccount = errs.New(errs.ErrNotFound, "unknown_account", "the webhook names an account this inbox does not have")
)

// Webhooks receives provider calls at /webhooks/{type}/{key}: it finds the
// inbox by the key in the URL, lets the adapter verify and parse the call,
// and stores everything it carries in one transaction before answering.
type Webhooks struct {
	db        *store.DB
	ws        *workspace.Service
	conv      *conversation.Service
	customers *customer.Service
	inboxes   *inbox.Service
	receivers map[string]Receiver
	log       *slog.Logger
}

// NewWebhooks returns the webhook receiver for the given adapters.
func NewWebhooks(db *store.DB, ws *workspace.Service, conv *conversation.Service, customers *customer.Service, inboxes *inbox.Service,
	receivers map[string]Receiver, log *slog.Logger) *Webhooks {
	return &Webhooks{db: db, ws: ws, conv: conv, customers: customers, inboxes: inboxes, receivers: receivers, log: log}
}

func (h *Webhooks) find(ctx context.Context, typ, key string) (inbox.Inbox, Receiver, error) {
	rc, ok := h.receivers[typ]
	if !ok {
		return inbox.Inbox{}, nil, fmt.Errorf("no webhook for type %s: %w", typ, errs.ErrNotFound)
	}
	in, err := h.inboxes.ByPublicKey(ctx, key)
	if err != nil {
		return inbox.Inbox{}, nil, err
	}
	if in.Type != typ {
		return inbox.Inbox{}, nil, fmt.Errorf("inbox is not %s: %w", typ, errs.ErrNotFound)
	}
	return in, rc, nil
}

// Challenge answers a provider's GET verification of the webhook URL.
func (h *Webhooks) Challenge(ctx context.Context, typ, key string, r *http.Request) (int, string, error) {
	in, rc, err := h.find(ctx, typ, key)
	if err != nil {
		return 0, "", err
	}
	c, ok := rc.(Challenger)
	if !ok {
		return 0, "", fmt.Errorf("%s webhooks take no GET: %w", typ, errs.ErrNotFound)
	}
	st, body := c.Challenge(in, r)
	return st, body, nil
}

// Receive handles one provider call. publicURL is Kanal's public address
// (providers sign the URL they called). It returns after everything the call
// carries is committed (or refused).
func (h *Webhooks) Receive(ctx context.Context, publicURL, typ, key string, r *http.Request, body []byte) (Batch, error) {
	in, rc, err := h.find(ctx, typ, key)
	if err != nil {
		return Batch{}, err
	}
	if err := rc.Verify(in, r, publicURL, body); err != nil {
		return Batch{}, err
	}
	b, err := rc.Parse(in, r, body)
	if errors.Is(err, ErrUnknownAccount) {
		return Batch{}, err
	}
	if err != nil {
		h.recordFailure(ctx, in, r.Header.Get("Content-Type"), body, err)
		return Batch{}, errs.New(errs.ErrInvalid, "malformed_webhook", "the webhook body could not be read: %v", err)
	}
	if err := h.Store(ctx, in, b, func(m Message, err error) {
		h.recordFailure(ctx, in, r.Header.Get("Content-Type"), body, fmt.Errorf("message %s: %w", m.ProviderID, err))
	}); err != nil {
		return Batch{}, err
	}
	return b, nil
}

// Store writes what a batch carries in one transaction: messages (deduped
// by provider id), delivery reports and identity changes. A message Kanal
// cannot take is handed to skipped and the rest goes on.
func (h *Webhooks) Store(ctx context.Context, in inbox.Inbox, b Batch, skipped func(Message, error)) error {
	w, err := h.ws.Get(ctx, in.WorkspaceID)
	if err != nil {
		return err
	}
	prepared := make([]conversation.Prepared, 0, len(b.Messages))
	for _, m := range b.Messages {
		p, err := h.conv.Prepare(ctx, conversation.Inbound{WorkspaceID: in.WorkspaceID, InboxID: in.ID, ProviderID: m.ProviderID,
			Claims: m.Claims, Profile: m.Profile, Text: m.Text, HTML: m.HTML, Subject: m.Subject, Attachments: m.Attachments,
			At: m.At, ContentType: m.ContentType, Raw: m.Raw, ConversationHint: m.ConversationHint, ThreadKeys: m.ThreadKeys})
		if err != nil {
			skipped(m, err)
			continue
		}
		prepared = append(prepared, p)
	}
	return h.db.Write(ctx, func(tx *store.Tx) error {
		for _, p := range prepared {
			if _, err := h.conv.IngestTx(ctx, tx, p); err != nil {
				return err
			}
		}
		for _, s := range b.Statuses {
			if _, err := h.conv.ProviderStatus(ctx, tx, in.WorkspaceID, in.ID, s.MessageID, s.ProviderMessageID, s.Status, s.Reason); err != nil {
				return err
			}
		}
		for _, c := range b.Identities {
			if err := h.customers.ChangeIdentity(ctx, tx, in.WorkspaceID, w.Settings.PhoneRegion, c.Kind, c.Old, c.New); err != nil {
				return err
			}
		}
		return nil
	})
}

// recordFailure keeps a webhook body that could not be used, for an admin to
// inspect (GET /api/v1/webhook-failures). It never fails the caller.
func (h *Webhooks) recordFailure(ctx context.Context, in inbox.Inbox, contentType string, body []byte, cause error) {
	text := string(body)
	if !utf8.ValidString(text) {
		text = string([]rune(text)) // replaces invalid bytes
	}
	err := h.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert-failure"), store.NewID(), in.WorkspaceID, in.ID, store.Now(),
			cause.Error(), contentType, text)
		return err
	})
	if err != nil {
		h.log.Warn("webhook: could not record a failed call", "inbox", in.ID, "err", err)
	}
}

// Failure is a webhook call Kanal could not use.
type Failure struct {
	ID          string `json:"id"`
	InboxID     string `json:"inbox_id"`
	ReceivedAt  int64  `json:"received_at"`
	Error       string `json:"error"`
	ContentType string `json:"content_type"`
	Body        string `json:"body"`
}

// Failures lists a workspace's failed webhook calls, newest first.
func (h *Webhooks) Failures(ctx context.Context, workspaceID string, beforeAt int64, beforeID string, limit int) ([]Failure, error) {
	if beforeAt == 0 {
		beforeAt, beforeID = 1<<62-1, "~"
	}
	r := h.db.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "failures"), workspaceID, beforeAt, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Failure{}
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.ID, &f.InboxID, &f.ReceivedAt, &f.Error, &f.ContentType, &f.Body); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

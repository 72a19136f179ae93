package channel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
	"github.com/kanal-dev/kanal/internal/store"
)

// PollJob is the recurring job that polls one inbox of a Poller type.
const PollJob = "poll_inbox"

// PollEvery is how often a polled inbox is asked for news.
const PollEvery = 30 * time.Second

type pollPayload struct {
	InboxID string `json:"inbox_id"`
	Cursor  string `json:"cursor"`
}

// Registry knows the adapters by inbox type and runs what concerns an
// inbox as a whole: connection tests, provider set-up, polling.
type Registry struct {
	db       *store.DB
	inboxes  *inbox.Service
	webhooks *Webhooks
	q        *jobs.Queue
	adapters map[string]Adapter
	log      *slog.Logger
	every    time.Duration
}

// NewRegistry returns the registry of adapters; it registers the poll job
// on q.
func NewRegistry(db *store.DB, inboxes *inbox.Service, webhooks *Webhooks, q *jobs.Queue, adapters []Adapter, log *slog.Logger) *Registry {
	r := &Registry{db: db, inboxes: inboxes, webhooks: webhooks, q: q, adapters: map[string]Adapter{}, log: log, every: PollEvery}
	for _, a := range adapters {
		r.adapters[a.Type().Name] = a
	}
	q.Handle(PollJob, r.poll, nil)
	return r
}

// Test checks an inbox's credentials with its provider.
func (r *Registry) Test(ctx context.Context, in inbox.Inbox) (string, error) {
	t, ok := r.adapters[in.Type].(Tester)
	if !ok {
		return "", errs.New(errs.ErrConflict, "not_testable", "%s inboxes have no connection test", in.Type)
	}
	return t.Test(ctx, in)
}

// Started prepares a new or changed inbox: the provider set-up (a webhook
// registration) and, for polled types, the poller. The set-up's error is
// returned for the caller to show; the inbox exists either way.
func (r *Registry) Started(ctx context.Context, in inbox.Inbox, webhookURL string) error {
	if _, ok := r.adapters[in.Type].(Poller); ok {
		if err := r.ensurePoll(ctx, in); err != nil {
			return err
		}
	}
	if s, ok := r.adapters[in.Type].(Setupper); ok {
		return s.Setup(ctx, in, webhookURL)
	}
	return nil
}

// EnsurePolling makes sure every inbox of a polled type has its poller; the
// server calls it at start.
func (r *Registry) EnsurePolling(ctx context.Context) error {
	for typ, a := range r.adapters {
		if _, ok := a.(Poller); !ok {
			continue
		}
		ins, err := r.inboxes.AllOfType(ctx, typ)
		if err != nil {
			return err
		}
		for _, in := range ins {
			if err := r.ensurePoll(ctx, in); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Registry) ensurePoll(ctx context.Context, in inbox.Inbox) error {
	return r.db.Write(ctx, func(tx *store.Tx) error {
		_, err := r.q.EnqueueUnique(ctx, tx, in.WorkspaceID, PollJob, "poll:"+in.ID, pollPayload{InboxID: in.ID}, time.Time{})
		return err
	})
}

// poll runs one round of a polled inbox and schedules the next. A failing
// round (the provider is down, credentials are wrong) is logged and tried
// again later, slower; the chain ends only when the inbox is deleted.
func (r *Registry) poll(ctx context.Context, j jobs.Job) error {
	var p pollPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return jobs.Permanent(fmt.Errorf("bad payload: %w", err))
	}
	in, err := r.inboxes.Get(ctx, j.WorkspaceID, p.InboxID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted: the chain ends
	}
	if err != nil {
		return err
	}
	pl, ok := r.adapters[in.Type].(Poller)
	if !ok {
		return nil
	}
	b, next, err := pl.Poll(ctx, in, p.Cursor)
	if err != nil {
		r.log.Warn("poll failed; will try again", "inbox", in.ID, "type", in.Type, "err", err)
		return jobs.Repeat(4*r.every, p)
	}
	if err := r.webhooks.Store(ctx, in, b, func(m Message, err error) {
		raw, _ := json.Marshal(m)
		r.webhooks.recordFailure(ctx, in, "application/json", raw, fmt.Errorf("polled message %s: %w", m.ProviderID, err))
	}); err != nil {
		return err // stored nothing; the same cursor is polled again
	}
	return jobs.Repeat(r.every, pollPayload{InboxID: in.ID, Cursor: next})
}

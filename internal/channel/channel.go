// Package channel is the contract between Kanal and its channel adapters,
// and the delivery worker that sends queued replies through them.
package channel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
	"github.com/kanal-dev/kanal/internal/store"
)

// Outbound is everything an adapter needs to send one message.
type Outbound struct {
	Inbox        inbox.Inbox
	Conversation conversation.Conversation
	Customer     customer.Customer
	Message      conversation.Message
}

// Sender sends outbound messages of one inbox type. It returns the
// provider's message id. Errors are retried unless wrapped with
// jobs.Permanent; jobs.RetryAfter asks for a later retry.
type Sender interface {
	Send(ctx context.Context, o Outbound) (providerID string, err error)
}

// Adapter is one channel: its inbox type and how replies go out. An adapter
// whose provider calls Kanal also implements Receiver (and Challenger).
type Adapter interface {
	Type() inbox.Type
	Sender
}

// Split sorts adapters into inbox types, senders and webhook receivers.
func Split(adapters []Adapter) ([]inbox.Type, map[string]Sender, map[string]Receiver) {
	var types []inbox.Type
	senders, receivers := map[string]Sender{}, map[string]Receiver{}
	for _, a := range adapters {
		t := a.Type()
		types = append(types, t)
		senders[t.Name] = a
		if r, ok := a.(Receiver); ok {
			receivers[t.Name] = r
		}
	}
	return types, senders, receivers
}

// Delivery runs the deliver_message jobs.
type Delivery struct {
	db        *store.DB
	conv      *conversation.Service
	customers *customer.Service
	inboxes   *inbox.Service
	senders   map[string]Sender
	log       *slog.Logger
}

// NewDelivery returns the delivery worker for the given senders by inbox type.
func NewDelivery(db *store.DB, conv *conversation.Service, customers *customer.Service, inboxes *inbox.Service, senders map[string]Sender, log *slog.Logger) *Delivery {
	return &Delivery{db: db, conv: conv, customers: customers, inboxes: inboxes, senders: senders, log: log}
}

// Register makes q run delivery jobs through d.
func (d *Delivery) Register(q *jobs.Queue) {
	q.Handle(conversation.DeliverJob, d.handle, d.dead)
}

func (d *Delivery) handle(ctx context.Context, j jobs.Job) error {
	var p conversation.DeliverPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return jobs.Permanent(fmt.Errorf("bad payload: %w", err))
	}
	m, err := d.conv.GetMessage(ctx, j.WorkspaceID, p.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		return jobs.Permanent(err)
	}
	if err != nil {
		return err
	}
	if m.Status == conversation.StatusFailed {
		// The job was dead and someone asked to retry it: queue the message again.
		if err := d.db.Write(ctx, func(tx *store.Tx) error { return d.conv.Requeue(ctx, tx, j.WorkspaceID, m.ID) }); err != nil {
			return err
		}
		m.Status = conversation.StatusQueued
	}
	if m.Status != conversation.StatusQueued {
		return nil // already sent (a retry after a crash between send and record)
	}
	ib, err := d.inboxes.Get(ctx, j.WorkspaceID, m.InboxID)
	if errors.Is(err, store.ErrNotFound) {
		return jobs.Permanent(fmt.Errorf("the inbox was deleted"))
	}
	if err != nil {
		return err
	}
	sender, ok := d.senders[ib.Type]
	if !ok {
		return jobs.Permanent(fmt.Errorf("inbox type %s cannot send", ib.Type))
	}
	c, err := d.conv.Get(ctx, j.WorkspaceID, m.ConversationID)
	if err != nil {
		return err
	}
	cust, err := d.customers.Get(ctx, j.WorkspaceID, m.CustomerID)
	if err != nil {
		return err
	}
	// After a merge the customer may have several numbers or addresses of
	// one kind: keep those of this conversation.
	if cust, err = d.customers.ForReply(ctx, j.WorkspaceID, cust, c.ID); err != nil {
		return err
	}
	pid, err := sender.Send(ctx, Outbound{Inbox: ib, Conversation: c, Customer: cust, Message: m})
	if err != nil {
		return err
	}
	return d.db.Write(ctx, func(tx *store.Tx) error {
		_, err := d.conv.SetStatus(ctx, tx, j.WorkspaceID, m.ID, conversation.StatusSent, "", pid)
		return err
	})
}

// dead marks the message failed, with the last error as the reason, in the
// transaction that buries the job.
func (d *Delivery) dead(ctx context.Context, tx *store.Tx, j jobs.Job, cause error) error {
	var p conversation.DeliverPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return nil
	}
	_, err := d.conv.SetStatus(ctx, tx, j.WorkspaceID, p.MessageID, conversation.StatusFailed, cause.Error(), "")
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

package conversation_test

import (
	"context"
	"testing"

	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

// Delivery reports may arrive in any order; the final state is the same.
func TestDeliveryStatusIsOrderIndependent(t *testing.T) {
	orders := map[string][]string{
		"in order":            {"sent", "delivered", "read"},
		"read first":          {"read", "delivered", "sent"},
		"skips delivered":     {"sent", "read"},
		"failed then read":    {"failed", "read"},
		"read then failed":    {"read", "failed"},
		"delivered then sent": {"delivered", "sent", "read"},
	}
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			a := testutil.New(t, d, testutil.Options{NoWorkers: true})
			w := a.Setup("Mağaza", "owner@example.com")
			ctx := context.Background()
			ib, err := a.Inboxes.Create(ctx, event.System, w.ID, "api", "App", nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Conversations.Ingest(ctx, conversation.Inbound{WorkspaceID: w.ID, InboxID: ib.ID, ProviderID: "p1",
				Claims: []customer.Claim{{Kind: customer.KindEmail, Value: "c@example.com"}}, Text: "Merhaba"})
			if err != nil {
				t.Fatal(err)
			}
			for name, seq := range orders {
				m, err := a.Conversations.Send(ctx, event.Actor{Kind: event.ActorUser, ID: w.OwnerID}, w.ID, res.ConversationID, conversation.Reply{Text: "Yanıt"})
				if err != nil {
					t.Fatal(err)
				}
				for _, st := range seq {
					err := a.DB.Write(ctx, func(tx *store.Tx) error {
						_, err := a.Conversations.SetStatus(ctx, tx, w.ID, m.ID, st, "reason "+st, "")
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				got, _ := a.Conversations.GetMessage(ctx, w.ID, m.ID)
				if got.Status != "read" && name != "skips delivered" || got.Status != "read" {
					t.Errorf("%s: final status %q, want read", name, got.Status)
				}
				if got.StatusReason != "" {
					t.Errorf("%s: a read message keeps no failure reason, got %q", name, got.StatusReason)
				}
			}
			c, _ := a.Conversations.Get(ctx, w.ID, res.ConversationID)
			if c.FirstResponseAt == nil || c.FirstResponseSeconds == nil {
				t.Fatal("first response time must be set by the first reply")
			}
			resolved := conversation.StatusResolved
			c, err = a.Conversations.Update(ctx, event.System, w.ID, c.ID, conversation.Patch{Status: &resolved})
			if err != nil || c.ResolvedAt == nil || c.ResolutionSeconds == nil {
				t.Fatalf("resolve: %+v %v", c, err)
			}
			open := conversation.StatusOpen
			c, _ = a.Conversations.Update(ctx, event.System, w.ID, c.ID, conversation.Patch{Status: &open})
			if c.ResolvedAt != nil {
				t.Fatal("reopening clears the resolution time")
			}
		})
	}
}

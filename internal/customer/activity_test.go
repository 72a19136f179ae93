package customer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

func TestActivities(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		api := event.Actor{Kind: event.ActorUser, ID: "u1"}
		record := func(items ...customer.ActivityIn) ([]customer.ActivityResult, error) {
			return w.s.RecordActivities(ctx, api, "w", "TR", items)
		}
		count := func() int {
			evs, err := w.log.After(ctx, "w", 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		ayse := w.create("w", customer.Profile{Name: "Ayşe", Email: "ayse@example.com"})
		order := customer.ActivityIn{CustomerID: ayse.ID, Type: customer.ActivityOrderPlaced, IdempotencyKey: "order-1001-placed",
			OccurredAt: 1767225600000, Data: json.RawMessage(`{"order_id": "1001", "total": 1499.90, "currency": "TRY"}`)}
		first, err := record(order)
		if err != nil {
			t.Fatal(err)
		}
		r := first[0]
		if r.ID == "" || r.CustomerID != ayse.ID || r.Duplicate || r.NewCustomer || r.Seq == 0 || r.OccurredAt != order.OccurredAt {
			t.Fatalf("first: %+v", r)
		}
		n := count()
		// A retry (even with the data's keys in another order) stores nothing.
		retry := order
		retry.Data = json.RawMessage(`{"currency":"TRY","total":1499.90,"order_id":"1001"}`)
		again, err := record(retry)
		if err != nil || !again[0].Duplicate || again[0].ID != r.ID || again[0].Seq != r.Seq || count() != n {
			t.Fatalf("retry: %+v %v (events %d → %d)", again, err, n, count())
		}
		// The same key on another event is refused.
		other := order
		other.Type = customer.ActivityOrderShipped
		_, err = record(other)
		var p *errs.Public
		if !errors.As(err, &p) || p.Code != "idempotency_key_reused" || count() != n {
			t.Fatalf("key reuse: %v", err)
		}
		// The event is on the timeline, with the shop's data.
		evs, _ := w.log.ForCustomer(ctx, "w", ayse.ID, 0, 10)
		if evs[0].Type != customer.EventActivity || !strings.Contains(string(evs[0].Data), `"order_id":"1001"`) ||
			!strings.Contains(string(evs[0].Data), `"type":"order.placed"`) {
			t.Fatalf("timeline head: %s %s", evs[0].Type, evs[0].Data)
		}

		// By identity: a known e-mail finds Ayşe; an unknown phone creates
		// a customer with it; an unknown type is stored as it is.
		res, err := record(
			customer.ActivityIn{Customer: &customer.ActivityCustomer{Email: "AYSE@example.com"}, Type: customer.ActivityAppOpened},
			customer.ActivityIn{Customer: &customer.ActivityCustomer{Phone: "0532 999 88 77", Name: "Yeni"}, Type: "loyalty.points_earned",
				Data: json.RawMessage(`{"points": 50}`)},
			customer.ActivityIn{Customer: &customer.ActivityCustomer{Phone: "+905329998877"}, Type: customer.ActivityStoreVisit},
		)
		if err != nil {
			t.Fatal(err)
		}
		if res[0].CustomerID != ayse.ID || res[0].NewCustomer || !res[1].NewCustomer || res[2].CustomerID != res[1].CustomerID || res[2].NewCustomer {
			t.Fatalf("by identity: %+v", res)
		}
		created, err := w.s.Get(ctx, "w", res[1].CustomerID)
		if err != nil || created.Name != "Yeni" || created.Phone != "+905329998877" || len(created.Identities) != 1 {
			t.Fatalf("created customer: %+v %v", created, err)
		}

		// All or nothing: one bad event in a batch stores none.
		n = count()
		bad := []customer.ActivityIn{
			{CustomerID: ayse.ID, Type: customer.ActivityCartUpdated, IdempotencyKey: "cart-1", Field: "events[0]"},
			{Customer: &customer.ActivityCustomer{Email: "nobody@example.com"}, Type: customer.ActivityAppOpened, Field: "events[1]"},
			{Customer: &customer.ActivityCustomer{Email: "not-an-address"}, Type: customer.ActivityAppOpened, Field: "events[2]"},
		}
		_, err = record(bad...)
		var v *errs.Validation
		if !errors.As(err, &v) || v.Fields["events[2].customer.email"] == "" || count() != n {
			t.Fatalf("bad batch: %v (events %d → %d)", err, n, count())
		}
		// A batch that fails while writing (an unknown customer id) leaves
		// nothing either: not the customer the first event would create.
		_, err = record(
			customer.ActivityIn{Customer: &customer.ActivityCustomer{Email: "fresh@example.com"}, Type: customer.ActivityAppOpened, Field: "events[0]"},
			customer.ActivityIn{CustomerID: "no-such-customer", Type: customer.ActivityAppOpened, Field: "events[1]"},
		)
		if !errors.As(err, &p) || p.Code != "customer_not_found" || !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "events[1]") || count() != n {
			t.Fatalf("unknown customer in a batch: %v", err)
		}
		if list, _ := w.s.List(ctx, "w", "fresh@example.com", customer.Cursor{}, 10); len(list) != 0 {
			t.Fatal("a refused batch created a customer")
		}
		// The batch's retry key is free for the corrected batch.
		if res, err := record(bad[0]); err != nil || res[0].Duplicate {
			t.Fatalf("corrected batch: %+v %v", res, err)
		}

		// Input rules.
		other2 := w.create("v", customer.Profile{Name: "V"})
		for what, c := range map[string]struct {
			in    customer.ActivityIn
			field string
		}{
			"no type":        {customer.ActivityIn{CustomerID: ayse.ID}, "type"},
			"bad type":       {customer.ActivityIn{CustomerID: ayse.ID, Type: "Order Placed"}, "type"},
			"data not obj":   {customer.ActivityIn{CustomerID: ayse.ID, Type: "x", Data: json.RawMessage(`[1]`)}, "data"},
			"data too large": {customer.ActivityIn{CustomerID: ayse.ID, Type: "x", Data: json.RawMessage(`{"a":"` + strings.Repeat("x", 16<<10) + `"}`)}, "data"},
			"no customer":    {customer.ActivityIn{Type: "x"}, "customer"},
			"both":           {customer.ActivityIn{CustomerID: ayse.ID, Customer: &customer.ActivityCustomer{Email: "a@b.test"}, Type: "x"}, "customer"},
			"empty ref":      {customer.ActivityIn{Customer: &customer.ActivityCustomer{Name: "only a name"}, Type: "x"}, "customer"},
			"too old":        {customer.ActivityIn{CustomerID: ayse.ID, Type: "x", OccurredAt: 1000}, "occurred_at"},
			"future":         {customer.ActivityIn{CustomerID: ayse.ID, Type: "x", OccurredAt: store.Now() + 3*86400000}, "occurred_at"},
			"long key":       {customer.ActivityIn{CustomerID: ayse.ID, Type: "x", IdempotencyKey: strings.Repeat("k", 256)}, "idempotency_key"},
		} {
			_, err := record(c.in)
			if !errors.As(err, &v) || v.Fields[c.field] == "" {
				t.Errorf("%s: %v, want a problem with %s", what, err, c.field)
			}
		}
		if _, err := record(customer.ActivityIn{CustomerID: other2.ID, Type: "x"}); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("another workspace's customer: %v", err)
		}
		many := make([]customer.ActivityIn, customer.MaxActivityBatch+1)
		for i := range many {
			many[i] = customer.ActivityIn{CustomerID: ayse.ID, Type: "x"}
		}
		if _, err := record(many...); !errors.As(err, &v) || v.Fields["events"] == "" {
			t.Errorf("%d events: %v", len(many), err)
		}
		if count() != n+1 {
			t.Fatalf("refused events were stored: %d → %d", n+1, count())
		}

		// An event naming a merged-away customer lands on the survivor.
		b := w.create("w", customer.Profile{Name: "B"})
		w.merge(b.ID, ayse.ID)
		res, err = record(customer.ActivityIn{CustomerID: ayse.ID, Type: customer.ActivityOrderDelivered})
		if err != nil || res[0].CustomerID != b.ID {
			t.Fatalf("merged-away id: %+v %v", res, err)
		}
		// And a retry of an event stored before the merge still answers it.
		if res, err := record(order); err != nil || !res[0].Duplicate || res[0].ID != r.ID {
			t.Fatalf("retry after merge: %+v %v", res, err)
		}
	})
}

package customer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

func setup(t *testing.T, db *store.DB) *customer.Service {
	t.Helper()
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(context.Background(), "INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w', 'w', 'W', 1), ('v', 'v', 'V', 1)")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return customer.NewService(db, event.NewLog(db, nil))
}

func resolve(t *testing.T, db *store.DB, s *customer.Service, ws string, p customer.Profile, claims ...customer.Claim) (string, bool) {
	t.Helper()
	var id string
	var created bool
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		id, created, err = s.Resolve(context.Background(), tx, ws, "TR", claims, p, event.System)
		return err
	})
	if err != nil {
		t.Fatalf("resolve %v: %v", claims, err)
	}
	return id, created
}

func TestResolve(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		ctx := context.Background()
		email := customer.Claim{Kind: customer.KindEmail, Value: "Ayse.Yilmaz@Example.com"}
		a, created := resolve(t, db, s, "w", customer.Profile{Name: "Ayşe Yılmaz", Email: email.Value}, email)
		if !created {
			t.Fatal("first contact must create a customer")
		}
		// Same address in another case, plus a phone: same customer, phone attached.
		phone := customer.Claim{Kind: customer.KindPhone, Value: "0532 123 45 67"}
		b, created := resolve(t, db, s, "w", customer.Profile{Phone: phone.Value},
			customer.Claim{Kind: customer.KindEmail, Value: "ayse.yilmaz@EXAMPLE.COM"}, phone)
		if b != a || created {
			t.Fatalf("same e-mail gave %s (created=%v), want %s", b, created, a)
		}
		// The phone in E.164 and as a WhatsApp id find her too.
		c, _ := resolve(t, db, s, "w", customer.Profile{}, customer.Claim{Kind: customer.KindPhone, Value: "+90 532 123 4567"})
		if c != a {
			t.Fatal("phone in another format must match")
		}
		got, err := s.Get(ctx, "w", a)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Ayşe Yılmaz" || got.Phone != "+905321234567" || len(got.Identities) != 2 {
			t.Fatalf("profile: %+v", got)
		}
		// Another workspace is another world.
		other, created := resolve(t, db, s, "v", customer.Profile{}, email)
		if !created || other == a {
			t.Fatal("workspaces must not share customers")
		}
		// An identity owned by someone else is never stolen.
		z, _ := resolve(t, db, s, "w", customer.Profile{Name: "Zeynep"}, customer.Claim{Kind: customer.KindExternalID, Value: "crm-9"})
		again, _ := resolve(t, db, s, "w", customer.Profile{}, customer.Claim{Kind: customer.KindExternalID, Value: "crm-9"}, email)
		if again != z {
			t.Fatal("the first matching claim (external id) must win")
		}
		zc, _ := s.Get(ctx, "w", z)
		if len(zc.Identities) != 1 {
			t.Fatalf("Ayşe's e-mail must stay hers, Zeynep has %v", zc.Identities)
		}
	})
}

func TestResolveRejectsBadClaims(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		err := db.Write(context.Background(), func(tx *store.Tx) error {
			_, _, err := s.Resolve(context.Background(), tx, "w", "TR", []customer.Claim{{Kind: customer.KindEmail, Value: "nope"}}, customer.Profile{}, event.System)
			return err
		})
		var v *errs.Validation
		if !errors.As(err, &v) || v.Fields["customer.email"] == "" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSearchAndUpdate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := setup(t, db)
		ctx := context.Background()
		isik, err := s.Create(ctx, event.System, "w", "TR", customer.Profile{Name: "Işık Öztürk", Email: "isik@example.com", Phone: "05551112233"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, event.System, "w", "TR", customer.Profile{Name: "Ilgın Şahin"}, nil); err != nil {
			t.Fatal(err)
		}
		for q, want := range map[string]int{"ışık": 1, "IŞIK": 1, "isik": 1, "ozturk": 1, "ÖZTÜRK": 1, "5551112233": 1, "0555 111": 1, "": 2, "ilgin": 1, "%": 0} {
			got, err := s.List(ctx, "w", q, customer.Cursor{}, 10)
			if err != nil || len(got) != want {
				t.Errorf("search %q: %d results (%v), want %d", q, len(got), err, want)
			}
		}
		page1, _ := s.List(ctx, "w", "", customer.Cursor{}, 1)
		page2, _ := s.List(ctx, "w", "", customer.Cursor{At: page1[0].CreatedAt, ID: page1[0].ID}, 1)
		if len(page2) != 1 || page2[0].ID == page1[0].ID {
			t.Fatal("cursor paging")
		}
		other, _ := s.Create(ctx, event.System, "w", "TR", customer.Profile{Name: "Other", Email: "other@example.com"}, nil)
		taken := "isik@example.com"
		_, err = s.Update(ctx, event.System, "w", "TR", other.ID, customer.Patch{Email: &taken})
		if !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("taking another customer's e-mail: %v", err)
		}
		o, _ := s.Get(ctx, "w", other.ID)
		if o.Email != "other@example.com" {
			t.Fatal("a failed update must change nothing")
		}
		name := "Işık Ö."
		u, err := s.Update(ctx, event.System, "w", "TR", isik.ID, customer.Patch{Name: &name, Attributes: map[string]any{"tier": "gold"}})
		if err != nil || u.Name != name || u.Attributes["tier"] != "gold" {
			t.Fatalf("update: %+v %v", u, err)
		}
		if _, err := s.Get(ctx, "v", isik.ID); !errors.Is(err, errs.ErrNotFound) {
			t.Fatal("another workspace must not see the customer")
		}
	})
}

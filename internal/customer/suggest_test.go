package customer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

func TestDuplicates(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		ext := func(v string) customer.Claim { return customer.Claim{Kind: customer.KindExternalID, Value: v} }
		me := w.create("w", customer.Profile{Name: "Ayşe Yılmaz", Email: "ayse.yilmaz@gmail.com"},
			customer.Claim{Kind: customer.KindWhatsApp, Value: "905321234567"}, ext("crm-1042"))
		want := map[string][]string{} // customer id → reason codes
		add := func(name string, codes []string, p customer.Profile, ids ...customer.Claim) customer.Customer {
			p.Name = name
			c := w.create("w", p, ids...)
			if codes != nil {
				want[c.ID] = codes
			}
			return c
		}
		// Suggested:
		add("Ayşe Y.", []string{customer.ReasonSameNumber}, customer.Profile{Phone: "+90 532 123 45 67"})
		add("", []string{customer.ReasonNationalNumber}, customer.Profile{Phone: "+1 532 123 4567"})
		add("AYŞE YILMAZ", []string{customer.ReasonEmailLocalPart, customer.ReasonSameName}, customer.Profile{Email: "Ayse.Yilmaz@hotmail.com"})
		add("Yılmaz Ayşe", []string{customer.ReasonEmailTypo, customer.ReasonSameName}, customer.Profile{Email: "ayse.yilmas@gmail.com"})
		add("Shop Ayşe", []string{customer.ReasonSameMailbox}, customer.Profile{Email: "ayse.yilmaz+shop@gmail.com"})
		add("ayse yilmaz", []string{customer.ReasonExternalIDPrefix, customer.ReasonSameName}, customer.Profile{}, ext("crm-1042-old"))
		// Not suggested: one weak reason, or a name alone.
		add("Mehmet Kaya", nil, customer.Profile{Email: "ayse.yilmaz@yahoo.com"})
		add("Can Demir", nil, customer.Profile{Email: "ayse.yilmaa@gmail.com"})
		add("Zeynep", nil, customer.Profile{}, ext("crm-1042-x"))
		add("Ayşe Yılmaz", nil, customer.Profile{Email: "baska@example.com", Phone: "05001112233"})
		add("Ayşe Yılmaz", nil, customer.Profile{}, ext("crm"))
		// Another workspace with the very same number and address.
		w.create("v", customer.Profile{Name: "Ayşe Yılmaz", Email: "ayse.yilmaz+shop@gmail.com", Phone: "+905321234567"})

		got, err := w.s.Duplicates(ctx, "w", me.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, sg := range got {
			if sg.Customer.WorkspaceID != "w" || sg.Customer.ID == me.ID {
				t.Fatalf("suggested %+v", sg.Customer)
			}
			codes := []string{}
			for _, r := range sg.Reasons {
				codes = append(codes, r.Code)
				if r.Detail == "" || r.Weight == 0 {
					t.Errorf("reason without detail or weight: %+v", r)
				}
			}
			w, ok := want[sg.Customer.ID]
			if !ok {
				t.Errorf("%s (%s) suggested for %v", sg.Customer.Name, sg.Customer.Email, codes)
				continue
			}
			slices.Sort(codes)
			slices.Sort(w)
			if !slices.Equal(codes, w) {
				t.Errorf("%s: reasons %v, want %v", sg.Customer.Name, codes, w)
			}
			if sg.Score < customer.SuggestThreshold || (i > 0 && got[i-1].Score < sg.Score) {
				t.Errorf("%s: score %d out of order", sg.Customer.Name, sg.Score)
			}
			if len(sg.Customer.Identities) == 0 {
				t.Errorf("%s: identities missing", sg.Customer.Name)
			}
			seen[sg.Customer.ID] = true
		}
		for id := range want {
			if !seen[id] {
				t.Errorf("customer %s not suggested (want %v); got %d suggestions", id, want[id], len(got))
			}
		}
		if len(got) > 0 && got[0].Reasons[0].Code != customer.ReasonSameNumber {
			t.Errorf("the strongest first: %+v", got[0])
		}
		if short, _ := w.s.Duplicates(ctx, "w", me.ID, 2); len(short) != 2 {
			t.Errorf("limit 2: %d", len(short))
		}
		if _, err := w.s.Duplicates(ctx, "v", me.ID, 10); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("another workspace: %v", err)
		}
		// A merge someone undid says "not the same person": the pair is no
		// longer suggested. A merged-away customer is never suggested.
		var number, mailbox string
		for _, sg := range got {
			switch sg.Reasons[0].Code {
			case customer.ReasonSameNumber:
				number = sg.Customer.ID
			case customer.ReasonSameMailbox:
				mailbox = sg.Customer.ID
			}
		}
		w.undo(w.merge(me.ID, number).ID)
		other := w.create("w", customer.Profile{Name: "Other"})
		w.merge(other.ID, mailbox)
		after, err := w.s.Duplicates(ctx, "w", me.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, sg := range after {
			if sg.Customer.ID == number || sg.Customer.ID == mailbox {
				t.Errorf("suggested after undo or merge: %s", sg.Customer.ID)
			}
			if sg.Customer.ID == other.ID && !strings.Contains(sg.Reasons[0].Detail, "+shop") {
				t.Errorf("the survivor of the mailbox customer is suggested for the moved address: %+v", sg)
			}
		}
		if len(after) != len(got)-1 {
			t.Errorf("after: %d suggestions, before %d", len(after), len(got))
		}
	})
}

package customer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
)

// exec runs statements in one write, failing the test on error.
func exec(t *testing.T, db *store.DB, stmts ...string) {
	t.Helper()
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(context.Background(), s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dump returns every row of a table in workspace w, all columns, in id
// order: the whole state a merge and its undo may touch.
func dump(t *testing.T, db *store.DB, table string) string {
	t.Helper()
	rows, err := db.Reader().Query(context.Background(), "SELECT * FROM "+table+" WHERE workspace_id = 'w' ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, c := range cols {
			v := vals[i]
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%s=%v ", c, v)
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func state(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range []string{"customers", "identities", "conversations", "messages"} {
		out[table] = dump(t, db, table)
	}
	return out
}

func sameState(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for table, w := range want {
		if got[table] != w {
			t.Errorf("%s: %s differ\n got:\n%s\nwant:\n%s", what, table, got[table], w)
		}
	}
}

// world is a workspace with an inbox, and helpers to give customers
// conversations with messages.
type world struct {
	t   *testing.T
	db  *store.DB
	s   *customer.Service
	log *event.Log
	n   int
}

func newWorld(t *testing.T, db *store.DB) *world {
	s := setup(t, db)
	exec(t, db, "INSERT INTO inboxes (id, workspace_id, type, name, public_key, created_at, updated_at) VALUES ('ib', 'w', 'whatsapp', 'WA', 'pk-w', 1, 1)",
		"INSERT INTO inboxes (id, workspace_id, type, name, public_key, created_at, updated_at) VALUES ('ib-v', 'v', 'whatsapp', 'WA', 'pk-v', 1, 1)")
	return &world{t: t, db: db, s: s, log: event.NewLog(db, nil)}
}

// conversation gives customer cust a conversation with n messages and
// returns its id.
func (w *world) conversation(cust string, n int) string {
	w.t.Helper()
	w.n++
	conv := fmt.Sprintf("c%02d-%s", w.n, cust[len(cust)-4:])
	stmts := []string{fmt.Sprintf(`INSERT INTO conversations (id, workspace_id, customer_id, inbox_id, channel, last_inbox_id, last_channel,
		status, priority, created_at, updated_at, last_activity_at) VALUES ('%s', 'w', '%s', 'ib', 'whatsapp', 'ib', 'whatsapp', 'open', 'normal', %d, %d, %d)`,
		conv, cust, w.n, w.n, w.n)}
	for i := range n {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO messages (id, workspace_id, conversation_id, customer_id, inbox_id, channel, kind,
			direction, author_kind, text, status, created_at, updated_at) VALUES ('%s-m%d', 'w', '%s', '%s', 'ib', 'whatsapp', 'message', 'in',
			'customer', 'merhaba %d', 'received', %d, %d)`, conv, i, conv, cust, i, w.n*100+i, w.n*100+i))
	}
	exec(w.t, w.db, stmts...)
	return conv
}

func (w *world) create(ws string, p customer.Profile, ids ...customer.Claim) customer.Customer {
	w.t.Helper()
	c, err := w.s.Create(context.Background(), event.System, ws, "TR", p, ids)
	if err != nil {
		w.t.Fatalf("create %+v: %v", p, err)
	}
	return c
}

func (w *world) merge(survivor, merged string) customer.Merge {
	w.t.Helper()
	m, err := w.s.Merge(context.Background(), event.Actor{Kind: event.ActorUser, ID: "u1"}, "w", survivor, merged)
	if err != nil {
		w.t.Fatalf("merge %s into %s: %v", merged, survivor, err)
	}
	return m
}

func (w *world) undo(id string) customer.Merge {
	w.t.Helper()
	m, err := w.s.Undo(context.Background(), event.Actor{Kind: event.ActorUser, ID: "u1"}, "w", id)
	if err != nil {
		w.t.Fatalf("undo %s: %v", id, err)
	}
	return m
}

func wantCode(t *testing.T, what string, err error, kind error, code string) {
	t.Helper()
	var p *errs.Public
	if !errors.Is(err, kind) || !errors.As(err, &p) || p.Code != code {
		t.Fatalf("%s: err = %v, want %v %s", what, err, kind, code)
	}
}

func TestMergeAndUndoRestoreExactly(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		a := w.create("w", customer.Profile{Name: "Ayşe Yılmaz", Email: "ayse@example.com", Attributes: map[string]any{"tier": "gold", "city": "İzmir"}},
			customer.Claim{Kind: customer.KindWhatsApp, Value: "905321234567"})
		b := w.create("w", customer.Profile{Phone: "0555 111 22 33", Attributes: map[string]any{"city": "Ankara"}})
		w.conversation(a.ID, 3)
		w.conversation(a.ID, 1)
		bConv := w.conversation(b.ID, 2)
		before := state(t, db)

		m := w.merge(b.ID, a.ID)
		if m.SurvivorID != b.ID || m.MergedID != a.ID || m.UndoneAt != nil || m.CreatedAt == 0 {
			t.Fatalf("merge record: %+v", m)
		}
		if m.Moved != (customer.Moved{Identities: 2, Conversations: 2, Messages: 4}) {
			t.Fatalf("moved: %+v", m.Moved)
		}
		if !slices.Equal(m.Filled, []string{"name", "email", "attributes.tier"}) {
			t.Fatalf("filled: %v", m.Filled)
		}
		got, err := w.s.Get(ctx, "w", b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Ayşe Yılmaz" || got.Email != "ayse@example.com" || got.Phone != "+905551112233" ||
			got.Attributes["tier"] != "gold" || got.Attributes["city"] != "Ankara" || len(got.Identities) != 3 {
			t.Fatalf("survivor after merge: %+v", got)
		}
		// Everything of A now points at B.
		if s := dump(t, db, "conversations") + dump(t, db, "messages") + dump(t, db, "identities"); strings.Contains(s, "customer_id="+a.ID) {
			t.Fatalf("rows still on the merged customer:\n%s", s)
		}
		// The merged-away customer is found by identity as the survivor.
		id, _ := resolve(t, db, w.s, "w", customer.Profile{}, customer.Claim{Kind: customer.KindEmail, Value: "AYSE@example.com"})
		if id != b.ID {
			t.Fatalf("A's e-mail resolves to %s, want the survivor %s", id, b.ID)
		}
		if ids, _ := w.s.TimelineIDs(ctx, "w", b.ID); !slices.Equal(ids, []string{b.ID, a.ID}) {
			t.Fatalf("timeline ids of the survivor: %v", ids)
		}
		if ids, _ := w.s.TimelineIDs(ctx, "w", a.ID); !slices.Equal(ids, []string{a.ID}) {
			t.Fatalf("timeline ids of the merged: %v", ids)
		}
		if ms, err := w.s.Merges(ctx, "w", a.ID, 10); err != nil || len(ms) != 1 || ms[0].ID != m.ID {
			t.Fatalf("merges of the merged customer: %v %v", ms, err)
		}
		if _, err := w.s.GetMerge(ctx, "v", m.ID); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("another workspace reads the merge: %v", err)
		}

		u := w.undo(m.ID)
		if u.UndoneAt == nil || u.ID != m.ID || u.Moved != m.Moved {
			t.Fatalf("undo record: %+v", u)
		}
		sameState(t, "after undo", state(t, db), before)
		_, err = w.s.Undo(ctx, event.System, "w", m.ID)
		wantCode(t, "undo twice", err, errs.ErrConflict, "merge_undone")
		sameState(t, "after a refused undo", state(t, db), before)

		evs, err := w.log.After(ctx, "w", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		moves := 0
		for _, e := range evs {
			types = append(types, e.Type)
			if e.Type == event.ConversationUpdated && strings.Contains(string(e.Data), `"customer_id"`) {
				moves++
			}
		}
		if !slices.Contains(types, customer.EventMerged) || !slices.Contains(types, customer.EventUnmerged) || moves != 4 {
			t.Fatalf("log: %v (%d conversation moves)", types, moves)
		}
		_ = bConv
	})
}

func TestMergeUndoKeepsLaterChanges(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		a := w.create("w", customer.Profile{Name: "Ali", Email: "ali@example.com"})
		b := w.create("w", customer.Profile{Phone: "05551112233"})
		aConv := w.conversation(a.ID, 1)
		m := w.merge(b.ID, a.ID)
		// After the merge: an agent renames the survivor, a message arrives
		// in A's old conversation, B gets a new identity.
		name := "Ali Veli"
		if _, err := w.s.Update(ctx, event.System, "w", "TR", b.ID, customer.Patch{Name: &name}); err != nil {
			t.Fatal(err)
		}
		exec(t, db, fmt.Sprintf(`INSERT INTO messages (id, workspace_id, conversation_id, customer_id, inbox_id, channel, kind,
			direction, author_kind, text, status, created_at, updated_at) VALUES ('late', 'w', '%s', '%s', 'ib', 'whatsapp', 'message',
			'in', 'customer', 'geç', 'received', 9, 9)`, aConv, b.ID))
		if _, err := w.s.AddIdentity(ctx, event.System, "w", "TR", b.ID, customer.KindTelegram, "12345"); err != nil {
			t.Fatal(err)
		}
		w.undo(m.ID)
		gb, _ := w.s.Get(ctx, "w", b.ID)
		ga, _ := w.s.Get(ctx, "w", a.ID)
		if gb.Name != "Ali Veli" || gb.Email != "" || len(gb.Identities) != 2 {
			t.Fatalf("survivor after undo keeps the later name and identity, loses A's e-mail: %+v", gb)
		}
		if ga.Name != "Ali" || ga.Email != "ali@example.com" || len(ga.Identities) != 1 {
			t.Fatalf("restored customer: %+v", ga)
		}
		if s := dump(t, db, "messages"); !strings.Contains(s, "id=late ") || strings.Contains(s, "customer_id="+b.ID) {
			t.Fatalf("the late message of A's conversation goes back with it:\n%s", s)
		}
	})
}

func TestMergeRules(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		a := w.create("w", customer.Profile{Name: "A", Email: "a@example.com"})
		b := w.create("w", customer.Profile{Name: "B", Email: "b@example.com"})
		c := w.create("w", customer.Profile{Name: "C", Email: "c@example.com"})
		x := w.create("w", customer.Profile{Name: "X", Email: "x@example.com"})
		other := w.create("v", customer.Profile{Name: "V", Email: "a@example.com"})
		w.conversation(a.ID, 2)
		w.conversation(b.ID, 1)
		initial := state(t, db)
		actor := event.System

		_, err := w.s.Merge(ctx, actor, "w", a.ID, a.ID)
		var v *errs.Validation
		if !errors.As(err, &v) || v.Fields["from"] == "" {
			t.Fatalf("self merge: %v", err)
		}
		if _, err := w.s.Merge(ctx, actor, "w", a.ID, other.ID); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("merging another workspace's customer: %v", err)
		}
		if _, err := w.s.Merge(ctx, actor, "v", other.ID, a.ID); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("merging into another workspace: %v", err)
		}
		if _, err := w.s.Merge(ctx, actor, "w", a.ID, "nope"); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("unknown customer: %v", err)
		}
		sameState(t, "after refused merges", state(t, db), initial)

		ab := w.merge(b.ID, a.ID) // A into B
		bc := w.merge(c.ID, b.ID) // B into C
		if bc.Moved.Identities != 2 || bc.Moved.Conversations != 2 || bc.Moved.Messages != 3 {
			t.Fatalf("B into C moves A's things too: %+v", bc.Moved)
		}
		if ids, _ := w.s.TimelineIDs(ctx, "w", c.ID); !slices.Equal(ids, []string{c.ID, b.ID, a.ID}) {
			t.Fatalf("C's timeline ids: %v", ids)
		}
		_, err = w.s.Undo(ctx, actor, "w", ab.ID)
		wantCode(t, "undo A→B while B→C stands", err, errs.ErrConflict, "merge_dependent")
		if !strings.Contains(err.Error(), bc.ID) {
			t.Fatalf("the error must name the dependent merge %s: %v", bc.ID, err)
		}
		// Circular and chained merges with merged-away customers.
		_, err = w.s.Merge(ctx, actor, "w", a.ID, c.ID)
		wantCode(t, "merge into a merged-away customer", err, errs.ErrConflict, "customer_merged")
		if !strings.Contains(err.Error(), c.ID) {
			t.Fatalf("the error must name the live survivor: %v", err)
		}
		_, err = w.s.Merge(ctx, actor, "w", x.ID, b.ID)
		wantCode(t, "merge a merged-away customer", err, errs.ErrConflict, "customer_merged")
		if _, err := w.s.Undo(ctx, actor, "v", bc.ID); !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("undo from another workspace: %v", err)
		}
		// Undo in reverse order restores everything.
		w.undo(bc.ID)
		if ids, _ := w.s.TimelineIDs(ctx, "w", c.ID); !slices.Equal(ids, []string{c.ID}) {
			t.Fatalf("C's timeline ids after undo: %v", ids)
		}
		if ids, _ := w.s.TimelineIDs(ctx, "w", b.ID); !slices.Equal(ids, []string{b.ID, a.ID}) {
			t.Fatalf("B's timeline ids after undoing B→C: %v", ids)
		}
		w.undo(ab.ID)
		sameState(t, "after undoing both", state(t, db), initial)
		// Merging again after an undo works, and the merge list shows both.
		again := w.merge(b.ID, a.ID)
		ms, err := w.s.Merges(ctx, "w", b.ID, 10)
		if err != nil || len(ms) != 3 || ms[0].ID != again.ID {
			t.Fatalf("B's merges: %+v %v", ms, err)
		}
	})
}

func TestForReply(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		a := w.create("w", customer.Profile{Name: "A", Email: "a@example.com"}, customer.Claim{Kind: customer.KindWhatsApp, Value: "905321111111"})
		b := w.create("w", customer.Profile{Name: "B", Email: "b@example.com"}, customer.Claim{Kind: customer.KindWhatsApp, Value: "905322222222"},
			customer.Claim{Kind: customer.KindTelegram, Value: "777"})
		c := w.create("w", customer.Profile{Name: "C"}, customer.Claim{Kind: customer.KindPhone, Value: "905323333333"})
		aConv := w.conversation(a.ID, 1)
		bConv := w.conversation(b.ID, 1)
		cConv := w.conversation(c.ID, 1)
		// No merge: nothing changes.
		full, _ := w.s.Get(ctx, "w", b.ID)
		if got, _ := w.s.ForReply(ctx, "w", full, bConv); len(got.Identities) != len(full.Identities) {
			t.Fatalf("no merge: %v", got.Identities)
		}
		w.merge(b.ID, a.ID)
		w.merge(b.ID, c.ID)
		full, _ = w.s.Get(ctx, "w", b.ID)
		numbers := func(c customer.Customer) []string {
			var out []string
			for _, i := range c.Identities {
				if i.Kind == customer.KindWhatsApp || i.Kind == customer.KindPhone {
					out = append(out, i.Normalized)
				}
			}
			return out
		}
		for conv, want := range map[string]struct {
			number, email string
		}{aConv: {"+905321111111", "a@example.com"}, bConv: {"+905322222222", "b@example.com"}, cConv: {"+905323333333", "b@example.com"}} {
			got, err := w.s.ForReply(ctx, "w", full, conv)
			if err != nil {
				t.Fatal(err)
			}
			if n := numbers(got); !slices.Equal(n, []string{want.number}) || got.Email != want.email || got.Phone != want.number {
				t.Errorf("conversation %s: numbers %v, email %s, phone %s; want %s, %s", conv, n, got.Email, got.Phone, want.number, want.email)
			}
			if !slices.ContainsFunc(got.Identities, func(i customer.Identity) bool { return i.Kind == customer.KindTelegram }) {
				t.Errorf("conversation %s: the only Telegram identity must stay: %v", conv, got.Identities)
			}
		}
		// After the merge A writes from her number into B's conversation:
		// the reply goes to the identity she used.
		var aNumber string
		for _, i := range full.Identities {
			if i.Normalized == "+905321111111" {
				aNumber = i.ID
			}
		}
		exec(t, db, "UPDATE conversations SET last_identity_id = '"+aNumber+"' WHERE id = '"+bConv+"'")
		got, _ := w.s.ForReply(ctx, "w", full, bConv)
		if n := numbers(got); !slices.Equal(n, []string{"+905321111111"}) {
			t.Fatalf("last identity used: %v", n)
		}
		// IdentityID finds that identity from an inbound claim.
		err := db.Write(ctx, func(tx *store.Tx) error {
			id, err := w.s.IdentityID(ctx, tx, "w", "TR", customer.Claim{Kind: customer.KindWhatsApp, Value: "905321111111"})
			if err == nil && id != aNumber {
				err = fmt.Errorf("IdentityID = %q, want %q", id, aNumber)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/testutil"
)

// wired skips the test while routes.go does not have the customer 360
// routes yet (they are added together with these tests' handlers).
func wired(t *testing.T, e *env) {
	t.Helper()
	if r := e.owner.Do("GET", "/api/v1/customer-merges/00000000-0000-7000-8000-000000000000", nil); r.ErrorCode() == "no_route" {
		t.Skip("the customer 360 routes are not in routes.go yet")
	}
}

type mergeJSON struct {
	ID         string `json:"id"`
	SurvivorID string `json:"survivor_id"`
	MergedID   string `json:"merged_id"`
	Moved      struct {
		Identities    int `json:"identities"`
		Conversations int `json:"conversations"`
		Messages      int `json:"messages"`
	} `json:"moved"`
	Filled    []string `json:"filled"`
	CreatedAt int64    `json:"created_at"`
	UndoneAt  *int64   `json:"undone_at"`
}

func (e *env) merge(survivor, from string) mergeJSON {
	e.t.Helper()
	var m mergeJSON
	call(e.t, e.owner, http.StatusCreated, "POST", "/api/v1/customers/"+survivor+"/merge", map[string]any{"from": from}).Decode(e.t, &m)
	return m
}

func (e *env) undoMerge(id string) mergeJSON {
	e.t.Helper()
	var m mergeJSON
	call(e.t, e.owner, http.StatusOK, "POST", "/api/v1/customer-merges/"+id+"/undo", nil).Decode(e.t, &m)
	return m
}

// customerView is everything the API shows about some customers: profiles
// with identities, their conversations and every message, as raw JSON.
func (e *env) customerView(ids ...string) string {
	e.t.Helper()
	var b strings.Builder
	for _, id := range ids {
		b.Write(call(e.t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+id, nil).Body)
		convs := call(e.t, e.owner, http.StatusOK, "GET", "/api/v1/conversations?limit=200&customer="+id, nil)
		b.Write(convs.Body)
		for _, c := range decodePage[convJSON](e.t, convs).Items {
			b.Write(call(e.t, e.owner, http.StatusOK, "GET", "/api/v1/conversations/"+c.ID+"/messages?limit=200", nil).Body)
		}
	}
	return b.String()
}

func (e *env) timeline(id, query string) pageJSON[eventJSON] {
	e.t.Helper()
	return decodePage[eventJSON](e.t, call(e.t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+id+"/timeline?"+query, nil))
}

// twoCustomers makes Ayşe (two conversations, one resolved) and Bora (one
// conversation with a note) on an api inbox.
func (e *env) twoCustomers(inbox string) (ayse, bora ingestJSON) {
	e.t.Helper()
	ayse = e.inbound(inbox, "a-1", map[string]any{"name": "Ayşe Yılmaz", "email": "ayse@example.com", "external_id": "shop-a"}, "Siparişim nerede?")
	e.patchConv(e.owner, ayse.ConversationID, map[string]any{"status": "resolved"})
	e.inbound(inbox, "a-2", map[string]any{"external_id": "shop-a"}, "Bir sorum daha var")
	bora = e.inbound(inbox, "b-1", map[string]any{"email": "bora@example.com", "external_id": "shop-b"}, "Merhaba")
	call(e.t, e.owner, http.StatusCreated, "POST", "/api/v1/conversations/"+bora.ConversationID+"/notes", map[string]any{"text": "VIP"})
	return ayse, bora
}

func TestCustomerMergeAndUndo(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Mağaza", "owner@magaza.test")
		wired(t, e)
		inbox, _ := e.apiInbox("Shop")
		ayse, bora := e.twoCustomers(inbox)

		m := e.merge(bora.CustomerID, ayse.CustomerID)
		if m.ID == "" || m.SurvivorID != bora.CustomerID || m.MergedID != ayse.CustomerID || m.CreatedAt == 0 || m.UndoneAt != nil ||
			m.Moved.Identities != 2 || m.Moved.Conversations != 2 || m.Moved.Messages != 2 || !slices.Equal(m.Filled, []string{"name"}) {
			t.Fatalf("merge record: %+v", m)
		}
		// The merged-away customer answers 404 customer_merged naming the survivor.
		r := e.owner.Do("GET", "/api/v1/customers/"+ayse.CustomerID, nil)
		wantErr(t, "GET merged-away", r, http.StatusNotFound, "customer_merged")
		if !strings.Contains(string(r.Body), bora.CustomerID) {
			t.Fatalf("the answer must name the survivor: %s", r.Body)
		}
		for _, p := range []string{"/timeline", "/duplicates"} {
			wantErr(t, "GET merged-away "+p, e.owner.Do("GET", "/api/v1/customers/"+ayse.CustomerID+p, nil), http.StatusNotFound, "customer_merged")
		}
		wantErr(t, "PATCH merged-away", e.owner.Do("PATCH", "/api/v1/customers/"+ayse.CustomerID, map[string]any{"name": "x"}),
			http.StatusNotFound, "customer_merged")
		// Her conversations are the survivor's now; lists and search agree.
		if got := e.conversationIDs(e.owner, "customer="+bora.CustomerID); len(got) != 3 {
			t.Fatalf("survivor's conversations: %v", got)
		}
		if got := e.conversationIDs(e.owner, "customer="+ayse.CustomerID); len(got) != 0 {
			t.Fatalf("merged-away customer's conversations: %v", got)
		}
		for _, q := range []string{"", "q=ay%C5%9Fe"} {
			items := decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers?"+q, nil)).Items
			if len(items) != 1 || str(items[0], "id") != bora.CustomerID || str(items[0], "name") != "Ayşe Yılmaz" {
				t.Fatalf("customers?%s after merge: %v", q, items)
			}
		}
		// Her next message finds the survivor.
		next := e.inbound(inbox, "a-3", map[string]any{"email": "AYSE@example.com"}, "Hâlâ bekliyorum")
		if next.CustomerID != bora.CustomerID {
			t.Fatalf("a message from the merged customer's address went to %s", next.CustomerID)
		}
		// The survivor's timeline holds both histories, newest first.
		tl := e.timeline(bora.CustomerID, "limit=200")
		owners := map[string]int{}
		for i, ev := range tl.Items {
			owners[ev.CustomerID]++
			if i > 0 && tl.Items[i-1].Seq <= ev.Seq {
				t.Fatalf("timeline not newest first at %d: %v", i, tl.Items)
			}
		}
		if owners[ayse.CustomerID] < 5 || owners[bora.CustomerID] < 4 || len(owners) != 2 {
			t.Fatalf("timeline owners: %v", owners)
		}
		if tl.Items[0].Type != "message.created" || !slices.ContainsFunc(tl.Items, func(ev eventJSON) bool { return ev.Type == "customer.merged" }) {
			t.Fatalf("timeline head: %+v", tl.Items[:3])
		}
		// Paging through the merged timeline gives the same events.
		var paged []eventJSON
		q := "limit=3"
		for {
			p := e.timeline(bora.CustomerID, q)
			paged = append(paged, p.Items...)
			if p.NextBefore == nil {
				break
			}
			q = "limit=3&before=" + strconv.FormatInt(*p.NextBefore, 10)
		}
		if len(paged) != len(tl.Items) || paged[len(paged)-1].Seq != tl.Items[len(tl.Items)-1].Seq {
			t.Fatalf("paged timeline: %d events, want %d", len(paged), len(tl.Items))
		}
		// The merge can be read and is listed for both customers.
		var got mergeJSON
		call(t, e.owner, http.StatusOK, "GET", "/api/v1/customer-merges/"+m.ID, nil).Decode(t, &got)
		if got.ID != m.ID || got.UndoneAt != nil {
			t.Fatalf("GET merge: %+v", got)
		}
		for _, id := range []string{ayse.CustomerID, bora.CustomerID} {
			if items := decodePage[mergeJSON](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+id+"/merges", nil)).Items; len(items) != 1 || items[0].ID != m.ID {
				t.Fatalf("merges of %s: %+v", id, items)
			}
		}

		// Exactness: merge and undo in a workspace where nothing else
		// happens in between.
		e2 := newEnv(t, a, "İkinci", "owner@ikinci.test")
		inbox2, _ := e2.apiInbox("Shop")
		x, y := e2.twoCustomers(inbox2)
		clean := e2.customerView(x.CustomerID, y.CustomerID)
		seq := lastSeq(t, e2.owner)
		m2 := e2.merge(y.CustomerID, x.CustomerID)
		u := e2.undoMerge(m2.ID)
		if u.ID != m2.ID || u.UndoneAt == nil || u.Moved != m2.Moved {
			t.Fatalf("undo answer: %+v", u)
		}
		if after := e2.customerView(x.CustomerID, y.CustomerID); after != clean {
			t.Fatalf("merge then undo changed the customers:\nbefore %s\nafter  %s", clean, after)
		}
		var types []string
		for _, ev := range allEvents(t, e2.owner) {
			if ev.Seq > seq {
				types = append(types, ev.Type)
			}
		}
		if !slices.Contains(types, "customer.merged") || !slices.Contains(types, "customer.unmerged") {
			t.Fatalf("events of merge and undo: %v", types)
		}
		wantErr(t, "undo twice", e2.owner.Do("POST", "/api/v1/customer-merges/"+m2.ID+"/undo", nil), http.StatusConflict, "merge_undone")
		if tl := e2.timeline(y.CustomerID, "limit=200"); slices.ContainsFunc(tl.Items, func(ev eventJSON) bool { return ev.CustomerID == x.CustomerID }) {
			t.Fatal("after the undo the survivor's timeline still holds the other customer's events")
		}
		// The first workspace's merge undoes too, though a message came in
		// meanwhile: Ayşe's conversations go back with all their messages.
		e.undoMerge(m.ID)
		call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+ayse.CustomerID, nil)
		back := e.conversationIDs(e.owner, "customer="+ayse.CustomerID)
		if len(back) != 2 {
			t.Fatalf("conversations back with Ayşe: %v", back)
		}
		for _, c := range back {
			for _, msg := range e.messages(c) {
				if msg.CustomerID != ayse.CustomerID {
					t.Fatalf("message %s of Ayşe's conversation is %s's", msg.ID, msg.CustomerID)
				}
			}
		}
	})
}

func TestCustomerMergeRules(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Mağaza", "owner@magaza.test")
		wired(t, e)
		other := newEnv(t, a, "Başka", "owner@baska.test")
		inbox, _ := e.apiInbox("Shop")
		oInbox, _ := other.apiInbox("Shop")
		ca := e.inbound(inbox, "a", map[string]any{"email": "a@example.com"}, "a").CustomerID
		cb := e.inbound(inbox, "b", map[string]any{"email": "b@example.com"}, "b").CustomerID
		cc := e.inbound(inbox, "c", map[string]any{"email": "c@example.com"}, "c").CustomerID
		theirs := other.inbound(oInbox, "a", map[string]any{"email": "a@example.com"}, "a").CustomerID
		seq := lastSeq(t, e.owner)

		f := wantErr(t, "self merge", e.owner.Do("POST", "/api/v1/customers/"+ca+"/merge", map[string]any{"from": ca}), http.StatusBadRequest, "invalid_input")
		if f["from"] == nil {
			t.Fatalf("self merge fields: %v", f)
		}
		wantErr(t, "no from", e.owner.Do("POST", "/api/v1/customers/"+ca+"/merge", map[string]any{}), http.StatusBadRequest, "invalid_input")
		wantErr(t, "from another workspace", e.owner.Do("POST", "/api/v1/customers/"+ca+"/merge", map[string]any{"from": theirs}), http.StatusNotFound, "not_found")
		wantErr(t, "into another workspace", e.owner.Do("POST", "/api/v1/customers/"+theirs+"/merge", map[string]any{"from": ca}), http.StatusNotFound, "not_found")
		wantErr(t, "unknown merge", e.owner.Do("POST", "/api/v1/customer-merges/00000000-0000-7000-8000-000000000000/undo", nil), http.StatusNotFound, "not_found")
		if got := lastSeq(t, e.owner); got != seq {
			t.Fatalf("refused merges appended events: %d → %d", seq, got)
		}

		ab := e.merge(cb, ca) // A into B
		bc := e.merge(cc, cb) // B into C
		r := e.owner.Do("POST", "/api/v1/customer-merges/"+ab.ID+"/undo", nil)
		wantErr(t, "undo A→B while B→C stands", r, http.StatusConflict, "merge_dependent")
		if !strings.Contains(string(r.Body), bc.ID) {
			t.Fatalf("the answer must name the dependent merge %s: %s", bc.ID, r.Body)
		}
		r = e.owner.Do("POST", "/api/v1/customers/"+ca+"/merge", map[string]any{"from": cc})
		wantErr(t, "circular merge", r, http.StatusConflict, "customer_merged")
		if !strings.Contains(string(r.Body), cc) {
			t.Fatalf("the answer must name the live survivor: %s", r.Body)
		}
		r = e.owner.Do("GET", "/api/v1/customers/"+ca, nil)
		wantErr(t, "GET A", r, http.StatusNotFound, "customer_merged")
		if !strings.Contains(string(r.Body), cc) {
			t.Fatalf("A's answer must name C, where A now lives: %s", r.Body)
		}
		owners := map[string]bool{}
		for _, ev := range e.timeline(cc, "limit=200").Items {
			owners[ev.CustomerID] = true
		}
		if !owners[ca] || !owners[cb] || !owners[cc] {
			t.Fatalf("C's timeline holds A's, B's and C's events: %v", owners)
		}
		if got := e.conversationIDs(e.owner, "customer="+cc); len(got) != 3 {
			t.Fatalf("C's conversations: %v", got)
		}
		wantErr(t, "undo from another workspace", other.owner.Do("POST", "/api/v1/customer-merges/"+bc.ID+"/undo", nil), http.StatusNotFound, "not_found")
		wantErr(t, "read from another workspace", other.owner.Do("GET", "/api/v1/customer-merges/"+bc.ID, nil), http.StatusNotFound, "not_found")
		wantErr(t, "merges from another workspace", other.owner.Do("GET", "/api/v1/customers/"+cc+"/merges", nil), http.StatusNotFound, "not_found")
		e.undoMerge(bc.ID)
		e.undoMerge(ab.ID)
		for _, id := range []string{ca, cb, cc} {
			if got := e.conversationIDs(e.owner, "customer="+id); len(got) != 1 {
				t.Fatalf("after undoing both, %s has %d conversations", id, len(got))
			}
		}
	})
}

// A reply after a merge goes to the identities of the conversation's own
// customer, and to the identity last written from.
func TestReplyAfterMergeUsesTheConversationsIdentity(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Mağaza", "owner@magaza.test")
		wired(t, e)
		fx := e.deliveryFixture(func() (int, string) { return http.StatusOK, `{"id":"cb"}` })
		elif := fx.conv // external_id crm-42, elif@example.com
		other := e.inbound(fx.inboxID, "o-1", map[string]any{"name": "Elif K.", "email": "elif.k@example.com", "external_id": "crm-77"}, "Merhaba")
		e.merge(other.CustomerID, elif.CustomerID)
		reply := func(conv string) map[string]any {
			t.Helper()
			m := e.reply(conv, "Yanıt "+conv)
			e.waitStatus(conv, m.ID, "sent")
			calls, _ := fx.cb.snapshot()
			for _, c := range calls {
				if c.Message["id"] == m.ID {
					return c.Customer
				}
			}
			t.Fatalf("no callback for %s", m.ID)
			return nil
		}
		for conv, want := range map[string][2]string{elif.ConversationID: {"crm-42", "elif@example.com"}, other.ConversationID: {"crm-77", "elif.k@example.com"}} {
			c := reply(conv)
			if c["id"] != other.CustomerID || c["external_id"] != want[0] || c["email"] != want[1] {
				t.Errorf("reply in %s went to %v, want %v", conv, c, want)
			}
		}
		// Elif writes again with her old id: whichever conversation it
		// joins, the reply goes to the id she wrote from.
		again := e.inbound(fx.inboxID, "in-2", map[string]any{"external_id": "crm-42"}, "Yine ben")
		if c := reply(again.ConversationID); c["external_id"] != "crm-42" {
			t.Errorf("reply after her new message went to %v", c)
		}
	})
}

func TestCustomerDuplicatesAPI(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Mağaza", "owner@magaza.test")
		wired(t, e)
		other := newEnv(t, a, "Başka", "owner@baska.test")
		create := func(c *testutil.Client, body map[string]any) string {
			return str(call(t, c, http.StatusCreated, "POST", "/api/v1/customers", body).JSON(), "id")
		}
		me := create(e.owner, map[string]any{"name": "Ayşe Yılmaz", "email": "ayse.yilmaz@gmail.com", "phone": "0532 123 45 67"})
		wa := create(e.owner, map[string]any{"name": "Ayşe", "identities": []map[string]any{{"kind": "whatsapp", "value": "905321234567"}}})
		hot := create(e.owner, map[string]any{"name": "AYSE YILMAZ", "email": "ayse.yilmaz@hotmail.com"})
		create(e.owner, map[string]any{"name": "Ayşe Yılmaz", "email": "someone@example.com"}) // a name alone
		create(e.owner, map[string]any{"name": "Mehmet", "email": "ayse.yilmaz@yahoo.com"})    // a weak reason alone
		theirs := create(other.owner, map[string]any{"name": "Ayşe Yılmaz", "identities": []map[string]any{{"kind": "whatsapp", "value": "905321234567"}}})

		var page struct {
			Items []struct {
				Customer struct {
					ID          string `json:"id"`
					WorkspaceID string `json:"workspace_id"`
				} `json:"customer"`
				Score   int `json:"score"`
				Reasons []struct {
					Code   string `json:"code"`
					Detail string `json:"detail"`
				} `json:"reasons"`
			} `json:"items"`
		}
		call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+me+"/duplicates", nil).Decode(t, &page)
		var ids []string
		for _, it := range page.Items {
			ids = append(ids, it.Customer.ID)
			if it.Customer.ID == me || it.Customer.WorkspaceID != e.ws.ID || len(it.Reasons) == 0 || it.Score < 3 {
				t.Errorf("suggestion %+v", it)
			}
		}
		if !slices.Equal(ids, []string{wa, hot}) {
			t.Fatalf("suggestions %v, want %v", ids, []string{wa, hot})
		}
		if page.Items[0].Reasons[0].Code != "same_number" {
			t.Fatalf("first reason: %+v", page.Items[0].Reasons)
		}
		wantErr(t, "another workspace's customer", e.owner.Do("GET", "/api/v1/customers/"+theirs+"/duplicates", nil), http.StatusNotFound, "not_found")
		wantErr(t, "bad limit", e.owner.Do("GET", "/api/v1/customers/"+me+"/duplicates?limit=51", nil), http.StatusBadRequest, "invalid_input")
		call(t, other.owner, http.StatusOK, "GET", "/api/v1/customers/"+theirs+"/duplicates", nil).Decode(t, &page)
		if len(page.Items) != 0 {
			t.Fatalf("the other workspace sees suggestions: %+v", page.Items)
		}
	})
}

type activityJSON struct {
	ID          string `json:"id"`
	CustomerID  string `json:"customer_id"`
	Type        string `json:"type"`
	Seq         int64  `json:"seq"`
	OccurredAt  int64  `json:"occurred_at"`
	Duplicate   bool   `json:"duplicate"`
	NewCustomer bool   `json:"new_customer"`
}

func TestCustomerEventsAPI(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Mağaza", "owner@magaza.test")
		wired(t, e)
		other := newEnv(t, a, "Başka", "owner@baska.test")
		cust := call(t, e.owner, http.StatusCreated, "POST", "/api/v1/customers", map[string]any{"name": "Ayşe", "email": "ayse@example.com"}).JSON()
		id := str(cust, "id")
		theirs := str(call(t, other.owner, http.StatusCreated, "POST", "/api/v1/customers", map[string]any{"name": "V"}).JSON(), "id")

		order := map[string]any{"type": "order.placed", "idempotency_key": "order-1001-placed", "occurred_at": "2026-01-15T10:30:00Z",
			"data": map[string]any{"order_id": "1001", "total": 1499.9, "currency": "TRY", "items": []any{map[string]any{"sku": "K-1", "qty": 2}}}}
		var first, again activityJSON
		call(t, e.owner, http.StatusCreated, "POST", "/api/v1/customers/"+id+"/events", order).Decode(t, &first)
		if first.ID == "" || first.CustomerID != id || first.Type != "order.placed" || first.Duplicate || first.OccurredAt != 1768473000000 {
			t.Fatalf("first: %+v", first)
		}
		seq := lastSeq(t, e.owner)
		call(t, e.owner, http.StatusOK, "POST", "/api/v1/customers/"+id+"/events", order).Decode(t, &again)
		if !again.Duplicate || again.ID != first.ID || again.Seq != first.Seq || lastSeq(t, e.owner) != seq {
			t.Fatalf("retry: %+v", again)
		}
		changed := map[string]any{"type": "order.shipped", "idempotency_key": "order-1001-placed"}
		wantErr(t, "key reuse", e.owner.Do("POST", "/api/v1/customers/"+id+"/events", changed), http.StatusConflict, "idempotency_key_reused")
		tl := e.timeline(id, "limit=1")
		if tl.Items[0].Type != "customer.activity" || tl.Items[0].Seq != first.Seq {
			t.Fatalf("timeline head: %+v", tl.Items)
		}
		raw := call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+id+"/timeline?limit=1", nil).Body
		if !strings.Contains(string(raw), `"order_id":"1001"`) || !strings.Contains(string(raw), `"type":"order.placed"`) {
			t.Fatalf("timeline event data: %s", raw)
		}

		// Bulk, naming customers by identity; an unknown type is stored.
		var bulk pageJSON[activityJSON]
		call(t, e.owner, http.StatusOK, "POST", "/api/v1/customer-events", map[string]any{"events": []any{
			map[string]any{"customer": map[string]any{"email": "AYSE@example.com"}, "type": "app.opened", "occurred_at": 1768473000000},
			map[string]any{"customer": map[string]any{"phone": "0532 999 88 77", "name": "Yeni Müşteri"}, "type": "store.visit", "idempotency_key": "v-1"},
			map[string]any{"customer": map[string]any{"external_id": "shop-9"}, "type": "loyalty.tier_changed", "data": map[string]any{"tier": "gold"}},
			map[string]any{"customer_id": id, "type": "favourite.added", "data": map[string]any{"sku": "K-1"}},
			map[string]any{"customer": map[string]any{"phone": "+905329998877"}, "type": "store.visit", "idempotency_key": "v-1"},
		}}).Decode(t, &bulk)
		it := bulk.Items
		if len(it) != 5 || it[0].CustomerID != id || it[0].NewCustomer || !it[1].NewCustomer || !it[2].NewCustomer ||
			it[3].CustomerID != id || !it[4].Duplicate || it[4].ID != it[1].ID {
			t.Fatalf("bulk: %+v", it)
		}
		newCust := call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers/"+it[1].CustomerID, nil).JSON()
		if str(newCust, "name") != "Yeni Müşteri" || str(newCust, "phone") != "+905329998877" {
			t.Fatalf("customer created by an event: %v", newCust)
		}

		// All or nothing.
		seq = lastSeq(t, e.owner)
		customers := len(decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers", nil)).Items)
		for what, c := range map[string]struct {
			events []any
			status int
			code   string
			field  string
		}{
			"data not an object": {[]any{map[string]any{"customer": map[string]any{"email": "fresh@example.com"}, "type": "app.opened"},
				map[string]any{"customer_id": id, "type": "app.opened", "data": "x"}}, 400, "invalid_input", "events[1].data"},
			"bad address": {[]any{map[string]any{"customer": map[string]any{"email": "fresh@example.com"}, "type": "app.opened"},
				map[string]any{"customer": map[string]any{"email": "nope"}, "type": "app.opened"}}, 400, "invalid_input", "events[1].customer.email"},
			"bad time": {[]any{map[string]any{"customer_id": id, "type": "app.opened", "occurred_at": "yesterday"}}, 400, "invalid_input", "events[0].occurred_at"},
			"data too large": {[]any{map[string]any{"customer_id": id, "type": "app.opened", "data": map[string]any{"x": strings.Repeat("y", 16<<10)}}},
				400, "invalid_input", "events[0].data"},
			"unknown customer": {[]any{map[string]any{"customer": map[string]any{"email": "fresh@example.com"}, "type": "app.opened"},
				map[string]any{"customer_id": "00000000-0000-7000-8000-000000000000", "type": "app.opened"}}, 404, "customer_not_found", ""},
			"another workspace's customer": {[]any{map[string]any{"customer_id": theirs, "type": "app.opened"}}, 404, "customer_not_found", ""},
			"no events":                    {[]any{}, 400, "invalid_input", "events"},
		} {
			f := wantErr(t, what, e.owner.Do("POST", "/api/v1/customer-events", map[string]any{"events": c.events}), c.status, c.code)
			if c.field != "" && f[c.field] == nil {
				t.Errorf("%s: fields %v, want %s", what, f, c.field)
			}
		}
		many := make([]any, 501)
		for i := range many {
			many[i] = map[string]any{"customer_id": id, "type": "app.opened"}
		}
		wantErr(t, "501 events", e.owner.Do("POST", "/api/v1/customer-events", map[string]any{"events": many}), http.StatusBadRequest, "invalid_input")
		wantErr(t, "another workspace's customer by path", e.owner.Do("POST", "/api/v1/customers/"+theirs+"/events", map[string]any{"type": "app.opened"}),
			http.StatusNotFound, "customer_not_found")
		if got := lastSeq(t, e.owner); got != seq {
			t.Fatalf("refused calls appended events: %d → %d", seq, got)
		}
		if n := len(decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/customers", nil)).Items); n != customers {
			t.Fatalf("refused calls created customers: %d → %d", customers, n)
		}
	})
}

func TestCustomerEventFloodIsRateLimited(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Mağaza", "owner@magaza.test")
		wired(t, e)
		other := newEnv(t, a, "Başka", "owner@baska.test")
		id := str(call(t, e.owner, http.StatusCreated, "POST", "/api/v1/customers", map[string]any{"name": "Ayşe"}).JSON(), "id")
		batch := func(prefix string) map[string]any {
			evs := make([]any, 500)
			for i := range evs {
				evs[i] = map[string]any{"customer_id": id, "type": "cart.updated", "idempotency_key": fmt.Sprintf("%s-%d", prefix, i)}
			}
			return map[string]any{"events": evs}
		}
		start := time.Now()
		call(t, e.owner, http.StatusOK, "POST", "/api/v1/customer-events", batch("a"))
		call(t, e.owner, http.StatusOK, "POST", "/api/v1/customer-events", batch("b"))
		seq := lastSeq(t, e.owner)
		r := e.owner.Do("POST", "/api/v1/customer-events", batch("c"))
		if time.Since(start) > 9*time.Second {
			t.Skip("the machine is too slow for the bucket to stay empty")
		}
		wantErr(t, "third batch at once", r, http.StatusTooManyRequests, "rate_limited")
		if wait, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || wait < 1 || wait > 10 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if !strings.Contains(string(r.Body), "nothing of this call was stored") {
			t.Fatalf("429 body: %s", r.Body)
		}
		if got := lastSeq(t, e.owner); got != seq {
			t.Fatalf("a refused batch stored events: %d → %d", seq, got)
		}
		// Another workspace has its own budget.
		oid := str(call(t, other.owner, http.StatusCreated, "POST", "/api/v1/customers", map[string]any{"name": "V"}).JSON(), "id")
		call(t, other.owner, http.StatusCreated, "POST", "/api/v1/customers/"+oid+"/events", map[string]any{"type": "app.opened"})
	})
}

package httpapi_test

// Bad input on every route that reads a JSON body (found in routes.go, see
// loadRoutes), bad query parameters, and proof that nothing is stored when
// a request is refused.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

// noBody lists the POST/PATCH routes that read no body at all.
var noBody = map[string]bool{
	"POST /api/v1/auth/logout":               true,
	"POST /api/v1/jobs/{id}/retry":           true,
	"POST /api/v1/inboxes/{id}/test":         true,
	"POST /api/v1/customer-merges/{id}/undo": true,
}

// bodyRoutes are the routes that decode a JSON body.
func bodyRoutes(t testing.TB) []apiRoute {
	var out []apiRoute
	for _, r := range loadRoutes(t) {
		if (r.Method == "POST" || r.Method == "PATCH" || r.Method == "PUT") && !noBody[r.String()] {
			out = append(out, r)
		}
	}
	if len(out) < 15 {
		t.Fatalf("only %d body routes", len(out))
	}
	return out
}

type wrongType struct {
	body  string
	field string // the field error.fields must name
}

// wrongTypes holds, per body route, bodies with a field of the wrong JSON type.
var wrongTypes = map[string][]wrongType{
	"POST /api/v1/auth/login":           {{`{"email": 42, "password": "x"}`, "email"}, {`{"email":"a@b.c","password":["x"]}`, "password"}},
	"POST /api/v1/canned-replies":       {{`{"shortcut": 1, "title": "t", "text": "x"}`, "shortcut"}},
	"PATCH /api/v1/canned-replies/{id}": {{`{"text": ["x"]}`, "text"}},
	"POST /api/v1/labels":               {{`{"name": "vip", "color": 5}`, "color"}},
	"POST /api/v1/setup":                {{`{"workspace": 7, "email": "a@b.c", "password": "x"}`, "workspace"}, {`{"email": false}`, "email"}},
	"PATCH /api/v1/workspace":           {{`{"name": 1}`, "name"}, {`{"settings": {"continuity": "yes"}}`, "settings.continuity"}, {`{"settings": "all"}`, "settings"}},
	"POST /api/v1/users":                {{`{"email": "x@y.test", "role": 3}`, "role"}, {`{"email": {"a": 1}}`, "email"}},
	"PATCH /api/v1/users/{id}":          {{`{"role": true}`, "role"}},
	"POST /api/v1/tokens":               {{`{"name": ["ci"]}`, "name"}},
	"POST /api/v1/teams":                {{`{"name": "T", "member_ids": "u1"}`, "member_ids"}, {`{"name": 5}`, "name"}},
	"PATCH /api/v1/teams/{id}":          {{`{"member_ids": [1, 2]}`, "member_ids"}, {`{"name": false}`, "name"}},
	"POST /api/v1/inboxes":              {{`{"type": "api", "name": "x", "config": "callback"}`, "config"}, {`{"type": 1}`, "type"}},
	"PATCH /api/v1/inboxes/{id}":        {{`{"name": 7}`, "name"}, {`{"config": []}`, "config"}},
	"POST /api/v1/inboxes/{id}/inbound": {
		{`{"external_message_id": "w-1", "text": "hi", "customer": {"email": 5}}`, "customer.email"},
		{`{"external_message_id": 17, "text": "hi", "customer": {"email": "a@b.test"}}`, "external_message_id"},
		{`{"external_message_id": "w-1", "text": "hi", "customer": "a@b.test"}`, "customer"},
		{`{"external_message_id": "w-1", "text": "hi", "customer": {"email": "a@b.test"}, "attachments": {"url": "x"}}`, "attachments"},
	},
	"POST /api/v1/customers":                 {{`{"attributes": [1]}`, "attributes"}, {`{"identities": {"kind": "email"}}`, "identities"}},
	"PATCH /api/v1/customers/{id}":           {{`{"name": {"first": "a"}}`, "name"}, {`{"phone": 5321234567}`, "phone"}},
	"POST /api/v1/customers/{id}/identities": {{`{"kind": "email", "value": 42}`, "value"}},
	"POST /api/v1/customers/{id}/merge":      {{`{"from": 42}`, "from"}, {`{"from": ["a"]}`, "from"}},
	"POST /api/v1/customers/{id}/events": {
		{`{"type": 1}`, "type"},
		{`{"type": "app.opened", "data": "x"}`, "data"},
		{`{"type": "app.opened", "occurred_at": true}`, "occurred_at"},
		{`{"type": "app.opened", "idempotency_key": 5}`, "idempotency_key"},
	},
	"POST /api/v1/customer-events": {
		{`{"events": {"type": "app.opened"}}`, "events"},
		{`{"events": [{"type": "app.opened", "customer_id": 7}]}`, "events.customer_id"},
		{`{"events": [{"type": "app.opened", "customer": "a@b.test"}]}`, "events.customer"},
		{`{"events": [{"customer_id": "x", "type": "app.opened", "data": [1]}]}`, "events[0].data"},
	},
	"PATCH /api/v1/conversations/{id}": {
		{`{"snoozed_until": "tomorrow"}`, "snoozed_until"},
		{`{"labels": "vip"}`, "labels"},
		{`{"priority": 1}`, "priority"},
		{`{"assignee_id": 5}`, "assignee_id"},
		{`{"team_id": ["t"]}`, "team_id"},
	},
	"POST /api/v1/conversations/{id}/messages": {{`{"text": 12}`, "text"}, {`{"text": "x", "attachments": "a"}`, "attachments"}},
	"POST /api/v1/conversations/{id}/notes":    {{`{"text": false}`, "text"}},
	"POST /api/v1/conversations/{id}/read":     {{`{"message_id": 5}`, "message_id"}},
}

// badBodyFixture is a workspace with an id of every kind, and the paths of
// the body routes with those ids filled in.
func badBodyFixture(t *testing.T, a *testutil.App) (*tenant, map[string]string) {
	t.Helper()
	tn := newTenant(t, a, "Acme", "owner@acme.test", "Ayşe Müşteri", false)
	paths := map[string]string{}
	for _, rt := range bodyRoutes(t) {
		p := rt.Path
		if strings.Contains(p, "{id}") {
			id, ok := tn.ids[idKind(t, rt)]
			if !ok {
				t.Fatalf("route %s: no id of kind %q in the fixture", rt, idKind(t, rt))
			}
			p = strings.ReplaceAll(p, "{id}", id)
		}
		paths[rt.String()] = p
	}
	return tn, paths
}

func TestBadBodies(t *testing.T) {
	routes := bodyRoutes(t)
	for _, rt := range routes {
		if _, ok := wrongTypes[rt.String()]; !ok {
			t.Errorf("route %s: add a wrong-type case to wrongTypes", rt)
		}
	}
	type badCase struct {
		what        string
		body        any
		headers     []string
		status      int
		code, field string
	}
	generic := []badCase{
		{"truncated JSON", `{"name":`, nil, 400, "malformed_json", ""},
		{"unquoted key", `{name: 1}`, nil, 400, "malformed_json", ""},
		{"not JSON", `name=x&text=y`, nil, 400, "malformed_json", ""},
		{"two values", `{}{}`, nil, 400, "malformed_json", ""},
		{"trailing garbage", `{} x`, nil, 400, "malformed_json", ""},
		{"unclosed array", `[1,2`, nil, 400, "malformed_json", ""},
		{"unknown field", `{"bogus_field": 1}`, nil, 400, "unknown_field", "bogus_field"},
		{"array body", `[1, 2]`, nil, 400, "invalid_input", "body"},
		{"string body", `"hello"`, nil, 400, "invalid_input", "body"},
		{"number body", `42`, nil, 400, "invalid_input", "body"},
		{"no body", nil, nil, 400, "malformed_json", ""},
		{"empty body", "", nil, 400, "malformed_json", ""},
		{"blank body", "  \n\t ", nil, 400, "malformed_json", ""},
		{"text/plain", `{}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
		{"form", `a=b`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		{"multipart", `--x--`, []string{"Content-Type", "multipart/form-data; boundary=x"}, 415, "unsupported_media_type", ""},
		{"broken content type", `{}`, []string{"Content-Type", ";;;"}, 415, "unsupported_media_type", ""},
	}
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		tn, paths := badBodyFixture(t, a)
		seq := lastSeq(t, tn.owner)
		checked := 0
		for _, rt := range routes {
			cases := append([]badCase{}, generic...)
			for _, w := range wrongTypes[rt.String()] {
				cases = append(cases, badCase{"wrong type " + w.body, w.body, nil, 400, "invalid_input", w.field})
			}
			for _, c := range cases {
				checked++
				r := tn.owner.Do(rt.Method, paths[rt.String()], c.body, c.headers...)
				what := rt.String() + ": " + c.what
				if r.Status != c.status || r.ErrorCode() != c.code {
					t.Errorf("%s: got %d %q, want %d %q: %s", what, r.Status, r.ErrorCode(), c.status, c.code, r.Body)
					continue
				}
				if c.field != "" {
					if _, ok := errFields(r)[c.field]; !ok {
						t.Errorf("%s: error.fields %v does not name %q", what, errFields(r), c.field)
					}
				}
				if got := lastSeq(t, tn.owner); got != seq {
					t.Fatalf("%s: a refused request appended events (%d -> %d)", what, seq, got)
				}
			}
		}
		if checked < 15*len(generic) {
			t.Fatalf("only %d bad requests checked", checked)
		}
		// A JSON content type with parameters is JSON.
		call(t, tn.owner, http.StatusCreated, "POST", "/api/v1/teams", map[string]any{"name": "Charset"}, "Content-Type", "application/json; charset=utf-8")
		call(t, tn.owner, http.StatusCreated, "POST", "/api/v1/teams", map[string]any{"name": "Upper"}, "Content-Type", "Application/JSON")
	})
}

func TestBodyTooLarge(t *testing.T) {
	const limit = 4096
	routes := bodyRoutes(t)
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			a := testutil.New(t, d, testutil.Options{MaxBody: limit})
			tn, paths := badBodyFixture(t, a)
			seq := lastSeq(t, tn.owner)
			big := `{"text": "` + strings.Repeat("a", limit+100) + `"}`
			padded := `{}` + strings.Repeat(" ", limit+100)
			for _, rt := range routes {
				for what, body := range map[string]string{"long value": big, "trailing spaces": padded} {
					r := tn.owner.Do(rt.Method, paths[rt.String()], body)
					if r.Status != http.StatusRequestEntityTooLarge || r.ErrorCode() != "too_large" {
						t.Errorf("%s, %s over %d bytes: got %d %q: %s", rt, what, limit, r.Status, r.ErrorCode(), r.Body)
					}
				}
			}
			if got := lastSeq(t, tn.owner); got != seq {
				t.Fatalf("too-large requests appended events (%d -> %d)", seq, got)
			}
			// Just under the limit is fine.
			text := strings.Repeat("ş", (limit-300)/2)
			call(t, tn.owner, http.StatusAccepted, "POST", paths["POST /api/v1/inboxes/{id}/inbound"],
				map[string]any{"external_message_id": "fits", "text": text, "customer": map[string]any{"email": "fits@example.com"}})
		})
	}
}

func TestRefusedInboundStoresNothing(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		tn, paths := badBodyFixture(t, a)
		path := paths["POST /api/v1/inboxes/{id}/inbound"]
		count := func(p string) int {
			return len(decodePage[map[string]any](t, call(t, tn.owner, http.StatusOK, "GET", p+"?limit=200", nil)).Items)
		}
		seq, custs, convs := lastSeq(t, tn.owner), count("/api/v1/customers"), count("/api/v1/conversations")
		cust := map[string]any{"email": "new@example.com", "name": "Yeni"}
		attrs := map[string]any{}
		for i := range 101 {
			attrs[fmt.Sprintf("k%d", i)] = i
		}
		many := make([]map[string]any, 21)
		for i := range many {
			many[i] = map[string]any{"url": "https://files.example/a.png"}
		}
		for _, c := range []struct {
			what  string
			body  map[string]any
			field string
		}{
			{"no external_message_id", map[string]any{"text": "hi", "customer": cust}, "external_message_id"},
			{"external_message_id too long", map[string]any{"external_message_id": strings.Repeat("x", 256), "text": "hi", "customer": cust}, "external_message_id"},
			{"no identity", map[string]any{"external_message_id": "b-1", "text": "hi", "customer": map[string]any{"name": "Anon"}}, "customer"},
			{"bad e-mail", map[string]any{"external_message_id": "b-2", "text": "hi", "customer": map[string]any{"email": "not-an-email"}}, "customer.email"},
			{"bad phone", map[string]any{"external_message_id": "b-3", "text": "hi", "customer": map[string]any{"phone": "12"}}, "customer.phone"},
			{"good e-mail, bad phone", map[string]any{"external_message_id": "b-4", "text": "hi", "customer": map[string]any{"email": "ok@example.com", "phone": "abc"}}, "customer.phone"},
			{"no text", map[string]any{"external_message_id": "b-5", "text": "  ", "customer": cust}, "text"},
			{"text too long", map[string]any{"external_message_id": "b-6", "text": strings.Repeat("a", 64<<10+1), "customer": cust}, "text"},
			{"too many attachments", map[string]any{"external_message_id": "b-7", "text": "hi", "customer": cust, "attachments": many}, "attachments"},
			{"bad attachment url", map[string]any{"external_message_id": "b-8", "customer": cust, "attachments": []map[string]any{{"url": "javascript:alert(1)"}}}, "attachments[0].url"},
			{"negative attachment size", map[string]any{"external_message_id": "b-9", "text": "hi", "customer": cust, "attachments": []map[string]any{{"url": "https://x.example/a", "size": -1}}}, "attachments[0].size"},
			{"subject too long", map[string]any{"external_message_id": "b-10", "text": "hi", "subject": strings.Repeat("s", 501), "customer": cust}, "subject"},
			{"too many attributes", map[string]any{"external_message_id": "b-11", "text": "hi", "customer": map[string]any{"email": "attrs@example.com", "attributes": attrs}}, "attributes"},
		} {
			r := tn.owner.Do("POST", path, c.body)
			f := wantErr(t, c.what, r, http.StatusBadRequest, "invalid_input")
			if _, ok := f[c.field]; !ok {
				t.Errorf("%s: fields %v, want %s", c.what, f, c.field)
			}
			if got := lastSeq(t, tn.owner); got != seq {
				t.Fatalf("%s: a refused inbound appended events (%d -> %d)", c.what, seq, got)
			}
		}
		if c, v := count("/api/v1/customers"), count("/api/v1/conversations"); c != custs || v != convs {
			t.Fatalf("refused inbound stored customers (%d -> %d) or conversations (%d -> %d)", custs, c, convs, v)
		}
		// The same ids are still free: nothing was half-stored under them.
		var res ingestJSON
		call(t, tn.owner, http.StatusAccepted, "POST", path, map[string]any{"external_message_id": "b-4", "text": "hi", "customer": cust}).Decode(t, &res)
		if res.Duplicate {
			t.Fatalf("an id of a refused message counts as seen: %+v", res)
		}
	})
}

func TestBadQueryParams(t *testing.T) {
	cur := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		tn := newTenant(t, a, "Acme", "owner@acme.test", "Ayşe Müşteri", false)
		conv, cust := tn.ids["conversations"], tn.ids["customers"]
		lists := []string{"/api/v1/conversations", "/api/v1/customers", "/api/v1/conversations/" + conv + "/messages"}
		type qc struct{ path, field string }
		var cases []qc
		for _, l := range lists {
			cases = append(cases,
				qc{l + "?limit=0", "limit"}, qc{l + "?limit=abc", "limit"}, qc{l + "?limit=-3", "limit"},
				qc{l + "?limit=201", "limit"}, qc{l + "?limit=1.5", "limit"},
				qc{l + "?cursor=!!!", "cursor"}, qc{l + "?cursor=" + cur("no-separator"), "cursor"},
				qc{l + "?cursor=" + cur("abc|id"), "cursor"}, qc{l + "?cursor=" + cur("12|"), "cursor"},
			)
		}
		cases = append(cases,
			qc{"/api/v1/conversations?status=closed", "status"},
			qc{"/api/v1/events?limit=0", "limit"}, qc{"/api/v1/events?limit=abc", "limit"}, qc{"/api/v1/events?limit=1001", "limit"},
			qc{"/api/v1/events?after=-1", "after"}, qc{"/api/v1/events?after=abc", "after"},
			qc{"/api/v1/customers/" + cust + "/timeline?limit=0", "limit"}, qc{"/api/v1/customers/" + cust + "/timeline?limit=x", "limit"},
			qc{"/api/v1/customers/" + cust + "/timeline?before=0", "before"}, qc{"/api/v1/customers/" + cust + "/timeline?before=abc", "before"},
			qc{"/api/v1/jobs/dead?limit=0", "limit"}, qc{"/api/v1/jobs/dead?limit=abc", "limit"}, qc{"/api/v1/jobs/dead?limit=201", "limit"},
		)
		for _, c := range cases {
			r := tn.owner.Do("GET", c.path, nil)
			f := wantErr(t, "GET "+c.path, r, http.StatusBadRequest, "invalid_input")
			if _, ok := f[c.field]; !ok {
				t.Errorf("GET %s: fields %v, want %s", c.path, f, c.field)
			}
		}
		// The bounds themselves are fine.
		for _, p := range []string{"/api/v1/conversations?limit=1", "/api/v1/conversations?limit=200", "/api/v1/customers?limit=200&cursor=",
			"/api/v1/events?limit=1000&after=0", "/api/v1/customers/" + cust + "/timeline?limit=200&before=1", "/api/v1/jobs/dead?limit=200"} {
			call(t, tn.owner, http.StatusOK, "GET", p, nil)
		}
	})
}

func TestValidationFieldsNameTheRequestsFields(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Acme", "owner@acme.test")
		id := str(call(t, e.owner, http.StatusCreated, "POST", "/api/v1/customers", map[string]any{"name": "Ayşe", "email": "ayse@example.com"}).JSON(), "id")
		for _, c := range []struct {
			path  string
			body  map[string]any
			field string
		}{
			{"/api/v1/customers", map[string]any{"email": "not-an-email"}, "email"},
			{"/api/v1/customers", map[string]any{"phone": "12"}, "phone"},
			{"/api/v1/customers", map[string]any{"identities": []map[string]any{{"kind": "fax", "value": "1"}}}, "identities[0].kind"},
			{"/api/v1/customers/" + id + "/identities", map[string]any{"kind": "fax", "value": "1"}, "kind"},
		} {
			f := wantErr(t, fmt.Sprint(c.path, c.body), e.owner.Do("POST", c.path, c.body), http.StatusBadRequest, "invalid_input")
			if _, ok := f[c.field]; !ok {
				t.Errorf("POST %s %v: fields %v, want %q", c.path, c.body, f, c.field)
			}
		}
	})
}

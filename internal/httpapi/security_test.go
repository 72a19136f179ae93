package httpapi_test

// Security walks over every route of routes.go, read as text so that a new
// route is covered the day it is added: tenant isolation (workspace A's
// owner against workspace B's ids), authentication and role permissions.

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/testutil"
)

// apiRoute is one line of routes.go.
type apiRoute struct {
	Method, Path string
	Public       bool
	Perm         auth.Permission // "" when any member may call it
}

func (r apiRoute) String() string { return r.Method + " " + r.Path }

var (
	routeLineRE = regexp.MustCompile(`\{"([A-Z]+) (/[^"]*)",\s*(public|member),\s*(?:auth\.(Perm\w+)|"")\s*,`)
	permConstRE = regexp.MustCompile(`(Perm\w+)\s+Permission\s*=\s*"([^"]+)"`)
	wildcardRE  = regexp.MustCompile(`\{[^}]*\}`)
)

// loadRoutes parses routes.go (and the permission names of auth/roles.go).
func loadRoutes(t testing.TB) []apiRoute {
	t.Helper()
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatalf("read routes.go: %v", err)
	}
	roles, err := os.ReadFile("../auth/roles.go")
	if err != nil {
		t.Fatalf("read roles.go: %v", err)
	}
	perms := map[string]auth.Permission{}
	for _, m := range permConstRE.FindAllStringSubmatch(string(roles), -1) {
		perms[m[1]] = auth.Permission(m[2])
	}
	var out []apiRoute
	webhookRoutes := 0
	for _, m := range routeLineRE.FindAllStringSubmatch(string(src), -1) {
		r := apiRoute{Method: m[1], Path: m[2], Public: m[3] == "public"}
		if strings.HasPrefix(r.Path, "/webhooks/") {
			// Provider webhooks are authenticated by the provider's signature
			// over the body, per inbox key: webhook_test.go covers them.
			webhookRoutes++
			continue
		}
		if m[4] != "" {
			p, ok := perms[m[4]]
			if !ok {
				t.Fatalf("route %s: permission %s is not in auth/roles.go", r, m[4])
			}
			r.Perm = p
		}
		for _, w := range wildcardRE.FindAllString(r.Path, -1) {
			if w != "{id}" {
				t.Fatalf("route %s: wildcard %s is new to these tests; teach them what it stands for", r, w)
			}
		}
		out = append(out, r)
	}
	// Every route line must have been understood.
	if n := strings.Count(string(src), `{"`); n != len(out)+webhookRoutes || len(out) < 40 {
		t.Fatalf("parsed %d routes out of %d route lines in routes.go", len(out), n)
	}
	return out
}

// idKind is what the {id} of a route names: the path segment before it.
func idKind(t testing.TB, r apiRoute) string {
	t.Helper()
	segs := strings.Split(r.Path, "/")
	for i, s := range segs {
		if s == "{id}" && i > 0 {
			return segs[i-1]
		}
	}
	t.Fatalf("route %s has no {id}", r)
	return ""
}

// validBodies are bodies that get each route past decoding and input
// checks, so that the answer depends on the ids and on who is asking.
var validBodies = map[string]any{
	"POST /api/v1/auth/login":                  map[string]any{"email": "nobody@nowhere.test", "password": "wrong-password-1"},
	"PATCH /api/v1/workspace":                  map[string]any{"name": "Renamed"},
	"POST /api/v1/users":                       map[string]any{"email": "walker@a.test", "password": testutil.Password, "role": "agent"},
	"PATCH /api/v1/users/{id}":                 map[string]any{"role": "supervisor"},
	"POST /api/v1/tokens":                      map[string]any{"name": "walk"},
	"POST /api/v1/teams":                       map[string]any{"name": "Walk"},
	"PATCH /api/v1/teams/{id}":                 map[string]any{"name": "Hijacked"},
	"POST /api/v1/inboxes":                     map[string]any{"type": "api", "name": "Walk"},
	"PATCH /api/v1/inboxes/{id}":               map[string]any{"name": "Hijacked"},
	"POST /api/v1/inboxes/{id}/inbound":        map[string]any{"external_message_id": "walk-1", "text": "hi", "customer": map[string]any{"email": "walk@example.com"}},
	"POST /api/v1/customers":                   map[string]any{"name": "Walk", "email": "walk@example.com"},
	"PATCH /api/v1/customers/{id}":             map[string]any{"name": "Hijacked"},
	"POST /api/v1/customers/{id}/identities":   map[string]any{"kind": "email", "value": "hijack@example.com"},
	"POST /api/v1/customers/{id}/merge":        map[string]any{"from": "00000000-0000-7000-8000-000000000000"},
	"POST /api/v1/customers/{id}/events":       map[string]any{"type": "app.opened"},
	"POST /api/v1/customer-events":             map[string]any{"events": []any{map[string]any{"customer": map[string]any{"email": "walk@example.com"}, "type": "app.opened"}}},
	"PATCH /api/v1/conversations/{id}":         map[string]any{"status": "resolved"},
	"POST /api/v1/conversations/{id}/messages": map[string]any{"text": "hijack"},
	"POST /api/v1/conversations/{id}/notes":    map[string]any{"text": "hijack"},
}

func bodyFor(r apiRoute) any {
	if b, ok := validBodies[r.String()]; ok {
		return b
	}
	if r.Method == "POST" || r.Method == "PATCH" || r.Method == "PUT" {
		return map[string]any{}
	}
	return nil
}

// tenant is a workspace filled with one of everything.
type tenant struct {
	*env
	ids map[string]string // idKind -> id
	// secrets and names that must never reach another workspace
	private []string
}

func newTenant(t *testing.T, a *testutil.App, name, email, customerName string, deadJob bool) *tenant {
	t.Helper()
	e := newEnv(t, a, name, email)
	tn := &tenant{env: e, ids: map[string]string{}}
	memberID, _ := e.addMember("agent", "agent."+email)
	inboxID, secret := e.apiInbox(name + " App")
	in := e.inbound(inboxID, "m-1", map[string]any{"name": customerName, "email": "customer." + email, "external_id": "ext-" + email}, "Merhaba "+customerName)
	team := call(t, e.owner, http.StatusCreated, "POST", "/api/v1/teams", map[string]any{"name": name + " Team", "member_ids": []string{memberID}}).JSON()
	tok := call(t, e.owner, http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "ci"}).JSON()
	tn.ids["users"] = memberID
	tn.ids["inboxes"] = inboxID
	tn.ids["customers"] = in.CustomerID
	tn.ids["conversations"] = in.ConversationID
	tn.ids["teams"] = str(team, "id")
	tn.ids["tokens"] = str(tok, "id")
	file, err := a.Media.Save(context.Background(), e.ws.ID, "fatura.pdf", "application/pdf", strings.NewReader("%PDF "+name), 1<<20, "")
	if err != nil {
		t.Fatal(err)
	}
	tn.ids["media"] = file.ID
	cr := call(t, e.owner, http.StatusCreated, "POST", "/api/v1/canned-replies", map[string]any{"shortcut": "kargo", "title": name + " kargo", "text": "Kargonuz yolda."}).JSON()
	tn.ids["canned-replies"] = str(cr, "id")
	call(t, e.owner, http.StatusOK, "POST", "/api/v1/labels", map[string]any{"name": "vip-" + e.ws.Slug})
	tn.ids["labels"] = "vip-" + e.ws.Slug
	// A merged-away twin of the customer, for the customer-merges routes.
	twin := call(t, e.owner, http.StatusCreated, "POST", "/api/v1/customers", map[string]any{"email": "twin." + email}).JSON()
	merge := call(t, e.owner, http.StatusCreated, "POST", "/api/v1/customers/"+in.CustomerID+"/merge", map[string]any{"from": str(twin, "id")}).JSON()
	tn.ids["customer-merges"] = str(merge, "id")
	tn.private = []string{file.SHA256, e.ws.ID, e.ws.OwnerID, in.MessageID, customerName, secret, str(tok, "token"), e.ws.Token}
	if deadJob {
		// A reply through an inbox without callback_url fails for good.
		reply := e.reply(in.ConversationID, "Yanıt")
		tn.private = append(tn.private, reply.ID)
		testutil.Eventually(t, 15*time.Second, func() bool {
			js := e.deadJobs()
			if len(js) == 1 {
				tn.ids["jobs"] = js[0].ID
			}
			return len(js) == 1
		}, "a dead job")
	}
	return tn
}

func (tn *tenant) allPrivate() []string {
	out := append([]string{}, tn.private...)
	for _, id := range tn.ids {
		out = append(out, id)
	}
	return out
}

func TestCrossWorkspaceWalk(t *testing.T) {
	routes := loadRoutes(t)
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		A := newTenant(t, a, "Alfa", "owner@alfa.test", "Ahmet Alfalı", false)
		B := newTenant(t, a, "Beta", "owner@beta.test", "Bülent Betalı", true)
		secret := B.allPrivate()
		leak := func(what string, r testutil.Response) {
			t.Helper()
			for _, s := range secret {
				if strings.Contains(string(r.Body), s) {
					t.Errorf("%s: the answer holds workspace B's %q: %s", what, s, r.Body)
				}
			}
		}
		bSeq := lastSeq(t, B.owner)

		walked := 0
		for _, rt := range routes {
			path := rt.Path
			if strings.Contains(path, "{id}") {
				walked++
				kind := idKind(t, rt)
				id, ok := B.ids[kind]
				if !ok {
					t.Fatalf("route %s: no id of kind %q in the fixture; add one to newTenant", rt, kind)
				}
				path = strings.ReplaceAll(path, "{id}", id)
				r := A.owner.Do(rt.Method, path, bodyFor(rt))
				if r.Status != http.StatusNotFound && r.Status != http.StatusForbidden {
					t.Errorf("%s with B's id as A's owner: status %d, want 404 or 403: %s", rt, r.Status, r.Body)
				}
				leak(rt.String(), r)
				continue
			}
			// Routes without ids answer about A only.
			r := A.owner.Do(rt.Method, path, bodyFor(rt))
			if r.Status >= 500 {
				t.Errorf("%s: status %d: %s", rt, r.Status, r.Body)
			}
			leak(rt.String(), r)
		}

		if walked < 20 {
			t.Fatalf("only %d routes with {id} walked", walked)
		}

		// Filters and searches naming B's things find nothing in A.
		for _, q := range []string{
			"/api/v1/conversations?customer=" + B.ids["customers"],
			"/api/v1/conversations?inbox=" + B.ids["inboxes"],
			"/api/v1/conversations?assignee=" + B.ids["users"],
			"/api/v1/conversations?team=" + B.ids["teams"],
			"/api/v1/customers?q=" + "B%C3%BClent",
			"/api/v1/customers?q=customer.owner%40beta.test",
		} {
			r := call(t, A.owner, http.StatusOK, "GET", q, nil)
			if items, _ := r.JSON()["items"].([]any); len(items) != 0 {
				t.Errorf("%s: %d items from B", q, len(items))
			}
			leak(q, r)
		}

		// A's things cannot point at B's.
		aConv := "/api/v1/conversations/" + A.ids["conversations"]
		for _, c := range []struct {
			what, method, path string
			body               any
			field              string
		}{
			{"assign A's conversation to B's member", "PATCH", aConv, map[string]any{"assignee_id": B.ids["users"]}, "assignee_id"},
			{"assign A's conversation to B's owner", "PATCH", aConv, map[string]any{"assignee_id": B.ws.OwnerID}, "assignee_id"},
			{"give A's conversation to B's team", "PATCH", aConv, map[string]any{"team_id": B.ids["teams"]}, "team_id"},
			{"put B's member in A's team", "PATCH", "/api/v1/teams/" + A.ids["teams"], map[string]any{"member_ids": []string{B.ids["users"]}}, "member_ids[0]"},
			{"new A team with B's owner", "POST", "/api/v1/teams", map[string]any{"name": "Mixed", "member_ids": []string{B.ws.OwnerID}}, "member_ids[0]"},
		} {
			r := A.owner.Do(c.method, c.path, c.body)
			f := wantErr(t, c.what, r, http.StatusBadRequest, "invalid_input")
			if _, ok := f[c.field]; !ok {
				t.Errorf("%s: fields %v, want %s", c.what, f, c.field)
			}
			leak(c.what, r)
		}
		if c := A.conversation(A.ids["conversations"]); c.AssigneeID != nil || c.TeamID != nil {
			t.Errorf("A's conversation points at B: %+v", c)
		}
		// The same customer identity in A is A's own customer.
		var res ingestJSON
		r := call(t, A.owner, http.StatusAccepted, "POST", "/api/v1/inboxes/"+A.ids["inboxes"]+"/inbound",
			map[string]any{"external_message_id": "m-cross", "text": "hi", "customer": map[string]any{"email": "customer.owner@beta.test", "external_id": "ext-owner@beta.test"}})
		r.Decode(t, &res)
		if res.Duplicate || res.CustomerID == B.ids["customers"] || res.ConversationID == B.ids["conversations"] {
			t.Errorf("B's identity resolved into B's customer from A: %+v", res)
		}
		leak("inbound with B's identity", r)
		// B's owner cannot log into A.
		r = a.Client("").Do("POST", "/api/v1/auth/login", map[string]any{"email": B.ws.Email, "password": testutil.Password, "workspace": A.ws.Slug})
		wantErr(t, "B's owner logs into A", r, http.StatusForbidden, "no_workspace")

		// Nothing of B changed.
		if got := lastSeq(t, B.owner); got != bSeq {
			t.Errorf("B's event log grew from %d to %d during A's walk", bSeq, got)
		}
		tokens := decodePage[map[string]any](t, call(t, B.owner, http.StatusOK, "GET", "/api/v1/tokens", nil)).Items
		found := false
		for _, tk := range tokens {
			found = found || str(tk, "id") == B.ids["tokens"]
		}
		if !found {
			t.Errorf("B's token was revoked by A")
		}
		if js := B.deadJobs(); len(js) != 1 || js[0].ID != B.ids["jobs"] {
			t.Errorf("B's dead job changed: %+v", js)
		}
		for kind, path := range map[string]string{
			"users": "/api/v1/users/", "teams": "/api/v1/teams/", "inboxes": "/api/v1/inboxes/",
			"customers": "/api/v1/customers/", "conversations": "/api/v1/conversations/",
		} {
			got := call(t, B.owner, http.StatusOK, "GET", path+B.ids[kind], nil).JSON()
			if str(got, "name") == "Hijacked" || str(got, "role") == "supervisor" || str(got, "status") == "resolved" {
				t.Errorf("B's %s changed: %v", kind, got)
			}
		}
		if n := len(B.messages(B.ids["conversations"])); n != 2 {
			t.Errorf("B's conversation has %d messages, want 2", n)
		}
	})
}

func TestRoutesRequireCredentials(t *testing.T) {
	routes := loadRoutes(t)
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Acme", "owner@acme.test")
		seq := lastSeq(t, e.owner)
		anon := a.Client("")
		bad := [][]string{
			nil,
			{"Authorization", "Bearer kanal_not-a-real-token"},
			{"Authorization", "Bearer not-even-prefixed"},
			{"Authorization", "Bearer"},
			{"Authorization", "Basic b3duZXJAYWNtZS50ZXN0OmNvcnJlY3QtaG9yc2UtNDI="},
			{"Authorization", e.ws.Token}, // no scheme
			{"Cookie", "kanal_session=forged"},
			{"Cookie", "kanal_session=" + e.ws.Token}, // a token is not a session
		}
		for _, rt := range routes {
			path := strings.ReplaceAll(rt.Path, "{id}", "00000000-0000-7000-8000-000000000000")
			for _, h := range bad {
				r := anon.Do(rt.Method, path, bodyFor(rt), h...)
				if rt.Public {
					if r.Status == http.StatusUnauthorized && rt.String() != "POST /api/v1/auth/login" {
						t.Errorf("public %s with %v: 401", rt, h)
					}
					continue
				}
				if r.Status != http.StatusUnauthorized {
					t.Errorf("%s with %v: status %d, want 401: %s", rt, h, r.Status, r.Body)
				}
			}
		}
		if got := lastSeq(t, e.owner); got != seq {
			t.Errorf("requests without credentials appended events: %d -> %d", seq, got)
		}
	})
}

func TestRoutesEnforceRoles(t *testing.T) {
	routes := loadRoutes(t)
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Acme", "owner@acme.test")
		clients := map[auth.Role]*testutil.Client{auth.RoleOwner: e.owner}
		for _, role := range []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin} {
			_, clients[role] = e.addMember(string(role), string(role)+"@acme.test")
		}
		const wrapperMsg = "your role may not do this"
		for _, role := range []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin, auth.RoleOwner} {
			c := clients[role]
			seq := lastSeq(t, e.owner)
			refused := 0
			for _, rt := range routes {
				if rt.Public || rt.Perm == "" || auth.Can(role, rt.Perm) {
					continue
				}
				refused++
				path := strings.ReplaceAll(rt.Path, "{id}", "00000000-0000-7000-8000-000000000000")
				r := c.Do(rt.Method, path, bodyFor(rt))
				wantErr(t, string(role)+" "+rt.String(), r, http.StatusForbidden, "forbidden")
			}
			if got := lastSeq(t, e.owner); got != seq {
				t.Errorf("%s: refused requests appended events: %d -> %d", role, seq, got)
			}
			if role == auth.RoleAgent && refused == 0 || role == auth.RoleOwner && refused != 0 {
				t.Errorf("%s: %d routes refused", role, refused)
			}
			// Routes the role holds are not refused by the permission check.
			for _, rt := range routes {
				if rt.Public || rt.String() == "POST /api/v1/auth/logout" || (rt.Perm != "" && !auth.Can(role, rt.Perm)) {
					continue
				}
				path := strings.ReplaceAll(rt.Path, "{id}", "00000000-0000-7000-8000-000000000000")
				r := c.Do(rt.Method, path, bodyFor(rt))
				var body struct {
					Error apiErr `json:"error"`
				}
				_ = json.Unmarshal(r.Body, &body)
				if r.Status == http.StatusUnauthorized || r.Status >= 500 || (r.Status == http.StatusForbidden && body.Error.Message == wrapperMsg) {
					t.Errorf("%s %s: status %d: %s", role, rt, r.Status, r.Body)
				}
			}
		}
	})
}

type apiErr struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
}

func TestRevokedCredentialsAreRefused(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		e := newEnv(t, a, "Acme", "owner@acme.test")
		// A revoked API token, already in this node's token cache.
		tok := call(t, e.owner, http.StatusCreated, "POST", "/api/v1/tokens", map[string]any{"name": "ci"}).JSON()
		ci := a.Client(str(tok, "token"))
		call(t, ci, http.StatusOK, "GET", "/api/v1/me", nil)
		call(t, ci, http.StatusOK, "GET", "/api/v1/conversations", nil)

		_, agent := e.addMember("agent", "agent@acme.test")
		wantErr(t, "agent revokes a token", agent.Do("DELETE", "/api/v1/tokens/"+str(tok, "id"), nil), http.StatusForbidden, "forbidden")
		call(t, ci, http.StatusOK, "GET", "/api/v1/me", nil)

		call(t, e.owner, http.StatusNoContent, "DELETE", "/api/v1/tokens/"+str(tok, "id"), nil)
		for _, p := range []string{"/api/v1/me", "/api/v1/conversations", "/api/v1/inboxes"} {
			wantErr(t, "revoked token "+p, ci.Do("GET", p, nil), http.StatusUnauthorized, "token_invalid")
		}
		wantErr(t, "revoked token POST", ci.Do("POST", "/api/v1/tokens", map[string]any{"name": "again"}), http.StatusUnauthorized, "token_invalid")
		wantErr(t, "revoke twice", e.owner.Do("DELETE", "/api/v1/tokens/"+str(tok, "id"), nil), http.StatusNotFound, "not_found")
		for _, it := range decodePage[map[string]any](t, call(t, e.owner, http.StatusOK, "GET", "/api/v1/tokens", nil)).Items {
			if str(it, "id") == str(tok, "id") {
				t.Fatalf("revoked token still listed")
			}
		}
		// Other tokens live on.
		call(t, e.owner, http.StatusOK, "GET", "/api/v1/me", nil)
		call(t, agent, http.StatusOK, "GET", "/api/v1/me", nil)

		// A removed member loses their tokens and sessions at once.
		supID, sup := e.addMember("supervisor", "sup@acme.test")
		ck := sessionCookie(login(a, "sup@acme.test", testutil.Password))
		if ck == nil {
			t.Fatal("supervisor login set no cookie")
		}
		call(t, sup, http.StatusOK, "GET", "/api/v1/me", nil)
		call(t, a.Client(""), http.StatusOK, "GET", "/api/v1/me", nil, "Cookie", "kanal_session="+ck.Value)
		call(t, e.owner, http.StatusNoContent, "DELETE", "/api/v1/users/"+supID, nil)
		wantErr(t, "removed member's token", sup.Do("GET", "/api/v1/me", nil), http.StatusUnauthorized, "token_invalid")
		wantErr(t, "removed member's session", withCookie(a, ck.Value, "GET", "/api/v1/me", nil), http.StatusUnauthorized, "session_invalid")
		// Re-adding them does not bring old credentials back.
		e.addMember("supervisor", "sup@acme.test")
		wantErr(t, "old token after re-adding", sup.Do("GET", "/api/v1/me", nil), http.StatusUnauthorized, "token_invalid")
		wantErr(t, "old session after re-adding", withCookie(a, ck.Value, "GET", "/api/v1/me", nil), http.StatusUnauthorized, "session_invalid")

		// Tokens created through the service are refused once revoked there too.
		plain, tk, err := a.Auth.CreateToken(context.Background(), e.ws.ID, e.ws.OwnerID, "svc")
		if err != nil {
			t.Fatal(err)
		}
		svc := a.Client(plain)
		call(t, svc, http.StatusOK, "GET", "/api/v1/me", nil)
		call(t, e.owner, http.StatusNoContent, "DELETE", "/api/v1/tokens/"+tk.ID, nil)
		wantErr(t, "revoked service token", svc.Do("GET", "/api/v1/me", nil), http.StatusUnauthorized, "token_invalid")
	})
}

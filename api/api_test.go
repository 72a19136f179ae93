package api

import (
	"html"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/jobs"
	"github.com/kanal-dev/kanal/internal/team"
	"github.com/kanal-dev/kanal/internal/workspace"

	channelapi "github.com/kanal-dev/kanal/internal/channel/api"
)

func loadSpec(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(Spec, &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	return doc
}

func TestSpecIsOpenAPI31(t *testing.T) {
	doc := loadSpec(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi: %q, want 3.1.x", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Fatalf("info needs title and version: %v", info)
	}
	if _, ok := doc["paths"].(map[string]any); !ok {
		t.Fatal("no paths")
	}
}

// route is one route the server registers, read from its source.
type route struct {
	method, path string
	access       string // public or member
	perm         string // the permission's value ("work"), "" for none
}

func (r route) key() string { return r.method + " " + r.path }

var (
	routeLine = regexp.MustCompile(`\{"([A-Z]+) (/[^"]*)",\s*(public|member),\s*(?:auth\.(Perm\w+)|""),`)
	muxLine   = regexp.MustCompile(`mux\.Handle(?:Func)?\("([A-Z]+) (/[^"]*)"`)
	permConst = regexp.MustCompile(`(Perm\w+)\s+Permission\s*=\s*"(\w+)"`)
	minRole   = regexp.MustCompile(`(Perm\w+):\s*Role(\w+),`)
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// serverRoutes reads internal/httpapi/routes.go (the route table) and
// server.go (routes mounted on the mux directly, such as /metrics) as text.
func serverRoutes(t *testing.T) []route {
	t.Helper()
	perms := map[string]string{}
	for _, m := range permConst.FindAllStringSubmatch(read(t, "../internal/auth/roles.go"), -1) {
		perms[m[1]] = m[2]
	}
	var out []route
	for _, m := range routeLine.FindAllStringSubmatch(read(t, "../internal/httpapi/routes.go"), -1) {
		r := route{method: m[1], path: m[2], access: m[3]}
		if m[4] != "" {
			p, ok := perms[m[4]]
			if !ok {
				t.Fatalf("routes.go: %s uses auth.%s, not found in roles.go", r.key(), m[4])
			}
			r.perm = p
		}
		out = append(out, r)
	}
	if len(out) < 10 {
		t.Fatalf("found only %d routes in routes.go; has its format changed?", len(out))
	}
	for _, m := range muxLine.FindAllStringSubmatch(read(t, "../internal/httpapi/server.go"), -1) {
		out = append(out, route{method: m[1], path: m[2], access: "public"})
	}
	return out
}

var specMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func specOperations(doc map[string]any) map[string]map[string]any {
	ops := map[string]map[string]any{}
	paths, _ := doc["paths"].(map[string]any)
	for path, raw := range paths {
		item, _ := raw.(map[string]any)
		for _, m := range specMethods {
			if op, ok := item[m].(map[string]any); ok {
				ops[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return ops
}

// TestEveryRouteIsDocumented checks that the spec and the server's routes
// are the same set, both ways.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc := loadSpec(t)
	ops := specOperations(doc)
	routes := serverRoutes(t)
	registered := map[string]bool{}
	for _, r := range routes {
		if registered[r.key()] {
			t.Errorf("route %s registered twice", r.key())
		}
		registered[r.key()] = true
		if _, ok := ops[r.key()]; !ok {
			t.Errorf("route %s is registered but not in openapi.yaml", r.key())
		}
	}
	var extra []string
	for k := range ops {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		t.Errorf("openapi.yaml documents %s, which the server does not register", k)
	}
}

// TestAccessMatchesRoutes checks each operation's documented access against
// the route table: public routes need no credentials; member routes name the
// permission and the least role that holds it, also in the description.
func TestAccessMatchesRoutes(t *testing.T) {
	doc := loadSpec(t)
	ops := specOperations(doc)
	roles := map[string]string{}
	for _, m := range minRole.FindAllStringSubmatch(read(t, "../internal/auth/roles.go"), -1) {
		roles[m[1]] = strings.ToLower(m[2])
	}
	permRole := map[string]string{}
	for _, m := range permConst.FindAllStringSubmatch(read(t, "../internal/auth/roles.go"), -1) {
		permRole[m[2]] = roles[m[1]]
	}
	if len(permRole) == 0 {
		t.Fatal("no permissions found in roles.go")
	}
	// The roles.go table and auth.Can agree (guards the regexps above).
	for p, r := range permRole {
		if !auth.Can(auth.Role(r), auth.Permission(p)) {
			t.Fatalf("read %s → %s from roles.go, but auth.Can says no", p, r)
		}
	}
	for _, r := range serverRoutes(t) {
		op, ok := ops[r.key()]
		if !ok {
			continue // reported by TestEveryRouteIsDocumented
		}
		desc, _ := op["description"].(string)
		if got, _ := op["x-kanal-access"].(string); got != r.access {
			t.Errorf("%s: x-kanal-access %q, routes.go says %q", r.key(), got, r.access)
		}
		sec, hasSec := op["security"].([]any)
		switch r.access {
		case "public":
			if !hasSec || len(sec) != 0 {
				t.Errorf("%s is public: it needs security: []", r.key())
			}
			if !strings.Contains(desc, "public") {
				t.Errorf("%s: the description should say it is public", r.key())
			}
		case "member":
			if hasSec && len(sec) == 0 {
				t.Errorf("%s needs authentication but the spec says security: []", r.key())
			}
		}
		gotPerm, _ := op["x-kanal-permission"].(string)
		if gotPerm != r.perm {
			t.Errorf("%s: x-kanal-permission %q, routes.go says %q", r.key(), gotPerm, r.perm)
		}
		if r.perm == "" {
			if r.access == "member" && !strings.Contains(desc, "any authenticated member") {
				t.Errorf("%s: the description should say any authenticated member may call it", r.key())
			}
			continue
		}
		role := permRole[r.perm]
		if got, _ := op["x-kanal-min-role"].(string); got != role {
			t.Errorf("%s: x-kanal-min-role %q, want %q (least role holding %s)", r.key(), got, role, r.perm)
		}
		if !strings.Contains(desc, role) || !strings.Contains(desc, "`"+r.perm+"`") {
			t.Errorf("%s: the description should name the role %s and the permission `%s`", r.key(), role, r.perm)
		}
	}
}

func TestOperations(t *testing.T) {
	doc := loadSpec(t)
	tags := map[string]bool{}
	for _, raw := range doc["tags"].([]any) {
		tags[raw.(map[string]any)["name"].(string)] = true
	}
	ids := map[string]string{}
	check := func(key string, op map[string]any) {
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", key)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("operationId %s used by %s and %s", id, prev, key)
		}
		ids[id] = key
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s has no summary", key)
		}
		ts, _ := op["tags"].([]any)
		if len(ts) == 0 || !tags[ts[0].(string)] {
			t.Errorf("%s: its first tag %v is not in the tags list", key, ts)
		}
		if rs, _ := op["responses"].(map[string]any); len(rs) == 0 {
			t.Errorf("%s has no responses", key)
		}
	}
	for key, op := range specOperations(doc) {
		check(key, op)
	}
	hooks, _ := doc["webhooks"].(map[string]any)
	if hooks["replyCallback"] == nil {
		t.Fatal("the api channel's reply callback is not documented under webhooks")
	}
	for name, raw := range hooks {
		for _, m := range specMethods {
			if op, ok := raw.(map[string]any)[m].(map[string]any); ok {
				check("webhook "+name, op)
			}
		}
	}
}

// TestRefsResolve checks that every $ref points at something, that every
// component is used, and that no key was made by a stray comma.
func TestRefsResolve(t *testing.T) {
	doc := loadSpec(t)
	used := map[string]bool{}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k := range x {
				// A comma in an unquoted flow-style scalar ({description: a, b})
				// silently makes a key " b"; no real key has spaces.
				if strings.ContainsAny(k, " \t") {
					t.Errorf("%s: stray key %q (quote the scalar before it)", at, k)
				}
			}
			if ref, ok := x["$ref"]; ok {
				s, _ := ref.(string)
				if lookup(doc, s) == nil {
					t.Errorf("%s: $ref %q does not resolve", at, s)
				}
				used[s] = true
			}
			for k, c := range x {
				walk(at+"/"+k, c)
			}
		case []any:
			for _, c := range x {
				walk(at+"[]", c)
			}
		}
	}
	walk("#", doc)
	comps, _ := doc["components"].(map[string]any)
	for kind, raw := range comps {
		if kind == "securitySchemes" {
			continue
		}
		for name := range raw.(map[string]any) {
			if ref := "#/components/" + kind + "/" + name; !used[ref] {
				t.Errorf("%s is never used", ref)
			}
		}
	}
	schemes, _ := comps["securitySchemes"].(map[string]any)
	for _, name := range []string{"bearerAuth", "cookieAuth"} {
		if schemes[name] == nil {
			t.Errorf("securitySchemes.%s is missing", name)
		}
	}
}

// jsonFields are the JSON names a value of type t is encoded with.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && tag == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// TestSchemasMatchTypes checks that the schemas of the domain types the API
// returns have exactly the Go types' JSON fields.
func TestSchemasMatchTypes(t *testing.T) {
	doc := loadSpec(t)
	for name, v := range map[string]any{
		"Conversation": conversation.Conversation{}, "Message": conversation.Message{},
		"Attachment": conversation.Attachment{}, "IngestResult": conversation.IngestResult{},
		"Customer": customer.Customer{}, "Identity": customer.Identity{},
		"Member": auth.Member{}, "Token": auth.Token{}, "Team": team.Team{},
		"Workspace": workspace.Workspace{}, "WorkspaceSettings": workspace.Settings{},
		"Event": event.Event{}, "Job": jobs.Job{}, "Callback": channelapi.Callback{},
	} {
		s, _ := lookup(doc, "#/components/schemas/"+name).(map[string]any)
		if s == nil {
			t.Errorf("schema %s is missing", name)
			continue
		}
		props, _ := s["properties"].(map[string]any)
		var got []string
		for k := range props {
			got = append(got, k)
		}
		sort.Strings(got)
		if want := jsonFields(reflect.TypeOf(v)); !slices.Equal(got, want) {
			t.Errorf("schema %s has properties %v; the Go type encodes %v", name, got, want)
		}
	}
}

func TestDocsHTML(t *testing.T) {
	page, err := render(Spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := DocsHTML(); string(got) != string(page) {
		t.Fatal("DocsHTML differs from a fresh render")
	}
	s := string(page)
	doc := loadSpec(t)
	for key, op := range specOperations(doc) {
		method, path, _ := strings.Cut(key, " ")
		if !strings.Contains(s, html.EscapeString(path)) {
			t.Errorf("the page does not show %s", path)
		}
		if !strings.Contains(s, `id="op-`+op["operationId"].(string)+`"`) {
			t.Errorf("the page has no section for %s", key)
		}
		_ = method
	}
	for _, want := range []string{"<title>Kanal API", "bearerAuth", "cookieAuth", "Retry-After", `id="schema-Conversation"`, "replyCallback"} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<link", "src=", "@import", "**"} {
		if strings.Contains(s, bad) {
			t.Errorf("the page contains %q; it must be self-contained and rendered", bad)
		}
	}
}

func TestMarkdown(t *testing.T) {
	got := string(markdown("A **b** `<c>`.\n\n- one\n  more\n- two\n\n| x | y |\n|---|---|\n| 1 | `2` |"))
	want := "<p>A <strong>b</strong> <code>&lt;c&gt;</code>.</p><ul><li>one more</li><li>two</li></ul>" +
		"<table class=md><tr><th>x</th><th>y</th></tr><tr><td>1</td><td><code>2</code></td></tr></table>"
	if got != want {
		t.Fatalf("markdown:\n got %s\nwant %s", got, want)
	}
}

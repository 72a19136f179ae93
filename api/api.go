// Package api embeds Kanal's HTTP contract, api/openapi.yaml, and renders it
// as a self-contained HTML page.
package api

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Spec is the OpenAPI document.
//
//go:embed openapi.yaml
var Spec []byte

var (
	docsOnce sync.Once
	docs     []byte
)

// DocsHTML renders the contract as a page: built once, at the first call.
func DocsHTML() []byte {
	docsOnce.Do(func() {
		b, err := render(Spec)
		if err != nil {
			// The test keeps this from happening; still show something useful.
			b = []byte("<!doctype html><meta charset=utf-8><title>Kanal API</title><p>The API document could not be rendered: " +
				html.EscapeString(err.Error()) + "</p><pre>" + html.EscapeString(string(Spec)) + "</pre>")
		}
		docs = b
	})
	return docs
}

// node is a YAML value decoded into generic Go values (map[string]any,
// []any, scalars); mappings' key order is kept aside so the page follows the
// document's order.
type node = any

type specDoc struct {
	root  map[string]any
	order map[uintptr][]string // a mapping's keys in document order
}

func parse(spec []byte) (*specDoc, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(spec, &n); err != nil {
		return nil, err
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) != 1 {
		return nil, fmt.Errorf("not a YAML document")
	}
	d := &specDoc{order: map[uintptr][]string{}}
	v, err := d.generic(n.Content[0])
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document is not a mapping")
	}
	d.root = root
	return d, nil
}

func (d *specDoc) generic(n *yaml.Node) (node, error) {
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		keys := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			v, err := d.generic(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; !dup {
				keys = append(keys, k)
			}
			m[k] = v
		}
		d.order[reflect.ValueOf(m).Pointer()] = keys
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := d.generic(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.AliasNode:
		return d.generic(n.Alias)
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// keys returns m's keys in document order.
func (d *specDoc) keys(m map[string]any) []string {
	if m == nil {
		return nil
	}
	if k, ok := d.order[reflect.ValueOf(m).Pointer()]; ok {
		return k
	}
	k := make([]string, 0, len(m))
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// resolve follows a local $ref ("#/components/...") once.
func (d *specDoc) resolve(v map[string]any) map[string]any {
	ref, ok := v["$ref"].(string)
	if !ok {
		return v
	}
	if t, ok := lookup(d.root, ref).(map[string]any); ok {
		return t
	}
	return v
}

// lookup finds a JSON pointer ("#/a/b") in root; nil when absent.
func lookup(root map[string]any, ref string) node {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur node = root
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func sub(m map[string]any, k string) map[string]any {
	s, _ := m[k].(map[string]any)
	return s
}

func list(m map[string]any, k string) []any {
	s, _ := m[k].([]any)
	return s
}

// methods are the operation keys of a path item, in the order shown.
var methods = []string{"get", "post", "put", "patch", "delete", "head", "options", "trace"}

// The page's view model.
type page struct {
	Title, Version, Summary string
	Intro                   template.HTML
	Auth                    []scheme
	Tags                    []tagView
	Webhooks                []opView
	Schemas                 []schemaView
}

type scheme struct {
	Name, Kind string
	Desc       template.HTML
}

type tagView struct {
	Name, ID string
	Desc     template.HTML
	Ops      []opView
}

type opView struct {
	ID, Method, Path, Summary, Auth string
	Webhook                         bool
	Desc                            template.HTML
	Params                          []field
	Body                            *bodyView
	Responses                       []respView
}

type bodyView struct {
	ContentType string
	Schema      template.HTML
	Required    bool
	Fields      []field
}

type field struct {
	Name, In string
	Type     template.HTML
	Required bool
	Desc     template.HTML
}

type respView struct {
	Status, Class, ContentType string
	Desc, Schema               template.HTML
	Headers                    []string
}

type schemaView struct {
	Name, ID string
	Type     template.HTML
	Desc     template.HTML
	Fields   []field
}

func render(spec []byte) ([]byte, error) {
	d, err := parse(spec)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	info := sub(d.root, "info")
	p := page{Title: str(info, "title"), Version: fmt.Sprint(info["version"]), Summary: str(info, "summary"),
		Intro: markdown(str(info, "description"))}
	if p.Title == "" {
		p.Title = "API"
	}

	schemes := sub(sub(d.root, "components"), "securitySchemes")
	for _, name := range d.keys(schemes) {
		s := sub(schemes, name)
		kind := str(s, "type")
		switch kind {
		case "http":
			kind = "HTTP " + str(s, "scheme")
			if f := str(s, "bearerFormat"); f != "" {
				kind += " (" + f + ")"
			}
		case "apiKey":
			kind = str(s, "in") + " " + str(s, "name")
		}
		p.Auth = append(p.Auth, scheme{Name: name, Kind: kind, Desc: markdown(str(s, "description"))})
	}

	var globalAuth []string
	for _, req := range list(d.root, "security") {
		if m, ok := req.(map[string]any); ok {
			globalAuth = append(globalAuth, d.keys(m)...)
		}
	}

	// Operations by tag, in the order of the tags list, then any tag not listed.
	byTag := map[string][]opView{}
	var tagOrder []string
	addTag := func(t string) {
		if !slices.Contains(tagOrder, t) {
			tagOrder = append(tagOrder, t)
		}
	}
	tagDesc := map[string]string{}
	for _, t := range list(d.root, "tags") {
		if m, ok := t.(map[string]any); ok {
			addTag(str(m, "name"))
			tagDesc[str(m, "name")] = str(m, "description")
		}
	}
	paths := sub(d.root, "paths")
	for _, path := range d.keys(paths) {
		item := sub(paths, path)
		for _, method := range methods {
			op := sub(item, method)
			if op == nil {
				continue
			}
			v := d.operation(path, method, item, op, globalAuth)
			tag := "Other"
			if ts := list(op, "tags"); len(ts) > 0 {
				tag = fmt.Sprint(ts[0])
			}
			addTag(tag)
			byTag[tag] = append(byTag[tag], v)
		}
	}
	for _, t := range tagOrder {
		if len(byTag[t]) == 0 {
			continue
		}
		p.Tags = append(p.Tags, tagView{Name: t, ID: "tag-" + anchor(t), Desc: markdown(tagDesc[t]), Ops: byTag[t]})
	}

	hooks := sub(d.root, "webhooks")
	for _, name := range d.keys(hooks) {
		item := sub(hooks, name)
		for _, method := range methods {
			if op := sub(item, method); op != nil {
				v := d.operation(name, method, item, op, globalAuth)
				v.Webhook = true
				p.Webhooks = append(p.Webhooks, v)
			}
		}
	}

	schemas := sub(sub(d.root, "components"), "schemas")
	for _, name := range d.keys(schemas) {
		s := sub(schemas, name)
		p.Schemas = append(p.Schemas, schemaView{Name: name, ID: "schema-" + anchor(name), Type: d.typeOf(s),
			Desc: markdown(str(s, "description")), Fields: d.fields(s, "")})
	}

	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return buf.Bytes(), nil
}

func (d *specDoc) operation(path, method string, item, op map[string]any, globalAuth []string) opView {
	v := opView{ID: str(op, "operationId"), Method: strings.ToUpper(method), Path: path, Summary: str(op, "summary"),
		Desc: markdown(str(op, "description"))}
	if v.ID == "" {
		v.ID = method + "-" + path
	}
	v.ID = "op-" + anchor(v.ID)
	auth := globalAuth
	if sec, ok := op["security"].([]any); ok {
		auth = nil
		for _, req := range sec {
			if m, ok := req.(map[string]any); ok {
				auth = append(auth, d.keys(m)...)
			}
		}
	}
	if len(auth) == 0 {
		v.Auth = "no authentication"
	} else {
		v.Auth = strings.Join(auth, " or ")
	}

	// Path-level parameters first, overridden by the operation's.
	var params []map[string]any
	seen := map[string]int{}
	for _, src := range [][]any{list(item, "parameters"), list(op, "parameters")} {
		for _, raw := range src {
			m, ok := raw.(map[string]any)
			if !ok {
				continue
			}
			m = d.resolve(m)
			key := str(m, "in") + " " + str(m, "name")
			if i, ok := seen[key]; ok {
				params[i] = m
				continue
			}
			seen[key] = len(params)
			params = append(params, m)
		}
	}
	for _, m := range params {
		req, _ := m["required"].(bool)
		v.Params = append(v.Params, field{Name: str(m, "name"), In: str(m, "in"), Type: d.typeOf(sub(m, "schema")),
			Required: req, Desc: markdown(str(m, "description"))})
	}

	if rb := sub(op, "requestBody"); rb != nil {
		rb = d.resolve(rb)
		req, _ := rb["required"].(bool)
		content := sub(rb, "content")
		for _, ct := range d.keys(content) {
			s := sub(sub(content, ct), "schema")
			v.Body = &bodyView{ContentType: ct, Schema: d.typeOf(s), Required: req, Fields: d.fields(s, "")}
			break
		}
	}

	resps := sub(op, "responses")
	codes := slices.Clone(d.keys(resps))
	sort.SliceStable(codes, func(i, j int) bool { return codes[i] < codes[j] })
	for _, code := range codes {
		r := d.resolve(sub(resps, code))
		rv := respView{Status: code, Class: "s" + code[:1], Desc: markdown(str(r, "description"))}
		content := sub(r, "content")
		for _, ct := range d.keys(content) {
			rv.ContentType = ct
			if s := sub(sub(content, ct), "schema"); s != nil {
				rv.Schema = d.typeOf(s)
			}
			break
		}
		rv.Headers = d.keys(sub(r, "headers"))
		v.Responses = append(v.Responses, rv)
	}
	return v
}

// fields lists an object schema's properties (following a $ref), with
// nested inline objects flattened as a.b.
func (d *specDoc) fields(s map[string]any, prefix string) []field {
	s = d.resolve(s)
	props := sub(s, "properties")
	var req []string
	for _, r := range list(s, "required") {
		req = append(req, fmt.Sprint(r))
	}
	var out []field
	for _, name := range d.keys(props) {
		ps := sub(props, name)
		desc := str(ps, "description")
		if desc == "" {
			if ref, ok := ps["$ref"].(string); ok {
				if t, ok := lookup(d.root, ref).(map[string]any); ok && str(t, "type") != "object" {
					desc = str(t, "description")
				}
			}
		}
		out = append(out, field{Name: prefix + name, Type: d.typeOf(ps), Required: slices.Contains(req, name), Desc: markdown(desc)})
		if _, isRef := ps["$ref"]; !isRef && sub(ps, "properties") != nil {
			out = append(out, d.fields(ps, prefix+name+".")...)
		}
	}
	return out
}

// typeOf describes a schema in a few words, linking named schemas.
func (d *specDoc) typeOf(s map[string]any) template.HTML {
	if s == nil {
		return ""
	}
	if ref, ok := s["$ref"].(string); ok {
		name := ref[strings.LastIndex(ref, "/")+1:]
		return template.HTML(`<a href="#schema-` + html.EscapeString(anchor(name)) + `">` + html.EscapeString(name) + `</a>`)
	}
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, fmt.Sprint(x))
		}
	}
	var b strings.Builder
	for i, t := range types {
		if i > 0 {
			b.WriteString(" | ")
		}
		switch t {
		case "array":
			b.WriteString("array of ")
			if it := sub(s, "items"); it != nil {
				b.WriteString(string(d.typeOf(it)))
			} else {
				b.WriteString("any")
			}
		default:
			b.WriteString(html.EscapeString(t))
		}
	}
	if len(types) == 0 {
		b.WriteString("any")
	}
	if f := str(s, "format"); f != "" {
		b.WriteString(" (" + html.EscapeString(f) + ")")
	}
	if c, ok := s["const"]; ok {
		b.WriteString(" = <code>" + html.EscapeString(fmt.Sprint(c)) + "</code>")
	}
	if e := list(s, "enum"); len(e) > 0 {
		vals := make([]string, len(e))
		for i, x := range e {
			vals[i] = "<code>" + html.EscapeString(fmt.Sprint(x)) + "</code>"
		}
		b.WriteString(": " + strings.Join(vals, " "))
	}
	var limits []string
	for _, k := range []string{"minimum", "maximum", "minLength", "maxLength", "maxItems", "default"} {
		if x, ok := s[k]; ok {
			limits = append(limits, k+" "+fmt.Sprint(x))
		}
	}
	if len(limits) > 0 {
		b.WriteString(`<span class="lim">, ` + html.EscapeString(strings.Join(limits, ", ")) + `</span>`)
	}
	return template.HTML(b.String())
}

var nonAnchor = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func anchor(s string) string { return strings.Trim(nonAnchor.ReplaceAllString(s, "-"), "-") }

// markdown renders the little Markdown the document uses: paragraphs, "- "
// lists, pipe tables, `code` and **bold**. Everything is escaped first.
func markdown(src string) template.HTML {
	lines := strings.Split(strings.TrimSpace(src), "\n")
	var b strings.Builder
	for i := 0; i < len(lines); {
		line := strings.TrimRight(lines[i], " ")
		switch {
		case strings.TrimSpace(line) == "":
			i++
		case strings.HasPrefix(line, "|"):
			var rows [][]string
			for ; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
				cells := strings.Split(strings.Trim(strings.TrimSpace(lines[i]), "|"), "|")
				if strings.Trim(strings.Join(cells, ""), "-: ") == "" {
					continue // the separator row
				}
				rows = append(rows, cells)
			}
			b.WriteString("<table class=md>")
			for r, cells := range rows {
				tag := "td"
				if r == 0 {
					tag = "th"
				}
				b.WriteString("<tr>")
				for _, c := range cells {
					b.WriteString("<" + tag + ">" + inline(strings.TrimSpace(c)) + "</" + tag + ">")
				}
				b.WriteString("</tr>")
			}
			b.WriteString("</table>")
		case strings.HasPrefix(line, "- "):
			b.WriteString("<ul>")
			for i < len(lines) && strings.HasPrefix(lines[i], "- ") {
				item := strings.TrimPrefix(lines[i], "- ")
				for i++; i < len(lines) && strings.HasPrefix(lines[i], "  ") && strings.TrimSpace(lines[i]) != ""; i++ {
					item += " " + strings.TrimSpace(lines[i])
				}
				b.WriteString("<li>" + inline(item) + "</li>")
			}
			b.WriteString("</ul>")
		default:
			var para []string
			for ; i < len(lines); i++ {
				l := strings.TrimSpace(lines[i])
				if l == "" || strings.HasPrefix(l, "|") || strings.HasPrefix(lines[i], "- ") {
					break
				}
				para = append(para, l)
			}
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>")
		}
	}
	return template.HTML(b.String())
}

var bold = regexp.MustCompile(`\*\*(.+?)\*\*`)

// inline escapes s and renders `code` spans and **bold**.
func inline(s string) string {
	parts := strings.Split(s, "`")
	var b strings.Builder
	for i, p := range parts {
		p = html.EscapeString(p)
		switch {
		case i%2 == 1 && i < len(parts)-1:
			b.WriteString("<code>" + p + "</code>")
		case i%2 == 1:
			b.WriteString("`" + bold.ReplaceAllString(p, "<strong>$1</strong>"))
		default:
			b.WriteString(bold.ReplaceAllString(p, "<strong>$1</strong>"))
		}
	}
	return b.String()
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Version}}</title>
<style>
:root{--fg:#1d2330;--muted:#5b6475;--line:#dde1e8;--bg:#fff;--soft:#f5f7fa;--code:#eef1f5}
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
.wrap{display:flex;max-width:1280px;margin:0 auto}
nav{flex:0 0 260px;position:sticky;top:0;align-self:flex-start;max-height:100vh;overflow:auto;padding:20px 16px;border-right:1px solid var(--line);font-size:13px}
nav a{display:block;color:var(--fg);text-decoration:none;padding:1px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
nav a:hover{text-decoration:underline}
nav .t{font-weight:600;margin-top:10px}
main{flex:1;min-width:0;padding:20px 32px 80px}
h1{margin:0 0 4px;font-size:28px}
h2{margin:40px 0 8px;padding-top:8px;border-top:2px solid var(--fg);font-size:22px}
h3{margin:0;font-size:16px}
h4{margin:14px 0 6px;font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.sub{color:var(--muted);margin:0 0 16px}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:14px}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td p,.op>p,li p{margin:0 0 6px}td p:last-child{margin:0}
td.n{white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
.req{color:#b42318;font-size:12px;margin-left:4px}
.lim{color:var(--muted)}
.op{border:1px solid var(--line);border-radius:6px;margin:16px 0;padding:12px 16px;background:var(--bg)}
.op>header{display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.path{font:600 14px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.m{display:inline-block;min-width:62px;text-align:center;border-radius:4px;padding:2px 6px;font:700 12px ui-monospace,Menlo,monospace;color:#fff}
.GET{background:#1a7f37}.POST{background:#0969da}.PATCH{background:#bc4c00}.PUT{background:#8250df}.DELETE{background:#cf222e}
.auth{margin-left:auto;font-size:12px;color:var(--muted)}
.s2{color:#1a7f37;font-weight:700}.s3{color:#0969da;font-weight:700}.s4{color:#bc4c00;font-weight:700}.s5{color:#cf222e;font-weight:700}
.schema{border-left:3px solid var(--line);padding:2px 0 2px 12px;margin:18px 0}
a{color:#0969da}
@media (max-width:800px){nav{display:none}main{padding:16px}}
</style>
</head>
<body>
<div class="wrap">
<nav>
<a href="#top"><strong>{{.Title}}</strong></a>
<a href="#auth">Authentication</a>
{{range .Tags}}<a class="t" href="#{{.ID}}">{{.Name}}</a>
{{range .Ops}}<a href="#{{.ID}}" title="{{.Method}} {{.Path}}">{{.Method}} {{.Path}}</a>
{{end}}{{end}}{{if .Webhooks}}<a class="t" href="#webhooks">Webhooks</a>
{{range .Webhooks}}<a href="#{{.ID}}">{{.Path}}</a>
{{end}}{{end}}<a class="t" href="#schemas">Schemas</a>
</nav>
<main>
<h1 id="top">{{.Title}}</h1>
<p class="sub">Version {{.Version}}{{with .Summary}} · {{.}}{{end}} · <a href="/api/openapi.yaml">openapi.yaml</a></p>
{{.Intro}}

<h2 id="auth">Authentication</h2>
{{range .Auth}}<h3><code>{{.Name}}</code> — {{.Kind}}</h3>
{{.Desc}}
{{end}}

{{range .Tags}}<h2 id="{{.ID}}">{{.Name}}</h2>
{{.Desc}}
{{range .Ops}}{{template "op" .}}{{end}}
{{end}}

{{if .Webhooks}}<h2 id="webhooks">Webhooks</h2>
<p>Requests Kanal makes to your system.</p>
{{range .Webhooks}}{{template "op" .}}{{end}}
{{end}}

<h2 id="schemas">Schemas</h2>
{{range .Schemas}}<div class="schema" id="{{.ID}}">
<h3>{{.Name}} <span class="lim">{{.Type}}</span></h3>
{{.Desc}}
{{with .Fields}}{{template "fields" .}}{{end}}
</div>
{{end}}
</main>
</div>
</body>
</html>
{{define "op"}}<section class="op" id="{{.ID}}">
<header><span class="m {{.Method}}">{{.Method}}</span><span class="path">{{if .Webhook}}{callback_url} ({{.Path}}){{else}}{{.Path}}{{end}}</span><span class="auth">{{.Auth}}</span></header>
<h3>{{.Summary}}</h3>
{{.Desc}}
{{with .Params}}<h4>Parameters</h4>
<table><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr>
{{range .}}<tr><td class="n">{{.Name}}{{if .Required}}<span class="req">required</span>{{end}}</td><td>{{.In}}</td><td>{{.Type}}</td><td>{{.Desc}}</td></tr>
{{end}}</table>
{{end}}{{with .Body}}<h4>Request body</h4>
<p>{{.Schema}} as <code>{{.ContentType}}</code>{{if .Required}} (required){{end}}</p>
{{with .Fields}}{{template "fields" .}}{{end}}
{{end}}<h4>Responses</h4>
<table><tr><th>Status</th><th>Description</th><th>Body</th></tr>
{{range .Responses}}<tr><td class="{{.Class}}">{{.Status}}</td><td>{{.Desc}}{{range .Headers}} <span class="lim">Header <code>{{.}}</code>.</span>{{end}}</td><td>{{.Schema}}{{with .ContentType}} <span class="lim">{{.}}</span>{{end}}</td></tr>
{{end}}</table>
</section>
{{end}}
{{define "fields"}}<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>
{{range .}}<tr><td class="n">{{.Name}}{{if .Required}}<span class="req">required</span>{{end}}</td><td>{{.Type}}</td><td>{{.Desc}}</td></tr>
{{end}}</table>
{{end}}`))

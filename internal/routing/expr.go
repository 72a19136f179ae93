package routing

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Expr is a compiled boolean expression over an agent's attributes and
// skills, used for queue membership (member_expr) and requirement steps.
//
// Grammar (keywords are case-insensitive):
//
//	expr    = and { ("or" | "||") and }
//	and     = not { ("and" | "&&") not }
//	not     = ("not" | "!") not | cmp
//	cmp     = operand [ op operand ]
//	op      = "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in" | "has" | "contains"
//	operand = string | number | true | false | null | path | "[" [operand {"," operand}] "]" | "(" expr ")"
//	path    = name { "." name }
//
// A path names an attribute (languages, site, team.name) or, under
// skills., a skill's proficiency (skills.english). A missing value is null;
// every comparison with null but == null and != null is false. "a in b" is
// true when the list b holds a; "list has x" when the list holds x;
// "contains" also matches a substring of a string.
type Expr struct {
	src  string
	root node
}

// String returns the expression's source.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Env is what an expression reads: agent attributes and skills.
type Env struct {
	Attributes map[string]any
	Skills     map[string]float64
}

// Eval evaluates the expression; a nil expression is true.
func (e *Expr) Eval(env Env) bool {
	if e == nil {
		return true
	}
	return truthy(e.root.eval(env))
}

// Paths returns the attribute and skill paths the expression reads.
func (e *Expr) Paths() []string {
	if e == nil {
		return nil
	}
	var out []string
	var walk func(n node)
	walk = func(n node) {
		switch n := n.(type) {
		case pathNode:
			out = append(out, strings.Join(n, "."))
		case binNode:
			walk(n.l)
			walk(n.r)
		case notNode:
			walk(n.x)
		case listNode:
			for _, x := range n {
				walk(x)
			}
		}
	}
	walk(e.root)
	return out
}

// CompileExpr parses src.
func CompileExpr(src string) (*Expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, fmt.Errorf("unexpected %q at offset %d", p.peek().text, p.peek().pos)
	}
	return &Expr{src: src, root: n}, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tName
	tString
	tNumber
	tOp
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
)

type token struct {
	kind tokKind
	text string
	pos  int
	num  float64
}

func lex(src string) ([]token, error) {
	var out []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{kind: tLParen, text: "(", pos: i})
			i++
		case c == ')':
			out = append(out, token{kind: tRParen, text: ")", pos: i})
			i++
		case c == '[':
			out = append(out, token{kind: tLBrack, text: "[", pos: i})
			i++
		case c == ']':
			out = append(out, token{kind: tRBrack, text: "]", pos: i})
			i++
		case c == ',':
			out = append(out, token{kind: tComma, text: ",", pos: i})
			i++
		case c == '"' || c == '\'':
			j := i + 1
			var sb strings.Builder
			for j < len(src) && src[j] != c {
				if src[j] == '\\' && j+1 < len(src) {
					j++
				}
				sb.WriteByte(src[j])
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			out = append(out, token{kind: tString, text: sb.String(), pos: i})
			i = j + 1
		case c == '=' || c == '!' || c == '<' || c == '>' || c == '&' || c == '|':
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=", "&&", "||":
				out = append(out, token{kind: tOp, text: two, pos: i})
				i += 2
				continue
			}
			switch c {
			case '<', '>', '!':
				out = append(out, token{kind: tOp, text: string(c), pos: i})
				i++
			case '=':
				out = append(out, token{kind: tOp, text: "==", pos: i})
				i++
			default:
				return nil, fmt.Errorf("unexpected %q at offset %d", string(c), i)
			}
		case c == '-' || c == '.' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(src) && (src[j] == '.' || src[j] == 'e' || src[j] == 'E' || (src[j] >= '0' && src[j] <= '9') ||
				((src[j] == '-' || src[j] == '+') && (src[j-1] == 'e' || src[j-1] == 'E'))) {
				j++
			}
			f, err := strconv.ParseFloat(src[i:j], 64)
			if err != nil {
				return nil, fmt.Errorf("bad number %q at offset %d", src[i:j], i)
			}
			out = append(out, token{kind: tNumber, text: src[i:j], pos: i, num: f})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)) || c >= 0x80:
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '-' || src[j] == '.' || src[j] >= 0x80 ||
				unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			out = append(out, token{kind: tName, text: src[i:j], pos: i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", string(c), i)
		}
	}
	return append(out, token{kind: tEOF, pos: len(src)}), nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tName && strings.EqualFold(t.text, w)
}

func (p *parser) expr() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") || (p.peek().kind == tOp && p.peek().text == "||") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = binNode{op: "or", l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") || (p.peek().kind == tOp && p.peek().text == "&&") {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = binNode{op: "and", l: l, r: r}
	}
	return l, nil
}

func (p *parser) not() (node, error) {
	if p.isWord("not") || (p.peek().kind == tOp && p.peek().text == "!") {
		p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return notNode{x: x}, nil
	}
	return p.cmp()
}

func (p *parser) cmp() (node, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	op := ""
	switch {
	case t.kind == tOp && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
		op = t.text
		p.next()
	case p.isWord("in"):
		op = "in"
		p.next()
	case p.isWord("has"):
		op = "has"
		p.next()
	case p.isWord("contains"):
		op = "contains"
		p.next()
	case p.isWord("not") && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == tName && strings.EqualFold(p.toks[p.i+1].text, "in"):
		op = "not in"
		p.i += 2
	default:
		return l, nil
	}
	r, err := p.operand()
	if err != nil {
		return nil, err
	}
	return binNode{op: op, l: l, r: r}, nil
}

func (p *parser) operand() (node, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return litNode{v: t.text}, nil
	case tNumber:
		return litNode{v: t.num}, nil
	case tLParen:
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.next().kind != tRParen {
			return nil, fmt.Errorf("missing ) for ( at offset %d", t.pos)
		}
		return n, nil
	case tLBrack:
		var l listNode
		if p.peek().kind == tRBrack {
			p.next()
			return l, nil
		}
		for {
			x, err := p.operand()
			if err != nil {
				return nil, err
			}
			l = append(l, x)
			n := p.next()
			if n.kind == tRBrack {
				return l, nil
			}
			if n.kind != tComma {
				return nil, fmt.Errorf("expected , or ] at offset %d", n.pos)
			}
		}
	case tName:
		switch strings.ToLower(t.text) {
		case "true":
			return litNode{v: true}, nil
		case "false":
			return litNode{v: false}, nil
		case "null":
			return litNode{v: nil}, nil
		case "and", "or", "not", "in", "has", "contains":
			return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
		}
		parts := strings.Split(t.text, ".")
		for _, s := range parts {
			if s == "" {
				return nil, fmt.Errorf("bad name %q at offset %d", t.text, t.pos)
			}
		}
		return pathNode(parts), nil
	case tEOF:
		return nil, fmt.Errorf("unexpected end of expression")
	}
	return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
}

type node interface{ eval(Env) any }

type litNode struct{ v any }

func (n litNode) eval(Env) any { return n.v }

type listNode []node

func (n listNode) eval(env Env) any {
	out := make([]any, len(n))
	for i, x := range n {
		out[i] = x.eval(env)
	}
	return out
}

type pathNode []string

func (n pathNode) eval(env Env) any {
	if len(n) == 2 && n[0] == "skills" {
		if p, ok := env.Skills[n[1]]; ok {
			return p
		}
		return nil
	}
	var cur any = env.Attributes
	for _, k := range n {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return norm(cur)
}

type notNode struct{ x node }

func (n notNode) eval(env Env) any { return !truthy(n.x.eval(env)) }

type binNode struct {
	op   string
	l, r node
}

func (n binNode) eval(env Env) any {
	switch n.op {
	case "and":
		return truthy(n.l.eval(env)) && truthy(n.r.eval(env))
	case "or":
		return truthy(n.l.eval(env)) || truthy(n.r.eval(env))
	}
	l, r := n.l.eval(env), n.r.eval(env)
	switch n.op {
	case "==":
		return equal(l, r)
	case "!=":
		return !equal(l, r)
	case "<", "<=", ">", ">=":
		c, ok := compare(l, r)
		if !ok {
			return false
		}
		switch n.op {
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		}
		return c >= 0
	case "in":
		return holds(r, l, false)
	case "not in":
		if r == nil {
			return false
		}
		return !holds(r, l, false)
	case "has":
		return holds(l, r, false)
	case "contains":
		return holds(l, r, true)
	}
	return false
}

func norm(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float32:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return v
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return false
}

func equal(a, b any) bool {
	a, b = norm(a), norm(b)
	switch x := a.(type) {
	case nil:
		return b == nil
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

func compare(a, b any) (int, bool) {
	a, b = norm(a), norm(b)
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	}
	return 0, false
}

// holds tells whether container holds v: a list element equal to v, or
// (substr) a substring of a string.
func holds(container, v any, substr bool) bool {
	switch c := norm(container).(type) {
	case []any:
		for _, x := range c {
			if equal(x, v) {
				return true
			}
		}
		return false
	case string:
		s, ok := v.(string)
		if !ok {
			return false
		}
		if substr {
			return strings.Contains(c, s)
		}
		return c == s
	case nil:
		return false
	}
	return equal(container, v)
}

package customer

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/text"
)

// Suggestion is a customer that may be the same person as another, with the
// evidence. Kanal never merges on a suggestion by itself.
type Suggestion struct {
	Customer Customer `json:"customer"`
	// Score adds up the weights of the reasons; a candidate needs at least
	// SuggestThreshold.
	Score   int      `json:"score"`
	Reasons []Reason `json:"reasons"`
}

// Reason is one piece of evidence that two customers are one person.
type Reason struct {
	Code   string `json:"code"`
	Weight int    `json:"weight"`
	Detail string `json:"detail"`
}

// Reason codes and their weights.
const (
	ReasonSameNumber       = "same_number"          // one number, as a phone and as a WhatsApp identity
	ReasonNationalNumber   = "same_national_number" // same digits after different country codes
	ReasonSameMailbox      = "same_mailbox"         // name+tag@domain and name@domain
	ReasonEmailLocalPart   = "email_local_part"     // same local part at another domain
	ReasonEmailTypo        = "email_typo"           // local parts one edit apart, same domain
	ReasonExternalIDPrefix = "external_id_prefix"   // one external id extends the other at a separator
	ReasonSameName         = "same_name"            // same folded name (word order aside)
)

var reasonWeight = map[string]int{
	ReasonSameNumber: 4, ReasonNationalNumber: 3, ReasonSameMailbox: 3,
	ReasonEmailLocalPart: 2, ReasonEmailTypo: 2, ReasonExternalIDPrefix: 2, ReasonSameName: 2,
}

// SuggestThreshold is the least score a suggestion needs. No single weak
// reason reaches it, and a shared name never finds a candidate at all: names
// only add weight to a candidate an identity found.
const SuggestThreshold = 3

// Bounds of one suggestion call.
const (
	probeRows     = 200 // rows one probe query may return
	maxCandidates = 100 // candidates scored per call
	maxTypoLocal  = 32  // longest e-mail local part probed for one-letter typos
)

// genericLocal are mailbox names shared by unrelated people and businesses;
// the same one at two domains says nothing.
var genericLocal = map[string]bool{
	"info": true, "contact": true, "iletisim": true, "destek": true, "support": true, "admin": true, "sales": true,
	"satis": true, "hello": true, "merhaba": true, "mail": true, "email": true, "noreply": true, "no-reply": true,
	"office": true, "team": true, "help": true, "billing": true, "muhasebe": true, "hr": true, "ik": true,
	"test": true, "user": true, "customer": true, "musteri": true, "siparis": true, "order": true, "orders": true,
}

type candidate struct {
	id      string
	reasons map[string]Reason
}

type suggester struct {
	s     *Service
	r     store.Querier
	ws    string
	self  string
	cands map[string]*candidate
}

func (g *suggester) add(customerID, code, detail string) {
	c, ok := g.cands[customerID]
	if !ok {
		if len(g.cands) >= maxCandidates {
			return
		}
		c = &candidate{id: customerID, reasons: map[string]Reason{}}
		g.cands[customerID] = c
	}
	if _, seen := c.reasons[code]; !seen {
		c.reasons[code] = Reason{Code: code, Weight: reasonWeight[code], Detail: detail}
	}
}

type hit struct{ customerID, kind, value string }

// in probes identities of other live customers by exact kind and value.
func (g *suggester) in(ctx context.Context, kinds, values []string) ([]hit, error) {
	if len(values) == 0 {
		return nil, nil
	}
	kj, _ := json.Marshal(kinds)
	vj, _ := json.Marshal(values)
	return g.hits(g.r.Query(ctx, q.Get(g.r.Dialect(), "suggest-in"), g.ws, g.self, string(kj), string(vj), probeRows))
}

// prefix probes identities of a kind whose value lies in [lo, hi).
func (g *suggester) prefix(ctx context.Context, kind, lo, hi string) ([]hit, error) {
	return g.hits(g.r.Query(ctx, q.Get(g.r.Dialect(), "suggest-range"), g.ws, kind, lo, hi, g.self, probeRows))
}

func (g *suggester) hits(rows *sql.Rows, err error) ([]hit, error) {
	if err != nil {
		return nil, fmt.Errorf("duplicates: %w", err)
	}
	defer rows.Close()
	var out []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.customerID, &h.kind, &h.value); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Duplicates returns up to limit customers of the workspace that are likely
// the same person as customer id, strongest first, each with its reasons.
// Candidates are found only through index lookups on identities (exact
// values and value prefixes), never by scanning the workspace; each call is
// bounded. The customer itself, merged-away customers, other workspaces and
// customers a merge with this one was undone for are never suggested.
func (s *Service) Duplicates(ctx context.Context, workspaceID, id string, limit int) ([]Suggestion, error) {
	r := s.db.Reader()
	me, err := s.getFull(ctx, r, workspaceID, id)
	if err != nil {
		return nil, err
	}
	g := &suggester{s: s, r: r, ws: workspaceID, self: me.ID, cands: map[string]*candidate{}}
	var numbers, emails, externals []string
	for _, i := range me.Identities {
		switch i.Kind {
		case KindPhone, KindWhatsApp:
			numbers = appendNew(numbers, i.Normalized)
		case KindEmail:
			emails = appendNew(emails, i.Normalized)
		case KindExternalID:
			externals = appendNew(externals, i.Normalized)
		}
	}
	if strings.HasPrefix(me.Phone, "+") {
		numbers = appendNew(numbers, me.Phone)
	}
	if e, err := text.Email(me.Email); err == nil && me.Email != "" {
		emails = appendNew(emails, e)
	}
	if err := g.byNumber(ctx, numbers); err != nil {
		return nil, err
	}
	if err := g.byEmail(ctx, emails); err != nil {
		return nil, err
	}
	if err := g.byExternalID(ctx, externals); err != nil {
		return nil, err
	}
	return g.finish(ctx, me, limit)
}

func appendNew(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// byNumber finds the same number under another kind (phone vs WhatsApp) and
// the same national number under another country code (a number read in
// the wrong region).
func (g *suggester) byNumber(ctx context.Context, numbers []string) error {
	var values []string
	for _, n := range numbers {
		values = appendNew(values, n)
		num, err := phonenumbers.Parse(n, "")
		if err != nil {
			continue
		}
		nsn := phonenumbers.GetNationalSignificantNumber(num)
		if len(nsn) < 6 {
			continue
		}
		for cc := range phonenumbers.GetSupportedCallingCodes() {
			if int32(cc) != num.GetCountryCode() {
				values = appendNew(values, "+"+strconv.Itoa(cc)+nsn)
			}
		}
	}
	hits, err := g.in(ctx, []string{KindPhone, KindWhatsApp}, values)
	if err != nil {
		return err
	}
	for _, h := range hits {
		if slices.Contains(numbers, h.value) {
			g.add(h.customerID, ReasonSameNumber, fmt.Sprintf("both have the number %s (one as %s)", h.value, h.kind))
			continue
		}
		for _, n := range numbers {
			if sameNational(n, h.value) {
				g.add(h.customerID, ReasonNationalNumber,
					fmt.Sprintf("%s and %s have the same digits after the country code", n, h.value))
				break
			}
		}
	}
	return nil
}

func sameNational(a, b string) bool {
	x, err1 := phonenumbers.Parse(a, "")
	y, err2 := phonenumbers.Parse(b, "")
	return err1 == nil && err2 == nil && x.GetCountryCode() != y.GetCountryCode() &&
		phonenumbers.GetNationalSignificantNumber(x) == phonenumbers.GetNationalSignificantNumber(y)
}

// byEmail finds one mailbox written with and without a +tag, the same local
// part at another domain, and local parts one typo apart at the same domain.
func (g *suggester) byEmail(ctx context.Context, emails []string) error {
	var exact []string
	for _, e := range emails {
		local, domain, ok := splitEmail(e)
		if !ok {
			continue
		}
		base, _, _ := strings.Cut(local, "+")
		if base == "" {
			continue
		}
		if base != local {
			exact = appendNew(exact, base+"@"+domain)
		}
		// Others with a +tag on the same base: base+...@anything.
		hits, err := g.prefix(ctx, KindEmail, base+"+", base+",")
		if err != nil {
			return err
		}
		g.classifyEmails(emails, hits)
		if !genericLocal[base] && utf8.RuneCountInString(local) >= 3 {
			// local@anything ('@' + 1 is 'A').
			hits, err := g.prefix(ctx, KindEmail, local+"@", local+"A")
			if err != nil {
				return err
			}
			g.classifyEmails(emails, hits)
		}
		if n := utf8.RuneCountInString(local); n >= 3 && n <= maxTypoLocal {
			for _, v := range oneEdit(local) {
				exact = appendNew(exact, v+"@"+domain)
			}
		}
	}
	hits, err := g.in(ctx, []string{KindEmail}, exact)
	if err != nil {
		return err
	}
	g.classifyEmails(emails, hits)
	return nil
}

// classifyEmails gives each hit the strongest reason it shares with one of
// the customer's addresses.
func (g *suggester) classifyEmails(emails []string, hits []hit) {
	for _, h := range hits {
		hl, hd, ok := splitEmail(h.value)
		if !ok {
			continue
		}
		hb, _, _ := strings.Cut(hl, "+")
		best, detail := "", ""
		for _, e := range emails {
			l, d, ok := splitEmail(e)
			if !ok {
				continue
			}
			b, _, _ := strings.Cut(l, "+")
			switch {
			case d == hd && b == hb:
				best, detail = ReasonSameMailbox, fmt.Sprintf("%s and %s are one mailbox (a +tag)", e, h.value)
			case best == "" && l == hl && d != hd && !genericLocal[b]:
				best, detail = ReasonEmailLocalPart, fmt.Sprintf("%s and %s have the same name before the @", e, h.value)
			case best == "" && d == hd && levenshtein1(l, hl):
				best, detail = ReasonEmailTypo, fmt.Sprintf("%s and %s differ by one character", e, h.value)
			}
		}
		if best != "" {
			g.add(h.customerID, best, detail)
		}
	}
}

func splitEmail(e string) (string, string, bool) {
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 {
		return "", "", false
	}
	return e[:at], e[at+1:], true
}

// typoAlphabet is what a one-letter typo in an e-mail local part is made of.
const typoAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789._-"

// oneEdit returns every string one deletion, substitution or insertion
// away from s.
func oneEdit(s string) []string {
	rs := []rune(s)
	alpha := []rune(typoAlphabet)
	for _, r := range rs {
		if !slices.Contains(alpha, r) {
			alpha = append(alpha, r)
		}
	}
	seen := map[string]bool{s: true}
	var out []string
	put := func(v string) {
		if !seen[v] && v != "" {
			seen[v] = true
			out = append(out, v)
		}
	}
	for i := range rs {
		put(string(rs[:i]) + string(rs[i+1:]))
		for _, a := range alpha {
			put(string(rs[:i]) + string(a) + string(rs[i+1:]))
		}
	}
	for i := 0; i <= len(rs); i++ {
		for _, a := range alpha {
			put(string(rs[:i]) + string(a) + string(rs[i:]))
		}
	}
	return out
}

// levenshtein1 tells whether a and b are at most one edit apart.
func levenshtein1(a, b string) bool {
	x, y := []rune(a), []rune(b)
	if len(x) > len(y) {
		x, y = y, x
	}
	if len(y)-len(x) > 1 {
		return false
	}
	i := 0
	for i < len(x) && x[i] == y[i] {
		i++
	}
	if len(x) == len(y) {
		return i == len(x) || string(x[i+1:]) == string(y[i+1:])
	}
	return string(x[i:]) == string(y[i+1:])
}

const idSeparators = "-_.:/"

// usefulStem tells whether an external id (or a part of one) says enough
// on its own: at least 4 characters with a digit, so that "crm" or "shop"
// never links every id of a system.
func usefulStem(s string) bool {
	return utf8.RuneCountInString(s) >= 4 && strings.ContainsFunc(s, unicode.IsDigit)
}

// byExternalID finds external ids that extend this customer's at a
// separator ("crm-9" and "crm-9-old") or that it extends.
func (g *suggester) byExternalID(ctx context.Context, ids []string) error {
	var stems []string
	for _, x := range ids {
		if usefulStem(x) {
			for _, sep := range idSeparators {
				hits, err := g.prefix(ctx, KindExternalID, x+string(sep), x+string(sep+1))
				if err != nil {
					return err
				}
				for _, h := range hits {
					g.add(h.customerID, ReasonExternalIDPrefix, fmt.Sprintf("external id %s extends %s", h.value, x))
				}
			}
		}
		for i, r := range x {
			if strings.ContainsRune(idSeparators, r) && usefulStem(x[:i]) {
				stems = appendNew(stems, x[:i])
			}
		}
	}
	hits, err := g.in(ctx, []string{KindExternalID}, stems)
	if err != nil {
		return err
	}
	for _, h := range hits {
		for _, x := range ids {
			if strings.HasPrefix(x, h.value) {
				g.add(h.customerID, ReasonExternalIDPrefix, fmt.Sprintf("external id %s extends %s", x, h.value))
				break
			}
		}
	}
	return nil
}

// nameKey folds a name and sorts its words, so that "Yılmaz Ayşe" and
// "AYŞE YILMAZ" agree.
func nameKey(name string) string {
	words := strings.Fields(text.Fold(name))
	slices.Sort(words)
	return strings.Join(words, " ")
}

func (g *suggester) finish(ctx context.Context, me Customer, limit int) ([]Suggestion, error) {
	out := []Suggestion{}
	if len(g.cands) == 0 {
		return out, nil
	}
	// A merge between the two that someone undid says "not the same person".
	rows, err := g.r.Query(ctx, q.Get(g.r.Dialect(), "merge-undone-pairs"), g.ws, me.ID)
	if err != nil {
		return nil, fmt.Errorf("duplicates: %w", err)
	}
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			rows.Close()
			return nil, err
		}
		delete(g.cands, a)
		delete(g.cands, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(g.cands))
	for id := range g.cands {
		ids = append(ids, id)
	}
	idj, _ := json.Marshal(ids)
	crows, err := g.r.Query(ctx, q.Get(g.r.Dialect(), "suggest-customers"), g.ws, string(idj))
	if err != nil {
		return nil, fmt.Errorf("duplicates: %w", err)
	}
	defer crows.Close()
	myName := nameKey(me.Name)
	var list []Suggestion
	for crows.Next() {
		c, err := scan(crows)
		if err != nil {
			return nil, err
		}
		cand := g.cands[c.ID]
		if cand == nil {
			continue
		}
		if myName != "" && utf8.RuneCountInString(myName) >= 2 && nameKey(c.Name) == myName {
			cand.reasons[ReasonSameName] = Reason{Code: ReasonSameName, Weight: reasonWeight[ReasonSameName],
				Detail: fmt.Sprintf("both are called %s", c.Name)}
		}
		sg := Suggestion{Customer: c, Reasons: make([]Reason, 0, len(cand.reasons))}
		for _, rs := range cand.reasons {
			sg.Score += rs.Weight
			sg.Reasons = append(sg.Reasons, rs)
		}
		if sg.Score < SuggestThreshold {
			continue
		}
		slices.SortFunc(sg.Reasons, func(a, b Reason) int {
			return cmp.Or(cmp.Compare(b.Weight, a.Weight), cmp.Compare(a.Code, b.Code))
		})
		list = append(list, sg)
	}
	if err := crows.Err(); err != nil {
		return nil, err
	}
	crows.Close()
	slices.SortFunc(list, func(a, b Suggestion) int {
		// Equal scores: the one with the strongest single reason first.
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(b.Reasons[0].Weight, a.Reasons[0].Weight),
			cmp.Compare(b.Customer.CreatedAt, a.Customer.CreatedAt),
			cmp.Compare(a.Customer.ID, b.Customer.ID))
	})
	if len(list) > limit {
		list = list[:limit]
	}
	for _, sg := range list {
		sg.Customer.Identities, err = g.s.identities(ctx, g.r, g.ws, sg.Customer.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, sg)
	}
	return out, nil
}

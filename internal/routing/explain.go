package routing

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Decision records one routing decision and why it went that way.
//
// Trigger "item" is agent surplus: an item looked for agents (on arrival,
// after a step relaxed, a delay passed, an offer failed); Candidates are the
// eligible agents ranked by the strategy, Excluded every other queue member
// with the first rule that removed it. Trigger "agent" is item surplus: an
// agent with room looked for work; Items are the visible eligible items
// ranked by (tier, priority, SLA due, age) and Skipped the others.
// Candidates, Excluded, Items and Skipped are filled only with
// Options.Explain.
type Decision struct {
	Seq         int64       `json:"seq"`
	At          int64       `json:"at"`
	Trigger     string      `json:"trigger"`
	Item        string      `json:"item,omitempty"`
	Agent       string      `json:"agent,omitempty"`
	Queue       string      `json:"queue,omitempty"`
	Step        int         `json:"step"`
	Requirement string      `json:"requirement,omitempty"`
	Strategy    string      `json:"strategy,omitempty"`
	Tier        int         `json:"tier,omitempty"`
	Offered     []string    `json:"offered"`
	Keys        []Key       `json:"keys,omitempty"`
	Outcome     string      `json:"outcome,omitempty"`
	Candidates  []Candidate `json:"candidates,omitempty"`
	Excluded    []Exclusion `json:"excluded,omitempty"`
	Items       []ItemRank  `json:"items,omitempty"`
	Skipped     []Skip      `json:"skipped,omitempty"`
}

// Key is one strategy or ordering key.
type Key struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// Candidate is an eligible agent and its keys, best first.
type Candidate struct {
	Agent string `json:"agent"`
	Keys  []Key  `json:"keys"`
}

// Exclusion is an agent that was not a candidate and the first reason.
type Exclusion struct {
	Agent  string `json:"agent"`
	Reason string `json:"reason"`
}

// ItemRank is an eligible item and its ordering keys, best first.
type ItemRank struct {
	Item string `json:"item"`
	Keys []Key  `json:"keys"`
}

// Skip is an item the agent could not take and why.
type Skip struct {
	Item   string `json:"item"`
	Reason string `json:"reason"`
}

// maxListed bounds the lists of an explanation.
const maxListed = 50

func (e *Engine) newDecision(trigger string) *Decision {
	e.decisionSeq++
	return &Decision{Seq: e.decisionSeq, At: e.now, Trigger: trigger}
}

func (e *Engine) decideItem(it *item, agents []*agent) *Decision {
	d := e.newDecision("item")
	st := it.curStep(e)
	d.Item, d.Queue, d.Step, d.Requirement = it.id, it.q.id, it.stepIdx, st.req.String()
	d.Strategy = it.q.strategy
	if st.pref != nil {
		d.Strategy = "preferred"
		d.Requirement = "preferred agents"
	}
	for _, a := range agents {
		d.Offered = append(d.Offered, a.id)
	}
	d.Keys = e.agentKeys(it.q, st.req, agents[0])
	if e.opts.Explain {
		d.Candidates, d.Excluded = e.explainAgents(it)
	}
	return d
}

func (e *Engine) explainNone(it *item) {
	if e.opts.OnDecision == nil {
		return
	}
	d := e.newDecision("item")
	st := it.curStep(e)
	d.Item, d.Queue, d.Step, d.Requirement, d.Strategy = it.id, it.q.id, it.stepIdx, st.req.String(), it.q.strategy
	d.Offered = []string{}
	if !it.q.open {
		d.Outcome = "queue closed (business hours)"
	} else {
		d.Outcome = "no eligible agent with room; the item waits"
		d.Candidates, d.Excluded = e.explainAgents(it)
	}
	e.opts.OnDecision(d)
}

func (e *Engine) decideAgent(a *agent, it *item, tier int) *Decision {
	d := e.newDecision("agent")
	st := it.curStep(e)
	d.Agent, d.Item, d.Queue, d.Step, d.Requirement, d.Tier = a.id, it.id, it.q.id, it.stepIdx, st.req.String(), tier
	d.Strategy = "tier, priority, due, age"
	if e.scoreOrder {
		d.Strategy = "tier, age − priority × 60 s"
	}
	d.Offered = []string{a.id}
	d.Keys = e.itemKeys(it, tier)
	if e.opts.Explain {
		d.Items, d.Skipped = e.explainItems(a)
	}
	return d
}

func (e *Engine) agentKeys(q *queue, r *reqset, a *agent) []Key {
	var ks []Key
	switch q.keyStrategy {
	case BestSkill:
		ks = append(ks, Key{"mean_proficiency", a.prof.meanProf(r)})
	case OrderBy:
		vals := e.orderValues(q, a.prof)
		for i, k := range q.orderBy {
			ks = append(ks, Key{strings.Join(k.path, "."), vals[i]})
		}
	case LeastActive:
		ks = append(ks, Key{"active", a.active})
	case MostAvailableUnits:
		ks = append(ks, Key{"free_units", a.total - a.load})
	case MostAvailablePct:
		ks = append(ks, Key{"free_pct", 100 * float64(a.total-a.load) / float64(a.total)})
	case RoundRobin:
		ks = append(ks, Key{"last_assigned_at", a.lastAssignedAt})
	}
	return append(ks, Key{"idle_since", a.idleSince})
}

func (e *Engine) itemKeys(it *item, tier int) []Key {
	ks := []Key{{"tier", tier}}
	if e.scoreOrder {
		return append(ks, Key{"score", it.start - int64(it.prio)*60000})
	}
	ks = append(ks, Key{"priority", it.prio})
	if it.due > 0 {
		ks = append(ks, Key{"due", it.due})
	}
	return append(ks, Key{"start", it.start})
}

// agentReason returns why a could not be offered it now, or "".
func (e *Engine) agentReason(it *item, a *agent) string {
	st := it.curStep(e)
	var m *membership
	if st.pref != nil {
		if !slices.Contains(st.pref, a) {
			return "not a preferred agent"
		}
	} else {
		mi, ok := it.q.memberSet[a.idx]
		if !ok {
			return "not a queue member"
		}
		m = &a.mems[mi]
	}
	if !a.routable {
		return "presence " + a.presence
	}
	if a.enabled&(1<<it.ch) == 0 {
		return "channel " + e.chans[it.ch].name + " not enabled"
	}
	if m != nil && m.level > it.level {
		return fmt.Sprintf("delay: sees the item after %gs in queue", float64(m.delay)/1000)
	}
	if st.pref == nil && !a.prof.satisfies(st.req) {
		return "requirement: " + e.missing(a.prof, st.req)
	}
	if how, ex := it.excluded[a.idx]; ex {
		return "excluded (" + how + ")"
	}
	if a.perMax[it.ch] > 0 && a.count[it.ch] >= a.perMax[it.ch] {
		return fmt.Sprintf("capacity: %d of %d %s items", a.count[it.ch], a.perMax[it.ch], e.chans[it.ch].name)
	}
	if a.currentOnly {
		for m := a.heldMask; m != 0; m &= m - 1 {
			x := trailing(m)
			if x != it.ch && a.interruptedBy[x]&(1<<it.ch) == 0 {
				return "cross-channel: busy on " + e.chans[x].name
			}
		}
	}
	if l, c := e.effectiveLoad(a, it.ch), e.costFor(a, it.ch, it.cost); l+c > a.total {
		return fmt.Sprintf("capacity: %d used + %d > %d units", l, c, a.total)
	}
	return ""
}

func (e *Engine) missing(p *profile, r *reqset) string {
	for _, s := range r.skills {
		v, has := p.skills[s.skill]
		if !has {
			return "no skill " + s.skill
		}
		if v < s.min {
			return fmt.Sprintf("%s %g < %g", s.skill, v, s.min)
		}
	}
	if r.expr != nil {
		return "expression false: " + r.expr.String()
	}
	return "unmet"
}

// bruteAgents ranks every agent who could be offered it now, by brute force.
func (e *Engine) bruteAgents(it *item) ([]*agent, map[*agent]string) {
	st := it.curStep(e)
	pool := st.pref
	if pool == nil {
		pool = it.q.members
	}
	var ok []*agent
	why := map[*agent]string{}
	for _, a := range pool {
		if r := e.agentReason(it, a); r != "" {
			why[a] = r
		} else {
			ok = append(ok, a)
		}
	}
	if st.pref != nil {
		return ok, why
	}
	q := it.q
	if q.keyStrategy == BestSkill && q.topK > 0 && len(ok) > q.topK {
		sort.SliceStable(ok, func(i, j int) bool { return e.agentLess(q, ok[i], ok[j]) })
		for _, a := range ok[q.topK:] {
			why[a] = fmt.Sprintf("best_skill: not among the %d longest idle", q.topK)
		}
		ok = ok[:q.topK]
	}
	sort.SliceStable(ok, func(i, j int) bool {
		return e.agentBetter(q, st.req, ok[i].prof, ok[i], ok[j].prof, ok[j])
	})
	return ok, why
}

func (e *Engine) explainAgents(it *item) ([]Candidate, []Exclusion) {
	ok, why := e.bruteAgents(it)
	var cs []Candidate
	for i, a := range ok {
		if i == maxListed {
			cs = append(cs, Candidate{Agent: fmt.Sprintf("… %d more", len(ok)-maxListed)})
			break
		}
		cs = append(cs, Candidate{Agent: a.id, Keys: e.agentKeys(it.q, it.curStep(e).req, a)})
	}
	var xs []Exclusion
	for a, r := range why {
		xs = append(xs, Exclusion{Agent: a.id, Reason: r})
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].Agent < xs[j].Agent })
	if len(xs) > maxListed {
		n := len(xs) - maxListed
		xs = append(xs[:maxListed], Exclusion{Agent: fmt.Sprintf("… %d more", n)})
	}
	return cs, xs
}

// itemReason returns why agent a can not take item it now and its tier.
func (e *Engine) itemReason(a *agent, it *item) (string, int) {
	if it.state != stWaiting {
		return "not waiting", 0
	}
	if !it.q.open {
		return "queue closed", 0
	}
	st := it.curStep(e)
	tier := 0
	if st.pref != nil {
		if !slices.Contains(st.pref, a) {
			return "prefers other agents", 0
		}
	} else {
		mi, ok := it.q.memberSet[a.idx]
		if !ok {
			return "not in the agent's queues", 0
		}
		m := &a.mems[mi]
		tier = m.tier
		if m.level > it.level {
			return fmt.Sprintf("delay: visible after %gs in queue", float64(m.delay)/1000), tier
		}
		if !a.prof.satisfies(st.req) {
			return "requirement: " + e.missing(a.prof, st.req), tier
		}
	}
	if how, ex := it.excluded[a.idx]; ex {
		return "excluded (" + how + ")", tier
	}
	if !e.roomFor(a, it.ch, e.costFor(a, it.ch, it.cost)) {
		return "no room for " + e.chans[it.ch].name, tier
	}
	return "", tier
}

type rankedItem struct {
	it   *item
	tier int
}

func (e *Engine) bruteItems(a *agent) ([]rankedItem, []Skip) {
	var ok []rankedItem
	var skip []Skip
	for _, it := range e.order {
		if it.state != stWaiting {
			continue
		}
		r, tier := e.itemReason(a, it)
		switch {
		case r == "":
			ok = append(ok, rankedItem{it, tier})
		case r != "not in the agent's queues" && r != "prefers other agents":
			skip = append(skip, Skip{Item: it.id, Reason: r})
		}
	}
	sort.SliceStable(ok, func(i, j int) bool {
		if ok[i].tier != ok[j].tier {
			return ok[i].tier < ok[j].tier
		}
		return e.itemLess(ok[i].it, ok[j].it)
	})
	return ok, skip
}

func (e *Engine) explainItems(a *agent) ([]ItemRank, []Skip) {
	ok, skip := e.bruteItems(a)
	var out []ItemRank
	for i, r := range ok {
		if i == maxListed {
			out = append(out, ItemRank{Item: fmt.Sprintf("… %d more", len(ok)-maxListed)})
			break
		}
		out = append(out, ItemRank{Item: r.it.id, Keys: e.itemKeys(r.it, r.tier)})
	}
	if len(skip) > maxListed {
		n := len(skip) - maxListed
		skip = append(skip[:maxListed], Skip{Item: fmt.Sprintf("… %d more", n)})
	}
	return out, skip
}

// checkItemDecision panics when the fast path and brute force disagree on
// whom a waiting item is offered to.
func (e *Engine) checkItemDecision(it *item, fast []*agent) {
	ok, _ := e.bruteAgents(it)
	n := it.q.parallel
	if len(ok) > n {
		ok = ok[:n]
	}
	if len(ok) == 0 && len(fast) == 0 {
		return
	}
	if len(ok) != len(fast) {
		panic(fmt.Sprintf("routing check: item %s at %d: fast path offers %v, brute force %v", it.id, e.now, ids(fast), ids(ok)))
	}
	if it.curStep(e).pref != nil {
		for i := range ok {
			if ok[i] != fast[i] {
				panic(fmt.Sprintf("routing check: item %s: fast %v, brute %v", it.id, ids(fast), ids(ok)))
			}
		}
		return
	}
	// equal keys may order differently only if the agents tie completely,
	// which agent ids prevent: compare as sets of identical order
	for i := range ok {
		if ok[i] != fast[i] {
			panic(fmt.Sprintf("routing check: item %s at %d: fast path offers %v, brute force %v", it.id, e.now, ids(fast), ids(ok)))
		}
	}
}

// checkAgentDecision panics when the fast path and brute force disagree on
// which item an agent with room gets.
func (e *Engine) checkAgentDecision(a *agent, fast *item) {
	if !a.routable {
		return
	}
	ok, _ := e.bruteItems(a)
	var brute *item
	if len(ok) > 0 {
		brute = ok[0].it
	}
	if brute != fast {
		f, b := "none", "none"
		if fast != nil {
			f = fast.id
		}
		if brute != nil {
			b = brute.id
		}
		panic(fmt.Sprintf("routing check: agent %s at %d: fast path picks %s, brute force %s", a.id, e.now, f, b))
	}
}

func ids(as []*agent) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.id
	}
	return out
}

// Explain returns the current explanation for a waiting item: who could
// take it now and why each other queue member can not.
func (e *Engine) Explain(itemID string) (*Decision, error) {
	it, ok := e.items[itemID]
	if !ok {
		return nil, ErrUnknownItem
	}
	d := &Decision{At: e.now, Trigger: "explain", Item: it.id, Queue: it.q.id, Step: it.stepIdx,
		Requirement: it.curStep(e).req.String(), Strategy: it.q.strategy, Offered: []string{}}
	d.Outcome = stateNames[it.state]
	if it.state == stWaiting {
		d.Candidates, d.Excluded = e.explainAgents(it)
	}
	return d, nil
}

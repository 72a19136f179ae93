package routing

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// randomConfig builds a random but valid configuration exercising every
// strategy, tiers and delays, capacity rules and workflows.
func randomConfig(r *rand.Rand) Config {
	pick := func(l ...string) string { return l[r.IntN(len(l))] }
	cfg := Config{Channels: map[string]ChannelConfig{
		"voice":   {AutoAccept: ptr(r.IntN(2) == 0), OfferTimeoutS: ptr(float64(5 + r.IntN(20)))},
		"webchat": {CapacityCost: ptr(10 + 5*r.IntN(5)), AutoAccept: ptr(r.IntN(3) == 0), InactivityReleaseS: ptr(float64(5 + r.IntN(30)))},
		"email":   {CapacityCost: ptr(5 + r.IntN(30)), WrapUpS: ptr(float64(r.IntN(10)))},
	}, Presences: map[string]PresenceConfig{"chat_only": {Routable: true, Channels: []string{"webchat"}}}}
	if r.IntN(3) == 0 {
		cfg.NotRespondingAfter = 1 + r.IntN(3)
	}
	nq := 1 + r.IntN(4)
	if r.IntN(5) == 0 {
		cfg.ItemOrder = "score"
	}
	for i := 0; i < nq; i++ {
		q := QueueConfig{ID: fmt.Sprintf("q%d", i), Strategy: strategies[r.IntN(len(strategies))]}
		switch q.Strategy {
		case PreferredFirst:
			q.Fallback = pick(LongestIdle, LeastActive, MostAvailablePct, RoundRobin)
			q.PreferredWindowS = ptr(float64(1 + r.IntN(30)))
		case OrderBy:
			q.OrderBy = []OrderKey{{Key: "level", Dir: pick("asc", "desc")}, {Key: "skills.a"}}
		case BestSkill:
			if r.IntN(2) == 0 {
				q.TopK = 1 + r.IntN(4)
			}
		}
		if r.IntN(3) == 0 {
			q.ParallelOffers = 1 + r.IntN(3)
		}
		if r.IntN(4) == 0 {
			q.MemberExpr = pick(`lang == "tr"`, `level >= 2`, `"en" in langs`, `skills.a >= 2 or lang == "en"`)
		}
		if r.IntN(6) == 0 {
			q.Hours = &Hours{Weekly: map[string][]string{"mon": {"00:00-00:05", "00:07-24:00"}, "tue": {"00:00-24:00"},
				"wed": {"00:00-24:00"}, "thu": {"00:00-24:00"}, "fri": {"00:00-24:00"}, "sat": {"00:00-24:00"}, "sun": {"00:00-24:00"}}}
		}
		if r.IntN(5) == 0 {
			q.MaxWaiting = 3 + r.IntN(10)
		}
		cfg.Queues = append(cfg.Queues, q)
	}
	if nq >= 2 && r.IntN(2) == 0 {
		w := QueueConfig{ID: "flow"}
		for i := 0; i < nq; i++ {
			t := Target{Queue: fmt.Sprintf("q%d", i)}
			if i < nq-1 || r.IntN(2) == 0 {
				t.TimeoutS = ptr(float64(5 + r.IntN(30)))
			}
			if r.IntN(3) == 0 {
				t.Priority = ptr(r.IntN(3))
			}
			w.Targets = append(w.Targets, t)
		}
		cfg.Queues = append(cfg.Queues, w)
	}
	na := 1 + r.IntN(12)
	for i := 0; i < na; i++ {
		a := AgentConfig{ID: fmt.Sprintf("a%02d", i), Skills: map[string]float64{},
			Attributes: map[string]any{"lang": pick("tr", "en"), "level": r.IntN(4), "langs": []any{pick("tr", "en"), "de"}}}
		for _, s := range []string{"a", "b", "c"} {
			if r.IntN(2) == 0 {
				a.Skills[s] = float64(r.IntN(11)) / 2
			}
		}
		a.Capacity = Capacity{TotalUnits: 40 + 20*r.IntN(8)}
		if r.IntN(3) == 0 {
			a.Capacity.PerChannelMax = map[string]int{"webchat": 1 + r.IntN(4)}
		}
		if r.IntN(4) == 0 {
			a.Capacity.PerChannelCost = map[string]int{"webchat": 5 + r.IntN(40), "voice": 50 + r.IntN(60)}
		}
		if r.IntN(3) == 0 {
			a.Capacity.InterruptedBy = map[string][]string{"webchat": {"voice"}, "email": {"voice", "webchat"}}
		}
		if r.IntN(4) == 0 {
			a.Capacity.CrossChannel = "current_only"
		}
		if r.IntN(5) == 0 {
			a.Channels = []string{"webchat", "email"}
		}
		if r.IntN(5) == 0 {
			a.Presence = pick(PresenceBreak, "chat_only", PresenceOffline)
		}
		for qi := 0; qi < nq; qi++ {
			if r.IntN(3) > 0 {
				a.Queues = append(a.Queues, AgentQueue{Queue: fmt.Sprintf("q%d", qi), Tier: 1 + r.IntN(3), DelayS: float64(5 * r.IntN(3))})
			}
		}
		cfg.Agents = append(cfg.Agents, a)
	}
	return cfg
}

type propRun struct {
	t        *testing.T
	r        *rand.Rand
	e        *Engine
	log      []Event
	excluded map[string]map[string]bool
	accepted map[string]int
	failures []string
	checks   int
}

func (p *propRun) failf(format string, args ...any) {
	if len(p.failures) < 10 {
		p.failures = append(p.failures, fmt.Sprintf("t=%.3fs ", float64(p.e.now-t0)/1000)+fmt.Sprintf(format, args...))
	}
}

func (p *propRun) onEvent(ev Event) {
	p.log = append(p.log, ev)
	e, r := p.e, p.r
	switch ev.Type {
	case EvQueued:
		if ev.Reason == "transfer" {
			p.excluded[ev.Item] = map[string]bool{}
			p.accepted[ev.Item] = 0
		}
	case EvOffered:
		if p.excluded[ev.Item][ev.Agent] {
			p.failf("item %s offered to excluded agent %s", ev.Item, ev.Agent)
		}
		it, a := e.items[ev.Item], e.agents[e.agentIdx[ev.Agent]]
		if l := e.effectiveLoad(a, it.ch); l > a.total {
			p.failf("agent %s over capacity for %s: %d > %d", a.id, e.chans[it.ch].name, l, a.total)
		}
		if a.perMax[it.ch] > 0 && a.count[it.ch] > a.perMax[it.ch] {
			p.failf("agent %s over the %s cap", a.id, e.chans[it.ch].name)
		}
		if !e.chans[it.ch].autoAccept {
			item, agent := ev.Item, ev.Agent
			d := ms(r.Float64() * 12)
			switch x := r.IntN(10); {
			case x < 6:
				e.At(e.now+d, func() { _ = e.Accept(item, agent) })
			case x < 8:
				e.At(e.now+d, func() { _ = e.Reject(item, agent) })
			}
		}
	case EvRejected, EvTimedOut:
		p.excluded[ev.Item][ev.Agent] = true
	case EvAccepted:
		p.accepted[ev.Item]++
		if p.accepted[ev.Item] > 1 {
			p.failf("item %s assigned twice", ev.Item)
		}
		item := ev.Item
		handle := ms(r.ExpFloat64() * 60)
		e.At(e.now+handle, func() { _ = e.Complete(item) })
		switch r.IntN(8) {
		case 0:
			e.At(e.now+handle/2, func() { _ = e.Hold(item, true) })
			e.At(e.now+handle*3/4, func() { _ = e.Hold(item, false) })
		case 1:
			e.At(e.now+handle/3, func() { _ = e.Inactive(item) })
		case 2:
			to := e.queues[r.IntN(len(e.queues))].id
			e.At(e.now+handle/2, func() { _ = e.Transfer(item, to) })
		case 3:
			e.At(e.now+handle/2, func() { _ = e.Resolve(item) })
		}
	}
}

// check asserts the invariants that must hold whenever the engine is quiet.
func (p *propRun) check() {
	p.checks++
	e := p.e
	for _, a := range e.agents {
		load, n := 0, 0
		for _, it := range a.items {
			load += e.costFor(a, it.ch, it.cost)
			n++
		}
		if load != a.load || n != a.held {
			p.failf("agent %s bookkeeping: load %d vs %d, held %d vs %d", a.id, a.load, load, a.held, n)
		}
	}
	for _, it := range e.order {
		if it.state != stWaiting || !it.q.open {
			continue
		}
		st := it.curStep(e)
		pool := st.pref
		if pool == nil {
			pool = it.q.members
		}
		for _, a := range pool {
			if e.agentReason(it, a) == "" {
				p.failf("item %s waits while %s is eligible with room", it.id, a.id)
			}
		}
	}
}

func runProperty(t *testing.T, seed uint64) (*propRun, Config) {
	r := rand.New(rand.NewPCG(seed, 99))
	cfg := randomConfig(r)
	p := &propRun{t: t, r: r, excluded: map[string]map[string]bool{}, accepted: map[string]int{}}
	e, err := New(cfg, Options{Now: t0, Check: true, OnEvent: p.onEvent})
	if err != nil {
		t.Fatalf("seed %d: New: %v", seed, err)
	}
	p.e = e
	var queues []string
	for _, q := range cfg.Queues {
		queues = append(queues, q.ID)
	}
	chans := []string{"voice", "webchat", "email"}
	ni := 20 + r.IntN(120)
	for i := 0; i < ni; i++ {
		w := WorkItem{ID: fmt.Sprintf("i%03d", i), Queue: queues[r.IntN(len(queues))], Channel: chans[r.IntN(3)],
			Priority: r.IntN(4)}
		if r.IntN(3) == 0 {
			w.Steps = []Step{{Skills: map[string]float64{"a": float64(r.IntN(6))}, ExpiresAfter: ms(float64(r.IntN(40)))}}
			if r.IntN(2) == 0 {
				w.Steps = append(w.Steps, Step{Skills: map[string]float64{"b": 1}, Expr: `level >= 1`, ExpiresAfter: ms(float64(r.IntN(40)))})
			}
		} else if r.IntN(5) == 0 {
			w.Steps = []Step{{Skills: map[string]float64{"c": 0}}}
			w.AdditionalSkills = []AdditionalSkill{{Skill: "a", Min: 2, DropPriority: 1}, {Skill: "b", DropPriority: 2}}
			w.DropAfter = ms(float64(5 + r.IntN(20)))
		}
		if r.IntN(4) == 0 {
			w.PreferredAgents = []string{cfg.Agents[r.IntN(len(cfg.Agents))].ID}
			w.PreferredWindow = ms(float64(1 + r.IntN(20)))
		}
		if r.IntN(6) == 0 {
			w.ExcludedAgents = []string{cfg.Agents[r.IntN(len(cfg.Agents))].ID}
		}
		if r.IntN(4) == 0 {
			w.Due = t0 + ms(float64(r.IntN(900)))
		}
		if r.IntN(8) == 0 {
			w.TTL = ms(float64(30 + r.IntN(300)))
		}
		if r.IntN(8) == 0 {
			w.CapacityCost = 1 + r.IntN(60)
		}
		patience := ms(r.ExpFloat64() * 200)
		at := t0 + ms(r.Float64()*600)
		e.At(at, func() {
			p.excluded[w.ID] = map[string]bool{}
			for _, x := range w.ExcludedAgents {
				p.excluded[w.ID][x] = true
			}
			if err := e.Submit(w); err != nil {
				p.failf("submit %s: %v", w.ID, err)
			}
			e.At(e.now+patience, func() { _ = e.Cancel(w.ID, "abandoned") })
		})
	}
	statuses := []string{PresenceAvailable, PresenceAvailable, PresenceBreak, "chat_only", PresenceOffline}
	for i := 0; i < 30; i++ {
		a := cfg.Agents[r.IntN(len(cfg.Agents))].ID
		s := statuses[r.IntN(len(statuses))]
		e.At(t0+ms(r.Float64()*700), func() { _ = e.SetPresence(a, s) })
	}
	for !e.Idle() && !e.Stalled() && e.now < t0+ms(86400) {
		nt, ok := e.NextTimer()
		if !ok {
			break
		}
		e.AdvanceTo(nt)
		p.check()
	}
	return p, cfg
}

// TestProperties runs random scenarios (seeded) and asserts after every
// step: never over capacity, never offered to an excluded agent, never
// assigned twice, no item waits while an eligible agent has room (beyond
// its delays), and — through Options.Check — that every fast-path decision
// equals a brute-force scan over all agents and items.
func TestProperties(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 40
	}
	offers := 0
	kinds := map[string]int{}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		var p *propRun
		func() {
			defer func() {
				if x := recover(); x != nil {
					t.Fatalf("seed %d: %v", seed, x)
				}
			}()
			p, _ = runProperty(t, seed)
		}()
		for _, f := range p.failures {
			t.Errorf("seed %d: %s", seed, f)
		}
		for _, ev := range p.log {
			if ev.Type == EvOffered {
				offers++
			}
			kinds[ev.Type+" "+ev.Reason]++
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("events over %d random scenarios: %v", n, kinds)
	if offers < n*10 {
		t.Errorf("random scenarios made only %d offers: the generator is too weak", offers)
	}
}

// TestDeterminism: the same inputs give the same event log.
func TestDeterminism(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		a, _ := runProperty(t, seed)
		b, _ := runProperty(t, seed)
		if !reflect.DeepEqual(a.log, b.log) {
			t.Fatalf("seed %d: two runs differ", seed)
		}
	}
}

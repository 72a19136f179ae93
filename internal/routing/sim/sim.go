package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/kanal-dev/kanal/internal/routing"
)

// Options tune a run.
type Options struct {
	// Explain keeps every decision with its full explanation.
	Explain bool
	// Trace keeps the engine's event log.
	Trace bool
	// Check cross-checks every decision by brute force (slow; tests).
	Check bool
}

// Result is the outcome of a run. Times are seconds after the start.
type Result struct {
	Start        string              `json:"start"`
	EndS         float64             `json:"end_s"`
	Decisions    int64               `json:"decisions"`
	Items        []ItemResult        `json:"items"`
	Queues       []QueueResult       `json:"queues"`
	Agents       []AgentResult       `json:"agents"`
	Recorded     []QueueResult       `json:"recorded,omitempty"`
	Replay       *ReplayInfo         `json:"replay,omitempty"`
	Explanations []*routing.Decision `json:"explanations,omitempty"`
	Events       []TraceEvent        `json:"events,omitempty"`
}

// ItemResult is what happened to one work item.
type ItemResult struct {
	ID          string   `json:"id"`
	Queue       string   `json:"queue"`
	Channel     string   `json:"channel"`
	ArrivedAtS  float64  `json:"arrived_at_s"`
	Agent       *string  `json:"agent"`
	OfferedAtS  *float64 `json:"offered_at_s"`
	AssignedAtS *float64 `json:"assigned_at_s"`
	WaitS       *float64 `json:"wait_s"`
	Abandoned   bool     `json:"abandoned"`
	// Outcome: answered, abandoned, canceled (ttl, queue_full) or waiting
	// (still unassigned when the run ended).
	Outcome string  `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	HoldS   float64 `json:"hold_s,omitempty"`
	// AnsweredIn is the queue the item was answered in when that is not
	// its entry queue (workflow targets).
	AnsweredIn string `json:"answered_in,omitempty"`
	Offers     int    `json:"offers"`
}

// QueueResult holds a queue's KPIs.
type QueueResult struct {
	ID     string                `json:"id"`
	Target *routing.ServiceLevel `json:"target,omitempty"`
	KPIs   KPIs                  `json:"kpis"`
}

// AgentResult is an agent's work over the run.
type AgentResult struct {
	ID        string   `json:"id"`
	Assigned  int      `json:"assigned"`
	BusyS     float64  `json:"busy_s"`
	LoggedInS float64  `json:"logged_in_s"`
	Occupancy *float64 `json:"occupancy"`
}

// TraceEvent is an engine event with its time in seconds after the start.
type TraceEvent struct {
	AtS float64 `json:"at_s"`
	routing.Event
}

// Run runs a scenario.
func Run(sc *Scenario, opt Options) (*Result, error) {
	c, err := sc.compile()
	if err != nil {
		return nil, err
	}
	return run(c, opt)
}

type runner struct {
	c        *compiled
	eng      *routing.Engine
	byID     map[string]*item
	autoOf   map[string]bool
	assigned map[string]int
	trace    []TraceEvent
	opt      Options
	err      error
}

func run(c *compiled, opt Options) (*Result, error) {
	r := &runner{c: c, byID: make(map[string]*item, len(c.items)), autoOf: map[string]bool{}, assigned: map[string]int{}, opt: opt}
	var expl []*routing.Decision
	ro := routing.Options{Now: c.start, Explain: opt.Explain, Check: opt.Check, OnEvent: r.onEvent, SizeHint: len(c.items)}
	if opt.Explain {
		ro.OnDecision = func(d *routing.Decision) { expl = append(expl, d) }
	}
	eng, err := routing.New(c.cfg, ro)
	if err != nil {
		return nil, err
	}
	r.eng = eng
	for i := range c.items {
		r.byID[c.items[i].w.ID] = &c.items[i]
	}
	var arrive func(i int)
	arrive = func(i int) {
		it := &c.items[i]
		if err := eng.Submit(it.w); err != nil && r.err == nil {
			r.err = fmt.Errorf("arrival %s: %w", it.w.ID, err)
		}
		if i+1 < len(c.items) {
			eng.At(c.items[i+1].at, func() { arrive(i + 1) })
		}
	}
	last := c.start
	if len(c.items) > 0 {
		eng.At(c.items[0].at, func() { arrive(0) })
		last = c.items[len(c.items)-1].at
	}
	for _, ev := range c.events {
		ev := ev
		eng.At(c.start+ms(ev.AtS), func() { ignore(eng.SetPresence(ev.Agent, ev.Presence)) })
		last = max(last, c.start+ms(ev.AtS))
	}
	horizon := last + ms(86400)
	if c.horizon > 0 {
		horizon = c.start + c.horizon
	}
	for !eng.Idle() && !eng.Stalled() && r.err == nil {
		nt, ok := eng.NextTimer()
		if !ok || nt > horizon {
			break
		}
		eng.AdvanceTo(nt)
	}
	if r.err != nil {
		return nil, r.err
	}
	res := r.result()
	res.Explanations = expl
	return res, nil
}

func ignore(err error) {
	// answers to offers that were meanwhile rescinded, cancels of items
	// already assigned: expected in a simulation
	if err != nil && !errors.Is(err, routing.ErrNoOffer) && !errors.Is(err, routing.ErrState) {
		panic(err)
	}
}

func (r *runner) auto(ch string) bool {
	v, ok := r.autoOf[ch]
	if !ok {
		cc, _ := r.eng.Channel(ch)
		v = cc.AutoAccept != nil && *cc.AutoAccept
		r.autoOf[ch] = v
	}
	return v
}

func (r *runner) onEvent(ev routing.Event) {
	eng := r.eng
	if r.opt.Trace {
		r.trace = append(r.trace, TraceEvent{AtS: r.secs(ev.At), Event: ev})
	}
	switch ev.Type {
	case routing.EvOffered:
		it := r.byID[ev.Item]
		if r.auto(it.w.Channel) {
			return
		}
		a := r.c.agents[ev.Agent]
		resp := a.Respond
		if v, ok := it.resp[ev.Agent]; ok {
			resp = v
		}
		at := ev.At + ms(a.AcceptAfterS)
		item, agent := ev.Item, ev.Agent
		switch resp {
		case "", "accept":
			eng.At(at, func() { ignore(eng.Accept(item, agent)) })
		case "reject":
			eng.At(at, func() { ignore(eng.Reject(item, agent)) })
		}
	case routing.EvAccepted:
		r.assigned[ev.Agent]++
		it := r.byID[ev.Item]
		id := ev.Item
		eng.At(ev.At+it.handle, func() { ignore(eng.Complete(id)) })
		if it.hold >= 0 {
			eng.At(ev.At+it.hold, func() { ignore(eng.Hold(id, true)) })
		}
		if it.inactive >= 0 {
			eng.At(ev.At+it.inactive, func() { ignore(eng.Inactive(id)) })
		}
	}
}

func (r *runner) secs(t int64) float64 { return float64(t-r.c.start) / 1000 }

func (r *runner) result() *Result {
	eng := r.eng
	res := &Result{Start: time.UnixMilli(r.c.start).UTC().Format(time.RFC3339), EndS: r.secs(eng.Now()),
		Decisions: eng.Decisions(), Events: r.trace}
	res.Items = make([]ItemResult, 0, len(r.c.items))
	for i := range r.c.items {
		it := &r.c.items[i]
		st, _ := eng.Outcome(it.w.ID)
		ir := ItemResult{ID: it.w.ID, Queue: it.entry, Channel: it.w.Channel, ArrivedAtS: r.secs(it.at), Offers: st.Offers}
		if st.FirstOfferAt >= 0 {
			ir.OfferedAtS = ptr(r.secs(st.FirstOfferAt))
		}
		switch {
		case st.AssignedAt >= 0:
			ir.Outcome = "answered"
			ir.Agent = ptr(st.Agent)
			ir.AssignedAtS = ptr(r.secs(st.AssignedAt))
			ir.WaitS = ptr(float64(st.AssignedAt-it.at) / 1000)
			if st.Queue != it.entry {
				ir.AnsweredIn = st.Queue
			}
		case st.State == "canceled" && st.Reason == "abandoned":
			ir.Outcome, ir.Abandoned = "abandoned", true
			ir.WaitS = ptr(float64(st.EndedAt-it.at) / 1000)
		case st.State == "canceled":
			ir.Outcome, ir.Reason = "canceled", st.Reason
			ir.WaitS = ptr(float64(st.EndedAt-it.at) / 1000)
		default:
			ir.Outcome = "waiting"
			ir.WaitS = ptr(float64(eng.Now()-it.at) / 1000)
		}
		ir.HoldS = float64(st.HoldMs) / 1000
		res.Items = append(res.Items, ir)
	}
	res.Queues = queueKPIs(r.c.cfg.Queues, res.Items, func(q string) (busy, logged int64) {
		for _, id := range eng.QueueMembers(q) {
			a, _ := eng.Agent(id)
			busy += a.BusyMs
			logged += a.LoggedInMs
		}
		return
	})
	for _, id := range eng.AgentIDs() {
		a, _ := eng.Agent(id)
		ar := AgentResult{ID: id, Assigned: r.assigned[id], BusyS: float64(a.BusyMs) / 1000, LoggedInS: float64(a.LoggedInMs) / 1000}
		if a.LoggedInMs > 0 {
			ar.Occupancy = ptr(float64(a.BusyMs) / float64(a.LoggedInMs))
		}
		res.Agents = append(res.Agents, ar)
	}
	return res
}

func ptr[T any](v T) *T { return &v }

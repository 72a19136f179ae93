// Package sim runs routing scenarios through the routing engine on a
// virtual clock (what-if simulation) and computes the queues' KPIs. A
// scenario is a routing policy (channels, queues, agents) plus traffic:
// scripted arrivals and/or generated Poisson arrivals.
package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/kanal-dev/kanal/internal/routing"
)

// Policy is the routing setup of a scenario: everything but traffic. A
// replay runs recorded traffic through a Policy.
type Policy struct {
	ItemOrder          string                            `json:"item_order,omitempty"`
	NotRespondingAfter int                               `json:"not_responding_after,omitempty"`
	Channels           map[string]routing.ChannelConfig  `json:"channels,omitempty"`
	Presences          map[string]routing.PresenceConfig `json:"presences,omitempty"`
	Queues             []routing.QueueConfig             `json:"queues"`
	RoutingProfiles    map[string][]routing.AgentQueue   `json:"routing_profiles,omitempty"`
	Agents             []Agent                           `json:"agents"`
	// HorizonS stops the run this long after start (default: one day after
	// the last arrival).
	HorizonS *float64 `json:"horizon_s,omitempty"`

	// Classify maps recorded conversations to queues for replay: the first
	// rule that matches wins, else DefaultQueue (none: not routed).
	Classify     []Rule `json:"classify,omitempty"`
	DefaultQueue string `json:"default_queue,omitempty"`
	// DefaultHandleS is the handle time of a replayed conversation with no
	// recorded assignment and resolution (default 300).
	DefaultHandleS float64 `json:"default_handle_s,omitempty"`
	// ChannelMap maps recorded channels the engine does not know to
	// routing channel types (replay).
	ChannelMap map[string]string `json:"channel_map,omitempty"`
}

// Agent is an agent and, for simulation, how it answers offers.
type Agent struct {
	routing.AgentConfig
	// AcceptAfterS is how long the agent takes to answer an offer.
	AcceptAfterS float64 `json:"accept_after_s,omitempty"`
	// Respond is accept (default), reject or ignore (let it time out).
	Respond string `json:"respond,omitempty"`
}

// Scenario is a policy and its traffic.
type Scenario struct {
	// Start is the simulated start time (RFC 3339).
	Start string `json:"start"`
	Policy
	Arrivals []Arrival `json:"arrivals,omitempty"`
	Generate Generates `json:"generate,omitempty"`
	Events   []Event   `json:"events,omitempty"`
}

// Arrival is one scripted work item.
type Arrival struct {
	AtS      float64          `json:"at_s"`
	ID       string           `json:"id"`
	Queue    string           `json:"queue"`
	Channel  string           `json:"channel"`
	Priority int              `json:"priority,omitempty"`
	Skills   routing.SkillReq `json:"skills,omitempty"`
	HandleS  float64          `json:"handle_s"`
	// PatienceS: the customer abandons if not assigned by then.
	PatienceS *float64 `json:"patience_s,omitempty"`

	Steps            []Step            `json:"steps,omitempty"`
	AdditionalSkills []AdditionalSkill `json:"additional_skills,omitempty"`
	DropAfterS       float64           `json:"drop_after_s,omitempty"`
	// DueS is the SLA deadline, seconds after arrival.
	DueS *float64 `json:"due_s,omitempty"`
	// AgeS makes the item look that much older for ordering.
	AgeS             float64  `json:"age_s,omitempty"`
	PreferredAgents  []string `json:"preferred_agents,omitempty"`
	PreferredWindowS *float64 `json:"preferred_window_s,omitempty"`
	ExcludedAgents   []string `json:"excluded_agents,omitempty"`
	TTLS             *float64 `json:"ttl_s,omitempty"`
	CapacityCost     int      `json:"capacity_cost,omitempty"`
	WrapUpS          *float64 `json:"wrap_up_s,omitempty"`
	// Responses overrides, per agent, how an offer of this item is answered.
	Responses map[string]string `json:"responses,omitempty"`
	// HoldAfterS puts the item on hold that long after assignment.
	HoldAfterS *float64 `json:"hold_after_s,omitempty"`
	// InactiveAfterS: the customer goes quiet that long after assignment;
	// the channel's inactivity_release_s then frees the agent.
	InactiveAfterS *float64 `json:"inactive_after_s,omitempty"`
}

// Step is a requirement step.
type Step struct {
	Skills        routing.SkillReq `json:"skills,omitempty"`
	Expr          string           `json:"expr,omitempty"`
	ExpiresAfterS float64          `json:"expires_after_s,omitempty"`
}

// AdditionalSkill is a skill dropped over time (Salesforce).
type AdditionalSkill struct {
	Skill        string  `json:"skill"`
	Min          float64 `json:"min,omitempty"`
	DropPriority int     `json:"drop_priority,omitempty"`
}

// Generate describes Poisson arrivals with exponential handle and patience
// times.
type Generate struct {
	Queue         string           `json:"queue"`
	Channel       string           `json:"channel"`
	RatePerHour   float64          `json:"rate_per_hour"`
	HandleMeanS   float64          `json:"handle_mean_s"`
	PatienceMeanS *float64         `json:"patience_mean_s,omitempty"`
	DurationS     float64          `json:"duration_s"`
	Seed          uint64           `json:"seed,omitempty"`
	StartS        float64          `json:"start_s,omitempty"`
	Priority      int              `json:"priority,omitempty"`
	Skills        routing.SkillReq `json:"skills,omitempty"`
}

// Generates is one generator or a list; in JSON either form.
type Generates []Generate

// UnmarshalJSON accepts an object or a list of objects.
func (g *Generates) UnmarshalJSON(b []byte) error {
	var one Generate
	if err := json.Unmarshal(b, &one); err == nil && len(b) > 0 && b[0] == '{' {
		*g = Generates{one}
		return nil
	}
	var l []Generate
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*g = l
	return nil
}

// StrictForm tells the strict decoder which shape a JSON value must have.
func (Generates) StrictForm(v any) any {
	if _, ok := v.(map[string]any); ok {
		return Generate{}
	}
	return []Generate{}
}

// Event is a scripted presence change.
type Event struct {
	AtS      float64 `json:"at_s"`
	Agent    string  `json:"agent"`
	Presence string  `json:"presence"`
}

// Load parses and validates a scenario.
func Load(data []byte) (*Scenario, error) {
	var sc Scenario
	if err := DecodeStrict(data, &sc); err != nil {
		return nil, err
	}
	if _, err := sc.compile(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// LoadPolicy parses and validates a policy.
func LoadPolicy(data []byte) (*Policy, error) {
	var p Policy
	if err := DecodeStrict(data, &p); err != nil {
		return nil, err
	}
	sc := Scenario{Start: "2025-01-06T00:00:00Z", Policy: p}
	if _, err := sc.compile(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Config returns the routing configuration of the policy.
func (p *Policy) Config() routing.Config {
	cfg := routing.Config{ItemOrder: p.ItemOrder, NotRespondingAfter: p.NotRespondingAfter, Channels: p.Channels,
		Presences: p.Presences, Queues: p.Queues, RoutingProfiles: p.RoutingProfiles}
	for _, a := range p.Agents {
		cfg.Agents = append(cfg.Agents, a.AgentConfig)
	}
	return cfg
}

// item is an arrival ready to run.
type item struct {
	at       int64 // Unix ms
	w        routing.WorkItem
	handle   int64
	resp     map[string]string
	hold     int64 // -1 never
	inactive int64 // -1 never
	entry    string
}

type compiled struct {
	start   int64
	horizon int64
	cfg     routing.Config
	items   []item
	events  []Event
	agents  map[string]*Agent
}

func (sc *Scenario) compile() (*compiled, error) {
	var ps routing.Problems
	bad := func(path, format string, args ...any) {
		ps = append(ps, routing.Problem{Path: path, Rule: fmt.Sprintf(format, args...)})
	}
	start, err := time.Parse(time.RFC3339, sc.Start)
	if sc.Start == "" {
		bad("start", "is required (RFC 3339, e.g. 2025-06-02T09:00:00Z)")
	} else if err != nil {
		bad("start", "must be an RFC 3339 time, e.g. 2025-06-02T09:00:00Z")
	}
	c := &compiled{start: start.UnixMilli(), cfg: sc.Config(), agents: map[string]*Agent{}}
	eng, err := routing.New(c.cfg, routing.Options{Now: c.start})
	if err != nil {
		if p := routing.AsProblems(err); p != nil {
			ps = append(ps, p...)
		} else {
			return nil, err
		}
	}
	for i := range sc.Agents {
		a := &sc.Agents[i]
		p := fmt.Sprintf("agents[%d]", i)
		c.agents[a.ID] = a
		if a.AcceptAfterS < 0 {
			bad(p+".accept_after_s", "must be ≥ 0")
		}
		switch a.Respond {
		case "", "accept", "reject", "ignore":
		default:
			bad(p+".respond", "must be accept, reject or ignore")
		}
	}
	queues := map[string]bool{}
	for _, q := range sc.Queues {
		queues[q.ID] = true
	}
	for i, r := range sc.Classify {
		p := fmt.Sprintf("classify[%d]", i)
		if r.Queue == "" {
			bad(p+".queue", "is required")
		} else if !queues[r.Queue] {
			bad(p+".queue", "unknown queue %q", r.Queue)
		}
		if _, ok := priorities[r.Priority]; r.Priority != "" && !ok {
			bad(p+".priority", "must be low, normal, high or urgent")
		}
	}
	if sc.DefaultQueue != "" && !queues[sc.DefaultQueue] {
		bad("default_queue", "unknown queue %q", sc.DefaultQueue)
	}
	if sc.DefaultHandleS < 0 {
		bad("default_handle_s", "must be > 0")
	}
	for _, k := range sortedKeys(sc.ChannelMap) {
		if eng != nil {
			if _, ok := eng.Channel(sc.ChannelMap[k]); !ok {
				bad("channel_map."+k, "unknown channel %q", sc.ChannelMap[k])
			}
		}
	}
	if sc.HorizonS != nil {
		if *sc.HorizonS <= 0 {
			bad("horizon_s", "must be > 0")
		}
		c.horizon = ms(*sc.HorizonS)
	}
	seen := map[string]string{}
	for i, a := range sc.Arrivals {
		p := fmt.Sprintf("arrivals[%d]", i)
		if a.AtS < 0 || math.IsNaN(a.AtS) {
			bad(p+".at_s", "must be ≥ 0")
		}
		if a.HandleS <= 0 {
			bad(p+".handle_s", "must be > 0")
		}
		if a.PatienceS != nil && *a.PatienceS <= 0 {
			bad(p+".patience_s", "must be > 0")
		}
		if a.DueS != nil && *a.DueS <= 0 {
			bad(p+".due_s", "must be > 0")
		}
		if a.TTLS != nil && *a.TTLS <= 0 {
			bad(p+".ttl_s", "must be > 0")
		}
		if a.WrapUpS != nil && *a.WrapUpS < 0 {
			bad(p+".wrap_up_s", "must be ≥ 0")
		}
		if a.AgeS < 0 {
			bad(p+".age_s", "must be ≥ 0")
		}
		if a.HoldAfterS != nil && *a.HoldAfterS < 0 {
			bad(p+".hold_after_s", "must be ≥ 0")
		}
		if a.InactiveAfterS != nil && *a.InactiveAfterS < 0 {
			bad(p+".inactive_after_s", "must be ≥ 0")
		}
		if len(a.Skills) > 0 && len(a.Steps) > 0 {
			bad(p+".skills", "use either skills or steps")
		}
		for j, s := range a.Steps {
			if s.ExpiresAfterS < 0 {
				bad(fmt.Sprintf("%s.steps[%d].expires_after_s", p, j), "must be > 0")
			}
		}
		for _, k := range sortedKeys(a.Responses) {
			if _, ok := c.agents[k]; !ok {
				bad(p+".responses."+k, "unknown agent %q", k)
			}
			switch a.Responses[k] {
			case "accept", "reject", "ignore":
			default:
				bad(p+".responses."+k, "must be accept, reject or ignore")
			}
		}
		if prev, dup := seen[a.ID]; dup && a.ID != "" {
			bad(p+".id", "duplicate id %q (also %s)", a.ID, prev)
		}
		seen[a.ID] = p
		it := sc.arrival(c.start, a)
		if eng != nil {
			if err := eng.ValidateItem(it.w, p); err != nil {
				ps = append(ps, routing.AsProblems(err)...)
			}
		} else {
			sc.checkNames(p, a.Queue, a.Channel, bad)
		}
		c.items = append(c.items, it)
	}
	for i, g := range sc.Generate {
		p := "generate"
		if len(sc.Generate) > 1 {
			p = fmt.Sprintf("generate[%d]", i)
		}
		n0 := len(ps)
		if g.RatePerHour <= 0 {
			bad(p+".rate_per_hour", "must be > 0")
		}
		if g.HandleMeanS <= 0 {
			bad(p+".handle_mean_s", "must be > 0")
		}
		if g.PatienceMeanS != nil && *g.PatienceMeanS <= 0 {
			bad(p+".patience_mean_s", "must be > 0")
		}
		if g.DurationS <= 0 {
			bad(p+".duration_s", "must be > 0")
		}
		if g.StartS < 0 {
			bad(p+".start_s", "must be ≥ 0")
		}
		if g.RatePerHour > 0 && g.DurationS > 0 && g.RatePerHour*g.DurationS/3600 > 5e6 {
			bad(p, "would generate more than 5,000,000 arrivals")
		}
		if eng != nil {
			w := routing.WorkItem{ID: "x", Queue: g.Queue, Channel: g.Channel, Steps: skillStep(g.Skills)}
			if err := eng.ValidateItem(w, p); err != nil {
				ps = append(ps, routing.AsProblems(err)...)
			}
		} else {
			sc.checkNames(p, g.Queue, g.Channel, bad)
		}
		if len(ps) > n0 {
			continue
		}
		c.items = append(c.items, generate(c.start, i, g, len(sc.Generate) > 1)...)
	}
	for i, ev := range sc.Events {
		p := fmt.Sprintf("events[%d]", i)
		if ev.AtS < 0 {
			bad(p+".at_s", "must be ≥ 0")
		}
		if _, ok := c.agents[ev.Agent]; !ok {
			bad(p+".agent", "unknown agent %q", ev.Agent)
		}
		if ev.Presence == "" {
			bad(p+".presence", "is required")
		} else if _, ok := sc.Presences[ev.Presence]; !ok && !builtinPresence(ev.Presence) {
			bad(p+".presence", "unknown status %q", ev.Presence)
		}
	}
	c.events = sc.Events
	for _, it := range c.items[len(sc.Arrivals):] {
		if prev, dup := seen[it.w.ID]; dup {
			bad("generate", "generated id %q is also the id of %s", it.w.ID, prev)
			break
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	sort.SliceStable(c.items, func(i, j int) bool { return c.items[i].at < c.items[j].at })
	return c, nil
}

// checkNames checks an arrival's queue and channel when the policy itself
// is invalid (and no engine could be built to check the whole item).
func (sc *Scenario) checkNames(p, queue, channel string, bad func(string, string, ...any)) {
	found := false
	for _, q := range sc.Queues {
		found = found || q.ID == queue
	}
	if !found {
		bad(p+".queue", "unknown queue %q", queue)
	}
	if _, ok := sc.Channels[channel]; !ok && !contains(routing.ChannelNames(), channel) {
		bad(p+".channel", "unknown channel %q", channel)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func builtinPresence(s string) bool {
	switch s {
	case routing.PresenceAvailable, routing.PresenceBusy, routing.PresenceBreak, routing.PresenceOffline, routing.PresenceNotResponding:
		return true
	}
	return false
}

func ms(s float64) int64 { return int64(math.Round(s * 1000)) }

func msp(s *float64) int64 {
	if s == nil {
		return -1
	}
	return ms(*s)
}

func skillStep(s routing.SkillReq) []routing.Step {
	if len(s) == 0 {
		return nil
	}
	return []routing.Step{{Skills: s}}
}

func (sc *Scenario) arrival(start int64, a Arrival) item {
	at := start + ms(a.AtS)
	w := routing.WorkItem{ID: a.ID, Queue: a.Queue, Channel: a.Channel, Priority: a.Priority, Steps: skillStep(a.Skills),
		DropAfter: ms(a.DropAfterS), PreferredAgents: a.PreferredAgents, ExcludedAgents: a.ExcludedAgents,
		CapacityCost: a.CapacityCost}
	for _, s := range a.Steps {
		w.Steps = append(w.Steps, routing.Step{Skills: s.Skills, Expr: s.Expr, ExpiresAfter: ms(s.ExpiresAfterS)})
	}
	for _, s := range a.AdditionalSkills {
		w.AdditionalSkills = append(w.AdditionalSkills, routing.AdditionalSkill{Skill: s.Skill, Min: s.Min, DropPriority: s.DropPriority})
	}
	if a.DueS != nil {
		w.Due = at + ms(*a.DueS)
	}
	if a.AgeS > 0 {
		w.Start = at - ms(a.AgeS)
	}
	if a.PreferredWindowS != nil {
		w.PreferredWindow = ms(*a.PreferredWindowS)
	}
	if a.TTLS != nil {
		w.TTL = ms(*a.TTLS)
	}
	if a.WrapUpS != nil {
		v := ms(*a.WrapUpS)
		w.WrapUp = &v
	}
	it := item{at: at, w: w, handle: ms(a.HandleS), resp: a.Responses, hold: msp(a.HoldAfterS),
		inactive: msp(a.InactiveAfterS), entry: a.Queue}
	if a.PatienceS != nil {
		it.w.Patience = ms(*a.PatienceS)
	}
	return it
}

// generate draws Poisson arrivals (exponential inter-arrival times) with
// exponential handle and patience times from the generator's seed.
func generate(start int64, gi int, g Generate, many bool) []item {
	r := rand.New(rand.NewPCG(g.Seed, uint64(gi)+0x9e3779b97f4a7c15))
	mean := 3600 / g.RatePerHour
	var out []item
	prefix := g.Queue
	if many {
		prefix = fmt.Sprintf("%s#%d", g.Queue, gi)
	}
	t := g.StartS
	for n := 1; ; n++ {
		t += r.ExpFloat64() * mean
		if t >= g.StartS+g.DurationS {
			break
		}
		handle := r.ExpFloat64() * g.HandleMeanS
		it := item{at: start + ms(t), handle: max(ms(handle), 1), hold: -1, inactive: -1, entry: g.Queue,
			w: routing.WorkItem{ID: fmt.Sprintf("%s-%d", prefix, n), Queue: g.Queue, Channel: g.Channel,
				Priority: g.Priority, Steps: skillStep(g.Skills)}}
		if g.PatienceMeanS != nil {
			it.w.Patience = max(ms(r.ExpFloat64()**g.PatienceMeanS), 1)
		}
		out = append(out, it)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package routing

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Channel types and their defaults (product choice; every default can be
// overridden per tenant in Config.Channels).
var defaultChannels = map[string]ChannelConfig{
	"voice":         chDefault(100, false, 20, false, 0),
	"callback":      chDefault(100, false, 30, false, 0),
	"in_store":      chDefault(100, false, 60, false, 0),
	"webchat":       chDefault(25, false, 30, false, 600),
	"sms":           chDefault(20, false, 60, false, 600),
	"whatsapp":      chDefault(20, false, 60, false, 600),
	"social_dm":     chDefault(20, false, 60, false, 600),
	"social_public": chDefault(10, true, 120, false, 0),
	"email":         chDefault(20, true, 120, false, 0),
	"task":          chDefault(10, true, 120, false, 0),
}

// ChannelNames lists the built-in channel types.
func ChannelNames() []string {
	out := make([]string, 0, len(defaultChannels))
	for k := range defaultChannels {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func chDefault(cost int, interruptible bool, offerTimeout float64, autoAccept bool, inactivity float64) ChannelConfig {
	return ChannelConfig{CapacityCost: &cost, Interruptible: &interruptible, OfferTimeoutS: &offerTimeout,
		AutoAccept: &autoAccept, InactivityReleaseS: &inactivity}
}

// ChannelConfig holds a channel type's routing defaults.
type ChannelConfig struct {
	// CapacityCost is the units one item of this channel takes from an
	// agent's total_units.
	CapacityCost *int `json:"capacity_cost,omitempty"`
	// Interruptible work (e-mail, tasks) is not counted against the units
	// of non-interruptible work (calls, chats).
	Interruptible *bool `json:"interruptible,omitempty"`
	// OfferTimeoutS is how long an offer waits for an answer.
	OfferTimeoutS *float64 `json:"offer_timeout_s,omitempty"`
	// AutoAccept accepts offers of this channel at once.
	AutoAccept *bool `json:"auto_accept,omitempty"`
	// InactivityReleaseS frees an agent's capacity once an assigned item has
	// been inactive this long (messaging); 0 never.
	InactivityReleaseS *float64 `json:"inactivity_release_s,omitempty"`
	// WrapUpS is how long capacity stays held after handling ends.
	WrapUpS *float64 `json:"wrap_up_s,omitempty"`
}

// PresenceConfig is an agent status.
type PresenceConfig struct {
	Routable bool `json:"routable"`
	// Channels, when set, limits a routable status to these channels.
	Channels []string `json:"channels,omitempty"`
}

// Built-in presence statuses. Offline is logged out; not_responding is set
// by the engine after consecutive offer timeouts.
const (
	PresenceAvailable     = "available"
	PresenceBusy          = "busy"
	PresenceBreak         = "break"
	PresenceOffline       = "offline"
	PresenceNotResponding = "not_responding"
)

var defaultPresences = map[string]PresenceConfig{
	PresenceAvailable: {Routable: true}, PresenceBusy: {}, PresenceBreak: {}, PresenceOffline: {},
	PresenceNotResponding: {},
}

// Selection strategies (ROUTING.md §2.5).
const (
	LongestIdle        = "longest_idle"
	LeastActive        = "least_active"
	MostAvailableUnits = "most_available_units"
	MostAvailablePct   = "most_available_pct"
	RoundRobin         = "round_robin"
	BestSkill          = "best_skill"
	PreferredFirst     = "preferred_first"
	OrderBy            = "order_by"
)

var strategies = []string{LongestIdle, LeastActive, MostAvailableUnits, MostAvailablePct, RoundRobin, BestSkill, PreferredFirst, OrderBy}

// Config is a tenant's routing setup: channels, statuses, queues, routing
// profiles and agents. It is also the "policy" a what-if run swaps.
type Config struct {
	Channels        map[string]ChannelConfig  `json:"channels,omitempty"`
	Presences       map[string]PresenceConfig `json:"presences,omitempty"`
	Queues          []QueueConfig             `json:"queues"`
	RoutingProfiles map[string][]AgentQueue   `json:"routing_profiles,omitempty"`
	Agents          []AgentConfig             `json:"agents"`
	// ItemOrder ranks waiting items: strict (priority, then SLA due, then
	// age; default) or score (age − priority × 60 s, Genesys).
	ItemOrder string `json:"item_order,omitempty"`
	// NotRespondingAfter consecutive offer timeouts set an agent to
	// not_responding (default 2; 0 keeps the default; -1 never).
	NotRespondingAfter int `json:"not_responding_after,omitempty"`
}

// QueueConfig is a queue.
type QueueConfig struct {
	ID string `json:"id"`
	// Strategy picks among eligible agents (default longest_idle).
	Strategy string `json:"strategy,omitempty"`
	// Fallback is the strategy of preferred_first once the preferred window
	// has passed (default longest_idle).
	Fallback string `json:"fallback,omitempty"`
	// OrderBy is the key list of the order_by strategy.
	OrderBy []OrderKey `json:"order_by,omitempty"`
	// TopK caps best_skill to the K longest-idle eligible agents (Genesys
	// uses 100); 0 considers all.
	TopK         int           `json:"top_k,omitempty"`
	ServiceLevel *ServiceLevel `json:"service_level,omitempty"`
	// Members by id, and/or by an expression over agent attributes; agents
	// also join through their own queues list (with tier and delay).
	Members    []string `json:"members,omitempty"`
	MemberExpr string   `json:"member_expr,omitempty"`
	// Targets turn the queue into a workflow: an item entering it waits in
	// targets[0].queue, then after its (cumulative) timeout in targets[1]…
	Targets []Target `json:"targets,omitempty"`
	Hours   *Hours   `json:"hours,omitempty"`
	// PreferredWindowS is how long an item with preferred agents waits for
	// them alone (default 60).
	PreferredWindowS *float64 `json:"preferred_window_s,omitempty"`
	// ParallelOffers offers an item to up to N agents at once; the first to
	// accept wins (default 1, at most 50).
	ParallelOffers int `json:"parallel_offers,omitempty"`
	// OfferTimeoutS overrides the channel's offer timeout.
	OfferTimeoutS *float64 `json:"offer_timeout_s,omitempty"`
	// MaxWaiting cancels arrivals beyond this many waiting items (0: no cap).
	MaxWaiting int `json:"max_waiting,omitempty"`
}

// OrderKey is one key of the order_by strategy: an attribute path or
// skills.NAME, ascending unless dir is desc. Agents without the value sort
// last.
type OrderKey struct {
	Key string `json:"key"`
	Dir string `json:"dir,omitempty"`
}

// ServiceLevel is a queue's target: percent of contacts answered within
// seconds. Abandons says how contacts abandoned within the threshold count:
// negative (default: as not answered in time), ignore (left out) or positive
// (as answered in time). Abandons before short_abandon_s are left out.
type ServiceLevel struct {
	Percent       float64 `json:"percent"`
	Seconds       float64 `json:"seconds"`
	Abandons      string  `json:"abandons,omitempty"`
	ShortAbandonS float64 `json:"short_abandon_s,omitempty"`
}

// Target is one step of a workflow queue.
type Target struct {
	Queue string `json:"queue"`
	// TimeoutS moves the item to the next target; deadlines are cumulative
	// from the item's arrival (Twilio semantics). Absent on the last target:
	// the item stays.
	TimeoutS *float64 `json:"timeout_s,omitempty"`
	// Priority, when set, replaces the item's priority in this target.
	Priority *int `json:"priority,omitempty"`
	// Skills/Expr, when set, replace the item's requirement steps.
	Skills SkillReq `json:"skills,omitempty"`
	Expr   string   `json:"expr,omitempty"`
}

// AgentConfig is an agent.
type AgentConfig struct {
	ID         string             `json:"id"`
	Skills     map[string]float64 `json:"skills,omitempty"`
	Attributes map[string]any     `json:"attributes,omitempty"`
	// Presence is the initial status (default available).
	Presence string `json:"presence,omitempty"`
	// Channels the agent takes (default all).
	Channels []string `json:"channels,omitempty"`
	Capacity Capacity `json:"capacity,omitzero"`
	// RoutingProfile names an entry of Config.RoutingProfiles; Queues adds
	// to it.
	RoutingProfile string       `json:"routing_profile,omitempty"`
	Queues         []AgentQueue `json:"queues,omitempty"`
}

// Capacity is an agent's capacity profile. In JSON a bare number is
// total_units.
type Capacity struct {
	// TotalUnits is the agent's capacity in units (default 100).
	TotalUnits int `json:"total_units"`
	// PerChannelMax caps the number of items per channel.
	PerChannelMax map[string]int `json:"per_channel_max,omitempty"`
	// PerChannelCost overrides, for this agent, the units an item of a
	// channel costs (an item's own capacity_cost still wins).
	PerChannelCost map[string]int `json:"per_channel_cost,omitempty"`
	// InterruptedBy lists, per channel, the channels that may be offered on
	// top of it (voice interrupting chats: {"webchat":["voice"]}). The
	// interrupted items stay assigned and count as on hold meanwhile.
	InterruptedBy map[string][]string `json:"interrupted_by,omitempty"`
	// CrossChannel is any (default) or current_only: an agent busy on one
	// channel is offered only that channel (or one that interrupts it).
	CrossChannel string `json:"cross_channel,omitempty"`
}

type capacityObject Capacity

// UnmarshalJSON accepts a number (total units) or an object.
func (c *Capacity) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		v, err := n.Int64()
		if err != nil || v > math.MaxInt32 {
			return fmt.Errorf("capacity: must be a whole number of units")
		}
		*c = Capacity{TotalUnits: int(v)}
		return nil
	}
	return json.Unmarshal(b, (*capacityObject)(c))
}

// StrictForm tells the strict decoder which shape a JSON value must have.
func (Capacity) StrictForm(v any) any {
	if _, ok := v.(map[string]any); ok {
		return capacityObject{}
	}
	return 0
}

// AgentQueue is one entry of a routing profile: a queue, the agent's tier
// for it (1–99, lower first) and the delay before an item becomes visible to
// the agent. In JSON a bare string is a queue with tier 1 and no delay.
type AgentQueue struct {
	Queue  string  `json:"queue"`
	Tier   int     `json:"tier,omitempty"`
	DelayS float64 `json:"delay_s,omitempty"`
}

// agentQueueObject is the object form; "id" is accepted for "queue".
type agentQueueObject struct {
	Queue  string  `json:"queue,omitempty"`
	ID     string  `json:"id,omitempty"`
	Tier   int     `json:"tier,omitempty"`
	DelayS float64 `json:"delay_s,omitempty"`
}

// UnmarshalJSON accepts "queue" or {"queue":…, "tier":…, "delay_s":…}
// ("id" may stand for "queue").
func (q *AgentQueue) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*q = AgentQueue{Queue: s}
		return nil
	}
	var o agentQueueObject
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	if o.Queue != "" && o.ID != "" && o.Queue != o.ID {
		return fmt.Errorf("queue %q and id %q disagree", o.Queue, o.ID)
	}
	if o.Queue == "" {
		o.Queue = o.ID
	}
	*q = AgentQueue{Queue: o.Queue, Tier: o.Tier, DelayS: o.DelayS}
	return nil
}

// StrictForm tells the strict decoder which shape a JSON value must have.
func (AgentQueue) StrictForm(v any) any {
	if _, ok := v.(string); ok {
		return ""
	}
	return agentQueueObject{}
}

// SkillReq maps skills to the minimum proficiency required (0–5). In JSON a
// list of names requires each skill at any proficiency.
type SkillReq map[string]float64

// UnmarshalJSON accepts an object or a list of names.
func (s *SkillReq) UnmarshalJSON(b []byte) error {
	var l []string
	if err := json.Unmarshal(b, &l); err == nil {
		m := SkillReq{}
		for _, k := range l {
			m[k] = 0
		}
		*s = m
		return nil
	}
	var m map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*s = m
	return nil
}

// StrictForm tells the strict decoder which shape a JSON value must have.
func (SkillReq) StrictForm(v any) any {
	if _, ok := v.([]any); ok {
		return []string{}
	}
	return map[string]float64{}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.:@+-]{1,200}$`)

// ---- compiled configuration ----

type channelInfo struct {
	name          string
	cost          int
	interruptible bool
	offerTimeout  int64
	autoAccept    bool
	inactivity    int64
	wrapUp        int64
}

type profileSpec struct {
	queue  string
	tier   int
	delay  int64
	source string // path, for messages
}

// compile validates cfg and builds the engine's static structures.
func (e *Engine) compile(cfg Config) error {
	ps := &problems{}
	// channels
	names := map[string]bool{}
	for k := range defaultChannels {
		names[k] = true
	}
	for k := range cfg.Channels {
		names[k] = true
	}
	chNames := make([]string, 0, len(names))
	for k := range names {
		chNames = append(chNames, k)
	}
	sort.Strings(chNames)
	if len(chNames) > 32 {
		ps.add("channels", "at most 32 channel types")
		chNames = chNames[:32]
	}
	e.chanIdx = map[string]int{}
	for i, n := range chNames {
		p := join("channels", n)
		d, builtin := defaultChannels[n]
		o, has := cfg.Channels[n]
		if has && !namePattern.MatchString(n) {
			ps.add(p, "bad channel name")
		}
		if !builtin && o.CapacityCost == nil {
			ps.add(join(p, "capacity_cost"), "is required for a channel type that is not built in (%s)", strings.Join(ChannelNames(), ", "))
		}
		ci := channelInfo{name: n}
		pick := func(a, b *int) int {
			if a != nil {
				return *a
			}
			if b != nil {
				return *b
			}
			return 0
		}
		pickF := func(a, b *float64) float64 {
			if a != nil {
				return *a
			}
			if b != nil {
				return *b
			}
			return 0
		}
		pickB := func(a, b *bool) bool {
			if a != nil {
				return *a
			}
			return b != nil && *b
		}
		ci.cost = pick(o.CapacityCost, d.CapacityCost)
		if o.CapacityCost != nil && *o.CapacityCost <= 0 {
			ps.add(join(p, "capacity_cost"), "must be > 0")
		}
		ci.interruptible = pickB(o.Interruptible, d.Interruptible)
		ci.autoAccept = pickB(o.AutoAccept, d.AutoAccept)
		ot := pickF(o.OfferTimeoutS, d.OfferTimeoutS)
		if o.OfferTimeoutS != nil && *o.OfferTimeoutS <= 0 {
			ps.add(join(p, "offer_timeout_s"), "must be > 0")
		}
		if ot <= 0 {
			ot = 30
		}
		ci.offerTimeout = secs(ot)
		if o.InactivityReleaseS != nil && *o.InactivityReleaseS < 0 {
			ps.add(join(p, "inactivity_release_s"), "must be ≥ 0")
		}
		ci.inactivity = secs(pickF(o.InactivityReleaseS, d.InactivityReleaseS))
		if o.WrapUpS != nil && *o.WrapUpS < 0 {
			ps.add(join(p, "wrap_up_s"), "must be ≥ 0")
		}
		ci.wrapUp = secs(pickF(o.WrapUpS, d.WrapUpS))
		e.chans = append(e.chans, ci)
		e.chanIdx[n] = i
	}
	e.minOverride = make([]int, len(e.chans))
	for i := range e.minOverride {
		e.minOverride[i] = math.MaxInt
	}

	// presences
	e.presences = map[string]PresenceConfig{}
	for k, v := range defaultPresences {
		e.presences[k] = v
	}
	pkeys := sortedKeys(cfg.Presences)
	for _, k := range pkeys {
		v := cfg.Presences[k]
		p := join("presences", k)
		if !namePattern.MatchString(k) {
			ps.add(p, "bad status name")
		}
		if k == PresenceOffline || k == PresenceNotResponding {
			if v.Routable {
				ps.add(join(p, "routable"), "%s can not be routable", k)
			}
		}
		for i, c := range v.Channels {
			if _, ok := e.chanIdx[c]; !ok {
				ps.add(index(join(p, "channels"), i), "unknown channel %q", c)
			}
		}
		e.presences[k] = v
	}
	e.notRespondingAfter = 2
	switch {
	case cfg.NotRespondingAfter > 0:
		e.notRespondingAfter = cfg.NotRespondingAfter
	case cfg.NotRespondingAfter < 0:
		e.notRespondingAfter = 0
	}

	switch cfg.ItemOrder {
	case "", "strict":
	case "score":
		e.scoreOrder = true
	default:
		ps.add("item_order", "must be strict or score")
	}

	// queues
	e.queueIdx = map[string]int{}
	if len(cfg.Queues) == 0 {
		ps.add("queues", "must list at least one queue")
	}
	for i, qc := range cfg.Queues {
		p := index("queues", i)
		if qc.ID == "" || !namePattern.MatchString(qc.ID) {
			ps.add(join(p, "id"), "must be 1–200 letters, digits or _.:@+-")
		} else if _, dup := e.queueIdx[qc.ID]; dup {
			ps.add(join(p, "id"), "duplicate queue id %q", qc.ID)
		}
		q := &queue{idx: i, id: qc.ID, cfg: qc, classByKey: map[classKey]*class{}, bucketByKey: map[bucketKey]*bucket{},
			eligible: map[*reqset][]*bucket{}, memberSet: map[int32]int{}}
		e.queueIdx[qc.ID] = i
		e.queues = append(e.queues, q)
	}
	for i, qc := range cfg.Queues {
		q := e.queues[i]
		p := index("queues", i)
		q.strategy = qc.Strategy
		if q.strategy == "" {
			q.strategy = LongestIdle
		}
		if !contains(strategies, q.strategy) {
			ps.add(join(p, "strategy"), "must be one of %s", strings.Join(strategies, ", "))
		}
		q.fallback = qc.Fallback
		if q.fallback == "" {
			q.fallback = LongestIdle
		}
		if qc.Fallback != "" && (!contains(strategies, qc.Fallback) || qc.Fallback == PreferredFirst) {
			ps.add(join(p, "fallback"), "must be a strategy other than preferred_first")
		}
		if qc.Fallback != "" && q.strategy != PreferredFirst {
			ps.add(join(p, "fallback"), "is only used with strategy preferred_first")
		}
		q.keyStrategy = q.strategy
		if q.strategy == PreferredFirst {
			q.keyStrategy = q.fallback
		}
		if q.keyStrategy == OrderBy && len(qc.OrderBy) == 0 {
			ps.add(join(p, "order_by"), "must list at least one key for strategy order_by")
		}
		if len(qc.OrderBy) > 0 && q.keyStrategy != OrderBy {
			ps.add(join(p, "order_by"), "is only used with strategy order_by")
		}
		for j, k := range qc.OrderBy {
			kp := index(join(p, "order_by"), j)
			if k.Key == "" {
				ps.add(join(kp, "key"), "is required")
			}
			switch k.Dir {
			case "", "asc", "desc":
			default:
				ps.add(join(kp, "dir"), "must be asc or desc")
			}
			q.orderBy = append(q.orderBy, orderKey{path: strings.Split(k.Key, "."), desc: k.Dir == "desc"})
		}
		if qc.TopK < 0 {
			ps.add(join(p, "top_k"), "must be ≥ 0")
		} else if qc.TopK > 0 && q.keyStrategy != BestSkill {
			ps.add(join(p, "top_k"), "is only used with strategy best_skill")
		}
		q.topK = qc.TopK
		if sl := qc.ServiceLevel; sl != nil {
			slp := join(p, "service_level")
			if sl.Percent <= 0 || sl.Percent > 100 {
				ps.add(join(slp, "percent"), "must be > 0 and ≤ 100")
			}
			if sl.Seconds <= 0 {
				ps.add(join(slp, "seconds"), "must be > 0")
			}
			switch sl.Abandons {
			case "", "negative", "ignore", "positive":
			default:
				ps.add(join(slp, "abandons"), "must be negative, ignore or positive")
			}
			if sl.ShortAbandonS < 0 {
				ps.add(join(slp, "short_abandon_s"), "must be ≥ 0")
			}
		}
		if qc.MemberExpr != "" {
			x, err := CompileExpr(qc.MemberExpr)
			if err != nil {
				ps.add(join(p, "member_expr"), "%v", err)
			}
			q.memberExpr = x
		}
		var cum int64
		for j, t := range qc.Targets {
			tp := index(join(p, "targets"), j)
			ti, ok := e.queueIdx[t.Queue]
			switch {
			case t.Queue == "":
				ps.add(join(tp, "queue"), "is required")
			case !ok:
				ps.add(join(tp, "queue"), "unknown queue %q", t.Queue)
			case len(cfg.Queues[ti].Targets) > 0:
				ps.add(join(tp, "queue"), "must be a queue without targets (%q has targets)", t.Queue)
			}
			tt := target{queue: ti, priority: t.Priority}
			if t.TimeoutS != nil {
				if *t.TimeoutS <= 0 {
					ps.add(join(tp, "timeout_s"), "must be > 0")
				}
				cum += secs(*t.TimeoutS)
				tt.deadline = cum
			} else if j < len(qc.Targets)-1 {
				ps.add(join(tp, "timeout_s"), "is required on every target but the last")
			}
			if len(t.Skills) > 0 || t.Expr != "" {
				st, ok := e.compileStep(Step{Skills: t.Skills, Expr: t.Expr}, tp, ps)
				if ok {
					tt.steps = []step{st}
				}
			}
			q.targets = append(q.targets, tt)
		}
		if len(qc.Targets) > 0 && (len(qc.Members) > 0 || qc.MemberExpr != "") {
			ps.add(join(p, "targets"), "a queue with targets has no members of its own")
		}
		if qc.Hours != nil {
			q.hours = compileHours(qc.Hours, join(p, "hours"), ps)
		}
		q.prefWindow = secs(60)
		if qc.PreferredWindowS != nil {
			if *qc.PreferredWindowS <= 0 {
				ps.add(join(p, "preferred_window_s"), "must be > 0")
			}
			q.prefWindow = secs(*qc.PreferredWindowS)
		}
		q.parallel = qc.ParallelOffers
		if q.parallel == 0 {
			q.parallel = 1
		}
		if qc.ParallelOffers < 0 || qc.ParallelOffers > 50 {
			ps.add(join(p, "parallel_offers"), "must be 1–50")
		}
		if qc.OfferTimeoutS != nil {
			if *qc.OfferTimeoutS <= 0 {
				ps.add(join(p, "offer_timeout_s"), "must be > 0")
			}
			q.offerTimeout = secs(*qc.OfferTimeoutS)
		}
		if qc.MaxWaiting < 0 {
			ps.add(join(p, "max_waiting"), "must be ≥ 0")
		}
	}

	// routing profiles
	rp := map[string][]profileSpec{}
	for _, name := range sortedKeys(cfg.RoutingProfiles) {
		p := join("routing_profiles", name)
		for j, aq := range cfg.RoutingProfiles[name] {
			rp[name] = append(rp[name], e.checkAgentQueue(aq, index(p, j), ps))
		}
	}

	// agents
	e.agentIdx = map[string]int32{}
	for i, ac := range cfg.Agents {
		p := index("agents", i)
		if ac.ID == "" || !namePattern.MatchString(ac.ID) {
			ps.add(join(p, "id"), "must be 1–200 letters, digits or _.:@+-")
		} else if _, dup := e.agentIdx[ac.ID]; dup {
			ps.add(join(p, "id"), "duplicate agent id %q", ac.ID)
		}
		var specs []profileSpec
		if ac.RoutingProfile != "" {
			s, ok := rp[ac.RoutingProfile]
			if !ok {
				ps.add(join(p, "routing_profile"), "unknown routing profile %q", ac.RoutingProfile)
			}
			specs = append(specs, s...)
		}
		for j, aq := range ac.Queues {
			specs = append(specs, e.checkAgentQueue(aq, index(join(p, "queues"), j), ps))
		}
		a := e.newAgent(ac, specs, p, ps)
		e.agentIdx[ac.ID] = a.idx
	}
	// queue members by id
	for i, qc := range cfg.Queues {
		for j, m := range qc.Members {
			if _, ok := e.agentIdx[m]; !ok {
				ps.add(index(join(index("queues", i), "members"), j), "unknown agent %q", m)
			}
		}
	}
	if err := ps.err(); err != nil {
		return err
	}
	for _, a := range e.agents {
		e.joinQueues(a)
	}
	for _, q := range e.queues {
		e.buildLevels(q)
	}
	return nil
}

func (e *Engine) checkAgentQueue(aq AgentQueue, p string, ps *problems) profileSpec {
	qi, ok := e.queueIdx[aq.Queue]
	switch {
	case aq.Queue == "":
		ps.add(join(p, "queue"), "is required")
	case !ok:
		ps.add(join(p, "queue"), "unknown queue %q", aq.Queue)
	case len(e.queues[qi].cfg.Targets) > 0:
		ps.add(join(p, "queue"), "%q has targets: agents join the target queues", aq.Queue)
	}
	tier := aq.Tier
	if tier == 0 {
		tier = 1
	}
	if aq.Tier < 0 || aq.Tier > 99 {
		ps.add(join(p, "tier"), "must be 1–99")
	}
	if aq.DelayS < 0 || aq.DelayS > 9999 {
		ps.add(join(p, "delay_s"), "must be 0–9999")
	}
	return profileSpec{queue: aq.Queue, tier: tier, delay: secs(aq.DelayS), source: p}
}

// secs converts seconds to milliseconds.
func secs(s float64) int64 { return int64(math.Round(s * 1000)) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

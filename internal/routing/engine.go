package routing

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Engine is the routing engine of one tenant: a single-threaded, in-memory
// matcher on a virtual clock. It does no I/O; callers feed it arrivals,
// answers to offers, presence changes and time (AdvanceTo), and hear back
// through Options.OnEvent and Options.OnDecision. The same code runs the
// simulator and, later, the live engine.
//
// Not safe for concurrent use: one goroutine owns an Engine.
type Engine struct {
	now  int64
	opts Options

	chans              []channelInfo
	chanIdx            map[string]int
	minOverride        []int // smallest capacity_cost override seen per channel
	presences          map[string]PresenceConfig
	notRespondingAfter int
	scoreOrder         bool

	queues   []*queue
	queueIdx map[string]int
	agents   []*agent
	agentIdx map[string]int32
	profiles []*profile
	profIdx  map[string]*profile
	reqsets  map[string]*reqset
	anyReq   *reqset

	items       map[string]*item
	itemSlab    []item
	order       []*item // every item in arrival order, kept for Check and Explain
	itemSeq     int64
	live        int // items not completed or canceled
	funcs       int // callbacks scheduled with At and not yet run
	hoursTimers int

	timers timerQueue

	dirtyItems  []*item
	dirtyAgents []*agent
	settling    bool

	decisionSeq int64
	decisions   int64
	scratch     []int32
	cands       []cand
}

// Options tune an Engine.
type Options struct {
	// Now is the engine's start time (Unix ms).
	Now int64
	// Explain makes every decision carry its full explanation: each queue
	// member with the reason it was not a candidate, or its strategy keys.
	// It costs a scan of the queue's members per decision.
	Explain bool
	// Check verifies every fast-path decision against a brute-force scan
	// and panics on a difference (tests).
	Check bool
	// OnDecision hears every decision that made offers (and, with Explain,
	// every decision that found no one).
	OnDecision func(*Decision)
	// OnEvent hears every state change. Handlers must not call the engine;
	// they may schedule calls with At.
	OnEvent func(Event)
	// SizeHint is the number of items expected (a simulation knows it).
	SizeHint int
}

// Event types.
const (
	EvQueued    = "queued"
	EvOffered   = "offered"
	EvAccepted  = "accepted"
	EvRejected  = "rejected"
	EvTimedOut  = "timed_out"
	EvRescinded = "rescinded"
	EvCompleted = "completed" // handling ended; wrap-up begins
	EvReleased  = "released"  // capacity freed (Reason: completed, resolved, transferred, wrap_up_end, inactivity)
	EvCanceled  = "canceled"  // Reason: abandoned, ttl, queue_full, …
	EvStep      = "step"      // requirement relaxed
	EvTarget    = "target"    // moved to the next target queue
	EvPresence  = "presence"  // engine changed an agent's presence (not_responding)
)

// Event is one state change, for the caller's log.
type Event struct {
	At     int64  `json:"at"`
	Type   string `json:"type"`
	Item   string `json:"item,omitempty"`
	Agent  string `json:"agent,omitempty"`
	Queue  string `json:"queue,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// WorkItem is a routing request for one conversation segment.
type WorkItem struct {
	ID      string
	Queue   string
	Channel string
	// Priority: higher first.
	Priority int
	// Steps are requirement steps relaxed in order as each expires; when the
	// last one expires any queue member is eligible. None: any member.
	Steps []Step
	// AdditionalSkills are dropped group by group (highest DropPriority
	// first) every DropAfter ms; Steps then holds at most the required
	// skills. A decline restarts from all skills (Salesforce).
	AdditionalSkills []AdditionalSkill
	DropAfter        int64
	// Due is the SLA deadline (Unix ms, 0 none): earlier first within a
	// priority.
	Due int64
	// Start overrides the item's age for ordering (Unix ms, 0: now).
	Start int64
	// PreferredAgents are tried alone for PreferredWindow ms (0: the
	// queue's preferred_window_s), then everyone.
	PreferredAgents []string
	PreferredWindow int64
	ExcludedAgents  []string
	// TTL cancels the item (reason ttl) if it is not assigned this many ms
	// after arrival (0 never).
	TTL int64
	// Patience is a simulated customer's: the item is canceled as abandoned
	// if not assigned this many ms after arrival (0 never). Live callers
	// call Cancel when the customer leaves.
	Patience int64
	// CapacityCost overrides the units the item costs (0: the agent's
	// per_channel_cost, else the channel's capacity_cost).
	CapacityCost int
	// WrapUp overrides the channel's wrap-up ms.
	WrapUp *int64
}

// Step is one requirement step.
type Step struct {
	// Skills maps skills to the minimum proficiency.
	Skills map[string]float64
	// Expr is an expression over the agent's attributes and skills.
	Expr string
	// ExpiresAfter (ms) moves to the next step; 0 never.
	ExpiresAfter int64
}

// AdditionalSkill is a skill that may be dropped over time.
type AdditionalSkill struct {
	Skill        string
	Min          float64
	DropPriority int
}

// ---- internal model ----

type itemState uint8

const (
	stWaiting itemState = iota
	stOffered
	stAssigned
	stWrapping
	stDone
	stCanceled
)

var stateNames = [...]string{"waiting", "offered", "assigned", "wrapping", "completed", "canceled"}

type skillMin struct {
	skill string
	min   float64
}

type reqset struct {
	id     int
	key    string
	skills []skillMin
	expr   *Expr
}

func (r *reqset) String() string {
	if r.key == "" {
		return "any member"
	}
	return r.key
}

type step struct {
	req     *reqset
	pref    []*agent
	expires int64
}

type profile struct {
	idx    int
	skills map[string]float64
	attrs  map[string]any
	elig   map[*reqset]bool
	mean   map[*reqset]float64
	order  map[*queue][]any
}

func (p *profile) satisfies(r *reqset) bool {
	if v, ok := p.elig[r]; ok {
		return v
	}
	v := true
	for _, s := range r.skills {
		pv, has := p.skills[s.skill]
		if !has || pv < s.min {
			v = false
			break
		}
	}
	if v && r.expr != nil {
		v = r.expr.Eval(Env{Attributes: p.attrs, Skills: p.skills})
	}
	p.elig[r] = v
	return v
}

// meanProf is the mean proficiency on the requested skills (best_skill).
func (p *profile) meanProf(r *reqset) float64 {
	if v, ok := p.mean[r]; ok {
		return v
	}
	var sum float64
	for _, s := range r.skills {
		sum += p.skills[s.skill]
	}
	v := 0.0
	if len(r.skills) > 0 {
		v = sum / float64(len(r.skills))
	}
	p.mean[r] = v
	return v
}

type orderKey struct {
	path []string
	desc bool
}

type target struct {
	queue    int
	deadline int64 // cumulative ms from arrival; 0 none
	priority *int
	steps    []step
}

type bucketKey struct {
	prof  int
	tier  int
	delay int64
}

// bucket groups a queue's members with the same profile, tier and delay;
// per channel, a heap of those with room ordered by the queue's strategy.
type bucket struct {
	q     *queue
	prof  *profile
	tier  int
	delay int64
	level int
	heaps []*iheap[*agent]
}

// class groups a queue's waiting items with the same channel, cost and
// current requirement; per delay level, a heap by the item order.
type classKey struct {
	ch, cost int
	req      *reqset
}

type class struct {
	q      *queue
	ch     int
	cost   int
	req    *reqset
	levels []*iheap[*item]
}

type queue struct {
	idx          int
	id           string
	cfg          QueueConfig
	strategy     string
	fallback     string
	keyStrategy  string
	orderBy      []orderKey
	topK         int
	memberExpr   *Expr
	targets      []target
	hours        *calendar
	open         bool
	prefWindow   int64
	parallel     int
	offerTimeout int64

	classes     []*class
	classByKey  map[classKey]*class
	buckets     []*bucket
	bucketByKey map[bucketKey]*bucket
	eligible    map[*reqset][]*bucket
	levels      []int64
	chanUsed    uint32
	members     []*agent
	memberSet   map[int32]int
	waiting     int
}

type membership struct {
	q     *queue
	b     *bucket
	tier  int
	delay int64
	level int
}

type agent struct {
	idx      int32
	id       string
	prof     *profile
	presence string
	routable bool
	enabled  uint32
	chans    uint32

	total         int
	perMax        []int
	cost          []int // per-channel cost override, 0: none
	interruptedBy []uint32
	currentOnly   bool

	load     int
	units    []int
	count    []int
	heldMask uint32
	held     int
	assigned int
	active   int
	items    []*item

	idleSince      int64
	lastOfferAt    int64
	lastAssignedAt int64
	lastReleasedAt int64
	misses         int

	mems  []membership
	pos   []int32
	nch   int
	pref  *iheap[*item]
	dirty bool

	statAt   int64
	busyMs   int64
	loggedMs int64
}

func (a *agent) setPos(slot, p int32) { a.pos[slot] = p }

type offer struct {
	it      *item
	a       *agent
	state   string
	at      int64
	expires int64
}

type item struct {
	seq   int64
	id    string
	state itemState

	ch            int
	cost          int
	basePrio      int
	prio          int
	due           int64
	start         int64
	arrived       int64
	entry         *queue
	q             *queue
	target        int
	targetExpired bool

	baseSteps      []step
	steps          []step
	stepIdx        int
	stepStart      int64
	resetOnDecline bool

	enqueued int64
	level    int
	cl       *class
	inPref   []*agent
	pos      []int32

	excluded map[int32]string
	offers   []*offer
	agent    *agent
	wrapUp   int64

	manualHold  bool
	interrupted bool
	holdStart   int64
	holdMs      int64

	firstOfferAt int64
	assignedAt   int64
	endedAt      int64
	reason       string

	levelGen, stepGen, targetGen, wrapGen, inactGen uint32
	dirty                                           bool

	posBuf [4]int32
	offBuf [1]*offer
	offer0 offer
}

func (it *item) setPos(slot, p int32) { it.pos[slot] = p }

func (it *item) curStep(e *Engine) *step {
	if it.stepIdx < len(it.steps) {
		return &it.steps[it.stepIdx]
	}
	return &step{req: e.anyReq}
}

// ---- construction ----

// New builds an engine from cfg. A validation error is Problems.
func New(cfg Config, opts Options) (*Engine, error) {
	e := &Engine{now: opts.Now, opts: opts, profIdx: map[string]*profile{}, reqsets: map[string]*reqset{},
		items: make(map[string]*item, opts.SizeHint)}
	e.anyReq = e.intern(nil, nil)
	if err := e.compile(cfg); err != nil {
		return nil, err
	}
	for _, q := range e.queues {
		q.open = q.hours.open(e.now)
		if t, ok := q.hours.nextChange(e.now); ok {
			e.hoursTimers++
			e.timers.push(timer{at: t, kind: tmHours, q: q})
		}
	}
	return e, nil
}

func (e *Engine) newAgent(ac AgentConfig, specs []profileSpec, p string, ps *problems) *agent {
	nch := len(e.chans)
	a := &agent{idx: int32(len(e.agents)), id: ac.ID, nch: nch, total: ac.Capacity.TotalUnits,
		perMax: make([]int, nch), cost: make([]int, nch), interruptedBy: make([]uint32, nch), units: make([]int, nch), count: make([]int, nch),
		idleSince: e.now, statAt: e.now}
	e.agents = append(e.agents, a)
	if a.total == 0 {
		a.total = 100
	}
	if ac.Capacity.TotalUnits < 0 {
		ps.add(join(p, "capacity.total_units"), "must be > 0")
	}
	for _, k := range sortedKeys(ac.Capacity.PerChannelMax) {
		ci, ok := e.chanIdx[k]
		if !ok {
			ps.add(join(join(p, "capacity.per_channel_max"), k), "unknown channel %q", k)
			continue
		}
		v := ac.Capacity.PerChannelMax[k]
		if v <= 0 {
			ps.add(join(join(p, "capacity.per_channel_max"), k), "must be > 0 (take the channel out of channels to disable it)")
		}
		a.perMax[ci] = v
	}
	for _, k := range sortedKeys(ac.Capacity.PerChannelCost) {
		ci, ok := e.chanIdx[k]
		if !ok {
			ps.add(join(join(p, "capacity.per_channel_cost"), k), "unknown channel %q", k)
			continue
		}
		v := ac.Capacity.PerChannelCost[k]
		if v <= 0 {
			ps.add(join(join(p, "capacity.per_channel_cost"), k), "must be > 0")
		}
		a.cost[ci] = v
	}
	for _, k := range sortedKeys(ac.Capacity.InterruptedBy) {
		ci, ok := e.chanIdx[k]
		if !ok {
			ps.add(join(join(p, "capacity.interrupted_by"), k), "unknown channel %q", k)
			continue
		}
		for j, by := range ac.Capacity.InterruptedBy[k] {
			bi, ok := e.chanIdx[by]
			if !ok {
				ps.add(index(join(join(p, "capacity.interrupted_by"), k), j), "unknown channel %q", by)
				continue
			}
			a.interruptedBy[ci] |= 1 << bi
		}
	}
	switch ac.Capacity.CrossChannel {
	case "", "any":
	case "current_only":
		a.currentOnly = true
	default:
		ps.add(join(p, "capacity.cross_channel"), "must be any or current_only")
	}
	if len(ac.Channels) == 0 {
		a.chans = 1<<nch - 1
	}
	for j, c := range ac.Channels {
		ci, ok := e.chanIdx[c]
		if !ok {
			ps.add(index(join(p, "channels"), j), "unknown channel %q", c)
			continue
		}
		a.chans |= 1 << ci
	}
	for _, k := range sortedKeys(ac.Skills) {
		v := ac.Skills[k]
		if v < 0 || v > 5 {
			ps.add(join(join(p, "skills"), k), "proficiency must be 0–5")
		}
		if k == "" {
			ps.add(join(p, "skills"), "skill names must not be empty")
		}
	}
	pres := ac.Presence
	if pres == "" {
		pres = PresenceAvailable
	}
	if _, ok := e.presences[pres]; !ok {
		ps.add(join(p, "presence"), "unknown status %q", pres)
		pres = PresenceOffline
	}
	e.applyPresence(a, pres)
	a.prof = e.profileFor(ac.Skills, ac.Attributes)
	// memberships: routing-profile entries, then members lists and expression
	seen := map[string]int{}
	for _, s := range specs {
		qi, ok := e.queueIdx[s.queue]
		if !ok {
			continue
		}
		if j, dup := seen[s.queue]; dup {
			ps.add(s.source, "queue %q listed twice for this agent (also %s)", s.queue, specs[j].source)
			continue
		}
		seen[s.queue] = len(a.mems)
		a.mems = append(a.mems, membership{q: e.queues[qi], tier: s.tier, delay: s.delay})
	}
	for _, q := range e.queues {
		if _, ok := seen[q.id]; ok {
			continue
		}
		in := contains(q.cfg.Members, a.id)
		if !in && q.memberExpr != nil {
			in = q.memberExpr.Eval(Env{Attributes: ac.Attributes, Skills: ac.Skills})
		}
		if in {
			seen[q.id] = len(a.mems)
			a.mems = append(a.mems, membership{q: q, tier: 1})
		}
	}
	sort.SliceStable(a.mems, func(i, j int) bool {
		if a.mems[i].tier != a.mems[j].tier {
			return a.mems[i].tier < a.mems[j].tier
		}
		return a.mems[i].q.idx < a.mems[j].q.idx
	})
	return a
}

func (e *Engine) profileFor(skills map[string]float64, attrs map[string]any) *profile {
	var sb strings.Builder
	for _, k := range sortedKeys(skills) {
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(strconv.FormatFloat(skills[k], 'g', -1, 64))
		sb.WriteByte(';')
	}
	sb.WriteByte('|')
	b, _ := json.Marshal(attrs)
	sb.Write(b)
	key := sb.String()
	if p, ok := e.profIdx[key]; ok {
		return p
	}
	p := &profile{idx: len(e.profiles), skills: skills, attrs: attrs, elig: map[*reqset]bool{},
		mean: map[*reqset]float64{}, order: map[*queue][]any{}}
	if p.skills == nil {
		p.skills = map[string]float64{}
	}
	e.profiles = append(e.profiles, p)
	e.profIdx[key] = p
	return p
}

// joinQueues places an agent in the buckets of its queues.
func (e *Engine) joinQueues(a *agent) {
	for mi := range a.mems {
		m := &a.mems[mi]
		q := m.q
		k := bucketKey{prof: a.prof.idx, tier: m.tier, delay: m.delay}
		b, ok := q.bucketByKey[k]
		if !ok {
			b = &bucket{q: q, prof: a.prof, tier: m.tier, delay: m.delay, heaps: make([]*iheap[*agent], len(e.chans))}
			q.bucketByKey[k] = b
			q.buckets = append(q.buckets, b)
			clear(q.eligible)
		}
		m.b = b
		q.memberSet[a.idx] = mi
		q.members = append(q.members, a)
	}
	a.pos = make([]int32, len(a.mems)*a.nch)
	for i := range a.pos {
		a.pos[i] = -1
	}
}

func (e *Engine) buildLevels(q *queue) {
	set := map[int64]bool{0: true}
	for _, b := range q.buckets {
		set[b.delay] = true
	}
	for d := range set {
		q.levels = append(q.levels, d)
	}
	sort.Slice(q.levels, func(i, j int) bool { return q.levels[i] < q.levels[j] })
	for _, b := range q.buckets {
		b.level = sort.Search(len(q.levels), func(i int) bool { return q.levels[i] >= b.delay })
	}
	for _, a := range q.members {
		mi := q.memberSet[a.idx]
		m := &a.mems[mi]
		m.level = sort.Search(len(q.levels), func(i int) bool { return q.levels[i] >= m.delay })
	}
}

// intern returns the shared requirement set of skills and expr.
func (e *Engine) intern(skills map[string]float64, expr *Expr) *reqset {
	var parts []string
	var sm []skillMin
	for _, k := range sortedKeys(skills) {
		sm = append(sm, skillMin{skill: k, min: skills[k]})
		parts = append(parts, k+"≥"+strconv.FormatFloat(skills[k], 'g', -1, 64))
	}
	key := strings.Join(parts, ", ")
	if expr != nil {
		if key != "" {
			key += "; "
		}
		key += expr.String()
	}
	if r, ok := e.reqsets[key]; ok {
		return r
	}
	r := &reqset{id: len(e.reqsets), key: key, skills: sm, expr: expr}
	e.reqsets[key] = r
	return r
}

func (e *Engine) compileStep(s Step, p string, ps *problems) (step, bool) {
	ok := true
	for _, k := range sortedKeys(s.Skills) {
		v := s.Skills[k]
		if v < 0 || v > 5 {
			ps.add(join(join(p, "skills"), k), "minimum proficiency must be 0–5")
			ok = false
		}
	}
	var x *Expr
	if s.Expr != "" {
		var err error
		if x, err = CompileExpr(s.Expr); err != nil {
			ps.add(join(p, "expr"), "%v", err)
			ok = false
		}
	}
	if s.ExpiresAfter < 0 {
		ps.add(join(p, "expires_after_s"), "must be > 0")
		ok = false
	}
	return step{req: e.intern(s.Skills, x), expires: s.ExpiresAfter}, ok
}

// ---- public operations ----

// Now returns the engine's clock (Unix ms).
func (e *Engine) Now() int64 { return e.now }

// Decisions returns how many decisions made offers so far.
func (e *Engine) Decisions() int64 { return e.decisions }

// NextTimer returns the time of the engine's next timer.
func (e *Engine) NextTimer() (int64, bool) {
	if len(e.timers.t) == 0 {
		return 0, false
	}
	return e.timers.t[0].at, true
}

// At schedules fn at t on the engine's clock (after the engine's own
// timers already set for t). The simulator drives arrivals and agents'
// answers with it.
func (e *Engine) At(t int64, fn func()) {
	if t < e.now {
		t = e.now
	}
	e.funcs++
	e.timers.push(timer{at: t, kind: tmFunc, fn: fn})
}

// Idle tells whether nothing is left to do: no live item and no callback
// scheduled with At (the engine's own perpetual timers, business hours, do
// not count).
func (e *Engine) Idle() bool { return e.live == 0 && e.funcs == 0 }

// Stalled tells whether only business-hours timers are left and no item
// waits for a closed queue to open: time alone changes nothing any more.
func (e *Engine) Stalled() bool {
	if e.funcs > 0 || len(e.timers.t) > e.hoursTimers {
		return false
	}
	for _, q := range e.queues {
		if q.waiting > 0 && !q.open {
			return false
		}
	}
	return true
}

// Live returns the number of items not yet completed or canceled.
func (e *Engine) Live() int { return e.live }

// Forget drops a completed or canceled item from memory.
func (e *Engine) Forget(itemID string) {
	if it, ok := e.items[itemID]; ok && (it.state == stDone || it.state == stCanceled) {
		delete(e.items, itemID)
	}
}

// AdvanceTo fires every timer due at or before t, in order, and sets the
// clock to t.
func (e *Engine) AdvanceTo(t int64) {
	for len(e.timers.t) > 0 && e.timers.t[0].at <= t {
		tm := e.timers.pop()
		if tm.at > e.now {
			e.now = tm.at
		}
		e.fire(tm)
		e.settle()
	}
	if t > e.now {
		e.now = t
	}
}

// Run fires timers until none is left or the next is after until.
func (e *Engine) Run(until int64) {
	for len(e.timers.t) > 0 && e.timers.t[0].at <= until {
		e.AdvanceTo(e.timers.t[0].at)
	}
}

// Submit queues a new work item at the current time.
func (e *Engine) Submit(w WorkItem) error {
	if _, dup := e.items[w.ID]; dup {
		return fmt.Errorf("%w: item %q", ErrDuplicate, w.ID)
	}
	ps := &problems{}
	it, err := e.buildItem(w, ps)
	if err != nil {
		return err
	}
	e.items[w.ID] = it
	e.live++
	if e.opts.Check || e.opts.Explain {
		e.order = append(e.order, it)
	}
	e.emit(EvQueued, it, nil, it.entry.id, "")
	if it.entry.targets != nil {
		e.enterTarget(it, 0)
	} else {
		e.enterQueue(it, it.entry)
	}
	if w.TTL > 0 {
		e.timers.push(timer{at: it.arrived + w.TTL, kind: tmTTL, it: it})
	}
	if w.Patience > 0 {
		e.timers.push(timer{at: it.arrived + w.Patience, kind: tmTTL, it: it, gen: 1})
	}
	e.settle()
	return nil
}

// ValidateItem checks a work item against the configuration without
// submitting it. path prefixes the problems' paths.
func (e *Engine) ValidateItem(w WorkItem, path string) error {
	ps := &problems{}
	_, err := e.buildItemAt(w, ps, path)
	return err
}

func (e *Engine) buildItem(w WorkItem, ps *problems) (*item, error) {
	return e.buildItemAt(w, ps, "")
}

func (e *Engine) buildItemAt(w WorkItem, ps *problems, p string) (*item, error) {
	if w.ID == "" {
		ps.add(join(p, "id"), "is required")
	}
	qi, ok := e.queueIdx[w.Queue]
	if !ok {
		ps.add(join(p, "queue"), "unknown queue %q", w.Queue)
	}
	ch, ok := e.chanIdx[w.Channel]
	if !ok {
		ps.add(join(p, "channel"), "unknown channel %q (one of %s)", w.Channel, strings.Join(e.channelNames(), ", "))
	}
	if w.CapacityCost < 0 {
		ps.add(join(p, "capacity_cost"), "must be > 0")
	}
	if w.TTL < 0 {
		ps.add(join(p, "ttl_s"), "must be > 0")
	}
	if w.Patience < 0 {
		ps.add(join(p, "patience_s"), "must be > 0")
	}
	if w.PreferredWindow < 0 {
		ps.add(join(p, "preferred_window_s"), "must be > 0")
	}
	var steps []step
	for i, s := range w.Steps {
		st, _ := e.compileStep(s, index(join(p, "steps"), i), ps)
		steps = append(steps, st)
	}
	reset := false
	if len(w.AdditionalSkills) > 0 {
		reset = true
		if len(w.Steps) > 1 || (len(w.Steps) == 1 && w.Steps[0].ExpiresAfter != 0) {
			ps.add(join(p, "additional_skills"), "with additional skills, steps holds only the required skills (one step, no expiry)")
		}
		drop := w.DropAfter
		if drop == 0 {
			drop = secs(30)
		}
		if drop < 0 {
			ps.add(join(p, "drop_after_s"), "must be > 0")
		}
		var req map[string]float64
		var expr *Expr
		if len(w.Steps) == 1 {
			req, expr = w.Steps[0].Skills, steps[0].req.expr
		}
		groups := map[int]map[string]float64{}
		for i, as := range w.AdditionalSkills {
			ap := index(join(p, "additional_skills"), i)
			if as.Skill == "" {
				ps.add(join(ap, "skill"), "is required")
			}
			if as.Min < 0 || as.Min > 5 {
				ps.add(join(ap, "min"), "must be 0–5")
			}
			if as.DropPriority < 0 {
				ps.add(join(ap, "drop_priority"), "must be ≥ 0")
			}
			if _, dup := req[as.Skill]; dup {
				ps.add(join(ap, "skill"), "%q is already a required skill", as.Skill)
			}
			if groups[as.DropPriority] == nil {
				groups[as.DropPriority] = map[string]float64{}
			}
			groups[as.DropPriority][as.Skill] = as.Min
		}
		prios := make([]int, 0, len(groups))
		for k := range groups {
			prios = append(prios, k)
		}
		sort.Sort(sort.Reverse(sort.IntSlice(prios)))
		steps = nil
		for i := 0; i <= len(prios); i++ {
			m := map[string]float64{}
			for k, v := range req {
				m[k] = v
			}
			for _, pr := range prios[i:] {
				for k, v := range groups[pr] {
					m[k] = v
				}
			}
			st := step{req: e.intern(m, expr)}
			if i < len(prios) {
				st.expires = drop
			}
			steps = append(steps, st)
		}
	}
	var pref []*agent
	for i, id := range w.PreferredAgents {
		ai, ok := e.agentIdx[id]
		if !ok {
			ps.add(index(join(p, "preferred_agents"), i), "unknown agent %q", id)
			continue
		}
		pref = append(pref, e.agents[ai])
	}
	var excl map[int32]string
	for i, id := range w.ExcludedAgents {
		ai, ok := e.agentIdx[id]
		if !ok {
			ps.add(index(join(p, "excluded_agents"), i), "unknown agent %q", id)
			continue
		}
		if excl == nil {
			excl = map[int32]string{}
		}
		excl[ai] = "excluded"
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	q := e.queues[qi]
	if len(pref) > 0 {
		win := w.PreferredWindow
		if win == 0 {
			win = q.prefWindow
			if len(q.targets) > 0 {
				win = e.queues[q.targets[0].queue].prefWindow
			}
		}
		steps = append([]step{{req: e.anyReq, pref: pref, expires: win}}, steps...)
	}
	e.itemSeq++
	it := e.newItem()
	*it = item{seq: e.itemSeq, id: w.ID, ch: ch, cost: w.CapacityCost, basePrio: w.Priority, prio: w.Priority,
		due: w.Due, start: w.Start, arrived: e.now, entry: q, target: -1, baseSteps: steps, resetOnDecline: reset,
		excluded: excl, firstOfferAt: -1, assignedAt: -1, endedAt: -1}
	if it.start == 0 {
		it.start = e.now
	}
	it.wrapUp = e.chans[ch].wrapUp
	if w.WrapUp != nil {
		it.wrapUp = *w.WrapUp
	}
	return it, nil
}

// newItem allocates items in slabs: fewer, larger objects for the GC.
func (e *Engine) newItem() *item {
	if len(e.itemSlab) == 0 {
		e.itemSlab = make([]item, 256)
	}
	it := &e.itemSlab[0]
	e.itemSlab = e.itemSlab[1:]
	return it
}

func (e *Engine) channelNames() []string {
	out := make([]string, len(e.chans))
	for i, c := range e.chans {
		out[i] = c.name
	}
	return out
}

// Accept records agentID's acceptance of its offer of itemID.
func (e *Engine) Accept(itemID, agentID string) error {
	it, a, err := e.lookup(itemID, agentID)
	if err != nil {
		return err
	}
	o := pendingOffer(it, a)
	if o == nil {
		return ErrNoOffer
	}
	e.accept(it, o)
	e.settle()
	return nil
}

// Reject records agentID's refusal of its offer of itemID: the agent is
// never offered this item again.
func (e *Engine) Reject(itemID, agentID string) error {
	it, a, err := e.lookup(itemID, agentID)
	if err != nil {
		return err
	}
	o := pendingOffer(it, a)
	if o == nil {
		return ErrNoOffer
	}
	e.endOffer(o, "rejected")
	e.settle()
	return nil
}

// Complete ends handling: the agent wraps up (capacity held for the
// wrap-up time), then the capacity is released.
func (e *Engine) Complete(itemID string) error {
	it, ok := e.items[itemID]
	if !ok {
		return ErrUnknownItem
	}
	if it.state != stAssigned {
		return ErrState
	}
	e.emit(EvCompleted, it, it.agent, it.q.id, "")
	if it.wrapUp > 0 {
		it.state = stWrapping
		it.wrapGen++
		e.timers.push(timer{at: e.now + it.wrapUp, kind: tmWrapUp, it: it, gen: it.wrapGen})
	} else {
		e.release(it, "completed")
	}
	e.settle()
	return nil
}

// EndWrapUp releases the capacity of an item in wrap-up now.
func (e *Engine) EndWrapUp(itemID string) error {
	it, ok := e.items[itemID]
	if !ok {
		return ErrUnknownItem
	}
	if it.state != stWrapping {
		return ErrState
	}
	e.release(it, "wrap_up_end")
	e.settle()
	return nil
}

// Resolve releases an assigned (or wrapping) item's capacity at once
// (status-based capacity: the conversation was resolved).
func (e *Engine) Resolve(itemID string) error {
	it, ok := e.items[itemID]
	if !ok {
		return ErrUnknownItem
	}
	if it.state != stAssigned && it.state != stWrapping {
		return ErrState
	}
	e.release(it, "resolved")
	e.settle()
	return nil
}

// Inactive tells the engine the customer of an assigned item went quiet:
// after the channel's inactivity_release_s the agent's capacity is freed.
func (e *Engine) Inactive(itemID string) error {
	it, ok := e.items[itemID]
	if !ok {
		return ErrUnknownItem
	}
	if it.state != stAssigned {
		return ErrState
	}
	d := e.chans[it.ch].inactivity
	if d <= 0 {
		return nil
	}
	it.inactGen++
	e.timers.push(timer{at: e.now + d, kind: tmInactivity, it: it, gen: it.inactGen})
	return nil
}

// Activity cancels a pending inactivity release.
func (e *Engine) Activity(itemID string) error {
	it, ok := e.items[itemID]
	if !ok {
		return ErrUnknownItem
	}
	it.inactGen++
	return nil
}

// Transfer releases the agent of an assigned item and queues the item
// again in queue as a new segment (new age, no exclusions).
func (e *Engine) Transfer(itemID, queueID string) error {
	it, ok := e.items[itemID]
	if !ok {
		return ErrUnknownItem
	}
	qi, ok := e.queueIdx[queueID]
	if !ok {
		return ErrUnknownQueue
	}
	if it.state != stAssigned && it.state != stWrapping {
		return ErrState
	}
	e.release(it, "transferred")
	e.live++
	it.state = stWaiting
	it.agent = nil
	it.arrived, it.start = e.now, e.now
	it.firstOfferAt, it.assignedAt, it.endedAt, it.reason = -1, -1, -1, ""
	it.excluded = nil // offers are kept: their history spans segments
	it.entry = e.queues[qi]
	it.baseSteps = nil
	it.prio = it.basePrio
	e.emit(EvQueued, it, nil, queueID, "transfer")
	if it.entry.targets != nil {
		e.enterTarget(it, 0)
	} else {
		e.enterQueue(it, it.entry)
	}
	e.settle()
	return nil
}

// Hold puts an assigned item on hold (or back): on-hold items do not count
// as active for least_active.
func (e *Engine) Hold(itemID string, on bool) error {
	it, ok := e.items[itemID]
	if !ok {
		return ErrUnknownItem
	}
	if it.state != stAssigned {
		return ErrState
	}
	it.manualHold = on
	e.recount(it.agent)
	e.touchAgent(it.agent)
	e.settle()
	return nil
}

// Cancel withdraws a waiting or offered item (the customer abandoned, the
// conversation was closed); pending offers are rescinded.
func (e *Engine) Cancel(itemID, reason string) error {
	it, ok := e.items[itemID]
	if !ok {
		return ErrUnknownItem
	}
	if it.state != stWaiting && it.state != stOffered {
		return ErrState
	}
	e.cancel(it, reason)
	e.settle()
	return nil
}

// SetPresence changes an agent's status.
func (e *Engine) SetPresence(agentID, status string) error {
	ai, ok := e.agentIdx[agentID]
	if !ok {
		return ErrUnknownAgent
	}
	if _, ok := e.presences[status]; !ok {
		return fmt.Errorf("routing: unknown status %q", status)
	}
	a := e.agents[ai]
	e.setPresence(a, status)
	e.settle()
	return nil
}

func (e *Engine) lookup(itemID, agentID string) (*item, *agent, error) {
	it, ok := e.items[itemID]
	if !ok {
		return nil, nil, ErrUnknownItem
	}
	ai, ok := e.agentIdx[agentID]
	if !ok {
		return nil, nil, ErrUnknownAgent
	}
	return it, e.agents[ai], nil
}

func pendingOffer(it *item, a *agent) *offer {
	for _, o := range it.offers {
		if o.a == a && o.state == "pending" {
			return o
		}
	}
	return nil
}

// ---- state views ----

// ItemState is a snapshot of a work item.
type ItemState struct {
	ID           string   `json:"id"`
	State        string   `json:"state"`
	Queue        string   `json:"queue"`
	Agent        string   `json:"agent,omitempty"`
	Priority     int      `json:"priority"`
	Step         int      `json:"step"`
	Requirement  string   `json:"requirement"`
	Preferred    []string `json:"preferred,omitempty"`
	Excluded     []string `json:"excluded,omitempty"`
	Arrived      int64    `json:"arrived"`
	FirstOfferAt int64    `json:"first_offer_at"`
	AssignedAt   int64    `json:"assigned_at"`
	EndedAt      int64    `json:"ended_at"`
	Reason       string   `json:"reason,omitempty"`
	HoldMs       int64    `json:"hold_ms"`
	Offers       []Offer  `json:"offers,omitempty"`
}

// Offer is one offer of an item to an agent.
type Offer struct {
	Agent   string `json:"agent"`
	State   string `json:"state"`
	At      int64  `json:"at"`
	Expires int64  `json:"expires"`
}

// Item returns a snapshot of an item.
func (e *Engine) Item(id string) (ItemState, bool) {
	it, ok := e.items[id]
	if !ok {
		return ItemState{}, false
	}
	s := ItemState{ID: it.id, State: stateNames[it.state], Queue: it.q.id, Priority: it.prio, Step: it.stepIdx,
		Arrived: it.arrived, FirstOfferAt: it.firstOfferAt, AssignedAt: it.assignedAt, EndedAt: it.endedAt,
		Reason: it.reason, HoldMs: it.holdMs}
	st := it.curStep(e)
	s.Requirement = st.req.String()
	for _, a := range st.pref {
		s.Preferred = append(s.Preferred, a.id)
	}
	if it.agent != nil {
		s.Agent = it.agent.id
	}
	if (it.manualHold || it.interrupted) && it.agent != nil {
		s.HoldMs += e.now - it.holdStart
	}
	for ai := range it.excluded {
		s.Excluded = append(s.Excluded, e.agents[ai].id)
	}
	sort.Strings(s.Excluded)
	for _, o := range it.offers {
		s.Offers = append(s.Offers, Offer{Agent: o.a.id, State: o.state, At: o.at, Expires: o.expires})
	}
	return s, true
}

// Outcome is the short fate of an item (no allocation): see ItemState.
type Outcome struct {
	State        string
	Queue        string
	Agent        string
	Reason       string
	FirstOfferAt int64
	AssignedAt   int64
	EndedAt      int64
	HoldMs       int64
	Offers       int
}

// Outcome returns an item's fate.
func (e *Engine) Outcome(id string) (Outcome, bool) {
	it, ok := e.items[id]
	if !ok {
		return Outcome{}, false
	}
	o := Outcome{State: stateNames[it.state], Queue: it.q.id, Reason: it.reason, FirstOfferAt: it.firstOfferAt,
		AssignedAt: it.assignedAt, EndedAt: it.endedAt, HoldMs: it.holdMs, Offers: len(it.offers)}
	if it.agent != nil {
		o.Agent = it.agent.id
	}
	if (it.manualHold || it.interrupted) && it.agent != nil {
		o.HoldMs += e.now - it.holdStart
	}
	return o, true
}

// AgentState is a snapshot of an agent.
type AgentState struct {
	ID             string         `json:"id"`
	Presence       string         `json:"presence"`
	Routable       bool           `json:"routable"`
	LoadUnits      int            `json:"load_units"`
	TotalUnits     int            `json:"total_units"`
	PerChannel     map[string]int `json:"per_channel"`
	Held           int            `json:"held"`
	Assigned       int            `json:"assigned"`
	Active         int            `json:"active"`
	IdleSince      int64          `json:"idle_since"`
	LastOfferAt    int64          `json:"last_offer_at"`
	LastAssignedAt int64          `json:"last_assigned_at"`
	Misses         int            `json:"misses"`
	BusyMs         int64          `json:"busy_ms"`
	LoggedInMs     int64          `json:"logged_in_ms"`
	Queues         []string       `json:"queues"`
}

// Agent returns a snapshot of an agent; busy and logged-in times run to now.
func (e *Engine) Agent(id string) (AgentState, bool) {
	ai, ok := e.agentIdx[id]
	if !ok {
		return AgentState{}, false
	}
	a := e.agents[ai]
	e.statFlush(a)
	s := AgentState{ID: a.id, Presence: a.presence, Routable: a.routable, LoadUnits: a.load, TotalUnits: a.total,
		PerChannel: map[string]int{}, Held: a.held, Assigned: a.assigned, Active: a.active, IdleSince: a.idleSince,
		LastOfferAt: a.lastOfferAt, LastAssignedAt: a.lastAssignedAt, Misses: a.misses, BusyMs: a.busyMs,
		LoggedInMs: a.loggedMs}
	for c, n := range a.count {
		if n > 0 {
			s.PerChannel[e.chans[c].name] = n
		}
	}
	for _, m := range a.mems {
		s.Queues = append(s.Queues, m.q.id)
	}
	return s, true
}

// AgentIDs returns the agents' ids in configuration order.
func (e *Engine) AgentIDs() []string {
	out := make([]string, len(e.agents))
	for i, a := range e.agents {
		out[i] = a.id
	}
	return out
}

// QueueIDs returns the queues' ids in configuration order.
func (e *Engine) QueueIDs() []string {
	out := make([]string, len(e.queues))
	for i, q := range e.queues {
		out[i] = q.id
	}
	return out
}

// QueueMembers returns the ids of the agents of a queue (for a queue with
// targets: of its target queues).
func (e *Engine) QueueMembers(id string) []string {
	qi, ok := e.queueIdx[id]
	if !ok {
		return nil
	}
	q := e.queues[qi]
	seen := map[string]bool{}
	var out []string
	add := func(q *queue) {
		for _, a := range q.members {
			if !seen[a.id] {
				seen[a.id] = true
				out = append(out, a.id)
			}
		}
	}
	add(q)
	for _, t := range q.targets {
		add(e.queues[t.queue])
	}
	return out
}

// Waiting returns the number of waiting items of a queue.
func (e *Engine) Waiting(queueID string) int {
	qi, ok := e.queueIdx[queueID]
	if !ok {
		return 0
	}
	return e.queues[qi].waiting
}

// Channel returns a channel's effective settings.
func (e *Engine) Channel(name string) (ChannelConfig, bool) {
	ci, ok := e.chanIdx[name]
	if !ok {
		return ChannelConfig{}, false
	}
	c := e.chans[ci]
	ot, in, wu := float64(c.offerTimeout)/1000, float64(c.inactivity)/1000, float64(c.wrapUp)/1000
	return ChannelConfig{CapacityCost: &c.cost, Interruptible: &c.interruptible, OfferTimeoutS: &ot,
		AutoAccept: &c.autoAccept, InactivityReleaseS: &in, WrapUpS: &wu}, true
}

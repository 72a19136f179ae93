package routing

import (
	"math/bits"
	"sort"
)

// ---- queue entry, steps, targets ----

func (e *Engine) enterTarget(it *item, k int) {
	w := it.entry
	it.target = k
	it.targetExpired = false
	t := w.targets[k]
	it.prio = it.basePrio
	if t.priority != nil {
		it.prio = *t.priority
	}
	steps := it.baseSteps
	hasPref := len(steps) > 0 && steps[0].pref != nil
	if t.steps != nil {
		// a target's own requirement replaces the item's
		steps = nil
		if hasPref {
			steps = append(steps, it.baseSteps[0])
		}
		steps = append(steps, t.steps...)
	}
	if k > 0 && hasPref {
		steps = steps[1:] // the preferred agents had their window in the first target
	}
	it.targetGen++
	if t.deadline > 0 {
		e.timers.push(timer{at: it.arrived + t.deadline, kind: tmTarget, it: it, gen: it.targetGen})
	}
	if k > 0 {
		e.emit(EvTarget, it, nil, e.queues[t.queue].id, "")
	}
	e.enterQueueSteps(it, e.queues[t.queue], steps)
}

func (e *Engine) enterQueue(it *item, q *queue) { e.enterQueueSteps(it, q, it.baseSteps) }

func (e *Engine) enterQueueSteps(it *item, q *queue, steps []step) {
	if q.cfg.MaxWaiting > 0 && q.waiting >= q.cfg.MaxWaiting {
		it.q = q
		e.finish(it, stCanceled, "queue_full")
		return
	}
	it.q = q
	it.state = stWaiting
	it.enqueued = e.now
	it.level = 0
	it.levelGen++
	it.steps = steps
	it.stepIdx = 0
	e.startStep(it)
	maxPref := 0
	for _, s := range steps {
		if len(s.pref) > maxPref {
			maxPref = len(s.pref)
		}
	}
	need := len(q.levels) + maxPref
	switch {
	case need <= len(it.posBuf):
		it.pos = it.posBuf[:need]
	case cap(it.pos) < need:
		it.pos = make([]int32, need)
	default:
		it.pos = it.pos[:need]
	}
	for i := range it.pos {
		it.pos[i] = -1
	}
	e.ensureChannel(q, it.ch, it.cost)
	e.insertWaiting(it)
	e.scheduleLevel(it)
	e.markItem(it)
}

func (e *Engine) startStep(it *item) {
	it.stepStart = e.now
	it.stepGen++
	if it.stepIdx < len(it.steps) && it.steps[it.stepIdx].expires > 0 {
		e.timers.push(timer{at: e.now + it.steps[it.stepIdx].expires, kind: tmStep, it: it, gen: it.stepGen})
	}
}

func (e *Engine) scheduleLevel(it *item) {
	q := it.q
	if it.level+1 < len(q.levels) {
		e.timers.push(timer{at: it.enqueued + q.levels[it.level+1], kind: tmLevel, it: it, gen: it.levelGen})
	}
}

func (e *Engine) classFor(q *queue, ch, cost int, r *reqset) *class {
	key := classKey{ch: ch, cost: cost, req: r}
	if c, ok := q.classByKey[key]; ok {
		return c
	}
	c := &class{q: q, ch: ch, cost: cost, req: r, levels: make([]*iheap[*item], len(q.levels))}
	for i := range c.levels {
		c.levels[i] = &iheap[*item]{less: e.itemLess}
	}
	q.classByKey[key] = c
	q.classes = append(q.classes, c)
	return c
}

func (e *Engine) insertWaiting(it *item) {
	st := it.curStep(e)
	q := it.q
	if st.pref != nil {
		base := int32(len(q.levels))
		for j, a := range st.pref {
			if a.pref == nil {
				a.pref = &iheap[*item]{less: e.itemLess}
			}
			a.pref.push(it, base+int32(j))
		}
		it.inPref = st.pref
		it.cl = nil
	} else {
		cl := e.classFor(q, it.ch, it.cost, st.req)
		for l := 0; l <= it.level; l++ {
			cl.levels[l].push(it, int32(l))
		}
		it.cl = cl
	}
	q.waiting++
}

func (e *Engine) removeWaiting(it *item) {
	q := it.q
	if it.inPref != nil {
		base := len(q.levels)
		for j, a := range it.inPref {
			if p := it.pos[base+j]; p >= 0 {
				a.pref.remove(int(p))
			}
		}
		it.inPref = nil
	}
	if cl := it.cl; cl != nil {
		for l := range cl.levels {
			if p := it.pos[l]; p >= 0 {
				cl.levels[l].remove(int(p))
			}
		}
		it.cl = nil
	}
	q.waiting--
}

// itemLess orders waiting items: strict (priority desc, SLA due asc with no
// due last, effective start asc) or, with item_order score, by start −
// priority × 60 s (Genesys); then arrival order. One order for the whole
// engine keeps comparisons across queues consistent.
func (e *Engine) itemLess(a, b *item) bool {
	if e.scoreOrder {
		sa, sb := a.start-int64(a.prio)*60000, b.start-int64(b.prio)*60000
		if sa != sb {
			return sa < sb
		}
		return a.seq < b.seq
	}
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.due != b.due {
		if a.due == 0 {
			return false
		}
		if b.due == 0 {
			return true
		}
		return a.due < b.due
	}
	if a.start != b.start {
		return a.start < b.start
	}
	return a.seq < b.seq
}

// ---- agents: capacity and heap membership ----

// roomFor tells whether a can take one more item of channel ch costing
// cost: routable and enabled, under the channel's cap, cross-channel rule,
// and units counted without interruptible work (for non-interruptible
// items) and without work this channel may interrupt.
func (e *Engine) roomFor(a *agent, ch, cost int) bool {
	if !a.routable || a.enabled&(1<<ch) == 0 {
		return false
	}
	if a.perMax[ch] > 0 && a.count[ch] >= a.perMax[ch] {
		return false
	}
	itr := e.chans[ch].interruptible
	eff := 0
	for m := a.heldMask; m != 0; m &= m - 1 {
		x := trailing(m)
		if a.interruptedBy[x]&(1<<ch) != 0 {
			continue
		}
		if a.currentOnly && x != ch {
			return false
		}
		if e.chans[x].interruptible && !itr {
			continue
		}
		eff += a.units[x]
	}
	return eff+cost <= a.total
}

// costFor is the units an item of channel ch with cost override itemCost
// (0: none) takes from agent a: the item's override, else the agent's
// per-channel cost, else the channel's.
func (e *Engine) costFor(a *agent, ch, itemCost int) int {
	switch {
	case itemCost > 0:
		return itemCost
	case a.cost[ch] > 0:
		return a.cost[ch]
	}
	return e.chans[ch].cost
}

// effectiveLoad is the load roomFor counts against a channel.
func (e *Engine) effectiveLoad(a *agent, ch int) int {
	itr := e.chans[ch].interruptible
	eff := 0
	for m := a.heldMask; m != 0; m &= m - 1 {
		x := trailing(m)
		if a.interruptedBy[x]&(1<<ch) != 0 || (e.chans[x].interruptible && !itr) {
			continue
		}
		eff += a.units[x]
	}
	return eff
}

func (e *Engine) canTake(a *agent, it *item) bool {
	if _, ex := it.excluded[a.idx]; ex {
		return false
	}
	return e.roomFor(a, it.ch, e.costFor(a, it.ch, it.cost))
}

// ensureChannel builds a queue's agent heaps for a channel the first time
// an item of it arrives, and notes a smaller cost override (agents with
// room for it join the heaps).
func (e *Engine) ensureChannel(q *queue, ch, cost int) {
	if cost > 0 && cost < e.minOverride[ch] {
		e.minOverride[ch] = cost
		for _, a := range e.agents {
			e.touchAgent(a)
		}
	}
	if q.chanUsed&(1<<ch) != 0 {
		return
	}
	q.chanUsed |= 1 << ch
	for _, b := range q.buckets {
		b.heaps[ch] = &iheap[*agent]{less: func(x, y *agent) bool { return e.agentLess(q, x, y) }}
	}
	for _, a := range q.members {
		mi := q.memberSet[a.idx]
		e.touchSlot(a, mi, ch)
	}
}

// touchAgent re-evaluates an agent's place in every heap after a change.
func (e *Engine) touchAgent(a *agent) {
	for mi := range a.mems {
		used := a.mems[mi].q.chanUsed
		for used != 0 {
			ch := trailing(used)
			used &= used - 1
			e.touchSlot(a, mi, ch)
		}
	}
}

func (e *Engine) touchSlot(a *agent, mi, ch int) {
	h := a.mems[mi].b.heaps[ch]
	slot := int32(mi*a.nch + ch)
	p := a.pos[slot]
	// in the heap: room for the cheapest item of the channel it may get
	want := e.roomFor(a, ch, min(e.costFor(a, ch, 0), e.minOverride[ch]))
	switch {
	case want && p < 0:
		h.push(a, slot)
	case want:
		h.fix(int(p))
	case p >= 0:
		h.remove(int(p))
	}
}

// agentLess orders a bucket's agents by the queue's strategy key, then
// idle_since, then id.
func (e *Engine) agentLess(q *queue, a, b *agent) bool {
	switch q.keyStrategy {
	case LeastActive:
		if a.active != b.active {
			return a.active < b.active
		}
	case MostAvailableUnits:
		fa, fb := a.total-a.load, b.total-b.load
		if fa != fb {
			return fa > fb
		}
	case MostAvailablePct:
		l, r := int64(a.total-a.load)*int64(b.total), int64(b.total-b.load)*int64(a.total)
		if l != r {
			return l > r
		}
	case RoundRobin:
		if a.lastAssignedAt != b.lastAssignedAt {
			return a.lastAssignedAt < b.lastAssignedAt
		}
	}
	if a.idleSince != b.idleSince {
		return a.idleSince < b.idleSince
	}
	return a.id < b.id
}

// agentBetter compares candidates of possibly different buckets: first the
// bucket-level key (best_skill: mean proficiency; order_by: the keys), then
// agentLess.
func (e *Engine) agentBetter(q *queue, r *reqset, pa *profile, a *agent, pb *profile, b *agent) bool {
	switch q.keyStrategy {
	case BestSkill:
		ma, mb := pa.meanProf(r), pb.meanProf(r)
		if ma != mb {
			return ma > mb
		}
	case OrderBy:
		if c := e.compareOrder(q, pa, pb); c != 0 {
			return c < 0
		}
	}
	return e.agentLess(q, a, b)
}

func (e *Engine) orderValues(q *queue, p *profile) []any {
	if v, ok := p.order[q]; ok {
		return v
	}
	env := Env{Attributes: p.attrs, Skills: p.skills}
	out := make([]any, len(q.orderBy))
	for i, k := range q.orderBy {
		out[i] = pathNode(k.path).eval(env)
	}
	p.order[q] = out
	return out
}

func (e *Engine) compareOrder(q *queue, pa, pb *profile) int {
	va, vb := e.orderValues(q, pa), e.orderValues(q, pb)
	for i, k := range q.orderBy {
		x, y := va[i], vb[i]
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			return 1
		case y == nil:
			return -1
		}
		c, ok := compare(x, y)
		if !ok {
			continue
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// ---- holding capacity ----

func (e *Engine) statFlush(a *agent) {
	dt := e.now - a.statAt
	if dt > 0 {
		if a.assigned > 0 {
			a.busyMs += dt
		}
		if a.routable || a.held > 0 {
			a.loggedMs += dt
		}
	}
	a.statAt = e.now
}

func (e *Engine) hold(a *agent, it *item) {
	e.statFlush(a)
	c := e.costFor(a, it.ch, it.cost)
	a.load += c
	a.units[it.ch] += c
	a.count[it.ch]++
	a.heldMask |= 1 << it.ch
	a.held++
	a.items = append(a.items, it)
	a.lastOfferAt = e.now
	a.idleSince = e.now
	e.recount(a)
	e.touchAgent(a)
}

func (e *Engine) unhold(a *agent, it *item, wasAssigned bool) {
	e.statFlush(a)
	c := e.costFor(a, it.ch, it.cost)
	a.load -= c
	a.units[it.ch] -= c
	a.count[it.ch]--
	if a.count[it.ch] == 0 {
		a.heldMask &^= 1 << it.ch
	}
	a.held--
	if wasAssigned {
		a.assigned--
	}
	for i, x := range a.items {
		if x == it {
			a.items = append(a.items[:i], a.items[i+1:]...)
			break
		}
	}
	if a.held == 0 {
		a.idleSince = e.now
	}
	a.lastReleasedAt = e.now
	if it.manualHold || it.interrupted {
		it.holdMs += e.now - it.holdStart
		it.manualHold, it.interrupted = false, false
	}
	e.recount(a)
	e.touchAgent(a)
	e.markAgent(a)
}

// recount updates interruption holds and the active count of an agent: an
// assigned item is interrupted while the agent holds an assigned item of a
// channel allowed to interrupt it.
func (e *Engine) recount(a *agent) {
	var assignedMask uint32
	for _, it := range a.items {
		if it.state == stAssigned {
			assignedMask |= 1 << it.ch
		}
	}
	active := 0
	for _, it := range a.items {
		was := it.manualHold || it.interrupted
		it.interrupted = it.state == stAssigned && a.interruptedBy[it.ch]&assignedMask&^(1<<it.ch) != 0
		now := it.manualHold || it.interrupted
		switch {
		case !was && now:
			it.holdStart = e.now
		case was && !now:
			it.holdMs += e.now - it.holdStart
		}
		if !now {
			active++
		}
	}
	a.active = active
}

// ---- offers ----

func (e *Engine) offerTimeout(it *item) int64 {
	if it.q.offerTimeout > 0 {
		return it.q.offerTimeout
	}
	return e.chans[it.ch].offerTimeout
}

func (e *Engine) offer(it *item, agents []*agent) {
	e.removeWaiting(it)
	it.state = stOffered
	auto := e.chans[it.ch].autoAccept
	if auto {
		agents = agents[:1]
	}
	if it.firstOfferAt < 0 {
		it.firstOfferAt = e.now
	}
	exp := e.now + e.offerTimeout(it)
	var first *offer
	for _, a := range agents {
		var o *offer
		if len(it.offers) == 0 { // the common case: one offer, kept inside the item
			it.offer0 = offer{it: it, a: a, state: "pending", at: e.now, expires: exp}
			o = &it.offer0
			it.offBuf[0] = o
			it.offers = it.offBuf[:1]
		} else {
			o = &offer{it: it, a: a, state: "pending", at: e.now, expires: exp}
			it.offers = append(it.offers, o)
		}
		if first == nil {
			first = o
		}
		e.hold(a, it)
		e.emit(EvOffered, it, a, it.q.id, "")
		if !auto {
			e.timers.push(timer{at: exp, kind: tmOffer, o: o})
		}
	}
	e.decisions++
	if auto {
		e.accept(it, first)
	}
}

func (e *Engine) accept(it *item, o *offer) {
	o.state = "accepted"
	a := o.a
	for _, x := range it.offers {
		if x.state == "pending" {
			x.state = "rescinded"
			e.unhold(x.a, it, false)
			e.emit(EvRescinded, it, x.a, it.q.id, "")
		}
	}
	e.statFlush(a)
	it.state = stAssigned
	it.agent = a
	it.assignedAt = e.now
	a.assigned++
	a.lastAssignedAt = e.now
	a.misses = 0
	e.recount(a)
	e.touchAgent(a)
	e.emit(EvAccepted, it, a, it.q.id, "")
}

// endOffer ends a pending offer without acceptance (rejected or timed out):
// the agent is excluded from the item for good and its capacity released;
// the item waits again, keeping its place, when no offer is left.
func (e *Engine) endOffer(o *offer, how string) {
	it, a := o.it, o.a
	o.state = how
	e.unhold(a, it, false)
	if it.excluded == nil {
		it.excluded = map[int32]string{}
	}
	it.excluded[a.idx] = how
	if how == "timeout" {
		e.emit(EvTimedOut, it, a, it.q.id, "")
		a.misses++
		if e.notRespondingAfter > 0 && a.misses >= e.notRespondingAfter && a.presence != PresenceNotResponding {
			e.setPresence(a, PresenceNotResponding)
			e.emit(EvPresence, nil, a, "", PresenceNotResponding)
		}
	} else {
		e.emit(EvRejected, it, a, it.q.id, "")
	}
	for _, x := range it.offers {
		if x.state == "pending" {
			return
		}
	}
	if it.state != stOffered {
		return
	}
	it.state = stWaiting
	if first := firstSkillStep(it); it.resetOnDecline && it.stepIdx > first {
		it.stepIdx = first // back to all skills (not to the preferred agents)
		e.startStep(it)
	}
	if it.target >= 0 && it.target+1 < len(it.entry.targets) && (it.targetExpired || e.exhausted(it)) {
		e.nextTarget(it)
		return
	}
	e.insertWaiting(it)
	e.markItem(it)
}

func firstSkillStep(it *item) int {
	if len(it.steps) > 0 && it.steps[0].pref != nil {
		return 1
	}
	return 0
}

// exhausted tells whether every member of the item's queue is excluded.
func (e *Engine) exhausted(it *item) bool {
	n := 0
	for ai := range it.excluded {
		if _, ok := it.q.memberSet[ai]; ok {
			n++
		}
	}
	return n >= len(it.q.members)
}

// nextTarget moves a waiting (not inserted) item to its next target whose
// cumulative deadline has not passed (the last one at worst).
func (e *Engine) nextTarget(it *item) {
	k := it.target + 1
	for k+1 < len(it.entry.targets) {
		d := it.entry.targets[k].deadline
		if d == 0 || it.arrived+d > e.now {
			break
		}
		k++
	}
	e.enterTarget(it, k)
}

func (e *Engine) release(it *item, reason string) {
	a := it.agent
	e.unhold(a, it, true)
	it.inactGen++
	it.wrapGen++
	e.finish(it, stDone, reason)
	e.emit(EvReleased, it, a, it.q.id, reason)
}

func (e *Engine) finish(it *item, st itemState, reason string) {
	e.live--
	it.state = st
	it.endedAt = e.now
	it.reason = reason
	it.levelGen++
	it.stepGen++
	it.targetGen++
	if st == stCanceled {
		e.emit(EvCanceled, it, nil, it.q.id, reason)
	}
}

func (e *Engine) cancel(it *item, reason string) {
	switch it.state {
	case stWaiting:
		e.removeWaiting(it)
	case stOffered:
		for _, x := range it.offers {
			if x.state == "pending" {
				x.state = "canceled"
				e.unhold(x.a, it, false)
				e.emit(EvRescinded, it, x.a, it.q.id, reason)
			}
		}
	default:
		return
	}
	e.finish(it, stCanceled, reason)
}

// ---- presence ----

func (e *Engine) applyPresence(a *agent, status string) {
	p := e.presences[status]
	a.presence = status
	a.routable = p.Routable
	a.enabled = a.chans
	if len(p.Channels) > 0 {
		var m uint32
		for _, c := range p.Channels {
			m |= 1 << e.chanIdx[c]
		}
		a.enabled &= m
	}
}

func (e *Engine) setPresence(a *agent, status string) {
	e.statFlush(a)
	was := a.routable
	e.applyPresence(a, status)
	if a.routable && !was {
		if a.held == 0 {
			a.idleSince = e.now
		}
		a.misses = 0
	}
	e.touchAgent(a)
	if a.routable {
		e.markAgent(a)
	}
}

// ---- timers ----

func (e *Engine) fire(t timer) {
	switch t.kind {
	case tmFunc:
		e.funcs--
		t.fn()
	case tmOffer:
		if t.o.state == "pending" {
			e.endOffer(t.o, "timeout")
		}
	case tmLevel:
		it := t.it
		if t.gen != it.levelGen {
			return
		}
		it.level++
		if it.state == stWaiting && it.cl != nil {
			it.cl.levels[it.level].push(it, int32(it.level))
			e.markItem(it)
		}
		e.scheduleLevel(it)
	case tmStep:
		it := t.it
		if t.gen != it.stepGen {
			return
		}
		waiting := it.state == stWaiting
		if waiting {
			e.removeWaiting(it)
		}
		it.stepIdx++
		e.startStep(it)
		e.emit(EvStep, it, nil, it.q.id, it.curStep(e).req.String())
		if waiting {
			e.insertWaiting(it)
			e.markItem(it)
		}
	case tmTarget:
		it := t.it
		if t.gen != it.targetGen || it.target+1 >= len(it.entry.targets) {
			return // the last target keeps the item
		}
		switch it.state {
		case stWaiting:
			e.removeWaiting(it)
			e.nextTarget(it)
		case stOffered:
			it.targetExpired = true
		}
	case tmTTL: // gen 1: patience
		if t.it.state == stWaiting || t.it.state == stOffered {
			reason := "ttl"
			if t.gen == 1 {
				reason = "abandoned"
			}
			e.cancel(t.it, reason)
		}
	case tmWrapUp:
		if t.gen == t.it.wrapGen && t.it.state == stWrapping {
			e.release(t.it, "wrap_up_end")
		}
	case tmInactivity:
		if t.gen == t.it.inactGen && t.it.state == stAssigned {
			e.release(t.it, "inactivity")
		}
	case tmHours:
		e.hoursTimers--
		q := t.q
		q.open = q.hours.open(e.now)
		if q.open {
			for _, a := range q.members {
				e.markAgent(a)
			}
		}
		if nt, ok := q.hours.nextChange(e.now); ok {
			e.hoursTimers++
			e.timers.push(timer{at: nt, kind: tmHours, q: q})
		}
	}
}

// ---- the decision loop ----

func (e *Engine) markItem(it *item) {
	if !it.dirty {
		it.dirty = true
		e.dirtyItems = append(e.dirtyItems, it)
	}
}

func (e *Engine) markAgent(a *agent) {
	if !a.dirty {
		a.dirty = true
		e.dirtyAgents = append(e.dirtyAgents, a)
	}
}

// settle runs decisions until nothing changes: items whose eligibility may
// have grown look for an agent (agent surplus), then agents who gained room
// look for items (item surplus).
func (e *Engine) settle() {
	if e.settling {
		return
	}
	e.settling = true
	defer func() { e.settling = false }()
	ii, ai := 0, 0
	for ii < len(e.dirtyItems) || ai < len(e.dirtyAgents) {
		if ii < len(e.dirtyItems) {
			it := e.dirtyItems[ii]
			e.dirtyItems[ii] = nil
			ii++
			it.dirty = false
			e.matchItem(it)
			continue
		}
		a := e.dirtyAgents[ai]
		e.dirtyAgents[ai] = nil
		ai++
		a.dirty = false
		e.matchAgent(a)
	}
	e.dirtyItems = e.dirtyItems[:0]
	e.dirtyAgents = e.dirtyAgents[:0]
}

type cand struct {
	a *agent
	p *profile
}

// matchItem offers a waiting item to the best eligible agent(s).
func (e *Engine) matchItem(it *item) {
	if it.state != stWaiting || !it.q.open {
		if e.opts.Explain && it.state == stWaiting {
			e.explainNone(it)
		}
		return
	}
	agents := e.findAgents(it)
	if e.opts.Check {
		e.checkItemDecision(it, agents)
	}
	if len(agents) == 0 {
		if e.opts.Explain {
			e.explainNone(it)
		}
		return
	}
	var d *Decision
	if e.opts.OnDecision != nil {
		d = e.decideItem(it, agents)
	}
	e.offer(it, agents)
	if d != nil {
		e.opts.OnDecision(d)
	}
}

// findAgents returns the agents to offer a waiting item to, best first.
func (e *Engine) findAgents(it *item) []*agent {
	q := it.q
	st := it.curStep(e)
	n := q.parallel
	if st.pref != nil {
		var out []*agent
		for _, a := range st.pref {
			if e.canTake(a, it) {
				out = append(out, a)
				if len(out) == n {
					break
				}
			}
		}
		return out
	}
	buckets := e.eligibleBuckets(q, st.req)
	per := n
	if q.keyStrategy == BestSkill && q.topK > 0 {
		per = q.topK
	}
	cs := e.cands[:0]
	for _, b := range buckets {
		if b.level > it.level { // not visible to this bucket's delay yet
			continue
		}
		h := b.heaps[it.ch]
		if h == nil || h.len() == 0 {
			continue
		}
		k := 0
		h.walk(&e.scratch, func(a *agent) bool {
			if e.canTake(a, it) {
				cs = append(cs, cand{a: a, p: b.prof})
				k++
			}
			return k >= per
		})
	}
	e.cands = cs[:0]
	if len(cs) == 0 {
		return nil
	}
	if q.keyStrategy == BestSkill && q.topK > 0 && len(cs) > q.topK {
		sort.Slice(cs, func(i, j int) bool { return e.agentLess(q, cs[i].a, cs[j].a) })
		cs = cs[:q.topK]
	}
	if n == 1 {
		best := cs[0]
		for _, c := range cs[1:] {
			if e.agentBetter(q, st.req, c.p, c.a, best.p, best.a) {
				best = c
			}
		}
		return []*agent{best.a}
	}
	sort.Slice(cs, func(i, j int) bool { return e.agentBetter(q, st.req, cs[i].p, cs[i].a, cs[j].p, cs[j].a) })
	if len(cs) > n {
		cs = cs[:n]
	}
	out := make([]*agent, len(cs))
	for i, c := range cs {
		out[i] = c.a
	}
	return out
}

func (e *Engine) eligibleBuckets(q *queue, r *reqset) []*bucket {
	if bs, ok := q.eligible[r]; ok {
		return bs
	}
	var bs []*bucket
	for _, b := range q.buckets {
		if b.prof.satisfies(r) {
			bs = append(bs, b)
		}
	}
	q.eligible[r] = bs
	return bs
}

// matchAgent offers an agent with room the best visible eligible items,
// one at a time, while room remains.
func (e *Engine) matchAgent(a *agent) {
	for a.routable {
		it, tier := e.findItem(a)
		if e.opts.Check {
			e.checkAgentDecision(a, it)
		}
		if it == nil {
			return
		}
		var d *Decision
		if e.opts.OnDecision != nil {
			d = e.decideAgent(a, it, tier)
		}
		e.offer(it, []*agent{a})
		if d != nil {
			e.opts.OnDecision(d)
		}
	}
}

// findItem returns the item an agent should get next and its tier (0 for
// an item that prefers this agent): tiers in order; within the first tier
// that has one, by priority, SLA due, age.
func (e *Engine) findItem(a *agent) (*item, int) {
	if a.pref != nil && a.pref.len() > 0 {
		var best *item
		a.pref.walk(&e.scratch, func(it *item) bool {
			if it.q.open && e.canTake(a, it) {
				best = it
				return true
			}
			return false
		})
		if best != nil {
			return best, 0
		}
	}
	var best *item
	bestTier := 0
	for mi := range a.mems {
		m := &a.mems[mi]
		if best != nil && m.tier > bestTier {
			break
		}
		q := m.q
		if !q.open || q.waiting == 0 {
			continue
		}
		for _, cl := range q.classes {
			h := cl.levels[m.level]
			if h.len() == 0 || !e.roomFor(a, cl.ch, e.costFor(a, cl.ch, cl.cost)) || !a.prof.satisfies(cl.req) {
				continue
			}
			h.walk(&e.scratch, func(it *item) bool {
				if _, ex := it.excluded[a.idx]; ex {
					return false
				}
				if best == nil || e.itemLess(it, best) {
					best, bestTier = it, m.tier
				}
				return true
			})
		}
	}
	return best, bestTier
}

func trailing(m uint32) int { return bits.TrailingZeros32(m) }

func (e *Engine) emit(typ string, it *item, a *agent, q, reason string) {
	if e.opts.OnEvent == nil {
		return
	}
	ev := Event{At: e.now, Type: typ, Queue: q, Reason: reason}
	if it != nil {
		ev.Item = it.id
	}
	if a != nil {
		ev.Agent = a.id
	}
	e.opts.OnEvent(ev)
}

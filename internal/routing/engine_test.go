package routing

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the calendar tests need zones on any machine
)

func TestTransferKeepsOfferTimersApart(t *testing.T) {
	h := newHarness(t, Config{
		Queues: []QueueConfig{{ID: "q", Members: []string{"a", "b"}, OfferTimeoutS: ptr(20.0)}, {ID: "billing", Members: []string{"b"}, OfferTimeoutS: ptr(20.0)}},
		Agents: agents("a b", nil)})
	h.at(0).submit(WorkItem{ID: "c", Queue: "q", Channel: "task"})
	h.at(1).must(h.e.Accept("c", "a"))
	h.at(5).must(h.e.Transfer("c", "billing"))
	eq(t, "a released", h.agent("a").LoadUnits, 0)
	eq(t, "offered in billing", h.offersOf("c"), []string{"a@0", "b@5"})
	h.at(21) // the first offer's timer (20) must not touch the new offer
	eq(t, "no early timeout", h.eventsOf(EvTimedOut), []string(nil))
	h.at(25)
	eq(t, "new offer times out at 25", h.eventsOf(EvTimedOut), []string{"c/b/billing@25"})
}

func TestWrapUpInactivityResolve(t *testing.T) {
	h := newHarness(t, Config{
		Channels: map[string]ChannelConfig{"webchat": {AutoAccept: ptr(true), WrapUpS: ptr(30.0), InactivityReleaseS: ptr(60.0)}},
		Queues:   []QueueConfig{{ID: "q", Members: []string{"a"}}},
		Agents:   []AgentConfig{{ID: "a", Capacity: Capacity{TotalUnits: 25}}}})
	h.at(0).submit(WorkItem{ID: "c1", Queue: "q", Channel: "webchat"})
	h.submit(WorkItem{ID: "c2", Queue: "q", Channel: "webchat"})
	h.at(10).must(h.e.Complete("c1"))
	eq(t, "wrapping holds capacity", h.item("c1").State, "wrapping")
	eq(t, "c2 waits", h.item("c2").State, "waiting")
	h.at(40)
	eq(t, "wrap-up ends at 40", h.eventsOf(EvReleased), []string{"c1/a/q@40"})
	eq(t, "c2 assigned", h.item("c2").State, "assigned")
	h.must(h.e.Inactive("c2"))
	h.at(50).must(h.e.Activity("c2")) // the customer wrote again
	h.must(h.e.Inactive("c2"))
	h.at(105)
	eq(t, "still assigned", h.item("c2").State, "assigned")
	h.at(110)
	eq(t, "released after 60 s of inactivity", h.item("c2").Reason, "inactivity")
	h.submit(WorkItem{ID: "c3", Queue: "q", Channel: "webchat"})
	h.at(111).must(h.e.Resolve("c3"))
	eq(t, "resolve releases at once", h.item("c3").Reason, "resolved")
	eq(t, "agent empty", h.agent("a").LoadUnits, 0)
}

func TestParallelOffers(t *testing.T) {
	h := newHarness(t, Config{
		Queues: []QueueConfig{{ID: "q", Members: []string{"a", "b", "c"}, ParallelOffers: 2}},
		Agents: agents("a b c", nil)})
	h.at(0).submit(WorkItem{ID: "x", Queue: "q", Channel: "task"})
	eq(t, "two at once", h.offersOf("x"), []string{"a@0", "b@0"})
	h.at(2).must(h.e.Accept("x", "b"))
	eq(t, "the other is rescinded", h.eventsOf(EvRescinded), []string{"x/a/q@2"})
	eq(t, "a free again", h.agent("a").LoadUnits, 0)
	if err := h.e.Accept("x", "a"); err != ErrNoOffer {
		t.Errorf("late accept: %v", err)
	}
}

func TestNotResponding(t *testing.T) {
	h := newHarness(t, Config{
		Queues: []QueueConfig{{ID: "q", Members: []string{"a", "b"}, OfferTimeoutS: ptr(10.0)}},
		Agents: []AgentConfig{{ID: "a"}, {ID: "b", Presence: PresenceBreak}}})
	h.at(0).submit(WorkItem{ID: "x1", Queue: "q", Channel: "task"})
	h.at(10)
	h.submit(WorkItem{ID: "x2", Queue: "q", Channel: "task"})
	eq(t, "one miss", h.agent("a").Presence, PresenceAvailable)
	h.at(20)
	eq(t, "two consecutive misses", h.agent("a").Presence, PresenceNotResponding)
	eq(t, "event", h.eventsOf(EvPresence), []string{"/a/@20"})
	h.must(h.e.SetPresence("b", PresenceAvailable))
	eq(t, "work goes to b", h.item("x1").Offers[1].Agent, "b")
}

func TestBusinessHours(t *testing.T) {
	// t0 is 2025-06-15 15:06:40 UTC, a Sunday
	h := newHarness(t, Config{
		Queues: []QueueConfig{{ID: "q", Members: []string{"a"},
			Hours: &Hours{TZ: "UTC", Weekly: map[string][]string{"mon": {"09:00-18:00"}}}}},
		Agents: agents("a", nil)})
	h.at(0).submit(WorkItem{ID: "x", Queue: "q", Channel: "task"})
	eq(t, "closed on Sunday", h.item("x").State, "waiting")
	monday9 := time.Date(2025, 6, 16, 9, 0, 0, 0, time.UTC).UnixMilli()
	h.e.AdvanceTo(monday9 - 1)
	eq(t, "still closed", h.item("x").State, "waiting")
	h.e.AdvanceTo(monday9)
	eq(t, "offered at opening", h.item("x").FirstOfferAt, monday9)
	d, _ := h.e.Explain("x")
	eq(t, "explain state", d.Outcome, "offered")
}

func TestTTLAndMaxWaiting(t *testing.T) {
	h := newHarness(t, Config{
		Queues: []QueueConfig{{ID: "q", Members: []string{"a"}, MaxWaiting: 1}},
		Agents: []AgentConfig{{ID: "a", Presence: PresenceBreak}}})
	h.at(0).submit(WorkItem{ID: "x", Queue: "q", Channel: "task", TTL: ms(30)})
	h.submit(WorkItem{ID: "y", Queue: "q", Channel: "task"})
	eq(t, "y over max_waiting", h.item("y").Reason, "queue_full")
	h.at(30)
	eq(t, "ttl", h.item("x").Reason, "ttl")
	eq(t, "canceled", h.eventsOf(EvCanceled), []string{"y//q@0", "x//q@30"})
}

func TestExplanation(t *testing.T) {
	var ds []*Decision
	e, err := New(Config{Channels: autoChannels("voice"),
		Queues: []QueueConfig{{ID: "q", Strategy: BestSkill}},
		Agents: []AgentConfig{
			{ID: "ayse", Skills: map[string]float64{"tr": 5, "billing": 3}, Queues: []AgentQueue{{Queue: "q"}}},
			{ID: "can", Skills: map[string]float64{"tr": 4, "billing": 5}, Queues: []AgentQueue{{Queue: "q"}}},
			{ID: "deniz", Skills: map[string]float64{"tr": 2}, Queues: []AgentQueue{{Queue: "q"}}},
			{ID: "ece", Skills: map[string]float64{"tr": 5, "billing": 5}, Presence: PresenceBreak, Queues: []AgentQueue{{Queue: "q"}}},
			{ID: "fatma", Skills: map[string]float64{"tr": 5, "billing": 5}, Queues: []AgentQueue{{Queue: "q", DelayS: 10}}},
		}}, Options{Now: t0, Explain: true, Check: true, OnDecision: func(d *Decision) { ds = append(ds, d) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Submit(WorkItem{ID: "call", Queue: "q", Channel: "voice", Steps: []Step{{Skills: map[string]float64{"tr": 3, "billing": 1}}}}); err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	eq(t, "winner", d.Offered, []string{"can"})
	eq(t, "strategy", d.Strategy, BestSkill)
	eq(t, "candidates", d.Candidates, []Candidate{
		{Agent: "can", Keys: []Key{{"mean_proficiency", 4.5}, {"idle_since", t0}}},
		{Agent: "ayse", Keys: []Key{{"mean_proficiency", 4.0}, {"idle_since", t0}}}})
	eq(t, "excluded", d.Excluded, []Exclusion{
		{Agent: "deniz", Reason: "requirement: no skill billing"},
		{Agent: "ece", Reason: "presence break"},
		{Agent: "fatma", Reason: "delay: sees the item after 10s in queue"}})
}

func TestExpr(t *testing.T) {
	env := Env{Attributes: map[string]any{"lang": "tr", "langs": []any{"tr", "en"}, "level": 3.0, "site": map[string]any{"city": "İzmir"}},
		Skills: map[string]float64{"billing": 4}}
	for src, want := range map[string]bool{
		`lang == "tr"`:                          true,
		`lang != 'tr'`:                          false,
		`level >= 3 and level < 4`:              true,
		`"en" in langs`:                         true,
		`"de" in langs or site.city == "İzmir"`: true,
		`langs has "en"`:                        true,
		`site.city contains "zm"`:               true,
		`lang in ["en", "de"]`:                  false,
		`lang not in ["en", "de"]`:              true,
		`NOT (skills.billing > 4)`:              true,
		`skills.tech >= 0`:                      false,
		`missing == null`:                       true,
		`missing > 1`:                           false,
		`level`:                                 true,
		`!(level == 3) || true && false`:        false,
	} {
		x, err := CompileExpr(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got := x.Eval(env); got != want {
			t.Errorf("%s = %v, want %v", src, got, want)
		}
	}
	for _, bad := range []string{`lang ==`, `(a`, `a = = b`, `"open`, `[1, 2`, `a and`, `1 2`} {
		if _, err := CompileExpr(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestCalendar(t *testing.T) {
	ps := &problems{}
	c := compileHours(&Hours{TZ: "Europe/Istanbul", Weekly: map[string][]string{"mon": {"09:00-12:00", "12:00-18:00"}, "sat": {"10:00-24:00"}}}, "hours", ps)
	if ps.err() != nil {
		t.Fatal(ps.err())
	}
	ist := time.FixedZone("+03", 3*3600)
	at := func(d, h, m int) int64 { return time.Date(2025, 6, d, h, m, 0, 0, ist).UnixMilli() } // June 2, 2025 is a Monday
	eq(t, "mon 08:59", c.open(at(2, 8, 59)), false)
	eq(t, "mon 09:00", c.open(at(2, 9, 0)), true)
	eq(t, "mon 12:00 (adjacent spans)", c.open(at(2, 12, 0)), true)
	n, _ := c.nextChange(at(2, 10, 0))
	eq(t, "closes 18:00, not 12:00", n, at(2, 18, 0))
	n, _ = c.nextChange(at(2, 18, 0))
	eq(t, "opens Saturday 10:00", n, at(7, 10, 0))
	n, _ = c.nextChange(at(7, 11, 0))
	eq(t, "closes Sunday 00:00", n, at(8, 0, 0))
	ps = &problems{}
	compileHours(&Hours{TZ: "Mars/Olympus", Weekly: map[string][]string{"mon": {"18:00-09:00"}, "xyz": {"1-2"}}}, "queues[0].hours", ps)
	eq(t, "problems", ps.err().Error(), strings.Join([]string{
		`queues[0].hours.tz: unknown time zone "Mars/Olympus"`,
		`queues[0].hours.weekly.mon[0]: must end after it starts (split spans that cross midnight), got "18:00-09:00"`,
		`queues[0].hours.weekly.xyz: must be one of mon, tue, wed, thu, fri, sat, sun`}, "\n"))
}

func TestPerAgentChannelCost(t *testing.T) {
	// Azure-style: the agent's own cost per item of a channel; an item's
	// capacity_cost still wins.
	h := newHarness(t, Config{Channels: autoChannels("email"),
		Queues: []QueueConfig{{ID: "cases", Members: []string{"rep", "other"}}},
		Agents: []AgentConfig{{ID: "rep", Capacity: Capacity{TotalUnits: 6, PerChannelCost: map[string]int{"email": 2}}},
			{ID: "other", Presence: PresenceBreak}}})
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		h.submit(WorkItem{ID: id, Queue: "cases", Channel: "email"})
	}
	eq(t, "3 cases of 2 units", h.agent("rep").LoadUnits, 6)
	eq(t, "c4", h.item("c4").State, "waiting")
	h.must(h.e.Complete("c1"))
	h.must(h.e.Complete("c4"))
	h.submit(WorkItem{ID: "big", Queue: "cases", Channel: "email", CapacityCost: 3})
	eq(t, "an item's own cost wins (4 + 3 > 6)", h.item("big").State, "waiting")
	h.must(h.e.Complete("c2"))
	eq(t, "then fits", h.item("big").State, "assigned")
	eq(t, "load", h.agent("rep").LoadUnits, 5)
}

func TestPreferredWindowOnceAcrossTargets(t *testing.T) {
	h := newHarness(t, Config{
		Queues: []QueueConfig{
			{ID: "flow", Targets: []Target{{Queue: "q1", TimeoutS: ptr(30.0)}, {Queue: "q2"}}},
			{ID: "q1", Members: []string{"x"}, PreferredWindowS: ptr(20.0)},
			{ID: "q2", Members: []string{"y"}},
		},
		Agents: []AgentConfig{{ID: "last", Presence: PresenceBreak}, {ID: "x", Presence: PresenceBreak}, {ID: "y"}}})
	h.at(0).submit(WorkItem{ID: "c", Queue: "flow", Channel: "task", PreferredAgents: []string{"last"}})
	h.at(30)
	eq(t, "in q2 the preferred window is not restarted", h.offersOf("c"), []string{"y@30"})
}

func TestResetOnDeclineKeepsPreferredWindowClosed(t *testing.T) {
	h := newHarness(t, Config{
		Queues: []QueueConfig{{ID: "q", Members: []string{"a", "b"}}},
		Agents: []AgentConfig{{ID: "last", Presence: PresenceBreak}, {ID: "a", Skills: map[string]float64{"x": 1}},
			{ID: "b", Skills: map[string]float64{"x": 1, "y": 1}, Presence: PresenceBreak}}})
	h.at(0).submit(WorkItem{ID: "c", Queue: "q", Channel: "task", PreferredAgents: []string{"last"}, PreferredWindow: ms(10),
		AdditionalSkills: []AdditionalSkill{{Skill: "y"}}, DropAfter: ms(10)})
	h.at(20)
	eq(t, "y dropped at 20", h.offersOf("c"), []string{"a@20"})
	h.must(h.e.Reject("c", "a"))
	eq(t, "reset to all skills, not to the preferred agent", h.item("c").Requirement, "y≥0")
}

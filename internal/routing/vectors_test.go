package routing

import (
	"testing"
)

// TestVectors runs the behaviour vectors R1–R14 of ROUTING.md §3 on the
// matcher. The same vectors run as scenarios through the simulator in
// package sim.
func TestVectors(t *testing.T) {
	voice := autoChannels("voice")
	cases := []struct {
		id, name string
		run      func(t *testing.T)
	}{
		{"R1", "order_by finance ASC, support ASC reserves Bob first", func(t *testing.T) {
			h := newHarness(t, Config{Channels: voice,
				Queues: []QueueConfig{{ID: "q", Strategy: OrderBy, Members: []string{"alice", "bob"},
					OrderBy: []OrderKey{{Key: "finance"}, {Key: "support", Dir: "asc"}}}},
				Agents: []AgentConfig{
					{ID: "alice", Attributes: map[string]any{"finance": 10, "support": 8}},
					{ID: "bob", Attributes: map[string]any{"finance": 10, "support": 5}},
				}})
			h.at(1).submit(WorkItem{ID: "t1", Queue: "q", Channel: "voice"})
			h.submit(WorkItem{ID: "t2", Queue: "q", Channel: "voice"})
			eq(t, "offers", h.offers(), []string{"t1>bob@1", "t2>alice@1"})
			eq(t, "winner keys", h.ds[0].Keys, []Key{{"finance", 10.0}, {"support", 5.0}, {"idle_since", t0}})
		}},
		{"R2", "without order_by the agent idle longest is reserved first", func(t *testing.T) {
			h := newHarness(t, Config{Channels: voice,
				Queues: []QueueConfig{{ID: "q", Members: []string{"a", "b", "c"}}},
				Agents: agents("a b c", nil)})
			h.at(1).submit(WorkItem{ID: "i1", Queue: "q", Channel: "voice"}) // all idle since 0: tie → id
			h.at(2).submit(WorkItem{ID: "i2", Queue: "q", Channel: "voice"})
			h.at(5).must(h.e.Complete("i2"))  // b idle since 5
			h.at(10).must(h.e.Complete("i1")) // a idle since 10
			h.at(20).submit(WorkItem{ID: "i3", Queue: "q", Channel: "voice"})
			h.at(21).submit(WorkItem{ID: "i4", Queue: "q", Channel: "voice"})
			h.at(22).submit(WorkItem{ID: "i5", Queue: "q", Channel: "voice"})
			eq(t, "offers", h.offers(), []string{"i1>a@1", "i2>b@2", "i3>c@20", "i4>b@21", "i5>a@22"})
		}},
		{"R3", "strict priority: P=5 aged 10 s before P=1 aged 10 min; equal priority → oldest", func(t *testing.T) {
			h := newHarness(t, Config{Channels: voice,
				Queues: []QueueConfig{{ID: "q", Members: []string{"a"}}},
				Agents: agents("a", func(a *AgentConfig) { a.Presence = PresenceBreak })})
			h.at(0).submit(WorkItem{ID: "p1-old", Queue: "q", Channel: "voice", Priority: 1})
			h.at(10).submit(WorkItem{ID: "p1-new", Queue: "q", Channel: "voice", Priority: 1})
			h.at(590).submit(WorkItem{ID: "p5-old", Queue: "q", Channel: "voice", Priority: 5})
			h.at(595).submit(WorkItem{ID: "p5-new", Queue: "q", Channel: "voice", Priority: 5})
			h.at(600).must(h.e.SetPresence("a", PresenceAvailable))
			for i, id := range []string{"p5-old", "p5-new", "p1-old"} {
				h.at(601 + float64(i)).must(h.e.Complete(id))
			}
			eq(t, "offers", h.offers(), []string{"p5-old>a@600", "p5-new>a@601", "p1-old>a@602", "p1-new>a@603"})
		}},
		{"R4", "targets Q1,Q2,Q3 × 10 s; offer at t=3 times out at 8 → Q2; Q3 at 20 (cumulative)", func(t *testing.T) {
			h := newHarness(t, Config{
				Queues: []QueueConfig{
					{ID: "flow", Targets: []Target{{Queue: "Q1", TimeoutS: ptr(10.0)}, {Queue: "Q2", TimeoutS: ptr(10.0)}, {Queue: "Q3", TimeoutS: ptr(10.0)}}},
					{ID: "Q1", Members: []string{"w1"}, OfferTimeoutS: ptr(5.0)},
					{ID: "Q2", Members: []string{"w2"}},
					{ID: "Q3", Members: []string{"w3"}},
				},
				Agents: agents("w1 w2 w3", func(a *AgentConfig) { a.Presence = PresenceBreak })})
			h.at(0).submit(WorkItem{ID: "A", Queue: "flow", Channel: "task"})
			h.at(3).must(h.e.SetPresence("w1", PresenceAvailable))
			h.at(18)
			eq(t, "queue at 18 s", h.item("A").Queue, "Q2")
			h.at(25)
			eq(t, "offers", h.offers(), []string{"A>w1@3"})
			eq(t, "timeouts", h.eventsOf(EvTimedOut), []string{"A/w1/Q1@8"})
			eq(t, "targets", h.eventsOf(EvTarget), []string{"A//Q2@8", "A//Q3@20"})
		}},
		{"R5", "routing profile Sales P1/D0, Support P2/D0: Support only when no Sales contact waits", func(t *testing.T) {
			h := newHarness(t, Config{Channels: voice,
				Queues: []QueueConfig{{ID: "sales"}, {ID: "support"}},
				Agents: []AgentConfig{{ID: "a", Presence: PresenceBreak,
					Queues: []AgentQueue{{Queue: "sales", Tier: 1}, {Queue: "support", Tier: 2}}}}})
			h.at(0).submit(WorkItem{ID: "sup1", Queue: "support", Channel: "voice", Priority: 9})
			h.at(1).submit(WorkItem{ID: "sal1", Queue: "sales", Channel: "voice"})
			h.at(2).submit(WorkItem{ID: "sal2", Queue: "sales", Channel: "voice"})
			h.at(10).must(h.e.SetPresence("a", PresenceAvailable))
			h.at(11).must(h.e.Complete("sal1"))
			h.at(12).must(h.e.Complete("sal2"))
			eq(t, "offers", h.offers(), []string{"sal1>a@10", "sal2>a@11", "sup1>a@12"})
		}},
		{"R6", "Sales P1/D0, Support P1/D30: Support competes once it waited 30 s; oldest first", func(t *testing.T) {
			cfg := Config{Channels: voice,
				Queues: []QueueConfig{{ID: "sales"}, {ID: "support"}},
				Agents: []AgentConfig{{ID: "a", Presence: PresenceBreak,
					Queues: []AgentQueue{{Queue: "sales", Tier: 1}, {Queue: "support", Tier: 1, DelayS: 30}}}}}
			h := newHarness(t, cfg)
			h.at(0).submit(WorkItem{ID: "sup1", Queue: "support", Channel: "voice"})
			h.at(10).submit(WorkItem{ID: "sal1", Queue: "sales", Channel: "voice"})
			h.at(20).must(h.e.SetPresence("a", PresenceAvailable)) // sup1 waited 20 s: not visible
			h.at(25).must(h.e.Complete("sal1"))                    // nothing visible: waits
			h.at(40).submit(WorkItem{ID: "sal2", Queue: "sales", Channel: "voice"})
			eq(t, "offers", h.offers(), []string{"sal1>a@20", "sup1>a@30"})
			h.at(41).must(h.e.Complete("sup1"))
			eq(t, "then", h.offersOf("sal2"), []string{"a@41"})

			h = newHarness(t, cfg) // both visible at the same tier: the oldest wins
			h.at(0).submit(WorkItem{ID: "sup1", Queue: "support", Channel: "voice"})
			h.at(10).submit(WorkItem{ID: "sal1", Queue: "sales", Channel: "voice"})
			h.at(100).must(h.e.SetPresence("a", PresenceAvailable))
			eq(t, "oldest", h.offers(), []string{"sup1>a@100"})
		}},
		{"R7", "capacity 6, case weight 2: at most 3 cases", func(t *testing.T) {
			h := newHarness(t, Config{Channels: map[string]ChannelConfig{"email": {CapacityCost: ptr(2), AutoAccept: ptr(true)}},
				Queues: []QueueConfig{{ID: "cases", Members: []string{"rep"}}},
				Agents: []AgentConfig{{ID: "rep", Capacity: Capacity{TotalUnits: 6}}}})
			for i, id := range []string{"c1", "c2", "c3", "c4"} {
				h.at(float64(i)).submit(WorkItem{ID: id, Queue: "cases", Channel: "email"})
			}
			eq(t, "assigned", h.eventsOf(EvAccepted), []string{"c1/rep/cases@0", "c2/rep/cases@1", "c3/rep/cases@2"})
			eq(t, "c4", h.item("c4").State, "waiting")
			eq(t, "load", h.agent("rep").LoadUnits, 6)
			h.at(10).must(h.e.Complete("c2"))
			eq(t, "c4 after a release", h.offersOf("c4"), []string{"rep@10"})
		}},
		{"R8", "capacity 100, voice 100, chat 20: 1 voice or ≤ 5 chats, never mixed", func(t *testing.T) {
			chans := map[string]ChannelConfig{"voice": {AutoAccept: ptr(true)}, "webchat": {CapacityCost: ptr(20), AutoAccept: ptr(true)}}
			h := newHarness(t, Config{Channels: chans,
				Queues: []QueueConfig{{ID: "q", Members: []string{"w"}}},
				Agents: []AgentConfig{{ID: "w", Capacity: Capacity{TotalUnits: 100}}}})
			h.at(0).submit(WorkItem{ID: "chat1", Queue: "q", Channel: "webchat"})
			h.submit(WorkItem{ID: "call1", Queue: "q", Channel: "voice"})
			eq(t, "call waits while a chat is held", h.item("call1").State, "waiting")
			for _, id := range []string{"chat2", "chat3", "chat4", "chat5", "chat6"} {
				h.submit(WorkItem{ID: id, Queue: "q", Channel: "webchat"})
			}
			eq(t, "chats held", h.agent("w").PerChannel["webchat"], 5)
			eq(t, "chat6", h.item("chat6").State, "waiting")
			h.must(h.e.Complete("chat1")) // 20 units free: chat6 fits, the call does not
			eq(t, "chat6 after one chat ends", h.item("chat6").State, "assigned")
			eq(t, "call still waits", h.item("call1").State, "waiting")
			for _, id := range []string{"chat2", "chat3", "chat4", "chat5", "chat6"} {
				h.must(h.e.Complete(id))
			}
			eq(t, "call once every chat ended", h.item("call1").State, "assigned")
			eq(t, "per channel", h.agent("w").PerChannel, map[string]int{"voice": 1})
			h.submit(WorkItem{ID: "chat7", Queue: "q", Channel: "webchat"})
			eq(t, "a chat waits while the call is held", h.item("chat7").State, "waiting")
		}},
		{"R9", "A 1/2 used, B 8/10 used: units → B, percentage → A", func(t *testing.T) {
			for _, c := range []struct{ strategy, want string }{{MostAvailableUnits, "B"}, {MostAvailablePct, "A"}} {
				h := newHarness(t, Config{Channels: autoChannels("task"),
					Queues: []QueueConfig{{ID: "pre", Members: []string{"A", "B"}}, {ID: "q", Strategy: c.strategy, Members: []string{"A", "B"}}},
					Agents: []AgentConfig{{ID: "A", Capacity: Capacity{TotalUnits: 2}}, {ID: "B", Capacity: Capacity{TotalUnits: 10}}}})
				h.submit(WorkItem{ID: "a-load", Queue: "pre", Channel: "task", CapacityCost: 1, PreferredAgents: []string{"A"}})
				h.submit(WorkItem{ID: "b-load", Queue: "pre", Channel: "task", CapacityCost: 8, PreferredAgents: []string{"B"}})
				h.at(1).submit(WorkItem{ID: "x", Queue: "q", Channel: "task", CapacityCost: 1})
				eq(t, c.strategy, h.offersOf("x"), []string{c.want + "@1"})
			}
		}},
		{"R10", "decline or push timeout: never re-offered to that rep; capacity released", func(t *testing.T) {
			for _, how := range []string{"reject", "timeout"} {
				h := newHarness(t, Config{
					Queues: []QueueConfig{{ID: "q", Members: []string{"r1", "r2"}, OfferTimeoutS: ptr(20.0)}},
					Agents: agents("r1 r2", nil)})
				h.at(0).submit(WorkItem{ID: "w", Queue: "q", Channel: "webchat"})
				eq(t, how+" first", h.offersOf("w"), []string{"r1@0"})
				if how == "reject" {
					h.at(5).must(h.e.Reject("w", "r1"))
				} else {
					h.at(5)
				}
				at := map[string]string{"reject": "5", "timeout": "20"}[how]
				eq(t, how+" load of r1", h.agent("r1").LoadUnits, map[string]int{"reject": 0, "timeout": 25}[how])
				h.at(21)
				eq(t, how+" second", h.offersOf("w"), []string{"r1@0", "r2@" + at})
				h.must(h.e.Reject("w", "r2"))
				h.at(100)
				eq(t, how+" never again", h.offersOf("w"), []string{"r1@0", "r2@" + at})
				eq(t, how+" excluded", h.item("w").Excluded, []string{"r1", "r2"})
				eq(t, how+" r1 free", h.agent("r1").LoadUnits, 0)
				h.submit(WorkItem{ID: "w2", Queue: "q", Channel: "webchat"})
				eq(t, how+" r1 takes other work", h.offersOf("w2"), []string{"r1@100"})
			}
		}},
		{"R11", "additional skills dropped by priority group every 30 s; required never; reset on decline", func(t *testing.T) {
			h := newHarness(t, Config{
				Queues: []QueueConfig{{ID: "q", Members: []string{"x", "y", "z", "w"}}},
				Agents: []AgentConfig{
					{ID: "x", Skills: map[string]float64{"billing": 3, "vip": 3, "tech": 3}},
					{ID: "y", Skills: map[string]float64{"billing": 3, "tech": 3}},
					{ID: "z", Skills: map[string]float64{"billing": 3}},
					{ID: "w", Skills: map[string]float64{"spanish": 5, "vip": 5, "tech": 5}},
				}})
			h.at(0).submit(WorkItem{ID: "case", Queue: "q", Channel: "task",
				Steps:            []Step{{Skills: map[string]float64{"billing": 1}}},
				AdditionalSkills: []AdditionalSkill{{Skill: "tech", DropPriority: 0}, {Skill: "vip", DropPriority: 1}, {Skill: "spanish", DropPriority: 2}}})
			h.at(29)
			eq(t, "nobody has all skills", h.offersOf("case"), []string(nil))
			h.at(30)
			eq(t, "after 30 s spanish dropped", h.offersOf("case"), []string{"x@30"})
			h.at(31).must(h.e.Reject("case", "x"))
			eq(t, "decline resets to all skills", h.item("case").Requirement, "billing≥1, spanish≥0, tech≥0, vip≥0")
			h.at(60)
			eq(t, "at 60 nothing yet (x excluded, vip still needed)", len(h.offersOf("case")), 1)
			h.at(91)
			eq(t, "after reset + 60 s vip dropped", h.offersOf("case"), []string{"x@30", "y@91"})
			h.must(h.e.Reject("case", "y"))
			h.at(200)
			eq(t, "required billing is never dropped (w never offered)", h.offersOf("case"), []string{"x@30", "y@91", "z@181"})
		}},
		{"R12", "least active: on-hold not counted; tie → routed earlier", func(t *testing.T) {
			h := newHarness(t, Config{Channels: autoChannels("webchat"),
				Queues: []QueueConfig{{ID: "pre", Members: []string{"A", "B", "C"}}, {ID: "chat", Strategy: LeastActive, Members: []string{"A", "B", "C"}}},
				Agents: agents("A B C", func(a *AgentConfig) { a.Capacity = Capacity{TotalUnits: 200} })})
			pre := func(s float64, id, ag string) {
				h.at(s).submit(WorkItem{ID: id, Queue: "pre", Channel: "webchat", PreferredAgents: []string{ag}})
			}
			pre(1, "c1", "C")
			pre(2, "b1", "B")
			pre(3, "b2", "B")
			pre(4, "b3", "B")
			pre(5, "b4", "B")
			pre(6, "a1", "A")
			pre(7, "a2", "A")
			for _, id := range []string{"b2", "b3", "b4"} {
				h.must(h.e.Hold(id, true))
			}
			h.at(10).submit(WorkItem{ID: "new", Queue: "chat", Channel: "webchat"})
			eq(t, "winner", h.offersOf("new"), []string{"C@10"})
			eq(t, "keys", h.ds[len(h.ds)-1].Keys, []Key{{"active", 1}, {"idle_since", t0 + ms(1)}})
		}},
		{"R13", "voice may interrupt chat: 3 chats, call offered; chats stay active, counted as hold", func(t *testing.T) {
			for _, interrupt := range []bool{true, false} {
				ac := AgentConfig{ID: "a", Capacity: Capacity{TotalUnits: 100}}
				if interrupt {
					ac.Capacity.InterruptedBy = map[string][]string{"webchat": {"voice"}}
				}
				h := newHarness(t, Config{Channels: autoChannels("webchat", "voice"),
					Queues: []QueueConfig{{ID: "q", Members: []string{"a"}}}, Agents: []AgentConfig{ac}})
				for _, id := range []string{"c1", "c2", "c3"} {
					h.at(0).submit(WorkItem{ID: id, Queue: "q", Channel: "webchat"})
				}
				h.at(10).submit(WorkItem{ID: "call", Queue: "q", Channel: "voice"})
				if !interrupt {
					eq(t, "without interrupted_by the call waits", h.item("call").State, "waiting")
					continue
				}
				eq(t, "call offered", h.offersOf("call"), []string{"a@10"})
				eq(t, "chats stay assigned", h.item("c1").State, "assigned")
				eq(t, "active (chats on hold)", h.agent("a").Active, 1)
				h.at(70).must(h.e.Complete("call"))
				eq(t, "hold time of a chat", h.item("c2").HoldMs, ms(60))
				eq(t, "active after the call", h.agent("a").Active, 3)
				h.at(80)
				eq(t, "hold stops with the call", h.item("c2").HoldMs, ms(60))
			}
		}},
		{"R14", "steps {English ≥ 4} 30 s → {English ≥ 2} 30 s → any queue member", func(t *testing.T) {
			cfg := Config{
				Queues: []QueueConfig{{ID: "q", Members: []string{"en3", "none"}}},
				Agents: []AgentConfig{{ID: "en3", Skills: map[string]float64{"english": 3}}, {ID: "none"}}}
			steps := []Step{{Skills: map[string]float64{"english": 4}, ExpiresAfter: ms(30)}, {Skills: map[string]float64{"english": 2}, ExpiresAfter: ms(30)}}
			h := newHarness(t, cfg)
			h.at(0).submit(WorkItem{ID: "c", Queue: "q", Channel: "task", Steps: steps})
			h.at(29.999)
			eq(t, "nobody ≥ 4", h.offersOf("c"), []string(nil))
			h.at(30)
			eq(t, "after 30 s ≥ 2 eligible", h.offersOf("c"), []string{"en3@30"})

			h = newHarness(t, cfg)
			h.must(h.e.SetPresence("en3", PresenceBreak))
			h.at(0).submit(WorkItem{ID: "c", Queue: "q", Channel: "task", Steps: steps})
			h.at(59.999)
			eq(t, "step 2 has nobody available", h.offersOf("c"), []string(nil))
			h.at(60)
			eq(t, "after all steps any queue agent", h.offersOf("c"), []string{"none@60"})
			eq(t, "requirement", h.item("c").Requirement, "any member")
		}},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			t.Log(c.name)
			c.run(t)
		})
	}
}

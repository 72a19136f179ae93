package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/routing"
)

// want is the expected fate of one item: "agent offered/assigned outcome",
// with "-" for none; e.g. "bob 1/1 answered" or "- 0/- abandoned".
type want map[string]string

func fate(it ItemResult) string {
	f := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%g", *v)
	}
	agent := "-"
	if it.Agent != nil {
		agent = *it.Agent
	}
	return fmt.Sprintf("%s %s/%s %s", agent, f(it.OfferedAtS), f(it.AssignedAtS), it.Outcome)
}

func runFile(t *testing.T, name string, opt Options) *Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Load(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	res, err := Run(sc, opt)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func events(res *Result, typ string) []string {
	var out []string
	for _, ev := range res.Events {
		if ev.Type == typ {
			out = append(out, fmt.Sprintf("%s %s %s@%g", ev.Item, ev.Agent, ev.Queue, ev.AtS))
		}
	}
	return out
}

// TestVectorScenarios runs R1–R14 (ROUTING.md §3) as scenario files
// through the simulator, with every decision cross-checked by brute force.
func TestVectorScenarios(t *testing.T) {
	cases := []struct {
		file  string
		items want
		more  func(t *testing.T, r *Result)
	}{
		{"R01-order-by.json", want{"t1": "bob 1/1 answered", "t2": "alice 1/1 answered"}, nil},
		{"R02-longest-idle.json", want{"i1": "a 1/1 answered", "i2": "b 2/2 answered", "i3": "c 20/20 answered",
			"i4": "b 21/21 answered", "i5": "a 22/22 answered"}, nil},
		{"R03-strict-priority.json", want{"p5-old": "a 600/600 answered", "p5-new": "a 601/601 answered",
			"p1-old": "a 602/602 answered", "p1-new": "a 603/603 answered"}, nil},
		{"R04-cumulative-targets.json", want{"A": "w3 3/20 answered"}, func(t *testing.T, r *Result) {
			eqs(t, "timeouts", events(r, routing.EvTimedOut), []string{"A w1 Q1@8"})
			eqs(t, "targets", events(r, routing.EvTarget), []string{"A  Q2@8", "A  Q3@20"})
			eqs(t, "answered in", r.Items[0].AnsweredIn, "Q3")
		}},
		{"R05-profile-priority.json", want{"sal1": "a 10/10 answered", "sal2": "a 11/11 answered", "sup1": "a 12/12 answered"}, nil},
		{"R06-profile-delay.json", want{"sal1": "a 20/20 answered", "sup1": "a 30/30 answered", "sal2": "a 41/41 answered"}, nil},
		{"R07-case-weight.json", want{"c1": "rep 0/0 answered", "c2": "rep 1/1 answered", "c3": "rep 2/2 answered", "c4": "rep 10/10 answered"}, nil},
		{"R08-units-never-mixed.json", want{"chat1": "w 0/0 answered", "call1": "w 300/300 answered", "chat2": "w 2/2 answered",
			"chat5": "w 5/5 answered", "chat6": "w 100/100 answered"}, nil},
		{"R09-most-available-units.json", want{"x": "B 1/1 answered"}, nil},
		{"R09-most-available-pct.json", want{"x": "A 1/1 answered"}, nil},
		{"R10-decline.json", want{"w": "- 0/- abandoned", "w2": "r1 50/55 answered"}, func(t *testing.T, r *Result) {
			eqs(t, "offers of w", events(r, routing.EvOffered)[:2], []string{"w r1 q@0", "w r2 q@5"})
			eqs(t, "rejections", events(r, routing.EvRejected), []string{"w r1 q@5", "w r2 q@10"})
		}},
		{"R10-push-timeout.json", want{"w": "- 0/- abandoned", "w2": "r1 50/50 answered"}, func(t *testing.T, r *Result) {
			eqs(t, "timeouts", events(r, routing.EvTimedOut), []string{"w r1 q@20"})
			eqs(t, "offers", events(r, routing.EvOffered), []string{"w r1 q@0", "w r2 q@20", "w2 r1 q@50"})
		}},
		{"R11-drop-additional-skills.json", want{"case": "z 30/181 answered"}, func(t *testing.T, r *Result) {
			eqs(t, "offers", events(r, routing.EvOffered), []string{"case x q@30", "case y q@91", "case z q@181"})
		}},
		{"R12-least-active-hold.json", want{"new": "C 10/10 answered"}, nil},
		{"R13-voice-interrupts-chat.json", want{"call": "a 10/10 answered", "c1": "a 0/0 answered"}, func(t *testing.T, r *Result) {
			for _, it := range r.Items[:3] {
				eqs(t, it.ID+" hold", it.HoldS, 60.0)
			}
		}},
		{"R14-criteria-steps.json", want{"c": "en3 30/30 answered"}, nil},
		{"R14-criteria-exhausted.json", want{"c": "none 60/60 answered"}, nil},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".json"), func(t *testing.T) {
			r := runFile(t, c.file, Options{Check: true, Trace: true, Explain: true})
			got := want{}
			for _, it := range r.Items {
				if _, ok := c.items[it.ID]; ok {
					got[it.ID] = fate(it)
				}
			}
			eqs(t, "items", got, c.items)
			if c.more != nil {
				c.more(t, r)
			}
		})
	}
}

func eqs(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func TestStrictErrors(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [], "extra": 1}`, "extra: unknown field"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a", "service_level": {"percent": "80", "seconds": 20}}], "agents": []}`,
			"queues[0].service_level.percent: must be a number"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [{"id": "x", "capacity": {"total": 3}}]}`,
			"agents[0].capacity.total: unknown field"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [{"id": "x", "capacity": 2.5}]}`,
			"agents[0].capacity: must be a whole number"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [{"id": "x", "queues": [{"queue": "a", "prio": 1}]}]}`,
			"agents[0].queues[0].prio: unknown field"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [], "generate": {"queue": "a", "rate": 3}}`,
			"generate.rate: unknown field"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}, {"id": "b"}, {"id": "w", "targets": [{"queue": "a", "timeout_s": 0}]}], "agents": []}`,
			"queues[2].targets[0].timeout_s: must be > 0"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "w", "targets": [{"queue": "a"}, {"queue": "a"}]}, {"id": "a"}], "agents": []}`,
			"queues[0].targets[0].timeout_s: is required on every target but the last"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a", "strategy": "fastest"}], "agents": []}`,
			"queues[0].strategy: must be one of longest_idle"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a", "member_expr": "lang =="}], "agents": []}`,
			"queues[0].member_expr: unexpected end of expression"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [{"id": "x", "skills": {"en": 6}}]}`,
			"agents[0].skills.en: proficiency must be 0–5"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [{"id": "x", "capacity": {"per_channel_max": {"fax": 1}}}]}`,
			"agents[0].capacity.per_channel_max.fax: unknown channel"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [],
		   "arrivals": [{"at_s": 0, "id": "c", "queue": "a", "channel": "voice", "handle_s": 1}, {"at_s": -1, "id": "c", "queue": "b", "channel": "fax", "handle_s": 0}]}`,
			"arrivals[1].at_s: must be ≥ 0\narrivals[1].handle_s: must be > 0\narrivals[1].id: duplicate id \"c\" (also arrivals[0])\narrivals[1].queue: unknown queue \"b\""},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [],
		   "arrivals": [{"at_s": 0, "id": "c", "queue": "a", "channel": "task", "handle_s": 1, "steps": [{"skills": {"x": 9}}]}]}`,
			"arrivals[0].steps[0].skills.x: minimum proficiency must be 0–5"},
		{`{"start": "yesterday", "queues": [{"id": "a"}], "agents": []}`, "start: must be an RFC 3339 time"},
		{`{"start": "2025-06-02T09:00:00Z", "queues": [{"id": "a"}], "agents": [{"id": "x", "queues": [{"id": "a", "queue": "b"}]}]}`,
			`queue "b" and id "a" disagree`},
		{`{"queues": [{"id": "a"}], "agents": []`, "empty or truncated JSON"},
		{`{"queues": [{"id": "a"},], "agents": []}`, "line 1, column 25"},
	}
	for _, c := range cases {
		_, err := Load([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n got  %v\n want …%s…", c.doc, err, c.want)
		}
	}
}

func TestServiceLevelTreatments(t *testing.T) {
	// Cisco: 70 answered ≤ y, 10 abandoned ≤ y, 20 beyond y, 100 contacts.
	for _, c := range []struct {
		how  string
		want float64
	}{{"ignore", 70.0 / 90}, {"negative", 0.70}, {"positive", 0.80}, {"", 0.70}} {
		got, ok := ServiceLevel(70, 10, 100, c.how)
		if !ok || got != c.want {
			t.Errorf("%s: %v, want %v", c.how, got, c.want)
		}
	}
}

func TestKPIs(t *testing.T) {
	sc := &Scenario{Start: "2025-06-02T09:00:00Z", Policy: Policy{
		Channels: map[string]routing.ChannelConfig{"voice": {AutoAccept: ptr(true)}},
		Queues:   []routing.QueueConfig{{ID: "q", ServiceLevel: &routing.ServiceLevel{Percent: 80, Seconds: 20, ShortAbandonS: 2}}},
		Agents:   []Agent{{AgentConfig: routing.AgentConfig{ID: "a", Queues: []routing.AgentQueue{{Queue: "q"}}}}}}}
	// a busy 0–100; c2 waits 100 s (answered late), c3 abandons at 10 s
	// (within 20), c4 abandons at 1 s (short), c5 waits 0 after c2.
	sc.Arrivals = []Arrival{
		{AtS: 0, ID: "c1", Queue: "q", Channel: "voice", HandleS: 100},
		{AtS: 0, ID: "c2", Queue: "q", Channel: "voice", HandleS: 100},
		{AtS: 5, ID: "c3", Queue: "q", Channel: "voice", HandleS: 100, PatienceS: ptr(10.0)},
		{AtS: 6, ID: "c4", Queue: "q", Channel: "voice", HandleS: 100, PatienceS: ptr(1.0)},
		{AtS: 300, ID: "c5", Queue: "q", Channel: "voice", HandleS: 100},
	}
	r, err := Run(sc, Options{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	k := r.Queues[0].KPIs
	eqs(t, "counts", []int{k.Contacts, k.Answered, k.Abandoned, k.AnsweredWithin, k.AbandonedWithin, k.ShortAbandons}, []int{5, 3, 2, 2, 1, 1})
	eqs(t, "service level (negative, short abandon left out)", *k.ServiceLevel, 2.0/4)
	eqs(t, "asa", *k.ASAS, 100.0/3)
	eqs(t, "abandon rate", *k.AbandonRate, 2.0/5)
	eqs(t, "max wait", *k.MaxWaitS, 100.0)
	// busy 0–200 and 300–400 over 400 s logged in
	eqs(t, "occupancy", *k.Occupancy, 300.0/400)
	eqs(t, "end", r.EndS, 400.0)
	var b bytes.Buffer
	if err := WriteTable(&b, r); err != nil || !strings.Contains(b.String(), "50.0% missed") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestGenerateIsSeeded(t *testing.T) {
	doc := `{"start": "2025-06-02T09:00:00Z", "channels": {"voice": {"auto_accept": true}},
	  "queues": [{"id": "q", "service_level": {"percent": 80, "seconds": 20}}],
	  "agents": [{"id": "a", "queues": ["q"]}, {"id": "b", "queues": ["q"]}],
	  "generate": {"queue": "q", "channel": "voice", "rate_per_hour": 60, "handle_mean_s": 90, "patience_mean_s": 60, "duration_s": 7200, "seed": 42}}`
	run := func() []byte {
		sc, err := Load([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Run(sc, Options{Trace: true})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		return b
	}
	a, b := run(), run()
	if !bytes.Equal(a, b) {
		t.Fatal("two runs of the same scenario differ")
	}
	var r Result
	_ = json.Unmarshal(a, &r)
	if n := len(r.Items); n < 90 || n > 150 {
		t.Errorf("%d arrivals in 2 h at 60/h", n)
	}
}

func TestReplay(t *testing.T) {
	from := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	at := func(s float64) int64 { return from.UnixMilli() + int64(s*1000) }
	conv := func(id, ch, prio string, labels ...string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"id": id, "channel": ch, "priority": prio, "labels": labels, "inbox_id": "ib1"})
		return b
	}
	upd := func(field, to string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"changes": map[string]any{field: map[string]any{"from": "", "to": to}}})
		return b
	}
	recs := []Recorded{
		{Type: "conversation.created", ConversationID: "before", CreatedAt: at(-10), Data: conv("before", "email", "normal")},
		{Type: "conversation.created", ConversationID: "c1", CreatedAt: at(0), Data: conv("c1", "whatsapp", "high", "billing")},
		{Type: "conversation.created", ConversationID: "c2", CreatedAt: at(5), Data: conv("c2", "telegram", "normal")},
		{Type: "conversation.updated", ConversationID: "c1", CreatedAt: at(30), Data: upd("assignee_id", "u1")},
		{Type: "conversation.updated", ConversationID: "c1", CreatedAt: at(330), Data: upd("status", "resolved")},
		{Type: "conversation.created", ConversationID: "c3", CreatedAt: at(20), Data: conv("c3", "email", "low")},
		{Type: "conversation.created", ConversationID: "after", CreatedAt: at(4000), Data: conv("after", "email", "normal")},
	}
	p, err := LoadPolicy([]byte(`{
	  "queues": [{"id": "billing", "service_level": {"percent": 80, "seconds": 20}}, {"id": "general", "service_level": {"percent": 80, "seconds": 20}}],
	  "agents": [{"id": "a", "queues": ["billing", "general"]}],
	  "classify": [{"label": "billing", "queue": "billing"}, {"channel": "email", "queue": "general"}],
	  "default_handle_s": 100}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Replay(p, recs, from, from.Add(time.Hour), Options{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	eqs(t, "info", *r.Replay, ReplayInfo{From: "2025-06-02T09:00:00Z", To: "2025-06-02T10:00:00Z", Conversations: 3,
		Unrouted: 1, DefaultHandles: 1, ChannelFallbacks: 0})
	got := map[string]string{}
	for _, it := range r.Items {
		got[it.ID] = fate(it) + " " + it.Channel
	}
	// c1 (whatsapp, billing) handled 300 s as recorded; c3 waits for a
	// (whatsapp cost 20 + email 20 fit in 100 units: no wait)
	eqs(t, "items", got, map[string]string{"c1": "a 0/0 answered whatsapp", "c3": "a 20/20 answered email"})
	eqs(t, "recorded billing asa", *r.Recorded[0].KPIs.ASAS, 30.0)
	eqs(t, "recorded general", r.Recorded[1].KPIs.Waiting, 1)
	eqs(t, "simulated billing asa", *r.Queues[0].KPIs.ASAS, 0.0)

	_, err = LoadPolicy([]byte(`{"queues": [{"id": "q"}], "agents": [], "classify": [{"queue": "nope"}], "default_queue": "x"}`))
	eqs(t, "policy errors", fmt.Sprint(err), "classify[0].queue: unknown queue \"nope\"\ndefault_queue: unknown queue \"x\"")
}

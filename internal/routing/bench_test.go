package routing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// benchWorld is a steady state under item surplus: every agent is full and
// a backlog of items waits. One op completes a random assigned item; the
// freed agent's decision (pull the best visible eligible item across its
// queues, offer, auto-accept) is timed; a new arrival then keeps the
// backlog constant (its agent-surplus check finds no one with room).
type benchWorld struct {
	e        *Engine
	r        *rand.Rand
	assigned []string
	queues   []string
	qskills  [][]string
	next     int
}

func newBenchWorld(tb testing.TB, nAgents, nWaiting int) *benchWorld {
	r := rand.New(rand.NewPCG(1, 2))
	const nQueues, nSkills, nTemplates = 50, 20, 200
	w := &benchWorld{r: r}
	cfg := Config{Channels: map[string]ChannelConfig{"webchat": {AutoAccept: ptr(true)}}}
	for q := 0; q < nQueues; q++ {
		id := fmt.Sprintf("q%02d", q)
		w.queues = append(w.queues, id)
		w.qskills = append(w.qskills, []string{fmt.Sprintf("s%02d", q%nSkills), fmt.Sprintf("s%02d", (q+7)%nSkills)})
		cfg.Queues = append(cfg.Queues, QueueConfig{ID: id, Strategy: []string{LongestIdle, LeastActive, MostAvailableUnits, RoundRobin, BestSkill}[q%5]})
	}
	type tmpl struct {
		skills map[string]float64
		queues []AgentQueue
	}
	var tmpls []tmpl
	for t := 0; t < nTemplates; t++ {
		tp := tmpl{skills: map[string]float64{}}
		for _, q := range r.Perm(nQueues)[:3] {
			tp.queues = append(tp.queues, AgentQueue{Queue: w.queues[q], Tier: 1 + r.IntN(2)})
			for _, s := range w.qskills[q] {
				tp.skills[s] = float64(3 + r.IntN(3))
			}
		}
		tmpls = append(tmpls, tp)
	}
	for a := 0; a < nAgents; a++ {
		tp := tmpls[r.IntN(nTemplates)]
		cfg.Agents = append(cfg.Agents, AgentConfig{ID: fmt.Sprintf("a%05d", a), Skills: tp.skills, Queues: tp.queues,
			Capacity: Capacity{TotalUnits: 75}})
	}
	e, err := New(cfg, Options{Now: t0, OnEvent: func(ev Event) {
		if ev.Type == EvAccepted {
			w.assigned = append(w.assigned, ev.Item)
		}
	}})
	if err != nil {
		tb.Fatal(err)
	}
	w.e = e
	// fill every agent (3 chats each) and then the backlog
	for w.e.Live() < nAgents*3+nWaiting {
		w.arrive(tb)
	}
	if got := len(w.assigned); got < nAgents*3*9/10 {
		tb.Fatalf("only %d assigned", got)
	}
	return w
}

func (w *benchWorld) arrive(tb testing.TB) {
	q := w.r.IntN(len(w.queues))
	w.next++
	it := WorkItem{ID: fmt.Sprintf("i%07d", w.next), Queue: w.queues[q], Channel: "webchat", Priority: w.r.IntN(3),
		Steps: []Step{{Skills: map[string]float64{w.qskills[q][w.r.IntN(2)]: 3}}}}
	if err := w.e.Submit(it); err != nil {
		tb.Fatal(err)
	}
}

func (w *benchWorld) completeOne(tb testing.TB) {
	i := w.r.IntN(len(w.assigned))
	id := w.assigned[i]
	w.assigned[i] = w.assigned[len(w.assigned)-1]
	w.assigned = w.assigned[:len(w.assigned)-1]
	if err := w.e.Complete(id); err != nil {
		tb.Fatal(err)
	}
	w.e.Forget(id)
}

// BenchmarkMatcher: 10,000 agents, 100,000 waiting items. Reports the
// latency of one decision (release + item-surplus pick + offer + accept) at
// p50 and p99, and decisions per second.
func BenchmarkMatcher(b *testing.B) {
	w := newBenchWorld(b, 10000, 100000)
	lat := make([]time.Duration, 0, b.N)
	d0 := w.e.Decisions()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s := time.Now()
		w.completeOne(b)
		lat = append(lat, time.Since(s))
		w.arrive(b)
	}
	el := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(q(0.50), "p50-ns/decision")
	b.ReportMetric(q(0.99), "p99-ns/decision")
	b.ReportMetric(q(0.999), "p99.9-ns/decision")
	b.ReportMetric(float64(w.e.Decisions()-d0)/el.Seconds(), "decisions/s")
	if w.e.Waiting("q00") == 0 {
		b.Fatal("backlog drained: not item surplus any more")
	}
}

// BenchmarkArrival: the agent-surplus side, an arrival that finds an agent
// (1,000 idle agents, 10,000 in all).
func BenchmarkArrival(b *testing.B) {
	w := newBenchWorld(b, 10000, 0)
	// free some capacity: complete ~1/10 of the items
	for i := 0; i < 3000; i++ {
		w.completeOne(b)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := time.Now()
		w.arrive(b)
		lat = append(lat, time.Since(s))
		w.completeOne(b)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns/decision")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns/decision")
}

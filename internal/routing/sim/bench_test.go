package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/routing"
)

// BenchmarkSimulation runs a contact-centre day end to end: 500 agents in
// 10 queues with skills, chats (3 per agent) and calls, 8 hours of Poisson
// traffic at about 90 % load. Reports routing decisions per second of wall
// time (target ≥ 100,000).
func BenchmarkSimulation(b *testing.B) {
	sc := &Scenario{Start: "2025-06-02T08:00:00Z", Policy: Policy{
		Channels: map[string]routing.ChannelConfig{"voice": {AutoAccept: ptr(true)}, "webchat": {AutoAccept: ptr(true)}}}}
	for q := 0; q < 10; q++ {
		id := fmt.Sprintf("q%d", q)
		sc.Queues = append(sc.Queues, routing.QueueConfig{ID: id, Strategy: []string{routing.LongestIdle, routing.LeastActive}[q%2],
			ServiceLevel: &routing.ServiceLevel{Percent: 80, Seconds: 30}})
		ch := "webchat"
		rate := 1500.0 // per hour: 50 agents × 3 chats / 360 s handle × 3600 × 0.9 ≈ 1350
		if q%3 == 0 {
			ch, rate = "voice", 800
		}
		pat := 240.0
		sc.Generate = append(sc.Generate, Generate{Queue: id, Channel: ch, RatePerHour: rate, HandleMeanS: 360,
			PatienceMeanS: &pat, DurationS: 8 * 3600, Seed: uint64(q)})
	}
	for a := 0; a < 500; a++ {
		q := a % 10
		sc.Agents = append(sc.Agents, Agent{AgentConfig: routing.AgentConfig{ID: fmt.Sprintf("a%03d", a),
			Skills:   map[string]float64{"lang": float64(a % 5)},
			Capacity: routing.Capacity{TotalUnits: 75},
			Queues: []routing.AgentQueue{{Queue: fmt.Sprintf("q%d", q), Tier: 1},
				{Queue: fmt.Sprintf("q%d", (q+1)%10), Tier: 2, DelayS: 20}}}})
	}
	c, err := sc.compile()
	if err != nil {
		b.Fatal(err)
	}
	var decisions int64
	var wall time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cc := *c
		cc.items = append([]item(nil), c.items...)
		start := time.Now()
		r, err := run(&cc, Options{})
		wall += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		decisions += r.Decisions
	}
	b.ReportMetric(float64(decisions)/wall.Seconds(), "decisions/s")
	b.ReportMetric(float64(decisions)/float64(b.N), "decisions/run")
	b.ReportMetric(float64(len(c.items)), "arrivals/run")
}

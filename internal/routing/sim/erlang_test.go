package sim

import (
	"fmt"
	"math"
	"testing"

	"github.com/kanal-dev/kanal/internal/routing"
	"github.com/kanal-dev/kanal/internal/routing/erlang"
)

// mmn is the ROUTING.md §4.1 worked example as a scenario: 100 calls per
// 30 min, exponential AHT 180 s, 14 agents, target 80 % in 20 s; hours of
// Poisson traffic through the engine.
func mmn(hours float64, patience *float64, seed uint64) *Scenario {
	sc := &Scenario{Start: "2025-06-02T00:00:00Z", Policy: Policy{
		Channels: map[string]routing.ChannelConfig{"voice": {AutoAccept: ptr(true)}},
		Queues:   []routing.QueueConfig{{ID: "calls", ServiceLevel: &routing.ServiceLevel{Percent: 80, Seconds: 20}}}},
		Generate: Generates{{Queue: "calls", Channel: "voice", RatePerHour: 200, HandleMeanS: 180, PatienceMeanS: patience,
			DurationS: hours * 3600, Seed: seed}}}
	for i := 0; i < 14; i++ {
		sc.Agents = append(sc.Agents, Agent{AgentConfig: routing.AgentConfig{ID: fmt.Sprintf("a%02d", i),
			Queues: []routing.AgentQueue{{Queue: "calls"}}}})
	}
	return sc
}

// TestSimulationMatchesErlang: the engine's simulated M/M/14 (and
// M/M/14+M) agree with Erlang C (and A) within sampling error. Erlang is a
// sanity check of the simulator, not its model.
func TestSimulationMatchesErlang(t *testing.T) {
	if testing.Short() {
		t.Skip("long simulation")
	}
	r, err := Run(mmn(400, nil, 1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := r.Queues[0].KPIs
	if k.Contacts < 75000 {
		t.Fatalf("%d contacts", k.Contacts)
	}
	check := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s: simulated %.4f, Erlang %.4f (±%g)", what, got, want, tol)
		} else {
			t.Logf("%s: simulated %.4f, Erlang %.4f", what, got, want)
		}
	}
	check("C: service level", *k.ServiceLevel, erlang.ServiceLevel(10, 14, 180, 20), 0.015)
	check("C: ASA", *k.ASAS, erlang.ASA(10, 14, 180), 1.2)
	check("C: occupancy", *k.Occupancy, 10.0/14, 0.01)

	pat := 300.0
	r, err = Run(mmn(400, &pat, 2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	k = r.Queues[0].KPIs
	ea, _ := erlang.A(100.0/1800, 180, 300, 14, 20)
	check("A: service level", *k.ServiceLevel, ea.ServiceLevel, 0.015)
	check("A: abandon rate", *k.AbandonRate, ea.Abandon, 0.004)
	check("A: occupancy", *k.Occupancy, ea.Occupancy, 0.01)
}

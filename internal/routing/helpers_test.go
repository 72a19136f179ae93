package routing

import (
	"fmt"
	"strings"
	"testing"
)

// t0 is the tests' epoch (Unix ms).
const t0 int64 = 1_750_000_000_000

func ms(s float64) int64 { return secs(s) }

// harness runs an engine with Check on and records its events.
type harness struct {
	t      *testing.T
	e      *Engine
	events []Event
	ds     []*Decision
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t}
	e, err := New(cfg, Options{Now: t0, Check: true, Explain: true,
		OnEvent:    func(ev Event) { h.events = append(h.events, ev) },
		OnDecision: func(d *Decision) { h.ds = append(h.ds, d) }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.e = e
	return h
}

// at advances the clock to t0+s.
func (h *harness) at(s float64) *harness {
	h.e.AdvanceTo(t0 + ms(s))
	return h
}

func (h *harness) submit(w WorkItem) {
	h.t.Helper()
	if err := h.e.Submit(w); err != nil {
		h.t.Fatalf("Submit %s: %v", w.ID, err)
	}
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

// offers returns "item>agent@s" for every offer event, in order.
func (h *harness) offers() []string {
	var out []string
	for _, ev := range h.events {
		if ev.Type == EvOffered {
			out = append(out, fmt.Sprintf("%s>%s@%g", ev.Item, ev.Agent, float64(ev.At-t0)/1000))
		}
	}
	return out
}

func (h *harness) offersOf(item string) []string {
	var out []string
	for _, ev := range h.events {
		if ev.Type == EvOffered && ev.Item == item {
			out = append(out, fmt.Sprintf("%s@%g", ev.Agent, float64(ev.At-t0)/1000))
		}
	}
	return out
}

func (h *harness) eventsOf(typ string) []string {
	var out []string
	for _, ev := range h.events {
		if ev.Type == typ {
			out = append(out, fmt.Sprintf("%s/%s/%s@%g", ev.Item, ev.Agent, ev.Queue, float64(ev.At-t0)/1000))
		}
	}
	return out
}

func (h *harness) item(id string) ItemState {
	h.t.Helper()
	s, ok := h.e.Item(id)
	if !ok {
		h.t.Fatalf("no item %s", id)
	}
	return s
}

func (h *harness) agent(id string) AgentState {
	h.t.Helper()
	s, ok := h.e.Agent(id)
	if !ok {
		h.t.Fatalf("no agent %s", id)
	}
	return s
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// autoChannels makes every channel auto-accept.
func autoChannels(names ...string) map[string]ChannelConfig {
	m := map[string]ChannelConfig{}
	for _, n := range names {
		m[n] = ChannelConfig{AutoAccept: ptr(true)}
	}
	return m
}

func agents(ids string, fn func(*AgentConfig)) []AgentConfig {
	var out []AgentConfig
	for _, id := range strings.Fields(ids) {
		a := AgentConfig{ID: id}
		if fn != nil {
			fn(&a)
		}
		out = append(out, a)
	}
	return out
}

package erlang

import (
	"math"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.16g, want %.16g (±%g)", what, got, want, tol)
	}
}

// ROUTING.md §4.1: 100 calls per 30 min, AHT 180 s → A = 10 Erlangs.
var worked = []struct {
	n              int
	pw, sl, asa    float64
	occ            float64
	pwTol, slTol   float64
	asaTol, occTol float64
}{
	{11, 0.682118, 0.3896, 122.78, 0.909, 1e-6, 1e-4, 0.01, 1e-3},
	{12, 0.449388, 0.6402, 40.44, 0.833, 1e-6, 1e-4, 0.01, 1e-3},
	{13, 0.285270, 0.7956, 17.12, 0.769, 1e-6, 1e-4, 0.01, 1e-3},
	{14, 0.1741319335950498, 0.8883500191794669, 7.83593701177724, 0.7142857142857143, 1e-14, 1e-14, 1e-12, 1e-15},
	{15, 0.102042, 0.9415, 3.674, 0.667, 1e-6, 1e-4, 1e-3, 1e-3},
}

func TestErlangCWorkedExample(t *testing.T) {
	const a, aht, target = 10.0, 180.0, 20.0
	near(t, "A", 100*aht/1800, a, 0)
	for _, w := range worked {
		near(t, "Pw", C(a, w.n), w.pw, w.pwTol)
		near(t, "SL", ServiceLevel(a, w.n, aht, target), w.sl, w.slTol)
		near(t, "ASA", ASA(a, w.n, aht), w.asa, w.asaTol)
		near(t, "occupancy", a/float64(w.n), w.occ, w.occTol)
	}
	near(t, "EC-1 Pw at N=11", C(a, 11), 0.6821182, 1e-7)
}

func TestRequired(t *testing.T) {
	// EC-1
	s, err := Required(Target{Load: 10, AHTS: 180, AnswerS: 20, ServiceLevel: 0.8, MaxOccupancy: 0.85, Shrinkage: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if s.Agents != 14 || s.Scheduled != 20 {
		t.Errorf("EC-1: %d raw, %d scheduled; want 14 and 20", s.Agents, s.Scheduled)
	}
	near(t, "EC-1 SL", s.ServiceLevel, 0.8883500191794669, 1e-15)
	near(t, "EC-1 occupancy", s.Occupancy, 0.7142857142857143, 1e-16)
	near(t, "EC-1 Pw", s.Pw, 0.1741319335950498, 1e-15)
	near(t, "EC-1 ASA", s.ASAS, 7.83593701177724, 1e-13)
	// EC-2: occupancy cap 0.70
	s, err = Required(Target{Load: 10, AHTS: 180, AnswerS: 20, ServiceLevel: 0.8, MaxOccupancy: 0.70, Shrinkage: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if s.Agents != 15 || s.Scheduled != 22 {
		t.Errorf("EC-2: %d raw, %d scheduled; want 15 and 22", s.Agents, s.Scheduled)
	}
	near(t, "EC-2 SL", s.ServiceLevel, 0.94145, 5e-6)
	near(t, "EC-2 occupancy", s.Occupancy, 0.667, 5e-4)
	near(t, "EC-2 Pw", s.Pw, 0.10204, 5e-6)
	// an ASA cap
	s, _ = Required(Target{Load: 10, AHTS: 180, AnswerS: 20, ServiceLevel: 0.8, MaxASAS: 5})
	if s.Agents != 15 {
		t.Errorf("ASA ≤ 5 s: %d agents, want 15", s.Agents)
	}
	if _, err := Required(Target{Load: 10, AHTS: 180, Shrinkage: 1}); err == nil {
		t.Error("shrinkage 1 accepted")
	}
}

func TestErlangA(t *testing.T) {
	// EA-1: λ = 100 per 30 min, AHT 3 min, mean patience 5 min, N = 14, T = 20 s
	r, err := A(100.0/1800, 180, 300, 14, 20)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Pw", r.Pw, 0.14526, 5e-6)
	near(t, "P(abandon)", r.Abandon, 0.013984, 5e-7)
	near(t, "occupancy", r.Occupancy, 0.704297, 5e-7)
	near(t, "ASA (min)", r.ASAS/60, 0.069919, 5e-7)
	near(t, "SL", r.ServiceLevel, 0.916792, 5e-7)
	near(t, "Little: ASA = Lq/λ", r.ASAS, r.Lq/(100.0/1800), 1e-12)
}

func TestErlangAInvariants(t *testing.T) {
	lambda := 100.0 / 1800
	// Erlang A → Erlang C as patience → ∞
	for _, n := range []int{15, 20, 25} {
		r, err := A(lambda, 180, 1e9, n, 20)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "Pw → C", r.Pw, C(10, n), 1e-4)
		near(t, "occupancy → A/N", r.Occupancy, 10/float64(n), 1e-4)
		near(t, "SL → C", r.ServiceLevel, ServiceLevel(10, n, 180, 20), 1e-4)
	}
	// SL non-decreasing in N; less patience → more abandonment
	prev := 0.0
	for n := 10; n <= 22; n++ {
		r, _ := A(lambda, 180, 300, n, 20)
		if r.ServiceLevel < prev-1e-12 {
			t.Errorf("SL fell from %v to %v at N=%d", prev, r.ServiceLevel, n)
		}
		prev = r.ServiceLevel
	}
	patient, _ := A(lambda, 180, 1200, 14, 20)
	impatient, _ := A(lambda, 180, 60, 14, 20)
	if impatient.Abandon <= patient.Abandon {
		t.Error("impatient customers should abandon more")
	}
	// overload is stable with abandonment
	r, err := A(lambda*3, 180, 300, 14, 20)
	if err != nil || r.Abandon <= 0 || r.Abandon >= 1 || r.Occupancy > 1 {
		t.Errorf("overload: %+v %v", r, err)
	}
}

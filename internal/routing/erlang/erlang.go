// Package erlang holds the queueing formulas used to sanity-check routing
// simulations and to staff queues: Erlang B, Erlang C (waiting probability,
// service level, ASA, required agents with occupancy cap and shrinkage) and
// Erlang A (M/M/N+M, with exponential patience), from ROUTING.md §4.
//
// Notation: λ arrivals per second, AHT seconds, A = λ·AHT Erlangs, N agents,
// T the answer-time target in seconds.
package erlang

import (
	"errors"
	"math"
)

// B is the Erlang B blocking probability B(A, n), by the stable recursion
// B(A,0) = 1, B(A,n) = A·B(A,n−1) / (n + A·B(A,n−1)).
func B(a float64, n int) float64 {
	b := 1.0
	for k := 1; k <= n; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b
}

// C is the Erlang C probability of waiting Pw = N·B / (N − A·(1 − B)) for
// A < N; 1 when N ≤ A (the queue grows without bound).
func C(a float64, n int) float64 {
	if float64(n) <= a {
		return 1
	}
	b := B(a, n)
	return float64(n) * b / (float64(n) - a*(1-b))
}

// ServiceLevel is Erlang C's SL(T) = 1 − Pw·exp(−(N − A)·T/AHT).
func ServiceLevel(a float64, n int, aht, t float64) float64 {
	if float64(n) <= a {
		return 0
	}
	return 1 - C(a, n)*math.Exp(-(float64(n)-a)*t/aht)
}

// ASA is Erlang C's mean wait over all contacts, Pw·AHT/(N − A).
func ASA(a float64, n int, aht float64) float64 {
	if float64(n) <= a {
		return math.Inf(1)
	}
	return C(a, n) * aht / (float64(n) - a)
}

// Target is what a staffing calculation must meet.
type Target struct {
	// Load is the offered load A in Erlangs (λ·AHT).
	Load float64
	// AHTS is the average handle time in seconds.
	AHTS float64
	// AnswerS and ServiceLevel: answer ServiceLevel (0–1) of contacts within
	// AnswerS seconds.
	AnswerS      float64
	ServiceLevel float64
	// MaxOccupancy caps A/N (0: no cap).
	MaxOccupancy float64
	// MaxASAS caps the mean wait (0: no cap).
	MaxASAS float64
	// Shrinkage is the share of paid time agents are not available (0–1).
	Shrinkage float64
}

// Staffing is the result of Required.
type Staffing struct {
	// Agents is the smallest N meeting the target; Scheduled adds shrinkage:
	// ceil(N / (1 − shrinkage)).
	Agents       int
	Scheduled    int
	ServiceLevel float64
	Occupancy    float64
	Pw           float64
	ASAS         float64
}

// Required returns the smallest number of agents N > A with SL(T) at least
// the target, occupancy A/N within the cap and ASA within its cap.
func Required(t Target) (Staffing, error) {
	if t.Load <= 0 || t.AHTS <= 0 || t.AnswerS < 0 || t.ServiceLevel < 0 || t.ServiceLevel > 1 ||
		t.MaxOccupancy < 0 || t.MaxOccupancy > 1 || t.Shrinkage < 0 || t.Shrinkage >= 1 {
		return Staffing{}, errors.New("erlang: load and AHT must be > 0, service level and occupancy 0–1, shrinkage 0 ≤ s < 1")
	}
	for n := int(math.Floor(t.Load)) + 1; ; n++ {
		s := Staffing{Agents: n, ServiceLevel: ServiceLevel(t.Load, n, t.AHTS, t.AnswerS), Occupancy: t.Load / float64(n),
			Pw: C(t.Load, n), ASAS: ASA(t.Load, n, t.AHTS)}
		if s.ServiceLevel >= t.ServiceLevel && (t.MaxOccupancy == 0 || s.Occupancy <= t.MaxOccupancy) &&
			(t.MaxASAS == 0 || s.ASAS <= t.MaxASAS) {
			s.Scheduled = int(math.Ceil(float64(n)/(1-t.Shrinkage) - 1e-9))
			return s, nil
		}
		if n > int(t.Load)+1_000_000 {
			return Staffing{}, errors.New("erlang: target not reachable")
		}
	}
}

// AResult holds Erlang A metrics.
type AResult struct {
	// Pw is the probability an arrival waits; Abandon that it abandons.
	Pw, Abandon float64
	// Occupancy is λ(1 − P(ab)) / (N·μ).
	Occupancy float64
	// Lq is the mean queue length; ASAS = Lq/λ the mean wait over all
	// arrivals (abandoners' time until they leave included).
	Lq, ASAS float64
	// ServiceLevel is P(served within T); abandoners are not.
	ServiceLevel float64
}

// A computes Erlang A (M/M/N+M) for arrival rate lambda (per second), mean
// handle time aht and mean patience (seconds), n agents and target t
// seconds: the birth–death chain (birth λ, death min(k,N)·μ + max(k−N,0)·θ)
// truncated where its terms vanish; SL from the tagged-customer absorbing
// chain (a customer with j ahead advances at N·μ + j·θ and abandons at θ)
// by uniformization.
func A(lambda, aht, patience float64, n int, t float64) (AResult, error) {
	if lambda <= 0 || aht <= 0 || patience <= 0 || n <= 0 || t < 0 {
		return AResult{}, errors.New("erlang: rates, times and agents must be > 0")
	}
	mu, theta := 1/aht, 1/patience
	p := []float64{1}
	total := 1.0
	for k := 1; ; k++ {
		death := float64(min(k, n))*mu + float64(max(k-n, 0))*theta
		term := p[k-1] * lambda / death
		p = append(p, term)
		total += term
		if k > n && term < 1e-16*total {
			break
		}
		if term > 1e250 {
			for i := range p {
				p[i] /= 1e250
			}
			total /= 1e250
		}
		if k > n+10_000_000 {
			return AResult{}, errors.New("erlang: chain does not converge")
		}
	}
	var r AResult
	for k := range p {
		p[k] /= total
		if k >= n {
			r.Pw += p[k]
			r.Lq += float64(k-n) * p[k]
		}
	}
	r.Abandon = theta * r.Lq / lambda
	r.Occupancy = lambda * (1 - r.Abandon) / (float64(n) * mu)
	r.ASAS = r.Lq / lambda
	// service level
	served := 0.0
	for k := 0; k < n && k < len(p); k++ {
		served += p[k]
	}
	maxAhead := len(p) - 1 - n
	if maxAhead >= 0 {
		g := servedWithin(n, mu, theta, maxAhead, t)
		for k := n; k < len(p); k++ {
			served += p[k] * g[k-n]
		}
	}
	r.ServiceLevel = min(served, 1)
	return r, nil
}

// servedWithin returns G[j] = P(a waiting customer with j ahead is served
// within t), by uniformization with rate Λ = N·μ + (J+1)·θ:
// G_k(0) = N·μ/Λ + stay(0)·G_{k−1}(0), G_k(j) = adv(j)·G_{k−1}(j−1) +
// stay(j)·G_{k−1}(j), and G = Σ_k Poisson(k; Λt)·G_k.
func servedWithin(n int, mu, theta float64, maxAhead int, t float64) []float64 {
	rate := float64(n)*mu + float64(maxAhead)*theta + theta
	lt := rate * t
	steps := int(lt+10*math.Sqrt(lt)) + 50
	prev := make([]float64, maxAhead+1)
	cur := make([]float64, maxAhead+1)
	out := make([]float64, maxAhead+1)
	logPois := -lt // Poisson weights in logs: e^(−Λt) underflows for large Λt
	for k := 1; k <= steps; k++ {
		for j := 0; j <= maxAhead; j++ {
			adv := float64(n)*mu + float64(j)*theta
			stay := (rate - adv - theta) / rate
			if j == 0 {
				cur[0] = adv/rate + stay*prev[0]
			} else {
				cur[j] = adv/rate*prev[j-1] + stay*prev[j]
			}
		}
		prev, cur = cur, prev
		logPois += math.Log(lt) - math.Log(float64(k))
		pois := math.Exp(logPois)
		for j := range out {
			out[j] += pois * prev[j]
		}
	}
	return out
}

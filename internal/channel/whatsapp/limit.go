package whatsapp

import (
	"sync"
	"time"
)

// pairLimiter is a token bucket per (business number, recipient): burst
// messages at once, then one every "every". It lives in memory, so each
// Kanal node limits on its own; Meta's 131056 answer is the backstop.
type pairLimiter struct {
	mu      sync.Mutex
	burst   float64
	every   time.Duration
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newPairLimiter(burst int, every time.Duration, now func() time.Time) *pairLimiter {
	return &pairLimiter{burst: float64(burst), every: every, now: now, buckets: map[string]*bucket{}}
}

// take spends one token of key's bucket. When none is left it returns how
// long until the next one and false.
func (l *pairLimiter) take(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= 100000 {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait := time.Duration((1 - b.tokens) * float64(l.every))
	return max(wait, time.Second), false
}

func (l *pairLimiter) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.at); el > 0 {
		b.tokens = min(l.burst, b.tokens+float64(el)/float64(l.every))
		b.at = now
	}
}

// sweep forgets the buckets that are full again (they hold no state).
func (l *pairLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// progress remembers, per Kanal message, the WhatsApp ids of the parts of a
// multi-part reply already sent, so a retry after a failure half-way sends
// only the rest. In memory: a restart in between may repeat parts.
type progress struct {
	mu   sync.Mutex
	sent map[string]partial
}

type partial struct {
	ids map[int]string
	at  time.Time
}

func newProgress() *progress { return &progress{sent: map[string]partial{}} }

func (p *progress) get(messageID string) map[int]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int]string{}
	for i, id := range p.sent[messageID].ids {
		out[i] = id
	}
	return out
}

func (p *progress) set(messageID string, part int, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.sent[messageID]
	if !ok {
		if len(p.sent) >= 10000 {
			for k, v := range p.sent {
				if time.Since(v.at) > 24*time.Hour {
					delete(p.sent, k)
				}
			}
		}
		e = partial{ids: map[int]string{}}
	}
	e.ids[part], e.at = id, time.Now()
	p.sent[messageID] = e
}

func (p *progress) forget(messageID string) {
	p.mu.Lock()
	delete(p.sent, messageID)
	p.mu.Unlock()
}

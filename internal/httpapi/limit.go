package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter keeps one token bucket per key (an IP, an e-mail), forgetting
// keys unused for a while.
type keyedLimiter struct {
	mu   sync.Mutex
	m    map[string]*limiterEntry
	last time.Time
}

type limiterEntry struct {
	l    *rate.Limiter
	seen time.Time
}

func newKeyedLimiter() *keyedLimiter { return &keyedLimiter{m: map[string]*limiterEntry{}} }

// allow takes a token from key's bucket (refilled every per, holding burst).
func (k *keyedLimiter) allow(key string, per time.Duration, burst int) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if now.Sub(k.last) > time.Minute {
		for key, e := range k.m {
			if now.Sub(e.seen) > 30*time.Minute {
				delete(k.m, key)
			}
		}
		k.last = now
	}
	e, ok := k.m[key]
	if !ok {
		e = &limiterEntry{l: rate.NewLimiter(rate.Every(per), burst)}
		k.m[key] = e
	}
	e.seen = now
	r := e.l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

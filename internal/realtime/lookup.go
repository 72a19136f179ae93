package realtime

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
)

// convCache remembers which workspace a conversation belongs to, so typing
// frames do not reach the database: at most one lookup per conversation per
// ttl, shared by every socket asking meanwhile. Events seen on the bus mark
// their conversations as known without a lookup.
type convCache struct {
	ttl    time.Duration
	lookup func(ctx context.Context, workspaceID, id string) error
	mu     sync.Mutex
	m      map[convKey]*convEntry
}

type convKey struct{ workspace, id string }

type convEntry struct {
	ready chan struct{} // closed when the lookup is done
	ok    bool
	err   error
	at    time.Time
}

// maxConvEntries bounds the cache; past it, expired entries go, then all.
const maxConvEntries = 100_000

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func newConvCache(ttl time.Duration, lookup func(ctx context.Context, workspaceID, id string) error) *convCache {
	return &convCache{ttl: ttl, lookup: lookup, m: map[convKey]*convEntry{}}
}

// check tells whether the conversation exists in the workspace.
func (cc *convCache) check(ctx context.Context, workspaceID, id string) (bool, error) {
	k := convKey{workspaceID, id}
	cc.mu.Lock()
	e := cc.m[k]
	if e != nil {
		select {
		case <-e.ready:
			if time.Since(e.at) < cc.ttl {
				cc.mu.Unlock()
				return e.ok, nil
			}
		default: // a lookup is running: wait for it
			cc.mu.Unlock()
			select {
			case <-e.ready:
				return e.ok, e.err
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
	}
	cc.evictLocked()
	e = &convEntry{ready: make(chan struct{})}
	cc.m[k] = e
	cc.mu.Unlock()

	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	err := cc.lookup(lctx, workspaceID, id)
	cancel()
	cc.mu.Lock()
	switch {
	case err == nil:
		e.ok = true
	case errors.Is(err, errs.ErrNotFound):
	default:
		e.err = err
		if cc.m[k] == e {
			delete(cc.m, k) // do not cache a failure
		}
	}
	e.at = time.Now()
	close(e.ready)
	cc.mu.Unlock()
	return e.ok, e.err
}

// known records that an event's conversation is in its workspace.
func (cc *convCache) known(ev event.Event) {
	if ev.ConversationID == "" {
		return
	}
	k := convKey{ev.WorkspaceID, ev.ConversationID}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if e := cc.m[k]; e != nil {
		select {
		case <-e.ready:
		default:
			return // a lookup is running; it will say the same
		}
	}
	cc.evictLocked()
	cc.m[k] = &convEntry{ready: closedChan, ok: true, at: time.Now()}
}

func (cc *convCache) evictLocked() {
	if len(cc.m) < maxConvEntries {
		return
	}
	now := time.Now()
	for k, e := range cc.m {
		select {
		case <-e.ready:
			if now.Sub(e.at) >= cc.ttl {
				delete(cc.m, k)
			}
		default:
		}
	}
	if len(cc.m) >= maxConvEntries {
		for k, e := range cc.m {
			select {
			case <-e.ready:
				delete(cc.m, k)
			default:
			}
		}
	}
}

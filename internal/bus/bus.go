// Package bus carries committed events to the consumers inside a node
// (in-process) and, later, across nodes (NATS). Publishers never block on a
// slow subscriber: each subscription has a bounded queue and is told when it
// overflowed, so it can resume from the event log by seq.
package bus

import (
	"sync"

	"github.com/kanal-dev/kanal/internal/event"
)

// Bus publishes events to subscribers.
type Bus interface {
	Publish(evs []event.Event)
	Subscribe(buffer int) *Subscription
	Close()
}

// Subscription receives published events on C. When its buffer is full the
// bus drops it: C is closed and Overflowed reports true.
type Subscription struct {
	C          <-chan event.Event
	c          chan event.Event
	overflowed bool
	closed     bool
	bus        *InProc
}

// Overflowed tells whether the subscription was dropped for being too slow.
func (s *Subscription) Overflowed() bool {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.overflowed
}

// Unsubscribe stops delivery and closes C.
func (s *Subscription) Unsubscribe() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	s.bus.remove(s)
}

// InProc is the in-process bus of a single node.
type InProc struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// NewInProc returns an empty in-process bus.
func NewInProc() *InProc { return &InProc{subs: map[*Subscription]struct{}{}} }

// Subscribe adds a subscription with a queue of buffer events.
func (b *InProc) Subscribe(buffer int) *Subscription {
	c := make(chan event.Event, buffer)
	s := &Subscription{C: c, c: c, bus: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Publish hands evs to every subscriber without blocking.
func (b *InProc) Publish(evs []event.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		for _, e := range evs {
			select {
			case s.c <- e:
			default:
				s.overflowed = true
				b.remove(s)
			}
			if s.closed {
				break
			}
		}
	}
}

func (b *InProc) remove(s *Subscription) {
	if s.closed {
		return
	}
	s.closed = true
	delete(b.subs, s)
	close(s.c)
}

// Close drops every subscription.
func (b *InProc) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		b.remove(s)
	}
}

package bus

import (
	"testing"

	"github.com/kanal-dev/kanal/internal/event"
)

func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	b := NewInProc()
	fast := b.Subscribe(100)
	slow := b.Subscribe(2)
	evs := []event.Event{{Seq: 1}, {Seq: 2}, {Seq: 3}}
	b.Publish(evs) // must not block on slow
	if !slow.Overflowed() {
		t.Fatal("slow subscriber should be marked overflowed")
	}
	n := 0
	for range slow.C { // closed after its buffered events
		n++
	}
	if n != 2 {
		t.Fatalf("slow got %d events before being dropped", n)
	}
	for i := 1; i <= 3; i++ {
		if e := <-fast.C; e.Seq != int64(i) {
			t.Fatalf("fast got seq %d", e.Seq)
		}
	}
	fast.Unsubscribe()
	if _, ok := <-fast.C; ok {
		t.Fatal("unsubscribed channel must be closed")
	}
	b.Publish(evs) // no subscribers: fine
}

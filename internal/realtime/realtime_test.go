package realtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
)

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		role auth.Role
		typ  string
		want bool
	}{
		{auth.RoleAgent, event.MessageCreated, true},
		{auth.RoleAgent, event.TokenCreated, false},
		{auth.RoleAgent, event.TokenRevoked, false},
		{auth.RoleAgent, event.JobDead, false},
		{auth.RoleSupervisor, event.TokenCreated, false},
		{auth.RoleAdmin, event.TokenCreated, true},
		{auth.RoleAdmin, event.JobDead, true},
		{auth.RoleOwner, event.JobDead, true},
		{auth.RoleAgent, "conversation.read", true},
		{auth.Role("nobody"), event.MessageCreated, false},
	} {
		if got := allowed(tc.role, tc.typ); got != tc.want {
			t.Errorf("allowed(%s, %s) = %v, want %v", tc.role, tc.typ, got, tc.want)
		}
	}
}

func TestConvCacheLooksUpOncePerTTL(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	cc := newConvCache(time.Hour, func(ctx context.Context, ws, id string) error {
		calls.Add(1)
		<-release
		if id == "missing" {
			return fmt.Errorf("conversation %s: %w", id, errs.ErrNotFound)
		}
		return nil
	})
	ctx := context.Background()
	// Many sockets ask at once: one lookup answers them all.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := cc.check(ctx, "w", "c"); !ok || err != nil {
				t.Errorf("check: %v %v", ok, err)
			}
		}()
	}
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for range 5 {
		if ok, _ := cc.check(ctx, "w", "c"); !ok {
			t.Fatal("cached answer lost")
		}
		if ok, err := cc.check(ctx, "w", "missing"); ok || err != nil {
			t.Fatalf("missing: %v %v", ok, err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2 (one per conversation)", n)
	}
	// Another workspace is another key.
	if ok, _ := cc.check(ctx, "other", "c"); !ok || calls.Load() != 3 {
		t.Fatalf("other workspace: %v, %d lookups", ok, calls.Load())
	}
	// An event names a conversation: known without a lookup.
	cc.known(event.Event{WorkspaceID: "w", ConversationID: "new"})
	if ok, _ := cc.check(ctx, "w", "new"); !ok || calls.Load() != 3 {
		t.Fatalf("known: %v, %d lookups", ok, calls.Load())
	}
}

func TestConvCacheFailuresAndExpiry(t *testing.T) {
	var calls atomic.Int32
	fail := errors.New("database down")
	var err atomic.Pointer[error]
	err.Store(&fail)
	cc := newConvCache(0, func(ctx context.Context, ws, id string) error {
		calls.Add(1)
		return *err.Load()
	})
	ctx := context.Background()
	if _, e := cc.check(ctx, "w", "c"); !errors.Is(e, fail) {
		t.Fatalf("failure: %v", e)
	}
	var none error
	err.Store(&none)
	// A failure is not cached; with a zero TTL every check looks up again.
	for range 3 {
		if ok, e := cc.check(ctx, "w", "c"); !ok || e != nil {
			t.Fatalf("check: %v %v", ok, e)
		}
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("%d lookups, want 4", n)
	}
}

// Package realtime pushes the event log and short-lived signals (presence,
// typing) to agents over WebSockets. The protocol is described in
// docs/realtime.md.
//
// One Hub runs per node. It reads committed events from one bus
// subscription and fans them out through sharded hub goroutines (sockets are
// grouped by workspace, a workspace lives on one shard). Every socket has a
// bounded send queue drained by its own writer goroutine; the hub never
// blocks on a socket: a socket whose queue is full is closed (1013, "slow
// consumer") and resumes from the log when it reconnects. Events carry the
// workspace's gap-free seq, so a socket that reconnects with ?after=SEQ gets
// exactly what it missed, replayed from the log, and then the live feed.
package realtime

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/bus"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Protocol limits.
const (
	// MaxFrame is the largest frame a client may send; a larger one closes
	// the socket with 1009.
	MaxFrame = 4096
	// replayPage is how many events one read of the log returns while a
	// socket catches up.
	replayPage = 500
	// TypingTimeout is how long a client treats a typing:true as valid
	// without a newer typing frame. The server sends nothing when it lapses.
	TypingTimeout = 6 * time.Second
)

// Close codes the hub uses besides the standard ones.
const (
	// StatusResync closes a socket after a {"type":"resync"} frame: the hub
	// may have lost events for it; reconnect with ?after=<last seq>.
	StatusResync websocket.StatusCode = 4000
)

// Options tune a Hub; zero values take the defaults.
type Options struct {
	QueueSize     int           // frames waiting for one socket's writer (256)
	CatchUpBuffer int           // live frames held while a socket replays the log (4096)
	PingInterval  time.Duration // WebSocket ping every (25 s)
	PongTimeout   time.Duration // close a socket that does not answer a ping within (60 s)
	WriteTimeout  time.Duration // one frame's write may take at most (10 s)
	PresenceGrace time.Duration // a member goes offline this long after their last socket closed (30 s)
	LookupTTL     time.Duration // how long a conversation's workspace check is cached (1 min)
	Shards        int           // hub goroutines (GOMAXPROCS)
	BusBuffer     int           // the bus subscription's queue (8192)
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueSize, 256)
	def(&o.CatchUpBuffer, 4096)
	def(&o.Shards, runtime.GOMAXPROCS(0))
	def(&o.BusBuffer, 8192)
	defd(&o.PingInterval, 25*time.Second)
	defd(&o.PongTimeout, 60*time.Second)
	defd(&o.WriteTimeout, 10*time.Second)
	defd(&o.PresenceGrace, 30*time.Second)
	defd(&o.LookupTTL, time.Minute)
}

// Conversations finds a conversation of a workspace; conversation.Service
// implements it. The hub uses it to check typing frames.
type Conversations interface {
	Get(ctx context.Context, workspaceID, id string) (conversation.Conversation, error)
}

// Members reads a member's current role; auth.Service implements it.
type Members interface {
	Member(ctx context.Context, workspaceID, userID string) (auth.Member, error)
}

// Deps are what the hub reads from.
type Deps struct {
	Bus           bus.Bus
	Log           *event.Log
	DB            *store.DB
	Conversations Conversations
	Members       Members
	Logger        *slog.Logger
}

// Hub fans events and signals out to the sockets of this node.
type Hub struct {
	d      Deps
	o      Options
	log    *slog.Logger
	sub    *bus.Subscription
	shards []*shard
	convs  *convCache

	mu      sync.Mutex // guards closing and conns.Add
	closing bool
	conns   sync.WaitGroup
	open    atomic.Int64
	ran     atomic.Bool
	stopped atomic.Bool // set by Shutdown: no more grace timers
}

// New returns a hub. It subscribes to the bus at once, so that no event
// committed after New returns is missed; call Run to start delivering.
func New(d Deps, o Options) *Hub {
	o.defaults()
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{d: d, o: o, log: d.Logger}
	h.convs = newConvCache(o.LookupTTL, func(ctx context.Context, workspaceID, id string) error {
		_, err := d.Conversations.Get(ctx, workspaceID, id)
		return err
	})
	h.shards = make([]*shard, o.Shards)
	for i := range h.shards {
		h.shards[i] = &shard{h: h, in: make(chan shardItem, 1024), rooms: map[string]*room{}}
	}
	h.sub = d.Bus.Subscribe(o.BusBuffer)
	return h
}

// Connections is the number of open sockets on this node (for a gauge).
func (h *Hub) Connections() int { return int(h.open.Load()) }

// Run delivers events until ctx ends. When the bus drops the hub's
// subscription for being too slow, the hub subscribes again and tells every
// socket to resync, since events may have been lost in between.
func (h *Hub) Run(ctx context.Context) error {
	if h.ran.Swap(true) {
		return fmt.Errorf("realtime: Run called twice")
	}
	var wg sync.WaitGroup
	for _, s := range h.shards {
		wg.Add(1)
		go func() { defer wg.Done(); s.run() }()
	}
	sub := h.sub
	defer func() {
		// Without the feed, open sockets would silently go stale.
		h.closeAll()
		sub.Unsubscribe()
		for _, s := range h.shards {
			close(s.in)
		}
		wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C:
			var it shardItem
			if !ok {
				if !sub.Overflowed() {
					return nil // the bus was closed
				}
				h.log.Warn("realtime: the hub fell behind the bus; every socket must resync")
				// Subscribe before telling the shards: a socket that registers
				// after its shard handled the resync gets every later event.
				sub = h.d.Bus.Subscribe(h.o.BusBuffer)
				for _, s := range h.shards {
					select {
					case s.in <- shardItem{resync: true}:
					case <-ctx.Done():
						return nil
					}
				}
				continue
			}
			it.ev = ev
			select {
			case h.shardOf(ev.WorkspaceID).in <- it:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// Shutdown closes every socket with 1001 (going away), refuses new ones and
// waits until their goroutines are done or ctx ends. Call it after the HTTP
// server's Shutdown: hijacked connections are not part of that drain.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.closeAll()
	done := make(chan struct{})
	go func() { h.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeAll refuses new sockets and closes the open ones with 1001.
func (h *Hub) closeAll() {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.stopped.Store(true)
	for _, s := range h.shards {
		s.mu.Lock()
		for _, r := range s.rooms {
			for c := range r.conns {
				c.kill(websocket.StatusGoingAway, "server shutting down", nil, false)
			}
			for _, p := range r.presence {
				if p.timer != nil {
					p.timer.Stop()
				}
			}
		}
		s.mu.Unlock()
	}
}

// Presence is one member's presence on this node.
type Presence struct {
	UserID string `json:"user_id"`
	Status string `json:"status"` // online, away or offline
	Since  int64  `json:"since"`  // Unix ms of the last change
}

// Presence states.
const (
	Online  = "online"
	Away    = "away"
	Offline = "offline"
)

// Presence returns what this node knows about the workspace's members:
// those with an open socket, in their grace period, or seen offline since
// the node started. Members not listed are offline.
func (h *Hub) Presence(workspaceID string) []Presence {
	s := h.shardOf(workspaceID)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[workspaceID]
	if r == nil {
		return nil
	}
	out := make([]Presence, 0, len(r.presence))
	for uid, p := range r.presence {
		out = append(out, Presence{UserID: uid, Status: p.status, Since: p.since})
	}
	return out
}

func (h *Hub) shardOf(workspaceID string) *shard {
	f := fnv.New32a()
	_, _ = f.Write([]byte(workspaceID))
	return h.shards[f.Sum32()%uint32(len(h.shards))]
}

// lastSeq is the workspace's newest seq.
func (h *Hub) lastSeq(ctx context.Context, workspaceID string) (int64, error) {
	r := h.d.DB.Reader()
	var n int64
	if err := r.QueryRow(ctx, q.Get(r.Dialect(), "last-seq"), workspaceID).Scan(&n); err != nil {
		return 0, fmt.Errorf("realtime: last seq: %w", err)
	}
	return n, nil
}

// register adds c to its workspace; false when the hub is shutting down.
func (h *Hub) register(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.conns.Add(1)
	h.open.Add(1)
	s := c.shard
	s.mu.Lock()
	r := s.rooms[c.p.WorkspaceID]
	if r == nil {
		r = &room{conns: map[*conn]struct{}{}, presence: map[string]*presence{}}
		s.rooms[c.p.WorkspaceID] = r
	}
	r.conns[c] = struct{}{}
	s.joinLocked(r, c)
	s.mu.Unlock()
	return true
}

func (h *Hub) unregister(c *conn) {
	s := c.shard
	s.mu.Lock()
	if r := s.rooms[c.p.WorkspaceID]; r != nil {
		if _, ok := r.conns[c]; ok {
			delete(r.conns, c)
			s.leaveLocked(r, c)
			h.open.Add(-1)
		}
	}
	s.mu.Unlock()
}

// shard is one hub goroutine and the workspaces hashed to it.
type shard struct {
	h     *Hub
	in    chan shardItem
	mu    sync.Mutex
	rooms map[string]*room
}

type shardItem struct {
	ev     event.Event
	resync bool
}

// room is a workspace's sockets and presence on this node.
type room struct {
	conns    map[*conn]struct{}
	presence map[string]*presence
}

func (s *shard) run() {
	for it := range s.in {
		if it.resync {
			s.resyncAll()
			continue
		}
		s.deliver(it.ev)
	}
}

func (s *shard) deliver(ev event.Event) {
	s.h.convs.known(ev)
	frame := eventFrame(ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[ev.WorkspaceID]
	if r == nil {
		return
	}
	for c := range r.conns {
		c.liveEventLocked(ev, frame)
	}
}

func (s *shard) resyncAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rooms {
		for c := range r.conns {
			c.kill(StatusResync, "resync", resyncFrame, false)
		}
	}
}

// broadcastLocked sends an ephemeral frame to every socket of the room but
// skip (which may be nil).
func (s *shard) broadcastLocked(r *room, frame []byte, skip *conn) {
	for c := range r.conns {
		if c != skip {
			c.ephemeralLocked(frame)
		}
	}
}

// typing relays a typing frame of c to the other sockets of its workspace.
func (h *Hub) typing(c *conn, conversationID string, on bool) {
	frame := mustJSON(typingOut{Type: "typing", ConversationID: conversationID, UserID: c.p.UserID, Typing: on})
	s := c.shard
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[c.p.WorkspaceID]; r != nil {
		s.broadcastLocked(r, frame, c)
	}
}

// allowed tells whether a member with role may see events of type typ.
func allowed(role auth.Role, typ string) bool {
	switch {
	case strings.HasPrefix(typ, "token."):
		return auth.Can(role, auth.PermManageUsers)
	case strings.HasPrefix(typ, "job."):
		return auth.Can(role, auth.PermManageJobs)
	}
	return role.Valid()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

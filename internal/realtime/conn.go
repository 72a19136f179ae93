package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
)

// conn is one socket. Three goroutines serve it: Serve's (catch-up, then
// heartbeats), a reader (client frames) and a writer (the only one that
// writes data frames and closes the socket).
type conn struct {
	h     *Hub
	shard *shard
	ws    *websocket.Conn
	p     auth.Principal // p.Role follows membership.changed events

	send       chan []byte
	done       chan struct{} // closed by kill
	writerDone chan struct{}
	readerDone chan struct{}
	once       sync.Once
	dead       atomic.Bool
	// How the writer ends the socket; set by kill before done closes.
	closeCode   websocket.StatusCode
	closeReason string
	closeFrame  []byte
	closeNow    bool

	// Events after this seq may change p; older ones are in p already. Set
	// by Serve's goroutine before the socket goes live.
	authFrom int64

	// Guarded by shard.mu.
	live     bool   // caught up: live events go straight to send
	lastSeq  int64  // the newest seq handled (sent or filtered out)
	pending  []held // live frames that arrived while catching up
	overflow bool   // pending was full: replay the log again
	status   string // online or away, as the client said
}

// held is a frame kept while the socket catches up; ev is nil for presence,
// typing and error frames.
type held struct {
	ev    *event.Event
	frame []byte
}

var errGone = errors.New("realtime: socket closed")

// Serve runs a socket accepted by the HTTP layer until it closes. p is the
// authenticated member. With resume, the events with seq > after are
// replayed first; without, the socket starts live at the workspace's newest
// seq, which the hello frame tells.
func (h *Hub) Serve(ws *websocket.Conn, p auth.Principal, after int64, resume bool) {
	ws.SetReadLimit(MaxFrame)
	c := &conn{h: h, shard: h.shardOf(p.WorkspaceID), ws: ws, p: p,
		send: make(chan []byte, h.o.QueueSize), done: make(chan struct{}),
		writerDone: make(chan struct{}), readerDone: make(chan struct{})}
	// Register before reading the log: whatever commits from now on is held
	// in pending and merged by seq after the replay, so nothing falls in
	// between.
	if !h.register(c) {
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer h.conns.Done()
	go c.writeLoop()
	go c.readLoop()
	if err := c.catchUp(after, resume); err != nil && !errors.Is(err, errGone) {
		h.log.Warn("realtime: catch-up failed", "workspace", p.WorkspaceID, "err", err)
		c.kill(websocket.StatusTryAgainLater, "could not read the event log", nil, false)
	}
	c.heartbeat()
	h.unregister(c)
	<-c.writerDone
	<-c.readerDone
}

// kill ends the socket once: the writer sends frame (if any) and closes
// with code, or drops the connection at once when now is set. It never
// blocks, so the hub may call it holding a shard lock.
func (c *conn) kill(code websocket.StatusCode, reason string, frame []byte, now bool) {
	c.once.Do(func() {
		c.closeCode, c.closeReason, c.closeFrame, c.closeNow = code, reason, frame, now
		c.dead.Store(true)
		close(c.done)
	})
}

func (c *conn) slow() {
	c.kill(websocket.StatusTryAgainLater, "slow consumer", nil, false)
}

// offer queues a frame without blocking; a full queue drops the socket.
func (c *conn) offer(frame []byte) {
	select {
	case c.send <- frame:
	default:
		c.slow()
	}
}

// push queues a frame, waiting for room; only Serve's goroutine uses it,
// while catching up.
func (c *conn) push(frame []byte) error {
	select {
	case c.send <- frame:
		return nil
	case <-c.done:
		return errGone
	}
}

// holdLocked keeps a frame for after the catch-up.
func (c *conn) holdLocked(h held) {
	if h.ev == nil && c.overflow {
		return
	}
	if len(c.pending) >= c.h.o.CatchUpBuffer {
		// The events are in the log and will be replayed; presence and
		// typing frames are lost, which they may be.
		c.pending, c.overflow = nil, true
		if h.ev != nil {
			return
		}
	}
	c.pending = append(c.pending, h)
}

// ephemeralLocked sends a presence, typing or error frame.
func (c *conn) ephemeralLocked(frame []byte) {
	if c.dead.Load() {
		return
	}
	if !c.live {
		c.holdLocked(held{frame: frame})
		return
	}
	c.offer(frame)
}

// ephemeral is ephemeralLocked for callers without the shard lock.
func (c *conn) ephemeral(frame []byte) {
	c.shard.mu.Lock()
	defer c.shard.mu.Unlock()
	c.ephemeralLocked(frame)
}

// liveEventLocked handles an event of the socket's workspace from the bus.
func (c *conn) liveEventLocked(ev event.Event, frame []byte) {
	if c.dead.Load() {
		return
	}
	if !c.live {
		c.holdLocked(held{ev: &ev, frame: frame})
		return
	}
	if ev.Seq <= c.lastSeq {
		return // already sent by the replay
	}
	if ev.Seq != c.lastSeq+1 {
		// An event never reached the hub: let the client fill the gap
		// from the log.
		c.kill(StatusResync, "resync", resyncFrame, false)
		return
	}
	c.lastSeq = ev.Seq
	if c.deliverable(ev) {
		c.offer(frame)
	}
}

// deliverable applies what an event means for the socket itself (a role
// change, a removal, a revoked token) and tells whether to send it. Called
// in seq order, by Serve's goroutine while catching up and by the shard's
// afterwards. Events up to authFrom are history: the member was read after
// them, so a replayed old removal does not close a re-added member's socket.
func (c *conn) deliverable(ev event.Event) bool {
	if ev.Seq <= c.authFrom {
		return allowed(c.p.Role, ev.Type)
	}
	switch ev.Type {
	case event.MembershipChanged, event.MembershipRemoved, event.TokenRevoked:
		var d struct {
			UserID string    `json:"user_id"`
			Role   auth.Role `json:"role"`
			ID     string    `json:"id"`
		}
		if json.Unmarshal(ev.Data, &d) != nil {
			break
		}
		switch {
		case ev.Type == event.MembershipChanged && d.UserID == c.p.UserID && d.Role.Valid():
			c.p.Role = d.Role
		case ev.Type == event.MembershipRemoved && d.UserID == c.p.UserID:
			c.kill(websocket.StatusPolicyViolation, "membership removed", nil, false)
			return false
		case ev.Type == event.TokenRevoked && c.p.TokenID != "" && d.ID == c.p.TokenID:
			c.kill(websocket.StatusPolicyViolation, "token revoked", nil, false)
			return false
		}
	}
	return allowed(c.p.Role, ev.Type)
}

// catchUp sends hello, replays the log after the client's cursor, then the
// frames held meanwhile, and switches the socket to live.
func (c *conn) catchUp(after int64, resume bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	head, err := c.h.lastSeq(ctx, c.p.WorkspaceID)
	if err != nil {
		return err
	}
	// Read the member after head: changes up to head are in what we read,
	// later ones arrive as events.
	c.authFrom = head
	if c.h.d.Members != nil {
		m, err := c.h.d.Members.Member(ctx, c.p.WorkspaceID, c.p.UserID)
		if errors.Is(err, errs.ErrNotFound) {
			c.kill(websocket.StatusPolicyViolation, "membership removed", nil, false)
			return errGone
		}
		if err != nil {
			return err
		}
		c.p.Role = m.Role
	}
	hello := helloOut{Type: "hello", WorkspaceID: c.p.WorkspaceID, UserID: c.p.UserID, LastSeq: head}
	last := head
	if resume {
		if after > head {
			hello.Reset = true
		} else {
			hello.After, last = &after, after
		}
	}
	if err := c.push(mustJSON(hello)); err != nil {
		return err
	}
	replay := last < head
	for {
		if replay {
			for {
				evs, err := c.h.d.Log.After(ctx, c.p.WorkspaceID, last, replayPage)
				if err != nil {
					if c.dead.Load() {
						return errGone
					}
					return err
				}
				for _, ev := range evs {
					last = ev.Seq
					if c.deliverable(ev) {
						if err := c.push(eventFrame(ev)); err != nil {
							return err
						}
					} else if c.dead.Load() {
						return errGone
					}
				}
				if len(evs) < replayPage {
					break
				}
			}
		}
		c.shard.mu.Lock()
		if c.dead.Load() {
			c.shard.mu.Unlock()
			return errGone
		}
		if c.overflow {
			c.overflow, c.pending, replay = false, nil, true
			c.shard.mu.Unlock()
			continue
		}
		if len(c.pending) == 0 {
			c.live, c.lastSeq = true, last
			c.shard.mu.Unlock()
			return nil
		}
		items := c.pending
		c.pending = nil
		c.shard.mu.Unlock()
		replay = false
		for _, it := range items {
			if it.ev == nil {
				if err := c.push(it.frame); err != nil {
					return err
				}
				continue
			}
			if replay || it.ev.Seq <= last {
				continue
			}
			if it.ev.Seq != last+1 {
				replay = true // a gap: read it from the log
				continue
			}
			last = it.ev.Seq
			if c.deliverable(*it.ev) {
				if err := c.push(it.frame); err != nil {
					return err
				}
			} else if c.dead.Load() {
				return errGone
			}
		}
	}
}

// heartbeat pings the client until the socket ends; a client that does not
// answer a ping within PongTimeout is dropped.
func (c *conn) heartbeat() {
	t := time.NewTicker(c.h.o.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.h.o.PongTimeout)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			c.kill(websocket.StatusGoingAway, "no answer to ping", nil, true)
			return
		}
	}
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	for {
		select {
		case <-c.done:
			c.finish()
			return
		case f := <-c.send:
			if err := c.write(f); err != nil {
				c.kill(websocket.StatusGoingAway, "write failed", nil, true)
				c.finish()
				return
			}
		}
	}
}

func (c *conn) write(frame []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.h.o.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, frame)
}

// finish closes the socket the way kill asked.
func (c *conn) finish() {
	if c.closeNow {
		_ = c.ws.CloseNow()
		return
	}
	if c.closeFrame != nil {
		if err := c.write(c.closeFrame); err != nil {
			_ = c.ws.CloseNow()
			return
		}
	}
	_ = c.ws.Close(c.closeCode, c.closeReason)
}

func (c *conn) readLoop() {
	defer close(c.readerDone)
	for {
		// No deadline: a cancelled read context would drop the connection
		// without a close frame. Heartbeats catch dead peers.
		typ, b, err := c.ws.Read(context.Background())
		if errors.Is(err, websocket.ErrMessageTooBig) {
			// The library has sent 1009; close gracefully, which also
			// drains the rest of the frame (closing with unread data would
			// reset the connection and could lose the close frame).
			c.kill(websocket.StatusMessageTooBig, "frame larger than 4 KiB", nil, false)
			return
		}
		if err != nil {
			c.kill(websocket.StatusGoingAway, "", nil, true)
			return
		}
		c.handle(typ, b)
	}
}

// handle answers one client frame. Bad frames get an error frame; the
// socket stays open.
func (c *conn) handle(typ websocket.MessageType, b []byte) {
	if typ != websocket.MessageText {
		c.ephemeral(errorFrame("unsupported_frame", "send JSON objects in text frames"))
		return
	}
	var f clientFrame
	if err := json.Unmarshal(b, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			c.ephemeral(errorFrame("invalid_input", "wrong type for "+te.Field))
			return
		}
		c.ephemeral(errorFrame("malformed_frame", "a frame must be a JSON object with a type"))
		return
	}
	switch f.Type {
	case "":
		c.ephemeral(errorFrame("malformed_frame", "a frame must be a JSON object with a type"))
	case "presence":
		if f.Status != Online && f.Status != Away {
			c.ephemeral(errorFrame("invalid_input", "status must be online or away"))
			return
		}
		c.shard.setStatus(c, f.Status)
	case "typing":
		if f.ConversationID == "" || len(f.ConversationID) > 100 || f.Typing == nil {
			c.ephemeral(errorFrame("invalid_input", "typing needs conversation_id and typing (true or false)"))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok, err := c.h.convs.check(ctx, c.p.WorkspaceID, f.ConversationID)
		cancel()
		switch {
		case err != nil:
			c.h.log.Warn("realtime: typing: conversation lookup", "err", err)
			c.ephemeral(errorFrame("unavailable", "could not check the conversation; try again"))
		case !ok:
			c.ephemeral(errorFrame("not_found", "no such conversation in this workspace"))
		default:
			c.h.typing(c, f.ConversationID, *f.Typing)
		}
	case "resume":
		c.ephemeral(errorFrame("unknown_type", "resume by connecting to /api/v1/ws?after=SEQ"))
	default:
		c.ephemeral(errorFrame("unknown_type", "unknown frame type "+truncate(f.Type, 40)))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

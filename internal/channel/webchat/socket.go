package webchat

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/kanal-dev/kanal/internal/bus"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/realtime"
)

// The visitor socket (GET /widget/{key}/ws): the live tail of the visitor's
// own events, filtered and reshaped for a visitor. It works like the agents'
// socket (internal/realtime): a socket registers for live events first,
// then replays the visitor's events after ?after=SEQ from the log (the
// customer's index of the event log), then goes live; frames carry the
// workspace's seq so a reconnect resumes without gaps or repeats.

// MaxClientFrame is the largest frame a visitor may send.
const MaxClientFrame = 2048

// StatusResync closes a socket that may have missed events: reconnect with
// ?after=<last seq>.
const StatusResync websocket.StatusCode = 4000

const (
	replayPage  = 500
	maxPending  = 1024
	convTTL     = 30 * time.Second
	typingEvery = 500 * time.Millisecond
)

type hub struct {
	s     *Service
	sub   *bus.Subscription
	mu    sync.Mutex
	ended bool
	byCus map[string]map[*vconn]struct{} // workspace + "/" + customer
	byWS  map[string]*wsRoom
	conns sync.WaitGroup
	open  atomic.Int64
	ran   atomic.Bool

	convMu sync.Mutex
	convs  map[string]convInfo
}

type wsRoom struct {
	conns map[*vconn]struct{}
	stop  func()
}

type convInfo struct {
	customer, inbox string
	at              time.Time
}

func newHub(s *Service) *hub {
	h := &hub{s: s, byCus: map[string]map[*vconn]struct{}{}, byWS: map[string]*wsRoom{}, convs: map[string]convInfo{}}
	if s.d.Bus != nil {
		h.sub = s.d.Bus.Subscribe(s.o.BusBuffer)
	}
	return h
}

// Connections is the number of visitor sockets open on this node.
func (s *Service) Connections() int { return int(s.hub.open.Load()) }

// Run delivers events to visitors' sockets until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	h := s.hub
	if h.ran.Swap(true) {
		return fmt.Errorf("webchat: Run called twice")
	}
	if h.sub == nil {
		<-ctx.Done()
		h.closeAll()
		return nil
	}
	sub := h.sub
	defer func() {
		h.closeAll()
		sub.Unsubscribe()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C:
			if !ok {
				if !sub.Overflowed() {
					return nil
				}
				s.log.Warn("webchat: the visitor hub fell behind the bus; every visitor socket must resync")
				sub = s.d.Bus.Subscribe(s.o.BusBuffer)
				h.mu.Lock()
				for _, r := range h.byWS {
					for c := range r.conns {
						c.kill(StatusResync, "resync", []byte(`{"type":"resync"}`))
					}
				}
				h.mu.Unlock()
				continue
			}
			h.deliver(ev)
		}
	}
}

// Shutdown closes every visitor socket with 1001 and waits for them.
func (s *Service) Shutdown(ctx context.Context) error {
	s.hub.closeAll()
	done := make(chan struct{})
	go func() { s.hub.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	h.ended = true
	var stops []func()
	for _, r := range h.byWS {
		for c := range r.conns {
			c.kill(websocket.StatusGoingAway, "server shutting down", nil)
		}
		if r.stop != nil {
			stops = append(stops, r.stop)
			r.stop = nil
		}
	}
	h.mu.Unlock()
	for _, f := range stops {
		f()
	}
}

func cusKey(workspaceID, customerID string) string { return workspaceID + "/" + customerID }

func (h *hub) deliver(ev event.Event) {
	if ev.CustomerID == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.byCus[cusKey(ev.WorkspaceID, ev.CustomerID)] {
		c.eventLocked(ev)
	}
}

// register adds c; false when the service is shutting down.
func (h *hub) register(c *vconn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return false
	}
	h.conns.Add(1)
	h.open.Add(1)
	r := h.byWS[c.in.WorkspaceID]
	if r == nil {
		r = &wsRoom{conns: map[*vconn]struct{}{}}
		h.byWS[c.in.WorkspaceID] = r
	}
	if len(r.conns) == 0 && r.stop == nil && h.s.d.Realtime != nil {
		ws := c.in.WorkspaceID
		r.stop = h.s.d.Realtime.Listen(ws, func(sig realtime.Signal) { h.signal(ws, sig) })
	}
	r.conns[c] = struct{}{}
	if c.v.CustomerID != "" {
		h.addCusLocked(c)
	}
	return true
}

func (h *hub) addCusLocked(c *vconn) {
	k := cusKey(c.in.WorkspaceID, c.v.CustomerID)
	m := h.byCus[k]
	if m == nil {
		m = map[*vconn]struct{}{}
		h.byCus[k] = m
	}
	m[c] = struct{}{}
}

func (h *hub) delCusLocked(c *vconn, customerID string) {
	k := cusKey(c.in.WorkspaceID, customerID)
	if m := h.byCus[k]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(h.byCus, k)
		}
	}
}

func (h *hub) unregister(c *vconn) {
	var stop func()
	h.mu.Lock()
	if r := h.byWS[c.in.WorkspaceID]; r != nil {
		if _, ok := r.conns[c]; ok {
			delete(r.conns, c)
			h.open.Add(-1)
		}
		if len(r.conns) == 0 {
			stop = r.stop
			delete(h.byWS, c.in.WorkspaceID)
		}
	}
	if c.v.CustomerID != "" {
		h.delCusLocked(c, c.v.CustomerID)
	}
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// bind moves the visitor's open sockets to its (new) customer and has them
// catch up on that customer's events: a visitor's first message makes the
// customer, signing in may switch to the user's.
func (h *hub) bind(v Visitor, before string) {
	var moved []*vconn
	h.mu.Lock()
	if r := h.byWS[v.WorkspaceID]; r != nil {
		for c := range r.conns {
			if c.v.ID != v.ID || c.v.CustomerID != before || c.dead.Load() {
				continue
			}
			if before != "" {
				h.delCusLocked(c, before)
			}
			c.v.CustomerID, c.v.ExternalID = v.CustomerID, v.ExternalID
			h.addCusLocked(c)
			c.live = false
			moved = append(moved, c)
		}
	}
	h.mu.Unlock()
	for _, c := range moved {
		go func() {
			if err := c.catchUp(0, false); err != nil && !errors.Is(err, errGone) {
				h.s.log.Warn("webchat: catch-up after bind", "err", err)
				c.kill(websocket.StatusTryAgainLater, "could not read the event log", nil)
			}
		}()
	}
}

// signal handles an agent's typing or a presence change from the agents'
// hub.
func (h *hub) signal(workspaceID string, sig realtime.Signal) {
	switch sig.Type {
	case "typing":
		if sig.CustomerID != "" || sig.ConversationID == "" {
			return // a customer's own typing, relayed to agents
		}
		ci, ok := h.conversation(workspaceID, sig.ConversationID)
		if !ok {
			return
		}
		frame := mustJSON(map[string]any{"type": "typing", "typing": sig.Typing})
		h.mu.Lock()
		for c := range h.byCus[cusKey(workspaceID, ci.customer)] {
			if c.in.ID == ci.inbox {
				c.ephemeralLocked(frame)
			}
		}
		h.mu.Unlock()
	case "presence":
		h.mu.Lock()
		defer h.mu.Unlock()
		r := h.byWS[workspaceID]
		if r == nil {
			return
		}
		for c := range r.conns {
			a := h.s.Availability(c.in, c.st)
			if a.Online != c.online {
				c.online = a.Online
				c.ephemeralLocked(mustJSON(availabilityOut{Type: "availability", Availability: a}))
			}
		}
	}
}

// conversation finds a conversation's customer and last inbox, cached.
func (h *hub) conversation(workspaceID, id string) (convInfo, bool) {
	k := workspaceID + "/" + id
	h.convMu.Lock()
	ci, ok := h.convs[k]
	h.convMu.Unlock()
	if ok && time.Since(ci.at) < convTTL {
		return ci, ci.customer != ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := h.s.d.Conversations.Get(ctx, workspaceID, id)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return convInfo{}, false // do not cache a failure
	}
	ci = convInfo{customer: c.CustomerID, inbox: c.LastInboxID, at: time.Now()}
	h.convMu.Lock()
	if len(h.convs) > 10000 {
		clear(h.convs)
	}
	h.convs[k] = ci
	h.convMu.Unlock()
	return ci, ci.customer != ""
}

// vconn is one visitor socket. Three goroutines serve it, as an agent's:
// Serve's (catch-up, then heartbeats), a reader and a writer.
type vconn struct {
	h  *hub
	ws *websocket.Conn
	in inbox.Inbox
	st Settings

	send       chan []byte
	done       chan struct{}
	writerDone chan struct{}
	readerDone chan struct{}
	once       sync.Once
	dead       atomic.Bool
	closeCode  websocket.StatusCode
	closeMsg   string
	closeFrame []byte
	catch      sync.Mutex // one catch-up at a time

	// Guarded by hub.mu.
	v        Visitor // CustomerID changes with bind
	live     bool
	last     int64
	pending  []event.Event
	overflow bool
	online   bool

	// Reader goroutine only.
	typingAt time.Time
	typingOn bool
	conv     string
	convAt   time.Time
	lastRead string
}

var errGone = errors.New("webchat: socket closed")

// Serve runs an accepted visitor socket until it closes. With resume, the
// visitor's events after after are replayed first.
func (s *Service) Serve(ws *websocket.Conn, in inbox.Inbox, st Settings, v Visitor, after int64, resume bool) {
	ws.SetReadLimit(MaxClientFrame)
	h := s.hub
	c := &vconn{h: h, ws: ws, in: in, st: st, v: v, send: make(chan []byte, s.o.QueueSize), done: make(chan struct{}),
		writerDone: make(chan struct{}), readerDone: make(chan struct{})}
	c.online = s.Availability(in, st).Online
	if !h.register(c) {
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer h.conns.Done()
	go c.writeLoop()
	go c.readLoop()
	if err := c.start(after, resume); err != nil && !errors.Is(err, errGone) {
		s.log.Warn("webchat: catch-up failed", "inbox", in.ID, "err", err)
		c.kill(websocket.StatusTryAgainLater, "could not read the event log", nil)
	}
	c.heartbeat()
	h.unregister(c)
	<-c.writerDone
	<-c.readerDone
}

func (c *vconn) kill(code websocket.StatusCode, msg string, frame []byte) {
	c.once.Do(func() {
		c.closeCode, c.closeMsg, c.closeFrame = code, msg, frame
		c.dead.Store(true)
		close(c.done)
	})
}

func (c *vconn) offer(frame []byte) {
	select {
	case c.send <- frame:
	default:
		c.kill(websocket.StatusTryAgainLater, "slow consumer", nil)
	}
}

func (c *vconn) push(frame []byte) error {
	select {
	case c.send <- frame:
		return nil
	case <-c.done:
		return errGone
	}
}

// ephemeralLocked sends a typing or availability frame; they are not held
// while catching up (they would be stale).
func (c *vconn) ephemeralLocked(frame []byte) {
	if c.live && !c.dead.Load() {
		c.offer(frame)
	}
}

func (c *vconn) eventLocked(ev event.Event) {
	if c.dead.Load() {
		return
	}
	if !c.live {
		if c.overflow {
			return
		}
		if len(c.pending) >= maxPending {
			c.pending, c.overflow = nil, true // replay them from the log
			return
		}
		c.pending = append(c.pending, ev)
		return
	}
	if ev.Seq <= c.last {
		return
	}
	c.last = ev.Seq
	if f := c.render(ev); f != nil {
		c.offer(f)
	}
}

// Frames to the visitor.
type helloOut struct {
	Type       string `json:"type"` // hello
	VisitorID  string `json:"visitor_id"`
	LastSeq    int64  `json:"last_seq"`
	After      *int64 `json:"after,omitempty"`
	Reset      bool   `json:"reset,omitempty"`
	Online     bool   `json:"online"`
	Identified bool   `json:"identified"`
}

type messageOut struct {
	Type    string  `json:"type"` // message
	Seq     int64   `json:"seq"`
	Message Message `json:"message"`
}

type seenOut struct {
	Type      string `json:"type"` // seen
	Seq       int64  `json:"seq"`
	MessageID string `json:"message_id"`
	ReadAt    int64  `json:"read_at"`
}

type availabilityOut struct {
	Type string `json:"type"` // availability
	Availability
}

type errorOut struct {
	Type    string `json:"type"` // error
	Code    string `json:"code"`
	Message string `json:"message"`
}

// render turns one of the visitor's customer's events into a frame, or nil
// for what a visitor does not see: anything but messages of this inbox and
// agents' read receipts (no notes, assignments, labels, statuses...).
func (c *vconn) render(ev event.Event) []byte {
	switch ev.Type {
	case event.MessageCreated:
		var m conversation.Message
		if json.Unmarshal(ev.Data, &m) != nil || m.InboxID != c.in.ID || m.Kind != conversation.KindMessage ||
			m.CustomerID != ev.CustomerID {
			return nil
		}
		return mustJSON(messageOut{Type: "message", Seq: ev.Seq, Message: c.h.s.view(c.in.PublicKey, m)})
	case event.ConversationRead:
		var d struct {
			MessageID string `json:"message_id"`
			ReadAt    int64  `json:"read_at"`
		}
		if ev.ActorKind != event.ActorUser || json.Unmarshal(ev.Data, &d) != nil {
			return nil
		}
		return mustJSON(seenOut{Type: "seen", Seq: ev.Seq, MessageID: d.MessageID, ReadAt: d.ReadAt})
	}
	return nil
}

// start sends hello and catches up.
func (c *vconn) start(after int64, resume bool) error {
	ctx, cancel := c.ctx()
	defer cancel()
	head, err := c.h.s.lastSeq(ctx, c.in.WorkspaceID)
	if err != nil {
		return err
	}
	c.h.mu.Lock()
	hello := helloOut{Type: "hello", VisitorID: c.v.ID, LastSeq: head, Online: c.online, Identified: c.v.Identified()}
	c.h.mu.Unlock()
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
	return c.catchUp(last, true)
}

func (c *vconn) ctx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// catchUp replays the customer's events after the cursor (from, or the
// socket's own when not initial), then the events held meanwhile, and goes
// live.
func (c *vconn) catchUp(from int64, initial bool) error {
	c.catch.Lock()
	defer c.catch.Unlock()
	ctx, cancel := c.ctx()
	defer cancel()
	c.h.mu.Lock()
	c.live = false
	last := from
	if !initial {
		last = c.last
	}
	c.h.mu.Unlock()
	replay := true
	for {
		c.h.mu.Lock()
		cust := c.v.CustomerID
		c.h.mu.Unlock()
		if replay && cust != "" {
			for {
				evs, err := c.h.s.customerEvents(ctx, c.in.WorkspaceID, cust, last, replayPage)
				if err != nil {
					if c.dead.Load() {
						return errGone
					}
					return err
				}
				for _, ev := range evs {
					last = ev.Seq
					if f := c.render(ev); f != nil {
						if err := c.push(f); err != nil {
							return err
						}
					}
				}
				if len(evs) < replayPage {
					break
				}
			}
		}
		c.h.mu.Lock()
		if c.dead.Load() {
			c.h.mu.Unlock()
			return errGone
		}
		if c.overflow {
			c.overflow, c.pending, replay = false, nil, true
			c.h.mu.Unlock()
			continue
		}
		if len(c.pending) == 0 {
			c.live, c.last = true, last
			c.h.mu.Unlock()
			return nil
		}
		items := c.pending
		c.pending = nil
		c.h.mu.Unlock()
		replay = false
		for _, ev := range items {
			if ev.Seq <= last {
				continue
			}
			last = ev.Seq
			if f := c.render(ev); f != nil {
				if err := c.push(f); err != nil {
					return err
				}
			}
		}
	}
}

func (c *vconn) heartbeat() {
	t := time.NewTicker(c.h.s.o.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.h.s.o.PongTimeout)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			c.kill(websocket.StatusGoingAway, "no answer to ping", nil)
			return
		}
	}
}

func (c *vconn) writeLoop() {
	defer close(c.writerDone)
	for {
		select {
		case <-c.done:
			c.finish()
			return
		case f := <-c.send:
			if err := c.write(f); err != nil {
				c.kill(websocket.StatusGoingAway, "write failed", nil)
				_ = c.ws.CloseNow()
				return
			}
		}
	}
}

func (c *vconn) write(frame []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.h.s.o.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, frame)
}

func (c *vconn) finish() {
	if c.closeFrame != nil {
		if err := c.write(c.closeFrame); err != nil {
			_ = c.ws.CloseNow()
			return
		}
	}
	_ = c.ws.Close(c.closeCode, c.closeMsg)
}

// clientFrame is what a visitor's widget sends.
type clientFrame struct {
	Type      string `json:"type"`       // typing, read, delivered
	Typing    *bool  `json:"typing"`     // typing
	MessageID string `json:"message_id"` // read, delivered
}

func (c *vconn) readLoop() {
	defer close(c.readerDone)
	for {
		typ, b, err := c.ws.Read(context.Background())
		if errors.Is(err, websocket.ErrMessageTooBig) {
			c.kill(websocket.StatusMessageTooBig, "frame larger than 2 KiB", nil)
			return
		}
		if err != nil {
			c.kill(websocket.StatusGoingAway, "", nil)
			_ = c.ws.CloseNow()
			return
		}
		c.handle(typ, b)
	}
}

func (c *vconn) errorFrame(code, msg string) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	if !c.dead.Load() {
		c.offer(mustJSON(errorOut{Type: "error", Code: code, Message: msg}))
	}
}

func (c *vconn) visitor() Visitor {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	return c.v
}

func (c *vconn) handle(typ websocket.MessageType, b []byte) {
	if typ != websocket.MessageText {
		c.errorFrame("unsupported_frame", "send JSON objects in text frames")
		return
	}
	var f clientFrame
	if err := json.Unmarshal(b, &f); err != nil || f.Type == "" {
		c.errorFrame("malformed_frame", "a frame must be a JSON object with a type")
		return
	}
	v := c.visitor()
	switch f.Type {
	case "typing":
		if f.Typing == nil {
			c.errorFrame("invalid_input", "typing needs typing (true or false)")
			return
		}
		if c.h.s.d.Realtime == nil || v.CustomerID == "" {
			return // nobody to tell yet: the first message makes the conversation
		}
		now := time.Now()
		if *f.Typing == c.typingOn && now.Sub(c.typingAt) < typingEvery {
			return
		}
		c.typingOn, c.typingAt = *f.Typing, now
		if c.conv == "" || now.Sub(c.convAt) > convTTL {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			id, err := c.h.s.CurrentConversation(ctx, c.in, v)
			cancel()
			if err != nil {
				return
			}
			c.conv, c.convAt = id, now
		}
		if c.conv != "" {
			c.h.s.d.Realtime.CustomerTyping(v.WorkspaceID, c.conv, v.CustomerID, *f.Typing)
		}
	case "read", "delivered":
		if f.MessageID == "" || len(f.MessageID) > 100 {
			c.errorFrame("invalid_input", f.Type+" needs message_id")
			return
		}
		if f.Type+f.MessageID == c.lastRead {
			return
		}
		status := conversation.StatusRead
		if f.Type == "delivered" {
			status = conversation.StatusDelivered
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.h.s.MarkRead(ctx, c.in, v, f.MessageID, status)
		cancel()
		var val *errs.Validation
		switch {
		case errors.As(err, &val):
			c.errorFrame("invalid_input", "message_id is not a message of this chat")
		case err != nil:
			c.h.s.log.Warn("webchat: read receipt", "err", err)
			c.errorFrame("unavailable", "could not record that; try again")
		default:
			c.lastRead = f.Type + f.MessageID
		}
	default:
		t := f.Type
		if len(t) > 40 {
			t = t[:40]
		}
		c.errorFrame("unknown_type", "unknown frame type "+t)
	}
}

func (s *Service) lastSeq(ctx context.Context, workspaceID string) (int64, error) {
	r := s.d.DB.Reader()
	var n int64
	if err := r.QueryRow(ctx, q.Get(r.Dialect(), "last-seq"), workspaceID).Scan(&n); err != nil {
		return 0, fmt.Errorf("webchat: last seq: %w", err)
	}
	return n, nil
}

func (s *Service) customerEvents(ctx context.Context, workspaceID, customerID string, after int64, limit int) ([]event.Event, error) {
	r := s.d.DB.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "customer-events-after"), workspaceID, customerID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("webchat: events: %w", err)
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		var e event.Event
		var cust, conv, actor sql.NullString
		var data string
		if err := rows.Scan(&e.ID, &e.WorkspaceID, &e.Seq, &e.Type, &cust, &conv, &e.ActorKind, &actor, &data, &e.CreatedAt); err != nil {
			return nil, fmt.Errorf("webchat: events: %w", err)
		}
		e.CustomerID, e.ConversationID, e.ActorID = cust.String, conv.String, actor.String
		e.Data = json.RawMessage(data)
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanMessage(r interface{ Scan(...any) error }) (conversation.Message, error) {
	var m conversation.Message
	var author, provider sql.NullString
	var atts string
	if err := r.Scan(&m.ID, &m.WorkspaceID, &m.ConversationID, &m.CustomerID, &m.InboxID, &m.Channel, &m.Kind, &m.Direction,
		&m.AuthorKind, &author, &m.Text, &m.HTML, &atts, &provider, &m.Status, &m.StatusReason, &m.CreatedAt, &m.UpdatedAt,
		&m.ContentType, &m.Raw); err != nil {
		return conversation.Message{}, err
	}
	if author.Valid {
		m.AuthorID = &author.String
	}
	if provider.Valid {
		m.ProviderID = &provider.String
	}
	m.Attachments = []conversation.Attachment{}
	if err := json.Unmarshal([]byte(atts), &m.Attachments); err != nil {
		return conversation.Message{}, fmt.Errorf("message %s: attachments: %w", m.ID, err)
	}
	return m, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

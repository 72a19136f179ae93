package realtime

import (
	"encoding/json"
	"math"
	"sync"

	"github.com/coder/websocket"

	"github.com/kanal-dev/kanal/internal/auth"
)

// The hooks the web chat widget's visitor sockets (internal/channel/webchat)
// use. They live in their own file and touch nothing else of the hub:
//
//   - Listen: the workspace's agent typing and presence frames, as the
//     agents' sockets get them, so a visitor sees "the agent is typing" and
//     whether anyone is available;
//   - CustomerTyping: a visitor's typing, relayed to the agents' sockets;
//   - Available: whether a member of the workspace has a socket open.
//
// A listener is a socket without a WebSocket: it sits in the workspace's
// room like an agent's socket (so broadcasts reach it), but it counts for no
// presence, it is live at once and it takes no events (its cursor is past
// every seq). Its queue is drained by its own goroutine, which hands the
// frames to the callback.

// Signal is an ephemeral frame of a workspace, as Listen hands it on.
type Signal struct {
	Type           string `json:"type"` // typing or presence
	ConversationID string `json:"conversation_id,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	// CustomerID is set on the typing frames of customers (CustomerTyping).
	CustomerID string `json:"customer_id,omitempty"`
	Typing     bool   `json:"typing,omitempty"`
	Status     string `json:"status,omitempty"` // presence
}

// customerTypingOut is a customer's typing as agents' sockets get it: the
// agents' typing frame plus customer_id. user_id holds the customer's id too,
// so that clients keying typing marks by user_id show it ("someone").
type customerTypingOut struct {
	Type           string `json:"type"` // typing
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	CustomerID     string `json:"customer_id"`
	Typing         bool   `json:"typing"`
}

// Listen calls fn with every typing and presence frame broadcast to the
// sockets of a workspace on this node, until stop is called or the hub shuts
// down. fn runs on the listener's goroutine, one frame at a time, and must
// not block for long: frames that pile up (256) are dropped, which typing and
// presence may be. Call stop once.
func (h *Hub) Listen(workspaceID string, fn func(Signal)) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c := h.listener(workspaceID)
			if c == nil {
				return // shutting down
			}
		drain:
			for {
				select {
				case <-quit:
					h.dropListener(c)
					return
				case <-c.done:
					// Killed: a resync, a full queue, or the hub stopping.
					h.dropListener(c)
					break drain
				case f := <-c.send:
					var s Signal
					if json.Unmarshal(f, &s) == nil && (s.Type == "typing" || s.Type == "presence") {
						fn(s)
					}
				}
			}
			if h.stopped.Load() {
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}

// listener puts a listening socket into the workspace's room; nil when the
// hub is shutting down.
func (h *Hub) listener(workspaceID string) *conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return nil
	}
	c := &conn{h: h, shard: h.shardOf(workspaceID),
		p:    auth.Principal{WorkspaceID: workspaceID},
		send: make(chan []byte, h.o.QueueSize), done: make(chan struct{}),
		live: true, lastSeq: math.MaxInt64, status: Online}
	s := c.shard
	s.mu.Lock()
	r := s.rooms[workspaceID]
	if r == nil {
		r = &room{conns: map[*conn]struct{}{}, presence: map[string]*presence{}}
		s.rooms[workspaceID] = r
	}
	r.conns[c] = struct{}{}
	s.mu.Unlock()
	return c
}

func (h *Hub) dropListener(c *conn) {
	c.kill(websocket.StatusNormalClosure, "", nil, true)
	s := c.shard
	s.mu.Lock()
	if r := s.rooms[c.p.WorkspaceID]; r != nil {
		delete(r.conns, c)
	}
	s.mu.Unlock()
}

// CustomerTyping relays a customer's typing in a conversation to every socket
// of the workspace on this node (see customerTypingOut). The caller has
// checked that the conversation is the customer's.
func (h *Hub) CustomerTyping(workspaceID, conversationID, customerID string, typing bool) {
	frame := mustJSON(customerTypingOut{Type: "typing", ConversationID: conversationID, UserID: customerID,
		CustomerID: customerID, Typing: typing})
	s := h.shardOf(workspaceID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[workspaceID]; r != nil {
		s.broadcastLocked(r, frame, nil)
	}
}

// Available tells whether a member of the workspace has a socket open on
// this node (online, or away: a workspace tab in the background still shows
// notifications).
func (h *Hub) Available(workspaceID string) bool {
	for _, p := range h.Presence(workspaceID) {
		if p.Status == Online || p.Status == Away {
			return true
		}
	}
	return false
}

package realtime

import "time"

// presence is a member's state on this node. A member is online while one
// of their sockets is online, away when every socket said away, and offline
// PresenceGrace after their last socket closed (a reload or a short network
// drop does not flap). Changes are broadcast to the workspace.
type presence struct {
	status string
	since  int64
	total  int // open sockets
	online int // open sockets whose status is online
	timer  *time.Timer
	gen    uint64 // invalidates a running grace timer
}

// joinLocked counts a new socket (online) for its member.
func (s *shard) joinLocked(r *room, c *conn) {
	uid := c.p.UserID
	p := r.presence[uid]
	if p == nil {
		p = &presence{status: Offline}
		r.presence[uid] = p
	}
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.gen++
	c.status = Online
	p.total++
	p.online++
	s.updateLocked(r, uid, p)
}

// leaveLocked uncounts a closed socket; the last one starts the grace
// period.
func (s *shard) leaveLocked(r *room, c *conn) {
	uid := c.p.UserID
	p := r.presence[uid]
	if p == nil {
		return
	}
	p.total--
	if c.status == Online {
		p.online--
	}
	if p.total > 0 {
		s.updateLocked(r, uid, p)
		return
	}
	if s.h.stopped.Load() {
		return
	}
	p.gen++
	gen := p.gen
	p.timer = time.AfterFunc(s.h.o.PresenceGrace, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if p.gen != gen || p.total > 0 {
			return
		}
		p.timer = nil
		s.setLocked(r, uid, p, Offline)
	})
}

// setStatus records what a socket's client said (online or away).
func (s *shard) setStatus(c *conn, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[c.p.WorkspaceID]
	if r == nil || c.dead.Load() || c.status == status {
		return
	}
	p := r.presence[c.p.UserID]
	if p == nil {
		return
	}
	if _, ok := r.conns[c]; !ok {
		return
	}
	if status == Online {
		p.online++
	} else {
		p.online--
	}
	c.status = status
	s.updateLocked(r, c.p.UserID, p)
}

func (s *shard) updateLocked(r *room, uid string, p *presence) {
	if p.total == 0 {
		return // in the grace period: unchanged until it ends
	}
	want := Away
	if p.online > 0 {
		want = Online
	}
	if want != p.status {
		s.setLocked(r, uid, p, want)
	}
}

func (s *shard) setLocked(r *room, uid string, p *presence, status string) {
	p.status, p.since = status, time.Now().UnixMilli()
	s.broadcastLocked(r, mustJSON(presenceOut{Type: "presence", UserID: uid, Status: status, Since: p.since}), nil)
}

package sim

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/kanal-dev/kanal/internal/routing"
)

// Rule maps recorded conversations to a queue (and required skills). Every
// set field must match; the first matching rule wins.
type Rule struct {
	// Channel is the conversation's channel (the inbox type: webchat,
	// email, whatsapp, telegram, …).
	Channel  string           `json:"channel,omitempty"`
	Inbox    string           `json:"inbox,omitempty"`
	Team     string           `json:"team,omitempty"`
	Label    string           `json:"label,omitempty"`
	Priority string           `json:"priority,omitempty"`
	Queue    string           `json:"queue"`
	Skills   routing.SkillReq `json:"skills,omitempty"`
}

// Recorded is an event of Kanal's event log, as replay reads it.
type Recorded struct {
	Type           string
	ConversationID string
	CreatedAt      int64 // Unix ms
	Data           json.RawMessage
}

// Event types replay reads (internal/event).
const (
	recConversationCreated = "conversation.created"
	recConversationUpdated = "conversation.updated"
)

// ReplayInfo says what replay made of the recorded traffic.
type ReplayInfo struct {
	From          string `json:"from"`
	To            string `json:"to"`
	Conversations int    `json:"conversations"`
	// Unrouted conversations matched no rule and there is no default queue.
	Unrouted int `json:"unrouted"`
	// DefaultHandles: conversations without a recorded assignment and
	// resolution took default_handle_s.
	DefaultHandles int `json:"default_handles"`
	// ChannelFallbacks: recorded channels the engine does not know ran as
	// channel_map says (default: social_dm for messenger, instagram and
	// telegram; task otherwise).
	ChannelFallbacks int `json:"channel_fallbacks"`
}

var priorities = map[string]int{"low": 0, "normal": 1, "high": 2, "urgent": 3}

type recConv struct {
	id        string
	created   int64
	channel   string
	inbox     string
	team      string
	priority  string
	labels    []string
	assignee  string
	assigned  int64
	resolved  int64
	unrouted  bool
	queue     string
	skills    routing.SkillReq
	handle    int64
	defHandle bool
}

// Replay runs the conversations created in [from, to) through policy:
// each conversation.created is an arrival at its time, classified into a
// queue by the policy's rules; its handle time is the recorded time from
// first assignment to resolution (default_handle_s when there is none). The
// result carries the simulated KPIs and, in Recorded, the KPIs of what
// really happened (wait = creation to first assignment).
func Replay(p *Policy, events []Recorded, from, to time.Time, opt Options) (*Result, error) {
	convs := map[string]*recConv{}
	var order []*recConv
	for _, ev := range events {
		switch ev.Type {
		case recConversationCreated:
			t := ev.CreatedAt
			if t < from.UnixMilli() || t >= to.UnixMilli() {
				continue
			}
			var c struct {
				Channel  string   `json:"channel"`
				InboxID  string   `json:"inbox_id"`
				TeamID   *string  `json:"team_id"`
				Priority string   `json:"priority"`
				Labels   []string `json:"labels"`
				Assignee *string  `json:"assignee_id"`
			}
			if err := json.Unmarshal(ev.Data, &c); err != nil {
				return nil, fmt.Errorf("conversation.created %s: %w", ev.ConversationID, err)
			}
			rc := &recConv{id: ev.ConversationID, created: t, channel: c.Channel, inbox: c.InboxID,
				priority: c.Priority, labels: c.Labels, assigned: -1, resolved: -1}
			if c.TeamID != nil {
				rc.team = *c.TeamID
			}
			if c.Assignee != nil && *c.Assignee != "" {
				rc.assignee, rc.assigned = *c.Assignee, t
			}
			if _, dup := convs[rc.id]; !dup {
				convs[rc.id] = rc
				order = append(order, rc)
			}
		case recConversationUpdated:
			rc, ok := convs[ev.ConversationID]
			if !ok {
				continue
			}
			var u struct {
				Changes map[string]struct {
					From any `json:"from"`
					To   any `json:"to"`
				} `json:"changes"`
			}
			if err := json.Unmarshal(ev.Data, &u); err != nil {
				continue
			}
			if ch, ok := u.Changes["assignee_id"]; ok && rc.assigned < 0 {
				if s, _ := ch.To.(string); s != "" {
					rc.assignee, rc.assigned = s, ev.CreatedAt
				}
			}
			if ch, ok := u.Changes["status"]; ok && rc.resolved < 0 {
				if s, _ := ch.To.(string); s == "resolved" && rc.assigned >= 0 {
					rc.resolved = ev.CreatedAt
				}
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].created < order[j].created })

	sc := &Scenario{Start: from.UTC().Format(time.RFC3339Nano), Policy: *p}
	info := &ReplayInfo{From: from.UTC().Format(time.RFC3339), To: to.UTC().Format(time.RFC3339), Conversations: len(order)}
	probe, err := routing.New(p.Config(), routing.Options{Now: from.UnixMilli()})
	if err != nil {
		return nil, err
	}
	defHandle := p.DefaultHandleS
	if defHandle <= 0 {
		defHandle = 300
	}
	var recorded []ItemResult
	for _, rc := range order {
		q, skills := classify(p, rc)
		if q == "" {
			info.Unrouted++
			continue
		}
		ch := rc.channel
		if _, ok := probe.Channel(ch); !ok {
			info.ChannelFallbacks++
			ch = channelFallback(p, ch)
		}
		handle := defHandle
		if rc.assigned >= 0 && rc.resolved > rc.assigned {
			handle = max(float64(rc.resolved-rc.assigned)/1000, 1)
		} else {
			info.DefaultHandles++
		}
		a := Arrival{AtS: float64(rc.created-from.UnixMilli()) / 1000, ID: rc.id, Queue: q, Channel: ch,
			Priority: priorities[rc.priority], Skills: skills, HandleS: handle}
		sc.Arrivals = append(sc.Arrivals, a)
		ir := ItemResult{ID: rc.id, Queue: q, Channel: ch, ArrivedAtS: a.AtS, Outcome: "waiting"}
		if rc.assigned >= 0 {
			ir.Outcome = "answered"
			ir.Agent = ptr(rc.assignee)
			ir.AssignedAtS = ptr(float64(rc.assigned-from.UnixMilli()) / 1000)
			ir.WaitS = ptr(float64(rc.assigned-rc.created) / 1000)
		}
		recorded = append(recorded, ir)
	}
	c, err := sc.compile()
	if err != nil {
		return nil, err
	}
	res, err := run(c, opt)
	if err != nil {
		return nil, err
	}
	res.Recorded = queueKPIs(p.Queues, recorded, nil)
	res.Replay = info
	return res, nil
}

func classify(p *Policy, rc *recConv) (string, routing.SkillReq) {
	for _, r := range p.Classify {
		if r.Channel != "" && r.Channel != rc.channel {
			continue
		}
		if r.Inbox != "" && r.Inbox != rc.inbox {
			continue
		}
		if r.Team != "" && r.Team != rc.team {
			continue
		}
		if r.Priority != "" && r.Priority != rc.priority {
			continue
		}
		if r.Label != "" {
			found := false
			for _, l := range rc.labels {
				if l == r.Label {
					found = true
					break
				}
			}
			if !found {
				continue
			}
		}
		return r.Queue, r.Skills
	}
	return p.DefaultQueue, nil
}

func channelFallback(p *Policy, ch string) string {
	if v, ok := p.ChannelMap[ch]; ok {
		return v
	}
	switch ch {
	case "messenger", "instagram", "telegram":
		return "social_dm"
	}
	return "task"
}

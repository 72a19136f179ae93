package sim

import (
	"github.com/kanal-dev/kanal/internal/routing"
)

// KPIs of a queue (ROUTING.md §5). Rates are fractions (0–1).
//
//   - contacts: items that entered the queue (their entry queue);
//   - service_level: answered within the target's seconds over contacts,
//     with abandons within the threshold treated as the target says
//     (negative: not answered in time, the default; ignore: left out;
//     positive: answered in time) and abandons before short_abandon_s left
//     out; canceled and still-waiting items count as not answered in time;
//   - asa_s: mean wait (arrival to acceptance) of answered items;
//   - abandon_rate: abandoned / contacts;
//   - occupancy: time the queue's agents held at least one accepted item
//     over their logged-in time (routable, or holding work).
type KPIs struct {
	Contacts        int      `json:"contacts"`
	Answered        int      `json:"answered"`
	Abandoned       int      `json:"abandoned"`
	Canceled        int      `json:"canceled"`
	Waiting         int      `json:"waiting"`
	AnsweredWithin  int      `json:"answered_within"`
	AbandonedWithin int      `json:"abandoned_within"`
	ShortAbandons   int      `json:"short_abandons,omitempty"`
	ServiceLevel    *float64 `json:"service_level"`
	TargetMet       *bool    `json:"target_met,omitempty"`
	ASAS            *float64 `json:"asa_s"`
	MaxWaitS        *float64 `json:"max_wait_s"`
	AbandonRate     *float64 `json:"abandon_rate"`
	Occupancy       *float64 `json:"occupancy"`
}

// ServiceLevel computes x % in y s from counts: answered within y,
// abandoned within y (after leaving out short abandons) and contacts (the
// same), under a treatment of abandons: negative, ignore or positive. The
// Cisco example: 70 answered ≤ y, 10 abandoned ≤ y, 100 contacts → 0.7
// negative, 0.778 ignore, 0.8 positive.
func ServiceLevel(answeredWithin, abandonedWithin, contacts int, treatment string) (float64, bool) {
	num, den := answeredWithin, contacts
	switch treatment {
	case "ignore":
		den -= abandonedWithin
	case "positive":
		num += abandonedWithin
	}
	if den <= 0 {
		return 0, false
	}
	return float64(num) / float64(den), true
}

func queueKPIs(queues []routing.QueueConfig, items []ItemResult, occ func(q string) (busy, logged int64)) []QueueResult {
	idx := map[string]int{}
	out := make([]QueueResult, len(queues))
	var waitSum = make([]float64, len(queues))
	for i, q := range queues {
		idx[q.ID] = i
		out[i] = QueueResult{ID: q.ID, Target: q.ServiceLevel}
	}
	for _, it := range items {
		i, ok := idx[it.Queue]
		if !ok {
			continue
		}
		k := &out[i].KPIs
		sl := out[i].Target
		k.Contacts++
		if it.WaitS != nil && (k.MaxWaitS == nil || *it.WaitS > *k.MaxWaitS) && it.Outcome != "canceled" {
			k.MaxWaitS = ptr(*it.WaitS)
		}
		switch it.Outcome {
		case "answered":
			k.Answered++
			waitSum[i] += *it.WaitS
			if sl != nil && *it.WaitS <= sl.Seconds {
				k.AnsweredWithin++
			}
		case "abandoned":
			k.Abandoned++
			if sl != nil && *it.WaitS < sl.ShortAbandonS {
				k.ShortAbandons++
			} else if sl != nil && *it.WaitS <= sl.Seconds {
				k.AbandonedWithin++
			}
		case "canceled":
			k.Canceled++
		default:
			k.Waiting++
		}
	}
	for i := range out {
		k := &out[i].KPIs
		if k.Answered > 0 {
			k.ASAS = ptr(waitSum[i] / float64(k.Answered))
		}
		if k.Contacts > 0 {
			k.AbandonRate = ptr(float64(k.Abandoned) / float64(k.Contacts))
		}
		if sl := out[i].Target; sl != nil {
			if v, ok := ServiceLevel(k.AnsweredWithin, k.AbandonedWithin, k.Contacts-k.ShortAbandons, sl.Abandons); ok {
				k.ServiceLevel = ptr(v)
				k.TargetMet = ptr(v*100 >= sl.Percent-1e-9)
			}
		}
		if occ != nil {
			if busy, logged := occ(out[i].ID); logged > 0 {
				k.Occupancy = ptr(float64(busy) / float64(logged))
			}
		}
	}
	return out
}

package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes a result as indented JSON.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// TableItems is how many items WriteTable lists.
const TableItems = 50

// WriteTable writes a result as readable tables: queues and their KPIs,
// agents, then the first items.
func WriteTable(w io.Writer, r *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Simulated from %s for %s; %d decisions.\n", r.Start, dur(r.EndS), r.Decisions)
	if r.Replay != nil {
		fmt.Fprintf(&b, "Replay of %d conversations created in [%s, %s): %d not routed, %d with the default handle time, %d with a mapped channel.\n",
			r.Replay.Conversations, r.Replay.From, r.Replay.To, r.Replay.Unrouted, r.Replay.DefaultHandles, r.Replay.ChannelFallbacks)
	}
	b.WriteString("\nQueues (simulated)\n")
	queueTable(&b, r.Queues, true)
	if r.Recorded != nil {
		b.WriteString("\nQueues (recorded: wait = creation to first assignment)\n")
		queueTable(&b, r.Recorded, false)
	}
	b.WriteString("\nAgents\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tASSIGNED\tBUSY\tLOGGED IN\tOCCUPANCY")
	for _, a := range r.Agents {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", a.ID, a.Assigned, dur(a.BusyS), dur(a.LoggedInS), pct(a.Occupancy))
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nItems")
	if len(r.Items) > TableItems {
		fmt.Fprintf(&b, " (first %d of %d; --format json lists all)", TableItems, len(r.Items))
	}
	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ITEM\tQUEUE\tCHANNEL\tARRIVED\tAGENT\tOFFERED\tASSIGNED\tWAIT\tOUTCOME")
	for i, it := range r.Items {
		if i == TableItems {
			break
		}
		agent := "-"
		if it.Agent != nil {
			agent = *it.Agent
		}
		out := it.Outcome
		if it.Reason != "" {
			out += " (" + it.Reason + ")"
		}
		if it.AnsweredIn != "" {
			out += " in " + it.AnsweredIn
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.Queue, it.Channel, secs(&it.ArrivedAtS), agent,
			secs(it.OfferedAtS), secs(it.AssignedAtS), secs(it.WaitS), out)
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

func queueTable(b *strings.Builder, qs []QueueResult, occupancy bool) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	head := "QUEUE\tCONTACTS\tANSWERED\tABANDONED\tWAITING\tSERVICE LEVEL\tTARGET\tASA\tMAX WAIT\tABANDON RATE"
	if occupancy {
		head += "\tOCCUPANCY"
	}
	fmt.Fprintln(tw, head)
	for _, q := range qs {
		k := q.KPIs
		target, sl := "-", pct(k.ServiceLevel)
		if q.Target != nil {
			target = fmt.Sprintf("%g%% in %gs", q.Target.Percent, q.Target.Seconds)
			if k.TargetMet != nil {
				if *k.TargetMet {
					sl += " met"
				} else {
					sl += " missed"
				}
			}
		}
		line := fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s", q.ID, k.Contacts, k.Answered, k.Abandoned,
			k.Waiting+k.Canceled, sl, target, secs(k.ASAS), secs(k.MaxWaitS), pct(k.AbandonRate))
		if occupancy {
			line += "\t" + pct(k.Occupancy)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", *v*100)
}

func secs(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1fs", *v)
}

func dur(s float64) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%.1fh", s/3600)
	case s >= 60:
		return fmt.Sprintf("%.1fmin", s/60)
	}
	return fmt.Sprintf("%.1fs", s)
}

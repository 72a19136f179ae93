package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/config"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/routing"
	"github.com/kanal-dev/kanal/internal/routing/sim"
)

const routeUsage = `Usage:
  kanal route simulate SCENARIO.json [--format table|json] [--explain] [--trace]
  kanal route replay --workspace SLUG --from TIME --to TIME --policy POLICY.json
                     [--format table|json] [--explain] [--data DIR] [--database-url URL]

simulate runs a scenario (a routing policy plus scripted and/or generated
arrivals) through the routing engine on a virtual clock and prints what
happened to each item and each queue's KPIs. replay runs the conversations
created between --from and --to (RFC 3339, or YYYY-MM-DD in UTC) in the
workspace's event log through POLICY.json and compares the simulated KPIs
with the recorded ones. docs/routing.md describes both formats.
`

// route runs `kanal route simulate` and `kanal route replay`.
func route(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return usageError("route needs a subcommand\n\n" + routeUsage)
	}
	switch args[0] {
	case "simulate":
		return routeSimulate(args[1:], stdout, stderr)
	case "replay":
		return routeReplay(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, routeUsage)
		return nil
	}
	return usageError(fmt.Sprintf("unknown route subcommand %q\n\n%s", args[0], routeUsage))
}

// parseInterleaved parses flags that may come before or after the
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError(err.Error())
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func routeOutput(format string) (func(io.Writer, *sim.Result) error, error) {
	switch format {
	case "table", "":
		return sim.WriteTable, nil
	case "json":
		return sim.WriteJSON, nil
	}
	return nil, usageError("--format must be table or json")
}

func routeSimulate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("route simulate", stderr)
	format := fs.String("format", "table", "output: table or json")
	explain := fs.Bool("explain", false, "keep every decision with its candidates, exclusions and strategy keys (json)")
	trace := fs.Bool("trace", false, "keep the engine's event log (json)")
	fs.Usage = func() { fmt.Fprint(stderr, routeUsage+"\nFlags:\n"); fs.PrintDefaults() }
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("route simulate needs one scenario file\n\n" + routeUsage)
	}
	write, err := routeOutput(*format)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	sc, err := sim.Load(data)
	if err != nil {
		return invalid(pos[0], "scenario", err)
	}
	res, err := sim.Run(sc, sim.Options{Explain: *explain, Trace: *trace})
	if err != nil {
		return err
	}
	return write(stdout, res)
}

func routeReplay(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := config.Defaults(getenv)
	fs := newFlags("route replay", stderr)
	cfg.StoreFlags(fs)
	slug := fs.String("workspace", "", "workspace slug (required)")
	fromS := fs.String("from", "", "replay conversations created at or after this time (required)")
	toS := fs.String("to", "", "… and before this time (required)")
	policyF := fs.String("policy", "", "routing policy file (required)")
	format := fs.String("format", "table", "output: table or json")
	explain := fs.Bool("explain", false, "keep every decision with its explanation (json)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" || *fromS == "" || *toS == "" || *policyF == "" {
		return usageError("route replay needs --workspace, --from, --to and --policy\n\n" + routeUsage)
	}
	from, err := parseWhen(*fromS)
	if err != nil {
		return usageError("--from: " + err.Error())
	}
	to, err := parseWhen(*toS)
	if err != nil {
		return usageError("--to: " + err.Error())
	}
	if !to.After(from) {
		return usageError("--to must be after --from")
	}
	write, err := routeOutput(*format)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*policyF)
	if err != nil {
		return err
	}
	pol, err := sim.LoadPolicy(data)
	if err != nil {
		return invalid(*policyF, "policy", err)
	}
	s, err := openServices(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	w, err := s.Workspaces.BySlug(ctx, *slug)
	if err != nil {
		return fmt.Errorf("no workspace %s: %w", *slug, err)
	}
	// The log has no time index: read it in seq order and keep the
	// conversation events from --from on (updates after --to still give
	// the handle times of conversations created before it).
	var recs []sim.Recorded
	var after int64
	for {
		evs, err := s.Log.After(ctx, w.ID, after, 1000)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			after = ev.Seq
			if ev.CreatedAt < from.UnixMilli() {
				continue
			}
			if ev.Type == event.ConversationCreated || ev.Type == event.ConversationUpdated {
				recs = append(recs, sim.Recorded{Type: ev.Type, ConversationID: ev.ConversationID, CreatedAt: ev.CreatedAt, Data: ev.Data})
			}
		}
		if len(evs) < 1000 {
			break
		}
	}
	res, err := sim.Replay(pol, recs, from, to, sim.Options{Explain: *explain})
	if err != nil {
		return err
	}
	return write(stdout, res)
}

func parseWhen(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time or YYYY-MM-DD, got %q", s)
}

// invalid formats a validation error: one problem per line, with its path.
func invalid(file, what string, err error) error {
	ps := routing.AsProblems(err)
	if ps == nil {
		return fmt.Errorf("%s: invalid %s: %w", file, what, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: invalid %s (%d problem", file, what, len(ps))
	if len(ps) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range ps {
		b.WriteString("\n  " + p.String())
	}
	return errors.New(b.String())
}

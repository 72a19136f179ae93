package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	lt "github.com/kanal-dev/kanal/internal/loadtest"
)

// loadtest drives the API channel of a running Kanal with concurrent clients
// and prints throughput and latency. It fails when more than 1% of the
// measured requests failed.
func loadtest(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := newFlags("loadtest", stderr)
	defURL := "http://127.0.0.1:8080"
	if v := getenv("KANAL_URL"); v != "" {
		defURL = v
	}
	u := fs.String("url", defURL, "base URL of the Kanal server [$KANAL_URL]")
	tok := fs.String("token", getenv("KANAL_TOKEN"), "API token (required) [$KANAL_TOKEN]")
	inbox := fs.String("inbox", "", `api inbox id; empty creates an inbox named "loadtest"`)
	clients := fs.Int("clients", 64, fmt.Sprintf("concurrent clients (1 to %d)", lt.MaxClients))
	duration := fs.Duration("duration", 20*time.Second, "length of the measured phase (a cap when --requests is set)")
	requests := fs.Int("requests", 0, "stop after this many measured requests instead of after --duration")
	customers := fs.Int("customers", 1000, "distinct customers the messages come from")
	warmup := fs.Duration("warmup", 2*time.Second, "warm-up before measuring; its requests are not counted")
	timeout := fs.Duration("timeout", 30*time.Second, "timeout of one request")
	asJSON := fs.Bool("json", false, "print the summary as JSON on stdout")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *tok == "" {
		return usageError("loadtest needs --token (or KANAL_TOKEN)")
	}
	durSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "duration" {
			durSet = true
		}
	})
	o := lt.Options{URL: *u, Token: *tok, InboxID: *inbox, Clients: *clients, Duration: *duration,
		Requests: *requests, Customers: *customers, Warmup: *warmup, Timeout: *timeout}
	if *requests > 0 && !durSet {
		o.Duration = 0 // the default cap applies instead of 20 s
	}
	if *clients < 1 || *clients > lt.MaxClients {
		return usageError(fmt.Sprintf("--clients must be 1 to %d", lt.MaxClients))
	}
	if *customers < 1 {
		return usageError("--customers must be at least 1")
	}
	if *requests < 0 || *duration < 0 || *warmup < 0 {
		return usageError("--requests, --duration and --warmup must not be negative")
	}
	if !*quiet {
		o.Progress = stderr
	}
	if !lt.IsLoopback(o.URL) {
		fmt.Fprintf(stderr, "kanal loadtest: warning: %s is not a loopback address; this sends real load to it\n", o.URL)
	}
	mode := o.Duration.String()
	if o.Requests > 0 {
		mode = fmt.Sprintf("%d requests", o.Requests)
	}
	fmt.Fprintf(stderr, "kanal loadtest: %d clients, %s after %s warm-up, %d customers, against %s\n",
		o.Clients, mode, o.Warmup, o.Customers, o.URL)
	res, err := lt.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		lt.WriteSummary(stdout, res)
	}
	if err := lt.Check(res); err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	return nil
}

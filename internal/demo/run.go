// Package demo is `kanal demo`: Kanal with a demo workspace, plus a
// simulator on loopback that impersonates the providers of Kanal's channels
// in both directions. It posts correctly signed webhooks as customers and
// takes Kanal's outbound API calls with the fakes of internal/fakes (the
// ones Kanal's tests use), answering with provider ids and then delivery and
// read reports. A small page lets a person write as a WhatsApp, Instagram,
// Messenger, Telegram or SMS customer and see the agents' replies.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/app"
	"github.com/kanal-dev/kanal/internal/config"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
)

// Options of Run.
type Options struct {
	// SimAddr is the simulator's listen address (loopback only).
	SimAddr string
	// Seed sends the tour's conversations once everything runs.
	Seed    bool
	Version string
	// Out gets the banner; Logger gets Kanal's and the simulator's logs.
	Out    io.Writer
	Logger *slog.Logger
	// Ready, when set, is called once Kanal and the simulator answer.
	Ready func(Running)
}

// Running describes a started demo.
type Running struct {
	KanalURL     string
	SimulatorURL string
	State        State
	Simulator    *Simulator
}

// Run runs the demo until ctx ends: the simulator, then (on the first run)
// the demo workspace, its owner, an API token and one inbox per simulated
// channel, then Kanal itself as `kanal serve` runs it. cfg is Kanal's
// configuration; its data folder also holds demo.json, which later runs
// reuse.
func Run(ctx context.Context, cfg config.Config, o Options) error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckSimAddr(o.SimAddr); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	st, found, err := LoadState(cfg.DataDir)
	if err != nil {
		return err
	}
	if !found {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "kanal.db")); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s holds a Kanal that `kanal demo` did not create (no %s): give the demo a folder of its own with --data",
				cfg.DataDir, StateFile)
		}
		st = NewState()
	}

	// The simulator first: Kanal's pollers and senders talk to it from the start.
	ln, err := net.Listen("tcp", o.SimAddr)
	if err != nil {
		return fmt.Errorf("simulator: listen: %w", err)
	}
	simURL := "http://" + ln.Addr().String()
	sim := NewSimulator(st, simURL, o.Logger)
	simSrv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)}
	go func() { _ = simSrv.Serve(ln) }()
	defer func() {
		sim.Stop()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = simSrv.Shutdown(shut)
		sim.Close()
	}()

	created, err := provision(ctx, cfg, o.Logger, &st, simURL)
	if err != nil {
		return err
	}

	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	addrc := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- app.Serve(serveCtx, cfg, o.Version, o.Logger, func(addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-served:
		if err == nil {
			err = errors.New("kanal stopped before it was running")
		}
		return err
	}
	kanalURL := "http://" + reachable(addr)
	hooks, err := connect(ctx, kanalURL, st)
	if err != nil {
		stopServe()
		<-served
		return err
	}
	sim.Connect(kanalURL, hooks)
	printBanner(o.Out, kanalURL, simURL, cfg.DataDir, st, created)
	if o.Ready != nil {
		o.Ready(Running{KanalURL: kanalURL, SimulatorURL: simURL, State: st, Simulator: sim})
	}
	if o.Seed {
		sim.spawn(func() { sim.Tour("tr") })
	}
	go func() {
		<-ctx.Done()
		sim.Stop() // no new webhooks while Kanal drains
	}()
	return <-served
}

// CheckSimAddr refuses a simulator address that is not on loopback: the
// fakes accept anyone with the demo's credentials.
func CheckSimAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--sim-addr %q: %v", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--sim-addr %q: the simulator listens on loopback only (127.0.0.1, ::1 or localhost)", addr)
	}
	return nil
}

// reachable turns a listen address into one to call: an unspecified host
// (0.0.0.0, ::) becomes 127.0.0.1.
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// provision makes sure the database holds the demo workspace, its owner, an
// API token and one inbox per channel, with the inboxes pointed at the
// simulator (its address may change between runs). It saves demo.json and
// tells whether the workspace was created now.
func provision(ctx context.Context, cfg config.Config, log *slog.Logger, st *State, simURL string) (created bool, err error) {
	s, err := app.Open(ctx, cfg, log, nil)
	if err != nil {
		return false, err
	}
	defer s.Close()
	if st.WorkspaceID == "" {
		w, u, err := s.Auth.SetupFirst(ctx, WorkspaceName, st.Email, OwnerName, st.Password)
		if err != nil {
			return false, fmt.Errorf("create the demo workspace: %w", err)
		}
		tok, _, err := s.Auth.CreateToken(ctx, w.ID, u.ID, "kanal demo")
		if err != nil {
			return false, fmt.Errorf("create the demo API token: %w", err)
		}
		st.WorkspaceID, st.UserID, st.Token, created = w.ID, u.ID, tok, true
		if err := st.Save(cfg.DataDir); err != nil {
			return false, fmt.Errorf("save %s: %w", StateFile, err)
		}
	}
	actor := event.Actor{Kind: event.ActorUser, ID: st.UserID}
	for _, ch := range Channels {
		want := st.InboxConfig(ch.ID, simURL)
		if id := st.Inboxes[ch.ID]; id != "" {
			in, err := s.Inboxes.Get(ctx, st.WorkspaceID, id)
			switch {
			case errors.Is(err, errs.ErrNotFound):
				delete(st.Inboxes, ch.ID) // deleted by hand: made again below
			case err != nil:
				return false, err
			case in.String("api_base_url") != want["api_base_url"]:
				if _, err := s.Inboxes.Update(ctx, actor, st.WorkspaceID, id, nil,
					map[string]any{"api_base_url": want["api_base_url"]}); err != nil {
					return false, fmt.Errorf("point the %s inbox at the simulator: %w", ch.Label, err)
				}
			}
		}
		if st.Inboxes[ch.ID] == "" {
			in, err := s.Inboxes.Create(ctx, actor, st.WorkspaceID, ch.ID, ch.InboxName, want)
			if err != nil {
				return false, fmt.Errorf("create the %s inbox: %w", ch.Label, err)
			}
			st.Inboxes[ch.ID] = in.ID
		}
	}
	if err := st.Save(cfg.DataDir); err != nil {
		return false, fmt.Errorf("save %s: %w", StateFile, err)
	}
	return created, nil
}

// connect asks the running Kanal, with the demo's API token, for the
// inboxes' webhook URLs, and has the Telegram inbox register its webhook
// with the simulated Bot API (setWebhook) as a real set-up does.
func connect(ctx context.Context, kanalURL string, st State) (map[string]string, error) {
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
	call := func(method, path string, body any, out any) error {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, kanalURL+path, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+st.Token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if resp.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("Kanal refused the demo's API token (%s); delete the data folder to start the demo over", StateFile)
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(rb))
		}
		return json.Unmarshal(rb, out)
	}
	var list struct {
		Items []struct {
			ID         string `json:"id"`
			WebhookURL string `json:"webhook_url"`
		} `json:"items"`
	}
	if err := call(http.MethodGet, "/api/v1/inboxes", nil, &list); err != nil {
		return nil, fmt.Errorf("list the demo inboxes: %w", err)
	}
	hooks := map[string]string{}
	for ch, id := range st.Inboxes {
		for _, in := range list.Items {
			if in.ID == id && in.WebhookURL != "" {
				hooks[ch] = in.WebhookURL
			}
		}
	}
	if id := st.Inboxes[Telegram]; id != "" {
		var out struct {
			SetupError string `json:"setup_error"`
		}
		if err := call(http.MethodPatch, "/api/v1/inboxes/"+id, map[string]any{"config": map[string]any{"set_webhook": true}}, &out); err != nil {
			return nil, fmt.Errorf("register the Telegram webhook: %w", err)
		}
		if out.SetupError != "" {
			return nil, fmt.Errorf("register the Telegram webhook: %s", out.SetupError)
		}
	}
	return hooks, nil
}

func printBanner(w io.Writer, kanalURL, simURL, dataDir string, st State, created bool) {
	what := "reusing the demo workspace in " + dataDir
	if created {
		what = "created the demo workspace and its inboxes in " + dataDir
	}
	fmt.Fprintf(w, `
Kanal demo is running (%s).

  Kanal       %s
  Login       %s
  Password    %s
  Simulator   %s
  API token   %s

Open the simulator, pick a channel and a customer, and write; answer in Kanal.
Data stays in %s (delete the folder to start over). Press Ctrl-C to stop.

`, what, kanalURL, st.Email, st.Password, simURL, st.Token, dataDir)
}

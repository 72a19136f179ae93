// Package app is Kanal's composition root: it opens the store and the bus,
// builds the services, the HTTP server and the workers, and runs them until
// told to stop.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/bus"
	"github.com/kanal-dev/kanal/internal/canned"
	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/api"
	"github.com/kanal-dev/kanal/internal/channel/email"
	"github.com/kanal-dev/kanal/internal/channel/meta"
	"github.com/kanal-dev/kanal/internal/channel/netgsm"
	"github.com/kanal-dev/kanal/internal/channel/telegram"
	"github.com/kanal-dev/kanal/internal/channel/twilio"
	"github.com/kanal-dev/kanal/internal/channel/webchat"
	"github.com/kanal-dev/kanal/internal/channel/whatsapp"
	"github.com/kanal-dev/kanal/internal/config"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/httpapi"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
	"github.com/kanal-dev/kanal/internal/media"
	"github.com/kanal-dev/kanal/internal/metrics"
	"github.com/kanal-dev/kanal/internal/realtime"
	"github.com/kanal-dev/kanal/internal/secret"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/team"
	"github.com/kanal-dev/kanal/internal/workspace"
)

// Services are the domain services, for commands that need them without
// serving HTTP (setup, token).
type Services struct {
	DB            *store.DB
	Log           *event.Log
	Workspaces    *workspace.Service
	Auth          *auth.Service
	Teams         *team.Service
	Inboxes       *inbox.Service
	Customers     *customer.Service
	Conversations *conversation.Service
	Jobs          *jobs.Queue
	Dispatcher    *event.Dispatcher
	Bus           *bus.InProc
	Webhooks      *channel.Webhooks
	Media         *media.Store
	Channels      *channel.Registry
	Canned        *canned.Service
	// Email is the e-mail adapter (nil when the adapters have none); Serve
	// runs its SMTP listener with --smtp-addr.
	Email *email.Adapter
}

// Adapters returns the channel adapters Kanal ships, with their provider
// clients. publicURL is Kanal's public address (for provider callbacks).
func Adapters(publicURL string) []channel.Adapter {
	return []channel.Adapter{api.NewSender(nil), meta.NewMessenger(nil), meta.NewInstagram(nil), whatsapp.New(nil),
		telegram.New(nil), twilio.NewTwilio(nil, publicURL), netgsm.NewNetgsm(nil), email.New(email.Options{}), webchat.NewAdapter()}
}

// Open opens the database (applying migrations) and builds the services
// with the given channel adapters (nil: Adapters()).
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger, adapters []channel.Adapter) (*Services, error) {
	if adapters == nil {
		adapters = Adapters(cfg.PublicURL)
	}
	key, err := secret.LoadKey(cfg.SecretKey, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, store.Config{DataDir: cfg.DataDir, URL: cfg.DatabaseURL, Logger: logger})
	if err != nil {
		return nil, err
	}
	s := &Services{DB: db, Bus: bus.NewInProc()}
	s.Dispatcher = event.NewDispatcher(s.Bus, logger)
	s.Log = event.NewLog(db, s.Dispatcher)
	s.Jobs = jobs.New(db, logger, jobs.Options{})
	s.Workspaces = workspace.NewService(db, s.Log)
	s.Auth = auth.NewService(db, s.Log, s.Workspaces)
	s.Teams = team.NewService(db, s.Log)
	s.Canned = canned.NewService(db, s.Log)
	types, senders, receivers := channel.Split(adapters)
	s.Inboxes = inbox.NewService(db, s.Log, box, types...)
	s.Customers = customer.NewService(db, s.Log)
	s.Conversations = conversation.NewService(db, s.Log, s.Workspaces, s.Customers, s.Inboxes,
		func(ctx context.Context, tx *store.Tx, workspaceID, kind string, payload any) error {
			_, err := s.Jobs.Enqueue(ctx, tx, workspaceID, kind, payload, time.Time{})
			return err
		})
	channel.NewDelivery(db, s.Conversations, s.Customers, s.Inboxes, senders, logger).Register(s.Jobs)
	s.Media = media.New(db, filepath.Join(cfg.DataDir, "media"))
	channel.NewMediaWorker(db, s.Conversations, s.Inboxes, s.Media, adapters, logger).Register(s.Jobs)
	s.Webhooks = channel.NewWebhooks(db, s.Workspaces, s.Conversations, s.Customers, s.Inboxes, receivers, logger)
	s.Channels = channel.NewRegistry(db, s.Inboxes, s.Webhooks, s.Jobs, adapters, logger)
	for _, a := range adapters {
		if e, ok := a.(*email.Adapter); ok {
			e.Bind(email.Deps{Media: s.Media, Inboxes: s.Inboxes, Store: s.Webhooks, Conversations: s.Conversations,
				MediaBaseURL: cfg.PublicURL})
			s.Email = e
		}
	}
	return s, nil
}

// Close closes the database.
func (s *Services) Close() error { return s.DB.Close() }

// Serve runs the HTTP server, the event dispatcher and the job workers until
// ctx ends, then drains: in-flight requests finish (up to 15 s), workers
// finish their jobs, queued writes commit, and the database closes.
func Serve(ctx context.Context, cfg config.Config, version string, logger *slog.Logger, ready func(addr string)) error {
	start := time.Now()
	// Listen first: with --addr :0 the public URL (signed by providers and
	// given to them as callback) is known only once the port is.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.PublicURLFromAddr {
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	s, err := Open(ctx, cfg, logger, nil)
	if err != nil {
		ln.Close()
		return err
	}
	defer s.Close()
	var smtpL *email.Listener
	if cfg.SMTPAddr != "" && s.Email != nil {
		if smtpL, err = s.Email.Listen(email.ListenerOptions{Addr: cfg.SMTPAddr, Domain: cfg.SMTPDomain}); err != nil {
			ln.Close()
			return err
		}
		logger.Info("smtp listener is running", "addr", smtpL.Addr().String())
	}
	m := metrics.New()
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kanal_jobs_pending", Help: "Jobs waiting to run.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p, _, _ := s.Jobs.Depth(ctx)
		return float64(p)
	}), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kanal_jobs_dead", Help: "Jobs in the dead letter list.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, d, _ := s.Jobs.Depth(ctx)
		return float64(d)
	}))
	hub := realtime.New(realtime.Deps{Bus: s.Bus, Log: s.Log, DB: s.DB, Conversations: s.Conversations,
		Members: s.Auth, Logger: logger}, realtime.Options{})
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kanal_realtime_connections", Help: "Open real-time sockets on this node.",
	}, func() float64 { return float64(hub.Connections()) }))
	widget := webchat.New(webchat.Deps{DB: s.DB, Log: s.Log, Bus: s.Bus, Workspaces: s.Workspaces, Inboxes: s.Inboxes,
		Customers: s.Customers, Conversations: s.Conversations, Media: s.Media, Realtime: hub, Logger: logger,
		PublicURL: cfg.PublicURL}, webchat.Options{})
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "kanal_widget_connections", Help: "Open web chat visitor sockets on this node.",
	}, func() float64 { return float64(widget.Connections()) }))
	s.Dispatcher.OnBatch = func(evs []event.Event) {
		now := time.Now().UnixMilli()
		for _, e := range evs {
			m.DispatchLag.Observe(float64(now-e.CreatedAt) / 1000)
		}
		m.Dispatched.Add(float64(len(evs)))
	}
	api := httpapi.New(httpapi.Deps{
		DB: s.DB, Log: s.Log, Workspaces: s.Workspaces, Auth: s.Auth, Teams: s.Teams, Inboxes: s.Inboxes,
		Customers: s.Customers, Conversations: s.Conversations, Jobs: s.Jobs, Webhooks: s.Webhooks, Media: s.Media, Channels: s.Channels, Canned: s.Canned, Metrics: m, Logger: logger,
		Realtime: hub, Widget: widget, PublicURL: cfg.PublicURL, MaxBody: cfg.MaxBody, Version: version,
		SecureCookies: len(cfg.PublicURL) > 8 && cfg.PublicURL[:8] == "https://",
	})
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}

	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	done := make(chan error, 4)
	go func() { done <- s.Dispatcher.Run(workCtx, s.Log) }()
	go func() { done <- s.Jobs.Run(workCtx) }()
	go func() { done <- hub.Run(workCtx) }()
	go func() { done <- widget.Run(workCtx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	addr := ln.Addr().String()
	logger.Info("kanal is running", "url", "http://"+addr, "public_url", cfg.PublicURL, "database", string(s.DB.Dialect()),
		"data", cfg.DataDir, "startup", time.Since(start).Round(time.Millisecond).String())
	if err := s.Channels.EnsurePolling(ctx); err != nil {
		logger.Warn("could not start the inbox pollers", "err", err)
	}
	if n, err := s.Workspaces.Count(ctx); err == nil && n == 0 {
		logger.Info("no workspace yet: create one with `kanal setup --workspace NAME --email E --password P`")
	}
	if ready != nil {
		ready(addr)
	}
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	logger.Info("shutting down: draining requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if smtpL != nil {
		if err := smtpL.Shutdown(shutCtx); err != nil {
			logger.Warn("shutdown: smtp sessions still running were cut", "err", err)
		}
	}
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown: requests still running were cut", "err", err)
	}
	// Hijacked WebSockets are not part of srv.Shutdown: close them (1001).
	if err := hub.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown: real-time sockets still closing were cut", "err", err)
	}
	if err := widget.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown: widget sockets still closing were cut", "err", err)
	}
	stopWork()
	for range 4 {
		if err := <-done; err != nil {
			logger.Warn("worker stopped with error", "err", err)
		}
	}
	logger.Info("stopped")
	return nil
}

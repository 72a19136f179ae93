// Package httpapi is Kanal's HTTP API: JSON under /api/v1, thin handlers that
// decode, authorize, call a domain service and encode. All routes are in
// routes.go; errors meet HTTP only in errors.go.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/canned"
	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/webchat"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/idempotency"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
	"github.com/kanal-dev/kanal/internal/media"
	"github.com/kanal-dev/kanal/internal/metrics"
	"github.com/kanal-dev/kanal/internal/realtime"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/team"
	"github.com/kanal-dev/kanal/internal/workspace"
)

// Deps are the services the API calls.
type Deps struct {
	DB            *store.DB
	Log           *event.Log
	Workspaces    *workspace.Service
	Auth          *auth.Service
	Teams         *team.Service
	Inboxes       *inbox.Service
	Customers     *customer.Service
	Conversations *conversation.Service
	Jobs          *jobs.Queue
	Webhooks      *channel.Webhooks
	Media         *media.Store
	Channels      *channel.Registry
	Canned        *canned.Service
	Realtime      *realtime.Hub
	// Widget serves the web chat widget's public routes (/widget.js,
	// /widget/{key}/...); nil leaves them out.
	Widget  *webchat.Service
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// PublicURL is the address customers and providers reach Kanal at,
	// without a trailing slash.
	PublicURL string
	// MaxBody caps request bodies in bytes.
	MaxBody int64
	// SecureCookies sets the Secure flag on the session cookie.
	SecureCookies bool
	// Version is the build's version, shown by /healthz.
	Version string
}

// Server serves the HTTP API.
type Server struct {
	Deps
	log     *slog.Logger
	mux     *http.ServeMux
	limiter *keyedLimiter
	csrf    *http.CrossOriginProtection
	idem    *idempotency.Keys
}

// New builds the API handler.
func New(d Deps) *Server {
	if d.MaxBody <= 0 {
		d.MaxBody = 1 << 20
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{Deps: d, log: d.Logger, mux: http.NewServeMux(), limiter: newKeyedLimiter(),
		csrf: http.NewCrossOriginProtection(), idem: idempotency.New(d.DB)}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.wrap(rt))
	}
	if d.Widget != nil {
		s.MountWidget(d.Widget)
	}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(d.Metrics.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &httpError{status: http.StatusNotFound, code: "no_route", msg: "no such API route: " + r.Method + " " + r.URL.Path})
	})
	s.mux.HandleFunc("/", s.serveWeb) // the agent workspace (single-page app)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type ctxKey struct{}

func principal(r *http.Request) auth.Principal {
	p, _ := r.Context().Value(ctxKey{}).(auth.Principal)
	return p
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap adds to a route: metrics, panic recovery, body limit, authentication,
// cross-origin protection for cookie sessions and the permission check.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in handler", "route", rt.pattern, "panic", p)
				if sw.status == 0 {
					s.writeError(sw, r, &httpError{status: 500, code: "internal", msg: "internal error"})
				}
			}
			code := sw.status
			if code == 0 {
				code = 200
			}
			s.Metrics.HTTPDuration.WithLabelValues(rt.pattern, strconv.Itoa(code/100)+"xx").Observe(time.Since(start).Seconds())
		}()
		r.Body = http.MaxBytesReader(sw, r.Body, s.MaxBody)
		if rt.access != public {
			p, viaCookie, err := s.authenticate(r)
			if err != nil {
				s.writeError(sw, r, err)
				return
			}
			if viaCookie {
				if err := s.csrf.Check(r); err != nil {
					s.writeError(sw, r, &httpError{status: http.StatusForbidden, code: "cross_origin", msg: "cross-origin request refused"})
					return
				}
			}
			if rt.perm != "" && !p.Can(rt.perm) {
				s.writeError(sw, r, &httpError{status: http.StatusForbidden, code: "forbidden", msg: "your role may not do this"})
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
			if key := r.Header.Get("Idempotency-Key"); key != "" && r.Method == http.MethodPost {
				if err := s.idempotent(sw, r, rt, p.WorkspaceID, key); err != nil {
					s.writeError(sw, r, err)
				}
				return
			}
		}
		if err := rt.h(sw, r); err != nil {
			s.writeError(sw, r, err)
		}
	})
}

const sessionCookie = "kanal_session"

func (s *Server) authenticate(r *http.Request) (auth.Principal, bool, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return auth.Principal{}, false, &httpError{status: http.StatusUnauthorized, code: "unauthenticated", msg: "use Authorization: Bearer <token>"}
		}
		p, err := s.Auth.APIToken(r.Context(), strings.TrimSpace(tok))
		return p, false, err
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return auth.Principal{}, false, &httpError{status: http.StatusUnauthorized, code: "unauthenticated", msg: "log in or send an API token"}
	}
	p, err := s.Auth.Session(r.Context(), c.Value)
	return p, true, err
}

package demo

import (
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"strings"
)

//go:embed web
var webFS embed.FS

// pageCSP keeps the page to its own files: no inline script, nothing from
// elsewhere, no framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Simulator) routes() http.Handler {
	mux := http.NewServeMux()
	// The providers' APIs, as Kanal's inboxes name them in api_base_url.
	mux.Handle("/whatsapp/", http.StripPrefix("/whatsapp", proxy(s.wa.URL, nil)))
	mux.Handle("/graph/", http.StripPrefix("/graph", proxy(s.meta.URL, s.ids.metaEdit())))
	mux.Handle("/telegram/", http.StripPrefix("/telegram", proxy(s.tg.URL, nil)))
	mux.Handle("/twilio/", http.StripPrefix("/twilio", proxy(s.tw.URL, s.ids.twilioEdit("/twilio"))))
	mux.Handle("/netgsm/", http.StripPrefix("/netgsm", proxy(s.ng.URL, s.ids.netgsmEdit())))

	// The customer page.
	static, _ := fs.Sub(webFS, "web")
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		data, err := fs.ReadFile(static, name)
		if err != nil {
			panic(err)
		}
		pattern := "GET /" + name
		if name == "index.html" {
			pattern = "GET /{$}"
		}
		ctype := mime.TypeByExtension(name[strings.LastIndexByte(name, '.'):])
		mux.HandleFunc(pattern, page(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(data)
		}))
	}
	mux.HandleFunc("GET /sample.jpg", page(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(SampleImage())
	}))
	mux.HandleFunc("GET /api/info", page(s.apiInfo))
	mux.HandleFunc("GET /api/messages", page(s.apiMessages))
	mux.HandleFunc("POST /api/send", page(s.apiSend))
	mux.HandleFunc("POST /api/tour", page(s.apiTour))
	return mux
}

// page wraps the page's routes: only a loopback host name (so that no
// other site can reach them through DNS rebinding), JSON bodies only on
// POST (a cross-site form cannot send one without asking first), and the
// page's security headers.
func page(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		ip := net.ParseIP(strings.Trim(host, "[]"))
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "the simulator answers on 127.0.0.1 or localhost only", http.StatusMisdirectedRequest)
			return
		}
		if r.Method == http.MethodPost {
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
				return
			}
		}
		hd := w.Header()
		hd.Set("Content-Security-Policy", pageCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	e := json.NewEncoder(w)
	e.SetEscapeHTML(false)
	_ = e.Encode(v)
}

// apiInfo answers the demo's state, channels and personas.
func (s *Simulator) apiInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"info": s.Info(), "channels": Channels, "personas": Personas})
}

// apiMessages answers the messages of a chat (?channel=&persona=, both
// optional) and the data's version.
func (s *Simulator) apiMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	items, version := s.Messages(q.Get("channel"), q.Get("persona"))
	writeJSON(w, http.StatusOK, map[string]any{"version": version, "items": items})
}

// apiSend sends a customer message: 200 with the message when Kanal took
// it (or, for Netgsm, it waits in the inbox Kanal polls), 502 with the
// message when Kanal refused it.
func (s *Simulator) apiSend(w http.ResponseWriter, r *http.Request) {
	var in SendRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
		return
	}
	m, err := s.Send(in)
	switch {
	case errors.Is(err, ErrBadRequest):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrNotReady):
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	case m.Status == StatusFailed:
		writeJSON(w, http.StatusBadGateway, m)
	default:
		writeJSON(w, http.StatusOK, m)
	}
}

// apiTour starts the scripted tour ({"lang":"tr"|"en"}) and answers 202
// at once.
func (s *Simulator) apiTour(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Lang string `json:"lang"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&in)
	if !s.Info().Ready {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": ErrNotReady.Error()})
		return
	}
	if !s.spawn(func() { s.Tour(in.Lang) }) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the simulator is stopping"})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"started": true})
}

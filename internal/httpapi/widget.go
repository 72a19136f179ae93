package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/channel/webchat"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/web"
)

// The web chat widget's public endpoints (docs/widget.md). A site embeds
//
//	<script src="https://KANAL/widget.js" data-inbox="PUBLIC_INBOX_KEY" async></script>
//
// and the loader injects a launcher and an iframe showing /widget/{key}/frame,
// a page of Kanal's own origin: its calls to /widget/{key}/... are
// same-origin. Other sites' pages may call them only when their origin is in
// the inbox's allowed_origins (CORS), and only those sites may frame the
// widget (CSP frame-ancestors). Visitors authenticate with their opaque
// token (Authorization: Bearer kv_..., or the kanal.token.<token>
// subprotocol on the socket); no agent credentials are involved.
//
// These routes are mounted by MountWidget rather than the route table: they
// have their own body limits (attachments are larger than MaxBody), their
// own rate limits and CORS preflights.

const (
	widgetJSONBody  = 64 << 10
	widgetSubproto  = "kanal.widget.v1"
	widgetTokenProt = "kanal.token."
)

// widgetApp is the widget's bundle, loaded once.
var widgetApp = sync.OnceValue(func() map[string]*webFile {
	files := map[string]*webFile{}
	fsys := web.Widget()
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if data, err := fs.ReadFile(fsys, p); err == nil {
			files[p] = newWebFile(p, data)
		}
		return nil
	})
	return files
})

// widgetRoute is one widget endpoint's handler; in is set for routes under
// /widget/{key}/.
type widgetRoute func(w http.ResponseWriter, r *http.Request, wr *widgetReq) error

type widgetReq struct {
	in  inbox.Inbox
	st  webchat.Settings
	svc *webchat.Service
	lim *keyedLimiter
}

// MountWidget adds the widget's public routes, served by svc.
func (s *Server) MountWidget(svc *webchat.Service) {
	lim := newKeyedLimiter()
	h := func(pattern string, keyed bool, fn widgetRoute) {
		s.mux.Handle(pattern, s.widgetWrap(pattern, svc, lim, keyed, fn))
	}
	h("GET /widget.js", false, s.widgetLoader)
	h("GET /widget-app/assets/{file}", false, s.widgetAsset)
	h("GET /widget/{key}/frame", true, s.widgetFrame)
	h("GET /widget/{key}/config", true, s.widgetConfig)
	h("POST /widget/{key}/session", true, s.widgetSession)
	h("GET /widget/{key}/messages", true, s.widgetMessages)
	h("POST /widget/{key}/messages", true, s.widgetSend)
	h("POST /widget/{key}/attachments", true, s.widgetAttach)
	h("GET /widget/{key}/media/{id}", true, s.widgetMedia)
	h("POST /widget/{key}/contact", true, s.widgetContact)
	h("GET /widget/{key}/ws", true, s.widgetSocket)
	h("OPTIONS /widget/{key}/{rest...}", true, func(w http.ResponseWriter, r *http.Request, _ *widgetReq) error {
		w.WriteHeader(http.StatusNoContent) // widgetWrap has checked the origin and set the CORS headers
		return nil
	})
}

// widgetWrap adds to a widget route: metrics, panic recovery, the per-IP
// request limit, the inbox (for keyed routes), the origin check with CORS
// headers, and the JSON body limit.
func (s *Server) widgetWrap(pattern string, svc *webchat.Service, lim *keyedLimiter, keyed bool, fn widgetRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in handler", "route", pattern, "panic", p)
				if sw.status == 0 {
					s.writeError(sw, r, &httpError{status: 500, code: "internal", msg: "internal error"})
				}
			}
			code := sw.status
			if code == 0 {
				code = 200
			}
			s.Metrics.HTTPDuration.WithLabelValues(pattern, strconv.Itoa(code/100)+"xx").Observe(time.Since(start).Seconds())
		}()
		o := svc.Options()
		if ok, wait := lim.allow("req:"+clientIP(r), o.RequestsPerIP.Every, o.RequestsPerIP.Burst); !ok {
			s.widgetError(sw, r, tooMany(wait, "Too many requests from your network; wait %s and try again."))
			return
		}
		wr := &widgetReq{svc: svc, lim: lim}
		if keyed {
			in, st, err := svc.Inbox(r.Context(), r.PathValue("key"))
			if err != nil {
				s.writeError(sw, r, err)
				return
			}
			wr.in, wr.st = in, st
			if !strings.HasSuffix(pattern, "/frame") && !widgetOrigin(sw, r, st) {
				s.writeError(sw, r, &httpError{status: http.StatusForbidden, code: "origin_not_allowed",
					msg: "this site may not use this chat widget: add its origin to the inbox's allowed_origins"})
				return
			}
		}
		if r.Method == http.MethodPost && !strings.HasSuffix(pattern, "/attachments") {
			r.Body = http.MaxBytesReader(sw, r.Body, widgetJSONBody)
		}
		if err := fn(sw, r, wr); err != nil {
			s.widgetError(sw, r, err)
		}
	})
}

// widgetOrigin checks a request's Origin: none (not a browser, or a
// same-origin GET) and Kanal's own (the widget's iframe) pass; an allowed
// site's passes with CORS headers; any other is refused.
func widgetOrigin(w http.ResponseWriter, r *http.Request, st webchat.Settings) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if !st.OriginAllowed(origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Expose-Headers", "Retry-After")
	h.Set("Access-Control-Max-Age", "600")
	return true
}

func tooMany(wait time.Duration, format string) error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return &retryError{secs: secs, err: &httpError{status: http.StatusTooManyRequests, code: "rate_limited",
		msg: fmt.Sprintf(format, plural(secs, "second"))}}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// retryError is a 429 that also sets Retry-After.
type retryError struct {
	secs int
	err  *httpError
}

func (e *retryError) Error() string { return e.err.msg }
func (e *retryError) Unwrap() error { return e.err }

// visitorToken reads the visitor token from Authorization: Bearer or, on a
// WebSocket, from the kanal.token.<token> subprotocol.
func visitorToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(p), widgetTokenProt); ok {
				return t
			}
		}
	}
	return ""
}

func (wr *widgetReq) visitor(r *http.Request) (webchat.Visitor, error) {
	return wr.svc.Authenticate(r.Context(), wr.in, visitorToken(r))
}

// widgetError is writeError plus Retry-After for rate limits.
func (s *Server) widgetError(w http.ResponseWriter, r *http.Request, err error) {
	var re *retryError
	if errors.As(err, &re) {
		w.Header().Set("Retry-After", strconv.Itoa(re.secs))
	}
	s.writeError(w, r, err)
}

func serveWidgetFile(w http.ResponseWriter, r *http.Request, f *webFile, cache string) {
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", cache)
	hd.Set("X-Content-Type-Options", "nosniff")
	body, etag := f.data, f.etag
	if f.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hd.Set("Content-Encoding", "gzip")
			body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

var errWidgetNotBuilt = &httpError{status: http.StatusServiceUnavailable, code: "widget_not_built",
	msg: "the chat widget is not built into this binary (make widget)"}

// widgetLoader serves the loader script sites embed. Its URL never changes,
// so it is cached briefly; it may be loaded by any site.
func (s *Server) widgetLoader(w http.ResponseWriter, r *http.Request, _ *widgetReq) error {
	f := widgetApp()["widget.js"]
	if f == nil {
		return errWidgetNotBuilt
	}
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	serveWidgetFile(w, r, f, "public, max-age=300")
	return nil
}

// widgetAsset serves the iframe app's content-hashed files.
func (s *Server) widgetAsset(w http.ResponseWriter, r *http.Request, _ *widgetReq) error {
	f := widgetApp()["assets/"+r.PathValue("file")]
	if f == nil {
		w.Header().Set("Cache-Control", "no-store")
		return &httpError{status: http.StatusNotFound, code: "not_found", msg: "no such widget file"}
	}
	serveWidgetFile(w, r, f, webAssetCache)
	return nil
}

// widgetFrameCSP is the iframe page's policy: Kanal's own scripts, styles
// and connections only, framed only by the inbox's allowed sites (any site
// when the list is empty).
func widgetFrameCSP(st webchat.Settings) string {
	ancestors := "*"
	if len(st.AllowedOrigins) > 0 {
		ancestors = "'self' " + strings.Join(st.AllowedOrigins, " ")
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; " +
		"media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; frame-src 'none'; base-uri 'none'; " +
		"form-action 'none'; frame-ancestors " + ancestors
}

// widgetFrame serves the page inside the widget's iframe.
func (s *Server) widgetFrame(w http.ResponseWriter, r *http.Request, wr *widgetReq) error {
	f := widgetApp()["frame.html"]
	if f == nil {
		return errWidgetNotBuilt
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", widgetFrameCSP(wr.st))
	hd.Set("Referrer-Policy", "no-referrer")
	serveWidgetFile(w, r, f, "no-cache")
	return nil
}

// widgetConfig is what the widget shows before a session: texts, colour,
// pre-chat form, limits and whether someone can answer now.
func (s *Server) widgetConfig(w http.ResponseWriter, r *http.Request, wr *widgetReq) error {
	a := wr.svc.Availability(wr.in, wr.st)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"name": wr.in.Name, "color": wr.st.Color, "greeting": wr.st.Greeting, "offline_message": wr.st.OfflineMessage,
		"pre_chat": wr.st.PreChat, "online": a.Online, "agents_available": a.Agents, "in_business_hours": a.BusinessHours,
		"business_hours": wr.st.BusinessHours, "max_file_mb": wr.st.MaxFileMB, "file_types": wr.st.FileTypes,
		"max_text_bytes": webchat.MaxTextBytes,
	})
	return nil
}

func (s *Server) widgetSession(w http.ResponseWriter, r *http.Request, wr *widgetReq) error {
	var in struct {
		Identity *webchat.Claim `json:"identity"`
	}
	if r.ContentLength != 0 {
		if err := s.decode(r, &in); err != nil {
			return err
		}
	}
	o := wr.svc.Options()
	if ok, wait := wr.lim.allow("session:"+clientIP(r), o.SessionsPerIP.Every, o.SessionsPerIP.Burst); !ok {
		return tooMany(wait, "Too many chat sessions from your network; wait %s and try again.")
	}
	sess, err := wr.svc.StartSession(r.Context(), wr.in, visitorToken(r), in.Identity)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, sess)
	return nil
}

func (s *Server) widgetMessages(w http.ResponseWriter, r *http.Request, wr *widgetReq) error {
	v, err := wr.visitor(r)
	if err != nil {
		return err
	}
	limit, err := limitParam(r, 50, 200)
	if err != nil {
		return err
	}
	before, err := conversation.DecodeCursor(r.URL.Query().Get("before"))
	if err != nil {
		return errs.Invalid("before", "is not a cursor this API returned")
	}
	items, next, err := wr.svc.History(r.Context(), wr.in, v, before, limit)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_before": next})
	return nil
}

// sendLimit applies the per-visitor and per-IP message limits.
func (s *Server) sendLimit(r *http.Request, wr *widgetReq, v webchat.Visitor, upload bool) error {
	o := wr.svc.Options()
	const msg = "You are sending messages too fast: wait %s and send it again. This message was not sent."
	if ok, wait := wr.lim.allow("msg:v:"+v.ID, o.MessagesPerVisitor.Every, o.MessagesPerVisitor.Burst); !ok {
		return tooMany(wait, msg)
	}
	if ok, wait := wr.lim.allow("msg:ip:"+clientIP(r), o.MessagesPerIP.Every, o.MessagesPerIP.Burst); !ok {
		return tooMany(wait, msg)
	}
	if upload {
		if ok, wait := wr.lim.allow("up:v:"+v.ID, o.UploadsPerVisitor.Every, o.UploadsPerVisitor.Burst); !ok {
			return tooMany(wait, "You are sending files too fast: wait %s and send it again. This file was not sent.")
		}
	}
	return nil
}

func writeSent(w http.ResponseWriter, m webchat.Message, dup bool) {
	status := http.StatusCreated
	if dup {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"message": m, "duplicate": dup})
}

func (s *Server) widgetSend(w http.ResponseWriter, r *http.Request, wr *widgetReq) error {
	v, err := wr.visitor(r)
	if err != nil {
		return err
	}
	var in struct {
		Text     string `json:"text"`
		ClientID string `json:"client_id"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	if err := webchat.ValidateClientID(in.ClientID); err != nil {
		return err
	}
	if err := s.sendLimit(r, wr, v, false); err != nil {
		return err
	}
	m, dup, err := wr.svc.Send(r.Context(), wr.in, v, webchat.Outgoing{ClientID: in.ClientID, Text: in.Text})
	if err != nil {
		return err
	}
	writeSent(w, m, dup)
	return nil
}

// widgetAttach takes multipart/form-data with client_id, an optional text
// (the caption) and file, in that order.
func (s *Server) widgetAttach(w http.ResponseWriter, r *http.Request, wr *widgetReq) error {
	v, err := wr.visitor(r)
	if err != nil {
		return err
	}
	tooLarge := errs.New(errs.ErrTooLarge, "file_too_large", "The file is larger than %d MB; send a smaller one.", wr.st.MaxFileMB)
	limit := wr.st.MaxFileBytes() + 64<<10
	if r.ContentLength > limit {
		return tooLarge
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return &httpError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", msg: "send the file as multipart/form-data"}
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return &httpError{status: http.StatusBadRequest, code: "malformed_body", msg: "the body is not multipart/form-data"}
	}
	var clientID, text string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return errs.Invalid("file", "is required")
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge
		}
		if err != nil {
			return &httpError{status: http.StatusBadRequest, code: "malformed_body", msg: "the multipart body could not be read"}
		}
		switch p.FormName() {
		case "client_id", "text":
			b, err := io.ReadAll(io.LimitReader(p, webchat.MaxTextBytes+1))
			if err != nil {
				return &httpError{status: http.StatusBadRequest, code: "malformed_body", msg: "the multipart body could not be read"}
			}
			if p.FormName() == "client_id" {
				clientID = string(b)
			} else {
				text = string(b)
			}
		case "file":
			if err := webchat.ValidateClientID(clientID); err != nil {
				return err
			}
			if err := s.sendLimit(r, wr, v, true); err != nil {
				return err
			}
			m, dup, err := wr.svc.Attach(r.Context(), wr.in, wr.st, v, clientID, text,
				webchat.Upload{FileName: p.FileName(), DeclaredType: p.Header.Get("Content-Type"), Body: p})
			var tna *webchat.ErrTypeNotAllowed
			switch {
			case errors.As(err, &tna):
				return &httpError{status: http.StatusUnsupportedMediaType, code: "file_type_not_allowed", msg: tna.Error()}
			case errors.As(err, &mbe):
				return tooLarge
			case err != nil:
				return err
			}
			writeSent(w, m, dup)
			return nil
		default:
			return errs.Invalid(p.FormName(), "is not a field of an attachment (client_id, text, file)")
		}
	}
}

// widgetMedia serves a file of one of the visitor's messages.
func (s *Server) widgetMedia(w http.ResponseWriter, r *http.Request, wr *widgetReq) error {
	v, err := wr.visitor(r)
	if err != nil {
		return err
	}
	ok, err := wr.svc.MediaVisible(r.Context(), wr.in, v, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !ok {
		return &httpError{status: http.StatusNotFound, code: "not_found", msg: "no such file in this chat"}
	}
	f, fh, err := s.Media.Open(r.Context(), v.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	defer fh.Close()
	disp := "attachment"
	switch f.ContentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		disp = "inline"
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ContentType)
	hd.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": f.FileName}))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cache-Control", "private, max-age=86400")
	hd.Set("ETag", `"`+f.SHA256+`"`)
	http.ServeContent(w, r, "", time.UnixMilli(f.CreatedAt), fh)
	return nil
}

// widgetContact records the name and e-mail of the pre-chat or offline form.
func (s *Server) widgetContact(w http.ResponseWriter, r *http.Request, wr *widgetReq) error {
	v, err := wr.visitor(r)
	if err != nil {
		return err
	}
	var in struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	o := wr.svc.Options()
	if ok, wait := wr.lim.allow("msg:v:"+v.ID, o.MessagesPerVisitor.Every, o.MessagesPerVisitor.Burst); !ok {
		return tooMany(wait, "Too many requests: wait %s and try again.")
	}
	v, err = wr.svc.SetContact(r.Context(), v, in.Name, in.Email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"visitor": v})
	return nil
}

// widgetSocket upgrades to the visitor's socket (docs/widget.md). The token
// comes as the subprotocol kanal.token.<token> (browsers cannot set headers
// on a WebSocket) or as Authorization: Bearer.
func (s *Server) widgetSocket(w http.ResponseWriter, r *http.Request, wr *widgetReq) error {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return &httpError{status: http.StatusUpgradeRequired, code: "upgrade_required", msg: "this route is a WebSocket: send an upgrade request"}
	}
	v, err := wr.visitor(r)
	if err != nil {
		return err
	}
	var after int64
	resume := false
	if a, ok := r.URL.Query()["after"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(a[0]), 10, 64)
		if err != nil || n < 0 {
			return errs.Invalid("after", "must be a seq number (0 for the start)")
		}
		after, resume = n, true
	}
	o := wr.svc.Options()
	if ok, wait := wr.lim.allow("ws:"+clientIP(r), o.SocketsPerIP.Every, o.SocketsPerIP.Burst); !ok {
		return tooMany(wait, "Too many connections from your network; wait %s and try again.")
	}
	// widgetWrap has checked the Origin (Kanal's own page or an allowed site).
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{widgetSubproto}, InsecureSkipVerify: true})
	if err != nil {
		s.log.Debug("widget socket refused", "err", err)
		return nil
	}
	wr.svc.Serve(ws, wr.in, wr.st, v, after, resume)
	return nil
}

// widgetEmbed tells admins how to embed a web chat inbox: its public key,
// the embed tag and (to those who manage inboxes) the identity secret.
// Route: GET /api/v1/inboxes/{id}/widget (member, work).
func (s *Server) widgetEmbed(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	in, err := s.Inboxes.Get(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if in.Type != webchat.TypeName {
		return errs.New(errs.ErrConflict, "not_webchat", "only webchat inboxes have a widget")
	}
	out := map[string]any{
		"public_key": in.PublicKey,
		"script_url": s.PublicURL + "/widget.js",
		"embed":      fmt.Sprintf(`<script src="%s/widget.js" data-inbox="%s" async></script>`, s.PublicURL, in.PublicKey),
	}
	if p.Can(auth.PermManageInboxes) {
		out["identity_secret"] = in.Secrets[webchat.SecretIdentity]
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

package httpapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kanal-dev/kanal/web"
)

// WebCSP is the Content-Security-Policy of the browser apps: scripts, styles
// and fonts only from Kanal itself (no inline script, no eval), images from
// Kanal (media is served at /api/v1/media/...) or data:/blob: URLs, API calls
// and the real-time socket to Kanal, and no framing by anyone.
const WebCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; media-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; frame-src 'none'; " +
	"worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// webAssetCache is the Cache-Control of content-hashed files under assets/:
// their name changes whenever their bytes do.
const webAssetCache = "public, max-age=31536000, immutable"

// workspaceApp is the agent workspace, built once from the embedded bundle.
var workspaceApp = sync.OnceValue(func() http.Handler { return WebApp(web.Workspace()) })

// serveWeb serves the agent workspace: index.html for "/" and every path
// that is not a file (the app's own routes, e.g. /conversations/{id}), and
// the bundle's files. It is mounted on the mux as "/" (no method), the least
// specific pattern: every API route, /api/ (404 no_route), /webhooks/...,
// /healthz, /readyz and /metrics take precedence. A method-less pattern is
// needed because "GET /" would conflict with the "/api/" catch-all.
func (s *Server) serveWeb(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
		s.writeError(w, r, &httpError{status: http.StatusNotFound, code: "no_route", msg: "no such API route: " + r.Method + " " + r.URL.Path})
		return
	}
	workspaceApp().ServeHTTP(w, r)
}

// webFile is one file of a bundle, kept in memory with its gzip form.
type webFile struct {
	name  string // for the content type
	data  []byte
	gz    []byte // nil when compressing does not pay
	etag  string
	ctype string
}

// WebApp serves the single-page app in fsys (index.html at its root, hashed
// files under assets/):
//   - GET and HEAD only (405 otherwise);
//   - files under assets/ with a one-year immutable cache, a missing one is
//     404 (never index.html, which a browser would try to run as a script);
//   - any other path that is not a file answers index.html with no-cache, so
//     a new release is picked up on the next load;
//   - gzip when the client takes it, ETag and 304s;
//   - on every answer: the CSP above, nosniff, X-Frame-Options DENY and a
//     referrer policy that keeps conversation URLs to Kanal.
func WebApp(fsys fs.FS) http.Handler {
	files := map[string]*webFile{}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		files[p] = newWebFile(p, data)
		return nil
	})
	return &webHandler{files: files, index: files["index.html"]}
}

func newWebFile(name string, data []byte) *webFile {
	sum := sha256.Sum256(data)
	f := &webFile{name: name, data: data, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	f.ctype = mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js", ".mjs":
		f.ctype = "text/javascript; charset=utf-8"
	case ".html":
		f.ctype = "text/html; charset=utf-8"
	case ".css":
		f.ctype = "text/css; charset=utf-8"
	case ".svg":
		f.ctype = "image/svg+xml"
	case ".json", ".map":
		f.ctype = "application/json"
	}
	if f.ctype == "" {
		f.ctype = "application/octet-stream"
	}
	if compressible(f.ctype) && len(data) > 512 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(data)
		_ = zw.Close()
		if b.Len() < len(data)*9/10 {
			f.gz = b.Bytes()
		}
	}
	return f
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.HasPrefix(ctype, "application/json") || ctype == "image/svg+xml"
}

type webHandler struct {
	files map[string]*webFile
	index *webFile
}

func (h *webHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", WebCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	f := h.files[name]
	switch {
	case f != nil && name != "index.html":
		if strings.HasPrefix(name, "assets/") {
			hd.Set("Cache-Control", webAssetCache)
		} else {
			hd.Set("Cache-Control", "no-cache")
		}
	case strings.HasPrefix(name, "assets/"):
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "not found", http.StatusNotFound)
		return
	default: // "/", index.html and the app's own routes
		if h.index == nil {
			hd.Set("Cache-Control", "no-store")
			http.Error(w, "the web app is not built into this binary", http.StatusServiceUnavailable)
			return
		}
		f = h.index
		hd.Set("Cache-Control", "no-cache")
	}
	hd.Set("Content-Type", f.ctype)
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

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		if _, q, ok := strings.Cut(strings.ReplaceAll(params, " ", ""), "q="); ok {
			v, err := strconv.ParseFloat(q, 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}

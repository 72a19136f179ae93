package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kanal-dev/kanal/internal/httpapi"
	"github.com/kanal-dev/kanal/web"
)

var assetRef = regexp.MustCompile(`(?:src|href)="(/[^"]+)"`)

// TestWorkspaceBundle checks the committed bundle: an index.html whose
// scripts and styles all exist, and nothing inline that the CSP would block
// (or that would need 'unsafe-inline').
func TestWorkspaceBundle(t *testing.T) {
	fsys := web.Workspace()
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		t.Fatalf("index.html is not in the bundle (run make web): %v", err)
	}
	html := string(index)
	refs := assetRef.FindAllStringSubmatch(html, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d files, want a script and a stylesheet:\n%s", len(refs), html)
	}
	var script bool
	for _, m := range refs {
		name := strings.TrimPrefix(m[1], "/")
		if _, err := fs.Stat(fsys, name); err != nil {
			t.Errorf("index.html references %s, which the bundle lacks", m[1])
		}
		if strings.HasSuffix(name, ".js") {
			script = true
			if !strings.HasPrefix(name, "assets/") {
				t.Errorf("script %s is not a hashed asset", m[1])
			}
		}
	}
	if !script {
		t.Error("index.html loads no script")
	}
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(m, ` src="`) {
			t.Errorf("inline script in index.html: %s", m)
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(html) || strings.Contains(html, "<style") || strings.Contains(html, "style=") {
		t.Error("index.html has inline handlers or styles")
	}
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkSecurityHeaders(t *testing.T, res *http.Response) {
	t.Helper()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self' ws: wss:", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code or eval: %q", csp)
	}
	if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
	if got := res.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options %q", got)
	}
}

var testApp = fstest.MapFS{
	"index.html":            {Data: []byte(`<!doctype html><script type="module" src="/assets/app-1a2b.js"></script><div id="root"></div>`)},
	"assets/app-1a2b.js":    {Data: bytes.Repeat([]byte("console.log('kanal');\n"), 200)},
	"assets/app-1a2b.css":   {Data: []byte("body{margin:0}")},
	"favicon.svg":           {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
	"assets/nested/x-9.png": {Data: []byte("\x89PNG\r\n")},
}

func TestWebAppServes(t *testing.T) {
	h := httpapi.WebApp(testApp)

	t.Run("index and SPA fallback", func(t *testing.T) {
		for _, path := range []string{"/", "/index.html", "/conversations/0198a1b2", "/admin/inboxes", "/customers/x/timeline?y=1"} {
			res := get(t, h, http.MethodGet, path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", path, res.StatusCode)
			}
			if b := body(t, res); !strings.Contains(b, `<div id="root">`) {
				t.Errorf("GET %s: not index.html: %q", path, b)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q", path, ct)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("GET %s: Cache-Control %q, want no-cache", path, cc)
			}
			checkSecurityHeaders(t, res)
		}
	})

	t.Run("hashed assets cached for a year", func(t *testing.T) {
		res := get(t, h, http.MethodGet, "/assets/app-1a2b.js", nil)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(body(t, res), "console.log") {
			t.Fatalf("asset: %d", res.StatusCode)
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("asset Cache-Control %q", cc)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("asset Content-Type %q", ct)
		}
		checkSecurityHeaders(t, res)
		if ct := get(t, h, http.MethodGet, "/assets/app-1a2b.css", nil).Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
			t.Errorf("css Content-Type %q", ct)
		}
	})

	t.Run("missing asset is 404, never index.html", func(t *testing.T) {
		res := get(t, h, http.MethodGet, "/assets/gone-0000.js", nil)
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("missing asset: %d", res.StatusCode)
		}
		if strings.Contains(body(t, res), "root") {
			t.Error("missing asset answered with index.html")
		}
	})

	t.Run("gzip and conditional requests", func(t *testing.T) {
		res := get(t, h, http.MethodGet, "/assets/app-1a2b.js", map[string]string{"Accept-Encoding": "br, gzip"})
		if res.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("no gzip: %v", res.Header)
		}
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if !bytes.Equal(plain, testApp["assets/app-1a2b.js"].Data) {
			t.Error("gzip body differs from the file")
		}
		if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
			t.Error("no Vary: Accept-Encoding")
		}
		if res := get(t, h, http.MethodGet, "/assets/app-1a2b.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); res.Header.Get("Content-Encoding") != "" {
			t.Error("gzip;q=0 still got gzip")
		}
		etag := get(t, h, http.MethodGet, "/", nil).Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag on index.html")
		}
		if res := get(t, h, http.MethodGet, "/", map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: %d, want 304", res.StatusCode)
		}
	})

	t.Run("methods", func(t *testing.T) {
		res := get(t, h, http.MethodHead, "/", nil)
		if res.StatusCode != http.StatusOK || body(t, res) != "" {
			t.Errorf("HEAD /: %d", res.StatusCode)
		}
		res = get(t, h, http.MethodPost, "/", nil)
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST /: %d Allow %q", res.StatusCode, res.Header.Get("Allow"))
		}
	})

	t.Run("no traversal", func(t *testing.T) {
		res := get(t, h, http.MethodGet, "/../../etc/passwd", nil)
		if b := body(t, res); !strings.Contains(b, `<div id="root">`) {
			t.Errorf("traversal answered %q", b)
		}
	})
}

func TestWebAppWithoutBundle(t *testing.T) {
	res := get(t, httpapi.WebApp(fstest.MapFS{}), http.MethodGet, "/", nil)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("no bundle: %d", res.StatusCode)
	}
	checkSecurityHeaders(t, res)
}

// TestRealBundleServes runs the embedded bundle through the handler.
func TestRealBundleServes(t *testing.T) {
	h := httpapi.WebApp(web.Workspace())
	res := get(t, h, http.MethodGet, "/conversations/abc", nil)
	html := body(t, res)
	if res.StatusCode != http.StatusOK || !strings.Contains(html, `id="root"`) {
		t.Fatalf("GET /conversations/abc: %d %q", res.StatusCode, html)
	}
	for _, m := range assetRef.FindAllStringSubmatch(html, -1) {
		r := get(t, h, http.MethodGet, m[1], nil)
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", m[1], r.StatusCode)
		}
		if strings.HasPrefix(m[1], "/assets/") && !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: Cache-Control %q", m[1], r.Header.Get("Cache-Control"))
		}
	}
}

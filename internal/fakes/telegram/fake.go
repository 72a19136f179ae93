// Package telegram is a fake Telegram Bot API for tests: an httptest server
// answering /bot{token}/{method} (sendMessage, sendPhoto, sendDocument,
// getFile, getMe, setWebhook, getWebhookInfo, deleteWebhook) with JSON,
// urlencoded or multipart parameters, serving files at
// /file/bot{token}/{file_path}, with scripted failures (a 429 with
// retry_after, a 5xx, a chat that blocked the bot). Builders make Update
// bodies and Post delivers them to a webhook with the secret header.
package telegram

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// SecretHeader is the header Telegram puts the webhook's secret_token in.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// BotID is the fake bot's user id.
const BotID = 424242

// Call is one Bot API request the fake received.
type Call struct {
	Method string
	// Encoding is how the parameters came: json, form or multipart.
	Encoding string
	// Params holds every parameter as text: strings as sent, other JSON
	// values re-encoded (chat_id 1111 → "1111", arrays as JSON).
	Params map[string]string
	// Files are multipart uploads by parameter name.
	Files map[string][]byte
}

// Failure is a scripted error answer; the zero Failure lets its call
// through (to fail the second call: Fail(m, Failure{}); Fail(m, f)).
type Failure struct {
	Status      int    // HTTP status and error_code
	Description string // Telegram's description
	RetryAfter  int    // seconds, for 429
	Raw         string // when set, the body as is (a proxy's HTML page)
}

// File is a file the fake serves by file_id.
type File struct {
	ID          string
	Path        string // file_path, e.g. photos/file_7.jpg
	ContentType string
	Body        []byte
}

// Webhook is what setWebhook registered.
type Webhook struct {
	URL            string
	SecretToken    string
	AllowedUpdates []string
}

// Server is a running fake Bot API.
type Server struct {
	URL      string
	Token    string
	Username string // getMe's username, default kanal_test_bot

	srv       *httptest.Server
	mu        sync.Mutex
	calls     []Call
	failures  map[string][]Failure
	blocked   map[string]bool
	files     map[string]File
	downloads map[string]int
	nextID    map[string]int64
	webhook   Webhook
}

// New starts a fake Bot API for token, closed when the test ends.
func New(t testing.TB, token string) *Server {
	s := &Server{Token: token, Username: "kanal_test_bot", failures: map[string][]Failure{}, blocked: map[string]bool{},
		files: map[string]File{}, downloads: map[string]int{}, nextID: map[string]int64{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Close stops the server (calls then fail at the network level).
func (s *Server) Close() { s.srv.Close() }

// Fail makes the next call of method answer f (queued: one failure per call).
func (s *Server) Fail(method string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = append(s.failures[method], f)
}

// TooMany makes the next call of method answer 429 with retry_after.
func (s *Server) TooMany(method string, retryAfter int) {
	s.Fail(method, Failure{Status: http.StatusTooManyRequests, RetryAfter: retryAfter,
		Description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)})
}

// Block makes every send to chatID answer 403 "Forbidden: bot was blocked
// by the user".
func (s *Server) Block(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[strconv.FormatInt(chatID, 10)] = true
}

// AddFile makes a file available to getFile and the download path.
func (s *Server) AddFile(f File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[f.ID] = f
}

// Calls returns the calls of method so far ("" for all).
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Downloads tells how many times file_path was downloaded.
func (s *Server) Downloads(filePath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downloads[filePath]
}

// Webhook returns what setWebhook registered.
func (s *Server) Webhook() Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook
}

// Deliver posts an update to the registered webhook with its secret, as
// Telegram does.
func (s *Server) Deliver(update []byte) (int, []byte, error) {
	w := s.Webhook()
	if w.URL == "" {
		return 0, nil, fmt.Errorf("fake telegram: no webhook set")
	}
	return Post(w.URL, w.SecretToken, update)
}

type answer struct {
	OK          bool   `json:"ok"`
	Result      any    `json:"result,omitempty"`
	ErrorCode   int    `json:"error_code,omitempty"`
	Description string `json:"description,omitempty"`
	Parameters  any    `json:"parameters,omitempty"`
}

func reply(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}

func fail(w http.ResponseWriter, status int, desc string) {
	reply(w, status, answer{ErrorCode: status, Description: desc})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok {
		s.download(w, r, rest)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || method == "" {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	if token != s.Token {
		fail(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	c, err := readCall(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "Bad Request: "+err.Error())
		return
	}
	c.Method = method
	s.mu.Lock()
	s.calls = append(s.calls, c)
	var f *Failure
	if q := s.failures[method]; len(q) > 0 {
		f, s.failures[method] = &q[0], q[1:]
	}
	s.mu.Unlock()
	if f != nil && f.Status != 0 {
		if f.Raw != "" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.Status)
			_, _ = io.WriteString(w, f.Raw)
			return
		}
		a := answer{ErrorCode: f.Status, Description: f.Description}
		if f.RetryAfter > 0 {
			a.Parameters = map[string]int{"retry_after": f.RetryAfter}
		}
		reply(w, f.Status, a)
		return
	}
	p := c.Params
	switch method {
	case "getMe":
		reply(w, 200, answer{OK: true, Result: map[string]any{"id": BotID, "is_bot": true, "first_name": "Kanal Test", "username": s.Username,
			"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false}})
	case "sendMessage":
		if p["text"] == "" {
			fail(w, 400, "Bad Request: message text is empty")
		} else if utf16Len(p["text"]) > 4096 {
			fail(w, 400, "Bad Request: message is too long")
		} else {
			s.send(w, c, "")
		}
	case "sendPhoto":
		s.sendMedia(w, c, "photo")
	case "sendDocument":
		s.sendMedia(w, c, "document")
	case "getFile":
		s.mu.Lock()
		f, ok := s.files[p["file_id"]]
		s.mu.Unlock()
		if !ok {
			fail(w, 400, "Bad Request: invalid file_id")
			return
		}
		reply(w, 200, answer{OK: true, Result: map[string]any{"file_id": f.ID, "file_unique_id": "u" + f.ID, "file_size": len(f.Body), "file_path": f.Path}})
	case "setWebhook":
		if sec := p["secret_token"]; sec != "" && !secretRE.MatchString(sec) {
			fail(w, 400, "Bad Request: secret token contains unallowed characters")
			return
		}
		var allowed []string
		if a := p["allowed_updates"]; a != "" {
			if err := json.Unmarshal([]byte(a), &allowed); err != nil {
				fail(w, 400, "Bad Request: can't parse allowed updates JSON array")
				return
			}
		}
		s.mu.Lock()
		s.webhook = Webhook{URL: p["url"], SecretToken: p["secret_token"], AllowedUpdates: allowed}
		s.mu.Unlock()
		desc := "Webhook was set"
		if p["url"] == "" {
			desc = "Webhook was deleted"
		}
		reply(w, 200, answer{OK: true, Result: true, Description: desc})
	case "deleteWebhook":
		s.mu.Lock()
		s.webhook = Webhook{}
		s.mu.Unlock()
		reply(w, 200, answer{OK: true, Result: true, Description: "Webhook was deleted"})
	case "getWebhookInfo":
		wh := s.Webhook()
		reply(w, 200, answer{OK: true, Result: map[string]any{"url": wh.URL, "has_custom_certificate": false,
			"pending_update_count": 0, "allowed_updates": wh.AllowedUpdates}})
	default:
		fail(w, http.StatusNotFound, "Not Found")
	}
}

var secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

func (s *Server) sendMedia(w http.ResponseWriter, c Call, kind string) {
	if c.Params[kind] == "" && c.Files[kind] == nil {
		fail(w, 400, "Bad Request: there is no "+kind+" in the request")
		return
	}
	if utf16Len(c.Params["caption"]) > 1024 {
		fail(w, 400, "Bad Request: message caption is too long")
		return
	}
	s.send(w, c, kind)
}

func (s *Server) send(w http.ResponseWriter, c Call, kind string) {
	chat := c.Params["chat_id"]
	id, err := strconv.ParseInt(chat, 10, 64)
	if err != nil {
		fail(w, 400, "Bad Request: chat not found")
		return
	}
	s.mu.Lock()
	blocked := s.blocked[chat]
	if s.nextID[chat] == 0 {
		s.nextID[chat] = 1000
	}
	s.nextID[chat]++
	mid := s.nextID[chat]
	s.mu.Unlock()
	if blocked {
		fail(w, http.StatusForbidden, "Forbidden: bot was blocked by the user")
		return
	}
	res := map[string]any{"message_id": mid, "date": time.Now().Unix(),
		"from": map[string]any{"id": BotID, "is_bot": true, "first_name": "Kanal Test", "username": s.Username},
		"chat": map[string]any{"id": id, "type": "private"}}
	switch kind {
	case "":
		res["text"] = c.Params["text"]
	case "photo":
		res["photo"] = []map[string]any{{"file_id": "sent-photo-" + strconv.FormatInt(mid, 10), "width": 800, "height": 600}}
	case "document":
		res["document"] = map[string]any{"file_id": "sent-doc-" + strconv.FormatInt(mid, 10)}
	}
	if caption := c.Params["caption"]; caption != "" {
		res["caption"] = caption
	}
	reply(w, 200, answer{OK: true, Result: res})
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, rest string) {
	token, filePath, ok := strings.Cut(rest, "/")
	if !ok || token != s.Token {
		http.Error(w, `{"ok":false,"error_code":404,"description":"Not Found"}`, http.StatusNotFound)
		return
	}
	s.mu.Lock()
	var found *File
	for _, f := range s.files {
		if f.Path == filePath {
			found = &f
			break
		}
	}
	if found != nil {
		s.downloads[filePath]++
	}
	s.mu.Unlock()
	if found == nil {
		http.Error(w, `{"ok":false,"error_code":404,"description":"Not Found"}`, http.StatusNotFound)
		return
	}
	ct := found.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(found.Body)))
	_, _ = w.Write(found.Body)
}

// readCall reads a method's parameters from the query string and a JSON,
// urlencoded or multipart body, as the Bot API accepts.
func readCall(r *http.Request) (Call, error) {
	c := Call{Params: map[string]string{}, Files: map[string][]byte{}, Encoding: "query"}
	for k, v := range r.URL.Query() {
		c.Params[k] = v[0]
	}
	if r.Method != http.MethodPost {
		return c, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		c.Encoding = "json"
		d := json.NewDecoder(r.Body)
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			return c, fmt.Errorf("can't parse JSON object")
		}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				c.Params[k] = x
			case json.Number:
				c.Params[k] = x.String()
			default:
				b, _ := json.Marshal(x)
				c.Params[k] = string(b)
			}
		}
	case "application/x-www-form-urlencoded":
		c.Encoding = "form"
		if err := r.ParseForm(); err != nil {
			return c, err
		}
		for k, v := range r.PostForm {
			c.Params[k] = v[0]
		}
	case "multipart/form-data":
		c.Encoding = "multipart"
		if err := r.ParseMultipartForm(64 << 20); err != nil {
			return c, err
		}
		for k, v := range r.MultipartForm.Value {
			c.Params[k] = v[0]
		}
		for k, fs := range r.MultipartForm.File {
			f, err := fs[0].Open()
			if err != nil {
				return c, err
			}
			b, _ := io.ReadAll(f)
			f.Close()
			c.Files[k] = b
		}
	}
	return c, nil
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// Post sends an update to a webhook URL as Telegram does, with the secret
// header when secret is not empty. It returns the status and the body.
func Post(url, secret string, update []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(update))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

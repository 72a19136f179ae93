// Package whatsapp is a fake of Meta's Graph API for the WhatsApp Business
// Cloud API, for tests and demos without Meta: it takes messages at
// /{version}/{phone-number-id}/messages (answering wamid ids, optionally
// refusing free-form messages outside the 24-hour window with error 131047),
// serves media by id at /{version}/{media-id} and the download URL (both
// with the Bearer token), answers /{version}/{phone-number-id}, fails on
// demand, and builds and posts signed webhook calls the way Meta does.
package whatsapp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Endpoints of the fake, for scripted failures and request counts.
type Endpoint string

// The fake's endpoints.
const (
	Messages    Endpoint = "messages"     // POST /{v}/{pnid}/messages
	MediaInfo   Endpoint = "media"        // GET /{v}/{media-id}
	Download    Endpoint = "download"     // GET of the media URL
	PhoneNumber Endpoint = "phone_number" // GET /{v}/{pnid}
)

// Window is WhatsApp's customer-service window.
const Window = 24 * time.Hour

// Options configure a fake. Zero fields get the defaults shown.
type Options struct {
	Version            string // v21.0
	PhoneNumberID      string // 106540352242922
	DisplayPhoneNumber string // 15550783881
	VerifiedName       string // Kanal Test
	WABAID             string // 102290129340398
	AccessToken        string // test-access-token
	AppSecret          string // test-app-secret
	// EnforceWindow makes /messages refuse anything but templates (error
	// 131047) to a user whose last message, as posted through the fake or
	// told with Inbound, is older than 24 hours on the fake's clock.
	EnforceWindow bool
	// MediaURLTTL is how long a media URL works (5 minutes).
	MediaURLTTL time.Duration
	// Now is the fake's clock (time.Now); Advance moves it on.
	Now func() time.Time
}

// Failure is a scripted error answer.
type Failure struct {
	Status     int    // HTTP status (default 500; 200 lets the request through)
	Code       int    // Graph error code in the body (0: none)
	Message    string // error.message
	Details    string // error.error_data.details
	RetryAfter string // Retry-After header
	Body       string // a raw body instead of the Graph error JSON
}

// Sent is a message the fake accepted (or refused with a scripted failure
// or the window rule: then ID is empty and Refused is set).
type Sent struct {
	ID       string
	To       string
	Type     string
	Text     string
	Link     string
	Caption  string
	Filename string
	Template string
	Language string
	Params   []string
	Opaque   string // biz_opaque_callback_data
	Refused  bool
	Body     []byte // the request body as received
}

// Media is a file the fake holds.
type Media struct {
	ID       string
	MimeType string
	Data     []byte
	SHA256   string // hex
}

// Server is a running fake.
type Server struct {
	// URL is the fake's root; BaseURL (URL + "/" + version) is what an
	// inbox's api_base_url names.
	URL, BaseURL string
	// WebhookURL is where Post sends webhook calls.
	WebhookURL string
	// Client posts the webhook calls.
	Client *http.Client

	o   Options
	srv *httptest.Server

	mu          sync.Mutex
	offset      time.Duration
	seq         int
	sent        []Sent
	media       map[string]*Media
	downloads   map[string]int
	requests    map[Endpoint]int
	failures    map[Endpoint][]Failure
	lastInbound map[string]time.Time
}

// New starts a fake on a loopback port. Close it when done.
func New(o Options) *Server {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.Version, "v21.0")
	def(&o.PhoneNumberID, "106540352242922")
	def(&o.DisplayPhoneNumber, "15550783881")
	def(&o.VerifiedName, "Kanal Test")
	def(&o.WABAID, "102290129340398")
	def(&o.AccessToken, "test-access-token")
	def(&o.AppSecret, "test-app-secret")
	if o.MediaURLTTL <= 0 {
		o.MediaURLTTL = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, media: map[string]*Media{}, downloads: map[string]int{}, requests: map[Endpoint]int{},
		failures: map[Endpoint][]Failure{}, lastInbound: map[string]time.Time{}, Client: &http.Client{Timeout: 30 * time.Second}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{v}/{pnid}/messages", s.messages)
	mux.HandleFunc("GET /{v}/{id}", s.object)
	mux.HandleFunc("GET /whatsapp_business/attachments/", s.download)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		graphError(w, http.StatusBadRequest, 100, "Unknown path components: "+r.URL.Path, "")
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	s.BaseURL = s.URL + "/" + o.Version
	return s
}

// Close stops the fake.
func (s *Server) Close() { s.srv.Close() }

// Options returns the fake's settings after defaults.
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.o
}

// InboxConfig is the config of a Kanal inbox that talks to this fake.
func (s *Server) InboxConfig() map[string]any {
	return map[string]any{"phone_number_id": s.o.PhoneNumberID, "access_token": s.o.AccessToken,
		"app_secret": s.o.AppSecret, "verify_token": "test-verify-token", "api_base_url": s.BaseURL}
}

// Now is the fake's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.o.Now().Add(s.offset)
}

// Advance moves the fake's clock on (media URLs expire, windows close).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.offset += d
	s.mu.Unlock()
}

// Inbound records that waID wrote at t (it opens the 24-hour window).
func (s *Server) Inbound(waID string, t time.Time) {
	s.mu.Lock()
	s.lastInbound[waID] = t
	s.mu.Unlock()
}

// SetEnforceWindow turns the 24-hour window rule on or off.
func (s *Server) SetEnforceWindow(on bool) {
	s.mu.Lock()
	s.o.EnforceWindow = on
	s.mu.Unlock()
}

// Fail queues failures for an endpoint: each request takes the next one.
func (s *Server) Fail(e Endpoint, f ...Failure) {
	s.mu.Lock()
	s.failures[e] = append(s.failures[e], f...)
	s.mu.Unlock()
}

// Sent returns the messages the fake was asked to send, oldest first.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Requests returns how many requests an endpoint took.
func (s *Server) Requests(e Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[e]
}

// AddMedia stores a file under a media id and returns its hex SHA-256.
func (s *Server) AddMedia(id, mimeType string, data []byte) string {
	sum := sha256.Sum256(data)
	m := &Media{ID: id, MimeType: mimeType, Data: append([]byte(nil), data...), SHA256: hex.EncodeToString(sum[:])}
	s.mu.Lock()
	s.media[id] = m
	s.mu.Unlock()
	return m.SHA256
}

// Downloads returns how many times a media file was downloaded.
func (s *Server) Downloads(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.downloads[id]
}

// begin counts a request, checks the token and plays a scripted failure;
// false means an answer was written.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, e Endpoint) bool {
	s.mu.Lock()
	s.requests[e]++
	var f *Failure
	if q := s.failures[e]; len(q) > 0 {
		f, s.failures[e] = &q[0], q[1:]
	}
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+s.o.AccessToken {
		graphError(w, http.StatusUnauthorized, 190, "Invalid OAuth access token - Cannot parse access token", "")
		return false
	}
	if f != nil && f.Status != http.StatusOK {
		writeFailure(w, *f)
		return false
	}
	return true
}

func writeFailure(w http.ResponseWriter, f Failure) {
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body != "" || f.Code == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	msg := f.Message
	if msg == "" {
		msg = fmt.Sprintf("(#%d) scripted failure", f.Code)
	}
	graphError(w, f.Status, f.Code, msg, f.Details)
}

// graphError writes a Graph API error answer.
func graphError(w http.ResponseWriter, status, code int, message, details string) {
	e := map[string]any{"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfGhIjKlMnOp"}
	if details != "" {
		e["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": details}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

// WindowClosedBody is the Graph API's answer to a free-form message outside
// the 24-hour window.
const WindowClosedBody = `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,` +
	`"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},` +
	`"fbtrace_id":"AbCdEfGhIjKlMnOp"}}`

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("v") != s.o.Version || r.PathValue("pnid") != s.o.PhoneNumberID {
		s.mu.Lock()
		s.requests[Messages]++
		s.mu.Unlock()
		graphError(w, http.StatusBadRequest, 100, "Unsupported post request. Object with ID '"+r.PathValue("pnid")+"' does not exist", "")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var in struct {
		MessagingProduct      string `json:"messaging_product"`
		To                    string `json:"to"`
		Type                  string `json:"type"`
		BizOpaqueCallbackData string `json:"biz_opaque_callback_data"`
		Text                  *struct {
			Body string `json:"body"`
		} `json:"text"`
		Image, Video, Audio, Document, Sticker *struct {
			Link     string `json:"link"`
			ID       string `json:"id"`
			Caption  string `json:"caption"`
			Filename string `json:"filename"`
		}
		Template *struct {
			Name     string `json:"name"`
			Language struct {
				Code string `json:"code"`
			} `json:"language"`
			Components []struct {
				Type       string `json:"type"`
				Parameters []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"parameters"`
			} `json:"components"`
		} `json:"template"`
	}
	sent := Sent{Body: body, Refused: true}
	record := func() {
		s.mu.Lock()
		s.sent = append(s.sent, sent)
		s.mu.Unlock()
	}
	if !s.begin(w, r, Messages) {
		record()
		return
	}
	if err := json.Unmarshal(body, &in); err != nil || in.MessagingProduct != "whatsapp" || in.To == "" {
		record()
		graphError(w, http.StatusBadRequest, 100, "(#100) Invalid parameter", "messaging_product, to and type are required")
		return
	}
	sent.To, sent.Type, sent.Opaque = in.To, in.Type, in.BizOpaqueCallbackData
	switch in.Type {
	case "text":
		if in.Text != nil {
			sent.Text = in.Text.Body
		}
	case "template":
		if in.Template != nil {
			sent.Template, sent.Language = in.Template.Name, in.Template.Language.Code
			for _, c := range in.Template.Components {
				for _, p := range c.Parameters {
					sent.Params = append(sent.Params, p.Text)
				}
			}
		}
	}
	for _, m := range []*struct {
		Link     string `json:"link"`
		ID       string `json:"id"`
		Caption  string `json:"caption"`
		Filename string `json:"filename"`
	}{in.Image, in.Video, in.Audio, in.Document, in.Sticker} {
		if m != nil {
			sent.Link, sent.Caption, sent.Filename = m.Link, m.Caption, m.Filename
		}
	}
	now := s.Now()
	s.mu.Lock()
	enforce := s.o.EnforceWindow
	last, ok := s.lastInbound[in.To]
	s.mu.Unlock()
	if enforce && in.Type != "template" {
		if !ok || now.Sub(last) > Window {
			record()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, WindowClosedBody)
			return
		}
	}
	s.mu.Lock()
	s.seq++
	sent.ID = fmt.Sprintf("wamid.HBgM%s%06d", randomHex(8), s.seq)
	sent.Refused = false
	s.sent = append(s.sent, sent)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp",
		"contacts": []map[string]string{{"input": in.To, "wa_id": in.To}},
		"messages": []map[string]string{{"id": sent.ID, "message_status": "accepted"}}})
}

// object answers GET /{v}/{id}: the phone number, or a media file's URL.
func (s *Server) object(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e := MediaInfo
	if id == s.o.PhoneNumberID {
		e = PhoneNumber
	}
	if !s.begin(w, r, e) {
		return
	}
	if r.PathValue("v") != s.o.Version {
		graphError(w, http.StatusBadRequest, 2635, "(#2635) Unknown API version "+r.PathValue("v"), "")
		return
	}
	if e == PhoneNumber {
		writeJSON(w, http.StatusOK, map[string]any{"verified_name": s.o.VerifiedName, "code_verification_status": "VERIFIED",
			"display_phone_number": s.o.DisplayPhoneNumber, "quality_rating": "GREEN", "id": s.o.PhoneNumberID})
		return
	}
	s.mu.Lock()
	m := s.media[id]
	s.mu.Unlock()
	if m == nil {
		graphError(w, http.StatusNotFound, 100,
			"Unsupported get request. Object with ID '"+id+"' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", "")
		return
	}
	issued := s.Now().Unix()
	writeJSON(w, http.StatusOK, map[string]any{"messaging_product": "whatsapp",
		"url":       fmt.Sprintf("%s/whatsapp_business/attachments/?mid=%s&issued=%d", s.URL, id, issued),
		"mime_type": m.MimeType, "sha256": m.SHA256, "file_size": len(m.Data), "id": m.ID})
}

// download serves a media URL: Bearer token required, expired after the TTL.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	if !s.begin(w, r, Download) {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	m := s.media[q.Get("mid")]
	s.mu.Unlock()
	var issued int64
	_, _ = fmt.Sscan(q.Get("issued"), &issued)
	if m == nil || s.Now().Sub(time.Unix(issued, 0)) > s.o.MediaURLTTL {
		http.Error(w, "URL signature expired", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	s.downloads[m.ID]++
	s.mu.Unlock()
	w.Header().Set("Content-Type", m.MimeType)
	w.Header().Set("Content-Length", fmt.Sprint(len(m.Data)))
	_, _ = w.Write(m.Data)
}

// Sign returns the X-Hub-Signature-256 value of body.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

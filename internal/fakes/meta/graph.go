// Package meta is a fake of Meta's Graph API for the Messenger and
// Instagram channels, for tests: the Send API (records every call, answers
// message ids, fails on demand, including the "outside of allowed window"
// refusal), the account read of a connection test, CDN-like media links that
// can expire, and helpers that build Meta-shaped webhook bodies (escaped
// like Meta's), sign them with the app secret and post them to Kanal.
package meta

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Version is the Graph API version in the fake's base URL.
const Version = "v21.0"

// Sent is one Send API call the fake received.
type Sent struct {
	AccountID     string // the {page_id or instagram_id} of the path
	Token         string // from Authorization: Bearer or ?access_token=
	Recipient     string
	MessagingType string
	Tag           string
	Text          string
	Attachment    *Attachment
	MessageID     string // what the fake answered ("" when it failed)
	Body          []byte
}

// Attachment is the attachment of a sent message.
type Attachment struct {
	Type       string
	URL        string
	IsReusable bool
}

// Failure is a scripted error answer of the Send API.
type Failure struct {
	Status     int
	Code       int
	Subcode    int
	Message    string
	RetryAfter string // Retry-After header, when set
	Transient  bool
}

// Failures Meta answers, ready to script.
var (
	OutsideWindow = Failure{Status: http.StatusBadRequest, Code: 10, Subcode: 2018278,
		Message: "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview"}
	RateLimited   = Failure{Status: http.StatusBadRequest, Code: 613, Message: "(#613) Calls to this api have exceeded the rate limit."}
	TooMany       = Failure{Status: http.StatusTooManyRequests, Code: 4, Message: "(#4) Application request limit reached", RetryAfter: "7"}
	ServerError   = Failure{Status: http.StatusInternalServerError, Code: 2, Message: "An unexpected error has occurred. Please retry your request later.", Transient: true}
	InvalidToken  = Failure{Status: http.StatusUnauthorized, Code: 190, Message: "Invalid OAuth access token."}
	NoSuchUser    = Failure{Status: http.StatusBadRequest, Code: 100, Subcode: 2018001, Message: "(#100) No matching user found"}
	Unavailable   = Failure{Status: http.StatusBadRequest, Code: 551, Message: "This person isn't available right now."}
	BadGatewayRaw = Failure{Status: http.StatusBadGateway}
)

type media struct {
	contentType string
	data        []byte
	expired     bool
	fetches     int
}

// Server is the fake Graph API and CDN.
type Server struct {
	*httptest.Server
	// Token, when set, is the only access token the fake accepts.
	Token string

	mu       sync.Mutex
	sent     []Sent
	failures []Failure
	accounts map[string]map[string]string
	media    map[string]*media
	n        int
}

// New starts a fake; Close it when done.
func New() *Server {
	s := &Server{accounts: map[string]map[string]string{}, media: map[string]*media{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Start starts a fake that is closed when the test ends.
func Start(t testing.TB) *Server {
	s := New()
	t.Cleanup(s.Close)
	return s
}

// BaseURL is the api_base_url of an inbox talking to the fake.
func (s *Server) BaseURL() string { return s.URL + "/" + Version }

// Sent returns the Send API calls received so far.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// SentTo returns the calls for one recipient.
func (s *Server) SentTo(recipient string) []Sent {
	var out []Sent
	for _, m := range s.Sent() {
		if m.Recipient == recipient {
			out = append(out, m)
		}
	}
	return out
}

// Fail makes the next Send API calls fail, one failure each, in order.
func (s *Server) Fail(f ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f...)
}

// AddAccount makes GET /{id} answer the given fields (name, username...).
func (s *Server) AddAccount(id string, fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[id] = fields
}

// AddMedia serves data at a CDN-like URL, which it returns (it ends with
// name, as Meta's file links do).
func (s *Server) AddMedia(name, contentType string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media[name] = &media{contentType: contentType, data: data}
	return s.URL + "/cdn/" + name + "?_nc_cat=1&oh=fake"
}

// ExpireMedia makes a media URL answer 403 from now on, like an expired
// Meta CDN link.
func (s *Server) ExpireMedia(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.media[name]; m != nil {
		m.expired = true
	}
}

// Fetches tells how many times a media URL was downloaded.
func (s *Server) Fetches(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.media[name]; m != nil {
		return m.fetches
	}
	return 0
}

func writeError(w http.ResponseWriter, f Failure) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Code == 0 && f.Message == "" {
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, "<html><body>Bad Gateway</body></html>")
		return
	}
	e := map[string]any{"message": f.Message, "type": "OAuthException", "code": f.Code, "fbtrace_id": "AbCdEfFake"}
	if f.Subcode != 0 {
		e["error_subcode"] = f.Subcode
	}
	if f.Transient {
		e["is_transient"] = true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	return r.URL.Query().Get("access_token")
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "cdn" && r.Method == http.MethodGet:
		s.serveMedia(w, parts[1])
	case len(parts) == 3 && parts[0] == Version && parts[2] == "messages" && r.Method == http.MethodPost:
		s.serveSend(w, r, parts[1])
	case len(parts) == 2 && parts[0] == Version && r.Method == http.MethodGet:
		s.serveAccount(w, r, parts[1])
	default:
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 100, Message: "Unsupported request: " + r.Method + " " + r.URL.Path})
	}
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) (string, bool) {
	tok := token(r)
	if tok == "" || (s.Token != "" && tok != s.Token) {
		writeError(w, InvalidToken)
		return tok, false
	}
	return tok, true
}

func (s *Server) serveMedia(w http.ResponseWriter, name string) {
	s.mu.Lock()
	m := s.media[name]
	if m != nil && !m.expired {
		m.fetches++
	}
	s.mu.Unlock()
	switch {
	case m == nil:
		http.NotFound(w, nil)
	case m.expired:
		http.Error(w, "URL signature expired", http.StatusForbidden)
	default:
		w.Header().Set("Content-Type", m.contentType)
		_, _ = w.Write(m.data)
	}
}

func (s *Server) serveAccount(w http.ResponseWriter, r *http.Request, id string) {
	if _, ok := s.authorized(w, r); !ok {
		return
	}
	s.mu.Lock()
	fields, ok := s.accounts[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 100, Subcode: 33,
			Message: fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist", id)})
		return
	}
	out := map[string]string{"id": id}
	for _, f := range strings.Split(r.URL.Query().Get("fields"), ",") {
		if v, ok := fields[f]; ok {
			out[f] = v
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) serveSend(w http.ResponseWriter, r *http.Request, account string) {
	tok, ok := s.authorized(w, r)
	if !ok {
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in struct {
		Recipient struct {
			ID string `json:"id"`
		} `json:"recipient"`
		MessagingType string `json:"messaging_type"`
		Tag           string `json:"tag"`
		Message       struct {
			Text       string `json:"text"`
			Attachment *struct {
				Type    string `json:"type"`
				Payload struct {
					URL        string `json:"url"`
					IsReusable bool   `json:"is_reusable"`
				} `json:"payload"`
			} `json:"attachment"`
		} `json:"message"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Recipient.ID == "" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 100, Message: "(#100) The parameter recipient is required"})
		return
	}
	m := Sent{AccountID: account, Token: tok, Recipient: in.Recipient.ID, MessagingType: in.MessagingType, Tag: in.Tag,
		Text: in.Message.Text, Body: body}
	if a := in.Message.Attachment; a != nil {
		m.Attachment = &Attachment{Type: a.Type, URL: a.Payload.URL, IsReusable: a.Payload.IsReusable}
	}
	s.mu.Lock()
	var fail *Failure
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		fail = &f
	} else {
		s.n++
		m.MessageID = fmt.Sprintf("m_fake%06d", s.n)
	}
	s.sent = append(s.sent, m)
	s.mu.Unlock()
	if fail != nil {
		writeError(w, *fail)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"recipient_id": in.Recipient.ID, "message_id": m.MessageID})
}

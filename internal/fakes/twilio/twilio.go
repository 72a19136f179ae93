// Package faketwilio is an in-process Twilio for tests: the REST API's
// Messages.json (recording each form and its Basic auth, answering with
// message SIDs, failing on script), the account resource, media URLs that
// need Basic auth and redirect to their storage, and helpers that call a
// webhook URL the way Twilio does: signed form posts of customer messages
// and status callbacks.
package faketwilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sent is one Messages.json call the fake received.
type Sent struct {
	SID      string // the sid answered ("" when the call was failed)
	Form     url.Values
	User     string
	Password string
	Status   int // the HTTP status answered
}

// Failure is a scripted error answer of Messages.json.
type Failure struct {
	Status     int    // HTTP status, e.g. 400, 429, 500
	Code       int    // Twilio error code, e.g. 21211 (0: none in the body)
	Message    string // Twilio's message
	RetryAfter string // Retry-After header, if any
}

type media struct {
	contentType string
	body        []byte
}

// Server is a fake Twilio account.
type Server struct {
	*httptest.Server
	AccountSID   string
	AuthToken    string
	FriendlyName string
	// Client posts the webhook calls (default: a client with a 10 s timeout).
	Client *http.Client

	mu       sync.Mutex
	sent     []Sent
	failures []Failure
	media    map[string]media
	fetches  map[string]int
	n        int
}

// New starts a fake Twilio for one account; it stops when the test ends.
func New(t testing.TB, accountSID, authToken string) *Server {
	s := &Server{AccountSID: accountSID, AuthToken: authToken, FriendlyName: "Kanal Test Account",
		Client: &http.Client{Timeout: 10 * time.Second}, media: map[string]media{}, fetches: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/2010-04-01/Accounts/{rest...}", s.accounts)
	mux.HandleFunc("GET /cdn/{id}", s.cdn)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *Server) authorized(r *http.Request) (string, string, bool) {
	u, p, ok := r.BasicAuth()
	return u, p, ok && hmac.Equal([]byte(u), []byte(s.AccountSID)) && hmac.Equal([]byte(p), []byte(s.AuthToken))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

// accounts routes /2010-04-01/Accounts/...: {sid}.json, {sid}/Messages.json
// and {sid}/Messages/{msid}/Media/{id}.
func (s *Server) accounts(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.PathValue("rest"), "/")
	user, pass, ok := s.authorized(r)
	if !ok {
		apiError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	sid := strings.TrimSuffix(parts[0], ".json")
	if sid != s.AccountSID {
		apiError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	switch {
	case len(parts) == 1 && strings.HasSuffix(parts[0], ".json") && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"sid": s.AccountSID, "friendly_name": s.FriendlyName, "status": "active", "type": "Full"})
	case len(parts) == 2 && parts[1] == "Messages.json" && r.Method == http.MethodPost:
		s.messages(w, r, user, pass)
	case len(parts) == 5 && parts[1] == "Messages" && parts[3] == "Media" && r.Method == http.MethodGet:
		s.mu.Lock()
		_, found := s.media[parts[4]]
		s.mu.Unlock()
		if !found {
			apiError(w, http.StatusNotFound, 20404, "The requested resource was not found")
			return
		}
		// Twilio answers with a redirect to the file's storage.
		http.Redirect(w, r, "/cdn/"+parts[4], http.StatusTemporaryRedirect)
	default:
		apiError(w, http.StatusNotFound, 20404, "The requested resource was not found")
	}
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request, user, pass string) {
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		apiError(w, http.StatusBadRequest, 20001, "bad form")
		return
	}
	s.mu.Lock()
	rec := Sent{Form: form, User: user, Password: pass}
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		rec.Status = f.Status
		s.sent = append(s.sent, rec)
		s.mu.Unlock()
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Code == 0 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.Status)
			_, _ = io.WriteString(w, "<html>"+http.StatusText(f.Status)+"</html>")
			return
		}
		apiError(w, f.Status, f.Code, f.Message)
		return
	}
	if form.Get("To") == "" || (form.Get("From") == "" && form.Get("MessagingServiceSid") == "") ||
		(form.Get("Body") == "" && form.Get("MediaUrl") == "" && form.Get("ContentSid") == "") {
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	s.n++
	rec.SID = fmt.Sprintf("SM%032x", s.n)
	rec.Status = http.StatusCreated
	s.sent = append(s.sent, rec)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"sid": rec.SID, "account_sid": s.AccountSID, "status": "queued",
		"to": form.Get("To"), "from": form.Get("From"), "body": form.Get("Body"), "messaging_service_sid": form.Get("MessagingServiceSid")})
}

func (s *Server) cdn(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	m, ok := s.media[id]
	if ok {
		s.fetches[id]++
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", m.contentType)
	_, _ = w.Write(m.body)
}

// Fail scripts the answers of the next Messages.json calls, in order.
func (s *Server) Fail(f ...Failure) {
	s.mu.Lock()
	s.failures = append(s.failures, f...)
	s.mu.Unlock()
}

// Sent returns the Messages.json calls so far, failed ones included.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// AddMedia stores a file a customer sends with a message and returns its
// media URL (which needs Basic auth and redirects to the file).
func (s *Server) AddMedia(messageSID, contentType string, body []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	id := fmt.Sprintf("ME%032x", s.n)
	s.media[id] = media{contentType: contentType, body: body}
	return s.URL + "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + messageSID + "/Media/" + id
}

// MediaFetches tells how many times the file behind a media URL was
// downloaded.
func (s *Server) MediaFetches(mediaURL string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[mediaURL[strings.LastIndexByte(mediaURL, '/')+1:]]
}

// Sign computes X-Twilio-Signature for a call to fullURL with params, the
// way Twilio does: HMAC-SHA1 over the URL and every name+value, names in
// byte order, std base64.
func Sign(authToken, fullURL string, params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(fullURL))
	for _, k := range names {
		for _, v := range params[k] {
			m.Write([]byte(k + v))
		}
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Scrambled encodes a form with its names in reverse byte order, so that a
// receiver that does not sort them computes the wrong signature.
func Scrambled(params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	var b strings.Builder
	for _, k := range names {
		for _, v := range params[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v))
		}
	}
	return b.String()
}

// Response is a webhook's answer.
type Response struct {
	Status      int
	ContentType string
	Body        string
}

// PostRaw posts body to a webhook URL with the given signature header (none
// when sig is "").
func (s *Server) PostRaw(webhookURL, body, sig string) (Response, error) {
	req, err := http.NewRequest(http.MethodPost, webhookURL, strings.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: string(b)}, nil
}

// Post sends params to a webhook URL as Twilio does: a form in scrambled
// order, signed with the account's auth token over webhookURL.
func (s *Server) Post(webhookURL string, params url.Values) (Response, error) {
	return s.PostRaw(webhookURL, Scrambled(params), Sign(s.AuthToken, webhookURL, params))
}

// Message describes a customer message for Inbound.
type Message struct {
	SID  string // default: a new SM… sid
	From string // +E.164, or whatsapp:+E.164
	To   string // default +908501234567 (or its whatsapp: form)
	Body string
	// Media are media URLs from AddMedia with their content types.
	Media       []string
	MediaTypes  []string
	ProfileName string
	// Extra parameters, as Twilio adds new ones without notice.
	Extra url.Values
}

// Inbound returns the form Twilio posts for a customer message.
func (s *Server) Inbound(m Message) url.Values {
	if m.SID == "" {
		s.mu.Lock()
		s.n++
		m.SID = fmt.Sprintf("SM%032x", s.n)
		s.mu.Unlock()
	}
	if m.To == "" {
		m.To = "+908501234567"
		if strings.HasPrefix(m.From, "whatsapp:") {
			m.To = "whatsapp:" + m.To
		}
	}
	v := url.Values{}
	v.Set("ToCountry", "TR")
	v.Set("ToState", "")
	v.Set("SmsMessageSid", m.SID)
	v.Set("NumMedia", strconv.Itoa(len(m.Media)))
	v.Set("ToCity", "")
	v.Set("FromZip", "")
	v.Set("SmsSid", m.SID)
	v.Set("FromState", "")
	v.Set("SmsStatus", "received")
	v.Set("FromCity", "")
	v.Set("Body", m.Body)
	v.Set("FromCountry", "TR")
	v.Set("To", m.To)
	v.Set("MessagingServiceSid", "")
	v.Set("ToZip", "")
	v.Set("NumSegments", "1")
	v.Set("MessageSid", m.SID)
	v.Set("AccountSid", s.AccountSID)
	v.Set("From", m.From)
	v.Set("ApiVersion", "2010-04-01")
	if m.ProfileName != "" {
		v.Set("ProfileName", m.ProfileName)
		v.Set("WaId", strings.TrimPrefix(strings.TrimPrefix(m.From, "whatsapp:"), "+"))
	}
	for i, u := range m.Media {
		v.Set("MediaUrl"+strconv.Itoa(i), u)
		if i < len(m.MediaTypes) {
			v.Set("MediaContentType"+strconv.Itoa(i), m.MediaTypes[i])
		}
	}
	for k, vals := range m.Extra {
		v[k] = vals
	}
	return v
}

// StatusCallback returns the form Twilio posts when message sid changes to
// status; errorCode (0: none) and errorMessage go with failures.
func (s *Server) StatusCallback(sid, status string, errorCode int, errorMessage string) url.Values {
	v := url.Values{}
	v.Set("SmsSid", sid)
	v.Set("SmsStatus", status)
	v.Set("MessageStatus", status)
	v.Set("MessageSid", sid)
	v.Set("AccountSid", s.AccountSID)
	v.Set("From", "+908501234567")
	v.Set("To", "+905321234567")
	v.Set("ApiVersion", "2010-04-01")
	if errorCode != 0 {
		v.Set("ErrorCode", strconv.Itoa(errorCode))
	}
	if errorMessage != "" {
		v.Set("ErrorMessage", errorMessage)
	}
	return v
}

// Report posts status callbacks about a message the fake sent to the
// StatusCallback URL Kanal gave with it, in the order given (tests scramble
// it). A failed status carries ErrorCode 30003.
func (s *Server) Report(sid string, statuses ...string) error {
	var cb string
	for _, m := range s.Sent() {
		if m.SID == sid {
			cb = m.Form.Get("StatusCallback")
		}
	}
	if cb == "" {
		return fmt.Errorf("faketwilio: message %s was not sent with a StatusCallback", sid)
	}
	for _, st := range statuses {
		code, msg := 0, ""
		if st == "failed" || st == "undelivered" {
			code, msg = 30003, "Unreachable destination handset"
		}
		r, err := s.Post(cb, s.StatusCallback(sid, st, code, msg))
		if err != nil {
			return err
		}
		if r.Status != http.StatusOK {
			return fmt.Errorf("faketwilio: status callback %s: %d %s", st, r.Status, r.Body)
		}
	}
	return nil
}

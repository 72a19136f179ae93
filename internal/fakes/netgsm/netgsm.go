// Package fakenetgsm is an in-process Netgsm for tests: the REST v2 send,
// report, inbox and msgheader endpoints with HTTP Basic auth, scripted
// answer codes (30 credentials, 80 rate limit, ...), delivery reports tests
// set per job (16: İYS rejected), and an inbox of received SMS tests append
// to.
package fakenetgsm

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Turkish time, in which Netgsm reads and writes dates.
var turkey = time.FixedZone("TRT", 3*60*60)

// Date formats the fake speaks.
const (
	// QueryLayout is the inbox query's startdate/stopdate: ddMMyyyyHHmmss.
	QueryLayout = "02012006150405"
	// DatetimeLayout is how the fake writes an inbox row's datetime.
	DatetimeLayout = "02.01.2006 15:04:05"
)

// SendRequest is a /sms/rest/v2/send body.
type SendRequest struct {
	MsgHeader string `json:"msgheader"`
	Encoding  string `json:"encoding"`
	IYSFilter string `json:"iysfilter"`
	Messages  []struct {
		Msg string `json:"msg"`
		No  string `json:"no"`
	} `json:"messages"`
}

// Sent is one send call the fake received.
type Sent struct {
	Request  SendRequest
	Raw      string // the body as sent
	User     string
	Password string
	Code     string // the code answered
	JobID    string // the jobid answered ("" unless code 00)
}

// ReportRequest is a /sms/rest/v2/report body.
type ReportRequest struct {
	JobIDs    []string `json:"jobids"`
	StartDate string   `json:"startdate"`
	StopDate  string   `json:"stopdate"`
	PageSize  int      `json:"pagesize"`
}

// InboxMessage is an SMS the account received.
type InboxMessage struct {
	Message  string `json:"message"`
	Sender   string `json:"sender"`
	Receiver string `json:"receiver"`
	Datetime string `json:"datetime"`
}

// InboxQuery is one inbox call's startdate and stopdate.
type InboxQuery struct{ Start, Stop string }

// Server is a fake Netgsm account.
type Server struct {
	*httptest.Server
	Usercode   string
	Password   string
	MsgHeaders []string

	mu          sync.Mutex
	sent        []Sent
	sendCodes   []string
	reportCodes []string
	inboxCodes  []string
	reports     map[string][2]int // jobid → status, errorCode
	reportReqs  []ReportRequest
	inbox       []InboxMessage
	inboxQs     []InboxQuery
	n           int64
}

// New starts a fake Netgsm for one API user with the sender names given
// (default "KANAL"); it stops when the test ends.
func New(t testing.TB, usercode, password string, msgheaders ...string) *Server {
	if len(msgheaders) == 0 {
		msgheaders = []string{"KANAL"}
	}
	s := &Server{Usercode: usercode, Password: password, MsgHeaders: msgheaders, reports: map[string][2]int{}, n: 17377215342605050}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sms/rest/v2/send", s.auth(s.send))
	mux.HandleFunc("POST /sms/rest/v2/report", s.auth(s.report))
	mux.HandleFunc("GET /sms/rest/v2/inbox", s.auth(s.inboxList))
	mux.HandleFunc("GET /sms/rest/v2/msgheader", s.auth(s.msgheader))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func answer(w http.ResponseWriter, code string, v map[string]any) {
	if v == nil {
		v = map[string]any{}
	}
	v["code"] = code
	if _, ok := v["description"]; !ok {
		v["description"] = descriptions[code]
	}
	w.Header().Set("Content-Type", "application/json")
	if code != "00" {
		w.WriteHeader(http.StatusNotAcceptable) // Netgsm answers errors with 406
	}
	_ = json.NewEncoder(w).Encode(v)
}

var descriptions = map[string]string{
	"00": "success", "20": "Mesaj metninde hata var", "30": "Geçersiz kullanıcı adı, şifre veya kullanıcınızın API erişim izni yok",
	"40": "Mesaj başlığınız (gönderici adınız) sistemde tanımlı değil", "50": "İYS kontrollü gönderim yapılamıyor",
	"51": "İYS marka bilgisi bulunamadı", "60": "Kayıt bulunamadı", "70": "Hatalı sorgulama",
	"80": "Gönderim sınır aşımı", "85": "Mükerrer gönderim sınır aşımı", "100": "Sistem hatası", "101": "Sistem hatası",
	"40inbox": "Gösterilecek mesajınız yok",
}

func (s *Server) auth(h func(w http.ResponseWriter, r *http.Request, user, pass string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.Usercode)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(s.Password)) != 1 {
			answer(w, "30", nil)
			return
		}
		h(w, r, u, p)
	}
}

func pop(codes *[]string) string {
	if len(*codes) == 0 {
		return ""
	}
	c := (*codes)[0]
	*codes = (*codes)[1:]
	return c
}

var tenDigits = regexp.MustCompile(`^[0-9]{10}$`)

func (s *Server) send(w http.ResponseWriter, r *http.Request, user, pass string) {
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		answer(w, "70", nil)
		return
	}
	var req SendRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		answer(w, "70", nil)
		return
	}
	s.mu.Lock()
	rec := Sent{Request: req, Raw: string(raw), User: user, Password: pass}
	code := pop(&s.sendCodes)
	switch {
	case code != "" && code != "00":
	case len(req.Messages) == 0 || req.Messages[0].Msg == "":
		code = "20"
	case !contains(s.MsgHeaders, req.MsgHeader):
		code = "40"
	case req.IYSFilter != "" && req.IYSFilter != "0" && req.IYSFilter != "11" && req.IYSFilter != "12":
		code = "70"
	default:
		code = "00"
		for _, m := range req.Messages {
			if !tenDigits.MatchString(m.No) {
				code = "70"
			}
		}
	}
	rec.Code = code
	if code == "00" {
		s.n++
		rec.JobID = fmt.Sprint(s.n)
		s.reports[rec.JobID] = [2]int{0, 0}
	}
	s.sent = append(s.sent, rec)
	s.mu.Unlock()
	if code != "00" {
		answer(w, code, nil)
		return
	}
	answer(w, "00", map[string]any{"jobid": rec.JobID})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, _, _ string) {
	var req ReportRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.StartDate == "" || req.StopDate == "" {
		answer(w, "70", nil)
		return
	}
	s.mu.Lock()
	s.reportReqs = append(s.reportReqs, req)
	if code := pop(&s.reportCodes); code != "" && code != "00" {
		s.mu.Unlock()
		answer(w, code, nil)
		return
	}
	var jobs []map[string]any
	for _, id := range req.JobIDs {
		st, ok := s.reports[id]
		if !ok {
			continue
		}
		jobs = append(jobs, map[string]any{"jobid": id, "number": "5321234567", "status": st[0], "operator": 30,
			"msglen": 1, "deliveredDate": "", "errorCode": st[1], "referansID": ""})
	}
	s.mu.Unlock()
	if len(jobs) == 0 {
		answer(w, "60", nil)
		return
	}
	answer(w, "00", map[string]any{"jobs": jobs})
}

func (s *Server) inboxList(w http.ResponseWriter, r *http.Request, _, _ string) {
	q := r.URL.Query()
	start, err1 := time.ParseInLocation(QueryLayout, q.Get("startdate"), turkey)
	stop, err2 := time.ParseInLocation(QueryLayout, q.Get("stopdate"), turkey)
	if err1 != nil || err2 != nil || stop.Before(start) {
		answer(w, "70", nil)
		return
	}
	s.mu.Lock()
	s.inboxQs = append(s.inboxQs, InboxQuery{Start: q.Get("startdate"), Stop: q.Get("stopdate")})
	if code := pop(&s.inboxCodes); code != "" && code != "00" {
		s.mu.Unlock()
		answer(w, code, nil)
		return
	}
	var out []InboxMessage
	for _, m := range s.inbox {
		t, err := time.ParseInLocation(DatetimeLayout, m.Datetime, turkey)
		if err != nil || (!t.Before(start) && !t.After(stop)) {
			out = append(out, m)
		}
	}
	s.mu.Unlock()
	if len(out) == 0 {
		answer(w, "40", map[string]any{"description": descriptions["40inbox"]})
		return
	}
	answer(w, "00", map[string]any{"messages": out})
}

func (s *Server) msgheader(w http.ResponseWriter, r *http.Request, _, _ string) {
	answer(w, "00", map[string]any{"msgheaders": s.MsgHeaders})
}

// FailSend scripts the codes of the next send calls ("00": answer normally).
func (s *Server) FailSend(codes ...string) {
	s.mu.Lock()
	s.sendCodes = append(s.sendCodes, codes...)
	s.mu.Unlock()
}

// FailReport scripts the codes of the next report calls.
func (s *Server) FailReport(codes ...string) {
	s.mu.Lock()
	s.reportCodes = append(s.reportCodes, codes...)
	s.mu.Unlock()
}

// FailInbox scripts the codes of the next inbox calls.
func (s *Server) FailInbox(codes ...string) {
	s.mu.Lock()
	s.inboxCodes = append(s.inboxCodes, codes...)
	s.mu.Unlock()
}

// SetReport sets the report of a job: status 0 pending, 1 delivered, 2–4
// and 11–17 failures (16: İYS rejected).
func (s *Server) SetReport(jobID string, status, errorCode int) {
	s.mu.Lock()
	s.reports[jobID] = [2]int{status, errorCode}
	s.mu.Unlock()
}

// Receive appends an SMS to the account's inbox; a zero at is now. The
// message is listed by inbox queries whose range holds its datetime.
func (s *Server) Receive(sender, receiver, text string, at time.Time) InboxMessage {
	if at.IsZero() {
		at = time.Now()
	}
	m := InboxMessage{Message: text, Sender: sender, Receiver: receiver, Datetime: at.In(turkey).Format(DatetimeLayout)}
	s.Append(m)
	return m
}

// Append adds a row to the inbox exactly as given (a datetime the fake
// cannot read is listed by every query).
func (s *Server) Append(m InboxMessage) {
	s.mu.Lock()
	s.inbox = append(s.inbox, m)
	s.mu.Unlock()
}

// Sent returns the send calls so far.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// ReportRequests returns the report calls so far.
func (s *Server) ReportRequests() []ReportRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ReportRequest(nil), s.reportReqs...)
}

// InboxQueries returns the inbox calls' date ranges so far.
func (s *Server) InboxQueries() []InboxQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]InboxQuery(nil), s.inboxQs...)
}

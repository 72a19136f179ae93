package netgsm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// RateLimitDelay is how long a send waits after Netgsm's rate limits
// (codes 80 and 85).
const RateLimitDelay = 60 * time.Second

// sendCodes explains the answer codes of /sms/rest/v2/send (Netgsm's
// documentation, English / Turkish).
var sendCodes = map[string]string{
	"20":  "message text problem or too long / mesaj metninde sorun var veya azami karakter sayısı aşıldı",
	"30":  "credentials or IP not allowed / geçersiz kullanıcı adı, şifre veya API erişim izni yok (IP kısıtı)",
	"40":  "msgheader (sender name) not defined / mesaj başlığı sistemde tanımlı değil",
	"50":  "İYS-controlled sends are not enabled for this account / aboneliğinizle İYS kontrollü gönderim yapılamıyor",
	"51":  "no İYS brand code for this account / aboneliğinize tanımlı İYS marka bilgisi yok",
	"70":  "invalid or missing parameter / hatalı sorgu, parametre eksik veya hatalı",
	"80":  "sending rate limit exceeded / gönderim sınır aşımı",
	"85":  "duplicate limit: over 20 sends to one number within a minute / mükerrer gönderim sınır aşımı",
	"100": "Netgsm system error / sistem hatası",
	"101": "Netgsm system error / sistem hatası",
}

// CodeError is a Netgsm answer other than "00".
type CodeError struct {
	Code        string
	Description string
}

func (e *CodeError) Error() string {
	msg := sendCodes[e.Code]
	if msg == "" {
		msg = e.Description
	}
	if msg == "" {
		msg = "unknown answer"
	}
	return "netgsm " + e.Code + ": " + msg
}

// SendRequest is the JSON body of /sms/rest/v2/send.
type SendRequest struct {
	MsgHeader string        `json:"msgheader"`
	Encoding  string        `json:"encoding"`
	IYSFilter string        `json:"iysfilter"`
	Messages  []SendMessage `json:"messages"`
}

// SendMessage is one text to one number.
type SendMessage struct {
	Msg string `json:"msg"`
	No  string `json:"no"`
}

type answer struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	JobID       string `json:"jobid"`
}

var national = regexp.MustCompile(`^\+90([0-9]{10})$`)

// NationalNumber returns the number Netgsm's "no" takes for an E.164
// Turkish number: the ten digits after +90 (+905321234567 → 5321234567).
func NationalNumber(e164 string) (string, bool) {
	m := national.FindStringSubmatch(e164)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Send posts one SMS. Answer "00" is sent (the jobid is the provider id,
// remembered for the delivery reports Poll reads). Codes 20, 30, 40, 50, 51
// and 70 fail permanently with their meaning, 80 and 85 are retried after a
// minute, 100, 101, 5xx and network errors are retried.
func (a *Adapter) Send(ctx context.Context, o channel.Outbound) (string, error) {
	in := o.Inbox
	if in.String(KeyUsercode) == "" || in.Secrets[KeyPassword] == "" || in.String(KeyMsgHeader) == "" {
		return "", jobs.Permanent(errors.New("the netgsm inbox lacks usercode, password or msgheader"))
	}
	phone := customerPhone(o.Customer)
	if phone == "" {
		return "", jobs.Permanent(errors.New("the customer has no phone number to send to"))
	}
	no, ok := NationalNumber(phone)
	if !ok {
		return "", jobs.Permanent(fmt.Errorf("netgsm sends to Turkish numbers (+90) only, not %s", phone))
	}
	if o.Message.ContentType == "template" {
		return "", jobs.Permanent(errors.New("SMS has no templates: send the text itself"))
	}
	text := o.Message.Text
	if strings.TrimSpace(text) == "" {
		return "", jobs.Permanent(errors.New("an SMS carries text only, and this reply has none"))
	}
	req := SendRequest{MsgHeader: in.String(KeyMsgHeader), Encoding: "TR", IYSFilter: IYSFilter(in),
		Messages: []SendMessage{{Msg: text, No: no}}}
	var ans answer
	status, err := a.call(ctx, in, http.MethodPost, "/sms/rest/v2/send", req, &ans)
	if err != nil {
		return "", err
	}
	switch {
	case ans.Code == "00" && ans.JobID != "":
		a.track(in.ID, ans.JobID)
		return ans.JobID, nil
	case ans.Code == "00":
		// Netgsm took the message; without a jobid there is no report, but
		// sending it again would double it.
		return "", nil
	case ans.Code == "":
		return "", httpError(status)
	}
	e := &CodeError{Code: ans.Code, Description: ans.Description}
	switch ans.Code {
	case "20", "30", "40", "50", "51", "70":
		return "", jobs.Permanent(e)
	case "80", "85":
		return "", jobs.RetryAfter(e, RateLimitDelay)
	default: // 100, 101 and codes Netgsm may add
		return "", e
	}
}

// httpError classifies an HTTP answer that carried no Netgsm code.
func httpError(status int) error {
	err := fmt.Errorf("netgsm: HTTP %d %s", status, http.StatusText(status))
	switch {
	case status == http.StatusTooManyRequests:
		return jobs.RetryAfter(err, RateLimitDelay)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return jobs.Permanent(fmt.Errorf("%w: credentials or IP not allowed", err))
	default:
		return err
	}
}

// call sends a JSON request (GET when body is nil) with Basic auth and
// decodes the JSON answer into out, whatever the HTTP status (Netgsm
// answers errors with 406 and a code). It returns the HTTP status; an error
// only when nothing readable came back.
func (a *Adapter) call(ctx context.Context, in inbox.Inbox, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, jobs.Permanent(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL(in)+path, rd)
	if err != nil {
		return 0, jobs.Permanent(fmt.Errorf("bad api_base_url: %w", err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Kanal")
	req.SetBasicAuth(in.String(KeyUsercode), in.Secrets[KeyPassword])
	resp, err := a.client().Do(req)
	if err != nil {
		return 0, fmt.Errorf("netgsm: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, fmt.Errorf("netgsm: %w", err)
	}
	if json.Unmarshal(rb, out) != nil {
		return resp.StatusCode, httpError(resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// customerPhone picks the customer's phone number in E.164.
func customerPhone(c customer.Customer) string {
	for _, id := range c.Identities {
		if id.Kind == customer.KindPhone && strings.HasPrefix(id.Normalized, "+") {
			return id.Normalized
		}
	}
	if strings.HasPrefix(c.Phone, "+") {
		return c.Phone
	}
	return ""
}

// Test lists the account's sender names (GET /sms/rest/v2/msgheader), a
// call that sends nothing, and checks the inbox's msgheader is among them.
func (a *Adapter) Test(ctx context.Context, in inbox.Inbox) (string, error) {
	var ans struct {
		Code        string   `json:"code"`
		Description string   `json:"description"`
		MsgHeaders  []string `json:"msgheaders"`
	}
	status, err := a.call(ctx, in, http.MethodGet, "/sms/rest/v2/msgheader", nil, &ans)
	if err != nil {
		return "", err
	}
	if ans.Code == "" {
		return "", httpError(status)
	}
	if ans.Code != "00" {
		return "", &CodeError{Code: ans.Code, Description: ans.Description}
	}
	h := in.String(KeyMsgHeader)
	for _, m := range ans.MsgHeaders {
		if m == h {
			return "Netgsm " + in.String(KeyUsercode) + ", sender " + h, nil
		}
	}
	return "", fmt.Errorf("netgsm: msgheader %q is not among the account's approved sender names (%s)", h, strings.Join(ans.MsgHeaders, ", "))
}

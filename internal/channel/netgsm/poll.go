package netgsm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/text"
)

// Polling windows.
const (
	// DateLayout is the format of the inbox query's startdate and stopdate
	// (ddMMyyyyHHmmss, Turkish time) and of Kanal's cursor.
	DateLayout = "02012006150405"
	// ReportDateLayout is the format of the report query's dates.
	ReportDateLayout = "02.01.2006 15:04:05"
	// FirstWindow is how far back the first poll of an inbox reads.
	FirstWindow = time.Hour
	// Overlap is how far before the cursor each poll reads again, for
	// messages Netgsm lists late; they are deduplicated by their key.
	Overlap = 10 * time.Minute
	// MaxLag bounds how far behind now the cursor stays when nothing
	// arrives, so that an idle inbox does not query an ever-growing range.
	MaxLag = 24 * time.Hour
	// TrackFor is how long a send's delivery report is asked for.
	TrackFor = 24 * time.Hour
	// keepDone is how long a final report is handed out again, in case the
	// round that carried it was not stored.
	keepDone = 10 * time.Minute
	// reportChunk is how many job ids one report query carries.
	reportChunk = 100
	// DefaultMaxTracked bounds the remembered sends.
	DefaultMaxTracked = 10000
)

// InboxMessage is one row of /sms/rest/v2/inbox.
type InboxMessage struct {
	Message  string `json:"message"`
	Sender   string `json:"sender"`
	Receiver string `json:"receiver"`
	Datetime string `json:"datetime"`
}

// Key is an inbound SMS's idempotency key: Netgsm gives inbox rows no id,
// so it is the hex SHA-256 of sender|receiver|datetime|message, exactly as
// Netgsm lists them.
func Key(m InboxMessage) string {
	sum := sha256.Sum256([]byte(m.Sender + "|" + m.Receiver + "|" + m.Datetime + "|" + m.Message))
	return hex.EncodeToString(sum[:])
}

// Layouts the inbox's datetime may come in (Netgsm does not document it).
var datetimeLayouts = []string{
	"02.01.2006 15:04:05", "02.01.2006 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05",
	"02/01/2006 15:04:05", DateLayout, "020120061504",
}

func parseDatetime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range datetimeLayouts {
		if t, err := time.ParseInLocation(l, s, turkey); err == nil {
			return t, true
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// Poll reads what arrived since cursor: the inbound SMS of the inbox and
// the delivery reports of this process's recent sends. The cursor is the
// datetime up to which the inbox was read (DateLayout, Turkish time).
func (a *Adapter) Poll(ctx context.Context, in inbox.Inbox, cursor string) (channel.Batch, string, error) {
	now := a.now().In(turkey)
	base := now.Add(-FirstWindow)
	if cursor != "" {
		if t, err := time.ParseInLocation(DateLayout, cursor, turkey); err == nil {
			base = t
		}
	}
	msgs, err := a.inbox(ctx, in, base.Add(-Overlap), now)
	if err != nil {
		return channel.Batch{}, cursor, err
	}
	var b channel.Batch
	next := base
	if lag := now.Add(-MaxLag); lag.After(next) {
		next = lag
	}
	for _, m := range msgs {
		msg := channel.Message{ProviderID: Key(m), Text: m.Message, ContentType: "text"}
		phone, err := text.Phone(m.Sender, "TR")
		if err != nil {
			phone = m.Sender // Kanal refuses it and keeps it for inspection
		}
		msg.Claims = []customer.Claim{{Kind: customer.KindPhone, Value: phone}}
		if t, ok := parseDatetime(m.Datetime); ok {
			msg.At = t
			if t.After(next) {
				next = t
			}
		}
		b.Messages = append(b.Messages, msg)
	}
	statuses, err := a.reports(ctx, in)
	if err != nil {
		return channel.Batch{}, cursor, err
	}
	b.Statuses = statuses
	return b, next.In(turkey).Format(DateLayout), nil
}

func (a *Adapter) inbox(ctx context.Context, in inbox.Inbox, start, stop time.Time) ([]InboxMessage, error) {
	q := url.Values{"startdate": {start.In(turkey).Format(DateLayout)}, "stopdate": {stop.In(turkey).Format(DateLayout)}}
	var ans struct {
		Code        string         `json:"code"`
		Description string         `json:"description"`
		Messages    []InboxMessage `json:"messages"`
	}
	status, err := a.call(ctx, in, http.MethodGet, "/sms/rest/v2/inbox?"+q.Encode(), nil, &ans)
	if err != nil {
		return nil, err
	}
	switch ans.Code {
	case "00":
		return ans.Messages, nil
	case "40": // no messages
		return nil, nil
	case "":
		return nil, httpError(status)
	}
	return nil, fmt.Errorf("inbox: %w", &CodeError{Code: ans.Code, Description: ans.Description})
}

// reportCodes explains the status of a report row (English / Turkish).
var reportCodes = map[int]string{
	2:  "expired / zaman aşımı",
	3:  "invalid or restricted number / hatalı veya kısıtlı numara",
	4:  "not sent to the operator / operatöre gönderilemedi",
	11: "rejected by the operator / operatör tarafından reddedildi",
	12: "delivery error / gönderim hatası",
	13: "duplicate message / mükerrer gönderim",
	14: "insufficient balance / yetersiz bakiye",
	15: "blacklisted number / kara listedeki numara",
	16: "İYS rejected: no consent on record / İYS reddetti: alıcının İYS onayı yok",
	17: "İYS error / İYS hatası",
}

// ReportReason is the failure reason of a report status, "16: İYS
// rejected…".
func ReportReason(status int) string {
	if m, ok := reportCodes[status]; ok {
		return strconv.Itoa(status) + ": " + m
	}
	return strconv.Itoa(status) + ": not delivered / iletilemedi"
}

// flexInt reads a number Netgsm may send as a number or a string.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	*f = flexInt(n)
	return nil
}

// ReportRequest is the JSON body of /sms/rest/v2/report.
type ReportRequest struct {
	JobIDs    []string `json:"jobids"`
	StartDate string   `json:"startdate"`
	StopDate  string   `json:"stopdate"`
	PageSize  int      `json:"pagesize,omitempty"`
}

type reportRow struct {
	JobID     string  `json:"jobid"`
	Number    string  `json:"number"`
	Status    flexInt `json:"status"`
	ErrorCode flexInt `json:"errorCode"`
}

type tracked struct {
	sentAt time.Time
	doneAt time.Time // when a final report came
	status channel.Status
}

// track remembers a send for its delivery report.
func (a *Adapter) track(inboxID, jobID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tracked == nil {
		a.tracked = map[string]map[string]*tracked{}
	}
	max := a.MaxTracked
	if max <= 0 {
		max = DefaultMaxTracked
	}
	for a.count >= max {
		a.forgetOldest()
	}
	if a.tracked[inboxID] == nil {
		a.tracked[inboxID] = map[string]*tracked{}
	}
	if _, ok := a.tracked[inboxID][jobID]; !ok {
		a.count++
	}
	a.tracked[inboxID][jobID] = &tracked{sentAt: a.now()}
}

func (a *Adapter) forgetOldest() {
	var oi, oj string
	var ot time.Time
	for i, jobs := range a.tracked {
		for j, t := range jobs {
			if oj == "" || t.sentAt.Before(ot) {
				oi, oj, ot = i, j, t.sentAt
			}
		}
	}
	if oj == "" {
		a.count = 0
		return
	}
	a.forget(oi, oj)
}

func (a *Adapter) forget(inboxID, jobID string) {
	delete(a.tracked[inboxID], jobID)
	a.count--
	if len(a.tracked[inboxID]) == 0 {
		delete(a.tracked, inboxID)
	}
}

// Tracked lists the job ids of an inbox whose reports are still awaited
// or recently final, oldest first.
func (a *Adapter) Tracked(inboxID string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for j := range a.tracked[inboxID] {
		out = append(out, j)
	}
	slices.SortFunc(out, func(x, y string) int {
		return a.tracked[inboxID][x].sentAt.Compare(a.tracked[inboxID][y].sentAt)
	})
	return out
}

// reports asks for the reports of the inbox's pending sends and hands out
// the final ones (delivered or failed). Final reports are handed out again
// for a few minutes, then forgotten; sends with no final report after
// TrackFor are forgotten too.
func (a *Adapter) reports(ctx context.Context, in inbox.Inbox) ([]channel.Status, error) {
	now := a.now()
	var pending []string
	var out []channel.Status
	var oldest time.Time
	a.mu.Lock()
	for j, t := range a.tracked[in.ID] {
		switch {
		case now.Sub(t.sentAt) > TrackFor, !t.doneAt.IsZero() && now.Sub(t.doneAt) > keepDone:
			a.forget(in.ID, j)
		case !t.doneAt.IsZero():
			out = append(out, t.status)
		default:
			pending = append(pending, j)
			if oldest.IsZero() || t.sentAt.Before(oldest) {
				oldest = t.sentAt
			}
		}
	}
	a.mu.Unlock()
	slices.Sort(pending)
	for len(pending) > 0 {
		chunk := pending[:min(reportChunk, len(pending))]
		pending = pending[len(chunk):]
		req := ReportRequest{JobIDs: chunk, PageSize: reportChunk,
			StartDate: oldest.Add(-time.Minute).In(turkey).Format(ReportDateLayout), StopDate: now.Add(time.Minute).In(turkey).Format(ReportDateLayout)}
		var ans struct {
			Code        string      `json:"code"`
			Description string      `json:"description"`
			Jobs        []reportRow `json:"jobs"`
		}
		status, err := a.call(ctx, in, http.MethodPost, "/sms/rest/v2/report", req, &ans)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		switch ans.Code {
		case "00":
		case "60": // no records yet
			continue
		case "80": // 10 queries a minute: the next round asks again
			return out, nil
		case "":
			return nil, fmt.Errorf("report: %w", httpError(status))
		default:
			return nil, fmt.Errorf("report: %w", &CodeError{Code: ans.Code, Description: ans.Description})
		}
		a.mu.Lock()
		for _, r := range ans.Jobs {
			t, ok := a.tracked[in.ID][r.JobID]
			if !ok || !t.doneAt.IsZero() {
				continue
			}
			s := channel.Status{ProviderMessageID: r.JobID}
			switch st := int(r.Status); {
			case st == 0: // pending
				continue
			case st == 1:
				s.Status = conversation.StatusDelivered
			case reportCodes[st] != "":
				s.Status, s.Reason = conversation.StatusFailed, ReportReason(st)
			default: // a status Netgsm may add: asked again until TrackFor
				continue
			}
			t.doneAt, t.status = now, s
			out = append(out, s)
		}
		a.mu.Unlock()
	}
	return out, nil
}

// CursorAt is the cursor that makes the next poll read from t on.
func CursorAt(t time.Time) string { return t.In(turkey).Format(DateLayout) }

package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
)

// mergeCustomer merges the customer named by "from" into the one in the path.
func (s *Server) mergeCustomer(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		From string `json:"from"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	m, err := s.Customers.Merge(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id"), in.From)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

// undoCustomerMerge reverses a merge. It reads no body.
func (s *Server) undoCustomerMerge(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	m, err := s.Customers.Undo(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) getCustomerMerge(w http.ResponseWriter, r *http.Request) error {
	m, err := s.Customers.GetMerge(r.Context(), principal(r).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// listCustomerMerges lists the merges a customer took part in; it answers
// for merged-away customers too.
func (s *Server) listCustomerMerges(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 50, 200)
	if err != nil {
		return err
	}
	ms, err := s.Customers.Merges(r.Context(), principal(r).WorkspaceID, r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ms})
	return nil
}

// customerDuplicates suggests customers that are likely the same person.
func (s *Server) customerDuplicates(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 10, 50)
	if err != nil {
		return err
	}
	sg, err := s.Customers.Duplicates(r.Context(), principal(r).WorkspaceID, r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": sg})
	return nil
}

// activityFields are the fields of one customer event, in both forms.
type activityFields struct {
	Type           string          `json:"type"`
	IdempotencyKey string          `json:"idempotency_key"`
	OccurredAt     json.RawMessage `json:"occurred_at"`
	Data           json.RawMessage `json:"data"`
}

type activityCustomerIn struct {
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
}

// activity turns the wire form into the domain's, reading occurred_at as
// Unix milliseconds or an RFC 3339 time.
func (f activityFields) activity(field string, v *errs.Validation) customer.ActivityIn {
	in := customer.ActivityIn{Type: f.Type, IdempotencyKey: f.IdempotencyKey, Data: f.Data, Field: field}
	name := "occurred_at"
	if field != "" {
		name = field + ".occurred_at"
	}
	raw := bytes.TrimSpace(f.OccurredAt)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"':
		var str string
		_ = json.Unmarshal(raw, &str)
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			v.Add(name, "must be Unix milliseconds or an RFC 3339 time such as 2026-01-15T10:30:00Z")
			break
		}
		in.OccurredAt = t.UnixMilli()
	default:
		n, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || n != math.Trunc(n) || n < 1 || n > 1<<53 {
			v.Add(name, "must be Unix milliseconds or an RFC 3339 time such as 2026-01-15T10:30:00Z")
			break
		}
		in.OccurredAt = int64(n)
	}
	return in
}

// postCustomerEvent records one shop or app event about the customer in the
// path: 201 when stored, 200 when its idempotency_key was seen before.
func (s *Server) postCustomerEvent(w http.ResponseWriter, r *http.Request) error {
	var in activityFields
	if err := s.decode(r, &in); err != nil {
		return err
	}
	v := &errs.Validation{}
	a := in.activity("", v)
	a.CustomerID = r.PathValue("id")
	res, err := s.recordActivities(w, r, v, []customer.ActivityIn{a})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if res[0].Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, res[0])
	return nil
}

// postCustomerEvents records up to 500 events, each naming its customer by
// customer_id or by identity, all or nothing.
func (s *Server) postCustomerEvents(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Events []struct {
			activityFields
			CustomerID string              `json:"customer_id"`
			Customer   *activityCustomerIn `json:"customer"`
		} `json:"events"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	if len(in.Events) == 0 {
		return errs.Invalid("events", "send 1 to 500 events")
	}
	v := &errs.Validation{}
	items := make([]customer.ActivityIn, len(in.Events))
	for i, e := range in.Events {
		items[i] = e.activity(fmt.Sprintf("events[%d]", i), v)
		items[i].CustomerID = e.CustomerID
		if e.Customer != nil {
			items[i].Customer = &customer.ActivityCustomer{Email: e.Customer.Email, Phone: e.Customer.Phone,
				ExternalID: e.Customer.ExternalID, Name: e.Customer.Name}
		}
	}
	res, err := s.recordActivities(w, r, v, items)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": res})
	return nil
}

// recordActivities checks the events, takes their tokens from the
// workspace's event budget (all of them or none: a refused call stores
// nothing) and stores them.
func (s *Server) recordActivities(w http.ResponseWriter, r *http.Request, v *errs.Validation, items []customer.ActivityIn) ([]customer.ActivityResult, error) {
	region, err := s.region(r)
	if err != nil {
		return nil, err
	}
	if err := customer.ValidateActivities(region, items); err != nil {
		var cv *errs.Validation
		if !errors.As(err, &cv) {
			return nil, err
		}
		for k, m := range cv.Fields {
			if _, set := v.Fields[k]; !set {
				v.Add(k, m)
			}
		}
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	p := principal(r)
	if wait, ok := activityLimiter(s).take(p.WorkspaceID, len(items)); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return nil, errs.New(errs.ErrRateLimited, "rate_limited",
			"too many customer events: a workspace may send %d a second on average, %d at once; nothing of this call was stored, send it again in %d seconds",
			activityRate, activityBurst, secs)
	}
	return s.Customers.RecordActivities(r.Context(), p.Actor(), p.WorkspaceID, region, items)
}

// The budget of customer events per workspace: a token bucket refilled at
// activityRate events a second holding up to activityBurst (two full bulk
// calls). A call takes a token per event, all at once.
const (
	activityRate  = 50
	activityBurst = 2 * customer.MaxActivityBatch
)

type eventBudget struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// activityLimiters holds one budget per Server (each test server has its own).
var activityLimiters sync.Map

func activityLimiter(s *Server) *eventBudget {
	b, _ := activityLimiters.LoadOrStore(s, &eventBudget{m: map[string]*rate.Limiter{}})
	return b.(*eventBudget)
}

// take takes n tokens from the workspace's bucket, or none and tells how
// long until n would be there.
func (b *eventBudget) take(workspaceID string, n int) (time.Duration, bool) {
	b.mu.Lock()
	l, ok := b.m[workspaceID]
	if !ok {
		l = rate.NewLimiter(activityRate, activityBurst)
		b.m[workspaceID] = l
	}
	b.mu.Unlock()
	now := time.Now()
	res := l.ReserveN(now, n)
	if !res.OK() {
		return time.Duration(n/activityRate+1) * time.Second, false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

package customer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
)

// Activity types Kanal knows how to show. Any other type matching
// activityType is stored too, and shown generically.
const (
	ActivityOrderPlaced    = "order.placed"
	ActivityOrderShipped   = "order.shipped"
	ActivityOrderDelivered = "order.delivered"
	ActivityOrderReturned  = "order.returned"
	ActivityFavouriteAdded = "favourite.added"
	ActivityCartUpdated    = "cart.updated"
	ActivityAppOpened      = "app.opened"
	ActivityStoreVisit     = "store.visit"
)

// ActivityTypes lists the known activity types.
var ActivityTypes = []string{ActivityOrderPlaced, ActivityOrderShipped, ActivityOrderDelivered, ActivityOrderReturned,
	ActivityFavouriteAdded, ActivityCartUpdated, ActivityAppOpened, ActivityStoreVisit}

// Limits of customer activity events.
const (
	MaxActivityBatch    = 500      // events per bulk call
	MaxActivityData     = 16 << 10 // bytes of one event's data, as JSON
	MaxActivityKey      = 255      // characters of an idempotency key
	maxActivityFuture   = 24 * time.Hour
	minActivityOccurred = 946684800000 // 2000-01-01, in Unix ms
)

var activityType = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// ActivityCustomer names a customer by identity instead of Kanal's id.
type ActivityCustomer struct {
	Email      string
	Phone      string
	ExternalID string
	// Name is used only when no customer has any of the identities and a
	// new one is created.
	Name string
}

// ActivityIn is one shop or app event about a customer.
type ActivityIn struct {
	// CustomerID is Kanal's id; a merged-away customer's id means the
	// customer it was merged into. Exactly one of CustomerID and Customer.
	CustomerID string
	Customer   *ActivityCustomer
	Type       string
	// IdempotencyKey, unique per workspace, makes a retry store nothing new
	// and answer the first event's id. Optional.
	IdempotencyKey string
	// OccurredAt is when it happened (Unix ms); 0 means now.
	OccurredAt int64
	// Data is a JSON object (or empty).
	Data json.RawMessage
	// Field is the request field errors name ("events[3]"), "" for a
	// single event.
	Field string

	ref map[string]string // the customer's identities, normalised (set by validate)
}

// Activity is the data of a customer.activity event in the log.
type Activity struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	OccurredAt     int64           `json:"occurred_at"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	Data           json.RawMessage `json:"data"`
}

// ActivityResult tells where an activity event landed.
type ActivityResult struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	Type       string `json:"type"`
	// Seq is the event's place in the workspace's log (the timeline).
	Seq        int64 `json:"seq"`
	OccurredAt int64 `json:"occurred_at"`
	// Duplicate: the idempotency key was seen before; nothing was stored
	// and the first event's id is answered.
	Duplicate bool `json:"duplicate"`
	// NewCustomer: no customer had the identities, so one was created.
	NewCustomer bool `json:"new_customer"`
}

func fieldName(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// claims returns the identities an ActivityCustomer names, in matching
// order: the integrator's own id first, then e-mail, then phone.
func (c *ActivityCustomer) claims(prefix string) []Claim {
	var out []Claim
	for _, cl := range []Claim{{Kind: KindExternalID, Value: c.ExternalID, Field: fieldName(prefix, "customer.external_id")},
		{Kind: KindEmail, Value: c.Email, Field: fieldName(prefix, "customer.email")},
		{Kind: KindPhone, Value: c.Phone, Field: fieldName(prefix, "customer.phone")}} {
		if strings.TrimSpace(cl.Value) != "" {
			out = append(out, cl)
		}
	}
	return out
}

// validate checks one event and returns it with defaults filled and its
// data in canonical form.
func (in ActivityIn) validate(v *errs.Validation, region string, now int64) ActivityIn {
	f := func(name string) string { return fieldName(in.Field, name) }
	in.Type = strings.TrimSpace(in.Type)
	in.CustomerID = strings.TrimSpace(in.CustomerID)
	switch {
	case in.Type == "":
		v.Add(f("type"), "is required, e.g. "+strings.Join(ActivityTypes[:3], ", "))
	case !activityType.MatchString(in.Type):
		v.Add(f("type"), "must be 1 to 64 lower-case letters, digits, '.', '_' or '-' (e.g. order.placed)")
	}
	if len(in.IdempotencyKey) > MaxActivityKey || !utf8.ValidString(in.IdempotencyKey) {
		v.Add(f("idempotency_key"), fmt.Sprintf("must be at most %d characters", MaxActivityKey))
	}
	switch {
	case in.OccurredAt == 0:
	case in.OccurredAt < minActivityOccurred:
		v.Add(f("occurred_at"), "must be after 2000-01-01 (Unix milliseconds or RFC 3339)")
	case in.OccurredAt > now+maxActivityFuture.Milliseconds():
		v.Add(f("occurred_at"), "must not be more than a day in the future")
	}
	data := bytes.TrimSpace(in.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		data = []byte("{}")
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		v.Add(f("data"), "must be a JSON object")
	} else if canon, _ := json.Marshal(obj); len(canon) > MaxActivityData {
		v.Add(f("data"), fmt.Sprintf("must be at most %d bytes as JSON", MaxActivityData))
	} else {
		in.Data = canon
	}
	switch {
	case in.CustomerID != "" && in.Customer != nil:
		v.Add(f("customer"), "give either customer_id or customer, not both")
	case in.CustomerID == "" && in.Customer == nil:
		v.Add(f("customer"), "is required: customer_id, or customer with email, phone or external_id")
	case in.Customer != nil:
		claims := in.Customer.claims(in.Field)
		if len(claims) == 0 {
			v.Add(f("customer"), "needs at least one of email, phone or external_id")
		}
		if norm, err := normalizedRef(claims, region); err != nil {
			var cv *errs.Validation
			if errors.As(err, &cv) {
				for k, m := range cv.Fields {
					v.Add(k, m)
				}
			}
		} else {
			in.ref = norm
		}
		if len(in.Customer.Name) > 200 {
			v.Add(f("customer.name"), "must be at most 200 characters")
		}
	}
	return in
}

func normalizedRef(claims []Claim, region string) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range claims {
		n, err := Normalize(c.Kind, c.Value, region)
		if err != nil {
			_, _, err = normalizeClaims([]Claim{c}, region) // the error naming the field
			return nil, err
		}
		out[c.Kind] = n
	}
	return out, nil
}

// fingerprint identifies an event, to tell a retry (the same event, its
// identities written alike or not) from another event reusing a key.
func (in ActivityIn) fingerprint() string {
	ref := map[string]string{"customer_id": in.CustomerID}
	if in.Customer != nil {
		ref = in.ref
	}
	b, _ := json.Marshal(map[string]any{"customer": ref, "type": in.Type, "occurred_at": in.OccurredAt, "data": in.Data})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ValidateActivities checks a batch of events without storing anything.
func ValidateActivities(region string, items []ActivityIn) error {
	v := &errs.Validation{}
	if len(items) > MaxActivityBatch {
		v.Add("events", fmt.Sprintf("at most %d events per call", MaxActivityBatch))
		return v
	}
	now := store.Now()
	for _, in := range items {
		in.validate(v, region, now)
	}
	return v.OrNil()
}

// RecordActivities stores shop and app events (order.placed, app.opened,
// ...) on their customers' timelines, all or nothing: any bad event stores
// none. Each becomes a customer.activity event in the log. An event naming
// its customer by identity resolves it like an inbound message does (the
// first identity someone has wins, the others are added to that customer
// when free); when nobody has any of them a customer is created with them.
// An event whose idempotency key was seen before stores nothing and answers
// the first event; the same key on a different event is a conflict.
func (s *Service) RecordActivities(ctx context.Context, actor event.Actor, workspaceID, region string, items []ActivityIn) ([]ActivityResult, error) {
	if len(items) == 0 {
		return nil, errs.Invalid("events", "send at least one event")
	}
	if len(items) > MaxActivityBatch {
		return nil, errs.Invalid("events", fmt.Sprintf("at most %d events per call", MaxActivityBatch))
	}
	now := store.Now()
	v := &errs.Validation{}
	items = slices.Clone(items)
	for i := range items {
		items[i] = items[i].validate(v, region, now)
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	out := make([]ActivityResult, len(items))
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		for i, in := range items {
			res, err := s.recordActivity(ctx, tx, actor, workspaceID, region, in)
			if err != nil {
				return err
			}
			out[i] = res
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) recordActivity(ctx context.Context, tx *store.Tx, actor event.Actor, workspaceID, region string, in ActivityIn) (ActivityResult, error) {
	d := tx.Dialect()
	at := func() string {
		if in.Field == "" {
			return ""
		}
		return in.Field + ": "
	}
	fp := in.fingerprint()
	if in.IdempotencyKey != "" {
		var res ActivityResult
		var prev string
		err := tx.QueryRow(ctx, q.Get(d, "activity-get"), workspaceID, in.IdempotencyKey).Scan(&res.ID, &res.CustomerID,
			&res.Type, &prev, &res.Seq, &res.OccurredAt)
		if err == nil {
			if prev != fp {
				return ActivityResult{}, errs.New(errs.ErrConflict, "idempotency_key_reused",
					"%sthe idempotency_key %q was already used for a different event", at(), in.IdempotencyKey)
			}
			res.Duplicate = true
			return res, nil
		}
		if !errors.Is(err, errs.ErrNotFound) {
			return ActivityResult{}, fmt.Errorf("activity: %w", err)
		}
	}
	res := ActivityResult{ID: store.NewID(), Type: in.Type, OccurredAt: in.OccurredAt}
	if res.OccurredAt == 0 {
		res.OccurredAt = store.Now()
	}
	if in.Customer != nil {
		var err error
		res.CustomerID, res.NewCustomer, err = s.Resolve(ctx, tx, workspaceID, region, in.Customer.claims(in.Field),
			Profile{Name: in.Customer.Name}, actor)
		if err != nil {
			return ActivityResult{}, err
		}
	} else {
		id, err := s.liveSurvivor(ctx, tx, workspaceID, in.CustomerID)
		if errors.Is(err, errs.ErrNotFound) {
			return ActivityResult{}, errs.New(errs.ErrNotFound, "customer_not_found", "%sno such customer in this workspace", at())
		}
		if err != nil {
			return ActivityResult{}, err
		}
		res.CustomerID = id
	}
	ev, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: EventActivity, CustomerID: res.CustomerID, Actor: actor,
		Data: Activity{ID: res.ID, Type: in.Type, OccurredAt: res.OccurredAt, IdempotencyKey: in.IdempotencyKey, Data: in.Data}})
	if err != nil {
		return ActivityResult{}, err
	}
	res.Seq = ev.Seq
	if in.IdempotencyKey != "" {
		if _, err := tx.Exec(ctx, q.Get(d, "activity-insert"), workspaceID, in.IdempotencyKey, res.ID, res.CustomerID,
			res.Type, fp, res.Seq, res.OccurredAt, store.Now()); err != nil {
			return ActivityResult{}, fmt.Errorf("activity: %w", err)
		}
	}
	return res, nil
}

// KnownActivity tells whether Kanal has a specific view for an activity type.
func KnownActivity(t string) bool { return slices.Contains(ActivityTypes, t) }

// Package customer keeps customers: one person with one profile and many
// identities (e-mail, phone, WhatsApp, Telegram, ...), each unique in its
// workspace after normalisation.
package customer

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/text"
)

//go:embed *.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Customer is a person the business talks with.
type Customer struct {
	ID          string         `json:"id"`
	WorkspaceID string         `json:"workspace_id"`
	Name        string         `json:"name"`
	Email       string         `json:"email"`
	Phone       string         `json:"phone"`
	Attributes  map[string]any `json:"attributes"`
	Identities  []Identity     `json:"identities,omitempty"`
	CreatedAt   int64          `json:"created_at"`
	UpdatedAt   int64          `json:"updated_at"`
}

// Identity is one way to reach or recognise a customer.
type Identity struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Value      string `json:"value"`
	Normalized string `json:"normalized"`
	CreatedAt  int64  `json:"created_at"`
}

// Claim is an identity an inbound item says its sender has.
type Claim struct {
	Kind  string
	Value string
	// Field names the request field the claim came from, for error
	// messages ("email", "identities[2]"); empty means "customer.<kind>".
	Field string
}

// Profile is what an inbound item or an agent says about a customer.
type Profile struct {
	Name       string
	Email      string
	Phone      string
	Attributes map[string]any
}

// Service manages customers.
type Service struct {
	db  *store.DB
	log *event.Log
}

// NewService returns the customer service.
func NewService(db *store.DB, log *event.Log) *Service { return &Service{db: db, log: log} }

// SearchKey is what customer search matches against: the folded name and
// e-mail, and the phone number's digits.
func SearchKey(name, email, phone string) string {
	return text.Fold(name) + " | " + text.Fold(email) + " | " + strings.TrimPrefix(phone, "+")
}

// SearchPattern turns a search query into a LIKE pattern over SearchKey.
func SearchPattern(query string) string {
	query = strings.TrimSpace(query)
	onlyPhone := query != "" && strings.Trim(query, "+0123456789 ()-.") == ""
	if onlyPhone {
		query = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, query)
		query = strings.TrimLeft(query, "0") // national trunk prefix
	} else {
		query = text.Fold(query)
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(query) + "%"
}

func normalizeClaims(claims []Claim, region string) ([]Claim, []string, error) {
	out := make([]Claim, 0, len(claims))
	norm := make([]string, 0, len(claims))
	v := &errs.Validation{}
	seen := map[string]bool{}
	for _, c := range claims {
		n, err := Normalize(c.Kind, c.Value, region)
		if err != nil {
			field, isList := c.Field, strings.HasSuffix(c.Field, "]")
			if field == "" {
				field = "customer." + c.Kind
			}
			switch {
			case errors.Is(err, ErrUnknownKind) && isList:
				field += ".kind"
			case isList:
				field += ".value"
			}
			v.Add(field, err.Error())
			continue
		}
		key := c.Kind + "\x00" + n
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, Claim{Kind: c.Kind, Value: strings.TrimSpace(c.Value)})
		norm = append(norm, n)
	}
	return out, norm, v.OrNil()
}

// Resolve finds the customer an inbound item belongs to, inside tx: the first
// claim (in the order given) that matches a known identity wins, and the
// item's other identities are added to that customer when nobody has them
// yet. With no match a new customer is created with all the identities. Empty
// profile fields are filled from profile; set ones are never overwritten.
func (s *Service) Resolve(ctx context.Context, tx *store.Tx, workspaceID, region string, claims []Claim, p Profile, actor event.Actor) (string, bool, error) {
	claims, norm, err := normalizeClaims(claims, region)
	if err != nil {
		return "", false, err
	}
	if len(claims) == 0 {
		return "", false, errs.Invalid("customer", "needs at least one of email, phone or external_id")
	}
	// A profile without an e-mail or phone takes them from the claims.
	for i, c := range claims {
		switch {
		case c.Kind == KindEmail && p.Email == "":
			p.Email = c.Value
		case (c.Kind == KindPhone || c.Kind == KindWhatsApp) && p.Phone == "":
			p.Phone = norm[i]
		}
	}
	d := tx.Dialect()
	owner := make([]string, len(claims))
	var found Customer
	for i, c := range claims {
		if found.ID == "" {
			// The first match comes with its profile, to fill in below.
			cu, err := scan(tx.QueryRow(ctx, q.Get(d, "identity-customer"), workspaceID, c.Kind, norm[i]))
			if err != nil && !errors.Is(err, errs.ErrNotFound) {
				return "", false, fmt.Errorf("resolve identity: %w", err)
			}
			found, owner[i] = cu, cu.ID
			continue
		}
		err := tx.QueryRow(ctx, q.Get(d, "identity"), workspaceID, c.Kind, norm[i]).Scan(&owner[i])
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return "", false, fmt.Errorf("resolve identity: %w", err)
		}
	}
	created := false
	if found.ID == "" {
		c, err := s.create(ctx, tx, workspaceID, region, p, actor)
		if err != nil {
			return "", false, err
		}
		found, created = c, true
	} else if err := s.fillProfile(ctx, tx, found, region, p, actor); err != nil {
		return "", false, err
	}
	for i, c := range claims {
		if owner[i] != "" {
			continue
		}
		if err := s.addIdentity(ctx, tx, workspaceID, found.ID, c.Kind, c.Value, norm[i], actor); err != nil {
			return "", false, err
		}
	}
	return found.ID, created, nil
}

func (s *Service) create(ctx context.Context, tx *store.Tx, workspaceID, region string, p Profile, actor event.Actor) (Customer, error) {
	c := Customer{ID: store.NewID(), WorkspaceID: workspaceID, Name: strings.TrimSpace(p.Name), Attributes: p.Attributes, CreatedAt: store.Now()}
	c.UpdatedAt = c.CreatedAt
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	if p.Email != "" {
		if _, err := text.Email(p.Email); err != nil {
			return Customer{}, errs.Invalid("email", "must be a valid e-mail address")
		}
		c.Email = strings.TrimSpace(p.Email)
	}
	if p.Phone != "" {
		e164, err := text.Phone(p.Phone, region)
		if err != nil {
			return Customer{}, errs.Invalid("phone", "must be a valid phone number")
		}
		c.Phone = e164
	}
	if err := validate(c); err != nil {
		return Customer{}, err
	}
	attrs, _ := json.Marshal(c.Attributes)
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert"), c.ID, workspaceID, c.Name, c.Email, c.Phone, string(attrs),
		SearchKey(c.Name, c.Email, c.Phone), c.CreatedAt, c.UpdatedAt); err != nil {
		return Customer{}, fmt.Errorf("create customer: %w", err)
	}
	_, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: event.CustomerCreated, CustomerID: c.ID, Actor: actor, Data: c})
	return c, err
}

func validate(c Customer) error {
	v := &errs.Validation{}
	if len(c.Name) > 200 {
		v.Add("name", "must be at most 200 characters")
	}
	if len(c.Attributes) > 100 {
		v.Add("attributes", "at most 100 attributes")
	}
	if b, _ := json.Marshal(c.Attributes); len(b) > 16<<10 {
		v.Add("attributes", "must be at most 16 KiB as JSON")
	}
	return v.OrNil()
}

func (s *Service) fillProfile(ctx context.Context, tx *store.Tx, c Customer, region string, p Profile, actor event.Actor) error {
	changed := false
	if c.Name == "" && strings.TrimSpace(p.Name) != "" {
		c.Name, changed = strings.TrimSpace(p.Name), true
	}
	if c.Email == "" && p.Email != "" {
		if _, err := text.Email(p.Email); err == nil {
			c.Email, changed = strings.TrimSpace(p.Email), true
		}
	}
	if c.Phone == "" && p.Phone != "" {
		if e164, err := text.Phone(p.Phone, region); err == nil {
			c.Phone, changed = e164, true
		}
	}
	for k, v := range p.Attributes {
		if _, ok := c.Attributes[k]; !ok {
			c.Attributes[k], changed = v, true
		}
	}
	if !changed {
		return nil
	}
	return s.save(ctx, tx, c, actor)
}

func (s *Service) save(ctx context.Context, tx *store.Tx, c Customer, actor event.Actor) error {
	if err := validate(c); err != nil {
		return err
	}
	c.UpdatedAt = store.Now()
	attrs, _ := json.Marshal(c.Attributes)
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "update"), c.WorkspaceID, c.ID, c.Name, c.Email, c.Phone, string(attrs),
		SearchKey(c.Name, c.Email, c.Phone), c.UpdatedAt); err != nil {
		return fmt.Errorf("update customer: %w", err)
	}
	c.Identities = nil
	_, err := s.log.Append(ctx, tx, c.WorkspaceID, event.New{Type: event.CustomerUpdated, CustomerID: c.ID, Actor: actor, Data: c})
	return err
}

func (s *Service) addIdentity(ctx context.Context, tx *store.Tx, workspaceID, customerID, kind, value, norm string, actor event.Actor) error {
	id := Identity{ID: store.NewID(), Kind: kind, Value: value, Normalized: norm, CreatedAt: store.Now()}
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert-identity"), id.ID, workspaceID, customerID, kind, value, norm, id.CreatedAt); err != nil {
		if store.IsUnique(err) {
			return errs.New(errs.ErrConflict, "identity_taken", "the %s %s belongs to another customer", kind, value)
		}
		return fmt.Errorf("add identity: %w", err)
	}
	_, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: event.IdentityAdded, CustomerID: customerID, Actor: actor, Data: id})
	return err
}

// Create adds a customer by hand (an agent or an integration), with the
// identities given plus those implied by e-mail and phone.
func (s *Service) Create(ctx context.Context, actor event.Actor, workspaceID, region string, p Profile, ids []Claim) (Customer, error) {
	claims := make([]Claim, 0, len(ids)+2)
	for i, c := range ids {
		if c.Field == "" {
			c.Field = fmt.Sprintf("identities[%d]", i)
		}
		claims = append(claims, c)
	}
	if p.Email != "" {
		claims = append(claims, Claim{Kind: KindEmail, Value: p.Email, Field: "email"})
	}
	if p.Phone != "" {
		claims = append(claims, Claim{Kind: KindPhone, Value: p.Phone, Field: "phone"})
	}
	claims, norm, err := normalizeClaims(claims, region)
	if err != nil {
		return Customer{}, err
	}
	var c Customer
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if c, err = s.create(ctx, tx, workspaceID, region, p, actor); err != nil {
			return err
		}
		for i, cl := range claims {
			if err := s.addIdentity(ctx, tx, workspaceID, c.ID, cl.Kind, cl.Value, norm[i], actor); err != nil {
				return err
			}
		}
		c, err = s.getFull(ctx, tx, workspaceID, c.ID)
		return err
	})
	return c, err
}

// Patch is a partial update of a customer; nil fields stay.
type Patch struct {
	Name       *string
	Email      *string
	Phone      *string
	Attributes map[string]any // merged; a null value removes the key
}

// Update changes a customer. A new e-mail or phone also becomes an identity
// (a conflict when another customer has it).
func (s *Service) Update(ctx context.Context, actor event.Actor, workspaceID, region, id string, p Patch) (Customer, error) {
	var c Customer
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if c, err = s.get(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		var claims []Claim
		if p.Name != nil {
			c.Name = strings.TrimSpace(*p.Name)
		}
		if p.Email != nil {
			c.Email = strings.TrimSpace(*p.Email)
			if c.Email != "" {
				if _, err := text.Email(c.Email); err != nil {
					return errs.Invalid("email", "must be a valid e-mail address")
				}
				claims = append(claims, Claim{Kind: KindEmail, Value: c.Email})
			}
		}
		if p.Phone != nil {
			c.Phone = strings.TrimSpace(*p.Phone)
			if c.Phone != "" {
				e164, err := text.Phone(c.Phone, region)
				if err != nil {
					return errs.Invalid("phone", "must be a valid phone number")
				}
				c.Phone = e164
				claims = append(claims, Claim{Kind: KindPhone, Value: e164})
			}
		}
		for k, v := range p.Attributes {
			if v == nil {
				delete(c.Attributes, k)
			} else {
				c.Attributes[k] = v
			}
		}
		if err := s.save(ctx, tx, c, actor); err != nil {
			return err
		}
		claims, norm, err := normalizeClaims(claims, region)
		if err != nil {
			return err
		}
		for i, cl := range claims {
			var owner string
			err := tx.QueryRow(ctx, q.Get(tx.Dialect(), "identity"), workspaceID, cl.Kind, norm[i]).Scan(&owner)
			if err == nil && owner == id {
				continue
			}
			if err != nil && !errors.Is(err, errs.ErrNotFound) {
				return err
			}
			if err := s.addIdentity(ctx, tx, workspaceID, id, cl.Kind, cl.Value, norm[i], actor); err != nil {
				return err
			}
		}
		c, err = s.getFull(ctx, tx, workspaceID, id)
		return err
	})
	return c, err
}

// AddIdentity attaches one more identity to a customer.
func (s *Service) AddIdentity(ctx context.Context, actor event.Actor, workspaceID, region, id, kind, value string) (Identity, error) {
	norm, err := Normalize(kind, value, region)
	if errors.Is(err, ErrUnknownKind) {
		return Identity{}, errs.Invalid("kind", err.Error())
	}
	if err != nil {
		return Identity{}, errs.Invalid("value", err.Error())
	}
	var out Identity
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := s.get(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		if err := s.addIdentity(ctx, tx, workspaceID, id, kind, strings.TrimSpace(value), norm, actor); err != nil {
			return err
		}
		ids, err := s.identities(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		out = ids[len(ids)-1]
		return nil
	})
	return out, err
}

// Get returns a customer with identities.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Customer, error) {
	return s.getFull(ctx, s.db.Reader(), workspaceID, id)
}

// GetTx returns a customer with identities inside a transaction.
func (s *Service) GetTx(ctx context.Context, tx *store.Tx, workspaceID, id string) (Customer, error) {
	return s.getFull(ctx, tx, workspaceID, id)
}

func (s *Service) getFull(ctx context.Context, r store.Querier, workspaceID, id string) (Customer, error) {
	c, err := s.get(ctx, r, workspaceID, id)
	if err != nil {
		return Customer{}, err
	}
	c.Identities, err = s.identities(ctx, r, workspaceID, id)
	return c, err
}

func (s *Service) get(ctx context.Context, r store.Querier, workspaceID, id string) (Customer, error) {
	c, err := scan(r.QueryRow(ctx, q.Get(r.Dialect(), "get"), workspaceID, id))
	if errors.Is(err, errs.ErrNotFound) {
		err = s.mergedAway(ctx, r, workspaceID, id, err) // 404 customer_merged, naming the survivor
	}
	if err != nil {
		return Customer{}, fmt.Errorf("customer %s: %w", id, err)
	}
	return c, nil
}

func (s *Service) identities(ctx context.Context, r store.Querier, workspaceID, id string) ([]Identity, error) {
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "identities"), workspaceID, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Identity{}
	for rows.Next() {
		var i Identity
		if err := rows.Scan(&i.ID, &i.Kind, &i.Value, &i.Normalized, &i.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// Cursor is a position in a newest-first list.
type Cursor struct {
	At int64
	ID string
}

// List returns customers newest first, after cursor (zero: from the top),
// matching query when it is not empty (name, e-mail or phone, Turkish-aware).
func (s *Service) List(ctx context.Context, workspaceID, query string, after Cursor, limit int) ([]Customer, error) {
	if after.At == 0 {
		after = Cursor{At: 1<<62 - 1, ID: "~"}
	}
	r := s.db.Reader()
	var rows *sql.Rows
	var err error
	if strings.TrimSpace(query) == "" {
		rows, err = r.Query(ctx, q.Get(r.Dialect(), "list"), workspaceID, after.At, after.ID, limit)
	} else {
		rows, err = r.Query(ctx, q.Get(r.Dialect(), "search"), workspaceID, after.At, after.ID, limit, SearchPattern(query))
	}
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	defer rows.Close()
	out := []Customer{}
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (Customer, error) {
	var c Customer
	var attrs string
	if err := r.Scan(&c.ID, &c.WorkspaceID, &c.Name, &c.Email, &c.Phone, &attrs, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return Customer{}, err
	}
	c.Attributes = map[string]any{}
	if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
		return Customer{}, fmt.Errorf("customer %s: attributes: %w", c.ID, err)
	}
	return c, nil
}

// ChangeIdentity moves a customer's identity to a new value inside tx (a
// WhatsApp user who changed their number). Unknown old values and new values
// that another customer already has change nothing.
func (s *Service) ChangeIdentity(ctx context.Context, tx *store.Tx, workspaceID, region, kind, oldValue, newValue string) error {
	oldNorm, err := Normalize(kind, oldValue, region)
	if err != nil {
		return errs.Invalid("identity", err.Error())
	}
	newNorm, err := Normalize(kind, newValue, region)
	if err != nil {
		return errs.Invalid("identity", err.Error())
	}
	d := tx.Dialect()
	var id, customerID string
	if err := tx.QueryRow(ctx, q.Get(d, "identity-by-value"), workspaceID, kind, oldNorm).Scan(&id, &customerID); err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			return nil
		}
		return err
	}
	var taken string
	err = tx.QueryRow(ctx, q.Get(d, "identity"), workspaceID, kind, newNorm).Scan(&taken)
	if err == nil || !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	if _, err := tx.Exec(ctx, q.Get(d, "update-identity"), workspaceID, id, strings.TrimSpace(newValue), newNorm); err != nil {
		return fmt.Errorf("change identity: %w", err)
	}
	if kind == KindPhone || kind == KindWhatsApp || kind == KindEmail {
		c, err := s.get(ctx, tx, workspaceID, customerID)
		if err != nil {
			return err
		}
		if kind == KindEmail && strings.EqualFold(c.Email, oldValue) {
			c.Email = strings.TrimSpace(newValue)
			err = s.save(ctx, tx, c, event.System)
		} else if kind != KindEmail && c.Phone == oldNorm {
			c.Phone = newNorm
			err = s.save(ctx, tx, c, event.System)
		}
		if err != nil {
			return err
		}
	}
	_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.IdentityChanged, CustomerID: customerID, Actor: event.System,
		Data: map[string]string{"kind": kind, "from": oldNorm, "to": newNorm}})
	return err
}

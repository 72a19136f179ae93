// Package inbox keeps channel accounts: one inbox is one WhatsApp number, one
// support address, one API integration... Credentials are encrypted at rest.
package inbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/secret"
	"github.com/kanal-dev/kanal/internal/store"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Type describes one kind of inbox: which config keys are secrets, how its
// config is checked and whether providers call it with webhooks.
type Type struct {
	Name string
	// SecretKeys are config keys stored encrypted and never shown back.
	SecretKeys []string
	// Generated are secret keys Kanal fills with random values when absent;
	// they are shown to admins because the integrator needs them.
	Generated []string
	// Webhook tells that providers call this inbox at its webhook URL.
	Webhook bool
	// Reach lists the identity kinds this channel can send to; empty means
	// any customer can be reached (the integration decides).
	Reach []string
	// ReplyWindow, when set, is how long after the customer's last message
	// on this inbox a free-form reply may be sent (WhatsApp: 24 hours);
	// outside it only templates go out.
	ReplyWindow time.Duration
	// Validate checks the public config and the secrets together.
	Validate func(config map[string]any, secrets map[string]string) error
}

// Inbox is a channel account.
type Inbox struct {
	ID          string            `json:"id"`
	WorkspaceID string            `json:"workspace_id"`
	Type        string            `json:"type"`
	Name        string            `json:"name"`
	PublicKey   string            `json:"public_key"`
	Config      map[string]any    `json:"config"`
	Secrets     map[string]string `json:"-"`
	CreatedAt   int64             `json:"created_at"`
	UpdatedAt   int64             `json:"updated_at"`
}

// String returns a config value as a string ("" when absent).
func (in Inbox) String(key string) string {
	if v, ok := in.Config[key].(string); ok {
		return v
	}
	return in.Secrets[key]
}

// Service manages inboxes.
type Service struct {
	db    *store.DB
	log   *event.Log
	box   *secret.Box
	types map[string]Type
	mu    sync.Mutex
	cache map[string]cachedInbox
}

type cachedInbox struct {
	in Inbox
	at time.Time
}

// NewService returns the inbox service for the given inbox types.
func NewService(db *store.DB, log *event.Log, box *secret.Box, types ...Type) *Service {
	s := &Service{db: db, log: log, box: box, types: map[string]Type{}, cache: map[string]cachedInbox{}}
	for _, t := range types {
		s.types[t.Name] = t
	}
	return s
}

// Type returns the description of an inbox type.
func (s *Service) Type(name string) (Type, bool) {
	t, ok := s.types[name]
	return t, ok
}

// TypeNames lists the known inbox types.
func (s *Service) TypeNames() []string {
	names := slices.Collect(maps.Keys(s.types))
	sort.Strings(names)
	return names
}

// Create adds an inbox.
func (s *Service) Create(ctx context.Context, actor event.Actor, workspaceID, typ, name string, config map[string]any) (Inbox, error) {
	t, ok := s.types[typ]
	if !ok {
		return Inbox{}, errs.Invalid("type", "must be one of "+strings.Join(s.TypeNames(), ", "))
	}
	in := Inbox{ID: store.NewID(), WorkspaceID: workspaceID, Type: typ, Name: strings.TrimSpace(name),
		PublicKey: randomHex(16), CreatedAt: store.Now()}
	in.UpdatedAt = in.CreatedAt
	in.Config, in.Secrets = split(t, config)
	for _, k := range t.Generated {
		if in.Secrets[k] == "" {
			in.Secrets[k] = randomHex(32)
		}
	}
	if err := s.validate(t, in); err != nil {
		return Inbox{}, err
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		cfg, sealed, err := s.encode(in)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert"), in.ID, in.WorkspaceID, in.Type, in.Name, in.PublicKey,
			cfg, sealed, in.CreatedAt, in.UpdatedAt); err != nil {
			return fmt.Errorf("create inbox: %w", err)
		}
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.InboxCreated, Actor: actor, Data: eventData(in)})
		return err
	})
	if err != nil {
		return Inbox{}, err
	}
	return in, nil
}

// Update changes an inbox's name and merges config keys into its config; a
// key set to null is removed.
func (s *Service) Update(ctx context.Context, actor event.Actor, workspaceID, id string, name *string, config map[string]any) (Inbox, error) {
	var in Inbox
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if in, err = s.get(ctx, tx, "get", workspaceID, id); err != nil {
			return err
		}
		t := s.types[in.Type]
		if name != nil {
			in.Name = strings.TrimSpace(*name)
		}
		cfg, secrets := split(t, config)
		for k, v := range cfg {
			if v == nil {
				delete(in.Config, k)
			} else {
				in.Config[k] = v
			}
		}
		for k, v := range secrets {
			if _, null := config[k].(string); !null {
				delete(in.Secrets, k)
			} else {
				in.Secrets[k] = v
			}
		}
		if err := s.validate(t, in); err != nil {
			return err
		}
		in.UpdatedAt = store.Now()
		enc, sealed, err := s.encode(in)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "update"), workspaceID, id, in.Name, enc, sealed, in.UpdatedAt); err != nil {
			return fmt.Errorf("update inbox: %w", err)
		}
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.InboxUpdated, Actor: actor, Data: eventData(in)})
		return err
	})
	s.forget(id)
	return in, err
}

// Delete removes an inbox; its conversations and messages stay.
func (s *Service) Delete(ctx context.Context, actor event.Actor, workspaceID, id string) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, q.Get(tx.Dialect(), "delete"), workspaceID, id, store.Now())
		if err != nil {
			return fmt.Errorf("delete inbox: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("inbox %s: %w", id, errs.ErrNotFound)
		}
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.InboxDeleted, Actor: actor, Data: map[string]string{"id": id}})
		return err
	})
	s.forget(id)
	return err
}

// Get returns an inbox of the workspace, from a cache at most a few seconds
// old (changes on this node clear it at once).
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Inbox, error) {
	s.mu.Lock()
	c, ok := s.cache[id]
	s.mu.Unlock()
	if ok && time.Since(c.at) < 5*time.Second {
		if c.in.WorkspaceID != workspaceID {
			return Inbox{}, fmt.Errorf("inbox %s: %w", id, errs.ErrNotFound)
		}
		return c.in, nil
	}
	in, err := s.get(ctx, s.db.Reader(), "get", workspaceID, id)
	if err != nil {
		return Inbox{}, err
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		clear(s.cache)
	}
	s.cache[id] = cachedInbox{in: in, at: time.Now()}
	s.mu.Unlock()
	return in, nil
}

// GetTx reads an inbox inside a transaction.
func (s *Service) GetTx(ctx context.Context, tx *store.Tx, workspaceID, id string) (Inbox, error) {
	return s.get(ctx, tx, "get", workspaceID, id)
}

// ByPublicKey finds an inbox by the key in its webhook URL.
func (s *Service) ByPublicKey(ctx context.Context, key string) (Inbox, error) {
	r := s.db.Reader()
	return scanOne(s, r.QueryRow(ctx, q.Get(r.Dialect(), "by-public-key"), key))
}

// List returns the workspace's inboxes.
func (s *Service) List(ctx context.Context, workspaceID string) ([]Inbox, error) {
	return s.list(ctx, s.db.Reader(), "list", workspaceID)
}

// ListType returns the workspace's inboxes of one type, inside tx.
func (s *Service) ListType(ctx context.Context, tx *store.Tx, workspaceID, typ string) ([]Inbox, error) {
	return s.list(ctx, tx, "list-type", workspaceID, typ)
}

func (s *Service) list(ctx context.Context, r store.Querier, query string, args ...any) ([]Inbox, error) {
	rows, err := r.Query(ctx, q.Get(r.Dialect(), query), args...)
	if err != nil {
		return nil, fmt.Errorf("list inboxes: %w", err)
	}
	defer rows.Close()
	out := []Inbox{}
	for rows.Next() {
		in, err := scanOne(s, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

func (s *Service) get(ctx context.Context, r store.Querier, query, workspaceID, id string) (Inbox, error) {
	in, err := scanOne(s, r.QueryRow(ctx, q.Get(r.Dialect(), query), workspaceID, id))
	if err != nil {
		return Inbox{}, fmt.Errorf("inbox %s: %w", id, err)
	}
	return in, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanOne(s *Service, r scanner) (Inbox, error) {
	var in Inbox
	var cfg string
	var sealed []byte
	if err := r.Scan(&in.ID, &in.WorkspaceID, &in.Type, &in.Name, &in.PublicKey, &cfg, &sealed, &in.CreatedAt, &in.UpdatedAt); err != nil {
		return Inbox{}, err
	}
	in.Config = map[string]any{}
	if err := json.Unmarshal([]byte(cfg), &in.Config); err != nil {
		return Inbox{}, fmt.Errorf("inbox %s: config: %w", in.ID, err)
	}
	in.Secrets = map[string]string{}
	if len(sealed) > 0 {
		plain, err := s.box.Open(sealed)
		if err != nil {
			return Inbox{}, fmt.Errorf("inbox %s: %w", in.ID, err)
		}
		if err := json.Unmarshal(plain, &in.Secrets); err != nil {
			return Inbox{}, fmt.Errorf("inbox %s: secrets: %w", in.ID, err)
		}
	}
	return in, nil
}

func (s *Service) validate(t Type, in Inbox) error {
	v := &errs.Validation{}
	if in.Name == "" || len(in.Name) > 200 {
		v.Add("name", "must be 1 to 200 characters")
	}
	if t.Validate != nil {
		if err := t.Validate(in.Config, in.Secrets); err != nil {
			ve, ok := err.(*errs.Validation)
			if !ok {
				return err
			}
			for k, m := range ve.Fields {
				v.Add("config."+k, m)
			}
		}
	}
	return v.OrNil()
}

func (s *Service) encode(in Inbox) (string, any, error) {
	cfg, err := json.Marshal(in.Config)
	if err != nil {
		return "", nil, errs.Invalid("config", "cannot be encoded")
	}
	var sealed any = sql.Null[[]byte]{}
	if len(in.Secrets) > 0 {
		plain, _ := json.Marshal(in.Secrets)
		sealed = s.box.Seal(plain)
	}
	return string(cfg), sealed, nil
}

func (s *Service) forget(id string) {
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
}

func split(t Type, config map[string]any) (map[string]any, map[string]string) {
	cfg, secrets := map[string]any{}, map[string]string{}
	for k, v := range config {
		if slices.Contains(t.SecretKeys, k) {
			s, _ := v.(string)
			secrets[k] = s
			continue
		}
		cfg[k] = v
	}
	return cfg, secrets
}

func eventData(in Inbox) map[string]any {
	return map[string]any{"id": in.ID, "type": in.Type, "name": in.Name, "config": in.Config}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// AllOfType lists the inboxes of one type in every workspace (for workers
// that serve them all, such as pollers).
func (s *Service) AllOfType(ctx context.Context, typ string) ([]Inbox, error) {
	return s.list(ctx, s.db.Reader(), "all-of-type", typ)
}

// Package workspace keeps Kanal's tenants and their settings. Every other
// row belongs to exactly one workspace.
package workspace

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/text"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Settings are a workspace's product settings.
type Settings struct {
	// Continuity: a message from a customer with an open conversation joins
	// it, whatever the inbox or channel, if that conversation saw activity
	// within ContinuityWindowDays.
	Continuity           bool   `json:"continuity"`
	ContinuityWindowDays int    `json:"continuity_window_days"`
	PhoneRegion          string `json:"phone_region"`
	Locale               string `json:"locale"`
}

// DefaultSettings are the settings of a new workspace.
func DefaultSettings() Settings {
	return Settings{Continuity: true, ContinuityWindowDays: 7, PhoneRegion: "TR", Locale: "tr"}
}

// ContinuityWindow is the window as a duration.
func (s Settings) ContinuityWindow() time.Duration {
	return time.Duration(s.ContinuityWindowDays) * 24 * time.Hour
}

// Validate checks the settings.
func (s Settings) Validate() error {
	v := &errs.Validation{}
	if s.ContinuityWindowDays < 0 || s.ContinuityWindowDays > 365 {
		v.Add("settings.continuity_window_days", "must be between 0 and 365")
	}
	if len(s.PhoneRegion) != 2 || strings.ToUpper(s.PhoneRegion) != s.PhoneRegion {
		v.Add("settings.phone_region", "must be a two-letter upper-case country code such as TR")
	}
	if s.Locale != "tr" && s.Locale != "en" {
		v.Add("settings.locale", "must be tr or en")
	}
	return v.OrNil()
}

// Workspace is a tenant.
type Workspace struct {
	ID        string   `json:"id"`
	Slug      string   `json:"slug"`
	Name      string   `json:"name"`
	Settings  Settings `json:"settings"`
	CreatedAt int64    `json:"created_at"`
}

// Service manages workspaces. Settings are cached briefly since every ingest
// reads them.
type Service struct {
	db  *store.DB
	log *event.Log
	mu  sync.Mutex
	c   map[string]cached
}

type cached struct {
	w  Workspace
	at time.Time
}

// NewService returns the workspace service.
func NewService(db *store.DB, log *event.Log) *Service {
	return &Service{db: db, log: log, c: map[string]cached{}}
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// Slugify derives a slug from a name ("Işık Mağazaları" → "isik-magazalari").
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range text.Fold(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	return s
}

// Create inserts a workspace inside tx. An empty slug is derived from name.
func (s *Service) Create(ctx context.Context, tx *store.Tx, name, slug string) (Workspace, error) {
	name = strings.TrimSpace(name)
	if slug == "" {
		slug = Slugify(name)
		if len(slug) < 2 { // "Ş", "日本": still a fine name
			slug = strings.Trim("workspace-"+slug, "-") + "-" + store.NewID()[24:30]
		}
	}
	v := &errs.Validation{}
	if name == "" || len(name) > 200 {
		v.Add("name", "must be 1 to 200 characters")
	}
	if !slugRE.MatchString(slug) {
		v.Add("slug", "must be 2 to 63 characters of a-z, 0-9 and -")
	}
	if err := v.OrNil(); err != nil {
		return Workspace{}, err
	}
	w := Workspace{ID: store.NewID(), Slug: slug, Name: name, Settings: DefaultSettings(), CreatedAt: store.Now()}
	settings, _ := json.Marshal(w.Settings)
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert"), w.ID, w.Slug, w.Name, string(settings), w.CreatedAt); err != nil {
		if store.IsUnique(err) {
			return Workspace{}, errs.New(errs.ErrConflict, "workspace_exists", "a workspace with slug %q already exists", slug)
		}
		return Workspace{}, fmt.Errorf("create workspace: %w", err)
	}
	if _, err := s.log.Append(ctx, tx, w.ID, event.New{Type: event.WorkspaceCreated, Data: w}); err != nil {
		return Workspace{}, err
	}
	return w, nil
}

// Get returns a workspace by id, from a cache at most a few seconds old.
func (s *Service) Get(ctx context.Context, id string) (Workspace, error) {
	s.mu.Lock()
	c, ok := s.c[id]
	s.mu.Unlock()
	if ok && time.Since(c.at) < 5*time.Second {
		return c.w, nil
	}
	w, err := s.get(ctx, s.db.Reader(), "get", id)
	if err != nil {
		return Workspace{}, err
	}
	s.mu.Lock()
	s.c[id] = cached{w: w, at: time.Now()}
	s.mu.Unlock()
	return w, nil
}

// GetTx reads a workspace inside a transaction, bypassing the cache.
func (s *Service) GetTx(ctx context.Context, tx *store.Tx, id string) (Workspace, error) {
	return s.get(ctx, tx, "get", id)
}

// BySlug returns a workspace by slug.
func (s *Service) BySlug(ctx context.Context, slug string) (Workspace, error) {
	return s.get(ctx, s.db.Reader(), "get-by-slug", slug)
}

func (s *Service) get(ctx context.Context, r store.Querier, query, arg string) (Workspace, error) {
	var w Workspace
	var settings string
	err := r.QueryRow(ctx, q.Get(r.Dialect(), query), arg).Scan(&w.ID, &w.Slug, &w.Name, &settings, &w.CreatedAt)
	if err != nil {
		return Workspace{}, fmt.Errorf("workspace %s: %w", arg, err)
	}
	w.Settings = DefaultSettings()
	if err := json.Unmarshal([]byte(settings), &w.Settings); err != nil {
		return Workspace{}, fmt.Errorf("workspace %s: settings: %w", arg, err)
	}
	return w, nil
}

// Update changes a workspace's name and settings.
func (s *Service) Update(ctx context.Context, actor event.Actor, id, name string, settings Settings) (Workspace, error) {
	name = strings.TrimSpace(name)
	v := &errs.Validation{}
	if name == "" || len(name) > 200 {
		v.Add("name", "must be 1 to 200 characters")
	}
	if err := settings.Validate(); err != nil {
		for k, m := range err.(*errs.Validation).Fields {
			v.Add(k, m)
		}
	}
	if err := v.OrNil(); err != nil {
		return Workspace{}, err
	}
	var w Workspace
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		w, err = s.GetTx(ctx, tx, id)
		if err != nil {
			return err
		}
		w.Name, w.Settings = name, settings
		b, _ := json.Marshal(settings)
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "update"), id, name, string(b)); err != nil {
			return fmt.Errorf("update workspace: %w", err)
		}
		_, err = s.log.Append(ctx, tx, id, event.New{Type: event.WorkspaceUpdated, Actor: actor, Data: w})
		return err
	})
	if err != nil {
		return Workspace{}, err
	}
	s.mu.Lock()
	delete(s.c, id)
	s.mu.Unlock()
	return w, nil
}

// CountTx returns how many workspaces exist, inside a transaction.
func (s *Service) CountTx(ctx context.Context, tx *store.Tx) (int, error) {
	var n int
	err := tx.QueryRow(ctx, q.Get(tx.Dialect(), "count")).Scan(&n)
	return n, err
}

// Count returns how many workspaces exist.
func (s *Service) Count(ctx context.Context) (int, error) {
	r := s.db.Reader()
	var n int
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "count")).Scan(&n)
	return n, err
}

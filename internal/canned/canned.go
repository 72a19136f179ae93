// Package canned keeps a workspace's canned replies (inserted by agents with
// "/shortcut") and its catalogue of conversation labels.
package canned

import (
	"context"
	"embed"
	"fmt"
	"regexp"
	"strings"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/text"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Reply is a canned reply.
type Reply struct {
	ID        string `json:"id"`
	Shortcut  string `json:"shortcut"`
	Title     string `json:"title"`
	Text      string `json:"text"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

// Label is a label of the workspace's catalogue.
type Label struct {
	Name        string `json:"name"`
	Color       string `json:"color"`
	Description string `json:"description"`
	CreatedAt   int64  `json:"created_at"`
}

// Event types of this package.
const (
	ReplySaved   = "canned_reply.saved"
	ReplyDeleted = "canned_reply.deleted"
	LabelSaved   = "label.saved"
	LabelDeleted = "label.deleted"
)

// Service manages canned replies and labels.
type Service struct {
	db  *store.DB
	log *event.Log
}

// NewService returns the service.
func NewService(db *store.DB, log *event.Log) *Service { return &Service{db: db, log: log} }

var (
	shortcutRE = regexp.MustCompile(`^[\p{L}\p{N}_-]{1,50}$`)
	colorRE    = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

func (r *Reply) validate() error {
	r.Shortcut, r.Title = strings.TrimSpace(r.Shortcut), strings.TrimSpace(r.Title)
	v := &errs.Validation{}
	if !shortcutRE.MatchString(r.Shortcut) {
		v.Add("shortcut", "must be 1 to 50 letters, digits, _ or -")
	}
	if r.Title == "" || len(r.Title) > 200 {
		v.Add("title", "must be 1 to 200 characters")
	}
	if strings.TrimSpace(r.Text) == "" || len(r.Text) > 10000 {
		v.Add("text", "must be 1 to 10000 characters")
	}
	return v.OrNil()
}

func key(r Reply) string { return text.Fold(r.Shortcut + " " + r.Title + " " + r.Text) }

// Save creates (empty ID) or updates a canned reply.
func (s *Service) Save(ctx context.Context, actor event.Actor, workspaceID string, r Reply) (Reply, error) {
	if err := r.validate(); err != nil {
		return Reply{}, err
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		now := store.Now()
		var err error
		if r.ID == "" {
			r.ID, r.CreatedAt = store.NewID(), now
			_, err = tx.Exec(ctx, q.Get(tx.Dialect(), "insert"), r.ID, workspaceID, r.Shortcut, r.Title, r.Text, key(r), now)
		} else {
			old, gerr := s.get(ctx, tx, workspaceID, r.ID)
			if gerr != nil {
				return gerr
			}
			r.CreatedAt = old.CreatedAt
			_, err = tx.Exec(ctx, q.Get(tx.Dialect(), "update"), workspaceID, r.ID, r.Shortcut, r.Title, r.Text, key(r), now)
		}
		if store.IsUnique(err) {
			return errs.New(errs.ErrConflict, "shortcut_taken", "the shortcut /%s is already used", r.Shortcut)
		}
		if err != nil {
			return fmt.Errorf("save canned reply: %w", err)
		}
		r.UpdatedAt = now
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: ReplySaved, Actor: actor, Data: r})
		return err
	})
	return r, err
}

func (s *Service) get(ctx context.Context, r store.Querier, workspaceID, id string) (Reply, error) {
	var c Reply
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "get"), workspaceID, id).Scan(&c.ID, &c.Shortcut, &c.Title, &c.Text, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return Reply{}, fmt.Errorf("canned reply %s: %w", id, err)
	}
	return c, nil
}

// Get returns one canned reply.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Reply, error) {
	return s.get(ctx, s.db.Reader(), workspaceID, id)
}

// List returns the workspace's canned replies matching query (shortcut,
// title or text, Turkish-aware), by shortcut.
func (s *Service) List(ctx context.Context, workspaceID, query string) ([]Reply, error) {
	r := s.db.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "list"), workspaceID, customer.SearchPattern(strings.TrimPrefix(query, "/")))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Reply{}
	for rows.Next() {
		var c Reply
		if err := rows.Scan(&c.ID, &c.Shortcut, &c.Title, &c.Text, &c.CreatedAt, &c.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Delete removes a canned reply.
func (s *Service) Delete(ctx context.Context, actor event.Actor, workspaceID, id string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := s.get(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "delete"), workspaceID, id); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: ReplyDeleted, Actor: actor, Data: map[string]string{"id": id}})
		return err
	})
}

// SaveLabel adds a label to the catalogue or changes its color.
func (s *Service) SaveLabel(ctx context.Context, actor event.Actor, workspaceID string, l Label) (Label, error) {
	l.Name = strings.TrimSpace(l.Name)
	v := &errs.Validation{}
	if l.Name == "" || len(l.Name) > 100 {
		v.Add("name", "must be 1 to 100 characters")
	}
	if l.Color == "" {
		l.Color = "#6b7280"
	}
	if !colorRE.MatchString(l.Color) {
		v.Add("color", "must be a #rrggbb color")
	}
	if len(l.Description) > 500 {
		v.Add("description", "must be at most 500 characters")
	}
	if err := v.OrNil(); err != nil {
		return Label{}, err
	}
	l.CreatedAt = store.Now()
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "label-upsert"), workspaceID, l.Name, l.Color, l.Description, l.CreatedAt); err != nil {
			return fmt.Errorf("save label: %w", err)
		}
		_, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: LabelSaved, Actor: actor, Data: l})
		return err
	})
	return l, err
}

// Labels lists the catalogue.
func (s *Service) Labels(ctx context.Context, workspaceID string) ([]Label, error) {
	r := s.db.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "labels"), workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Label{}
	for rows.Next() {
		var l Label
		if err := rows.Scan(&l.Name, &l.Color, &l.Description, &l.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// DeleteLabel removes a label from the catalogue (conversations keep it).
func (s *Service) DeleteLabel(ctx context.Context, actor event.Actor, workspaceID, name string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, q.Get(tx.Dialect(), "label-delete"), workspaceID, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("label %q: %w", name, errs.ErrNotFound)
		}
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: LabelDeleted, Actor: actor, Data: map[string]string{"name": name}})
		return err
	})
}

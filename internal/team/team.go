// Package team keeps teams of agents within a workspace.
package team

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Team is a group of agents.
type Team struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	MemberIDs []string `json:"member_ids"`
	CreatedAt int64    `json:"created_at"`
}

// Service manages teams.
type Service struct {
	db  *store.DB
	log *event.Log
}

// NewService returns the team service.
func NewService(db *store.DB, log *event.Log) *Service { return &Service{db: db, log: log} }

func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", errs.Invalid("name", "must be 1 to 100 characters")
	}
	return name, nil
}

// Create adds a team with members.
func (s *Service) Create(ctx context.Context, actor event.Actor, workspaceID, name string, members []string) (Team, error) {
	name, err := validName(name)
	if err != nil {
		return Team{}, err
	}
	t := Team{ID: store.NewID(), Name: name, CreatedAt: store.Now()}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert"), t.ID, workspaceID, t.Name, t.CreatedAt); err != nil {
			if store.IsUnique(err) {
				return errs.New(errs.ErrConflict, "team_exists", "a team named %q already exists", name)
			}
			return fmt.Errorf("create team: %w", err)
		}
		if t.MemberIDs, err = s.setMembers(ctx, tx, workspaceID, t.ID, members); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: event.TeamCreated, Actor: actor, Data: t})
		return err
	})
	return t, err
}

// Update renames a team and/or replaces its members (nil keeps them).
func (s *Service) Update(ctx context.Context, actor event.Actor, workspaceID, id string, name *string, members *[]string) (Team, error) {
	var t Team
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if t, err = s.get(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		if name != nil {
			if t.Name, err = validName(*name); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "rename"), workspaceID, id, t.Name); err != nil {
				if store.IsUnique(err) {
					return errs.New(errs.ErrConflict, "team_exists", "a team named %q already exists", t.Name)
				}
				return err
			}
		}
		if members != nil {
			if t.MemberIDs, err = s.setMembers(ctx, tx, workspaceID, id, *members); err != nil {
				return err
			}
		}
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.TeamUpdated, Actor: actor, Data: t})
		return err
	})
	return t, err
}

func (s *Service) setMembers(ctx context.Context, tx *store.Tx, workspaceID, id string, members []string) ([]string, error) {
	d := tx.Dialect()
	if _, err := tx.Exec(ctx, q.Get(d, "clear-members"), workspaceID, id); err != nil {
		return nil, err
	}
	out := []string{}
	for i, u := range members {
		if slices.Contains(out, u) {
			continue
		}
		var uid string
		if err := tx.QueryRow(ctx, q.Get(d, "is-member"), workspaceID, u).Scan(&uid); err != nil {
			if errors.Is(err, errs.ErrNotFound) {
				return nil, errs.Invalid(fmt.Sprintf("member_ids[%d]", i), "is not a member of this workspace")
			}
			return nil, err
		}
		if _, err := tx.Exec(ctx, q.Get(d, "add-member"), workspaceID, id, u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}

// Delete removes a team; its conversations lose their team.
func (s *Service) Delete(ctx context.Context, actor event.Actor, workspaceID, id string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := s.get(ctx, tx, workspaceID, id); err != nil {
			return err
		}
		d := tx.Dialect()
		for _, stmt := range []string{"clear-members", "unassign", "delete"} {
			if _, err := tx.Exec(ctx, q.Get(d, stmt), workspaceID, id); err != nil {
				return fmt.Errorf("delete team: %w", err)
			}
		}
		_, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: event.TeamDeleted, Actor: actor, Data: map[string]string{"id": id}})
		return err
	})
}

// Get returns a team with its members.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Team, error) {
	return s.get(ctx, s.db.Reader(), workspaceID, id)
}

func (s *Service) get(ctx context.Context, r store.Querier, workspaceID, id string) (Team, error) {
	var t Team
	if err := r.QueryRow(ctx, q.Get(r.Dialect(), "get"), workspaceID, id).Scan(&t.ID, &t.Name, &t.CreatedAt); err != nil {
		return Team{}, fmt.Errorf("team %s: %w", id, err)
	}
	var err error
	t.MemberIDs, err = s.members(ctx, r, workspaceID, id)
	return t, err
}

func (s *Service) members(ctx context.Context, r store.Querier, workspaceID, id string) ([]string, error) {
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "members"), workspaceID, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// List returns the workspace's teams.
func (s *Service) List(ctx context.Context, workspaceID string) ([]Team, error) {
	r := s.db.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "list"), workspaceID)
	if err != nil {
		return nil, err
	}
	var out []Team
	for rows.Next() {
		var t Team
		if err := rows.Scan(&t.ID, &t.Name, &t.CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, t)
	}
	rows.Close()
	for i := range out {
		if out[i].MemberIDs, err = s.members(ctx, r, workspaceID, out[i].ID); err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []Team{}
	}
	return out, nil
}

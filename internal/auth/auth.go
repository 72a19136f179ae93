// Package auth holds users, their memberships and roles in workspaces,
// argon2id passwords, sessions and API tokens.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/text"
	"github.com/kanal-dev/kanal/internal/workspace"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// Session lifetimes.
const (
	SessionIdle     = 7 * 24 * time.Hour  // a session unused this long expires
	SessionMax      = 30 * 24 * time.Hour // no session lives longer
	sessionRefresh  = time.Hour           // expiry is pushed forward at most this often
	tokenCacheTTL   = 30 * time.Second
	tokenPrefix     = "kanal_"
	minPasswordLen  = 8
	maxPasswordLen  = 256
	sessionTokenLen = 32
)

// User is a person who can log in.
type User struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Locale    string `json:"locale"`
	CreatedAt int64  `json:"created_at"`
}

// Member is a user in a workspace, with a role.
type Member struct {
	User
	Role     Role  `json:"role"`
	JoinedAt int64 `json:"joined_at"`
}

// Principal is who is making a request.
type Principal struct {
	UserID      string
	WorkspaceID string
	Role        Role
	Email       string
	Name        string
	TokenID     string // set when authenticated by an API token
}

// Can tells whether the principal holds permission p.
func (p Principal) Can(perm Permission) bool { return Can(p.Role, perm) }

// Actor is the principal as an event actor.
func (p Principal) Actor() event.Actor { return event.Actor{Kind: event.ActorUser, ID: p.UserID} }

// dummyHash is verified against when no user matches, so a miss costs what
// a wrong password costs. It is a constant: hashing one at start-up would
// keep argon2's 19 MiB work area in the idle process.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$zh0D5YnQOF0NtkHs/AJ8Dg$pcxY8Z/rRiC09sdDGmYCdp6AUy1MFYVKAsyvpSaLTOY"

// Service manages users, memberships, sessions and tokens.
type Service struct {
	db    *store.DB
	log   *event.Log
	ws    *workspace.Service
	mu    sync.Mutex
	cache map[string]cachedPrincipal
	dummy string
}

type cachedPrincipal struct {
	p  Principal
	at time.Time
}

// NewService returns the auth service.
func NewService(db *store.DB, log *event.Log, ws *workspace.Service) *Service {
	return &Service{db: db, log: log, ws: ws, cache: map[string]cachedPrincipal{}, dummy: dummyHash}
}

func validatePassword(p string) error {
	if len(p) < minPasswordLen || len(p) > maxPasswordLen {
		return errs.Invalid("password", fmt.Sprintf("must be %d to %d characters", minPasswordLen, maxPasswordLen))
	}
	return nil
}

// CreateUser inserts a user inside tx. The e-mail must not exist yet.
func (s *Service) CreateUser(ctx context.Context, tx *store.Tx, workspaceID, email, name, password string) (User, error) {
	norm, err := text.Email(email)
	v := &errs.Validation{}
	if err != nil {
		v.Add("email", "must be a valid e-mail address")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name, _, _ = strings.Cut(norm, "@")
	}
	if len(name) > 200 {
		v.Add("name", "must be at most 200 characters")
	}
	if err := validatePassword(password); err != nil {
		v.Add("password", err.(*errs.Validation).Fields["password"])
	}
	if err := v.OrNil(); err != nil {
		return User{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: store.NewID(), Email: strings.TrimSpace(email), Name: name, Locale: "tr", CreatedAt: store.Now()}
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert-user"), u.ID, u.Email, norm, u.Name, hash, u.Locale, u.CreatedAt); err != nil {
		if store.IsUnique(err) {
			return User{}, errs.New(errs.ErrConflict, "email_exists", "a user with e-mail %s already exists", u.Email)
		}
		return User{}, fmt.Errorf("create user: %w", err)
	}
	_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.UserCreated, Data: u})
	return u, err
}

// SetRole adds the user to the workspace with role, or changes their role.
func (s *Service) SetRole(ctx context.Context, tx *store.Tx, actor event.Actor, workspaceID, userID string, role Role) error {
	if !role.Valid() {
		return errs.Invalid("role", "must be one of owner, admin, supervisor, agent")
	}
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "upsert-member"), workspaceID, userID, string(role), store.Now()); err != nil {
		return fmt.Errorf("set role: %w", err)
	}
	tx.AfterCommit(func() { s.forgetUser(userID) })
	_, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: event.MembershipChanged, Actor: actor,
		Data: map[string]any{"user_id": userID, "role": role}})
	return err
}

// ErrSetupDone refuses the first-run set-up once a workspace exists.
var ErrSetupDone = errs.New(errs.ErrConflict, "setup_done", "Kanal is already set up; log in instead")

// SetupFirst is Setup for the first-run page: it refuses once any workspace
// exists (checked in the same transaction, so two racing set-ups cannot
// both win).
func (s *Service) SetupFirst(ctx context.Context, wsName, email, name, password string) (workspace.Workspace, User, error) {
	return s.setup(ctx, wsName, "", email, name, password, true)
}

// Setup creates a workspace and its owner in one transaction: what
// `kanal setup` and the first-run page do.
func (s *Service) Setup(ctx context.Context, wsName, wsSlug, email, name, password string) (workspace.Workspace, User, error) {
	return s.setup(ctx, wsName, wsSlug, email, name, password, false)
}

func (s *Service) setup(ctx context.Context, wsName, wsSlug, email, name, password string, first bool) (workspace.Workspace, User, error) {
	var w workspace.Workspace
	var u User
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if first {
			if n, err := s.ws.CountTx(ctx, tx); err != nil {
				return err
			} else if n > 0 {
				return ErrSetupDone
			}
		}
		// Name a taken e-mail before anything else: it is the likelier mistake.
		if norm, err := text.Email(email); err == nil {
			if _, _, err := s.userBy(ctx, tx, "user-by-email", norm); err == nil {
				return errs.New(errs.ErrConflict, "email_exists", "a user with e-mail %s already exists", strings.TrimSpace(email))
			}
		}
		var err error
		if w, err = s.ws.Create(ctx, tx, wsName, wsSlug); err != nil {
			return err
		}
		if u, err = s.CreateUser(ctx, tx, w.ID, email, name, password); err != nil {
			return err
		}
		return s.SetRole(ctx, tx, event.System, w.ID, u.ID, RoleOwner)
	})
	return w, u, err
}

// UserByEmail finds a user by e-mail address.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	norm, err := text.Email(email)
	if err != nil {
		return User{}, errs.Invalid("email", "must be a valid e-mail address")
	}
	u, _, err := s.userBy(ctx, s.db.Reader(), "user-by-email", norm)
	return u, err
}

func (s *Service) userBy(ctx context.Context, r store.Querier, query, arg string) (User, string, error) {
	var u User
	var hash string
	err := r.QueryRow(ctx, q.Get(r.Dialect(), query), arg).Scan(&u.ID, &u.Email, &u.Name, &hash, &u.Locale, &u.CreatedAt)
	if err != nil {
		return User{}, "", fmt.Errorf("user: %w", err)
	}
	return u, hash, nil
}

// Member returns one member of a workspace.
func (s *Service) Member(ctx context.Context, workspaceID, userID string) (Member, error) {
	r := s.db.Reader()
	var m Member
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "member"), workspaceID, userID).Scan(&m.ID, &m.Email, &m.Name, &m.Locale, &m.CreatedAt, &m.Role, &m.JoinedAt)
	if err != nil {
		return Member{}, fmt.Errorf("member: %w", err)
	}
	return m, nil
}

// MemberTx reads one member inside a transaction.
func (s *Service) MemberTx(ctx context.Context, tx *store.Tx, workspaceID, userID string) (Member, error) {
	var m Member
	err := tx.QueryRow(ctx, q.Get(tx.Dialect(), "member"), workspaceID, userID).Scan(&m.ID, &m.Email, &m.Name, &m.Locale, &m.CreatedAt, &m.Role, &m.JoinedAt)
	if err != nil {
		return Member{}, fmt.Errorf("member: %w", err)
	}
	return m, nil
}

// Members lists a workspace's members.
func (s *Service) Members(ctx context.Context, workspaceID string) ([]Member, error) {
	r := s.db.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "members"), workspaceID)
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	defer rows.Close()
	out := []Member{}
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.ID, &m.Email, &m.Name, &m.Locale, &m.CreatedAt, &m.Role, &m.JoinedAt); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// AddMember adds a user to the workspace with a role: an existing user (by
// e-mail) is added as is; otherwise a user is created with password. Only
// an owner may make owners.
func (s *Service) AddMember(ctx context.Context, p Principal, email, name, password string, role Role) (Member, error) {
	if !role.Valid() {
		return Member{}, errs.Invalid("role", "must be one of owner, admin, supervisor, agent")
	}
	if role == RoleOwner && p.Role != RoleOwner {
		return Member{}, errs.New(errs.ErrForbidden, "forbidden", "only an owner can make owners")
	}
	norm, err := text.Email(email)
	if err != nil {
		return Member{}, errs.Invalid("email", "must be a valid e-mail address")
	}
	var m Member
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		u, _, err := s.userBy(ctx, tx, "user-by-email", norm)
		if errors.Is(err, errs.ErrNotFound) {
			u, err = s.CreateUser(ctx, tx, p.WorkspaceID, email, name, password)
		} else if err == nil {
			if _, err := s.MemberTx(ctx, tx, p.WorkspaceID, u.ID); err == nil {
				return errs.New(errs.ErrConflict, "member_exists", "%s is already a member of this workspace", u.Email)
			}
		}
		if err != nil {
			return err
		}
		if err := s.SetRole(ctx, tx, p.Actor(), p.WorkspaceID, u.ID, role); err != nil {
			return err
		}
		m, err = s.MemberTx(ctx, tx, p.WorkspaceID, u.ID)
		return err
	})
	return m, err
}

// ChangeRole changes a member's role. Only owners touch owners, and the last
// owner cannot step down.
func (s *Service) ChangeRole(ctx context.Context, p Principal, userID string, role Role) (Member, error) {
	if !role.Valid() {
		return Member{}, errs.Invalid("role", "must be one of owner, admin, supervisor, agent")
	}
	var m Member
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		cur, err := s.MemberTx(ctx, tx, p.WorkspaceID, userID)
		if err != nil {
			return err
		}
		if (cur.Role == RoleOwner || role == RoleOwner) && p.Role != RoleOwner {
			return errs.New(errs.ErrForbidden, "forbidden", "only an owner can change an owner's role or make owners")
		}
		if cur.Role == RoleOwner && role != RoleOwner {
			if err := s.keepAnOwner(ctx, tx, p.WorkspaceID); err != nil {
				return err
			}
		}
		if err := s.SetRole(ctx, tx, p.Actor(), p.WorkspaceID, userID, role); err != nil {
			return err
		}
		m, err = s.MemberTx(ctx, tx, p.WorkspaceID, userID)
		return err
	})
	return m, err
}

func (s *Service) keepAnOwner(ctx context.Context, tx *store.Tx, workspaceID string) error {
	var n int
	if err := tx.QueryRow(ctx, q.Get(tx.Dialect(), "count-owners"), workspaceID).Scan(&n); err != nil {
		return err
	}
	if n <= 1 {
		return errs.New(errs.ErrConflict, "last_owner", "a workspace must keep at least one owner")
	}
	return nil
}

// RemoveMember takes a user out of the workspace, with their sessions and
// tokens there.
func (s *Service) RemoveMember(ctx context.Context, p Principal, userID string) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		cur, err := s.MemberTx(ctx, tx, p.WorkspaceID, userID)
		if err != nil {
			return err
		}
		if cur.Role == RoleOwner {
			if p.Role != RoleOwner {
				return errs.New(errs.ErrForbidden, "forbidden", "only an owner can remove an owner")
			}
			if err := s.keepAnOwner(ctx, tx, p.WorkspaceID); err != nil {
				return err
			}
		}
		now := store.Now()
		d := tx.Dialect()
		for _, stmt := range []string{"delete-member-teams", "delete-member"} {
			if _, err := tx.Exec(ctx, q.Get(d, stmt), p.WorkspaceID, userID); err != nil {
				return err
			}
		}
		for _, stmt := range []string{"revoke-member-tokens", "revoke-member-sessions"} {
			if _, err := tx.Exec(ctx, q.Get(d, stmt), p.WorkspaceID, userID, now); err != nil {
				return err
			}
		}
		_, err = s.log.Append(ctx, tx, p.WorkspaceID, event.New{Type: event.MembershipRemoved, Actor: p.Actor(),
			Data: map[string]any{"user_id": userID}})
		return err
	})
	if err == nil {
		s.forgetUser(userID)
	}
	return err
}

// ErrBadCredentials is returned for a wrong e-mail or password; it does not
// say which.
var ErrBadCredentials = errs.New(errs.ErrUnauthenticated, "bad_credentials", "wrong e-mail or password")

// Login checks a password and opens a session in the user's workspace (the
// one named by slug, or their first). It returns the session token.
func (s *Service) Login(ctx context.Context, email, password, slug string) (string, Principal, error) {
	norm, err := text.Email(email)
	if err != nil {
		_, _ = VerifyPassword(s.dummy, password)
		return "", Principal{}, ErrBadCredentials
	}
	u, hash, err := s.userBy(ctx, s.db.Reader(), "user-by-email", norm)
	if errors.Is(err, errs.ErrNotFound) {
		_, _ = VerifyPassword(s.dummy, password)
		return "", Principal{}, ErrBadCredentials
	}
	if err != nil {
		return "", Principal{}, err
	}
	ok, err := VerifyPassword(hash, password)
	if err != nil {
		return "", Principal{}, fmt.Errorf("login: %w", err)
	}
	if !ok {
		return "", Principal{}, ErrBadCredentials
	}
	r := s.db.Reader()
	var wsID string
	var role Role
	if slug != "" {
		err = r.QueryRow(ctx, q.Get(r.Dialect(), "membership-in"), u.ID, slug).Scan(&wsID, &role)
	} else {
		err = r.QueryRow(ctx, q.Get(r.Dialect(), "first-membership"), u.ID).Scan(&wsID, &role)
	}
	if errors.Is(err, errs.ErrNotFound) {
		return "", Principal{}, errs.New(errs.ErrForbidden, "no_workspace", "this user is not a member of that workspace")
	}
	if err != nil {
		return "", Principal{}, err
	}
	token := randomToken(sessionTokenLen)
	now := time.Now()
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert-session"), hashToken(token), u.ID, wsID, now.UnixMilli(), now.Add(SessionIdle).UnixMilli())
		return err
	})
	if err != nil {
		return "", Principal{}, fmt.Errorf("login: %w", err)
	}
	return token, Principal{UserID: u.ID, WorkspaceID: wsID, Role: role, Email: u.Email, Name: u.Name}, nil
}

// Session resolves a session token to its principal, pushing its expiry
// forward (sliding) at most once an hour.
func (s *Service) Session(ctx context.Context, token string) (Principal, error) {
	h := hashToken(token)
	r := s.db.Reader()
	var p Principal
	var created, expires int64
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "session"), h).Scan(&p.UserID, &p.WorkspaceID, &created, &expires, &p.Role, &p.Email, &p.Name)
	if errors.Is(err, errs.ErrNotFound) {
		return Principal{}, errs.New(errs.ErrUnauthenticated, "session_invalid", "session expired or logged out")
	}
	if err != nil {
		return Principal{}, err
	}
	now := time.Now()
	if now.UnixMilli() >= expires || now.Sub(time.UnixMilli(created)) > SessionMax {
		return Principal{}, errs.New(errs.ErrUnauthenticated, "session_invalid", "session expired or logged out")
	}
	next := now.Add(SessionIdle)
	if max := time.UnixMilli(created).Add(SessionMax); next.After(max) {
		next = max
	}
	if next.UnixMilli()-expires > sessionRefresh.Milliseconds() {
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "touch-session"), h, next.UnixMilli())
			return err
		})
		if err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// Logout revokes a session.
func (s *Service) Logout(ctx context.Context, token string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "revoke-session"), hashToken(token), store.Now())
		return err
	})
}

// Token is an API token's public record.
type Token struct {
	ID        string `json:"id"`
	UserID    string `json:"user_id"`
	Name      string `json:"name"`
	CreatedAt int64  `json:"created_at"`
}

// CreateToken makes an API token acting as the user in the workspace and
// returns it in clear, once; only its hash is stored.
func (s *Service) CreateToken(ctx context.Context, workspaceID, userID, name string) (string, Token, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", Token{}, errs.Invalid("name", "must be 1 to 100 characters")
	}
	plain := tokenPrefix + randomToken(32)
	t := Token{ID: store.NewID(), UserID: userID, Name: name, CreatedAt: store.Now()}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := s.MemberTx(ctx, tx, workspaceID, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert-token"), t.ID, workspaceID, userID, name, hashToken(plain), t.CreatedAt); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: event.TokenCreated,
			Actor: event.Actor{Kind: event.ActorUser, ID: userID}, Data: t})
		return err
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	return plain, t, nil
}

// Tokens lists a workspace's live tokens.
func (s *Service) Tokens(ctx context.Context, workspaceID string) ([]Token, error) {
	r := s.db.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "tokens"), workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &t.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token of the workspace.
func (s *Service) RevokeToken(ctx context.Context, workspaceID, id string) error {
	var n int64
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, q.Get(tx.Dialect(), "revoke-token"), workspaceID, id, store.Now())
		if err != nil {
			return err
		}
		if n, _ = res.RowsAffected(); n == 0 {
			return nil
		}
		_, err = s.log.Append(ctx, tx, workspaceID, event.New{Type: event.TokenRevoked, Data: map[string]string{"id": id}})
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("token %s: %w", id, errs.ErrNotFound)
	}
	s.mu.Lock()
	clear(s.cache)
	s.mu.Unlock()
	return nil
}

// APIToken resolves an API token to its principal. Results are cached for a
// few seconds on this node; revocation here clears the cache at once.
func (s *Service) APIToken(ctx context.Context, token string) (Principal, error) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return Principal{}, errs.New(errs.ErrUnauthenticated, "token_invalid", "invalid API token")
	}
	h := hashToken(token)
	s.mu.Lock()
	c, ok := s.cache[h]
	s.mu.Unlock()
	if ok && time.Since(c.at) < tokenCacheTTL {
		return c.p, nil
	}
	r := s.db.Reader()
	var p Principal
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "token"), h).Scan(&p.TokenID, &p.UserID, &p.WorkspaceID, &p.Role, &p.Email, &p.Name)
	if errors.Is(err, errs.ErrNotFound) {
		return Principal{}, errs.New(errs.ErrUnauthenticated, "token_invalid", "invalid API token")
	}
	if err != nil {
		return Principal{}, err
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		clear(s.cache)
	}
	s.cache[h] = cachedPrincipal{p: p, at: time.Now()}
	s.mu.Unlock()
	return p, nil
}

func (s *Service) forgetUser(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.cache {
		if c.p.UserID == userID {
			delete(s.cache, k)
		}
	}
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// Workspaces lists the ids of the workspaces a user belongs to, oldest
// membership first.
func (s *Service) Workspaces(ctx context.Context, userID string) ([]string, error) {
	r := s.db.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "user-workspaces"), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

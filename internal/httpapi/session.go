package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/text"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.Version})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "database": string(s.DB.Dialect())})
	return nil
}

// Login attempts are limited per client address and per e-mail.
const (
	loginEvery = 6 * time.Second
	loginBurst = 10
)

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email     string `json:"email"`
		Password  string `json:"password"`
		Workspace string `json:"workspace"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	who, err := text.Email(in.Email)
	if err != nil {
		who = strings.ToLower(strings.TrimSpace(in.Email))
	}
	for _, key := range []string{"ip:" + clientIP(r), "email:" + who} {
		if ok, wait := s.limiter.allow(key, loginEvery, loginBurst); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			return errs.New(errs.ErrRateLimited, "rate_limited", "too many login attempts; wait %d seconds", int(wait.Seconds())+1)
		}
	}
	token, p, err := s.Auth.Login(r.Context(), in.Email, in.Password, in.Workspace)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.SecureCookies, MaxAge: int(auth.SessionMax.Seconds())})
	return s.writeMe(w, r, p)
}

// setupNeeded tells the first-run page whether Kanal has no workspace yet.
func (s *Server) setupNeeded(w http.ResponseWriter, r *http.Request) error {
	n, err := s.Workspaces.Count(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"needed": n == 0})
	return nil
}

// setup is the first-run page's POST: on an empty install it creates the
// workspace and its owner (like `kanal setup`) and logs the owner in.
func (s *Server) setup(w http.ResponseWriter, r *http.Request) error {
	if err := s.csrf.Check(r); err != nil {
		return &httpError{status: http.StatusForbidden, code: "cross_origin", msg: "cross-origin request refused"}
	}
	var in struct {
		Workspace string `json:"workspace"`
		Name      string `json:"name"`
		Email     string `json:"email"`
		Password  string `json:"password"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	if ok, wait := s.limiter.allow("setup:"+clientIP(r), loginEvery, loginBurst); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return errs.New(errs.ErrRateLimited, "rate_limited", "too many attempts; wait %d seconds", int(wait.Seconds())+1)
	}
	ws, _, err := s.Auth.SetupFirst(r.Context(), in.Workspace, in.Email, in.Name, in.Password)
	if err != nil {
		return err
	}
	token, p, err := s.Auth.Login(r.Context(), in.Email, in.Password, ws.Slug)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.SecureCookies, MaxAge: int(auth.SessionMax.Seconds())})
	return s.writeMeStatus(w, r, p, http.StatusCreated)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.Auth.Logout(r.Context(), c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.SecureCookies, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	return s.writeMe(w, r, principal(r))
}

func (s *Server) writeMe(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.writeMeStatus(w, r, p, http.StatusOK)
}

func (s *Server) writeMeStatus(w http.ResponseWriter, r *http.Request, p auth.Principal, status int) error {
	ws, err := s.Workspaces.Get(r.Context(), p.WorkspaceID)
	if err != nil {
		return err
	}
	perms := []auth.Permission{}
	for _, perm := range []auth.Permission{auth.PermWork, auth.PermAssignOthers, auth.PermReadEvents, auth.PermManageContent, auth.PermManageInboxes,
		auth.PermManageTeams, auth.PermManageUsers, auth.PermManageJobs, auth.PermManageWorkspace} {
		if p.Can(perm) {
			perms = append(perms, perm)
		}
	}
	writeJSON(w, status, map[string]any{
		"user":        map[string]string{"id": p.UserID, "email": p.Email, "name": p.Name},
		"workspace":   ws,
		"role":        p.Role,
		"permissions": perms,
	})
	return nil
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.Workspaces.Get(r.Context(), principal(r).WorkspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

func (s *Server) patchWorkspace(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	ws, err := s.Workspaces.Get(r.Context(), p.WorkspaceID)
	if err != nil {
		return err
	}
	in := struct {
		Name     *string         `json:"name"`
		Settings json.RawMessage `json:"settings"`
	}{}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	name, settings := ws.Name, ws.Settings
	if in.Name != nil {
		name = *in.Name
	}
	if len(in.Settings) > 0 {
		// Settings merge: keys not sent keep their value.
		dec := json.NewDecoder(bytes.NewReader(in.Settings))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&settings); err != nil {
			return prefixFields(jsonError(err), "settings.")
		}
	}
	ws, err = s.Workspaces.Update(r.Context(), p.Actor(), p.WorkspaceID, name, settings)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ws)
	return nil
}

// prefixFields names the fields of a nested object's errors from the top.
func prefixFields(err error, prefix string) error {
	var he *httpError
	if errors.As(err, &he) && len(he.fields) > 0 {
		f := map[string]string{}
		for k, v := range he.fields {
			if k == "body" { // the nested value itself
				k = ""
			}
			f[strings.TrimSuffix(prefix+k, ".")] = v
		}
		he.fields = f
		he.msg = strings.Replace(he.msg, `"`, `"`+prefix, 1)
	}
	return err
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.Auth.Members(r.Context(), principal(r).WorkspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ms})
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	m, err := s.Auth.Member(r.Context(), principal(r).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email    string    `json:"email"`
		Name     string    `json:"name"`
		Password string    `json:"password"`
		Role     auth.Role `json:"role"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	m, err := s.Auth.AddMember(r.Context(), principal(r), in.Email, in.Name, in.Password, in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Role auth.Role `json:"role"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	m, err := s.Auth.ChangeRole(r.Context(), principal(r), r.PathValue("id"), in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.Auth.RemoveMember(r.Context(), principal(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.Auth.Tokens(r.Context(), principal(r).WorkspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ts})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	plain, t, err := s.Auth.CreateToken(r.Context(), p.WorkspaceID, p.UserID, in.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": plain, "id": t.ID, "name": t.Name, "user_id": t.UserID, "created_at": t.CreatedAt})
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.Auth.RevokeToken(r.Context(), principal(r).WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

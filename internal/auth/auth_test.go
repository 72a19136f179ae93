package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/workspace"
)

func TestPasswordHash(t *testing.T) {
	h, err := auth.HashPassword("doğru-şifre-42")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q %v", h, err)
	}
	if ok, _ := auth.VerifyPassword(h, "doğru-şifre-42"); !ok {
		t.Fatal("right password refused")
	}
	if ok, _ := auth.VerifyPassword(h, "dogru-sifre-42"); ok {
		t.Fatal("wrong password accepted")
	}
	if _, err := auth.VerifyPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Fatal("unknown format must be an error")
	}
}

func TestRoles(t *testing.T) {
	cases := []struct {
		role auth.Role
		perm auth.Permission
		want bool
	}{
		{auth.RoleAgent, auth.PermWork, true},
		{auth.RoleAgent, auth.PermAssignOthers, false},
		{auth.RoleSupervisor, auth.PermAssignOthers, true},
		{auth.RoleSupervisor, auth.PermManageInboxes, false},
		{auth.RoleAdmin, auth.PermManageUsers, true},
		{auth.RoleAdmin, auth.PermManageWorkspace, false},
		{auth.RoleOwner, auth.PermManageWorkspace, true},
		{auth.Role("guest"), auth.PermWork, false},
	}
	for _, c := range cases {
		if got := auth.Can(c.role, c.perm); got != c.want {
			t.Errorf("Can(%s, %s) = %v", c.role, c.perm, got)
		}
	}
}

func TestSetupLoginSessionsTokens(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := event.NewLog(db, nil)
		s := auth.NewService(db, log, workspace.NewService(db, log))
		w, u, err := s.Setup(ctx, "Işık Mağazaları", "", "Owner@Example.com", "Ayşe", "secret-password")
		if err != nil {
			t.Fatal(err)
		}
		if w.Slug != "isik-magazalari" {
			t.Fatalf("slug %q", w.Slug)
		}
		if _, _, err := s.Setup(ctx, "Other", "", "owner@example.COM", "", "secret-password"); !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("second setup with the same e-mail: %v", err)
		}
		if _, _, err := s.Login(ctx, "owner@example.com", "wrong-password", ""); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, _, err := s.Login(ctx, "nobody@example.com", "secret-password", ""); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("unknown user: %v", err)
		}
		tok, p, err := s.Login(ctx, "OWNER@example.com", "secret-password", "isik-magazalari")
		if err != nil || p.UserID != u.ID || p.Role != auth.RoleOwner || p.WorkspaceID != w.ID {
			t.Fatalf("login: %+v %v", p, err)
		}
		if p2, err := s.Session(ctx, tok); err != nil || p2.UserID != u.ID {
			t.Fatalf("session: %v", err)
		}
		if err := s.Logout(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, tok); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("logged-out session still works: %v", err)
		}
		api, rec, err := s.CreateToken(ctx, w.ID, u.ID, "ci")
		if err != nil || !strings.HasPrefix(api, "kanal_") {
			t.Fatalf("token %q %v", api, err)
		}
		if p, err := s.APIToken(ctx, api); err != nil || p.TokenID != rec.ID {
			t.Fatalf("api token: %+v %v", p, err)
		}
		if err := s.RevokeToken(ctx, w.ID, rec.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIToken(ctx, api); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatalf("revoked token still works: %v", err)
		}
		if _, err := s.APIToken(ctx, "kanal_forged"); !errors.Is(err, errs.ErrUnauthenticated) {
			t.Fatal("forged token accepted")
		}
	})
}

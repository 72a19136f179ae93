package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/realtime"
)

// websocket upgrades GET /api/v1/ws to the real-time socket (docs/realtime.md).
// The wrapper has authenticated the caller (Bearer token or session cookie).
// A cookie-authenticated socket must come from a page of this host: the
// upgrade is a GET, which the cross-origin protection lets through, so the
// Origin is checked here (coder/websocket's default: same host only). A
// Bearer token is not sent by browsers on their own, so any origin may use
// one.
func (s *Server) websocket(w http.ResponseWriter, r *http.Request) error {
	if s.Realtime == nil {
		return &httpError{status: http.StatusServiceUnavailable, code: "realtime_unavailable", msg: "the real-time socket is not running"}
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return &httpError{status: http.StatusUpgradeRequired, code: "upgrade_required", msg: "this route is a WebSocket: send an upgrade request"}
	}
	var after int64
	resume := false
	if a, ok := r.URL.Query()["after"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(a[0]), 10, 64)
		if err != nil || n < 0 {
			return errs.Invalid("after", "must be a seq number (0 for the start)")
		}
		after, resume = n, true
	}
	viaBearer := r.Header.Get("Authorization") != "" // authenticate() prefers it over the cookie
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: viaBearer})
	if err != nil {
		// Accept has answered (403 for a foreign Origin).
		s.log.Debug("websocket refused", "err", err)
		return nil
	}
	s.Realtime.Serve(ws, principal(r), after, resume)
	return nil
}

// presence lists the workspace's members with their presence on this node.
func (s *Server) presence(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	members, err := s.Auth.Members(r.Context(), p.WorkspaceID)
	if err != nil {
		return err
	}
	known := map[string]realtime.Presence{}
	if s.Realtime != nil {
		for _, pr := range s.Realtime.Presence(p.WorkspaceID) {
			known[pr.UserID] = pr
		}
	}
	type item struct {
		UserID string `json:"user_id"`
		Status string `json:"status"`
		Since  *int64 `json:"since"`
	}
	items := make([]item, 0, len(members))
	for _, m := range members {
		it := item{UserID: m.ID, Status: realtime.Offline}
		if pr, ok := known[m.ID]; ok {
			it.Status, it.Since = pr.Status, &pr.Since
		}
		items = append(items, it)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// markRead records a read receipt: the caller read the conversation up to
// a message.
func (s *Server) markRead(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		MessageID string `json:"message_id"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	rc, err := s.Conversations.MarkRead(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id"), in.MessageID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rc)
	return nil
}

// headerHasToken tells whether a comma-separated header holds token
// (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

package httpapi

import (
	"io"
	"net/http"

	"github.com/kanal-dev/kanal/internal/channel"
)

// webhookChallenge answers a provider's GET verification of a webhook URL.
func (s *Server) webhookChallenge(w http.ResponseWriter, r *http.Request) error {
	status, body, err := s.Webhooks.Challenge(r.Context(), r.PathValue("type"), r.PathValue("key"), r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	return nil
}

// webhook takes a provider's call. The answer (2xx) is sent only once what
// the call carries is committed, so a provider never loses a message by
// trusting it; on any error the provider retries, and retries are deduped.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonError(err) // 413 over the limit
	}
	b, err := s.Webhooks.Receive(r.Context(), s.PublicURL, r.PathValue("type"), r.PathValue("key"), r, body)
	if err != nil {
		return err
	}
	if b.Reply != nil {
		b.Reply(w)
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (s *Server) listWebhookFailures(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := listParams(r)
	if err != nil {
		return err
	}
	fs, err := s.Webhooks.Failures(r.Context(), principal(r).WorkspaceID, after.At, after.ID, limit+1)
	if err != nil {
		return err
	}
	fs, next := page(fs, limit, func(f channel.Failure) string { return encodeCursor(f.ReceivedAt, f.ID) })
	writeJSON(w, http.StatusOK, map[string]any{"items": fs, "next_cursor": next})
	return nil
}

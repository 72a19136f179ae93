package httpapi

import (
	"errors"
	"net/http"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// inboxJSON is an inbox as the API shows it: secrets only to those who
// manage inboxes, and only the generated ones (the integrator needs them).
func (s *Server) inboxJSON(p auth.Principal, in inbox.Inbox) map[string]any {
	out := map[string]any{
		"id": in.ID, "type": in.Type, "name": in.Name, "config": in.Config,
		"created_at": in.CreatedAt, "updated_at": in.UpdatedAt,
	}
	t, _ := s.Inboxes.Type(in.Type)
	if t.Webhook {
		if in.Type == "api" {
			out["webhook_url"] = s.PublicURL + "/api/v1/inboxes/" + in.ID + "/inbound"
		} else {
			out["webhook_url"] = s.PublicURL + "/webhooks/" + in.Type + "/" + in.PublicKey
		}
	}
	set := []string{}
	for k := range in.Secrets {
		set = append(set, k)
	}
	out["secrets_set"] = set
	if p.Can(auth.PermManageInboxes) {
		gen := map[string]string{}
		for _, k := range t.Generated {
			gen[k] = in.Secrets[k]
		}
		out["secrets"] = gen
	}
	return out
}

func (s *Server) listInboxes(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	ins, err := s.Inboxes.List(r.Context(), p.WorkspaceID)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(ins))
	for _, in := range ins {
		items = append(items, s.inboxJSON(p, in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) getInbox(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	in, err := s.Inboxes.Get(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.inboxJSON(p, in))
	return nil
}

func (s *Server) createInbox(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Type   string         `json:"type"`
		Name   string         `json:"name"`
		Config map[string]any `json:"config"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	ib, err := s.Inboxes.Create(r.Context(), p.Actor(), p.WorkspaceID, in.Type, in.Name, in.Config)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.started(r, p, ib))
	return nil
}

func (s *Server) patchInbox(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name   *string        `json:"name"`
		Config map[string]any `json:"config"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	ib, err := s.Inboxes.Update(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id"), in.Name, in.Config)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.started(r, p, ib))
	return nil
}

// started runs the provider set-up of a new or changed inbox (a webhook
// registration, a poller). The inbox is saved either way; a set-up failure
// is shown as setup_error for the admin to fix and retry.
func (s *Server) started(r *http.Request, p auth.Principal, ib inbox.Inbox) map[string]any {
	out := s.inboxJSON(p, ib)
	hook, _ := out["webhook_url"].(string)
	if err := s.Channels.Started(r.Context(), ib, hook); err != nil {
		s.log.Warn("inbox set-up failed", "inbox", ib.ID, "type", ib.Type, "err", err)
		out["setup_error"] = err.Error()
	}
	return out
}

// testInbox checks an inbox's credentials with its provider. A refused
// check is an answer, not an error: {"ok":false,"error":"..."}.
func (s *Server) testInbox(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	ib, err := s.Inboxes.Get(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	account, err := s.Channels.Test(r.Context(), ib)
	var pub *errs.Public
	switch {
	case errors.As(err, &pub) && pub.Code == "not_testable":
		return err
	case err != nil:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "account": account})
	}
	return nil
}

func (s *Server) deleteInbox(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	if err := s.Inboxes.Delete(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// inbound takes a customer message on an api inbox.
func (s *Server) inbound(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ExternalMessageID string `json:"external_message_id"`
		Customer          struct {
			Name       string         `json:"name"`
			Email      string         `json:"email"`
			Phone      string         `json:"phone"`
			ExternalID string         `json:"external_id"`
			Attributes map[string]any `json:"attributes"`
		} `json:"customer"`
		Text        string                    `json:"text"`
		HTML        string                    `json:"html"`
		Subject     string                    `json:"subject"`
		Attachments []conversation.Attachment `json:"attachments"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	ib, err := s.Inboxes.Get(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if ib.Type != "api" {
		return &httpError{status: http.StatusConflict, code: "wrong_inbox_type", msg: "only api inboxes take messages here; " + ib.Type + " inboxes receive at their webhook_url"}
	}
	var claims []customer.Claim
	// The order is the matching priority: the integrator's own id first.
	for _, c := range []customer.Claim{{Kind: customer.KindExternalID, Value: in.Customer.ExternalID},
		{Kind: customer.KindEmail, Value: in.Customer.Email}, {Kind: customer.KindPhone, Value: in.Customer.Phone}} {
		if c.Value != "" {
			claims = append(claims, c)
		}
	}
	res, err := s.Conversations.Ingest(r.Context(), conversation.Inbound{
		WorkspaceID: p.WorkspaceID, InboxID: ib.ID, ProviderID: in.ExternalMessageID, Claims: claims,
		Profile: customer.Profile{Name: in.Customer.Name, Email: in.Customer.Email, Phone: in.Customer.Phone, Attributes: in.Customer.Attributes},
		Text:    in.Text, HTML: in.HTML, Subject: in.Subject, Attachments: in.Attachments,
	})
	if err != nil {
		return err
	}
	result := "new"
	if res.Duplicate {
		result = "duplicate"
	}
	s.Metrics.Ingested.WithLabelValues(ib.Type, result).Inc()
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

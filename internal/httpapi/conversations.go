package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/kanal-dev/kanal/internal/auth"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/errs"
)

func encodeCursor(at int64, id string) string { return conversation.Cursor{At: at, ID: id}.Encode() }

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := listParams(r)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	p := principal(r)
	f := conversation.Filter{Status: qs.Get("status"), Assignee: qs.Get("assignee"), Team: qs.Get("team"),
		Inbox: qs.Get("inbox"), Label: qs.Get("label"), Channel: qs.Get("channel"), Customer: qs.Get("customer")}
	if f.Assignee == "me" {
		f.Assignee = p.UserID
	}
	cs, err := s.Conversations.List(r.Context(), p.WorkspaceID, f, after, limit+1)
	if err != nil {
		return err
	}
	cs, next := page(cs, limit, func(c conversation.Conversation) string { return encodeCursor(c.LastActivityAt, c.ID) })
	writeJSON(w, http.StatusOK, map[string]any{"items": cs, "next_cursor": next})
	return nil
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Conversations.Get(r.Context(), principal(r).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// optString tells a JSON null apart from an absent field.
type optString struct {
	Set   bool
	Value *string
}

func (o *optString) UnmarshalJSON(b []byte) error {
	o.Set = true
	return json.Unmarshal(b, &o.Value)
}

func (s *Server) patchConversation(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Status       *string   `json:"status"`
		SnoozedUntil *int64    `json:"snoozed_until"`
		Priority     *string   `json:"priority"`
		AssigneeID   optString `json:"assignee_id"`
		TeamID       optString `json:"team_id"`
		Labels       *[]string `json:"labels"`
		Subject      *string   `json:"subject"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	patch := conversation.Patch{Status: in.Status, SnoozedUntil: in.SnoozedUntil, Priority: in.Priority, Labels: in.Labels, Subject: in.Subject}
	if in.AssigneeID.Set {
		if in.AssigneeID.Value == nil || *in.AssigneeID.Value == "" {
			patch.ClearAssignee = true
		} else {
			patch.AssigneeID = in.AssigneeID.Value
		}
		// Agents may take a conversation or let it go; assigning others is for supervisors.
		if patch.AssigneeID != nil && *patch.AssigneeID != p.UserID && !p.Can(auth.PermAssignOthers) {
			return errs.New(errs.ErrForbidden, "forbidden", "your role may only assign conversations to yourself")
		}
	}
	if in.TeamID.Set {
		if in.TeamID.Value == nil || *in.TeamID.Value == "" {
			patch.ClearTeam = true
		} else {
			patch.TeamID = in.TeamID.Value
		}
		if !p.Can(auth.PermAssignOthers) {
			return errs.New(errs.ErrForbidden, "forbidden", "your role may not change a conversation's team")
		}
	}
	c, err := s.Conversations.Update(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := listParams(r)
	if err != nil {
		return err
	}
	ms, err := s.Conversations.Messages(r.Context(), principal(r).WorkspaceID, r.PathValue("id"), after, limit+1)
	if err != nil {
		return err
	}
	ms, next := page(ms, limit, func(m conversation.Message) string { return encodeCursor(m.CreatedAt, m.ID) })
	writeJSON(w, http.StatusOK, map[string]any{"items": ms, "next_cursor": next})
	return nil
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Text        string                    `json:"text"`
		HTML        string                    `json:"html"`
		Channel     string                    `json:"channel"`
		Attachments []conversation.Attachment `json:"attachments"`
		Template    *conversation.Template    `json:"template"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	m, err := s.Conversations.Send(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id"),
		conversation.Reply{Text: in.Text, HTML: in.HTML, Channel: in.Channel, Attachments: in.Attachments, Template: in.Template})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Text string `json:"text"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	m, err := s.Conversations.AddNote(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id"), in.Text)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

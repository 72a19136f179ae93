package httpapi

import (
	"net/http"

	"github.com/kanal-dev/kanal/internal/canned"
)

type cannedIn struct {
	Shortcut string `json:"shortcut"`
	Title    string `json:"title"`
	Text     string `json:"text"`
}

func (s *Server) listCanned(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.Canned.List(r.Context(), principal(r).WorkspaceID, r.URL.Query().Get("q"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": rs})
	return nil
}

func (s *Server) getCanned(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Canned.Get(r.Context(), principal(r).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) createCanned(w http.ResponseWriter, r *http.Request) error {
	var in cannedIn
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	c, err := s.Canned.Save(r.Context(), p.Actor(), p.WorkspaceID, canned.Reply{Shortcut: in.Shortcut, Title: in.Title, Text: in.Text})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) patchCanned(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	cur, err := s.Canned.Get(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	in := struct {
		Shortcut *string `json:"shortcut"`
		Title    *string `json:"title"`
		Text     *string `json:"text"`
	}{}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	if in.Shortcut != nil {
		cur.Shortcut = *in.Shortcut
	}
	if in.Title != nil {
		cur.Title = *in.Title
	}
	if in.Text != nil {
		cur.Text = *in.Text
	}
	c, err := s.Canned.Save(r.Context(), p.Actor(), p.WorkspaceID, cur)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) deleteCanned(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	if err := s.Canned.Delete(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listLabels(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.Canned.Labels(r.Context(), principal(r).WorkspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ls})
	return nil
}

// saveLabel adds a label to the catalogue, or changes its color and
// description when it exists.
func (s *Server) saveLabel(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string `json:"name"`
		Color       string `json:"color"`
		Description string `json:"description"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	l, err := s.Canned.SaveLabel(r.Context(), p.Actor(), p.WorkspaceID, canned.Label{Name: in.Name, Color: in.Color, Description: in.Description})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

// deleteLabel removes a label from the catalogue; {id} is its name.
func (s *Server) deleteLabel(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	if err := s.Canned.DeleteLabel(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package httpapi

import "net/http"

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.Teams.List(r.Context(), principal(r).WorkspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ts})
	return nil
}

func (s *Server) getTeam(w http.ResponseWriter, r *http.Request) error {
	t, err := s.Teams.Get(r.Context(), principal(r).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) createTeam(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name      string   `json:"name"`
		MemberIDs []string `json:"member_ids"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	t, err := s.Teams.Create(r.Context(), p.Actor(), p.WorkspaceID, in.Name, in.MemberIDs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) patchTeam(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name      *string   `json:"name"`
		MemberIDs *[]string `json:"member_ids"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	p := principal(r)
	t, err := s.Teams.Update(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id"), in.Name, in.MemberIDs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) deleteTeam(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	if err := s.Teams.Delete(r.Context(), p.Actor(), p.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

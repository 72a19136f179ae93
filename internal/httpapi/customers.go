package httpapi

import (
	"net/http"
	"strconv"

	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/errs"
)

func (s *Server) region(r *http.Request) (string, error) {
	ws, err := s.Workspaces.Get(r.Context(), principal(r).WorkspaceID)
	if err != nil {
		return "", err
	}
	return ws.Settings.PhoneRegion, nil
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) error {
	limit, after, err := listParams(r)
	if err != nil {
		return err
	}
	cs, err := s.Customers.List(r.Context(), principal(r).WorkspaceID, r.URL.Query().Get("q"), customer.Cursor(after), limit+1)
	if err != nil {
		return err
	}
	cs, next := page(cs, limit, func(c customer.Customer) string { return encodeCursor(c.CreatedAt, c.ID) })
	writeJSON(w, http.StatusOK, map[string]any{"items": cs, "next_cursor": next})
	return nil
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) error {
	c, err := s.Customers.Get(r.Context(), principal(r).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

type identityIn struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name       string         `json:"name"`
		Email      string         `json:"email"`
		Phone      string         `json:"phone"`
		Attributes map[string]any `json:"attributes"`
		Identities []identityIn   `json:"identities"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	region, err := s.region(r)
	if err != nil {
		return err
	}
	claims := make([]customer.Claim, 0, len(in.Identities))
	for _, id := range in.Identities {
		claims = append(claims, customer.Claim{Kind: id.Kind, Value: id.Value})
	}
	p := principal(r)
	c, err := s.Customers.Create(r.Context(), p.Actor(), p.WorkspaceID, region,
		customer.Profile{Name: in.Name, Email: in.Email, Phone: in.Phone, Attributes: in.Attributes}, claims)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) patchCustomer(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name       *string        `json:"name"`
		Email      *string        `json:"email"`
		Phone      *string        `json:"phone"`
		Attributes map[string]any `json:"attributes"`
	}
	if err := s.decode(r, &in); err != nil {
		return err
	}
	region, err := s.region(r)
	if err != nil {
		return err
	}
	p := principal(r)
	c, err := s.Customers.Update(r.Context(), p.Actor(), p.WorkspaceID, region, r.PathValue("id"),
		customer.Patch{Name: in.Name, Email: in.Email, Phone: in.Phone, Attributes: in.Attributes})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) addIdentity(w http.ResponseWriter, r *http.Request) error {
	var in identityIn
	if err := s.decode(r, &in); err != nil {
		return err
	}
	region, err := s.region(r)
	if err != nil {
		return err
	}
	p := principal(r)
	id, err := s.Customers.AddIdentity(r.Context(), p.Actor(), p.WorkspaceID, region, r.PathValue("id"), in.Kind, in.Value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, id)
	return nil
}

// timeline is the event log filtered by customer, newest first, with the
// events of the customers merged into it.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request) error {
	p := principal(r)
	if _, err := s.Customers.Get(r.Context(), p.WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	limit, err := limitParam(r, 50, 200)
	if err != nil {
		return err
	}
	var before int64
	if b := r.URL.Query().Get("before"); b != "" {
		if before, err = strconv.ParseInt(b, 10, 64); err != nil || before < 1 {
			return errs.Invalid("before", "must be a seq number from a previous page")
		}
	}
	// A survivor's timeline includes the customers merged into it.
	ids, err := s.Customers.TimelineIDs(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	evs, err := s.Log.ForCustomers(r.Context(), p.WorkspaceID, ids, before, limit+1)
	if err != nil {
		return err
	}
	var next *int64
	if len(evs) > limit {
		evs = evs[:limit]
		n := evs[len(evs)-1].Seq
		next = &n
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": evs, "next_before": next})
	return nil
}

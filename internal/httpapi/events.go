package httpapi

import (
	"net/http"
	"strconv"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// listEvents returns the workspace's log after a seq, in order.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	var after int64
	if a := r.URL.Query().Get("after"); a != "" {
		if after, err = strconv.ParseInt(a, 10, 64); err != nil || after < 0 {
			return errs.Invalid("after", "must be a seq number (0 for the start)")
		}
	}
	evs, err := s.Log.After(r.Context(), principal(r).WorkspaceID, after, limit)
	if err != nil {
		return err
	}
	last := after
	if len(evs) > 0 {
		last = evs[len(evs)-1].Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": evs, "last_seq": last})
	return nil
}

func (s *Server) listDeadJobs(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 50, 200)
	if err != nil {
		return err
	}
	js, err := s.Jobs.Dead(r.Context(), principal(r).WorkspaceID, r.URL.Query().Get("cursor"), limit+1)
	if err != nil {
		return err
	}
	js, next := page(js, limit, func(j jobs.Job) string { return j.ID })
	writeJSON(w, http.StatusOK, map[string]any{"items": js, "next_cursor": next})
	return nil
}

func (s *Server) retryJob(w http.ResponseWriter, r *http.Request) error {
	if err := s.Jobs.Retry(r.Context(), principal(r).WorkspaceID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

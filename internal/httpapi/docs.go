package httpapi

import (
	"net/http"

	"github.com/kanal-dev/kanal/api"
)

func (s *Server) openAPISpec(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	_, _ = w.Write(api.Spec)
	return nil
}

func (s *Server) apiDocs(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(api.DocsHTML())
	return nil
}

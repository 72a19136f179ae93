package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"

	"github.com/kanal-dev/kanal/internal/idempotency"
)

// idempotent runs a POST that carries an Idempotency-Key: the first
// successful answer is remembered for 24 hours and replayed to retries of the
// same request (with Idempotent-Replayed: true); the same key on a different
// request is refused. Failed answers are not remembered, so a corrected
// request may reuse the key.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, rt route, workspaceID, key string) error {
	if len(key) > 255 {
		return &httpError{status: http.StatusBadRequest, code: "invalid_input", msg: "Idempotency-Key must be at most 255 characters",
			fields: map[string]string{"Idempotency-Key": "must be at most 255 characters"}}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonError(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256([]byte(rt.pattern + "\n" + r.URL.RequestURI() + "\n" + string(body)))
	fingerprint := hex.EncodeToString(sum[:])

	unlock, err := s.idem.Lock(r.Context(), workspaceID, key)
	if err != nil {
		return err
	}
	defer unlock()
	prev, ok, err := s.idem.Get(r.Context(), workspaceID, key)
	if err != nil {
		return err
	}
	if ok {
		if prev.Fingerprint != fingerprint {
			return &httpError{status: http.StatusUnprocessableEntity, code: "idempotency_key_reused",
				msg: "this Idempotency-Key was already used for a different request"}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(prev.Status)
		_, _ = w.Write(prev.Body)
		return nil
	}
	rec := &recorder{ResponseWriter: w}
	if err := rt.h(rec, r); err != nil {
		return err
	}
	if rec.status >= 200 && rec.status < 300 {
		return s.idem.Put(r.Context(), workspaceID, key, idempotency.Response{Fingerprint: fingerprint, Status: rec.status, Body: rec.body.Bytes()})
	}
	return nil
}

// recorder passes a response through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

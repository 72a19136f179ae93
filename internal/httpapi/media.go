package httpapi

import (
	"mime"
	"net/http"
	"strconv"
	"time"
)

// getMedia serves a stored file of the workspace. Files are sent as
// attachments unless they are images, and never sniffed, so customer-sent
// HTML cannot run in Kanal's origin.
func (s *Server) getMedia(w http.ResponseWriter, r *http.Request) error {
	f, fh, err := s.Media.Open(r.Context(), principal(r).WorkspaceID, r.PathValue("id"))
	if err != nil {
		return err
	}
	defer fh.Close()
	disp := "attachment"
	switch f.ContentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		disp = "inline"
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": f.FileName}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Header().Set("Cache-Control", "private, max-age=86400")
	w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
	w.Header().Set("ETag", `"`+f.SHA256+`"`)
	http.ServeContent(w, r, "", time.UnixMilli(f.CreatedAt), fh)
	return nil
}

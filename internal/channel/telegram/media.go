package telegram

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// FetchMedia downloads a file by its file_id: getFile gives a file_path,
// then GET {base}/file/bot{token}/{file_path}. The hosted Bot API serves
// files up to 20 MB; a larger one is a permanent failure ("file is too big").
func (a *Adapter) FetchMedia(ctx context.Context, in inbox.Inbox, ref string) (channel.Media, error) {
	var f struct {
		FileID   string `json:"file_id"`
		FilePath string `json:"file_path"`
		FileSize int64  `json:"file_size"`
	}
	if err := a.call(ctx, in, "getFile", map[string]string{"file_id": ref}, &f); err != nil {
		return channel.Media{}, jobError(err)
	}
	if f.FilePath == "" {
		return channel.Media{}, fmt.Errorf("telegram getFile: no file_path for %s", ref)
	}
	token := in.String("bot_token")
	escaped := (&url.URL{Path: f.FilePath}).EscapedPath()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(in)+"/file/bot"+token+"/"+strings.TrimLeft(escaped, "/"), nil)
	if err != nil {
		return channel.Media{}, jobError(&APIError{Method: "file download", Code: http.StatusBadRequest, Description: "bad file path"})
	}
	req.Header.Set("User-Agent", "Kanal")
	// Files take longer than API calls: allow a slow 20 MB download.
	dl := *a.client
	dl.Timeout = max(dl.Timeout, 5*time.Minute)
	resp, err := dl.Do(req)
	if err != nil {
		return channel.Media{}, fmt.Errorf("telegram file download: %w", scrub(err, token))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return channel.Media{}, jobError(&APIError{Method: "file download", Code: resp.StatusCode, Description: "HTTP " + resp.Status})
	}
	ctype := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ctype); err != nil || mt == "application/octet-stream" {
		ctype = "" // keep the type the update gave
	}
	return channel.Media{Body: resp.Body, ContentType: ctype, FileName: path.Base(f.FilePath)}, nil
}

package meta

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// FetchMedia downloads a file the customer sent. ref is the attachment's
// CDN URL from the webhook: a public link that expires, fetched without
// credentials (the access token never leaves for a CDN host). An expired
// link (403, 404, 410) is a permanent failure; server trouble is retried.
func (a *Adapter) FetchMedia(ctx context.Context, in inbox.Inbox, ref string) (channel.Media, error) {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return channel.Media{}, jobs.Permanent(fmt.Errorf("meta: not a media URL: %q", ref))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return channel.Media{}, jobs.Permanent(err)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return channel.Media{}, fmt.Errorf("meta: media: %w", err)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
	case resp.StatusCode == http.StatusTooManyRequests:
		resp.Body.Close()
		return channel.Media{}, jobs.RetryAfter(fmt.Errorf("meta: media: %s", resp.Status), retryAfter(resp.Header))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		resp.Body.Close()
		return channel.Media{}, fmt.Errorf("meta: media: %s", resp.Status)
	default:
		resp.Body.Close()
		return channel.Media{}, jobs.Permanent(fmt.Errorf("meta: the media link is no longer valid (Meta's links expire): %s", resp.Status))
	}
	ctype := resp.Header.Get("Content-Type")
	name := ""
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		name = params["filename"]
	}
	if name == "" {
		name = fileName(u)
	}
	if name == "" {
		name = "file" + extension(ctype)
	}
	return channel.Media{Body: resp.Body, ContentType: ctype, FileName: name}, nil
}

// extension is a file extension for a media type ("" when unknown).
func extension(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	switch mt { // the common ones, whatever the system's mime tables say
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "video/mp4":
		return ".mp4"
	case "audio/mpeg":
		return ".mp3"
	case "audio/mp4", "audio/x-m4a":
		return ".m4a"
	case "audio/aac":
		return ".aac"
	case "application/pdf":
		return ".pdf"
	}
	if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

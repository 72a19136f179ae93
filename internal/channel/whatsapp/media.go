package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// mediaInfo is the answer of GET /{media-id}.
type mediaInfo struct {
	URL      string     `json:"url"`
	MimeType string     `json:"mime_type"`
	SHA256   string     `json:"sha256"`
	FileSize flexString `json:"file_size"`
	ID       string     `json:"id"`
}

// FetchMedia downloads a file a customer sent: GET {base}/{media-id} gives a
// short-lived URL (5 minutes), fetched with the same Bearer token. Each try
// asks for a fresh URL, so an expired one is simply retried. The checksum
// Meta gives is returned for Kanal to verify.
func (a *Adapter) FetchMedia(ctx context.Context, in inbox.Inbox, ref string) (channel.Media, error) {
	a.init()
	if ref == "" || strings.ContainsAny(ref, "/?#") {
		return channel.Media{}, jobs.Permanent(fmt.Errorf("whatsapp: bad media id %q", ref))
	}
	base := baseURL(in)
	rb, err := a.call(ctx, in, http.MethodGet, base+"/"+url.PathEscape(ref), nil)
	if err != nil {
		return channel.Media{}, mediaError(err)
	}
	var info mediaInfo
	if err := json.Unmarshal(rb, &info); err != nil {
		return channel.Media{}, fmt.Errorf("whatsapp: unreadable media answer: %w", err)
	}
	if n, err := strconv.ParseInt(string(info.FileSize), 10, 64); err == nil && n > channel.MaxMediaBytes {
		return channel.Media{}, jobs.Permanent(fmt.Errorf("whatsapp: the file has %d bytes, more than Kanal keeps", n))
	}
	u, err := url.Parse(info.URL)
	// The token goes only to https URLs (http only when the API itself is
	// reached over http, as with a local fake).
	if err != nil || u.Host == "" || !(u.Scheme == "https" || (u.Scheme == "http" && strings.HasPrefix(base, "http://"))) {
		return channel.Media{}, jobs.Permanent(fmt.Errorf("whatsapp: the media answer has no usable url"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return channel.Media{}, jobs.Permanent(err)
	}
	req.Header.Set("Authorization", "Bearer "+in.String(KeyAccessToken))
	req.Header.Set("User-Agent", "Kanal")
	resp, err := a.Client.Do(req)
	if err != nil {
		return channel.Media{}, fmt.Errorf("whatsapp: media download: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		err := fmt.Errorf("whatsapp: media download: HTTP %d", resp.StatusCode)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return channel.Media{}, jobs.Permanent(fmt.Errorf("%w (check the access token)", err))
		}
		return channel.Media{}, err // expired URL, 5xx...: the next try gets a fresh URL
	}
	ctype := info.MimeType
	if ctype == "" {
		ctype = resp.Header.Get("Content-Type")
	}
	return channel.Media{Body: resp.Body, ContentType: ctype, SHA256: hexSHA256(info.SHA256)}, nil
}

// mediaError makes an unknown or expired media id permanent: Meta keeps
// media for a limited time (about 7 days for received media).
func mediaError(err error) error {
	var e *Error
	if errors.As(err, &e) && (e.HTTPStatus == http.StatusNotFound || e.Code == 100) && !jobs.IsPermanent(err) {
		return jobs.Permanent(err)
	}
	return err
}

// Test checks the inbox's phone number id and access token: GET
// {base}/{phone-number-id} answers the number as WhatsApp shows it.
func (a *Adapter) Test(ctx context.Context, in inbox.Inbox) (string, error) {
	pnid := phoneNumberID(in)
	if pnid == "" {
		return "", errors.New("the whatsapp inbox has no phone_number_id")
	}
	rb, err := a.call(ctx, in, http.MethodGet, baseURL(in)+"/"+url.PathEscape(pnid)+"?fields=display_phone_number,verified_name", nil)
	if err != nil {
		return "", err
	}
	var out struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		VerifiedName       string `json:"verified_name"`
	}
	if err := json.Unmarshal(rb, &out); err != nil {
		return "", fmt.Errorf("whatsapp: unreadable answer: %w", err)
	}
	if out.DisplayPhoneNumber == "" {
		return "", errors.New("whatsapp: the answer names no phone number")
	}
	if out.VerifiedName != "" {
		return out.DisplayPhoneNumber + " (" + out.VerifiedName + ")", nil
	}
	return out.DisplayPhoneNumber, nil
}

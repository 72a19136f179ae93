package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// Bot API limits, in UTF-16 code units as Telegram counts them.
const (
	MaxText    = 4096
	MaxCaption = 1024
)

// part is one Bot API call of a reply.
type part struct {
	method string
	params map[string]any
}

// Send sends a reply to the customer's private chat with the bot: its text
// with sendMessage (split at 4096 characters), each attachment with
// sendPhoto or sendDocument by URL (the text becomes the first one's
// caption when it fits). It returns the first call's "chat_id:message_id".
// Parts already sent are remembered (in memory), so a retry after a failure
// in the middle does not send them again.
func (a *Adapter) Send(ctx context.Context, o channel.Outbound) (string, error) {
	if o.Message.ContentType == "template" {
		return "", jobs.Permanent(errors.New("telegram has no message templates; send a plain reply"))
	}
	chatID := chatOf(o.Customer)
	if chatID == "" {
		return "", jobs.Permanent(errors.New("the customer has no Telegram identity to write to"))
	}
	parts, err := plan(chatID, o.Message)
	if err != nil {
		return "", jobs.Permanent(err)
	}
	key := o.Message.ID
	sent := a.progress.get(key)
	for i := len(sent); i < len(parts); i++ {
		chatKey := o.Inbox.ID + ":" + chatID
		if wait := a.chats.take(chatKey); wait > 0 {
			return "", jobs.RetryAfter(fmt.Errorf("telegram allows about one message a second per chat; next try in %s", wait.Round(time.Millisecond)), wait)
		}
		if wait := a.bots.take(o.Inbox.ID); wait > 0 {
			return "", jobs.RetryAfter(fmt.Errorf("telegram allows about 30 messages a second per bot; next try in %s", wait.Round(time.Millisecond)), wait)
		}
		var res struct {
			MessageID int64 `json:"message_id"`
		}
		p := parts[i]
		if err := a.call(ctx, o.Inbox, p.method, p.params, &res); err != nil {
			var ae *APIError
			if errors.As(err, &ae) && ae.RetryAfter > 0 {
				a.chats.block(chatKey, ae.RetryAfter)
			}
			err = jobError(err)
			if jobs.IsPermanent(err) {
				a.progress.drop(key)
			}
			return "", err
		}
		sent = a.progress.add(key, chatID+":"+strconv.FormatInt(res.MessageID, 10), a.now())
	}
	a.progress.drop(key)
	return sent[0], nil
}

// chatOf returns the customer's Telegram user id: in a private chat it is
// the chat id.
func chatOf(c customer.Customer) string {
	for _, id := range c.Identities {
		if id.Kind != customer.KindTelegram {
			continue
		}
		v := id.Normalized
		if v == "" {
			v = strings.TrimSpace(id.Value)
		}
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return v
		}
	}
	return ""
}

// plan lists the calls that send m to chatID.
func plan(chatID string, m conversation.Message) ([]part, error) {
	chat := json.Number(chatID)
	text := m.Text
	if strings.TrimSpace(text) == "" && m.HTML != "" {
		text = plainText(m.HTML)
	}
	var media []part
	for i, att := range m.Attachments {
		u, err := url.Parse(att.URL)
		switch {
		case strings.HasPrefix(att.URL, "/api/v1/media/"):
			return nil, fmt.Errorf("attachment %d is a file stored in Kanal; Telegram replies cannot upload files yet (link a public https URL instead)", i+1)
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			return nil, fmt.Errorf("attachment %d has no public http(s) URL Telegram could fetch", i+1)
		}
		method, param := mediaMethod(att)
		media = append(media, part{method: method, params: map[string]any{"chat_id": chat, param: att.URL}})
	}
	var parts []part
	switch {
	case len(media) > 0 && strings.TrimSpace(text) != "" && utf16Len(text) <= MaxCaption:
		media[0].params["caption"] = text
	case strings.TrimSpace(text) != "":
		for _, t := range split(text, MaxText) {
			parts = append(parts, part{method: "sendMessage", params: map[string]any{"chat_id": chat, "text": t}})
		}
	}
	parts = append(parts, media...)
	if len(parts) == 0 {
		return nil, errors.New("the reply has no text or attachment to send")
	}
	return parts, nil
}

// mediaMethod sends JPEG, PNG and WebP images as photos and the rest as
// documents.
func mediaMethod(att conversation.Attachment) (method, param string) {
	ct := strings.ToLower(strings.TrimSpace(att.ContentType))
	if ct == "" {
		ext := path.Ext(att.FileName)
		if u, err := url.Parse(att.URL); err == nil && ext == "" {
			ext = path.Ext(u.Path)
		}
		ct = mime.TypeByExtension(strings.ToLower(ext))
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	}
	switch ct {
	case "image/jpeg", "image/png", "image/webp":
		return "sendPhoto", "photo"
	}
	return "sendDocument", "document"
}

var (
	breakTags = regexp.MustCompile(`(?i)<br\s*/?>|</(p|div|li|h[1-6])>`)
	anyTag    = regexp.MustCompile(`<[^>]*>`)
)

// plainText is a reply's HTML as plain text, for a reply written only in HTML.
func plainText(h string) string {
	h = breakTags.ReplaceAllString(h, "\n")
	return strings.TrimSpace(html.UnescapeString(anyTag.ReplaceAllString(h, "")))
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += runeLen16(r)
	}
	return n
}

func runeLen16(r rune) int {
	if l := utf16.RuneLen(r); l > 0 {
		return l
	}
	return 1 // invalid UTF-8 becomes U+FFFD
}

// split cuts text into pieces of at most max UTF-16 code units, at a line
// break or a space in the second half of a piece when there is one, never
// inside a character. The pieces joined give text back; pieces of only
// white space (Telegram refuses them) are left out.
func split(text string, max int) []string {
	var out []string
	add := func(s string) {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	for utf16Len(text) > max {
		cut, n := 0, 0
		for i, r := range text {
			w := runeLen16(r)
			if n+w > max {
				cut = i
				break
			}
			n += w
		}
		chunk := text[:cut]
		if j := strings.LastIndexByte(chunk, '\n'); j >= cut/2 {
			cut = j + 1
		} else if j := strings.LastIndexAny(chunk, " \t"); j >= cut/2 {
			cut = j + 1
		}
		add(text[:cut])
		text = text[cut:]
	}
	add(text)
	return out
}

// progress remembers the parts of a multi-part reply already sent, by
// Kanal's message id, until the reply is done.
type progress struct {
	mu sync.Mutex
	m  map[string]progressEntry
}

type progressEntry struct {
	ids []string
	at  time.Time
}

func (p *progress) get(key string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.m[key].ids...)
}

func (p *progress) add(key, id string, now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) >= 10000 {
		for k, e := range p.m {
			if now.Sub(e.at) > 24*time.Hour {
				delete(p.m, k)
			}
		}
	}
	e := p.m[key]
	e.ids, e.at = append(e.ids, id), now
	p.m[key] = e
	return append([]string(nil), e.ids...)
}

func (p *progress) drop(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, key)
}

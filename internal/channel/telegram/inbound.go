package telegram

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// Verify checks the X-Telegram-Bot-Api-Secret-Token header against the
// inbox's secret_token in constant time. Telegram signs nothing else.
func (a *Adapter) Verify(in inbox.Inbox, r *http.Request, publicURL string, body []byte) error {
	want := in.String("secret_token")
	got := r.Header.Get(SecretHeader)
	if want == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return channel.ErrBadSignature
	}
	return nil
}

type user struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Username  string `json:"username"`
}

type chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

type file struct {
	FileID   string `json:"file_id"`
	FileName string `json:"file_name"`
	MimeType string `json:"mime_type"`
	FileSize int64  `json:"file_size"`
	Width    int64  `json:"width"`
	Height   int64  `json:"height"`
}

type sticker struct {
	file
	Emoji      string `json:"emoji"`
	IsAnimated bool   `json:"is_animated"`
	IsVideo    bool   `json:"is_video"`
}

type message struct {
	MessageID int64           `json:"message_id"`
	From      *user           `json:"from"`
	Chat      chat            `json:"chat"`
	Date      int64           `json:"date"`
	EditDate  int64           `json:"edit_date"`
	Text      string          `json:"text"`
	Caption   string          `json:"caption"`
	Photo     []file          `json:"photo"`
	Document  *file           `json:"document"`
	Animation *file           `json:"animation"`
	Video     *file           `json:"video"`
	VideoNote *file           `json:"video_note"`
	Voice     *file           `json:"voice"`
	Audio     *file           `json:"audio"`
	Sticker   *sticker        `json:"sticker"`
	Location  json.RawMessage `json:"location"`
	Venue     json.RawMessage `json:"venue"`
	Contact   json.RawMessage `json:"contact"`
}

type callbackQuery struct {
	ID      string   `json:"id"`
	From    *user    `json:"from"`
	Message *message `json:"message"`
	Data    string   `json:"data"`
}

// Parse reads one Update. Kept: message and edited_message of private
// chats, callback_query, and unknown update types that carry a private
// chat's message (as unsupported, with the update as Raw). Skipped with an
// empty batch (200, nothing stored): group, supergroup and channel traffic,
// updates without a message (my_chat_member, poll, message_reaction…) and
// live-location edits.
func (a *Adapter) Parse(in inbox.Inbox, r *http.Request, body []byte) (channel.Batch, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return channel.Batch{}, fmt.Errorf("not a Telegram update: %w", err)
	}
	var updateID int64
	if raw, ok := fields["update_id"]; !ok || json.Unmarshal(raw, &updateID) != nil {
		return channel.Batch{}, errors.New("not a Telegram update: no numeric update_id")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b channel.Batch
	for _, k := range keys {
		v := fields[k]
		var (
			m    channel.Message
			keep bool
			err  error
		)
		switch k {
		case "update_id":
			continue
		case "message":
			m, keep, err = parseMessage(v, false, updateID)
		case "edited_message":
			m, keep, err = parseMessage(v, true, updateID)
		case "callback_query":
			var id string
			m, id, keep, err = parseCallback(v)
			if keep {
				b.Reply = answerCallback(id)
			}
		default:
			m, keep = parseOther(k, v, body)
		}
		if err != nil {
			return channel.Batch{}, fmt.Errorf("update %d: %s: %w", updateID, k, err)
		}
		if keep {
			b.Messages = append(b.Messages, m)
		}
	}
	return b, nil
}

// answerCallback answers the webhook call with an answerCallbackQuery, which
// Telegram runs for us: the button stops spinning on the customer's phone.
func answerCallback(id string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		body, _ := json.Marshal(map[string]string{"method": "answerCallbackQuery", "callback_query_id": id})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
}

func sender(u *user) ([]customer.Claim, customer.Profile) {
	claims := []customer.Claim{{Kind: customer.KindTelegram, Value: strconv.FormatInt(u.ID, 10)}}
	p := customer.Profile{Name: strings.TrimSpace(u.FirstName + " " + u.LastName)}
	if u.Username != "" {
		p.Attributes = map[string]any{"telegram_username": u.Username}
	}
	return claims, p
}

func unix(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// parseMessage reads a message or an edited one (stored as a new message:
// its provider id adds the edit_date, Raw notes the edit).
func parseMessage(raw json.RawMessage, edited bool, updateID int64) (channel.Message, bool, error) {
	var m message
	if err := json.Unmarshal(raw, &m); err != nil {
		return channel.Message{}, false, err
	}
	if m.MessageID == 0 || m.Chat.ID == 0 {
		return channel.Message{}, false, errors.New("no message_id or chat.id")
	}
	if m.Chat.Type != "private" || m.From == nil || m.From.IsBot {
		return channel.Message{}, false, nil
	}
	if edited && len(m.Location) > 0 {
		return channel.Message{}, false, nil // a live location moving: one update every few seconds
	}
	out := channel.Message{ProviderID: fmt.Sprintf("%d:%d", m.Chat.ID, m.MessageID), At: unix(m.Date)}
	out.Claims, out.Profile = sender(m.From)
	out.Text, out.ContentType, out.Attachments, out.Raw = content(m, raw)
	if edited {
		orig := out.ProviderID
		if m.EditDate != 0 {
			out.ProviderID = fmt.Sprintf("%s:edit:%d", orig, m.EditDate)
			out.At = unix(m.EditDate)
		} else {
			out.ProviderID, out.At = fmt.Sprintf("%s:edit:u%d", orig, updateID), time.Time{}
		}
		note := map[string]any{"edited": true, "original_provider_id": orig, "edit_date": m.EditDate}
		if out.Raw != "" {
			note["data"] = json.RawMessage(out.Raw)
		}
		b, _ := json.Marshal(note)
		out.Raw = string(b)
	}
	return out, true, nil
}

// content maps a message's payload to Kanal's text, content type,
// attachments (by file_id, fetched later) and raw payload.
func content(m message, raw json.RawMessage) (string, string, []conversation.Attachment, string) {
	att := func(f *file, ctype, defaultType string) (string, string, []conversation.Attachment, string) {
		mt := f.MimeType
		if mt == "" {
			mt = defaultType
		}
		return m.Caption, ctype, []conversation.Attachment{{Ref: f.FileID, FileName: f.FileName, ContentType: mt, Size: f.FileSize}}, ""
	}
	switch {
	case len(m.Photo) > 0:
		best := m.Photo[len(m.Photo)-1] // Telegram lists sizes smallest first
		for _, p := range m.Photo {
			if p.Width*p.Height > best.Width*best.Height || (p.Width*p.Height == best.Width*best.Height && p.FileSize > best.FileSize) {
				best = p
			}
		}
		return att(&best, "image", "image/jpeg")
	case m.Animation != nil:
		return att(m.Animation, "video", "video/mp4")
	case m.Video != nil:
		return att(m.Video, "video", "video/mp4")
	case m.VideoNote != nil:
		return att(m.VideoNote, "video", "video/mp4")
	case m.Voice != nil:
		return att(m.Voice, "audio", "audio/ogg")
	case m.Audio != nil:
		return att(m.Audio, "audio", "audio/mpeg")
	case m.Document != nil:
		return att(m.Document, "document", "application/octet-stream")
	case m.Sticker != nil:
		mt := "image/webp"
		switch {
		case m.Sticker.IsAnimated:
			mt = "application/x-tgsticker"
		case m.Sticker.IsVideo:
			mt = "video/webm"
		}
		f := m.Sticker.file
		return m.Sticker.Emoji, "sticker", []conversation.Attachment{{Ref: f.FileID, ContentType: mt, Size: f.FileSize}}, ""
	case len(m.Location) > 0:
		var loc struct {
			Latitude  float64 `json:"latitude"`
			Longitude float64 `json:"longitude"`
		}
		_ = json.Unmarshal(m.Location, &loc)
		text := "📍 " + strconv.FormatFloat(loc.Latitude, 'f', -1, 64) + "," + strconv.FormatFloat(loc.Longitude, 'f', -1, 64)
		if len(m.Venue) > 0 {
			var v struct{ Title, Address string }
			_ = json.Unmarshal(m.Venue, &v)
			if place := strings.Trim(strings.TrimSpace(v.Title)+", "+strings.TrimSpace(v.Address), ", "); place != "" {
				text += "\n" + place
			}
			return text, "location", nil, string(m.Venue)
		}
		return text, "location", nil, string(m.Location)
	case len(m.Contact) > 0:
		// The shared card is shown, never taken as the sender's identity:
		// anyone can share anyone's phone number.
		var c struct {
			PhoneNumber string `json:"phone_number"`
			FirstName   string `json:"first_name"`
			LastName    string `json:"last_name"`
		}
		_ = json.Unmarshal(m.Contact, &c)
		text := "👤 " + strings.Trim(strings.TrimSpace(c.FirstName+" "+c.LastName)+", "+c.PhoneNumber, ", ")
		return text, "contacts", nil, string(m.Contact)
	case m.Text != "":
		return m.Text, "text", nil, ""
	}
	return m.Caption, "unsupported", nil, string(raw)
}

func parseCallback(raw json.RawMessage) (channel.Message, string, bool, error) {
	var cq callbackQuery
	if err := json.Unmarshal(raw, &cq); err != nil {
		return channel.Message{}, "", false, err
	}
	if cq.ID == "" || cq.From == nil || cq.From.ID == 0 {
		return channel.Message{}, "", false, errors.New("no id or from")
	}
	if cq.Message != nil && cq.Message.Chat.Type != "" && cq.Message.Chat.Type != "private" {
		return channel.Message{}, "", false, nil
	}
	out := channel.Message{ProviderID: "cb:" + cq.ID, Text: cq.Data, ContentType: "interactive", Raw: string(raw)}
	out.Claims, out.Profile = sender(cq.From)
	return out, cq.ID, true, nil
}

// parseOther keeps an update type Kanal does not know when it carries a
// private chat's message (a business_message, a future type) as
// unsupported; anything else is skipped.
func parseOther(key string, raw json.RawMessage, update []byte) (channel.Message, bool) {
	var m message
	if json.Unmarshal(raw, &m) != nil || m.MessageID == 0 || m.Chat.Type != "private" || m.From == nil || m.From.IsBot {
		return channel.Message{}, false
	}
	out := channel.Message{ProviderID: fmt.Sprintf("%d:%d:%s", m.Chat.ID, m.MessageID, key), ContentType: "unsupported",
		Text: m.Text, Raw: string(update), At: unix(m.Date)}
	if out.Text == "" {
		out.Text = m.Caption
	}
	out.Claims, out.Profile = sender(m.From)
	return out, true
}

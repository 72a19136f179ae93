package telegram

import (
	"bytes"
	"encoding/json"
)

// Date is the date of the updates the builders make (Unix seconds).
const Date = 1739321024

// User is the sender of a built update.
type User struct {
	ID        int64
	FirstName string
	LastName  string
	Username  string
}

func (u User) json() map[string]any {
	m := map[string]any{"id": u.ID, "is_bot": false, "first_name": u.FirstName, "language_code": "tr"}
	if u.LastName != "" {
		m["last_name"] = u.LastName
	}
	if u.Username != "" {
		m["username"] = u.Username
	}
	return m
}

// Message is a message object of a private chat with from, plus fields.
func Message(messageID int64, from User, fields map[string]any) map[string]any {
	m := map[string]any{"message_id": messageID, "from": from.json(), "date": Date,
		"chat": map[string]any{"id": from.ID, "type": "private", "first_name": from.FirstName}}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

// Update is {"update_id":id, kind: payload} as JSON, UTF-8 unescaped.
func Update(updateID int64, kind string, payload any) []byte {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(map[string]any{"update_id": updateID, kind: payload}); err != nil {
		panic(err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// Text is a text message update.
func Text(updateID, messageID int64, from User, text string) []byte {
	return Update(updateID, "message", Message(messageID, from, map[string]any{"text": text}))
}

// Edited is an edited_message update of a text message.
func Edited(updateID, messageID int64, from User, text string, editDate int64) []byte {
	return Update(updateID, "edited_message", Message(messageID, from, map[string]any{"text": text, "edit_date": editDate}))
}

// Photo is a photo update; fileIDs are the sizes, smallest first (each
// twice as wide as the one before).
func Photo(updateID, messageID int64, from User, caption string, fileIDs ...string) []byte {
	sizes := []map[string]any{}
	w := 90
	for _, id := range fileIDs {
		sizes = append(sizes, map[string]any{"file_id": id, "file_unique_id": "u" + id, "width": w, "height": w * 3 / 4, "file_size": w * 100})
		w *= 2
	}
	f := map[string]any{"photo": sizes}
	if caption != "" {
		f["caption"] = caption
	}
	return Update(updateID, "message", Message(messageID, from, f))
}

// Document is a document update.
func Document(updateID, messageID int64, from User, fileID, fileName, mimeType string) []byte {
	return Update(updateID, "message", Message(messageID, from, map[string]any{"document": map[string]any{
		"file_id": fileID, "file_unique_id": "u" + fileID, "file_name": fileName, "mime_type": mimeType, "file_size": 2048}}))
}

// Voice is a voice note update.
func Voice(updateID, messageID int64, from User, fileID string) []byte {
	return Update(updateID, "message", Message(messageID, from, map[string]any{"voice": map[string]any{
		"file_id": fileID, "file_unique_id": "u" + fileID, "duration": 3, "mime_type": "audio/ogg", "file_size": 4096}}))
}

// Location is a location update.
func Location(updateID, messageID int64, from User, lat, lng float64) []byte {
	return Update(updateID, "message", Message(messageID, from, map[string]any{"location": map[string]any{"latitude": lat, "longitude": lng}}))
}

// Contact is a shared contact card update.
func Contact(updateID, messageID int64, from User, phone, firstName, lastName string) []byte {
	c := map[string]any{"phone_number": phone, "first_name": firstName}
	if lastName != "" {
		c["last_name"] = lastName
	}
	return Update(updateID, "message", Message(messageID, from, map[string]any{"contact": c}))
}

// Callback is a callback_query update: from pressed a button with data
// under the bot's message messageID.
func Callback(updateID int64, from User, queryID, data string, messageID int64) []byte {
	bot := map[string]any{"id": BotID, "is_bot": true, "first_name": "Kanal Test", "username": "kanal_test_bot"}
	msg := map[string]any{"message_id": messageID, "from": bot, "date": Date,
		"chat": map[string]any{"id": from.ID, "type": "private", "first_name": from.FirstName}, "text": "Siparişiniz için bir seçenek seçin"}
	return Update(updateID, "callback_query", map[string]any{"id": queryID, "from": from.json(), "message": msg,
		"chat_instance": "-5123456789", "data": data})
}

// Unknown is an update Kanal does not read: my_chat_member (from blocked
// the bot).
func Unknown(updateID int64, from User) []byte {
	return Update(updateID, "my_chat_member", map[string]any{
		"chat": map[string]any{"id": from.ID, "type": "private", "first_name": from.FirstName},
		"from": from.json(), "date": Date,
		"old_chat_member": map[string]any{"user": map[string]any{"id": BotID, "is_bot": true, "first_name": "Kanal Test"}, "status": "member"},
		"new_chat_member": map[string]any{"user": map[string]any{"id": BotID, "is_bot": true, "first_name": "Kanal Test"}, "status": "kicked", "until_date": 0},
	})
}

// Group is a text message in a group chat.
func Group(updateID, messageID int64, from User, groupID int64, text string) []byte {
	m := Message(messageID, from, map[string]any{"text": text})
	m["chat"] = map[string]any{"id": groupID, "type": "supergroup", "title": "Müşteriler"}
	return Update(updateID, "message", m)
}

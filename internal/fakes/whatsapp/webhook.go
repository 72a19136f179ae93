package whatsapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf16"
)

// Contact is the sender of a built webhook message.
type Contact struct {
	WaID string // international number without "+"
	Name string // WhatsApp profile name
}

// Status is a delivery report in a built webhook call.
type Status struct {
	ID          string // the wamid the report is about
	Status      string // sent, delivered, read, failed
	RecipientID string
	Opaque      string // biz_opaque_callback_data
	// ErrorCode, ErrorTitle and ErrorDetails fill errors[0] of a failed report.
	ErrorCode    int
	ErrorTitle   string
	ErrorDetails string
}

// The envelope of a webhook call, fields in Meta's order.
type envelope struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"`
	Changes []change `json:"changes"`
}

type change struct {
	Value value  `json:"value"`
	Field string `json:"field"`
}

type value struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         metadata         `json:"metadata"`
	Contacts         []contactJSON    `json:"contacts,omitempty"`
	Messages         []map[string]any `json:"messages,omitempty"`
	Statuses         []map[string]any `json:"statuses,omitempty"`
	Errors           []map[string]any `json:"errors,omitempty"`
}

type metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type contactJSON struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

// body builds one call with one "messages" change. Like Meta's, the JSON
// escapes every non-ASCII character (\u00e7, surrogate pairs for emoji).
func (s *Server) body(v value) []byte {
	v.MessagingProduct = "whatsapp"
	v.Metadata = metadata{DisplayPhoneNumber: s.o.DisplayPhoneNumber, PhoneNumberID: s.o.PhoneNumberID}
	env := envelope{Object: "whatsapp_business_account",
		Entry: []entry{{ID: s.o.WABAID, Changes: []change{{Value: v, Field: "messages"}}}}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		panic(err)
	}
	return EscapeNonASCII(bytes.TrimRight(buf.Bytes(), "\n"))
}

// EscapeNonASCII rewrites every non-ASCII character of a JSON text as \uXXXX
// (UTF-16 surrogate pairs above U+FFFF), the form Meta signs.
func EscapeNonASCII(b []byte) []byte {
	var out bytes.Buffer
	for _, r := range string(b) {
		if r < 0x80 {
			out.WriteRune(r)
			continue
		}
		if r > 0xFFFF {
			a, z := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, a, z)
			continue
		}
		fmt.Fprintf(&out, `\u%04x`, r)
	}
	return out.Bytes()
}

func (s *Server) message(from Contact, id, typ string, content any) []byte {
	if id == "" {
		id = s.NewMessageID()
	}
	m := map[string]any{"from": from.WaID, "id": id, "timestamp": strconv.FormatInt(s.Now().Unix(), 10), "type": typ}
	if content != nil {
		m[typ] = content
	}
	c := contactJSON{WaID: from.WaID}
	c.Profile.Name = from.Name
	return s.body(value{Contacts: []contactJSON{c}, Messages: []map[string]any{m}})
}

// NewMessageID returns a fresh inbound wamid.
func (s *Server) NewMessageID() string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return fmt.Sprintf("wamid.HBgMIN%s%06d", randomHex(8), n)
}

// TextWebhook builds a text message call ("" id: a fresh one).
func (s *Server) TextWebhook(from Contact, id, text string) []byte {
	return s.message(from, id, "text", map[string]any{"body": text})
}

// ImageWebhook builds an image message call about a file added with
// AddMedia; its sha256 is given in base64, as Meta's webhooks do.
func (s *Server) ImageWebhook(from Contact, id, mediaID, caption string) []byte {
	s.mu.Lock()
	m := s.media[mediaID]
	s.mu.Unlock()
	img := map[string]any{"id": mediaID}
	if m != nil {
		sum := sha256.Sum256(m.Data)
		img["mime_type"], img["sha256"] = m.MimeType, base64.StdEncoding.EncodeToString(sum[:])
	}
	if caption != "" {
		img["caption"] = caption
	}
	return s.message(from, id, "image", img)
}

// LocationWebhook builds a location message call.
func (s *Server) LocationWebhook(from Contact, id string, lat, lng float64, name, address string) []byte {
	loc := map[string]any{"latitude": lat, "longitude": lng}
	if name != "" {
		loc["name"] = name
	}
	if address != "" {
		loc["address"] = address
	}
	return s.message(from, id, "location", loc)
}

// UnknownWebhook builds a message of a type WhatsApp itself does not
// support in the Cloud API ("unsupported", with error 131051).
func (s *Server) UnknownWebhook(from Contact, id string) []byte {
	if id == "" {
		id = s.NewMessageID()
	}
	m := map[string]any{"from": from.WaID, "id": id, "timestamp": strconv.FormatInt(s.Now().Unix(), 10), "type": "unsupported",
		"errors": []map[string]any{{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
			"error_data": map[string]any{"details": "Message type is currently not supported."}}}}
	c := contactJSON{WaID: from.WaID}
	c.Profile.Name = from.Name
	return s.body(value{Contacts: []contactJSON{c}, Messages: []map[string]any{m}})
}

// ChangedNumberWebhook builds the system message telling that a user moved
// from oldWaID to newWaID.
func (s *Server) ChangedNumberWebhook(oldWaID, newWaID, id string) []byte {
	if id == "" {
		id = s.NewMessageID()
	}
	m := map[string]any{"from": oldWaID, "id": id, "timestamp": strconv.FormatInt(s.Now().Unix(), 10), "type": "system",
		"system": map[string]any{"body": "User changed from " + oldWaID + " to " + newWaID, "wa_id": newWaID, "type": "user_changed_number"}}
	return s.body(value{Messages: []map[string]any{m}})
}

// StatusWebhook builds a call carrying delivery reports.
func (s *Server) StatusWebhook(sts ...Status) []byte {
	var out []map[string]any
	for _, st := range sts {
		m := map[string]any{"id": st.ID, "status": st.Status, "timestamp": strconv.FormatInt(s.Now().Unix(), 10),
			"recipient_id": st.RecipientID}
		if st.Opaque != "" {
			m["biz_opaque_callback_data"] = st.Opaque
		}
		if st.Status != "failed" {
			m["pricing"] = map[string]any{"billable": true, "pricing_model": "PMP", "category": "service"}
		}
		if st.ErrorCode != 0 {
			e := map[string]any{"code": st.ErrorCode, "title": st.ErrorTitle, "message": st.ErrorTitle}
			if st.ErrorDetails != "" {
				e["error_data"] = map[string]any{"details": st.ErrorDetails}
			}
			m["errors"] = []map[string]any{e}
		}
		out = append(out, m)
	}
	return s.body(value{Statuses: out})
}

// ErrorsWebhook builds a call with only top-level errors (a rate limit).
func (s *Server) ErrorsWebhook(code int, title string) []byte {
	return s.body(value{Errors: []map[string]any{{"code": code, "title": title, "message": title}}})
}

// StatusFor builds the report of a message the fake sent (by its wamid),
// echoing its recipient and biz_opaque_callback_data.
func (s *Server) StatusFor(wamid, status string) Status {
	st := Status{ID: wamid, Status: status}
	for _, m := range s.Sent() {
		if m.ID == wamid {
			st.RecipientID, st.Opaque = m.To, m.Opaque
		}
	}
	return st
}

// Post sends a webhook body to WebhookURL signed with the app secret, and
// notes the senders of the messages in it as having written now (the
// 24-hour window). It returns the answer's status and body.
func (s *Server) Post(body []byte) (int, []byte, error) {
	return s.PostSigned(body, Sign(s.o.AppSecret, body))
}

// PostSigned sends a webhook body with the given X-Hub-Signature-256.
func (s *Server) PostSigned(body []byte, signature string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, s.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 {
		s.noteInbound(body)
	}
	return resp.StatusCode, rb, nil
}

func (s *Server) noteInbound(body []byte) {
	var env struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []struct {
						From string `json:"from"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &env) != nil {
		return
	}
	now := s.Now()
	for _, e := range env.Entry {
		for _, c := range e.Changes {
			for _, m := range c.Value.Messages {
				if m.From != "" {
					s.Inbound(m.From, now)
				}
			}
		}
	}
}

// Deliver posts delivery reports for a message the fake sent, one call per
// status, in the order given.
func (s *Server) Deliver(wamid string, statuses ...string) error {
	for _, st := range statuses {
		code, rb, err := s.Post(s.StatusWebhook(s.StatusFor(wamid, st)))
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("webhook answered %d: %s", code, rb)
		}
	}
	return nil
}

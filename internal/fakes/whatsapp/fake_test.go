package whatsapp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestEscapeNonASCII(t *testing.T) {
	got := string(EscapeNonASCII([]byte(`{"body":"Işık, İstanbul'a 🙏"}`)))
	want := `{"body":"I\u015f\u0131k, \u0130stanbul'a \ud83d\ude4f"}`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	var v struct{ Body string }
	if err := json.Unmarshal([]byte(got), &v); err != nil || v.Body != "Işık, İstanbul'a 🙏" {
		t.Fatalf("round trip: %q %v", v.Body, err)
	}
}

func send(t *testing.T, s *Server, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.BaseURL+"/"+s.Options().PhoneNumberID+"/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func code(out map[string]any) float64 {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

func TestMessagesAndWindow(t *testing.T) {
	s := New(Options{EnforceWindow: true})
	defer s.Close()
	text := `{"messaging_product":"whatsapp","to":"905321234567","type":"text","text":{"body":"Merhaba"},"biz_opaque_callback_data":"k-1"}`
	tmpl := `{"messaging_product":"whatsapp","to":"905321234567","type":"template","template":{"name":"hello","language":{"code":"tr"},` +
		`"components":[{"type":"body","parameters":[{"type":"text","text":"Ayşe"}]}]}}`
	cases := []struct {
		name   string
		before func()
		token  string
		body   string
		status int
		code   float64
	}{
		{name: "no token", token: "x", body: text, status: 401, code: 190},
		{name: "never wrote: window closed", token: "test-access-token", body: text, status: 400, code: 131047},
		{name: "template goes anyway", token: "test-access-token", body: tmpl, status: 200},
		{name: "wrote just now", before: func() { s.Inbound("905321234567", s.Now()) }, token: "test-access-token", body: text, status: 200},
		{name: "25 hours later", before: func() { s.Advance(25 * time.Hour) }, token: "test-access-token", body: text, status: 400, code: 131047},
		{name: "scripted 429", before: func() { s.Fail(Messages, Failure{Status: 429, Code: 130429}) }, token: "test-access-token", body: tmpl, status: 429, code: 130429},
		{name: "scripted pass", before: func() { s.Fail(Messages, Failure{Status: 200}) }, token: "test-access-token", body: tmpl, status: 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.before != nil {
				c.before()
			}
			st, out := send(t, s, c.token, c.body)
			if st != c.status || code(out) != c.code {
				t.Fatalf("%d %v", st, out)
			}
			if st == 200 {
				id := out["messages"].([]any)[0].(map[string]any)["id"].(string)
				if !strings.HasPrefix(id, "wamid.") {
					t.Fatalf("id %s", id)
				}
			}
		})
	}
	var accepted []Sent
	for _, m := range s.Sent() {
		if !m.Refused {
			accepted = append(accepted, m)
		}
	}
	if len(accepted) != 3 || accepted[0].Template != "hello" || accepted[0].Params[0] != "Ayşe" || accepted[1].Opaque != "k-1" || accepted[1].Text != "Merhaba" {
		t.Fatalf("sent %+v", accepted)
	}
	if s.Requests(Messages) != len(cases) {
		t.Fatalf("%d requests", s.Requests(Messages))
	}
}

func TestMedia(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	sum := s.AddMedia("77", "image/png", []byte("PNG"))
	get := func(u, token string) (int, []byte) {
		req, _ := http.NewRequest("GET", u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	st, b := get(s.BaseURL+"/77", "test-access-token")
	var info struct {
		URL      string `json:"url"`
		MimeType string `json:"mime_type"`
		SHA256   string `json:"sha256"`
	}
	_ = json.Unmarshal(b, &info)
	if st != 200 || info.SHA256 != sum || info.MimeType != "image/png" || !strings.HasPrefix(info.URL, s.URL) {
		t.Fatalf("info %d %s", st, b)
	}
	if st, _ := get(info.URL, ""); st != 401 {
		t.Fatalf("download without token: %d", st)
	}
	if st, b := get(info.URL, "test-access-token"); st != 200 || string(b) != "PNG" || s.Downloads("77") != 1 {
		t.Fatalf("download: %d %q", st, b)
	}
	s.Advance(6 * time.Minute)
	if st, _ := get(info.URL, "test-access-token"); st != 404 {
		t.Fatalf("expired URL: %d", st)
	}
	if st, _ := get(s.BaseURL+"/78", "test-access-token"); st != 404 {
		t.Fatalf("unknown media: %d", st)
	}
	if st, b := get(s.BaseURL+"/"+s.Options().PhoneNumberID, "test-access-token"); st != 200 || !strings.Contains(string(b), `"display_phone_number":"15550783881"`) {
		t.Fatalf("phone number: %d %s", st, b)
	}
}

func TestPostSignsAndNotesInbound(t *testing.T) {
	var got []byte
	var sig string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		sig = r.Header.Get("X-Hub-Signature-256")
	}))
	defer hook.Close()
	s := New(Options{EnforceWindow: true})
	defer s.Close()
	s.WebhookURL = hook.URL
	body := s.TextWebhook(Contact{WaID: "905321234567", Name: "Ayşe"}, "wamid.X", "Çok teşekkürler 🙏")
	if !bytes.Contains(body, []byte(`"body":"\u00c7ok te\u015fekk\u00fcrler \ud83d\ude4f"`)) || !bytes.Contains(body, []byte(`"phone_number_id":"106540352242922"`)) {
		t.Fatalf("body %s", body)
	}
	if code, _, err := s.Post(body); err != nil || code != 200 {
		t.Fatalf("post: %d %v", code, err)
	}
	if !bytes.Equal(got, body) || sig != Sign("test-app-secret", body) {
		t.Fatalf("received %s with %s", got, sig)
	}
	// The post opened the user's window at the fake.
	if st, _ := send(t, s, "test-access-token", `{"messaging_product":"whatsapp","to":"905321234567","type":"text","text":{"body":"x"}}`); st != 200 {
		t.Fatalf("after the inbound message: %d", st)
	}
	for name, b := range map[string][]byte{
		"image":    s.ImageWebhook(Contact{WaID: "1"}, "", "77", "c"),
		"location": s.LocationWebhook(Contact{WaID: "1"}, "", 41, 29, "n", "a"),
		"unknown":  s.UnknownWebhook(Contact{WaID: "1"}, ""),
		"system":   s.ChangedNumberWebhook("1", "2", ""),
		"statuses": s.StatusWebhook(Status{ID: "wamid.1", Status: "failed", ErrorCode: 131026, ErrorTitle: "Message undeliverable"}),
		"errors":   s.ErrorsWebhook(130429, "Rate limit hit"),
	} {
		if !json.Valid(b) || !bytes.HasPrefix(b, []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp"`)) {
			t.Errorf("%s: %s", name, b)
		}
	}
}

package telegram_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	fake "github.com/kanal-dev/kanal/internal/fakes/telegram"
)

type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func do(t *testing.T, req *http.Request) (int, answer) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return resp.StatusCode, a
}

func TestEncodings(t *testing.T) {
	s := fake.New(t, "123:TEST")
	base := s.URL + "/bot123:TEST/"
	text := "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"

	jsonReq, _ := http.NewRequest("POST", base+"sendMessage", strings.NewReader(`{"chat_id":1111,"text":"`+text+`"}`))
	jsonReq.Header.Set("Content-Type", "application/json")

	formReq, _ := http.NewRequest("POST", base+"sendMessage", strings.NewReader(url.Values{"chat_id": {"1111"}, "text": {text}}.Encode()))
	formReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("chat_id", "1111")
	_ = mw.WriteField("caption", text)
	fw, _ := mw.CreateFormFile("photo", "a.jpg")
	_, _ = fw.Write([]byte("JPEG"))
	_ = mw.Close()
	multiReq, _ := http.NewRequest("POST", base+"sendPhoto", &buf)
	multiReq.Header.Set("Content-Type", mw.FormDataContentType())

	for _, tc := range []struct {
		name, encoding, field string
		req                   *http.Request
	}{
		{"json", "json", "text", jsonReq},
		{"urlencoded", "form", "text", formReq},
		{"multipart", "multipart", "caption", multiReq},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, a := do(t, tc.req)
			if st != 200 || !a.OK {
				t.Fatalf("%d %+v", st, a)
			}
			calls := s.Calls("")
			c := calls[len(calls)-1]
			if c.Encoding != tc.encoding || c.Params["chat_id"] != "1111" || c.Params[tc.field] != text {
				t.Fatalf("call %+v", c)
			}
		})
	}
	if got := s.Calls("sendPhoto")[0].Files["photo"]; string(got) != "JPEG" {
		t.Fatalf("upload %q", got)
	}
}

func TestScripts(t *testing.T) {
	s := fake.New(t, "123:TEST")
	post := func(token, method, body string) (int, answer) {
		req, _ := http.NewRequest("POST", s.URL+"/bot"+token+"/"+method, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return do(t, req)
	}
	s.TooMany("sendMessage", 7)
	s.Block(2222)
	s.AddFile(fake.File{ID: "F1", Path: "photos/file_1.jpg", ContentType: "image/jpeg", Body: []byte("JPEG!")})
	cases := []struct {
		name, token, method, body string
		status                    int
		check                     func(a answer) bool
	}{
		{"429 once", "123:TEST", "sendMessage", `{"chat_id":1,"text":"a"}`, 429, func(a answer) bool { return a.Parameters.RetryAfter == 7 }},
		{"then ok", "123:TEST", "sendMessage", `{"chat_id":1,"text":"a"}`, 200, func(a answer) bool { return a.OK }},
		{"blocked", "123:TEST", "sendMessage", `{"chat_id":2222,"text":"a"}`, 403,
			func(a answer) bool { return a.Description == "Forbidden: bot was blocked by the user" }},
		{"wrong token", "999:NOPE", "getMe", `{}`, 401, func(a answer) bool { return a.Description == "Unauthorized" }},
		{"unknown method", "123:TEST", "sendTelepathy", `{}`, 404, func(a answer) bool { return !a.OK }},
		{"empty text", "123:TEST", "sendMessage", `{"chat_id":1,"text":""}`, 400, func(a answer) bool { return !a.OK }},
		{"too long", "123:TEST", "sendMessage", `{"chat_id":1,"text":"` + strings.Repeat("🙏", 2049) + `"}`, 400,
			func(a answer) bool { return a.Description == "Bad Request: message is too long" }},
		{"getFile", "123:TEST", "getFile", `{"file_id":"F1"}`, 200, func(a answer) bool { return strings.Contains(string(a.Result), "photos/file_1.jpg") }},
		{"bad file", "123:TEST", "getFile", `{"file_id":"nope"}`, 400, func(a answer) bool { return !a.OK }},
		{"getMe", "123:TEST", "getMe", `{}`, 200, func(a answer) bool { return strings.Contains(string(a.Result), "kanal_test_bot") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, a := post(tc.token, tc.method, tc.body)
			if st != tc.status || !tc.check(a) {
				t.Fatalf("%d %+v", st, a)
			}
		})
	}
	resp, err := http.Get(s.URL + "/file/bot123:TEST/photos/file_1.jpg")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "JPEG!" || s.Downloads("photos/file_1.jpg") != 1 {
		t.Fatalf("download %q, %d", b, s.Downloads("photos/file_1.jpg"))
	}
}

func TestDeliver(t *testing.T) {
	var got struct {
		secret string
		body   []byte
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.secret = r.Header.Get(fake.SecretHeader)
		got.body, _ = io.ReadAll(r.Body)
	}))
	defer hook.Close()
	s := fake.New(t, "123:TEST")
	req, _ := http.NewRequest("POST", s.URL+"/bot123:TEST/setWebhook", strings.NewReader(url.Values{
		"url": {hook.URL}, "secret_token": {"s3cret_-"}, "allowed_updates": {`["message"]`}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if st, a := do(t, req); st != 200 || !a.OK {
		t.Fatalf("setWebhook %d %+v", st, a)
	}
	if w := s.Webhook(); w.SecretToken != "s3cret_-" || len(w.AllowedUpdates) != 1 {
		t.Fatalf("webhook %+v", w)
	}
	u := fake.Text(7, 42, fake.User{ID: 1111, FirstName: "Ayşe"}, "Merhaba <dünya>")
	if st, _, err := s.Deliver(u); err != nil || st != 200 {
		t.Fatalf("deliver %d %v", st, err)
	}
	if got.secret != "s3cret_-" || !bytes.Equal(got.body, u) || !strings.Contains(string(u), "Merhaba <dünya>") {
		t.Fatalf("delivered %q with %q", got.body, got.secret)
	}
}

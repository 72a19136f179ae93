package meta

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestEscapeLikeMeta(t *testing.T) {
	text := "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏 https://kanal.example/a"
	h := MessengerHook("http://127.0.0.1/none", "s", "1")
	body := h.Body(h.Text("m_1", "2", text, time.UnixMilli(1739321024123)))
	for _, want := range []string{`I\u015f\u0131k`, `\u0130stanbul`, `\ud83d\ude4f`, `https:\/\/kanal.example\/a`, `"timestamp":1739321024123`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	for _, r := range string(body) {
		if r > 0x7f {
			t.Fatalf("non-ASCII %q in %s", r, body)
		}
	}
	var back struct {
		Entry []struct {
			Messaging []struct {
				Message struct{ Text string }
			}
		}
	}
	if err := json.Unmarshal(body, &back); err != nil || back.Entry[0].Messaging[0].Message.Text != text {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	if s := Sign("s", body); !strings.HasPrefix(s, "sha256=") || len(s) != 7+64 {
		t.Fatalf("signature %s", s)
	}
}

func TestScriptedFailures(t *testing.T) {
	s := Start(t)
	s.Fail(OutsideWindow, TooMany)
	post := func() (int, string) {
		req, _ := http.NewRequest("POST", s.BaseURL()+"/1/messages", strings.NewReader(`{"recipient":{"id":"9"},"message":{"text":"x"}}`))
		req.Header.Set("Authorization", "Bearer t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if e, ok := out["error"].(map[string]any); ok {
			return resp.StatusCode, jsonString(e["code"])
		}
		return resp.StatusCode, out["message_id"].(string)
	}
	if st, code := post(); st != 400 || code != "10" {
		t.Fatalf("first: %d %s", st, code)
	}
	if st, code := post(); st != 429 || code != "4" {
		t.Fatalf("second: %d %s", st, code)
	}
	if st, id := post(); st != 200 || id != "m_fake000001" {
		t.Fatalf("third: %d %s", st, id)
	}
	if sent := s.SentTo("9"); len(sent) != 3 || sent[2].MessageID != "m_fake000001" || sent[0].MessageID != "" || sent[2].Token != "t" {
		t.Fatalf("sent %+v", sent)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

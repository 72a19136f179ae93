package fakenetgsm

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, f *Server, method, path, user, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, f.URL+path, strings.NewReader(body))
	req.SetBasicAuth(user, "p")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFake(t *testing.T) {
	f := New(t, "u", "p")
	send := `{"msgheader":"KANAL","encoding":"TR","iysfilter":"0","messages":[{"msg":"Merhaba","no":"5321234567"}]}`
	cases := []struct {
		name, method, path, user, body, code string
		script                               func()
	}{
		{"send", "POST", "/sms/rest/v2/send", "u", send, "00", nil},
		{"send with +90", "POST", "/sms/rest/v2/send", "u", strings.Replace(send, "5321234567", "+905321234567", 1), "70", nil},
		{"send unknown header", "POST", "/sms/rest/v2/send", "u", strings.Replace(send, "KANAL", "OTHER", 1), "40", nil},
		{"send wrong user", "POST", "/sms/rest/v2/send", "x", send, "30", nil},
		{"send scripted 80", "POST", "/sms/rest/v2/send", "u", send, "80", func() { f.FailSend("80") }},
		{"empty inbox", "GET", "/sms/rest/v2/inbox?startdate=15032026130000&stopdate=15032026140000", "u", "", "40", nil},
		{"inbox with 12-digit dates", "GET", "/sms/rest/v2/inbox?startdate=150320261300&stopdate=150320261400", "u", "", "70", nil},
		{"report of nothing", "POST", "/sms/rest/v2/report", "u", `{"jobids":["1"],"startdate":"x","stopdate":"y"}`, "60", nil},
		{"msgheader", "GET", "/sms/rest/v2/msgheader", "u", "", "00", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.script != nil {
				c.script()
			}
			if out := call(t, f, c.method, c.path, c.user, c.body); out["code"] != c.code {
				t.Fatalf("%v", out)
			}
		})
	}
	job := f.Sent()[0].JobID
	f.SetReport(job, 16, 0)
	out := call(t, f, "POST", "/sms/rest/v2/report", "u", `{"jobids":["`+job+`"],"startdate":"x","stopdate":"y"}`)
	if jobs := out["jobs"].([]any); len(jobs) != 1 || jobs[0].(map[string]any)["status"] != float64(16) {
		t.Fatalf("%v", out)
	}
	f.Receive("905321234567", "8501234567", "Merhaba", time.Date(2026, 3, 15, 13, 30, 0, 0, turkey))
	out = call(t, f, "GET", "/sms/rest/v2/inbox?startdate=15032026130000&stopdate=15032026140000", "u", "")
	if msgs := out["messages"].([]any); len(msgs) != 1 || msgs[0].(map[string]any)["datetime"] != "15.03.2026 13:30:00" {
		t.Fatalf("%v", out)
	}
}

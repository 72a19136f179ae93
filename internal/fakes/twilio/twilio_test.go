package faketwilio

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const sid = "AC0123456789abcdef0123456789abcdef"

func TestSignMatchesPublishedVector(t *testing.T) {
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
		"From": {"+14158675309"}, "To": {"+18005551212"}, "Reason": {"Participant"}, "ReasonConferenceEnded": {"test"}}
	if got := Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params); got != "vOEb5UThFn24KEfnOFLQY2AE5FY=" {
		t.Fatalf("Sign = %s", got)
	}
	if s := Scrambled(url.Values{"A": {"1"}, "B": {"2 +"}}); s != "B=2+%2B&A=1" {
		t.Fatalf("Scrambled = %s", s)
	}
}

func TestMessagesAPI(t *testing.T) {
	f := New(t, sid, "tok")
	post := func(user, pass string, form url.Values) (int, map[string]any) {
		req, _ := http.NewRequest("POST", f.URL+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	form := url.Values{"To": {"+905321234567"}, "From": {"+908501234567"}, "Body": {"Merhaba"}}
	cases := []struct {
		name   string
		user   string
		fail   *Failure
		status int
		code   float64
	}{
		{"ok", sid, nil, 201, 0},
		{"wrong token", "ACx", nil, 401, 20003},
		{"scripted 21610", sid, &Failure{Status: 400, Code: 21610, Message: "unsubscribed"}, 400, 21610},
		{"scripted 500 without a code", sid, &Failure{Status: 500}, 500, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fail != nil {
				f.Fail(*c.fail)
			}
			pass := "tok"
			if c.user != sid {
				pass = "nope"
			}
			st, out := post(c.user, pass, form)
			if st != c.status || (c.code != 0 && out["code"] != c.code) {
				t.Fatalf("%d %v", st, out)
			}
			if st == 201 && !strings.HasPrefix(out["sid"].(string), "SM") {
				t.Fatalf("sid %v", out["sid"])
			}
		})
	}
	if n := len(f.Sent()); n != 3 { // the unauthenticated call is not recorded
		t.Fatalf("%d recorded", n)
	}
}

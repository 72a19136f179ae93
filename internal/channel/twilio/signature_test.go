package twilio

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// The published vectors of Twilio's request validator (twilio-go
// client/request_validator_test.go), as listed in the channel contracts.
func TestSignatureVectors(t *testing.T) {
	const token = "12345"
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	params := url.Values{
		"CallSid":               {"CA1234567890ABCDE"},
		"Caller":                {"+14158675309"},
		"Digits":                {"1234"},
		"From":                  {"+14158675309"},
		"To":                    {"+18005551212"},
		"Reason":                {"Participant"},
		"ReasonConferenceEnded": {"test"},
	}
	cases := []struct {
		name  string
		url   string
		sig   string
		valid bool
	}{
		{"https", u, "vOEb5UThFn24KEfnOFLQY2AE5FY=", true},
		{"https with a port the signature lacks", strings.Replace(u, ".com", ".com:1234", 1), "vOEb5UThFn24KEfnOFLQY2AE5FY=", true},
		{"https with the default port", strings.Replace(u, ".com", ".com:443", 1), "vOEb5UThFn24KEfnOFLQY2AE5FY=", true},
		{"http", strings.Replace(u, "https", "http", 1), "n2xBNyzSW7rfYStDtOFiFMv7qNo=", true},
		{"http signature on the https URL", u, "n2xBNyzSW7rfYStDtOFiFMv7qNo=", false},
		{"sorting trap: ReasonConferenceEnded before Reason", u, "95+Bu0JVPi0r/SsESZCVf0dWAjw=", false},
		{"other path", "https://mycompany.com/other.php?foo=1&bar=2", "vOEb5UThFn24KEfnOFLQY2AE5FY=", false},
		{"empty", u, "", false},
		{"extended", u, "vOEb5UThFn24KEfnOFLQY2AE5FY=x", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ValidSignature(token, c.url, params, c.sig); got != c.valid {
				t.Fatalf("ValidSignature = %v, want %v", got, c.valid)
			}
		})
	}
	if got := Signature(token, u, params); got != "vOEb5UThFn24KEfnOFLQY2AE5FY=" {
		t.Fatalf("Signature = %s", got)
	}
	t.Run("unknown parameters are signed too", func(t *testing.T) {
		more := url.Values{}
		for k, v := range params {
			more[k] = v
		}
		more.Set("NewParamTwilioAddedToday", "x")
		if ValidSignature(token, u, more, "vOEb5UThFn24KEfnOFLQY2AE5FY=") {
			t.Fatal("a parameter left out of the signature")
		}
	})
	t.Run("repeated names: every value in order", func(t *testing.T) {
		rep := url.Values{"A": {"1", "2"}, "B": {"3"}}
		if Signature(token, u, rep) != Signature(token, u+"A1A2B3", nil) {
			t.Fatal("repeated values are not appended in order")
		}
		if Signature(token, u, rep) == Signature(token, u, url.Values{"A": {"2", "1"}, "B": {"3"}}) {
			t.Fatal("the order of repeated values does not count")
		}
	})
}

func TestBodySignatureVector(t *testing.T) {
	const hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
	body := []byte(`{"property": "value", "boolean": true}`)
	u := "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=" + hash
	cases := []struct {
		name  string
		url   string
		body  []byte
		sig   string
		valid bool
	}{
		{"published", u, body, "a9nBmqA0ju/hNViExpshrM61xv4=", true},
		{"another body", u, []byte(`{"property": "other", "boolean": true}`), "a9nBmqA0ju/hNViExpshrM61xv4=", false},
		{"no hash in the URL", "https://mycompany.com/myapp.php?foo=1&bar=2", body, "a9nBmqA0ju/hNViExpshrM61xv4=", false},
		{"wrong signature", u, body, "vOEb5UThFn24KEfnOFLQY2AE5FY=", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ValidBodySignature("12345", c.url, c.body, c.sig); got != c.valid {
				t.Fatalf("ValidBodySignature = %v, want %v", got, c.valid)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	a := NewTwilio(nil, "")
	in := inbox.Inbox{Type: TypeName, PublicKey: "k1", Config: map[string]any{KeyAccountSID: testSID},
		Secrets: map[string]string{KeyAuthToken: "tok"}}
	form := url.Values{"MessageSid": {"SM1"}, "AccountSid": {testSID}, "From": {"+905321234567"}, "Body": {"Merhaba"}}
	const public = "https://kanal.example.com"
	hook := public + "/webhooks/twilio/k1"
	req := func(target, body, sig, ctype string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		r.Host = "internal-host:8080" // what a proxy forwards; never signed
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if sig != "" {
			r.Header.Set(SignatureHeader, sig)
		}
		return r
	}
	const formType = "application/x-www-form-urlencoded"
	cases := []struct {
		name   string
		public string
		target string
		body   string
		sig    string
		ctype  string
		ok     bool
	}{
		{"signed over the public URL", public, "/webhooks/twilio/k1", form.Encode(), Signature("tok", hook, form), formType, true},
		{"public URL with a trailing slash", public + "/", "/webhooks/twilio/k1", form.Encode(), Signature("tok", hook, form), formType, true},
		{"query string is part of the URL", public, "/webhooks/twilio/k1?x=1", form.Encode(), Signature("tok", hook+"?x=1", form), formType, true},
		{"signed with the default port", public, "/webhooks/twilio/k1", form.Encode(), Signature("tok", "https://kanal.example.com:443/webhooks/twilio/k1", form), formType, true},
		{"signed over the Host header instead", public, "/webhooks/twilio/k1", form.Encode(), Signature("tok", "http://internal-host:8080/webhooks/twilio/k1", form), formType, false},
		{"other token", public, "/webhooks/twilio/k1", form.Encode(), Signature("other", hook, form), formType, false},
		{"no signature", public, "/webhooks/twilio/k1", form.Encode(), "", formType, false},
		{"tampered body", public, "/webhooks/twilio/k1", strings.Replace(form.Encode(), "Merhaba", "Hello", 1), Signature("tok", hook, form), formType, false},
		{"no content type", public, "/webhooks/twilio/k1", form.Encode(), Signature("tok", hook, form), "", true},
		{"json body with bodySHA256", public, "/webhooks/twilio/k1?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620",
			`{"property": "value", "boolean": true}`,
			Signature("tok", hook+"?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", nil), "application/json", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := a.Verify(in, req(c.target, c.body, c.sig, c.ctype), c.public, []byte(c.body))
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok && !errors.Is(err, channel.ErrBadSignature) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
		})
	}
}

package twilio

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	faketwilio "github.com/kanal-dev/kanal/internal/fakes/twilio"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// retryDelay digs the delay out of a jobs.RetryAfter error (the jobs
// package keeps it unexported).
func retryDelay(err error) (time.Duration, bool) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		v := reflect.ValueOf(e)
		if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct && v.Elem().Type().Name() == "retryAfterError" {
			return time.Duration(v.Elem().FieldByName("d").Int()), true
		}
	}
	return 0, false
}

func fakeInbox(f *faketwilio.Server, from string) inbox.Inbox {
	in := testInbox()
	in.Config[KeyFrom] = from
	in.Config[KeyAPIBaseURL] = f.URL
	in.Secrets[KeyAuthToken] = f.AuthToken
	return in
}

func outbound(in inbox.Inbox, text string) channel.Outbound {
	now := time.Now().UnixMilli()
	return channel.Outbound{Inbox: in,
		Conversation: conversation.Conversation{ID: "c1", LastInboundAt: &now},
		Customer: customer.Customer{ID: "cu1", Identities: []customer.Identity{
			{Kind: customer.KindWhatsApp, Value: "+905321234567", Normalized: "+905321234567"},
			{Kind: customer.KindPhone, Value: "0532 123 45 67", Normalized: "+905321234567"}}},
		Message: conversation.Message{ID: "m1", Text: text, Attachments: []conversation.Attachment{}}}
}

func TestSendPayload(t *testing.T) {
	f := faketwilio.New(t, testSID, "tok")
	a := NewTwilio(nil, "https://kanal.example.com/")
	const turkish = "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"
	cases := []struct {
		name string
		from string
		edit func(o *channel.Outbound)
		want map[string][]string
	}{
		{"sms", "+908501234567", nil, map[string][]string{"To": {"+905321234567"}, "From": {"+908501234567"}, "Body": {turkish},
			"StatusCallback": {"https://kanal.example.com/webhooks/twilio/k1"}}},
		{"messaging service", "MG0123456789abcdef0123456789abcdef", nil, map[string][]string{"To": {"+905321234567"},
			"MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {turkish}, "StatusCallback": {"https://kanal.example.com/webhooks/twilio/k1"}}},
		{"whatsapp", "whatsapp:+908501234567", nil, map[string][]string{"To": {"whatsapp:+905321234567"}, "From": {"whatsapp:+908501234567"},
			"Body": {turkish}, "StatusCallback": {"https://kanal.example.com/webhooks/twilio/k1"}}},
		{"media: absolute URLs only", "+908501234567", func(o *channel.Outbound) {
			o.Message.Attachments = []conversation.Attachment{{URL: "https://cdn.example.com/a.jpg"}, {URL: "/api/v1/media/x"}, {URL: "https://cdn.example.com/b.pdf"}}
		}, map[string][]string{"To": {"+905321234567"}, "From": {"+908501234567"}, "Body": {turkish},
			"MediaUrl": {"https://cdn.example.com/a.jpg", "https://cdn.example.com/b.pdf"}, "StatusCallback": {"https://kanal.example.com/webhooks/twilio/k1"}}},
		{"whatsapp template outside the window", "whatsapp:+908501234567", func(o *channel.Outbound) {
			old := time.Now().Add(-48 * time.Hour).UnixMilli()
			o.Conversation.LastInboundAt = &old
			o.Message.ContentType, o.Message.Text = "template", "HXb5b62575e6e4ff6129ad7c8efe1f983e"
			o.Message.Raw = `{"name":"HXb5b62575e6e4ff6129ad7c8efe1f983e","language":"tr","params":["Ayşe","12345"]}`
		}, map[string][]string{"To": {"whatsapp:+905321234567"}, "From": {"whatsapp:+908501234567"},
			"ContentSid": {"HXb5b62575e6e4ff6129ad7c8efe1f983e"}, "ContentVariables": {`{"1":"Ayşe","2":"12345"}`},
			"StatusCallback": {"https://kanal.example.com/webhooks/twilio/k1"}}},
		{"phone from the profile", "+908501234567", func(o *channel.Outbound) {
			o.Customer.Identities, o.Customer.Phone = nil, "+905551112233"
		}, map[string][]string{"To": {"+905551112233"}, "From": {"+908501234567"}, "Body": {turkish},
			"StatusCallback": {"https://kanal.example.com/webhooks/twilio/k1"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := outbound(fakeInbox(f, c.from), turkish)
			if c.edit != nil {
				c.edit(&o)
			}
			id, err := a.Send(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			sent := f.Sent()
			last := sent[len(sent)-1]
			if id == "" || id != last.SID {
				t.Fatalf("provider id %q, fake answered %q", id, last.SID)
			}
			if last.User != testSID || last.Password != "tok" {
				t.Fatalf("basic auth %s:%s", last.User, last.Password)
			}
			if !reflect.DeepEqual(map[string][]string(last.Form), c.want) {
				t.Fatalf("form:\n got %v\nwant %v", last.Form, c.want)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	f := faketwilio.New(t, testSID, "tok")
	a := NewTwilio(nil, "https://kanal.example.com")
	cases := []struct {
		name      string
		fail      *faketwilio.Failure
		edit      func(o *channel.Outbound)
		permanent bool
		retry     time.Duration // > 0: a RetryAfter with this delay
		text      string        // in the error
	}{
		{name: "429 with Retry-After", fail: &faketwilio.Failure{Status: 429, Code: 20429, Message: "Too Many Requests", RetryAfter: "7"}, retry: 7 * time.Second, text: "20429"},
		{name: "429 without a code", fail: &faketwilio.Failure{Status: 429}, retry: time.Second},
		{name: "code 20429 on another status", fail: &faketwilio.Failure{Status: 400, Code: 20429, Message: "Too Many Requests"}, retry: time.Second},
		{name: "500", fail: &faketwilio.Failure{Status: 500}, text: "500"},
		{name: "503 with a code", fail: &faketwilio.Failure{Status: 503, Code: 20500, Message: "Internal Server Error"}, text: "20500"},
		{name: "invalid number", fail: &faketwilio.Failure{Status: 400, Code: 21211, Message: "The 'To' number +9053 is not a valid phone number."},
			permanent: true, text: "twilio 21211: The 'To' number +9053 is not a valid phone number."},
		{name: "unsubscribed", fail: &faketwilio.Failure{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"},
			permanent: true, text: "21610: Attempt to send to unsubscribed recipient"},
		{name: "not a mobile", fail: &faketwilio.Failure{Status: 400, Code: 21614, Message: "'To' number is not a valid mobile number"},
			permanent: true, text: "21614"},
		{name: "bad credentials", fail: &faketwilio.Failure{Status: 401, Code: 20003, Message: "Authenticate"}, permanent: true, text: "20003"},
		{name: "whatsapp window closed", edit: func(o *channel.Outbound) {
			o.Inbox.Config[KeyFrom] = "whatsapp:+908501234567"
			old := time.Now().Add(-25 * time.Hour).UnixMilli()
			o.Conversation.LastInboundAt = &old
		}, permanent: true, text: "reply window closed"},
		{name: "whatsapp with no inbound ever", edit: func(o *channel.Outbound) {
			o.Inbox.Config[KeyFrom] = "whatsapp:+908501234567"
			o.Conversation.LastInboundAt = nil
		}, permanent: true, text: "reply window closed"},
		{name: "template that is not a Content SID", edit: func(o *channel.Outbound) {
			o.Message.ContentType, o.Message.Raw = "template", `{"name":"siparis_durumu","language":"tr"}`
		}, permanent: true, text: "Content SID"},
		{name: "no phone", edit: func(o *channel.Outbound) { o.Customer.Identities = nil }, permanent: true, text: "no phone"},
		{name: "only Kanal-held attachments", edit: func(o *channel.Outbound) {
			o.Message.Text, o.Message.Attachments = "", []conversation.Attachment{{URL: "/api/v1/media/x"}}
		}, permanent: true, text: "nothing Twilio can send"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fail != nil {
				f.Fail(*c.fail)
			}
			o := outbound(fakeInbox(f, "+908501234567"), "Merhaba")
			if c.edit != nil {
				c.edit(&o)
			}
			_, err := a.Send(context.Background(), o)
			if err == nil {
				t.Fatal("sent")
			}
			if jobs.IsPermanent(err) != c.permanent {
				t.Fatalf("permanent = %v: %v", jobs.IsPermanent(err), err)
			}
			d, isRetry := retryDelay(err)
			if (c.retry > 0) != isRetry || d != c.retry {
				t.Fatalf("retry after %v (%v), want %v: %v", d, isRetry, c.retry, err)
			}
			if !strings.Contains(err.Error(), c.text) {
				t.Fatalf("error %q lacks %q", err, c.text)
			}
		})
	}
	t.Run("network error is retried", func(t *testing.T) {
		in := fakeInbox(f, "+908501234567")
		in.Config[KeyAPIBaseURL] = "http://127.0.0.1:1"
		_, err := a.Send(context.Background(), outbound(in, "Merhaba"))
		if err == nil || jobs.IsPermanent(err) {
			t.Fatalf("want a retryable error, got %v", err)
		}
	})
}

func TestFetchMedia(t *testing.T) {
	f := faketwilio.New(t, testSID, "tok")
	a := NewTwilio(nil, "")
	u := f.AddMedia("MM1", "image/jpeg", []byte("JPEG-bytes"))
	in := fakeInbox(f, "+908501234567")
	m, err := a.FetchMedia(context.Background(), in, u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(m.Body)
	m.Body.Close()
	if string(b) != "JPEG-bytes" || m.ContentType != "image/jpeg" || f.MediaFetches(u) != 1 {
		t.Fatalf("media %q %q, fetched %d times", b, m.ContentType, f.MediaFetches(u))
	}
	in.Secrets[KeyAuthToken] = "wrong"
	if _, err := a.FetchMedia(context.Background(), in, u); err == nil || !jobs.IsPermanent(err) {
		t.Fatalf("wrong credentials: %v", err)
	}
	in.Secrets[KeyAuthToken] = "tok"
	if _, err := a.FetchMedia(context.Background(), in, u+"x"); err == nil || !jobs.IsPermanent(err) {
		t.Fatalf("gone: %v", err)
	}
}

func TestTester(t *testing.T) {
	f := faketwilio.New(t, testSID, "tok")
	a := NewTwilio(nil, "")
	in := fakeInbox(f, "+908501234567")
	got, err := a.Test(context.Background(), in)
	if err != nil || got != "Kanal Test Account (+908501234567)" {
		t.Fatalf("test: %q %v", got, err)
	}
	in.Secrets[KeyAuthToken] = "wrong"
	if _, err := a.Test(context.Background(), in); err == nil || !strings.Contains(err.Error(), "20003") {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := map[string]any{KeyAccountSID: testSID, KeyFrom: "+908501234567"}
	sec := map[string]string{KeyAuthToken: "tok"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range ok {
			m[k] = v
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name  string
		cfg   map[string]any
		sec   map[string]string
		field string // "" = valid
	}{
		{"number", ok, sec, ""},
		{"whatsapp", with(KeyFrom, "whatsapp:+908501234567"), sec, ""},
		{"messaging service", with(KeyFrom, "MG0123456789abcdef0123456789abcdef"), sec, ""},
		{"api base", with(KeyAPIBaseURL, "http://127.0.0.1:9999"), sec, ""},
		{"no sid", with(KeyAccountSID, nil), sec, KeyAccountSID},
		{"bad sid", with(KeyAccountSID, "AC123"), sec, KeyAccountSID},
		{"national number", with(KeyFrom, "08501234567"), sec, KeyFrom},
		{"bad whatsapp", with(KeyFrom, "whatsapp:08501234567"), sec, KeyFrom},
		{"bad api base", with(KeyAPIBaseURL, "ftp://x"), sec, KeyAPIBaseURL},
		{"unknown key", with("callback_url", "https://x"), sec, "callback_url"},
		{"no token", ok, map[string]string{}, KeyAuthToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := validate(c.cfg, c.sec)
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("want an error on %s, got %v", c.field, err)
			}
		})
	}
}

// TestRedirectDropsCredentials: the media redirect to another host must not
// carry the account's credentials (net/http drops Authorization on a
// cross-host redirect).
func TestRedirectDropsCredentials(t *testing.T) {
	var gotAuth string
	store := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		_, _ = io.WriteString(w, "file")
	})
	st := newServer(t, store)
	twilioSide := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok {
			w.WriteHeader(401)
			return
		}
		http.Redirect(w, r, strings.Replace(st.URL, "127.0.0.1", "localhost", 1)+"/f", http.StatusTemporaryRedirect)
	}))
	in := testInbox()
	in.Config[KeyAPIBaseURL] = twilioSide.URL
	m, err := NewTwilio(nil, "").FetchMedia(context.Background(), in, twilioSide.URL+"/2010-04-01/Accounts/x/Messages/y/Media/z")
	if err != nil {
		t.Fatal(err)
	}
	m.Body.Close()
	if gotAuth != "" {
		t.Fatalf("credentials followed the redirect: %q", gotAuth)
	}
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

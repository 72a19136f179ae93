package twilio

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	"github.com/kanal-dev/kanal/internal/inbox"
)

const testSID = "AC0123456789abcdef0123456789abcdef"

func testInbox() inbox.Inbox {
	return inbox.Inbox{ID: "ib1", Type: TypeName, PublicKey: "k1",
		Config:  map[string]any{KeyAccountSID: testSID, KeyFrom: "+908501234567"},
		Secrets: map[string]string{KeyAuthToken: "tok"}}
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

func TestParse(t *testing.T) {
	a := NewTwilio(nil, "")
	cases := []struct {
		name     string
		body     string
		err      error // a wanted error; errMalformed: any other error
		messages []channel.Message
		statuses []channel.Status
	}{
		{name: "sms", body: form("MessageSid", "SM1", "SmsSid", "SM1", "AccountSid", testSID, "From", "+905321234567", "To", "+908501234567",
			"Body", "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏", "NumMedia", "0", "NumSegments", "2", "SmsStatus", "received", "FromCountry", "TR"),
			messages: []channel.Message{{ProviderID: "SM1", Text: "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏",
				Claims: []customer.Claim{{Kind: customer.KindPhone, Value: "+905321234567"}}}}},
		{name: "whatsapp", body: form("MessageSid", "SM2", "AccountSid", testSID, "From", "whatsapp:+905321234567", "To", "whatsapp:+908501234567",
			"Body", "Merhaba", "NumMedia", "0", "ProfileName", "Ayşe", "WaId", "905321234567"),
			messages: []channel.Message{{ProviderID: "SM2", Text: "Merhaba", Profile: customer.Profile{Name: "Ayşe"},
				Claims: []customer.Claim{{Kind: customer.KindPhone, Value: "+905321234567"}, {Kind: customer.KindWhatsApp, Value: "+905321234567"}}}}},
		{name: "mms with two files", body: form("MessageSid", "MM3", "AccountSid", testSID, "From", "+905321234567", "Body", "", "NumMedia", "2",
			"MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/"+testSID+"/Messages/MM3/Media/ME1", "MediaContentType0", "image/jpeg",
			"MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/"+testSID+"/Messages/MM3/Media/ME2", "MediaContentType1", "application/pdf"),
			messages: []channel.Message{{ProviderID: "MM3", ContentType: "image",
				Claims: []customer.Claim{{Kind: customer.KindPhone, Value: "+905321234567"}},
				Attachments: []conversation.Attachment{
					{Ref: "https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages/MM3/Media/ME1", ContentType: "image/jpeg", FileName: "ME1.jpg"},
					{Ref: "https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages/MM3/Media/ME2", ContentType: "application/pdf", FileName: "ME2.pdf"}}}}},
		{name: "whatsapp location", body: form("MessageSid", "SM4", "AccountSid", testSID, "From", "whatsapp:+905321234567", "Body", "", "NumMedia", "0",
			"Latitude", "41.0082", "Longitude", "28.9784", "Address", "Sultanahmet", "Label", "Ev"),
			messages: []channel.Message{{ProviderID: "SM4", ContentType: "location",
				Raw:    `{"address":"Sultanahmet","label":"Ev","latitude":"41.0082","longitude":"28.9784"}`,
				Claims: []customer.Claim{{Kind: customer.KindPhone, Value: "+905321234567"}, {Kind: customer.KindWhatsApp, Value: "+905321234567"}}}}},
		{name: "SmsSid only", body: form("SmsSid", "SM5", "AccountSid", testSID, "From", "+905321234567", "Body", "Selam"),
			messages: []channel.Message{{ProviderID: "SM5", Text: "Selam", Claims: []customer.Claim{{Kind: customer.KindPhone, Value: "+905321234567"}}}}},
		{name: "status sent", body: form("MessageSid", "SM9", "MessageStatus", "sent", "SmsStatus", "sent", "AccountSid", testSID),
			statuses: []channel.Status{{ProviderMessageID: "SM9", Status: "sent"}}},
		{name: "status delivered", body: form("MessageSid", "SM9", "MessageStatus", "delivered", "AccountSid", testSID),
			statuses: []channel.Status{{ProviderMessageID: "SM9", Status: "delivered"}}},
		{name: "status read", body: form("MessageSid", "SM9", "MessageStatus", "read", "AccountSid", testSID),
			statuses: []channel.Status{{ProviderMessageID: "SM9", Status: "read"}}},
		{name: "status undelivered", body: form("MessageSid", "SM9", "MessageStatus", "undelivered", "ErrorCode", "30003", "AccountSid", testSID),
			statuses: []channel.Status{{ProviderMessageID: "SM9", Status: "failed", Reason: "ErrorCode 30003"}}},
		{name: "status failed with a message", body: form("MessageSid", "SM9", "MessageStatus", "failed", "ErrorCode", "30007",
			"ErrorMessage", "Carrier violation", "AccountSid", testSID),
			statuses: []channel.Status{{ProviderMessageID: "SM9", Status: "failed", Reason: "ErrorCode 30007: Carrier violation"}}},
		{name: "status canceled", body: form("MessageSid", "SM9", "MessageStatus", "canceled", "AccountSid", testSID),
			statuses: []channel.Status{{ProviderMessageID: "SM9", Status: "failed", Reason: "canceled"}}},
		{name: "status queued is ignored", body: form("MessageSid", "SM9", "MessageStatus", "queued", "AccountSid", testSID)},
		{name: "status accepted is ignored", body: form("MessageSid", "SM9", "MessageStatus", "accepted", "AccountSid", testSID)},
		{name: "status scheduled is ignored", body: form("MessageSid", "SM9", "MessageStatus", "scheduled", "AccountSid", testSID)},
		{name: "status sending is ignored", body: form("MessageSid", "SM9", "MessageStatus", "sending", "AccountSid", testSID)},
		{name: "a status Twilio adds later is ignored", body: form("MessageSid", "SM9", "MessageStatus", "partially_delivered", "AccountSid", testSID)},
		{name: "other account", body: form("MessageSid", "SM1", "AccountSid", "AC00000000000000000000000000000000", "From", "+905321234567", "Body", "x"),
			err: channel.ErrUnknownAccount},
		{name: "no account", body: form("MessageSid", "SM1", "From", "+905321234567", "Body", "x"), err: channel.ErrUnknownAccount},
		{name: "bad percent-encoding", body: "MessageSid=SM1&AccountSid=" + testSID + "&Body=%zz", err: errMalformed},
		{name: "no MessageSid", body: form("AccountSid", testSID, "From", "+905321234567", "Body", "x"), err: errMalformed},
		{name: "no From", body: form("MessageSid", "SM1", "AccountSid", testSID, "Body", "x"), err: errMalformed},
		{name: "bad NumMedia", body: form("MessageSid", "SM1", "AccountSid", testSID, "From", "+905321234567", "Body", "x", "NumMedia", "two"), err: errMalformed},
		{name: "media without URL", body: form("MessageSid", "SM1", "AccountSid", testSID, "From", "+905321234567", "Body", "", "NumMedia", "1"), err: errMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/twilio/k1", strings.NewReader(c.body))
			b, err := a.Parse(testInbox(), r, []byte(c.body))
			switch {
			case c.err == errMalformed:
				if err == nil || errors.Is(err, channel.ErrUnknownAccount) {
					t.Fatalf("want a malformed-body error, got %v", err)
				}
				return
			case c.err != nil:
				if !errors.Is(err, c.err) {
					t.Fatalf("want %v, got %v", c.err, err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.Messages, c.messages) {
				t.Errorf("messages:\n got %+v\nwant %+v", b.Messages, c.messages)
			}
			if !reflect.DeepEqual(b.Statuses, c.statuses) {
				t.Errorf("statuses:\n got %+v\nwant %+v", b.Statuses, c.statuses)
			}
			if b.Reply == nil {
				t.Fatal("no TwiML reply")
			}
			w := httptest.NewRecorder()
			b.Reply(w)
			if w.Code != 200 || w.Header().Get("Content-Type") != "text/xml" ||
				w.Body.String() != `<?xml version="1.0" encoding="UTF-8"?><Response></Response>` {
				t.Fatalf("reply: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
			}
		})
	}
}

var errMalformed = errors.New("malformed")

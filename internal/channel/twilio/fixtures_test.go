package twilio

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
)

// TestFixtures verifies and parses provider bodies kept byte for byte in
// testdata; the signatures are computed here over the configured public
// URL.
func TestFixtures(t *testing.T) {
	const sid = "AC0123456789abcdef0123456789abcdef"
	const public = "https://destek.example.com"
	a := NewTwilio(nil, public)
	in := testInbox()
	in.Config[KeyAccountSID] = sid
	media := "https://api.twilio.com/2010-04-01/Accounts/" + sid + "/Messages/MM0123456789abcdef0123456789abcdef/Media/ME0123456789abcdef0123456789abcdef"
	cases := []struct {
		file     string
		messages []channel.Message
		statuses []channel.Status
	}{
		{"inbound_sms.form", []channel.Message{{ProviderID: "SM0123456789abcdef0123456789abcdef",
			Text:   "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏",
			Claims: []customer.Claim{{Kind: customer.KindPhone, Value: "+905551112233"}}}}, nil},
		{"inbound_whatsapp_image.form", []channel.Message{{ProviderID: "MM0123456789abcdef0123456789abcdef", ContentType: "image",
			Profile: customer.Profile{Name: "Ayşe"},
			Claims:  []customer.Claim{{Kind: customer.KindPhone, Value: "+905551112233"}, {Kind: customer.KindWhatsApp, Value: "+905551112233"}},
			Attachments: []conversation.Attachment{{Ref: media, ContentType: "image/jpeg",
				FileName: "ME0123456789abcdef0123456789abcdef.jpg"}}}}, nil},
		{"status_undelivered.form", nil, []channel.Status{{ProviderMessageID: "SM0123456789abcdef0123456789abcdef",
			Status: "failed", Reason: "ErrorCode 30003"}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			params, err := url.ParseQuery(string(body))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/webhooks/twilio/k1", strings.NewReader(string(body)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set(SignatureHeader, Signature("tok", public+"/webhooks/twilio/k1", params))
			if err := a.Verify(in, r, public, body); err != nil {
				t.Fatal(err)
			}
			b, err := a.Parse(in, r, body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.Messages, c.messages) || !reflect.DeepEqual(b.Statuses, c.statuses) {
				t.Fatalf("got %+v %+v", b.Messages, b.Statuses)
			}
		})
	}
}

package netgsm_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/api"
	"github.com/kanal-dev/kanal/internal/channel/netgsm"
	fakenetgsm "github.com/kanal-dev/kanal/internal/fakes/netgsm"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

const turkish = "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"

// TestNetgsmEndToEnd runs a whole Kanal with the Netgsm adapter against the
// fake Netgsm: the inbox's first poll round (run when the inbox is created)
// brings in an SMS, and a reply goes out through the send API.
func TestNetgsmEndToEnd(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			na := netgsm.NewNetgsm(nil)
			a := testutil.New(t, d, testutil.Options{Adapters: []channel.Adapter{na, api.NewSender(nil)}})
			w := a.Setup("Mağaza", "owner@example.com")
			c := a.Client(w.Token)
			f := fakenetgsm.New(t, "8501234567", "p4ss", "KANAL")
			f.Receive("905321234567", "8501234567", turkish, time.Now().Add(-2*time.Minute))

			ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "netgsm", "name": "SMS",
				"config": map[string]any{"usercode": "8501234567", "password": "p4ss", "msgheader": "KANAL", "api_base_url": f.URL}}).JSON()
			if _, ok := ib["webhook_url"]; ok {
				t.Fatalf("a polled inbox has no webhook: %v", ib)
			}
			test := c.Must(http.StatusOK, "POST", "/api/v1/inboxes/"+ib["id"].(string)+"/test", nil).JSON()
			if test["ok"] != true || test["account"] != "Netgsm 8501234567, sender KANAL" {
				t.Fatalf("connection test: %v", test)
			}

			var conv string
			testutil.Eventually(t, 10*time.Second, func() bool {
				items := c.Must(http.StatusOK, "GET", "/api/v1/conversations", nil).JSON()["items"].([]any)
				if len(items) == 1 {
					conv = items[0].(map[string]any)["id"].(string)
				}
				return conv != ""
			}, "the polled SMS arrives")
			ms := c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages", nil).JSON()["items"].([]any)
			if len(ms) != 1 || ms[0].(map[string]any)["text"] != turkish {
				t.Fatalf("messages: %v", ms)
			}

			reply := c.Must(http.StatusCreated, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": "Kargonuz yolda, Şükrü Bey."}).JSON()
			testutil.Eventually(t, 10*time.Second, func() bool {
				ms := c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages", nil).JSON()["items"].([]any)
				last := ms[len(ms)-1].(map[string]any)
				return last["id"] == reply["id"] && last["status"] == "sent"
			}, "reply sent")
			sent := f.Sent()
			if len(sent) != 1 {
				t.Fatalf("%d sends", len(sent))
			}
			want := `{"msgheader":"KANAL","encoding":"TR","iysfilter":"0","messages":[{"msg":"Kargonuz yolda, Şükrü Bey.","no":"5321234567"}]}`
			if sent[0].Raw != want {
				t.Fatalf("send body %s", sent[0].Raw)
			}

			// Its report comes with a poll round: stored here by hand, since
			// the poller's next round is PollEvery away.
			f.SetReport(sent[0].JobID, 16, 0)
			in, err := a.Inboxes.Get(context.Background(), w.ID, ib["id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := na.Poll(context.Background(), in, "")
			if err != nil || len(b.Statuses) != 1 {
				t.Fatalf("poll: %+v %v", b.Statuses, err)
			}
			if err := a.Webhooks.Store(context.Background(), in, b, func(m channel.Message, err error) { t.Errorf("skipped %s: %v", m.ProviderID, err) }); err != nil {
				t.Fatal(err)
			}
			ms = c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages", nil).JSON()["items"].([]any)
			last := ms[len(ms)-1].(map[string]any)
			if len(ms) != 2 || last["status"] != "failed" || last["provider_id"] != sent[0].JobID ||
				!strings.HasPrefix(last["status_reason"].(string), "16: İYS rejected") {
				t.Fatalf("after the report: %d messages, last %v", len(ms), last)
			}
		})
	}
}

package netgsm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/jobs"
)

// TestFixtures decodes Netgsm answers kept byte for byte in testdata,
// including a report whose numbers come as strings and nulls.
func TestFixtures(t *testing.T) {
	var files = map[string]string{}
	var status = map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile("testdata/" + files[r.URL.Path])
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if st := status[r.URL.Path]; st != 0 {
			w.WriteHeader(st)
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	a, _, in, _ := setup(t)
	in.Config[KeyAPIBaseURL] = srv.URL
	ctx := context.Background()

	files["/sms/rest/v2/send"] = "send_00.json"
	id, err := a.Send(ctx, outbound(in, "Merhaba"))
	if err != nil || id != "17377215342605050417149344" {
		t.Fatalf("send: %q %v", id, err)
	}
	files["/sms/rest/v2/send"], status["/sms/rest/v2/send"] = "send_30.json", http.StatusNotAcceptable
	if _, err := a.Send(ctx, outbound(in, "Merhaba")); !jobs.IsPermanent(err) {
		t.Fatalf("send 30: %v", err)
	}
	a.track(in.ID, "17377215342605050417149345")
	a.track(in.ID, "17377215342605050417149346")

	files["/sms/rest/v2/inbox"], files["/sms/rest/v2/report"] = "inbox_00.json", "report_00.json"
	b, cur, err := a.Poll(ctx, in, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Messages) != 2 || b.Messages[0].Text != turkish || b.Messages[1].Claims[0].Value != "+905551112233" || cur != "15032026141230" {
		t.Fatalf("messages %+v, cursor %s", b.Messages, cur)
	}
	want := map[string]channel.Status{
		"17377215342605050417149344": {ProviderMessageID: "17377215342605050417149344", Status: "delivered"},
		"17377215342605050417149345": {ProviderMessageID: "17377215342605050417149345", Status: "failed", Reason: ReportReason(16)},
	}
	if len(b.Statuses) != 2 || b.Statuses[0] != want[b.Statuses[0].ProviderMessageID] || b.Statuses[1] != want[b.Statuses[1].ProviderMessageID] {
		t.Fatalf("statuses %+v", b.Statuses)
	}

	files["/sms/rest/v2/inbox"], status["/sms/rest/v2/inbox"] = "inbox_40.json", http.StatusNotAcceptable
	if b, _, err := a.Poll(ctx, in, cur); err != nil || len(b.Messages) != 0 {
		t.Fatalf("code 40: %+v %v", b, err)
	}
}

package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/kanal-dev/kanal/internal/testutil"
)

func TestInboundFlow(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		w := a.Setup("Işık Mağazaları", "owner@example.com")
		c := a.Client(w.Token)
		ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "api", "name": "App"}).JSON()
		id, _ := ib["id"].(string)
		if id == "" || ib["webhook_url"] != a.URL+"/api/v1/inboxes/"+id+"/inbound" {
			t.Fatalf("inbox: %v", ib)
		}
		msg := map[string]any{"external_message_id": "m-1", "text": "Merhaba, siparişim nerede?",
			"customer": map[string]any{"name": "Işık Yılmaz", "email": "ISIK@example.com"}}
		first := c.Must(http.StatusAccepted, "POST", "/api/v1/inboxes/"+id+"/inbound", msg).JSON()
		if first["duplicate"] != false {
			t.Fatalf("first: %v", first)
		}
		again := c.Must(http.StatusAccepted, "POST", "/api/v1/inboxes/"+id+"/inbound", msg).JSON()
		if again["duplicate"] != true || again["message_id"] != first["message_id"] || again["conversation_id"] != first["conversation_id"] {
			t.Fatalf("retry: %v vs %v", again, first)
		}
		for _, q := range []string{"ışık", "IŞIK", "isik", "isik@EXAMPLE"} {
			got := c.Must(http.StatusOK, "GET", "/api/v1/customers?q="+q, nil).JSON()["items"].([]any)
			if len(got) != 1 {
				t.Fatalf("search %q: %d results", q, len(got))
			}
		}
	})
}

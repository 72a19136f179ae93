package canned_test

import (
	"net/http"
	"testing"

	"github.com/kanal-dev/kanal/internal/testutil"
)

func TestCannedRepliesAndLabels(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		w := a.Setup("Mağaza", "owner@example.com")
		c := a.Client(w.Token)
		r := c.Must(http.StatusCreated, "POST", "/api/v1/canned-replies", map[string]any{"shortcut": "kargo", "title": "Kargo durumu", "text": "Siparişiniz İstanbul'dan yola çıktı."}).JSON()
		id := r["id"].(string)
		if dup := c.Do("POST", "/api/v1/canned-replies", map[string]any{"shortcut": "kargo", "title": "x", "text": "y"}); dup.Status != http.StatusConflict || dup.ErrorCode() != "shortcut_taken" {
			t.Fatalf("duplicate shortcut: %d %s", dup.Status, dup.Body)
		}
		for q, want := range map[string]int{"": 1, "/kar": 1, "ISTANBUL": 1, "siparis": 1, "iade": 0} {
			got := c.Must(http.StatusOK, "GET", "/api/v1/canned-replies?q="+q, nil).JSON()["items"].([]any)
			if len(got) != want {
				t.Errorf("q=%q: %d results", q, len(got))
			}
		}
		p := c.Must(http.StatusOK, "PATCH", "/api/v1/canned-replies/"+id, map[string]any{"title": "Kargo"}).JSON()
		if p["title"] != "Kargo" || p["shortcut"] != "kargo" {
			t.Fatalf("patch: %v", p)
		}
		c.Must(http.StatusNoContent, "DELETE", "/api/v1/canned-replies/"+id, nil)
		c.Must(http.StatusNotFound, "GET", "/api/v1/canned-replies/"+id, nil)

		c.Must(http.StatusOK, "POST", "/api/v1/labels", map[string]any{"name": "VIP", "color": "#ff0000"})
		c.Must(http.StatusOK, "POST", "/api/v1/labels", map[string]any{"name": "VIP", "color": "#00ff00"})
		if bad := c.Do("POST", "/api/v1/labels", map[string]any{"name": "x", "color": "red"}); bad.Status != http.StatusBadRequest {
			t.Fatalf("bad color: %d", bad.Status)
		}
		ls := c.Must(http.StatusOK, "GET", "/api/v1/labels", nil).JSON()["items"].([]any)
		if len(ls) != 1 || ls[0].(map[string]any)["color"] != "#00ff00" {
			t.Fatalf("labels: %v", ls)
		}
		c.Must(http.StatusNoContent, "DELETE", "/api/v1/labels/VIP", nil)
		c.Must(http.StatusNotFound, "DELETE", "/api/v1/labels/VIP", nil)
	})
}

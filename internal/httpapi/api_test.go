package httpapi_test

import (
	"net/http"
	"strings"
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

func TestIdempotencyKey(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		w := a.Setup("Mağaza", "owner@example.com")
		c := a.Client(w.Token)
		body := map[string]any{"name": "Müşteri", "email": "m@example.com"}
		first := c.Do("POST", "/api/v1/customers", body, "Idempotency-Key", "k-1")
		again := c.Do("POST", "/api/v1/customers", body, "Idempotency-Key", "k-1")
		if first.Status != http.StatusCreated || again.Status != http.StatusCreated || string(first.Body) != string(again.Body) {
			t.Fatalf("replay: %d %s / %d %s", first.Status, first.Body, again.Status, again.Body)
		}
		if again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatal("a replay must say so")
		}
		list := c.Must(http.StatusOK, "GET", "/api/v1/customers", nil).JSON()["items"].([]any)
		if len(list) != 1 {
			t.Fatalf("%d customers, want 1", len(list))
		}
		other := c.Do("POST", "/api/v1/customers", map[string]any{"name": "Başka"}, "Idempotency-Key", "k-1")
		if other.Status != http.StatusUnprocessableEntity || other.ErrorCode() != "idempotency_key_reused" {
			t.Fatalf("reuse: %d %s", other.Status, other.Body)
		}
		// A failed request is not remembered: the corrected one may use the key.
		bad := c.Do("POST", "/api/v1/customers", map[string]any{"email": "nope"}, "Idempotency-Key", "k-2")
		good := c.Do("POST", "/api/v1/customers", map[string]any{"name": "Doğru", "email": "dogru@example.com"}, "Idempotency-Key", "k-2")
		if bad.Status != http.StatusBadRequest || good.Status != http.StatusCreated {
			t.Fatalf("bad %d, good %d %s", bad.Status, good.Status, good.Body)
		}
		// Keys belong to a workspace.
		v := a.Setup("Diğer", "other@example.com")
		theirs := a.Client(v.Token).Do("POST", "/api/v1/customers", body, "Idempotency-Key", "k-1")
		if theirs.Status != http.StatusCreated || theirs.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("another workspace's key: %d %v", theirs.Status, theirs.Header)
		}
	})
}

func TestHealthReadyMetrics(t *testing.T) {
	a := testutil.New(t, "sqlite", testutil.Options{})
	w := a.Setup("Mağaza", "owner@example.com")
	c := a.Client(w.Token)
	anon := a.Client("")
	if r := anon.Must(http.StatusOK, "GET", "/healthz", nil).JSON(); r["status"] != "ok" {
		t.Fatalf("healthz: %v", r)
	}
	if r := anon.Must(http.StatusOK, "GET", "/readyz", nil).JSON(); r["status"] != "ready" || r["database"] != "sqlite" {
		t.Fatalf("readyz: %v", r)
	}
	ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "api", "name": "App"}).JSON()
	c.Must(http.StatusAccepted, "POST", "/api/v1/inboxes/"+ib["id"].(string)+"/inbound",
		map[string]any{"external_message_id": "x", "customer": map[string]any{"email": "c@example.com"}, "text": "Selam"})
	m := string(anon.Must(http.StatusOK, "GET", "/metrics", nil).Body)
	for _, want := range []string{
		`kanal_http_request_duration_seconds_bucket{code="2xx",route="POST /api/v1/inboxes/{id}/inbound"`,
		`kanal_ingested_messages_total{channel="api",result="new"} 1`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestWorkspaceSettingsMerge(t *testing.T) {
	a := testutil.New(t, "sqlite", testutil.Options{})
	w := a.Setup("Mağaza", "owner@example.com")
	c := a.Client(w.Token)
	r := c.Must(http.StatusOK, "PATCH", "/api/v1/workspace", map[string]any{"settings": map[string]any{"continuity_window_days": 3}}).JSON()
	s := r["settings"].(map[string]any)
	if s["continuity_window_days"] != float64(3) || s["phone_region"] != "TR" || s["continuity"] != true {
		t.Fatalf("settings after a partial patch: %v", s)
	}
	bad := c.Do("PATCH", "/api/v1/workspace", map[string]any{"settings": map[string]any{"colour": "blue"}})
	if bad.Status != http.StatusBadRequest || bad.ErrorCode() != "unknown_field" || !strings.Contains(string(bad.Body), "settings.colour") {
		t.Fatalf("unknown setting: %d %s", bad.Status, bad.Body)
	}
	m := c.Must(http.StatusOK, "GET", "/api/v1/users/"+w.OwnerID, nil).JSON()
	if m["created_at"] == float64(0) || m["joined_at"] == float64(0) {
		t.Fatalf("member times: %v", m)
	}
}

func TestFirstRunSetup(t *testing.T) {
	testutil.Run(t, func(t *testing.T, a *testutil.App) {
		anon := a.Client("")
		if r := anon.Must(http.StatusOK, "GET", "/api/v1/setup", nil).JSON(); r["needed"] != true {
			t.Fatalf("empty install: %v", r)
		}
		body := map[string]any{"workspace": "Işık Mağazaları", "name": "Ayşe", "email": "ayse@example.com", "password": "long-enough-1"}
		me := anon.Must(http.StatusCreated, "POST", "/api/v1/setup", body).JSON()
		if me["role"] != "owner" {
			t.Fatalf("setup answer: %v", me)
		}
		// The cookie from setup is a session.
		if r := anon.Must(http.StatusOK, "GET", "/api/v1/me", nil).JSON(); r["role"] != "owner" {
			t.Fatalf("me after setup: %v", r)
		}
		if r := a.Client("").Must(http.StatusOK, "GET", "/api/v1/setup", nil).JSON(); r["needed"] != false {
			t.Fatalf("after setup: %v", r)
		}
		again := a.Client("").Do("POST", "/api/v1/setup", map[string]any{"workspace": "Başka", "email": "x@example.com", "password": "long-enough-1"})
		if again.Status != http.StatusConflict || again.ErrorCode() != "setup_done" {
			t.Fatalf("second setup: %d %s", again.Status, again.Body)
		}
		cross := a.Client("").Do("POST", "/api/v1/setup", body, "Sec-Fetch-Site", "cross-site")
		if cross.Status != http.StatusForbidden {
			t.Fatalf("cross-site setup: %d", cross.Status)
		}
	})
}

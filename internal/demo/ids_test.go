package demo

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRunIDs(t *testing.T) {
	a, b := runIDs{run: 1763812800123}, runIDs{run: 1763812800124}
	if a.metaOut("m_fake000001") == b.metaOut("m_fake000001") {
		t.Error("meta ids repeat across runs")
	}
	sid := "SM00000000000000000000000000000001"
	out := a.twilioOut(sid)
	if len(out) != 34 || !strings.HasPrefix(out, "SM") || out == sid || out == b.twilioOut(sid) {
		t.Errorf("twilio sid %s → %s", sid, out)
	}
	if got := a.twilioOut("SMabc"); got != "SMabc" {
		t.Errorf("a sid of another shape is kept: %s", got)
	}
	job := "17377215342605051"
	if got := a.netgsmIn(a.netgsmOut(job)); got != job || a.netgsmOut(job) == b.netgsmOut(job) || a.netgsmOut(job) == job {
		t.Errorf("netgsm job %s → %s → %s", job, a.netgsmOut(job), got)
	}
}

func TestPageGuards(t *testing.T) {
	h := page(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	cases := []struct {
		method, host, ctype string
		want                int
	}{
		{"GET", "127.0.0.1:8090", "", http.StatusNoContent},
		{"GET", "localhost:8090", "", http.StatusNoContent},
		{"GET", "[::1]:8090", "", http.StatusNoContent},
		{"GET", "evil.example:8090", "", http.StatusMisdirectedRequest}, // DNS rebinding
		{"POST", "127.0.0.1:8090", "application/json", http.StatusNoContent},
		{"POST", "127.0.0.1:8090", "text/plain", http.StatusUnsupportedMediaType}, // a cross-site form
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/api/send", strings.NewReader("{}"))
		r.Host = c.host
		if c.ctype != "" {
			r.Header.Set("Content-Type", c.ctype)
		}
		w := httptest.NewRecorder()
		h(w, r)
		if w.Code != c.want {
			t.Errorf("%s %s %s: %d, want %d", c.method, c.host, c.ctype, w.Code, c.want)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := LoadState(dir); ok || err != nil {
		t.Fatalf("empty folder: %v %v", ok, err)
	}
	st := NewState()
	st.Token = "kanal_x"
	st.Inboxes[WhatsApp] = "inbox-1"
	if err := st.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, ok, err := LoadState(dir)
	if !ok || err != nil || got.Password != st.Password || got.Creds != st.Creds || got.Inboxes[WhatsApp] != "inbox-1" {
		t.Fatalf("%+v %v %v", got, ok, err)
	}
	for _, ch := range Channels {
		if cfg := st.InboxConfig(ch.ID, "http://127.0.0.1:8090"); cfg["api_base_url"] == "" || cfg == nil {
			t.Errorf("%s: no config", ch.ID)
		}
	}
	// Every persona is found again from the address a reply goes to.
	for _, p := range Personas {
		for ch, addr := range map[string]string{WhatsApp: p.WaID(), Messenger: p.PSID, Instagram: p.IGSID,
			TwilioSMS: p.Phone, NetgsmSMS: p.NationalNumber()} {
			if got, ok := personaBy(ch, addr); !ok || got.ID != p.ID {
				t.Errorf("%s %s: %v %v", ch, addr, got.ID, ok)
			}
		}
	}
}

package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/config"
)

// Every bound below is a guard against hangs, not an assertion on speed.
const within = 30 * time.Second

// demoRun is an in-process `kanal demo` on loopback.
type demoRun struct {
	Running
	cancel context.CancelFunc
	done   chan error
}

func startDemo(t *testing.T, dataDir string, seed bool) *demoRun {
	t.Helper()
	cfg := config.Defaults(func(string) string { return "" })
	cfg.Addr, cfg.DataDir, cfg.LogLevel = "127.0.0.1:0", dataDir, "warn"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &demoRun{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan Running, 1)
	logs := &lockedWriter{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() {
		d.done <- Run(ctx, cfg, Options{SimAddr: "127.0.0.1:0", Seed: seed, Version: "test", Logger: logger,
			Ready: func(r Running) { ready <- r }})
	}()
	select {
	case d.Running = <-ready:
	case err := <-d.done:
		cancel()
		t.Fatalf("demo stopped before it was ready: %v", err)
	case <-time.After(within):
		cancel()
		t.Fatal("demo not ready in time")
	}
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("demo logs:\n%s", logs)
		}
	})
	return d
}

func (d *demoRun) stop(t *testing.T) {
	t.Helper()
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	case <-time.After(within):
		t.Error("demo did not stop in time")
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := (&http.Client{Timeout: within, Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, rb
}

func (c client) must(want int, method, path string, body any, out any) {
	c.t.Helper()
	code, rb := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, rb)
	}
	if out != nil {
		if err := json.Unmarshal(rb, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, rb)
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type kanalMessage struct {
	ID         string `json:"id"`
	Channel    string `json:"channel"`
	Direction  string `json:"direction"`
	Text       string `json:"text"`
	Status     string `json:"status"`
	ProviderID string `json:"provider_id"`
}

func messagesOf(api client, conv string) []kanalMessage {
	var out struct {
		Items []kanalMessage `json:"items"`
	}
	api.must(http.StatusOK, "GET", "/api/v1/conversations/"+conv+"/messages?limit=200", nil, &out)
	return out.Items
}

func simMessages(sim client, channel, persona string) []Message {
	var out struct {
		Items []Message `json:"items"`
	}
	sim.must(http.StatusOK, "GET", "/api/messages?channel="+channel+"&persona="+persona, nil, &out)
	return out.Items
}

// reply answers conversation conv on channel ch and waits until the
// simulator's customer has it and Kanal shows want as its status.
func reply(t *testing.T, api, sim client, conv, ch, persona, text, want string) kanalMessage {
	t.Helper()
	var m kanalMessage
	api.must(http.StatusCreated, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": text, "channel": ch}, &m)
	eventually(t, ch+" reply reaches the simulated customer", func() bool {
		for _, sm := range simMessages(sim, ch, persona) {
			if sm.From == FromAgent && sm.Text == text {
				return true
			}
		}
		return false
	})
	if want != "" {
		eventually(t, ch+" reply is "+want+" in Kanal", func() bool {
			for _, km := range messagesOf(api, conv) {
				if km.ID == m.ID {
					m = km
					return km.Status == want
				}
			}
			return false
		})
	}
	return m
}

// TestDemo runs the demo twice on one data folder: customers write on
// every webhook channel, the same person on WhatsApp and SMS lands in one
// conversation, replies reach the simulated customers and come back
// delivered or read; after a restart the login, the token and the
// delivery reports of new replies still work.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	d := startDemo(t, dir, false)
	st := d.State
	if st.Token == "" || st.Password == "" || len(st.Inboxes) != len(Channels) {
		t.Fatalf("state: %+v", st)
	}
	if fi, err := os.Stat(filepath.Join(dir, StateFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("demo.json: %v %v", fi, err)
	}
	api := client{t: t, base: d.KanalURL, token: st.Token}
	sim := client{t: t, base: d.SimulatorURL}

	// The page and its files.
	code, page := sim.do("GET", "/", nil)
	if code != http.StatusOK || !bytes.Contains(page, []byte(`src="/app.js"`)) {
		t.Fatalf("page: %d %s", code, page)
	}
	if code, _ := sim.do("GET", "/app.js", nil); code != http.StatusOK {
		t.Fatalf("app.js: %d", code)
	}

	send := func(ch, persona, text string, image bool) Message {
		t.Helper()
		var m Message
		sim.must(http.StatusOK, "POST", "/api/send", SendRequest{Channel: ch, Persona: persona, Text: text, Image: image}, &m)
		if m.Status != StatusAccepted && m.Status != StatusWaiting {
			t.Fatalf("%s: %+v", ch, m)
		}
		return m
	}
	send(WhatsApp, "ayse", "Merhaba, 10482 numaralı siparişim nerede? 🙏", true)
	send(TwilioSMS, "ayse", "SMS'ten de yazıyorum: sipariş 10482", true)
	send(Instagram, "mehmet", "Bu montun L bedeni var mı?", true)
	send(Messenger, "emre", "Pazar günü açık mısınız?", true)
	send(Telegram, "zeynep", "İade kodum gelmedi", true)

	type conv struct {
		ID         string `json:"id"`
		CustomerID string `json:"customer_id"`
	}
	var convs []conv
	eventually(t, "four conversations", func() bool {
		var out struct {
			Items []conv `json:"items"`
		}
		api.must(http.StatusOK, "GET", "/api/v1/conversations?limit=50", nil, &out)
		convs = out.Items
		return len(convs) == 4
	})
	// Ayşe's WhatsApp and SMS messages share her phone number: one
	// customer, one conversation, both messages.
	var ayse conv
	for _, c := range convs {
		ms := messagesOf(api, c.ID)
		var channels []string
		for _, m := range ms {
			channels = append(channels, m.Channel)
		}
		if strings.Join(channels, ",") == "whatsapp,twilio" {
			ayse = c
		}
	}
	if ayse.ID == "" {
		t.Fatalf("no conversation holds Ayşe's WhatsApp and SMS messages: %+v", convs)
	}
	// Every customer sent the sample image: Kanal fetched each from the
	// fake of its provider and serves its own copy.
	for _, c := range convs {
		eventually(t, "the images of conversation "+c.ID+" are fetched", func() bool {
			var out struct {
				Items []struct {
					Channel     string `json:"channel"`
					Attachments []struct {
						URL  string `json:"url"`
						Size int    `json:"size"`
					} `json:"attachments"`
				} `json:"items"`
			}
			api.must(http.StatusOK, "GET", "/api/v1/conversations/"+c.ID+"/messages", nil, &out)
			n := 0
			for _, m := range out.Items {
				for _, a := range m.Attachments {
					if a.URL == "" || a.Size != len(SampleImage()) {
						return false
					}
					n++
				}
			}
			return n >= 1
		})
	}
	var customers struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	api.must(http.StatusOK, "GET", "/api/v1/customers?q="+"%2B905321234567", nil, &customers)
	if len(customers.Items) != 1 || customers.Items[0].ID != ayse.CustomerID {
		t.Fatalf("customers with Ayşe's number: %+v (conversation's: %s)", customers.Items, ayse.CustomerID)
	}

	reply(t, api, sim, ayse.ID, WhatsApp, "ayse", "Kargoya bugün veriliyor, Ayşe Hanım.", StatusRead)
	twReply := reply(t, api, sim, ayse.ID, TwilioSMS, "ayse", "Adresinizi güncelledik.", StatusDelivered)
	for _, c := range convs {
		ms := messagesOf(api, c.ID)
		switch ms[0].Channel {
		case Instagram:
			reply(t, api, sim, c.ID, Instagram, "mehmet", "Evet, L bedeni var.", StatusRead)
		case Messenger:
			reply(t, api, sim, c.ID, Messenger, "emre", "Pazar 11:00'de açılıyor.", StatusDelivered)
		case Telegram:
			reply(t, api, sim, c.ID, Telegram, "zeynep", "Kodunuzu yeniden gönderdik.", "sent")
		}
	}
	// Netgsm: the reply goes out through the send API; its report comes
	// with a later poll round (every 30 s), so only the send is checked,
	// and that Kanal keeps the simulator's (run-unique) job id.
	ng := reply(t, api, sim, ayse.ID, NetgsmSMS, "ayse", "SMS ile de bilgi verelim.", "sent")
	var ngSim Message
	for _, m := range simMessages(sim, NetgsmSMS, "ayse") {
		if m.From == FromAgent {
			ngSim = m
		}
	}
	if ng.ProviderID == "" || ng.ProviderID != ngSim.ProviderID {
		t.Fatalf("netgsm job id: Kanal %q, simulator %q", ng.ProviderID, ngSim.ProviderID)
	}

	d.stop(t)

	// Again on the same data: the same login and token; a new Twilio reply
	// gets its own delivery report (the fakes count from 1 again, the ids
	// Kanal sees do not repeat).
	d2 := startDemo(t, dir, false)
	if d2.State.Password != st.Password || d2.State.Token != st.Token {
		t.Fatalf("second run changed the login: %+v", d2.State)
	}
	api2 := client{t: t, base: d2.KanalURL, token: st.Token}
	sim2 := client{t: t, base: d2.SimulatorURL}
	api2.must(http.StatusOK, "POST", "/api/v1/auth/login", map[string]string{"email": OwnerEmail, "password": st.Password}, nil)
	api2.must(http.StatusOK, "GET", "/api/v1/me", nil, nil)
	var sm Message
	sim2.must(http.StatusOK, "POST", "/api/send", SendRequest{Channel: WhatsApp, Persona: "ayse", Text: "Tekrar merhaba"}, &sm)
	again := reply(t, api2, sim2, ayse.ID, TwilioSMS, "ayse", "Yine buradayız.", StatusDelivered)
	if again.ProviderID == twReply.ProviderID {
		t.Fatalf("the second run's Twilio sid repeats the first's: %s", again.ProviderID)
	}
	var old kanalMessage
	for _, m := range messagesOf(api2, ayse.ID) {
		if m.ID == twReply.ID {
			old = m
		}
	}
	if old.Status != StatusDelivered {
		t.Fatalf("first run's reply: %+v", old)
	}
}

func TestRefusesForeignData(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kanal.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults(func(string) string { return "" })
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	_ = cfg.Validate()
	err := Run(context.Background(), cfg, Options{SimAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "did not create") {
		t.Fatalf("err = %v", err)
	}
	err = Run(context.Background(), cfg, Options{SimAddr: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v", err)
	}
}

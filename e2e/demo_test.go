package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// demoProc is a running `kanal demo`.
type demoProc struct {
	cmd    *exec.Cmd
	out    *syncBuffer // stdout: the banner
	logs   *syncBuffer // stderr: the logs
	done   chan struct{}
	code   int
	Kanal  string // http://127.0.0.1:PORT, from the banner
	Sim    string // the simulator's URL, from the banner
	Banner string
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	bannerKanal = regexp.MustCompile(`(?m)^\s+Kanal\s+(http://\S+)\s*$`)
	bannerSim   = regexp.MustCompile(`(?m)^\s+Simulator\s+(http://\S+)\s*$`)
	bannerPass  = regexp.MustCompile(`(?m)^\s+Password\s+(\S+)\s*$`)
)

// startDemo runs `kanal demo` on free loopback ports with its data in
// dataDir and waits for its banner.
func startDemo(t *testing.T, dataDir string) *demoProc {
	t.Helper()
	d := &demoProc{out: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(kanalBin, "demo", "--addr", "127.0.0.1:0", "--sim-addr", "127.0.0.1:0", "--data", dataDir)
	d.cmd.Dir = t.TempDir()
	d.cmd.Env = cleanEnv()
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start kanal demo: %v", err)
	}
	go func() {
		err := d.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			d.code = ee.ExitCode()
		default:
			d.code = -2
		}
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Signal(syscall.SIGKILL)
			<-d.done
		}
		if t.Failed() {
			t.Logf("kanal demo stdout:\n%s\nstderr:\n%s", d.out.String(), tail(d.logs.String(), 60))
		}
	})
	ok := waitUntil(startTimeout, func() bool {
		select {
		case <-d.done:
			return true
		default:
		}
		return bannerSim.MatchString(d.out.String())
	})
	select {
	case <-d.done:
		if strings.Contains(d.logs.String(), `unknown command "demo"`) {
			t.Fatalf("this kanal has no demo command: internal/cli/cli.go needs `case \"demo\":` in Run's switch")
		}
		t.Fatalf("kanal demo exited with %d before its banner", d.code)
	default:
	}
	if !ok {
		t.Fatalf("kanal demo printed no banner within %s", startTimeout)
	}
	d.Banner = d.out.String()
	d.Kanal = bannerKanal.FindStringSubmatch(d.Banner)[1]
	d.Sim = bannerSim.FindStringSubmatch(d.Banner)[1]
	for _, u := range []string{d.Kanal, d.Sim} {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatalf("banner URL %q: %v", u, err)
		}
		host, _, _ := net.SplitHostPort(pu.Host)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Fatalf("kanal demo listens on %q; tests use loopback only", pu.Host)
		}
	}
	return d
}

// stop sends Ctrl-C (SIGINT) and waits for a clean exit.
func (d *demoProc) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-d.done:
	case <-time.After(exitTimeout):
		t.Fatalf("kanal demo did not exit within %s of SIGINT", exitTimeout)
	}
	if d.code != 0 {
		t.Fatalf("kanal demo exited with %d after SIGINT, want 0", d.code)
	}
}

// demoState is what the test reads of the demo's demo.json.
type demoState struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

func readDemoState(t *testing.T, dataDir string) demoState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "demo.json"))
	if err != nil {
		t.Fatalf("demo.json: %v", err)
	}
	var st demoState
	if err := json.Unmarshal(b, &st); err != nil || st.Token == "" || st.Password == "" {
		t.Fatalf("demo.json: %v: %s", err, b)
	}
	return st
}

type demoMessage struct {
	ID        string `json:"id"`
	Channel   string `json:"channel"`
	Direction string `json:"direction"`
	Text      string `json:"text"`
	Status    string `json:"status"`
}

// TestDemoCommand runs `kanal demo` as a user would: a WhatsApp customer
// and the same person by SMS (Twilio) write through the simulator and land
// in one customer and one conversation; an agent's reply reaches the
// simulated phone and comes back delivered and read; Ctrl-C stops it
// cleanly and a second run on the same data keeps the login and token.
func TestDemoCommand(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "kanal-demo")
	d := startDemo(t, dataDir)
	st := readDemoState(t, dataDir)
	if m := bannerPass.FindStringSubmatch(d.Banner); m == nil || m[1] != st.Password {
		t.Fatalf("the banner does not show demo.json's password:\n%s", d.Banner)
	}
	api := newAPI(d.Kanal, st.Token)
	defer api.close()
	sim := newAPI(d.Sim, "")
	defer sim.close()

	const waText, smsText = "Merhaba, 10482 numaralı siparişim ne zaman gelir? 🙏", "SMS'ten de yazıyorum: 10482"
	for _, m := range []map[string]any{
		{"channel": "whatsapp", "persona": "ayse", "text": waText},
		{"channel": "twilio", "persona": "ayse", "text": smsText},
	} {
		r := sim.must(t, http.StatusOK, "POST", "/api/send", m)
		if s := r.json()["status"]; s != "accepted" {
			t.Fatalf("simulator send %v: status %v: %s", m, s, r.Body)
		}
	}

	// One customer, one conversation, both messages.
	var conv string
	var msgs []demoMessage
	if !waitUntil(requestTimeout, func() bool {
		var cs struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		_ = json.Unmarshal(api.must(t, http.StatusOK, "GET", "/api/v1/conversations", nil).Body, &cs)
		if len(cs.Items) != 1 {
			return false
		}
		conv = cs.Items[0].ID
		msgs = demoMessages(t, api, conv)
		return len(msgs) == 2
	}) {
		t.Fatalf("want one conversation with two messages; have %q with %+v", conv, msgs)
	}
	if msgs[0].Text != waText || msgs[0].Channel != "whatsapp" || msgs[1].Text != smsText || msgs[1].Channel != "twilio" {
		t.Fatalf("messages: %+v", msgs)
	}
	var customers struct {
		Items []any `json:"items"`
	}
	_ = json.Unmarshal(api.must(t, http.StatusOK, "GET", "/api/v1/customers", nil).Body, &customers)
	if len(customers.Items) != 1 {
		t.Fatalf("%d customers, want 1: %v", len(customers.Items), customers.Items)
	}

	// The agent answers on WhatsApp.
	const replyText = "Siparişiniz bugün kargoda, Ayşe Hanım."
	r := api.must(t, http.StatusCreated, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"text": replyText, "channel": "whatsapp"})
	replyID, _ := r.json()["id"].(string)
	if !waitUntil(requestTimeout, func() bool {
		var out struct {
			Items []struct {
				From string `json:"from"`
				Text string `json:"text"`
			} `json:"items"`
		}
		_ = json.Unmarshal(sim.must(t, http.StatusOK, "GET", "/api/messages?channel=whatsapp&persona=ayse", nil).Body, &out)
		for _, m := range out.Items {
			if m.From == "agent" && m.Text == replyText {
				return true
			}
		}
		return false
	}) {
		t.Fatal("the simulator's customer never got the reply")
	}
	var status string
	if !waitUntil(requestTimeout, func() bool {
		for _, m := range demoMessages(t, api, conv) {
			if m.ID == replyID {
				status = m.Status
			}
		}
		return status == "read"
	}) {
		t.Fatalf("the reply is %q in Kanal, want read (the simulator reports delivered, then read)", status)
	}

	d.stop(t)

	// Again on the same data: the same password (printed again) and token.
	d2 := startDemo(t, dataDir)
	if st2 := readDemoState(t, dataDir); st2 != st {
		t.Fatalf("demo.json changed across runs: %+v, was %+v", st2, st)
	}
	if m := bannerPass.FindStringSubmatch(d2.Banner); m == nil || m[1] != st.Password {
		t.Fatalf("the second banner does not show the same password:\n%s", d2.Banner)
	}
	api2 := newAPI(d2.Kanal, st.Token)
	defer api2.close()
	api2.must(t, http.StatusOK, "GET", "/api/v1/me", nil)
	login := newAPI(d2.Kanal, "")
	defer login.close()
	login.must(t, http.StatusOK, "POST", "/api/v1/auth/login", map[string]string{"email": st.Email, "password": st.Password})
	if n := len(demoMessages(t, api2, conv)); n != 3 {
		t.Fatalf("after the restart the conversation has %d messages, want 3", n)
	}
	d2.stop(t)
}

func demoMessages(t *testing.T, api *apiClient, conv string) []demoMessage {
	t.Helper()
	var out struct {
		Items []demoMessage `json:"items"`
	}
	r := api.must(t, http.StatusOK, "GET", fmt.Sprintf("/api/v1/conversations/%s/messages?limit=200", conv), nil)
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("messages: %v", err)
	}
	return out.Items
}

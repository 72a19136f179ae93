package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Load shape shared by the process tests.
const (
	loadWorkers   = 16
	loadPerWorker = 1000 // upper bound per worker; tests stop the load earlier
	loadWithin    = 60 * time.Second
)

// TestDurabilityAfterSIGKILL acknowledges ~1,000 inbound messages under
// concurrent load, SIGKILLs the server with requests in flight, restarts it
// on the same data and checks that every acknowledged message survived.
func TestDurabilityAfterSIGKILL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		token := provision(t, b)
		srv := startServer(t, nil, append(b.storeArgs(), "--addr", "127.0.0.1:0")...)
		api := newAPI(srv.URL, token)
		defer api.close()
		inboxID := createInbox(t, api, "Durability")

		l := startLoad(api, inboxID, "kill", loadWorkers, loadPerWorker)
		reached := waitUntil(loadWithin, func() bool { return l.nacked.Load() >= 1000 || l.finished() })
		if !reached || l.finished() {
			srv.kill()
			l.stop()
			t.Fatalf("load did not reach 1,000 acknowledged messages while the server ran: %s", l.summary())
		}
		inflight := l.inflight.Load()
		srv.kill() // SIGKILL: no drain, no clean close
		l.stop()
		t.Logf("%s: SIGKILL with ~%d requests in flight; %s", b.Name, inflight, l.summary())
		if bad := l.unexpected(nil); len(bad) > 0 {
			t.Errorf("%d unexpected answer(s) before the kill:\n%s", len(bad), firstN(bad))
		}
		if code, _ := srv.wait(0); code != -1 {
			t.Errorf("killed server exit code = %d, want -1 (signal)", code)
		}

		srv2 := startServer(t, nil, append(b.storeArgs(), "--addr", "127.0.0.1:0")...)
		api2 := newAPI(srv2.URL, token)
		defer api2.close()
		verifyDurable(t, api2, inboxID, l.acked)
	})
}

// TestGracefulShutdown sends SIGTERM while load runs: the server drains and
// exits 0; in-flight requests get an answer or a connection error, never a
// 5xx; every acknowledged message is there after a restart.
func TestGracefulShutdown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		token := provision(t, b)
		srv := startServer(t, nil, append(b.storeArgs(), "--addr", "127.0.0.1:0")...)
		api := newAPI(srv.URL, token)
		defer api.close()
		inboxID := createInbox(t, api, "Shutdown")

		l := startLoad(api, inboxID, "term", loadWorkers, loadPerWorker)
		reached := waitUntil(loadWithin, func() bool { return l.nacked.Load() >= 500 || l.finished() })
		if !reached || l.finished() {
			srv.kill()
			l.stop()
			t.Fatalf("load did not reach 500 acknowledged messages while the server ran: %s", l.summary())
		}
		inflight := l.inflight.Load()
		srv.signal(syscall.SIGTERM)
		// The load keeps firing during the drain; it stops once the process is gone.
		code, exited := srv.wait(exitTimeout)
		l.stop()
		if !exited {
			t.Fatalf("kanal serve did not exit within %s of SIGTERM (drain is 15 s); %s", exitTimeout, l.summary())
		}
		t.Logf("%s: SIGTERM with ~%d requests in flight; %s", b.Name, inflight, l.summary())
		if code != 0 {
			t.Errorf("exit code after SIGTERM = %d, want 0", code)
		}
		if bad := l.unexpected(nil); len(bad) > 0 {
			t.Errorf("%d request(s) got an answer other than a fresh 202 (a 5xx during the drain?):\n%s", len(bad), firstN(bad))
		}
		if logs := srv.logs.String(); !strings.Contains(logs, `"msg":"stopped"`) {
			t.Errorf("no \"stopped\" log line after SIGTERM:\n%s", tail(logs, 20))
		}

		srv2 := startServer(t, nil, append(b.storeArgs(), "--addr", "127.0.0.1:0")...)
		api2 := newAPI(srv2.URL, token)
		defer api2.close()
		verifyDurable(t, api2, inboxID, l.acked)
	})
}

// TestConcurrentRetriesAreIdempotent posts the same external_message_id from
// many clients at once (a provider retrying while the first try is still in
// flight): exactly one is stored, and every answer names the same message.
func TestConcurrentRetriesAreIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		token := provision(t, b)
		srv := startServer(t, nil, append(b.storeArgs(), "--addr", "127.0.0.1:0")...)
		api := newAPI(srv.URL, token)
		defer api.close()
		inboxID := createInbox(t, api, "Retries")
		path := "/api/v1/inboxes/" + inboxID + "/inbound"
		for round := range 20 {
			extID := fmt.Sprintf("retry-%02d", round)
			results := make([]ingestResult, 16)
			failures := make([]string, 16)
			var wg sync.WaitGroup
			for i := range results {
				wg.Go(func() {
					r, err := api.do("POST", path, inbound(extID, "retry@example.com"))
					switch {
					case err != nil:
						failures[i] = err.Error()
					case r.Status != http.StatusAccepted:
						failures[i] = fmt.Sprintf("status %d: %s", r.Status, r.Body)
					default:
						_ = json.Unmarshal(r.Body, &results[i])
					}
				})
			}
			wg.Wait()
			fresh := 0
			for i, res := range results {
				if failures[i] != "" {
					t.Fatalf("%s, client %d: %s", extID, i, failures[i])
				}
				if !res.Duplicate {
					fresh++
				}
				if res.MessageID != results[0].MessageID || res.ConversationID != results[0].ConversationID {
					t.Fatalf("%s: clients got different messages: %+v vs %+v", extID, res, results[0])
				}
			}
			if fresh != 1 {
				t.Fatalf("%s: %d answers said duplicate:false, want exactly 1", extID, fresh)
			}
		}
		// And the conversation holds each message once.
		var conv string
		r := api.must(t, http.StatusAccepted, "POST", path, inbound("retry-00", "retry@example.com"))
		var res ingestResult
		_ = json.Unmarshal(r.Body, &res)
		conv = res.ConversationID
		if n := len(listMessageIDs(t, api, conv)); n != 20 {
			t.Errorf("conversation holds %d messages after 20 ids posted 16 times each, want 20", n)
		}
	})
}

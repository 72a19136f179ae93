package email_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/channel/api"
	"github.com/kanal-dev/kanal/internal/channel/email"
	fake "github.com/kanal-dev/kanal/internal/fakes/email"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/store/storetest"
	"github.com/kanal-dev/kanal/internal/testutil"
)

func simpleMail(from, id, subject, body string) []byte {
	return []byte("From: " + from + "\r\nTo: destek@example.test\r\nSubject: " + subject + "\r\nMessage-ID: <" + id + ">\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

func providerIDs(b channel.Batch) []string {
	var ids []string
	for _, m := range b.Messages {
		ids = append(ids, m.ProviderID)
	}
	slices.Sort(ids)
	return ids
}

// TestIMAPPoller runs the poller against a real Dovecot (skipped when it
// is not installed).
func TestIMAPPoller(t *testing.T) {
	dc := fake.StartDovecot(t)
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			ad := email.New(email.Options{MaxMessageBytes: 64 << 10, Timeout: 20 * time.Second})
			// No workers: the registry would poll the same folder on its own.
			a := testutil.New(t, d, testutil.Options{NoWorkers: true, Adapters: []channel.Adapter{ad, api.NewSender(nil)}})
			ad.Bind(email.Deps{Media: a.Media, Inboxes: a.Inboxes, Store: a.Webhooks, Conversations: a.Conversations, MediaBaseURL: a.URL})
			w := a.Setup("Mağaza", "owner@example.com")
			c := a.Client(w.Token)
			ctx := context.Background()
			create := func(name, password string) inbox.Inbox {
				ib := c.Must(http.StatusCreated, "POST", "/api/v1/inboxes", map[string]any{"type": "email", "name": name,
					"config": map[string]any{"address": "destek@example.test", "imap": dc.Config(), "imap_password": password}}).JSON()
				in, err := a.Inboxes.Get(ctx, w.ID, ib["id"].(string))
				if err != nil {
					t.Fatal(err)
				}
				return in
			}
			in := create("IMAP", dc.Password)
			store := func(t *testing.T, b channel.Batch) {
				t.Helper()
				if err := a.Webhooks.Store(ctx, in, b, func(m channel.Message, err error) { t.Fatalf("skipped %s: %v", m.ProviderID, err) }); err != nil {
					t.Fatal(err)
				}
			}
			count := func(t *testing.T, addr string) int {
				t.Helper()
				items := c.Must(http.StatusOK, "GET", "/api/v1/customers?q="+addr, nil).JSON()["items"].([]any)
				if len(items) == 0 {
					return 0
				}
				n := 0
				for _, cv := range c.Must(http.StatusOK, "GET", "/api/v1/conversations?customer="+items[0].(map[string]any)["id"].(string), nil).JSON()["items"].([]any) {
					var out struct {
						Items []any `json:"items"`
					}
					c.Must(http.StatusOK, "GET", "/api/v1/conversations/"+cv.(map[string]any)["id"].(string)+"/messages?limit=200", nil).Decode(t, &out)
					n += len(out.Items)
				}
				return n
			}
			tag := string(d)

			t.Run("wrong credentials give a clear error", func(t *testing.T) {
				bad := create("Yanlış", "yanlış-şifre")
				_, next, err := ad.Poll(ctx, bad, "")
				if err == nil || !strings.Contains(err.Error(), "refused the login") || !strings.Contains(err.Error(), dc.User) || next != "" {
					t.Fatalf("err %v next %q", err, next)
				}
				if _, err := ad.Test(ctx, bad); err == nil || !strings.Contains(err.Error(), "refused the login") {
					t.Fatalf("test: %v", err)
				}
				if desc, err := ad.Test(ctx, in); err != nil || !strings.Contains(desc, "IMAP "+dc.User) {
					t.Fatalf("test: %q %v", desc, err)
				}
			})

			var cursor string
			t.Run("new mail is fetched by UID and never re-imported", func(t *testing.T) {
				dc.Deliver(t, simpleMail("Ayşe <ayse-"+tag+"@example.com>", "one-"+tag+"@example.com", "Sipariş", "Birinci"))
				dc.Deliver(t, simpleMail("Ayşe <ayse-"+tag+"@example.com>", "two-"+tag+"@example.com", "Sipariş", "İkinci"))
				b, next, err := ad.Poll(ctx, in, "")
				if err != nil {
					t.Fatal(err)
				}
				ids := providerIDs(b)
				if !slices.Contains(ids, "one-"+tag+"@example.com") || !slices.Contains(ids, "two-"+tag+"@example.com") {
					t.Fatalf("first poll: %v", ids)
				}
				store(t, b)
				cur := email.ParseCursor(next)
				if cur.UIDValidity == 0 || cur.UID == 0 {
					t.Fatalf("cursor %q", next)
				}
				b2, next2, err := ad.Poll(ctx, in, next)
				if err != nil || len(b2.Messages) != 0 || email.ParseCursor(next2).UID != cur.UID {
					t.Fatalf("second poll: %v %v %q", providerIDs(b2), err, next2)
				}
				dc.Deliver(t, simpleMail("Ayşe <ayse-"+tag+"@example.com>", "three-"+tag+"@example.com", "Sipariş", "Üçüncü"))
				b3, next3, err := ad.Poll(ctx, in, next2)
				if err != nil || fmt.Sprint(providerIDs(b3)) != "[three-"+tag+"@example.com]" || email.ParseCursor(next3).UID != cur.UID+1 {
					t.Fatalf("third poll: %v %v %q", providerIDs(b3), err, next3)
				}
				store(t, b3)
				store(t, b) // a round stored twice (a crash before the cursor moved) stores nothing new
				if n := count(t, "ayse-"+tag+"@example.com"); n != 3 {
					t.Fatalf("%d messages", n)
				}
				cursor = next3
			})

			t.Run("mail is fetched with PEEK: it stays unread", func(t *testing.T) {
				cl, err := imapclient.DialInsecure(dc.Addr(), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				if err := cl.Login(dc.User, dc.Password).Wait(); err != nil {
					t.Fatal(err)
				}
				if _, err := cl.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
					t.Fatal(err)
				}
				data, err := cl.Search(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
				if err != nil {
					t.Fatal(err)
				}
				if n := len(data.AllSeqNums()); n != 0 {
					t.Fatalf("%d messages were marked seen", n)
				}
			})

			t.Run("a mail over the size limit keeps its headers", func(t *testing.T) {
				big := simpleMail("Büyük <buyuk-"+tag+"@example.com>", "big-"+tag+"@example.com", "Büyük dosya", strings.Repeat("veri ", 20000))
				dc.Deliver(t, big)
				b, next, err := ad.Poll(ctx, in, cursor)
				if err != nil || len(b.Messages) != 1 {
					t.Fatalf("%v %v", providerIDs(b), err)
				}
				m := b.Messages[0]
				if m.ProviderID != "big-"+tag+"@example.com" || m.Subject != "Büyük dosya" || !strings.Contains(m.Text, "over the") {
					t.Fatalf("message %+v", m)
				}
				store(t, b)
				cursor = next
			})

			t.Run("a UIDVALIDITY change re-reads recent mail without duplicates", func(t *testing.T) {
				old := email.ParseCursor(cursor)
				dc.SetUIDValidity(t, old.UIDValidity+1000)
				b, next, err := ad.Poll(ctx, in, cursor)
				if err != nil {
					t.Fatal(err)
				}
				if cur := email.ParseCursor(next); cur.UIDValidity != old.UIDValidity+1000 || cur.UID == 0 {
					t.Fatalf("cursor %q", next)
				}
				if !slices.Contains(providerIDs(b), "three-"+tag+"@example.com") {
					t.Fatalf("re-read %v", providerIDs(b))
				}
				store(t, b)
				if n := count(t, "ayse-"+tag+"@example.com"); n != 3 {
					t.Fatalf("%d messages after the resync", n)
				}
				dc.Deliver(t, simpleMail("Ayşe <ayse-"+tag+"@example.com>", "four-"+tag+"@example.com", "Sipariş", "Dördüncü"))
				b, _, err = ad.Poll(ctx, in, next)
				if err != nil || fmt.Sprint(providerIDs(b)) != "[four-"+tag+"@example.com]" {
					t.Fatalf("after the resync: %v %v", providerIDs(b), err)
				}
			})
		})
	}
}

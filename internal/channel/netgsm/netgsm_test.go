package netgsm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/customer"
	fakenetgsm "github.com/kanal-dev/kanal/internal/fakes/netgsm"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
)

const turkish = "Işık, siparişim İstanbul'a ulaştı mı? Çok teşekkürler 🙏"

// retryDelay digs the delay out of a jobs.RetryAfter error (the jobs
// package keeps it unexported).
func retryDelay(err error) (time.Duration, bool) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		v := reflect.ValueOf(e)
		if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct && v.Elem().Type().Name() == "retryAfterError" {
			return time.Duration(v.Elem().FieldByName("d").Int()), true
		}
	}
	return 0, false
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) (*Adapter, *fakenetgsm.Server, inbox.Inbox, *clock) {
	f := fakenetgsm.New(t, "8501234567", "p4ss", "KANAL", "MAGAZA")
	clk := &clock{t: time.Date(2026, 3, 15, 14, 30, 0, 0, turkey)}
	a := NewNetgsm(nil)
	a.Now = clk.now
	in := inbox.Inbox{ID: "ib1", Type: TypeName,
		Config:  map[string]any{KeyUsercode: "8501234567", KeyMsgHeader: "KANAL", KeyAPIBaseURL: f.URL},
		Secrets: map[string]string{KeyPassword: "p4ss"}}
	return a, f, in, clk
}

func outbound(in inbox.Inbox, text string) channel.Outbound {
	return channel.Outbound{Inbox: in, Conversation: conversation.Conversation{ID: "c1"},
		Customer: customer.Customer{ID: "cu1", Identities: []customer.Identity{
			{Kind: customer.KindPhone, Value: "0532 123 45 67", Normalized: "+905321234567"}}},
		Message: conversation.Message{ID: "m1", Text: text}}
}

func TestSendPayload(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]any
		iys    string
	}{
		{"informational by default", nil, "0"},
		{"commercial: false", map[string]any{KeyCommercial: false}, "0"},
		{"commercial to individuals", map[string]any{KeyCommercial: true}, "11"},
		{"commercial, recipient individual", map[string]any{KeyCommercial: true, KeyIYSRecipientType: "individual"}, "11"},
		{"commercial to merchants", map[string]any{KeyCommercial: true, KeyIYSRecipientType: "merchant"}, "12"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, f, in, _ := setup(t)
			for k, v := range c.config {
				in.Config[k] = v
			}
			if err := validate(in.Config, in.Secrets); err != nil {
				t.Fatal(err)
			}
			id, err := a.Send(context.Background(), outbound(in, turkish))
			if err != nil {
				t.Fatal(err)
			}
			s := f.Sent()[0]
			want := `{"msgheader":"KANAL","encoding":"TR","iysfilter":"` + c.iys + `","messages":[{"msg":"` + turkish + `","no":"5321234567"}]}`
			if s.Raw != want {
				t.Fatalf("body\n got %s\nwant %s", s.Raw, want)
			}
			if s.User != "8501234567" || s.Password != "p4ss" || id != s.JobID || id == "" {
				t.Fatalf("auth %s:%s, id %q vs %q", s.User, s.Password, id, s.JobID)
			}
			if got := a.Tracked(in.ID); !reflect.DeepEqual(got, []string{id}) {
				t.Fatalf("tracked %v", got)
			}
		})
	}
}

func TestNationalNumber(t *testing.T) {
	cases := []struct {
		in, out string
		ok      bool
	}{
		{"+905321234567", "5321234567", true},
		{"+902121234567", "2121234567", true},
		{"+4915112345678", "", false},
		{"905321234567", "", false},
		{"+90532123456", "", false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if out, ok := NationalNumber(c.in); out != c.out || ok != c.ok {
				t.Fatalf("%q %v", out, ok)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	cases := []struct {
		name      string
		code      string
		edit      func(o *channel.Outbound)
		permanent bool
		retry     time.Duration
		text      string
	}{
		{name: "20 text", code: "20", permanent: true, text: "netgsm 20: message text problem"},
		{name: "30 credentials", code: "30", permanent: true, text: "credentials or IP not allowed"},
		{name: "40 header", code: "40", permanent: true, text: "msgheader"},
		{name: "50 İYS", code: "50", permanent: true, text: "İYS-controlled"},
		{name: "51 İYS brand", code: "51", permanent: true, text: "İYS brand"},
		{name: "70 parameter", code: "70", permanent: true, text: "parameter"},
		{name: "80 rate", code: "80", retry: time.Minute, text: "rate limit"},
		{name: "85 duplicate", code: "85", retry: time.Minute, text: "duplicate"},
		{name: "100 system", code: "100", text: "system error"},
		{name: "101 system", code: "101", text: "system error"},
		{name: "unknown code", code: "999", text: "netgsm 999"},
		{name: "wrong password", edit: func(o *channel.Outbound) { o.Inbox.Secrets[KeyPassword] = "x" }, permanent: true, text: "netgsm 30"},
		{name: "header not approved", edit: func(o *channel.Outbound) { o.Inbox.Config[KeyMsgHeader] = "BASKA" }, permanent: true, text: "netgsm 40"},
		{name: "foreign number", edit: func(o *channel.Outbound) {
			o.Customer.Identities[0].Normalized = "+4915112345678"
		}, permanent: true, text: "Turkish numbers"},
		{name: "no phone", edit: func(o *channel.Outbound) { o.Customer.Identities = nil }, permanent: true, text: "no phone"},
		{name: "no text", edit: func(o *channel.Outbound) {
			o.Message.Text, o.Message.Attachments = "", []conversation.Attachment{{URL: "/api/v1/media/x"}}
		}, permanent: true, text: "text only"},
		{name: "template", edit: func(o *channel.Outbound) {
			o.Message.ContentType, o.Message.Raw = "template", `{"name":"kampanya"}`
		}, permanent: true, text: "no templates"},
		{name: "network", edit: func(o *channel.Outbound) { o.Inbox.Config[KeyAPIBaseURL] = "http://127.0.0.1:1" }, text: "netgsm"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, f, in, _ := setup(t)
			if c.code != "" {
				f.FailSend(c.code)
			}
			o := outbound(in, "Merhaba")
			if c.edit != nil {
				c.edit(&o)
			}
			_, err := a.Send(context.Background(), o)
			if err == nil {
				t.Fatal("sent")
			}
			if jobs.IsPermanent(err) != c.permanent {
				t.Fatalf("permanent = %v: %v", jobs.IsPermanent(err), err)
			}
			d, isRetry := retryDelay(err)
			if (c.retry > 0) != isRetry || d != c.retry {
				t.Fatalf("retry after %v (%v), want %v: %v", d, isRetry, c.retry, err)
			}
			if !strings.Contains(err.Error(), c.text) {
				t.Fatalf("error %q lacks %q", err, c.text)
			}
			if len(a.Tracked(in.ID)) != 0 {
				t.Fatal("a failed send is tracked")
			}
		})
	}
}

func TestKeyIsStable(t *testing.T) {
	m := InboxMessage{Message: turkish, Sender: "905321234567", Receiver: "8501234567", Datetime: "15.03.2026 14:10:00"}
	sum := sha256.Sum256([]byte("905321234567|8501234567|15.03.2026 14:10:00|" + turkish))
	if Key(m) != hex.EncodeToString(sum[:]) {
		t.Fatal("the key is not sha256(sender|receiver|datetime|message)")
	}
	other := m
	other.Datetime = "15.03.2026 14:11:00"
	if Key(m) == Key(other) {
		t.Fatal("two messages share a key")
	}
}

func TestPollInbox(t *testing.T) {
	a, f, in, clk := setup(t)
	ctx := context.Background()

	// Nothing yet: code 40 is an empty round, not an error.
	b, cur, err := a.Poll(ctx, in, "")
	if err != nil || len(b.Messages) != 0 || len(b.Statuses) != 0 {
		t.Fatalf("empty inbox: %+v %v", b, err)
	}
	q := f.InboxQueries()[0]
	if q.Start != "15032026132000" || q.Stop != "15032026143000" {
		t.Fatalf("first window %+v: the last hour (and the overlap) in ddMMyyyyHHmmss", q)
	}
	if cur != "15032026133000" {
		t.Fatalf("cursor after an empty first round: %s", cur)
	}

	old := f.Receive("905551112233", "8501234567", "çok eski", clk.now().Add(-3*time.Hour))
	m1 := f.Receive("905321234567", "8501234567", turkish, clk.now().Add(-20*time.Minute))
	m2 := f.Receive("05321234567", "8501234567", "İkinci mesaj", clk.now().Add(-5*time.Minute))
	b, cur, err = a.Poll(ctx, in, cur)
	if err != nil {
		t.Fatal(err)
	}
	want := []channel.Message{
		{ProviderID: Key(InboxMessage(m1)), Text: turkish, ContentType: "text", At: clk.now().Add(-20 * time.Minute),
			Claims: []customer.Claim{{Kind: customer.KindPhone, Value: "+905321234567"}}},
		{ProviderID: Key(InboxMessage(m2)), Text: "İkinci mesaj", ContentType: "text", At: clk.now().Add(-5 * time.Minute),
			Claims: []customer.Claim{{Kind: customer.KindPhone, Value: "+905321234567"}}},
	}
	if len(b.Messages) != 2 {
		t.Fatalf("messages: %+v", b.Messages)
	}
	for i := range want {
		g := b.Messages[i]
		if g.ProviderID != want[i].ProviderID || g.Text != want[i].Text || !g.At.Equal(want[i].At) ||
			!reflect.DeepEqual(g.Claims, want[i].Claims) || g.ContentType != "text" {
			t.Fatalf("message %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
	if cur != "15032026142500" {
		t.Fatalf("cursor is the newest datetime seen: %s", cur)
	}
	_ = old

	// The next round reads from the cursor minus the overlap: the same rows
	// come back with the same keys (Kanal stores them once).
	clk.add(time.Minute)
	b, cur2, err := a.Poll(ctx, in, cur)
	if err != nil {
		t.Fatal(err)
	}
	if q := f.InboxQueries()[2]; q.Start != "15032026141500" || q.Stop != "15032026143100" {
		t.Fatalf("second window %+v", q)
	}
	if len(b.Messages) != 1 || b.Messages[0].ProviderID != Key(InboxMessage(m2)) || cur2 != cur {
		t.Fatalf("again: %+v, cursor %s", b.Messages, cur2)
	}

	// An idle inbox's cursor never lags more than a day.
	clk.add(72 * time.Hour)
	_, cur3, err := a.Poll(ctx, in, cur)
	if err != nil {
		t.Fatal(err)
	}
	if want := CursorAt(clk.now().Add(-MaxLag)); cur3 != want {
		t.Fatalf("idle cursor %s, want %s", cur3, want)
	}

	// Errors keep the cursor.
	f.FailInbox("30")
	if _, c, err := a.Poll(ctx, in, cur3); err == nil || c != cur3 || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("code 30: %v, cursor %s", err, c)
	}
}

func TestPollOddRows(t *testing.T) {
	a, f, in, clk := setup(t)
	// Datetimes in other layouts still parse; an unreadable one still comes
	// through (stored at Kanal's time) without moving the cursor.
	f.Append(fakenetgsm.InboxMessage{Message: "iso", Sender: "+905321234567", Receiver: "8501234567", Datetime: "2026-03-15 14:20:00"})
	f.Append(fakenetgsm.InboxMessage{Message: "garbled", Sender: "5321234567", Receiver: "8501234567", Datetime: "dün"})
	b, cur, err := a.Poll(context.Background(), in, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Messages) != 2 || !b.Messages[0].At.Equal(time.Date(2026, 3, 15, 14, 20, 0, 0, turkey)) || !b.Messages[1].At.IsZero() {
		t.Fatalf("%+v", b.Messages)
	}
	if cur != "15032026142000" {
		t.Fatalf("cursor %s (now %v)", cur, clk.now())
	}
}

func TestPollReports(t *testing.T) {
	a, f, in, clk := setup(t)
	ctx := context.Background()
	var ids []string
	for range 4 {
		id, err := a.Send(ctx, outbound(in, "Merhaba"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	f.SetReport(ids[0], 1, 0)
	f.SetReport(ids[1], 16, 0)
	f.SetReport(ids[2], 0, 0)
	f.SetReport(ids[3], 3, 0)
	b, _, err := a.Poll(ctx, in, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]channel.Status{}
	for _, s := range b.Statuses {
		got[s.ProviderMessageID] = s
	}
	want := map[string]channel.Status{
		ids[0]: {ProviderMessageID: ids[0], Status: "delivered"},
		ids[1]: {ProviderMessageID: ids[1], Status: "failed", Reason: "16: İYS rejected: no consent on record / İYS reddetti: alıcının İYS onayı yok"},
		ids[3]: {ProviderMessageID: ids[3], Status: "failed", Reason: "3: invalid or restricted number / hatalı veya kısıtlı numara"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("statuses:\n got %v\nwant %v", got, want)
	}
	rq := f.ReportRequests()[0]
	if !reflect.DeepEqual(rq.JobIDs, ids) || rq.StartDate != "15.03.2026 14:29:00" || rq.StopDate != "15.03.2026 14:31:00" {
		t.Fatalf("report request %+v", rq)
	}

	// Rate-limited report queries: no statuses, no error; final reports are
	// handed out again from memory for a while.
	f.FailReport("80")
	f.SetReport(ids[2], 1, 0)
	clk.add(time.Minute)
	b, _, err = a.Poll(ctx, in, "")
	if err != nil || len(b.Statuses) != 3 {
		t.Fatalf("rate limited: %v %v", b.Statuses, err)
	}
	clk.add(time.Minute)
	b, _, err = a.Poll(ctx, in, "")
	if err != nil || len(b.Statuses) != 4 {
		t.Fatalf("pending became delivered: %v %v", b.Statuses, err)
	}
	if n := len(f.ReportRequests()); n != 3 || !reflect.DeepEqual(f.ReportRequests()[2].JobIDs, []string{ids[2]}) {
		t.Fatalf("only pending jobs are asked about: %+v", f.ReportRequests())
	}

	// After a while final reports are forgotten; nothing is asked.
	clk.add(keepDone + time.Minute)
	b, _, err = a.Poll(ctx, in, "")
	if err != nil || len(b.Statuses) != 0 || len(a.Tracked(in.ID)) != 0 || len(f.ReportRequests()) != 3 {
		t.Fatalf("after keepDone: %v %v, tracked %v", b.Statuses, err, a.Tracked(in.ID))
	}
}

func TestTrackingIsBounded(t *testing.T) {
	a, f, in, clk := setup(t)
	a.MaxTracked = 3
	ctx := context.Background()
	var ids []string
	for range 5 {
		id, err := a.Send(ctx, outbound(in, "Merhaba"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		clk.add(time.Second)
	}
	if got := a.Tracked(in.ID); !reflect.DeepEqual(got, ids[2:]) {
		t.Fatalf("tracked %v, want the newest %v", got, ids[2:])
	}
	// Sends with no final report are given up after TrackFor.
	clk.add(TrackFor + time.Minute)
	if _, _, err := a.Poll(ctx, in, ""); err != nil {
		t.Fatal(err)
	}
	if got := a.Tracked(in.ID); len(got) != 0 || len(f.ReportRequests()) != 0 {
		t.Fatalf("tracked %v, %d report calls", got, len(f.ReportRequests()))
	}
	// Inboxes are tracked apart.
	other := in
	other.ID = "ib2"
	if _, err := a.Send(ctx, outbound(other, "x")); err != nil {
		t.Fatal(err)
	}
	if len(a.Tracked(in.ID)) != 0 || len(a.Tracked("ib2")) != 1 {
		t.Fatal("inboxes share their tracked sends")
	}
}

func TestTester(t *testing.T) {
	a, _, in, _ := setup(t)
	got, err := a.Test(context.Background(), in)
	if err != nil || got != "Netgsm 8501234567, sender KANAL" {
		t.Fatalf("%q %v", got, err)
	}
	in.Config[KeyMsgHeader] = "BASKA"
	if _, err := a.Test(context.Background(), in); err == nil || !strings.Contains(err.Error(), "KANAL, MAGAZA") {
		t.Fatalf("unknown header: %v", err)
	}
	in.Config[KeyMsgHeader] = "KANAL"
	in.Secrets[KeyPassword] = "wrong"
	if _, err := a.Test(context.Background(), in); err == nil || !strings.Contains(err.Error(), "netgsm 30") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestValidate(t *testing.T) {
	base := func() map[string]any { return map[string]any{KeyUsercode: "8501234567", KeyMsgHeader: "KANAL"} }
	sec := map[string]string{KeyPassword: "p"}
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		sec   map[string]string
		field string
	}{
		{"minimal", nil, sec, ""},
		{"commercial merchant", func(m map[string]any) { m[KeyCommercial], m[KeyIYSRecipientType] = true, "merchant" }, sec, ""},
		{"api base", func(m map[string]any) { m[KeyAPIBaseURL] = "http://127.0.0.1:8080" }, sec, ""},
		{"no usercode", func(m map[string]any) { delete(m, KeyUsercode) }, sec, KeyUsercode},
		{"no header", func(m map[string]any) { delete(m, KeyMsgHeader) }, sec, KeyMsgHeader},
		{"long header", func(m map[string]any) { m[KeyMsgHeader] = "ÇOKUZUNBAŞLIK" }, sec, KeyMsgHeader},
		{"commercial as a string", func(m map[string]any) { m[KeyCommercial] = "true" }, sec, KeyCommercial},
		{"recipient type without commercial", func(m map[string]any) { m[KeyIYSRecipientType] = "merchant" }, sec, KeyIYSRecipientType},
		{"bad recipient type", func(m map[string]any) { m[KeyCommercial], m[KeyIYSRecipientType] = true, "BIREYSEL" }, sec, KeyIYSRecipientType},
		{"unknown key", func(m map[string]any) { m["filter"] = "11" }, sec, "filter"},
		{"no password", nil, map[string]string{}, KeyPassword},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			if c.edit != nil {
				c.edit(cfg)
			}
			err := validate(cfg, c.sec)
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("want an error on %s, got %v", c.field, err)
			}
		})
	}
}

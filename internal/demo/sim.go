package demo

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fakemeta "github.com/kanal-dev/kanal/internal/fakes/meta"
	fakenetgsm "github.com/kanal-dev/kanal/internal/fakes/netgsm"
	faketelegram "github.com/kanal-dev/kanal/internal/fakes/telegram"
	faketwilio "github.com/kanal-dev/kanal/internal/fakes/twilio"
	fakewhatsapp "github.com/kanal-dev/kanal/internal/fakes/whatsapp"
)

// Statuses of a simulated message. A customer's message is sent, then
// accepted (Kanal answered the webhook 2xx; for Netgsm: Kanal's poll read
// it) or failed; "waiting" is a Netgsm SMS no poll has read yet. An agent's
// reply is sent (the fake accepted Kanal's call), then delivered and read as
// the simulator reports them back.
const (
	StatusSending   = "sending"
	StatusWaiting   = "waiting"
	StatusAccepted  = "accepted"
	StatusFailed    = "failed"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
)

// Who wrote a message.
const (
	FromCustomer = "customer"
	FromAgent    = "agent"
)

// Message is one message of a simulated chat, as the page shows it.
type Message struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	Persona string `json:"persona"`
	From    string `json:"from"`
	Text    string `json:"text"`
	// Image is the sample image's path on the simulator (a customer's
	// attachment); Link is the URL of an agent's attachment.
	Image      string    `json:"image,omitempty"`
	Link       string    `json:"link,omitempty"`
	ProviderID string    `json:"provider_id,omitempty"`
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	At         time.Time `json:"at"`

	netgsmQueries int // Netgsm: inbox queries made before it was received
}

// SendRequest is a customer message to send through a simulated channel.
type SendRequest struct {
	Channel string `json:"channel"`
	Persona string `json:"persona"`
	Text    string `json:"text"`
	Image   bool   `json:"image"` // attach the sample image
}

// Errors of Send.
var (
	ErrNotReady   = errors.New("the simulator is not connected to Kanal yet")
	ErrBadRequest = errors.New("bad request")
)

// maxMessages bounds the chats kept in memory; the oldest go first.
const maxMessages = 2000

// Receipt timing: how long after a reply the simulated customer's phone
// reports it delivered and read, and when the last report is repeated.
// Providers repeat reports; the repeat also covers a report that overtook
// Kanal's own record of the send (a report names the message by the
// provider's id, which Kanal stores when the send returns).
var (
	receiptDelays = map[string]time.Duration{StatusSent: 400 * time.Millisecond, StatusDelivered: 1200 * time.Millisecond,
		StatusRead: 3 * time.Second}
	repeatAfter = 8 * time.Second
)

// Simulator impersonates the providers of Kanal's channels on one HTTP
// handler: each provider's API (a fake from internal/fakes, on its own
// loopback port, reached through a proxy under a prefix), the customer page
// and its JSON API. It posts correctly signed webhooks to Kanal as the
// customers, notices the replies Kanal sends to the fakes and reports them
// delivered and read.
type Simulator struct {
	st  State
	url string // where Handler is served
	log *slog.Logger
	ids runIDs
	tb  *cleanups

	wa   *fakewhatsapp.Server
	meta *fakemeta.Server
	tg   *faketelegram.Server
	tw   *faketwilio.Server
	ng   *fakenetgsm.Server

	handler http.Handler
	client  *http.Client

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	mu        sync.Mutex
	info      Info
	hooks     map[string]string // channel → Kanal's webhook URL
	msgs      []*Message
	seq       int64
	version   int64
	seen      map[string]int // per fake: sends already noticed
	ngQueries int
	tgLast    int64
}

// Info is what the page shows about the demo.
type Info struct {
	Ready    bool   `json:"ready"`
	KanalURL string `json:"kanal_url"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// NewSimulator starts the fakes with the state's credentials; url is where
// the simulator's Handler is served. Connect it to Kanal before sending;
// Close it when done.
func NewSimulator(st State, url string, log *slog.Logger) *Simulator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := st.Creds
	s := &Simulator{st: st, url: strings.TrimRight(url, "/"), log: log, ids: runIDs{run: time.Now().UnixMilli()}, tb: &cleanups{},
		stop: make(chan struct{}), seen: map[string]int{}, client: &http.Client{Timeout: 30 * time.Second}}
	s.wa = fakewhatsapp.New(fakewhatsapp.Options{Version: GraphVersion, PhoneNumberID: c.WhatsAppPhoneNumberID,
		DisplayPhoneNumber: strings.TrimPrefix(c.TwilioFrom, "+"), VerifiedName: WorkspaceName, WABAID: c.WhatsAppWABAID,
		AccessToken: c.WhatsAppAccessToken, AppSecret: c.WhatsAppAppSecret})
	s.wa.Client = s.client
	s.meta = fakemeta.New()
	s.meta.Token = c.MetaAccessToken
	s.meta.AddAccount(c.MetaPageID, map[string]string{"name": WorkspaceName})
	s.meta.AddAccount(c.MetaInstagramID, map[string]string{"name": WorkspaceName, "username": "kanal.demo"})
	s.tg = faketelegram.New(s.tb, c.TelegramBotToken)
	s.tg.Username = "kanal_demo_bot"
	s.tw = faketwilio.New(s.tb, c.TwilioAccountSID, c.TwilioAuthToken)
	s.tw.FriendlyName = WorkspaceName
	s.tw.Client = s.client
	s.ng = fakenetgsm.New(s.tb, c.NetgsmUsercode, c.NetgsmPassword, c.NetgsmMsgHeader)
	s.handler = s.routes()
	s.info = Info{Email: st.Email, Password: st.Password}
	s.wg.Add(1)
	go s.watch()
	return s
}

// Handler serves the simulator: the fakes under their prefixes, the page
// at / and its API under /api/.
func (s *Simulator) Handler() http.Handler { return s.handler }

// Connect tells the simulator where Kanal is: its URL (for the page) and
// the webhook URL of each channel's inbox (Netgsm has none: Kanal polls).
func (s *Simulator) Connect(kanalURL string, hooks map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = hooks
	s.wa.WebhookURL = hooks[WhatsApp]
	s.info.KanalURL = kanalURL
	s.info.Ready = true
	s.version++
}

// Stop ends the simulator's own activity: no more reports or tours are
// started, and those under way are waited for. The fakes keep answering
// Kanal until Close.
func (s *Simulator) Stop() {
	s.mu.Lock()
	s.stopOnce.Do(func() { close(s.stop) })
	s.mu.Unlock()
	s.wg.Wait()
}

// Close stops the simulator and its fakes.
func (s *Simulator) Close() {
	s.Stop()
	s.wa.Close()
	s.meta.Close()
	s.tb.close()
}

func (s *Simulator) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// spawn runs fn in a goroutine that Stop waits for; false when the
// simulator is stopping (fn does not run).
func (s *Simulator) spawn(fn func()) bool {
	s.mu.Lock()
	if s.stopped() {
		s.mu.Unlock()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// later runs fn after d unless the simulator stops first.
func (s *Simulator) later(d time.Duration, fn func()) {
	s.spawn(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			fn()
		case <-s.stop:
		}
	})
}

// sleep waits d; false when the simulator stopped meanwhile.
func (s *Simulator) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}

// Messages returns the messages of one chat (or of all, with empty
// arguments), oldest first, and the version of the simulator's data (it
// changes whenever anything does).
func (s *Simulator) Messages(channel, persona string) ([]Message, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Message{}
	for _, m := range s.msgs {
		if (channel == "" || m.Channel == channel) && (persona == "" || m.Persona == persona) {
			out = append(out, *m)
		}
	}
	return out, s.version
}

// Info returns what the page shows about the demo.
func (s *Simulator) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

func (s *Simulator) add(m *Message) *Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	m.ID = "m" + strconv.FormatInt(s.seq, 10)
	if m.At.IsZero() {
		m.At = time.Now()
	}
	s.msgs = append(s.msgs, m)
	if len(s.msgs) > maxMessages {
		s.msgs = append([]*Message(nil), s.msgs[len(s.msgs)-maxMessages:]...)
	}
	s.version++
	return m
}

// update changes a message under the lock.
func (s *Simulator) update(m *Message, fn func(*Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(m)
	s.version++
}

// advance raises an agent message's status (never lowers it).
func (s *Simulator) advance(m *Message, status string) {
	rank := map[string]int{StatusSent: 1, StatusDelivered: 2, StatusRead: 3}
	s.update(m, func(m *Message) {
		if rank[status] > rank[m.Status] {
			m.Status = status
		}
	})
}

// Send posts a customer's message to Kanal the way the channel's provider
// does (for Netgsm, which Kanal polls: puts it in the fake's inbox). The
// returned message is failed, with the reason, when Kanal refused it.
func (s *Simulator) Send(r SendRequest) (Message, error) {
	ch, ok := ChannelByID(r.Channel)
	if !ok {
		return Message{}, fmt.Errorf("%w: unknown channel %q", ErrBadRequest, r.Channel)
	}
	p, ok := PersonaByID(r.Persona)
	if !ok {
		return Message{}, fmt.Errorf("%w: unknown persona %q", ErrBadRequest, r.Persona)
	}
	r.Text = strings.TrimSpace(r.Text)
	if !ch.Images {
		r.Image = false
	}
	if r.Text == "" && !r.Image {
		return Message{}, fmt.Errorf("%w: type a message", ErrBadRequest)
	}
	if len(r.Text) > 4000 {
		return Message{}, fmt.Errorf("%w: at most 4000 bytes of text", ErrBadRequest)
	}
	s.mu.Lock()
	hook, ready := s.hooks[ch.ID], s.info.Ready
	s.mu.Unlock()
	if !ready || (hook == "" && ch.ID != NetgsmSMS) {
		return Message{}, ErrNotReady
	}
	m := &Message{Channel: ch.ID, Persona: p.ID, From: FromCustomer, Text: r.Text, Status: StatusSending}
	if r.Image {
		m.Image = "/sample.jpg"
	}
	s.add(m)
	pid, err := s.post(ch.ID, p, hook, r)
	// A polled SMS is read by the first inbox query that comes after it
	// (counted once it is in the fake's inbox).
	queries := len(s.ng.InboxQueries())
	s.update(m, func(m *Message) {
		m.ProviderID = pid
		switch {
		case err != nil:
			m.Status, m.Error = StatusFailed, err.Error()
		case ch.Polled:
			m.Status, m.netgsmQueries = StatusWaiting, queries
		default:
			m.Status = StatusAccepted
		}
	})
	if err != nil {
		s.log.Warn("demo: Kanal refused a simulated message", "channel", ch.ID, "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return *m, nil
}

// post sends one customer message through the channel's fake and returns
// the provider's id of it.
func (s *Simulator) post(ch string, p Persona, hook string, r SendRequest) (string, error) {
	c := s.st.Creds
	now := time.Now()
	switch ch {
	case WhatsApp:
		from := fakewhatsapp.Contact{WaID: p.WaID(), Name: p.Name}
		id := s.wa.NewMessageID()
		body := s.wa.TextWebhook(from, id, r.Text)
		if r.Image {
			mediaID := "1" + digits(15)
			s.wa.AddMedia(mediaID, "image/jpeg", SampleImage())
			body = s.wa.ImageWebhook(from, id, mediaID, r.Text)
		}
		code, rb, err := s.wa.Post(body)
		return id, answer(code, rb, err)
	case Messenger, Instagram:
		h := fakemeta.MessengerHook(hook, c.MetaAppSecret, c.MetaPageID)
		scoped := p.PSID
		if ch == Instagram {
			h, scoped = fakemeta.InstagramHook(hook, c.MetaAppSecret, c.MetaInstagramID), p.IGSID
		}
		h.Client = s.client
		var events []fakemeta.Event
		var first string
		if r.Image {
			first = "m_" + randomHex(20)
			u := s.meta.AddMedia("urun-"+randomHex(4)+".jpg", "image/jpeg", SampleImage())
			events = append(events, h.Image(first, scoped, u, now))
		}
		if r.Text != "" {
			mid := "m_" + randomHex(20)
			if first == "" {
				first = mid
			}
			events = append(events, h.Text(mid, scoped, r.Text, now))
		}
		code, rb, err := h.Post(h.Body(events...))
		return first, answer(code, rb, err)
	case Telegram:
		user := faketelegram.User{ID: p.TelegramID, FirstName: p.FirstName(), LastName: p.LastName(), Username: p.Username}
		updateID, messageID := s.telegramIDs()
		fields := map[string]any{"date": now.Unix()}
		if r.Image {
			fileID := "AgACAgQAAxkBAAI" + randomHex(12)
			img := SampleImage()
			s.tg.AddFile(faketelegram.File{ID: fileID, Path: "photos/file_" + randomHex(4) + ".jpg", ContentType: "image/jpeg", Body: img})
			fields["photo"] = []map[string]any{{"file_id": fileID, "file_unique_id": "u" + fileID, "width": 480, "height": 360, "file_size": len(img)}}
			if r.Text != "" {
				fields["caption"] = r.Text
			}
		} else {
			fields["text"] = r.Text
		}
		update := faketelegram.Update(updateID, "message", faketelegram.Message(messageID, user, fields))
		id := strconv.FormatInt(p.TelegramID, 10) + ":" + strconv.FormatInt(messageID, 10)
		var code int
		var rb []byte
		var err error
		if s.tg.Webhook().URL != "" {
			code, rb, err = s.tg.Deliver(update) // where Kanal's setWebhook pointed the fake
		} else {
			code, rb, err = faketelegram.Post(hook, c.TelegramSecretToken, update)
		}
		return id, answer(code, rb, err)
	case TwilioSMS:
		sid := "SM" + randomHex(16)
		m := faketwilio.Message{SID: sid, From: p.Phone, To: c.TwilioFrom, Body: r.Text}
		if r.Image {
			// Kanal sends the account's credentials only to Twilio's host
			// (here: the simulator's), so the media URL goes through it.
			u := s.tw.AddMedia(sid, "image/jpeg", SampleImage())
			m.Media = []string{APIBaseURL(TwilioSMS, s.url) + strings.TrimPrefix(u, s.tw.URL)}
			m.MediaTypes = []string{"image/jpeg"}
		}
		resp, err := s.tw.Post(hook, s.tw.Inbound(m))
		return sid, answer(resp.Status, []byte(resp.Body), err)
	case NetgsmSMS:
		// Netgsm lists inbox rows without an id; Kanal keys them by their
		// content and time.
		s.ng.Receive(p.WaID(), c.NetgsmUsercode, r.Text, now)
		return "", nil
	}
	return "", fmt.Errorf("%w: unknown channel %q", ErrBadRequest, ch)
}

// answer turns a webhook call's outcome into an error unless Kanal
// answered 2xx.
func answer(code int, body []byte, err error) error {
	if err != nil {
		return fmt.Errorf("Kanal could not be reached: %w", err)
	}
	if code/100 != 2 {
		b := strings.TrimSpace(string(body))
		if len(b) > 300 {
			b = b[:300] + "…"
		}
		return fmt.Errorf("Kanal answered %d: %s", code, b)
	}
	return nil
}

// telegramIDs returns a fresh update_id and message_id: increasing, and
// above those of earlier runs (Kanal keeps "chat:message_id" and drops a
// repeat), so they follow the clock.
func (s *Simulator) telegramIDs() (int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := max(s.tgLast+1, time.Now().UnixMilli()/10)
	s.tgLast = n
	return n, n
}

// cleanups is the testing.TB the fakes' constructors take, used outside a
// test: it only collects their Cleanup functions (the only method they
// call), which close runs last-in first-out.
type cleanups struct {
	testing.TB
	mu  sync.Mutex
	fns []func()
}

func (c *cleanups) Cleanup(f func()) {
	c.mu.Lock()
	c.fns = append(c.fns, f)
	c.mu.Unlock()
}

func (c *cleanups) Helper() {}

func (c *cleanups) close() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

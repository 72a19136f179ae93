package demo

import (
	"net/http"
	"strings"
	"time"

	fakemeta "github.com/kanal-dev/kanal/internal/fakes/meta"
)

// watchEvery is how often the simulator looks at what the fakes received.
const watchEvery = 200 * time.Millisecond

// watch notices the replies Kanal sends to the fakes and the inbox queries
// of Netgsm's poller, until the simulator stops.
func (s *Simulator) watch() {
	defer s.wg.Done()
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.scan()
		}
	}
}

// fresh returns how many of n items of a fake are new, and marks them seen.
func (s *Simulator) fresh(fake string, n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := s.seen[fake]
	s.seen[fake] = n
	return from
}

func (s *Simulator) scan() {
	c := s.st.Creds

	sent := s.wa.Sent()
	for _, m := range sent[s.fresh("whatsapp", len(sent)):] {
		if m.Refused || m.ID == "" {
			continue
		}
		text := m.Text
		if m.Template != "" {
			text = "[" + m.Template + "] " + strings.Join(m.Params, " · ")
		}
		if m.Caption != "" {
			text = m.Caption
		}
		msg := s.reply(WhatsApp, m.To, text, m.Link, m.ID)
		if msg == nil {
			continue
		}
		wamid := m.ID
		for _, st := range []string{StatusDelivered, StatusRead} {
			s.later(receiptDelays[st], func() {
				if err := s.wa.Deliver(wamid, st); err != nil {
					s.log.Warn("demo: WhatsApp status webhook failed", "status", st, "err", err)
					return
				}
				s.advance(msg, st)
			})
		}
	}

	msent := s.meta.Sent()
	for _, m := range msent[s.fresh("meta", len(msent)):] {
		if m.MessageID == "" {
			continue
		}
		ch := Messenger
		if m.AccountID == c.MetaInstagramID {
			ch = Instagram
		}
		link := ""
		if m.Attachment != nil {
			link = m.Attachment.URL
		}
		mid := s.ids.metaOut(m.MessageID)
		msg := s.reply(ch, m.Recipient, m.Text, link, mid)
		if msg == nil {
			continue
		}
		s.metaReceipts(ch, m.Recipient, mid, msg)
	}

	calls := s.tg.Calls("")
	for _, call := range calls[s.fresh("telegram", len(calls)):] {
		var link string
		switch call.Method {
		case "sendMessage":
		case "sendPhoto":
			link = call.Params["photo"]
		case "sendDocument":
			link = call.Params["document"]
		default:
			continue
		}
		text := call.Params["text"]
		if text == "" {
			text = call.Params["caption"]
		}
		s.reply(Telegram, call.Params["chat_id"], text, link, "") // Telegram reports nothing back
	}

	tsent := s.tw.Sent()
	for _, m := range tsent[s.fresh("twilio", len(tsent)):] {
		if m.SID == "" {
			continue
		}
		sid := s.ids.twilioOut(m.SID)
		msg := s.reply(TwilioSMS, m.Form.Get("To"), m.Form.Get("Body"), m.Form.Get("MediaUrl"), sid)
		if msg == nil {
			continue
		}
		cb, to, from := m.Form.Get("StatusCallback"), m.Form.Get("To"), m.Form.Get("From")
		if cb == "" {
			continue
		}
		post := func(st string) error {
			v := s.tw.StatusCallback(sid, st, 0, "")
			v.Set("To", to)
			if from != "" {
				v.Set("From", from)
			}
			r, err := s.tw.Post(cb, v)
			if err == nil && r.Status != http.StatusOK {
				return answer(r.Status, []byte(r.Body), nil)
			}
			return err
		}
		for _, st := range []string{StatusSent, StatusDelivered} {
			s.later(receiptDelays[st], func() {
				if err := post(st); err != nil {
					s.log.Warn("demo: Twilio status callback failed", "status", st, "err", err)
					return
				}
				s.advance(msg, st)
			})
		}
		s.later(repeatAfter, func() { _ = post(StatusDelivered) })
	}

	nsent := s.ng.Sent()
	for _, m := range nsent[s.fresh("netgsm", len(nsent)):] {
		if m.Code != "00" || m.JobID == "" {
			continue
		}
		job := m.JobID
		for _, row := range m.Request.Messages {
			msg := s.reply(NetgsmSMS, row.No, row.Msg, "", s.ids.netgsmOut(job))
			if msg == nil {
				continue
			}
			// Netgsm pushes nothing: the report waits for Kanal's next poll.
			s.later(2*time.Second, func() {
				s.ng.SetReport(job, 1, 0)
				s.advance(msg, StatusDelivered)
			})
		}
	}

	// Netgsm: an SMS is in Kanal once an inbox query came after it.
	queries := len(s.ng.InboxQueries())
	s.mu.Lock()
	if queries != s.ngQueries {
		s.ngQueries = queries
		for _, m := range s.msgs {
			if m.Channel == NetgsmSMS && m.Status == StatusWaiting && queries > m.netgsmQueries {
				m.Status = StatusAccepted
				s.version++
			}
		}
	}
	s.mu.Unlock()
}

// reply records an agent's reply that a fake received; nil when its
// recipient is none of the personas (a customer created by hand in Kanal).
func (s *Simulator) reply(ch, to, text, link, providerID string) *Message {
	p, ok := personaBy(ch, to)
	if !ok {
		s.log.Info("demo: a reply went to someone the simulator does not play", "channel", ch, "to", to)
		return nil
	}
	return s.add(&Message{Channel: ch, Persona: p.ID, From: FromAgent, Text: text, Link: link, ProviderID: providerID,
		Status: StatusSent})
}

// metaReceipts reports a Messenger reply delivered (Messenger's read
// reports are watermarks that name no message, which Kanal does not map,
// so none is sent) or an Instagram reply seen (Instagram has no delivery
// report).
func (s *Simulator) metaReceipts(ch, to, mid string, msg *Message) {
	c := s.st.Creds
	s.mu.Lock()
	hook := s.hooks[ch]
	s.mu.Unlock()
	h := fakemeta.MessengerHook(hook, c.MetaAppSecret, c.MetaPageID)
	st := StatusDelivered
	event := func() fakemeta.Event { return h.Delivery(to, time.Now(), mid) }
	if ch == Instagram {
		h = fakemeta.InstagramHook(hook, c.MetaAppSecret, c.MetaInstagramID)
		st = StatusRead
		event = func() fakemeta.Event { return h.Seen(to, mid, time.Now()) }
	}
	h.Client = s.client
	post := func() error {
		code, rb, err := h.Post(h.Body(event()))
		return answer(code, rb, err)
	}
	s.later(receiptDelays[st], func() {
		if err := post(); err != nil {
			s.log.Warn("demo: Meta status webhook failed", "channel", ch, "err", err)
			return
		}
		s.advance(msg, st)
	})
	s.later(repeatAfter, func() { _ = post() })
}

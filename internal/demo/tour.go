package demo

import (
	"strings"
	"sync"
	"time"
)

// step is one customer message of the tour, after a pause.
type step struct {
	after   time.Duration
	channel string
	persona string
	image   bool
	tr, en  string
}

// tour is a few conversations a shop gets on an ordinary morning, one
// storyline per customer; storylines run at the same time. Ayşe writes on
// WhatsApp and follows up by SMS: Kanal files both under one customer and
// one conversation.
var tour = [][]step{
	{
		{channel: WhatsApp, persona: "ayse",
			tr: "Merhaba, dün verdiğim 10482 numaralı siparişim ne zaman kargoya verilir?",
			en: "Hi, when will my order #10482 from yesterday ship?"},
		{after: 5 * time.Second, channel: TwilioSMS, persona: "ayse",
			tr: "WhatsApp'tan da yazmıştım: 10482 için teslimat adresini Kadıköy'deki iş yerim olarak değiştirebilir miyiz?",
			en: "I also wrote on WhatsApp: can we change the delivery address of #10482 to my office in Kadıköy?"},
	},
	{
		{after: 1 * time.Second, channel: Instagram, persona: "mehmet", image: true,
			tr: "Bu montun L bedeni stokta var mı?",
			en: "Do you have this jacket in size L?"},
		{after: 4 * time.Second, channel: Instagram, persona: "mehmet",
			tr: "Bir de lacivert rengi var mı? 🙏",
			en: "And does it come in navy? 🙏"},
	},
	{
		{after: 2 * time.Second, channel: Telegram, persona: "zeynep",
			tr: "İade kodum e-postama gelmedi, yardımcı olur musunuz?",
			en: "My return code never reached my e-mail, can you help?"},
	},
	{
		{after: 3 * time.Second, channel: Messenger, persona: "emre",
			tr: "Kadıköy mağazanız pazar günü kaçta açılıyor?",
			en: "What time does your Kadıköy store open on Sunday?"},
	},
	{
		{after: 2500 * time.Millisecond, channel: NetgsmSMS, persona: "elif",
			tr: "Merhaba, 10517 nolu siparisimin kargo takip numarasini alabilir miyim? Elif",
			en: "Hello, could I get the tracking number of order 10517? Elif"},
	},
}

// Tour sends the tour's conversations (in Turkish, or in English when
// lang is "en…"); it returns when all are sent or the simulator stops.
func (s *Simulator) Tour(lang string) {
	english := strings.HasPrefix(strings.ToLower(lang), "en")
	var wg sync.WaitGroup
	for _, story := range tour {
		wg.Go(func() {
			for _, st := range story {
				if !s.sleep(st.after) {
					return
				}
				text := st.tr
				if english {
					text = st.en
				}
				_, err := s.Send(SendRequest{Channel: st.channel, Persona: st.persona, Text: text, Image: st.image})
				if err != nil {
					s.log.Warn("demo: tour message not sent", "channel", st.channel, "err", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

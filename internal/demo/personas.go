package demo

import (
	"strconv"
	"strings"
)

// The simulated channels, named after Kanal's inbox types.
const (
	WhatsApp  = "whatsapp"
	Messenger = "messenger"
	Instagram = "instagram"
	Telegram  = "telegram"
	TwilioSMS = "twilio"
	NetgsmSMS = "netgsm"
)

// Channel describes a simulated channel for the page.
type Channel struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	// InboxName is the name of the demo inbox in Kanal.
	InboxName string `json:"inbox_name"`
	// Images tells whether a customer can attach the sample image.
	Images bool `json:"images"`
	// Receipts are the delivery reports the simulated provider sends
	// back for an agent's reply, in order.
	Receipts []string `json:"receipts"`
	// Polled tells that Kanal fetches this channel's messages itself
	// (every 30 seconds) instead of receiving webhooks.
	Polled bool `json:"polled"`
}

// Channels are the simulated channels, in the page's order.
var Channels = []Channel{
	{ID: WhatsApp, Label: "WhatsApp", InboxName: "WhatsApp", Images: true, Receipts: []string{"delivered", "read"}},
	{ID: Instagram, Label: "Instagram", InboxName: "Instagram", Images: true, Receipts: []string{"read"}},
	{ID: Messenger, Label: "Messenger", InboxName: "Messenger", Images: true, Receipts: []string{"delivered"}},
	{ID: Telegram, Label: "Telegram", InboxName: "Telegram", Images: true},
	{ID: TwilioSMS, Label: "SMS · Twilio", InboxName: "SMS (Twilio)", Images: true, Receipts: []string{"sent", "delivered"}},
	{ID: NetgsmSMS, Label: "SMS · Netgsm", InboxName: "SMS (Netgsm)", Receipts: []string{"delivered"}, Polled: true},
}

// ChannelByID returns a simulated channel.
func ChannelByID(id string) (Channel, bool) {
	for _, c := range Channels {
		if c.ID == id {
			return c, true
		}
	}
	return Channel{}, false
}

// Persona is a simulated customer. The same person has the same phone
// number on WhatsApp and both SMS channels (so Kanal files them under one
// customer) and their own ids on Messenger, Instagram and Telegram.
type Persona struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Phone      string `json:"phone"`       // E.164
	PSID       string `json:"psid"`        // Page-scoped id (Messenger)
	IGSID      string `json:"igsid"`       // Instagram-scoped id
	Instagram  string `json:"instagram"`   // @handle, for the page
	TelegramID int64  `json:"telegram_id"` // Telegram user id = private chat id
	Username   string `json:"telegram_username"`
}

// Personas are the demo's customers.
var Personas = []Persona{
	{ID: "ayse", Name: "Ayşe Yılmaz", Phone: "+905321234567", PSID: "7310582239104471", IGSID: "17842093386201154",
		Instagram: "ayse.yilmaz.34", TelegramID: 700100001, Username: "ayseyilmaz"},
	{ID: "mehmet", Name: "Mehmet Demir", Phone: "+905059876543", PSID: "7310582239104472", IGSID: "17842093386201155",
		Instagram: "mehmetdemir.ank", TelegramID: 700100002, Username: "mdemir"},
	{ID: "zeynep", Name: "Zeynep Kaya", Phone: "+905425551234", PSID: "7310582239104473", IGSID: "17842093386201156",
		Instagram: "zeynepkaya.izmir", TelegramID: 700100003, Username: "zeynepkaya"},
	{ID: "emre", Name: "Emre Şahin", Phone: "+905304443322", PSID: "7310582239104474", IGSID: "17842093386201157",
		Instagram: "emre.sahin", TelegramID: 700100004, Username: "emresahin"},
	{ID: "elif", Name: "Elif Çelik", Phone: "+905367778899", PSID: "7310582239104475", IGSID: "17842093386201158",
		Instagram: "elifcelik.bursa", TelegramID: 700100005, Username: "elifcelik"},
}

// PersonaByID returns a persona.
func PersonaByID(id string) (Persona, bool) {
	for _, p := range Personas {
		if p.ID == id {
			return p, true
		}
	}
	return Persona{}, false
}

// FirstName is the persona's given name (Telegram's first_name).
func (p Persona) FirstName() string {
	first, _, _ := strings.Cut(p.Name, " ")
	return first
}

// LastName is the persona's family name.
func (p Persona) LastName() string {
	_, last, _ := strings.Cut(p.Name, " ")
	return last
}

// WaID is the persona's WhatsApp id: the phone number without "+".
func (p Persona) WaID() string { return strings.TrimPrefix(p.Phone, "+") }

// NationalNumber is the persona's number without +90, as Netgsm writes it.
func (p Persona) NationalNumber() string { return strings.TrimPrefix(p.Phone, "+90") }

// personaBy finds the persona an address of channel ch belongs to (a
// recipient of a reply).
func personaBy(ch, addr string) (Persona, bool) {
	addr = strings.TrimSpace(addr)
	for _, p := range Personas {
		var match bool
		switch ch {
		case WhatsApp:
			match = addr == p.WaID() || addr == p.Phone
		case Messenger:
			match = addr == p.PSID
		case Instagram:
			match = addr == p.IGSID
		case Telegram:
			match = addr == strconv.FormatInt(p.TelegramID, 10)
		case TwilioSMS:
			match = strings.TrimPrefix(addr, "whatsapp:") == p.Phone
		case NetgsmSMS:
			match = addr == p.NationalNumber() || addr == "0"+p.NationalNumber() || addr == p.WaID() || addr == p.Phone
		}
		if match {
			return p, true
		}
	}
	return Persona{}, false
}

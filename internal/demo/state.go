package demo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

// StateFile is the name of the demo's own file in the data folder.
const StateFile = "demo.json"

// The demo workspace and its owner.
const (
	WorkspaceName = "Kanal Demo"
	OwnerEmail    = "demo@kanal.local"
	OwnerName     = "Demo Agent"
)

// State is what demo.json keeps between runs: the owner's login, the API
// token, the ids of the demo inboxes and the provider credentials the
// simulator and those inboxes share. It holds secrets (mode 0600).
type State struct {
	Version     int    `json:"version"`
	WorkspaceID string `json:"workspace_id,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	Email       string `json:"email"`
	Password    string `json:"password"`
	// Token is an API token of the owner (Authorization: Bearer).
	Token string `json:"token,omitempty"`
	// Inboxes are the demo inbox ids by channel (see Channels).
	Inboxes map[string]string `json:"inboxes"`
	Creds   Credentials       `json:"credentials"`
}

// Credentials are the simulated provider accounts. Kanal's inboxes are
// configured with them and the simulator's fakes accept only them.
type Credentials struct {
	WhatsAppPhoneNumberID string `json:"whatsapp_phone_number_id"`
	WhatsAppWABAID        string `json:"whatsapp_waba_id"`
	WhatsAppAccessToken   string `json:"whatsapp_access_token"`
	WhatsAppAppSecret     string `json:"whatsapp_app_secret"`

	// One Meta app with a Facebook Page and its linked Instagram account:
	// one Page token and one app secret serve both inboxes.
	MetaPageID      string `json:"meta_page_id"`
	MetaInstagramID string `json:"meta_instagram_id"`
	MetaAccessToken string `json:"meta_access_token"`
	MetaAppSecret   string `json:"meta_app_secret"`

	TelegramBotToken    string `json:"telegram_bot_token"`
	TelegramSecretToken string `json:"telegram_secret_token"`

	TwilioAccountSID string `json:"twilio_account_sid"`
	TwilioAuthToken  string `json:"twilio_auth_token"`
	TwilioFrom       string `json:"twilio_from"`

	NetgsmUsercode  string `json:"netgsm_usercode"`
	NetgsmPassword  string `json:"netgsm_password"`
	NetgsmMsgHeader string `json:"netgsm_msgheader"`
}

// NewState returns the state of a first run: a generated password and
// fresh provider credentials.
func NewState() State {
	return State{
		Version:  1,
		Email:    OwnerEmail,
		Password: NewPassword(),
		Inboxes:  map[string]string{},
		Creds: Credentials{
			WhatsAppPhoneNumberID: "1" + digits(14),
			WhatsAppWABAID:        "1" + digits(14),
			WhatsAppAccessToken:   "EAAD" + randomHex(24),
			WhatsAppAppSecret:     randomHex(16),
			MetaPageID:            "1" + digits(14),
			MetaInstagramID:       "17841" + digits(12),
			MetaAccessToken:       "EAAG" + randomHex(24),
			MetaAppSecret:         randomHex(16),
			TelegramBotToken:      "7" + digits(9) + ":AA" + randomHex(16),
			TelegramSecretToken:   "kanal-demo-" + randomHex(16),
			TwilioAccountSID:      "AC" + randomHex(16),
			TwilioAuthToken:       randomHex(16),
			TwilioFrom:            "+908501234567",
			NetgsmUsercode:        "8501234567",
			NetgsmPassword:        randomHex(8),
			NetgsmMsgHeader:       "KANALDEMO",
		},
	}
}

// LoadState reads dir's demo.json; ok is false when there is none.
func LoadState(dir string) (st State, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, false, fmt.Errorf("%s: %w (delete the folder to start the demo over)", filepath.Join(dir, StateFile), err)
	}
	if st.Inboxes == nil {
		st.Inboxes = map[string]string{}
	}
	if st.Email == "" || st.Password == "" || st.Creds.WhatsAppAppSecret == "" {
		return State{}, false, fmt.Errorf("%s is incomplete (delete the folder to start the demo over)", filepath.Join(dir, StateFile))
	}
	return st, true, nil
}

// Save writes demo.json atomically (a temporary file renamed over it),
// readable by its owner only.
func (st State) Save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".demo-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, StateFile))
}

// InboxConfig is the config (secrets included) of the demo inbox of
// channel ch, talking to the simulator at simURL.
func (st State) InboxConfig(ch, simURL string) map[string]any {
	c := st.Creds
	switch ch {
	case WhatsApp:
		return map[string]any{"phone_number_id": c.WhatsAppPhoneNumberID, "waba_id": c.WhatsAppWABAID,
			"access_token": c.WhatsAppAccessToken, "app_secret": c.WhatsAppAppSecret, "api_base_url": APIBaseURL(ch, simURL)}
	case Messenger:
		return map[string]any{"page_id": c.MetaPageID, "access_token": c.MetaAccessToken, "app_secret": c.MetaAppSecret,
			"api_base_url": APIBaseURL(ch, simURL)}
	case Instagram:
		return map[string]any{"instagram_id": c.MetaInstagramID, "access_token": c.MetaAccessToken, "app_secret": c.MetaAppSecret,
			"api_base_url": APIBaseURL(ch, simURL)}
	case Telegram:
		return map[string]any{"bot_token": c.TelegramBotToken, "secret_token": c.TelegramSecretToken,
			"api_base_url": APIBaseURL(ch, simURL), "set_webhook": true}
	case TwilioSMS:
		return map[string]any{"account_sid": c.TwilioAccountSID, "auth_token": c.TwilioAuthToken, "from": c.TwilioFrom,
			"api_base_url": APIBaseURL(ch, simURL)}
	case NetgsmSMS:
		return map[string]any{"usercode": c.NetgsmUsercode, "password": c.NetgsmPassword, "msgheader": c.NetgsmMsgHeader,
			"api_base_url": APIBaseURL(ch, simURL)}
	}
	return nil
}

// APIBaseURL is the api_base_url an inbox of channel ch uses to reach the
// simulator's fake of its provider.
func APIBaseURL(ch, simURL string) string {
	simURL = strings.TrimRight(simURL, "/")
	switch ch {
	case WhatsApp:
		return simURL + "/whatsapp/" + GraphVersion
	case Messenger, Instagram:
		return simURL + "/graph/" + GraphVersion
	case Telegram:
		return simURL + "/telegram"
	case TwilioSMS:
		return simURL + "/twilio"
	case NetgsmSMS:
		return simURL + "/netgsm"
	}
	return ""
}

// GraphVersion is the Graph API version the fakes of Meta answer.
const GraphVersion = "v21.0"

// NewPassword returns a password that is easy to type: three groups of
// four lower-case letters and digits (about 62 bits).
func NewPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // no l, o, 0, 1
	var b strings.Builder
	for i := range 12 {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[randInt(len(alphabet))])
	}
	return b.String()
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}

func digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + randInt(10))
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

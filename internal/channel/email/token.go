package email

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"github.com/google/uuid"
)

// A reply token names a conversation in a reply address
// (support+<token>@domain). It is the conversation id (16 bytes) and the
// first 6 bytes of HMAC-SHA256(reply_token_key, "reply:"+id), in lower-case
// base32 without padding: 36 characters, so the local part stays well under
// 64. Only Kanal can make one, so a stranger cannot steer mail into a
// conversation by guessing ids.
const tokenMACBytes = 6

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ReplyToken returns the token of a conversation ("" when the id is not a
// UUID or there is no key).
func ReplyToken(key []byte, conversationID string) string {
	id, err := uuid.Parse(conversationID)
	if err != nil || len(key) == 0 {
		return ""
	}
	buf := append(id[:], tokenMAC(key, id.String())...)
	return strings.ToLower(b32.EncodeToString(buf))
}

// ParseReplyToken returns the conversation a token names, or ok false
// when the token is malformed or not made with key.
func ParseReplyToken(key []byte, token string) (conversationID string, ok bool) {
	if len(key) == 0 || len(token) != 36 {
		return "", false
	}
	buf, err := b32.DecodeString(strings.ToUpper(token))
	if err != nil || len(buf) != 16+tokenMACBytes {
		return "", false
	}
	id, err := uuid.FromBytes(buf[:16])
	if err != nil {
		return "", false
	}
	if !hmac.Equal(buf[16:], tokenMAC(key, id.String())) {
		return "", false
	}
	return id.String(), true
}

func tokenMAC(key []byte, id string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("reply:" + id))
	return m.Sum(nil)[:tokenMACBytes]
}

// ReplyAddress is the inbox address with the token as its +tag.
func ReplyAddress(address, token string) string {
	if token == "" {
		return address
	}
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return address
	}
	return address[:at] + "+" + token + address[at:]
}

// tokenIn returns the first valid reply token among addresses that are the
// inbox's address with a +tag, and the conversation it names.
func tokenIn(s Settings, addresses []string) (conversationID string, ok bool) {
	for _, a := range addresses {
		local, tag, domain, valid := splitAddress(a)
		if !valid || tag == "" || local != s.Local || domain != s.Domain {
			continue
		}
		if id, ok := ParseReplyToken(s.ReplyKey, tag); ok {
			return id, true
		}
	}
	return "", false
}

// accepts tells whether addr is the inbox's address or one of its
// plus-addressed forms.
func (s Settings) accepts(addr string) bool {
	local, _, domain, ok := splitAddress(addr)
	return ok && local == s.Local && domain == s.Domain
}

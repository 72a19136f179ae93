package webchat

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// IdentityHash is what the business's server computes for a signed-in user:
// hex HMAC-SHA256(identity_secret, user_id) (Chatwoot's identifier_hash).
func IdentityHash(secret, userID string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(userID))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyIdentity tells, in constant time, whether mac signs userID. Upper-
// and lower-case hex are both accepted.
func VerifyIdentity(secret, userID, mac string) bool {
	if secret == "" || userID == "" || len(mac) != sha256.Size*2 {
		return false
	}
	return hmac.Equal([]byte(IdentityHash(secret, userID)), []byte(strings.ToLower(mac)))
}

// Claim is the identity a host page says its visitor has.
type Claim struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	HMAC   string `json:"hmac"`
}

// tokenPrefix starts every visitor token, so that one found in a log is
// recognisable.
const tokenPrefix = "kv_"

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// wellFormedToken tells whether t can be a visitor token (cheap check before
// the database).
func wellFormedToken(t string) bool {
	if !strings.HasPrefix(t, tokenPrefix) || len(t) != len(tokenPrefix)+43 {
		return false
	}
	for _, r := range t[len(tokenPrefix):] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

package customer

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/kanal-dev/kanal/internal/text"
)

// Identity kinds.
const (
	KindEmail      = "email"
	KindPhone      = "phone"
	KindWhatsApp   = "whatsapp"
	KindTelegram   = "telegram"
	KindMessenger  = "messenger"
	KindInstagram  = "instagram"
	KindWebVisitor = "web_visitor"
	KindExternalID = "external_id"
)

// Kinds lists every identity kind.
var Kinds = []string{KindEmail, KindPhone, KindWhatsApp, KindTelegram, KindMessenger, KindInstagram, KindWebVisitor, KindExternalID}

var digits = regexp.MustCompile(`^[0-9]{1,20}$`)

// Normalize returns the matching key of an identity value: e-mail lower-cased
// with IDNA domain, phone and WhatsApp numbers in E.164 (read in region when
// they carry no country code), Telegram ids as digits, other ids trimmed.
func Normalize(kind, value, region string) (string, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return "", fmt.Errorf("empty %s", kind)
	}
	if len(value) > 320 {
		return "", fmt.Errorf("%s is too long", kind)
	}
	switch kind {
	case KindEmail:
		return text.Email(value)
	case KindPhone:
		return text.Phone(value, region)
	case KindWhatsApp:
		// WhatsApp ids are international numbers without "+".
		if digits.MatchString(value) {
			value = "+" + value
		}
		return text.Phone(value, region)
	case KindTelegram:
		if !digits.MatchString(value) {
			return "", fmt.Errorf("telegram id must be digits")
		}
		return value, nil
	case KindMessenger, KindInstagram, KindWebVisitor, KindExternalID:
		return value, nil
	}
	return "", fmt.Errorf("%w %q (known: %s)", ErrUnknownKind, kind, strings.Join(Kinds, ", "))
}

// ErrUnknownKind is returned by Normalize for a kind Kanal does not know.
var ErrUnknownKind = errors.New("unknown identity kind")

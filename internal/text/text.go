// Package text normalises people's text for matching and search: Turkish-aware
// case folding (İ/ı), diacritic stripping, e-mail addresses and phone numbers.
package text

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/net/idna"
)

var foldMap = map[rune]rune{
	'ı': 'i', 'ç': 'c', 'ğ': 'g', 'ö': 'o', 'ş': 's', 'ü': 'u',
	'â': 'a', 'î': 'i', 'û': 'u', 'á': 'a', 'à': 'a', 'ä': 'a', 'é': 'e',
	'è': 'e', 'ê': 'e', 'ë': 'e', 'í': 'i', 'ï': 'i', 'ó': 'o', 'ò': 'o',
	'ô': 'o', 'ú': 'u', 'ù': 'u', 'ñ': 'n', 'ß': 's',
}

// Fold returns the search key of s: lower-cased with Turkish rules (İ→i, I→ı),
// then ı→i and diacritics stripped, spaces collapsed. "IŞIK", "ışık" and
// "isik" all fold to "isik".
func Fold(s string) string {
	s = strings.ToLowerSpecial(unicode.TurkishCase, s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) { // combining marks, e.g. the dot of i̇
			continue
		}
		if unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		if m, ok := foldMap[r]; ok {
			r = m
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

// Email normalises an e-mail address: the local part folded to lower case
// (Turkish-aware), the domain lower-cased and converted to its ASCII (IDNA)
// form. It returns an error for anything that is not a single address.
func Email(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("not an e-mail address: %w", err)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 {
		return "", fmt.Errorf("not an e-mail address")
	}
	// İ is i; any other letter lower-cases as usual (ASCII I must become i,
	// not the Turkish dotless ı, or DENIZ@ and deniz@ would differ).
	local := strings.ToLower(strings.ReplaceAll(a.Address[:at], "İ", "i"))
	domain, err := idna.Lookup.ToASCII(strings.ToLower(a.Address[at+1:]))
	if err != nil {
		return "", fmt.Errorf("bad e-mail domain: %w", err)
	}
	return local + "@" + domain, nil
}

// Phone normalises a phone number to E.164. Numbers without a country code
// are read in defaultRegion (e.g. "TR").
func Phone(s, defaultRegion string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("empty phone number")
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	n, err := phonenumbers.Parse(s, defaultRegion)
	if err != nil {
		return "", fmt.Errorf("not a phone number: %w", err)
	}
	if !phonenumbers.IsPossibleNumber(n) {
		return "", fmt.Errorf("not a possible phone number")
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

package email

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/kanal-dev/kanal/internal/inbox"
)

// signedHeaders are the header fields a DKIM signature covers. A name
// listed more often than the message has it is "oversigned": nobody can
// add such a field after signing without breaking the signature.
var signedHeaders = []string{"From", "From", "Reply-To", "To", "Cc", "Subject", "Subject", "Date", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type", "Auto-Submitted"}

// parseKey reads a DKIM private key: 64 hex digits (an Ed25519 seed, what
// Kanal generates) or a PEM block (PKCS#8 RSA or Ed25519, or PKCS#1 RSA).
func parseKey(s string) (crypto.Signer, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("is missing: leave it unset to let Kanal generate one, or set a PEM private key")
	}
	if len(s) == 64 {
		if seed, err := hex.DecodeString(s); err == nil {
			return ed25519.NewKeyFromSeed(seed), nil
		}
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("must be a PEM private key (RSA or Ed25519) or 64 hex digits")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return checkRSA(k)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("is not a readable PKCS#1 or PKCS#8 private key")
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return checkRSA(k)
	}
	return nil, errors.New("must be an RSA or Ed25519 key")
}

func checkRSA(k *rsa.PrivateKey) (crypto.Signer, error) {
	if k.N.BitLen() < 1024 {
		return nil, errors.New("an RSA key must have at least 1024 bits (2048 recommended)")
	}
	return k, nil
}

// Record is a DNS record an admin publishes for an inbox.
type Record struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
	Note  string `json:"note"`
}

// dkimValue is the TXT value publishing key's public half.
func dkimValue(key crypto.Signer) (string, error) {
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	}
	return "", fmt.Errorf("unsupported DKIM key %T", key.Public())
}

// DNSRecords lists the DNS records that make an inbox's mail deliverable:
// the DKIM key (when signing is set up), SPF and DMARC (suggestions to
// merge with what the domain publishes) and the MX for Kanal's SMTP
// listener (when mail is delivered to Kanal directly). mxHost is the
// listener's public host name ("" leaves the MX out).
func DNSRecords(in inbox.Inbox, mxHost string) ([]Record, error) {
	s, err := SettingsOf(in)
	if err != nil {
		return nil, err
	}
	var out []Record
	if s.DKIM != nil {
		v, err := dkimValue(s.DKIM.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, Record{Type: "TXT", Name: s.DKIM.Selector + "._domainkey." + s.DKIM.Domain, Value: v,
			Note: "DKIM public key: publish it before turning signing on"})
	}
	spf := "v=spf1 mx ~all"
	if s.SMTP != nil {
		spf = "v=spf1 a:" + s.SMTP.Host + " mx ~all"
	}
	out = append(out,
		Record{Type: "TXT", Name: s.Domain, Value: spf,
			Note: "SPF: allow the server Kanal sends through (merge with an existing v=spf1 record; there must be only one)"},
		Record{Type: "TXT", Name: "_dmarc." + s.Domain, Value: "v=DMARC1; p=none; rua=mailto:" + s.Address,
			Note: "DMARC: start with p=none, move to quarantine or reject once reports show SPF or DKIM aligned"})
	if mxHost != "" {
		out = append(out, Record{Type: "MX", Name: s.Domain, Value: "10 " + mxHost,
			Note: "only when Kanal's SMTP listener receives this domain's mail directly"})
	}
	return out, nil
}

// sign prepends a DKIM-Signature to msg.
func sign(msg []byte, d *DKIM) ([]byte, error) {
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain: d.Domain, Selector: d.Selector, Signer: d.Key, HeaderKeys: signedHeaders,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	return out.Bytes(), nil
}

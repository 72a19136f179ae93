package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// SignatureHeader carries Twilio's signature of a webhook call.
const SignatureHeader = "X-Twilio-Signature"

// Signature computes X-Twilio-Signature: standard base64 of HMAC-SHA1 with
// the auth token over the full URL followed by every parameter as
// name+value, names sorted byte-wise and the values of a repeated name in
// their order.
func Signature(authToken, fullURL string, params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(fullURL))
	for _, k := range names {
		for _, v := range params[k] {
			m.Write([]byte(k))
			m.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ValidSignature tells, in constant time, whether sig is Twilio's signature
// of a call to fullURL with params. Like Twilio's own libraries it also
// accepts the URL with the scheme's default port added (when it has none)
// or its port removed (when it has one), since Twilio is not consistent
// about the port it signs.
func ValidSignature(authToken, fullURL string, params url.Values, sig string) bool {
	ok := false
	for _, u := range urlVariants(fullURL) {
		if hmac.Equal([]byte(Signature(authToken, u, params)), []byte(sig)) {
			ok = true
		}
	}
	return ok
}

// ValidBodySignature checks a JSON-bodied webhook: the URL carries
// bodySHA256 = hex SHA-256 of the body, and the signature covers the URL
// alone.
func ValidBodySignature(authToken, fullURL string, body []byte, sig string) bool {
	u, err := url.Parse(fullURL)
	if err != nil {
		return false
	}
	want := u.Query().Get("bodySHA256")
	if want == "" {
		return false
	}
	sum := sha256.Sum256(body)
	bodyOK := hmac.Equal([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(want)))
	return ValidSignature(authToken, fullURL, nil, sig) && bodyOK
}

func urlVariants(fullURL string) []string {
	out := []string{fullURL}
	u, err := url.Parse(fullURL)
	if err != nil || u.Host == "" {
		return out
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	v := *u
	if u.Port() != "" {
		v.Host = host
	} else {
		switch u.Scheme {
		case "https":
			v.Host = net.JoinHostPort(u.Hostname(), "443")
		case "http":
			v.Host = net.JoinHostPort(u.Hostname(), "80")
		default:
			return out
		}
	}
	return append(out, v.String())
}

// callURL is the URL Twilio called: Kanal's configured public URL and the
// request's path and query, never the Host header.
func callURL(publicURL string, r *http.Request) string {
	return strings.TrimRight(publicURL, "/") + r.URL.RequestURI()
}

// formParams reads the parameters a form body carries. A body that does not
// decode cleanly yields the pairs that do (url.ParseQuery's behaviour), so
// that the signature check still works and Parse reports the body as
// malformed.
func formParams(r *http.Request, body []byte) url.Values {
	ct := r.Header.Get("Content-Type")
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return url.Values{}
		}
	}
	v, _ := url.ParseQuery(string(body))
	return v
}

// Verify checks X-Twilio-Signature over the URL Twilio called (the public
// URL plus the request URI) and the form parameters of the raw body, or,
// for JSON-bodied calls, over the URL with its bodySHA256.
func (a *Adapter) Verify(in inbox.Inbox, r *http.Request, publicURL string, body []byte) error {
	sig := r.Header.Get(SignatureHeader)
	token := in.Secrets[KeyAuthToken]
	if sig == "" || token == "" {
		return fmt.Errorf("no %s: %w", SignatureHeader, channel.ErrBadSignature)
	}
	full := callURL(publicURL, r)
	if r.URL.Query().Has("bodySHA256") {
		if ValidBodySignature(token, full, body, sig) {
			return nil
		}
		return channel.ErrBadSignature
	}
	if !ValidSignature(token, full, formParams(r, body), sig) {
		return channel.ErrBadSignature
	}
	return nil
}

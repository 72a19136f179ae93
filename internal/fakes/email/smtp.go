// Package email holds test peers for the e-mail channel: an in-process SMTP
// server that captures what it is sent (plain, STARTTLS or implicit TLS,
// with AUTH PLAIN and LOGIN, refusing on demand), and a harness that runs a
// real Dovecot IMAP server from a standalone configuration in a temporary
// folder.
package email

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes of the fake, as the e-mail inbox config names them.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// Options configure a fake SMTP server.
type Options struct {
	// TLS is none, starttls or tls.
	TLS string
	// Username and Password, when set, are required (AUTH PLAIN or LOGIN).
	Username, Password string
	// Mechanisms offered (default PLAIN and LOGIN).
	Mechanisms []string
}

// Mail is one mail the fake accepted.
type Mail struct {
	From string
	To   []string
	Data []byte
	Auth string // the user that logged in
	TLS  bool
}

// Server is a fake SMTP server on loopback.
type Server struct {
	Host string
	Port int
	// RootCAs trusts the fake's certificate (for TLS modes).
	RootCAs *x509.CertPool

	o   Options
	srv *smtp.Server
	ln  net.Listener
	mu  sync.Mutex
	got []Mail
	// refuse, when set, answers RCPT (or DATA) with this error.
	refuseRcpt, refuseData error
}

// Start runs a fake SMTP server until Close.
func Start(o Options) (*Server, error) {
	if o.TLS == "" {
		o.TLS = TLSNone
	}
	if len(o.Mechanisms) == 0 {
		o.Mechanisms = []string{sasl.Plain, sasl.Login}
	}
	s := &Server{o: o}
	cert, pool, err := selfSigned("127.0.0.1")
	if err != nil {
		return nil, err
	}
	s.RootCAs = pool
	tc := &tls.Config{Certificates: []tls.Certificate{cert}}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS}, nil
	}))
	s.srv.Domain = "fake-smtp.test"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 64 << 20
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	var ln net.Listener
	switch o.TLS {
	case TLSImplicit:
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tc)
	case TLSStartTLS:
		s.srv.TLSConfig = tc
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	default:
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, err
	}
	s.ln = ln
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Config is the smtp section of an e-mail inbox pointing at the fake.
func (s *Server) Config() map[string]any {
	c := map[string]any{"host": s.Host, "port": s.Port, "tls": s.o.TLS}
	if s.o.Username != "" {
		c["username"] = s.o.Username
	}
	return c
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Mails returns what the fake accepted, oldest first.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.got...)
}

// RefuseRcpt makes RCPT answer err (nil: accept again).
func (s *Server) RefuseRcpt(err error) {
	s.mu.Lock()
	s.refuseRcpt = err
	s.mu.Unlock()
}

// RefuseData makes DATA answer err (nil: accept again).
func (s *Server) RefuseData(err error) {
	s.mu.Lock()
	s.refuseData = err
	s.mu.Unlock()
}

// Reply builds an SMTP error answer for RefuseRcpt and RefuseData.
func Reply(code int, enhanced [3]int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(enhanced), Message: msg}
}

type session struct {
	s    *Server
	tls  bool
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return ss.s.o.Mechanisms }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != ss.s.o.Username || pass != ss.s.o.Password {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.o.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from, ss.to = from, nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	err := ss.s.refuseRcpt
	ss.s.mu.Unlock()
	if err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.refuseData != nil {
		return ss.s.refuseData
	}
	ss.s.got = append(ss.s.got, Mail{From: ss.from, To: ss.to, Data: buf.Bytes(), Auth: ss.user, TLS: ss.tls})
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (go-sasl has only the
// client).
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if response != nil { // initial response carries the user name
			l.user = string(response)
			l.step = 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}

// selfSigned makes a certificate for host and a pool that trusts it.
func selfSigned(host string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.ParseIP(host)},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool, nil
}

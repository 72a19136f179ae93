package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// ListenerOptions configure Kanal's SMTP listener.
type ListenerOptions struct {
	// Addr is where it listens, e.g. ":25" or "127.0.0.1:2525".
	Addr string
	// Domain is the name in its greeting (default: the adapter's host name).
	Domain string
	// TLSConfig, when set, offers STARTTLS.
	TLSConfig *tls.Config
	// MaxRecipients per mail (default 50).
	MaxRecipients int
	// Timeout of reads and writes (default 2 minutes).
	Timeout time.Duration
}

// Listener is Kanal's SMTP server for inbound mail: it accepts mail for the
// address of any e-mail inbox (and its +tag forms), refuses other
// recipients at RCPT, refuses mail over the size limit at DATA, and answers
// 250 only after the mail is committed for every inbox it was for. Mail it
// could not store gets a 451 so that the sender retries.
type Listener struct {
	a   *Adapter
	srv *smtp.Server
	ln  net.Listener
	log *slog.Logger
	// done is closed when Serve returns.
	done chan struct{}
	err  error
}

// Listen binds the SMTP listener and starts serving in the background.
// Stop it with Shutdown.
func (a *Adapter) Listen(o ListenerOptions) (*Listener, error) {
	if _, err := a.bound(); err != nil {
		return nil, err
	}
	if o.Domain == "" {
		o.Domain = a.o.Hostname
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = 50
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	l := &Listener{a: a, log: a.o.Log, done: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{l: l, remote: c.Conn().RemoteAddr().String()}, nil
	}))
	srv.Addr, srv.Domain, srv.TLSConfig = o.Addr, o.Domain, o.TLSConfig
	srv.MaxMessageBytes, srv.MaxRecipients = a.o.MaxMessageBytes, o.MaxRecipients
	srv.ReadTimeout, srv.WriteTimeout = o.Timeout, o.Timeout
	srv.ErrorLog = slogLogger{a.o.Log}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("email: smtp listener: %w", err)
	}
	l.srv, l.ln = srv, ln
	go func() {
		err := srv.Serve(ln)
		if !errors.Is(err, smtp.ErrServerClosed) {
			l.err = err
		}
		close(l.done)
	}()
	return l, nil
}

// Addr is the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Shutdown stops accepting connections and waits (up to ctx) for the
// sessions under way to end; mails being stored finish first.
func (l *Listener) Shutdown(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	if err != nil {
		l.srv.Close()
	}
	<-l.done
	if l.err != nil {
		return l.err
	}
	return err
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.l.Warn("smtp listener: " + fmt.Sprintf(format, v...))
}
func (s slogLogger) Println(v ...any) { s.l.Warn("smtp listener: " + fmt.Sprint(v...)) }

type target struct {
	in   inbox.Inbox
	s    Settings
	rcpt []string
}

type session struct {
	l       *Listener
	remote  string
	from    string
	targets []*target
}

func (s *session) Reset() { s.from, s.targets = "", nil }

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.Reset()
	s.from = from
	return nil
}

var (
	errNoMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
	errTryLater  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Could not store the message; try again later"}
	errLookup    = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Recipient lookup failed; try again later"}
)

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := s.l.a.bound()
	if err != nil {
		return errLookup
	}
	ins, err := d.Inboxes.AllOfType(ctx, TypeName)
	if err != nil {
		s.l.log.Warn("smtp listener: inbox lookup failed", "err", err)
		return errLookup
	}
	found := false
	for _, in := range ins {
		st, err := SettingsOf(in)
		if err != nil || !st.accepts(to) {
			continue
		}
		found = true
		var t *target
		for _, x := range s.targets {
			if x.in.ID == in.ID {
				t = x
			}
		}
		if t == nil {
			t = &target{in: in, s: st}
			s.targets = append(s.targets, t)
		}
		t.rcpt = append(t.rcpt, to)
	}
	if !found {
		return errNoMailbox
	}
	return nil
}

func (s *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se // 552 over the size limit
		}
		return err
	}
	raw := buf.Bytes()
	p, err := Parse(raw, s.l.a.Limits())
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Empty message"}
	}
	d, err := s.l.a.bound()
	if err != nil {
		return errTryLater
	}
	// Durable before the answer: a crash before commit costs a retry by
	// the sender, and the retry is deduplicated by Message-ID.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, t := range s.targets {
		ib, err := s.l.a.read(ctx, t.in, t.s, p, raw, t.rcpt)
		if errors.Is(err, ErrNoSender) {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "The message has no sender address"}
		}
		if err != nil {
			s.l.log.Warn("smtp listener: could not read a mail", "inbox", t.in.ID, "from", s.from, "err", err)
			return errTryLater
		}
		if ib.Skip && ib.Status == nil {
			continue
		}
		var failed error
		err = d.Store.Store(ctx, t.in, ib.Batch(), func(m channel.Message, err error) {
			failed = err
		})
		if err == nil && failed != nil {
			// Kanal refused the message itself (validation): retrying will
			// not help, and the sender should know.
			s.l.log.Warn("smtp listener: message refused", "inbox", t.in.ID, "from", s.from, "err", failed)
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: " + oneLine(clip(failed.Error(), 200))}
		}
		if err != nil {
			s.l.log.Warn("smtp listener: could not store a mail", "inbox", t.in.ID, "from", s.from, "err", err)
			return errTryLater
		}
	}
	return nil
}

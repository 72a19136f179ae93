package email

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/kanal-dev/kanal/internal/inbox"
)

// Test checks the inbox's IMAP and SMTP logins without fetching or sending
// anything, and names the DNS records to publish (the DKIM key first).
func (a *Adapter) Test(ctx context.Context, in inbox.Inbox) (string, error) {
	s, err := SettingsOf(in)
	if err != nil {
		return "", err
	}
	if s.IMAP == nil && s.SMTP == nil {
		return "", errors.New("this inbox has neither imap nor smtp set up: mail reaches it only through Kanal's SMTP listener, and replies cannot go out")
	}
	var parts []string
	if s.IMAP != nil {
		ctx, cancel := context.WithTimeout(ctx, a.o.Timeout)
		c, err := a.dialIMAP(ctx, s.IMAP)
		if err != nil {
			cancel()
			return "", err
		}
		st, err := c.Status(s.IMAP.Folder, &imap.StatusOptions{NumMessages: true}).Wait()
		_ = c.Logout().Wait()
		c.Close()
		cancel()
		if err != nil {
			return "", fmt.Errorf("imap: folder %q: %w", s.IMAP.Folder, err)
		}
		n := uint32(0)
		if st.NumMessages != nil {
			n = *st.NumMessages
		}
		parts = append(parts, fmt.Sprintf("IMAP %s@%s: folder %s has %d messages", s.IMAP.Username, s.IMAP.Addr(), s.IMAP.Folder, n))
	}
	if s.SMTP != nil {
		c, stop, err := a.dialSMTP(ctx, s.SMTP)
		if err != nil {
			return "", err
		}
		_ = c.Quit()
		stop()
		who := s.SMTP.Username
		if who == "" {
			who = "no login"
		}
		parts = append(parts, fmt.Sprintf("SMTP %s (%s, %s): ready", s.SMTP.Addr(), s.SMTP.TLS, who))
	}
	if recs, err := DNSRecords(in, ""); err == nil {
		for _, r := range recs {
			if strings.Contains(r.Note, "DKIM") {
				parts = append(parts, fmt.Sprintf("DKIM: publish %s %s \"%s\"", r.Type, r.Name, r.Value))
			}
		}
	}
	return strings.Join(parts, "; "), nil
}

package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/kanal-dev/kanal/internal/channel"
	"github.com/kanal-dev/kanal/internal/inbox"
)

// Polling bounds.
const (
	// FirstWindow is how far back the first poll of a folder (or the first
	// after its UIDVALIDITY changed) imports mail; older mail stays where
	// it is.
	FirstWindow = 48 * time.Hour
	// MaxPerPoll bounds the mails one poll imports; the rest come next time.
	MaxPerPoll = 50
	// maxPollBytes bounds the bytes one poll fetches.
	maxPollBytes = 64 << 20
)

// Cursor is where the poller of a folder stands: the folder's UIDVALIDITY,
// the highest UID imported and when the poll ran. It is stored by Kanal
// between polls as "v1:<uidvalidity>:<uid>:<unix seconds>".
type Cursor struct {
	UIDValidity uint32
	UID         uint32
	At          time.Time
}

func (c Cursor) String() string {
	return fmt.Sprintf("v1:%d:%d:%d", c.UIDValidity, c.UID, c.At.Unix())
}

// ParseCursor reads a stored cursor; "" (the first poll) and anything
// unreadable give the zero cursor.
func ParseCursor(s string) Cursor {
	f := strings.Split(s, ":")
	if len(f) != 4 || f[0] != "v1" {
		return Cursor{}
	}
	v, err1 := strconv.ParseUint(f[1], 10, 32)
	u, err2 := strconv.ParseUint(f[2], 10, 32)
	at, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Cursor{}
	}
	return Cursor{UIDValidity: uint32(v), UID: uint32(u), At: time.Unix(at, 0)}
}

// Poll imports the new mail of the inbox's IMAP folder: the mails with a
// UID above the cursor's (when UIDVALIDITY is unchanged), else those of the
// recent past (FirstWindow, or since the last poll after a UIDVALIDITY
// change), deduplicated by Message-ID when stored. Mail is fetched with
// BODY.PEEK: flags are left as they were. An inbox without imap returns
// nothing.
func (a *Adapter) Poll(ctx context.Context, in inbox.Inbox, cursor string) (b channel.Batch, next string, err error) {
	s, err := SettingsOf(in)
	if err != nil {
		return channel.Batch{}, cursor, err
	}
	if s.IMAP == nil {
		return channel.Batch{}, cursor, nil
	}
	defer func() {
		if r := recover(); r != nil {
			b, next, err = channel.Batch{}, cursor, fmt.Errorf("imap: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, a.o.Timeout)
	defer cancel()
	c, err := a.dialIMAP(ctx, s.IMAP)
	if err != nil {
		return channel.Batch{}, cursor, err
	}
	defer c.Close()
	mbox, err := c.Select(s.IMAP.Folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return channel.Batch{}, cursor, fmt.Errorf("imap: open folder %q on %s: %w", s.IMAP.Folder, s.IMAP.Addr(), err)
	}
	now := a.o.Now()
	cur := ParseCursor(cursor)
	var uids []imap.UID
	if cur.UIDValidity != 0 && cur.UIDValidity == mbox.UIDValidity {
		if mbox.UIDNext != 0 && uint32(mbox.UIDNext) <= cur.UID+1 {
			return channel.Batch{}, Cursor{UIDValidity: cur.UIDValidity, UID: cur.UID, At: now}.String(), nil
		}
		var set imap.UIDSet
		set.AddRange(imap.UID(cur.UID+1), 0) // UID n:* — "*" may name a lower UID
		uids, err = search(c, &imap.SearchCriteria{UID: []imap.UIDSet{set}})
	} else {
		// The first poll, or the folder was rebuilt (UIDVALIDITY changed):
		// the old UIDs mean nothing; take the recent past again, the
		// Message-IDs dedupe what was imported before.
		since := now.Add(-FirstWindow)
		if cur.UIDValidity != 0 && !cur.At.IsZero() {
			since = cur.At.Add(-24 * time.Hour)
			a.o.Log.Warn("imap: the folder's UIDVALIDITY changed; re-reading recent mail", "inbox", in.ID,
				"folder", s.IMAP.Folder, "old", cur.UIDValidity, "new", mbox.UIDValidity)
		}
		uids, err = search(c, &imap.SearchCriteria{Since: since})
	}
	if err != nil {
		return channel.Batch{}, cursor, fmt.Errorf("imap: search %q: %w", s.IMAP.Folder, err)
	}
	uids = slices.DeleteFunc(uids, func(u imap.UID) bool { return cur.UIDValidity == mbox.UIDValidity && uint32(u) <= cur.UID })
	slices.Sort(uids)
	next = Cursor{UIDValidity: mbox.UIDValidity, UID: cur.UID, At: now}.String()
	if cur.UIDValidity != mbox.UIDValidity {
		// Everything below UIDNEXT not found by the search is old mail.
		last := uint32(0)
		if mbox.UIDNext > 0 {
			last = uint32(mbox.UIDNext) - 1
		}
		if len(uids) > 0 {
			last = min(last, uint32(uids[0])-1)
		}
		next = Cursor{UIDValidity: mbox.UIDValidity, UID: last, At: now}.String()
	}
	if len(uids) == 0 {
		if cur.UIDValidity != mbox.UIDValidity && mbox.UIDNext > 0 {
			next = Cursor{UIDValidity: mbox.UIDValidity, UID: uint32(mbox.UIDNext) - 1, At: now}.String()
		}
		return channel.Batch{}, next, nil
	}
	sizes, err := fetchSizes(c, uids)
	if err != nil {
		return channel.Batch{}, cursor, fmt.Errorf("imap: fetch sizes: %w", err)
	}
	var budget int64
	for _, uid := range uids {
		if len(b.Messages) >= MaxPerPoll || (budget > 0 && budget+sizes[uid] > maxPollBytes) {
			break
		}
		raw, err := fetchRaw(c, uid, sizes[uid] > a.o.MaxMessageBytes)
		if err != nil {
			return channel.Batch{}, cursor, fmt.Errorf("imap: fetch UID %d: %w", uid, err)
		}
		budget += int64(len(raw))
		if raw != nil {
			if sizes[uid] > a.o.MaxMessageBytes {
				raw = tooLarge(raw, sizes[uid], a.o.MaxMessageBytes)
			}
			ib, err := a.Read(ctx, in, raw, nil)
			switch {
			case errors.Is(err, ErrNoSender):
				a.o.Log.Warn("imap: skipped a mail without sender", "inbox", in.ID, "uid", uid)
			case err != nil:
				return channel.Batch{}, cursor, err
			default:
				nb := ib.Batch()
				b.Messages = append(b.Messages, nb.Messages...)
				b.Statuses = append(b.Statuses, nb.Statuses...)
			}
		}
		next = Cursor{UIDValidity: mbox.UIDValidity, UID: uint32(uid), At: now}.String()
	}
	_ = c.Logout().Wait()
	return b, next, nil
}

// tooLarge makes the stand-in of a mail over the size limit: its headers
// (which is all that was fetched) and a note.
func tooLarge(header []byte, size, limit int64) []byte {
	note := fmt.Sprintf("[This e-mail is %s, over the %s limit; only its headers were imported. Open it in the mailbox.]",
		humanSize(size), humanSize(limit))
	h := strings.TrimRight(string(header), "\r\n")
	// Drop the MIME structure of the original: the stand-in is plain text.
	var keep []string
	skip := false
	for _, l := range strings.Split(strings.ReplaceAll(h, "\r\n", "\n"), "\n") {
		if len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
			if !skip {
				keep = append(keep, l)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSpace(strings.SplitN(l, ":", 2)[0]))
		skip = strings.HasPrefix(name, "content-") || name == "mime-version"
		if !skip {
			keep = append(keep, l)
		}
	}
	return []byte(strings.Join(keep, "\r\n") + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + note + "\r\n")
}

func search(c *imapclient.Client, crit *imap.SearchCriteria) ([]imap.UID, error) {
	data, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return nil, err
	}
	return data.AllUIDs(), nil
}

func fetchSizes(c *imapclient.Client, uids []imap.UID) (map[imap.UID]int64, error) {
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, err
	}
	out := map[imap.UID]int64{}
	for _, m := range msgs {
		out[m.UID] = m.RFC822Size
	}
	return out, nil
}

// fetchRaw fetches a mail's bytes (its header only when headerOnly), nil
// when it is gone (expunged meanwhile).
func fetchRaw(c *imapclient.Client, uid imap.UID, headerOnly bool) ([]byte, error) {
	sec := &imap.FetchItemBodySection{Peek: true}
	if headerOnly {
		sec.Specifier = imap.PartSpecifierHeader
	}
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.UID == uid {
			return m.FindBodySection(sec), nil
		}
	}
	return nil, nil
}

// dialIMAP connects in the server's TLS mode and logs in.
func (a *Adapter) dialIMAP(ctx context.Context, srv *Server) (*imapclient.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", srv.Addr())
	if err != nil {
		return nil, fmt.Errorf("imap: connect to %s: %w", srv.Addr(), err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	opts := &imapclient.Options{TLSConfig: a.tlsConfig(srv.Host)}
	var c *imapclient.Client
	switch srv.TLS {
	case TLSImplicit:
		tconn := tls.Client(conn, opts.TLSConfig)
		if err := tconn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("imap: TLS with %s: %w", srv.Addr(), err)
		}
		c = imapclient.New(tconn, opts)
	case TLSStartTLS:
		if c, err = imapclient.NewStartTLS(conn, opts); err != nil {
			return nil, fmt.Errorf("imap: STARTTLS with %s: %w", srv.Addr(), err)
		}
	default:
		c = imapclient.New(conn, opts)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap: %s did not greet: %w", srv.Addr(), err)
	}
	if err := c.Login(srv.Username, srv.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap: %s refused the login of %q (check imap.username and imap_password): %w", srv.Addr(), srv.Username, err)
	}
	return c, nil
}

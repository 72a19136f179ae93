package email

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// DovecotBinary is where Debian's dovecot-imapd puts the server.
const DovecotBinary = "/usr/sbin/dovecot"

// Dovecot is a real Dovecot IMAP server run for one test from a standalone
// configuration in a temporary folder: nothing under /etc/dovecot is read,
// nothing outside the folder is written. One user, Maildir storage.
type Dovecot struct {
	Dir      string
	Host     string
	Port     int
	User     string
	Password string
	conf     string
	maildir  string
	uid, gid int
	n        atomic.Int64
}

// StartDovecot starts Dovecot, or skips the test when it is not installed
// (apt-get install dovecot-imapd). It is stopped when the test ends.
func StartDovecot(t testing.TB) *Dovecot {
	t.Helper()
	if _, err := os.Stat(DovecotBinary); err != nil {
		t.Skipf("%s is missing: install dovecot-imapd to run the IMAP tests against a real Dovecot", DovecotBinary)
	}
	dir, err := os.MkdirTemp("", "kanal-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	// Dovecot's processes run as unprivileged users that must reach the
	// folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &Dovecot{Dir: dir, Host: "127.0.0.1", User: "destek@example.test", Password: "gizli-sifre-42"}
	d.conf = filepath.Join(dir, "dovecot.conf")
	d.Port = freePort(t)
	internal, login := "dovecot", "dovenull"
	d.uid, d.gid = lookupIDs(t, "nobody", "nogroup")
	if os.Geteuid() != 0 {
		// Not root: every process runs as the current user.
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		internal, login = u.Username, u.Username
		d.uid, d.gid = os.Geteuid(), os.Getegid()
	}
	home := filepath.Join(dir, "home")
	d.maildir = filepath.Join(home, d.User, "Maildir")
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(d.maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := chownR(home, d.uid, d.gid); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"run", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(d.User+":{PLAIN}"+d.Password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("DIR", dir, "PORT", strconv.Itoa(d.Port), "INTERNAL", internal, "LOGIN", login,
		"UID", strconv.Itoa(d.uid), "GID", strconv.Itoa(d.gid), "FIRSTUID", strconv.Itoa(min(d.uid, 100))).Replace(dovecotConf)
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The master daemonizes; its children must not hold a pipe of ours
	// open, so its output goes to a file.
	out, err := os.Create(filepath.Join(dir, "start.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(DovecotBinary, "-c", d.conf)
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	out.Close()
	if err != nil {
		msg, _ := os.ReadFile(filepath.Join(dir, "start.out"))
		log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
		os.RemoveAll(dir)
		t.Fatalf("dovecot did not start: %v\n%s\n%s", err, msg, log)
	}
	t.Cleanup(func() {
		_ = exec.Command("doveadm", "-c", d.conf, "stop").Run()
		// Wait for the master to let go of the folder.
		for range 50 {
			if _, err := os.Stat(filepath.Join(dir, "run", "master.pid")); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Logf("dovecot.log:\n%s", log)
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr(), time.Second)
		if err == nil {
			c.Close()
			return d
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot does not listen on %s: %v\n%s", d.Addr(), err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Addr is host:port of the IMAP listener (no TLS).
func (d *Dovecot) Addr() string { return net.JoinHostPort(d.Host, strconv.Itoa(d.Port)) }

// Config is the imap section of an e-mail inbox pointing at Dovecot.
func (d *Dovecot) Config() map[string]any {
	return map[string]any{"host": d.Host, "port": d.Port, "tls": "none", "username": d.User}
}

// Deliver puts a mail into the INBOX the way an MDA does: written in tmp,
// renamed into new.
func (d *Dovecot) Deliver(t testing.TB, raw []byte) {
	t.Helper()
	name := fmt.Sprintf("%d.M%dP%d.kanal-test", time.Now().Unix(), d.n.Add(1), os.Getpid())
	tmp := filepath.Join(d.maildir, "tmp", name)
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, d.uid, d.gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.maildir, "new", name)); err != nil {
		t.Fatal(err)
	}
}

// SetUIDValidity changes the INBOX's UIDVALIDITY, as when a mailbox is
// rebuilt or restored: every UID is new.
func (d *Dovecot) SetUIDValidity(t testing.TB, v uint32) {
	t.Helper()
	out, err := exec.Command("doveadm", "-c", d.conf, "mailbox", "update", "-u", d.User, "--uid-validity", strconv.FormatUint(uint64(v), 10), "INBOX").CombinedOutput()
	if err != nil {
		t.Fatalf("doveadm mailbox update: %v\n%s", err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func lookupIDs(t testing.TB, userName, groupName string) (int, int) {
	t.Helper()
	u, err := user.Lookup(userName)
	if err != nil {
		t.Skipf("no %s user: %v", userName, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if g, err := user.LookupGroup(groupName); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid
}

func chownR(dir string, uid, gid int) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}

// dovecotConf is a Dovecot 2.3 configuration (Debian 12); blocks must be
// multi-line and comments on their own line.
const dovecotConf = `base_dir = DIR/run
state_dir = DIR/state
log_path = DIR/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
default_internal_user = INTERNAL
default_login_user = LOGIN
first_valid_uid = FIRSTUID
first_valid_gid = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u DIR/passwd
}
userdb {
  driver = static
  args = uid=UID gid=GID home=DIR/home/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = PORT
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`

package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadKeyCreatesAndReuses(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKey("", dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load: %v, same=%v", err, bytes.Equal(k1, k2))
	}
	st, _ := os.Stat(filepath.Join(dir, "secret.key"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	if _, err := LoadKey("too-short", dir); err == nil {
		t.Fatal("want error for a bad env key")
	}
}

func TestSealOpen(t *testing.T) {
	key, _ := ParseKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	b, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	s := b.Seal([]byte("token-123"))
	if bytes.Contains(s, []byte("token-123")) {
		t.Fatal("plain text visible")
	}
	p, err := b.Open(s)
	if err != nil || string(p) != "token-123" {
		t.Fatalf("open: %q %v", p, err)
	}
	other, _ := NewBox(bytes.Repeat([]byte{1}, 32))
	if _, err := other.Open(s); err == nil {
		t.Fatal("wrong key must fail")
	}
}

// Package e2e tests the kanal binary from the outside: it builds
// ./cmd/kanal once, runs its commands as subprocesses and talks to the server
// over HTTP on loopback only. Store-backed tests run on SQLite always and on
// PostgreSQL when KANAL_TEST_DATABASE_URL is set.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// kanalBin is the binary built by TestMain.
var kanalBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kanal-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kanalBin = filepath.Join(dir, "kanal")
	build := exec.Command("go", "build", "-o", kanalBin, "./cmd/kanal")
	build.Dir = ".." // the module root: this package lives in <root>/e2e
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build ./cmd/kanal:", err)
		return 1
	}
	return m.Run()
}

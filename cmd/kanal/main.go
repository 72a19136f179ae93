// Command kanal is Kanal's single binary: the server and its tools.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kanal-dev/kanal/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

package cli

import (
	"context"
	"errors"
	"io"
)

func loadtest(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return errors.New("loadtest: not built yet")
}

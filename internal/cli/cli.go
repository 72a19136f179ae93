// Package cli implements Kanal's subcommands: serve, setup, token, migrate,
// loadtest, demo, route and version.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/kanal-dev/kanal/internal/app"
	"github.com/kanal-dev/kanal/internal/config"
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

const usage = `Kanal — omnichannel customer service in one binary.

Usage:
  kanal serve    [--addr 127.0.0.1:8080] [--data DIR] [--database-url URL] [--public-url URL]
  kanal setup    --workspace NAME --email E --password P [--name NAME] [--data DIR] [--database-url URL]
  kanal token create --email E --name N [--workspace SLUG] [--data DIR] [--database-url URL]
  kanal migrate  [--data DIR] [--database-url URL]
  kanal loadtest [--url URL] --token T [--clients 64] [--duration 20s] ...
  kanal demo     [--addr 127.0.0.1:8080] [--sim-addr 127.0.0.1:8090] [--data DIR] [--seed]
  kanal route simulate SCENARIO.json [--format table|json] [--explain] [--trace]
  kanal route replay --workspace SLUG --from TIME --to TIME --policy POLICY.json [--format table|json]
  kanal version

Run "kanal COMMAND -h" for a command's flags.
`

// Run runs one command and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr, getenv)
	case "setup":
		err = setup(ctx, args[1:], stdout, stderr, getenv)
	case "token":
		err = token(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		err = migrate(ctx, args[1:], stdout, stderr, getenv)
	case "loadtest":
		err = loadtest(ctx, args[1:], stdout, stderr, getenv)
	case "demo":
		err = demo(ctx, args[1:], stdout, stderr, getenv)
	case "route":
		err = route(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "kanal", Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "kanal: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "kanal:", err)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "kanal:", err)
		return 1
	}
	return 0
}

type usageError string

func (u usageError) Error() string { return string(u) }

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kanal "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

// newLogger logs text on a terminal and JSON otherwise (or as configured).
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func serve(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	cfg := config.Defaults(getenv)
	fs := newFlags("serve", stderr)
	cfg.ServeFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError(err.Error())
	}
	return app.Serve(ctx, cfg, Version, newLogger(stderr, cfg.LogFormat, cfg.LogLevel), nil)
}

func openServices(ctx context.Context, cfg config.Config, stderr io.Writer) (*app.Services, error) {
	if err := cfg.Validate(); err != nil {
		return nil, usageError(err.Error())
	}
	return app.Open(ctx, cfg, newLogger(stderr, "text", "warn"), nil)
}

func setup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := config.Defaults(getenv)
	fs := newFlags("setup", stderr)
	cfg.StoreFlags(fs)
	wsName := fs.String("workspace", "", "workspace name (required)")
	slug := fs.String("slug", "", "workspace slug (default: derived from the name)")
	email := fs.String("email", "", "owner's e-mail (required)")
	password := fs.String("password", "", "owner's password, at least 8 characters (required)")
	name := fs.String("name", "", "owner's name")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *wsName == "" || *email == "" || *password == "" {
		return usageError("setup needs --workspace, --email and --password")
	}
	s, err := openServices(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	w, u, err := s.Auth.Setup(ctx, *wsName, *slug, *email, *name, *password)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(stdout, "Created workspace %q (slug %s) with owner %s.\n", w.Name, w.Slug, u.Email)
	return nil
}

func token(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError("usage: kanal token create --email E --name N [--workspace SLUG]")
	}
	cfg := config.Defaults(getenv)
	fs := newFlags("token create", stderr)
	cfg.StoreFlags(fs)
	email := fs.String("email", "", "the user the token acts as (required)")
	name := fs.String("name", "", "a name to recognise the token by (required)")
	slug := fs.String("workspace", "", "workspace slug (default: the user's first workspace)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *email == "" || *name == "" {
		return usageError("token create needs --email and --name")
	}
	s, err := openServices(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	u, err := s.Auth.UserByEmail(ctx, *email)
	if err != nil {
		return fmt.Errorf("no user %s: %w", *email, err)
	}
	var wsID string
	if *slug != "" {
		w, err := s.Workspaces.BySlug(ctx, *slug)
		if err != nil {
			return fmt.Errorf("no workspace %s: %w", *slug, err)
		}
		wsID = w.ID
	} else {
		ws, err := s.Auth.Workspaces(ctx, u.ID)
		if err != nil || len(ws) == 0 {
			return fmt.Errorf("%s is not a member of any workspace", *email)
		}
		wsID = ws[0]
	}
	plain, _, err := s.Auth.CreateToken(ctx, wsID, u.ID, *name)
	if err != nil {
		return fmt.Errorf("%s is not a member of that workspace: %w", *email, err)
	}
	fmt.Fprintln(stdout, plain)
	fmt.Fprintln(stderr, "Store this token now: it is shown only once.")
	return nil
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := config.Defaults(getenv)
	fs := newFlags("migrate", stderr)
	cfg.StoreFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	s, err := openServices(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "Database (%s) is up to date.\n", strings.ToLower(string(s.DB.Dialect())))
	return nil
}

package cli

import (
	"context"
	"io"

	"github.com/kanal-dev/kanal/internal/config"
	kdemo "github.com/kanal-dev/kanal/internal/demo"
)

// demo runs `kanal demo`: Kanal with a demo workspace and the simulator of
// its channels' providers. It keeps to its own data folder and embedded
// SQLite whatever KANAL_DATA, KANAL_DATABASE_URL, KANAL_ADDR or
// KANAL_PUBLIC_URL say, so that it never writes into a real installation;
// only the log settings follow the environment.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := config.Defaults(func(k string) string {
		switch k {
		case config.EnvLogFormat, config.EnvLogLevel:
			return getenv(k)
		}
		return ""
	})
	cfg.DataDir = "./kanal-demo"
	fs := newFlags("demo", stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "Kanal's listen address")
	simAddr := fs.String("sim-addr", "127.0.0.1:8090", "the simulator's listen address (loopback only)")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "the demo's data folder (SQLite database, demo.json); delete it to start over")
	seed := fs.Bool("seed", false, "send the tour's conversations once everything runs, so the inbox is not empty")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log format: text, json or auto [$"+config.EnvLogFormat+"]")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level: debug, info, warn, error [$"+config.EnvLogLevel+"]")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError(err.Error())
	}
	if err := kdemo.CheckSimAddr(*simAddr); err != nil {
		return usageError(err.Error())
	}
	return kdemo.Run(ctx, cfg, kdemo.Options{SimAddr: *simAddr, Seed: *seed, Version: Version, Out: stdout,
		Logger: newLogger(stderr, cfg.LogFormat, cfg.LogLevel)})
}

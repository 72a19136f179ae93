// Package config reads Kanal's process settings: command-line flags first,
// then KANAL_* environment variables, then defaults. Product settings live in
// the database, not here.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Config is the process configuration.
type Config struct {
	Addr        string // listen address
	DataDir     string // data folder: SQLite file, secret key
	DatabaseURL string // PostgreSQL URL; empty = embedded SQLite
	PublicURL   string // how customers and providers reach Kanal
	SecretKey   string // KANAL_SECRET_KEY; empty = data folder's secret.key
	MaxBody     int64  // request body limit in bytes
	LogFormat   string // text, json or auto
	LogLevel    string // debug, info, warn, error
	SMTPAddr    string // the inbound SMTP listener's address; empty = off
	SMTPDomain  string // the name the SMTP listener greets with; empty = host name
	// PublicURLFromAddr tells that PublicURL was derived from Addr (no
	// --public-url), so it follows the port actually bound (e.g. with :0).
	PublicURLFromAddr bool
}

// Env names.
const (
	EnvAddr        = "KANAL_ADDR"
	EnvData        = "KANAL_DATA"
	EnvDatabaseURL = "KANAL_DATABASE_URL"
	EnvPublicURL   = "KANAL_PUBLIC_URL"
	EnvSecretKey   = "KANAL_SECRET_KEY"
	EnvMaxBody     = "KANAL_MAX_BODY"
	EnvLogFormat   = "KANAL_LOG_FORMAT"
	EnvLogLevel    = "KANAL_LOG_LEVEL"
	EnvSMTPAddr    = "KANAL_SMTP_ADDR"
	EnvSMTPDomain  = "KANAL_SMTP_DOMAIN"
)

// Defaults returns the configuration with every default and env override.
func Defaults(getenv func(string) string) Config {
	c := Config{Addr: "127.0.0.1:8080", DataDir: "./kanal-data", MaxBody: 1 << 20, LogFormat: "auto", LogLevel: "info"}
	set := func(dst *string, env string) {
		if v := getenv(env); v != "" {
			*dst = v
		}
	}
	set(&c.Addr, EnvAddr)
	set(&c.DataDir, EnvData)
	set(&c.DatabaseURL, EnvDatabaseURL)
	set(&c.PublicURL, EnvPublicURL)
	set(&c.SecretKey, EnvSecretKey)
	set(&c.LogFormat, EnvLogFormat)
	set(&c.LogLevel, EnvLogLevel)
	set(&c.SMTPAddr, EnvSMTPAddr)
	set(&c.SMTPDomain, EnvSMTPDomain)
	if v := getenv(EnvMaxBody); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			c.MaxBody = n
		} else {
			c.MaxBody = -1 // Validate reports it
		}
	}
	return c
}

// StoreFlags registers the flags every subcommand that opens the database
// takes: --data and --database-url.
func (c *Config) StoreFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data folder (SQLite database, secret key) [$"+EnvData+"]")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL URL; empty uses the embedded SQLite [$"+EnvDatabaseURL+"]")
}

// ServeFlags registers the flags of `kanal serve`.
func (c *Config) ServeFlags(fs *flag.FlagSet) {
	c.StoreFlags(fs)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address [$"+EnvAddr+"]")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "public URL of this server, used in webhook URLs [$"+EnvPublicURL+"]")
	fs.Int64Var(&c.MaxBody, "max-body", c.MaxBody, "request body limit in bytes [$"+EnvMaxBody+"]")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text, json or auto [$"+EnvLogFormat+"]")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn, error [$"+EnvLogLevel+"]")
	fs.StringVar(&c.SMTPAddr, "smtp-addr", c.SMTPAddr, "inbound SMTP listener address, e.g. :25 (empty: off) [$"+EnvSMTPAddr+"]")
	fs.StringVar(&c.SMTPDomain, "smtp-domain", c.SMTPDomain, "host name the SMTP listener greets with (default: the host name) [$"+EnvSMTPDomain+"]")
}

// Validate checks the configuration and fills derived values.
func (c *Config) Validate() error {
	var problems []string
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Sprintf("--addr %q: %v", c.Addr, err))
	}
	if c.DataDir == "" {
		problems = append(problems, "--data must not be empty")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			problems = append(problems, "--database-url must be a postgres:// URL")
		}
	}
	if c.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.SMTPAddr); err != nil {
			problems = append(problems, fmt.Sprintf("--smtp-addr %q: %v", c.SMTPAddr, err))
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
		c.PublicURLFromAddr = true
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("--public-url %q must be an http(s) URL", c.PublicURL))
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.MaxBody < 1024 {
		problems = append(problems, "--max-body must be at least 1024 bytes")
	}
	switch c.LogFormat {
	case "text", "json", "auto":
	default:
		problems = append(problems, "--log-format must be text, json or auto")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, "--log-level must be debug, info, warn or error")
	}
	if len(problems) > 0 {
		return errors.New("configuration: " + strings.Join(problems, "; "))
	}
	return nil
}

// Getenv is os.Getenv, for callers that take the environment as a function.
func Getenv(k string) string { return os.Getenv(k) }

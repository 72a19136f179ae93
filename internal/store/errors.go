package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kanal-dev/kanal/internal/errs"
)

// The store reports these kinds; they are the domain kinds of package errs.
var (
	ErrNotFound    = errs.ErrNotFound
	ErrConflict    = errs.ErrConflict
	ErrUnavailable = errs.ErrUnavailable
)

// IsUnique tells whether err is a unique-constraint violation.
func IsUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// classify wraps err with the domain kind it stands for: sql.ErrNoRows is
// ErrNotFound, a lost or refused connection is ErrUnavailable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled):
		return err
	case unavailable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// IsUnavailable tells whether err means the database could not be reached
// or the connection broke (as opposed to a bad query or a constraint). The
// HTTP layer uses it as a last check before answering 500, for errors that
// reached it without passing through the store's own wrapping (rows.Err).
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || unavailable(err)
}

func unavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	if strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "conn busy") {
		return true // pgconn's messages for a connection lost or left mid-query by a dead peer
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P0x: server shutting down; 53: insufficient resources.
		return len(pe.Code) >= 2 && (pe.Code[:2] == "08" || pe.Code[:2] == "53" || pe.Code[:4] == "57P0")
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// Package media keeps the files Kanal holds (attachments fetched from
// providers, uploads) in the data folder, with their metadata in the
// database. Every file belongs to one workspace.
package media

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/store"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// File is a stored file's metadata.
type File struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspace_id"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	CreatedAt   int64  `json:"created_at"`
}

// URL is where the API serves the file.
func (f File) URL() string { return "/api/v1/media/" + f.ID }

// Store saves files under dir.
type Store struct {
	db  *store.DB
	dir string
}

// New returns a store keeping files under dir (DATA/media).
func New(db *store.DB, dir string) *Store { return &Store{db: db, dir: dir} }

func (s *Store) path(workspaceID, id string) string {
	return filepath.Join(s.dir, workspaceID, id[len(id)-2:], id)
}

// ErrTooLarge is returned when a file is over the size limit.
var ErrTooLarge = errs.New(errs.ErrTooLarge, "file_too_large", "the file is larger than allowed")

// Save stores what r holds, at most max bytes, checking it against
// wantSHA256 (hex) when given. The file is synced to disk before its row is
// committed, so a committed row always has its file.
func (s *Store) Save(ctx context.Context, workspaceID, fileName, contentType string, r io.Reader, max int64, wantSHA256 string) (File, error) {
	f := File{ID: store.NewID(), WorkspaceID: workspaceID, FileName: cleanName(fileName), ContentType: cleanType(contentType), CreatedAt: store.Now()}
	p := s.path(workspaceID, f.ID)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return File{}, fmt.Errorf("media: %w", err)
	}
	tmp := p + ".part"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return File{}, fmt.Errorf("media: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, max+1))
	if err == nil {
		err = out.Sync()
	}
	out.Close()
	fail := func(e error) (File, error) { os.Remove(tmp); return File{}, e }
	if err != nil {
		return fail(fmt.Errorf("media: write: %w", err))
	}
	if n > max {
		return fail(ErrTooLarge)
	}
	f.Size, f.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	if wantSHA256 != "" && !strings.EqualFold(wantSHA256, f.SHA256) {
		return fail(fmt.Errorf("media: checksum mismatch (want %s, got %s)", wantSHA256, f.SHA256))
	}
	if err := os.Rename(tmp, p); err != nil {
		return fail(fmt.Errorf("media: %w", err))
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "insert"), f.ID, f.WorkspaceID, f.FileName, f.ContentType, f.Size, f.SHA256, f.CreatedAt)
		return err
	})
	if err != nil {
		os.Remove(p)
		return File{}, err
	}
	return f, nil
}

// Open returns a file of the workspace and its content.
func (s *Store) Open(ctx context.Context, workspaceID, id string) (File, *os.File, error) {
	r := s.db.Reader()
	var f File
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "get"), workspaceID, id).Scan(&f.ID, &f.WorkspaceID, &f.FileName, &f.ContentType, &f.Size, &f.SHA256, &f.CreatedAt)
	if err != nil {
		return File{}, nil, fmt.Errorf("media %s: %w", id, err)
	}
	fh, err := os.Open(s.path(workspaceID, id))
	if errors.Is(err, os.ErrNotExist) {
		return File{}, nil, fmt.Errorf("media %s: file missing: %w", id, errs.ErrNotFound)
	}
	if err != nil {
		return File{}, nil, fmt.Errorf("media %s: %w", id, err)
	}
	return f, fh, nil
}

func cleanName(n string) string {
	n = filepath.Base(strings.ReplaceAll(n, "\\", "/"))
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, n)
	if n == "." || n == "/" || n == "" {
		n = "file"
	}
	for len(n) > 200 {
		_, size := utf8.DecodeLastRuneInString(n)
		n = n[:len(n)-size]
	}
	return n
}

func cleanType(t string) string {
	mt, params, err := mime.ParseMediaType(t)
	if err != nil {
		return "application/octet-stream"
	}
	return mime.FormatMediaType(mt, params)
}

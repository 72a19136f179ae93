package channel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/kanal-dev/kanal/internal/conversation"
	"github.com/kanal-dev/kanal/internal/inbox"
	"github.com/kanal-dev/kanal/internal/jobs"
	"github.com/kanal-dev/kanal/internal/media"
	"github.com/kanal-dev/kanal/internal/store"
)

// MaxMediaBytes caps a fetched attachment.
const MaxMediaBytes = 100 << 20

// Media is a file a provider holds.
type Media struct {
	Body        io.ReadCloser
	ContentType string
	FileName    string
	SHA256      string // hex, when the provider gives it
}

// MediaFetcher is implemented by adapters whose providers hand out files by
// reference (a WhatsApp media id, a Telegram file id): Kanal downloads each
// once, soon after the message arrives, and keeps its own copy.
type MediaFetcher interface {
	FetchMedia(ctx context.Context, in inbox.Inbox, ref string) (Media, error)
}

// MediaWorker runs the fetch_media jobs.
type MediaWorker struct {
	db       *store.DB
	conv     *conversation.Service
	inboxes  *inbox.Service
	files    *media.Store
	fetchers map[string]MediaFetcher
	log      *slog.Logger
}

// NewMediaWorker returns the media worker for the adapters that fetch media.
func NewMediaWorker(db *store.DB, conv *conversation.Service, inboxes *inbox.Service, files *media.Store, adapters []Adapter, log *slog.Logger) *MediaWorker {
	w := &MediaWorker{db: db, conv: conv, inboxes: inboxes, files: files, fetchers: map[string]MediaFetcher{}, log: log}
	for _, a := range adapters {
		if f, ok := a.(MediaFetcher); ok {
			w.fetchers[a.Type().Name] = f
		}
	}
	return w
}

// Register makes q run fetch_media jobs through w.
func (w *MediaWorker) Register(q *jobs.Queue) { q.Handle(conversation.FetchMediaJob, w.handle, nil) }

func (w *MediaWorker) handle(ctx context.Context, j jobs.Job) error {
	var p conversation.FetchMediaPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return jobs.Permanent(fmt.Errorf("bad payload: %w", err))
	}
	m, err := w.conv.GetMessage(ctx, j.WorkspaceID, p.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		return jobs.Permanent(err)
	}
	if err != nil {
		return err
	}
	if p.Index < 0 || p.Index >= len(m.Attachments) {
		return jobs.Permanent(fmt.Errorf("message %s has no attachment %d", m.ID, p.Index))
	}
	a := m.Attachments[p.Index]
	if a.Ref == "" {
		return nil // fetched already
	}
	in, err := w.inboxes.Get(ctx, j.WorkspaceID, m.InboxID)
	if err != nil {
		return err
	}
	f, ok := w.fetchers[in.Type]
	if !ok {
		return jobs.Permanent(fmt.Errorf("inbox type %s cannot fetch media", in.Type))
	}
	md, err := f.FetchMedia(ctx, in, a.Ref)
	if err != nil {
		return err
	}
	defer md.Body.Close()
	name, ctype, sum := a.FileName, a.ContentType, a.SHA256
	if name == "" {
		name = md.FileName
	}
	if md.ContentType != "" {
		ctype = md.ContentType
	}
	if sum == "" {
		sum = md.SHA256
	}
	file, err := w.files.Save(ctx, j.WorkspaceID, name, ctype, md.Body, MaxMediaBytes, sum)
	if errors.Is(err, media.ErrTooLarge) {
		return jobs.Permanent(err)
	}
	if err != nil {
		return err
	}
	a.URL, a.Ref, a.FileName, a.ContentType, a.Size, a.SHA256 = file.URL(), "", file.FileName, file.ContentType, file.Size, file.SHA256
	return w.db.Write(ctx, func(tx *store.Tx) error { return w.conv.SetAttachment(ctx, tx, j.WorkspaceID, m.ID, p.Index, a) })
}

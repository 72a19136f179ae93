// Package idempotency remembers the answers to creating requests sent with an
// Idempotency-Key, so that a client retrying after a timeout gets the first
// answer instead of creating the thing twice.
package idempotency

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/store"
)

//go:embed queries.sql
var queryFS embed.FS

var q = store.MustQueries(queryFS)

// TTL is how long an answer is kept.
const TTL = 24 * time.Hour

// Response is a remembered answer.
type Response struct {
	Fingerprint string
	Status      int
	Body        []byte
}

// Keys stores remembered answers and serialises requests that carry the same
// key on this node.
type Keys struct {
	db        *store.DB
	mu        sync.Mutex
	inFlight  map[string]chan struct{}
	lastPurge time.Time
}

// New returns the key store.
func New(db *store.DB) *Keys { return &Keys{db: db, inFlight: map[string]chan struct{}{}} }

// Lock waits until no other request with the same key runs on this node and
// returns the function that releases it.
func (k *Keys) Lock(ctx context.Context, workspaceID, key string) (func(), error) {
	id := workspaceID + "\x00" + key
	for {
		k.mu.Lock()
		ch, busy := k.inFlight[id]
		if !busy {
			ch = make(chan struct{})
			k.inFlight[id] = ch
			k.mu.Unlock()
			return func() {
				k.mu.Lock()
				delete(k.inFlight, id)
				k.mu.Unlock()
				close(ch)
			}, nil
		}
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Get returns the remembered answer for key, or ok=false.
func (k *Keys) Get(ctx context.Context, workspaceID, key string) (Response, bool, error) {
	r := k.db.Reader()
	var resp Response
	var body string
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "get"), workspaceID, key, time.Now().Add(-TTL).UnixMilli()).
		Scan(&resp.Fingerprint, &resp.Status, &body)
	if errors.Is(err, errs.ErrNotFound) {
		return Response{}, false, nil
	}
	if err != nil {
		return Response{}, false, fmt.Errorf("idempotency key: %w", err)
	}
	resp.Body = []byte(body)
	return resp, true, nil
}

// Put remembers an answer. Expired keys are purged now and then.
func (k *Keys) Put(ctx context.Context, workspaceID, key string, resp Response) error {
	now := time.Now()
	k.mu.Lock()
	purge := now.Sub(k.lastPurge) > time.Hour
	if purge {
		k.lastPurge = now
	}
	k.mu.Unlock()
	return k.db.Write(ctx, func(tx *store.Tx) error {
		old := now.Add(-TTL).UnixMilli()
		if purge {
			if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "purge"), old); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, q.Get(tx.Dialect(), "put"), workspaceID, key, resp.Fingerprint, resp.Status, string(resp.Body), now.UnixMilli(), old)
		return err
	})
}

package event

import (
	"context"
	"log/slog"
	"time"
)

// Publisher takes committed events; the bus implements it.
type Publisher interface {
	Publish(evs []Event)
}

// Dispatcher tails the committed log and publishes each event once, in commit
// order. It wakes when a local write commits (Notify) and polls now and then
// for writes of other nodes. Consumers that must not miss anything across a
// restart keep their own cursor and read the log; the bus is the fast path.
type Dispatcher struct {
	pub     Publisher
	wake    chan struct{}
	logger  *slog.Logger
	poll    time.Duration
	lastID  int64
	ready   chan struct{}
	OnBatch func(evs []Event) // observes each published batch (metrics)
}

// NewDispatcher returns a dispatcher publishing on pub.
func NewDispatcher(pub Publisher, logger *slog.Logger) *Dispatcher {
	return &Dispatcher{pub: pub, wake: make(chan struct{}, 1), ready: make(chan struct{}), logger: logger, poll: time.Second}
}

// Ready is closed once Run has found its starting point: events committed
// after that are published.
func (d *Dispatcher) Ready() <-chan struct{} { return d.ready }

// Notify wakes the dispatcher; it never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run publishes the events of log until ctx ends. It starts after the newest
// event that exists when it starts.
func (d *Dispatcher) Run(ctx context.Context, log *Log) error {
	id, err := log.MaxID(ctx)
	if err != nil {
		return err
	}
	d.lastID = id
	close(d.ready)
	t := time.NewTicker(d.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			d.drain(context.Background(), log)
			return nil
		case <-d.wake:
		case <-t.C:
		}
		d.drain(ctx, log)
	}
}

func (d *Dispatcher) drain(ctx context.Context, log *Log) {
	for {
		evs, err := log.Tail(ctx, d.lastID, 1000)
		if err != nil {
			if ctx.Err() == nil {
				d.logger.Warn("event dispatch: read log", "err", err)
			}
			return
		}
		if len(evs) == 0 {
			return
		}
		d.pub.Publish(evs)
		if d.OnBatch != nil {
			d.OnBatch(evs)
		}
		d.lastID = evs[len(evs)-1].ID
		if len(evs) < 1000 {
			return
		}
	}
}

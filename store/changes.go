package store

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChangesChannel is the channel the triggers of migration 00008 notify on every insert
// into and update of tasks and escalations.
const ChangesChannel = "serviceflow_changes"

// HubApplicationName names the hub's connection in pg_stat_activity.
const HubApplicationName = "serviceflow-changes"

// Change is one notification: the table, the operation and the row's id. A Change with
// no Table follows a reconnect of the listening connection: anything may have changed.
type Change struct {
	Table string `json:"table"` // tasks | escalations
	Op    string `json:"op"`    // INSERT | UPDATE
	ID    string `json:"id"`
}

// Hub LISTENs on one dedicated connection (not one of the pool's) and fans each change
// out to its subscribers. Run keeps the connection, reconnecting after a failure.
type Hub struct {
	connect func(context.Context) (*pgx.Conn, error)
	log     *slog.Logger
	// Ping is how long the connection may wait for a notification before Run checks it.
	Ping time.Duration

	mu        sync.Mutex
	subs      map[chan Change]struct{}
	done      bool
	listening chan struct{}
	once      sync.Once
}

// NewHub is a hub on the store's database, with the pool's connection settings.
func (s *Store) NewHub(log *slog.Logger) *Hub {
	cfg := s.Pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = HubApplicationName
	if log == nil {
		log = slog.Default()
	}
	return &Hub{
		connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg.Copy()) },
		log:     log, Ping: 30 * time.Second, subs: map[chan Change]struct{}{}, listening: make(chan struct{}),
	}
}

// Listening is closed once the hub first listens: a change committed after that reaches
// the subscribers.
func (h *Hub) Listening() <-chan struct{} { return h.listening }

// Subscribe returns a channel of changes and a func that ends the subscription. The
// channel is closed when Run ends. A subscriber that falls behind misses changes, but
// never all of the last ones: its buffer is full of changes it has yet to read.
func (h *Hub) Subscribe() (<-chan Change, func()) {
	ch := make(chan Change, 16)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		close(ch)
		return ch, func() {}
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}

func (h *Hub) publish(c Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- c:
		default: // full: it has changes to read yet
		}
	}
}

// Run listens until ctx ends, then closes every subscriber's channel.
func (h *Hub) Run(ctx context.Context) {
	defer func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.done = true
		for ch := range h.subs {
			delete(h.subs, ch)
			close(ch)
		}
	}()
	const minWait, maxWait = 200 * time.Millisecond, 10 * time.Second
	wait, resync := minWait, false
	for ctx.Err() == nil {
		listened, err := h.listen(ctx, resync)
		if ctx.Err() != nil {
			return
		}
		if listened {
			wait, resync = minWait, true
		}
		h.log.Warn("store: listening for changes failed; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, maxWait)
	}
}

// listen connects, LISTENs and publishes notifications until the connection fails;
// listened reports whether it got as far as listening.
func (h *Hub) listen(ctx context.Context, resync bool) (listened bool, err error) {
	conn, err := h.connect(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+ChangesChannel); err != nil {
		return false, err
	}
	h.once.Do(func() { close(h.listening) })
	if resync { // changes while it was not listening are lost: tell everyone to look again
		h.publish(Change{})
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, h.Ping)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			var c Change
			if json.Unmarshal([]byte(n.Payload), &c) != nil {
				c = Change{}
			}
			h.publish(c)
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
		default:
			return true, err
		}
	}
}

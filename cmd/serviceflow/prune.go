package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/serviceflow/serviceflow/store"
)

// How the API forgets old SendGrid webhook events (SERVICEFLOW_EMAIL_EVENTS_RETENTION).
const (
	emailEventsPruneEvery = time.Hour
	emailEventsPruneBatch = 5000
)

// pruneEmailEvents deletes the SendGrid webhook events received more than keep ago, at
// once and then every interval, until ctx ends. The API remembers each event only to
// apply a repeated delivery of it once, so without this the table grows by every
// e-mail's every event, forever. Each API replica runs it; the deletes are idempotent.
// A failure (the database is down) is logged and tried again at the next interval.
func pruneEmailEvents(ctx context.Context, st *store.Store, keep, interval time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		n, err := st.PruneEmailEvents(ctx, time.Now().Add(-keep), emailEventsPruneBatch)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("prune SendGrid webhook events", "error", err)
		case n > 0:
			log.Info("pruned SendGrid webhook events", "removed", n, "older_than", keep.String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// webPruneEvery is how often the API deletes expired web sessions and stale failed
// sign-ins (an expired session is also deleted when it is next presented).
const webPruneEvery = 15 * time.Minute

// pruneWebSessions deletes the web sessions unused for longer than idle, and the failed
// sign-ins older than a day that lock nobody out, at once and then every interval,
// until ctx ends. A failure is logged and tried again at the next interval.
func pruneWebSessions(ctx context.Context, st *store.Store, idle, interval time.Duration, log *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		now := time.Now()
		sessions, err := st.DeleteIdleWebSessions(ctx, now.Add(-idle))
		var failures int64
		if err == nil {
			failures, err = st.PruneSignInFailures(ctx, now.Add(-24*time.Hour), now)
		}
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("prune web sessions", "error", err)
		case sessions+failures > 0:
			log.Info("pruned web sessions", "sessions", sessions, "sign_in_failures", failures)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

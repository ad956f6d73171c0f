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

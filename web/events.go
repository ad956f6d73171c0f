package web

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Server-sent events: how often a comment keeps an idle stream open, and how long one
// stream lasts before the browser reconnects (the session is checked again then).
const (
	eventsHeartbeat = 25 * time.Second
	eventsMaxAge    = 10 * time.Minute
)

// events streams "change" events to a signed-in user while tasks or escalations change
// (store.Hub): data is the table, or "" when anything may have changed. Escalation
// changes go only to those who may see the board. The pages re-read their list on one.
func (a *App) events(w http.ResponseWriter, r *http.Request) {
	sctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	u, err := a.sessionUser(r.WithContext(sctx))
	cancel()
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if u == nil {
		http.Error(w, "not signed in", http.StatusUnauthorized) // an EventSource stops on it
		return
	}
	if a.hub == nil {
		http.Error(w, "no live updates", http.StatusServiceUnavailable)
		return
	}
	board := a.access.MaySeeEscalations(*u)
	changes, stop := a.hub.Subscribe()
	defer stop()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy must not hold events back
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(eventsHeartbeat)
	defer beat.Stop()
	end := time.NewTimer(eventsMaxAge)
	defer end.Stop()
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return
		case <-end.C:
			return
		case <-beat.C:
			msg = ": ping\n\n"
		case c, ok := <-changes:
			if !ok {
				return // shutting down
			}
			if c.Table == "escalations" && !board {
				continue
			}
			msg = "event: change\ndata: " + c.Table + "\n\n"
		}
		if _, err := fmt.Fprint(w, msg); err != nil || rc.Flush() != nil {
			return
		}
	}
}

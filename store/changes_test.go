package store_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

func nextChange(t *testing.T, ch <-chan store.Change) store.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("changes channel closed")
		}
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no change within 5 s")
	}
	return store.Change{}
}

func TestHub(t *testing.T) {
	st := storetest.New(t, "hub")
	ctx, cancel := context.WithCancel(context.Background())
	h := st.NewHub(slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.Ping = 100 * time.Millisecond // the idle check runs several times below
	ran := make(chan struct{})
	go func() { h.Run(ctx); close(ran) }()
	ch, unsubscribe := h.Subscribe()
	defer unsubscribe()
	<-h.Listening()

	raise := func(id string) {
		t.Helper()
		if _, _, err := store.EnsureEscalation(ctx, st.Pool, store.NewEscalation{ID: id, WorkflowID: "complaint/cmp_" + id,
			Process: "complaint", ProcessID: "cmp_" + id, Subject: "invoice/" + id, Step: "evaluate", Level: 1,
			Reason: "overdue", Targets: []string{"dave"}, RaisedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(350 * time.Millisecond) // idle past a few pings: still listening
	raise("esc_a")
	if c := nextChange(t, ch); c != (store.Change{Table: "escalations", Op: "INSERT", ID: "esc_a"}) {
		t.Fatalf("insert: %+v", c)
	}
	if _, err := st.AcknowledgeEscalation(ctx, "esc_a", "dave", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if c := nextChange(t, ch); c != (store.Change{Table: "escalations", Op: "UPDATE", ID: "esc_a"}) {
		t.Fatalf("update: %+v", c)
	}

	// The listening connection dies: the hub reconnects, says anything may have changed,
	// and goes on delivering.
	var killed bool
	if err := st.Pool.QueryRow(ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, store.HubApplicationName).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the listener: %v %v", killed, err)
	}
	if c := nextChange(t, ch); c != (store.Change{}) {
		t.Fatalf("after a reconnect: %+v, want the resync change", c)
	}
	raise("esc_b")
	if c := nextChange(t, ch); c.ID != "esc_b" {
		t.Fatalf("after a reconnect: %+v", c)
	}

	// A second subscriber gets the same; ending the run closes both.
	ch2, _ := h.Subscribe()
	raise("esc_c")
	if c1, c2 := nextChange(t, ch), nextChange(t, ch2); c1.ID != "esc_c" || c2.ID != "esc_c" {
		t.Fatalf("fan-out: %+v %+v", c1, c2)
	}
	cancel()
	<-ran
	if _, ok := <-ch2; ok {
		t.Fatal("a subscriber's channel stays open after Run")
	}
	if late, _ := h.Subscribe(); func() bool { _, ok := <-late; return ok }() {
		t.Fatal("a subscription after Run is open")
	}
}

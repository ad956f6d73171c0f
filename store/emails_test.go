package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

func newEmail(key, to, processID string) store.Email {
	return store.Email{
		ID: domain.NewID("eml"), IdempotencyKey: key, To: to, Locale: "en",
		Template: domain.TmplComplaintAck, Subject: "subject " + key, Text: "text", HTML: "<p>html</p>",
		Process: domain.ProcessComplaint, ProcessID: processID,
	}
}

func TestEmailOutboxQueries(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t, "emails")

	e := newEmail("k1", "a@example.com", "CMP-1")
	inserted, err := store.InsertEmail(ctx, s.Pool, e)
	require.NoError(t, err)
	assert.True(t, inserted)
	dup := newEmail("k1", "other@example.com", "CMP-2")
	inserted, err = store.InsertEmail(ctx, s.Pool, dup)
	require.NoError(t, err)
	assert.False(t, inserted, "one row per idempotency key")

	got, err := s.EmailByKey(ctx, "k1")
	require.NoError(t, err)
	assert.Equal(t, e.ID, got.ID)
	assert.Equal(t, "a@example.com", got.To)
	assert.Equal(t, store.EmailQueued, got.Status)
	assert.False(t, got.Settled())
	_, err = s.EmailByKey(ctx, "missing")
	assert.ErrorIs(t, err, store.ErrNotFound)

	ok, err := s.ClaimEmail(ctx, e.ID, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.ClaimEmail(ctx, e.ID, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "a live lease blocks a second claim")

	_, err = s.Pool.Exec(ctx, `UPDATE emails SET claimed_until = now() - interval '1 second' WHERE id = $1`, e.ID)
	require.NoError(t, err)
	ok, err = s.ClaimEmail(ctx, e.ID, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "an expired lease can be taken over")

	changed, err := store.MarkEmailSent(ctx, s.Pool, e.ID, "abc123")
	require.NoError(t, err)
	assert.True(t, changed)
	got, err = s.EmailByKey(ctx, "k1")
	require.NoError(t, err)
	assert.Equal(t, store.EmailSent, got.Status)
	assert.Equal(t, 2, got.Attempts)
	assert.Equal(t, "abc123", got.ProviderMessageID)
	assert.NotNil(t, got.SentAt)
	assert.Nil(t, got.ClaimedUntil)
	assert.True(t, got.Settled())

	ok, err = s.ClaimEmail(ctx, e.ID, time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "a sent row is never claimed again")
	changed, err = store.MarkEmailFailed(ctx, s.Pool, e.ID, "late failure")
	require.NoError(t, err)
	assert.False(t, changed, "a sent row does not become failed")

	// Delivery events, matched by the SendGrid sg_message_id form too.
	changed, err = s.MarkEmailDelivery(ctx, "abc123.filterdrecv-5645d9c87f-6r2ch-1-5E5E3.0", store.EmailDelivered, "")
	require.NoError(t, err)
	assert.True(t, changed)
	changed, err = s.MarkEmailDelivery(ctx, "abc123", store.EmailBounced, "mailbox full")
	require.NoError(t, err)
	assert.True(t, changed)
	changed, err = s.MarkEmailDelivery(ctx, "abc123", store.EmailDelivered, "")
	require.NoError(t, err)
	assert.False(t, changed, "a bounce is not undone by a late delivered event")
	got, err = s.EmailByKey(ctx, "k1")
	require.NoError(t, err)
	assert.Equal(t, store.EmailBounced, got.Status)
	assert.Equal(t, "mailbox full", got.Error)
	_, err = s.MarkEmailDelivery(ctx, "abc123", "opened", "")
	assert.Error(t, err)

	// A transient failure puts the row back in the queue.
	f := newEmail("k2", "b@example.com", "CMP-1")
	_, err = store.InsertEmail(ctx, s.Pool, f)
	require.NoError(t, err)
	ok, err = s.ClaimEmail(ctx, f.ID, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, s.ReleaseEmail(ctx, f.ID, "status 503"))
	got, err = s.EmailByKey(ctx, "k2")
	require.NoError(t, err)
	assert.Equal(t, store.EmailQueued, got.Status)
	assert.Equal(t, "status 503", got.Error)
	ok, err = s.ClaimEmail(ctx, f.ID, time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	changed, err = store.MarkEmailFailed(ctx, s.Pool, f.ID, "status 400: bad address")
	require.NoError(t, err)
	assert.True(t, changed)
	got, err = s.EmailByKey(ctx, "k2")
	require.NoError(t, err)
	assert.Equal(t, store.EmailFailed, got.Status)
	assert.Equal(t, "status 400: bad address", got.Error)
}

func TestEmailListPagination(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t, "emaillist")

	// Seven e-mails; four share one created_at so the id breaks the tie.
	var want []string // newest first
	base := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	ids := make([]string, 7)
	for i := range 7 {
		to, pid := "a@example.com", "CMP-1"
		if i%2 == 1 {
			to, pid = "b@example.com", "CMP-2"
		}
		e := newEmail(fmt.Sprintf("k%d", i), to, pid)
		ids[i] = e.ID
		_, err := store.InsertEmail(ctx, s.Pool, e)
		require.NoError(t, err)
		at := base.Add(time.Duration(i) * time.Minute)
		if i >= 3 {
			at = base.Add(time.Hour)
		}
		_, err = s.Pool.Exec(ctx, `UPDATE emails SET created_at = $2 WHERE id = $1`, e.ID, at)
		require.NoError(t, err)
	}
	// created_at DESC, id DESC: ids are ULIDs made in order, so k6..k3 then k2, k1, k0.
	for i := 6; i >= 0; i-- {
		want = append(want, ids[i])
	}

	var got []string
	cursor, pages := "", 0
	for {
		items, next, err := s.ListEmails(ctx, store.EmailFilter{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(items), 2)
		pages++
		for _, e := range items {
			got = append(got, e.ID)
		}
		if next == "" {
			break
		}
		cursor = next
		require.Less(t, pages, 10, "pagination does not end")
	}
	assert.Equal(t, want, got)
	assert.Equal(t, 4, pages)

	items, next, err := s.ListEmails(ctx, store.EmailFilter{To: "b@example.com"})
	require.NoError(t, err)
	assert.Empty(t, next)
	assert.Equal(t, []string{ids[5], ids[3], ids[1]}, idsOf(items))

	items, _, err = s.ListEmails(ctx, store.EmailFilter{ProcessID: "CMP-1", To: "a@example.com", Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, []string{ids[6], ids[4], ids[2]}, idsOf(items))
	assert.Equal(t, "subject k6", items[0].Subject)
	assert.Equal(t, base.Add(time.Hour), items[0].CreatedAt)

	items, _, err = s.ListEmails(ctx, store.EmailFilter{ProcessID: "nope"})
	require.NoError(t, err)
	assert.NotNil(t, items)
	assert.Empty(t, items)

	_, _, err = s.ListEmails(ctx, store.EmailFilter{Cursor: "not-a-cursor"})
	assert.True(t, errors.Is(err, store.ErrBadCursor))
}

func idsOf(items []store.Email) []string {
	out := make([]string, len(items))
	for i, e := range items {
		out[i] = e.ID
	}
	return out
}

func TestRecordEmailEvent(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t, "emailevents")
	at := time.Date(2025, 3, 3, 9, 30, 0, 0, time.UTC)
	timeline := func(processID string) []string {
		tl, err := s.Timeline(ctx, processID)
		require.NoError(t, err)
		var out []string
		for _, e := range tl {
			out = append(out, e.Event)
		}
		return out
	}

	sent := newEmail("complaint/cmp_1/ack", "a@example.com", "cmp_1")
	_, err := store.InsertEmail(ctx, s.Pool, sent)
	require.NoError(t, err)
	_, err = store.MarkEmailSent(ctx, s.Pool, sent.ID, "msg-1")
	require.NoError(t, err)

	// Delivered, matched by our key; the same sg_event_id again is skipped.
	ev := store.EmailEvent{EventID: "ev-1", Type: "delivered", Status: store.EmailDelivered,
		IdempotencyKey: sent.IdempotencyKey, ProviderMessageID: "msg-1.filterdrecv-1", At: at}
	fresh, err := s.RecordEmailEvent(ctx, ev)
	require.NoError(t, err)
	assert.True(t, fresh)
	fresh, err = s.RecordEmailEvent(ctx, ev)
	require.NoError(t, err)
	assert.False(t, fresh, "a repeated sg_event_id is applied once")
	got, err := s.EmailByKey(ctx, sent.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, store.EmailDelivered, got.Status)

	// A bounce after the delivery, matched by the provider id alone: audited once.
	bounce := store.EmailEvent{EventID: "ev-2", Type: "bounce", Status: store.EmailBounced,
		ProviderMessageID: "msg-1.filterdrecv-1", Reason: "550 mailbox unavailable", At: at}
	fresh, err = s.RecordEmailEvent(ctx, bounce)
	require.NoError(t, err)
	assert.True(t, fresh)
	bounce.EventID = "ev-3" // the same bounce reported under another id changes nothing more
	_, err = s.RecordEmailEvent(ctx, bounce)
	require.NoError(t, err)
	got, err = s.EmailByKey(ctx, sent.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, store.EmailBounced, got.Status)
	assert.Equal(t, "550 mailbox unavailable", got.Error)
	assert.Equal(t, []string{"email_bounced"}, timeline("cmp_1"))
	tl, err := s.Timeline(ctx, "cmp_1")
	require.NoError(t, err)
	assert.Equal(t, at, tl[0].At)
	assert.Equal(t, "bounce", tl[0].Detail["provider_event"])
	assert.Equal(t, sent.ID, tl[0].Detail["email_id"])

	// A delivery that overtakes the outbox's own update settles the row, so it is not
	// sent again; a failed row is left alone.
	inflight := newEmail("complaint/cmp_2/ack", "b@example.com", "cmp_2")
	_, err = store.InsertEmail(ctx, s.Pool, inflight)
	require.NoError(t, err)
	ok, err := s.ClaimEmail(ctx, inflight.ID, time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = s.RecordEmailEvent(ctx, store.EmailEvent{EventID: "ev-4", Type: "delivered", Status: store.EmailDelivered,
		IdempotencyKey: inflight.IdempotencyKey, ProviderMessageID: "msg-2.filterdrecv-2"})
	require.NoError(t, err)
	got, err = s.EmailByKey(ctx, inflight.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, store.EmailDelivered, got.Status)
	assert.Equal(t, "msg-2", got.ProviderMessageID)
	assert.True(t, got.Settled())
	changed, err := store.MarkEmailSent(ctx, s.Pool, inflight.ID, "msg-2")
	require.NoError(t, err)
	assert.False(t, changed)

	failed := newEmail("complaint/cmp_3/ack", "c@example.com", "cmp_3")
	failed.Status, failed.Error = store.EmailFailed, "status 400: bad address"
	_, err = store.InsertEmail(ctx, s.Pool, failed)
	require.NoError(t, err)
	_, err = s.RecordEmailEvent(ctx, store.EmailEvent{EventID: "ev-5", Type: "dropped", Status: store.EmailBounced,
		IdempotencyKey: failed.IdempotencyKey, Reason: "Invalid"})
	require.NoError(t, err)
	got, err = s.EmailByKey(ctx, failed.IdempotencyKey)
	require.NoError(t, err)
	assert.Equal(t, store.EmailFailed, got.Status)
	assert.Empty(t, timeline("cmp_3"))

	// An event for a message that is not ours is remembered and ignored.
	fresh, err = s.RecordEmailEvent(ctx, store.EmailEvent{EventID: "ev-6", Type: "bounce", Status: store.EmailBounced, ProviderMessageID: "other"})
	require.NoError(t, err)
	assert.True(t, fresh)
	_, err = s.RecordEmailEvent(ctx, store.EmailEvent{EventID: "ev-7", Type: "open", Status: "opened", ProviderMessageID: "msg-1"})
	assert.Error(t, err)
}

// The pipelined enqueue and mark-sent: the enqueue reads back the key's row (the first
// one, when the key was taken); marking sent writes its audit event only when the row
// took this send's message id, and reads the row back.
func TestPipelinedOutboxWrites(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t, "emailpipe")
	pipe := func(queue func(b *pgx.Batch) error) {
		t.Helper()
		require.NoError(t, s.Pipeline(ctx, queue))
	}
	var got store.Email
	e := newEmail("p1", "a@example.com", "CMP-1")
	pipe(func(b *pgx.Batch) error { store.QueueInsertEmail(b, e, &got); return nil })
	assert.Equal(t, e.ID, got.ID)
	pipe(func(b *pgx.Batch) error {
		store.QueueInsertEmail(b, newEmail("p1", "b@example.com", "CMP-2"), &got)
		return nil
	})
	assert.Equal(t, e.ID, got.ID, "a second enqueue of the key returns the first row")
	assert.Equal(t, "a@example.com", got.To)

	audit := func(key string) domain.AuditInput {
		return domain.AuditInput{Key: key, Process: "complaint", ProcessID: "CMP-1", Actor: "system", Event: "email_sent", At: time.Now()}
	}
	audits := func() int {
		var n int
		require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE process_id = 'CMP-1'`).Scan(&n))
		return n
	}
	pipe(func(b *pgx.Batch) error { return store.QueueMarkEmailSent(b, e, "msg-1", audit("email/p1/sent"), &got) })
	assert.Equal(t, store.EmailSent, got.Status)
	assert.Equal(t, "msg-1", got.ProviderMessageID)
	assert.Equal(t, 1, audits())

	// Another attempt's send, recorded late, changes neither the row nor the audit trail.
	pipe(func(b *pgx.Batch) error {
		return store.QueueMarkEmailSent(b, e, "msg-2", audit("email/p1/sent-again"), &got)
	})
	assert.Equal(t, "msg-1", got.ProviderMessageID)
	assert.Equal(t, 1, audits())
}

// Pruning forgets the events received before the cutoff, in batches, and keeps the
// rest: a later repeat of a kept event is still skipped.
func TestPruneEmailEvents(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t, "prune")
	now := time.Now().UTC()
	_, err := s.Pool.Exec(ctx, `INSERT INTO email_events (event_id, event, received_at)
		SELECT 'old-' || i, 'delivered', $1::timestamptz - i * interval '1 minute' FROM generate_series(1, 25) i`,
		now.Add(-8*24*time.Hour))
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO email_events (event_id, event, received_at) VALUES ('new-1', 'delivered', $1)`, now.Add(-time.Hour))
	require.NoError(t, err)

	n, err := s.PruneEmailEvents(ctx, now.Add(-7*24*time.Hour), 10) // three batches: 10, 10, 5
	require.NoError(t, err)
	assert.Equal(t, int64(25), n)
	var left []string
	rows, err := s.Pool.Query(ctx, `SELECT event_id FROM email_events`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		left = append(left, id)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"new-1"}, left)

	fresh, err := s.RecordEmailEvent(ctx, store.EmailEvent{EventID: "new-1", Type: "delivered", Status: store.EmailDelivered})
	require.NoError(t, err)
	assert.False(t, fresh, "a kept event is still applied once")
	n, err = s.PruneEmailEvents(ctx, now.Add(-7*24*time.Hour), 10)
	require.NoError(t, err)
	assert.Zero(t, n)
}

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

func TestInsertAndUpdateComplaint(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	received := time.Date(2025, 3, 1, 17, 0, 0, 0, time.FixedZone("CST", 8*3600))
	in := domain.ComplaintInput{ID: "cmp_1", CustomerID: "cus_1", Channel: "phone", Subject: "Late",
		Description: "Still waiting", Severity: "normal", Category: "delivery", FiledBy: "carol", ReceivedAt: received}
	due := received.Add(24 * time.Hour)
	require.NoError(t, store.InsertComplaint(ctx, s.Pool, in, domain.ComplaintReceived, due))
	in.Subject = "changed"
	require.NoError(t, store.InsertComplaint(ctx, s.Pool, in, domain.ComplaintClosed, due)) // no-op

	read := func() (status, subject string, category, assignee *string, dueAt, updatedAt time.Time) {
		require.NoError(t, s.Pool.QueryRow(ctx, `SELECT status, subject, category, assignee, response_due_at, updated_at
			FROM complaints WHERE id = 'cmp_1'`).Scan(&status, &subject, &category, &assignee, &dueAt, &updatedAt))
		return
	}
	status, subject, category, assignee, dueAt, updatedAt := read()
	assert.Equal(t, "received", status)
	assert.Equal(t, "Late", subject)
	assert.Equal(t, "delivery", *category)
	assert.Nil(t, assignee)
	assert.True(t, dueAt.Equal(due))
	assert.True(t, updatedAt.Equal(received))

	// An empty string clears category; an empty status keeps the status.
	empty, carol := "", "carol"
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	update := func(p domain.ComplaintProjection) error {
		return s.Pipeline(ctx, func(b *pgx.Batch) error { return store.QueueUpdateComplaint(b, p) })
	}
	require.NoError(t, update(domain.ComplaintProjection{ComplaintID: "cmp_1",
		Category: &empty, Assignee: &carol, Audit: domain.AuditInput{At: at}}))
	status, _, category, assignee, _, updatedAt = read()
	assert.Equal(t, "received", status)
	assert.Nil(t, category)
	assert.Equal(t, "carol", *assignee)
	assert.True(t, updatedAt.Equal(at))

	err := update(domain.ComplaintProjection{ComplaintID: "cmp_none", Status: "closed"})
	assert.ErrorIs(t, err, store.ErrNotFound)
}

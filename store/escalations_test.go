package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/store"
)

func TestEnsureEscalationKeepsTheFirst(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	e := store.NewEscalation{ID: "esc_1", WorkflowID: "complaint/cmp_1", Process: "complaint", ProcessID: "cmp_1",
		TaskID: "tsk_1", Step: "respond", Level: 1, Reason: "overdue", Targets: []string{"dave"},
		RaisedAt: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	id, targets, err := store.EnsureEscalation(ctx, s.Pool, e)
	require.NoError(t, err)
	assert.Equal(t, "esc_1", id)
	assert.Equal(t, []string{"dave"}, targets)

	retry := e
	retry.ID, retry.Targets = "esc_2", []string{"carol"}
	id, targets, err = store.EnsureEscalation(ctx, s.Pool, retry)
	require.NoError(t, err)
	assert.Equal(t, "esc_1", id)
	assert.Equal(t, []string{"dave"}, targets)

	level2 := e
	level2.ID, level2.Level, level2.Targets = "esc_3", 2, nil
	id, targets, err = store.EnsureEscalation(ctx, s.Pool, level2)
	require.NoError(t, err)
	assert.Equal(t, "esc_3", id)
	assert.Equal(t, []string{}, targets)

	var n int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM escalations`).Scan(&n))
	assert.Equal(t, 2, n)
}

// An escalation about a deadline without a task (an invoice's dunning ladder): unique per
// workflow, subject and level, listed and acknowledged like a task's.
func TestEscalationWithoutTask(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	raised := time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)
	e := store.NewEscalation{ID: "esc_inv1", WorkflowID: "order/ord_1", Process: "order", ProcessID: "ord_1",
		Subject: "invoice/INV-2026-0001", Step: "payment", Level: 1, Reason: "invoice overdue 14 days",
		Targets: []string{"dave"}, RaisedAt: raised}
	id, targets, err := store.EnsureEscalation(ctx, s.Pool, e)
	require.NoError(t, err)
	assert.Equal(t, "esc_inv1", id)
	assert.Equal(t, []string{"dave"}, targets)

	// A second ensure of the same workflow, subject and level returns the first.
	retry := e
	retry.ID, retry.Targets = "esc_inv2", []string{"carol"}
	id, targets, err = store.EnsureEscalation(ctx, s.Pool, retry)
	require.NoError(t, err)
	assert.Equal(t, "esc_inv1", id)
	assert.Equal(t, []string{"dave"}, targets)

	// Another subject of the same workflow, and a task's escalation at the same level, are
	// escalations of their own.
	other := e
	other.ID, other.Subject = "esc_inv3", "invoice/INV-2026-0002"
	id, _, err = store.EnsureEscalation(ctx, s.Pool, other)
	require.NoError(t, err)
	assert.Equal(t, "esc_inv3", id)
	task := e
	task.ID, task.Subject, task.TaskID = "esc_tsk", "", "tsk_1"
	id, _, err = store.EnsureEscalation(ctx, s.Pool, task)
	require.NoError(t, err)
	assert.Equal(t, "esc_tsk", id)
	var n int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM escalations WHERE task_id IS NULL`).Scan(&n))
	assert.Equal(t, 2, n)

	// A task's escalation must carry the task's subject.
	bad := task
	bad.ID, bad.Subject, bad.Level = "esc_bad", "invoice/INV-2026-0001", 2
	_, _, err = store.EnsureEscalation(ctx, s.Pool, bad)
	require.Error(t, err)

	got, err := s.EscalationByID(ctx, "esc_tsk")
	require.NoError(t, err)
	assert.Equal(t, "task/tsk_1", got.Subject)
	assert.Equal(t, "tsk_1", got.TaskID)

	open, _, err := s.ListEscalations(ctx, store.EscalationFilter{Status: store.EscalationOpen, ProcessID: "ord_1", Target: "dave"})
	require.NoError(t, err)
	require.Len(t, open, 3)
	got = open[0]
	assert.Equal(t, "esc_inv1", got.ID)
	assert.Equal(t, "invoice/INV-2026-0001", got.Subject)
	assert.Equal(t, "", got.TaskID)
	assert.Equal(t, raised, got.RaisedAt)

	at := raised.Add(time.Hour)
	acked, err := s.AcknowledgeEscalation(ctx, "esc_inv1", "dave", "calling the customer", at)
	require.NoError(t, err)
	assert.Equal(t, "dave", acked.AcknowledgedBy)
	assert.Equal(t, "invoice/INV-2026-0001", acked.Subject)
	_, err = s.AcknowledgeEscalation(ctx, "esc_inv1", "dave", "", at)
	assert.ErrorIs(t, err, store.ErrConflict)
	var detail map[string]any
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT detail FROM audit_events
		WHERE event = 'escalation_acknowledged' AND process_id = 'ord_1'`).Scan(&detail))
	assert.Equal(t, "invoice/INV-2026-0001", detail["subject"])
	assert.NotContains(t, detail, "task_id")

	open, _, err = s.ListEscalations(ctx, store.EscalationFilter{Status: store.EscalationOpen, ProcessID: "ord_1"})
	require.NoError(t, err)
	assert.Len(t, open, 2)
	acks, _, err := s.ListEscalations(ctx, store.EscalationFilter{Status: store.EscalationAcknowledged})
	require.NoError(t, err)
	require.Len(t, acks, 1)
	assert.Equal(t, "esc_inv1", acks[0].ID)
}

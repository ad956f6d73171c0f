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

func TestInsertTaskOnceAndSnapshot(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	due := time.Date(2025, 3, 2, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	in := domain.CreateTaskInput{TaskID: "tsk_1", WorkflowID: "complaint/cmp_1", Process: "complaint",
		ProcessID: "cmp_1", Step: "evaluate", Round: 1, Title: "Evaluate", CandidateGroups: []string{"customer_service"},
		DueAt: due, CreatedAt: due.Add(-time.Hour)}

	inserted, err := store.InsertTask(ctx, s.Pool, in, "", "")
	require.NoError(t, err)
	assert.True(t, inserted)
	in.Title = "changed"
	inserted, err = store.InsertTask(ctx, s.Pool, in, "carol", "cathy")
	require.NoError(t, err)
	assert.False(t, inserted)

	got, err := store.GetTaskSnapshot(ctx, s.Pool, "tsk_1")
	require.NoError(t, err)
	assert.Equal(t, store.TaskSnapshot{ID: "tsk_1", WorkflowID: "complaint/cmp_1", Process: "complaint",
		ProcessID: "cmp_1", Step: "evaluate", Round: 1, Title: "Evaluate", CandidateGroups: []string{"customer_service"},
		ExcludeUsers: []string{}, Status: "open", DueAt: due.UTC(), CreatedAt: due.Add(-time.Hour).UTC()}, got)

	// Nil slices and maps are stored empty, never NULL.
	var actions []string
	var form, taskCtx string
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT actions, form::text, context::text FROM tasks WHERE id = 'tsk_1'`).Scan(&actions, &form, &taskCtx))
	assert.Equal(t, []string{}, actions)
	assert.Equal(t, "[]", form)
	assert.Equal(t, "{}", taskCtx)

	_, err = store.GetTaskSnapshot(ctx, s.Pool, "tsk_none")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestCloseTaskOnlyWhenOpen(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	_, err := store.InsertTask(ctx, s.Pool, domain.CreateTaskInput{TaskID: "tsk_2", WorkflowID: "w", Process: "complaint",
		ProcessID: "cmp_1", Step: "respond", Round: 1, Title: "Respond", Actions: []string{"respond"}, DueAt: at, CreatedAt: at}, "carol", "")
	require.NoError(t, err)

	closeTask := func(in domain.CloseTaskInput) {
		t.Helper()
		audit := domain.AuditInput{Key: "task/" + in.TaskID + "/" + in.Status, Process: "complaint", ProcessID: "cmp_1",
			Actor: "carol", Event: "task_" + in.Status, Detail: map[string]any{"task_id": in.TaskID}, At: in.At}
		require.NoError(t, s.Pipeline(ctx, func(b *pgx.Batch) error { return store.QueueCloseTask(b, in, audit) }))
	}
	audits := func() []string {
		t.Helper()
		rows, err := s.Pool.Query(ctx, `SELECT key || ' ' || (detail->>'step') FROM audit_events ORDER BY seq`)
		require.NoError(t, err)
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return keys
	}

	done := domain.CloseTaskInput{TaskID: "tsk_2", Status: domain.TaskCompleted, Actor: "carol", Action: "respond", At: at}
	closeTask(done)
	closeTask(done) // a retry writes nothing more
	assert.Equal(t, []string{"task/tsk_2/completed respond"}, audits())

	// A late cancel neither changes the task nor writes its event.
	closeTask(domain.CloseTaskInput{TaskID: "tsk_2", Status: domain.TaskCancelled, At: at.Add(time.Hour)})
	got, err := store.GetTaskSnapshot(ctx, s.Pool, "tsk_2")
	require.NoError(t, err)
	assert.Equal(t, "completed", got.Status)
	assert.Equal(t, []string{"task/tsk_2/completed respond"}, audits())

	closeTask(domain.CloseTaskInput{TaskID: "tsk_none", Status: domain.TaskCompleted, At: at})
	assert.Len(t, audits(), 1)
}

func TestRaiseTaskEscalationLevelNeverLowers(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	_, err := store.InsertTask(ctx, s.Pool, domain.CreateTaskInput{TaskID: "tsk_3", WorkflowID: "w", Process: "complaint",
		ProcessID: "cmp_1", Step: "respond", Round: 1, Title: "Respond", DueAt: at, CreatedAt: at}, "carol", "")
	require.NoError(t, err)
	require.NoError(t, store.RaiseTaskEscalationLevel(ctx, s.Pool, "tsk_3", 2))
	require.NoError(t, store.RaiseTaskEscalationLevel(ctx, s.Pool, "tsk_3", 1))
	got, err := store.GetTaskSnapshot(ctx, s.Pool, "tsk_3")
	require.NoError(t, err)
	assert.Equal(t, 2, got.EscalationLevel)
}

package store_test

import (
	"context"
	"testing"
	"time"

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

	done := domain.CloseTaskInput{TaskID: "tsk_2", Status: domain.TaskCompleted, Actor: "carol", Action: "respond", At: at}
	step, closed, err := store.CloseTask(ctx, s.Pool, done)
	require.NoError(t, err)
	assert.True(t, closed)
	assert.Equal(t, "respond", step)

	_, closed, err = store.CloseTask(ctx, s.Pool, domain.CloseTaskInput{TaskID: "tsk_2", Status: domain.TaskCancelled, At: at.Add(time.Hour)})
	require.NoError(t, err)
	assert.False(t, closed)
	got, err := store.GetTaskSnapshot(ctx, s.Pool, "tsk_2")
	require.NoError(t, err)
	assert.Equal(t, "completed", got.Status)

	_, closed, err = store.CloseTask(ctx, s.Pool, domain.CloseTaskInput{TaskID: "tsk_none", Status: domain.TaskCompleted, At: at})
	require.NoError(t, err)
	assert.False(t, closed)
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

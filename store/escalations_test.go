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

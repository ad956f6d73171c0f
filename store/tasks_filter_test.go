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

// TestListTasksFilters checks each inbox filter (step, customer tier, escalated, due
// before) alone and together, and that the cursor pages a filtered list.
func TestListTasksFilters(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	_, err := s.Pool.Exec(ctx, `INSERT INTO customers (id, name, email, locale, tier, owner)
		VALUES ('cus_a', 'Alpha', 'a@example.com', 'en', 'A', 'dave')`)
	require.NoError(t, err)
	base := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct{ id, customer string }{{"cmp_a", "cus_a"}, {"cmp_b", "cus_1"}} {
		require.NoError(t, store.InsertComplaint(ctx, s.Pool, domain.ComplaintInput{ID: c.id, CustomerID: c.customer,
			Channel: "phone", Subject: "S", Description: "D", Severity: "normal", FiledBy: "carol", ReceivedAt: base},
			domain.ComplaintReceived, base.Add(24*time.Hour)))
	}
	// tasks: id, case, step, due in hours from base, escalation level
	for _, tk := range []struct {
		id, proc, step string
		due, level     int
	}{
		{"t1", "cmp_a", "evaluate", 1, 0},
		{"t2", "cmp_a", "respond", 2, 1},
		{"t3", "cmp_b", "evaluate", 3, 2},
		{"t4", "cmp_b", "respond", 4, 0},
		{"t5", "cmp_a", "evaluate", 5, 0},
	} {
		_, err := store.InsertTask(ctx, s.Pool, domain.CreateTaskInput{TaskID: tk.id, WorkflowID: "complaint/" + tk.proc,
			Process: "complaint", ProcessID: tk.proc, Step: tk.step, Round: 1, Title: tk.id,
			CandidateGroups: []string{"customer_service"}, DueAt: base.Add(time.Duration(tk.due) * time.Hour),
			CreatedAt: base}, "", "")
		require.NoError(t, err)
		_, err = s.Pool.Exec(ctx, `UPDATE tasks SET escalation_level = $2 WHERE id = $1`, tk.id, tk.level)
		require.NoError(t, err)
	}
	ids := func(f store.TaskFilter) []string {
		t.Helper()
		f.Scope, f.User, f.Groups = store.ScopeGroup, "carol", []string{"customer_service"}
		var out []string
		for {
			page, next, err := s.ListTasks(ctx, f)
			require.NoError(t, err)
			for _, tk := range page {
				out = append(out, tk.ID)
			}
			if next == "" {
				return out
			}
			f.Cursor = next
		}
	}
	yes, no := true, false
	assert.Equal(t, []string{"t1", "t2", "t3", "t4", "t5"}, ids(store.TaskFilter{}))
	assert.Equal(t, []string{"t1", "t3", "t5"}, ids(store.TaskFilter{Step: "evaluate"}), "step")
	assert.Equal(t, []string{"t1", "t2", "t5"}, ids(store.TaskFilter{Tier: "A"}), "tier A")
	assert.Equal(t, []string{"t3", "t4"}, ids(store.TaskFilter{Tier: "B"}), "tier B")
	assert.Empty(t, ids(store.TaskFilter{Tier: "C"}), "tier C")
	assert.Equal(t, []string{"t2", "t3"}, ids(store.TaskFilter{Escalated: &yes}), "escalated")
	assert.Equal(t, []string{"t1", "t4", "t5"}, ids(store.TaskFilter{Escalated: &no}), "not escalated")
	assert.Equal(t, []string{"t1", "t2"}, ids(store.TaskFilter{DueBefore: base.Add(3 * time.Hour)}), "due before")
	assert.Equal(t, []string{"t1", "t5"}, ids(store.TaskFilter{Step: "evaluate", Tier: "A", Escalated: &no}), "together")
	// Paged one by one, a filtered list gives the same tasks in the same order.
	assert.Equal(t, []string{"t1", "t5"}, ids(store.TaskFilter{Step: "evaluate", Tier: "A", Limit: 1}), "paged")
	// The mine and all scopes take the filters too.
	all, _, err := s.ListTasks(ctx, store.TaskFilter{Scope: store.ScopeAll, Step: "respond", Escalated: &yes})
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, "t2", all[0].ID)
}

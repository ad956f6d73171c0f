package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

const tasksWorkflowID = "test/p1"

// tasksRun is what the test workflow reports.
type tasksRun struct {
	Outcomes    []TaskOutcome
	Level       int
	Escalations []Escalation
}

// tasksHarness runs RunAll in a bare workflow, then waits a day (a waiting point) so
// that late completions can be tried.
type tasksHarness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	f   *fakes
	n   int
}

func newTasksHarness(t *testing.T, specs []TaskSpec, stop func(TaskOutcome) bool) *tasksHarness {
	env, f := newTestEnv(tasksWorkflowID)
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (tasksRun, error) {
		var run tasksRun
		status := "running"
		h, err := NewTasks(ctx, TasksConfig{
			WorkflowID: tasksWorkflowID, Process: "test", ProcessID: "p1",
			StatusFn:     func() string { return status },
			OnEscalation: func(_ workflow.Context, e Escalation) { run.Escalations = append(run.Escalations, e) },
		})
		if err != nil {
			return run, err
		}
		if run.Outcomes, err = h.RunAll(ctx, specs, stop); err != nil {
			return run, err
		}
		run.Level = h.EscalationLevel()
		status = "after"
		if _, err := h.AwaitWithTimeout(ctx, day, func() bool { return false }); err != nil {
			return run, err
		}
		status = "done"
		return run, h.Finish(ctx)
	}, workflow.RegisterOptions{Name: "tasks"})
	return &tasksHarness{t: t, env: env, f: f}
}

func (h *tasksHarness) complete(key, action, actor string, data map[string]any) *updateResult {
	h.n++
	u := &updateResult{}
	h.env.UpdateWorkflow(domain.UpdateCompleteTask, fmt.Sprintf("u%d", h.n), u.callbacks(), domain.CompleteTaskRequest{
		TaskID: domain.TaskID(tasksWorkflowID, "countersign", 1, key), Action: action, Actor: actor, Data: data,
	})
	return u
}

func (h *tasksHarness) run() tasksRun {
	h.t.Helper()
	h.env.ExecuteWorkflow("tasks")
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var run tasksRun
	require.NoError(h.t, h.env.GetWorkflowResult(&run))
	return run
}

func countersigns(keys ...string) []TaskSpec {
	var specs []TaskSpec
	for _, k := range keys {
		specs = append(specs, TaskSpec{
			Step: "countersign", Round: 1, Key: k, Title: "Countersign " + k,
			CandidateGroups: []string{k}, Actions: []string{ActionApprove, ActionReject},
			WindowStart: t0, DueAt: t0.Add(48 * hour), Reminders: []float64{0.5},
			Ladder: []domain.EscalationRung{{Level: 1, TargetAssigneeManager: true, TargetRole: domain.RoleGeneralManager}},
		})
	}
	return specs
}

func isReject(o TaskOutcome) bool { return o.Action == ActionReject }

func TestRunAllStopsOnFirstRejection(t *testing.T) {
	h := newTasksHarness(t, countersigns("production", "quality", "finance"), isReject)
	var rej, concurrent, late *updateResult
	h.env.RegisterDelayedCallback(func() {
		rej = h.complete("production", ActionReject, "grace", nil)
		concurrent = h.complete("quality", ActionApprove, "frank", nil) // accepted before the stop
	}, hour)
	h.env.RegisterDelayedCallback(func() { late = h.complete("finance", ActionApprove, "erin", nil) }, 2*hour)

	run := h.run()
	require.Len(t, run.Outcomes, 3)
	o := run.Outcomes
	assert.Equal(t, []string{domain.TaskCompleted, domain.TaskCompleted, domain.TaskCancelled},
		[]string{o[0].Status, o[1].Status, o[2].Status})
	assert.Equal(t, ActionReject, o[0].Action)
	assert.Equal(t, "grace", o[0].Actor)
	assert.Equal(t, ActionApprove, o[1].Action, "a completion accepted before the stop is honoured")
	assert.Equal(t, "", o[2].Actor)

	// Both accepted updates answer once the workflow waits again, with its status then.
	assert.Equal(t, "after", rej.response(t).ProcessStatus)
	assert.Equal(t, "after", concurrent.response(t).ProcessStatus)
	late.rejectedWith(t, domain.ErrTypeTaskClosed)

	var closed []string
	for _, c := range h.f.of(domain.ActCloseTask) {
		in := c.In.(domain.CloseTaskInput)
		closed = append(closed, in.Status+"/"+in.Actor)
		assert.Equal(t, t0.Add(hour), c.At)
	}
	assert.Equal(t, []string{"completed/grace", "completed/frank", "cancelled/system"}, closed)
	// The cancelled task's SLA timers were cancelled too.
	assert.Empty(t, h.f.of(domain.ActSendReminder))
	assert.Empty(t, h.f.of(domain.ActRaiseEscalation))
}

func TestRunAllWaitsForAllInSpecOrder(t *testing.T) {
	h := newTasksHarness(t, countersigns("production", "quality", "finance"), isReject)
	var first *updateResult
	for i, k := range []string{"finance", "production", "quality"} {
		h.env.RegisterDelayedCallback(func() {
			u := h.complete(k, ActionApprove, "u-"+k, map[string]any{})
			if i == 0 {
				first = u
			}
		}, time.Duration(i+1)*hour)
	}
	run := h.run()
	require.Len(t, run.Outcomes, 3)
	for i, k := range []string{"production", "quality", "finance"} {
		assert.Equal(t, k, run.Outcomes[i].Key)
		assert.Equal(t, "u-"+k, run.Outcomes[i].Actor)
		assert.Equal(t, domain.TaskCompleted, run.Outcomes[i].Status)
	}
	assert.Equal(t, t0.Add(hour), run.Outcomes[2].At.UTC())
	assert.Equal(t, "running", first.response(t).ProcessStatus, "two tasks were still open")
	assert.Len(t, h.f.of(domain.ActCreateTask), 3)
}

func TestRunOverdueTaskEscalatesInOrderAndFollowsDelegation(t *testing.T) {
	spec := TaskSpec{
		Step: "countersign", Round: 1, Title: "Late", Assignee: "carol", Actions: []string{ActionApprove},
		WindowStart: t0.Add(-10 * hour), DueAt: t0.Add(-hour), Reminders: []float64{0.5, 0.8},
		Ladder: []domain.EscalationRung{
			{Level: 1, TargetAssigneeManager: true},
			{Level: 2, After: 30 * time.Minute, TargetRole: domain.RoleServiceManager},
			{Level: 3, After: 2 * hour, TargetRole: domain.RoleGeneralManager},
		},
		Validate: func(_ string, data map[string]any) []domain.FieldError {
			if data["ok"] != true {
				return []domain.FieldError{{Field: "ok", Message: "must be true"}}
			}
			return nil
		},
		Form: []domain.FormField{{Name: "ok", Type: "boolean"}},
	}
	h := newTasksHarness(t, []TaskSpec{spec}, nil)
	h.f.delegates["carol"] = "cathy"
	var bad, good *updateResult
	h.env.RegisterDelayedCallback(func() {
		bad = h.complete("", ActionApprove, "cathy", map[string]any{"ok": false})
		good = h.complete("", ActionApprove, "cathy", map[string]any{"ok": true})
	}, 3*hour)

	run := h.run()
	assert.Equal(t, []string{"ok"}, fieldNames(t, bad.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, "after", good.response(t).ProcessStatus)

	esc := h.f.of(domain.ActRaiseEscalation)
	assert.Equal(t, []time.Duration{0, 0, hour}, times(esc), "past rungs fire at once, the rest on time")
	var levels []int
	for _, c := range esc {
		levels = append(levels, c.In.(domain.EscalationInput).Rung.Level)
	}
	assert.Equal(t, []int{1, 2, 3}, levels)
	assert.Empty(t, h.f.of(domain.ActSendReminder), "reminders in the past are skipped")

	require.Len(t, run.Outcomes, 1)
	assert.Equal(t, "cathy", run.Outcomes[0].Assignee)
	assert.Equal(t, 3, run.Outcomes[0].EscalationLevel)
	assert.Equal(t, 3, run.Level)
	require.Len(t, run.Escalations, 3)
	assert.Equal(t, "esc_countersign_3", run.Escalations[2].EscalationID)
}

func TestValidateForm(t *testing.T) {
	form := []domain.FormField{
		{Name: "kind", Type: "enum", Required: true, Options: []string{"a", "b"}},
		{Name: "note", Type: "text"},
		{Name: "count", Type: "integer"},
		{Name: "items", Type: "list"},
		{Name: "price", Type: "money"},
		{Name: "reason", Type: "string", Required: true, Actions: []string{ActionReject}},
	}
	for _, tc := range []struct {
		name   string
		action string
		data   map[string]any
		want   []string
	}{
		{"valid", ActionApprove, map[string]any{"kind": "a", "note": "", "count": float64(3), "items": []any{"x"},
			"price": map[string]any{"amount": "1.50", "currency": "EUR"}}, nil},
		{"missing and blank", ActionReject, map[string]any{"reason": "  "}, []string{"kind", "reason"}},
		{"wrong types", ActionApprove, map[string]any{"kind": "c", "note": 5, "count": 1.5, "items": "x",
			"price": map[string]any{"amount": "-1", "currency": "EUR"}}, []string{"kind", "note", "count", "items", "price"}},
		{"money with extra keys", ActionApprove, map[string]any{"kind": "a",
			"price": map[string]any{"amount": "1", "currency": "EUR", "x": 1}}, []string{"price"}},
		{"field of another action, unknown field", ActionApprove, map[string]any{"kind": "b", "reason": "r", "zzz": 1},
			[]string{"reason", "zzz"}},
		{"null counts as absent", ActionApprove, map[string]any{"kind": "a", "price": nil}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range ValidateForm(form, tc.action, tc.data) {
				got = append(got, e.Field)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// A person may act on a task as soon as its row is visible, which is before CreateTask
// has returned (it commits the row, then sends the notices). Such a completion is
// accepted, the task closes once created, and no SLA timer runs for it.
func TestCompletionWhileTheTaskIsBeingCreated(t *testing.T) {
	h := newTasksHarness(t, countersigns("quality"), nil)
	u := &updateResult{}
	accepted := make(chan struct{})
	h.f.route = func(in domain.CreateTaskInput) domain.CreateTaskResult {
		// The row is committed; frank approves before CreateTask has returned.
		cb := u.callbacks()
		onAccept := cb.OnAccept
		cb.OnAccept = func() { onAccept(); close(accepted) }
		h.env.UpdateWorkflow(domain.UpdateCompleteTask, "early", cb, domain.CompleteTaskRequest{
			TaskID: in.TaskID, Action: ActionApprove, Actor: "frank",
		})
		select {
		case <-accepted:
		case <-time.After(2 * time.Second):
			t.Error("the completion was not accepted while CreateTask ran")
		}
		return domain.CreateTaskResult{TaskID: in.TaskID}
	}
	run := h.run()
	require.Len(t, run.Outcomes, 1)
	assert.Equal(t, "frank", run.Outcomes[0].Actor)
	assert.Equal(t, domain.TaskCompleted, run.Outcomes[0].Status)
	assert.Empty(t, h.f.of(domain.ActSendReminder), "no reminder for a task completed at once")
	require.Len(t, h.f.of(domain.ActCloseTask), 1)
	assert.Equal(t, "frank", h.f.of(domain.ActCloseTask)[0].In.(domain.CloseTaskInput).Actor)
	assert.Equal(t, domain.TaskID(tasksWorkflowID, "countersign", 1, "quality"), u.response(t).TaskID)
}

// A reminder that fell due while the previous one was still being retried (an outage)
// is sent late rather than dropped, as long as the task is not yet overdue.
func TestLateReminderIsSentAfterAnOutage(t *testing.T) {
	spec := countersigns("quality")
	spec[0].DueAt = t0.Add(10 * time.Minute)
	spec[0].Reminders = []float64{0.5, 0.8}
	h := newTasksHarness(t, spec, nil)
	outageEnds := t0.Add(9 * time.Minute) // reminder 1 (at 5 min) fails until then
	h.f.failReminder = func(in domain.ReminderInput, now time.Time) error {
		if in.N == 1 && now.Before(outageEnds) {
			return fmt.Errorf("database unavailable")
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() { h.complete("quality", ActionApprove, "frank", nil) }, 9*time.Minute+30*time.Second)
	h.run()
	reminders := h.f.of(domain.ActSendReminder)
	require.Len(t, reminders, 2, "reminder 2 (due at 8 min, during the outage) must not be dropped")
	assert.Equal(t, 1, reminders[0].In.(domain.ReminderInput).N)
	assert.Equal(t, 2, reminders[1].In.(domain.ReminderInput).N)
	assert.False(t, reminders[1].At.Before(outageEnds), "reminder 2 goes out after the outage")
	assert.True(t, reminders[1].At.Before(t0.Add(9*time.Minute+30*time.Second)))
}

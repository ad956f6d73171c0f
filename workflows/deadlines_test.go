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

const (
	dunningWorkflowID = "order/ord_test"
	invoiceSubject    = "invoice/INV-2026-0001"
	signalPaid        = "paid"
)

// dunningInput configures the test workflow: an invoice due at DueAt, reminders at
// these offsets from it, and a ladder.
type dunningInput struct {
	DueAt     time.Time
	Reminders []time.Duration
	Ladder    []domain.EscalationRung
	// ReminderTakes: each reminder returns this long after its e-mail (a mail outage
	// retried), so later steps fall due meanwhile.
	ReminderTakes time.Duration
}

// dunningRun is what the test workflow reports.
type dunningRun struct {
	Reminders   []DeadlineReminder
	Escalations []Escalation
	PaidAt      time.Time
}

// dunningWorkflow holds an invoice's due date as a Deadline with no task, as the order
// process will (DOMAIN.md 2.9): each reminder e-mails the customer. A "paid" signal stops
// the deadline; either way it waits until 60 days past due, so that a rung still pending
// would have fired.
func dunningWorkflow(ctx workflow.Context, in dunningInput) (dunningRun, error) {
	var run dunningRun
	paid := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, signalPaid).Receive(ctx, nil)
		paid, run.PaidAt = true, utcNow(ctx)
	})
	var reminders []Reminder
	for _, d := range in.Reminders {
		reminders = append(reminders, FromDue(d))
	}
	stop := StartDeadline(ctx, Deadline{
		WorkflowID: dunningWorkflowID, Process: "order", ProcessID: "ord_test",
		Subject: invoiceSubject, Title: "Invoice INV-2026-0001", Step: "payment",
		WindowStart: utcNow(ctx), DueAt: in.DueAt, Reminders: reminders, Ladder: in.Ladder,
		OnReminder: func(ctx workflow.Context, r DeadlineReminder) {
			run.Reminders = append(run.Reminders, r)
			_ = execute(ctx, domain.ActSendEmail, domain.SendEmailInput{
				IdempotencyKey: fmt.Sprintf("%s/%s/reminder/%d", dunningWorkflowID, invoiceSubject, r.N),
				To:             domain.EmailRecipient{Email: "ap@acme.test"}, Locale: "en", Template: "payment_reminder",
				Data: map[string]any{"due_at": r.DueAt}, Process: "order", ProcessID: "ord_test", WorkflowID: dunningWorkflowID,
			}, nil)
			if in.ReminderTakes > 0 {
				_ = workflow.Sleep(ctx, in.ReminderTakes)
			}
		},
		OnEscalation: func(_ workflow.Context, e Escalation) { run.Escalations = append(run.Escalations, e) },
	})
	end := in.DueAt.Add(60 * day)
	if _, err := workflow.AwaitWithTimeout(ctx, end.Sub(utcNow(ctx)), func() bool { return paid }); err != nil {
		return run, err
	}
	if err := stop(ctx); err != nil {
		return run, err
	}
	if d := end.Sub(utcNow(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return run, err
		}
	}
	return run, nil
}

// dunning is the policy of DOMAIN.md 2.9.
func dunning(due time.Time) dunningInput {
	return dunningInput{
		DueAt:     due,
		Reminders: []time.Duration{-3 * day, 0, 7 * day},
		Ladder: []domain.EscalationRung{
			{Level: 1, After: 14 * day, TargetRole: domain.RoleSalesManager},
			{Level: 2, After: 30 * day, TargetRole: domain.RoleGeneralManager},
		},
	}
}

// runDunning runs the test workflow, paying the invoice paidAfter t0 (0: never).
func runDunning(t *testing.T, in dunningInput, paidAfter time.Duration) (dunningRun, *fakes) {
	t.Helper()
	env, f := newTestEnv(dunningWorkflowID)
	env.RegisterWorkflowWithOptions(dunningWorkflow, workflow.RegisterOptions{Name: "dunning"})
	if paidAfter > 0 {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(signalPaid, nil) }, paidAfter)
	}
	env.ExecuteWorkflow("dunning", in)
	return dunningResult(t, env), f
}

func dunningResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) dunningRun {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var run dunningRun
	require.NoError(t, env.GetWorkflowResult(&run))
	return run
}

func TestDeadlineWithoutTaskRemindsAndEscalates(t *testing.T) {
	due := t0.Add(10 * day)
	run, f := runDunning(t, dunning(due), 0)

	// Reminders to the customer 3 days before the due date, on it and 7 days after.
	assert.Equal(t, []time.Duration{7 * day, 10 * day, 17 * day}, times(f.of(domain.ActSendEmail)))
	require.Len(t, run.Reminders, 3)
	for i, r := range run.Reminders {
		assert.Equal(t, i+1, r.N)
		assert.Equal(t, due, r.DueAt.UTC())
	}
	assert.Equal(t, due.Add(7*day), run.Reminders[2].At.UTC())
	assert.Empty(t, f.of(domain.ActSendReminder), "no task, no task reminder")

	// Escalations 14 days overdue to the sales manager, 30 days to the general manager,
	// about the invoice, with no task.
	esc := f.of(domain.ActRaiseEscalation)
	assert.Equal(t, []time.Duration{24 * day, 40 * day}, times(esc))
	require.Len(t, esc, 2)
	for i, c := range esc {
		in := c.In.(domain.EscalationInput)
		assert.Equal(t, dunningWorkflowID, in.WorkflowID)
		assert.Equal(t, invoiceSubject, in.Subject)
		assert.Equal(t, "Invoice INV-2026-0001", in.Title)
		assert.Equal(t, "", in.TaskID)
		assert.Equal(t, i+1, in.Rung.Level)
		assert.Equal(t, due, in.DueAt.UTC())
		assert.Equal(t, c.At, in.At.UTC())
		assert.Equal(t, `"Invoice INV-2026-0001" is overdue since 2025-03-13T09:00:00Z`, in.Reason)
	}
	assert.Equal(t, domain.RoleSalesManager, esc[0].In.(domain.EscalationInput).Rung.TargetRole)
	assert.Equal(t, domain.RoleGeneralManager, esc[1].In.(domain.EscalationInput).Rung.TargetRole)

	require.Len(t, run.Escalations, 2)
	e := run.Escalations[0]
	assert.Equal(t, invoiceSubject, e.Subject)
	assert.Equal(t, "", e.TaskID)
	assert.Equal(t, 1, e.Level)
	assert.Equal(t, "esc_payment_1", e.EscalationID)
	assert.Equal(t, []string{string(domain.RoleSalesManager)}, e.Targets)
	assert.Equal(t, due.Add(14*day), e.At.UTC())
	assert.Equal(t, 2, run.Escalations[1].Level)
}

func TestDeadlineStopPreventsLaterSteps(t *testing.T) {
	due := t0.Add(10 * day)
	for _, tc := range []struct {
		name        string
		paid        time.Duration // after t0
		reminders   []time.Duration
		escalations []time.Duration
	}{
		{"before the first reminder", 6 * day, []time.Duration{}, []time.Duration{}},
		{"a second before the due date", 10*day - time.Second, []time.Duration{7 * day}, []time.Duration{}},
		{"between the reminders and the ladder", 20 * day, []time.Duration{7 * day, 10 * day, 17 * day}, []time.Duration{}},
		{"a second before level 1", 24*day - time.Second, []time.Duration{7 * day, 10 * day, 17 * day}, []time.Duration{}},
		{"between the rungs", 30 * day, []time.Duration{7 * day, 10 * day, 17 * day}, []time.Duration{24 * day}},
		{"a second before level 2", 40*day - time.Second, []time.Duration{7 * day, 10 * day, 17 * day}, []time.Duration{24 * day}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, f := runDunning(t, dunning(due), tc.paid)
			assert.Equal(t, t0.Add(tc.paid), run.PaidAt.UTC())
			assert.Equal(t, tc.reminders, times(f.of(domain.ActSendEmail)))
			assert.Equal(t, tc.escalations, times(f.of(domain.ActRaiseEscalation)))
			assert.Len(t, run.Escalations, len(tc.escalations))
		})
	}
}

// A deadline started less than 3 days before it is due skips the reminder already past;
// a rung already past when it starts fires at once.
func TestDeadlineStartedLate(t *testing.T) {
	run, f := runDunning(t, dunning(t0.Add(2*day)), 0)
	assert.Equal(t, []time.Duration{2 * day, 9 * day}, times(f.of(domain.ActSendEmail)))
	require.Len(t, run.Reminders, 2)
	assert.Equal(t, []int{2, 3}, []int{run.Reminders[0].N, run.Reminders[1].N})

	run, f = runDunning(t, dunning(t0.Add(-20*day)), 0)
	assert.Empty(t, run.Reminders)
	assert.Equal(t, []time.Duration{0, 10 * day}, times(f.of(domain.ActRaiseEscalation)))
}

// Reminders and rungs run in time order, whichever list they come from: a rung at the due
// time comes before a reminder a week after it, and a reminder and a rung at the same time
// remind first.
func TestDeadlineStepsInTimeOrder(t *testing.T) {
	due := t0.Add(10 * day)
	in := dunningInput{
		DueAt:     due,
		Reminders: []time.Duration{7 * day, 0},
		Ladder: []domain.EscalationRung{
			{Level: 1, TargetUser: "bob"},
			{Level: 2, After: 7 * day, TargetRole: domain.RoleGeneralManager},
		},
	}
	run, f := runDunning(t, in, 0)
	var got []string
	for _, c := range f.calls {
		switch in := c.In.(type) {
		case domain.SendEmailInput:
			got = append(got, fmt.Sprintf("%v reminder %s", c.At.Sub(due), in.IdempotencyKey[len(in.IdempotencyKey)-1:]))
		case domain.EscalationInput:
			got = append(got, fmt.Sprintf("%v level %d", c.At.Sub(due), in.Rung.Level))
		}
	}
	assert.Equal(t, []string{"0s reminder 2", "0s level 1", "168h0m0s reminder 1", "168h0m0s level 2"}, got)
	require.Len(t, run.Escalations, 2)
}

// A reminder that falls due while an earlier one is still under way is sent late, unless
// the escalation speaks instead: the reminder on the due date once the date has passed,
// the one 7 days after once 14 days (level 1) have.
func TestDeadlineLateReminders(t *testing.T) {
	due := t0.Add(10 * day)
	for _, tc := range []struct {
		name        string
		takes       time.Duration
		reminders   []time.Duration
		escalations []time.Duration
	}{
		// The first returns 9 days past due: the second is skipped, the third sent late.
		{"before level 1", 12 * day, []time.Duration{7 * day, 19 * day}, []time.Duration{31 * day, 40 * day}},
		// The first returns 17 days past due: level 1 speaks at once instead.
		{"after level 1", 20 * day, []time.Duration{7 * day}, []time.Duration{27 * day, 40 * day}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := dunning(due)
			in.ReminderTakes = tc.takes
			_, f := runDunning(t, in, 0)
			assert.Equal(t, tc.reminders, times(f.of(domain.ActSendEmail)))
			assert.Equal(t, tc.escalations, times(f.of(domain.ActRaiseEscalation)))
		})
	}
}

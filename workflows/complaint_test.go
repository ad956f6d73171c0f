package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

const (
	hour = time.Hour
	day  = 24 * time.Hour
)

var (
	evalNormal = map[string]any{"category": "product", "severity": "normal"}
	respondMsg = map[string]any{"message": "We are looking into it and will call you tomorrow."}
	explain    = map[string]any{"resolution_type": "explanation", "summary": "Installed upside down"}
)

func compensation(amount, currency string) map[string]any {
	return map[string]any{
		"resolution_type": "compensation", "summary": "Goodwill payment",
		"amount": map[string]any{"amount": amount, "currency": currency},
	}
}

// handle scripts evaluate at 1h and respond at 2h, both by carol.
func (h *harness) evaluateAndRespond() (ev, rs *updateResult) {
	ev = h.complete(1*hour, domain.StepEvaluate, 1, "", ActionAccept, "carol", evalNormal)
	rs = h.complete(2*hour, domain.StepRespond, 1, "", ActionRespond, "carol", respondMsg)
	return ev, rs
}

func TestComplaintOnTimeNoEscalation(t *testing.T) {
	h := newHarness(t, nil)
	ev, rs := h.evaluateAndRespond()
	rv := h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	fb := h.feedback(4*hour, 5, "Thanks")

	st, err := h.run()
	require.NoError(t, err)

	assert.Equal(t, domain.ComplaintResponding, ev.response(t).ProcessStatus)
	assert.Equal(t, taskID(domain.StepEvaluate, 1, ""), ev.response(t).TaskID)
	assert.Equal(t, domain.ComplaintResolving, rs.response(t).ProcessStatus)
	assert.Equal(t, domain.ComplaintFollowingUp, rv.response(t).ProcessStatus)
	require.True(t, fb.done, "feedback update did not complete")
	require.NoError(t, fb.err)
	assert.Equal(t, domain.ComplaintClosed, fb.processStatus(t))

	assert.Equal(t, domain.ComplaintClosed, st.Status)
	assert.Equal(t, "carol", st.Owner)
	assert.Equal(t, "product", st.Category)
	assert.Equal(t, t0.Add(24*hour), st.ResponseDueAt)
	require.NotNil(t, st.RespondedAt)
	assert.Equal(t, t0.Add(2*hour), *st.RespondedAt)
	assert.Equal(t, 0, st.EscalationLevel)
	assert.Empty(t, st.OpenTasks)

	assert.Empty(t, h.f.of(domain.ActSendReminder))
	assert.Empty(t, h.escalations())
	assert.Equal(t, []string{
		"received:received", "acknowledged:evaluating", "evaluated:responding", "responded:resolving",
		"resolved:following_up", "feedback_requested:following_up", "feedback_received:following_up", "closed:closed",
	}, h.statuses())
	assert.Equal(t, []string{domain.TmplComplaintAck, domain.TmplComplaintResponse, domain.TmplComplaintResolution}, h.templates())

	// The ack goes out at once with a deterministic key; the response carries the message.
	emails := h.emails()
	assert.Equal(t, t0, emails[0].At)
	assert.Equal(t, testWorkflowID+"/ack", emails[0].In.(domain.SendEmailInput).IdempotencyKey)
	assert.Equal(t, "buyer@acme.test", emails[0].In.(domain.SendEmailInput).To.Email)
	assert.Equal(t, respondMsg["message"], emails[1].In.(domain.SendEmailInput).Data["message"])

	received, _ := h.projection("received")
	require.NotNil(t, received.Input)
	assert.Equal(t, t0.Add(24*hour), *received.ResponseDueAt)
	evaluated, _ := h.projection("evaluated")
	assert.Equal(t, "carol", *evaluated.Assignee)
	assert.Equal(t, "carol", evaluated.Audit.Actor)

	// Audit keys are unique.
	keys := map[string]bool{}
	for _, c := range h.f.of(domain.ActProjectComplaint) {
		k := c.In.(domain.ComplaintProjection).Audit.Key
		assert.False(t, keys[k], "duplicate audit key %s", k)
		keys[k] = true
	}

	tasks := h.createdTasks()
	require.Len(t, tasks, 3)
	assert.Equal(t, []string{"customer_service"}, tasks[0].CandidateGroups)
	assert.Equal(t, []string{ActionAccept}, tasks[0].Actions)
	assert.Equal(t, t0.Add(24*hour), tasks[0].DueAt)
	assert.Equal(t, "carol", tasks[1].Assignee)
	assert.Equal(t, t0.Add(24*hour), tasks[1].DueAt)
	assert.Equal(t, t0.Add(2*hour+72*hour), tasks[2].DueAt, "resolve window starts when the task does")

	closes := h.f.of(domain.ActCloseTask)
	require.Len(t, closes, 3)
	for _, c := range closes {
		in := c.In.(domain.CloseTaskInput)
		assert.Equal(t, domain.TaskCompleted, in.Status)
		assert.Equal(t, "carol", in.Actor)
	}
	assert.Empty(t, h.f.of(domain.ActRecordAudit), "CloseTask records the task audit itself")
}

func TestComplaintNoResponseRemindsAndEscalates(t *testing.T) {
	h := newHarness(t, nil)
	h.at(48*hour, func() { h.env.CancelWorkflow() })

	_, err := h.run()
	require.Error(t, err)
	assert.True(t, temporal.IsCanceledError(err), "got %v", err)

	assert.Equal(t, []time.Duration{12 * hour, 19*hour + 12*time.Minute}, times(h.f.of(domain.ActSendReminder)))
	esc := h.f.of(domain.ActRaiseEscalation)
	assert.Equal(t, []time.Duration{24 * hour, 36 * hour}, times(esc))
	require.Len(t, esc, 2)
	for i, want := range []domain.Role{domain.RoleServiceManager, domain.RoleGeneralManager} {
		in := esc[i].In.(domain.EscalationInput)
		assert.Equal(t, i+1, in.Rung.Level)
		assert.Equal(t, want, in.Rung.TargetRole)
		assert.Equal(t, domain.StepEvaluate, in.Step)
		assert.Equal(t, t0.Add(24*hour), in.DueAt)
	}

	// Each escalation is projected onto the complaint with its level, when it is raised.
	var levels []int
	var at []time.Duration
	for _, c := range h.f.of(domain.ActProjectComplaint) {
		// A projection only: RaiseEscalation wrote the audit event.
		if p := c.In.(domain.ComplaintProjection); p.EscalationLevel != nil {
			assert.Empty(t, p.Audit.Key)
			levels = append(levels, *p.EscalationLevel)
			at = append(at, c.At.Sub(t0))
			assert.Equal(t, domain.ComplaintEvaluating, p.Status)
		}
	}
	assert.Equal(t, []int{1, 2}, levels)
	assert.Equal(t, []time.Duration{24 * hour, 36 * hour}, at)

	// Cancelling the workflow cancels the open task.
	closes := h.f.of(domain.ActCloseTask)
	require.Len(t, closes, 1)
	assert.Equal(t, domain.TaskCancelled, closes[0].In.(domain.CloseTaskInput).Status)
}

// The complete-task Update answers only once the step's writes are done: whoever reads
// the complaint or the inbox next sees the decision and the next task.
func TestCompleteTaskAnswersAfterItsWrites(t *testing.T) {
	h := newHarness(t, nil)
	var closed, projected, created []string
	h.at(hour, func() {
		h.env.UpdateWorkflow(domain.UpdateCompleteTask, "u1", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("rejected: %v", err) },
			OnComplete: func(_ any, err error) {
				require.NoError(t, err)
				for _, c := range h.f.of(domain.ActCloseTask) {
					closed = append(closed, c.In.(domain.CloseTaskInput).TaskID)
				}
				projected = h.statuses()
				for _, in := range h.createdTasks() {
					created = append(created, in.Step)
				}
			},
		}, completeRequest(domain.StepEvaluate, 1, "", ActionAccept, "carol", map[string]any{"category": "delivery", "severity": "normal"}))
	})
	h.at(2*hour, func() { h.env.CancelWorkflow() })
	_, err := h.run()
	require.True(t, temporal.IsCanceledError(err), "got %v", err)

	assert.Equal(t, []string{taskID(domain.StepEvaluate, 1, "")}, closed)
	assert.Equal(t, []string{"received:received", "acknowledged:evaluating", "evaluated:responding"}, projected)
	assert.Equal(t, []string{domain.StepEvaluate, domain.StepRespond}, created)
}

// Submitting feedback answers once what it caused is written (here, up to the end).
func TestFeedbackAnswersAfterItsWrites(t *testing.T) {
	h := newHarness(t, nil)
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	var projected []string
	var recorded []call
	h.at(4*hour, func() {
		h.env.UpdateWorkflow(domain.UpdateLinkAnswer, "fb", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("rejected: %v", err) },
			OnComplete: func(_ any, err error) {
				require.NoError(t, err)
				projected = h.statuses()
				recorded = h.f.of(domain.ActRecordLinkAnswer)
			},
		}, feedbackAnswer(1, map[string]any{"score": 5, "comment": "Thanks"}))
	})
	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintClosed, st.Status)
	assert.Equal(t, h.statuses(), projected)
	require.GreaterOrEqual(t, len(projected), 2)
	assert.Equal(t, []string{"feedback_received:following_up", "closed:closed"}, projected[len(projected)-2:])
	require.Len(t, recorded, 1, "the answer was not stored before the Update returned")
	rec := recorded[0].In.(domain.RecordLinkAnswerInput)
	assert.Equal(t, domain.LinkID(testWorkflowID+"/feedback/1"), rec.LinkID)
	assert.Equal(t, t0.Add(4*hour), rec.At)
	assert.Equal(t, float64(5), rec.Answer["score"])
}

// A run from before customer links takes its feedback through submit-feedback, and
// answers once what it caused is written.
func TestLegacyFeedbackAnswersAfterItsWrites(t *testing.T) {
	h := newHarness(t, nil)
	h.legacy()
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	fb := h.feedback(4*hour, 5, "Thanks")
	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintClosed, st.Status)
	assert.Equal(t, domain.ComplaintClosed, fb.processStatus(t))
	assert.Len(t, h.f.of(domain.ActRequestFeedback), 1)
	assert.Empty(t, h.f.of(domain.ActCreateCustomerLink))
	received, _ := h.projection("feedback_received")
	assert.Equal(t, float64(5), received.Audit.Detail["score"])
}

func TestComplaintResponseWindows(t *testing.T) {
	for _, tc := range []struct {
		name, severity, tier string
		due                  time.Duration
		reminders            []time.Duration
		priority             int
	}{
		{"urgent", "urgent", "B", 1 * hour, []time.Duration{30 * time.Minute, 48 * time.Minute}, 2},
		{"tier A", "normal", "A", 12 * hour, []time.Duration{6 * hour, 9*hour + 36*time.Minute}, 1},
		{"urgent tier A", "urgent", "A", 1 * hour, []time.Duration{30 * time.Minute, 48 * time.Minute}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(in *domain.ComplaintInput) { in.Severity, in.CustomerTier = tc.severity, tc.tier })
			h.at(tc.due+13*hour, func() { h.env.CancelWorkflow() })
			_, err := h.run()
			require.True(t, temporal.IsCanceledError(err), "got %v", err)

			received, _ := h.projection("received")
			assert.Equal(t, t0.Add(tc.due), *received.ResponseDueAt)
			task := h.createdTasks()[0]
			assert.Equal(t, t0.Add(tc.due), task.DueAt)
			assert.Equal(t, tc.priority, task.Priority)
			assert.Equal(t, tc.reminders, times(h.f.of(domain.ActSendReminder)))
			assert.Equal(t, []time.Duration{tc.due, tc.due + 12*hour}, times(h.f.of(domain.ActRaiseEscalation)))
		})
	}
}

func TestComplaintSeverityRaisedAtEvaluation(t *testing.T) {
	h := newHarness(t, nil)
	ev := h.complete(40*time.Minute, domain.StepEvaluate, 1, "", ActionAccept, "carol",
		map[string]any{"category": "delivery", "severity": "urgent"})
	h.at(2*hour, func() { h.env.CancelWorkflow() })
	_, err := h.run()
	require.True(t, temporal.IsCanceledError(err), "got %v", err)
	assert.Equal(t, domain.ComplaintResponding, ev.response(t).ProcessStatus)

	evaluated, _ := h.projection("evaluated")
	assert.Equal(t, t0.Add(hour), *evaluated.ResponseDueAt, "recomputed from the receipt time")
	assert.Equal(t, "urgent", *evaluated.Severity)
	respond := h.createdTasks()[1]
	assert.Equal(t, t0.Add(hour), respond.DueAt)
	assert.Equal(t, 2, respond.Priority)
	// The 50% reminder (30 min) had passed; the 80% one and the escalation follow.
	reminders := h.f.of(domain.ActSendReminder)
	assert.Equal(t, []time.Duration{48 * time.Minute}, times(reminders))
	assert.Equal(t, 2, reminders[0].In.(domain.ReminderInput).N)
	assert.Equal(t, []string{"respond:1"}, h.escalations())
	assert.Equal(t, []time.Duration{hour}, times(h.f.of(domain.ActRaiseEscalation)))
}

func TestComplaintDecisionAroundDeadline(t *testing.T) {
	for _, tc := range []struct {
		name        string
		respondAt   time.Duration
		escalations []string
		level       int
	}{
		{"one second before", 24*hour - time.Second, []string{}, 0},
		{"one second after", 24*hour + time.Second, []string{"respond:1"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.complete(1*hour, domain.StepEvaluate, 1, "", ActionAccept, "carol", evalNormal)
			rs := h.complete(tc.respondAt, domain.StepRespond, 1, "", ActionRespond, "carol", respondMsg)
			h.complete(30*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
			h.feedback(31*hour, 4, "")

			st, err := h.run()
			require.NoError(t, err)
			assert.Equal(t, domain.ComplaintResolving, rs.response(t).ProcessStatus)
			assert.Equal(t, tc.escalations, h.escalations())
			assert.Equal(t, tc.level, st.EscalationLevel)
			assert.Equal(t, t0.Add(tc.respondAt), *st.RespondedAt)
			if tc.level > 0 {
				assert.Equal(t, []time.Duration{24 * hour}, times(h.f.of(domain.ActRaiseEscalation)))
				p := h.escalationProjection()
				assert.Equal(t, 1, *p.EscalationLevel)
				assert.Equal(t, domain.ComplaintResponding, p.Status)
			}
			responded, _ := h.projection("responded")
			assert.Equal(t, tc.level == 0, responded.Audit.Detail["on_time"])
			// The respond task's reminders ran at 50% and 80% of the response window.
			reminders := h.f.of(domain.ActSendReminder)
			assert.Equal(t, []time.Duration{12 * hour, 19*hour + 12*time.Minute}, times(reminders))
			for _, r := range reminders {
				assert.Equal(t, taskID(domain.StepRespond, 1, ""), r.In.(domain.ReminderInput).TaskID)
			}
		})
	}
}

func TestComplaintCompensationAboveThresholdNeedsBothApprovals(t *testing.T) {
	h := newHarness(t, nil)
	h.evaluateAndRespond()
	rv := h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", compensation("20000.00", "CNY"))
	mgr := h.complete(4*hour, domain.StepApproveResolution, 1, "", ActionApprove, "dave", nil)
	fin := h.complete(5*hour, domain.StepApproveResolution, 1, "finance", ActionApprove, "erin", nil)
	h.feedback(6*hour, 4, "")

	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintAwaitingApproval, rv.response(t).ProcessStatus)
	assert.Equal(t, domain.ComplaintAwaitingApproval, mgr.response(t).ProcessStatus, "finance has not signed yet")
	assert.Equal(t, domain.ComplaintFollowingUp, fin.response(t).ProcessStatus)
	assert.Equal(t, domain.ComplaintClosed, st.Status)
	require.NotNil(t, st.Resolution)
	assert.Equal(t, &domain.Money{Amount: "20000.00", Currency: "CNY"}, st.Resolution.Amount)

	require.Len(t, h.createdTasks(), 5)
	for key, group := range map[string]string{"": "service_manager", "finance": "finance"} {
		a := h.task(domain.StepApproveResolution, 1, key)
		assert.Equal(t, []string{group}, a.CandidateGroups)
		assert.Equal(t, []string{"carol"}, a.ExcludeUsers)
		assert.Equal(t, t0.Add(3*hour+24*hour), a.DueAt)
		assert.Equal(t, []string{ActionApprove, ActionReject}, a.Actions)
	}

	approved, at := h.projection("resolution_approved")
	assert.Equal(t, t0.Add(5*hour), at)
	assert.Equal(t, []any{"dave", "erin"}, approved.Audit.Detail["approvers"])
	_, at = h.projection("resolved")
	assert.Equal(t, t0.Add(5*hour), at, "the resolution goes out once both approved")
	assert.Contains(t, h.statuses(), "resolution_proposed:awaiting_approval")
}

func TestComplaintCompensationBelowThresholdNeedsManagerOnly(t *testing.T) {
	h := newHarness(t, nil)
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", compensation("10000.00", "CNY"))
	mgr := h.complete(4*hour, domain.StepApproveResolution, 1, "", ActionApprove, "dave", nil)
	h.feedback(5*hour, 5, "")

	_, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintFollowingUp, mgr.response(t).ProcessStatus)
	tasks := h.createdTasks()
	require.Len(t, tasks, 4)
	assert.Equal(t, []string{"service_manager"}, tasks[3].CandidateGroups)
}

func TestComplaintRejectedResolutionLoopsBackToResolve(t *testing.T) {
	h := newHarness(t, nil)
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", compensation("20000.00", "CNY"))
	var rej, late *updateResult
	h.at(4*hour, func() {
		rej = h.update(domain.UpdateCompleteTask, domain.CompleteTaskRequest{
			TaskID: taskID(domain.StepApproveResolution, 1, ""), Action: ActionReject, Actor: "dave",
			Comment: "Too generous, offer a repair first",
		})
	})
	h.at(4*hour+30*time.Minute, func() {
		late = h.completeNow(domain.StepApproveResolution, 1, "finance", ActionApprove, "erin", nil)
	})
	rv2 := h.complete(5*hour, domain.StepResolve, 2, "", ActionResolve, "carol", compensation("800.00", "CNY"))
	h.complete(6*hour, domain.StepApproveResolution, 2, "", ActionApprove, "dave", nil)
	h.feedback(7*hour, 5, "")

	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintResolving, rej.response(t).ProcessStatus)
	late.rejectedWith(t, domain.ErrTypeTaskClosed)
	assert.Equal(t, domain.ComplaintAwaitingApproval, rv2.response(t).ProcessStatus)
	assert.Equal(t, domain.ComplaintClosed, st.Status)
	assert.Equal(t, 2, st.Round)
	assert.Equal(t, "800.00", st.Resolution.Amount.Amount)

	// The finance countersign was cancelled by the rejection.
	var cancelled []string
	for _, c := range h.f.of(domain.ActCloseTask) {
		if in := c.In.(domain.CloseTaskInput); in.Status == domain.TaskCancelled {
			cancelled = append(cancelled, in.TaskID)
			assert.Equal(t, t0.Add(4*hour), c.At)
		}
	}
	assert.Equal(t, []string{taskID(domain.StepApproveResolution, 1, "finance")}, cancelled)

	// Round 2 of resolve shows the rejection; its approval needs no finance.
	var steps []string
	for _, task := range h.createdTasks() {
		steps = append(steps, fmt.Sprintf("%s/%d/%s", task.Step, task.Round, who(task)))
	}
	require.Len(t, steps, 7)
	assert.Equal(t, []string{"evaluate/1/customer_service", "respond/1/carol", "resolve/1/carol"}, steps[:3])
	// The two approvals of round 1 are created in parallel, in either order.
	assert.ElementsMatch(t, []string{"approve_resolution/1/service_manager", "approve_resolution/1/finance"}, steps[3:5])
	assert.Equal(t, []string{"resolve/2/carol", "approve_resolution/2/service_manager"}, steps[5:])
	resolve2 := h.task(domain.StepResolve, 2, "")
	assert.Equal(t, "Too generous, offer a repair first", resolve2.Context["rejection_comment"])
	assert.Equal(t, "dave", resolve2.Context["rejected_by"])

	rejected, _ := h.projection("resolution_rejected")
	assert.Equal(t, domain.ComplaintResolving, rejected.Status)
	assert.Equal(t, "Too generous, offer a repair first", rejected.Audit.Detail["comment"])
	assert.Equal(t, []int{2}, feedbackRounds(h))
}

func TestComplaintDissatisfiedFeedbackReopens(t *testing.T) {
	h := newHarness(t, nil)
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	fb1 := h.feedback(4*hour, 2, "Still leaking")
	reopen := h.complete(5*hour, domain.StepReviewDissatisfaction, 1, "", ActionReopen, "dave", nil)
	h.complete(6*hour, domain.StepResolve, 2, "", ActionResolve, "carol",
		map[string]any{"resolution_type": "replacement", "summary": "New pump shipped"})
	fb2 := h.feedback(7*hour, 4, "")

	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintFollowingUp, fb1.processStatus(t))
	assert.Equal(t, domain.ComplaintResolving, reopen.response(t).ProcessStatus)
	assert.Equal(t, domain.ComplaintClosed, fb2.processStatus(t))

	assert.Equal(t, domain.ComplaintClosed, st.Status)
	assert.Equal(t, 2, st.Round)
	assert.Equal(t, "replacement", st.Resolution.Type)
	assert.Equal(t, []int{1, 2}, feedbackRounds(h))

	review := h.createdTasks()[3]
	assert.Equal(t, domain.StepReviewDissatisfaction, review.Step)
	assert.Equal(t, []string{"service_manager"}, review.CandidateGroups)
	assert.Equal(t, []string{ActionReopen, ActionClose}, review.Actions)
	assert.Equal(t, t0.Add(4*hour+24*hour), review.DueAt)
	assert.Equal(t, float64(2), review.Context["score"])

	assert.Equal(t, []string{
		"received:received", "acknowledged:evaluating", "evaluated:responding", "responded:resolving",
		"resolved:following_up", "feedback_requested:following_up", "feedback_received:following_up",
		"reopened:resolving",
		"resolved:following_up", "feedback_requested:following_up", "feedback_received:following_up",
		"closed:closed",
	}, h.statuses())
	assert.Equal(t, []string{domain.TmplComplaintAck, domain.TmplComplaintResponse,
		domain.TmplComplaintResolution, domain.TmplComplaintResolution}, h.templates())
	keys := []string{}
	for _, c := range h.emails() {
		keys = append(keys, c.In.(domain.SendEmailInput).IdempotencyKey)
	}
	assert.Equal(t, testWorkflowID+"/resolution/2", keys[3], "each round's resolution e-mail has its own key")
}

func TestComplaintDissatisfiedFeedbackClosedByManager(t *testing.T) {
	h := newHarness(t, nil)
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	h.feedback(4*hour, 1, "")
	cl := h.complete(5*hour, domain.StepReviewDissatisfaction, 1, "", ActionClose, "dave", nil)

	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintClosed, cl.response(t).ProcessStatus)
	assert.Equal(t, domain.ComplaintClosed, st.Status)
	closed, at := h.projection("closed")
	assert.Equal(t, t0.Add(5*hour), at)
	assert.Equal(t, "dave", closed.Audit.Actor)
	assert.Equal(t, "reviewed", closed.Audit.Detail["reason"])
}

func TestComplaintNoFeedbackClosesAfterSevenDays(t *testing.T) {
	h := newHarness(t, nil)
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)

	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintClosed, st.Status)
	closed, at := h.projection("closed")
	assert.Equal(t, t0.Add(3*hour+7*day), at)
	assert.Equal(t, t0.Add(3*hour+7*day), *closed.ClosedAt)
	assert.Equal(t, "no_feedback", closed.Audit.Detail["reason"])
	requests := h.f.of(domain.ActCreateCustomerLink)
	require.Len(t, requests, 1)
	assert.Equal(t, t0.Add(3*hour), requests[0].At)
	link := requests[0].In.(domain.CreateLinkInput)
	assert.Equal(t, testWorkflowID+"/feedback/1", link.Key)
	assert.Equal(t, domain.PurposeComplaintFeedback, link.Purpose)
	assert.Equal(t, t0.Add(3*hour+7*day), link.ExpiresAt)
	assert.Equal(t, domain.LinkCustomer{ID: "cus_1", Email: "buyer@acme.test", Name: "ACME", Locale: "en"}, link.Customer)
	// Reminded once, at 3 days (the policy's default), and expired with the wait.
	assert.Equal(t, []time.Duration{3*hour + 3*day}, times(h.f.of(domain.ActSendLinkReminder)))
	assert.Equal(t, domain.TmplFeedbackReminder, h.f.of(domain.ActSendLinkReminder)[0].In.(domain.LinkReminderInput).Template)
	assert.Equal(t, []time.Duration{3*hour + 7*day}, times(h.f.of(domain.ActExpireCustomerLink)))
	assert.Empty(t, h.f.of(domain.ActRecordLinkAnswer))
}

func TestCompleteTaskValidator(t *testing.T) {
	h := newHarness(t, nil)
	var wrongAction, badData, unknown, first, second, emptyMsg, longMsg, noAmount, badAmount, earlyFeedback, earlyLegacy, badScore *updateResult
	var state domain.ComplaintState
	h.at(1*hour, func() {
		wrongAction = h.completeNow(domain.StepEvaluate, 1, "", ActionRespond, "carol", evalNormal)
		badData = h.completeNow(domain.StepEvaluate, 1, "", ActionAccept, "carol",
			map[string]any{"category": "weather", "colour": "red"})
		unknown = h.update(domain.UpdateCompleteTask, domain.CompleteTaskRequest{TaskID: "tsk_NOPE", Action: ActionAccept, Actor: "carol"})
		earlyFeedback = h.update(domain.UpdateLinkAnswer, feedbackAnswer(1, map[string]any{"score": 5}))
		earlyLegacy = h.update(domain.UpdateSubmitFeedback, domain.Feedback{Score: 5})
		// Two people act at once: exactly one wins.
		first = h.completeNow(domain.StepEvaluate, 1, "", ActionAccept, "carol", evalNormal)
		second = h.completeNow(domain.StepEvaluate, 1, "", ActionAccept, "cathy", evalNormal)
	})
	h.at(90*time.Minute, func() {
		v, err := h.env.QueryWorkflow(domain.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&state))
		emptyMsg = h.completeNow(domain.StepRespond, 1, "", ActionRespond, "carol", map[string]any{"message": "   "})
		longMsg = h.completeNow(domain.StepRespond, 1, "", ActionRespond, "carol",
			map[string]any{"message": strings.Repeat("é", MaxMessageLength+1)})
	})
	h.complete(2*hour, domain.StepRespond, 1, "", ActionRespond, "carol", respondMsg)
	h.at(150*time.Minute, func() {
		noAmount = h.completeNow(domain.StepResolve, 1, "", ActionResolve, "carol",
			map[string]any{"resolution_type": "refund", "summary": "Money back"})
		badAmount = h.completeNow(domain.StepResolve, 1, "", ActionResolve, "carol",
			map[string]any{"resolution_type": "refund", "summary": "Money back", "amount": map[string]any{"amount": 12.5, "currency": "CNY"}})
	})
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	h.at(200*time.Minute, func() {
		badScore = h.update(domain.UpdateLinkAnswer, feedbackAnswer(1, map[string]any{"score": 7, "comment": 3, "colour": "red"}))
	})
	h.feedback(4*hour, 3, "")

	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintClosed, st.Status)

	wrongAction.rejectedWith(t, domain.ErrTypeInvalidAction)
	assert.Equal(t, []string{"category", "severity", "colour"},
		fieldNames(t, badData.rejectedWith(t, domain.ErrTypeInvalidData)))
	unknown.rejectedWith(t, domain.ErrTypeTaskClosed)
	earlyFeedback.rejectedWith(t, domain.ErrTypeLinkUnknown)
	earlyLegacy.rejectedWith(t, domain.ErrTypeNotAccepting)
	assert.Equal(t, domain.ComplaintResponding, first.response(t).ProcessStatus)
	second.rejectedWith(t, domain.ErrTypeTaskClosed)
	assert.Equal(t, "carol", st.Owner, "the first completion won")

	assert.Equal(t, []string{"message"}, fieldNames(t, emptyMsg.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, []string{"message"}, fieldNames(t, longMsg.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, []string{"amount"}, fieldNames(t, noAmount.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, []string{"amount"}, fieldNames(t, badAmount.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, []string{"score", "comment", "colour"}, fieldNames(t, badScore.rejectedWith(t, domain.ErrTypeInvalidData)))

	assert.Equal(t, domain.ComplaintResponding, state.Status)
	assert.Equal(t, "carol", state.Owner)
	assert.Equal(t, []string{taskID(domain.StepRespond, 1, "")}, state.OpenTasks)

	// Rejected completions left no trace: one close per task.
	assert.Len(t, h.f.of(domain.ActCloseTask), 3)
}

func TestNeedsFinance(t *testing.T) {
	threshold := domain.Money{Amount: "10000.00", Currency: "CNY"}
	for _, tc := range []struct {
		amount *domain.Money
		want   bool
	}{
		{nil, false},
		{&domain.Money{Amount: "10000.00", Currency: "CNY"}, false},
		{&domain.Money{Amount: "10000", Currency: "CNY"}, false},
		{&domain.Money{Amount: "10000.01", Currency: "CNY"}, true},
		{&domain.Money{Amount: "99999999.5", Currency: "CNY"}, true},
		{&domain.Money{Amount: "1.00", Currency: "USD"}, true},
	} {
		assert.Equal(t, tc.want, needsFinance(tc.amount, threshold), "%v", tc.amount)
	}
}

func feedbackRounds(h *harness) []int {
	var rounds []int
	for _, c := range h.f.of(domain.ActRequestFeedback) {
		rounds = append(rounds, c.In.(domain.FeedbackRequestInput).Round)
	}
	for _, c := range h.f.of(domain.ActCreateCustomerLink) {
		rounds = append(rounds, c.In.(domain.CreateLinkInput).Round)
	}
	return rounds
}

// who is a task's assignee, or its candidate groups.
func who(t domain.CreateTaskInput) string {
	if t.Assignee != "" {
		return t.Assignee
	}
	return strings.Join(t.CandidateGroups, ",")
}

func TestComplaintMailFailureAsksToContactCustomer(t *testing.T) {
	h := newHarness(t, nil)
	h.f.failEmails[domain.TmplComplaintAck] = "send e-mail: status 400: does not contain a valid address"
	h.f.failEmails[domain.TmplComplaintResponse] = "send e-mail: status 400: mailbox unavailable"
	ackTask := taskID(domain.StepContactCustomer, 1, "ack")

	// The ack failed before anyone owned the complaint: customer service is asked. A
	// note is required. Done while the main flow waits for the respond task, the
	// completion answers at once.
	var noNote, contacted *updateResult
	h.at(30*time.Minute, func() {
		noNote = h.completeNow(domain.StepContactCustomer, 1, "ack", ActionDone, "cathy", nil)
	})
	ev, rs := h.evaluateAndRespond()
	h.at(90*time.Minute, func() {
		contacted = h.completeNow(domain.StepContactCustomer, 1, "ack", ActionDone, "cathy",
			map[string]any{"note": "Phoned the plant manager."})
	})
	answeredAtOnce := false
	h.at(91*time.Minute, func() { answeredAtOnce = contacted.done })
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	fb := h.feedback(4*hour, 5, "Thanks")
	// The response failed after carol took the complaint: she is asked. The complaint
	// closes at 4h; the workflow waits for her task before it ends.
	late := h.complete(5*hour, domain.StepContactCustomer, 1, "response", ActionDone, "carol",
		map[string]any{"note": "Left a voicemail and sent a letter."})

	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintClosed, st.Status)
	assert.Empty(t, st.OpenTasks)

	assert.Equal(t, []string{"note"}, fieldNames(t, noNote.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.True(t, answeredAtOnce, "completing contact_customer waited for the main flow")
	assert.Equal(t, domain.ComplaintResponding, contacted.response(t).ProcessStatus)
	assert.Equal(t, domain.ComplaintResponding, ev.response(t).ProcessStatus)
	assert.Equal(t, domain.ComplaintResolving, rs.response(t).ProcessStatus)
	assert.Equal(t, domain.ComplaintClosed, fb.processStatus(t))
	assert.Equal(t, domain.ComplaintClosed, late.response(t).ProcessStatus)

	// The main flow went on as usual, with the failures in its audit detail.
	assert.Equal(t, []string{
		"received:received", "acknowledged:evaluating", "evaluated:responding", "responded:resolving",
		"resolved:following_up", "feedback_requested:following_up", "feedback_received:following_up", "closed:closed",
	}, h.statuses())
	// The acknowledgement was queued with the step and failed when delivered, beside
	// the main flow (the outbox records the failure in the timeline itself).
	ack, _ := h.projection("acknowledged")
	assert.Equal(t, "queued", ack.Audit.Detail["email_status"])

	ackIn := h.task(domain.StepContactCustomer, 1, "ack")
	assert.Equal(t, ackTask, ackIn.TaskID)
	assert.Equal(t, []string{"customer_service"}, ackIn.CandidateGroups)
	assert.Empty(t, ackIn.Assignee)
	assert.Equal(t, []string{ActionDone}, ackIn.Actions)
	assert.Equal(t, contactForm, ackIn.Form)
	assert.Equal(t, t0, ackIn.CreatedAt)
	assert.Equal(t, t0.Add(24*hour), ackIn.DueAt)
	assert.Equal(t, domain.TmplComplaintAck, ackIn.Context["failed_template"])
	assert.Equal(t, h.f.failEmails[domain.TmplComplaintAck], ackIn.Context["failure_reason"])
	assert.Equal(t, "buyer@acme.test", ackIn.Context["customer_email"])
	assert.Equal(t, "alice", ackIn.Context["owner_rep"])

	respIn := h.task(domain.StepContactCustomer, 1, "response")
	assert.Equal(t, "carol", respIn.Assignee)
	assert.Equal(t, t0.Add(2*hour), respIn.CreatedAt)
	assert.Equal(t, domain.TmplComplaintResponse, respIn.Context["failed_template"])

	var contactCloses []time.Duration
	for _, c := range h.f.of(domain.ActCloseTask) {
		if in := c.In.(domain.CloseTaskInput); in.TaskID == ackTask || in.TaskID == respIn.TaskID {
			assert.Equal(t, domain.TaskCompleted, in.Status)
			assert.NotEmpty(t, in.Data["note"])
			contactCloses = append(contactCloses, c.At.Sub(t0))
		}
	}
	assert.Equal(t, []time.Duration{90 * time.Minute, 5 * hour}, contactCloses)
	assert.Empty(t, h.f.of(domain.ActSendReminder))
}

// kinds records, per activity name, whether it ran as a local or a regular activity.
func (h *harness) kinds() (local, regular map[string]int) {
	local, regular = map[string]int{}, map[string]int{}
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		local[info.ActivityType.Name]++
	})
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		regular[info.ActivityType.Name]++
	})
	return local, regular
}

// runRecordingKinds runs the on-time path to closed and returns how many times each
// activity ran as a local and as a regular activity.
func (h *harness) runRecordingKinds() (local, regular map[string]int) {
	h.t.Helper()
	local, regular = h.kinds()
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	h.feedback(4*hour, 5, "Thanks")
	st, err := h.run()
	require.NoError(h.t, err)
	assert.Equal(h.t, domain.ComplaintClosed, st.Status)
	return local, regular
}

// A run started at versionLocalWrites writes task rows, projections and outbox rows as
// local activities, so a completion waits for no activity hand-off. The e-mails (to the
// customer, and the task notices) are delivered in the background, one DeliverEmails
// per waiting point, each exactly once, before the workflow ends.
func TestComplaintWritesLocallyAndDeliversInBackground(t *testing.T) {
	h := newHarness(t, nil)
	local, regular := h.runRecordingKinds()
	assert.Equal(t, map[string]int{domain.ActCreateTask: 3, domain.ActCloseTask: 3, domain.ActProjectComplaint: 8,
		domain.ActQueueEmail: 3, domain.ActCreateCustomerLink: 1, domain.ActRecordLinkAnswer: 1}, local)
	assert.Equal(t, map[string]int{domain.ActDeliverEmails: 4}, regular)

	type batch struct{ keys, tasks []string }
	var batches []batch
	for _, c := range h.f.of(domain.ActDeliverEmails) {
		in := c.In.(domain.DeliverEmailsInput)
		batches = append(batches, batch{in.Keys, in.NotifyTasks})
	}
	task := func(step string) []string { return []string{taskID(step, 1, "")} }
	assert.Equal(t, []batch{
		{[]string{testWorkflowID + "/ack"}, task(domain.StepEvaluate)},                    // filed
		{nil, task(domain.StepRespond)},                                                   // evaluated
		{[]string{testWorkflowID + "/response"}, task(domain.StepResolve)},                // responded
		{[]string{testWorkflowID + "/resolution/1", testWorkflowID + "/feedback/1"}, nil}, // resolved
	}, batches)
	for _, in := range h.createdTasks() {
		assert.True(t, in.DeferNotify, "task %s", in.TaskID)
	}
}

// A run from before versionLocalWrites keeps regular activities, and CreateTask still
// sends the notices itself.
func TestComplaintBeforeLocalWritesKeepsActivities(t *testing.T) {
	h := newHarness(t, nil)
	h.legacy()
	h.env.OnGetVersion(versionLocalWrites, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	local, regular := h.runRecordingKinds()
	assert.Empty(t, local)
	assert.Equal(t, map[string]int{domain.ActCreateTask: 3, domain.ActCloseTask: 3, domain.ActProjectComplaint: 8,
		domain.ActSendEmail: 3, domain.ActRequestFeedback: 1}, regular)
	for _, in := range h.createdTasks() {
		assert.False(t, in.DeferNotify, "task %s", in.TaskID)
	}
}

// A feedback request the provider refuses for good asks the owner to reach the customer
// another way, as any other customer e-mail does; without feedback the complaint still
// closes after the wait, and the workflow ends once the contact task is done.
func TestComplaintFeedbackMailFailureAsksToContactCustomer(t *testing.T) {
	h := newHarness(t, nil)
	h.f.failEmails[domain.TmplFeedbackRequest] = "send e-mail: status 400: mailbox unavailable"
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	done := h.complete(5*hour, domain.StepContactCustomer, 1, "feedback/1", ActionDone, "carol",
		map[string]any{"note": "Called; the customer is satisfied."})

	st, err := h.run()
	require.NoError(t, err)
	assert.Equal(t, domain.ComplaintClosed, st.Status)
	assert.Equal(t, domain.ComplaintFollowingUp, done.response(t).ProcessStatus)
	contact := h.task(domain.StepContactCustomer, 1, "feedback/1")
	assert.Equal(t, "carol", contact.Assignee)
	assert.Equal(t, t0.Add(3*hour), contact.CreatedAt)
	assert.Equal(t, domain.TmplFeedbackRequest, contact.Context["failed_template"])
	assert.Equal(t, h.f.failEmails[domain.TmplFeedbackRequest], contact.Context["failure_reason"])
	requested, _ := h.projection("feedback_requested")
	assert.Equal(t, "queued", requested.Audit.Detail["email_status"])
	closed, at := h.projection("closed")
	assert.Equal(t, "no_feedback", closed.Audit.Detail["reason"])
	assert.Equal(t, t0.Add(3*hour+7*day), at)
}

// The feedback link can reach the customer before RequestFeedback returns (its e-mail is
// out, the reply to the activity is not). Feedback is accepted from the moment the
// request is made: here it arrives while the activity is still retrying. The run is one
// from before versionLocalWrites: the test environment mishandles retried local
// activities (see devstack's TestLocalActivityRetryDeliversResult), and the order that
// matters, accepting feedback before the request, is the same in both.
func TestComplaintFeedbackAcceptedWhileRequestInFlight(t *testing.T) {
	h := newHarness(t, nil)
	h.legacy()
	h.env.OnGetVersion(versionLocalWrites, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.f.failFeedback = func(attempt int) error {
		if attempt == 1 {
			return errors.New("database went away after the link was stored")
		}
		return nil
	}
	h.evaluateAndRespond()
	h.complete(3*hour, domain.StepResolve, 1, "", ActionResolve, "carol", explain)
	fb := h.feedback(3*hour+500*time.Millisecond, 5, "Fixed, thanks")

	st, err := h.run()
	require.NoError(t, err)
	require.True(t, fb.done, "feedback update did not complete")
	require.NoError(t, fb.err, "feedback during the request was refused")
	assert.Equal(t, domain.ComplaintClosed, st.Status)
	requests := h.f.of(domain.ActRequestFeedback)
	require.Len(t, requests, 1)
	assert.True(t, requests[0].At.After(t0.Add(3*hour+500*time.Millisecond)),
		"the request succeeded at %s, after the feedback arrived", requests[0].At.Sub(t0))
	received, at := h.projection("feedback_received")
	assert.Equal(t, float64(5), received.Audit.Detail["score"])
	assert.False(t, at.Before(requests[0].At))
}

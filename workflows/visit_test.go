package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

const (
	planTestID         = "vpl_test"
	planTestWorkflowID = "visit_plan/vpl_test"
)

// visitHarness runs a VisitPlanWorkflow, or one VisitWorkflow, with fake activities,
// the visits as real child workflows and the complaint mocked.
type visitHarness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	f   *fakes
	n   int

	mu         sync.Mutex
	complaints []domain.ComplaintInput
}

var visitCustomers = map[string]domain.VisitCustomer{
	"cus_1": {ID: "cus_1", Name: "ACME", Email: "buyer@acme.test", Tier: "A", Locale: "en", Owner: "alice"},
	"cus_2": {ID: "cus_2", Name: "Contoso", Email: "ops@contoso.test", Tier: "B", Locale: "zh-CN", Owner: "aaron"},
}

func newVisitHarness(t *testing.T, workflowID string) *visitHarness {
	env, f := newTestEnv(workflowID)
	h := &visitHarness{t: t, env: env, f: f}
	env.RegisterWorkflow(VisitPlanWorkflow)
	env.RegisterWorkflowWithOptions(VisitWorkflow, workflow.RegisterOptions{Name: domain.VisitWorkflowType})
	env.RegisterWorkflow(ComplaintWorkflow)
	env.OnWorkflow(ComplaintWorkflow, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in domain.ComplaintInput) (domain.ComplaintState, error) {
			h.mu.Lock()
			h.complaints = append(h.complaints, in)
			h.mu.Unlock()
			return domain.ComplaintState{Status: domain.ComplaintEvaluating}, nil
		})
	reg := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg(domain.ActProjectVisit, func(_ context.Context, in domain.VisitProjection) error {
		f.record(domain.ActProjectVisit, in)
		return nil
	})
	reg(domain.ActProjectVisitPlan, func(_ context.Context, in domain.VisitPlanProjection) error {
		f.record(domain.ActProjectVisitPlan, in)
		return nil
	})
	reg(domain.ActVisitCustomers, func(_ context.Context, ids []string) ([]domain.VisitCustomer, error) {
		f.record(domain.ActVisitCustomers, ids)
		var out []domain.VisitCustomer
		for _, id := range ids {
			out = append(out, visitCustomers[id])
		}
		return out, nil
	})
	return h
}

// updateAt sends an Update to the workflow wfID ("" for the one under test) at t0+d.
func (h *visitHarness) updateAt(d time.Duration, wfID, name string, arg any) *updateResult {
	u := &updateResult{}
	h.env.RegisterDelayedCallback(func() {
		h.n++
		id := fmt.Sprintf("u%d", h.n)
		if wfID == "" {
			h.env.UpdateWorkflow(name, id, u.callbacks(), arg)
			return
		}
		require.NoError(h.t, h.env.UpdateWorkflowByID(wfID, name, id, u.callbacks(), arg))
	}, d)
	return u
}

// act completes the task of step (round 1 unless said) of workflow wfID at t0+d.
func (h *visitHarness) act(d time.Duration, wfID, step string, round int, action, actor, comment string, data map[string]any) *updateResult {
	target := wfID
	if target == planTestWorkflowID {
		target = ""
	}
	return h.updateAt(d, target, domain.UpdateCompleteTask, domain.CompleteTaskRequest{
		TaskID: domain.TaskID(wfID, step, round, ""), Action: action, Actor: actor, Comment: comment, Data: data,
	})
}

// task returns the CreateTask input of a task of workflow wfID and when it was created.
func (h *visitHarness) task(wfID, step string, round int) (domain.CreateTaskInput, time.Time) {
	h.t.Helper()
	id := domain.TaskID(wfID, step, round, "")
	for _, c := range h.f.of(domain.ActCreateTask) {
		if in := c.In.(domain.CreateTaskInput); in.TaskID == id {
			return in, c.At
		}
	}
	h.t.Fatalf("task %s/%s/%d was not created", wfID, step, round)
	return domain.CreateTaskInput{}, time.Time{}
}

// visitEvents lists the audit events of a visit's projections, in order.
func (h *visitHarness) visitEvents(visitID string) []string {
	var out []string
	for _, c := range h.f.of(domain.ActProjectVisit) {
		if p := c.In.(domain.VisitProjection); p.Visit.ID == visitID && p.Audit.Event != "" {
			out = append(out, p.Audit.Event+":"+p.Visit.Status)
		}
	}
	return out
}

// lastVisit is a visit's last projected state.
func (h *visitHarness) lastVisit(visitID string) domain.VisitOutcome {
	h.t.Helper()
	var out *domain.VisitOutcome
	for _, c := range h.f.of(domain.ActProjectVisit) {
		if p := c.In.(domain.VisitProjection); p.Visit.ID == visitID {
			out = &p.Visit
		}
	}
	require.NotNil(h.t, out, "visit %s was never projected", visitID)
	return *out
}

func planState(t *testing.T, u *updateResult) domain.VisitPlanState {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	require.True(t, u.done, "update did not complete: rejected=%v", u.rejected)
	require.NoError(t, u.err)
	st, ok := u.value.(domain.VisitPlanState)
	require.True(t, ok, "update result is %T", u.value)
	return st
}

// On t0 (Monday 3 March 2025, 17:00 in the company's zone) a visit on the 8th is too
// soon: the first visit may be on the 10th.
func tooSoonPlan() domain.VisitPlan {
	return domain.VisitPlan{Title: "March visits", Visits: []domain.Visit{
		{CustomerID: "cus_1", Method: domain.VisitOnSite, PlannedOn: "2025-03-08", Rep: "alice", Purpose: "Check the new lathe"},
	}}
}

func goodPlan() domain.VisitPlan {
	return domain.VisitPlan{Title: "March visits", Visits: []domain.Visit{
		{CustomerID: "cus_1", Method: domain.VisitOnSite, PlannedOn: "2025-03-12", Rep: "alice", Purpose: "Check the new lathe"},
		{CustomerID: "cus_2", Method: domain.VisitPhone, PlannedOn: "2025-03-13", Rep: "aaron", Purpose: "Spare parts use"},
	}}
}

func planVisitWorkflowID(n int) string {
	return domain.VisitWorkflowID(domain.VisitID(domain.ProcessVisitPlan, planTestID, fmt.Sprint(n)))
}

// The acceptance: a plan submitted too late (the invalid-data error on
// visits[i].planned_on, which the API answers 422), rejected with a comment and
// resubmitted, approved; then its visits, the on-site one with its appointment and a
// problem that opens a complaint linked to the visit, and a need mailed to the rep's
// manager; the plan completes once both are recorded.
func TestVisitPlanLateRejectedResubmittedApprovedAndVisited(t *testing.T) {
	h := newVisitHarness(t, planTestWorkflowID)
	in := domain.VisitPlanInput{ID: planTestID, Plan: tooSoonPlan(), CreatedBy: "bob", CreatedAt: t0,
		Locale: "en", Policy: domain.DefaultSurveyPolicy(), ComplaintPolicy: domain.DefaultComplaintPolicy()}
	m := time.Minute
	late := h.updateAt(1*m, "", domain.UpdateSubmitVisitPlan, domain.SubmitVisitPlanRequest{Actor: "bob"})
	badEdit := h.updateAt(2*m, "", domain.UpdateEditVisitPlan, domain.EditVisitPlanRequest{Actor: "bob", Plan: domain.VisitPlan{Visits: goodPlan().Visits}})
	edit := h.updateAt(3*m, "", domain.UpdateEditVisitPlan, domain.EditVisitPlanRequest{Actor: "bob", Plan: goodPlan()})
	submit1 := h.updateAt(4*m, "", domain.UpdateSubmitVisitPlan, domain.SubmitVisitPlanRequest{Actor: "bob"})
	editSubmitted := h.updateAt(5*m, "", domain.UpdateEditVisitPlan, domain.EditVisitPlanRequest{Actor: "bob", Plan: goodPlan()})
	rejectBare := h.act(6*m, planTestWorkflowID, domain.StepApproveVisitPlan, 1, ActionReject, "ken", " ", nil)
	reject := h.act(7*m, planTestWorkflowID, domain.StepApproveVisitPlan, 1, ActionReject, "ken", "Say what to check on the lathe", nil)
	submit2 := h.updateAt(8*m, "", domain.UpdateSubmitVisitPlan, domain.SubmitVisitPlanRequest{Actor: "bob"})
	approve := h.act(9*m, planTestWorkflowID, domain.StepApproveVisitPlan, 2, ActionApprove, "ken", "", nil)

	// Visit 1, on site: the appointment (open since the approval), then on its day
	// (12 March in the company's zone, from 11 March 16:00 UTC) the record.
	v1, v2 := planVisitWorkflowID(1), planVisitWorkflowID(2)
	appt := h.act(24*time.Hour, v1, domain.StepAppointment, 1, ActionDone, "alice", "",
		map[string]any{domain.FieldAgreedAt: "2025-03-12T10:00:00+08:00"})
	record1 := h.act(8*24*time.Hour+18*time.Hour, v1, domain.StepReturnVisit, 1, ActionDone, "alice", "", map[string]any{
		domain.FieldVisitAt: "2025-03-12T10:05:00+08:00", domain.FieldMethod: domain.VisitOnSite,
		domain.FieldDiscussed: []any{domain.TopicNeeds, domain.TopicFaultsRepairs}, domain.FieldSatisfaction: 2,
		domain.FieldProblems: "  The spindle is noisy  ", domain.FieldNeeds: "A quote for two more lathes",
	})
	// Visit 2, by phone, from 12 March 16:00 UTC: a bad record first.
	wrongMethod := h.act(9*24*time.Hour+8*time.Hour, v2, domain.StepReturnVisit, 1, ActionDone, "aaron", "", map[string]any{
		domain.FieldVisitAt: "2025-03-13T09:00:00+08:00", domain.FieldMethod: domain.VisitOnSite,
		domain.FieldDiscussed: []any{domain.TopicProductUse, "weather"}, domain.FieldSatisfaction: 5,
	})
	badRecord := h.act(9*24*time.Hour+8*time.Hour+m, v2, domain.StepReturnVisit, 1, ActionDone, "aaron", "", map[string]any{
		domain.FieldVisitAt: "2025-03-13T09:00:00+08:00", domain.FieldMethod: domain.VisitPhone,
		domain.FieldDiscussed: []any{domain.TopicProductUse, domain.TopicProductUse}, domain.FieldSatisfaction: 7,
	})
	record2 := h.act(9*24*time.Hour+9*time.Hour, v2, domain.StepReturnVisit, 1, ActionDone, "aaron", "", map[string]any{
		domain.FieldVisitAt: "2025-03-13T09:00:00+08:00", domain.FieldMethod: domain.VisitPhone,
		domain.FieldDiscussed: []any{domain.TopicProductUse}, domain.FieldSatisfaction: 5,
	})

	h.env.ExecuteWorkflow(VisitPlanWorkflow, in)
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var st domain.VisitPlanState
	require.NoError(t, h.env.GetWorkflowResult(&st))

	// Too late: an error on the visit that is too soon, nothing opened.
	require.Equal(t, []string{"visits[0].planned_on"}, fieldNames(t, late.rejectedWith(t, domain.ErrTypeInvalidData)))
	require.Equal(t, []string{"title"}, fieldNames(t, badEdit.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, "March visits", planState(t, edit).Title)
	assert.Len(t, planState(t, edit).Plan.Visits, 2)
	s1 := planState(t, submit1)
	assert.Equal(t, domain.PlanSubmitted, s1.Status)
	assert.Len(t, s1.OpenTasks, 1, "the approval task is open when submit answers")
	editSubmitted.rejectedWith(t, domain.ErrTypeNotAccepting)
	require.Equal(t, []string{"comment"}, fieldNames(t, rejectBare.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, domain.PlanDraft, reject.processStatus(t), "a rejection sends the plan back to draft")
	assert.Equal(t, 2, planState(t, submit2).Round)
	approve.response(t)

	a, _ := h.task(planTestWorkflowID, domain.StepApproveVisitPlan, 2)
	assert.Equal(t, []string{string(domain.RoleDeputyGM)}, a.CandidateGroups)
	assert.Contains(t, a.ExcludeUsers, "bob")
	assert.Equal(t, domain.ProcessVisitPlan, a.Process)
	assert.Equal(t, t0.Add(8*m+48*time.Hour), a.DueAt)

	assert.Equal(t, domain.PlanCompleted, st.Status)
	assert.Equal(t, 2, st.Round)
	require.Len(t, st.Decisions, 2)
	assert.Equal(t, domain.VisitPlanDecision{Round: 1, Decision: ActionReject, By: "ken", Comment: "Say what to check on the lathe", At: t0.Add(7 * m)}, st.Decisions[0])
	assert.Equal(t, ActionApprove, st.Decisions[1].Decision)
	assert.Equal(t, "ken", st.ApprovedBy)
	require.Len(t, st.VisitIDs, 2)

	// The approval writes both visits' rows, scheduled, before the visits start.
	var approved *domain.VisitPlanProjection
	var events []string
	for _, c := range h.f.of(domain.ActProjectVisitPlan) {
		p := c.In.(domain.VisitPlanProjection)
		if p.Audit.Event != "" {
			events = append(events, p.Audit.Event+":"+p.State.Status)
		}
		if p.Audit.Event == "visit_plan_approved" {
			approved = &p
		}
	}
	assert.Equal(t, []string{"visit_plan_created:draft", "visit_plan_edited:draft", "visit_plan_submitted:submitted",
		"visit_plan_rejected:draft", "visit_plan_submitted:submitted", "visit_plan_approved:approved",
		"visit_plan_completed:completed"}, events)
	require.NotNil(t, approved)
	require.Len(t, approved.Visits, 2)
	assert.Equal(t, domain.VisitScheduled, approved.Visits[0].Status)
	assert.Equal(t, time.Date(2025, 3, 11, 16, 0, 0, 0, time.UTC), approved.Visits[0].StartAt, "12 March starts at 16:00 UTC in +08")
	assert.Equal(t, time.Date(2025, 3, 12, 16, 0, 0, 0, time.UTC), approved.Visits[0].DueAt)

	// Visit 1: the appointment opens at the approval, due when the visit's day starts.
	appt.response(t)
	ap, apAt := h.task(v1, domain.StepAppointment, 1)
	assert.Equal(t, t0.Add(9*m), apAt)
	assert.Equal(t, "alice", ap.Assignee)
	assert.Equal(t, domain.ProcessVisitPlan, ap.Process)
	assert.Equal(t, planTestID, ap.ProcessID)
	assert.Equal(t, time.Date(2025, 3, 11, 16, 0, 0, 0, time.UTC), ap.DueAt)
	rv, rvAt := h.task(v1, domain.StepReturnVisit, 1)
	assert.Equal(t, time.Date(2025, 3, 11, 16, 0, 0, 0, time.UTC), rvAt, "the record task opens on the visit's day")
	assert.Equal(t, []string{domain.VisitOnSite}, rv.Form[1].Options, "the planned method is preset")
	assert.Equal(t, "2025-03-12", rv.Context["planned_on"])
	record1.response(t)

	id1 := domain.VisitID(domain.ProcessVisitPlan, planTestID, "1")
	assert.Equal(t, []string{"visit_scheduled:scheduled", "visit_appointment_agreed:scheduled",
		"visit_complaint_opened:open", "visit_recorded:completed"}, h.visitEvents(id1))
	out1 := h.lastVisit(id1)
	require.NotNil(t, out1.Record)
	assert.Equal(t, "The spindle is noisy", out1.Record.Problems)
	assert.Equal(t, []string{domain.TopicFaultsRepairs, domain.TopicNeeds}, out1.Record.Discussed)
	assert.Equal(t, time.Date(2025, 3, 12, 2, 5, 0, 0, time.UTC), out1.Record.At)
	assert.Equal(t, time.Date(2025, 3, 12, 2, 0, 0, 0, time.UTC), *out1.AgreedAt)
	assert.True(t, out1.NeedNotified)

	// The problem opened a complaint, through the visit channel, naming the visit.
	require.Len(t, h.complaints, 1)
	c := h.complaints[0]
	assert.Equal(t, c.ID, out1.ComplaintID, "the visit names its complaint")
	assert.Equal(t, id1, c.VisitID, "the complaint names its visit")
	assert.Equal(t, "visit", c.Channel)
	assert.Equal(t, "The spindle is noisy", c.Description)
	assert.Equal(t, "buyer@acme.test", c.CustomerEmail)
	assert.Equal(t, "alice", c.OwnerRep)
	assert.Equal(t, "alice", c.FiledBy)

	// The need went to alice's manager (the sales managers if she has none).
	var need *domain.NotifyInput
	for _, call := range h.f.of(domain.ActQueueNotice) {
		if n := call.In.(domain.NotifyInput); n.Template == domain.TmplVisitNeed {
			need = &n
		}
	}
	require.NotNil(t, need)
	assert.Equal(t, []string{"alice"}, need.ManagersOf)
	assert.Equal(t, []string{string(domain.RoleSalesManager)}, need.ManagerFallback)
	assert.Equal(t, "A quote for two more lathes", need.Data["needs"])
	assert.Equal(t, domain.ProcessVisitPlan, need.Process)

	// Visit 2: by phone, no appointment; a bad record is refused with its fields.
	_, rv2At := h.task(v2, domain.StepReturnVisit, 1)
	assert.Equal(t, time.Date(2025, 3, 12, 16, 0, 0, 0, time.UTC), rv2At)
	require.Equal(t, []string{domain.FieldMethod, domain.FieldDiscussed}, fieldNames(t, wrongMethod.rejectedWith(t, domain.ErrTypeInvalidData)))
	require.Equal(t, []string{domain.FieldDiscussed, domain.FieldSatisfaction}, fieldNames(t, badRecord.rejectedWith(t, domain.ErrTypeInvalidData)))
	record2.response(t)
	id2 := domain.VisitID(domain.ProcessVisitPlan, planTestID, "2")
	assert.Equal(t, []string{"visit_scheduled:scheduled", "visit_recorded:completed"}, h.visitEvents(id2))
	assert.Empty(t, h.lastVisit(id2).ComplaintID)
}

// A detractor's visit: no method (the rep chooses it), open at once, due 72 h after the
// answer, with the answer in its context; reminded, then escalated to the rep's manager
// at the due time; a need recorded goes to the rep's manager, and no problem, no
// complaint.
func TestVisitDetractorChoosesMethodEscalatesAndPassesNeed(t *testing.T) {
	in := domain.VisitInput{
		Process: "survey", ProcessID: "cyc_1", Key: "cus_1", Customer: visitCustomers["cus_1"], Rep: "alice",
		DueAt: t0.Add(72 * time.Hour), Purpose: "Detractor: NPS 3",
		Context: map[string]any{"answer": map[string]any{"nps": 3, "comment": "Slow service"}},
		Locale:  "en", Policy: domain.DefaultSurveyPolicy(), ComplaintPolicy: domain.DefaultComplaintPolicy(),
	}
	wfID := domain.VisitWorkflowID(in.ID())
	h := newVisitHarness(t, wfID)
	early := h.act(time.Hour, wfID, domain.StepReturnVisit, 1, ActionDone, "alice", "", map[string]any{
		domain.FieldVisitAt: "yesterday", domain.FieldMethod: "fax", domain.FieldDiscussed: "needs", domain.FieldSatisfaction: 3.5,
	})
	done := h.act(80*time.Hour, wfID, domain.StepReturnVisit, 1, ActionDone, "alice", "", map[string]any{
		domain.FieldVisitAt: "2025-03-06T15:00:00Z", domain.FieldMethod: domain.VisitPhone,
		domain.FieldDiscussed: []any{domain.TopicComplaints, domain.TopicNeeds}, domain.FieldSatisfaction: 3,
		domain.FieldNeeds: "Faster spare parts",
	})
	h.env.ExecuteWorkflow(VisitWorkflow, in)
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var out domain.VisitOutcome
	require.NoError(t, h.env.GetWorkflowResult(&out))

	task, at := h.task(wfID, domain.StepReturnVisit, 1)
	assert.Equal(t, t0, at, "a detractor's task opens at once")
	assert.Equal(t, t0.Add(72*time.Hour), task.DueAt)
	assert.Equal(t, "survey", task.Process)
	assert.Equal(t, "cyc_1", task.ProcessID)
	assert.Equal(t, domain.VisitMethods, task.Form[1].Options, "the rep chooses the method")
	assert.Equal(t, "Slow service", task.Context["answer"].(map[string]any)["comment"], "the answer is in the context")
	assert.Equal(t, "Detractor: NPS 3", task.Context["purpose"])

	require.Equal(t, []string{domain.FieldVisitAt, domain.FieldMethod, domain.FieldDiscussed, domain.FieldSatisfaction},
		fieldNames(t, early.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, domain.VisitCompleted, done.processStatus(t))

	assert.Equal(t, []time.Duration{36 * time.Hour, time.Duration(0.8 * 72 * float64(time.Hour))}, times(h.f.of(domain.ActSendReminder)))
	esc := h.f.of(domain.ActRaiseEscalation)
	require.Len(t, esc, 1, "the deputy GM rung falls 24 h after the due time, after the record")
	assert.Equal(t, t0.Add(72*time.Hour), esc[0].At)
	rung := esc[0].In.(domain.EscalationInput).Rung
	assert.True(t, rung.TargetAssigneeManager)
	assert.Equal(t, domain.RoleSalesManager, rung.TargetRole)

	assert.Equal(t, domain.VisitCompleted, out.Status)
	assert.Equal(t, 1, out.EscalationLevel)
	assert.Equal(t, domain.VisitPhone, out.Method, "the method the rep chose")
	assert.Equal(t, 3, out.Record.Satisfaction)
	assert.Empty(t, out.ComplaintID)
	assert.Empty(t, h.complaints, "no problem, no complaint")
	assert.True(t, out.NeedNotified)
	notices := h.f.of(domain.ActQueueNotice)
	require.Len(t, notices, 1)
	n := notices[0].In.(domain.NotifyInput)
	assert.Equal(t, domain.TmplVisitNeed, n.Template)
	assert.Equal(t, []string{"alice"}, n.ManagersOf)
	assert.Equal(t, "survey", n.Process)
	assert.Equal(t, "Faster spare parts", n.Data["needs"])
	// The notice is delivered before the visit ends.
	var delivered bool
	for _, c := range h.f.of(domain.ActDeliverEmails) {
		for _, k := range c.In.(domain.DeliverEmailsInput).Keys {
			delivered = delivered || k == wfID+"/need/alice"
		}
	}
	assert.True(t, delivered)
}

// A starter that gives a visit without a customer or due time has a bug: the visit
// fails for good instead of opening a task nobody can act on.
func TestVisitRefusesAnIncompleteInput(t *testing.T) {
	h := newVisitHarness(t, "visit/vis_bad")
	h.env.ExecuteWorkflow(VisitWorkflow, domain.VisitInput{Process: "survey", ProcessID: "cyc_1", Key: "k", Rep: "alice"})
	require.True(t, h.env.IsWorkflowCompleted())
	require.ErrorContains(t, h.env.GetWorkflowError(), "invalid visit input")
	assert.Empty(t, h.f.of(domain.ActCreateTask))
}

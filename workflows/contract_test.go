package workflows

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

const contractTestID = "ctr_test"

var contractTestWorkflowID = domain.ContractWorkflowID(contractTestID)

// reviewers is who decides each step in these tests (the demo organisation).
var reviewers = map[string]string{
	domain.StepReview: "bob", domain.StepCountersignProduction: "grace", domain.StepCountersignQuality: "frank",
	domain.StepCountersignPurchasing: "heidi", domain.StepCountersignFinance: "erin",
	domain.StepOpsReview: "ivan", domain.StepReviewMeeting: "judy", domain.StepGMApproval: "judy",
}

var meetingReport = map[string]any{"report": "Capacity confirmed; go ahead.", "attendees": []any{"judy", "ivan", "grace"}}

// contractHarness runs one ContractWorkflow with fake activities and scripted people.
type contractHarness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	f     *fakes
	in    domain.ContractInput
	n     int
	final *domain.ContractState // queried just before stop cancels the workflow
}

// standardTerms is a standard contract: 100 000 CNY, standard terms.
func standardTerms() domain.ContractTerms {
	return domain.ContractTerms{
		CustomerID: "cus_1", Title: "Pumps 2025", Amount: domain.Money{Amount: "100000.00", Currency: "CNY"},
		DeliveryDate: "2025-06-30", PaymentTerms: "30 days net",
	}
}

func specialTerms() domain.ContractTerms {
	t := standardTerms()
	t.Requirements.CustomSpec = true
	return t
}

func majorTerms() domain.ContractTerms {
	t := standardTerms()
	t.Strategic = true
	return t
}

func newContractHarness(t *testing.T, terms domain.ContractTerms, mod func(*domain.ContractInput)) *contractHarness {
	env, f := newTestEnv(contractTestWorkflowID)
	env.RegisterWorkflow(ContractWorkflow)
	in := domain.ContractInput{
		ID: contractTestID, CustomerName: "ACME", SubmittedBy: "alice", SubmittedAt: t0,
		Terms: terms, Policy: domain.DefaultContractPolicy(),
	}
	if mod != nil {
		mod(&in)
	}
	return &contractHarness{t: t, env: env, f: f, in: in}
}

func ctask(step string, revision int) string {
	return domain.TaskID(contractTestWorkflowID, step, revision, "")
}

func (h *contractHarness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// updateAt sends an Update at t0+d and returns its result (filled once run).
func (h *contractHarness) updateAt(d time.Duration, name string, arg any) *updateResult {
	u := &updateResult{}
	h.at(d, func() { h.send(u, name, arg) })
	return u
}

func (h *contractHarness) send(u *updateResult, name string, arg any) {
	h.n++
	h.env.UpdateWorkflow(name, fmt.Sprintf("u%d", h.n), u.callbacks(), arg)
}

// decide completes the task of a step of a revision at t0+d, by the step's reviewer.
func (h *contractHarness) decide(d time.Duration, step string, revision int, action, comment string, data map[string]any) *updateResult {
	return h.updateAt(d, domain.UpdateCompleteTask, domain.CompleteTaskRequest{
		TaskID: ctask(step, revision), Action: action, Actor: reviewers[step], Comment: comment, Data: data,
	})
}

// approveRoute approves every step of a class's route for a revision: one stage per
// hour from t0+start, parallel steps a minute apart. It returns when the last one is.
func (h *contractHarness) approveRoute(start time.Duration, revision int, class string) time.Duration {
	at := start
	for i, stage := range domain.RouteStages(class) {
		at = start + time.Duration(i)*hour
		for j, step := range stage {
			var data map[string]any
			if step == domain.StepReviewMeeting {
				data = meetingReport
			}
			h.decide(at+time.Duration(j)*time.Minute, step, revision, ActionApprove, "", data)
		}
	}
	return at
}

// query returns the status query's answer (call it from inside at).
func (h *contractHarness) query() domain.ContractState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(domain.QueryStatus)
	require.NoError(h.t, err)
	var st domain.ContractState
	require.NoError(h.t, v.Get(&st))
	return st
}

// queryAt queries the state at t0+d into *st.
func (h *contractHarness) queryAt(d time.Duration, st *domain.ContractState) {
	h.at(d, func() { *st = h.query() })
}

// stop queries the final state at t0+d and cancels the workflow, which otherwise waits
// for amendments for ever.
func (h *contractHarness) stop(d time.Duration) {
	h.at(d, func() {
		st := h.query()
		h.final = &st
		h.env.CancelWorkflow()
	})
}

// run executes the workflow and returns its result, or the state stop queried.
func (h *contractHarness) run() domain.ContractState {
	h.t.Helper()
	h.env.ExecuteWorkflow(ContractWorkflow, h.in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	err := h.env.GetWorkflowError()
	if h.final != nil {
		require.True(h.t, temporal.IsCanceledError(err), "got %v", err)
		return *h.final
	}
	require.NoError(h.t, err)
	var st domain.ContractState
	require.NoError(h.t, h.env.GetWorkflowResult(&st))
	return st
}

// events lists "event:status" of each projection with an audit event.
func (h *contractHarness) events() []string {
	var out []string
	for _, c := range h.f.of(domain.ActProjectContract) {
		if p := c.In.(domain.ContractProjection); p.Audit.Event != "" {
			out = append(out, p.Audit.Event+":"+p.State.Status)
		}
	}
	return out
}

// projection returns the first projection with the audit event and its time.
func (h *contractHarness) projection(event string) (domain.ContractProjection, time.Time) {
	h.t.Helper()
	for _, c := range h.f.of(domain.ActProjectContract) {
		if p := c.In.(domain.ContractProjection); p.Audit.Event == event {
			return p, c.At
		}
	}
	h.t.Fatalf("no projection with event %q; have %v", event, h.events())
	return domain.ContractProjection{}, time.Time{}
}

// created lists "step/round" of each task created, and the time since t0.
func (h *contractHarness) created() (steps []string, at []time.Duration) {
	for _, c := range h.f.of(domain.ActCreateTask) {
		in := c.In.(domain.CreateTaskInput)
		steps = append(steps, fmt.Sprintf("%s/%d", in.Step, in.Round))
		at = append(at, c.At.Sub(t0))
	}
	return steps, at
}

func (h *contractHarness) task(step string, revision int) domain.CreateTaskInput {
	h.t.Helper()
	for _, c := range h.f.of(domain.ActCreateTask) {
		if in := c.In.(domain.CreateTaskInput); in.TaskID == ctask(step, revision) {
			return in
		}
	}
	h.t.Fatalf("task %s/%d was not created", step, revision)
	return domain.CreateTaskInput{}
}

// closes lists "step/round:status/actor" of each task closed.
func (h *contractHarness) closes() []string {
	steps := map[string]string{}
	for _, c := range h.f.of(domain.ActCreateTask) {
		in := c.In.(domain.CreateTaskInput)
		steps[in.TaskID] = fmt.Sprintf("%s/%d", in.Step, in.Round)
	}
	var out []string
	for _, c := range h.f.of(domain.ActCloseTask) {
		in := c.In.(domain.CloseTaskInput)
		out = append(out, fmt.Sprintf("%s:%s/%s", steps[in.TaskID], in.Status, in.Actor))
	}
	return out
}

// notices lists the notices queued (QueueNotice; runs from before versionOutboxMail
// call Notify, which these tests do not run).
func (h *contractHarness) notices() []domain.NotifyInput {
	var out []domain.NotifyInput
	for _, c := range h.f.of(domain.ActQueueNotice) {
		out = append(out, c.In.(domain.NotifyInput))
	}
	return out
}

// decisions lists "revision/step:decision/reviewer" of a review record.
func decisions(record []domain.ContractReview) []string {
	var out []string
	for _, r := range record {
		out = append(out, fmt.Sprintf("%d/%s:%s/%s", r.Revision, r.Step, r.Decision, r.Reviewer))
	}
	return out
}

func TestContractStandardPath(t *testing.T) {
	h := newContractHarness(t, standardTerms(), nil)
	var during domain.ContractState
	h.queryAt(hour, &during)
	ok := h.decide(2*hour, domain.StepReview, 1, ActionApprove, "Fine by me", nil)
	h.stop(3 * hour)

	st := h.run()
	assert.Equal(t, domain.ContractApproved, ok.response(t).ProcessStatus)

	assert.Equal(t, domain.ContractInReview, during.Status)
	assert.Equal(t, domain.ClassStandard, during.Class)
	assert.Equal(t, []string{domain.StepReview}, during.Route)
	assert.Equal(t, []string{domain.StepReview}, during.CurrentSteps)
	require.Len(t, during.OpenTasks, 1)
	assert.Equal(t, ctask(domain.StepReview, 1), during.OpenTasks[0].TaskID)
	assert.Equal(t, t0.Add(48*hour), during.OpenTasks[0].DueAt)

	assert.Equal(t, domain.ContractApproved, st.Status)
	assert.Equal(t, 1, st.Revision)
	assert.Equal(t, "HT-2025-0042", st.LedgerNo)
	assert.Equal(t, t0.Add(2*hour), *st.ApprovedAt)
	assert.Empty(t, st.CurrentSteps)
	assert.Empty(t, st.OpenTasks)
	assert.Nil(t, st.Amendment)
	assert.Equal(t, []string{"1/review:approve/bob"}, decisions(st.ReviewRecord))
	assert.Equal(t, "Fine by me", st.ReviewRecord[0].Comment)
	assert.Equal(t, t0.Add(2*hour), st.ReviewRecord[0].At)

	review := h.task(domain.StepReview, 1)
	assert.Equal(t, domain.ProcessContract, review.Process)
	assert.Equal(t, contractTestID, review.ProcessID)
	assert.Equal(t, []string{"sales_manager"}, review.CandidateGroups)
	assert.Empty(t, review.Assignee)
	assert.Equal(t, []string{"alice"}, review.ExcludeUsers, "nobody reviews their own contract")
	assert.Equal(t, []string{ActionApprove, ActionReject}, review.Actions)
	assert.Equal(t, "Review contract: Pumps 2025", review.Title)
	assert.Equal(t, 0, review.Priority)
	assert.Equal(t, t0.Add(48*hour), review.DueAt)
	assert.Equal(t, "ACME", review.Context["customer_name"])
	assert.Equal(t, map[string]any{"amount": "100000.00", "currency": "CNY"}, review.Context["amount"])

	assert.Equal(t, []string{"submitted:in_review", "approved:approved"}, h.events())
	submitted, _ := h.projection("submitted")
	require.NotNil(t, submitted.Input, "the first projection inserts the contract")
	assert.Equal(t, "alice", submitted.Audit.Actor)
	assert.Equal(t, []any{"review"}, submitted.Audit.Detail["route"])
	approved, at := h.projection("approved")
	assert.Nil(t, approved.Input)
	assert.Equal(t, t0.Add(2*hour), at)
	assert.Equal(t, "bob", approved.Audit.Actor)
	assert.Equal(t, "HT-2025-0042", approved.State.LedgerNo)
	assert.Empty(t, approved.State.ReviewRecord, "entries go in Reviews, once")
	var entries []string
	for _, c := range h.f.of(domain.ActProjectContract) {
		entries = append(entries, decisions(c.In.(domain.ContractProjection).Reviews)...)
	}
	assert.Equal(t, []string{"1/review:approve/bob"}, entries)

	ledger := h.f.of(domain.ActAssignLedgerNo)
	require.Len(t, ledger, 1)
	assert.Equal(t, domain.LedgerNoInput{ContractID: contractTestID, WorkflowID: contractTestWorkflowID, At: t0.Add(2 * hour)},
		ledger[0].In)

	notices := h.notices()
	require.Len(t, notices, 2)
	assert.Equal(t, domain.TmplContractApproved, notices[0].Template)
	assert.Equal(t, []string{"alice"}, notices[0].Users)
	assert.Equal(t, contractTestWorkflowID+"/approved/1", notices[0].KeyPrefix)
	assert.Equal(t, "HT-2025-0042", notices[0].Data["ledger_no"])
	assert.Equal(t, false, notices[0].Data["amendment"])
	assert.Equal(t, domain.TmplContractDepartmentNotice, notices[1].Template)
	assert.Equal(t, []string{"sales_manager"}, notices[1].Groups)
	assert.Empty(t, notices[1].Users)
	assert.Equal(t, []any{}, notices[1].Data["requirements"])
	assert.Equal(t, "2025-06-30", notices[1].Data["delivery_date"])

	assert.Equal(t, []string{"review/1:completed/bob"}, h.closes())
	assert.Empty(t, h.f.of(domain.ActSendReminder))
	assert.Empty(t, h.f.of(domain.ActRaiseEscalation))
}

func TestContractSpecialPathWithParallelCountersigns(t *testing.T) {
	h := newContractHarness(t, specialTerms(), nil)
	order := []string{domain.StepCountersignFinance, domain.StepCountersignProduction,
		domain.StepCountersignPurchasing, domain.StepCountersignQuality}
	var signs []*updateResult
	for i, step := range order {
		signs = append(signs, h.decide(time.Duration(i+1)*hour, step, 1, ActionApprove, "",
			map[string]any{"opinion": "OK from " + reviewers[step]}))
	}
	var midway domain.ContractState
	h.queryAt(2*hour+30*time.Minute, &midway)
	ops := h.decide(5*hour, domain.StepOpsReview, 1, ActionApprove, "", nil)
	gm := h.decide(6*hour, domain.StepGMApproval, 1, ActionApprove, "Approved", nil)
	h.stop(7 * hour)

	st := h.run()
	for _, s := range signs[:3] {
		assert.Equal(t, domain.ContractInReview, s.response(t).ProcessStatus)
	}
	assert.Equal(t, domain.ContractInReview, signs[3].response(t).ProcessStatus)
	assert.Equal(t, domain.ContractInReview, ops.response(t).ProcessStatus)
	assert.Equal(t, domain.ContractApproved, gm.response(t).ProcessStatus)

	// The four countersigns were created together at once, ops_review exactly once when
	// the last one signed, then gm_approval.
	steps, at := h.created()
	assert.ElementsMatch(t, []string{"countersign_production/1", "countersign_quality/1", "countersign_purchasing/1",
		"countersign_finance/1"}, steps[:4])
	assert.Equal(t, []string{"ops_review/1", "gm_approval/1"}, steps[4:])
	assert.Equal(t, []time.Duration{0, 0, 0, 0, 4 * hour, 5 * hour}, at)
	for _, step := range domain.Countersigns {
		task := h.task(step, 1)
		assert.Equal(t, []string{string(domain.ContractStepGroup(step))}, task.CandidateGroups)
		assert.Equal(t, countersignForm, task.Form)
		assert.Equal(t, 1, task.Priority)
		assert.Equal(t, []string{"alice"}, task.ExcludeUsers)
		assert.Equal(t, []any{"custom_spec"}, task.Context["requirements"])
	}
	assert.Equal(t, []string{"ops_head"}, h.task(domain.StepOpsReview, 1).CandidateGroups)
	assert.Equal(t, t0.Add(4*hour+48*hour), h.task(domain.StepOpsReview, 1).DueAt)
	gmTask := h.task(domain.StepGMApproval, 1)
	assert.Equal(t, []string{"general_manager"}, gmTask.CandidateGroups)
	assert.Len(t, gmTask.Context["reviews"], 5, "the GM sees the decisions so far")

	assert.ElementsMatch(t, []string{domain.StepCountersignQuality, domain.StepCountersignPurchasing}, midway.CurrentSteps)
	assert.Len(t, midway.OpenTasks, 2)
	assert.Equal(t, []string{"1/countersign_finance:approve/erin", "1/countersign_production:approve/grace"},
		decisions(midway.ReviewRecord))

	assert.Equal(t, domain.ContractApproved, st.Status)
	assert.Equal(t, domain.ClassSpecial, st.Class)
	assert.Equal(t, []string{"custom_spec"}, st.ClassReasons)
	assert.Equal(t, []string{
		"1/countersign_finance:approve/erin", "1/countersign_production:approve/grace",
		"1/countersign_purchasing:approve/heidi", "1/countersign_quality:approve/frank",
		"1/ops_review:approve/ivan", "1/gm_approval:approve/judy",
	}, decisions(st.ReviewRecord))
	assert.Equal(t, "OK from erin", st.ReviewRecord[0].Data["opinion"])

	// The read model followed each decision as it was made, and each stage.
	var current [][]string
	for _, c := range h.f.of(domain.ActProjectContract) {
		current = append(current, c.In.(domain.ContractProjection).State.CurrentSteps)
	}
	assert.Equal(t, [][]string{
		{}, domain.Countersigns,
		{"countersign_production", "countersign_quality", "countersign_purchasing"},
		{"countersign_quality", "countersign_purchasing"}, {"countersign_quality"}, {},
		{"ops_review"}, {}, {"gm_approval"}, {}, {},
	}, current)

	notices := h.notices()
	require.Len(t, notices, 2)
	assert.Equal(t, []string{"production", "quality", "purchasing", "finance", "ops_head", "general_manager"},
		notices[1].Groups)
	assert.Equal(t, []any{"custom_spec"}, notices[1].Data["requirements"])
	assert.Len(t, h.f.of(domain.ActAssignLedgerNo), 1)
}

func TestContractMajorPathWithMeeting(t *testing.T) {
	h := newContractHarness(t, majorTerms(), nil)
	for i, step := range domain.Countersigns {
		h.decide(hour+time.Duration(i)*time.Minute, step, 1, ActionApprove, "", nil)
	}
	h.decide(2*hour, domain.StepOpsReview, 1, ActionApprove, "", nil)
	var noAttendees, blankAttendee, noReport *updateResult
	h.at(2*hour+30*time.Minute, func() {
		req := func(data map[string]any) domain.CompleteTaskRequest {
			return domain.CompleteTaskRequest{TaskID: ctask(domain.StepReviewMeeting, 1), Action: ActionApprove, Actor: "judy", Data: data}
		}
		noAttendees = &updateResult{}
		h.send(noAttendees, domain.UpdateCompleteTask, req(map[string]any{"report": "r", "attendees": []any{}}))
		blankAttendee = &updateResult{}
		h.send(blankAttendee, domain.UpdateCompleteTask, req(map[string]any{"report": "r", "attendees": []any{"judy", " "}}))
		noReport = &updateResult{}
		h.send(noReport, domain.UpdateCompleteTask, req(map[string]any{"attendees": []any{"judy"}}))
	})
	meeting := h.decide(3*hour, domain.StepReviewMeeting, 1, ActionApprove, "", meetingReport)
	gm := h.decide(4*hour, domain.StepGMApproval, 1, ActionApprove, "", nil)
	h.stop(5 * hour)

	st := h.run()
	assert.Equal(t, []string{"attendees"}, fieldNames(t, noAttendees.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, []string{"attendees"}, fieldNames(t, blankAttendee.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, []string{"report"}, fieldNames(t, noReport.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, domain.ContractInReview, meeting.response(t).ProcessStatus)
	assert.Equal(t, domain.ContractApproved, gm.response(t).ProcessStatus)

	assert.Equal(t, domain.ClassMajor, st.Class)
	assert.Equal(t, []string{domain.ReasonStrategic}, st.ClassReasons)
	assert.Equal(t, domain.Route(domain.ClassMajor), st.Route)
	steps, at := h.created()
	assert.Equal(t, []string{"ops_review/1", "review_meeting/1", "gm_approval/1"}, steps[4:])
	assert.Equal(t, []time.Duration{hour + 3*time.Minute, 2 * hour, 3 * hour}, at[4:])
	meetingTask := h.task(domain.StepReviewMeeting, 1)
	assert.Equal(t, meetingForm, meetingTask.Form)
	assert.Equal(t, []string{"general_manager"}, meetingTask.CandidateGroups)
	assert.Equal(t, 2, meetingTask.Priority)

	require.Len(t, st.ReviewRecord, 7)
	rec := st.ReviewRecord[5]
	assert.Equal(t, domain.StepReviewMeeting, rec.Step)
	assert.Equal(t, "Capacity confirmed; go ahead.", rec.Data["report"])
	assert.Equal(t, []any{"judy", "ivan", "grace"}, rec.Data["attendees"])
	// The GM approves with the meeting's report in view.
	reviews := h.task(domain.StepGMApproval, 1).Context["reviews"].([]any)
	assert.Equal(t, "Capacity confirmed; go ahead.", reviews[5].(map[string]any)["data"].(map[string]any)["report"])
	assert.Equal(t, domain.ContractApproved, st.Status)
}

func TestContractRejectionAtEachStepThenRevisionThenApproval(t *testing.T) {
	for _, tc := range []struct {
		step  string
		terms domain.ContractTerms
		at    time.Duration // when the step decides: its stage's hour in approveRoute
	}{
		{domain.StepReview, standardTerms(), hour},
		{domain.StepCountersignQuality, specialTerms(), hour},
		{domain.StepOpsReview, specialTerms(), 2 * hour},
		{domain.StepReviewMeeting, majorTerms(), 3 * hour},
		{domain.StepGMApproval, specialTerms(), 3 * hour},
	} {
		t.Run(tc.step, func(t *testing.T) {
			h := newContractHarness(t, tc.terms, nil)
			class, _, err := domain.Classify(tc.terms, h.in.Policy.Rules)
			require.NoError(t, err)
			// Every stage before the rejecting step approves (with a comment from the
			// first one); the step rejects.
			var rej *updateResult
			var rejAt time.Duration
			for i, stage := range domain.RouteStages(class) {
				stageAt := hour + time.Duration(i)*hour
				if stageAt > tc.at {
					break
				}
				for j, step := range stage {
					d := stageAt + time.Duration(j)*time.Minute
					switch {
					case step == tc.step:
						var data map[string]any
						if step == domain.StepReviewMeeting {
							data = meetingReport
						}
						rejAt = d + 30*time.Second
						rej = h.decide(rejAt, step, 1, ActionReject, "Delivery date is not feasible", data)
					case i == 0 && j == 0:
						h.decide(d, step, 1, ActionApprove, "Looks fine", nil)
					case stageAt < tc.at:
						var data map[string]any
						if step == domain.StepReviewMeeting {
							data = meetingReport
						}
						h.decide(d, step, 1, ActionApprove, "", data)
					}
				}
			}
			late := h.decide(tc.at+10*time.Minute, domain.StepCountersignFinance, 1, ActionApprove, "", nil)
			var sentBack domain.ContractState
			h.queryAt(tc.at+20*time.Minute, &sentBack)
			// The submitter moves the delivery date; revision 2 goes the whole route.
			date := "2025-09-30"
			revise := h.updateAt(10*hour, domain.UpdateReviseContract, domain.ContractRevisionRequest{
				Actor: "alice", Changes: domain.ContractChanges{DeliveryDate: &date}, Comment: "Moved to September",
			})
			end := h.approveRoute(11*hour, 2, class)
			h.stop(end + hour)

			st := h.run()
			require.NotNil(t, rej)
			assert.Equal(t, domain.ContractChangesRequested, rej.response(t).ProcessStatus)
			assert.Equal(t, domain.ContractChangesRequested, sentBack.Status)
			assert.Empty(t, sentBack.CurrentSteps)
			assert.Empty(t, sentBack.OpenTasks)

			// The rejection cancelled the other open tasks of its stage.
			var cancelled []string
			for _, c := range h.f.of(domain.ActCloseTask) {
				if in := c.In.(domain.CloseTaskInput); in.Status == domain.TaskCancelled {
					cancelled = append(cancelled, in.TaskID)
					assert.Equal(t, t0.Add(rejAt), c.At)
				}
			}
			if tc.step == domain.StepCountersignQuality {
				// production had approved already.
				assert.ElementsMatch(t, []string{ctask(domain.StepCountersignPurchasing, 1),
					ctask(domain.StepCountersignFinance, 1)}, cancelled)
			} else {
				assert.Empty(t, cancelled)
			}
			late.rejectedWith(t, domain.ErrTypeTaskClosed)

			// The submitter got every comment of revision 1.
			var mails []domain.NotifyInput
			for _, n := range h.notices() {
				if n.Template == domain.TmplContractChangesRequested {
					mails = append(mails, n)
				}
			}
			require.Len(t, mails, 1)
			mail := mails[0]
			assert.Equal(t, []string{"alice"}, mail.Users)
			assert.Equal(t, contractTestWorkflowID+"/changes_requested/1", mail.KeyPrefix)
			assert.Equal(t, tc.step, mail.Data["rejected_step"])
			assert.Equal(t, reviewers[tc.step], mail.Data["rejected_by"])
			comments := mail.Data["comments"].([]any)
			var said []string
			for _, c := range comments {
				m := c.(map[string]any)
				said = append(said, fmt.Sprintf("%s:%v", m["step"], m["comment"]))
			}
			want := []string{}
			if first := domain.RouteStages(class)[0][0]; first != tc.step {
				want = append(want, first+":Looks fine")
			}
			want = append(want, tc.step+":Delivery date is not feasible")
			if tc.step == domain.StepReviewMeeting {
				// A meeting's report counts as a comment too: the meeting that approved
				// nothing here is the rejecting one.
				assert.Equal(t, "Capacity confirmed; go ahead.", comments[len(comments)-1].(map[string]any)["report"])
			}
			assert.Equal(t, want, said)

			// Revision 2 was classified again and reviewed from the first step.
			got := revise.value.(domain.ContractState)
			assert.Equal(t, domain.ContractInReview, got.Status)
			assert.Equal(t, 2, got.Revision)
			assert.Equal(t, date, got.Terms.DeliveryDate)
			assert.Equal(t, domain.RouteStages(class)[0], got.CurrentSteps)
			assert.Len(t, got.OpenTasks, len(domain.RouteStages(class)[0]))
			first := h.task(domain.RouteStages(class)[0][0], 2)
			assert.Equal(t, t0.Add(10*hour), first.CreatedAt)
			assert.Equal(t, float64(2), first.Context["revision"])

			assert.Equal(t, domain.ContractApproved, st.Status)
			assert.Equal(t, 2, st.Revision)
			assert.Equal(t, 2, st.LastRevision)
			assert.Equal(t, "HT-2025-0042", st.LedgerNo)
			assert.Len(t, h.f.of(domain.ActAssignLedgerNo), 1)
			var rev1, rev2 []domain.ContractReview
			for _, r := range st.ReviewRecord {
				if r.Revision == 1 {
					rev1 = append(rev1, r)
				} else {
					rev2 = append(rev2, r)
				}
			}
			assert.Equal(t, ActionReject, rev1[len(rev1)-1].Decision)
			assert.Len(t, rev2, len(domain.Route(class)))
			assert.Equal(t, []string{"submitted:in_review", "changes_requested:changes_requested",
				"revised:in_review", "approved:approved"}, h.events())
			revised, _ := h.projection("revised")
			assert.Equal(t, "alice", revised.Audit.Actor)
			assert.Equal(t, "Moved to September", revised.Audit.Detail["comment"])
		})
	}
}

func TestContractRevisionIsClassifiedAgain(t *testing.T) {
	h := newContractHarness(t, standardTerms(), nil)
	h.decide(hour, domain.StepReview, 1, ActionReject, "Needs a custom spec", nil)
	var early, badCurrency *updateResult
	h.at(30*time.Minute, func() {
		early = &updateResult{}
		h.send(early, domain.UpdateReviseContract, domain.ContractRevisionRequest{Actor: "alice"})
	})
	h.at(2*hour, func() {
		badCurrency = &updateResult{}
		h.send(badCurrency, domain.UpdateReviseContract, domain.ContractRevisionRequest{
			Actor: "alice", Changes: domain.ContractChanges{Amount: &domain.Money{Amount: "1", Currency: "GBP"}},
		})
	})
	yes := true
	revise := h.updateAt(3*hour, domain.UpdateReviseContract, domain.ContractRevisionRequest{
		Actor: "alice", Changes: domain.ContractChanges{Requirements: &domain.RequirementChanges{CustomSpec: &yes}},
	})
	end := h.approveRoute(4*hour, 2, domain.ClassSpecial)
	h.stop(end + hour)

	st := h.run()
	early.rejectedWith(t, domain.ErrTypeNotAccepting)
	assert.Equal(t, []string{"amount.currency"}, fieldNames(t, badCurrency.rejectedWith(t, domain.ErrTypeInvalidData)))
	got := revise.value.(domain.ContractState)
	assert.Equal(t, domain.ClassSpecial, got.Class)
	assert.Equal(t, domain.Route(domain.ClassSpecial), got.Route)
	assert.Equal(t, domain.ClassSpecial, st.Class)
	assert.Equal(t, domain.ContractApproved, st.Status)
	steps, _ := h.created()
	assert.Equal(t, "review/1", steps[0])
	assert.Len(t, steps, 1+6)
	// The reviewers of revision 2 see what changed since revision 1, which was sent back.
	assert.Equal(t, map[string]any{
		"rejected_revision": float64(1),
		"requirements":      map[string]any{"from": []any{}, "to": []any{"custom_spec"}},
	}, h.task(domain.StepOpsReview, 2).Context["changed_since_rejected"])
	assert.NotContains(t, h.task(domain.StepReview, 1).Context, "changed_since_rejected")
	require.NotNil(t, st.Rejected)
	assert.Equal(t, 1, st.Rejected.Revision)
}

func TestContractWithdrawal(t *testing.T) {
	t.Run("during the countersigns", func(t *testing.T) {
		h := newContractHarness(t, specialTerms(), nil)
		h.decide(hour, domain.StepCountersignFinance, 1, ActionApprove, "", nil)
		w := h.updateAt(2*hour, domain.UpdateWithdrawContract, domain.ContractWithdrawRequest{Actor: "alice", Reason: "Customer cancelled"})
		st := h.run()

		got := w.value.(domain.ContractState)
		assert.Equal(t, domain.ContractWithdrawn, got.Status)
		assert.Empty(t, got.OpenTasks)
		assert.Equal(t, domain.ContractWithdrawn, st.Status)
		assert.Empty(t, st.CurrentSteps)
		assert.Empty(t, st.LedgerNo)
		assert.Equal(t, []string{"1/countersign_finance:approve/erin"}, decisions(st.ReviewRecord))
		cancelled := 0
		for _, c := range h.f.of(domain.ActCloseTask) {
			if c.In.(domain.CloseTaskInput).Status == domain.TaskCancelled {
				cancelled++
				assert.Equal(t, t0.Add(2*hour), c.At)
			}
		}
		assert.Equal(t, 3, cancelled)
		assert.Equal(t, []string{"submitted:in_review", "withdrawn:withdrawn"}, h.events())
		withdrawn, _ := h.projection("withdrawn")
		assert.Equal(t, "alice", withdrawn.Audit.Actor)
		assert.Equal(t, "Customer cancelled", withdrawn.Audit.Detail["reason"])
		assert.Empty(t, h.f.of(domain.ActAssignLedgerNo))
		assert.Empty(t, h.notices())
	})
	t.Run("after changes were requested", func(t *testing.T) {
		h := newContractHarness(t, standardTerms(), nil)
		h.decide(hour, domain.StepReview, 1, ActionReject, "Price too low", nil)
		w := h.updateAt(5*day, domain.UpdateWithdrawContract, domain.ContractWithdrawRequest{Actor: "alice"})
		st := h.run()
		assert.Equal(t, domain.ContractWithdrawn, w.value.(domain.ContractState).Status)
		assert.Equal(t, domain.ContractWithdrawn, st.Status)
		assert.Equal(t, []string{"submitted:in_review", "changes_requested:changes_requested", "withdrawn:withdrawn"}, h.events())
	})
	t.Run("racing a countersign", func(t *testing.T) {
		// Both accepted in the same instant: the countersign is honoured, the rest are
		// cancelled, and the contract is withdrawn.
		h := newContractHarness(t, specialTerms(), nil)
		var sign, w *updateResult
		h.at(hour, func() {
			sign = &updateResult{}
			h.send(sign, domain.UpdateCompleteTask, domain.CompleteTaskRequest{
				TaskID: ctask(domain.StepCountersignFinance, 1), Action: ActionApprove, Actor: "erin"})
			w = &updateResult{}
			h.send(w, domain.UpdateWithdrawContract, domain.ContractWithdrawRequest{Actor: "alice"})
		})
		st := h.run()
		assert.Equal(t, domain.ContractWithdrawn, sign.response(t).ProcessStatus)
		assert.Equal(t, domain.ContractWithdrawn, w.value.(domain.ContractState).Status)
		assert.Equal(t, []string{"1/countersign_finance:approve/erin"}, decisions(st.ReviewRecord))
		assert.ElementsMatch(t, []string{
			"countersign_finance/1:completed/erin", "countersign_production/1:cancelled/system",
			"countersign_quality/1:cancelled/system", "countersign_purchasing/1:cancelled/system",
		}, h.closes())
	})
	t.Run("racing the last approval", func(t *testing.T) {
		// The approval was accepted first, but the contract was not approved yet: the
		// withdrawal wins and no ledger number is taken.
		h := newContractHarness(t, standardTerms(), nil)
		var ok, w *updateResult
		h.at(hour, func() {
			ok = &updateResult{}
			h.send(ok, domain.UpdateCompleteTask, domain.CompleteTaskRequest{
				TaskID: ctask(domain.StepReview, 1), Action: ActionApprove, Actor: "bob"})
			w = &updateResult{}
			h.send(w, domain.UpdateWithdrawContract, domain.ContractWithdrawRequest{Actor: "alice"})
		})
		st := h.run()
		assert.Equal(t, domain.ContractWithdrawn, ok.response(t).ProcessStatus)
		assert.Equal(t, domain.ContractWithdrawn, st.Status)
		assert.Equal(t, []string{"1/review:approve/bob"}, decisions(st.ReviewRecord))
		assert.Empty(t, h.f.of(domain.ActAssignLedgerNo))
		assert.Empty(t, h.notices())
	})
	t.Run("not after approval", func(t *testing.T) {
		h := newContractHarness(t, standardTerms(), nil)
		h.decide(hour, domain.StepReview, 1, ActionApprove, "", nil)
		w := h.updateAt(2*hour, domain.UpdateWithdrawContract, domain.ContractWithdrawRequest{Actor: "alice"})
		h.stop(3 * hour)
		st := h.run()
		w.rejectedWith(t, domain.ErrTypeNotAccepting)
		assert.Equal(t, domain.ContractApproved, st.Status)
	})
}

func TestContractAmendments(t *testing.T) {
	h := newContractHarness(t, standardTerms(), nil)
	h.decide(hour, domain.StepReview, 1, ActionApprove, "", nil)

	// Amendment 1 (aaron, for alice) raises the amount: special now. It is approved.
	amount := domain.Money{Amount: "600000.00", Currency: "CNY"}
	var empty, noReason, reviseApproved *updateResult
	h.at(2*hour, func() {
		empty = &updateResult{}
		h.send(empty, domain.UpdateAmendContract, domain.ContractAmendRequest{Actor: "aaron", Reason: "x"})
		noReason = &updateResult{}
		h.send(noReason, domain.UpdateAmendContract, domain.ContractAmendRequest{Actor: "aaron",
			Changes: domain.ContractChanges{Amount: &domain.Money{Amount: "-1", Currency: "CNY"}}})
		reviseApproved = &updateResult{}
		h.send(reviseApproved, domain.UpdateReviseContract, domain.ContractRevisionRequest{Actor: "alice"})
	})
	amend1 := h.updateAt(3*hour, domain.UpdateAmendContract, domain.ContractAmendRequest{
		Actor: "aaron", Changes: domain.ContractChanges{Amount: &amount}, Reason: "Customer doubled the order",
	})
	second := h.updateAt(3*hour+time.Minute, domain.UpdateAmendContract, domain.ContractAmendRequest{
		Actor: "alice", Changes: domain.ContractChanges{Amount: &amount}, Reason: "again",
	})
	var during domain.ContractState
	h.queryAt(4*hour+30*time.Minute, &during)
	end := h.approveRoute(4*hour, 2, domain.ClassSpecial)

	// Amendment 2 changes the title only; the new route (special) rejects it at ops_review.
	title := "Pumps 2025, phase 2"
	amend2 := h.updateAt(end+hour, domain.UpdateAmendContract, domain.ContractAmendRequest{
		Actor: "alice", Changes: domain.ContractChanges{Title: &title}, Reason: "Rename",
	})
	for i, step := range domain.Countersigns {
		h.decide(end+2*hour+time.Duration(i)*time.Minute, step, 3, ActionApprove, "", nil)
	}
	rej := h.decide(end+3*hour, domain.StepOpsReview, 3, ActionReject, "Keep the name", nil)
	h.stop(end + 4*hour)

	st := h.run()
	assert.Equal(t, []string{"changes"}, fieldNames(t, empty.rejectedWith(t, domain.ErrTypeInvalidData)))
	assert.Equal(t, []string{"changes.amount", "reason"}, fieldNames(t, noReason.rejectedWith(t, domain.ErrTypeInvalidData)))
	reviseApproved.rejectedWith(t, domain.ErrTypeNotAccepting)
	second.rejectedWith(t, domain.ErrTypeNotAccepting)

	// Under review, both versions show: revision 1 in force, revision 2 amended.
	got := amend1.value.(domain.ContractState)
	assert.Equal(t, domain.ContractAmendmentReview, got.Status)
	for _, s := range []domain.ContractState{got, during} {
		assert.Equal(t, 1, s.Revision)
		assert.Equal(t, domain.ClassStandard, s.Class)
		assert.Equal(t, "100000.00", s.Terms.Amount.Amount)
		assert.Equal(t, "HT-2025-0042", s.LedgerNo)
		require.NotNil(t, s.Amendment)
		assert.Equal(t, 2, s.Amendment.Revision)
		assert.Equal(t, domain.ClassSpecial, s.Amendment.Class)
		assert.Equal(t, "600000.00", s.Amendment.Terms.Amount.Amount)
		assert.Equal(t, "Customer doubled the order", s.Amendment.Reason)
		assert.Equal(t, "aaron", s.Amendment.RequestedBy)
	}
	cs := h.task(domain.StepCountersignFinance, 2)
	assert.Equal(t, []string{"alice", "aaron"}, cs.ExcludeUsers, "neither the submitter nor the amender reviews")
	assert.Equal(t, "Countersign contract (finance) (amendment): Pumps 2025", cs.Title)
	amendCtx := cs.Context["amendment"].(map[string]any)
	assert.Equal(t, float64(1), amendCtx["in_force_revision"])
	assert.Equal(t, "Customer doubled the order", amendCtx["reason"])

	// After both: revision 2 in force, the rejected revision 3 dropped.
	assert.Equal(t, domain.ContractApproved, rej.response(t).ProcessStatus)
	assert.Equal(t, domain.ContractAmendmentReview, amend2.value.(domain.ContractState).Status)
	assert.Equal(t, domain.ContractApproved, st.Status)
	assert.Equal(t, 2, st.Revision)
	assert.Equal(t, 3, st.LastRevision)
	assert.Equal(t, domain.ClassSpecial, st.Class)
	assert.Equal(t, "600000.00", st.Terms.Amount.Amount)
	assert.Equal(t, "Pumps 2025", st.Title)
	assert.Nil(t, st.Amendment)
	assert.Equal(t, 1, st.Amendments)
	assert.Equal(t, "HT-2025-0042", st.LedgerNo, "an amendment keeps the ledger number")
	assert.Equal(t, t0.Add(hour), *st.ApprovedAt)
	assert.Len(t, h.f.of(domain.ActAssignLedgerNo), 1)
	assert.Equal(t, "3/ops_review:reject/ivan", decisions(st.ReviewRecord)[len(st.ReviewRecord)-1])

	assert.Equal(t, []string{
		"submitted:in_review", "approved:approved",
		"amendment_requested:amendment_review", "amendment_approved:approved",
		"amendment_requested:amendment_review", "amendment_rejected:approved",
	}, h.events())
	var mails []string
	for _, n := range h.notices() {
		mails = append(mails, fmt.Sprintf("%s %v %v %v", n.KeyPrefix[len(contractTestWorkflowID)+1:], n.Template, n.Users, n.Groups))
	}
	assert.Equal(t, []string{
		"approved/1 contract_approved [alice] []",
		"department_notice/1 contract_department_notice [] [sales_manager]",
		"amendment_approved/2 contract_approved [alice aaron] []",
		"department_notice/2 contract_department_notice [] [production quality purchasing finance ops_head general_manager]",
		"amendment_rejected/3 contract_amendment_rejected [alice] []",
	}, mails)
	last := h.notices()[4]
	assert.Equal(t, "Rename", last.Data["reason"])
	assert.Equal(t, "Keep the name", last.Data["comments"].([]any)[0].(map[string]any)["comment"])
}

func TestContractRemindsAndEscalates(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terms    domain.ContractTerms
		steps    int
		fallback domain.Role
	}{
		{"standard review", standardTerms(), 1, domain.RoleDeputyGM},
		{"countersigns", specialTerms(), 4, domain.RoleOpsHead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newContractHarness(t, tc.terms, nil)
			h.stop(100 * hour)
			st := h.run()
			assert.Equal(t, domain.ContractInReview, st.Status)

			reminders := h.f.of(domain.ActSendReminder)
			require.Len(t, reminders, tc.steps)
			for _, r := range reminders {
				assert.Equal(t, 24*hour, r.At.Sub(t0), "reminder at 24h")
				assert.Equal(t, t0.Add(48*hour), r.In.(domain.ReminderInput).DueAt)
			}
			esc := h.f.of(domain.ActRaiseEscalation)
			require.Len(t, esc, 2*tc.steps)
			for i, c := range esc {
				in := c.In.(domain.EscalationInput)
				assert.Equal(t, domain.ProcessContract, in.Process)
				if i < tc.steps {
					assert.Equal(t, 48*hour, c.At.Sub(t0), "level 1 at 48h")
					assert.Equal(t, domain.EscalationRung{Level: 1, TargetAssigneeManager: true, TargetRole: tc.fallback}, in.Rung)
				} else {
					assert.Equal(t, 96*hour, c.At.Sub(t0), "level 2 at 96h")
					assert.Equal(t, domain.EscalationRung{Level: 2, After: 48 * hour, TargetRole: domain.RoleGeneralManager}, in.Rung)
				}
			}
		})
	}
}

func TestContractDelegationAndSelfReview(t *testing.T) {
	// bob, a sales manager, submits a contract himself. CreateTask excludes him; with
	// nobody else in sales_manager it gives the review to his manager ken, who is out of
	// office: it goes to ken's delegate judy.
	h := newContractHarness(t, standardTerms(), func(in *domain.ContractInput) { in.SubmittedBy = "bob" })
	h.f.route = func(in domain.CreateTaskInput) domain.CreateTaskResult {
		return domain.CreateTaskResult{TaskID: in.TaskID, Assignee: "judy", DelegatedFrom: "ken"}
	}
	var during domain.ContractState
	h.queryAt(hour, &during)
	ok := h.updateAt(2*hour, domain.UpdateCompleteTask, domain.CompleteTaskRequest{
		TaskID: ctask(domain.StepReview, 1), Action: ActionApprove, Actor: "judy",
	})
	h.stop(3 * hour)

	st := h.run()
	review := h.task(domain.StepReview, 1)
	assert.Equal(t, []string{"bob"}, review.ExcludeUsers)
	assert.Equal(t, "bob", review.Context["submitted_by"])
	require.Len(t, during.OpenTasks, 1)
	assert.Equal(t, domain.ContractTask{
		TaskID: ctask(domain.StepReview, 1), Step: domain.StepReview, Assignee: "judy", DelegatedFrom: "ken",
		DueAt: t0.Add(48 * hour),
	}, during.OpenTasks[0])
	assert.Equal(t, domain.ContractApproved, ok.response(t).ProcessStatus)
	assert.Equal(t, []string{"1/review:approve/judy"}, decisions(st.ReviewRecord))
	assert.Equal(t, []string{"bob"}, h.notices()[0].Users)
}

func TestContractContinuesAsNewAndResumes(t *testing.T) {
	h := newContractHarness(t, standardTerms(), func(in *domain.ContractInput) { in.Policy.MaxReviewsPerRun = 1 })
	h.decide(hour, domain.StepReview, 1, ActionApprove, "", nil)
	h.env.ExecuteWorkflow(ContractWorkflow, h.in)
	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "got %v", h.env.GetWorkflowError())
	var next domain.ContractInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Resume)
	assert.Equal(t, domain.ContractApproved, next.Resume.State.Status)
	assert.Equal(t, "HT-2025-0042", next.Resume.State.LedgerNo)
	assert.Equal(t, []string{"1/review:approve/bob"}, decisions(next.Resume.State.ReviewRecord))
	assert.Equal(t, 2, next.Resume.AuditSeq)

	// The next run waits for amendments with the state carried over.
	h2 := newContractHarness(t, standardTerms(), nil)
	next.Policy.MaxReviewsPerRun = 0
	h2.in = next
	title := "Renamed"
	amend := h2.updateAt(hour, domain.UpdateAmendContract, domain.ContractAmendRequest{
		Actor: "alice", Changes: domain.ContractChanges{Title: &title}, Reason: "Typo",
	})
	h2.decide(2*hour, domain.StepReview, 2, ActionApprove, "", nil)
	h2.stop(3 * hour)
	st := h2.run()
	assert.Equal(t, domain.ContractAmendmentReview, amend.value.(domain.ContractState).Status)
	assert.Equal(t, domain.ContractApproved, st.Status)
	assert.Equal(t, "Renamed", st.Title)
	assert.Equal(t, 2, st.Revision)
	assert.Equal(t, []string{"1/review:approve/bob", "2/review:approve/bob"}, decisions(st.ReviewRecord))
	assert.Equal(t, []string{"amendment_requested:amendment_review", "amendment_approved:approved"}, h2.events())
	keys := []string{}
	for _, c := range h2.f.of(domain.ActProjectContract) {
		if k := c.In.(domain.ContractProjection).Audit.Key; k != "" {
			keys = append(keys, k)
		}
	}
	assert.Equal(t, []string{contractTestWorkflowID + "/amendment_requested/3", contractTestWorkflowID + "/amendment_approved/4"},
		keys, "audit keys go on from the previous run")
	assert.False(t, slices.ContainsFunc(h2.f.of(domain.ActProjectContract), func(c call) bool {
		return c.In.(domain.ContractProjection).Input != nil
	}), "the contract is not inserted again")
}

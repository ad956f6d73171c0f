package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// t0 is when every test workflow starts (and its complaint is received).
var t0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

const testWorkflowID = "complaint/cmp_test"

// call is one recorded activity invocation.
type call struct {
	Name string
	At   time.Time // workflow time of the call
	In   any
}

// fakes stands in for every activity, recording calls with the test clock.
type fakes struct {
	env   *testsuite.TestWorkflowEnvironment
	mu    sync.Mutex
	calls []call
	// delegates maps a username to the delegate CreateTask routes tasks to.
	delegates map[string]string
	// failEmails maps a template to the reason SendEmail reports it failed for good.
	failEmails map[string]string
	// failReminder, when set, can fail a SendReminder call (it is then retried).
	failReminder func(in domain.ReminderInput, now time.Time) error
	// route, when set, decides whom CreateTask gives a task to (after delegates).
	route func(domain.CreateTaskInput) domain.CreateTaskResult
	// queued maps the idempotency key of each queued e-mail to its template.
	queued map[string]string
	// failFeedback, when set, can fail a RequestFeedback attempt (it is then retried).
	failFeedback func(attempt int) error
	// failDeliver, when set, can fail a DeliverEmails attempt (it is then retried).
	failDeliver func(in domain.DeliverEmailsInput, attempt int) error
	// failLinkReminder, when set, can fail a SendLinkReminder attempt (it is then retried).
	failLinkReminder func(in domain.LinkReminderInput) error
}

func (f *fakes) record(name string, in any) {
	in = roundTrip(in)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{Name: name, At: f.env.Now().UTC(), In: in})
}

// roundTrip returns in as an activity sees it in production, through the data
// converter: the test environment hands local activities the workflow's values as they
// are, so a []string in a map stays a []string instead of arriving as []any.
func roundTrip(in any) any {
	dc := converter.GetDefaultDataConverter()
	p, err := dc.ToPayload(in)
	if err != nil {
		panic(err)
	}
	out := reflect.New(reflect.TypeOf(in))
	if err := dc.FromPayload(p, out.Interface()); err != nil {
		panic(err)
	}
	return out.Elem().Interface()
}

// of returns the calls of one activity, in order.
func (f *fakes) of(name string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakes) register(env *testsuite.TestWorkflowEnvironment) {
	reg := func(name string, fn any) {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg(domain.ActCreateTask, func(_ context.Context, in domain.CreateTaskInput) (domain.CreateTaskResult, error) {
		f.record(domain.ActCreateTask, in)
		res := domain.CreateTaskResult{TaskID: in.TaskID, Assignee: in.Assignee}
		if d, ok := f.delegates[in.Assignee]; ok {
			res.Assignee, res.DelegatedFrom = d, in.Assignee
		}
		if f.route != nil {
			res = f.route(in)
		}
		return res, nil
	})
	reg(domain.ActCloseTask, func(_ context.Context, in domain.CloseTaskInput) error {
		f.record(domain.ActCloseTask, in)
		return nil
	})
	reg(domain.ActSendReminder, func(_ context.Context, in domain.ReminderInput) error {
		if f.failReminder != nil {
			if err := f.failReminder(in, f.env.Now().UTC()); err != nil {
				return err
			}
		}
		f.record(domain.ActSendReminder, in)
		return nil
	})
	reg(domain.ActRaiseEscalation, func(_ context.Context, in domain.EscalationInput) (domain.EscalationResult, error) {
		f.record(domain.ActRaiseEscalation, in)
		return domain.EscalationResult{
			EscalationID: fmt.Sprintf("esc_%s_%d", in.Step, in.Rung.Level),
			Targets:      []string{string(in.Rung.TargetRole)},
		}, nil
	})
	reg(domain.ActRecordAudit, func(_ context.Context, in domain.AuditInput) error {
		f.record(domain.ActRecordAudit, in)
		return nil
	})
	reg(domain.ActSendEmail, func(_ context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
		f.record(domain.ActSendEmail, in)
		if reason, ok := f.failEmails[in.Template]; ok {
			return domain.SendEmailResult{EmailID: "eml_" + in.Template, Status: "failed", Error: reason}, nil
		}
		return domain.SendEmailResult{EmailID: "eml_" + in.Template, Status: "sent"}, nil
	})
	reg(domain.ActQueueEmail, func(_ context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
		f.record(domain.ActQueueEmail, in)
		f.mu.Lock()
		f.queued[in.IdempotencyKey] = in.Template
		f.mu.Unlock()
		return domain.SendEmailResult{EmailID: "eml_" + in.Template, Status: "queued"}, nil
	})
	reg(domain.ActDeliverEmails, func(ctx context.Context, in domain.DeliverEmailsInput) (domain.DeliverEmailsResult, error) {
		if f.failDeliver != nil {
			if err := f.failDeliver(in, int(activity.GetInfo(ctx).Attempt)); err != nil {
				return domain.DeliverEmailsResult{}, err
			}
		}
		f.record(domain.ActDeliverEmails, in)
		f.mu.Lock()
		defer f.mu.Unlock()
		var res domain.DeliverEmailsResult
		for _, key := range in.Keys {
			template, ok := f.queued[key]
			if !ok {
				return res, temporal.NewNonRetryableApplicationError("not queued: "+key, "InvalidEmail", nil)
			}
			sent := domain.SendEmailResult{EmailID: "eml_" + template, Status: "sent"}
			if reason, ok := f.failEmails[template]; ok {
				sent.Status, sent.Error = "failed", reason
			}
			res.Emails = append(res.Emails, domain.DeliveredEmail{Key: key, SendEmailResult: sent})
		}
		return res, nil
	})
	reg(domain.ActProjectComplaint, func(_ context.Context, in domain.ComplaintProjection) error {
		f.record(domain.ActProjectComplaint, in)
		return nil
	})
	reg(domain.ActProjectContract, func(_ context.Context, in domain.ContractProjection) error {
		f.record(domain.ActProjectContract, in)
		return nil
	})
	reg(domain.ActAssignLedgerNo, func(_ context.Context, in domain.LedgerNoInput) (domain.LedgerNoResult, error) {
		f.record(domain.ActAssignLedgerNo, in)
		return domain.LedgerNoResult{LedgerNo: fmt.Sprintf("HT-%d-0042", in.At.Year())}, nil
	})
	reg(domain.ActNotify, func(_ context.Context, in domain.NotifyInput) (domain.NotifyResult, error) {
		f.record(domain.ActNotify, in)
		return domain.NotifyResult{Recipients: append(append([]string{}, in.Users...), in.Groups...)}, nil
	})
	// QueueNotice queues one e-mail per user, per group and per user whose manager it
	// goes to (a group stands for its members here, a user for their manager).
	reg(domain.ActQueueNotice, func(_ context.Context, in domain.NotifyInput) (domain.QueueNoticeResult, error) {
		f.record(domain.ActQueueNotice, in)
		f.mu.Lock()
		defer f.mu.Unlock()
		res := domain.QueueNoticeResult{Keys: []string{}, Recipients: []string{}}
		for _, to := range append(append(append([]string{}, in.Users...), in.Groups...), in.ManagersOf...) {
			key := in.KeyPrefix + "/" + to
			f.queued[key] = in.Template
			res.Keys, res.Recipients = append(res.Keys, key), append(res.Recipients, to)
		}
		return res, nil
	})
	reg(domain.ActCreateCustomerLink, func(_ context.Context, in domain.CreateLinkInput) (domain.CreateLinkResult, error) {
		f.record(domain.ActCreateCustomerLink, in)
		f.mu.Lock()
		f.queued[in.Key] = in.Template
		f.mu.Unlock()
		return domain.CreateLinkResult{LinkID: domain.LinkID(in.Key), EmailKey: in.Key,
			Email: domain.SendEmailResult{EmailID: "eml_" + in.Template, Status: "queued"}}, nil
	})
	reg(domain.ActSendLinkReminder, func(_ context.Context, in domain.LinkReminderInput) (domain.LinkReminderResult, error) {
		f.record(domain.ActSendLinkReminder, in)
		if f.failLinkReminder != nil {
			if err := f.failLinkReminder(in); err != nil {
				return domain.LinkReminderResult{}, err
			}
		}
		return domain.LinkReminderResult{Email: domain.SendEmailResult{EmailID: "eml_" + in.Template, Status: "sent"}}, nil
	})
	reg(domain.ActRecordLinkAnswer, func(_ context.Context, in domain.RecordLinkAnswerInput) error {
		f.record(domain.ActRecordLinkAnswer, in)
		return nil
	})
	reg(domain.ActExpireCustomerLink, func(_ context.Context, in domain.ExpireLinkInput) error {
		f.record(domain.ActExpireCustomerLink, in)
		return nil
	})
	reg(domain.ActRequestFeedback, func(ctx context.Context, in domain.FeedbackRequestInput) (domain.FeedbackRequestResult, error) {
		if f.failFeedback != nil {
			if err := f.failFeedback(int(activity.GetInfo(ctx).Attempt)); err != nil {
				return domain.FeedbackRequestResult{}, err
			}
		}
		f.record(domain.ActRequestFeedback, in)
		res := domain.FeedbackRequestResult{URL: fmt.Sprintf("http://test/c/feedback/%d", in.Round)}
		if in.QueueOnly {
			res.EmailKey = fmt.Sprintf("%s/feedback/%d", in.WorkflowID, in.Round)
			res.Email = domain.SendEmailResult{EmailID: "eml_feedback", Status: "queued"}
			f.mu.Lock()
			f.queued[res.EmailKey] = domain.TmplFeedbackRequest
			f.mu.Unlock()
		}
		return res, nil
	})
}

// times returns the call times as durations since t0.
func times(calls []call) []time.Duration {
	out := []time.Duration{}
	for _, c := range calls {
		out = append(out, c.At.Sub(t0))
	}
	return out
}

// updateResult collects what the Update callbacks reported.
type updateResult struct {
	mu       sync.Mutex
	accepted bool
	rejected error
	done     bool
	value    any
	err      error
}

func (u *updateResult) callbacks() *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept: func() { u.mu.Lock(); u.accepted = true; u.mu.Unlock() },
		OnReject: func(err error) { u.mu.Lock(); u.rejected = err; u.mu.Unlock() },
		OnComplete: func(v any, err error) {
			u.mu.Lock()
			u.done, u.value, u.err = true, v, err
			u.mu.Unlock()
		},
	}
}

// response returns the complete-task result, failing the test if there is none.
func (u *updateResult) response(t *testing.T) domain.CompleteTaskResponse {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rejected != nil || !u.done || u.err != nil {
		t.Fatalf("update did not complete: rejected=%v done=%v err=%v", u.rejected, u.done, u.err)
	}
	r, ok := u.value.(domain.CompleteTaskResponse)
	if !ok {
		t.Fatalf("update result is %T, want CompleteTaskResponse", u.value)
	}
	return r
}

// rejectedWith asserts the update was rejected by its validator with errType, and returns
// the application error.
func (u *updateResult) rejectedWith(t *testing.T, errType string) *temporal.ApplicationError {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	var appErr *temporal.ApplicationError
	if !errors.As(u.rejected, &appErr) {
		t.Fatalf("update not rejected with an application error: rejected=%v accepted=%v", u.rejected, u.accepted)
	}
	if appErr.Type() != errType {
		t.Fatalf("rejection type = %q (%v), want %q", appErr.Type(), appErr, errType)
	}
	if u.accepted {
		t.Fatalf("a rejected update was also accepted")
	}
	return appErr
}

// fieldNames returns the field names in an InvalidData rejection.
func fieldNames(t *testing.T, appErr *temporal.ApplicationError) []string {
	t.Helper()
	var fields []domain.FieldError
	if err := appErr.Details(&fields); err != nil {
		t.Fatalf("details: %v", err)
	}
	var names []string
	for _, f := range fields {
		names = append(names, f.Field)
	}
	return names
}

// newTestEnv returns a quiet test environment starting at t0 with the fake activities.
func newTestEnv(workflowID string) (*testsuite.TestWorkflowEnvironment, *fakes) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflowID, TaskQueue: domain.TaskQueue})
	f := &fakes{env: env, delegates: map[string]string{}, failEmails: map[string]string{}, queued: map[string]string{}}
	f.register(env)
	return env, f
}

// harness runs one ComplaintWorkflow with fake activities and scripted human actions.
type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	f   *fakes
	in  domain.ComplaintInput
	n   int // update ids

	fbRound        int  // feedback rounds scripted so far
	legacyFeedback bool // feedback through submit-feedback (see legacy)
}

func newHarness(t *testing.T, mod func(*domain.ComplaintInput)) *harness {
	env, f := newTestEnv(testWorkflowID)
	env.RegisterWorkflow(ComplaintWorkflow)
	in := domain.ComplaintInput{
		ID: "cmp_test", CustomerID: "cus_1", CustomerName: "ACME", CustomerEmail: "buyer@acme.test",
		CustomerTier: "B", Locale: "en", OwnerRep: "alice", Channel: "email",
		Subject: "Broken pump", Description: "It leaks", Severity: "normal",
		FiledBy: "carol", ReceivedAt: t0, Policy: domain.DefaultComplaintPolicy(),
	}
	if mod != nil {
		mod(&in)
	}
	return &harness{t: t, env: env, f: f, in: in}
}

// taskID is the id of a complaint task of this test's workflow.
func taskID(step string, round int, key string) string {
	return domain.TaskID(testWorkflowID, step, round, key)
}

// at runs fn at workflow time t0+d.
func (h *harness) at(d time.Duration, fn func()) {
	h.env.RegisterDelayedCallback(fn, d)
}

// update sends an Update now (call it from inside at).
func (h *harness) update(name string, arg any) *updateResult {
	u := &updateResult{}
	h.send(u, name, arg)
	return u
}

func (h *harness) send(u *updateResult, name string, arg any) {
	h.n++
	h.env.UpdateWorkflow(name, fmt.Sprintf("u%d", h.n), u.callbacks(), arg)
}

func completeRequest(step string, round int, key, action, actor string, data map[string]any) domain.CompleteTaskRequest {
	return domain.CompleteTaskRequest{TaskID: taskID(step, round, key), Action: action, Actor: actor, Data: data}
}

// completeNow completes a task now (call it from inside at).
func (h *harness) completeNow(step string, round int, key, action, actor string, data map[string]any) *updateResult {
	return h.update(domain.UpdateCompleteTask, completeRequest(step, round, key, action, actor, data))
}

// complete completes a task at t0+d and returns the update's result (filled once run).
func (h *harness) complete(d time.Duration, step string, round int, key, action, actor string, data map[string]any) *updateResult {
	u := &updateResult{}
	h.at(d, func() { h.send(u, domain.UpdateCompleteTask, completeRequest(step, round, key, action, actor, data)) })
	return u
}

// feedback submits the customer's feedback to the next round's link at t0+d: through
// its customer link (customer-link-answer), or for a run from before customer links
// (legacyFeedback) through submit-feedback.
func (h *harness) feedback(d time.Duration, score int, comment string) *updateResult {
	u := &updateResult{}
	h.fbRound++
	round := h.fbRound
	h.at(d, func() {
		if h.legacyFeedback {
			h.send(u, domain.UpdateSubmitFeedback, domain.Feedback{Score: score, Comment: comment})
			return
		}
		h.send(u, domain.UpdateLinkAnswer, feedbackAnswer(round, map[string]any{"score": score, "comment": comment}))
	})
	return u
}

// feedbackAnswer is an answer to the complaint feedback link of round.
func feedbackAnswer(round int, answer map[string]any) domain.LinkAnswer {
	return domain.LinkAnswer{LinkID: domain.LinkID(fmt.Sprintf("%s/feedback/%d", testWorkflowID, round)),
		Purpose: domain.PurposeComplaintFeedback, Answer: answer}
}

// legacy makes the run one from before customer links.
func (h *harness) legacy() {
	h.legacyFeedback = true
	h.env.OnGetVersion(versionCustomerLinks, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
}

// processStatus is the process status an Update returned: a feedback answer's, by
// either Update, or a task completion's.
func (u *updateResult) processStatus(t *testing.T) string {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rejected != nil || !u.done || u.err != nil {
		t.Fatalf("update did not complete: rejected=%v done=%v err=%v", u.rejected, u.done, u.err)
	}
	switch v := u.value.(type) {
	case domain.ComplaintState:
		return v.Status
	case domain.LinkAnswerResult:
		return v.ProcessStatus
	case domain.CompleteTaskResponse:
		return v.ProcessStatus
	}
	t.Fatalf("update result is %T", u.value)
	return ""
}

// run executes the workflow to its end and returns its result.
func (h *harness) run() (domain.ComplaintState, error) {
	h.t.Helper()
	h.env.ExecuteWorkflow(ComplaintWorkflow, h.in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	var st domain.ComplaintState
	err := h.env.GetWorkflowError()
	if err == nil {
		err = h.env.GetWorkflowResult(&st)
	}
	return st, err
}

// statuses lists the status and audit event of each projection.
func (h *harness) statuses() []string {
	var out []string
	for _, c := range h.f.of(domain.ActProjectComplaint) {
		p := c.In.(domain.ComplaintProjection)
		out = append(out, p.Audit.Event+":"+p.Status)
	}
	return out
}

// projection returns the first projection with the audit event, failing if none.
func (h *harness) projection(event string) (domain.ComplaintProjection, time.Time) {
	h.t.Helper()
	for _, c := range h.f.of(domain.ActProjectComplaint) {
		if p := c.In.(domain.ComplaintProjection); p.Audit.Event == event {
			return p, c.At
		}
	}
	h.t.Fatalf("no projection with event %q; have %s", event, strings.Join(h.statuses(), ", "))
	return domain.ComplaintProjection{}, time.Time{}
}

// escalationProjection returns the first projection of an escalation level.
func (h *harness) escalationProjection() domain.ComplaintProjection {
	h.t.Helper()
	for _, c := range h.f.of(domain.ActProjectComplaint) {
		if p := c.In.(domain.ComplaintProjection); p.EscalationLevel != nil {
			return p
		}
	}
	h.t.Fatal("no escalation level projected")
	return domain.ComplaintProjection{}
}

// templates lists the e-mail templates sent, in order.
func (h *harness) templates() []string {
	var out []string
	for _, c := range h.emails() {
		out = append(out, c.In.(domain.SendEmailInput).Template)
	}
	return out
}

// emails lists the e-mails to the customer, sent (SendEmail, runs from before
// versionLocalWrites) or queued (QueueEmail), in order, with when.
func (h *harness) emails() []call {
	return append(h.f.of(domain.ActSendEmail), h.f.of(domain.ActQueueEmail)...)
}

// createdTasks lists the CreateTask inputs, in order.
func (h *harness) createdTasks() []domain.CreateTaskInput {
	var out []domain.CreateTaskInput
	for _, c := range h.f.of(domain.ActCreateTask) {
		out = append(out, c.In.(domain.CreateTaskInput))
	}
	return out
}

// task returns the CreateTask input of one task, failing if it was not created.
func (h *harness) task(step string, round int, key string) domain.CreateTaskInput {
	h.t.Helper()
	id := taskID(step, round, key)
	for _, in := range h.createdTasks() {
		if in.TaskID == id {
			return in
		}
	}
	h.t.Fatalf("task %s/%d/%s was not created", step, round, key)
	return domain.CreateTaskInput{}
}

// escalations lists "step:level" of each escalation raised.
func (h *harness) escalations() []string {
	out := []string{}
	for _, c := range h.f.of(domain.ActRaiseEscalation) {
		in := c.In.(domain.EscalationInput)
		out = append(out, fmt.Sprintf("%s:%d", in.Step, in.Rung.Level))
	}
	return out
}

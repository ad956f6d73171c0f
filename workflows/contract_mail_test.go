package workflows

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// deliveries lists the DeliverEmails inputs that succeeded, with when.
func (h *contractHarness) deliveries() []call { return h.f.of(domain.ActDeliverEmails) }

// deliveredKeys lists the e-mail keys of every successful DeliverEmails, in order.
func (h *contractHarness) deliveredKeys() []string {
	var keys []string
	for _, c := range h.deliveries() {
		keys = append(keys, c.In.(domain.DeliverEmailsInput).Keys...)
	}
	return keys
}

// completedAt completes a task at t0+d and records the workflow time its Update answered.
func (h *contractHarness) completedAt(d time.Duration, step string, revision int, action, comment string) (*updateResult, func() time.Time) {
	u := &updateResult{}
	var mu sync.Mutex
	var at time.Time
	h.at(d, func() {
		h.n++
		cb := u.callbacks()
		done := cb.OnComplete
		cb.OnComplete = func(v any, err error) {
			mu.Lock()
			at = h.env.Now().UTC()
			mu.Unlock()
			done(v, err)
		}
		h.env.UpdateWorkflow(domain.UpdateCompleteTask, "c"+step, cb, domain.CompleteTaskRequest{
			TaskID: ctask(step, revision), Action: action, Actor: reviewers[step], Comment: comment,
		})
	})
	return u, func() time.Time { mu.Lock(); defer mu.Unlock(); return at }
}

// A decision's notice is queued in the outbox with the step and delivered in the
// background from the next waiting point on: the complete-task Update answers while the
// mail provider still fails, and the workflow ends only once the delivery is done.
func TestContractQueuesNoticesAndDeliversThemInTheBackground(t *testing.T) {
	h := newContractHarness(t, standardTerms(), nil)
	key := contractTestWorkflowID + "/changes_requested/1/alice"
	// The provider is down for the first three attempts (1 s, 2 s, 4 s of backoff).
	h.f.failDeliver = func(in domain.DeliverEmailsInput, attempt int) error {
		if len(in.Keys) > 0 && in.Keys[0] == key && attempt <= 3 {
			return errors.New("sendgrid: 503")
		}
		return nil
	}
	rej, answered := h.completedAt(hour, domain.StepReview, 1, ActionReject, "Price too low")
	w := h.updateAt(hour+time.Second, domain.UpdateWithdrawContract, domain.ContractWithdrawRequest{Actor: "alice"})
	st := h.run()

	assert.Equal(t, domain.ContractChangesRequested, rej.response(t).ProcessStatus)
	assert.Equal(t, t0.Add(hour), answered(), "the rejection waited for the mail provider")
	assert.Equal(t, domain.ContractWithdrawn, w.value.(domain.ContractState).Status)
	assert.Equal(t, domain.ContractWithdrawn, st.Status)

	assert.Empty(t, h.f.of(domain.ActNotify), "new runs never send in the main flow")
	queued := h.f.of(domain.ActQueueNotice)
	require.Len(t, queued, 1)
	assert.Equal(t, t0.Add(hour), queued[0].At, "queued with the step")
	in := queued[0].In.(domain.NotifyInput)
	assert.Equal(t, contractTestWorkflowID+"/changes_requested/1", in.KeyPrefix)
	assert.Equal(t, []string{"alice"}, in.Users)
	assert.Equal(t, domain.TmplContractChangesRequested, in.Template)
	assert.Equal(t, "bob", in.Data["rejected_by"])

	var sent []call
	for _, c := range h.deliveries() {
		if keys := c.In.(domain.DeliverEmailsInput).Keys; len(keys) > 0 {
			sent = append(sent, c)
		}
	}
	require.Len(t, sent, 1, "one delivery, retried until it succeeds")
	assert.Equal(t, []string{key}, sent[0].In.(domain.DeliverEmailsInput).Keys)
	assert.Equal(t, t0.Add(hour+7*time.Second), sent[0].At, "sent after the withdrawal: the workflow waited for it")
}

// The notices of one step go out together at the next waiting point: on approval, the
// submitter's and the departments'. A notice that fails for good is only logged: the
// contract goes on, and no task opens (contracts e-mail no customer).
func TestContractNoticeFailureIsLoggedAndTheContractGoesOn(t *testing.T) {
	h := newContractHarness(t, standardTerms(), nil)
	h.f.failEmails[domain.TmplContractChangesRequested] = "send e-mail: status 400: mailbox unavailable"
	h.decide(hour, domain.StepReview, 1, ActionReject, "Price too low", nil)
	rev := h.updateAt(day, domain.UpdateReviseContract, domain.ContractRevisionRequest{
		Actor: "alice", Changes: domain.ContractChanges{PaymentTerms: ptr("45 days net")}})
	ok := h.decide(day+hour, domain.StepReview, 2, ActionApprove, "", nil)
	h.stop(day + 2*hour)
	st := h.run()

	assert.Equal(t, domain.ContractInReview, rev.value.(domain.ContractState).Status)
	assert.Equal(t, domain.ContractApproved, ok.response(t).ProcessStatus)
	assert.Equal(t, domain.ContractApproved, st.Status)
	for _, c := range h.f.of(domain.ActCreateTask) {
		assert.Equal(t, domain.StepReview, c.In.(domain.CreateTaskInput).Step)
	}
	assert.Empty(t, h.f.of(domain.ActNotify))

	p := contractTestWorkflowID + "/"
	assert.Equal(t, []string{
		p + "changes_requested/1/alice",
		p + "approved/2/alice", p + "department_notice/2/sales_manager",
	}, h.deliveredKeys())
	var approval domain.DeliverEmailsInput
	for _, c := range h.deliveries() {
		if in := c.In.(domain.DeliverEmailsInput); len(in.Keys) > 0 && strings.Contains(in.Keys[0], "/approved/") {
			approval = in
			assert.Equal(t, t0.Add(day+hour), c.At, "delivered at the wait that follows the approval")
		}
	}
	assert.Len(t, approval.Keys, 2, "both notices of the approval in one delivery")
}

func ptr[T any](v T) *T { return &v }

// Runs started before versionOutboxMail keep sending their notices with Notify, in the
// main flow (their recorded histories replay in TestReplayRecordedHistories).
func TestContractBeforeOutboxMailCallsNotify(t *testing.T) {
	h := newContractHarness(t, standardTerms(), nil)
	h.env.OnGetVersion(versionOutboxMail, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.decide(hour, domain.StepReview, 1, ActionApprove, "", nil)
	h.stop(2 * hour)
	assert.Equal(t, domain.ContractApproved, h.run().Status)

	assert.Empty(t, h.f.of(domain.ActQueueNotice))
	var prefixes []string
	for _, c := range h.f.of(domain.ActNotify) {
		assert.Equal(t, t0.Add(hour), c.At)
		prefixes = append(prefixes, c.In.(domain.NotifyInput).KeyPrefix)
	}
	p := contractTestWorkflowID + "/"
	assert.Equal(t, []string{p + "approved/1", p + "department_notice/1"}, prefixes)
	assert.Empty(t, h.deliveredKeys(), "nothing queued for DeliverEmails")
}

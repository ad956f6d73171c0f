package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

const linkTestWorkflowID = "test/lnk_1"

// linkTestArgs configures linkTestWorkflow.
type linkTestArgs struct {
	ExpiresIn time.Duration
	Reminders []time.Duration
	Linger    time.Duration // how long the run goes on after the link's outcome
}

// linkTestWorkflow opens one complaint feedback link with the helper, waits for its
// outcome, then lingers (a waiting point) so that late answers meet the validator.
func linkTestWorkflow(ctx workflow.Context, args linkTestArgs) (LinkOutcome, error) {
	status := "waiting"
	tasks, err := NewTasks(ctx, TasksConfig{WorkflowID: linkTestWorkflowID, Process: "test", ProcessID: "lnk_1"})
	if err != nil {
		return LinkOutcome{}, err
	}
	links, err := NewLinks(ctx, LinksConfig{
		WorkflowID: linkTestWorkflowID, Process: "test", ProcessID: "lnk_1", Tasks: tasks,
		StatusFn: func() string { return status },
		Purposes: map[string]domain.LinkPurpose{domain.PurposeComplaintFeedback: domain.ComplaintFeedbackLink},
	})
	if err != nil {
		return LinkOutcome{}, err
	}
	out, err := links.Run(ctx, LinkSpec{
		Purpose: domain.PurposeComplaintFeedback, Round: 1,
		Customer: domain.LinkCustomer{Email: "buyer@acme.test", Name: "ACME", Locale: "zh-CN"},
		Context:  map[string]any{"subject": "Pump"}, Template: domain.TmplFeedbackRequest,
		ReminderTemplate: domain.TmplFeedbackReminder, ExpiresIn: args.ExpiresIn, Reminders: args.Reminders,
	})
	if err != nil {
		return out, err
	}
	status = "answered"
	if !out.Answered {
		status = "expired"
	}
	if _, err := tasks.AwaitWithTimeout(ctx, args.Linger, func() bool { return false }); err != nil {
		return out, err
	}
	return out, tasks.Finish(ctx)
}

type linkHarness struct {
	*harness
}

func newLinkHarness(t *testing.T) linkHarness {
	env, f := newTestEnv(linkTestWorkflowID)
	env.RegisterWorkflow(linkTestWorkflow)
	return linkHarness{&harness{t: t, env: env, f: f}}
}

var testLinkID = domain.LinkID(linkTestWorkflowID + "/" + domain.PurposeComplaintFeedback + "/1")

func (h linkHarness) answer(d time.Duration, answer map[string]any) *updateResult {
	u := &updateResult{}
	h.at(d, func() {
		h.send(u, domain.UpdateLinkAnswer, domain.LinkAnswer{LinkID: testLinkID, Purpose: domain.PurposeComplaintFeedback, Answer: answer})
	})
	return u
}

func (h linkHarness) run(args linkTestArgs) LinkOutcome {
	h.t.Helper()
	h.env.ExecuteWorkflow(linkTestWorkflow, args)
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var out LinkOutcome
	require.NoError(h.t, h.env.GetWorkflowResult(&out))
	return out
}

func (u *updateResult) linkResult(t *testing.T) domain.LinkAnswerResult {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	require.True(t, u.done, "update did not complete (rejected: %v)", u.rejected)
	require.NoError(t, u.err)
	return u.value.(domain.LinkAnswerResult)
}

// Without an answer the link is reminded at each offset before its expiry (an offset
// at or after it is dropped), then expires; an answer after that is refused.
func TestLinkRemindsAtOffsetsThenExpires(t *testing.T) {
	h := newLinkHarness(t)
	late := h.answer(5*hour+time.Minute, map[string]any{"score": 5})
	out := h.run(linkTestArgs{ExpiresIn: 5 * hour, Reminders: []time.Duration{hour, 3 * hour, 5 * hour, 9 * hour}, Linger: hour})

	assert.False(t, out.Answered)
	assert.Equal(t, testLinkID, out.LinkID)
	assert.Equal(t, t0.Add(5*hour), out.At)

	created := h.f.of(domain.ActCreateCustomerLink)
	require.Len(t, created, 1)
	in := created[0].In.(domain.CreateLinkInput)
	assert.Equal(t, linkTestWorkflowID+"/complaint_feedback/1", in.Key)
	assert.Equal(t, t0.Add(5*hour), in.ExpiresAt)
	assert.Equal(t, "zh-CN", in.Customer.Locale)

	reminders := h.f.of(domain.ActSendLinkReminder)
	assert.Equal(t, []time.Duration{hour, 3 * hour}, times(reminders))
	for i, c := range reminders {
		r := c.In.(domain.LinkReminderInput)
		assert.Equal(t, i+1, r.N)
		assert.Equal(t, testLinkID, r.LinkID)
		assert.Equal(t, domain.TmplFeedbackReminder, r.Template)
	}
	assert.Equal(t, []time.Duration{5 * hour}, times(h.f.of(domain.ActExpireCustomerLink)))
	assert.Empty(t, h.f.of(domain.ActRecordLinkAnswer))
	late.rejectedWith(t, domain.ErrTypeLinkExpired)

	// The invitation went out with the first delivery.
	deliveries := h.f.of(domain.ActDeliverEmails)
	require.Len(t, deliveries, 1)
	assert.Equal(t, []string{in.Key}, deliveries[0].In.(domain.DeliverEmailsInput).Keys)
}

// The first valid answer is taken, once: it is stored, the reminders stop, and the
// Update returns once the process has acted on it. An invalid answer changes nothing;
// a second answer, at once or later, is refused.
func TestLinkAnswerTakenOnce(t *testing.T) {
	h := newLinkHarness(t)
	invalid := h.answer(90*time.Minute, map[string]any{"score": 0, "comment": "x"})
	var first, second, unknown *updateResult
	h.at(2*hour, func() {
		first = &updateResult{}
		h.send(first, domain.UpdateLinkAnswer, domain.LinkAnswer{LinkID: testLinkID, Answer: map[string]any{"score": 4, "comment": "Fine"}})
		second = &updateResult{}
		h.send(second, domain.UpdateLinkAnswer, domain.LinkAnswer{LinkID: testLinkID, Answer: map[string]any{"score": 1}})
		unknown = &updateResult{}
		h.send(unknown, domain.UpdateLinkAnswer, domain.LinkAnswer{LinkID: "lnk_NOPE", Answer: map[string]any{"score": 1}})
	})
	later := h.answer(4*hour, map[string]any{"score": 2})
	wrongPurpose := &updateResult{}
	h.at(4*hour, func() {
		h.send(wrongPurpose, domain.UpdateLinkAnswer, domain.LinkAnswer{LinkID: testLinkID, Purpose: "survey", Answer: map[string]any{"score": 2}})
	})
	out := h.run(linkTestArgs{ExpiresIn: 5 * hour, Reminders: []time.Duration{hour, 3 * hour}, Linger: 3 * hour})

	assert.True(t, out.Answered)
	assert.Equal(t, t0.Add(2*hour), out.At)
	assert.Equal(t, map[string]any{"score": float64(4), "comment": "Fine"}, out.Answer)
	assert.Equal(t, domain.LinkAnswerResult{LinkID: testLinkID, ProcessStatus: "answered"}, first.linkResult(t))
	assert.Equal(t, []string{"score"}, fieldNames(t, invalid.rejectedWith(t, domain.ErrTypeInvalidData)))
	second.rejectedWith(t, domain.ErrTypeLinkAnswered)
	later.rejectedWith(t, domain.ErrTypeLinkAnswered)
	unknown.rejectedWith(t, domain.ErrTypeLinkUnknown)
	wrongPurpose.rejectedWith(t, domain.ErrTypeLinkUnknown)

	recorded := h.f.of(domain.ActRecordLinkAnswer)
	require.Len(t, recorded, 1)
	assert.Equal(t, domain.RecordLinkAnswerInput{LinkID: testLinkID, Answer: map[string]any{"score": float64(4), "comment": "Fine"},
		At: t0.Add(2 * hour)}, recorded[0].In)
	assert.Equal(t, []time.Duration{hour}, times(h.f.of(domain.ActSendLinkReminder)), "a reminder after the answer")
	assert.Empty(t, h.f.of(domain.ActExpireCustomerLink))
}

// An answer a second before the expiry is taken; at the expiry it is refused.
func TestLinkAnswerAtTheExpiry(t *testing.T) {
	for _, tc := range []struct {
		at    time.Duration
		taken bool
	}{{5*hour - time.Second, true}, {5 * hour, false}} {
		h := newLinkHarness(t)
		u := h.answer(tc.at, map[string]any{"score": 3})
		out := h.run(linkTestArgs{ExpiresIn: 5 * hour, Linger: hour})
		assert.Equal(t, tc.taken, out.Answered, "answer at %s", tc.at)
		if tc.taken {
			assert.Equal(t, "answered", u.linkResult(t).ProcessStatus)
			assert.Len(t, h.f.of(domain.ActRecordLinkAnswer), 1)
		} else {
			u.rejectedWith(t, domain.ErrTypeLinkExpired)
			assert.Empty(t, h.f.of(domain.ActRecordLinkAnswer))
			assert.Len(t, h.f.of(domain.ActExpireCustomerLink), 1)
		}
	}
}

// An answer does not wait for a reminder in flight: with the mail provider failing the
// reminder (retried without end), the answer is taken, the Update returns and the run
// ends, so the customer's request is not held up by the mail provider.
func TestLinkAnswerDoesNotWaitForAReminder(t *testing.T) {
	h := newLinkHarness(t)
	h.f.failLinkReminder = func(domain.LinkReminderInput) error { return errors.New("mail provider: 503") }
	u := h.answer(hour+90*time.Second, map[string]any{"score": 4})
	out := h.run(linkTestArgs{ExpiresIn: 5 * hour, Reminders: []time.Duration{hour}, Linger: time.Minute})

	assert.True(t, out.Answered)
	assert.Equal(t, t0.Add(hour+90*time.Second), out.At)
	u.linkResult(t)
	assert.Greater(t, len(h.f.of(domain.ActSendLinkReminder)), 1, "the reminder was being retried when the answer came")
	assert.Equal(t, []time.Duration{hour + 90*time.Second}, times(h.f.of(domain.ActRecordLinkAnswer)))
}

package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// runMailWorkflow runs a bare process that e-mails its customer and queues a staff
// notice, both failing for good when delivered, then finishes. With contact, it has
// the contact-customer task by configuration, and carol completes it at t0+hour.
func runMailWorkflow(t *testing.T, contact bool) (*fakes, *updateResult, time.Time) {
	env, f := newTestEnv(tasksWorkflowID)
	f.failEmails["customer_hello"] = "send e-mail: status 400: mailbox unavailable"
	f.failEmails["staff_notice"] = "send e-mail: status 400: no such mailbox"
	var finished time.Time
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (map[string]any, error) {
		cfg := TasksConfig{WorkflowID: tasksWorkflowID, Process: "test", ProcessID: "p1"}
		if contact {
			cfg.ContactCustomer = func(ctx workflow.Context, m MailFailure) TaskSpec {
				return TaskSpec{
					Step: domain.StepContactCustomer, Round: 1, Key: m.Key, Title: "Call the customer",
					Assignee: "carol", Actions: []string{ActionDone},
					Context:     map[string]any{"failed_template": m.Template, "failure_reason": m.Reason},
					WindowStart: utcNow(ctx), DueAt: utcNow(ctx).Add(day),
				}
			}
		}
		h, err := NewTasks(ctx, cfg)
		if err != nil {
			return nil, err
		}
		detail := h.SendCustomerMail(ctx, "hello", domain.SendEmailInput{
			IdempotencyKey: tasksWorkflowID + "/hello", To: domain.EmailRecipient{Email: "buyer@acme.test"},
			Template: "customer_hello", Process: "test", ProcessID: "p1", WorkflowID: tasksWorkflowID,
		})
		h.QueueNotice(ctx, domain.NotifyInput{
			KeyPrefix: tasksWorkflowID + "/notice", Users: []string{"dave"}, Template: "staff_notice",
			Process: "test", ProcessID: "p1", WorkflowID: tasksWorkflowID,
		})
		err = h.Finish(ctx)
		finished = workflow.Now(ctx).UTC()
		return detail, err
	}, workflow.RegisterOptions{Name: "mail"})
	u := &updateResult{}
	if contact {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(domain.UpdateCompleteTask, "done", u.callbacks(), domain.CompleteTaskRequest{
				TaskID: domain.TaskID(tasksWorkflowID, domain.StepContactCustomer, 1, "hello"),
				Action: ActionDone, Actor: "carol",
			})
		}, hour)
	}
	env.ExecuteWorkflow("mail")
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var detail map[string]any
	require.NoError(t, env.GetWorkflowResult(&detail))
	assert.Equal(t, "queued", detail["email_status"], "queued with the step")
	// Both e-mails went out in one delivery at the first waiting point (a contact
	// task's notice follows in another).
	deliveries := f.of(domain.ActDeliverEmails)
	require.NotEmpty(t, deliveries)
	assert.Equal(t, []string{tasksWorkflowID + "/hello", tasksWorkflowID + "/notice/dave"},
		deliveries[0].In.(domain.DeliverEmailsInput).Keys)
	assert.Equal(t, t0, deliveries[0].At)
	for _, d := range deliveries[1:] {
		assert.Empty(t, d.In.(domain.DeliverEmailsInput).Keys, "each e-mail delivered once")
	}
	return f, u, finished
}

// A process that has the contact-customer task by configuration gets it when its
// e-mail to the customer fails for good, and ends only once it is done; a failed staff
// notice opens nothing.
func TestMailFailureOpensTheConfiguredContactTask(t *testing.T) {
	f, done, finished := runMailWorkflow(t, true)
	created := f.of(domain.ActCreateTask)
	require.Len(t, created, 1, "one task, for the customer e-mail only")
	in := created[0].In.(domain.CreateTaskInput)
	assert.Equal(t, domain.StepContactCustomer, in.Step)
	assert.Equal(t, "carol", in.Assignee)
	assert.Equal(t, "customer_hello", in.Context["failed_template"])
	assert.Equal(t, "send e-mail: status 400: mailbox unavailable", in.Context["failure_reason"])
	assert.Equal(t, domain.TaskID(tasksWorkflowID, domain.StepContactCustomer, 1, "hello"), done.response(t).TaskID)
	assert.Equal(t, []string{in.TaskID}, f.of(domain.ActDeliverEmails)[1].In.(domain.DeliverEmailsInput).NotifyTasks)
	assert.Equal(t, t0.Add(hour), finished, "Finish waited for the contact task")
}

// Without the configuration, a failed customer e-mail is only logged, like a staff notice.
func TestMailFailureWithoutContactTaskIsLogged(t *testing.T) {
	f, _, finished := runMailWorkflow(t, false)
	assert.Empty(t, f.of(domain.ActCreateTask))
	assert.Equal(t, t0, finished)
}

package activities_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

const publicURL = "http://sf.test"

const linkSecret = "a test secret of at least 32 characters"

// fakeMail records every Send; err, when set, decides the error of each call.
type fakeMail struct {
	mu         sync.Mutex
	calls      []domain.SendEmailInput
	err        func(domain.SendEmailInput) error
	delivered  []string
	deliverErr func(key string) error
	queued     []string // the keys of the calls that came through Queue
}

func (m *fakeMail) Send(_ context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, in)
	if m.err != nil {
		if err := m.err(in); err != nil {
			return domain.SendEmailResult{}, err
		}
	}
	return domain.SendEmailResult{EmailID: "eml_" + in.IdempotencyKey, Status: "sent"}, nil
}

// Queue records the call like Send, and its key in queued; nothing is sent.
func (m *fakeMail) Queue(ctx context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
	res, err := m.Send(ctx, in)
	m.mu.Lock()
	m.queued = append(m.queued, in.IdempotencyKey)
	m.mu.Unlock()
	res.Status = "queued"
	return res, err
}

// QueueMany queues each of ins as Queue does.
func (m *fakeMail) QueueMany(ctx context.Context, ins []domain.SendEmailInput) error {
	for _, in := range ins {
		if _, err := m.Queue(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

// Deliver records the key it was asked to send; deliverErr, when set, decides its error.
func (m *fakeMail) Deliver(_ context.Context, key string) (domain.SendEmailResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delivered = append(m.delivered, key)
	if m.deliverErr != nil {
		if err := m.deliverErr(key); err != nil {
			return domain.SendEmailResult{}, err
		}
	}
	return domain.SendEmailResult{EmailID: "eml_" + key, Status: "sent"}, nil
}

func (m *fakeMail) sent() []domain.SendEmailInput {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

func (m *fakeMail) keys() []string {
	var keys []string
	for _, c := range m.sent() {
		keys = append(keys, c.IdempotencyKey)
	}
	return keys
}

func (m *fakeMail) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = nil
}

// The test organisation: carol and cathy handle complaints and report to dave; cathy is
// out of office and delegates to carol; cindy handles complaints but has no manager; dave
// and dora are service managers; judy is the general manager.
const seedSQL = `
INSERT INTO users (id, username, display_name, email, locale) VALUES
  ('usr_judy',  'judy',  'Judy',  'judy@example.com',  'en'),
  ('usr_dave',  'dave',  'Dave',  'dave@example.com',  'en'),
  ('usr_dora',  'dora',  'Dora',  'dora@example.com',  'en'),
  ('usr_carol', 'carol', 'Carol', 'carol@example.com', 'zh-CN'),
  ('usr_cathy', 'cathy', 'Cathy', 'cathy@example.com', 'en'),
  ('usr_cindy', 'cindy', 'Cindy', 'cindy@example.com', 'en'),
  ('usr_alice', 'alice', 'Alice', 'alice@example.com', 'en');
UPDATE users SET manager = 'judy' WHERE username IN ('dave', 'dora');
UPDATE users SET manager = 'dave' WHERE username IN ('carol', 'cathy');
UPDATE users SET out_of_office = true, delegate = 'carol' WHERE username = 'cathy';
INSERT INTO user_roles (username, role) VALUES
  ('judy', 'general_manager'), ('dave', 'service_manager'), ('dora', 'service_manager'),
  ('carol', 'customer_service'), ('cathy', 'customer_service'), ('cindy', 'customer_service'),
  ('alice', 'sales_rep');
INSERT INTO customers (id, name, email, locale, tier, owner) VALUES
  ('cus_1', 'Acme', 'buyer@acme.example', 'en', 'A', 'alice');
`

func setup(t *testing.T) (*activities.Activities, *fakeMail) {
	t.Helper()
	s := storetest.New(t, "acts")
	_, err := s.Pool.Exec(context.Background(), seedSQL)
	require.NoError(t, err)
	m := &fakeMail{}
	return &activities.Activities{Store: s, Mail: m, Config: activities.Config{PublicURL: publicURL + "/", LinkSecret: []byte(linkSecret)}}, m
}

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func taskInput(id string) domain.CreateTaskInput {
	return domain.CreateTaskInput{
		TaskID: id, WorkflowID: "complaint/cmp_1", Process: domain.ProcessComplaint, ProcessID: "cmp_1",
		Step: domain.StepRespond, Round: 1, Title: "Respond to Acme", Assignee: "carol",
		Actions: []string{"respond"}, Form: []domain.FormField{{Name: "message", Type: "text", Required: true}},
		Context: map[string]any{"subject": "Broken"}, Priority: 1,
		DueAt: t0.Add(24 * time.Hour), CreatedAt: t0,
	}
}

func count(t *testing.T, s *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func auditCount(t *testing.T, s *store.Store, event string) int {
	return count(t, s, `SELECT count(*) FROM audit_events WHERE event = $1`, event)
}

// QueueNotice resolves users and groups to one outbox row each, keyed per username, in
// the recipient's locale, and sends nothing; an unknown user or an address the outbox
// refuses for good is skipped, any other error fails the attempt.
func TestQueueNoticeQueuesOnePerRecipient(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	in := domain.NotifyInput{
		KeyPrefix: "contract/ctr_1/approved/1", Users: []string{"carol", "alice", "ghost"},
		Groups: []string{"service_manager"}, Template: domain.TmplContractApproved,
		Data:    map[string]any{"contract_id": "ctr_1"},
		Process: "contract", ProcessID: "ctr_1", WorkflowID: "contract/ctr_1",
	}
	m.err = func(in domain.SendEmailInput) error {
		if in.To.Email == "dora@example.com" {
			return temporal.NewNonRetryableApplicationError("no valid address", "InvalidEmail", nil)
		}
		return nil
	}
	res, err := a.QueueNotice(ctx, in)
	require.NoError(t, err)
	p := in.KeyPrefix + "/"
	assert.Equal(t, []string{p + "alice", p + "carol", p + "dave"}, res.Keys)
	assert.Equal(t, []string{"alice", "carol", "dave"}, res.Recipients)
	assert.Equal(t, []string{p + "alice", p + "carol", p + "dave", p + "dora"}, m.queued, "each recipient queued, none sent")
	assert.Empty(t, m.delivered)
	carol := m.sent()[1]
	assert.Equal(t, "zh-CN", carol.Locale)
	assert.Equal(t, "Carol", carol.Data["recipient_name"])
	assert.Equal(t, "ctr_1", carol.Data["contract_id"])
	assert.Equal(t, domain.TmplContractApproved, carol.Template)
	assert.Equal(t, "contract/ctr_1", carol.WorkflowID)

	m.err = func(domain.SendEmailInput) error { return errors.New("database down") }
	_, err = a.QueueNotice(ctx, in)
	require.Error(t, err, "a retryable error fails the attempt")

	_, err = a.QueueNotice(ctx, domain.NotifyInput{Template: domain.TmplContractApproved, Users: []string{"carol"}})
	require.True(t, temporal.IsApplicationError(err), "no key prefix: %v", err)
}

func TestCreateTaskTwiceStoresOnce(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	in := taskInput("tsk_A")

	first, err := a.CreateTask(ctx, in)
	require.NoError(t, err)
	second, err := a.CreateTask(ctx, in)
	require.NoError(t, err)

	assert.Equal(t, domain.CreateTaskResult{TaskID: "tsk_A", Assignee: "carol"}, first)
	assert.Equal(t, first, second)
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM tasks`))
	assert.Equal(t, 1, auditCount(t, a.Store, "task_created"))

	var detail map[string]any
	require.NoError(t, a.Store.Pool.QueryRow(ctx, `SELECT detail FROM audit_events WHERE event = 'task_created'`).Scan(&detail))
	assert.Equal(t, map[string]any{"task_id": "tsk_A", "step": "respond", "assignee": "carol", "candidate_groups": []any{}}, detail)

	// Both attempts ask the outbox for the same e-mail; the key makes it one message.
	assert.Equal(t, []string{"task/tsk_A/assigned/carol", "task/tsk_A/assigned/carol"}, m.keys())
	e := m.sent()[0]
	assert.Equal(t, domain.TmplTaskAssigned, e.Template)
	assert.Equal(t, domain.EmailRecipient{Email: "carol@example.com", Name: "Carol"}, e.To)
	assert.Equal(t, "zh-CN", e.Locale)
	assert.Equal(t, "complaint/cmp_1", e.WorkflowID)
	assert.Equal(t, "cmp_1", e.ProcessID)
	assert.Equal(t, map[string]any{
		"recipient_name": "Carol", "task_id": "tsk_A", "task_title": "Respond to Acme", "step": "respond",
		"process": "complaint", "process_id": "cmp_1", "due_at": "2025-03-02T09:00:00Z",
		"task_url": "http://sf.test/tasks/tsk_A",
	}, e.Data)

	var form, taskCtx string
	var actions []string
	require.NoError(t, a.Store.Pool.QueryRow(ctx, `SELECT form::text, context::text, actions FROM tasks`).Scan(&form, &taskCtx, &actions))
	assert.JSONEq(t, `[{"name":"message","type":"text","required":true}]`, form)
	assert.JSONEq(t, `{"subject":"Broken"}`, taskCtx)
	assert.Equal(t, []string{"respond"}, actions)
}

func TestCreateTaskRoutesToDelegate(t *testing.T) {
	a, m := setup(t)
	in := taskInput("tsk_D")
	in.Assignee = "cathy"

	res, err := a.CreateTask(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, domain.CreateTaskResult{TaskID: "tsk_D", Assignee: "carol", DelegatedFrom: "cathy"}, res)
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM tasks WHERE assignee = 'carol' AND delegated_from = 'cathy'`))
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM audit_events WHERE event = 'task_created'
		AND detail = '{"task_id": "tsk_D", "step": "respond", "assignee": "carol", "candidate_groups": [], "delegated_from": "cathy"}'::jsonb`))
	assert.Equal(t, []string{"task/tsk_D/assigned/carol"}, m.keys())
	assert.Equal(t, "cathy", m.sent()[0].Data["delegated_from"])
}

func TestCreateGroupTaskMailsEachMember(t *testing.T) {
	a, m := setup(t)
	in := taskInput("tsk_G")
	in.Assignee = ""
	in.CandidateGroups = []string{"customer_service"}
	in.ExcludeUsers = []string{"cindy"}

	res, err := a.CreateTask(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, domain.CreateTaskResult{TaskID: "tsk_G"}, res)
	assert.Equal(t, []string{"task/tsk_G/assigned/carol", "task/tsk_G/assigned/cathy"}, m.keys())
	assert.Equal(t, "cathy@example.com", m.sent()[1].To.Email)
	assert.Equal(t, "Cathy", m.sent()[1].Data["recipient_name"])
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM tasks WHERE assignee IS NULL AND exclude_users = '{cindy}'`))
}

func TestCreateTaskMailErrors(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	in := taskInput("tsk_E")
	in.Assignee = ""
	in.CandidateGroups = []string{"customer_service"}

	// A transient failure fails the activity so Temporal retries it...
	m.err = func(e domain.SendEmailInput) error {
		if e.To.Email == "cathy@example.com" {
			return errors.New("sendgrid: 503")
		}
		return nil
	}
	_, err := a.CreateTask(ctx, in)
	require.Error(t, err)
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM tasks`))

	// ...and the retry stores nothing new. A refusal for good is skipped.
	m.err = func(e domain.SendEmailInput) error {
		if e.To.Email == "cathy@example.com" {
			return temporal.NewNonRetryableApplicationError("bad address", "EmailRejected", nil)
		}
		return nil
	}
	_, err = a.CreateTask(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM tasks`))
	assert.Equal(t, 1, auditCount(t, a.Store, "task_created"))
	assert.Equal(t, []string{
		"task/tsk_E/assigned/carol", "task/tsk_E/assigned/cathy", // first attempt
		"task/tsk_E/assigned/carol", "task/tsk_E/assigned/cathy", "task/tsk_E/assigned/cindy", // retry
	}, m.keys())
}

func TestDeferredNoticesGoOutWithDeliverEmails(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	in := taskInput("tsk_N")
	in.Assignee, in.CandidateGroups = "", []string{"customer_service"}
	in.DeferNotify = true

	_, err := a.CreateTask(ctx, in)
	require.NoError(t, err)
	assert.Empty(t, m.keys(), "opening the task renders and sends nothing")
	assert.Equal(t, 1, auditCount(t, a.Store, "task_created"))

	_, err = a.DeliverEmails(ctx, domain.DeliverEmailsInput{NotifyTasks: []string{"tsk_N", "tsk_unknown"}})
	require.NoError(t, err, "a notice for an unknown task is logged, not retried")
	assert.Equal(t, []string{"task/tsk_N/assigned/carol", "task/tsk_N/assigned/cathy", "task/tsk_N/assigned/cindy"}, m.keys())
	assert.Equal(t, domain.TmplTaskAssigned, m.sent()[0].Template)

	// Once the task is closed no new notice is sent, but what an earlier attempt left
	// in the outbox goes out: by DeliverEmails, or by a late CreateTask retry without
	// DeferNotify (with it, DeliverEmails is still to come and does it).
	m.reset()
	_, err = a.Store.Pool.Exec(ctx, `INSERT INTO emails (id, idempotency_key, to_email, locale, template, status) VALUES
		('eml_1', 'task/tsk_N/assigned/carol', 'carol@example.com', 'en', 'task_assigned', 'sending'),
		('eml_2', 'task/tsk_N/assigned/cindy', 'cindy@example.com', 'en', 'task_assigned', 'queued'),
		('eml_3', 'task/tsk_N/assigned/dave', 'dave@example.com', 'en', 'task_assigned', 'sent'),
		('eml_4', 'task/tsk_NX/assigned/carol', 'carol@example.com', 'en', 'task_assigned', 'queued')`)
	require.NoError(t, err)
	require.NoError(t, a.CloseTask(ctx, domain.CloseTaskInput{TaskID: "tsk_N", Status: domain.TaskCancelled,
		Process: domain.ProcessComplaint, ProcessID: "cmp_1"}))
	unsent := []string{"task/tsk_N/assigned/carol", "task/tsk_N/assigned/cindy"}
	_, err = a.DeliverEmails(ctx, domain.DeliverEmailsInput{NotifyTasks: []string{"tsk_N"}})
	require.NoError(t, err)
	assert.Empty(t, m.keys())
	assert.Equal(t, unsent, m.delivered)

	m.delivered = nil
	_, err = a.CreateTask(ctx, in)
	require.NoError(t, err)
	assert.Empty(t, m.delivered)
	in.DeferNotify = false
	_, err = a.CreateTask(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, unsent, m.delivered)
	assert.Empty(t, m.keys())
}

func TestDeliverEmailsReportsEach(t *testing.T) {
	a, m := setup(t)
	res, err := a.DeliverEmails(context.Background(), domain.DeliverEmailsInput{Keys: []string{"k/1", "k/2"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"k/1", "k/2"}, m.delivered)
	require.Len(t, res.Emails, 2)
	assert.Equal(t, "k/2", res.Emails[1].Key)
	assert.Equal(t, "sent", res.Emails[1].Status)

	// A retryable failure fails the activity (it is retried); one for good is reported.
	m.deliverErr = func(key string) error {
		if key == "k/2" {
			return errors.New("sendgrid: 503")
		}
		return nil
	}
	_, err = a.DeliverEmails(context.Background(), domain.DeliverEmailsInput{Keys: []string{"k/1", "k/2"}})
	require.Error(t, err)
	m.deliverErr = func(key string) error {
		if key == "k/2" {
			return temporal.NewNonRetryableApplicationError("nothing queued", "InvalidEmail", nil)
		}
		return nil
	}
	res, err = a.DeliverEmails(context.Background(), domain.DeliverEmailsInput{Keys: []string{"k/1", "k/2"}})
	require.NoError(t, err)
	assert.Equal(t, "sent", res.Emails[0].Status)
	assert.Equal(t, "failed", res.Emails[1].Status)
	assert.Contains(t, res.Emails[1].Error, "nothing queued")
}

func TestCreateTaskRejectsBadInput(t *testing.T) {
	a, _ := setup(t)
	in := taskInput("tsk_X")
	in.Assignee = ""
	_, err := a.CreateTask(context.Background(), in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable())
}

func TestCloseTaskIsIdempotent(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	_, err := a.CreateTask(ctx, taskInput("tsk_C"))
	require.NoError(t, err)

	done := domain.CloseTaskInput{
		TaskID: "tsk_C", WorkflowID: "complaint/cmp_1", Process: domain.ProcessComplaint, ProcessID: "cmp_1",
		Status: domain.TaskCompleted, Actor: "carol", Action: "respond", Comment: "called them",
		Data: map[string]any{"message": "We are on it"}, At: t0.Add(time.Hour),
	}
	require.NoError(t, a.CloseTask(ctx, done))
	require.NoError(t, a.CloseTask(ctx, done)) // retry

	var status, by, action, comment, data string
	var completedAt time.Time
	require.NoError(t, a.Store.Pool.QueryRow(ctx, `SELECT status, completed_by, action, comment, data::text, completed_at FROM tasks WHERE id = 'tsk_C'`).
		Scan(&status, &by, &action, &comment, &data, &completedAt))
	assert.Equal(t, []string{"completed", "carol", "respond", "called them"}, []string{status, by, action, comment})
	assert.JSONEq(t, `{"message":"We are on it"}`, data)
	assert.True(t, completedAt.Equal(t0.Add(time.Hour)))
	assert.Equal(t, 1, auditCount(t, a.Store, "task_completed"))

	var actor string
	var detail map[string]any
	require.NoError(t, a.Store.Pool.QueryRow(ctx, `SELECT actor, detail FROM audit_events WHERE event = 'task_completed'`).Scan(&actor, &detail))
	assert.Equal(t, "carol", actor)
	assert.Equal(t, map[string]any{"task_id": "tsk_C", "step": "respond", "action": "respond", "comment": "called them"}, detail)

	// A cancel arriving after completion changes nothing.
	cancel := done
	cancel.Status, cancel.Actor, cancel.Action, cancel.Comment, cancel.Data = domain.TaskCancelled, "", "", "", nil
	require.NoError(t, a.CloseTask(ctx, cancel))
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM tasks WHERE status = 'completed' AND completed_by = 'carol'`))
	assert.Equal(t, 0, auditCount(t, a.Store, "task_cancelled"))

	bad := done
	bad.Status = "open"
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, a.CloseTask(ctx, bad), &appErr)
}

func TestCancelTask(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	_, err := a.CreateTask(ctx, taskInput("tsk_K"))
	require.NoError(t, err)
	require.NoError(t, a.CloseTask(ctx, domain.CloseTaskInput{TaskID: "tsk_K", Process: "complaint", ProcessID: "cmp_1",
		Status: domain.TaskCancelled, At: t0}))
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM tasks WHERE status = 'cancelled' AND completed_by IS NULL AND data IS NULL`))
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM audit_events WHERE event = 'task_cancelled' AND actor = 'system'`))
}

func escalation(task string, rung domain.EscalationRung) domain.EscalationInput {
	return domain.EscalationInput{
		WorkflowID: "complaint/cmp_1", Process: domain.ProcessComplaint, ProcessID: "cmp_1", TaskID: task,
		Step: domain.StepRespond, Rung: rung, Reason: "response overdue", DueAt: t0.Add(24 * time.Hour),
		At: t0.Add(24 * time.Hour),
	}
}

func TestRaiseEscalationOnce(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	_, err := a.CreateTask(ctx, taskInput("tsk_S"))
	require.NoError(t, err)
	m.reset()

	l1 := escalation("tsk_S", domain.EscalationRung{Level: 1, TargetAssigneeManager: true, TargetRole: domain.RoleServiceManager})
	first, err := a.RaiseEscalation(ctx, l1)
	require.NoError(t, err)
	second, err := a.RaiseEscalation(ctx, l1)
	require.NoError(t, err)

	assert.True(t, strings.HasPrefix(first.EscalationID, "esc_"), first.EscalationID)
	assert.Equal(t, []string{"dave"}, first.Targets) // carol's manager
	assert.Equal(t, first, second)
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM escalations`))
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM escalations WHERE raised_at = $1 AND reason = 'response overdue' AND step = 'respond'`, t0.Add(24*time.Hour)))
	assert.Equal(t, 1, auditCount(t, a.Store, "escalated"))
	assert.Equal(t, 1, count(t, a.Store, `SELECT escalation_level FROM tasks WHERE id = 'tsk_S'`))
	assert.Equal(t, []string{"esc/complaint/cmp_1/tsk_S/1/dave", "esc/complaint/cmp_1/tsk_S/1/dave"}, m.keys())
	e := m.sent()[0]
	assert.Equal(t, domain.TmplEscalation, e.Template)
	assert.Equal(t, "dave@example.com", e.To.Email)
	assert.Equal(t, "http://sf.test/escalations/"+first.EscalationID, e.Data["escalation_url"])
	assert.Equal(t, "http://sf.test/tasks/tsk_S", e.Data["task_url"])
	assert.Equal(t, "Respond to Acme", e.Data["task_title"])
	assert.Equal(t, 1, e.Data["level"])

	var detail map[string]any
	require.NoError(t, a.Store.Pool.QueryRow(ctx, `SELECT detail FROM audit_events WHERE event = 'escalated'`).Scan(&detail))
	assert.Equal(t, []any{"dave"}, detail["targets"])
	assert.EqualValues(t, 1, detail["level"])
	assert.Equal(t, "tsk_S", detail["task_id"])
	assert.Equal(t, "response overdue", detail["reason"])

	// Level 2 goes to every general manager; the task's level only rises.
	m.reset()
	l2, err := a.RaiseEscalation(ctx, escalation("tsk_S", domain.EscalationRung{Level: 2, After: 12 * time.Hour, TargetRole: domain.RoleGeneralManager}))
	require.NoError(t, err)
	assert.Equal(t, []string{"judy"}, l2.Targets)
	assert.NotEqual(t, first.EscalationID, l2.EscalationID)
	assert.Equal(t, []string{"esc/complaint/cmp_1/tsk_S/2/judy"}, m.keys())
	_, err = a.RaiseEscalation(ctx, l1)
	require.NoError(t, err)
	assert.Equal(t, 2, count(t, a.Store, `SELECT escalation_level FROM tasks WHERE id = 'tsk_S'`))
}

func TestEscalationTargets(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	noManager := taskInput("tsk_N")
	noManager.Assignee = "cindy"
	group := taskInput("tsk_U")
	group.Assignee, group.CandidateGroups = "", []string{"customer_service"}
	for _, in := range []domain.CreateTaskInput{noManager, group} {
		_, err := a.CreateTask(ctx, in)
		require.NoError(t, err)
	}
	m.reset()
	managerOrRole := domain.EscalationRung{Level: 1, TargetAssigneeManager: true, TargetRole: domain.RoleServiceManager}

	// cindy has no manager, an unassigned task has no assignee: both fall back to the role.
	for _, task := range []string{"tsk_N", "tsk_U"} {
		res, err := a.RaiseEscalation(ctx, escalation(task, managerOrRole))
		require.NoError(t, err)
		assert.Equal(t, []string{"dave", "dora"}, res.Targets, task)
	}
	assert.Equal(t, []string{
		"esc/complaint/cmp_1/tsk_N/1/dave", "esc/complaint/cmp_1/tsk_N/1/dora",
		"esc/complaint/cmp_1/tsk_U/1/dave", "esc/complaint/cmp_1/tsk_U/1/dora",
	}, m.keys())
	var targets []string
	require.NoError(t, a.Store.Pool.QueryRow(ctx, `SELECT targets FROM escalations WHERE task_id = 'tsk_N' AND level = 1`).Scan(&targets))
	assert.Equal(t, []string{"dave", "dora"}, targets)

	// The manager of a named user, as the directory has it now (an invoice's rep's):
	// carol's is dave; cindy has none, so the role.
	res, err := a.RaiseEscalation(ctx, escalation("tsk_N", domain.EscalationRung{Level: 2, TargetManagerOf: "carol", TargetRole: domain.RoleGeneralManager}))
	require.NoError(t, err)
	assert.Equal(t, []string{"dave"}, res.Targets)
	res, err = a.RaiseEscalation(ctx, escalation("tsk_U", domain.EscalationRung{Level: 2, TargetManagerOf: "cindy", TargetRole: domain.RoleServiceManager}))
	require.NoError(t, err)
	assert.Equal(t, []string{"dave", "dora"}, res.Targets)
}

func TestSendReminder(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	_, err := a.CreateTask(ctx, taskInput("tsk_R"))
	require.NoError(t, err)
	m.reset()

	r1 := domain.ReminderInput{TaskID: "tsk_R", WorkflowID: "complaint/cmp_1", Process: "complaint", ProcessID: "cmp_1",
		N: 1, DueAt: t0.Add(24 * time.Hour), At: t0.Add(12 * time.Hour)}
	require.NoError(t, a.SendReminder(ctx, r1))
	require.NoError(t, a.SendReminder(ctx, r1)) // retry
	assert.Equal(t, []string{"task/tsk_R/reminder/1/carol", "task/tsk_R/reminder/1/carol"}, m.keys())
	assert.Equal(t, domain.TmplTaskReminder, m.sent()[0].Template)
	assert.Equal(t, 1, m.sent()[0].Data["n"])
	assert.Equal(t, 1, auditCount(t, a.Store, "task_reminder"))

	require.NoError(t, a.CloseTask(ctx, domain.CloseTaskInput{TaskID: "tsk_R", Process: "complaint", ProcessID: "cmp_1",
		Status: domain.TaskCompleted, Actor: "carol", Action: "respond", At: t0.Add(13 * time.Hour)}))
	m.reset()
	r2 := r1
	r2.N = 2
	require.NoError(t, a.SendReminder(ctx, r2))
	assert.Empty(t, m.sent())
	assert.Equal(t, 1, auditCount(t, a.Store, "task_reminder"))

	require.NoError(t, a.SendReminder(ctx, domain.ReminderInput{TaskID: "tsk_missing", N: 1}))
	assert.Empty(t, m.sent())
}

func TestRecordAudit(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	in := domain.AuditInput{Key: "complaint/cmp_1/email/ack", Process: "complaint", ProcessID: "cmp_1",
		Event: "email_sent", Detail: map[string]any{"template": "complaint_ack"}, At: t0}
	require.NoError(t, a.RecordAudit(ctx, in))
	require.NoError(t, a.RecordAudit(ctx, in))
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM audit_events WHERE event = 'email_sent' AND actor = 'system'`))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, a.RecordAudit(ctx, domain.AuditInput{Event: "x"}), &appErr)
}

func TestSendEmailDelegatesToMail(t *testing.T) {
	a, m := setup(t)
	res, err := a.SendEmail(context.Background(), domain.SendEmailInput{IdempotencyKey: "k1", Template: domain.TmplComplaintAck})
	require.NoError(t, err)
	assert.Equal(t, "eml_k1", res.EmailID)
	assert.Equal(t, []string{"k1"}, m.keys())
}

// Nobody reviews their own submission: with the submitter the only member of the
// group, the task goes to the submitter's manager, and delegation applies to them.
func TestCreateTaskRoutesSelfReviewToTheManager(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	_, err := a.Store.Pool.Exec(ctx, `INSERT INTO user_roles (username, role) VALUES ('dave', 'quality')`)
	require.NoError(t, err)

	in := taskInput("tsk_S1")
	in.Assignee, in.CandidateGroups, in.ExcludeUsers = "", []string{"quality"}, []string{"dave"}
	res, err := a.CreateTask(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "judy", res.Assignee, "dave is the only quality member: his manager reviews")

	// Another member in the group: the task stays with the group.
	in = taskInput("tsk_S2")
	in.Assignee, in.CandidateGroups, in.ExcludeUsers = "", []string{"customer_service"}, []string{"carol"}
	res, err = a.CreateTask(ctx, in)
	require.NoError(t, err)
	assert.Empty(t, res.Assignee)

	// The manager is out of office with a delegate: the delegate gets it.
	_, err = a.Store.Pool.Exec(ctx, `UPDATE users SET out_of_office = true, delegate = 'dora' WHERE username = 'judy'`)
	require.NoError(t, err)
	in = taskInput("tsk_S3")
	in.Assignee, in.CandidateGroups, in.ExcludeUsers = "", []string{"quality"}, []string{"dave"}
	res, err = a.CreateTask(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, domain.CreateTaskResult{TaskID: "tsk_S3", Assignee: "dora", DelegatedFrom: "judy"}, res)
}

// An invoice's dunning escalation has no task: it touches no task row, its targets come
// from the rung, and the audit event and e-mail name its subject.
func TestRaiseEscalationWithoutTask(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	_, err := a.Store.Pool.Exec(ctx, `INSERT INTO users (id, username, display_name, email, locale) VALUES
		('usr_bob', 'bob', 'Bob', 'bob@example.com', 'en');
		INSERT INTO user_roles (username, role) VALUES ('bob', 'sales_manager')`)
	require.NoError(t, err)
	_, err = a.CreateTask(ctx, taskInput("tsk_S")) // another deadline's task: left alone
	require.NoError(t, err)
	m.reset()

	due := t0.Add(30 * 24 * time.Hour)
	invoice := func(rung domain.EscalationRung) domain.EscalationInput {
		return domain.EscalationInput{WorkflowID: "order/ord_1", Process: "order", ProcessID: "ord_1",
			Subject: "invoice/INV-2026-0001", Title: "Invoice INV-2026-0001", Step: "payment", Rung: rung,
			Reason: "payment overdue", DueAt: due, At: due.Add(rung.After)}
	}
	// Assignee's manager without a task falls back to the role.
	l1 := invoice(domain.EscalationRung{Level: 1, After: 14 * 24 * time.Hour, TargetAssigneeManager: true, TargetRole: domain.RoleSalesManager})
	first, err := a.RaiseEscalation(ctx, l1)
	require.NoError(t, err)
	second, err := a.RaiseEscalation(ctx, l1) // a retry
	require.NoError(t, err)
	assert.Equal(t, []string{"bob"}, first.Targets)
	assert.Equal(t, first, second)
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM escalations WHERE task_id IS NULL
		AND subject = 'invoice/INV-2026-0001' AND level = 1 AND raised_at = $1`, due.Add(14*24*time.Hour)))
	assert.Equal(t, 0, count(t, a.Store, `SELECT escalation_level FROM tasks WHERE id = 'tsk_S'`))
	assert.Equal(t, []string{"esc/order/ord_1/invoice/INV-2026-0001/1/bob", "esc/order/ord_1/invoice/INV-2026-0001/1/bob"}, m.keys())
	e := m.sent()[0]
	assert.Equal(t, domain.TmplEscalation, e.Template)
	assert.Equal(t, "bob@example.com", e.To.Email)
	assert.Equal(t, "Invoice INV-2026-0001", e.Data["task_title"])
	assert.Equal(t, "invoice/INV-2026-0001", e.Data["subject"])
	assert.Equal(t, "", e.Data["task_id"])

	assert.Equal(t, 1, auditCount(t, a.Store, "escalated"))
	var detail map[string]any
	require.NoError(t, a.Store.Pool.QueryRow(ctx, `SELECT detail FROM audit_events WHERE event = 'escalated'`).Scan(&detail))
	assert.Equal(t, "invoice/INV-2026-0001", detail["subject"])
	assert.NotContains(t, detail, "task_id")
	assert.Equal(t, []any{"bob"}, detail["targets"])

	// Level 2 to a named user.
	m.reset()
	l2, err := a.RaiseEscalation(ctx, invoice(domain.EscalationRung{Level: 2, After: 30 * 24 * time.Hour, TargetUser: "judy"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"judy"}, l2.Targets)
	assert.NotEqual(t, first.EscalationID, l2.EscalationID)
	assert.Equal(t, []string{"esc/order/ord_1/invoice/INV-2026-0001/2/judy"}, m.keys())

	// Neither a task nor a subject, or a task with another subject: refused for good.
	var appErr *temporal.ApplicationError
	none := l1
	none.Subject = ""
	_, err = a.RaiseEscalation(ctx, none)
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable())
	mixed := l1
	mixed.TaskID = "tsk_S"
	_, err = a.RaiseEscalation(ctx, mixed)
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, 0, count(t, a.Store, `SELECT escalation_level FROM tasks WHERE id = 'tsk_S'`))
}

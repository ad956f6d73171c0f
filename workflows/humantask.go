package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// TasksConfig identifies the process whose human tasks a Tasks helper runs.
type TasksConfig struct {
	WorkflowID string
	Process    string // e.g. domain.ProcessComplaint
	ProcessID  string // the business id
	// StatusFn returns the process status reported to whoever completes a task.
	StatusFn func() string
	// OnEscalation, when set, is called after an escalation has been raised, while the
	// task is still open (its caller waits for it before the task is closed). ctx is
	// disconnected from the task's cancellation.
	OnEscalation func(ctx workflow.Context, e Escalation)
	// OnClosed, when set, is called by Run and RunAll for each task right after its row
	// is closed (completed or cancelled), before they wait again or return; so a
	// complete-task Update answers only after it has run. An error stops RunAll.
	OnClosed func(ctx workflow.Context, o TaskOutcome) error
	// ContactCustomer, when set, is the process's "reach the customer another way" task:
	// when one of its e-mails to the customer fails for good (SendCustomerMail,
	// QueuedCustomerMail), it returns the spec of a task that opens beside the main flow,
	// and Finish waits for it. Without it such a failure is only logged.
	ContactCustomer func(ctx workflow.Context, f MailFailure) TaskSpec
}

// ErrInterrupted is returned by Run and RunAll once Interrupt has been called.
var ErrInterrupted = errors.New("human tasks interrupted")

// TaskSpec describes one human task.
type TaskSpec struct {
	Step  string
	Round int
	// Key tells apart parallel tasks of one step and round (e.g. "finance"); may be "".
	Key             string
	Title           string
	Assignee        string
	CandidateGroups []string
	ExcludeUsers    []string
	Actions         []string
	Form            []domain.FormField
	Context         map[string]any
	Priority        int
	Locale          string
	// The SLA window: reminders fall at WindowStart + f*(DueAt-WindowStart) for each f in
	// Reminders, and the escalation ladder at DueAt + rung.After for each rung.
	WindowStart time.Time
	DueAt       time.Time
	Reminders   []float64
	Ladder      []domain.EscalationRung
	// Validate adds step-specific checks of the data after the form's own checks
	// (ValidateForm). It must be pure: it runs in the Update validator.
	Validate func(action string, data map[string]any) []domain.FieldError
	// CommentRequired lists the actions that must come with a comment (a rejection that
	// sends a plan back says why): without one the completion is invalid data on
	// "comment".
	CommentRequired []string
}

// TaskOutcome is how a task ended.
type TaskOutcome struct {
	TaskID   string
	Step     string
	Round    int
	Key      string
	Status   string // domain.TaskCompleted or domain.TaskCancelled
	Assignee string // whom the task went to, after delegation
	// DelegatedFrom is the user the task was meant for when it went to their delegate.
	DelegatedFrom string
	Actor         string
	Action        string
	Comment       string
	Data          map[string]any
	At            time.Time // when it was completed or cancelled
	// EscalationLevel is the highest escalation level raised for this task (0: none).
	EscalationLevel int
}

// Escalation is reported to TasksConfig.OnEscalation and Deadline.OnEscalation.
type Escalation struct {
	Subject      string // the deadline's (domain.TaskSubject for a task)
	TaskID       string // "" for a deadline without a task
	Step         string
	Key          string // the task's TaskSpec.Key
	Level        int
	EscalationID string
	Targets      []string
	At           time.Time
}

// Tasks runs the human tasks of one workflow run (ARCHITECTURE.md, "Human task"). It owns
// the complete-task Update: create it once per run with NewTasks.
//
// Read-your-writes: the Update returns only after the task row is closed and the
// workflow has reached its next waiting point, so the process status it reports (and
// the read model) already reflect the decision. The workflow marks waiting points by
// waiting through Await, AwaitWithTimeout or Run/RunAll, and must end with Finish.
type Tasks struct {
	cfg   TasksConfig
	open  []*task // tasks created and not yet closed, in creation order
	idle  int     // bumped each time the workflow blocks waiting for the outside world
	seq   int     // orders accepted completions
	level int     // highest escalation level raised in this run
	// interrupted: Run and RunAll cancel their open tasks and return ErrInterrupted.
	interrupted bool
	// local: this run started at versionLocalWrites or later. Task rows and projections
	// are local activities, and e-mails are queued in the outbox as they arise and
	// delivered in the background, one DeliverEmails per waiting point (mail.go).
	local bool
	mail  mailbox
}

// task is the workflow-side state of one open task.
type task struct {
	spec          TaskSpec
	id            string
	assignee      string
	delegatedFrom string
	created       bool
	done          *domain.CompleteTaskRequest // the accepted completion
	doneAt        time.Time
	doneSeq       int
	closed        bool
	level         int
	stopSLA       func(workflow.Context) error // StartDeadline's stop
}

// NewTasks registers the complete-task Update handler and returns the helper.
func NewTasks(ctx workflow.Context, cfg TasksConfig) (*Tasks, error) {
	h := &Tasks{cfg: cfg}
	h.local = workflow.GetVersion(ctx, versionLocalWrites, workflow.DefaultVersion, 1) >= 1
	err := workflow.SetUpdateHandlerWithOptions(ctx, domain.UpdateCompleteTask, h.complete,
		workflow.UpdateHandlerOptions{Validator: h.validate})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// EscalationLevel is the highest escalation level raised in this run so far.
func (h *Tasks) EscalationLevel() int { return h.level }

// OpenTaskIDs lists the tasks that currently accept a completion, in creation order.
func (h *Tasks) OpenTaskIDs() []string {
	ids := []string{}
	for _, t := range h.open {
		if t.done == nil {
			ids = append(ids, t.id)
		}
	}
	return ids
}

// OpenTask is a task that accepts a completion, as CreateTask routed it.
type OpenTask struct {
	TaskID        string
	Step          string
	Round         int
	Key           string
	Assignee      string
	DelegatedFrom string
	DueAt         time.Time
}

// OpenTasks lists the tasks that currently accept a completion, in creation order.
func (h *Tasks) OpenTasks() []OpenTask {
	out := []OpenTask{}
	for _, t := range h.open {
		if t.done == nil {
			out = append(out, OpenTask{
				TaskID: t.id, Step: t.spec.Step, Round: t.spec.Round, Key: t.spec.Key,
				Assignee: t.assignee, DelegatedFrom: t.delegatedFrom, DueAt: t.spec.DueAt,
			})
		}
	}
	return out
}

// Interrupt makes the running Run or RunAll (and every later one) stop waiting: the
// tasks still open are cancelled, completions already accepted are honoured, and it
// returns ErrInterrupted. Use it from an Update handler (e.g. a withdrawal).
func (h *Tasks) Interrupt() { h.interrupted = true }

// Resume undoes Interrupt once the process has acted on it, so that Run and RunAll
// wait again: the tasks of a cancellation's compensations, say.
func (h *Tasks) Resume() { h.interrupted = false }

// Interrupted reports whether Interrupt was called and not yet undone by Resume.
func (h *Tasks) Interrupted() bool { return h.interrupted }

// Run creates one task, waits for its completion while running its SLA timers, closes
// it and returns the outcome.
func (h *Tasks) Run(ctx workflow.Context, spec TaskSpec) (TaskOutcome, error) {
	out, err := h.RunAll(ctx, []TaskSpec{spec}, nil)
	if err != nil {
		return TaskOutcome{}, err
	}
	return out[0], nil
}

// RunAll runs tasks in parallel and returns their outcomes in the order of specs. Each
// completed task is closed as soon as it completes. When stop reports true for an
// outcome, the tasks still open are cancelled (a completion already accepted is still
// honoured) and RunAll returns. With a nil stop it waits for all of them. After
// Interrupt it returns the outcomes so far (the cancelled tasks included) with
// ErrInterrupted.
func (h *Tasks) RunAll(ctx workflow.Context, specs []TaskSpec, stop func(TaskOutcome) bool) ([]TaskOutcome, error) {
	if h.interrupted {
		return nil, ErrInterrupted
	}
	tasks := make([]*task, len(specs))
	futures := make([]workflow.Future, len(specs))
	now := utcNow(ctx)
	for i, s := range specs {
		t := &task{spec: s, id: domain.TaskID(h.cfg.WorkflowID, s.Step, s.Round, s.Key)}
		tasks[i] = t
		// Open for completion at once: CreateTask commits the row before it sends the
		// notices, so a person may act on the task before the activity returns.
		h.open = append(h.open, t)
		futures[i] = startWrite(ctx, h.local, domain.ActCreateTask, h.createInput(t, now))
	}
	for i, f := range futures {
		var res domain.CreateTaskResult
		if err := f.Get(ctx, &res); err != nil {
			h.abandon(ctx, tasks)
			return nil, fmt.Errorf("create task %s: %w", tasks[i].id, err)
		}
		t := tasks[i]
		t.created, t.assignee, t.delegatedFrom = true, res.Assignee, res.DelegatedFrom
		h.startSLA(ctx, t)
		if h.local {
			h.mail.notices = append(h.mail.notices, t.id)
		}
	}

	outcomes := make([]TaskOutcome, len(tasks))
	for pending := len(tasks); pending > 0; pending-- {
		var next *task
		err := h.Await(ctx, func() bool { next = firstDone(tasks); return next != nil || h.interrupted })
		if err != nil {
			h.abandon(ctx, tasks)
			return nil, err
		}
		if next == nil { // interrupted
			break
		}
		out, err := h.closeWith(ctx, next, domain.TaskCompleted)
		if err != nil {
			return nil, err
		}
		outcomes[slices.Index(tasks, next)] = out
		if stop != nil && stop(out) {
			break
		}
	}

	// Stopped early: nothing more may complete. Honour completions already accepted,
	// cancel the rest.
	var rest []*task
	for _, t := range tasks {
		if !t.closed {
			rest = append(rest, t)
			if t.done == nil {
				h.forget(t)
			}
		}
	}
	for _, t := range rest {
		status := domain.TaskCancelled
		if t.done != nil {
			status = domain.TaskCompleted
		}
		out, err := h.closeWith(ctx, t, status)
		if err != nil {
			return nil, err
		}
		outcomes[slices.Index(tasks, t)] = out
	}
	if h.interrupted {
		return outcomes, ErrInterrupted
	}
	return outcomes, nil
}

// closeWith closes t, then reports its outcome to OnClosed.
func (h *Tasks) closeWith(ctx workflow.Context, t *task, status string) (TaskOutcome, error) {
	if err := h.close(ctx, t, status); err != nil {
		return TaskOutcome{}, err
	}
	out := t.outcome(status)
	if h.cfg.OnClosed != nil {
		if err := h.cfg.OnClosed(ctx, out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Await blocks until cond holds, marking a waiting point for the complete-task Update.
// Before it blocks, it hands the e-mails queued so far to DeliverEmails.
func (h *Tasks) Await(ctx workflow.Context, cond func() bool) error {
	if !cond() {
		h.deliver(ctx)
		h.idle++
	}
	return workflow.Await(ctx, cond)
}

// AwaitWithTimeout is Await with a timeout; ok is false when the timeout came first.
func (h *Tasks) AwaitWithTimeout(ctx workflow.Context, timeout time.Duration, cond func() bool) (ok bool, err error) {
	if !cond() {
		h.deliver(ctx)
		h.idle++
	}
	return workflow.AwaitWithTimeout(ctx, timeout, cond)
}

// Settled blocks an Update handler of the workflow's own until the workflow has reached
// its next waiting point (or its end), for read-your-writes.
func (h *Tasks) Settled(ctx workflow.Context) error {
	seen := h.idle
	return workflow.Await(ctx, func() bool { return h.idle > seen })
}

// Finish lets the contact-customer tasks end and waits for them and for every queued
// e-mail (a waiting point); then it marks the end of the workflow as a waiting point and
// waits until every Update handler has returned and every e-mail has been delivered.
// Call it last.
func (h *Tasks) Finish(ctx workflow.Context) error {
	h.mail.ending = true
	if err := h.Await(ctx, func() bool { return h.mail.contacts == 0 && h.Delivered() }); err != nil {
		return err
	}
	h.deliver(ctx)
	h.idle++
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && h.Delivered() })
}

func (h *Tasks) status() string {
	if h.cfg.StatusFn == nil {
		return ""
	}
	return h.cfg.StatusFn()
}

// find returns the open task with id, or nil.
func (h *Tasks) find(id string) *task {
	for _, t := range h.open {
		if t.id == id {
			return t
		}
	}
	return nil
}

// forget removes t from the open tasks.
func (h *Tasks) forget(t *task) {
	h.open = slices.DeleteFunc(h.open, func(x *task) bool { return x == t })
}

// check is the complete-task validation, shared by the validator and the handler (the
// validator does not run on replay).
func (h *Tasks) check(req domain.CompleteTaskRequest) (*task, error) {
	t := h.find(req.TaskID)
	if t == nil || t.done != nil {
		return nil, temporal.NewApplicationError(fmt.Sprintf("task %s is not open", req.TaskID), domain.ErrTypeTaskClosed)
	}
	if !slices.Contains(t.spec.Actions, req.Action) {
		return nil, temporal.NewApplicationError(
			fmt.Sprintf("action %q is not allowed for step %s; allowed: %s", req.Action, t.spec.Step, strings.Join(t.spec.Actions, ", ")),
			domain.ErrTypeInvalidAction)
	}
	errs := ValidateForm(t.spec.Form, req.Action, req.Data)
	if slices.Contains(t.spec.CommentRequired, req.Action) && strings.TrimSpace(req.Comment) == "" {
		errs = append(errs, domain.FieldError{Field: "comment", Message: "is required"})
	}
	if len(errs) == 0 && t.spec.Validate != nil {
		errs = t.spec.Validate(req.Action, req.Data)
	}
	if len(errs) > 0 {
		return nil, temporal.NewApplicationError("invalid data", domain.ErrTypeInvalidData, errs)
	}
	return t, nil
}

func (h *Tasks) validate(_ workflow.Context, req domain.CompleteTaskRequest) error {
	_, err := h.check(req)
	return err
}

// complete is the complete-task Update handler. It records the completion at once, so a
// concurrent second completion fails validation, then waits until the task is closed
// and the workflow waits again.
func (h *Tasks) complete(ctx workflow.Context, req domain.CompleteTaskRequest) (domain.CompleteTaskResponse, error) {
	t, err := h.check(req)
	if err != nil {
		return domain.CompleteTaskResponse{}, err
	}
	h.seq++
	t.done, t.doneAt, t.doneSeq = &req, utcNow(ctx), h.seq
	seen := h.idle
	if err := workflow.Await(ctx, func() bool { return t.closed && h.idle > seen }); err != nil {
		return domain.CompleteTaskResponse{}, err
	}
	return domain.CompleteTaskResponse{TaskID: t.id, ProcessStatus: h.status()}, nil
}

// firstDone returns the earliest completed task not yet closed, or nil.
func firstDone(tasks []*task) *task {
	var first *task
	for _, t := range tasks {
		if t.done != nil && !t.closed && (first == nil || t.doneSeq < first.doneSeq) {
			first = t
		}
	}
	return first
}

func (h *Tasks) createInput(t *task, now time.Time) domain.CreateTaskInput {
	s := t.spec
	return domain.CreateTaskInput{
		TaskID: t.id, WorkflowID: h.cfg.WorkflowID, Process: h.cfg.Process, ProcessID: h.cfg.ProcessID,
		Step: s.Step, Round: s.Round, Title: s.Title,
		Assignee: s.Assignee, CandidateGroups: s.CandidateGroups, ExcludeUsers: s.ExcludeUsers,
		Actions: s.Actions, Form: s.Form, Context: s.Context, Priority: s.Priority,
		DueAt: s.DueAt, CreatedAt: now, Locale: s.Locale, DeferNotify: h.local,
	}
}

// close stops t's SLA timers (waiting for an escalation in flight), then closes the row.
func (h *Tasks) close(ctx workflow.Context, t *task, status string) error {
	if err := t.stopSLA(ctx); err != nil {
		return err
	}
	in := domain.CloseTaskInput{
		TaskID: t.id, WorkflowID: h.cfg.WorkflowID, Process: h.cfg.Process, ProcessID: h.cfg.ProcessID,
		Status: status, Actor: "system", At: utcNow(ctx),
	}
	if d := t.done; d != nil && status == domain.TaskCompleted {
		in.Actor, in.Action, in.Comment, in.Data, in.At = d.Actor, d.Action, d.Comment, d.Data, t.doneAt
	}
	if err := write(ctx, h.local, domain.ActCloseTask, in, nil); err != nil {
		return fmt.Errorf("close task %s: %w", t.id, err)
	}
	t.closed = true
	h.forget(t)
	return nil
}

// abandon cancels the created tasks that are still open when the workflow gives up
// waiting (for instance when it is cancelled). Best effort, on a disconnected context.
func (h *Tasks) abandon(ctx workflow.Context, tasks []*task) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	for _, t := range tasks {
		if !t.created {
			h.forget(t)
			continue
		}
		if t.closed {
			continue
		}
		if err := h.close(dctx, t, domain.TaskCancelled); err != nil {
			workflow.GetLogger(ctx).Warn("cancel task", "task_id", t.id, "error", err)
		}
	}
}

func (t *task) outcome(status string) TaskOutcome {
	o := TaskOutcome{
		TaskID: t.id, Step: t.spec.Step, Round: t.spec.Round, Key: t.spec.Key,
		Status: status, Assignee: t.assignee, DelegatedFrom: t.delegatedFrom, EscalationLevel: t.level,
	}
	if d := t.done; d != nil && status == domain.TaskCompleted {
		o.Actor, o.Action, o.Comment, o.Data, o.At = d.Actor, d.Action, d.Comment, d.Data, t.doneAt
	}
	return o
}

// startSLA runs t's reminders and escalation ladder (StartDeadline) until stopSLA.
func (h *Tasks) startSLA(ctx workflow.Context, t *task) {
	if t.done != nil { // completed while it was being created: no timers to run
		t.stopSLA = func(workflow.Context) error { return nil }
		return
	}
	t.stopSLA = StartDeadline(ctx, h.deadline(t))
}

// deadline is t's SLA as a Deadline: each reminder is a SendReminder to the task's
// assignee (or candidate groups), each escalation is the task's, and completing the
// task meets it.
func (h *Tasks) deadline(t *task) Deadline {
	s := t.spec
	return Deadline{
		WorkflowID: h.cfg.WorkflowID, Process: h.cfg.Process, ProcessID: h.cfg.ProcessID,
		Subject: domain.TaskSubject(t.id), Title: s.Title, TaskID: t.id, Step: s.Step,
		WindowStart: s.WindowStart, DueAt: s.DueAt,
		Reminders: WindowFractions(s.Reminders), Ladder: s.Ladder,
		Met: func() bool { return t.done != nil },
		OnReminder: func(ctx workflow.Context, r DeadlineReminder) {
			in := domain.ReminderInput{
				TaskID: t.id, WorkflowID: h.cfg.WorkflowID, Process: h.cfg.Process, ProcessID: h.cfg.ProcessID,
				N: r.N, DueAt: r.DueAt, At: utcNow(ctx),
			}
			if err := execute(ctx, domain.ActSendReminder, in, nil); err != nil {
				workflow.GetLogger(ctx).Warn("send reminder", "task_id", t.id, "error", err)
			}
		},
		OnEscalation: func(ctx workflow.Context, e Escalation) {
			t.level = max(t.level, e.Level)
			h.level = max(h.level, e.Level)
			if h.cfg.OnEscalation != nil {
				e.Key = s.Key
				h.cfg.OnEscalation(ctx, e)
			}
		},
	}
}

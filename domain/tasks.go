package domain

import "time"

// Task statuses.
const (
	TaskOpen      = "open"
	TaskCompleted = "completed"
	TaskCancelled = "cancelled"
)

// Workflow Update and Query names shared by the API and the workflows.
const (
	UpdateCompleteTask   = "complete-task"
	UpdateSubmitFeedback = "submit-feedback"
	QueryStatus          = "status"
)

// Application error types returned by the complete-task validator, mapped by the API.
const (
	ErrTypeTaskClosed    = "TaskClosed"    // unknown or no longer open task → 409
	ErrTypeInvalidAction = "InvalidAction" // action not allowed for the step → 422
	ErrTypeInvalidData   = "InvalidData"   // data invalid for the step → 422; details: []FieldError
	ErrTypeNotAccepting  = "NotAccepting"  // e.g. feedback when none is awaited → 409
)

// FieldError names the field at fault in a 422 problem.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// FormField describes one input of a task form.
type FormField struct {
	Name string `json:"name"`
	// string | text | enum | money | integer | boolean | list | date | datetime. A list
	// with Options is a multiple choice: each item one of them. A datetime is an RFC 3339
	// time.
	Type     string   `json:"type"`
	Required bool     `json:"required"`
	Options  []string `json:"options,omitempty"`
	// Actions limits the field to these actions (empty: every action).
	Actions []string `json:"actions,omitempty"`
}

// EscalationRung is one level of an escalation ladder, relative to a deadline's due time.
type EscalationRung struct {
	Level int           `json:"level"`
	After time.Duration `json:"after"` // after the due time (level 1: 0)
	// TargetUser, when set, is the one target. Otherwise TargetAssigneeManager: the task
	// assignee's manager (falls back to TargetRole when there is none, or no task), and
	// TargetRole: every user with this role is a target.
	TargetUser            string `json:"target_user,omitempty"`
	TargetRole            Role   `json:"target_role,omitempty"`
	TargetAssigneeManager bool   `json:"target_assignee_manager,omitempty"`
	// TargetManagerOf, when set, names a user whose manager, as the user directory has
	// it when the rung is raised, is the target (an invoice's rep's sales manager, months
	// after the order); without one, TargetRole.
	TargetManagerOf string `json:"target_manager_of,omitempty"`
}

// CreateTaskInput is the input of the CreateTask activity. The task id is derived from
// workflow id + step + round + key, so a retry inserts nothing new.
type CreateTaskInput struct {
	TaskID          string         `json:"task_id"`
	WorkflowID      string         `json:"workflow_id"`
	Process         string         `json:"process"` // "complaint", "contract", ...
	ProcessID       string         `json:"process_id"`
	Step            string         `json:"step"`
	Round           int            `json:"round"`
	Title           string         `json:"title"`
	Assignee        string         `json:"assignee,omitempty"` // username
	CandidateGroups []string       `json:"candidate_groups,omitempty"`
	ExcludeUsers    []string       `json:"exclude_users,omitempty"` // may not act (self-review)
	Actions         []string       `json:"actions"`
	Form            []FormField    `json:"form,omitempty"`
	Context         map[string]any `json:"context,omitempty"`
	Priority        int            `json:"priority"` // higher first
	DueAt           time.Time      `json:"due_at"`
	CreatedAt       time.Time      `json:"created_at"`
	Locale          string         `json:"locale,omitempty"`
	// DeferNotify: leave the task_assigned notices to the workflow (DeliverEmails with
	// NotifyTasks), so that opening the task waits neither for the mail provider nor for
	// rendering a notice per group member.
	DeferNotify bool `json:"defer_notify,omitempty"`
}

// CreateTaskResult tells the workflow whom the task went to (after delegation).
type CreateTaskResult struct {
	TaskID        string `json:"task_id"`
	Assignee      string `json:"assignee,omitempty"`
	DelegatedFrom string `json:"delegated_from,omitempty"`
}

// CompleteTaskRequest is the argument of the complete-task Update. The API fills Actor
// after checking who may act.
type CompleteTaskRequest struct {
	TaskID  string         `json:"task_id"`
	Action  string         `json:"action"`
	Actor   string         `json:"actor"`
	Comment string         `json:"comment,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

// CompleteTaskResponse is the Update's result.
type CompleteTaskResponse struct {
	TaskID        string `json:"task_id"`
	ProcessStatus string `json:"process_status"`
}

// CloseTaskInput closes a task row (completed or cancelled) and writes its audit event.
type CloseTaskInput struct {
	TaskID     string         `json:"task_id"`
	WorkflowID string         `json:"workflow_id"`
	Process    string         `json:"process"`
	ProcessID  string         `json:"process_id"`
	Status     string         `json:"status"` // completed | cancelled
	Actor      string         `json:"actor,omitempty"`
	Action     string         `json:"action,omitempty"`
	Comment    string         `json:"comment,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
	At         time.Time      `json:"at"`
}

// ReminderInput asks the SendReminder activity to remind a task's assignee (or its
// candidate groups when unassigned). N numbers the reminder within the task.
type ReminderInput struct {
	TaskID     string    `json:"task_id"`
	WorkflowID string    `json:"workflow_id"`
	Process    string    `json:"process"`
	ProcessID  string    `json:"process_id"`
	N          int       `json:"n"`
	DueAt      time.Time `json:"due_at"`
	At         time.Time `json:"at"`
}

// EscalationInput asks RaiseEscalation to record (unique per workflow, subject, level)
// and e-mail an escalation. It is about a human task (TaskID set; Subject "" or the
// task's) or about any other deadline of the process (Subject set, no TaskID).
type EscalationInput struct {
	WorkflowID string `json:"workflow_id"`
	Process    string `json:"process"`
	ProcessID  string `json:"process_id"`
	// Subject names what is overdue, "<kind>/<id>" (e.g. "invoice/INV-2026-0001");
	// "" with a TaskID: TaskSubject(TaskID).
	Subject string `json:"subject,omitempty"`
	// Title is how the e-mail names the subject when there is no task.
	Title  string         `json:"title,omitempty"`
	TaskID string         `json:"task_id"`
	Step   string         `json:"step"`
	Rung   EscalationRung `json:"rung"`
	Reason string         `json:"reason"`
	DueAt  time.Time      `json:"due_at"`
	At     time.Time      `json:"at"`
}

// TaskSubject is the escalation subject of a human task.
func TaskSubject(taskID string) string { return "task/" + taskID }

// EscalationSubject is an escalation's subject: subject, or else the task's.
func EscalationSubject(subject, taskID string) string {
	if subject == "" && taskID != "" {
		return TaskSubject(taskID)
	}
	return subject
}

// EscalationResult returns the escalation id and the resolved target usernames.
type EscalationResult struct {
	EscalationID string   `json:"escalation_id"`
	Targets      []string `json:"targets"`
}

// AuditInput records one audit event (idempotent on Key).
type AuditInput struct {
	Key       string         `json:"key"` // unique; e.g. workflow id + "/" + event + "/" + n
	Process   string         `json:"process"`
	ProcessID string         `json:"process_id"`
	Actor     string         `json:"actor"` // username or "system"
	Event     string         `json:"event"`
	Detail    map[string]any `json:"detail,omitempty"`
	At        time.Time      `json:"at"`
}

// EmailRecipient is an e-mail address with a display name.
type EmailRecipient struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// SendEmailInput asks the outbox to send one templated e-mail exactly once per
// IdempotencyKey.
type SendEmailInput struct {
	IdempotencyKey string         `json:"idempotency_key"`
	To             EmailRecipient `json:"to"`
	Locale         string         `json:"locale"`
	Template       string         `json:"template"`
	Data           map[string]any `json:"data"`
	Process        string         `json:"process"`
	ProcessID      string         `json:"process_id"`
	WorkflowID     string         `json:"workflow_id"`
}

// DeliverEmailsInput names queued e-mails (QueueEmail) to send, and tasks opened with
// DeferNotify whose task_assigned notices to send (if the task is still open).
type DeliverEmailsInput struct {
	Keys        []string `json:"keys,omitempty"`
	NotifyTasks []string `json:"notify_tasks,omitempty"`
}

// DeliveredEmail is one e-mail's state after DeliverEmails: sent, or failed for good.
type DeliveredEmail struct {
	Key string `json:"key"`
	SendEmailResult
}

// DeliverEmailsResult reports each e-mail of DeliverEmailsInput.Keys, in order.
type DeliverEmailsResult struct {
	Emails []DeliveredEmail `json:"emails"`
}

// SendEmailResult is the outbox row's state after the attempt.
type SendEmailResult struct {
	EmailID           string `json:"email_id"`
	Status            string `json:"status"` // sent | failed | queued
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	Error             string `json:"error,omitempty"` // why it failed, when Status is failed
}

// E-mail templates.
const (
	TmplComplaintAck        = "complaint_ack"
	TmplComplaintResponse   = "complaint_response"
	TmplComplaintResolution = "complaint_resolution"
	TmplFeedbackRequest     = "feedback_request"
	TmplTaskAssigned        = "task_assigned"
	TmplTaskReminder        = "task_reminder"
	TmplEscalation          = "escalation"
)

// Activity names. Workflows call activities by these names only.
const (
	ActCreateTask       = "CreateTask"
	ActCloseTask        = "CloseTask"
	ActSendReminder     = "SendReminder"
	ActRaiseEscalation  = "RaiseEscalation"
	ActRecordAudit      = "RecordAudit"
	ActSendEmail        = "SendEmail"
	ActQueueEmail       = "QueueEmail"
	ActDeliverEmails    = "DeliverEmails"
	ActProjectComplaint = "ProjectComplaint"
	ActRequestFeedback  = "RequestFeedback"
	// ActQueueNotice queues a staff notice in the outbox, one e-mail to each of the users
	// and each member of the groups, without sending it (a local activity; DeliverEmails
	// sends it). Input: NotifyInput; result: QueueNoticeResult.
	ActQueueNotice = "QueueNotice"
)

// QueueNoticeResult lists the outbox keys QueueNotice queued (one per recipient, in the
// order of Recipients) and the usernames they go to.
type QueueNoticeResult struct {
	Keys       []string `json:"keys"`
	Recipients []string `json:"recipients"`
}

// Process names.
const (
	ProcessComplaint = "complaint"
)

// TaskQueue is the worker's task queue.
const TaskQueue = "serviceflow"

package domain

import "time"

// ComplaintProjection upserts the complaint read model and writes one audit event in the
// same transaction (ProjectComplaint activity). Nil pointer fields are left unchanged.
type ComplaintProjection struct {
	Input           *ComplaintInput `json:"input,omitempty"` // set on the first call: inserts the row
	ComplaintID     string          `json:"complaint_id"`
	Status          string          `json:"status"`
	Category        *string         `json:"category,omitempty"`
	Severity        *string         `json:"severity,omitempty"`
	Assignee        *string         `json:"assignee,omitempty"`
	ResponseDueAt   *time.Time      `json:"response_due_at,omitempty"`
	RespondedAt     *time.Time      `json:"responded_at,omitempty"`
	Resolution      *Resolution     `json:"resolution,omitempty"`
	EscalationLevel *int            `json:"escalation_level,omitempty"`
	ClosedAt        *time.Time      `json:"closed_at,omitempty"`
	Audit           AuditInput      `json:"audit"`
}

// FeedbackRequestInput creates the personal feedback link (idempotent on complaint and
// round) and e-mails it to the customer.
type FeedbackRequestInput struct {
	ComplaintID string         `json:"complaint_id"`
	WorkflowID  string         `json:"workflow_id"`
	Round       int            `json:"round"`
	To          EmailRecipient `json:"to"`
	Locale      string         `json:"locale"`
	Subject     string         `json:"subject"`
	At          time.Time      `json:"at"`
	// QueueOnly: queue the e-mail in the outbox and leave its delivery to the workflow
	// (DeliverEmails with Result.EmailKey).
	QueueOnly bool `json:"queue_only,omitempty"`
}

// FeedbackRequestResult returns the link that was sent.
type FeedbackRequestResult struct {
	URL      string          `json:"url"`
	EmailKey string          `json:"email_key,omitempty"`
	Email    SendEmailResult `json:"email"`
}

// Feedback is the customer's answer (submit-feedback Update).
type Feedback struct {
	Score   int       `json:"score"` // 1..5
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// ComplaintState is what the status query returns.
type ComplaintState struct {
	Status          string      `json:"status"`
	Severity        string      `json:"severity"`
	Category        string      `json:"category,omitempty"`
	Owner           string      `json:"owner,omitempty"`
	ResponseDueAt   time.Time   `json:"response_due_at"`
	RespondedAt     *time.Time  `json:"responded_at,omitempty"`
	Resolution      *Resolution `json:"resolution,omitempty"`
	EscalationLevel int         `json:"escalation_level"`
	OpenTasks       []string    `json:"open_tasks"`
	Round           int         `json:"round"`
}

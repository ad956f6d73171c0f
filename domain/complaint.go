package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Complaint statuses (API.md).
const (
	ComplaintReceived         = "received"
	ComplaintEvaluating       = "evaluating"
	ComplaintResponding       = "responding"
	ComplaintResolving        = "resolving"
	ComplaintAwaitingApproval = "awaiting_approval"
	ComplaintFollowingUp      = "following_up"
	ComplaintClosed           = "closed"
)

var ComplaintStatuses = []string{ComplaintReceived, ComplaintEvaluating, ComplaintResponding,
	ComplaintResolving, ComplaintAwaitingApproval, ComplaintFollowingUp, ComplaintClosed}

var ComplaintChannels = []string{"phone", "email", "web", "visit"}
var ComplaintSeverities = []string{"normal", "urgent"}
var ComplaintCategories = []string{"product", "delivery", "service", "communication"}
var ResolutionTypes = []string{"replacement", "repair", "refund", "compensation", "explanation"}

// Complaint steps (task step names, API.md).
const (
	StepEvaluate              = "evaluate"
	StepRespond               = "respond"
	StepResolve               = "resolve"
	StepApproveResolution     = "approve_resolution"
	StepReviewDissatisfaction = "review_dissatisfaction"
	// StepContactCustomer asks a handler to reach the customer another way when an
	// e-mail to them failed for good.
	StepContactCustomer = "contact_customer"
)

// Customer tiers.
var Tiers = []string{"A", "B", "C", "D"}

// Locales supported by the e-mail templates.
var Locales = []string{"en", "zh-CN"}

// In reports whether v is one of set.
func In(v string, set []string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// ComplaintPolicy is the SLA configuration of the complaint process. It is carried in the
// workflow input so the workflow stays deterministic and the policy in force at filing
// time is recorded in the history.
type ComplaintPolicy struct {
	ResponseSLA       time.Duration `json:"response_sla"`        // normal: 24h
	UrgentResponseSLA time.Duration `json:"urgent_response_sla"` // urgent: 1h
	TierAResponseSLA  time.Duration `json:"tier_a_response_sla"` // tier A: 12h
	ResolveSLA        time.Duration `json:"resolve_sla"`         // 72h
	ApprovalSLA       time.Duration `json:"approval_sla"`        // 24h
	ReviewSLA         time.Duration `json:"review_sla"`          // review_dissatisfaction: 24h
	EscalationStep    time.Duration `json:"escalation_step"`     // level 2 this long after level 1: 12h
	FeedbackWait      time.Duration `json:"feedback_wait"`       // no answer closes after 7 days
	// FeedbackReminders are offsets from the feedback request at which an unanswered
	// link is e-mailed again (runs from before customer links have none).
	FeedbackReminders []time.Duration `json:"feedback_reminders,omitempty"`
	// Reminders are fractions of a step's window at which the assignee is reminded.
	Reminders []float64 `json:"reminders"` // 0.5, 0.8
	// FinanceThreshold: a refund or compensation above this amount also needs finance.
	FinanceThreshold Money `json:"finance_threshold"`
	// DissatisfiedScore: a feedback score at or below it opens review_dissatisfaction.
	DissatisfiedScore int `json:"dissatisfied_score"` // 2
}

// DefaultComplaintPolicy returns DOMAIN.md's defaults.
func DefaultComplaintPolicy() ComplaintPolicy {
	return ComplaintPolicy{
		ResponseSLA:       24 * time.Hour,
		UrgentResponseSLA: time.Hour,
		TierAResponseSLA:  12 * time.Hour,
		ResolveSLA:        72 * time.Hour,
		ApprovalSLA:       24 * time.Hour,
		ReviewSLA:         24 * time.Hour,
		EscalationStep:    12 * time.Hour,
		FeedbackWait:      7 * 24 * time.Hour,
		FeedbackReminders: []time.Duration{3 * 24 * time.Hour},
		Reminders:         []float64{0.5, 0.8},
		FinanceThreshold:  Money{Amount: "10000.00", Currency: "CNY"},
		DissatisfiedScore: 2,
	}
}

// ResponseWindow is the first-response SLA for a complaint: the shortest that applies
// (urgent 1 h, tier A 12 h, else 24 h).
func (p ComplaintPolicy) ResponseWindow(severity, tier string) time.Duration {
	w := p.ResponseSLA
	if tier == "A" && p.TierAResponseSLA < w {
		w = p.TierAResponseSLA
	}
	if severity == "urgent" && p.UrgentResponseSLA < w {
		w = p.UrgentResponseSLA
	}
	return w
}

// NeedsApproval reports whether a resolution needs service_manager approval.
func NeedsApproval(resolutionType string) bool {
	return resolutionType == "refund" || resolutionType == "compensation"
}

// ComplaintInput starts the complaint workflow. The API fills it after validation.
type ComplaintInput struct {
	ID            string `json:"id"`
	CustomerID    string `json:"customer_id"`
	CustomerName  string `json:"customer_name"`
	CustomerEmail string `json:"customer_email"`
	CustomerTier  string `json:"customer_tier"`
	Locale        string `json:"locale"`
	OwnerRep      string `json:"owner_rep"` // username of the sales rep owning the customer
	Channel       string `json:"channel"`
	Subject       string `json:"subject"`
	Description   string `json:"description"`
	Severity      string `json:"severity"`
	Category      string `json:"category,omitempty"`
	OrderID       string `json:"order_id,omitempty"`
	// VisitID is the return visit that found the problem (channel "visit"), if any.
	VisitID    string          `json:"visit_id,omitempty"`
	FiledBy    string          `json:"filed_by"` // username
	ReceivedAt time.Time       `json:"received_at"`
	Policy     ComplaintPolicy `json:"policy"`
}

// Resolution is the outcome recorded by the resolve step.
type Resolution struct {
	Type    string `json:"type"`
	Summary string `json:"summary"`
	Amount  *Money `json:"amount,omitempty"`
}

// ComplaintProcess is complaint handling (DOMAIN.md, process 3). Complaint handlers,
// their managers and admin see every complaint; a sales rep sees the complaints of the
// customers they own.
var ComplaintProcess = Process{
	Name: ProcessComplaint, WorkflowType: "ComplaintWorkflow", IDPrefix: "cmp",
	Viewers:   ComplaintViewerRoles,
	Overseers: []Role{RoleServiceManager, RoleGeneralManager, RoleAdmin},
	Links:     map[string]LinkPurpose{PurposeComplaintFeedback: ComplaintFeedbackLink},
}

// ComplaintWorkflowID is the Temporal workflow id of a complaint.
func ComplaintWorkflowID(id string) string { return ComplaintProcess.WorkflowID(id) }

// MaxFeedbackComment bounds the comment of a complaint feedback answer (characters).
const MaxFeedbackComment = 2000

// PurposeComplaintFeedback is the link of the complaint's follow-up: the customer rates
// the resolution.
const PurposeComplaintFeedback = "complaint_feedback"

// ComplaintFeedbackLink is what a complaint feedback link asks: a score and a comment.
var ComplaintFeedbackLink = LinkPurpose{
	Fields: []FormField{
		{Name: "score", Type: "integer", Required: true},
		{Name: "comment", Type: "text"},
	},
	Validate: ValidateComplaintFeedback,
}

// ValidateComplaintFeedback checks a complaint feedback answer: a score of 1 to 5 and an
// optional comment of at most MaxFeedbackComment characters, nothing else.
func ValidateComplaintFeedback(answer map[string]any) []FieldError {
	var errs []FieldError
	if s, ok := AnswerInt(answer, "score"); !ok || s < 1 || s > 5 {
		errs = append(errs, FieldError{Field: "score", Message: "must be an integer from 1 to 5"})
	}
	if c, ok := answer["comment"]; ok && c != nil {
		s, isString := c.(string)
		if !isString || utf8.RuneCountInString(s) > MaxFeedbackComment || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			errs = append(errs, FieldError{Field: "comment", Message: fmt.Sprintf("must be plain text of at most %d characters", MaxFeedbackComment)})
		}
	}
	return append(errs, unknownAnswerFields(answer, "score", "comment")...)
}

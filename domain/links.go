package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"
)

// A customer link is a personal URL e-mailed to a customer, through which the customer
// answers a process once (ARCHITECTURE.md: "Customer answers arrive through a customer
// link, never a bare signal from the API"). Its purpose names what is asked.
// Each process declares the purposes of its links in its domain.Process (Links), with
// their constants in its own file.

// Customer link statuses.
const (
	LinkOpen     = "open"
	LinkAnswered = "answered"
	LinkExpired  = "expired"
)

// UpdateLinkAnswer is the one Update through which every customer link's answer reaches
// its workflow (argument LinkAnswer, result LinkAnswerResult).
const UpdateLinkAnswer = "customer-link-answer"

// AnswerStored, as a link's AnswerUpdate, says that no workflow waits for the answer:
// the /c/{token} request stores it (exactly once, before the expiry) and the process
// reads it from the store. For links sent by the thousand, such as a survey cycle's,
// whose workflow counts answers rather than acting on each.
const AnswerStored = "store"

// Rejections of the customer-link-answer validator besides ErrTypeInvalidData (422).
const (
	ErrTypeLinkAnswered = "LinkAnswered" // answered before → 409
	ErrTypeLinkExpired  = "LinkExpired"  // past its expiry → 410
	ErrTypeLinkUnknown  = "LinkUnknown"  // not a link this run waits for → 409
)

// Activities of the customer links.
const (
	ActCreateCustomerLink = "CreateCustomerLink"
	ActSendLinkReminder   = "SendLinkReminder"
	ActRecordLinkAnswer   = "RecordLinkAnswer"
	ActExpireCustomerLink = "ExpireCustomerLink"
)

// TmplFeedbackReminder reminds the customer of an unanswered complaint feedback link.
const TmplFeedbackReminder = "feedback_reminder"

// LinkID derives a link's id from its key (workflow id + "/" + the step's key, e.g.
// "complaint/cmp_1/feedback/1"), so a retried activity creates nothing new.
func LinkID(key string) string {
	h := sha256.Sum256([]byte(key))
	return "lnk_" + strings.ToUpper(hex.EncodeToString(h[:13]))
}

// LinkCustomer is whom a link is for.
type LinkCustomer struct {
	ID     string `json:"id,omitempty"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Locale string `json:"locale"`
}

// CreateLinkInput creates a customer link (once per Key) and queues its invitation
// e-mail in the outbox under the same key (CreateCustomerLink, a local activity).
type CreateLinkInput struct {
	Key        string         `json:"key"`
	Purpose    string         `json:"purpose"`
	Process    string         `json:"process"`
	ProcessID  string         `json:"process_id"`
	WorkflowID string         `json:"workflow_id"`
	Round      int            `json:"round"`
	Customer   LinkCustomer   `json:"customer"`
	Context    map[string]any `json:"context,omitempty"` // what the page and the e-mail show
	Template   string         `json:"template"`          // the invitation e-mail
	ExpiresAt  time.Time      `json:"expires_at"`
	At         time.Time      `json:"at"`
	// AnswerUpdate is the Update the answer is sent with: UpdateLinkAnswer, or
	// UpdateSubmitFeedback for complaint runs from before customer links.
	AnswerUpdate string `json:"answer_update,omitempty"`
}

// CreateLinkResult reports the link and its queued e-mail. It never carries the token
// or the URL: activity results are kept in the workflow history.
type CreateLinkResult struct {
	LinkID   string          `json:"link_id"`
	EmailKey string          `json:"email_key"`
	Email    SendEmailResult `json:"email"`
}

// LinkReminderInput sends reminder N of an unanswered link (SendLinkReminder).
type LinkReminderInput struct {
	LinkID   string    `json:"link_id"`
	N        int       `json:"n"`
	Template string    `json:"template"`
	At       time.Time `json:"at"`
}

// LinkReminderResult reports a reminder: Skipped says why none was sent (the link was
// answered or expired meanwhile).
type LinkReminderResult struct {
	Email   SendEmailResult `json:"email"`
	Skipped string          `json:"skipped,omitempty"`
}

// LinkAnswer is the customer-link-answer Update's argument. At is set by the workflow.
type LinkAnswer struct {
	LinkID  string         `json:"link_id"`
	Purpose string         `json:"purpose"`
	Answer  map[string]any `json:"answer"`
	At      time.Time      `json:"at,omitzero"`
}

// LinkAnswerResult is the customer-link-answer Update's result, once the process has
// acted on the answer.
type LinkAnswerResult struct {
	LinkID        string `json:"link_id"`
	ProcessStatus string `json:"process_status"`
}

// RecordLinkAnswerInput stores the answer of a link once (RecordLinkAnswer).
type RecordLinkAnswerInput struct {
	LinkID string         `json:"link_id"`
	Answer map[string]any `json:"answer"`
	At     time.Time      `json:"at"`
}

// ExpireLinkInput marks an unanswered link expired (ExpireCustomerLink).
type ExpireLinkInput struct {
	LinkID string    `json:"link_id"`
	At     time.Time `json:"at"`
}

// LinkPurpose is what the customer answers through a link of one purpose: the fields of
// the page's form and the check of an answer. Validate must be pure: it runs in Update
// validators.
type LinkPurpose struct {
	Fields   []FormField
	Validate func(answer map[string]any) []FieldError
}

// FeedbackFromAnswer reads a validated complaint feedback answer.
func FeedbackFromAnswer(answer map[string]any, at time.Time) Feedback {
	score, _ := AnswerInt(answer, "score")
	comment, _ := answer["comment"].(string)
	return Feedback{Score: score, Comment: comment, At: at}
}

// AnswerInt reads an integer of an answer, as Go, JSON (float64) or json.Number.
func AnswerInt(answer map[string]any, key string) (int, bool) {
	switch v := answer[key].(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1e9 {
			return 0, false
		}
		return int(v), true
	case json.Number:
		n, err := v.Int64()
		return int(n), err == nil && n >= -1e9 && n <= 1e9
	}
	return 0, false
}

// unknownAnswerFields reports every key of answer not in known, sorted.
func unknownAnswerFields(answer map[string]any, known ...string) []FieldError {
	var keys []string
	for k := range answer {
		if !slices.Contains(known, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var errs []FieldError
	for _, k := range keys {
		errs = append(errs, FieldError{Field: k, Message: "is not a field of this form"})
	}
	return errs
}

// LinkToken derives the secret token of the link with key: HMAC-SHA256 of the key under
// the deployment's link secret, hex encoded. Deriving it, rather than drawing it at
// random, lets a retried activity and every reminder e-mail the same link while only
// its hash (HashToken) is stored. Whoever holds the secret can make any link's token:
// it is kept like a password, in the worker's configuration only.
func LinkToken(secret []byte, key string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("customer-link\x00" + key))
	return hex.EncodeToString(m.Sum(nil))
}

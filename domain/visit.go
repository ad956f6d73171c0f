package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Return visits (DOMAIN.md, process 4; issue 13): one visit to a customer, by a rep,
// recorded in a visit record. A visit comes from a survey detractor (the survey cycle
// starts it, for the customer's owner, due 72 h after the answer) or from an approved
// visit plan (the plan starts one per planned visit, on its date). Both run the same
// VisitWorkflow, so a visit is recorded, opens its complaint and passes on its need the
// same way whoever asked for it.

// ProcessVisitPlan is the return-visit plan: drafted by a sales manager, approved by
// the deputy GM a week ahead, then its visits.
const ProcessVisitPlan = "visit_plan"

// VisitWorkflowType is the name VisitWorkflow is registered and started under. It is no
// process of its own: its tasks and audit events belong to the process that started it
// (VisitInput.Process), the survey cycle or the visit plan.
const VisitWorkflowType = "VisitWorkflow"

// VisitPlanViewerRoles see every visit plan: the sales managers who make them, the
// deputy GM who approves them, the general manager and admin.
var VisitPlanViewerRoles = []Role{RoleSalesManager, RoleDeputyGM, RoleGeneralManager, RoleAdmin}

// VisitPlanProcess is the return-visit plan, at /api/v1/visit-plans. A rep sees the
// visits given to them through their tasks (appointment, return_visit), not the plan,
// which names other reps' customers: only its viewers list and read plans.
var VisitPlanProcess = Process{
	Name: ProcessVisitPlan, WorkflowType: "VisitPlanWorkflow", IDPrefix: "vpl",
	Viewers:     VisitPlanViewerRoles,
	Overseers:   VisitPlanViewerRoles,
	ViewersOnly: true,
	Path:        "visit-plans",
}

// VisitPlanWorkflowID is the Temporal workflow id of a visit plan.
func VisitPlanWorkflowID(id string) string { return VisitPlanProcess.WorkflowID(id) }

// VisitID is the id of the visit with key in the case (process, processID): derived, so
// that whoever starts a visit twice (a retried activity, a replayed cycle) starts the
// same workflow, which Temporal refuses to run twice. Detractor visits use the
// customer's id as key (one per customer and cycle), plan visits their number (1, 2, …).
func VisitID(process, processID, key string) string {
	h := sha256.Sum256([]byte(process + "\x00" + processID + "\x00" + key))
	return "vis_" + strings.ToUpper(hex.EncodeToString(h[:13]))
}

// VisitWorkflowID is the Temporal workflow id of a visit.
func VisitWorkflowID(id string) string { return "visit/" + id }

// Visit statuses: scheduled until its task opens (a planned visit's date), appointment
// while an on-site visit's time is agreed, open while the rep is to record it, then
// completed.
const (
	VisitScheduled   = "scheduled"
	VisitAppointment = "appointment"
	VisitOpen        = "open"
	VisitCompleted   = "completed"
)

var VisitStatuses = []string{VisitScheduled, VisitAppointment, VisitOpen, VisitCompleted}

// Visit topics: what a visit record says was discussed.
const (
	TopicProductUse    = "product_use"
	TopicFaultsRepairs = "faults_repairs"
	TopicComplaints    = "complaints"
	TopicMarketInfo    = "market_info"
	TopicNeeds         = "needs"
)

// VisitTopics lists the topics in the form's order.
var VisitTopics = []string{TopicProductUse, TopicFaultsRepairs, TopicComplaints, TopicMarketInfo, TopicNeeds}

// MaxVisitText bounds the problems and the needs of a visit record (characters).
const MaxVisitText = 4000

// VisitCustomer is the customer of a visit, as the complaint a problem opens needs it.
type VisitCustomer struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Tier   string `json:"tier"`
	Locale string `json:"locale"`
	Owner  string `json:"owner"` // the owning rep's username
}

// VisitInput starts one VisitWorkflow.
type VisitInput struct {
	// Process and ProcessID are the case the visit belongs to: "survey" and the cycle id
	// for a detractor's visit, ProcessVisitPlan and the plan id for a planned one. Its
	// tasks and audit events are that case's.
	Process   string `json:"process"`
	ProcessID string `json:"process_id"`
	// Key tells apart the visits of one case (VisitID).
	Key string `json:"key"`
	// Seq is a plan visit's place in its plan, from 1 (0: a detractor's visit).
	Seq      int           `json:"seq,omitempty"`
	Customer VisitCustomer `json:"customer"`
	Rep      string        `json:"rep"` // the username of the rep who visits
	// Method is how the visit is made; "" lets the rep choose it in the record (a
	// detractor's visit). An on-site visit starts with an appointment.
	Method string `json:"method,omitempty"`
	// StartAt is when the return_visit task opens (zero: at once); a planned visit's is
	// the start of its day in the company's zone. An on-site visit's appointment opens at
	// once and is due then.
	StartAt time.Time `json:"start_at,omitempty"`
	// DueAt is when the visit is due: a detractor's answer + 72 h, a planned visit's the
	// end of its day.
	DueAt   time.Time `json:"due_at"`
	Purpose string    `json:"purpose"`
	// Context is shown in the visit's tasks (a detractor's survey answer, say).
	Context         map[string]any  `json:"context,omitempty"`
	Locale          string          `json:"locale,omitempty"` // of the tasks
	Policy          SurveyPolicy    `json:"policy"`
	ComplaintPolicy ComplaintPolicy `json:"complaint_policy"`
}

// ID is the visit's id.
func (in VisitInput) ID() string { return VisitID(in.Process, in.ProcessID, in.Key) }

// Validate checks what a visit needs to run; a starter that fails it has a bug, so the
// workflow refuses it for good.
func (in VisitInput) Validate() []FieldError {
	var errs []FieldError
	add := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	for _, f := range []struct{ name, v string }{
		{"process", in.Process}, {"process_id", in.ProcessID}, {"key", in.Key},
		{"customer.id", in.Customer.ID}, {"rep", in.Rep},
	} {
		if strings.TrimSpace(f.v) == "" {
			add(f.name, "is required")
		}
	}
	if in.Method != "" && !In(in.Method, VisitMethods) {
		add("method", "must be one of "+strings.Join(VisitMethods, ", ")+" or empty")
	}
	if in.DueAt.IsZero() {
		add("due_at", "is required")
	} else if !in.StartAt.IsZero() && !in.DueAt.After(in.StartAt) {
		add("due_at", "must be after start_at")
	}
	return errs
}

// VisitRecord is the outcome of a visit, as the rep records it.
type VisitRecord struct {
	At           time.Time `json:"at"` // when the visit took place
	Method       string    `json:"method"`
	Discussed    []string  `json:"discussed"` // VisitTopics, in their order
	Satisfaction int       `json:"satisfaction"`
	Problems     string    `json:"problems,omitempty"` // a problem found opens a complaint
	Needs        string    `json:"needs,omitempty"`    // a need goes to the rep's manager
}

// VisitOutcome is what a visit's status query and result report, and its read model.
type VisitOutcome struct {
	ID        string `json:"id"`
	Process   string `json:"process"`
	ProcessID string `json:"process_id"`
	// Seq is a plan visit's place in its plan, from 1 (0 for a detractor's visit).
	Seq        int           `json:"seq,omitempty"`
	Customer   VisitCustomer `json:"customer"`
	Rep        string        `json:"rep"`
	Method     string        `json:"method,omitempty"` // planned; the record's once recorded
	Purpose    string        `json:"purpose"`
	Status     string        `json:"status"`
	StartAt    time.Time     `json:"start_at"`
	DueAt      time.Time     `json:"due_at"`
	AgreedAt   *time.Time    `json:"agreed_at,omitempty"` // an on-site visit's appointment
	Record     *VisitRecord  `json:"record,omitempty"`
	RecordedBy string        `json:"recorded_by,omitempty"`
	// ComplaintID is the complaint the visit's problem opened.
	ComplaintID string `json:"complaint_id,omitempty"`
	// NeedNotified: the visit's need was e-mailed to the rep's manager.
	NeedNotified    bool       `json:"need_notified,omitempty"`
	EscalationLevel int        `json:"escalation_level"`
	CompletedAt     *time.Time `json:"completed_at,omitempty"`
	OpenTasks       []string   `json:"open_tasks"`
}

// The visit record form's fields (the return_visit task).
const (
	FieldVisitAt      = "visited_at"
	FieldMethod       = "method"
	FieldDiscussed    = "discussed"
	FieldSatisfaction = "satisfaction"
	FieldProblems     = "problems"
	FieldNeeds        = "needs"
	// FieldAgreedAt is the appointment form's agreed time.
	FieldAgreedAt = "agreed_at"
)

// VisitRecordForm is the return_visit task's form; method is preset (its one option)
// when the visit was planned with one.
func VisitRecordForm(method string) []FormField {
	methods := VisitMethods
	if method != "" {
		methods = []string{method}
	}
	return []FormField{
		{Name: FieldVisitAt, Type: "datetime", Required: true},
		{Name: FieldMethod, Type: "enum", Required: true, Options: methods},
		{Name: FieldDiscussed, Type: "list", Required: true, Options: VisitTopics},
		{Name: FieldSatisfaction, Type: "integer", Required: true},
		{Name: FieldProblems, Type: "text"},
		{Name: FieldNeeds, Type: "text"},
	}
}

// AppointmentForm is the appointment task's form: the time agreed with the customer.
var AppointmentForm = []FormField{{Name: FieldAgreedAt, Type: "datetime", Required: true}}

// MaxAppointmentSlip is how long after a visit's due time its appointment may be
// agreed: a customer may ask to move the visit, not to put it off for good (its due
// time follows the agreed day, and a visit due in a year would neither escalate nor let
// its plan complete).
const MaxAppointmentSlip = 30 * 24 * time.Hour

// ValidateAppointment checks the appointment's agreed time beyond its form's type: from
// from (the start of the day the appointment task opened) to latest (the visit's due
// time + MaxAppointmentSlip). It is pure: it runs in the complete-task Update's
// validator, with bounds fixed when the task was made.
func ValidateAppointment(data map[string]any, from, latest time.Time) []FieldError {
	if at, ok := ParseFormTime(data[FieldAgreedAt]); !ok || at.Before(from) || at.After(latest) {
		return []FieldError{{Field: FieldAgreedAt, Message: fmt.Sprintf("must be a time (RFC 3339) from %s to %s",
			from.UTC().Format(time.RFC3339), latest.UTC().Format(time.RFC3339))}}
	}
	return nil
}

// ValidateVisitRecord checks a visit record's data beyond its form's types (the form
// has checked that each field has its type and the enum and list options): a time in
// the years 2000–2999, at least one topic and each once, a satisfaction from 1 to 5,
// and problems and needs of plain text within MaxVisitText. It is pure: it runs in the
// complete-task Update's validator.
func ValidateVisitRecord(data map[string]any) []FieldError {
	var errs []FieldError
	add := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	if at, ok := ParseFormTime(data[FieldVisitAt]); !ok || at.Year() < 2000 || at.Year() > 2999 {
		add(FieldVisitAt, "must be a time (RFC 3339) between 2000 and 2999")
	}
	topics, _ := data[FieldDiscussed].([]any)
	seen := map[string]bool{}
	switch {
	case len(topics) == 0:
		add(FieldDiscussed, "must name at least one topic")
	default:
		for _, t := range topics {
			s, _ := t.(string)
			if !In(s, VisitTopics) || seen[s] {
				add(FieldDiscussed, "must name each topic once, among "+strings.Join(VisitTopics, ", "))
				break
			}
			seen[s] = true
		}
	}
	if v, ok := AnswerInt(data, FieldSatisfaction); !ok || v < 1 || v > 5 {
		add(FieldSatisfaction, "must be an integer from 1 to 5")
	}
	for _, f := range []string{FieldProblems, FieldNeeds} {
		if v, ok := data[f]; ok && v != nil {
			s, isString := v.(string)
			if !isString || utf8.RuneCountInString(s) > MaxVisitText || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				add(f, fmt.Sprintf("must be plain text of at most %d characters", MaxVisitText))
			}
		}
	}
	return errs
}

// VisitRecordFrom reads a validated visit record (ValidateVisitRecord first). The
// topics come in VisitTopics order, the texts trimmed, the time in UTC.
func VisitRecordFrom(data map[string]any) VisitRecord {
	at, _ := ParseFormTime(data[FieldVisitAt])
	method, _ := data[FieldMethod].(string)
	topics, _ := data[FieldDiscussed].([]any)
	discussed := []string{}
	for _, t := range VisitTopics {
		if slices.Contains(topics, any(t)) {
			discussed = append(discussed, t)
		}
	}
	sat, _ := AnswerInt(data, FieldSatisfaction)
	problems, _ := data[FieldProblems].(string)
	needs, _ := data[FieldNeeds].(string)
	return VisitRecord{
		At: at.UTC(), Method: method, Discussed: discussed, Satisfaction: sat,
		Problems: strings.TrimSpace(problems), Needs: strings.TrimSpace(needs),
	}
}

// ParseFormTime reads a "datetime" form value: an RFC 3339 time string.
func ParseFormTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// PlannedDay is the day a planned visit is due (planned_on, YYYY-MM-DD) in the company's
// zone: from its start to the start of the next day. Validate the plan first.
func (p SurveyPolicy) PlannedDay(plannedOn string) (start, end time.Time, err error) {
	d, err := time.ParseInLocation(time.DateOnly, plannedOn, p.Zone())
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return d.UTC(), d.AddDate(0, 0, 1).UTC(), nil
}

// CompletionRate is a plan's completion rate, 100 × completed / visits, rounded half
// away from zero to one place ("66.7"); "" when the plan has no visit (as the cycle's
// shares).
func CompletionRate(completed, visits int) string { return percent(completed, visits) }

// The visit plan workflow's Updates.
const (
	// UpdateEditVisitPlan replaces a draft plan's title and visits (EditVisitPlanRequest).
	UpdateEditVisitPlan = "edit-visit-plan"
	// UpdateSubmitVisitPlan submits a draft plan for approval (SubmitVisitPlanRequest).
	UpdateSubmitVisitPlan = "submit-visit-plan"
)

// EditVisitPlanRequest is the argument of edit-visit-plan. The API fills Actor.
type EditVisitPlanRequest struct {
	Actor string    `json:"actor"`
	Plan  VisitPlan `json:"plan"`
}

// SubmitVisitPlanRequest is the argument of submit-visit-plan. The API fills Actor.
type SubmitVisitPlanRequest struct {
	Actor string `json:"actor"`
}

// VisitPlanInput starts the visit plan workflow. The API inserts the plan's row
// (draft) before it starts it.
type VisitPlanInput struct {
	ID              string          `json:"id"`
	Plan            VisitPlan       `json:"plan"`
	CreatedBy       string          `json:"created_by"` // the sales manager
	CreatedAt       time.Time       `json:"created_at"`
	Locale          string          `json:"locale,omitempty"` // of the plan's tasks
	Policy          SurveyPolicy    `json:"policy"`
	ComplaintPolicy ComplaintPolicy `json:"complaint_policy"`
}

// NewVisitPlanState is a new plan's state, a draft: the row the API inserts before it
// starts the workflow (store.InsertVisitPlan), and the workflow's first state.
func NewVisitPlanState(in VisitPlanInput) VisitPlanState {
	return VisitPlanState{
		ID: in.ID, Title: in.Plan.Title, Status: PlanDraft, Plan: in.Plan,
		CreatedBy: in.CreatedBy, CreatedAt: in.CreatedAt.UTC(),
		Decisions: []VisitPlanDecision{}, VisitIDs: []string{}, OpenTasks: []string{},
	}
}

// VisitPlanDecision is one decision on a submitted plan (the approval record).
type VisitPlanDecision struct {
	Round    int       `json:"round"`
	Decision string    `json:"decision"` // approve | reject
	By       string    `json:"by"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// VisitPlanState is the plan's status query result and read model.
type VisitPlanState struct {
	ID          string              `json:"id"`
	Title       string              `json:"title"`
	Status      string              `json:"status"` // PlanStatuses
	Plan        VisitPlan           `json:"plan"`
	CreatedBy   string              `json:"created_by"`
	CreatedAt   time.Time           `json:"created_at"`
	Round       int                 `json:"round"` // submissions so far
	SubmittedBy string              `json:"submitted_by,omitempty"`
	SubmittedAt *time.Time          `json:"submitted_at,omitempty"`
	ApprovedBy  string              `json:"approved_by,omitempty"`
	ApprovedAt  *time.Time          `json:"approved_at,omitempty"`
	Decisions   []VisitPlanDecision `json:"decisions"`
	// VisitIDs are the ids of the plan's visits once approved, in plan order.
	VisitIDs    []string   `json:"visit_ids"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	OpenTasks   []string   `json:"open_tasks"`
}

// VisitPlanProjection writes the plan's read model and, when Audit has a key, its
// audit event; with Visits (on approval) it inserts their rows, scheduled, too.
type VisitPlanProjection struct {
	State  VisitPlanState `json:"state"`
	Visits []VisitOutcome `json:"visits,omitempty"`
	Audit  AuditInput     `json:"audit"`
}

// VisitProjection writes a visit's read model and, when Audit has a key, its audit
// event (the visit's case's).
type VisitProjection struct {
	Visit VisitOutcome `json:"visit"`
	Audit AuditInput   `json:"audit"`
}

// Visit e-mail templates.
const (
	// TmplVisitNeed is the staff notice to the rep's manager of a need a visit found.
	TmplVisitNeed = "visit_need"
)

// Activities of the visits.
const (
	// ActProjectVisit writes a visit's read model (VisitProjection; a local activity).
	ActProjectVisit = "ProjectVisit"
	// ActProjectVisitPlan writes a plan's read model (VisitPlanProjection; local).
	ActProjectVisitPlan = "ProjectVisitPlan"
	// ActVisitCustomers looks the customers of a plan's visits up ([]string of ids →
	// []VisitCustomer, in the same order), for the complaint a visit may open.
	ActVisitCustomers = "VisitCustomers"
)

package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The survey process's declaration, its programmes (each a Temporal Schedule) and the
// inputs and activities of its cycle workflow. The rules of an answer and of a cycle's
// figures are in survey.go.

// ProcessSurvey is the survey process: one case is one survey cycle.
const ProcessSurvey = "survey"

// SurveyViewerRoles may see every survey programme and cycle and its figures.
var SurveyViewerRoles = []Role{RoleCustomerService, RoleServiceManager, RoleQuality, RoleSalesManager,
	RoleDeputyGM, RoleGeneralManager, RoleAdmin}

// SurveyProcess declares the survey process. A cycle's id is svc_…; its workflow is
// started by its programme's Temporal Schedule (or by POST …/run) under
// survey/<programme's cycle prefix>…, so the cycle id is derived from the workflow id
// (SurveyCycleID).
var SurveyProcess = Process{
	Name: ProcessSurvey, WorkflowType: "SurveyCycleWorkflow", IDPrefix: "svc",
	Viewers:   SurveyViewerRoles,
	Overseers: []Role{RoleServiceManager, RoleGeneralManager, RoleAdmin},
	Links:     map[string]LinkPurpose{PurposeSurvey: SurveyLink},
	Path:      "survey-cycles",
}

// SurveyCycleID is the cycle id of a scheduled cycle workflow (a cycle run by hand has
// the id the API gave it, SurveyCycleInput.ID). Its workflow id ends with the time the
// Schedule appends; its id is svc_ + a hash of the workflow id: short, fit for a URL,
// and the same on every replay and retry.
func SurveyCycleID(workflowID string) string {
	h := sha256.Sum256([]byte(workflowID))
	return SurveyProcess.IDPrefix + "_" + strings.ToUpper(hex.EncodeToString(h[:10]))
}

// SurveyScheduleID is the Temporal Schedule id of programme id.
func SurveyScheduleID(programmeID string) string { return "survey-programme/" + programmeID }

// SurveyCycleWorkflowPrefix is the workflow id the programme's Schedule starts its
// cycles under (Temporal appends the scheduled time), and the prefix of POST …/run's.
func SurveyCycleWorkflowPrefix(programmeID string) string {
	return SurveyProcess.WorkflowID("cycle-" + programmeID)
}

// Survey programme statuses: a paused programme's Schedule starts no cycle.
const (
	ProgrammeActive = "active"
	ProgrammePaused = "paused"
)

// MaxProgrammeName is the longest programme name, in characters.
const MaxProgrammeName = 200

// NewSurveyProgramme is the body of POST /api/v1/survey-programmes.
type NewSurveyProgramme struct {
	Name     string `json:"name"`
	Audience string `json:"audience"`
	Cadence  string `json:"cadence"`
}

// Validate checks a new programme: one error per field at fault, in field order.
func (p NewSurveyProgramme) Validate() []FieldError {
	var errs []FieldError
	switch {
	case strings.TrimSpace(p.Name) == "":
		errs = append(errs, FieldError{Field: "name", Message: "is required"})
	case utf8.RuneCountInString(p.Name) > MaxProgrammeName || !utf8.ValidString(p.Name) || strings.ContainsRune(p.Name, 0):
		errs = append(errs, FieldError{Field: "name", Message: fmt.Sprintf("must be plain text of at most %d characters", MaxProgrammeName)})
	}
	if !In(p.Audience, SurveyAudiences) {
		errs = append(errs, FieldError{Field: "audience", Message: "must be one of " + strings.Join(SurveyAudiences, ", ")})
	}
	if !In(p.Cadence, SurveyCadences) {
		errs = append(errs, FieldError{Field: "cadence", Message: "must be one of " + strings.Join(SurveyCadences, ", ")})
	}
	return errs
}

// CadenceCalendar is when a programme of cadence runs, in the company's zone: 09:00 on
// the first day of each quarter or month, or every day. Months nil means every month.
type CadenceCalendar struct {
	Months []int // 1–12
	Hour   int
}

// Calendar returns the calendar of a cadence (ok false for an unknown one).
func Calendar(cadence string) (CadenceCalendar, bool) {
	switch cadence {
	case CadenceQuarterly:
		return CadenceCalendar{Months: []int{1, 4, 7, 10}, Hour: 9}, true
	case CadenceMonthly:
		return CadenceCalendar{Hour: 9}, true
	case CadenceDaily:
		return CadenceCalendar{Hour: 9}, true
	}
	return CadenceCalendar{}, false
}

// SeedProgrammes are the programmes `dev` creates: DOMAIN.md's calendar.
var SeedProgrammes = []NewSurveyProgramme{
	{Name: "All active customers, each quarter", Audience: AudienceAllActive, Cadence: CadenceQuarterly},
	{Name: "Tier A customers, each month", Audience: AudienceTierA, Cadence: CadenceMonthly},
	{Name: "New customers, 30 days after their first delivery", Audience: AudienceNewCustomers, Cadence: CadenceDaily},
}

// SurveyCycleInput starts a cycle workflow. The policy is not in it: the cycle's first
// step reads the policy in force from the worker (OpenSurveyCycle), so a Schedule made
// long ago runs under today's configuration, and the history keeps what was used.
type SurveyCycleInput struct {
	// ID is the cycle id POST …/run gave it; "" for a scheduled run, whose id derives
	// from its workflow id (SurveyCycleID).
	ID          string `json:"id,omitempty"`
	ProgrammeID string `json:"programme_id"`
	Audience    string `json:"audience"`
	// StartedBy is the user who ran the cycle by hand ("" for the Schedule).
	StartedBy string `json:"started_by,omitempty"`
}

// NewCustomerWindow is how far back, before NewCustomerAfter, the daily new-customer
// cycle looks for first deliveries: a week, so that a day the Schedule missed is
// caught up, while a customer whose first delivery is long past is no new customer.
const NewCustomerWindow = 7 * 24 * time.Hour

// SurveyBatchSize is how many customers one invitation or reminder batch takes: a
// cycle of 10 000 is ten activities, not 10 000 events.
const SurveyBatchSize = 1000

// Activities of the survey cycle.
const (
	ActOpenSurveyCycle   = "OpenSurveyCycle"
	ActInviteSurveyBatch = "InviteSurveyBatch"
	ActSetSurveyCycle    = "SetSurveyCycle"
	ActDeliverSurveyMail = "DeliverSurveyMail"
	ActRemindSurveyBatch = "RemindSurveyBatch"
	ActCloseSurveyCycle  = "CloseSurveyCycle"
	ActStartSurveyVisits = "StartSurveyVisits"
)

// E-mail templates of the survey (mail/templates/<locale>/survey/).
const (
	TmplSurveyInvitation = "survey_invitation"
	TmplSurveyReminder   = "survey_reminder"
)

// OpenSurveyCycleInput writes the cycle's row (status inviting), once per cycle.
type OpenSurveyCycleInput struct {
	CycleID     string    `json:"cycle_id"`
	WorkflowID  string    `json:"workflow_id"`
	ProgrammeID string    `json:"programme_id"`
	Audience    string    `json:"audience"`
	StartedBy   string    `json:"started_by,omitempty"`
	At          time.Time `json:"at"`
}

// InviteSurveyBatchInput invites the next batch of the cycle's audience: up to Limit
// customers after After (by id), skipping those in their quiet period at At.
type InviteSurveyBatchInput struct {
	CycleID    string       `json:"cycle_id"`
	WorkflowID string       `json:"workflow_id"`
	Audience   string       `json:"audience"`
	After      string       `json:"after"`
	Limit      int          `json:"limit"`
	At         time.Time    `json:"at"`
	ExpiresAt  time.Time    `json:"expires_at"`
	Policy     SurveyPolicy `json:"policy"`
}

// InviteSurveyBatchResult reports a batch: how many were invited, the last customer id
// looked at (the next batch's After) and whether the audience is exhausted. Skipped
// counts those in their quiet period.
type InviteSurveyBatchResult struct {
	Invited int    `json:"invited"`
	Skipped int    `json:"skipped"`
	Last    string `json:"last"`
	Done    bool   `json:"done"`
}

// SetSurveyCycleInput records a cycle's status (and, when closed, its figures).
type SetSurveyCycleInput struct {
	CycleID  string        `json:"cycle_id"`
	Status   string        `json:"status"`
	Invited  int           `json:"invited"`
	ClosesAt time.Time     `json:"closes_at,omitzero"`
	Results  *CycleResults `json:"results,omitempty"`
	At       time.Time     `json:"at"`
}

// DeliverSurveyMailInput sends the cycle's queued e-mails at the provider rate.
type DeliverSurveyMailInput struct {
	CycleID    string `json:"cycle_id"`
	WorkflowID string `json:"workflow_id"`
}

// DeliverSurveyMailResult counts what a delivery pass did.
type DeliverSurveyMailResult struct {
	Sent   int `json:"sent"`
	Failed int `json:"failed"`
}

// RemindSurveyBatchInput queues reminder N to the next batch of unanswered invitees.
type RemindSurveyBatchInput struct {
	CycleID string    `json:"cycle_id"`
	N       int       `json:"n"`
	After   string    `json:"after"` // link id
	Limit   int       `json:"limit"`
	At      time.Time `json:"at"`
}

// RemindSurveyBatchResult reports a reminder batch.
type RemindSurveyBatchResult struct {
	Queued int    `json:"queued"`
	Last   string `json:"last"`
	Done   bool   `json:"done"`
}

// CloseSurveyCycleInput expires the cycle's unanswered links and computes its figures.
type CloseSurveyCycleInput struct {
	CycleID string       `json:"cycle_id"`
	At      time.Time    `json:"at"`
	Policy  SurveyPolicy `json:"policy"`
}

// CloseSurveyCycleResult is the closed cycle's figures and the improvements they call
// for, each with the comments behind it.
type CloseSurveyCycleResult struct {
	Results      CycleResults          `json:"results"`
	Improvements []ImprovementWithNote `json:"improvements"`
}

// ImprovementWithNote is an improvement and the comments that caused it: the first
// MaxImprovementComments of them (they travel in the workflow history and the task),
// and how many there were.
type ImprovementWithNote struct {
	Improvement
	Comments      []string `json:"comments"`
	CommentsTotal int      `json:"comments_total"`
}

// MaxImprovementComments is how many comments an improvement task carries: with
// comments of up to 2 000 characters, 50 stay far below Temporal's payload limit.
const MaxImprovementComments = 50

// StartSurveyVisitsInput starts the return visit of every detractor of the cycle who
// has none yet (the /c/{token} request starts it at once; this catches up any the
// request could not start).
type StartSurveyVisitsInput struct {
	CycleID string       `json:"cycle_id"`
	Policy  SurveyPolicy `json:"policy"`
}

// StartSurveyVisitsResult counts the visits a catch-up started (or found started),
// and those it could not start (the next catch-up tries them again).
type StartSurveyVisitsResult struct {
	Started int `json:"started"`
	Failed  int `json:"failed"`
}

// DetractorVisit is the return visit of a detractor of cycle cycleID: for the
// customer's owner, at once, due DetractorDue after the answer, with the answer in its
// tasks. Its key is the customer's id, so a cycle visits each detractor once.
func DetractorVisit(cycleID string, cu VisitCustomer, a SurveyAnswer, answeredAt time.Time, p SurveyPolicy, cp ComplaintPolicy) VisitInput {
	return VisitInput{
		Process: ProcessSurvey, ProcessID: cycleID, Key: cu.ID, Customer: cu, Rep: cu.Owner,
		DueAt:   answeredAt.Add(p.DetractorDue).UTC(),
		Purpose: "Follow up a dissatisfied survey answer",
		Context: map[string]any{"cycle_id": cycleID, "answer": a, "answered_at": answeredAt.UTC().Format(time.RFC3339),
			"nps_category": NPSCategory(a.NPS)},
		Locale: cu.Locale, Policy: p, ComplaintPolicy: cp,
	}
}

// ScheduleZone is the IANA name of the company's zone for the programmes' Schedules,
// which the Temporal server reads from its zone database: Etc/GMT-8 for UTC+8 (the
// Etc names count the other way). An offset of a part of an hour has no such name: the
// Schedules then run in UTC, at 09:00 UTC.
func (p SurveyPolicy) ScheduleZone() string {
	h := int(p.UTCOffset / time.Hour)
	switch {
	case p.UTCOffset%time.Hour != 0 || h == 0:
		return "UTC"
	case h > 0:
		return fmt.Sprintf("Etc/GMT-%d", h)
	}
	return fmt.Sprintf("Etc/GMT+%d", -h)
}

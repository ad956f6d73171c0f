package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Satisfaction surveys and return visits (DOMAIN.md, process 4; issue 13): the pure
// rules. A survey programme runs on a calendar and starts cycles; a cycle invites each
// customer of its audience once through a personal survey link, reminds, closes and
// reports its figures. A detractor gets a return visit; a weak rating an improvement
// task. A sales manager plans return visits, which the deputy GM approves a week ahead.

// Survey programme audiences: whom a programme's cycles invite.
const (
	AudienceAllActive    = "all_active"    // every active customer (each quarter by default)
	AudienceTierA        = "tier_a"        // tier A customers (monthly by default)
	AudienceNewCustomers = "new_customers" // customers NewCustomerAfter their first accepted delivery
)

var SurveyAudiences = []string{AudienceAllActive, AudienceTierA, AudienceNewCustomers}

// Survey programme cadences: how often a programme's Temporal Schedule starts a cycle.
// New customers are picked up by a daily schedule: each day's cycle invites those whose
// first accepted delivery is NewCustomerAfter old.
const (
	CadenceQuarterly = "quarterly"
	CadenceMonthly   = "monthly"
	CadenceDaily     = "daily"
)

var SurveyCadences = []string{CadenceQuarterly, CadenceMonthly, CadenceDaily}

// The five ratings of a survey, 1 to 5 each (服務態度、服務質量、服務效率、產品質量、售後服務).
// Their names are the answer's fields and the keys of SurveyPolicy.Departments.
const (
	RatingServiceAttitude   = "service_attitude"
	RatingServiceQuality    = "service_quality"
	RatingServiceEfficiency = "service_efficiency"
	RatingProductQuality    = "product_quality"
	RatingAfterSalesService = "after_sales_service"
)

// SurveyRatings lists the ratings in the survey's order: the order of the form, of
// CycleResults.Ratings and of ImprovementsNeeded.
var SurveyRatings = []string{RatingServiceAttitude, RatingServiceQuality, RatingServiceEfficiency,
	RatingProductQuality, RatingAfterSalesService}

// Survey cycle statuses. A cycle is inviting while its invitations are being queued,
// open while it collects answers (reminding at SurveyPolicy.Reminders), and closed
// CloseAfter its start: its figures are then final.
const (
	CycleInviting = "inviting"
	CycleOpen     = "open"
	CycleClosed   = "closed"
)

var CycleStatuses = []string{CycleInviting, CycleOpen, CycleClosed}

// PurposeSurvey is the customer link of a survey cycle: the customer answers the survey.
const PurposeSurvey = "survey"

// Survey and visit-plan steps (task step names).
const (
	// StepReturnVisit is a visit to a customer: a detractor's (for the customer's owner)
	// or a planned one (for its rep, from its date).
	StepReturnVisit = "return_visit"
	// StepImprovement is a department's improvement of a weak rating (限期整改).
	StepImprovement = "improvement"
	// StepAppointment agrees the time of an on-site visit with the customer first.
	StepAppointment = "appointment"
	// StepApproveVisitPlan is the deputy GM's approval of a submitted visit plan.
	StepApproveVisitPlan = "approve_visit_plan"
)

// Visit methods.
const (
	VisitPhone  = "phone"
	VisitOnSite = "on_site"
	VisitOnline = "online"
)

var VisitMethods = []string{VisitPhone, VisitOnSite, VisitOnline}

// Visit plan statuses. A rejected plan goes back to draft, to be edited and resubmitted.
// An approved plan is completed once every one of its visits has been recorded.
const (
	PlanDraft     = "draft"
	PlanSubmitted = "submitted"
	PlanApproved  = "approved"
	PlanCompleted = "completed"
)

var PlanStatuses = []string{PlanDraft, PlanSubmitted, PlanApproved, PlanCompleted}

// NPS categories of an answer's NPS score (NPSCategory). Not to be confused with
// IsDetractor, which also counts a low rating.
const (
	NPSPromoter  = "promoter"  // 9–10
	NPSPassive   = "passive"   // 7–8
	NPSDetractor = "detractor" // 0–6
)

// Field limits of the survey process (characters, visits).
const (
	MaxSurveyComment  = 2000
	MaxPlanTitle      = 200
	MaxPlanVisits     = 200
	MaxVisitPurpose   = 2000
	MaxVisitShortText = 200 // customer_id, rep
)

// SurveyPolicy is the configuration of the survey process, carried in the workflow
// input so that the policy in force when a cycle or plan starts is in its history.
type SurveyPolicy struct {
	// Reminders are sent to those who have not answered, after the invitation: 3 d, 7 d.
	Reminders []time.Duration `json:"reminders"`
	// CloseAfter the invitation the cycle closes and its links expire: 14 d.
	CloseAfter time.Duration `json:"close_after"`
	// QuietPeriod: nobody is invited again within 30 d of an invitation (InQuietPeriod).
	QuietPeriod time.Duration `json:"quiet_period"`
	// NewCustomerAfter their first accepted delivery a new customer is surveyed: 30 d.
	NewCustomerAfter time.Duration `json:"new_customer_after"`
	// DetractorDue is the due time of a detractor's return_visit task: 72 h.
	DetractorDue time.Duration `json:"detractor_due"`
	// ImprovementThreshold: a rating whose cycle average is strictly below it opens an
	// improvement task. A decimal string, "3.5", compared exactly (ImprovementsNeeded).
	ImprovementThreshold string `json:"improvement_threshold"`
	// ImprovementDue is the due time of an improvement task: 30 d.
	ImprovementDue time.Duration `json:"improvement_due"`
	// Departments maps each rating to the department (candidate group) responsible for
	// improving it: product quality to quality, the others to customer service.
	Departments map[string]Role `json:"departments"`
	// PlanLeadDays: a visit plan is submitted at least this many calendar days before
	// its first visit: 7 (the seeds' "a week ahead").
	PlanLeadDays int `json:"plan_lead_days"`
	// UTCOffset is the company's time zone, as an offset from UTC (+8 h): "today" of a
	// plan's submission and the day of a planned visit are taken there. A fixed offset,
	// because workflow code may not read the zone database (as OrderPolicy.UTCOffset).
	UTCOffset time.Duration `json:"utc_offset"`
	// PlanApprovalSLA is the due time of the deputy GM's approve_visit_plan task: 48 h.
	PlanApprovalSLA time.Duration `json:"plan_approval_sla"`
	// VisitReminders are the fractions of a visit task's window (appointment,
	// return_visit, approve_visit_plan) at which its holder is reminded: 0.5, 0.8.
	VisitReminders []float64 `json:"visit_reminders"`
	// EscalationStep: a late visit task escalates to the holder's manager at its due
	// time, and this long after to the deputy GM: 24 h.
	EscalationStep time.Duration `json:"escalation_step"`
}

// DefaultSurveyPolicy returns DOMAIN.md's and issue 13's defaults.
func DefaultSurveyPolicy() SurveyPolicy {
	day := 24 * time.Hour
	return SurveyPolicy{
		Reminders:   []time.Duration{3 * day, 7 * day},
		CloseAfter:  14 * day,
		QuietPeriod: 30 * day, NewCustomerAfter: 30 * day,
		DetractorDue:         72 * time.Hour,
		ImprovementThreshold: "3.5", ImprovementDue: 30 * day,
		Departments: map[string]Role{
			RatingServiceAttitude:   RoleCustomerService,
			RatingServiceQuality:    RoleCustomerService,
			RatingServiceEfficiency: RoleCustomerService,
			RatingProductQuality:    RoleQuality,
			RatingAfterSalesService: RoleCustomerService,
		},
		PlanLeadDays: 7,
		UTCOffset:    8 * time.Hour, PlanApprovalSLA: 48 * time.Hour,
		VisitReminders: []float64{0.5, 0.8}, EscalationStep: 24 * time.Hour,
	}
}

// Validate checks a policy: positive durations, reminders in increasing order before
// the close, a threshold above 1 and at most 5 (a threshold of 1 or less could never be
// undercut), a known role for each rating, and a lead time of 0 days or more.
func (p SurveyPolicy) Validate() error {
	var errs []error
	for i, r := range p.Reminders {
		if r <= 0 || r >= p.CloseAfter || (i > 0 && r <= p.Reminders[i-1]) {
			errs = append(errs, fmt.Errorf("reminders[%d]: must be positive, increasing and before close_after", i))
		}
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"close_after", p.CloseAfter}, {"quiet_period", p.QuietPeriod}, {"new_customer_after", p.NewCustomerAfter},
		{"detractor_due", p.DetractorDue}, {"improvement_due", p.ImprovementDue},
		{"plan_approval_sla", p.PlanApprovalSLA}, {"escalation_step", p.EscalationStep}} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", d.name))
		}
	}
	if t, err := decimal.NewFromString(p.ImprovementThreshold); err != nil || t.LessThanOrEqual(decimal.NewFromInt(1)) ||
		t.GreaterThan(decimal.NewFromInt(5)) {
		errs = append(errs, errors.New("improvement_threshold: must be a decimal above 1 and at most 5"))
	}
	for _, r := range SurveyRatings {
		if !ValidRole(string(p.Departments[r])) {
			errs = append(errs, fmt.Errorf("departments.%s: must be a role", r))
		}
	}
	if p.PlanLeadDays < 0 {
		errs = append(errs, errors.New("plan_lead_days: must be 0 or more"))
	}
	if p.UTCOffset <= -24*time.Hour || p.UTCOffset >= 24*time.Hour || p.UTCOffset%time.Minute != 0 {
		errs = append(errs, errors.New("utc_offset: must be whole minutes within a day of UTC"))
	}
	for i, f := range p.VisitReminders {
		if f <= 0 || f >= 1 || (i > 0 && f <= p.VisitReminders[i-1]) {
			errs = append(errs, fmt.Errorf("visit_reminders[%d]: must be increasing fractions between 0 and 1", i))
		}
	}
	return errors.Join(errs...)
}

// Zone is the company's time zone (UTCOffset).
func (p SurveyPolicy) Zone() *time.Location {
	return time.FixedZone(fmt.Sprintf("UTC%+d", int(p.UTCOffset.Hours())), int(p.UTCOffset.Seconds()))
}

// Department is the department responsible for a rating ("" for an unknown rating).
func (p SurveyPolicy) Department(rating string) Role { return p.Departments[rating] }

// threshold is the policy's improvement threshold (Validate first; 3.5 when invalid).
func (p SurveyPolicy) threshold() decimal.Decimal {
	t, err := decimal.NewFromString(p.ImprovementThreshold)
	if err != nil {
		return decimal.RequireFromString("3.5")
	}
	return t
}

// SurveyAnswer is one customer's answer to a survey: five ratings of 1–5, an NPS of
// 0–10 ("how likely are you to recommend us") and an optional comment.
type SurveyAnswer struct {
	ServiceAttitude   int    `json:"service_attitude"`
	ServiceQuality    int    `json:"service_quality"`
	ServiceEfficiency int    `json:"service_efficiency"`
	ProductQuality    int    `json:"product_quality"`
	AfterSalesService int    `json:"after_sales_service"`
	NPS               int    `json:"nps"`
	Comment           string `json:"comment,omitempty"`
}

// Rating is the answer's rating named rating (one of SurveyRatings; 0 for another name).
func (a SurveyAnswer) Rating(rating string) int {
	switch rating {
	case RatingServiceAttitude:
		return a.ServiceAttitude
	case RatingServiceQuality:
		return a.ServiceQuality
	case RatingServiceEfficiency:
		return a.ServiceEfficiency
	case RatingProductQuality:
		return a.ProductQuality
	case RatingAfterSalesService:
		return a.AfterSalesService
	}
	return 0
}

// SurveyLink is what a survey link asks: the five ratings, the NPS and a comment.
var SurveyLink = LinkPurpose{
	Fields: []FormField{
		{Name: RatingServiceAttitude, Type: "integer", Required: true},
		{Name: RatingServiceQuality, Type: "integer", Required: true},
		{Name: RatingServiceEfficiency, Type: "integer", Required: true},
		{Name: RatingProductQuality, Type: "integer", Required: true},
		{Name: RatingAfterSalesService, Type: "integer", Required: true},
		{Name: "nps", Type: "integer", Required: true},
		{Name: "comment", Type: "text"},
	},
	Validate: ValidateSurveyAnswer,
}

// ValidateSurveyAnswer checks a survey answer as it arrives through a link: each rating
// an integer from 1 to 5, nps an integer from 0 to 10 (all required), an optional plain
// comment of at most MaxSurveyComment characters, and no other field. Errors come in
// field order. It is pure: it runs in the customer-link Update's validator.
func ValidateSurveyAnswer(answer map[string]any) []FieldError {
	var errs []FieldError
	for _, r := range SurveyRatings {
		if v, ok := AnswerInt(answer, r); !ok || v < 1 || v > 5 {
			errs = append(errs, FieldError{Field: r, Message: "must be an integer from 1 to 5"})
		}
	}
	if v, ok := AnswerInt(answer, "nps"); !ok || v < 0 || v > 10 {
		errs = append(errs, FieldError{Field: "nps", Message: "must be an integer from 0 to 10"})
	}
	if c, ok := answer["comment"]; ok && c != nil {
		s, isString := c.(string)
		if !isString || utf8.RuneCountInString(s) > MaxSurveyComment || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			errs = append(errs, FieldError{Field: "comment", Message: fmt.Sprintf("must be plain text of at most %d characters", MaxSurveyComment)})
		}
	}
	known := append(slices.Clone(SurveyRatings), "nps", "comment")
	return append(errs, unknownAnswerFields(answer, known...)...)
}

// SurveyAnswerFrom reads a validated survey answer (ValidateSurveyAnswer first: a value
// that is not an integer reads as 0). The comment is trimmed.
func SurveyAnswerFrom(answer map[string]any) SurveyAnswer {
	get := func(k string) int { v, _ := AnswerInt(answer, k); return v }
	comment, _ := answer["comment"].(string)
	return SurveyAnswer{
		ServiceAttitude: get(RatingServiceAttitude), ServiceQuality: get(RatingServiceQuality),
		ServiceEfficiency: get(RatingServiceEfficiency), ProductQuality: get(RatingProductQuality),
		AfterSalesService: get(RatingAfterSalesService), NPS: get("nps"), Comment: strings.TrimSpace(comment),
	}
}

// IsDetractor reports whether an answer calls for a return visit: an NPS of 6 or less,
// or any rating of 2 or less. It is wider than the NPS detractor (NPSCategory): a
// customer who would recommend us but rates one thing poorly is still visited.
func IsDetractor(a SurveyAnswer) bool {
	if a.NPS <= 6 {
		return true
	}
	for _, r := range SurveyRatings {
		if a.Rating(r) <= 2 {
			return true
		}
	}
	return false
}

// NPSCategory is the NPS category of a score: promoter 9–10, passive 7–8, detractor 0–6.
func NPSCategory(nps int) string {
	switch {
	case nps >= 9:
		return NPSPromoter
	case nps >= 7:
		return NPSPassive
	}
	return NPSDetractor
}

// RatingResult is one rating's figures over a cycle's answers.
type RatingResult struct {
	Rating string `json:"rating"`
	Count  int    `json:"count"` // answers rating it (every answer: the ratings are required)
	Sum    int    `json:"sum"`   // the sum of the ratings: Sum/Count is the exact average
	// Average is Sum/Count rounded half away from zero to 2 decimal places ("3.67"), ""
	// when nobody answered.
	Average string `json:"average"`
	// Distribution counts the ratings of 1, 2, 3, 4 and 5 (index 0 is rating 1).
	Distribution [5]int `json:"distribution"`
}

// CycleResults are a cycle's figures (GET /api/v1/survey-cycles/{id}).
//
// Every share is a percentage rounded half away from zero to one decimal place, as a
// decimal string ("62.5", "-12.5"), computed from the exact counts (never from another
// rounded figure); the counts are given with it so that anyone can recompute it. A share
// whose denominator is zero is "" (no figure), not "0".
type CycleResults struct {
	Invited  int `json:"invited"`
	Answered int `json:"answered"`
	// ResponseRate is 100 × Answered / Invited.
	ResponseRate string `json:"response_rate"`
	// Ratings are the five ratings, in SurveyRatings order.
	Ratings []RatingResult `json:"ratings"`
	// CSAT is the share of satisfied ratings: 100 × CSATSatisfied / CSATRatings, where
	// CSATRatings counts all ratings of all answers (5 × Answered) and CSATSatisfied
	// those of them that are 4 or 5. Every rating weighs the same; it is not an average
	// of per-answer or per-rating shares.
	CSAT          string `json:"csat"`
	CSATSatisfied int    `json:"csat_satisfied"`
	CSATRatings   int    `json:"csat_ratings"`
	// NPS is 100 × (Promoters − Detractors) / Answered, in points from −100 to 100:
	// % promoters (9–10) minus % detractors (0–6), passives (7–8) counting only in the
	// denominator.
	NPS        string `json:"nps"`
	Promoters  int    `json:"promoters"`
	Passives   int    `json:"passives"`
	Detractors int    `json:"detractors"`
}

// Rating is the result of the rating named rating (the zero RatingResult when unknown).
func (c CycleResults) Rating(rating string) RatingResult {
	for _, r := range c.Ratings {
		if r.Rating == rating {
			return r
		}
	}
	return RatingResult{}
}

// percent is 100 × num / den rounded half away from zero to one place, "" when den is 0.
func percent(num, den int) string {
	if den == 0 {
		return ""
	}
	return decimal.NewFromInt(int64(100*num)).DivRound(decimal.NewFromInt(int64(den)), 1).StringFixed(1)
}

// Tally computes a cycle's figures from the number invited and the answers received
// (each validated: ratings 1–5, NPS 0–10). It is pure, and the same answers in any
// order give the same figures.
func Tally(invited int, answers []SurveyAnswer) CycleResults {
	res := CycleResults{Invited: invited, Answered: len(answers), Ratings: make([]RatingResult, len(SurveyRatings))}
	for i, name := range SurveyRatings {
		r := RatingResult{Rating: name}
		for _, a := range answers {
			v := a.Rating(name)
			r.Count++
			r.Sum += v
			if v >= 1 && v <= 5 {
				r.Distribution[v-1]++
			}
			if v >= 4 {
				res.CSATSatisfied++
			}
			res.CSATRatings++
		}
		if r.Count > 0 {
			r.Average = decimal.NewFromInt(int64(r.Sum)).DivRound(decimal.NewFromInt(int64(r.Count)), 2).StringFixed(2)
		}
		res.Ratings[i] = r
	}
	for _, a := range answers {
		switch NPSCategory(a.NPS) {
		case NPSPromoter:
			res.Promoters++
		case NPSPassive:
			res.Passives++
		default:
			res.Detractors++
		}
	}
	res.ResponseRate = percent(res.Answered, invited)
	res.CSAT = percent(res.CSATSatisfied, res.CSATRatings)
	res.NPS = percent(res.Promoters-res.Detractors, res.Answered)
	return res
}

// Improvement is a rating whose cycle average fell below the threshold: an improvement
// task for Department.
type Improvement struct {
	Rating     string `json:"rating"`
	Department Role   `json:"department"`
	Average    string `json:"average"` // as in RatingResult
}

// ImprovementsNeeded lists the ratings whose cycle average is strictly below the
// policy's threshold, in SurveyRatings order, each with its department. The comparison
// is exact (Sum < threshold × Count), not on the rounded Average: an average of
// 3.4966… shows as "3.50" yet is below 3.5. An average of exactly 3.5 needs none. A
// rating nobody answered needs none.
func ImprovementsNeeded(results CycleResults, policy SurveyPolicy) []Improvement {
	t := policy.threshold()
	out := []Improvement{}
	for _, r := range results.Ratings {
		if r.Count == 0 || !decimal.NewFromInt(int64(r.Sum)).LessThan(t.Mul(decimal.NewFromInt(int64(r.Count)))) {
			continue
		}
		out = append(out, Improvement{Rating: r.Rating, Department: policy.Department(r.Rating), Average: r.Average})
	}
	return out
}

// ImprovementComments are "the comments behind" an improvement of rating: the non-empty
// comments of the answers that rated it below the policy's threshold, in answer order.
func ImprovementComments(rating string, answers []SurveyAnswer, policy SurveyPolicy) []string {
	t := policy.threshold()
	out := []string{}
	for _, a := range answers {
		if c := strings.TrimSpace(a.Comment); c != "" && decimal.NewFromInt(int64(a.Rating(rating))).LessThan(t) {
			out = append(out, c)
		}
	}
	return out
}

// InQuietPeriod reports whether a customer last invited at lastInvited may not be
// invited at now: less than QuietPeriod has passed. Exactly QuietPeriod after the last
// invitation they may be invited again. A zero lastInvited (never invited) is never in
// the quiet period; a lastInvited after now (a clock ahead) is.
func InQuietPeriod(lastInvited, now time.Time, policy SurveyPolicy) bool {
	if lastInvited.IsZero() {
		return false
	}
	return now.Sub(lastInvited) < policy.QuietPeriod
}

// Visit is one planned return visit.
type Visit struct {
	CustomerID string `json:"customer_id"`
	Method     string `json:"method"`     // phone | on_site | online
	PlannedOn  string `json:"planned_on"` // a date, YYYY-MM-DD
	Rep        string `json:"rep"`        // the username of the rep who visits
	Purpose    string `json:"purpose"`    // what the visit is about
}

// VisitPlan is the body of POST /api/v1/visit-plans (and of its edits while in draft).
type VisitPlan struct {
	Title  string  `json:"title"`
	Visits []Visit `json:"visits"`
}

// Validate checks a plan's fields: one error per field at fault, in field order
// (title, visits, visits[0].customer_id, visits[0].method, …). Whether the plan is
// early enough to submit is CheckSubmission's.
func (p VisitPlan) Validate() []FieldError {
	var errs []FieldError
	add := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	text := func(field, v string, max int) {
		switch {
		case strings.TrimSpace(v) == "":
			add(field, "is required")
		case utf8.RuneCountInString(v) > max || !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			add(field, fmt.Sprintf("must be plain text of at most %d characters", max))
		}
	}
	text("title", p.Title, MaxPlanTitle)
	switch {
	case len(p.Visits) == 0:
		add("visits", "must have at least one visit")
	case len(p.Visits) > MaxPlanVisits:
		add("visits", fmt.Sprintf("must have at most %d visits", MaxPlanVisits))
	}
	for i, v := range p.Visits {
		f := fmt.Sprintf("visits[%d].", i)
		text(f+"customer_id", v.CustomerID, MaxVisitShortText)
		if !In(v.Method, VisitMethods) {
			add(f+"method", "must be one of "+strings.Join(VisitMethods, ", "))
		}
		if d, ok := planDate(v.PlannedOn); !ok {
			add(f+"planned_on", "must be a date YYYY-MM-DD")
		} else if d.Year() < 2000 || d.Year() > 2999 {
			add(f+"planned_on", "must be a date between 2000 and 2999")
		}
		text(f+"rep", v.Rep, MaxVisitShortText)
		text(f+"purpose", v.Purpose, MaxVisitPurpose)
	}
	return errs
}

// planDate parses a YYYY-MM-DD date (UTC midnight).
func planDate(s string) (time.Time, bool) {
	d, err := time.Parse(time.DateOnly, s)
	return d, err == nil && dateRE.MatchString(s)
}

// FirstVisit is the index of the plan's earliest visit by planned_on (the first in
// order among equals), -1 when no visit has a date.
func (p VisitPlan) FirstVisit() int {
	first := -1
	var at time.Time
	for i, v := range p.Visits {
		if d, ok := planDate(v.PlannedOn); ok && (first < 0 || d.Before(at)) {
			first, at = i, d
		}
	}
	return first
}

// CheckSubmission checks that a plan may be submitted today: its first visit is at
// least PlanLeadDays calendar days after today (7: submitted on the 1st, the first
// visit may be on the 8th, not the 7th). today's calendar date is taken in its own
// location, so the caller passes the time in the company's zone. Every visit that is
// too soon gets an error on visits[i].planned_on (any such visit makes the first one
// too soon, so this is the same rule, told of each visit to move). Validate first: a
// visit without a valid date is skipped.
func CheckSubmission(plan VisitPlan, today time.Time, policy SurveyPolicy) []FieldError {
	y, m, d := today.Date()
	earliest := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, policy.PlanLeadDays)
	var errs []FieldError
	for i, v := range plan.Visits {
		if on, ok := planDate(v.PlannedOn); ok && on.Before(earliest) {
			errs = append(errs, FieldError{Field: fmt.Sprintf("visits[%d].planned_on", i),
				Message: fmt.Sprintf("must be on or after %s: a plan is submitted at least %d days before its first visit",
					earliest.Format(time.DateOnly), policy.PlanLeadDays)})
		}
	}
	return errs
}

package domain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// ProcessContract is the contract review process (DOMAIN.md, process 1).
const ProcessContract = "contract"

// ContractViewerRoles see every contract; the submitter sees their own, and the
// departments of a contract's route see it.
var ContractViewerRoles = []Role{RoleSalesManager, RoleOpsHead, RoleDeputyGM, RoleGeneralManager, RoleAdmin}

// ContractProcess is contract review (DOMAIN.md, process 1).
var ContractProcess = Process{
	Name: ProcessContract, WorkflowType: "ContractWorkflow", IDPrefix: "ctr",
	Viewers: ContractViewerRoles, Overseers: ContractViewerRoles,
}

// ContractWorkflowID is the Temporal workflow id of a contract.
func ContractWorkflowID(id string) string { return ContractProcess.WorkflowID(id) }

// Contract classes, from the lightest route to the heaviest.
const (
	ClassStandard = "standard"
	ClassSpecial  = "special"
	ClassMajor    = "major"
)

var ContractClasses = []string{ClassStandard, ClassSpecial, ClassMajor}

// Contract statuses (issue 4).
const (
	ContractInReview         = "in_review"
	ContractChangesRequested = "changes_requested"
	ContractApproved         = "approved"
	ContractWithdrawn        = "withdrawn"
	ContractAmendmentReview  = "amendment_review"
)

var ContractStatuses = []string{ContractInReview, ContractChangesRequested, ContractApproved,
	ContractWithdrawn, ContractAmendmentReview}

// Contract review steps (task step names).
const (
	StepReview                = "review"
	StepCountersignProduction = "countersign_production"
	StepCountersignQuality    = "countersign_quality"
	StepCountersignPurchasing = "countersign_purchasing"
	StepCountersignFinance    = "countersign_finance"
	StepOpsReview             = "ops_review"
	StepReviewMeeting         = "review_meeting"
	StepGMApproval            = "gm_approval"
)

// Countersigns are the department steps that run in parallel, in this order.
var Countersigns = []string{StepCountersignProduction, StepCountersignQuality,
	StepCountersignPurchasing, StepCountersignFinance}

// RouteStages returns the review stages of a class: the steps of a stage run in parallel
// and all must approve before the next stage starts. An unknown class has no stages.
func RouteStages(class string) [][]string {
	special := [][]string{slices.Clone(Countersigns), {StepOpsReview}}
	switch class {
	case ClassStandard:
		return [][]string{{StepReview}}
	case ClassSpecial:
		return append(special, []string{StepGMApproval})
	case ClassMajor:
		return append(special, []string{StepReviewMeeting}, []string{StepGMApproval})
	}
	return nil
}

// Route returns the step names of a class in order (the API's "route").
func Route(class string) []string {
	steps := []string{}
	for _, stage := range RouteStages(class) {
		steps = append(steps, stage...)
	}
	return steps
}

// ContractStepGroup is the candidate group of a review step ("" for an unknown step).
func ContractStepGroup(step string) Role {
	switch step {
	case StepReview:
		return RoleSalesManager
	case StepCountersignProduction:
		return RoleProduction
	case StepCountersignQuality:
		return RoleQuality
	case StepCountersignPurchasing:
		return RolePurchasing
	case StepCountersignFinance:
		return RoleFinance
	case StepOpsReview:
		return RoleOpsHead
	case StepReviewMeeting, StepGMApproval:
		return RoleGeneralManager
	}
	return ""
}

// ContractEscalationRole is whom the first escalation of an overdue step goes to when the
// reviewer has no manager (or nobody has claimed the task yet): the role above the
// step's group in the demo organisation. The sales review goes to the deputy GM (second
// line for sales), a department countersign to the head of operations, the ops review to
// the general manager, and the general manager's own steps to the general manager.
func ContractEscalationRole(step string) Role {
	switch ContractStepGroup(step) {
	case RoleSalesManager:
		return RoleDeputyGM
	case RoleProduction, RoleQuality, RolePurchasing, RoleFinance:
		return RoleOpsHead
	}
	return RoleGeneralManager
}

// RouteGroups lists the distinct candidate groups of a class's route, in route order:
// the departments notified in writing when the contract is approved.
func RouteGroups(class string) []string {
	groups := []string{}
	for _, step := range Route(class) {
		if g := string(ContractStepGroup(step)); !In(g, groups) {
			groups = append(groups, g)
		}
	}
	return groups
}

// ContractPriority ranks review tasks: major first, then special.
func ContractPriority(class string) int {
	return classRank(class)
}

// ContractRequirements are the non-standard requirements of a contract; any one makes it
// special.
type ContractRequirements struct {
	CustomSpec          bool `json:"custom_spec"`
	SpecialQuality      bool `json:"special_quality"`
	SpecialPackaging    bool `json:"special_packaging"`
	NonStandardDelivery bool `json:"non_standard_delivery"`
	NonStandardPayment  bool `json:"non_standard_payment"`
}

// Names returns the json names of the requirements that are set, in declaration order.
func (r ContractRequirements) Names() []string {
	names := []string{}
	for _, f := range []struct {
		set  bool
		name string
	}{
		{r.CustomSpec, "custom_spec"}, {r.SpecialQuality, "special_quality"},
		{r.SpecialPackaging, "special_packaging"}, {r.NonStandardDelivery, "non_standard_delivery"},
		{r.NonStandardPayment, "non_standard_payment"},
	} {
		if f.set {
			names = append(names, f.name)
		}
	}
	return names
}

// ContractTerms are what is reviewed: the fields of POST /contracts.
type ContractTerms struct {
	CustomerID string `json:"customer_id"`
	Title      string `json:"title"`
	Amount     Money  `json:"amount"`
	// DiscountPct is a percentage as a decimal ("7.5"); JSON may carry it as a number or a
	// string. Empty: no discount.
	DiscountPct  json.Number          `json:"discount_pct,omitempty"`
	DeliveryDate string               `json:"delivery_date"` // YYYY-MM-DD
	PaymentTerms string               `json:"payment_terms"`
	Requirements ContractRequirements `json:"requirements"`
	Strategic    bool                 `json:"strategic,omitempty"`
	// Class is a class asked for on submission: it can raise the computed class, never
	// lower it. Empty: none.
	Class string `json:"class,omitempty"`
}

// Field length limits of contract terms (characters).
const (
	MaxContractTitle        = 200
	MaxContractPaymentTerms = 2000
	MaxContractReason       = 2000
)

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// Validate checks the terms against the rules: required fields, formats and lengths, a
// positive amount in a currency the rate table knows, a discount between 0 and 100. It
// returns one error per field at fault, in field order.
func (t ContractTerms) Validate(r ContractRules) []FieldError {
	var errs []FieldError
	add := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	if strings.TrimSpace(t.CustomerID) == "" {
		add("customer_id", "is required")
	}
	switch title := strings.TrimSpace(t.Title); {
	case title == "":
		add("title", "is required")
	case utf8.RuneCountInString(title) > MaxContractTitle:
		add("title", fmt.Sprintf("must be at most %d characters", MaxContractTitle))
	}
	if err := t.Amount.Validate(); err != nil {
		add("amount", err.Error())
	} else if d, _ := t.Amount.Decimal(); !d.IsPositive() {
		add("amount", "must be greater than zero")
	} else if _, err := r.ToCNY(t.Amount); err != nil {
		add("amount.currency", err.Error())
	}
	if t.DiscountPct != "" {
		if _, err := parsePct(t.DiscountPct.String()); err != nil {
			add("discount_pct", err.Error())
		}
	}
	if !dateRE.MatchString(t.DeliveryDate) {
		add("delivery_date", "must be a date YYYY-MM-DD")
	} else if _, err := time.Parse(time.DateOnly, t.DeliveryDate); err != nil {
		add("delivery_date", "must be a valid date YYYY-MM-DD")
	}
	switch pt := strings.TrimSpace(t.PaymentTerms); {
	case pt == "":
		add("payment_terms", "is required")
	case utf8.RuneCountInString(pt) > MaxContractPaymentTerms:
		add("payment_terms", fmt.Sprintf("must be at most %d characters", MaxContractPaymentTerms))
	}
	if t.Class != "" && !In(t.Class, ContractClasses) {
		add("class", "must be one of "+strings.Join(ContractClasses, ", "))
	}
	return errs
}

// parsePct parses a percentage between 0 and 100.
func parsePct(s string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return d, fmt.Errorf("must be a decimal percentage such as 7.5")
	}
	if d.IsNegative() || d.GreaterThan(decimal.NewFromInt(100)) {
		return d, fmt.Errorf("must be between 0 and 100")
	}
	return d, nil
}

// RequirementChanges changes some requirement flags; nil leaves a flag as it is.
type RequirementChanges struct {
	CustomSpec          *bool `json:"custom_spec,omitempty"`
	SpecialQuality      *bool `json:"special_quality,omitempty"`
	SpecialPackaging    *bool `json:"special_packaging,omitempty"`
	NonStandardDelivery *bool `json:"non_standard_delivery,omitempty"`
	NonStandardPayment  *bool `json:"non_standard_payment,omitempty"`
}

// ContractChanges are the changed fields of a revision or an amendment; nil leaves a
// field as it is. The customer cannot change: that is another contract.
type ContractChanges struct {
	Title        *string             `json:"title,omitempty"`
	Amount       *Money              `json:"amount,omitempty"`
	DiscountPct  *json.Number        `json:"discount_pct,omitempty"`
	DeliveryDate *string             `json:"delivery_date,omitempty"`
	PaymentTerms *string             `json:"payment_terms,omitempty"`
	Requirements *RequirementChanges `json:"requirements,omitempty"`
	Strategic    *bool               `json:"strategic,omitempty"`
	Class        *string             `json:"class,omitempty"`
}

// Empty reports whether c changes nothing.
func (c ContractChanges) Empty() bool {
	r := c.Requirements
	return c.Title == nil && c.Amount == nil && c.DiscountPct == nil && c.DeliveryDate == nil &&
		c.PaymentTerms == nil && c.Strategic == nil && c.Class == nil &&
		(r == nil || *r == RequirementChanges{})
}

// Apply returns t with the changes made.
func (t ContractTerms) Apply(c ContractChanges) ContractTerms {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setBool := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	set(&t.Title, c.Title)
	if c.Amount != nil {
		t.Amount = *c.Amount
	}
	if c.DiscountPct != nil {
		t.DiscountPct = *c.DiscountPct
	}
	set(&t.DeliveryDate, c.DeliveryDate)
	set(&t.PaymentTerms, c.PaymentTerms)
	if r := c.Requirements; r != nil {
		setBool(&t.Requirements.CustomSpec, r.CustomSpec)
		setBool(&t.Requirements.SpecialQuality, r.SpecialQuality)
		setBool(&t.Requirements.SpecialPackaging, r.SpecialPackaging)
		setBool(&t.Requirements.NonStandardDelivery, r.NonStandardDelivery)
		setBool(&t.Requirements.NonStandardPayment, r.NonStandardPayment)
	}
	setBool(&t.Strategic, c.Strategic)
	set(&t.Class, c.Class)
	return t
}

// TermChange is one term's value in two versions of a contract.
type TermChange struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// ChangesTo puts into out the terms that differ between t and u, by json name, each
// with its value in t (From) and in u (To). Requirements are compared as the lists of
// names that are set. It fills a map it is given, so that workflow code can add the
// changes to a task's context without ranging over a map (workflowcheck refuses that).
func (t ContractTerms) ChangesTo(u ContractTerms, out map[string]any) {
	add := func(name string, from, to any, differ bool) {
		if differ {
			out[name] = TermChange{From: from, To: to}
		}
	}
	add("title", t.Title, u.Title, t.Title != u.Title)
	add("amount", t.Amount, u.Amount, t.Amount != u.Amount)
	add("discount_pct", t.DiscountPct.String(), u.DiscountPct.String(), t.DiscountPct != u.DiscountPct)
	add("delivery_date", t.DeliveryDate, u.DeliveryDate, t.DeliveryDate != u.DeliveryDate)
	add("payment_terms", t.PaymentTerms, u.PaymentTerms, t.PaymentTerms != u.PaymentTerms)
	add("requirements", t.Requirements.Names(), u.Requirements.Names(), t.Requirements != u.Requirements)
	add("strategic", t.Strategic, u.Strategic, t.Strategic != u.Strategic)
	add("class", t.Class, u.Class, t.Class != u.Class)
}

// ContractRules are the configurable classification rules.
type ContractRules struct {
	// AllowedDiscountPct: a discount above it makes a contract special ("5").
	AllowedDiscountPct string `json:"allowed_discount_pct"`
	// An amount reaching a threshold (compared in CNY) makes a contract special or major.
	SpecialThreshold Money `json:"special_threshold"`
	MajorThreshold   Money `json:"major_threshold"`
	// Rates maps a currency to the CNY value of one unit, as a decimal string
	// ("USD": "7.2"). CNY is always 1. A currency missing here cannot be classified.
	Rates map[string]string `json:"rates"`
}

// DefaultContractRules returns issue 4's defaults. The USD and EUR rates are indicative
// only; configure the table in force.
func DefaultContractRules() ContractRules {
	return ContractRules{
		AllowedDiscountPct: "5",
		SpecialThreshold:   Money{Amount: "500000.00", Currency: "CNY"},
		MajorThreshold:     Money{Amount: "5000000.00", Currency: "CNY"},
		Rates:              map[string]string{"CNY": "1", "USD": "7.2", "EUR": "7.8"},
	}
}

// Validate checks the rules, for configuration loading.
func (r ContractRules) Validate() error {
	if _, err := parsePct(r.AllowedDiscountPct); err != nil {
		return fmt.Errorf("allowed discount %q %w", r.AllowedDiscountPct, err)
	}
	special, err := r.ToCNY(r.SpecialThreshold)
	if err != nil {
		return fmt.Errorf("special threshold: %w", err)
	}
	major, err := r.ToCNY(r.MajorThreshold)
	if err != nil {
		return fmt.Errorf("major threshold: %w", err)
	}
	if major.LessThan(special) {
		return fmt.Errorf("the major threshold is below the special threshold")
	}
	for cur, rate := range r.Rates {
		if !currencyRE.MatchString(cur) {
			return fmt.Errorf("rate table: %q is not a currency code", cur)
		}
		if d, err := decimal.NewFromString(rate); err != nil || !d.IsPositive() {
			return fmt.Errorf("rate table: the rate of %s must be a positive decimal, not %q", cur, rate)
		}
	}
	return nil
}

// ToCNY converts m to CNY with the rate table.
func (r ContractRules) ToCNY(m Money) (decimal.Decimal, error) {
	if err := m.Validate(); err != nil {
		return decimal.Zero, err
	}
	d, _ := m.Decimal()
	if m.Currency == "CNY" {
		return d, nil
	}
	rate, ok := r.Rates[m.Currency]
	if !ok {
		return decimal.Zero, fmt.Errorf("no exchange rate is configured for %s", m.Currency)
	}
	rd, err := decimal.NewFromString(rate)
	if err != nil || !rd.IsPositive() {
		return decimal.Zero, fmt.Errorf("the exchange rate of %s is invalid", m.Currency)
	}
	return d.Mul(rd), nil
}

// Classification reasons, in the order Classify reports them. The requirement flags are
// reported by their json names (custom_spec, …).
const (
	ReasonDiscount         = "discount_above_allowed"
	ReasonSpecialThreshold = "amount_reaches_special_threshold"
	ReasonStrategic        = "strategic"
	ReasonMajorThreshold   = "amount_reaches_major_threshold"
	ReasonExplicitClass    = "explicit_class"
)

func classRank(class string) int {
	for i, c := range ContractClasses {
		if c == class {
			return i
		}
	}
	return -1
}

// Classify decides a contract's class by the rules, with the reasons that apply:
// special for any requirement flag, a discount above the allowed one or an amount
// reaching the special threshold; major when strategic or reaching the major threshold;
// an explicit class raises the result, never lowers it. Amounts are compared in CNY.
// It fails on terms it cannot judge (an invalid amount or discount, an unknown currency
// or class).
func Classify(t ContractTerms, r ContractRules) (class string, reasons []string, err error) {
	amount, err := r.ToCNY(t.Amount)
	if err != nil {
		return "", nil, fmt.Errorf("amount: %w", err)
	}
	special, err := r.ToCNY(r.SpecialThreshold)
	if err != nil {
		return "", nil, fmt.Errorf("special threshold: %w", err)
	}
	major, err := r.ToCNY(r.MajorThreshold)
	if err != nil {
		return "", nil, fmt.Errorf("major threshold: %w", err)
	}
	allowed, err := parsePct(r.AllowedDiscountPct)
	if err != nil {
		return "", nil, fmt.Errorf("allowed discount: %w", err)
	}
	if t.Class != "" && classRank(t.Class) < 0 {
		return "", nil, fmt.Errorf("class must be one of %s", strings.Join(ContractClasses, ", "))
	}

	class, reasons = ClassStandard, t.Requirements.Names()
	if t.DiscountPct != "" {
		pct, err := parsePct(t.DiscountPct.String())
		if err != nil {
			return "", nil, fmt.Errorf("discount_pct: %w", err)
		}
		if pct.GreaterThan(allowed) {
			reasons = append(reasons, ReasonDiscount)
		}
	}
	if amount.GreaterThanOrEqual(special) {
		reasons = append(reasons, ReasonSpecialThreshold)
	}
	if len(reasons) > 0 {
		class = ClassSpecial
	}
	if t.Strategic {
		reasons, class = append(reasons, ReasonStrategic), ClassMajor
	}
	if amount.GreaterThanOrEqual(major) {
		reasons, class = append(reasons, ReasonMajorThreshold), ClassMajor
	}
	if classRank(t.Class) > classRank(class) {
		reasons, class = append(reasons, ReasonExplicitClass), t.Class
	}
	return class, reasons, nil
}

// ContractPolicy is the configuration of the contract process, carried in the workflow
// input so the policy in force at submission is recorded in the history.
type ContractPolicy struct {
	StepSLA time.Duration `json:"step_sla"` // each review step is due in 48h
	// Reminders are fractions of a step's window at which its reviewers are reminded.
	Reminders []float64 `json:"reminders"` // 0.5: at 24h
	// EscalationStep: level 1 (the reviewer's manager) at the due time, level 2 (the
	// general manager) this long after.
	EscalationStep time.Duration `json:"escalation_step"` // 48h
	// MaxReviewsPerRun: after this many review rounds (revisions and amendments) one
	// workflow run continues as new, so the history stays bounded (0: only when Temporal
	// suggests it).
	MaxReviewsPerRun int           `json:"max_reviews_per_run"`
	Rules            ContractRules `json:"rules"`
}

// DefaultContractPolicy returns DOMAIN.md's defaults.
func DefaultContractPolicy() ContractPolicy {
	return ContractPolicy{
		StepSLA:          48 * time.Hour,
		Reminders:        []float64{0.5},
		EscalationStep:   48 * time.Hour,
		MaxReviewsPerRun: 20,
		Rules:            DefaultContractRules(),
	}
}

// ContractInput starts the contract workflow. The API fills it after validating the
// terms (Validate) and classifying them (Classify) with Policy.Rules; the workflow
// classifies again with the same rules, to the same result.
type ContractInput struct {
	ID           string         `json:"id"`
	CustomerName string         `json:"customer_name"`
	SubmittedBy  string         `json:"submitted_by"` // username of the sales rep
	SubmittedAt  time.Time      `json:"submitted_at"`
	Terms        ContractTerms  `json:"terms"`
	Policy       ContractPolicy `json:"policy"`
	// Resume is set by the workflow itself when it continues as new.
	Resume *ContractResume `json:"resume,omitempty"`
}

// ContractResume carries a contract's state into the next workflow run.
type ContractResume struct {
	State    ContractState `json:"state"`
	AuditSeq int           `json:"audit_seq"`
}

// ContractVersion is one revision of a contract's terms with its classification.
type ContractVersion struct {
	Revision     int           `json:"revision"`
	Class        string        `json:"class"`
	ClassReasons []string      `json:"class_reasons"`
	Route        []string      `json:"route"`
	Terms        ContractTerms `json:"terms"`
}

// ContractAmendment is an amendment under review: the amended version, what changed, why
// and who asked.
type ContractAmendment struct {
	ContractVersion
	Changes     ContractChanges `json:"changes"`
	Reason      string          `json:"reason"`
	RequestedBy string          `json:"requested_by"`
	RequestedAt time.Time       `json:"requested_at"`
}

// ContractReview is one decision of the review record.
type ContractReview struct {
	TaskID   string `json:"task_id"` // unique per entry
	Revision int    `json:"revision"`
	Step     string `json:"step"`
	Reviewer string `json:"reviewer"`
	Decision string `json:"decision"` // approve | reject
	Comment  string `json:"comment,omitempty"`
	// Data is the step's form data: opinion (countersigns), report and attendees
	// (review_meeting).
	Data map[string]any `json:"data,omitempty"`
	At   time.Time      `json:"at"`
}

// ContractTask is an open review task, after delegation.
type ContractTask struct {
	TaskID        string    `json:"task_id"`
	Step          string    `json:"step"`
	Assignee      string    `json:"assignee,omitempty"` // "" while the group's
	DelegatedFrom string    `json:"delegated_from,omitempty"`
	DueAt         time.Time `json:"due_at"`
}

// ContractState is what the status query and the review Updates return.
//
// Before approval the embedded version is the one under review; from approval on it is
// the version in force, and an amendment under review is in Amendment until it is
// approved (then it becomes the version in force) or rejected (then it is dropped).
type ContractState struct {
	ID           string `json:"id"`
	CustomerID   string `json:"customer_id"`
	CustomerName string `json:"customer_name"`
	Title        string `json:"title"`
	Status       string `json:"status"`
	ContractVersion
	SubmittedBy  string             `json:"submitted_by"`
	SubmittedAt  time.Time          `json:"submitted_at"`
	CurrentSteps []string           `json:"current_steps"`
	OpenTasks    []ContractTask     `json:"open_tasks"`
	ReviewRecord []ContractReview   `json:"review_record"`
	LedgerNo     string             `json:"ledger_no,omitempty"`
	ApprovedAt   *time.Time         `json:"approved_at,omitempty"`
	Amendment    *ContractAmendment `json:"amendment,omitempty"`
	Amendments   int                `json:"amendments"` // approved amendments
	// Rejected is the revision last sent back for changes, kept for the reviewers of the
	// revision that followed it (what changed since). Nil before any revision.
	Rejected     *ContractVersion `json:"rejected,omitempty"`
	LastRevision int              `json:"last_revision"` // highest revision number used
}

// Contract Updates (besides complete-task). Each returns the ContractState once the
// workflow has acted on it. Their validators reject with ErrTypeNotAccepting (409) when
// the contract's status does not allow it, and ErrTypeInvalidData (422, []FieldError)
// for invalid changes. The API checks who may send them and fills Actor.
const (
	UpdateReviseContract   = "revise-contract"   // ContractRevisionRequest; in changes_requested
	UpdateWithdrawContract = "withdraw-contract" // ContractWithdrawRequest; in in_review or changes_requested
	UpdateAmendContract    = "amend-contract"    // ContractAmendRequest; in approved
)

// ContractRevisionRequest resubmits a contract after changes_requested: the changes make
// a new revision, which is classified again and reviewed from the first step.
type ContractRevisionRequest struct {
	Actor   string          `json:"actor"`
	Changes ContractChanges `json:"changes"`
	Comment string          `json:"comment,omitempty"`
}

// ContractWithdrawRequest withdraws a contract before approval; open tasks are cancelled.
type ContractWithdrawRequest struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
}

// ContractAmendRequest amends an approved contract; the amended terms are reviewed by
// the same rules while the approved version stays in force.
type ContractAmendRequest struct {
	Actor   string          `json:"actor"`
	Changes ContractChanges `json:"changes"`
	Reason  string          `json:"reason"`
}

// Contract activities.
const (
	// ActProjectContract upserts the contract read model from State, inserts the review
	// record entries (idempotent on task id) and writes the audit event (none when
	// Audit.Key is empty), in one transaction. Input: ContractProjection.
	ActProjectContract = "ProjectContract"
	// ActAssignLedgerNo gives an approved contract its ledger number,
	// HT-<year of At>-<4-digit sequence>, gap-free and unique, and stores it on the
	// contract; a retry returns the number already given. Input: LedgerNoInput; result:
	// LedgerNoResult.
	ActAssignLedgerNo = "AssignLedgerNo"
	// ActNotify e-mails a templated notice to users and to every member of groups.
	// Input: NotifyInput; result: NotifyResult.
	ActNotify = "Notify"
)

// ContractProjection is the input of ProjectContract. State is the whole current state
// (the row is replaced) except ReviewRecord, which is left empty: new entries come in
// Reviews. Input is set on the first call only, which inserts the row.
type ContractProjection struct {
	Input   *ContractInput   `json:"input,omitempty"`
	State   ContractState    `json:"state"`
	Reviews []ContractReview `json:"reviews,omitempty"`
	Audit   AuditInput       `json:"audit"`
}

// LedgerNoInput asks for the ledger number of an approved contract.
type LedgerNoInput struct {
	ContractID string    `json:"contract_id"`
	WorkflowID string    `json:"workflow_id"`
	At         time.Time `json:"at"` // the approval time; its year is the ledger year
}

// LedgerNoResult is the ledger number, e.g. "HT-2025-0042".
type LedgerNoResult struct {
	LedgerNo string `json:"ledger_no"`
}

// NotifyInput asks Notify to e-mail one templated notice to each of Users and each member
// of Groups: deduplicated, in the recipient's own locale, exactly once per recipient
// (idempotency key KeyPrefix + "/" + username).
type NotifyInput struct {
	KeyPrefix string   `json:"key_prefix"`
	Users     []string `json:"users,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	// ManagersOf adds the manager of each of these users, as the user directory has it
	// when the notice is queued (a rep's manager, told of a need the rep found on a
	// visit); one without a manager adds the members of the ManagerFallback groups.
	ManagersOf      []string       `json:"managers_of,omitempty"`
	ManagerFallback []string       `json:"manager_fallback,omitempty"`
	Template        string         `json:"template"`
	Data            map[string]any `json:"data"`
	Process         string         `json:"process"`
	ProcessID       string         `json:"process_id"`
	WorkflowID      string         `json:"workflow_id"`
}

// NotifyResult lists the usernames e-mailed.
type NotifyResult struct {
	Recipients []string `json:"recipients"`
}

// Contract e-mail templates.
const (
	// To the submitter when any step rejects: every comment of that revision.
	TmplContractChangesRequested = "contract_changes_requested"
	// To the submitter (and the amender) on approval of a contract or an amendment.
	TmplContractApproved = "contract_approved"
	// To every department of the route on approval: the contract and its requirements.
	TmplContractDepartmentNotice = "contract_department_notice"
	// To the submitter and the amender when an amendment is rejected.
	TmplContractAmendmentRejected = "contract_amendment_rejected"
)

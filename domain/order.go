package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// ProcessOrder is order fulfilment (DOMAIN.md, process 2).
const ProcessOrder = "order"

// OrderViewerRoles see every order: the sales managers who review them, finance who
// checks credit and collects, the line above, and admin. The rep who entered an order
// sees it, and so do the departments that work on every order (production, quality,
// logistics): OrderParties.
var OrderViewerRoles = []Role{RoleSalesManager, RoleFinance, RoleOpsHead, RoleDeputyGM, RoleGeneralManager, RoleAdmin}

// OrderProcess is order fulfilment: entry, review, credit check, customer confirmation,
// production, inspection, shipping, acceptance, invoice and collection.
var OrderProcess = Process{
	Name: ProcessOrder, WorkflowType: "OrderWorkflow", IDPrefix: "ord",
	Viewers:   OrderViewerRoles,
	Overseers: []Role{RoleSalesManager, RoleOpsHead, RoleGeneralManager, RoleAdmin},
	Links: map[string]LinkPurpose{
		PurposeConfirmOrder:   ConfirmOrderLink,
		PurposeAcceptDelivery: AcceptDeliveryLink,
	},
}

// OrderWorkflowID is the Temporal workflow id of an order.
func OrderWorkflowID(id string) string { return OrderProcess.WorkflowID(id) }

// Order statuses, in the order an order goes through them.
const (
	OrderInReview             = "in_review"
	OrderCreditHold           = "credit_hold"
	OrderAwaitingConfirmation = "awaiting_confirmation"
	OrderInProduction         = "in_production"
	OrderInInspection         = "in_inspection"
	OrderReadyToShip          = "ready_to_ship"
	OrderShipped              = "shipped"
	OrderDelivered            = "delivered"
	OrderInvoiced             = "invoiced"
	OrderPaid                 = "paid"
	OrderOverdue              = "overdue"
	OrderCancelled            = "cancelled"
	OrderLapsed               = "lapsed"
)

var OrderStatuses = []string{OrderInReview, OrderCreditHold, OrderAwaitingConfirmation, OrderInProduction,
	OrderInInspection, OrderReadyToShip, OrderShipped, OrderDelivered, OrderInvoiced, OrderPaid, OrderOverdue,
	OrderCancelled, OrderLapsed}

// OrderCancellable lists the statuses an order may be cancelled in: before shipping.
var OrderCancellable = []string{OrderInReview, OrderCreditHold, OrderAwaitingConfirmation, OrderInProduction,
	OrderInInspection, OrderReadyToShip}

// OrderOpen lists the statuses of an order not yet invoiced and not ended: its total
// counts against the customer's credit limit.
var OrderOpen = []string{OrderInReview, OrderCreditHold, OrderAwaitingConfirmation, OrderInProduction,
	OrderInInspection, OrderReadyToShip, OrderShipped, OrderDelivered}

// Order steps (task step names).
const (
	StepOrderReview       = "order_review"
	StepCreditApproval    = "credit_approval"
	StepProduction        = "production"
	StepQualityInspection = "quality_inspection"
	StepShip              = "ship"
	StepRefundPrepayment  = "refund_prepayment"
)

// Order task actions besides the shared approve/reject/accept/done.
const (
	ActionRefuse   = "refuse"
	ActionPass     = "pass"
	ActionFail     = "fail"
	ActionShip     = "ship"
	ActionHandOver = "hand_over"
	ActionRefunded = "refunded"
)

// Delivery methods.
const (
	DeliveryDelivery = "delivery"
	DeliveryPickup   = "pickup"
)

// Invoice statuses. An invoice is overdue when it is open past its due date.
const (
	InvoiceOpen    = "open"
	InvoicePaid    = "paid"
	InvoiceVoid    = "void"
	InvoiceOverdue = "overdue" // a filter only: open and past due
)

// Invoice kinds: the final invoice issued on acceptance, and the invoice of a recorded
// prepayment (issued paid, voided when the order is cancelled).
const (
	InvoiceFinal      = "final"
	InvoicePrepayment = "prepayment"
)

// Customer link purposes of an order.
const (
	PurposeConfirmOrder   = "confirm_order"
	PurposeAcceptDelivery = "accept_delivery"
)

// Answers of the customer links.
const (
	AnswerConfirm = "confirm"
	AnswerDecline = "decline"
	AnswerAccept  = "accept"
	AnswerProblem = "problem"
)

// Field limits of an order (characters, lines).
const (
	MaxOrderLines       = 200
	MaxOrderText        = 2000
	MaxOrderShortText   = 200
	MaxOrderQuantity    = 1000000
	MaxOrderNetDays     = 365
	MaxOrderLinkComment = 2000
)

// ConfirmOrderLink: the customer confirms the order, or declines it with a reason.
var ConfirmOrderLink = LinkPurpose{
	Fields: []FormField{
		{Name: "decision", Type: "enum", Required: true, Options: []string{AnswerConfirm, AnswerDecline}},
		{Name: "reason", Type: "text"},
	},
	Validate: func(a map[string]any) []FieldError {
		return validateChoice(a, "decision", []string{AnswerConfirm, AnswerDecline}, "reason", AnswerDecline)
	},
}

// AcceptDeliveryLink: the customer accepts the delivery, or reports a problem.
var AcceptDeliveryLink = LinkPurpose{
	Fields: []FormField{
		{Name: "decision", Type: "enum", Required: true, Options: []string{AnswerAccept, AnswerProblem}},
		{Name: "problem", Type: "text"},
	},
	Validate: func(a map[string]any) []FieldError {
		return validateChoice(a, "decision", []string{AnswerAccept, AnswerProblem}, "problem", AnswerProblem)
	},
}

// validateChoice checks a customer's choice and its text: the text is required with the
// choice that needs it, plain and at most MaxOrderLinkComment characters.
func validateChoice(a map[string]any, field string, options []string, textField, needsText string) []FieldError {
	var errs []FieldError
	choice, _ := a[field].(string)
	if !In(choice, options) {
		errs = append(errs, FieldError{Field: field, Message: "must be one of " + strings.Join(options, ", ")})
	}
	text, isString := a[textField].(string)
	if v, ok := a[textField]; ok && v != nil && !isString {
		errs = append(errs, FieldError{Field: textField, Message: "must be text"})
	}
	switch {
	case choice == needsText && strings.TrimSpace(text) == "":
		errs = append(errs, FieldError{Field: textField, Message: "is required"})
	case utf8.RuneCountInString(text) > MaxOrderLinkComment || !utf8.ValidString(text) || strings.ContainsRune(text, 0):
		errs = append(errs, FieldError{Field: textField, Message: fmt.Sprintf("must be plain text of at most %d characters", MaxOrderLinkComment)})
	}
	return append(errs, unknownAnswerFields(a, field, textField)...)
}

// OrderLine is one line of an order.
type OrderLine struct {
	SKU         string `json:"sku"`
	Description string `json:"description"`
	Quantity    int    `json:"quantity"`
	UnitPrice   Money  `json:"unit_price"`
}

// PaymentTerms: the invoice is due net_days after acceptance; a prepayment share may be
// asked for (a tier-D customer passes the credit check with a recorded prepayment).
type PaymentTerms struct {
	NetDays       int    `json:"net_days"`
	PrepaymentPct string `json:"prepayment_pct,omitempty"` // a decimal percentage, "30"
}

// Delivery is how the goods reach the customer.
type Delivery struct {
	Method    string `json:"method"` // delivery | pickup
	Transport string `json:"transport,omitempty"`
	Consignee string `json:"consignee,omitempty"`
	Address   string `json:"address,omitempty"`
}

// OrderRequest is the body of POST /api/v1/orders.
type OrderRequest struct {
	CustomerID            string       `json:"customer_id"`
	ContractID            string       `json:"contract_id,omitempty"`
	Lines                 []OrderLine  `json:"lines"`
	RequestedDeliveryDate string       `json:"requested_delivery_date"`
	PaymentTerms          PaymentTerms `json:"payment_terms"`
	Delivery              Delivery     `json:"delivery"`
}

var skuRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$`)

// Validate checks an order's fields: one error per field at fault, in field order
// (lines[0].quantity, delivery.address, …). Every line must be in one currency.
func (r OrderRequest) Validate() []FieldError {
	var errs []FieldError
	add := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	if strings.TrimSpace(r.CustomerID) == "" {
		add("customer_id", "is required")
	}
	switch {
	case len(r.Lines) == 0:
		add("lines", "must have at least one line")
	case len(r.Lines) > MaxOrderLines:
		add("lines", fmt.Sprintf("must have at most %d lines", MaxOrderLines))
	}
	currency := ""
	for i, l := range r.Lines {
		p := fmt.Sprintf("lines[%d].", i)
		if !skuRE.MatchString(l.SKU) {
			add(p+"sku", "must be 1 to 64 letters, digits, '.', '_', '/' or '-'")
		}
		if d := strings.TrimSpace(l.Description); d == "" {
			add(p+"description", "is required")
		} else if utf8.RuneCountInString(d) > MaxOrderShortText {
			add(p+"description", fmt.Sprintf("must be at most %d characters", MaxOrderShortText))
		}
		if l.Quantity < 1 || l.Quantity > MaxOrderQuantity {
			add(p+"quantity", fmt.Sprintf("must be a whole number from 1 to %d", MaxOrderQuantity))
		}
		if err := l.UnitPrice.Validate(); err != nil {
			add(p+"unit_price", err.Error())
		} else if d, _ := l.UnitPrice.Decimal(); !d.IsPositive() {
			add(p+"unit_price", "must be greater than zero")
		} else if currency == "" {
			currency = l.UnitPrice.Currency
		} else if l.UnitPrice.Currency != currency {
			add(p+"unit_price.currency", "must be the currency of the first line, "+currency)
		}
	}
	if d, err := time.Parse(time.DateOnly, r.RequestedDeliveryDate); err != nil || !dateRE.MatchString(r.RequestedDeliveryDate) {
		add("requested_delivery_date", "must be a date YYYY-MM-DD")
	} else if d.Year() < 2000 || d.Year() > 2999 {
		add("requested_delivery_date", "must be a date between 2000 and 2999")
	}
	if n := r.PaymentTerms.NetDays; n < 0 || n > MaxOrderNetDays {
		add("payment_terms.net_days", fmt.Sprintf("must be from 0 to %d days", MaxOrderNetDays))
	}
	if p := r.PaymentTerms.PrepaymentPct; p != "" {
		if _, err := parsePct(p); err != nil {
			add("payment_terms.prepayment_pct", err.Error())
		}
	}
	d := r.Delivery
	switch d.Method {
	case DeliveryDelivery:
		if strings.TrimSpace(d.Address) == "" {
			add("delivery.address", "is required for a delivery")
		}
		if strings.TrimSpace(d.Consignee) == "" {
			add("delivery.consignee", "is required for a delivery")
		}
	case DeliveryPickup:
	default:
		add("delivery.method", "must be delivery or pickup")
	}
	for _, f := range []struct{ name, value string }{
		{"delivery.transport", d.Transport}, {"delivery.consignee", d.Consignee},
	} {
		if utf8.RuneCountInString(f.value) > MaxOrderShortText {
			add(f.name, fmt.Sprintf("must be at most %d characters", MaxOrderShortText))
		}
	}
	if utf8.RuneCountInString(d.Address) > MaxOrderText {
		add("delivery.address", fmt.Sprintf("must be at most %d characters", MaxOrderText))
	}
	return errs
}

// Total is the sum of the lines (Validate first: it assumes valid lines in one currency).
func (r OrderRequest) Total() Money {
	sum := decimal.Zero
	cur := "CNY"
	for i, l := range r.Lines {
		p, _ := l.UnitPrice.Decimal()
		sum = sum.Add(p.Mul(decimal.NewFromInt(int64(l.Quantity))))
		if i == 0 {
			cur = l.UnitPrice.Currency
		}
	}
	return NewMoney(sum, cur)
}

// OrderPolicy is the configuration of the order process, carried in the workflow input
// so that the policy in force at entry is recorded in the history.
type OrderPolicy struct {
	ReviewSLA         time.Duration   `json:"review_sla"` // order_review due (reminder at half: 4 h of 8 h)
	StepSLA           time.Duration   `json:"step_sla"`   // credit_approval, quality_inspection, ship, production accept
	RefundSLA         time.Duration   `json:"refund_sla"` // refund_prepayment
	Reminders         []float64       `json:"reminders"`  // fractions of a task's window
	EscalationStep    time.Duration   `json:"escalation_step"`
	ConfirmWait       time.Duration   `json:"confirm_wait"`       // 7 d: the order lapses
	ConfirmReminders  []time.Duration `json:"confirm_reminders"`  // 24 h
	AcceptWait        time.Duration   `json:"accept_wait"`        // 7 d: accepted by silence
	AcceptReminders   []time.Duration `json:"accept_reminders"`   // 72 h
	InvoiceReminders  []time.Duration `json:"invoice_reminders"`  // from the due time: −3 d, 0, +7 d
	OverdueEscalation []time.Duration `json:"overdue_escalation"` // 14 d to the rep's manager, 30 d to the GM
	// UTCOffset is the company's time zone, as an offset from UTC (+8 h in China, which
	// keeps no daylight saving): an invoice's due date counts from the acceptance's day
	// there, and its reminders and escalations fall at ChaseHour on their day there. A
	// fixed offset, because workflow code may not read the zone database.
	UTCOffset time.Duration `json:"utc_offset"`
	ChaseHour int           `json:"chase_hour"` // 9: reminders go out at 09:00
	// Rates maps a currency to the value of one unit in the credit limit's currency
	// (CNY), for the credit check; as ContractRules.Rates.
	Rates map[string]string `json:"rates"`
}

// DefaultOrderPolicy returns DOMAIN.md's defaults.
func DefaultOrderPolicy() OrderPolicy {
	return OrderPolicy{
		ReviewSLA: 8 * time.Hour, StepSLA: 24 * time.Hour, RefundSLA: 72 * time.Hour,
		Reminders: []float64{0.5}, EscalationStep: 24 * time.Hour,
		ConfirmWait: 7 * 24 * time.Hour, ConfirmReminders: []time.Duration{24 * time.Hour},
		AcceptWait: 7 * 24 * time.Hour, AcceptReminders: []time.Duration{72 * time.Hour},
		InvoiceReminders:  []time.Duration{-3 * 24 * time.Hour, 0, 7 * 24 * time.Hour},
		OverdueEscalation: []time.Duration{14 * 24 * time.Hour, 30 * 24 * time.Hour},
		UTCOffset:         8 * time.Hour, ChaseHour: 9,
		Rates: DefaultContractRules().Rates,
	}
}

// Zone is the company's time zone (UTCOffset).
func (p OrderPolicy) Zone() *time.Location {
	return time.FixedZone(fmt.Sprintf("UTC%+d", int(p.UTCOffset.Hours())), int(p.UTCOffset.Seconds()))
}

// DueOn is the due date of an invoice whose goods were accepted at accepted, with net
// days: the acceptance's day in the company's zone, plus net days.
func (p OrderPolicy) DueOn(accepted time.Time, net int) string {
	a := accepted.In(p.Zone())
	return time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, p.Zone()).AddDate(0, 0, net).Format(time.DateOnly)
}

// DueDay is the start of due date dueOn (YYYY-MM-DD) in the company's zone.
func (p OrderPolicy) DueDay(dueOn string) (time.Time, error) {
	return time.ParseInLocation(time.DateOnly, dueOn, p.Zone())
}

// ToCNY converts m into the credit limit's currency with the policy's rates.
func (p OrderPolicy) ToCNY(m Money) (decimal.Decimal, error) {
	return ContractRules{Rates: p.Rates}.ToCNY(m)
}

// OrderInput starts the order workflow. The API fills it after validating the request
// and checking the contract's remaining amount.
type OrderInput struct {
	ID            string `json:"id"`
	CustomerID    string `json:"customer_id"`
	CustomerName  string `json:"customer_name"`
	CustomerEmail string `json:"customer_email"`
	CustomerTier  string `json:"customer_tier"`
	Locale        string `json:"locale"`
	CreditLimit   Money  `json:"credit_limit"`
	// Rep entered the order; RepManager (their manager, "" when none) reviews it and is
	// the first level of an overdue invoice's escalation.
	Rep        string       `json:"rep"`
	RepName    string       `json:"rep_name,omitempty"` // the rep's display name, for the customer's e-mails
	RepManager string       `json:"rep_manager,omitempty"`
	ContractID string       `json:"contract_id,omitempty"`
	Request    OrderRequest `json:"request"`
	Total      Money        `json:"total"`
	EnteredAt  time.Time    `json:"entered_at"`
	Policy     OrderPolicy  `json:"policy"`
	// ComplaintPolicy is the policy of the complaint a reported delivery problem opens.
	ComplaintPolicy ComplaintPolicy `json:"complaint_policy"`
}

// NewState is the state of an order just entered: the read model the API writes before
// the workflow starts, and the workflow's first state.
func (in OrderInput) NewState() OrderState {
	r := in.Request
	return OrderState{
		ID: in.ID, CustomerID: in.CustomerID, CustomerName: in.CustomerName, ContractID: in.ContractID,
		Rep: in.Rep, Status: OrderInReview, Lines: r.Lines, Total: in.Total,
		RequestedDeliveryDate: r.RequestedDeliveryDate, PaymentTerms: r.PaymentTerms, Delivery: r.Delivery,
		EnteredAt: in.EnteredAt, CurrentSteps: []string{}, Inspections: []Inspection{},
		PrepaymentInvoices: []Invoice{}, Payments: []Payment{}, ComplaintIDs: []string{}, OpenTasks: []string{},
	}
}

// CreditCheck is the recorded credit check.
type CreditCheck struct {
	Limit        Money     `json:"limit"`
	OpenInvoices Money     `json:"open_invoices"` // open receivables
	OpenOrders   Money     `json:"open_orders"`   // other open orders not yet invoiced
	Order        Money     `json:"order"`         // this order, in the limit's currency
	Exposure     Money     `json:"exposure"`      // the three summed
	Prepaid      Money     `json:"prepaid"`       // prepayments recorded on this order
	Tier         string    `json:"tier"`
	Passed       bool      `json:"passed"`             // within the limit, no approval needed
	Reasons      []string  `json:"reasons,omitempty"`  // over_limit, tier_d_without_prepayment
	Decision     string    `json:"decision,omitempty"` // approve | refuse by finance, when held
	DecidedBy    string    `json:"decided_by,omitempty"`
	At           time.Time `json:"at"`
}

// Credit check reasons.
const (
	CreditOverLimit         = "over_limit"
	CreditCannotCheck       = "cannot_check" // the check could not be made (no exchange rate): finance decides
	CreditTierDNoPrepayment = "tier_d_without_prepayment"
)

// Inspection is one quality inspection.
type Inspection struct {
	Round     int       `json:"round"`
	Result    string    `json:"result"` // pass | fail
	Findings  string    `json:"findings,omitempty"`
	Inspector string    `json:"inspector"`
	At        time.Time `json:"at"`
}

// Shipment is what logistics recorded: a shipment, or the hand-over of a pickup.
type Shipment struct {
	Method        string    `json:"method"` // delivery | pickup
	Carrier       string    `json:"carrier,omitempty"`
	TrackingNo    string    `json:"tracking_no,omitempty"`
	CertificateNo string    `json:"certificate_no"`
	ReceivedBy    string    `json:"received_by,omitempty"` // pickup: who collected the goods
	By            string    `json:"by"`
	At            time.Time `json:"at"`
}

// Invoice is an order's invoice (the final one, or a prepayment's).
type Invoice struct {
	Number   string     `json:"number"` // FP-<year>-<6 digits>
	Kind     string     `json:"kind"`   // final | prepayment
	OrderID  string     `json:"order_id"`
	Amount   Money      `json:"amount"`
	Paid     Money      `json:"paid"`
	Open     Money      `json:"open"`
	IssuedAt time.Time  `json:"issued_at"`
	DueOn    string     `json:"due_on"` // YYYY-MM-DD
	Status   string     `json:"status"` // open | paid | void
	VoidedAt *time.Time `json:"voided_at,omitempty"`
}

// Payment is money received for an order: a payment against its invoice, or a
// prepayment before the credit check.
type Payment struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"` // payment | prepayment
	Amount     Money     `json:"amount"`
	ReceivedOn string    `json:"received_on"` // YYYY-MM-DD
	Reference  string    `json:"reference"`
	RecordedBy string    `json:"recorded_by"`
	InvoiceNo  string    `json:"invoice_no,omitempty"`
	Refund     *Refund   `json:"refund,omitempty"` // a refunded prepayment
	At         time.Time `json:"at"`
}

// Payment kinds.
const (
	PaymentKindPayment    = "payment"
	PaymentKindPrepayment = "prepayment"
)

// Refund is the refund of a prepayment, recorded by finance's refund_prepayment task.
type Refund struct {
	Reference string    `json:"reference"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
}

// Cancellation records why an order ended early and what was undone.
type Cancellation struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`    // username, "customer" or "system"
	Cause  string    `json:"cause"` // cancelled | rejected | credit_refused | declined | lapsed
	At     time.Time `json:"at"`
	// Compensations are the undo steps run, in the order they ran.
	Compensations []Compensation `json:"compensations"`
}

// Cancellation causes.
const (
	CauseCancelled     = "cancelled"
	CauseRejected      = "rejected"
	CauseCreditRefused = "credit_refused"
	CauseDeclined      = "declined"
	CauseLapsed        = "lapsed"
)

// Compensation is one undo step of a cancellation.
type Compensation struct {
	Kind   string    `json:"kind"`   // release_slot | void_invoice | refund_prepayment
	Target string    `json:"target"` // the slot's round, the invoice number, the payment id
	Done   bool      `json:"done"`
	At     time.Time `json:"at,omitzero"`
}

// Compensation kinds, in the order they are registered (and undone in reverse).
const (
	CompRefundPrepayment = "refund_prepayment"
	CompVoidInvoice      = "void_invoice"
	CompReleaseSlot      = "release_slot"
)

// OrderState is the order workflow's state: the query result and the read model.
type OrderState struct {
	ID                    string        `json:"id"`
	CustomerID            string        `json:"customer_id"`
	CustomerName          string        `json:"customer_name"`
	ContractID            string        `json:"contract_id,omitempty"`
	Rep                   string        `json:"rep"`
	Status                string        `json:"status"`
	Lines                 []OrderLine   `json:"lines"`
	Total                 Money         `json:"total"`
	RequestedDeliveryDate string        `json:"requested_delivery_date"`
	PaymentTerms          PaymentTerms  `json:"payment_terms"`
	Delivery              Delivery      `json:"delivery"`
	EnteredAt             time.Time     `json:"entered_at"`
	CurrentSteps          []string      `json:"current_steps"`
	Credit                *CreditCheck  `json:"credit,omitempty"`
	ConfirmedAt           *time.Time    `json:"confirmed_at,omitempty"`
	PlannedDate           string        `json:"planned_date,omitempty"`
	ProductionRound       int           `json:"production_round"`
	Inspections           []Inspection  `json:"inspections"`
	Shipment              *Shipment     `json:"shipment,omitempty"`
	AcceptedAt            *time.Time    `json:"accepted_at,omitempty"`
	AcceptedBySilence     bool          `json:"accepted_by_silence,omitempty"`
	Invoice               *Invoice      `json:"invoice,omitempty"`
	PrepaymentInvoices    []Invoice     `json:"prepayment_invoices"`
	Payments              []Payment     `json:"payments"`
	ComplaintIDs          []string      `json:"complaint_ids"`
	EscalationLevel       int           `json:"escalation_level"`
	Cancellation          *Cancellation `json:"cancellation,omitempty"`
	OpenTasks             []string      `json:"open_tasks"`
}

// Prepaid sums the prepayments of the order that were not refunded.
func (s OrderState) Prepaid() decimal.Decimal {
	sum := decimal.Zero
	for _, p := range s.Payments {
		if p.Kind == PaymentKindPrepayment {
			d, _ := p.Amount.Decimal()
			sum = sum.Add(d)
		}
	}
	return sum
}

// Update names of the order workflow.
const (
	UpdateCancelOrder      = "cancel-order"
	UpdateOrderProgress    = "order-progress"
	UpdateRecordPayment    = "record-payment"
	UpdateRecordPrepayment = "record-prepayment"
)

// CancelOrderRequest cancels an order (POST /orders/{id}/cancel).
type CancelOrderRequest struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
}

// OrderProgressRequest is a progress note e-mailed to the customer.
type OrderProgressRequest struct {
	Actor string `json:"actor"`
	Note  string `json:"note"`
}

// PaymentRequest records a payment (POST /orders/{id}/payments) or a prepayment
// (…/prepayments, without ReceivedOn: the day it is recorded).
type PaymentRequest struct {
	Actor      string `json:"actor"`
	Amount     Money  `json:"amount"`
	ReceivedOn string `json:"received_on,omitempty"`
	Reference  string `json:"reference"`
}

// ValidatePayment checks a payment's own fields; the workflow checks it against the
// open amount.
func (p PaymentRequest) Validate(needDate bool) []FieldError {
	var errs []FieldError
	if err := p.Amount.Validate(); err != nil {
		errs = append(errs, FieldError{Field: "amount", Message: err.Error()})
	} else if d, _ := p.Amount.Decimal(); !d.IsPositive() {
		errs = append(errs, FieldError{Field: "amount", Message: "must be greater than zero"})
	} else if !d.Equal(d.Round(2)) {
		errs = append(errs, FieldError{Field: "amount", Message: "must have at most 2 decimals"})
	}
	if needDate || p.ReceivedOn != "" {
		if _, err := time.Parse(time.DateOnly, p.ReceivedOn); err != nil || !dateRE.MatchString(p.ReceivedOn) {
			errs = append(errs, FieldError{Field: "received_on", Message: "must be a date YYYY-MM-DD"})
		}
	}
	switch ref := strings.TrimSpace(p.Reference); {
	case ref == "":
		errs = append(errs, FieldError{Field: "reference", Message: "is required"})
	case utf8.RuneCountInString(ref) > MaxOrderShortText:
		errs = append(errs, FieldError{Field: "reference", Message: fmt.Sprintf("must be at most %d characters", MaxOrderShortText)})
	}
	return errs
}

// Activities of the order process.
const (
	ActProjectOrder       = "ProjectOrder"
	ActCheckCredit        = "CheckCredit"
	ActIssueInvoice       = "IssueInvoice"
	ActRecordOrderPayment = "RecordOrderPayment"
	ActVoidInvoice        = "VoidInvoice"
)

// OrderProjection writes the order's read model and, when Audit.Key is set, one audit
// event (ProjectOrder, a local activity).
type OrderProjection struct {
	State OrderState `json:"state"`
	Audit AuditInput `json:"audit"`
	// WorkflowID is set on the first projection, which inserts the row if the API's did
	// not commit (it always does first in production).
	WorkflowID string `json:"workflow_id,omitempty"`
}

// CreditCheckInput asks CheckCredit for the customer's exposure with this order.
type CreditCheckInput struct {
	OrderID    string `json:"order_id"`
	CustomerID string `json:"customer_id"`
	Tier       string `json:"tier"`
	Limit      Money  `json:"limit"`
	Order      Money  `json:"order"`
	Prepaid    Money  `json:"prepaid"`
	// PrepaymentPct is the share of the total a tier-D customer must have prepaid to pass
	// without finance ("" or 0: any recorded prepayment).
	PrepaymentPct string      `json:"prepayment_pct,omitempty"`
	Policy        OrderPolicy `json:"policy"`
	At            time.Time   `json:"at"`
}

// IssueInvoiceInput issues an invoice once per Key: the next FP number of the year of
// At, in a gap-free sequence (IssueInvoice). A prepayment's invoice is issued paid.
type IssueInvoiceInput struct {
	Key        string    `json:"key"` // e.g. <workflow id>/invoice/final
	OrderID    string    `json:"order_id"`
	CustomerID string    `json:"customer_id"`
	Kind       string    `json:"kind"`
	Amount     Money     `json:"amount"`
	Paid       Money     `json:"paid"`
	DueOn      string    `json:"due_on"`
	At         time.Time `json:"at"`
}

// RecordOrderPaymentInput stores a payment or prepayment once per Payment.ID, and
// raises the paid amount of its invoice (RecordOrderPayment).
type RecordOrderPaymentInput struct {
	OrderID    string  `json:"order_id"`
	CustomerID string  `json:"customer_id"`
	Payment    Payment `json:"payment"`
}

// VoidInvoiceInput voids an invoice; voiding a void invoice changes nothing.
type VoidInvoiceInput struct {
	Number  string    `json:"number"`
	OrderID string    `json:"order_id"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// Order e-mail templates.
const (
	TmplOrderConfirmRequest  = "order_confirm_request" // the confirm_order link's invitation
	TmplOrderConfirmReminder = "order_confirm_reminder"
	TmplOrderShipped         = "order_shipped" // the accept_delivery link's invitation
	TmplOrderAcceptReminder  = "order_accept_reminder"
	TmplOrderProgress        = "order_progress"
	TmplOrderDelay           = "order_delay"      // the planned date slips: customer and rep
	TmplOrderInvoice         = "order_invoice"    // the invoice, to the customer
	TmplInvoiceReminder      = "invoice_reminder" // −3 d, on the due date, +7 d
	TmplOrderCancelled       = "order_cancelled"  // to the customer
	TmplOrderNotice          = "order_notice"     // staff notices: lapsed, cancelled, slot released, …
)

// PaymentID derives the id of the n-th payment (or prepayment) an order's workflow
// takes, so a retried RecordOrderPayment stores nothing new.
func PaymentID(workflowID string, n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00payment\x00%d", workflowID, n))
	return "pay_" + strings.ToUpper(hex.EncodeToString(h[:13]))
}

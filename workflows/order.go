package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// Task forms of the order steps.
var (
	productionAcceptForm = []domain.FormField{{Name: "planned_date", Type: "date", Required: true}}
	inspectionForm       = []domain.FormField{{Name: "findings", Type: "text", Required: true, Actions: []string{domain.ActionFail}}}
	shipForm             = []domain.FormField{
		{Name: "carrier", Type: "string", Required: true},
		{Name: "tracking_no", Type: "string", Required: true},
		{Name: "shipped_on", Type: "date"},
		{Name: "certificate_no", Type: "string", Required: true},
	}
	handOverForm = []domain.FormField{
		{Name: "received_by", Type: "string", Required: true},
		{Name: "certificate_no", Type: "string", Required: true},
	}
	refundForm = []domain.FormField{{Name: "reference", Type: "string", Required: true}}
)

// order is the state of one order workflow run.
type order struct {
	in    domain.OrderInput
	wfID  string
	tasks *Tasks
	links *Links
	mu    workflow.Mutex // keeps projections (main flow, Updates, dunning) in order
	st    domain.OrderState
	audit int

	// comps are the undo steps of what was done so far, in the order they were done; a
	// cancellation runs them in reverse.
	comps []domain.Compensation

	cancel   *domain.CancelOrderRequest // an accepted cancellation
	checking bool                       // the credit check has started: no prepayment until its outcome
	busy     int                        // Update handlers writing money (the credit check waits for them)
	payments int                        // payments and prepayments taken, part of their ids
	notes    int                        // progress notes, part of their keys
	reserved decimal.Decimal            // payments accepted and not yet recorded
}

// OrderWorkflow runs one order from entry to cash collected (DOMAIN.md, process 2):
// review, credit check, the customer's confirmation, production and inspection (with
// rework), shipping, the customer's acceptance, the invoice and its collection with
// reminders and escalations. Cancelled before shipping (or ended by a rejection, a
// refused credit, a decline or a lapse) it undoes what was done, in reverse order: the
// production slot is released, the prepayment's invoice voided, the prepayment refunded.
func OrderWorkflow(ctx workflow.Context, in domain.OrderInput) (domain.OrderState, error) {
	o := &order{in: in, wfID: workflow.GetInfo(ctx).WorkflowExecution.ID, mu: workflow.NewMutex(ctx)}
	if o.in.EnteredAt.IsZero() {
		o.in.EnteredAt = utcNow(ctx)
	}
	o.st = o.in.NewState()
	tasks, err := NewTasks(ctx, TasksConfig{
		WorkflowID: o.wfID, Process: domain.ProcessOrder, ProcessID: in.ID,
		StatusFn: func() string { return o.st.Status }, OnEscalation: o.onEscalation,
	})
	if err != nil {
		return o.state(), err
	}
	o.tasks = tasks
	links, err := NewLinks(ctx, LinksConfig{
		WorkflowID: o.wfID, Process: domain.ProcessOrder, ProcessID: in.ID, Tasks: tasks,
		StatusFn: func() string { return o.st.Status }, Purposes: domain.OrderProcess.Links,
	})
	if err != nil {
		return o.state(), err
	}
	o.links = links
	if err := workflow.SetQueryHandler(ctx, domain.QueryStatus, func() (domain.OrderState, error) {
		return o.state(), nil
	}); err != nil {
		return o.state(), err
	}
	if err := setUpdateHandlers(ctx,
		updateHandler{domain.UpdateCancelOrder, o.onCancel, o.validateCancel},
		updateHandler{domain.UpdateOrderProgress, o.onProgress, o.validateProgress},
		updateHandler{domain.UpdateRecordPayment, o.onPayment, o.validatePayment},
		updateHandler{domain.UpdateRecordPrepayment, o.onPrepayment, o.validatePrepayment},
	); err != nil {
		return o.state(), err
	}

	if err := o.run(ctx); err != nil {
		return o.state(), err
	}
	err = o.tasks.Finish(ctx)
	return o.state(), err
}

// errEnded stops the main flow once the order has ended early (endEarly ran).
var errEnded = errors.New("order ended")

// run is the process, one method per phase. A phase that ends the order early (a
// rejection, a cancellation, …) has run endEarly and returns errEnded.
func (o *order) run(ctx workflow.Context) error {
	err := o.project(ctx, o.in.Rep, "entered", map[string]any{
		"total": o.in.Total, "lines": len(o.in.Request.Lines), "contract_id": o.in.ContractID,
		"requested_delivery_date": o.in.Request.RequestedDeliveryDate, "delivery_method": o.in.Request.Delivery.Method,
	})
	if err != nil {
		return err
	}
	for _, phase := range []func(workflow.Context) error{
		o.review, o.creditCheck, o.confirm, o.produce, o.ship, o.acceptance, o.invoice, o.collect,
	} {
		err := ErrInterrupted // a cancellation came between two phases
		if !o.tasks.Interrupted() {
			err = phase(ctx)
		}
		if errors.Is(err, ErrInterrupted) && o.cancel != nil {
			err = o.endEarly(ctx, domain.CauseCancelled, o.cancel.Actor, o.cancel.Reason)
		}
		if errors.Is(err, errEnded) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// review asks the rep's sales manager to consent to the order.
func (o *order) review(ctx workflow.Context) error {
	spec := o.spec(ctx, domain.StepOrderReview, 1, "", "Review order", o.in.Policy.ReviewSLA)
	spec.Actions = []string{ActionApprove, ActionReject}
	spec.CandidateGroups = []string{string(domain.RoleSalesManager)}
	spec.Assignee = o.in.RepManager
	spec.ExcludeUsers = []string{o.in.Rep}
	out, err := o.run1(ctx, spec)
	if err != nil {
		return err
	}
	if out.Action == ActionReject {
		return o.endEarly(ctx, domain.CauseRejected, out.Actor, out.Comment)
	}
	return o.project(ctx, out.Actor, "review_approved", map[string]any{"comment": out.Comment})
}

// creditCheck checks the customer's exposure with this order against the credit limit
// and, over the limit or for a tier-D customer without prepayment, asks finance.
func (o *order) creditCheck(ctx workflow.Context) error {
	// A prepayment being recorded counts: wait for it.
	if err := workflow.Await(ctx, func() bool { return o.busy == 0 }); err != nil {
		return err
	}
	if o.tasks.Interrupted() {
		return ErrInterrupted
	}
	o.checking = true
	var check domain.CreditCheck
	err := execute(ctx, domain.ActCheckCredit, domain.CreditCheckInput{
		OrderID: o.in.ID, CustomerID: o.in.CustomerID, Tier: o.in.CustomerTier, Limit: o.in.CreditLimit,
		Order: o.in.Total, Prepaid: domain.NewMoney(o.st.Prepaid(), o.in.Total.Currency),
		PrepaymentPct: o.in.Request.PaymentTerms.PrepaymentPct, Policy: o.in.Policy, At: utcNow(ctx),
	}, &check)
	if _, isApp := errors.AsType[*temporal.ApplicationError](err); isApp {
		// It cannot be made (no exchange rate for a currency, say): finance decides.
		check = domain.CreditCheck{Limit: o.in.CreditLimit, Order: o.in.Total, Tier: o.in.CustomerTier,
			Reasons: []string{domain.CreditCannotCheck}, At: utcNow(ctx)}
		workflow.GetLogger(ctx).Warn("credit check failed: held for finance", "error", err)
	} else if err != nil {
		return fmt.Errorf("check credit: %w", err)
	}
	o.st.Credit = &check
	if check.Passed {
		return o.project(ctx, "system", "credit_passed", map[string]any{"exposure": check.Exposure, "limit": check.Limit})
	}
	o.st.Status = domain.OrderCreditHold
	if err := o.project(ctx, "system", "credit_held", map[string]any{
		"exposure": check.Exposure, "limit": check.Limit, "reasons": check.Reasons,
	}); err != nil {
		return err
	}
	spec := o.spec(ctx, domain.StepCreditApproval, 1, "", "Approve credit", o.in.Policy.StepSLA)
	spec.Actions = []string{ActionApprove, domain.ActionRefuse}
	spec.CandidateGroups = []string{string(domain.RoleFinance)}
	out, err := o.run1(ctx, spec)
	if err != nil {
		return err
	}
	o.st.Credit.Decision, o.st.Credit.DecidedBy = out.Action, out.Actor
	if out.Action == domain.ActionRefuse {
		return o.endEarly(ctx, domain.CauseCreditRefused, out.Actor, out.Comment)
	}
	return o.project(ctx, out.Actor, "credit_approved", map[string]any{"comment": out.Comment})
}

// confirm asks the customer to confirm the order through a link: a reminder at 24 h,
// a lapse at 7 days, or a decline with a reason.
func (o *order) confirm(ctx workflow.Context) error {
	o.st.Status = domain.OrderAwaitingConfirmation
	p := o.in.Policy
	link, err := o.links.Open(ctx, LinkSpec{
		Purpose: domain.PurposeConfirmOrder, Round: 1, Customer: o.linkCustomer(), Context: o.linkContext(),
		Template: domain.TmplOrderConfirmRequest, ReminderTemplate: domain.TmplOrderConfirmReminder,
		ExpiresIn: p.ConfirmWait, Reminders: p.ConfirmReminders,
	})
	if err != nil {
		workflow.GetLogger(ctx).Warn("create confirmation link", "error", err)
	}
	if err := o.project(ctx, "system", "confirmation_requested", o.linkDetail(link)); err != nil {
		return err
	}
	out, err := link.Wait(ctx)
	if err != nil {
		return err
	}
	switch {
	case !out.Answered:
		return o.endEarly(ctx, domain.CauseLapsed, "system", "no confirmation within "+p.ConfirmWait.String())
	case out.Answer["decision"] == domain.AnswerDecline:
		reason, _ := out.Answer["reason"].(string)
		return o.endEarly(ctx, domain.CauseDeclined, "customer", strings.TrimSpace(reason))
	}
	at := out.At
	o.st.ConfirmedAt = &at
	return o.project(ctx, "customer", "confirmed", map[string]any{"link_id": out.LinkID})
}

// produce runs production (accepted with a planned date, then done) and the quality
// inspection; a failed inspection sends the order back to production for a new round.
func (o *order) produce(ctx workflow.Context) error {
	for round := 1; ; round++ {
		o.st.Status, o.st.ProductionRound = domain.OrderInProduction, round
		taskCtx := o.taskContext()
		if n := len(o.st.Inspections); n > 0 {
			taskCtx["rework_findings"] = o.st.Inspections[n-1].Findings
		}
		accept := o.spec(ctx, domain.StepProduction, round, "accept", "Schedule production", o.in.Policy.StepSLA)
		accept.Actions, accept.Form, accept.Context = []string{ActionAccept}, productionAcceptForm, taskCtx
		accept.CandidateGroups = []string{string(domain.RoleProduction)}
		out, err := o.run1(ctx, accept)
		if out.Status == domain.TaskCompleted { // the slot is taken, even by a completion a cancellation raced with
			if err := o.planned(ctx, out, round); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}

		done := o.spec(ctx, domain.StepProduction, round, "done", "Complete production", 0)
		done.Actions, done.Context = []string{ActionDone}, taskCtx
		done.CandidateGroups = []string{string(domain.RoleProduction)}
		done.Assignee = out.Actor
		out, err = o.run1(ctx, done)
		if err != nil {
			return err
		}
		o.st.Status = domain.OrderInInspection
		if err := o.project(ctx, out.Actor, "production_done", map[string]any{"round": round}); err != nil {
			return err
		}

		inspect := o.spec(ctx, domain.StepQualityInspection, round, "", "Inspect order", o.in.Policy.StepSLA)
		inspect.Actions, inspect.Form = []string{domain.ActionPass, domain.ActionFail}, inspectionForm
		inspect.CandidateGroups = []string{string(domain.RoleQuality)}
		out, err = o.run1(ctx, inspect)
		if err != nil {
			return err
		}
		ins := domain.Inspection{Round: round, Result: out.Action, Findings: dataString(out.Data, "findings"), Inspector: out.Actor, At: out.At}
		o.st.Inspections = append(o.st.Inspections, ins)
		if out.Action == domain.ActionPass {
			o.st.Status = domain.OrderReadyToShip
			return o.project(ctx, out.Actor, "inspection_passed", map[string]any{"round": round})
		}
		if err := o.project(ctx, out.Actor, "inspection_failed", map[string]any{"round": round, "findings": ins.Findings}); err != nil {
			return err
		}
	}
}

// planned records production's planned date (the slot taken, released by a
// cancellation) and tells the rep and the customer when it is later than requested.
func (o *order) planned(ctx workflow.Context, out TaskOutcome, round int) error {
	o.st.PlannedDate = dataString(out.Data, "planned_date")
	if !slices.ContainsFunc(o.comps, func(c domain.Compensation) bool { return c.Kind == domain.CompReleaseSlot }) {
		o.comps = append(o.comps, domain.Compensation{Kind: domain.CompReleaseSlot, Target: fmt.Sprintf("production/%d", round)})
	}
	detail := map[string]any{"round": round, "planned_date": o.st.PlannedDate}
	late := o.st.PlannedDate > o.in.Request.RequestedDeliveryDate
	if late {
		detail["late"] = true
		data := o.mailData()
		data["planned_date"] = o.st.PlannedDate
		detail["customer_email"] = o.email(ctx, fmt.Sprintf("delay/%d", round), domain.TmplOrderDelay, data)
		o.notify(ctx, fmt.Sprintf("delay/%d", round), "delay", map[string]any{
			"planned_date": o.st.PlannedDate, "round": round,
		}, []string{o.in.Rep}, nil)
	}
	return o.project(ctx, out.Actor, "production_scheduled", detail)
}

// ship lets logistics ship the order (or hand it over at pickup). From then on it can
// no longer be cancelled: a cancellation that raced with the shipment loses.
func (o *order) ship(ctx workflow.Context) error {
	pickup := o.in.Request.Delivery.Method == domain.DeliveryPickup
	spec := o.spec(ctx, domain.StepShip, 1, "", "Ship order", o.in.Policy.StepSLA)
	spec.CandidateGroups = []string{string(domain.RoleLogistics)}
	spec.Actions, spec.Form = []string{domain.ActionShip}, shipForm
	if pickup {
		spec.Title = "Hand over order"
		spec.Actions, spec.Form = []string{domain.ActionHandOver}, handOverForm
	}
	outs, err := o.tasks.RunAll(ctx, []TaskSpec{spec}, nil)
	if errors.Is(err, ErrInterrupted) && len(outs) == 1 && outs[0].Status == domain.TaskCompleted {
		o.tasks.Resume() // shipped first: the cancellation is refused (onCancel)
		err = nil
	}
	if err != nil {
		return err
	}
	out := outs[0]
	s := domain.Shipment{
		Method: o.in.Request.Delivery.Method, Carrier: dataString(out.Data, "carrier"),
		TrackingNo: dataString(out.Data, "tracking_no"), CertificateNo: dataString(out.Data, "certificate_no"),
		ReceivedBy: dataString(out.Data, "received_by"), By: out.Actor, At: out.At,
	}
	o.st.Shipment = &s
	o.st.Status = domain.OrderShipped
	o.comps = nil // nothing is undone after shipping
	return o.project(ctx, out.Actor, "shipped", map[string]any{
		"method": s.Method, "carrier": s.Carrier, "tracking_no": s.TrackingNo,
		"certificate_no": s.CertificateNo, "received_by": s.ReceivedBy, "shipped_on": o.shippedOn(out),
	})
}

// shippedOn is the shipping date logistics gave, else the day it was recorded.
func (o *order) shippedOn(out TaskOutcome) string {
	if d := dataString(out.Data, "shipped_on"); d != "" {
		return d
	}
	return out.At.Format(time.DateOnly)
}

// acceptance e-mails the shipment with a link to accept the delivery or report a
// problem; without an answer the delivery counts as accepted when the link expires. A
// reported problem opens a complaint, linked both ways; the order waits for nothing.
func (o *order) acceptance(ctx workflow.Context) error {
	p := o.in.Policy
	lctx := o.linkContext()
	s := o.st.Shipment
	lctx["carrier"], lctx["tracking_no"], lctx["certificate_no"] = s.Carrier, s.TrackingNo, s.CertificateNo
	lctx["shipped_on"] = s.At.Format(time.DateOnly)
	link, err := o.links.Open(ctx, LinkSpec{
		Purpose: domain.PurposeAcceptDelivery, Round: 1, Customer: o.linkCustomer(), Context: lctx,
		Template: domain.TmplOrderShipped, ReminderTemplate: domain.TmplOrderAcceptReminder,
		ExpiresIn: p.AcceptWait, Reminders: p.AcceptReminders,
	})
	if err != nil {
		workflow.GetLogger(ctx).Warn("create acceptance link", "error", err)
	}
	if err := o.project(ctx, "system", "acceptance_requested", o.linkDetail(link)); err != nil {
		return err
	}
	out, err := link.Wait(ctx)
	if err != nil {
		return err
	}
	at := out.At
	o.st.AcceptedAt = &at
	o.st.Status = domain.OrderDelivered
	switch {
	case !out.Answered:
		o.st.AcceptedBySilence = true
		return o.project(ctx, "system", "accepted", map[string]any{"by_silence": true})
	case out.Answer["decision"] == domain.AnswerProblem:
		problem, _ := out.Answer["problem"].(string)
		return o.problemReported(ctx, strings.TrimSpace(problem))
	}
	return o.project(ctx, "customer", "accepted", map[string]any{"link_id": out.LinkID})
}

// problemReported opens a complaint about the delivery (process 3) as a child workflow
// that outlives the order, and records it on both sides: the complaint names the order,
// the order lists the complaint.
func (o *order) problemReported(ctx workflow.Context, problem string) error {
	var id string
	if err := workflow.SideEffect(ctx, func(workflow.Context) any { return domain.NewID(domain.ComplaintProcess.IDPrefix) }).Get(&id); err != nil {
		return err
	}
	subject := "Delivery problem with order " + o.in.ID
	cin := domain.ComplaintInput{
		ID: id, CustomerID: o.in.CustomerID, CustomerName: o.in.CustomerName, CustomerEmail: o.in.CustomerEmail,
		CustomerTier: o.in.CustomerTier, Locale: o.in.Locale, OwnerRep: o.in.Rep, Channel: "web",
		Subject: subject, Description: problem, Severity: "normal", OrderID: o.in.ID,
		FiledBy: o.in.Rep, ReceivedAt: utcNow(ctx), Policy: o.in.ComplaintPolicy,
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        domain.ComplaintWorkflowID(id),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, domain.ComplaintProcess.WorkflowType, cin)
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return fmt.Errorf("open complaint: %w", err)
	}
	o.st.ComplaintIDs = append(o.st.ComplaintIDs, id)
	o.notify(ctx, "problem/"+id, "problem_reported", map[string]any{"complaint_id": id, "reason": problem}, []string{o.in.Rep}, nil)
	return o.project(ctx, "customer", "accepted", map[string]any{"problem": problem, "complaint_id": id})
}

// invoice issues the invoice for what was not prepaid, due net_days after acceptance,
// and e-mails it to the customer.
func (o *order) invoice(ctx workflow.Context) error {
	total, _ := o.in.Total.Decimal()
	amount := total.Sub(o.st.Prepaid())
	if amount.IsNegative() {
		amount = decimal.Zero
	}
	due := o.in.Policy.DueOn(*o.st.AcceptedAt, o.in.Request.PaymentTerms.NetDays)
	cur := o.in.Total.Currency
	var inv domain.Invoice
	err := execute(ctx, domain.ActIssueInvoice, domain.IssueInvoiceInput{
		Key: o.wfID + "/invoice/final", OrderID: o.in.ID, CustomerID: o.in.CustomerID, Kind: domain.InvoiceFinal,
		Amount: domain.NewMoney(amount, cur), Paid: domain.NewMoney(decimal.Zero, cur),
		DueOn: due, At: utcNow(ctx),
	}, &inv)
	if err != nil {
		return fmt.Errorf("issue invoice: %w", err)
	}
	o.st.Invoice = &inv
	o.st.Status = domain.OrderInvoiced
	if inv.Status == domain.InvoicePaid { // all of it was prepaid
		o.st.Status = domain.OrderPaid
	}
	data := o.mailData()
	data["invoice_no"], data["invoice_amount"] = inv.Number, moneyText(inv.Amount)
	data["open_amount"], data["due_on"] = moneyText(inv.Open), inv.DueOn
	detail := o.email(ctx, "invoice/"+inv.Number, domain.TmplOrderInvoice, data)
	detail["invoice_no"], detail["amount"], detail["due_on"] = inv.Number, inv.Amount, inv.DueOn
	return o.project(ctx, "system", "invoiced", detail)
}

// collect chases the invoice until it is paid: reminders to the customer 3 days before
// the due date, on it and 7 days after; escalations without a task at 14 days overdue
// to the rep's manager and at 30 days to the general manager. The order is overdue
// once its due date has passed. A full payment (onPayment) stops all of it at once.
func (o *order) collect(ctx workflow.Context) error {
	inv := o.st.Invoice
	if o.paid() {
		return nil
	}
	p := o.in.Policy
	dueDay, err := p.DueDay(inv.DueOn)
	if err != nil {
		return fmt.Errorf("invoice %s due date: %w", inv.Number, err)
	}
	// Reminders and escalations at the chase hour of their day, in the company's zone.
	dueAt := dueDay.Add(time.Duration(p.ChaseHour) * time.Hour).UTC()
	// The rep's manager when it is raised (weeks after the order, maybe another one),
	// else the sales managers.
	first := domain.EscalationRung{Level: 1, TargetManagerOf: o.in.Rep, TargetRole: domain.RoleSalesManager}
	var ladder []domain.EscalationRung
	for i, after := range p.OverdueEscalation {
		rung := domain.EscalationRung{Level: i + 1, After: after, TargetRole: domain.RoleGeneralManager}
		if i == 0 {
			rung = first
			rung.After = after
		}
		ladder = append(ladder, rung)
	}
	reminders := make([]Reminder, len(p.InvoiceReminders))
	for i, d := range p.InvoiceReminders {
		reminders[i] = FromDue(d)
	}
	stop := StartDeadline(ctx, Deadline{
		WorkflowID: o.wfID, Process: domain.ProcessOrder, ProcessID: o.in.ID,
		Subject: "invoice/" + inv.Number, Title: "Invoice " + inv.Number + " of order " + o.in.ID + " (" + o.in.CustomerName + ")",
		WindowStart: inv.IssuedAt, DueAt: dueAt, Reminders: reminders, Ladder: ladder,
		Met: o.paid, OnReminder: o.invoiceReminder, OnEscalation: o.onEscalation,
	})
	// Overdue once the due date is over.
	overdueAt := dueDay.AddDate(0, 0, 1).UTC()
	paid := true
	if d := overdueAt.Sub(utcNow(ctx)); d > 0 {
		paid, err = o.tasks.AwaitWithTimeout(ctx, d, o.paid)
		if err != nil {
			return err
		}
	} else {
		paid = o.paid()
	}
	if !paid {
		if err := o.mu.Lock(ctx); err != nil {
			return err
		}
		if !o.paid() {
			o.st.Status = domain.OrderOverdue
		}
		o.mu.Unlock()
		if o.st.Status == domain.OrderOverdue {
			if err := o.project(ctx, "system", "overdue", map[string]any{"invoice_no": inv.Number, "due_on": inv.DueOn}); err != nil {
				return err
			}
		}
		if err := o.tasks.Await(ctx, o.paid); err != nil {
			return err
		}
	}
	return stop(ctx)
}

// paid reports whether the invoice is paid in full.
func (o *order) paid() bool { return o.st.Invoice != nil && o.st.Invoice.Status == domain.InvoicePaid }

// invoiceReminder e-mails the customer a payment reminder (Deadline.OnReminder).
func (o *order) invoiceReminder(ctx workflow.Context, r DeadlineReminder) {
	inv := o.st.Invoice
	stage := "due"
	switch {
	case r.At.Before(r.DueAt):
		stage = "before_due"
	case r.At.After(r.DueAt):
		stage = "overdue"
	}
	data := o.mailData()
	data["invoice_no"], data["open_amount"], data["due_on"], data["stage"] = inv.Number, moneyText(inv.Open), inv.DueOn, stage
	detail := o.email(ctx, fmt.Sprintf("invoice/%s/reminder/%d", inv.Number, r.N), domain.TmplInvoiceReminder, data)
	o.tasks.DeliverQueued(ctx)
	detail["invoice_no"], detail["stage"], detail["n"] = inv.Number, stage, r.N
	if err := o.project(ctx, "system", "payment_reminder", detail); err != nil {
		workflow.GetLogger(ctx).Warn("project payment reminder", "error", err)
	}
}

// onEscalation records the highest escalation on the order (a task's or the invoice's).
func (o *order) onEscalation(ctx workflow.Context, e Escalation) {
	o.st.EscalationLevel = max(o.st.EscalationLevel, e.Level)
	// RaiseEscalation wrote the audit event.
	if err := o.project(ctx, "", "", nil); err != nil {
		workflow.GetLogger(ctx).Warn("project escalation", "error", err)
	}
}

// endEarly ends the order before shipping: it records why, undoes what was done in
// reverse order (release the production slot, void the prepayment's invoice, refund the
// prepayment: a finance task), and tells the customer and the rep. It returns errEnded.
func (o *order) endEarly(ctx workflow.Context, cause, actor, reason string) error {
	o.tasks.Resume() // the compensations' tasks run after a cancellation
	status := domain.OrderCancelled
	if cause == domain.CauseLapsed {
		status = domain.OrderLapsed
	}
	o.st.Status, o.st.CurrentSteps = status, []string{}
	// A prepayment being recorded (its handler refuses new ones from now on) registers
	// its refund and void when it is done: wait for it, or they would not be undone.
	if err := workflow.Await(ctx, func() bool { return o.busy == 0 }); err != nil {
		return err
	}
	o.st.Cancellation = &domain.Cancellation{
		Reason: reason, By: actor, Cause: cause, At: utcNow(ctx), Compensations: []domain.Compensation{},
	}
	if err := o.project(ctx, actor, cause, map[string]any{"reason": reason, "undo": o.comps}); err != nil {
		return err
	}
	data := o.mailData()
	data["reason"], data["cause"] = reason, cause
	o.email(ctx, "cancelled", domain.TmplOrderCancelled, data)
	o.notify(ctx, "ended", cause, map[string]any{"reason": reason}, []string{o.in.Rep}, nil)

	for i := len(o.comps) - 1; i >= 0; i-- {
		c := o.comps[i]
		if err := o.compensate(ctx, c); err != nil {
			return err
		}
		c.Done, c.At = true, utcNow(ctx)
		o.st.Cancellation.Compensations = append(o.st.Cancellation.Compensations, c)
		if err := o.project(ctx, "system", "compensated", map[string]any{"kind": c.Kind, "target": c.Target}); err != nil {
			return err
		}
	}
	o.comps = nil
	return errEnded
}

// compensate runs one undo step. Each is idempotent (a notice keyed by the order, a
// void that changes a void invoice not again, a task with a derived id), so a retried
// activity undoes nothing twice.
func (o *order) compensate(ctx workflow.Context, c domain.Compensation) error {
	switch c.Kind {
	case domain.CompReleaseSlot:
		o.notify(ctx, "slot_released", "slot_released", map[string]any{"planned_date": o.st.PlannedDate},
			nil, []string{string(domain.RoleProduction)})
		return nil
	case domain.CompVoidInvoice:
		var changed bool
		err := execute(ctx, domain.ActVoidInvoice, domain.VoidInvoiceInput{
			Number: c.Target, OrderID: o.in.ID, Reason: o.st.Cancellation.Cause, At: utcNow(ctx),
		}, &changed)
		if err != nil {
			return fmt.Errorf("void invoice %s: %w", c.Target, err)
		}
		for i := range o.st.PrepaymentInvoices {
			if inv := &o.st.PrepaymentInvoices[i]; inv.Number == c.Target {
				at := utcNow(ctx)
				inv.Status, inv.VoidedAt = domain.InvoiceVoid, &at
			}
		}
		return nil
	case domain.CompRefundPrepayment:
		i := slices.IndexFunc(o.st.Payments, func(p domain.Payment) bool { return p.ID == c.Target })
		if i < 0 {
			return nil
		}
		pay := o.st.Payments[i]
		spec := o.spec(ctx, domain.StepRefundPrepayment, 1, pay.ID, "Refund prepayment", o.in.Policy.RefundSLA)
		spec.Title = fmt.Sprintf("Refund prepayment %s %s", pay.Amount.Amount, pay.Amount.Currency)
		spec.Actions, spec.Form = []string{domain.ActionRefunded}, refundForm
		spec.CandidateGroups = []string{string(domain.RoleFinance)}
		spec.Context["payment"] = pay
		spec.Context["cancellation"] = o.st.Cancellation.Reason
		out, err := o.tasks.Run(ctx, spec)
		if err != nil {
			return err
		}
		o.st.Payments[i].Refund = &domain.Refund{Reference: dataString(out.Data, "reference"), By: out.Actor, At: out.At}
		return nil
	}
	return fmt.Errorf("unknown compensation %q", c.Kind)
}

// run1 runs one task and reports it in the order's current steps.
func (o *order) run1(ctx workflow.Context, spec TaskSpec) (TaskOutcome, error) {
	o.st.CurrentSteps = []string{spec.Step}
	if err := o.project(ctx, "", "", nil); err != nil {
		return TaskOutcome{}, err
	}
	outs, err := o.tasks.RunAll(ctx, []TaskSpec{spec}, nil)
	o.st.CurrentSteps = []string{}
	if len(outs) == 1 && outs[0].Status == domain.TaskCompleted {
		// Completed, though maybe interrupted too (a cancellation raced with it): the
		// caller records what was done, so that the cancellation undoes it.
		return outs[0], err
	}
	return TaskOutcome{}, err
}

// spec fills what every order task shares: its context, SLA and the usual ladder (the
// assignee's manager, else the role above the step's group, at the due time; the
// general manager one escalation step later). A zero sla gives a task due at the
// requested delivery date (production's completion).
func (o *order) spec(ctx workflow.Context, step string, round int, key, title string, sla time.Duration) TaskSpec {
	now := utcNow(ctx)
	due := now.Add(sla)
	if sla == 0 {
		due = o.requestedDue(now)
	}
	above := domain.RoleOpsHead
	if step == domain.StepOrderReview {
		above = domain.RoleDeputyGM
	}
	return TaskSpec{
		Step: step, Round: round, Key: key, Title: title + " " + o.in.ID + ": " + o.in.CustomerName,
		Context: o.taskContext(), WindowStart: now, DueAt: due, Reminders: o.in.Policy.Reminders,
		Ladder: []domain.EscalationRung{
			{Level: 1, TargetAssigneeManager: true, TargetRole: above},
			{Level: 2, After: o.in.Policy.EscalationStep, TargetRole: domain.RoleGeneralManager},
		},
	}
}

// requestedDue is the end of the requested delivery date, or a day from now when that
// has passed.
func (o *order) requestedDue(now time.Time) time.Time {
	d, err := time.Parse(time.DateOnly, o.in.Request.RequestedDeliveryDate)
	if err != nil || !d.AddDate(0, 0, 1).After(now) {
		return now.Add(24 * time.Hour)
	}
	return d.AddDate(0, 0, 1)
}

// taskContext is what every order task shows.
func (o *order) taskContext() map[string]any {
	return map[string]any{
		"order_id": o.in.ID, "customer_id": o.in.CustomerID, "customer_name": o.in.CustomerName,
		"customer_tier": o.in.CustomerTier, "rep": o.in.Rep, "contract_id": o.in.ContractID,
		"total": o.in.Total, "lines": o.in.Request.Lines, "requested_delivery_date": o.in.Request.RequestedDeliveryDate,
		"payment_terms": o.in.Request.PaymentTerms, "delivery": o.in.Request.Delivery,
		"planned_date": o.st.PlannedDate, "credit": o.st.Credit, "production_round": o.st.ProductionRound,
	}
}

// mailData is what every e-mail about the order carries (mail/templates/*/order).
func (o *order) mailData() map[string]any {
	lines := make([]map[string]any, len(o.in.Request.Lines))
	for i, l := range o.in.Request.Lines {
		price, _ := l.UnitPrice.Decimal()
		lines[i] = map[string]any{
			"sku": l.SKU, "description": l.Description, "quantity": l.Quantity,
			"unit_price": moneyText(l.UnitPrice),
			"amount":     moneyText(domain.NewMoney(price.Mul(decimal.NewFromInt(int64(l.Quantity))), l.UnitPrice.Currency)),
		}
	}
	return map[string]any{
		"order_id": o.in.ID, "customer_name": o.in.CustomerName, "total": moneyText(o.in.Total),
		"requested_delivery_date": o.in.Request.RequestedDeliveryDate, "lines": lines,
	}
}

// linkContext is what the customer's link pages and their e-mails show.
func (o *order) linkContext() map[string]any {
	data := o.mailData()
	d := o.in.Request.Delivery
	data["delivery_method"], data["net_days"] = d.Method, o.in.Request.PaymentTerms.NetDays
	if d.Address != "" {
		data["address"] = d.Address
	}
	return data
}

func (o *order) linkCustomer() domain.LinkCustomer {
	return domain.LinkCustomer{ID: o.in.CustomerID, Email: o.in.CustomerEmail, Name: o.in.CustomerName, Locale: o.in.Locale}
}

func (o *order) linkDetail(link *Link) map[string]any {
	detail := map[string]any{
		"link_id": link.ID(), "expires_at": link.ExpiresAt(),
		"email_id": link.Email.EmailID, "email_status": link.Email.Status,
	}
	if link.Email.Error != "" {
		detail["error"] = link.Email.Error
	}
	return detail
}

// email e-mails the customer (queued now, delivered at the next waiting point) and
// returns audit detail about it.
func (o *order) email(ctx workflow.Context, key, template string, data map[string]any) map[string]any {
	return o.tasks.SendCustomerMail(ctx, key, domain.SendEmailInput{
		IdempotencyKey: o.wfID + "/" + key,
		To:             domain.EmailRecipient{Email: o.in.CustomerEmail, Name: o.in.CustomerName},
		Locale:         o.in.Locale, Template: template, Data: data,
		Process: domain.ProcessOrder, ProcessID: o.in.ID, WorkflowID: o.wfID,
	})
}

// notify queues a staff notice (template order_notice) about event to users and the
// members of groups.
func (o *order) notify(ctx workflow.Context, key, event string, extra map[string]any, users, groups []string) {
	data := map[string]any{
		"order_id": o.in.ID, "customer_name": o.in.CustomerName, "total": moneyText(o.in.Total),
		"event": event, "requested_delivery_date": o.in.Request.RequestedDeliveryDate,
	}
	for _, k := range []string{"reason", "planned_date", "complaint_id", "round"} {
		if v, ok := extra[k]; ok {
			data[k] = v
		}
	}
	o.tasks.QueueNotice(ctx, domain.NotifyInput{
		KeyPrefix: o.wfID + "/notice/" + key, Users: users, Groups: groups,
		Template: domain.TmplOrderNotice, Data: data,
		Process: domain.ProcessOrder, ProcessID: o.in.ID, WorkflowID: o.wfID,
	})
}

// project writes the read model and, unless event is "", one audit event, in order with
// every other projection of this order.
func (o *order) project(ctx workflow.Context, actor, event string, detail map[string]any) error {
	if err := o.mu.Lock(ctx); err != nil {
		return err
	}
	defer o.mu.Unlock()
	p := domain.OrderProjection{State: o.state(), WorkflowID: o.wfID}
	if event != "" {
		o.audit++
		p.Audit = domain.AuditInput{
			Key:     fmt.Sprintf("%s/%s/%d", o.wfID, event, o.audit),
			Process: domain.ProcessOrder, ProcessID: o.in.ID,
			Actor: actor, Event: event, Detail: detail, At: utcNow(ctx),
		}
	}
	return o.tasks.Write(ctx, domain.ActProjectOrder, p, nil)
}

// state is the query result: a copy of the state with the open tasks.
func (o *order) state() domain.OrderState {
	s := o.st
	s.CurrentSteps = slices.Clone(o.st.CurrentSteps)
	s.Inspections = slices.Clone(o.st.Inspections)
	s.Payments = slices.Clone(o.st.Payments)
	s.PrepaymentInvoices = slices.Clone(o.st.PrepaymentInvoices)
	s.ComplaintIDs = slices.Clone(o.st.ComplaintIDs)
	if o.st.Invoice != nil {
		inv := *o.st.Invoice
		s.Invoice = &inv
	}
	s.OpenTasks = []string{}
	if o.tasks != nil {
		s.OpenTasks = o.tasks.OpenTaskIDs()
		for _, t := range o.tasks.OpenTasks() {
			if !slices.Contains(s.CurrentSteps, t.Step) {
				s.CurrentSteps = append(s.CurrentSteps, t.Step)
			}
		}
	}
	return s
}

// The Updates. Each validator checks the request against the order's status; the
// handler checks again (validators do not run on replay), acts, and answers the state.

func (o *order) validateCancel(_ workflow.Context, req domain.CancelOrderRequest) error {
	if o.cancel != nil || !slices.Contains(domain.OrderCancellable, o.st.Status) {
		return notAccepting("order %s is %s: only an order not yet shipped can be cancelled", o.in.ID, o.st.Status)
	}
	return checkText("reason", req.Reason, true, domain.MaxOrderText)
}

func (o *order) onCancel(ctx workflow.Context, req domain.CancelOrderRequest) (domain.OrderState, error) {
	if err := o.validateCancel(ctx, req); err != nil {
		return domain.OrderState{}, err
	}
	o.cancel = &req
	o.tasks.Interrupt()
	if err := o.tasks.Settled(ctx); err != nil {
		return domain.OrderState{}, err
	}
	if o.st.Cancellation == nil || o.st.Cancellation.Cause != domain.CauseCancelled {
		return o.state(), notAccepting("order %s was %s before the cancellation took effect", o.in.ID, o.st.Status)
	}
	return o.state(), nil
}

func (o *order) validateProgress(_ workflow.Context, req domain.OrderProgressRequest) error {
	switch o.st.Status {
	case domain.OrderCancelled, domain.OrderLapsed, domain.OrderPaid:
		return notAccepting("order %s is %s: progress notes are for orders under way", o.in.ID, o.st.Status)
	}
	return checkText("note", req.Note, true, domain.MaxOrderText)
}

func (o *order) onProgress(ctx workflow.Context, req domain.OrderProgressRequest) (domain.OrderState, error) {
	if err := o.validateProgress(ctx, req); err != nil {
		return domain.OrderState{}, err
	}
	o.notes++
	data := o.mailData()
	data["note"], data["rep_name"] = strings.TrimSpace(req.Note), o.in.RepName
	if o.in.RepName == "" || req.Actor != o.in.Rep {
		data["rep_name"] = req.Actor
	}
	detail := o.email(ctx, fmt.Sprintf("progress/%d", o.notes), domain.TmplOrderProgress, data)
	o.tasks.DeliverQueued(ctx)
	detail["note"] = data["note"]
	if err := o.project(ctx, req.Actor, "progress_note", detail); err != nil {
		return domain.OrderState{}, err
	}
	return o.state(), nil
}

// checkPayment checks a payment's money against the order: its currency, and not more
// than limit (what is still open).
func (o *order) checkPayment(req domain.PaymentRequest, needDate bool, limit decimal.Decimal) error {
	errs := req.Validate(needDate)
	if len(errs) == 0 {
		amount, _ := req.Amount.Decimal()
		switch {
		case req.Amount.Currency != o.in.Total.Currency:
			errs = append(errs, domain.FieldError{Field: "amount.currency", Message: "must be the order's currency, " + o.in.Total.Currency})
		case amount.GreaterThan(limit):
			errs = append(errs, domain.FieldError{Field: "amount", Message: fmt.Sprintf("exceeds the open amount of %s %s", limit.StringFixed(2), o.in.Total.Currency)})
		}
	}
	if len(errs) > 0 {
		return invalidData(errs)
	}
	return nil
}

func (o *order) validatePayment(_ workflow.Context, req domain.PaymentRequest) error {
	if o.st.Invoice == nil || o.paid() || (o.st.Status != domain.OrderInvoiced && o.st.Status != domain.OrderOverdue) {
		return notAccepting("order %s is %s: payments are recorded against an open invoice", o.in.ID, o.st.Status)
	}
	open, _ := o.st.Invoice.Open.Decimal()
	return o.checkPayment(req, true, open.Sub(o.reserved))
}

// onPayment records a payment against the invoice; the full payment makes the order
// paid, which stops every reminder and escalation.
func (o *order) onPayment(ctx workflow.Context, req domain.PaymentRequest) (domain.OrderState, error) {
	if err := o.validatePayment(ctx, req); err != nil {
		return domain.OrderState{}, err
	}
	amount, _ := req.Amount.Decimal()
	o.reserved = o.reserved.Add(amount)
	defer func() { o.reserved = o.reserved.Sub(amount) }()
	pay := o.newPayment(ctx, domain.PaymentKindPayment, req)
	pay.InvoiceNo = o.st.Invoice.Number
	var inv domain.Invoice
	err := execute(ctx, domain.ActRecordOrderPayment, domain.RecordOrderPaymentInput{
		OrderID: o.in.ID, CustomerID: o.in.CustomerID, Payment: pay,
	}, &inv)
	if err != nil {
		return domain.OrderState{}, err
	}
	o.st.Payments = append(o.st.Payments, pay)
	paid, _ := o.st.Invoice.Paid.Decimal()
	total, _ := o.st.Invoice.Amount.Decimal()
	paid = paid.Add(amount)
	cur := o.st.Invoice.Amount.Currency
	o.st.Invoice.Paid, o.st.Invoice.Open = domain.NewMoney(paid, cur), domain.NewMoney(total.Sub(paid), cur)
	event := "payment_recorded"
	if !paid.LessThan(total) {
		o.st.Invoice.Status, o.st.Status, event = domain.InvoicePaid, domain.OrderPaid, "paid"
	}
	if err := o.project(ctx, req.Actor, event, map[string]any{
		"payment_id": pay.ID, "amount": pay.Amount, "reference": pay.Reference, "received_on": pay.ReceivedOn,
		"invoice_no": pay.InvoiceNo, "open": o.st.Invoice.Open,
	}); err != nil {
		return domain.OrderState{}, err
	}
	return o.state(), nil
}

func (o *order) validatePrepayment(_ workflow.Context, req domain.PaymentRequest) error {
	inReview := o.st.Status == domain.OrderInReview && !o.checking
	if o.cancel != nil || (!inReview && o.st.Status != domain.OrderCreditHold) {
		return notAccepting("order %s is %s: a prepayment is recorded before the credit check", o.in.ID, o.st.Status)
	}
	total, _ := o.in.Total.Decimal()
	return o.checkPayment(req, false, total.Sub(o.st.Prepaid()).Sub(o.reserved))
}

// onPrepayment records a prepayment and issues its invoice (paid); a cancellation
// voids the invoice and refunds the prepayment.
func (o *order) onPrepayment(ctx workflow.Context, req domain.PaymentRequest) (domain.OrderState, error) {
	if err := o.validatePrepayment(ctx, req); err != nil {
		return domain.OrderState{}, err
	}
	amount, _ := req.Amount.Decimal()
	o.reserved = o.reserved.Add(amount)
	o.busy++
	defer func() { o.reserved, o.busy = o.reserved.Sub(amount), o.busy-1 }()
	if req.ReceivedOn == "" {
		req.ReceivedOn = utcNow(ctx).Format(time.DateOnly)
	}
	pay := o.newPayment(ctx, domain.PaymentKindPrepayment, req)
	err := execute(ctx, domain.ActRecordOrderPayment, domain.RecordOrderPaymentInput{
		OrderID: o.in.ID, CustomerID: o.in.CustomerID, Payment: pay,
	}, nil)
	if err != nil {
		return domain.OrderState{}, err
	}
	o.st.Payments = append(o.st.Payments, pay)
	o.comps = append(o.comps, domain.Compensation{Kind: domain.CompRefundPrepayment, Target: pay.ID})
	var inv domain.Invoice
	err = execute(ctx, domain.ActIssueInvoice, domain.IssueInvoiceInput{
		Key: o.wfID + "/invoice/" + pay.ID, OrderID: o.in.ID, CustomerID: o.in.CustomerID,
		Kind: domain.InvoicePrepayment, Amount: pay.Amount, Paid: pay.Amount, DueOn: req.ReceivedOn, At: utcNow(ctx),
	}, &inv)
	if err != nil {
		return domain.OrderState{}, err
	}
	o.st.PrepaymentInvoices = append(o.st.PrepaymentInvoices, inv)
	o.comps = append(o.comps, domain.Compensation{Kind: domain.CompVoidInvoice, Target: inv.Number})
	if err := o.project(ctx, req.Actor, "prepayment_recorded", map[string]any{
		"payment_id": pay.ID, "amount": pay.Amount, "reference": pay.Reference, "invoice_no": inv.Number,
	}); err != nil {
		return domain.OrderState{}, err
	}
	return o.state(), nil
}

// newPayment makes the next payment of the order, with an id derived from the order.
func (o *order) newPayment(ctx workflow.Context, kind string, req domain.PaymentRequest) domain.Payment {
	o.payments++
	return domain.Payment{
		ID:   domain.PaymentID(o.wfID, o.payments),
		Kind: kind, Amount: req.Amount, ReceivedOn: req.ReceivedOn, Reference: strings.TrimSpace(req.Reference),
		RecordedBy: req.Actor, At: utcNow(ctx),
	}
}

// checkText checks a required or optional text field's length.
func checkText(field, s string, required bool, limit int) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return invalidData([]domain.FieldError{{Field: field, Message: "is required"}})
	case utf8.RuneCountInString(s) > limit:
		return invalidData([]domain.FieldError{{Field: field, Message: fmt.Sprintf("must be at most %d characters", limit)}})
	}
	return nil
}

// moneyText writes an amount for people: "1234.50 CNY".
func moneyText(m domain.Money) string { return m.Amount + " " + m.Currency }

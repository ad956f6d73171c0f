package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

const (
	orderTestID         = "ord_test"
	orderTestWorkflowID = "order/ord_test"
)

// orderFakes stand in for the order's own activities, beside the platform's fakes.
type orderFakes struct {
	f  *fakes
	mu sync.Mutex
	// credit decides the credit check (default: passed).
	credit func(in domain.CreditCheckInput) domain.CreditCheck
	// creditErr, when set, is the credit check's error.
	creditErr error
	// invoices by issue key; seq numbers them.
	invoices map[string]domain.Invoice
	seq      int
	// voided counts the invoices a VoidInvoice changed; voidAttempts every attempt.
	voided       map[string]int
	voidAttempts int
	// failVoidOnce fails the first attempt of each VoidInvoice after changing the
	// invoice, as a worker crashing before it reports back would.
	failVoidOnce bool
	payments     map[string]domain.Payment
}

func (o *orderFakes) register(env *testsuite.TestWorkflowEnvironment) {
	reg := func(name string, fn any) {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg(domain.ActProjectOrder, func(_ context.Context, in domain.OrderProjection) error {
		o.f.record(domain.ActProjectOrder, in)
		return nil
	})
	reg(domain.ActCheckCredit, func(_ context.Context, in domain.CreditCheckInput) (domain.CreditCheck, error) {
		o.f.record(domain.ActCheckCredit, in)
		if o.creditErr != nil {
			return domain.CreditCheck{}, o.creditErr
		}
		if o.credit != nil {
			return o.credit(in), nil
		}
		return domain.CreditCheck{Limit: in.Limit, Order: in.Order, Exposure: in.Order, Tier: in.Tier, Passed: true, At: in.At}, nil
	})
	reg(domain.ActIssueInvoice, func(_ context.Context, in domain.IssueInvoiceInput) (domain.Invoice, error) {
		o.f.record(domain.ActIssueInvoice, in)
		o.mu.Lock()
		defer o.mu.Unlock()
		if inv, ok := o.invoices[in.Key]; ok {
			return inv, nil
		}
		o.seq++
		amount, _ := in.Amount.Decimal()
		paid, _ := in.Paid.Decimal()
		inv := domain.Invoice{
			Number: fmt.Sprintf("FP-%d-%06d", in.At.Year(), o.seq), Kind: in.Kind, OrderID: in.OrderID,
			Amount: in.Amount, Paid: in.Paid, Open: domain.NewMoney(amount.Sub(paid), in.Amount.Currency),
			IssuedAt: in.At, DueOn: in.DueOn, Status: domain.InvoiceOpen,
		}
		if !paid.LessThan(amount) {
			inv.Status = domain.InvoicePaid
		}
		o.invoices[in.Key] = inv
		return inv, nil
	})
	reg(domain.ActRecordOrderPayment, func(_ context.Context, in domain.RecordOrderPaymentInput) (domain.Invoice, error) {
		o.f.record(domain.ActRecordOrderPayment, in)
		o.mu.Lock()
		defer o.mu.Unlock()
		o.payments[in.Payment.ID] = in.Payment
		return domain.Invoice{}, nil
	})
	reg(domain.ActVoidInvoice, func(ctx context.Context, in domain.VoidInvoiceInput) (bool, error) {
		o.f.record(domain.ActVoidInvoice, in)
		o.mu.Lock()
		defer o.mu.Unlock()
		o.voidAttempts++
		changed := o.voided[in.Number] == 0
		if changed {
			o.voided[in.Number]++
		}
		if o.failVoidOnce && activity.GetInfo(ctx).Attempt == 1 {
			return false, errors.New("worker lost before reporting")
		}
		return changed, nil
	})
}

// orderHarness runs one OrderWorkflow with fake activities and scripted people.
type orderHarness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	f   *fakes
	o   *orderFakes
	in  domain.OrderInput
	n   int
}

func orderInput() domain.OrderInput {
	req := domain.OrderRequest{
		CustomerID: "cus_1",
		Lines: []domain.OrderLine{
			{SKU: "PUMP-100", Description: "Pump", Quantity: 4, UnitPrice: domain.Money{Amount: "200.00", Currency: "CNY"}},
			{SKU: "SEAL-7", Description: "Seal kit", Quantity: 10, UnitPrice: domain.Money{Amount: "20.00", Currency: "CNY"}},
		},
		RequestedDeliveryDate: "2025-03-31",
		PaymentTerms:          domain.PaymentTerms{NetDays: 30},
		Delivery:              domain.Delivery{Method: domain.DeliveryDelivery, Transport: "truck", Consignee: "Li Wei", Address: "1 Harbour Rd"},
	}
	return domain.OrderInput{
		ID: orderTestID, CustomerID: "cus_1", CustomerName: "ACME", CustomerEmail: "buyer@acme.test",
		CustomerTier: "B", Locale: "en", CreditLimit: domain.Money{Amount: "100000.00", Currency: "CNY"},
		Rep: "alice", RepManager: "sam", Request: req, Total: req.Total(), EnteredAt: t0,
		Policy: domain.DefaultOrderPolicy(), ComplaintPolicy: domain.DefaultComplaintPolicy(),
	}
}

func newOrderHarness(t *testing.T, mod func(*domain.OrderInput)) *orderHarness {
	env, f := newTestEnv(orderTestWorkflowID)
	env.RegisterWorkflow(OrderWorkflow)
	o := &orderFakes{f: f, invoices: map[string]domain.Invoice{}, voided: map[string]int{}, payments: map[string]domain.Payment{}}
	o.register(env)
	in := orderInput()
	if mod != nil {
		mod(&in)
	}
	return &orderHarness{t: t, env: env, f: f, o: o, in: in}
}

func otask(step string, round int, key string) string {
	return domain.TaskID(orderTestWorkflowID, step, round, key)
}

func (h *orderHarness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// updateAt sends an Update at t0+d and returns its result (filled once run).
func (h *orderHarness) updateAt(d time.Duration, name string, arg any) *updateResult {
	u := &updateResult{}
	h.at(d, func() {
		h.n++
		h.env.UpdateWorkflow(name, fmt.Sprintf("u%d", h.n), u.callbacks(), arg)
	})
	return u
}

// act completes a task at t0+d.
func (h *orderHarness) act(d time.Duration, step string, round int, key, action, actor string, data map[string]any) *updateResult {
	return h.updateAt(d, domain.UpdateCompleteTask, domain.CompleteTaskRequest{
		TaskID: otask(step, round, key), Action: action, Actor: actor, Data: data,
	})
}

// answer answers the customer link of purpose at t0+d.
func (h *orderHarness) answer(d time.Duration, purpose string, answer map[string]any) *updateResult {
	return h.updateAt(d, domain.UpdateLinkAnswer, domain.LinkAnswer{
		LinkID: domain.LinkID(orderTestWorkflowID + "/" + purpose + "/1"), Purpose: purpose, Answer: answer,
	})
}

var shipData = map[string]any{"carrier": "SF Express", "tracking_no": "SF123", "certificate_no": "QC-9"}

// throughProduction scripts review, confirmation, one production round and a passed
// inspection, a minute apart from t0+start; it returns when the inspection passed.
func (h *orderHarness) throughProduction(start time.Duration) time.Duration {
	m := time.Minute
	h.act(start+m, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
	h.answer(start+2*m, domain.PurposeConfirmOrder, map[string]any{"decision": "confirm"})
	h.act(start+3*m, domain.StepProduction, 1, "accept", ActionAccept, "pete", map[string]any{"planned_date": "2025-03-20"})
	h.act(start+4*m, domain.StepProduction, 1, "done", ActionDone, "pete", nil)
	h.act(start+5*m, domain.StepQualityInspection, 1, "", domain.ActionPass, "quinn", nil)
	return start + 5*m
}

// throughDelivery scripts everything up to an accepted delivery; it returns when.
func (h *orderHarness) throughDelivery(start time.Duration) time.Duration {
	at := h.throughProduction(start)
	h.act(at+time.Minute, domain.StepShip, 1, "", domain.ActionShip, "lee", shipData)
	h.answer(at+2*time.Minute, domain.PurposeAcceptDelivery, map[string]any{"decision": "accept"})
	return at + 2*time.Minute
}

func (h *orderHarness) pay(d time.Duration, amount, receivedOn string) *updateResult {
	return h.updateAt(d, domain.UpdateRecordPayment, domain.PaymentRequest{
		Actor: "fiona", Amount: domain.Money{Amount: amount, Currency: "CNY"}, ReceivedOn: receivedOn, Reference: "bank-" + amount,
	})
}

func (h *orderHarness) run() domain.OrderState {
	h.t.Helper()
	h.env.ExecuteWorkflow(OrderWorkflow, h.in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(h.t, h.env.GetWorkflowError())
	var st domain.OrderState
	require.NoError(h.t, h.env.GetWorkflowResult(&st))
	return st
}

// events lists "event:status" of each projection with an audit event.
func (h *orderHarness) events() []string {
	var out []string
	for _, c := range h.f.of(domain.ActProjectOrder) {
		if p := c.In.(domain.OrderProjection); p.Audit.Event != "" {
			out = append(out, p.Audit.Event+":"+p.State.Status)
		}
	}
	return out
}

// eventAt returns when the first projection with event was written.
func (h *orderHarness) eventAt(event string) time.Duration {
	h.t.Helper()
	for _, c := range h.f.of(domain.ActProjectOrder) {
		if c.In.(domain.OrderProjection).Audit.Event == event {
			return c.At.Sub(t0)
		}
	}
	h.t.Fatalf("no %s event; have %v", event, h.events())
	return 0
}

// mails lists "template@offset" of each e-mail to the customer queued.
func (h *orderHarness) mails() []string {
	var out []string
	for _, c := range h.f.of(domain.ActQueueEmail) {
		out = append(out, c.In.(domain.SendEmailInput).Template)
	}
	return out
}

// notices lists "event>recipients" of each staff notice.
func (h *orderHarness) notices() []string {
	var out []string
	for _, c := range h.f.of(domain.ActQueueNotice) {
		in := c.In.(domain.NotifyInput)
		out = append(out, fmt.Sprintf("%v>%s", in.Data["event"], strings.Join(append(append([]string{}, in.Users...), in.Groups...), ",")))
	}
	return out
}

func (h *orderHarness) tasks() []string {
	var out []string
	for _, c := range h.f.of(domain.ActCreateTask) {
		in := c.In.(domain.CreateTaskInput)
		key := "?"
		for _, k := range []string{"", "accept", "done"} {
			if otask(in.Step, in.Round, k) == in.TaskID {
				key = k
			}
		}
		out = append(out, fmt.Sprintf("%s/%d/%s", in.Step, in.Round, key))
	}
	return out
}

func (h *orderHarness) task(step string, round int, key string) domain.CreateTaskInput {
	h.t.Helper()
	for _, c := range h.f.of(domain.ActCreateTask) {
		if in := c.In.(domain.CreateTaskInput); in.TaskID == otask(step, round, key) {
			return in
		}
	}
	h.t.Fatalf("task %s/%d/%s not created; have %v", step, round, key, h.tasks())
	return domain.CreateTaskInput{}
}

func updateState(t *testing.T, u *updateResult) domain.OrderState {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	require.True(t, u.done, "update not done (rejected: %v)", u.rejected)
	require.NoError(t, u.err)
	st, ok := u.value.(domain.OrderState)
	require.True(t, ok, "update result is %T", u.value)
	return st
}

func TestOrderHappyPathToPaid(t *testing.T) {
	h := newOrderHarness(t, nil)
	accepted := h.throughDelivery(0)
	paid := h.pay(accepted+time.Hour, "1000.00", "2025-03-04")
	st := h.run()

	require.Equal(t, domain.OrderPaid, st.Status)
	require.Equal(t, []string{
		"entered:in_review", "review_approved:in_review", "credit_passed:in_review",
		"confirmation_requested:awaiting_confirmation", "confirmed:awaiting_confirmation",
		"production_scheduled:in_production", "production_done:in_inspection", "inspection_passed:ready_to_ship",
		"shipped:shipped", "acceptance_requested:shipped", "accepted:delivered", "invoiced:invoiced", "paid:paid",
	}, h.events())

	review := h.task(domain.StepOrderReview, 1, "")
	require.Equal(t, "sam", review.Assignee, "the rep's sales manager reviews")
	require.Equal(t, []string{"sales_manager"}, review.CandidateGroups)
	require.Equal(t, []string{"alice"}, review.ExcludeUsers)
	require.Equal(t, review.CreatedAt.Add(8*time.Hour), review.DueAt)
	require.Equal(t, []string{"production"}, h.task(domain.StepProduction, 1, "accept").CandidateGroups)
	require.Equal(t, "pete", h.task(domain.StepProduction, 1, "done").Assignee)
	require.Equal(t, []string{"quality"}, h.task(domain.StepQualityInspection, 1, "").CandidateGroups)
	require.Equal(t, []string{"logistics"}, h.task(domain.StepShip, 1, "").CandidateGroups)

	links := h.f.of(domain.ActCreateCustomerLink)
	require.Len(t, links, 2)
	require.Equal(t, domain.TmplOrderConfirmRequest, links[0].In.(domain.CreateLinkInput).Template)
	require.Equal(t, domain.TmplOrderShipped, links[1].In.(domain.CreateLinkInput).Template)
	require.Equal(t, "SF123", links[1].In.(domain.CreateLinkInput).Context["tracking_no"])

	require.NotNil(t, st.Invoice)
	require.Equal(t, "FP-2025-000001", st.Invoice.Number)
	require.Equal(t, "2025-04-02", st.Invoice.DueOn, "accepted 2025-03-03 + net 30 days")
	require.Equal(t, domain.Money{Amount: "1000.00", Currency: "CNY"}, st.Invoice.Amount)
	require.Equal(t, "0.00", st.Invoice.Open.Amount)
	require.Equal(t, domain.InvoicePaid, st.Invoice.Status)
	require.Len(t, h.f.of(domain.ActIssueInvoice), 1)
	require.Equal(t, []string{domain.TmplOrderInvoice}, h.mails())
	require.Equal(t, domain.OrderPaid, updateState(t, paid).Status, "the payment answers once the order is paid")
	require.Empty(t, h.f.of(domain.ActRaiseEscalation))
	require.Equal(t, "SF123", st.Shipment.TrackingNo)
	require.Equal(t, "2025-03-20", st.PlannedDate)
	require.Empty(t, h.notices(), "a planned date before the requested one tells nobody")
}

func TestOrderLapsesWithoutConfirmation(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.act(time.Minute, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
	st := h.run()

	require.Equal(t, domain.OrderLapsed, st.Status)
	require.Equal(t, domain.CauseLapsed, st.Cancellation.Cause)
	reminders := h.f.of(domain.ActSendLinkReminder)
	require.Len(t, reminders, 1)
	require.Equal(t, []time.Duration{time.Minute + day}, times(reminders), "reminded 24 h after the link")
	require.Equal(t, domain.TmplOrderConfirmReminder, reminders[0].In.(domain.LinkReminderInput).Template)
	require.Equal(t, time.Minute+7*day, h.eventAt(domain.CauseLapsed), "lapses 7 days after the link")
	require.Len(t, h.f.of(domain.ActExpireCustomerLink), 1)
	require.Equal(t, []string{"lapsed>alice"}, h.notices(), "the rep is told")
	require.Equal(t, []string{domain.TmplOrderCancelled}, h.mails())
	require.Empty(t, st.Cancellation.Compensations, "nothing was done that needs undoing")
}

func TestOrderDeclinedByCustomer(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.act(time.Minute, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
	bad := h.answer(2*time.Minute, domain.PurposeConfirmOrder, map[string]any{"decision": "decline"})
	ok := h.answer(3*time.Minute, domain.PurposeConfirmOrder, map[string]any{"decision": "decline", "reason": "Found a cheaper supplier"})
	st := h.run()

	require.Equal(t, []string{"reason"}, fieldNames(t, bad.rejectedWith(t, domain.ErrTypeInvalidData)))
	require.Equal(t, domain.OrderCancelled, st.Status)
	require.Equal(t, domain.CauseDeclined, st.Cancellation.Cause)
	require.Equal(t, "Found a cheaper supplier", st.Cancellation.Reason)
	require.Equal(t, domain.OrderCancelled, updateStatusOf(t, ok))
	require.Equal(t, []string{"declined>alice"}, h.notices())
}

// updateStatusOf is the process status a link answer reported.
func updateStatusOf(t *testing.T, u *updateResult) string {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	require.True(t, u.done, "not done: rejected %v", u.rejected)
	return u.value.(domain.LinkAnswerResult).ProcessStatus
}

func TestOrderRejectedInReview(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.act(time.Minute, domain.StepOrderReview, 1, "", ActionReject, "sam", nil)
	st := h.run()
	require.Equal(t, domain.OrderCancelled, st.Status)
	require.Equal(t, domain.CauseRejected, st.Cancellation.Cause)
	require.Empty(t, h.f.of(domain.ActCheckCredit))
}

func TestOrderCreditRefused(t *testing.T) {
	h := newOrderHarness(t, func(in *domain.OrderInput) { in.CustomerTier = "D" })
	h.o.credit = func(in domain.CreditCheckInput) domain.CreditCheck {
		return domain.CreditCheck{Limit: in.Limit, Order: in.Order, Exposure: in.Order, Tier: in.Tier,
			Reasons: []string{domain.CreditTierDNoPrepayment}, At: in.At}
	}
	h.act(time.Minute, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
	h.act(2*time.Minute, domain.StepCreditApproval, 1, "", domain.ActionRefuse, "fiona", nil)
	st := h.run()

	require.Equal(t, []string{
		"entered:in_review", "review_approved:in_review", "credit_held:credit_hold", "credit_refused:cancelled",
	}, h.events())
	require.Equal(t, []string{"finance"}, h.task(domain.StepCreditApproval, 1, "").CandidateGroups)
	require.Equal(t, domain.CauseCreditRefused, st.Cancellation.Cause)
	require.Equal(t, domain.ActionRefuse, st.Credit.Decision)
	require.Empty(t, h.f.of(domain.ActCreateCustomerLink), "the customer is never asked to confirm")
}

func TestOrderCreditApprovedOverLimit(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.o.credit = func(in domain.CreditCheckInput) domain.CreditCheck {
		return domain.CreditCheck{Limit: in.Limit, Order: in.Order, Tier: in.Tier, Reasons: []string{domain.CreditOverLimit}, At: in.At}
	}
	h.act(time.Minute, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
	h.act(2*time.Minute, domain.StepCreditApproval, 1, "", ActionApprove, "fiona", nil)
	h.answer(3*time.Minute, domain.PurposeConfirmOrder, map[string]any{"decision": "decline", "reason": "changed plans"})
	h.run()
	require.Contains(t, h.events(), "credit_approved:credit_hold")
	require.Contains(t, h.events(), "confirmation_requested:awaiting_confirmation")
}

func TestOrderQualityFailsTwiceThenPasses(t *testing.T) {
	h := newOrderHarness(t, nil)
	m := time.Minute
	h.act(m, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
	h.answer(2*m, domain.PurposeConfirmOrder, map[string]any{"decision": "confirm"})
	at := 2 * m
	for round := 1; round <= 3; round++ {
		h.act(at+m, domain.StepProduction, round, "accept", ActionAccept, "pete", map[string]any{"planned_date": "2025-03-20"})
		h.act(at+2*m, domain.StepProduction, round, "done", ActionDone, "pete", nil)
		if round < 3 {
			noFindings := h.act(at+3*m, domain.StepQualityInspection, round, "", domain.ActionFail, "quinn", nil)
			defer func() {
				require.Equal(t, []string{"findings"}, fieldNames(t, noFindings.rejectedWith(t, domain.ErrTypeInvalidData)))
			}()
			h.act(at+4*m, domain.StepQualityInspection, round, "", domain.ActionFail, "quinn", map[string]any{"findings": fmt.Sprintf("scratch %d", round)})
		} else {
			h.act(at+4*m, domain.StepQualityInspection, round, "", domain.ActionPass, "quinn", nil)
		}
		at += 4 * m
	}
	h.act(at+m, domain.StepShip, 1, "", domain.ActionShip, "lee", shipData)
	h.answer(at+2*m, domain.PurposeAcceptDelivery, map[string]any{"decision": "accept"})
	h.pay(at+3*m, "1000.00", "2025-03-04")
	st := h.run()

	require.Equal(t, domain.OrderPaid, st.Status)
	require.Equal(t, 3, st.ProductionRound)
	require.Len(t, st.Inspections, 3)
	require.Equal(t, []string{domain.ActionFail, domain.ActionFail, domain.ActionPass},
		[]string{st.Inspections[0].Result, st.Inspections[1].Result, st.Inspections[2].Result})
	require.Equal(t, "scratch 2", st.Inspections[1].Findings)
	require.Equal(t, "scratch 1", h.task(domain.StepProduction, 2, "accept").Context["rework_findings"], "rework shows the findings")
	require.Equal(t, []string{
		"order_review/1/", "production/1/accept", "production/1/done", "quality_inspection/1/",
		"production/2/accept", "production/2/done", "quality_inspection/2/",
		"production/3/accept", "production/3/done", "quality_inspection/3/", "ship/1/",
	}, h.tasks())
}

func TestOrderPickupIsHandedOver(t *testing.T) {
	h := newOrderHarness(t, func(in *domain.OrderInput) {
		in.Request.Delivery = domain.Delivery{Method: domain.DeliveryPickup}
	})
	at := h.throughProduction(0)
	wrong := h.act(at+time.Minute, domain.StepShip, 1, "", domain.ActionShip, "lee", shipData)
	h.act(at+2*time.Minute, domain.StepShip, 1, "", domain.ActionHandOver, "lee", map[string]any{"received_by": "Wang Fang", "certificate_no": "QC-9"})
	h.answer(at+3*time.Minute, domain.PurposeAcceptDelivery, map[string]any{"decision": "accept"})
	h.pay(at+4*time.Minute, "1000.00", "2025-03-04")
	st := h.run()

	wrong.rejectedWith(t, domain.ErrTypeInvalidAction)
	require.Equal(t, domain.OrderPaid, st.Status)
	require.Equal(t, domain.DeliveryPickup, st.Shipment.Method)
	require.Equal(t, "Wang Fang", st.Shipment.ReceivedBy)
	require.Empty(t, st.Shipment.TrackingNo)
	require.Equal(t, "pickup", h.f.of(domain.ActCreateCustomerLink)[1].In.(domain.CreateLinkInput).Context["delivery_method"])
}

func TestOrderAcceptedBySilence(t *testing.T) {
	h := newOrderHarness(t, nil)
	at := h.throughProduction(0)
	shipped := at + time.Minute
	h.act(shipped, domain.StepShip, 1, "", domain.ActionShip, "lee", shipData)
	h.pay(shipped+7*day+time.Hour, "1000.00", "2025-03-11")
	st := h.run()

	require.True(t, st.AcceptedBySilence)
	require.Equal(t, shipped+7*day, h.eventAt("accepted"))
	reminders := h.f.of(domain.ActSendLinkReminder)
	require.Len(t, reminders, 1)
	require.Equal(t, shipped+3*day, reminders[0].At.Sub(t0), "the acceptance is reminded at 72 h")
	require.Equal(t, "2025-04-09", st.Invoice.DueOn, "due 30 days after the acceptance by silence on 2025-03-10")
}

func TestOrderProblemReportOpensComplaint(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.env.RegisterWorkflow(ComplaintWorkflow)
	var got domain.ComplaintInput
	h.env.OnWorkflow(ComplaintWorkflow, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in domain.ComplaintInput) (domain.ComplaintState, error) {
			got = in
			return domain.ComplaintState{Status: domain.ComplaintEvaluating}, nil
		})
	at := h.throughProduction(0)
	h.act(at+time.Minute, domain.StepShip, 1, "", domain.ActionShip, "lee", shipData)
	h.answer(at+2*time.Minute, domain.PurposeAcceptDelivery, map[string]any{"decision": "problem", "problem": "Two pumps arrived dented"})
	h.pay(at+3*time.Minute, "1000.00", "2025-03-04")
	st := h.run()

	require.Equal(t, domain.OrderPaid, st.Status, "the order waits for nothing")
	require.Len(t, st.ComplaintIDs, 1)
	require.Equal(t, st.ComplaintIDs[0], got.ID, "the order names its complaint")
	require.Equal(t, orderTestID, got.OrderID, "the complaint names its order")
	require.Equal(t, "Two pumps arrived dented", got.Description)
	require.Equal(t, "buyer@acme.test", got.CustomerEmail)
	require.Equal(t, "alice", got.OwnerRep)
	require.Contains(t, h.notices(), "problem_reported>alice")
	require.Contains(t, h.events(), "invoiced:invoiced")
}

func TestOrderPartialThenFullPayment(t *testing.T) {
	h := newOrderHarness(t, nil)
	accepted := h.throughDelivery(0)
	early := h.updateAt(accepted-time.Minute, domain.UpdateRecordPayment, domain.PaymentRequest{
		Actor: "fiona", Amount: domain.Money{Amount: "1.00", Currency: "CNY"}, ReceivedOn: "2025-03-03", Reference: "x"})
	partial := h.pay(accepted+day, "400.00", "2025-03-04")
	over := h.pay(accepted+2*day, "600.01", "2025-03-05")
	wrongCur := h.updateAt(accepted+2*day, domain.UpdateRecordPayment, domain.PaymentRequest{
		Actor: "fiona", Amount: domain.Money{Amount: "1.00", Currency: "USD"}, ReceivedOn: "2025-03-05", Reference: "x"})
	var mid domain.OrderState
	h.at(accepted+2*day+time.Minute, func() {
		v, err := h.env.QueryWorkflow(domain.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&mid))
	})
	full := h.pay(accepted+3*day, "600.00", "2025-03-06")
	st := h.run()

	early.rejectedWith(t, domain.ErrTypeNotAccepting)
	require.Equal(t, domain.OrderInvoiced, updateState(t, partial).Status)
	require.Equal(t, []string{"amount"}, fieldNames(t, over.rejectedWith(t, domain.ErrTypeInvalidData)))
	require.Equal(t, []string{"amount.currency"}, fieldNames(t, wrongCur.rejectedWith(t, domain.ErrTypeInvalidData)))
	require.Equal(t, "600.00", mid.Invoice.Open.Amount)
	require.Equal(t, "400.00", mid.Invoice.Paid.Amount)
	require.Equal(t, domain.OrderPaid, updateState(t, full).Status)
	require.Equal(t, domain.OrderPaid, st.Status)
	require.Len(t, st.Payments, 2)
	require.Equal(t, "2025-03-06", st.Payments[1].ReceivedOn)
	require.Equal(t, st.Invoice.Number, st.Payments[0].InvoiceNo)
	require.Len(t, h.o.payments, 2)
	require.Contains(t, h.events(), "payment_recorded:invoiced")
}

func TestOrderDunningRemindsAndEscalatesUntilPaid(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.throughDelivery(0)
	// Accepted on 2025-03-03 (17:00 in the company's UTC+8): due 2025-04-02 (30 days);
	// it is chased at 09:00 there (01:00 UTC) and overdue from 2025-04-03 00:00 there.
	due := chaseAt("2025-04-02")
	overdueAt := time.Date(2025, 4, 3, 0, 0, 0, 0, shanghai).Sub(t0)
	var overdue domain.OrderState
	h.at(overdueAt+time.Minute, func() {
		v, err := h.env.QueryWorkflow(domain.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&overdue))
	})
	paid := h.pay(due+40*day, "1000.00", "2025-05-12")
	st := h.run()

	require.Equal(t, domain.OrderOverdue, overdue.Status, "overdue once the due date is over")
	require.Equal(t, domain.OrderPaid, updateState(t, paid).Status)
	require.Equal(t, domain.OrderPaid, st.Status)
	var at []time.Duration
	var stages []string
	for _, c := range h.f.of(domain.ActQueueEmail) {
		in := c.In.(domain.SendEmailInput)
		if in.Template == domain.TmplInvoiceReminder {
			at = append(at, c.At.Sub(t0))
			stages = append(stages, in.Data["stage"].(string))
			require.Equal(t, "en", in.Locale)
			require.Equal(t, "buyer@acme.test", in.To.Email)
		}
	}
	require.Equal(t, []time.Duration{due - 3*day, due, due + 7*day}, at)
	require.Equal(t, []string{"before_due", "due", "overdue"}, stages)
	require.Equal(t, overdueAt, h.eventAt("overdue"))

	esc := h.f.of(domain.ActRaiseEscalation)
	require.Len(t, esc, 2)
	require.Equal(t, []time.Duration{due + 14*day, due + 30*day}, times(esc))
	first, second := esc[0].In.(domain.EscalationInput), esc[1].In.(domain.EscalationInput)
	require.Empty(t, first.TaskID, "an escalation without a task")
	require.Equal(t, "invoice/"+st.Invoice.Number, first.Subject)
	require.Equal(t, "alice", first.Rung.TargetManagerOf, "first to the rep's sales manager")
	require.Equal(t, domain.RoleSalesManager, first.Rung.TargetRole, "or the sales managers when she has none")
	require.Equal(t, domain.RoleGeneralManager, second.Rung.TargetRole)
	require.Equal(t, 2, st.EscalationLevel)
	// Everything queued was delivered.
	delivered := map[string]bool{}
	for _, c := range h.f.of(domain.ActDeliverEmails) {
		for _, k := range c.In.(domain.DeliverEmailsInput).Keys {
			delivered[k] = true
		}
	}
	for _, c := range h.f.of(domain.ActQueueEmail) {
		require.True(t, delivered[c.In.(domain.SendEmailInput).IdempotencyKey], "not delivered: %s", c.In.(domain.SendEmailInput).IdempotencyKey)
	}
}

func TestOrderFullPaymentStopsDunning(t *testing.T) {
	h := newOrderHarness(t, func(in *domain.OrderInput) { in.RepManager = "" })
	h.throughDelivery(0)
	due := chaseAt("2025-04-02")
	h.pay(due-2*day, "1000.00", "2025-03-31")
	st := h.run()
	require.Equal(t, domain.OrderPaid, st.Status)
	var reminders []time.Duration
	for _, c := range h.f.of(domain.ActQueueEmail) {
		if c.In.(domain.SendEmailInput).Template == domain.TmplInvoiceReminder {
			reminders = append(reminders, c.At.Sub(t0))
		}
	}
	require.Equal(t, []time.Duration{due - 3*day}, reminders, "only the reminder before the payment")
	require.Empty(t, h.f.of(domain.ActRaiseEscalation))
	require.Equal(t, due-2*day, h.env.Now().Sub(t0), "the workflow ends at the payment, no timer left")
}

func TestOrderPartialPaymentKeepsDunning(t *testing.T) {
	h := newOrderHarness(t, func(in *domain.OrderInput) { in.RepManager = "" })
	h.throughDelivery(0)
	due := chaseAt("2025-04-02")
	h.pay(due-2*day, "999.00", "2025-03-31")
	h.pay(due+20*day, "1.00", "2025-04-22")
	h.run()
	esc := h.f.of(domain.ActRaiseEscalation)
	require.Len(t, esc, 1)
	require.Equal(t, domain.RoleSalesManager, esc[0].In.(domain.EscalationInput).Rung.TargetRole, "no manager: the sales managers")
	require.Equal(t, "alice", esc[0].In.(domain.EscalationInput).Rung.TargetManagerOf)
}

// TestOrderCancellationUndoesWhatWasDone cancels at each stage before shipping and
// checks that exactly what that stage had done is undone, in reverse order, each once
// although the void is retried.
func TestOrderCancellationUndoesWhatWasDone(t *testing.T) {
	m := time.Minute
	prepay := func(h *orderHarness, d time.Duration) {
		h.updateAt(d, domain.UpdateRecordPrepayment, domain.PaymentRequest{
			Actor: "fiona", Amount: domain.Money{Amount: "300.00", Currency: "CNY"}, Reference: "adv-1"})
	}
	cases := []struct {
		name    string
		status  string
		prepaid bool
		script  func(h *orderHarness) time.Duration // returns when to cancel
		undo    []string
	}{
		{"in review, nothing done", domain.OrderInReview, false, func(h *orderHarness) time.Duration { return m }, nil},
		{"in review with a prepayment", domain.OrderInReview, true, func(h *orderHarness) time.Duration {
			prepay(h, m)
			return 2 * m
		}, []string{"void_invoice:FP-2025-000001", "refund_prepayment"}},
		{"credit hold", domain.OrderCreditHold, true, func(h *orderHarness) time.Duration {
			h.o.credit = func(in domain.CreditCheckInput) domain.CreditCheck {
				return domain.CreditCheck{Reasons: []string{domain.CreditOverLimit}, At: in.At}
			}
			prepay(h, m)
			h.act(2*m, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
			return 3 * m
		}, []string{"void_invoice:FP-2025-000001", "refund_prepayment"}},
		{"awaiting confirmation", domain.OrderAwaitingConfirmation, false, func(h *orderHarness) time.Duration {
			h.act(m, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
			return 2 * m
		}, nil},
		{"in production, slot taken", domain.OrderInProduction, true, func(h *orderHarness) time.Duration {
			prepay(h, 30*time.Second)
			h.act(m, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
			h.answer(2*m, domain.PurposeConfirmOrder, map[string]any{"decision": "confirm"})
			h.act(3*m, domain.StepProduction, 1, "accept", ActionAccept, "pete", map[string]any{"planned_date": "2025-03-20"})
			return 4 * m
		}, []string{"release_slot:production/1", "void_invoice:FP-2025-000001", "refund_prepayment"}},
		{"in production, not yet scheduled", domain.OrderInProduction, false, func(h *orderHarness) time.Duration {
			h.act(m, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
			h.answer(2*m, domain.PurposeConfirmOrder, map[string]any{"decision": "confirm"})
			return 3 * m
		}, nil},
		{"in inspection", domain.OrderInInspection, false, func(h *orderHarness) time.Duration {
			h.act(m, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
			h.answer(2*m, domain.PurposeConfirmOrder, map[string]any{"decision": "confirm"})
			h.act(3*m, domain.StepProduction, 1, "accept", ActionAccept, "pete", map[string]any{"planned_date": "2025-03-20"})
			h.act(4*m, domain.StepProduction, 1, "done", ActionDone, "pete", nil)
			return 5 * m
		}, []string{"release_slot:production/1"}},
		{"ready to ship", domain.OrderReadyToShip, true, func(h *orderHarness) time.Duration {
			prepay(h, 30*time.Second)
			return h.throughProduction(0) + m
		}, []string{"release_slot:production/1", "void_invoice:FP-2025-000001", "refund_prepayment"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newOrderHarness(t, nil)
			h.o.failVoidOnce = true
			at := tc.script(h)
			var before domain.OrderState
			h.at(at-time.Second, func() {
				v, err := h.env.QueryWorkflow(domain.QueryStatus)
				require.NoError(t, err)
				require.NoError(t, v.Get(&before))
			})
			cancelled := h.updateAt(at, domain.UpdateCancelOrder, domain.CancelOrderRequest{Actor: "alice", Reason: "customer changed plans"})
			again := h.updateAt(at+time.Second, domain.UpdateCancelOrder, domain.CancelOrderRequest{Actor: "alice", Reason: "twice"})
			if tc.prepaid {
				h.act(at+time.Hour, domain.StepRefundPrepayment, 1, domain.PaymentID(orderTestWorkflowID, 1),
					domain.ActionRefunded, "fiona", map[string]any{"reference": "refund-77"})
			}
			st := h.run()

			require.Equal(t, tc.status, before.Status)
			require.Equal(t, domain.OrderCancelled, updateState(t, cancelled).Status)
			if tc.prepaid { // else the workflow has ended: nothing is left to refuse it
				again.rejectedWith(t, domain.ErrTypeNotAccepting)
			}
			require.Equal(t, domain.OrderCancelled, st.Status)
			require.Equal(t, domain.CauseCancelled, st.Cancellation.Cause)
			require.Equal(t, "alice", st.Cancellation.By)
			var undone []string
			for _, c := range st.Cancellation.Compensations {
				s := c.Kind + ":" + c.Target
				if c.Kind == domain.CompRefundPrepayment {
					s = c.Kind
				}
				undone = append(undone, s)
			}
			require.Equal(t, tc.undo, undone)

			voids := map[string]int{}
			for _, c := range h.f.of(domain.ActVoidInvoice) {
				voids[c.In.(domain.VoidInvoiceInput).Number]++
			}
			for number, n := range h.o.voided {
				require.Equal(t, 1, n, "invoice %s voided once", number)
				require.Equal(t, 2, voids[number], "the void of %s was retried", number)
			}
			releases := 0
			for _, n := range h.notices() {
				if strings.HasPrefix(n, "slot_released>") {
					releases++
					require.Equal(t, "slot_released>production", n)
				}
			}
			require.Equal(t, strings.Contains(strings.Join(tc.undo, " "), "release_slot"), releases == 1)
			require.LessOrEqual(t, releases, 1)
			if tc.prepaid {
				require.Equal(t, 1, countTasks(h, domain.StepRefundPrepayment), "one refund task")
				require.Equal(t, []string{"finance"}, h.task(domain.StepRefundPrepayment, 1, domain.PaymentID(orderTestWorkflowID, 1)).CandidateGroups)
				require.Equal(t, "refund-77", st.Payments[0].Refund.Reference)
				require.Equal(t, domain.InvoiceVoid, st.PrepaymentInvoices[0].Status)
			}
			require.Contains(t, h.notices(), "cancelled>alice")
			require.Contains(t, h.mails(), domain.TmplOrderCancelled)
		})
	}
}

// countTasks is the number of tasks of step created.
func countTasks(h *orderHarness, step string) int {
	n := 0
	for _, c := range h.f.of(domain.ActCreateTask) {
		if c.In.(domain.CreateTaskInput).Step == step {
			n++
		}
	}
	return n
}

func TestOrderCancelAfterShippingIsRefused(t *testing.T) {
	h := newOrderHarness(t, nil)
	at := h.throughProduction(0)
	h.act(at+time.Minute, domain.StepShip, 1, "", domain.ActionShip, "lee", shipData)
	late := h.updateAt(at+2*time.Minute, domain.UpdateCancelOrder, domain.CancelOrderRequest{Actor: "alice", Reason: "too late"})
	noReason := h.updateAt(at, domain.UpdateCancelOrder, domain.CancelOrderRequest{Actor: "alice"})
	h.answer(at+3*time.Minute, domain.PurposeAcceptDelivery, map[string]any{"decision": "accept"})
	h.pay(at+4*time.Minute, "1000.00", "2025-03-04")
	st := h.run()
	late.rejectedWith(t, domain.ErrTypeNotAccepting)
	require.Equal(t, []string{"reason"}, fieldNames(t, noReason.rejectedWith(t, domain.ErrTypeInvalidData)))
	require.Equal(t, domain.OrderPaid, st.Status)
}

func TestOrderLateProductionTellsRepAndCustomer(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.act(time.Minute, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
	h.answer(2*time.Minute, domain.PurposeConfirmOrder, map[string]any{"decision": "confirm"})
	bad := h.act(3*time.Minute, domain.StepProduction, 1, "accept", ActionAccept, "pete", map[string]any{"planned_date": "31/04/2025"})
	h.act(4*time.Minute, domain.StepProduction, 1, "accept", ActionAccept, "pete", map[string]any{"planned_date": "2025-04-15"})
	h.updateAt(5*time.Minute, domain.UpdateCancelOrder, domain.CancelOrderRequest{Actor: "sam", Reason: "too late for the customer"})
	h.run()
	require.Equal(t, []string{"planned_date"}, fieldNames(t, bad.rejectedWith(t, domain.ErrTypeInvalidData)))
	require.Contains(t, h.notices(), "delay>alice")
	require.Contains(t, h.mails(), domain.TmplOrderDelay)
	var delay domain.SendEmailInput
	for _, c := range h.f.of(domain.ActQueueEmail) {
		if in := c.In.(domain.SendEmailInput); in.Template == domain.TmplOrderDelay {
			delay = in
		}
	}
	require.Equal(t, "2025-04-15", delay.Data["planned_date"])
}

func TestOrderProgressNoteIsEmailed(t *testing.T) {
	h := newOrderHarness(t, nil)
	note := h.updateAt(time.Minute, domain.UpdateOrderProgress, domain.OrderProgressRequest{Actor: "alice", Note: "Materials arrived"})
	empty := h.updateAt(time.Minute, domain.UpdateOrderProgress, domain.OrderProgressRequest{Actor: "alice", Note: "  "})
	h.act(2*time.Minute, domain.StepOrderReview, 1, "", ActionReject, "sam", nil)
	h.run()
	updateState(t, note)
	require.Equal(t, []string{"note"}, fieldNames(t, empty.rejectedWith(t, domain.ErrTypeInvalidData)))
	var progress []domain.SendEmailInput
	for _, c := range h.f.of(domain.ActQueueEmail) {
		if in := c.In.(domain.SendEmailInput); in.Template == domain.TmplOrderProgress {
			progress = append(progress, in)
		}
	}
	require.Len(t, progress, 1)
	require.Equal(t, "Materials arrived", progress[0].Data["note"])
	delivered := false
	for _, c := range h.f.of(domain.ActDeliverEmails) {
		for _, k := range c.In.(domain.DeliverEmailsInput).Keys {
			delivered = delivered || k == progress[0].IdempotencyKey
		}
	}
	require.True(t, delivered)
	require.Contains(t, h.events(), "progress_note:in_review")
}

func TestOrderPrepaymentPaysPartOfTheInvoice(t *testing.T) {
	h := newOrderHarness(t, nil)
	pre := h.updateAt(30*time.Second, domain.UpdateRecordPrepayment, domain.PaymentRequest{
		Actor: "fiona", Amount: domain.Money{Amount: "300.00", Currency: "CNY"}, Reference: "adv-1"})
	tooMuch := h.updateAt(40*time.Second, domain.UpdateRecordPrepayment, domain.PaymentRequest{
		Actor: "fiona", Amount: domain.Money{Amount: "700.01", Currency: "CNY"}, Reference: "adv-2"})
	accepted := h.throughDelivery(0)
	h.pay(accepted+time.Hour, "700.00", "2025-03-04")
	st := h.run()
	updateState(t, pre)
	require.Equal(t, []string{"amount"}, fieldNames(t, tooMuch.rejectedWith(t, domain.ErrTypeInvalidData)))
	require.Equal(t, "300.00", h.f.of(domain.ActCheckCredit)[0].In.(domain.CreditCheckInput).Prepaid.Amount)
	require.Equal(t, "FP-2025-000001", st.PrepaymentInvoices[0].Number)
	require.Equal(t, domain.InvoicePaid, st.PrepaymentInvoices[0].Status)
	require.Equal(t, "FP-2025-000002", st.Invoice.Number)
	require.Equal(t, "700.00", st.Invoice.Amount.Amount, "the invoice is for what was not prepaid")
	require.Equal(t, domain.OrderPaid, st.Status)
	amount, _ := decimal.NewFromString("300")
	require.True(t, st.Prepaid().Equal(amount))
}

func TestOrderReviewRemindsAtFourHoursAndEscalates(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.act(33*time.Hour, domain.StepOrderReview, 1, "", ActionReject, "sam", nil)
	h.run()
	reminders := h.f.of(domain.ActSendReminder)
	require.Equal(t, []time.Duration{4 * time.Hour}, times(reminders), "a reminder at 4 h")
	esc := h.f.of(domain.ActRaiseEscalation)
	require.Equal(t, []time.Duration{8 * time.Hour, 32 * time.Hour}, times(esc), "the usual ladder from the 8 h due time")
	first := esc[0].In.(domain.EscalationInput)
	require.True(t, first.Rung.TargetAssigneeManager)
	require.Equal(t, domain.RoleDeputyGM, first.Rung.TargetRole, "above the sales managers when the reviewer has no manager")
	require.Equal(t, domain.RoleGeneralManager, esc[1].In.(domain.EscalationInput).Rung.TargetRole)
}

// TestOrderCancelRacingAPrepaymentUndoesIt: a cancellation accepted while a prepayment
// is being recorded waits for it, then voids its invoice and refunds it.
func TestOrderCancelRacingAPrepaymentUndoesIt(t *testing.T) {
	h := newOrderHarness(t, nil)
	var pre, cancel updateResult
	h.at(time.Minute, func() {
		h.env.UpdateWorkflow(domain.UpdateRecordPrepayment, "pre", pre.callbacks(), domain.PaymentRequest{
			Actor: "fiona", Amount: domain.Money{Amount: "300.00", Currency: "CNY"}, Reference: "adv-1"})
		h.env.UpdateWorkflow(domain.UpdateCancelOrder, "cancel", cancel.callbacks(), domain.CancelOrderRequest{Actor: "alice", Reason: "changed plans"})
	})
	h.act(time.Hour, domain.StepRefundPrepayment, 1, domain.PaymentID(orderTestWorkflowID, 1),
		domain.ActionRefunded, "fiona", map[string]any{"reference": "refund-1"})
	st := h.run()
	updateState(t, &pre)
	require.Equal(t, domain.OrderCancelled, updateState(t, &cancel).Status)
	var kinds []string
	for _, c := range st.Cancellation.Compensations {
		kinds = append(kinds, c.Kind)
	}
	require.Equal(t, []string{domain.CompVoidInvoice, domain.CompRefundPrepayment}, kinds)
	require.Equal(t, "refund-1", st.Payments[0].Refund.Reference)
}

// TestOrderCancelRacingProductionAcceptReleasesTheSlot: production's acceptance,
// honoured though a cancellation came with it, took the slot: it is released.
func TestOrderCancelRacingProductionAcceptReleasesTheSlot(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.act(time.Minute, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
	h.answer(2*time.Minute, domain.PurposeConfirmOrder, map[string]any{"decision": "confirm"})
	var accept, cancel updateResult
	h.at(3*time.Minute, func() {
		h.env.UpdateWorkflow(domain.UpdateCompleteTask, "accept", accept.callbacks(), domain.CompleteTaskRequest{
			TaskID: otask(domain.StepProduction, 1, "accept"), Action: ActionAccept, Actor: "pete",
			Data: map[string]any{"planned_date": "2025-03-20"}})
		h.env.UpdateWorkflow(domain.UpdateCancelOrder, "cancel", cancel.callbacks(), domain.CancelOrderRequest{Actor: "alice", Reason: "changed plans"})
	})
	st := h.run()
	require.Equal(t, domain.OrderCancelled, st.Status)
	require.Len(t, st.Cancellation.Compensations, 1)
	require.Equal(t, domain.CompReleaseSlot, st.Cancellation.Compensations[0].Kind)
	require.Contains(t, h.notices(), "slot_released>production")
}

// TestOrderCreditCheckThatCannotBeMadeGoesToFinance: a check the activity refuses (no
// exchange rate) holds the order for finance instead of failing the workflow.
func TestOrderCreditCheckThatCannotBeMadeGoesToFinance(t *testing.T) {
	h := newOrderHarness(t, nil)
	h.o.creditErr = temporal.NewNonRetryableApplicationError("no exchange rate is configured for JPY", "InvalidInput", nil)
	h.act(time.Minute, domain.StepOrderReview, 1, "", ActionApprove, "sam", nil)
	h.act(2*time.Minute, domain.StepCreditApproval, 1, "", domain.ActionRefuse, "fiona", nil)
	st := h.run()
	require.Equal(t, []string{domain.CreditCannotCheck}, st.Credit.Reasons)
	require.Equal(t, domain.CauseCreditRefused, st.Cancellation.Cause)
}

func TestOrderPaymentsHaveAtMostTwoDecimals(t *testing.T) {
	h := newOrderHarness(t, nil)
	accepted := h.throughDelivery(0)
	odd := h.pay(accepted+time.Minute, "999.995", "2025-03-04")
	h.pay(accepted+2*time.Minute, "1000.00", "2025-03-04")
	st := h.run()
	require.Equal(t, []string{"amount"}, fieldNames(t, odd.rejectedWith(t, domain.ErrTypeInvalidData)))
	require.Equal(t, domain.OrderPaid, st.Status)
}

// shanghai is the company's zone of the default order policy.
var shanghai = time.FixedZone("UTC+8", 8*3600)

// chaseAt is when an invoice due on day is chased (09:00 in the company's zone), from t0.
func chaseAt(day string) time.Duration {
	d, err := time.ParseInLocation(time.DateOnly, day, shanghai)
	if err != nil {
		panic(err)
	}
	return d.Add(9 * time.Hour).Sub(t0)
}

// TestOrderDueDateCountsFromTheCompanysDay: goods accepted at 01:30 in the company's
// zone (17:30 UTC the day before) are due net days after the company's day, not the
// UTC one.
func TestOrderDueDateCountsFromTheCompanysDay(t *testing.T) {
	p := domain.DefaultOrderPolicy()
	early := time.Date(2025, 3, 9, 17, 30, 0, 0, time.UTC) // 2025-03-10 01:30 in UTC+8
	require.Equal(t, "2025-04-09", p.DueOn(early, 30))
	require.Equal(t, "2025-04-08", domain.OrderPolicy{}.DueOn(early, 30), "a zero offset counts UTC days")
	day, err := p.DueDay("2025-04-09")
	require.NoError(t, err)
	require.Equal(t, time.Date(2025, 4, 8, 16, 0, 0, 0, time.UTC), day.UTC())
}

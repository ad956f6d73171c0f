package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// ProjectOrder replaces the order's read model from the workflow's state and writes the
// audit event, when it has a key, in one transaction.
func (a *Activities) ProjectOrder(ctx context.Context, p domain.OrderProjection) error {
	if p.State.ID == "" {
		return invalidInput("projection needs an order id")
	}
	wfID := p.WorkflowID
	if wfID == "" {
		wfID = domain.OrderWorkflowID(p.State.ID)
	}
	return a.Store.WithTx(ctx, func(tx pgx.Tx) error {
		if err := store.UpsertOrder(ctx, tx, p.State, wfID); err != nil {
			return err
		}
		if p.Audit.Key == "" {
			return nil
		}
		if p.Audit.Actor == "" {
			p.Audit.Actor = "system"
		}
		p.Audit.At = orNow(p.Audit.At)
		return store.InsertAudit(ctx, tx, p.Audit)
	})
}

// CheckCredit sums the customer's exposure with this order, in the credit limit's
// currency: its open receivables, its other open orders not yet invoiced, and the order.
// The check passes within the limit, and for a tier-D customer only with a prepayment
// (of at least PrepaymentPct of the order, when that is set). A currency without an
// exchange rate is a non-retryable error.
func (a *Activities) CheckCredit(ctx context.Context, in domain.CreditCheckInput) (domain.CreditCheck, error) {
	if in.CustomerID == "" {
		return domain.CreditCheck{}, invalidInput("credit check needs a customer")
	}
	limitCur := orDefault(in.Limit.Currency, "CNY")
	// toLimit converts an amount into the limit's currency, through CNY.
	toLimit := func(d decimal.Decimal, cur, what string) (decimal.Decimal, error) {
		if cur == limitCur {
			return d, nil
		}
		cny, err := in.Policy.ToCNY(domain.Money{Amount: d.StringFixed(4), Currency: cur})
		if err != nil {
			return decimal.Zero, invalidInput(fmt.Sprintf("credit check, %s: %v", what, err))
		}
		if limitCur == "CNY" {
			return cny, nil
		}
		rate, err := in.Policy.ToCNY(domain.Money{Amount: "1", Currency: limitCur})
		if err != nil {
			return decimal.Zero, invalidInput(fmt.Sprintf("credit check, the limit: %v", err))
		}
		return cny.Div(rate), nil
	}
	// amount converts a Money of the input (the zero Money being 0), rounded to cents.
	amount := func(m domain.Money, what string) (decimal.Decimal, error) {
		if m.Amount == "" && m.Currency == "" {
			return decimal.Zero, nil
		}
		if err := m.Validate(); err != nil {
			return decimal.Zero, invalidInput(fmt.Sprintf("credit check, %s: %v", what, err))
		}
		d, _ := m.Decimal()
		d, err := toLimit(d, m.Currency, what)
		return d.Round(2), err
	}
	// sum converts and adds up sums per currency, rounded to cents.
	sum := func(m map[string]decimal.Decimal, what string) (decimal.Decimal, error) {
		total := decimal.Zero
		for cur, d := range m {
			v, err := toLimit(d, cur, what)
			if err != nil {
				return decimal.Zero, err
			}
			total = total.Add(v)
		}
		return total.Round(2), nil
	}
	limit, err := amount(domain.Money{Amount: orDefault(in.Limit.Amount, "0"), Currency: limitCur}, "the limit")
	if err != nil {
		return domain.CreditCheck{}, err
	}
	order, err := amount(in.Order, "the order")
	if err != nil {
		return domain.CreditCheck{}, err
	}
	prepaid, err := amount(in.Prepaid, "the prepayments")
	if err != nil {
		return domain.CreditCheck{}, err
	}
	pct := decimal.Zero
	if in.PrepaymentPct != "" {
		if pct, err = decimal.NewFromString(in.PrepaymentPct); err != nil {
			return domain.CreditCheck{}, invalidInput(fmt.Sprintf("credit check, prepayment_pct %q is no decimal", in.PrepaymentPct))
		}
	}
	invoices, orders, err := a.Store.CreditExposure(ctx, in.CustomerID, in.OrderID)
	if err != nil {
		return domain.CreditCheck{}, err
	}
	openInvoices, err := sum(invoices, "the open invoices")
	if err != nil {
		return domain.CreditCheck{}, err
	}
	openOrders, err := sum(orders, "the open orders")
	if err != nil {
		return domain.CreditCheck{}, err
	}
	exposure := openInvoices.Add(openOrders).Add(order)
	var reasons []string
	if exposure.GreaterThan(limit) {
		reasons = append(reasons, domain.CreditOverLimit)
	}
	if in.Tier == "D" {
		enough := prepaid.IsPositive()
		if pct.IsPositive() && prepaid.LessThan(order.Mul(pct).Div(decimal.NewFromInt(100))) {
			enough = false
		}
		if !enough {
			reasons = append(reasons, domain.CreditTierDNoPrepayment)
		}
	}
	res := domain.CreditCheck{
		Limit:        domain.NewMoney(limit, limitCur),
		OpenInvoices: domain.NewMoney(openInvoices, limitCur),
		OpenOrders:   domain.NewMoney(openOrders, limitCur),
		Order:        domain.NewMoney(order, limitCur),
		Exposure:     domain.NewMoney(exposure, limitCur),
		Prepaid:      domain.NewMoney(prepaid, limitCur),
		Tier:         in.Tier,
		Passed:       len(reasons) == 0,
		Reasons:      reasons,
		At:           in.At,
	}
	a.logger(ctx).Info("credit checked", "order_id", in.OrderID, "customer_id", in.CustomerID,
		"exposure", res.Exposure.Amount, "limit", res.Limit.Amount, "currency", limitCur, "passed", res.Passed)
	return res, nil
}

// IssueInvoice issues an invoice once per in.Key: FP-<year>-<6 digits>, the next number
// of the year of in.At, gap-free. A retry returns the invoice already issued.
func (a *Activities) IssueInvoice(ctx context.Context, in domain.IssueInvoiceInput) (domain.Invoice, error) {
	if in.Key == "" || in.OrderID == "" || in.CustomerID == "" {
		return domain.Invoice{}, invalidInput("an invoice needs a key, an order and a customer")
	}
	if in.Kind != domain.InvoiceFinal && in.Kind != domain.InvoicePrepayment {
		return domain.Invoice{}, invalidInput(fmt.Sprintf("invoice kind %q: must be final or prepayment", in.Kind))
	}
	if err := in.Amount.Validate(); err != nil {
		return domain.Invoice{}, invalidInput("invoice amount: " + err.Error())
	}
	if in.Paid != (domain.Money{}) {
		if err := in.Paid.Validate(); err != nil || in.Paid.Currency != in.Amount.Currency {
			return domain.Invoice{}, invalidInput("invoice paid amount: must be a valid amount in " + in.Amount.Currency)
		}
	}
	if in.DueOn != "" && !validDate(in.DueOn) {
		return domain.Invoice{}, invalidInput(fmt.Sprintf("invoice due date %q: must be YYYY-MM-DD", in.DueOn))
	}
	in.At = orNow(in.At)
	var inv domain.Invoice
	err := a.Store.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		inv, err = store.IssueInvoice(ctx, tx, in)
		return err
	})
	if err != nil {
		return domain.Invoice{}, err
	}
	a.logger(ctx).Info("invoice issued", "order_id", in.OrderID, "number", inv.Number, "kind", inv.Kind,
		"amount", inv.Amount.Amount, "currency", inv.Amount.Currency, "due_on", inv.DueOn, "status", inv.Status)
	return inv, nil
}

// RecordOrderPayment stores a payment or prepayment once per Payment.ID and, for a
// payment, raises the paid amount of its invoice, returning the invoice. A payment the
// invoice cannot take (over-payment, another currency, a void invoice) or for an invoice
// of another order is a non-retryable error of type domain.ErrTypePaymentRefused.
func (a *Activities) RecordOrderPayment(ctx context.Context, in domain.RecordOrderPaymentInput) (domain.Invoice, error) {
	p := in.Payment
	if in.OrderID == "" || p.ID == "" {
		return domain.Invoice{}, invalidInput("a payment needs an order and an id")
	}
	switch p.Kind {
	case domain.PaymentKindPayment:
		if p.InvoiceNo == "" {
			return domain.Invoice{}, invalidInput("a payment needs its invoice number")
		}
	case domain.PaymentKindPrepayment:
	default:
		return domain.Invoice{}, invalidInput(fmt.Sprintf("payment kind %q: must be payment or prepayment", p.Kind))
	}
	if err := p.Amount.Validate(); err != nil {
		return domain.Invoice{}, invalidInput("payment amount: " + err.Error())
	}
	if d, _ := p.Amount.Decimal(); !d.IsPositive() {
		return domain.Invoice{}, invalidInput("payment amount must be greater than zero")
	}
	if !validDate(p.ReceivedOn) {
		return domain.Invoice{}, invalidInput(fmt.Sprintf("payment received_on %q: must be YYYY-MM-DD", p.ReceivedOn))
	}
	in.Payment.At = orNow(p.At)
	var inv domain.Invoice
	err := a.Store.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		inv, err = store.RecordOrderPayment(ctx, tx, in)
		return err
	})
	switch {
	case errors.Is(err, store.ErrOverpayment), errors.Is(err, store.ErrInvoiceVoid),
		errors.Is(err, store.ErrCurrencyMismatch), errors.Is(err, store.ErrNotFound):
		a.logger(ctx).Warn("payment refused", "order_id", in.OrderID, "payment_id", p.ID, "err", err)
		return domain.Invoice{}, temporal.NewNonRetryableApplicationError(err.Error(), domain.ErrTypePaymentRefused, err)
	case err != nil:
		return domain.Invoice{}, err
	}
	a.logger(ctx).Info("payment recorded", "order_id", in.OrderID, "payment_id", p.ID, "kind", p.Kind,
		"amount", p.Amount.Amount, "currency", p.Amount.Currency, "invoice", inv.Number, "invoice_status", inv.Status)
	return inv, nil
}

// VoidInvoice voids an invoice; its number stays in the ledger, as void. It reports
// whether this call voided it (false: it was void already). An unknown invoice is a
// non-retryable error.
func (a *Activities) VoidInvoice(ctx context.Context, in domain.VoidInvoiceInput) (bool, error) {
	if in.Number == "" {
		return false, invalidInput("voiding needs an invoice number")
	}
	in.At = orNow(in.At)
	var changed bool
	err := a.Store.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		changed, err = store.VoidInvoice(ctx, tx, in)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, invalidInput(err.Error())
	}
	if err != nil {
		return false, err
	}
	if changed {
		a.logger(ctx).Info("invoice voided", "order_id", in.OrderID, "number", in.Number, "reason", in.Reason)
	}
	return changed, nil
}

// validDate reports whether s is a date YYYY-MM-DD.
func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

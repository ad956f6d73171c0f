package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
)

func orderState(id, status, total, currency string) domain.OrderState {
	return domain.OrderState{
		ID: id, CustomerID: "cus_1", CustomerName: "Acme", Rep: "alice", Status: status,
		Lines: []domain.OrderLine{{SKU: "PUMP-1", Description: "Pump", Quantity: 1,
			UnitPrice: domain.Money{Amount: total, Currency: currency}}},
		Total:                 domain.Money{Amount: total, Currency: currency},
		RequestedDeliveryDate: "2025-04-01", PaymentTerms: domain.PaymentTerms{NetDays: 30},
		Delivery: domain.Delivery{Method: domain.DeliveryPickup}, EnteredAt: t0,
	}
}

func projectOrder(t *testing.T, a *activities.Activities, st domain.OrderState) {
	t.Helper()
	require.NoError(t, a.ProjectOrder(context.Background(), domain.OrderProjection{State: st}))
}

func cny(amount string) domain.Money { return domain.Money{Amount: amount, Currency: "CNY"} }

// nonRetryable asserts err is a non-retryable application error of type typ.
func nonRetryable(t *testing.T, err error, typ string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if assert.True(t, errors.As(err, &appErr), "not an application error: %v", err) {
		assert.True(t, appErr.NonRetryable(), "retryable: %v", err)
		assert.Equal(t, typ, appErr.Type(), "%v", err)
	}
}

func TestProjectOrder(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	st := orderState("ord_1", domain.OrderInReview, "100.00", "CNY")
	p := domain.OrderProjection{State: st, Audit: domain.AuditInput{Key: "order/ord_1/entered", Process: domain.ProcessOrder,
		ProcessID: "ord_1", Actor: "alice", Event: "order_entered", At: t0}}
	require.NoError(t, a.ProjectOrder(ctx, p))
	require.NoError(t, a.ProjectOrder(ctx, p)) // retry
	st.Status = domain.OrderCreditHold
	require.NoError(t, a.ProjectOrder(ctx, domain.OrderProjection{State: st})) // no audit event
	row, err := a.Store.GetOrder(ctx, "ord_1")
	require.NoError(t, err)
	assert.Equal(t, "order/ord_1", row.WorkflowID)
	assert.Equal(t, domain.OrderCreditHold, row.State.Status)
	assert.Equal(t, 1, auditCount(t, a.Store, "order_entered"))
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM orders WHERE status = 'credit_hold'`))

	require.NoError(t, a.ProjectOrder(ctx, domain.OrderProjection{State: orderState("ord_2", domain.OrderInReview, "1.00", "CNY"), WorkflowID: "order/custom"}))
	row, err = a.Store.GetOrder(ctx, "ord_2")
	require.NoError(t, err)
	assert.Equal(t, "order/custom", row.WorkflowID)

	nonRetryable(t, a.ProjectOrder(ctx, domain.OrderProjection{}), "InvalidInput")
}

func TestCheckCredit(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	// Exposure of cus_1 besides ord_new: ord_open (in production, 300 CNY), ord_usd
	// (delivered, 10 USD = 72 CNY), and the open 200 of ord_inv's invoice of 500.
	projectOrder(t, a, orderState("ord_new", domain.OrderInReview, "100.00", "CNY"))
	projectOrder(t, a, orderState("ord_open", domain.OrderInProduction, "300.00", "CNY"))
	projectOrder(t, a, orderState("ord_usd", domain.OrderDelivered, "10.00", "USD"))
	projectOrder(t, a, orderState("ord_inv", domain.OrderInvoiced, "500.00", "CNY"))
	inv, err := a.IssueInvoice(ctx, domain.IssueInvoiceInput{Key: "order/ord_inv/invoice/final", OrderID: "ord_inv", CustomerID: "cus_1",
		Kind: domain.InvoiceFinal, Amount: cny("500.00"), DueOn: "2025-04-01", At: t0})
	require.NoError(t, err)
	_, err = a.RecordOrderPayment(ctx, domain.RecordOrderPaymentInput{OrderID: "ord_inv", CustomerID: "cus_1",
		Payment: domain.Payment{ID: "pay_1", Kind: domain.PaymentKindPayment, Amount: cny("300.00"), ReceivedOn: "2025-03-05",
			Reference: "r", RecordedBy: "fiona", InvoiceNo: inv.Number, At: t0}})
	require.NoError(t, err)

	in := domain.CreditCheckInput{OrderID: "ord_new", CustomerID: "cus_1", Tier: "A", Limit: cny("672.00"),
		Order: cny("100.00"), Policy: domain.DefaultOrderPolicy(), At: t0}
	c, err := a.CheckCredit(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, domain.CreditCheck{Limit: cny("672.00"), OpenInvoices: cny("200.00"), OpenOrders: cny("372.00"),
		Order: cny("100.00"), Exposure: cny("672.00"), Prepaid: cny("0.00"), Tier: "A", Passed: true, At: t0}, c)

	in.Limit = cny("671.99")
	c, err = a.CheckCredit(ctx, in)
	require.NoError(t, err)
	assert.False(t, c.Passed)
	assert.Equal(t, []string{domain.CreditOverLimit}, c.Reasons)

	// Tier D: within the limit, it passes only with a prepayment, of the share asked for.
	in.Limit, in.Tier = cny("10000"), "D"
	c, err = a.CheckCredit(ctx, in)
	require.NoError(t, err)
	assert.False(t, c.Passed)
	assert.Equal(t, []string{domain.CreditTierDNoPrepayment}, c.Reasons)
	in.Prepaid = cny("1.00")
	c, err = a.CheckCredit(ctx, in)
	require.NoError(t, err)
	assert.True(t, c.Passed, "%+v", c)
	assert.Equal(t, cny("1.00"), c.Prepaid)
	in.PrepaymentPct = "30"
	c, err = a.CheckCredit(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, []string{domain.CreditTierDNoPrepayment}, c.Reasons)
	in.Prepaid = cny("30.00")
	c, err = a.CheckCredit(ctx, in)
	require.NoError(t, err)
	assert.True(t, c.Passed, "%+v", c)
	in.Limit = cny("0")
	c, err = a.CheckCredit(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, []string{domain.CreditOverLimit}, c.Reasons)

	// A USD order against a CNY limit, and a limit in USD (converted through CNY).
	in = domain.CreditCheckInput{OrderID: "ord_new", CustomerID: "cus_1", Tier: "B", Limit: cny("1000"),
		Order: domain.Money{Amount: "50", Currency: "USD"}, Policy: domain.DefaultOrderPolicy(), At: t0}
	c, err = a.CheckCredit(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, cny("360.00"), c.Order)
	assert.Equal(t, cny("932.00"), c.Exposure)
	assert.True(t, c.Passed)
	in.Limit = domain.Money{Amount: "100", Currency: "USD"}
	c, err = a.CheckCredit(ctx, in)
	require.NoError(t, err)
	usd := func(s string) domain.Money { return domain.Money{Amount: s, Currency: "USD"} }
	// 200 CNY = 27.78 USD; 300 CNY + 10 USD = 51.67 USD.
	assert.Equal(t, usd("27.78"), c.OpenInvoices)
	assert.Equal(t, usd("51.67"), c.OpenOrders)
	assert.Equal(t, usd("50.00"), c.Order)
	assert.Equal(t, usd("129.45"), c.Exposure)
	assert.Equal(t, []string{domain.CreditOverLimit}, c.Reasons)

	// A currency without a rate fails for good.
	in.Limit = cny("1000")
	in.Order = domain.Money{Amount: "5", Currency: "JPY"}
	_, err = a.CheckCredit(ctx, in)
	nonRetryable(t, err, "InvalidInput")
	in.Order = cny("5")
	in.Policy.Rates = map[string]string{"CNY": "1"}
	_, err = a.CheckCredit(ctx, in)
	nonRetryable(t, err, "InvalidInput") // the open USD order
}

func TestOrderInvoiceActivities(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	projectOrder(t, a, orderState("ord_1", domain.OrderDelivered, "1000.00", "CNY"))
	issueIn := domain.IssueInvoiceInput{Key: "order/ord_1/invoice/final", OrderID: "ord_1", CustomerID: "cus_1",
		Kind: domain.InvoiceFinal, Amount: cny("1000.00"), DueOn: "2025-04-07", At: t0}
	inv, err := a.IssueInvoice(ctx, issueIn)
	require.NoError(t, err)
	assert.Equal(t, "FP-2025-000001", inv.Number)
	assert.Equal(t, domain.InvoiceOpen, inv.Status)
	assert.Equal(t, cny("1000.00"), inv.Open)
	again, err := a.IssueInvoice(ctx, issueIn)
	require.NoError(t, err)
	assert.Equal(t, inv, again)
	bad := issueIn
	bad.Kind = "credit_note"
	_, err = a.IssueInvoice(ctx, bad)
	nonRetryable(t, err, "InvalidInput")

	payment := func(id, amount string) domain.RecordOrderPaymentInput {
		return domain.RecordOrderPaymentInput{OrderID: "ord_1", CustomerID: "cus_1",
			Payment: domain.Payment{ID: id, Kind: domain.PaymentKindPayment, Amount: cny(amount), ReceivedOn: "2025-03-20",
				Reference: "bank " + id, RecordedBy: "fiona", InvoiceNo: inv.Number, At: t0.Add(time.Hour)}}
	}
	got, err := a.RecordOrderPayment(ctx, payment("pay_1", "400.00"))
	require.NoError(t, err)
	assert.Equal(t, cny("600.00"), got.Open)
	got, err = a.RecordOrderPayment(ctx, payment("pay_1", "400.00")) // retry
	require.NoError(t, err)
	assert.Equal(t, cny("600.00"), got.Open)
	_, err = a.RecordOrderPayment(ctx, payment("pay_2", "600.01"))
	nonRetryable(t, err, domain.ErrTypePaymentRefused)
	got, err = a.RecordOrderPayment(ctx, payment("pay_2", "600.00"))
	require.NoError(t, err)
	assert.Equal(t, domain.InvoicePaid, got.Status)
	assert.Equal(t, cny("1000.00"), got.Paid)
	noDate := payment("pay_3", "1.00")
	noDate.Payment.ReceivedOn = "20.03.2025"
	_, err = a.RecordOrderPayment(ctx, noDate)
	nonRetryable(t, err, "InvalidInput")

	pre := domain.RecordOrderPaymentInput{OrderID: "ord_1", CustomerID: "cus_1", Payment: domain.Payment{ID: "pre_1",
		Kind: domain.PaymentKindPrepayment, Amount: cny("50.00"), ReceivedOn: "2025-03-01", Reference: "pre", RecordedBy: "fiona", At: t0}}
	got, err = a.RecordOrderPayment(ctx, pre)
	require.NoError(t, err)
	assert.Equal(t, domain.Invoice{}, got)
	payments, err := a.Store.PaymentsOfOrder(ctx, "ord_1")
	require.NoError(t, err)
	assert.Len(t, payments, 3)

	voidIn := domain.VoidInvoiceInput{Number: inv.Number, OrderID: "ord_1", Reason: "cancelled", At: t0.Add(2 * time.Hour)}
	changed, err := a.VoidInvoice(ctx, voidIn)
	require.NoError(t, err)
	assert.True(t, changed)
	changed, err = a.VoidInvoice(ctx, voidIn)
	require.NoError(t, err)
	assert.False(t, changed)
	invs, err := a.Store.InvoicesOfOrder(ctx, "ord_1")
	require.NoError(t, err)
	require.Len(t, invs, 1)
	assert.Equal(t, "FP-2025-000001", invs[0].Number)
	assert.Equal(t, domain.InvoiceVoid, invs[0].Status)
	_, err = a.RecordOrderPayment(ctx, payment("pay_4", "1.00"))
	nonRetryable(t, err, domain.ErrTypePaymentRefused)
	_, err = a.VoidInvoice(ctx, domain.VoidInvoiceInput{Number: "FP-2025-999999", Reason: "x"})
	nonRetryable(t, err, "InvalidInput")
}

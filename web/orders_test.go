package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// newOrderEnv is the new-case env with a sales manager (mia) and her rep (rex).
func newOrderEnv(t *testing.T) (*env, *fakeTemporal) {
	t.Helper()
	e, tc := newCaseEnv(t)
	ctx := context.Background()
	hash, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.UserInput{
		{Username: "mia", DisplayName: "Mia", Roles: []string{string(domain.RoleSalesManager)}},
		{Username: "rex", DisplayName: "Rex", Roles: []string{string(domain.RoleSalesRep)}, Manager: "mia"},
	} {
		u.Email = u.Username + "@example.test"
		if err := e.st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := e.st.SetPasswordHash(ctx, u.Username, hash); err != nil {
			t.Fatal(err)
		}
	}
	return e, tc
}

// validOrder is a new-order form that enters an order for alice's customer: its first
// row blank, its second filled in.
func validOrder(key string) url.Values {
	return url.Values{"key": {key}, "customer_id": {"cus_acme"}, "currency": {"CNY"},
		"lines[0].sku": {""}, "lines[0].description": {""}, "lines[0].quantity": {""}, "lines[0].unit_price": {""},
		"lines[1].sku": {"PUMP-100"}, "lines[1].description": {"Centrifugal pump"}, "lines[1].quantity": {"4"}, "lines[1].unit_price": {"2500.00"},
		"lines[2].sku": {""}, "lines[2].description": {""}, "lines[2].quantity": {""}, "lines[2].unit_price": {""},
		"requested_delivery_date": {"2027-06-30"}, "payment_terms.net_days": {"30"}, "payment_terms.prepayment_pct": {""},
		"delivery.method": {"delivery"}, "delivery.transport": {"truck"}, "delivery.consignee": {"Li Wei"},
		"delivery.address": {"88 Harbour Road, Ningbo"}, "contract_id": {""}}
}

func TestNewOrderForm(t *testing.T) {
	e, tc := newOrderEnv(t)
	alice := e.session("alice")

	w := e.req(http.MethodGet, "/orders/new", alice, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d: %s", w.Code, body)
	}
	for _, want := range []string{`id="order-form"`, `<option value="cus_acme">Acme Tools (A)</option>`,
		`id="line-0-sku" name="lines[0].sku"`, `id="line-2-unit_price" name="lines[2].unit_price"`,
		`<input type="date" id="order-date" name="requested_delivery_date"`, `id="order-net-days" name="payment_terms.net_days" inputmode="decimal" value="30"`,
		`<option value="delivery" selected>`, `<option value="pickup">Pickup</option>`, `id="order-address" name="delivery.address"`,
		`id="nav-new-order"`, `id="nav-orders"`, `aria-label="SKU, line 1"`} {
		if !strings.Contains(body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(body, "cus_zen") || strings.Contains(body, `id="line-3-sku"`) || strings.Contains(body, `id="nav-invoices"`) {
		t.Error("another rep's customer, a fourth row, or the invoices link for a rep")
	}
	key := hiddenKey(t, body)

	// Errors: each on its input, the row of a line as typed (the blank first row is left
	// out of the order, so the API's lines[0] is the form's second row).
	bad := validOrder(key)
	bad.Set("lines[1].quantity", "many")
	bad.Set("lines[1].description", "")
	bad.Set("requested_delivery_date", "")
	bad.Set("delivery.address", "")
	w = e.req(http.MethodPost, "/orders/new", alice, bad)
	body = w.Body.String()
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad form: %d: %s", w.Code, body)
	}
	for _, want := range []string{
		`id="line-1-quantity" name="lines[1].quantity" value="many" aria-label="Quantity, line 2" inputmode="numeric" aria-invalid="true" aria-describedby="line-1-quantity-error"`,
		`<p class="field-error" id="line-1-quantity-error" role="alert">Enter a whole number from 1 to 1,000,000.</p>`,
		`<p class="field-error" id="line-1-description-error" role="alert">This is required.</p>`,
		`id="line-1-sku" name="lines[1].sku" value="PUMP-100"`,
		`<p class="field-error" id="order-date-error" role="alert">Enter a date.</p>`,
		`<p class="field-error" id="order-address-error" role="alert">Required for a delivery.</p>`,
		`value="Li Wei"`, `<option value="cus_acme" selected>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the form again lacks %s", want)
		}
	}
	if strings.Contains(body, `id="line-0-quantity-error"`) || strings.Contains(body, `id="order-consignee-error"`) {
		t.Error("an error on an input that had none")
	}
	if hiddenKey(t, body) != key || tc.startCount() != 0 {
		t.Fatalf("key changed or an order was started: %d", tc.startCount())
	}

	// No line at all: the error on the lines; another rep's customer: on the customer.
	none := validOrder(key)
	none.Set("lines[1].sku", "")
	none.Set("lines[1].description", "")
	none.Set("lines[1].quantity", "")
	none.Set("lines[1].unit_price", "")
	none.Set("customer_id", "cus_zen")
	body = e.req(http.MethodPost, "/orders/new", alice, none).Body.String()
	if !strings.Contains(body, `<p class="field-error" id="lines-error" role="alert">must have at least one line</p>`) ||
		!strings.Contains(body, `id="order-customer-error" role="alert">Choose a customer from the list.</p>`) {
		t.Errorf("no lines, another rep's customer: %s", body)
	}

	// "Add a line": the form again with a fourth row, nothing entered.
	more := validOrder(key)
	more.Set("more", "1")
	w = e.req(http.MethodPost, "/orders/new", alice, more)
	if body = w.Body.String(); w.Code != http.StatusOK || !strings.Contains(body, `id="line-3-sku"`) ||
		!strings.Contains(body, `value="PUMP-100"`) || strings.Contains(body, "field-error") || tc.startCount() != 0 {
		t.Fatalf("add a line: %d, %d starts: %s", w.Code, tc.startCount(), body)
	}

	// A valid form enters the order, and its page shows it with a notice.
	w = e.req(http.MethodPost, "/orders/new", alice, validOrder(key))
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/orders/ord_") || tc.startCount() != 1 {
		t.Fatalf("valid form: %d %q, %d starts: %s", w.Code, loc, tc.startCount(), w.Body.String())
	}
	id := strings.TrimPrefix(loc, "/orders/")
	page := e.reqWith(http.MethodGet, loc, alice, w.Result().Cookies())
	body = page.Body.String()
	for _, want := range []string{"Order " + id + " entered.", `<span id="order-status">In review</span>`, "Centrifugal pump",
		`<td class="num" id="lines-total"><strong>10000.00 CNY</strong></td>`, "88 Harbour Road, Ningbo", "Net 30 days",
		`id="progress-form"`, `id="cancel-form"`, `action="/orders/` + id + `/cancel"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the order page lacks %s", want)
		}
	}
	// The same key again enters nothing more.
	w = e.req(http.MethodPost, "/orders/new", alice, validOrder(key))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != loc || tc.startCount() != 1 {
		t.Fatalf("re-sent form: %d %q, %d starts", w.Code, w.Header().Get("Location"), tc.startCount())
	}
	// The list shows it to alice, not to sam.
	if body := e.req(http.MethodGet, "/orders", alice, nil).Body.String(); !strings.Contains(body, `id="order-`+id+`"`) {
		t.Errorf("alice's list lacks her order: %s", body)
	}
	if body := e.req(http.MethodGet, "/orders", e.session("sam"), nil).Body.String(); strings.Contains(body, id) {
		t.Error("sam lists alice's order")
	}

	// Who may not enter orders.
	for _, user := range []string{"frank", "carol", "mia"} {
		s := e.session(user)
		if w := e.req(http.MethodGet, "/orders/new", s, nil); w.Code != http.StatusForbidden {
			t.Errorf("%s GET the form: %d", user, w.Code)
		}
		if w := e.req(http.MethodPost, "/orders/new", s, validOrder(newKey())); w.Code != http.StatusForbidden {
			t.Errorf("%s POST the form: %d", user, w.Code)
		}
	}
	// A cross-origin post is refused before it reaches the form.
	if w := e.req(http.MethodPost, "/orders/new", alice, validOrder(newKey()), "Sec-Fetch-Site", "cross-site"); w.Code != http.StatusForbidden || tc.startCount() != 1 {
		t.Errorf("cross-origin post: %d, %d starts", w.Code, tc.startCount())
	}
}

// insertOrder puts order id of rep in the read model with status.
func (e *env) insertOrder(id, rep, status string) domain.OrderState {
	e.t.Helper()
	st := domain.OrderState{ID: id, CustomerID: "cus_acme", CustomerName: "Acme Tools", Rep: rep, Status: status,
		Lines:                 []domain.OrderLine{{SKU: "PUMP-100", Description: "Centrifugal pump", Quantity: 4, UnitPrice: domain.Money{Amount: "2500.00", Currency: "CNY"}}},
		Total:                 domain.Money{Amount: "10000.00", Currency: "CNY"},
		RequestedDeliveryDate: "2027-06-30", PaymentTerms: domain.PaymentTerms{NetDays: 30},
		Delivery:  domain.Delivery{Method: domain.DeliveryDelivery, Consignee: "Li Wei", Address: "88 Harbour Road"},
		EnteredAt: e.clock.now().Add(-48 * time.Hour), CurrentSteps: []string{}, Inspections: []domain.Inspection{},
		PrepaymentInvoices: []domain.Invoice{}, Payments: []domain.Payment{}, ComplaintIDs: []string{}}
	if status == domain.OrderInvoiced || status == domain.OrderShipped {
		st.Shipment = &domain.Shipment{Method: domain.DeliveryDelivery, Carrier: "SF Express", TrackingNo: "SF1234567",
			CertificateNo: "QC-88", By: "leo", At: e.clock.now().Add(-24 * time.Hour)}
	}
	if status == domain.OrderInvoiced {
		st.Invoice = &domain.Invoice{Number: "FP-2026-000042", Kind: domain.InvoiceFinal, OrderID: id, Amount: st.Total,
			Paid: domain.Money{Amount: "4000.00", Currency: "CNY"}, Open: domain.Money{Amount: "6000.00", Currency: "CNY"},
			IssuedAt: e.clock.now(), DueOn: "2099-01-31", Status: domain.InvoiceOpen}
		st.ComplaintIDs = []string{"cmp_9"}
	}
	if err := store.UpsertOrder(context.Background(), e.st.Pool, st, domain.OrderWorkflowID(id)); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// forms are the order page's forms in body, by their element id.
func forms(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<form method="post" action="/orders/[^"]+" id="([a-z]+)-form"`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestOrderPageForms(t *testing.T) {
	e, tc := newOrderEnv(t)
	e.insertOrder("ord_review", "rex", domain.OrderInReview)
	e.insertOrder("ord_shipped", "rex", domain.OrderShipped)
	e.insertOrder("ord_invoiced", "rex", domain.OrderInvoiced)
	e.insertOrder("ord_paid", "rex", domain.OrderPaid)
	for _, c := range []struct {
		user, order string
		want        []string // nil: the 404 page
	}{
		{"rex", "ord_review", []string{"progress", "cancel"}},
		{"rex", "ord_shipped", []string{"progress"}},
		{"rex", "ord_invoiced", []string{"progress"}},
		{"rex", "ord_paid", []string{}},
		{"mia", "ord_review", []string{"cancel"}}, // his manager cancels, the rep writes to the customer
		{"mia", "ord_invoiced", []string{}},
		{"frank", "ord_review", []string{"prepayment"}},
		{"frank", "ord_shipped", []string{}},
		{"frank", "ord_invoiced", []string{"payment"}},
		{"frank", "ord_paid", []string{}},
		{"alice", "ord_review", nil}, // another rep
		{"carol", "ord_invoiced", nil},
	} {
		w := e.req(http.MethodGet, "/orders/"+c.order, e.session(c.user), nil)
		body := w.Body.String()
		if c.want == nil {
			if w.Code != http.StatusNotFound || strings.Contains(body, "Acme") {
				t.Errorf("%s sees %s: %d", c.user, c.order, w.Code)
			}
			continue
		}
		if got := forms(body); w.Code != http.StatusOK || strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s on %s: %d, forms %v, want %v", c.user, c.order, w.Code, got, c.want)
		}
	}

	frank := e.session("frank")
	body := e.req(http.MethodGet, "/orders/ord_invoiced", frank, nil).Body.String()
	for _, want := range []string{"FP-2026-000042", "6000.00 CNY", "SF1234567", `<a href="/complaints/cmp_9" class="case-link">cmp_9</a>`,
		`<select id="payment-amount-currency" name="amount_currency">`, `<option value="CNY" selected>CNY</option>`,
		`<input type="date" id="payment-received" name="received_on" value="` + e.clock.now().Format(time.DateOnly) + `"`,
		"Open: 6000.00 CNY"} {
		if !strings.Contains(body, want) {
			t.Errorf("the invoiced order's page lacks %s", want)
		}
	}
	if strings.Contains(body, "USD") {
		t.Error("the payment form offers another currency than the order's")
	}

	// A payment: the workflow's 422 on its field, what was typed kept; then one it takes.
	var answer func(o client.UpdateWorkflowOptions) (any, error)
	tc.onUpdate = func(o client.UpdateWorkflowOptions) (any, error) { return answer(o) }
	answer = func(client.UpdateWorkflowOptions) (any, error) {
		return nil, temporal.NewApplicationError("invalid data", domain.ErrTypeInvalidData,
			[]domain.FieldError{{Field: "amount", Message: "exceeds the open amount of 6000.00 CNY"}})
	}
	pay := url.Values{"amount": {"7000.00"}, "amount_currency": {"CNY"}, "received_on": {"2026-12-01"}, "reference": {"BANK-7"}}
	w := e.req(http.MethodPost, "/orders/ord_invoiced/payments", frank, pay)
	body = w.Body.String()
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(body, `<p class="field-error" id="payment-amount-error" role="alert">exceeds the open amount of 6000.00 CNY</p>`) ||
		!strings.Contains(body, `value="7000.00"`) || !strings.Contains(body, `value="BANK-7"`) || !strings.Contains(body, `value="2026-12-01"`) {
		t.Fatalf("over-payment: %d: %s", w.Code, body)
	}
	if tc.count() != 1 {
		t.Fatalf("%d updates", tc.count())
	}
	tc.mu.Lock()
	sent := tc.updates[0]
	tc.mu.Unlock()
	req, ok := sent.Args[0].(domain.PaymentRequest)
	if !ok || sent.UpdateName != domain.UpdateRecordPayment || sent.WorkflowID != "order/ord_invoiced" || req.Actor != "frank" ||
		req.Amount != (domain.Money{Amount: "7000.00", Currency: "CNY"}) || req.ReceivedOn != "2026-12-01" || req.Reference != "BANK-7" {
		t.Fatalf("the Update sent: %+v", sent)
	}
	answer = func(client.UpdateWorkflowOptions) (any, error) {
		return nil, temporal.NewApplicationError("order is paid", domain.ErrTypeNotAccepting)
	}
	w = e.req(http.MethodPost, "/orders/ord_invoiced/payments", frank, pay)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), `id="payment-form-error"`) {
		t.Fatalf("a payment the status refuses: %d: %s", w.Code, w.Body.String())
	}
	answer = func(client.UpdateWorkflowOptions) (any, error) { return domain.OrderState{ID: "ord_invoiced"}, nil }
	pay.Set("amount", "6000.00")
	w = e.req(http.MethodPost, "/orders/ord_invoiced/payments", frank, pay)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/orders/ord_invoiced" {
		t.Fatalf("payment: %d: %s", w.Code, w.Body.String())
	}
	if body := e.reqWith(http.MethodGet, "/orders/ord_invoiced", frank, w.Result().Cookies()).Body.String(); !strings.Contains(body, "Payment recorded.") {
		t.Errorf("no notice after the payment: %s", body)
	}

	// Who may not: the rep's payment is refused, and so is a cancellation by finance.
	n := tc.count()
	if w := e.req(http.MethodPost, "/orders/ord_invoiced/payments", e.session("rex"), pay); w.Code != http.StatusForbidden {
		t.Errorf("rex records a payment: %d", w.Code)
	}
	if w := e.req(http.MethodPost, "/orders/ord_review/cancel", frank, url.Values{"reason": {"no"}}); w.Code != http.StatusForbidden {
		t.Errorf("frank cancels: %d", w.Code)
	}
	if w := e.req(http.MethodPost, "/orders/ord_review/cancel", e.session("alice"), url.Values{"reason": {"no"}}); w.Code != http.StatusNotFound {
		t.Errorf("another rep cancels: %d", w.Code)
	}
	if tc.count() != n {
		t.Error("a refused form reached the workflow")
	}
	// A cancellation's reason error is shown on its field.
	answer = func(client.UpdateWorkflowOptions) (any, error) {
		return nil, temporal.NewApplicationError("invalid data", domain.ErrTypeInvalidData, []domain.FieldError{{Field: "reason", Message: "is required"}})
	}
	w = e.req(http.MethodPost, "/orders/ord_review/cancel", e.session("mia"), url.Values{"reason": {" "}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `<p class="field-error" id="cancel-reason-error" role="alert">This is required.</p>`) {
		t.Errorf("cancel without a reason: %d: %s", w.Code, w.Body.String())
	}
}

func TestInvoicesPage(t *testing.T) {
	e, _ := newOrderEnv(t)
	e.insertOrder("ord_invoiced", "rex", domain.OrderInvoiced)
	ctx := context.Background()
	tx, err := e.st.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := store.IssueInvoice(ctx, tx, domain.IssueInvoiceInput{Key: "t/final", OrderID: "ord_invoiced", CustomerID: "cus_acme",
		Kind: domain.InvoiceFinal, Amount: domain.Money{Amount: "10000.00", Currency: "CNY"}, Paid: domain.Money{Amount: "0.00", Currency: "CNY"},
		DueOn: time.Now().UTC().AddDate(0, 0, -10).Format(time.DateOnly), At: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Only finance and managers: the header links it for them.
	if w := e.req(http.MethodGet, "/orders/invoices", e.session("rex"), nil); w.Code != http.StatusForbidden {
		t.Errorf("a rep lists invoices: %d", w.Code)
	}
	frank := e.session("frank")
	body := e.req(http.MethodGet, "/orders/invoices", frank, nil).Body.String()
	row := regexp.MustCompile(`(?s)<tr id="invoice-` + inv.Number + `">.*?</tr>`).FindString(body)
	if !strings.Contains(body, `id="nav-invoices"`) || !strings.Contains(body, `<option value="overdue" selected>Overdue</option>`) ||
		!strings.Contains(row, `<span class="level">10</span>`) || !strings.Contains(row, "10000.00 CNY") || !strings.Contains(row, "Acme Tools") ||
		!strings.Contains(row, "rex") || !strings.Contains(row, `<a href="/orders/ord_invoiced" class="case-link">`) {
		t.Errorf("the overdue invoices: %s", body)
	}
	body = e.req(http.MethodGet, "/orders/invoices?status=paid", frank, nil).Body.String()
	if !strings.Contains(body, `id="invoices-empty"`) {
		t.Errorf("the paid invoices (none): %s", body)
	}
	if w := e.req(http.MethodGet, "/orders/invoices", e.session("mia"), nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), inv.Number) {
		t.Errorf("a manager's invoices: %d", w.Code)
	}
}

// TestOrderTaskPage: an order step's form shows a date input for a date field and a
// text input for a string one; its context shows the order's lines one per line, and
// the task links to its order.
func TestOrderTaskPage(t *testing.T) {
	e, _ := newOrderEnv(t)
	e.insertOrder("ord_prod", "rex", domain.OrderInProduction)
	now := e.clock.now()
	form := []domain.FormField{{Name: "planned_date", Type: "date", Required: true}, {Name: "carrier", Type: "string"}}
	_, err := e.st.Pool.Exec(context.Background(), `INSERT INTO tasks (id, workflow_id, process, process_id, step, title,
		assignee, candidate_groups, exclude_users, status, priority, actions, form, context, due_at, created_at, escalation_level)
		VALUES ('tk_prod', 'order/ord_prod', 'order', 'ord_prod', 'production', 'Production: Acme Tools', 'rex', '{production}', '{}',
		'open', 0, '{accept}', $1, $2, $3, $4, 0)`, form,
		map[string]any{"order_id": "ord_prod", "customer_id": "cus_acme", "customer_name": "Acme Tools",
			"total": map[string]any{"amount": "10000.00", "currency": "CNY"},
			"lines": []any{map[string]any{"sku": "PUMP-100", "description": "Centrifugal pump", "quantity": 4,
				"unit_price": map[string]any{"amount": "2500.00", "currency": "CNY"}}},
			"payment_terms": map[string]any{"net_days": 30}},
		now.Add(24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	w := e.req(http.MethodGet, "/tasks/tk_prod", e.session("rex"), nil)
	body := w.Body.String()
	for _, want := range []string{`<input type="date" id="f-planned_date" name="f.planned_date" value="" aria-required="true">`,
		`<input id="f-carrier" name="f.carrier" value="">`, "4 × PUMP-100 Centrifugal pump, 2500.00 CNY each",
		`<a href="/orders/ord_prod" id="task-case">`, "10000.00 CNY", "Payment due (days after acceptance)"} {
		if !strings.Contains(body, want) {
			t.Errorf("the order task's page lacks %s", want)
		}
	}
	if w.Code != http.StatusOK || strings.Contains(body, "cus_acme") {
		t.Errorf("the order task's page: %d, or it shows the customer id", w.Code)
	}
}

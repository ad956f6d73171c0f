package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// orderBody is a valid POST /orders body for alice's customer cus_acme: two lines
// totalling 300.00 CNY, delivered.
func orderBody() map[string]any {
	return map[string]any{
		"customer_id": "cus_acme",
		"lines": []any{
			map[string]any{"sku": "PUMP-100", "description": "Pump", "quantity": 2, "unit_price": map[string]any{"amount": "100.00", "currency": "CNY"}},
			map[string]any{"sku": "SEAL-7", "description": "Seal kit", "quantity": 4, "unit_price": map[string]any{"amount": "25.00", "currency": "CNY"}},
		},
		"requested_delivery_date": "2027-03-01",
		"payment_terms":           map[string]any{"net_days": 30},
		"delivery":                map[string]any{"method": "delivery", "consignee": "Li Lei", "address": "1 Harbour Road"},
	}
}

// orderLine is an order line of quantity q at unit price amount in currency.
func orderLine(sku string, q int, amount, currency string) map[string]any {
	return map[string]any{"sku": sku, "description": "Item " + sku, "quantity": q,
		"unit_price": map[string]any{"amount": amount, "currency": currency}}
}

// enterOrder enters an order through the API and returns its id.
func (e *env) enterOrder(user string, body map[string]any) string {
	e.t.Helper()
	return e.do("POST", "/api/v1/orders", user, body).want(http.StatusCreated).json()["id"].(string)
}

// insertOrder stores an order row of rep for customer in status, as the workflow would
// project it (no workflow is started); an invoiced order gets an open invoice of its
// total.
func (e *env) insertOrder(id, rep, customer, status string) domain.OrderState {
	e.t.Helper()
	in := domain.OrderInput{ID: id, CustomerID: customer, CustomerName: customer, Rep: rep,
		Total: domain.Money{Amount: "300.00", Currency: "CNY"}, EnteredAt: time.Now().UTC().Truncate(time.Microsecond)}
	in.Request.Lines = []domain.OrderLine{{SKU: "PUMP-100", Description: "Pump", Quantity: 3, UnitPrice: domain.Money{Amount: "100.00", Currency: "CNY"}}}
	in.Request.RequestedDeliveryDate = "2027-03-01"
	in.Request.Delivery = domain.Delivery{Method: domain.DeliveryPickup}
	st := in.NewState()
	st.Status = status
	if status == domain.OrderInvoiced || status == domain.OrderOverdue {
		st.Invoice = &domain.Invoice{Number: "FP-2026-900001", Kind: domain.InvoiceFinal, OrderID: id, Amount: st.Total,
			Paid: domain.Money{Amount: "0.00", Currency: "CNY"}, Open: st.Total, DueOn: "2027-01-01", Status: domain.InvoiceOpen}
	}
	e.setOrder(st)
	return st
}

// setOrder replaces an order's row with st.
func (e *env) setOrder(st domain.OrderState) {
	e.t.Helper()
	if err := store.UpsertOrder(context.Background(), e.st.Pool, st, domain.OrderWorkflowID(st.ID)); err != nil {
		e.t.Fatal(err)
	}
}

// orderState reads an order's stored state.
func (e *env) orderState(id string) domain.OrderState {
	e.t.Helper()
	row, err := e.st.GetOrder(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return row.State
}

// count counts the rows of a table.
func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// insertOrderContract stores an approved contract of customer for amount (CNY).
func (e *env) insertOrderContract(id, customer, amount string) {
	e.t.Helper()
	e.insertContract(id, "alice", domain.ClassStandard, domain.ContractInReview)
	if _, err := e.st.Pool.Exec(context.Background(), `UPDATE contracts SET customer_id = $2, amount = $3 WHERE id = $1`,
		id, customer, amount); err != nil {
		e.t.Fatal(err)
	}
	e.approveContract(id)
}

// fakeOrderWorkflow makes the fake Temporal answer the order Updates as the order
// workflow's validators do (workflows/order.go, whose own tests cover them), from the
// order's stored state: 409 (NotAccepting) when its status does not allow the Update,
// InvalidData naming reason, note, amount, amount.currency, received_on or reference,
// else the state, unchanged. Other Updates get the fake's default answer.
func (e *env) fakeOrderWorkflow() {
	st := e.st
	e.tc.mu.Lock()
	defer e.tc.mu.Unlock()
	e.tc.onUpdate = func(o client.UpdateWorkflowOptions) (any, error) {
		id, ok := strings.CutPrefix(o.WorkflowID, "order/")
		if !ok {
			return domain.CompleteTaskResponse{ProcessStatus: "evaluating"}, nil
		}
		row, err := st.GetOrder(context.Background(), id)
		if err != nil {
			return nil, err
		}
		s := row.State
		notAccepting := func() error {
			return temporal.NewApplicationError("order "+id+" is "+s.Status, domain.ErrTypeNotAccepting)
		}
		invalidData := func(errs []domain.FieldError) error {
			return temporal.NewApplicationError("invalid data", domain.ErrTypeInvalidData, errs)
		}
		required := func(field, text string) error {
			if strings.TrimSpace(text) == "" || len([]rune(text)) > domain.MaxOrderText {
				return invalidData([]domain.FieldError{{Field: field, Message: "is required, at most 2000 characters"}})
			}
			return nil
		}
		payment := func(req domain.PaymentRequest, needDate bool, limit string) error {
			errs := req.Validate(needDate)
			if len(errs) == 0 {
				amount, _ := req.Amount.Decimal()
				max, _ := domain.Money{Amount: limit, Currency: s.Total.Currency}.Decimal()
				switch {
				case req.Amount.Currency != s.Total.Currency:
					errs = append(errs, domain.FieldError{Field: "amount.currency", Message: "must be the order's currency"})
				case amount.GreaterThan(max):
					errs = append(errs, domain.FieldError{Field: "amount", Message: "exceeds the open amount"})
				}
			}
			if len(errs) > 0 {
				return invalidData(errs)
			}
			return nil
		}
		switch req := o.Args[0].(type) {
		case domain.CancelOrderRequest:
			if !slices.Contains(domain.OrderCancellable, s.Status) {
				return nil, notAccepting()
			}
			if err := required("reason", req.Reason); err != nil {
				return nil, err
			}
		case domain.OrderProgressRequest:
			if slices.Contains([]string{domain.OrderCancelled, domain.OrderLapsed, domain.OrderPaid}, s.Status) {
				return nil, notAccepting()
			}
			if err := required("note", req.Note); err != nil {
				return nil, err
			}
		case domain.PaymentRequest:
			if o.UpdateName == domain.UpdateRecordPayment {
				if s.Invoice == nil || (s.Status != domain.OrderInvoiced && s.Status != domain.OrderOverdue) {
					return nil, notAccepting()
				}
				if err := payment(req, true, s.Invoice.Open.Amount); err != nil {
					return nil, err
				}
			} else {
				if s.Status != domain.OrderInReview && s.Status != domain.OrderCreditHold {
					return nil, notAccepting()
				}
				total, _ := s.Total.Decimal()
				if err := payment(req, false, total.Sub(s.Prepaid()).StringFixed(2)); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("unexpected order Update %s with %T", o.UpdateName, req)
		}
		return s, nil
	}
}

func TestOrderEnter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := orderBody()
	r := e.do("POST", "/api/v1/orders", "alice", body, "Idempotency-Key", "ord-1").want(http.StatusCreated)
	created := r.json()
	id, _ := created["id"].(string)
	if !strings.HasPrefix(id, "ord_") || created["status"] != "in_review" || created["customer_id"] != "cus_acme" ||
		fmt.Sprint(created["total"]) != "map[amount:300.00 currency:CNY]" || created["requested_delivery_date"] != "2027-03-01" {
		t.Fatalf("created: %s", r.Body.String())
	}
	if loc := r.Header().Get("Location"); loc != "/api/v1/orders/"+id {
		t.Fatalf("location %q", loc)
	}
	if e.tc.startCount() != 1 {
		t.Fatalf("%d starts", e.tc.startCount())
	}
	e.tc.mu.Lock()
	start := e.tc.starts[0]
	e.tc.mu.Unlock()
	in := start.args[0].(domain.OrderInput)
	if start.opts.ID != "order/"+id || start.workflow != "OrderWorkflow" || in.ID != id || in.Rep != "alice" ||
		in.RepManager != "bob" || in.CustomerName != "Acme" || in.CustomerEmail != "buyer@acme.test" || in.CustomerTier != "A" ||
		in.Total != (domain.Money{Amount: "300.00", Currency: "CNY"}) || len(in.Request.Lines) != 2 ||
		in.Policy.ReviewSLA != 8*time.Hour || in.EnteredAt.Location() != time.UTC {
		t.Fatalf("start: %+v %+v", start.opts, in)
	}

	// The same key replays the answer and starts nothing new; another body with it is a
	// 409; another user's same key is their own.
	r2 := e.do("POST", "/api/v1/orders", "alice", body, "Idempotency-Key", "ord-1").want(http.StatusCreated)
	if r2.json()["id"] != id || r2.Header().Get("Idempotent-Replayed") != "true" || r2.Header().Get("Location") != "/api/v1/orders/"+id ||
		e.tc.startCount() != 1 || e.count("orders") != 1 {
		t.Fatalf("replay: %s, %d starts", r2.Body.String(), e.tc.startCount())
	}
	other := with(body, "requested_delivery_date", "2027-04-01")
	if p := e.do("POST", "/api/v1/orders", "alice", other, "Idempotency-Key", "ord-1").problem(http.StatusConflict); p.Type != typeIdempotencyKey {
		t.Fatalf("reused key: %+v", p)
	}

	// The order reads back at once: lines, total, delivery, an empty timeline.
	got := e.do("GET", "/api/v1/orders/"+id, "alice", nil).want(http.StatusOK).json()
	if got["status"] != "in_review" || got["rep"] != "alice" || got["customer_name"] != "Acme" ||
		len(got["lines"].([]any)) != 2 || fmt.Sprint(got["timeline"]) != "[]" || got["open_tasks"] != nil ||
		fmt.Sprint(got["delivery"]) != "map[address:1 Harbour Road consignee:Li Lei method:delivery]" {
		t.Fatalf("GET: %v", got)
	}

	// A pickup needs no consignee or address; a prepayment share is kept.
	pickup := with(orderBody(), "delivery", map[string]any{"method": "pickup"},
		"payment_terms", map[string]any{"net_days": 0, "prepayment_pct": "30"})
	pid := e.enterOrder("alice", pickup)
	if st := e.orderState(pid); st.Delivery.Method != "pickup" || st.PaymentTerms.PrepaymentPct != "30" {
		t.Fatalf("pickup: %+v", st)
	}
}

// A contract order is checked against the contract's remaining amount, under the
// contract's lock; the refusals leave no order behind, and forget the idempotency key
// so that the corrected order can be sent with it.
func TestOrderContract(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.insertOrderContract("ctr_ok", "cus_acme", "1000.00")
	e.insertOrderContract("ctr_globex", "cus_globex", "1000.00")
	e.insertContract("ctr_review", "alice", domain.ClassStandard, domain.ContractInReview)

	order := func(contract string, lines ...any) map[string]any {
		return with(orderBody(), "contract_id", contract, "lines", lines)
	}
	first := e.enterOrder("alice", order("ctr_ok", orderLine("A-1", 6, "100.00", "CNY")))
	if st := e.orderState(first); st.ContractID != "ctr_ok" {
		t.Fatalf("contract id: %+v", st)
	}
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"over the remaining 400.00", order("ctr_ok", orderLine("A-1", 4, "100.01", "CNY")), "lines"},
		{"another currency", order("ctr_ok", orderLine("A-1", 1, "1.00", "USD")), "lines"},
		{"unknown contract", order("ctr_nope", orderLine("A-1", 1, "1.00", "CNY")), "contract_id"},
		{"another customer's contract", order("ctr_globex", orderLine("A-1", 1, "1.00", "CNY")), "contract_id"},
		{"contract not approved", order("ctr_review", orderLine("A-1", 1, "1.00", "CNY")), "contract_id"},
	} {
		fields := checkProblem(t, e.do("POST", "/api/v1/orders", "alice", c.body, "Idempotency-Key", "k-"+strings.ReplaceAll(c.name, " ", "-")), http.StatusUnprocessableEntity)
		if !slices.Equal(fields, []string{c.field}) {
			t.Errorf("%s: fields %v, want %s", c.name, fields, c.field)
		}
	}
	if n := e.count("orders"); n != 1 || e.tc.startCount() != 1 {
		t.Fatalf("%d orders, %d starts after the refusals", n, e.tc.startCount())
	}
	// The refused key is forgotten: the corrected order goes through with it, exactly
	// the remaining amount.
	second := e.do("POST", "/api/v1/orders", "alice", order("ctr_ok", orderLine("A-1", 4, "100.00", "CNY")),
		"Idempotency-Key", "k-over-the-remaining-400.00").want(http.StatusCreated).json()["id"].(string)
	checkProblem(t, e.do("POST", "/api/v1/orders", "alice", order("ctr_ok", orderLine("A-1", 1, "0.01", "CNY"))), http.StatusUnprocessableEntity)

	// A cancelled order gives its amount back.
	st := e.orderState(first)
	st.Status = domain.OrderCancelled
	e.setOrder(st)
	e.enterOrder("alice", order("ctr_ok", orderLine("A-1", 6, "100.00", "CNY")))
	checkProblem(t, e.do("POST", "/api/v1/orders", "alice", order("ctr_ok", orderLine("A-1", 1, "0.01", "CNY"))), http.StatusUnprocessableEntity)
	if n := e.count("orders"); n != 3 || second == "" {
		t.Fatalf("%d orders", n)
	}
}

func TestOrderList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a1 := e.enterOrder("alice", orderBody())
	a2 := e.enterOrder("alice", orderBody())
	a3 := e.enterOrder("alice", orderBody())
	g1 := e.enterOrder("aaron", with(orderBody(), "customer_id", "cus_globex"))
	st := e.orderState(a2)
	st.Status = domain.OrderInProduction
	e.setOrder(st)
	all, alices := newestFirst([]string{a1, a2, a3, g1}), newestFirst([]string{a1, a2, a3})

	for user, want := range map[string][]string{"alice": alices, "bob": all, "erin": all, "judy": all, "admin": all} {
		ids, next := e.do("GET", "/api/v1/orders", user, nil).want(http.StatusOK).items()
		if !slices.Equal(ids, want) || next != "" {
			t.Errorf("%s lists %v %q, want %v", user, ids, next, want)
		}
	}
	for _, c := range []struct {
		query, user string
		want        []string
	}{
		{"status=in_production", "bob", []string{a2}},
		{"status=in_review&customer_id=cus_acme", "bob", []string{a3, a1}},
		{"customer_id=cus_globex", "erin", []string{g1}},
		{"customer_id=cus_globex", "alice", []string{}},
		{"status=paid", "bob", []string{}},
	} {
		ids, _ := e.do("GET", "/api/v1/orders?"+c.query, c.user, nil).want(http.StatusOK).items()
		if !slices.Equal(ids, newestFirst(c.want)) {
			t.Errorf("%s as %s: %v, want %v", c.query, c.user, ids, c.want)
		}
	}

	// Page by page, newest first, every order once.
	var seen []string
	cursor := ""
	for range 3 {
		r := e.do("GET", "/api/v1/orders?limit=2&cursor="+cursor, "judy", nil).want(http.StatusOK)
		ids, next := r.items()
		seen = append(seen, ids...)
		if cursor = next; cursor == "" {
			break
		}
	}
	if !slices.Equal(seen, all) {
		t.Fatalf("pages: %v, want %v", seen, all)
	}

	// A list item is the order without its task ids.
	r := e.do("GET", "/api/v1/orders?limit=1", "alice", nil).want(http.StatusOK).json()
	item := r["items"].([]any)[0].(map[string]any)
	if item["id"] != alices[0] || item["open_tasks"] != nil || item["total"] == nil {
		t.Fatalf("item: %v", item)
	}
	fields := checkProblem(t, e.do("GET", "/api/v1/orders?status=open&limit=0", "bob", nil), http.StatusUnprocessableEntity)
	if !slices.Equal(fields, []string{"limit", "status"}) {
		t.Fatalf("bad filters: %v", fields)
	}
	for _, user := range []string{"carol", "frank", "dave"} {
		checkProblem(t, e.do("GET", "/api/v1/orders", user, nil), http.StatusForbidden)
	}
}

// newestFirst sorts order ids newest (highest) first, as the list does.
func newestFirst(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

func TestOrderInvoices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	o1 := e.enterOrder("alice", orderBody())
	o2 := e.enterOrder("aaron", with(orderBody(), "customer_id", "cus_globex"))
	today := time.Now().UTC()
	day := func(d int) string { return today.AddDate(0, 0, d).Format(time.DateOnly) }
	issue := func(key, order, customer, amount, paid, due string) domain.Invoice {
		var inv domain.Invoice
		err := e.st.WithTx(ctx, func(tx pgx.Tx) error {
			var err error
			inv, err = store.IssueInvoice(ctx, tx, domain.IssueInvoiceInput{Key: key, OrderID: order, CustomerID: customer,
				Kind: domain.InvoiceFinal, Amount: domain.Money{Amount: amount, Currency: "CNY"},
				Paid: domain.Money{Amount: paid, Currency: "CNY"}, DueOn: due, At: today.AddDate(0, 0, -40)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	overdue := issue("k/overdue", o1, "cus_acme", "300.00", "100.00", day(-12))
	notDue := issue("k/open", o2, "cus_globex", "300.00", "0", day(5))
	paid := issue("k/paid", o2, "cus_globex", "50.00", "50.00", day(-30))

	r := e.do("GET", "/api/v1/invoices?status=overdue", "erin", nil).want(http.StatusOK)
	items := r.json()["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("overdue: %s", r.Body.String())
	}
	got := items[0].(map[string]any)
	if got["number"] != overdue.Number || got["days_overdue"] != float64(12) || got["customer_id"] != "cus_acme" ||
		got["customer_name"] != "Acme" || got["rep"] != "alice" || got["status"] != "open" || got["due_on"] != day(-12) ||
		fmt.Sprint(got["open"]) != "map[amount:200.00 currency:CNY]" || got["order_id"] != o1 {
		t.Fatalf("overdue invoice: %v", got)
	}
	numbers := func(query, user string) []string {
		var out []string
		for _, it := range e.do("GET", "/api/v1/invoices"+query, user, nil).want(http.StatusOK).json()["items"].([]any) {
			out = append(out, it.(map[string]any)["number"].(string))
		}
		return out
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?status=open", []string{overdue.Number, notDue.Number}}, // by due date
		{"?status=paid", []string{paid.Number}},
		{"", []string{overdue.Number, notDue.Number, paid.Number}}, // by number
		{"?customer_id=cus_globex", []string{notDue.Number, paid.Number}},
		{"?status=void", nil},
	} {
		for _, user := range []string{"erin", "bob", "judy", "admin"} {
			if got := numbers(c.query, user); !slices.Equal(got, c.want) {
				t.Errorf("%s as %s: %v, want %v", c.query, user, got, c.want)
			}
		}
	}
	// The open invoice not yet due is not overdue.
	for _, it := range e.do("GET", "/api/v1/invoices?status=open", "erin", nil).json()["items"].([]any) {
		if m := it.(map[string]any); m["number"] == notDue.Number && m["days_overdue"] != float64(0) {
			t.Errorf("not due: %v", m)
		}
	}
	// Paging the due list.
	r = e.do("GET", "/api/v1/invoices?status=open&limit=1", "erin", nil).want(http.StatusOK)
	_, next := r.items()
	if next == "" {
		t.Fatal("no next cursor")
	}
	if got := numbers("?status=open&limit=1&cursor="+next, "erin"); !slices.Equal(got, []string{notDue.Number}) {
		t.Fatalf("page 2: %v", got)
	}
	fields := checkProblem(t, e.do("GET", "/api/v1/invoices?status=late&cursor="+next, "erin", nil), http.StatusUnprocessableEntity)
	if !slices.Equal(fields, []string{"cursor", "status"}) {
		t.Fatalf("bad filters: %v", fields)
	}
	for _, user := range []string{"alice", "carol", "frank"} {
		checkProblem(t, e.do("GET", "/api/v1/invoices", user, nil), http.StatusForbidden)
	}
}

// The order Updates: who sends them, what reaches the workflow, and how its refusals
// are answered.
func TestOrderUpdates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fakeOrderWorkflow()
	id := e.enterOrder("alice", orderBody())
	e.insertOrder("ord_invoiced", "alice", "cus_acme", domain.OrderInvoiced)

	e.do("POST", "/api/v1/orders/"+id+"/progress", "bob", map[string]any{"note": "parts arrived"}).want(http.StatusForbidden)
	got := e.do("POST", "/api/v1/orders/"+id+"/progress", "alice", map[string]any{"note": "parts arrived"}).want(http.StatusOK).json()
	if got["id"] != id || got["timeline"] == nil {
		t.Fatalf("progress: %v", got)
	}
	u := e.tc.lastUpdate()
	if u.WorkflowID != "order/"+id || u.UpdateName != domain.UpdateOrderProgress ||
		u.Args[0] != (domain.OrderProgressRequest{Actor: "alice", Note: "parts arrived"}) {
		t.Fatalf("progress update: %+v", u)
	}
	e.do("POST", "/api/v1/orders/"+id+"/prepayments", "erin",
		map[string]any{"amount": map[string]any{"amount": "90.00", "currency": "CNY"}, "reference": "BANK-1"}).want(http.StatusOK)
	if u := e.tc.lastUpdate(); u.UpdateName != domain.UpdateRecordPrepayment ||
		u.Args[0] != (domain.PaymentRequest{Actor: "erin", Amount: domain.Money{Amount: "90.00", Currency: "CNY"}, Reference: "BANK-1"}) {
		t.Fatalf("prepayment update: %+v", u)
	}
	e.do("POST", "/api/v1/orders/ord_invoiced/payments", "erin", map[string]any{"amount": map[string]any{"amount": "100.00", "currency": "CNY"},
		"received_on": "2026-12-01", "reference": "BANK-2"}).want(http.StatusOK)
	if u := e.tc.lastUpdate(); u.WorkflowID != "order/ord_invoiced" || u.UpdateName != domain.UpdateRecordPayment ||
		u.Args[0] != (domain.PaymentRequest{Actor: "erin", Amount: domain.Money{Amount: "100.00", Currency: "CNY"}, ReceivedOn: "2026-12-01", Reference: "BANK-2"}) {
		t.Fatalf("payment update: %+v", u)
	}
	e.do("POST", "/api/v1/orders/"+id+"/cancel", "alice", map[string]any{"reason": "customer changed plans"}).want(http.StatusOK)
	if u := e.tc.lastUpdate(); u.UpdateName != domain.UpdateCancelOrder ||
		u.Args[0] != (domain.CancelOrderRequest{Actor: "alice", Reason: "customer changed plans"}) {
		t.Fatalf("cancel update: %+v", u)
	}

	// The workflow's refusals: 409 for the wrong status, 422 naming the body's fields.
	checkProblem(t, e.do("POST", "/api/v1/orders/ord_invoiced/cancel", "alice", map[string]any{"reason": "too late"}), http.StatusConflict)
	checkProblem(t, e.do("POST", "/api/v1/orders/"+id+"/payments", "erin", map[string]any{"amount": map[string]any{"amount": "1.00", "currency": "CNY"},
		"received_on": "2026-12-01", "reference": "x"}), http.StatusConflict)
	fields := checkProblem(t, e.do("POST", "/api/v1/orders/ord_invoiced/payments", "erin", map[string]any{"amount": map[string]any{"amount": "300.01", "currency": "CNY"},
		"received_on": "2026-12-01", "reference": "x"}), http.StatusUnprocessableEntity)
	if !slices.Equal(fields, []string{"amount"}) {
		t.Fatalf("over-payment: %v", fields)
	}
	// Anything but a refusal the API can name is a 500.
	e.tc.mu.Lock()
	e.tc.onUpdate = func(client.UpdateWorkflowOptions) (any, error) { return nil, fmt.Errorf("boom") }
	e.tc.mu.Unlock()
	checkProblem(t, e.do("POST", "/api/v1/orders/"+id+"/progress", "alice", map[string]any{"note": "x"}), http.StatusInternalServerError)
}

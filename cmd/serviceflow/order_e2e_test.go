package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/serviceflow/serviceflow/domain"
)

var invoiceNoRE = regexp.MustCompile(`^FP-\d{4}-\d{6}$`)

// customerLink waits for the newest e-mail to the customer whose text contains text
// and a customer link, and returns the link's token.
func (s *stack) customerLink(to, text string) string {
	s.t.Helper()
	var token string
	eventually(s.t, 30*time.Second, "an e-mail to "+to+" with "+text, func() bool {
		for _, m := range s.sg.find(func(m sentMail) bool { return m.To == to && strings.Contains(m.Text, text) }) {
			if mm := feedbackLinkRE.FindStringSubmatch(m.Text); mm != nil {
				token = mm[1]
			}
		}
		return token != ""
	})
	return token
}

// postKeyed sends a JSON POST as user with an Idempotency-Key, without touching t.
func (s *stack) postKeyed(user, path, key string, body any) (int, string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequest("POST", s.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.tokens[user])
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), err
}

// answerLink opens a customer link's page, then posts the form values to it.
func (s *stack) answerLink(token string, form url.Values) {
	s.t.Helper()
	resp, err := http.Get(s.base + "/c/" + token)
	if err != nil || resp.StatusCode != 200 {
		s.t.Fatalf("customer page: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.PostForm(s.base+"/c/"+token, form)
	if err != nil || resp.StatusCode != 200 {
		s.t.Fatalf("customer answer %v: %v %v", form, err, resp)
	}
	resp.Body.Close()
}

// act completes the open task of an order's step as user.
func (s *stack) act(user, scope, orderID, step string, body map[string]any) map[string]any {
	s.t.Helper()
	task := s.findTask(user, scope, orderID, step)
	return s.must(200, user, "POST", "/api/v1/tasks/"+task["id"].(string)+"/complete", body)
}

// orderStatus waits until the order has status.
func (s *stack) orderStatus(user, id, status string) map[string]any {
	s.t.Helper()
	var got map[string]any
	eventually(s.t, 30*time.Second, "order "+id+" "+status, func() bool {
		got = s.must(200, user, "GET", "/api/v1/orders/"+id, nil)
		return got["status"] == status
	})
	return got
}

func newOrderBody(customer string) map[string]any {
	return map[string]any{
		"customer_id": customer,
		"lines": []any{
			map[string]any{"sku": "PUMP-100", "description": "Centrifugal pump", "quantity": 4, "unit_price": map[string]any{"amount": "2500.00", "currency": "CNY"}},
			map[string]any{"sku": "SEAL-7", "description": "Seal kit", "quantity": 10, "unit_price": map[string]any{"amount": "120.50", "currency": "CNY"}},
		},
		"requested_delivery_date": "2027-06-30",
		"payment_terms":           map[string]any{"net_days": 30},
		"delivery":                map[string]any{"method": "delivery", "transport": "truck", "consignee": "Li Wei", "address": "88 Harbour Road, Ningbo"},
	}
}

// TestOrderEndToEnd takes an order from entry to paid over HTTP, with the customer's
// confirmation and acceptance through their links and the e-mails at the fake SendGrid;
// then cancels an order with a prepayment and checks what was undone.
func TestOrderEndToEnd(t *testing.T) {
	s := startStack(t, nil)
	customer := "ops@contoso.example"

	// Bad input loses nothing and names the fields.
	bad := newOrderBody("cus_DEMO_CONTOSO")
	bad["lines"] = []any{map[string]any{"sku": "PUMP-100", "description": "", "quantity": 0, "unit_price": map[string]any{"amount": "-1", "currency": "CNY"}}}
	out := s.must(422, "alice", "POST", "/api/v1/orders", bad)
	for _, f := range []string{"lines[0].description", "lines[0].quantity", "lines[0].unit_price"} {
		if !strings.Contains(out["_raw"].(string), `"`+f+`"`) {
			t.Fatalf("422 does not name %s: %v", f, out["_raw"])
		}
	}
	s.must(422, "alice", "POST", "/api/v1/orders", newOrderBody("cus_DEMO_HUADONG")) // aaron's customer
	s.must(403, "erin", "POST", "/api/v1/orders", newOrderBody("cus_DEMO_CONTOSO"))
	if l := items(s.must(200, "bob", "GET", "/api/v1/orders", nil)); len(l) != 0 {
		t.Fatalf("bad requests left orders behind: %v", l)
	}

	created := s.must(201, "alice", "POST", "/api/v1/orders", newOrderBody("cus_DEMO_CONTOSO"))
	id, _ := created["id"].(string)
	total, _ := created["total"].(map[string]any)
	if !strings.HasPrefix(id, "ord_") || created["status"] != "in_review" || total["amount"] != "11205.00" || total["currency"] != "CNY" {
		t.Fatalf("201 body: %v", created["_raw"])
	}
	s.must(404, "carol", "GET", "/api/v1/orders/"+id, nil) // customer service has no part in orders

	// bob, alice's manager, has the review in his own inbox.
	s.act("bob", "mine", id, "order_review", map[string]any{"action": "approve", "comment": "fine"})
	s.orderStatus("alice", id, "awaiting_confirmation")

	// The customer confirms through the link.
	s.answerLink(s.customerLink(customer, id), url.Values{"decision": {"confirm"}})
	got := s.orderStatus("alice", id, "in_production")
	if got["credit"] == nil || got["credit"].(map[string]any)["passed"] != true {
		t.Fatalf("credit check not recorded as passed: %v", got["_raw"])
	}

	s.act("grace", "group", id, "production", map[string]any{"action": "accept", "data": map[string]any{"planned_date": "2027-06-20"}})
	s.act("grace", "mine", id, "production", map[string]any{"action": "done"})
	s.act("frank", "group", id, "quality_inspection", map[string]any{"action": "pass"})
	s.act("leo", "group", id, "ship", map[string]any{"action": "ship",
		"data": map[string]any{"carrier": "SF Express", "tracking_no": "SF1234567", "certificate_no": "QC-2027-88"}})
	s.orderStatus("alice", id, "shipped")

	// The shipment e-mail carries the tracking number and the acceptance link.
	token := s.customerLink(customer, "SF1234567")
	shipped := s.sg.find(func(m sentMail) bool { return m.To == customer && strings.Contains(m.Text, "SF1234567") })
	if len(shipped) != 1 {
		t.Fatalf("%d shipment e-mails with the tracking number", len(shipped))
	}
	s.answerLink(token, url.Values{"decision": {"accept"}})
	got = s.orderStatus("erin", id, "invoiced")
	inv := got["invoice"].(map[string]any)
	number := inv["number"].(string)
	if !invoiceNoRE.MatchString(number) || inv["amount"].(map[string]any)["amount"] != "11205.00" || inv["status"] != "open" {
		t.Fatalf("invoice: %v", inv)
	}
	// 30 days after the acceptance's day in the company's zone (UTC+8).
	policy := domain.DefaultOrderPolicy()
	due, before := policy.DueOn(time.Now(), 30), policy.DueOn(time.Now().Add(-time.Minute), 30)
	if inv["due_on"] != due && inv["due_on"] != before {
		t.Fatalf("due on %v, want %s", inv["due_on"], due)
	}
	eventually(t, 30*time.Second, "the invoice e-mail", func() bool {
		return len(s.sg.find(func(m sentMail) bool { return m.To == customer && strings.Contains(m.Text, number) })) == 1
	})

	// Payments: only finance, partial, then over, then the rest.
	pay := func(amount string) map[string]any {
		return map[string]any{"amount": map[string]any{"amount": amount, "currency": "CNY"}, "received_on": time.Now().UTC().Format(time.DateOnly), "reference": "BANK-" + amount}
	}
	s.must(403, "alice", "POST", "/api/v1/orders/"+id+"/payments", pay("100.00"))
	// Sent twice at once with one Idempotency-Key (a double click): recorded once.
	var wg sync.WaitGroup
	parts := make([]string, 2)
	for i := range parts {
		wg.Go(func() {
			code, body, err := s.postKeyed("erin", "/api/v1/orders/"+id+"/payments", "pay-5000", pay("5000.00"))
			parts[i] = fmt.Sprintf("%d %v %s", code, err, body)
		})
	}
	wg.Wait()
	for _, p := range parts {
		if !strings.HasPrefix(p, "200 <nil>") {
			t.Fatalf("a keyed payment: %s", p)
		}
	}
	part := s.must(200, "erin", "GET", "/api/v1/orders/"+id, nil)
	if part["status"] != "invoiced" || part["invoice"].(map[string]any)["open"].(map[string]any)["amount"] != "6205.00" ||
		len(part["payments"].([]any)) != 1 {
		t.Fatalf("after a partial payment sent twice: %v", part["_raw"])
	}
	over := s.must(422, "erin", "POST", "/api/v1/orders/"+id+"/payments", pay("6205.01"))
	if !strings.Contains(over["_raw"].(string), `"amount"`) {
		t.Fatalf("over-payment: %v", over["_raw"])
	}
	paid := s.must(200, "erin", "POST", "/api/v1/orders/"+id+"/payments", pay("6205.00"))
	if paid["status"] != "paid" || paid["invoice"].(map[string]any)["status"] != "paid" {
		t.Fatalf("after the full payment: %v", paid["_raw"])
	}
	s.must(409, "erin", "POST", "/api/v1/orders/"+id+"/payments", pay("1.00"))
	list := items(s.must(200, "erin", "GET", "/api/v1/invoices?status=paid", nil))
	if len(list) != 1 || list[0]["number"] != number || list[0]["customer_name"] != "Contoso Fabrication" {
		t.Fatalf("paid invoices: %v", list)
	}
	s.must(403, "alice", "GET", "/api/v1/invoices", nil)
	events := map[string]bool{}
	for _, e := range paid["timeline"].([]any) {
		events[e.(map[string]any)["event"].(string)] = true
	}
	for _, want := range []string{"entered", "review_approved", "credit_passed", "confirmed", "production_scheduled",
		"inspection_passed", "shipped", "accepted", "invoiced", "payment_recorded", "paid"} {
		if !events[want] {
			t.Errorf("timeline lacks %s: %v", want, events)
		}
	}
	eventually(t, 30*time.Second, "the order workflow to end", func() bool {
		d, err := s.tc.DescribeWorkflowExecution(t.Context(), "order/"+id, "")
		return err == nil && d.WorkflowExecutionInfo.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	s.recordHistory("order/"+id, "order_paid")

	// --- a prepaid order cancelled in review: the invoice voided, the prepayment refunded ---
	c2 := s.must(201, "alice", "POST", "/api/v1/orders", newOrderBody("cus_DEMO_CONTOSO"))["id"].(string)
	pre := s.must(200, "erin", "POST", "/api/v1/orders/"+c2+"/prepayments", map[string]any{
		"amount": map[string]any{"amount": "3000.00", "currency": "CNY"}, "reference": "ADV-1"})
	pinv := pre["prepayment_invoices"].([]any)[0].(map[string]any)
	if !invoiceNoRE.MatchString(pinv["number"].(string)) || pinv["status"] != "paid" {
		t.Fatalf("prepayment invoice: %v", pre["_raw"])
	}
	s.must(403, "leo", "POST", "/api/v1/orders/"+c2+"/cancel", map[string]any{"reason": "no"})
	s.must(422, "alice", "POST", "/api/v1/orders/"+c2+"/cancel", map[string]any{"reason": ""})
	cancelled := s.must(200, "bob", "POST", "/api/v1/orders/"+c2+"/cancel", map[string]any{"reason": "customer changed plans"})
	if cancelled["status"] != "cancelled" {
		t.Fatalf("cancel: %v", cancelled["_raw"])
	}
	s.must(409, "alice", "POST", "/api/v1/orders/"+c2+"/cancel", map[string]any{"reason": "again"})
	s.act("erin", "group", c2, "refund_prepayment", map[string]any{"action": "refunded", "data": map[string]any{"reference": "RF-9"}})
	var final map[string]any
	eventually(t, 30*time.Second, "the refund recorded", func() bool {
		final = s.must(200, "alice", "GET", "/api/v1/orders/"+c2, nil)
		comps, _ := final["cancellation"].(map[string]any)["compensations"].([]any)
		return len(comps) == 2
	})
	comps := final["cancellation"].(map[string]any)["compensations"].([]any)
	if comps[0].(map[string]any)["kind"] != "void_invoice" || comps[1].(map[string]any)["kind"] != "refund_prepayment" {
		t.Fatalf("compensations: %v", comps)
	}
	void := items(s.must(200, "erin", "GET", "/api/v1/invoices?status=void", nil))
	if len(void) != 1 || void[0]["number"] != pinv["number"] {
		t.Fatalf("void invoices: %v", void)
	}
	eventually(t, 30*time.Second, "the cancelled order's workflow to end", func() bool {
		d, err := s.tc.DescribeWorkflowExecution(t.Context(), "order/"+c2, "")
		return err == nil && d.WorkflowExecutionInfo.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	s.recordHistory("order/"+c2, "order_cancelled")

	if dup := s.sg.duplicates(); len(dup) > 0 {
		t.Fatalf("e-mails sent twice: %v", dup)
	}
}

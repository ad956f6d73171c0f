package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserOrderCustomerLinks is the customer's side of an order, on a phone, in
// Chinese: the confirmation page (a decline without a reason is told what is missing,
// then the customer confirms), and the delivery acceptance page, where the customer
// reports a problem. The problem opens a complaint that names the order, the order names
// the complaint, and the order goes on to its invoice without waiting for it.
func TestBrowserOrderCustomerLinks(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, nil)
	ctx := browser(t, &pageErrs, &mu)
	fail := failer(t, &pageErrs, &mu)
	customer := "caigou@litware.example" // zh-CN, alice's customer

	id := s.must(201, "alice", "POST", "/api/v1/orders", newOrderBody("cus_DEMO_LITWARE"))["id"].(string)
	s.act("bob", "mine", id, "order_review", map[string]any{"action": "approve"})

	phone, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	open := func(token, what string) {
		t.Helper()
		fail("open the "+what+" page on a phone", chromedp.Do(phone,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile),
			chromedp.Navigate(s.base+"/c/"+token),
			chromedp.WaitVisible(`input[name="decision"]`),
		))
		fits, err := chromedp.Run(phone, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		fail("measure the "+what+" page", err)
		if !fits {
			t.Errorf("the %s page is wider than the phone's screen", what)
		}
	}
	open(s.customerLink(customer, id), "confirmation")
	heading, err := textOf(phone, `h1`)
	fail("read the heading", err)
	lines, err := textOf(phone, `table.lines`)
	fail("read the lines", err)
	if heading != "请确认您的订单" || !strings.Contains(lines, "PUMP-100") || !strings.Contains(lines, "11205.00 CNY") {
		t.Errorf("the confirmation page: %q, lines %q", heading, lines)
	}
	checkAccessible(t, phone, "the order confirmation page on a phone")
	screenshot(t, phone, "order-confirm-phone.png")
	fail("decline without a reason", chromedp.Do(phone,
		chromedp.Click(`input[name="decision"][value="decline"]`),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`#reason-error`),
	))
	checkAccessible(t, phone, "the confirmation page with an error")
	fail("confirm", chromedp.Do(phone,
		chromedp.Click(`input[name="decision"][value="confirm"]`),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`//h1[contains(., "感谢您的确认")]`),
	))
	s.orderStatus("alice", id, "in_production")

	s.act("grace", "group", id, "production", map[string]any{"action": "accept", "data": map[string]any{"planned_date": "2027-06-20"}})
	s.act("grace", "mine", id, "production", map[string]any{"action": "done"})
	s.act("frank", "group", id, "quality_inspection", map[string]any{"action": "pass"})
	s.act("leo", "group", id, "ship", map[string]any{"action": "ship",
		"data": map[string]any{"carrier": "顺丰速运", "tracking_no": "SF7654321", "certificate_no": "QC-2027-90"}})

	open(s.customerLink(customer, "SF7654321"), "acceptance")
	facts, err := textOf(phone, `dl`)
	fail("read the shipment", err)
	if !strings.Contains(facts, "SF7654321") || !strings.Contains(facts, "QC-2027-90") {
		t.Errorf("the acceptance page lacks the shipment: %q", facts)
	}
	checkAccessible(t, phone, "the delivery acceptance page on a phone")
	screenshot(t, phone, "order-accept-phone.png")
	fail("report a problem", chromedp.Do(phone,
		chromedp.Click(`input[name="decision"][value="problem"]`),
		chromedp.SendKeys(`#problem`, "两台泵外壳有凹痕。Two pump housings are dented."),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`//h1[contains(., "感谢您的反馈")]`),
	))

	got := s.orderStatus("erin", id, "invoiced")
	ids, _ := got["complaint_ids"].([]any)
	if len(ids) != 1 {
		t.Fatalf("the order lists %d complaints: %v", len(ids), got["_raw"])
	}
	cmp := ids[0].(string)
	var complaint map[string]any
	eventually(t, 30*time.Second, "the complaint filed", func() bool {
		code, out := s.call("carol", "GET", "/api/v1/complaints/"+cmp, nil)
		complaint = out
		return code == 200
	})
	if complaint["order_id"] != id || !strings.Contains(complaint["description"].(string), "dented") || complaint["customer_id"] != "cus_DEMO_LITWARE" {
		t.Fatalf("the complaint from the delivery problem: %v", complaint["_raw"])
	}
	// Customer service has it in their inbox, as any complaint.
	s.findTask("carol", "group", cmp, "evaluate")
	checkPageErrors(t, &pageErrs, &mu)
}

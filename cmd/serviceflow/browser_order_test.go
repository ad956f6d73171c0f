package main

import (
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserOrder: alice enters an order with the new-order form (a quantity of 0 first
// shows its field error, what she typed kept) and lands on its page; the middle of the
// order runs over the API (bob's review, the customer's confirmation through the link,
// production, inspection, shipping, the customer's acceptance); grace's production task
// page shows its date field; then erin (finance) opens the invoices and the order's page
// and records a partial payment, then the rest, with its payment form, and the page
// shows it paid. Every new page passes axe; screenshots of the form, the invoices and
// the partly paid order are saved (screenshotDir).
func TestBrowserOrder(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, nil)
	ctx := browser(t, &pageErrs, &mu)
	fail := failer(t, &pageErrs, &mu)
	customer := "ops@contoso.example"

	// Alice fills in the form with a quantity of 0 on the first line: its error, at the
	// line's input, and the rest kept.
	fail("alice fills in the order", chromedp.Do(ctx,
		signIn(s.base, "alice", DevPassword),
		chromedp.WaitVisible(`#nav-new-order`),
		chromedp.Click(`#nav-new-order`),
		chromedp.WaitVisible(`#order-form`),
		chromedp.SetValue(`#order-customer`, "cus_DEMO_CONTOSO"),
		chromedp.SendKeys(`#line-0-sku`, "PUMP-100"),
		chromedp.SendKeys(`#line-0-description`, "Centrifugal pump"),
		chromedp.SendKeys(`#line-0-quantity`, "0"),
		chromedp.SendKeys(`#line-0-unit_price`, "2500.00"),
		chromedp.SendKeys(`#line-1-sku`, "SEAL-7"),
		chromedp.SendKeys(`#line-1-description`, "Seal kit"),
		chromedp.SendKeys(`#line-1-quantity`, "10"),
		chromedp.SendKeys(`#line-1-unit_price`, "120.50"),
		chromedp.SetValue(`#order-date`, "2027-06-30"),
		chromedp.SendKeys(`#order-transport`, "truck"),
		chromedp.SendKeys(`#order-consignee`, "Li Wei"),
		chromedp.SendKeys(`#order-address`, "88 Harbour Road, Ningbo"),
		chromedp.Click(`#order-submit`),
		chromedp.WaitVisible(`#line-0-quantity-error`),
	))
	msg, err := textOf(ctx, `#line-0-quantity-error`)
	fail("read the quantity's error", err)
	kept, err := chromedp.Run(ctx, chromedp.Value(`#line-1-description`))
	fail("read the kept line", err)
	if !strings.Contains(msg, "whole number") || kept != "Seal kit" {
		t.Errorf("the form after a bad quantity: error %q, second line %q", msg, kept)
	}
	checkAccessible(t, ctx, "the new-order form with a field error")
	screenshot(t, ctx, "new-order-form.png")

	// The quantity mended, the order is entered: its page, with a notice.
	fail("alice enters the order", chromedp.Do(ctx,
		chromedp.SetValue(`#line-0-quantity`, "4"),
		chromedp.Click(`#order-submit`),
		chromedp.WaitVisible(`#order-facts`),
		chromedp.WaitVisible(`.notice`),
	))
	id, err := textOf(ctx, `#case-id`)
	fail("read the order's id", err)
	id = strings.TrimSpace(id)
	total, err := textOf(ctx, `#lines-total`)
	fail("read the total", err)
	if !strings.HasPrefix(id, "ord_") || total != "11205.00 CNY" {
		t.Fatalf("the order page: id %q, total %q", id, total)
	}
	checkAccessible(t, ctx, "a new order's page")
	fail("alice's order list", chromedp.Do(ctx, chromedp.Click(`#nav-orders`), chromedp.WaitVisible(`#order-`+id)))
	checkAccessible(t, ctx, "the orders list")

	// The middle, over the API.
	s.act("bob", "mine", id, "order_review", map[string]any{"action": "approve", "comment": "fine"})
	s.orderStatus("alice", id, "awaiting_confirmation")
	s.answerLink(s.customerLink(customer, id), url.Values{"decision": {"confirm"}})
	s.orderStatus("alice", id, "in_production")
	// grace's production task asks for a date with a date input.
	prod := s.findTask("grace", "group", id, "production")["id"].(string)
	gctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	fail("grace opens the production task", chromedp.Do(gctx,
		signIn(s.base, "grace", DevPassword),
		chromedp.WaitVisible(`#tab-mine`),
		chromedp.Navigate(s.base+"/tasks/"+prod),
		chromedp.WaitVisible(`#f-planned_date[type=date]`),
		chromedp.WaitVisible(`#task-case`),
	))
	ctxText, err := textOf(gctx, `#ctx-lines > dd`)
	fail("read the task's lines", err)
	if !strings.Contains(ctxText, "4 × PUMP-100 Centrifugal pump") {
		t.Errorf("the production task's lines: %q", ctxText)
	}
	checkAccessible(t, gctx, "the production task page")
	s.act("grace", "group", id, "production", map[string]any{"action": "accept", "data": map[string]any{"planned_date": "2027-06-20"}})
	s.act("grace", "mine", id, "production", map[string]any{"action": "done"})
	s.act("frank", "group", id, "quality_inspection", map[string]any{"action": "pass"})
	s.act("leo", "group", id, "ship", map[string]any{"action": "ship",
		"data": map[string]any{"carrier": "SF Express", "tracking_no": "SF1234567", "certificate_no": "QC-2027-88"}})
	s.orderStatus("alice", id, "shipped")
	// The acceptance link is the one of the shipment's e-mail (with the tracking number),
	// not the confirmation's, answered already.
	var token string
	eventually(t, 30*time.Second, "the shipment e-mail", func() bool {
		for _, m := range s.sg.find(func(m sentMail) bool { return m.To == customer && strings.Contains(m.Text, "SF1234567") }) {
			if mm := feedbackLinkRE.FindStringSubmatch(m.Text); mm != nil {
				token = mm[1]
			}
		}
		return token != ""
	})
	s.answerLink(token, url.Values{"decision": {"accept"}})
	got := s.orderStatus("erin", id, "invoiced")
	number := got["invoice"].(map[string]any)["number"].(string)

	// Erin finds the invoice among the open ones and opens its order.
	ectx, cancelErin := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelErin()
	fail("erin opens the invoices", chromedp.Do(ectx,
		signIn(s.base, "erin", DevPassword),
		chromedp.WaitVisible(`#nav-invoices`),
		chromedp.Click(`#nav-invoices`),
		chromedp.WaitVisible(`#invoice-filters`),
	))
	checkAccessible(t, ectx, "the overdue invoices")
	fail("erin lists the open invoices", chromedp.Do(ectx,
		chromedp.SetValue(`#filter-status`, "open"),
		chromedp.Click(`#filter-submit`),
		chromedp.WaitVisible(`#invoice-`+number),
	))
	row, err := textOf(ectx, `#invoice-`+number)
	fail("read the invoice's row", err)
	if !strings.Contains(row, "Contoso") || !strings.Contains(row, "11205.00 CNY") || !strings.Contains(row, "alice") {
		t.Errorf("the invoice's row: %q", row)
	}
	checkAccessible(t, ectx, "the open invoices")
	screenshot(t, ectx, "invoices.png")

	// pay records a payment and waits for the page that answers it: the notice of the
	// payment before is taken off first, or the wait would end on the page before.
	pay := func(amount, ref string) {
		t.Helper()
		fail("erin fills in "+amount, chromedp.Do(ectx,
			chromedp.WaitVisible(`#payment-form`),
			chromedp.SetValue(`#payment-amount`, amount),
			chromedp.SetValue(`#payment-reference`, ref),
		))
		_, err := chromedp.Run(ectx, chromedp.Evaluate[bool](`document.querySelectorAll(".notice").forEach(n => n.remove()); true`))
		fail("clear the notice", err)
		fail("erin records "+amount, chromedp.Do(ectx,
			chromedp.Click(`#payment-submit`),
			chromedp.WaitVisible(`.notice`),
		))
	}
	fail("erin opens the order", chromedp.Do(ectx,
		chromedp.Click(`#invoice-`+number+` a.case-link`),
		chromedp.WaitVisible(`#order-invoice`),
	))
	checkAccessible(t, ectx, "an invoiced order with the payment form")
	pay("5000.00", "BANK-5000")
	open, err := textOf(ectx, `#order-invoice #fact-open dd`)
	fail("read the open amount", err)
	if !strings.Contains(open, "6205.00 CNY") {
		t.Errorf("after a partial payment the invoice shows %q", open)
	}
	screenshot(t, ectx, "order-page.png") // a partly paid order, with its payment form
	pay("6205.00", "BANK-6205")
	status, err := textOf(ectx, `#order-status`)
	fail("read the status", err)
	payments, err := textOf(ectx, `#payments-table`)
	fail("read the payments", err)
	if status != "Paid" || !strings.Contains(payments, "BANK-5000") || !strings.Contains(payments, "BANK-6205") {
		t.Errorf("after the full payment: status %q, payments %q", status, payments)
	}
	forms, err := chromedp.Run(ectx, chromedp.Evaluate[int](`document.querySelectorAll("#payment-form").length`))
	fail("count the forms", err)
	if forms != 0 {
		t.Error("a paid order still offers the payment form")
	}
	checkAccessible(t, ectx, "a paid order's page")
	eventually(t, 10*time.Second, "the API has it paid", func() bool {
		return s.must(200, "erin", "GET", "/api/v1/orders/"+id, nil)["status"] == "paid"
	})
	checkPageErrors(t, &pageErrs, &mu, "422")
}

package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserComplaintLifecycle takes a complaint through the web app from filing to
// the customer's feedback, each person in a browser context of their own:
//   - carol records it with the new-complaint form (a missing subject first shows its
//     field error) and lands on its case page;
//   - cathy (zh-CN) has its evaluate task open when carol claims it: her claim is told,
//     in Chinese, that carol has it;
//   - carol completes evaluate (a missing category shows its error), respond and resolve
//     through their forms, each opening the next;
//   - dave approves the refund;
//   - the customer (zh-CN) answers the feedback link of the e-mail at the fake SendGrid
//     on a phone-sized screen;
//   - the case page's timeline shows it all; alice, who may not see the case, gets 404.
func TestBrowserComplaintLifecycle(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, nil)
	ctx := browser(t, &pageErrs, &mu)
	fail := failer(t, &pageErrs, &mu)
	person := func() (context.Context, func()) { return chromedp.NewContext(ctx, chromedp.WithNewBrowserContext()) }
	shot := func(c context.Context, name string) { t.Helper(); screenshot(t, c, name) }

	// Carol records the complaint; the form keeps what she typed when the subject is missing.
	fail("carol files without a subject", chromedp.Do(ctx,
		signIn(s.base, "carol", DevPassword),
		chromedp.WaitVisible(`#nav-new-complaint`),
		chromedp.Click(`#nav-new-complaint`),
		chromedp.WaitVisible(`#complaint-form`),
		chromedp.SetValue(`#complaint-customer`, "cus_DEMO_HUADONG"),
		chromedp.SetValue(`#complaint-channel`, "phone"),
		chromedp.SendKeys(`#complaint-description`, "冷却泵漏油，已停机。Coolant pump leaks oil; the machine is stopped."),
		chromedp.Click(`#complaint-submit`),
		chromedp.WaitVisible(`#complaint-subject-error`),
	))
	kept, err := chromedp.Run(ctx, chromedp.Value(`#complaint-description`))
	fail("read the kept description", err)
	if !strings.Contains(kept, "Coolant pump leaks oil") {
		t.Errorf("the description was not kept after the field error: %q", kept)
	}
	checkAccessible(t, ctx, "the new-complaint form with a field error")
	shot(ctx, "new-complaint-error.png")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#complaint-subject`, "Coolant pump leaks"),
		chromedp.Click(`#complaint-submit`),
		chromedp.WaitVisible(`#case-id`),
	)
	fail("carol files it", err)
	id, err := textOf(ctx, `#case-id`)
	fail("read the case id", err)
	id = strings.TrimSpace(id)
	filed, err := textOf(ctx, `.notice`)
	fail("read the notice", err)
	if !strings.Contains(filed, "Coolant pump leaks") {
		t.Errorf("the case page after filing says %q", filed)
	}
	if !strings.HasPrefix(id, "cmp_") {
		t.Fatalf("the case page's id: %q", id)
	}
	if got := s.must(200, "carol", "GET", "/api/v1/complaints/"+id, nil); got["subject"] != "Coolant pump leaks" || got["filed_by"] != "carol" {
		t.Fatalf("the API has the complaint as %v", got["_raw"])
	}
	checkAccessible(t, ctx, "a new complaint's page")

	// Cathy has the evaluate task open; carol claims it first from her task page.
	evaluate := s.findTask("carol", "group", id, "evaluate")["id"].(string)
	cathy, cancelCathy := person()
	defer cancelCathy()
	fail("cathy opens the task", chromedp.Do(cathy,
		signIn(s.base, "cathy", DevPassword),
		chromedp.WaitVisible(`#tab-mine`),
		chromedp.Navigate(s.base+"/tasks/"+evaluate),
		chromedp.WaitVisible(`#task-claim`),
	))
	fail("carol claims it", chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/tasks/"+evaluate),
		chromedp.WaitVisible(`#task-claim`),
		chromedp.Click(`#task-claim`),
		// The form shows before the claim too (a group member may act unclaimed): wait
		// for the claim itself, or cathy's may come first on a busy machine.
		chromedp.WaitVisible(`#task-unclaim`),
		chromedp.WaitVisible(`#complete-form`),
	))
	fail("cathy claims it too late", chromedp.Do(cathy, chromedp.Click(`#task-claim`), chromedp.WaitVisible(`.notice`)))
	lost, err := textOf(cathy, `.notice`)
	fail("read cathy's notice", err)
	if !strings.Contains(lost, "晚了一步") || !strings.Contains(lost, "carol") {
		t.Errorf("cathy's lost claim says %q, want that carol has it, in Chinese", lost)
	}
	checkAccessible(t, cathy, "cathy's zh-CN page after a lost claim")

	// Evaluate (without a category first), respond and resolve, each opening the next.
	severity, err := chromedp.Run(ctx, chromedp.Value(`#f-severity`))
	fail("read the severity", err)
	if severity != "normal" {
		t.Errorf("the evaluate form's severity starts as %q, want the complaint's (normal)", severity)
	}
	fail("evaluate without a category", chromedp.Do(ctx,
		chromedp.Click(`#action-accept`),
		chromedp.WaitVisible(`#f-category-error`),
	))
	fail("evaluate", chromedp.Do(ctx,
		chromedp.SetValue(`#f-category`, "product"),
		chromedp.Click(`#action-accept`),
		chromedp.WaitVisible(`#f-message`),
		chromedp.SendKeys(`#f-message`, "我们周二派技术员上门。A technician comes on Tuesday."),
		chromedp.Click(`#action-respond`),
		chromedp.WaitVisible(`#f-resolution_type`),
		chromedp.SetValue(`#f-resolution_type`, "refund"),
		chromedp.SendKeys(`#f-summary`, "Pump seal replaced; the call-out fee refunded"),
		chromedp.SendKeys(`#f-amount`, "800.00"),
		chromedp.Click(`#action-resolve`),
		chromedp.WaitVisible(`#tab-mine`), // the next step is the manager's: back to the inbox
	))
	approve := s.findTask("dave", "group", id, "approve_resolution")["id"].(string)
	dave, cancelDave := person()
	defer cancelDave()
	fail("dave approves the resolution", chromedp.Do(dave,
		signIn(s.base, "dave", DevPassword),
		chromedp.WaitVisible(`#tab-mine`),
		chromedp.Navigate(s.base+"/tasks/"+approve),
		chromedp.WaitVisible(`#complete-form`),
		chromedp.Click(`#action-approve`),
		chromedp.WaitVisible(`.notice`),
	))

	// The customer answers the feedback link on a phone.
	var link string
	eventually(t, 30*time.Second, "the feedback e-mail to Huadong", func() bool {
		for _, m := range s.sg.find(func(m sentMail) bool { return m.To == "kefu@huadong.example" }) {
			if mm := feedbackLinkRE.FindStringSubmatch(m.Text); mm != nil && strings.Contains(m.Text, id) {
				link = mm[0]
				return true
			}
		}
		return false
	})
	phone, cancelPhone := person()
	defer cancelPhone()
	fail("the customer opens the link on a phone", chromedp.Do(phone,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile),
		chromedp.Navigate(link),
		chromedp.WaitVisible(`input[name="score"]`),
	))
	fits, err := chromedp.Run(phone, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	fail("measure the page", err)
	if !fits {
		t.Error("the customer's page is wider than the phone's screen")
	}
	heading, err := textOf(phone, `h1`)
	fail("read the customer's heading", err)
	if heading != "您对我们的处理满意吗？" {
		t.Errorf("the customer's page is not in Chinese: %q", heading)
	}
	checkAccessible(t, phone, "the customer's feedback page on a phone")
	shot(phone, "customer-feedback-phone.png")
	fail("the customer answers", chromedp.Do(phone,
		chromedp.Click(`input[name="score"][value="5"]`),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`//h1[contains(., "谢谢")]`),
	))

	// The case page tells the story; alice may not see this case at all.
	eventually(t, 30*time.Second, "the complaint closed", func() bool {
		return s.must(200, "carol", "GET", "/api/v1/complaints/"+id, nil)["status"] == "closed"
	})
	fail("carol lists the closed complaints", chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/complaints?status=closed"),
		chromedp.WaitVisible(`#complaint-`+id),
	))
	checkAccessible(t, ctx, "the complaints list, filtered")
	fail("carol opens the case page", chromedp.Do(ctx, chromedp.Click(`#complaint-`+id+` a`), chromedp.WaitVisible(`#complaint-timeline`)))
	timeline, err := textOf(ctx, `#complaint-timeline`)
	fail("read the timeline", err)
	for _, want := range []string{"carol", "dave", "Pump seal replaced; the call-out fee refunded", "Task opened",
		"To: kefu@huadong.example", "Feedback received"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the case page's timeline lacks %q: %q", want, timeline)
		}
	}
	checkAccessible(t, ctx, "a closed complaint's page")
	shot(ctx, "complaint-page.png")
	alice, cancelAlice := person()
	defer cancelAlice()
	fail("alice signs in", chromedp.Do(alice, signIn(s.base, "alice", DevPassword), chromedp.WaitVisible(`#tab-mine`)))
	resp, err := chromedp.RunResponse(alice, chromedp.Navigate(s.base+"/complaints/"+id))
	fail("alice opens the case", err)
	page, err := textOf(alice, `main`)
	fail("read alice's page", err)
	if resp.Status != 404 || strings.Contains(page, "Coolant pump") {
		t.Errorf("alice, who may not see the case, got %d: %q", resp.Status, page)
	}
	checkAccessible(t, alice, "the 404 page")

	// The refused form (422), the lost claim (409) and alice's 404 are logged as failed loads.
	checkPageErrors(t, &pageErrs, &mu, "422", "409", "404")
}

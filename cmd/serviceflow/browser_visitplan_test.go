package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/serviceflow/serviceflow/domain"
)

// TestBrowserVisitPlan: bob (sales manager) makes a return-visit plan with the plan
// form (a phone visit to Contoso by alice today: the stack's SERVICEFLOW_VISIT_PLAN_LEAD_DAYS
// is 0, so that the visit's task opens at once) and submits it from its page; ken (the
// deputy GM) opens the approve_visit_plan task page and approves it; alice opens her
// return_visit task and records the visit with the datetime input and the topics'
// checkboxes; bob's plan page then shows the visit recorded and a completion rate of
// 100 %. Every new page passes axe; screenshots of the form, the approval, the visit
// record and the completed plan are saved (screenshotDir).
func TestBrowserVisitPlan(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, func(c *Config) { c.VisitPlanLeadDays = 0 })
	ctx := browser(t, &pageErrs, &mu)
	fail := failer(t, &pageErrs, &mu)
	zone := domain.DefaultSurveyPolicy().Zone()
	today := time.Now().In(zone).Format(time.DateOnly)

	fail("bob fills in the plan", chromedp.Do(ctx,
		signIn(s.base, "bob", DevPassword),
		chromedp.WaitVisible(`#nav-new-visit_plan`),
		chromedp.Click(`#nav-new-visit_plan`),
		chromedp.WaitVisible(`#plan-form`),
		chromedp.SendKeys(`#plan-title`, "December return visits"),
		chromedp.SetValue(`#visit-0-customer_id`, "cus_DEMO_CONTOSO"),
		chromedp.SetValue(`#visit-0-method`, "phone"),
		chromedp.SetValue(`#visit-0-planned_on`, today),
		chromedp.SetValue(`#visit-0-rep`, "alice"),
		chromedp.SendKeys(`#visit-0-purpose`, "Check the new press line after its first month"),
		chromedp.SetValue(`#visit-1-customer_id`, "cus_DEMO_NORTHWIND"),
		chromedp.SetValue(`#visit-1-method`, "on_site"),
		chromedp.SetValue(`#visit-1-planned_on`, time.Now().In(zone).AddDate(0, 0, 14).Format(time.DateOnly)),
		chromedp.SetValue(`#visit-1-rep`, "alice"),
	))
	// The second row has no purpose: its error under its cell, the rest kept.
	fail("bob saves with a row missing its purpose", chromedp.Do(ctx,
		chromedp.Click(`#plan-save`),
		chromedp.WaitVisible(`#visit-1-purpose-error`),
	))
	kept, err := chromedp.Run(ctx, chromedp.Value(`#visit-0-purpose`))
	fail("read the kept purpose", err)
	if kept != "Check the new press line after its first month" {
		t.Errorf("the first row's purpose after the error: %q", kept)
	}
	checkAccessible(t, ctx, "the plan form with a row's error")
	screenshot(t, ctx, "visit-plan-form.png")

	fail("bob makes the plan", chromedp.Do(ctx,
		chromedp.SendKeys(`#visit-1-purpose`, "Quarterly maintenance review on site"),
		chromedp.Click(`#plan-save`),
		chromedp.WaitVisible(`#plan-facts`),
		chromedp.WaitVisible(`.notice`),
	))
	id, err := textOf(ctx, `#case-id`)
	fail("read the plan's id", err)
	id = strings.TrimSpace(id)
	if !strings.HasPrefix(id, "vpl_") {
		t.Fatalf("the plan's id %q", id)
	}
	checkAccessible(t, ctx, "a draft plan's page")
	fail("bob submits the plan", chromedp.Do(ctx,
		chromedp.Click(`#plan-submit`),
		chromedp.WaitNotPresent(`#plan-submit`), // the draft's page had a notice too
		chromedp.WaitVisible(`.notice`),
	))
	status, err := textOf(ctx, `#plan-status`)
	fail("read the status", err)
	if status != "Submitted" {
		t.Errorf("after the submission the plan is %q", status)
	}

	// Ken approves it on its task page.
	approval := s.findTask("ken", "group", id, domain.StepApproveVisitPlan)["id"].(string)
	kctx, cancelKen := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelKen()
	fail("ken opens the approval", chromedp.Do(kctx,
		signIn(s.base, "ken", DevPassword),
		chromedp.WaitVisible(`#tab-mine`),
		chromedp.Navigate(s.base+"/tasks/"+approval),
		chromedp.WaitVisible(`#action-approve`),
	))
	visits, err := textOf(kctx, `#ctx-visits > dd`)
	fail("read the plan's visits", err)
	if !strings.Contains(visits, today) || !strings.Contains(visits, "Check the new press line") {
		t.Errorf("the approval's visits: %q", visits)
	}
	checkAccessible(t, kctx, "the plan's approval task")
	screenshot(t, kctx, "visit-plan-approval.png")
	fail("ken approves", chromedp.Do(kctx,
		chromedp.SendKeys(`#f-comment`, "Approved: keep the press line visit short."),
		chromedp.Click(`#action-approve`),
		chromedp.WaitVisible(`.notice`),
	))

	// Alice records the phone visit of today.
	visit := s.findTask("alice", "mine", id, domain.StepReturnVisit)["id"].(string)
	actx, cancelAlice := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelAlice()
	fail("alice opens the visit", chromedp.Do(actx,
		signIn(s.base, "alice", DevPassword),
		chromedp.WaitVisible(`#tab-mine`),
		chromedp.Navigate(s.base+"/tasks/"+visit),
		chromedp.WaitVisible(`#f-visited_at[type=datetime-local]`),
		chromedp.SetValue(`#f-visited_at`, today+"T10:30"),
		chromedp.SetValue(`#f-method`, "phone"),
		chromedp.Click(`#f-discussed-product_use`),
		chromedp.Click(`#f-discussed-needs`),
		chromedp.SendKeys(`#f-satisfaction`, "4"),
		chromedp.SendKeys(`#f-needs`, "A second press line next year: wants a quote in March."),
	))
	checkAccessible(t, actx, "the visit record form")
	screenshot(t, actx, "visit-record.png")
	fail("alice records the visit", chromedp.Do(actx,
		chromedp.Click(`#action-done`),
		chromedp.WaitVisible(`.notice`),
	))

	// The plan's page: the visit recorded (at 10:30 in alice's zone), 1 of 2 visits.
	eventually(t, 30*time.Second, "the visit recorded", func() bool {
		got := s.must(200, "bob", "GET", "/api/v1/visit-plans/"+id, nil)
		return got["completed"] == float64(1)
	})
	fail("bob reloads the plan", chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/visit-plans/"+id),
		chromedp.WaitVisible(`#plan-rate`),
	))
	rate, err := textOf(ctx, `#plan-rate`)
	fail("read the rate", err)
	row, err := textOf(ctx, `#visit-1`)
	fail("read the visit", err)
	if rate != "50.0 %" || !strings.Contains(row, "Completed") || !strings.Contains(row, today+" 10:30 UTC+8") ||
		!strings.Contains(row, "4/5") || !strings.Contains(row, "Product use, Needs") {
		t.Errorf("the plan after the record: rate %q, visit %q", rate, row)
	}
	checkAccessible(t, ctx, "the plan's page with a recorded visit")
	screenshot(t, ctx, "visit-plan-page.png")
	checkPageErrors(t, &pageErrs, &mu, "422")
}

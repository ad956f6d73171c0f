package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// decideInBrowser signs user in, in a browser context of its own under ctx, opens task
// taskID's page, fills in the form fields given (by field name) and presses the action's
// button; it returns the notice the next page shows.
func decideInBrowser(ctx context.Context, base, user, taskID, action string, fields map[string]string) (string, error) {
	bctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	steps := []chromedp.Action[chromedp.Void]{
		signIn(base, user, DevPassword),
		chromedp.WaitVisible(`#tab-mine`),
		chromedp.Navigate(base + "/tasks/" + taskID),
		chromedp.WaitVisible(`#complete-form`),
	}
	for name, v := range fields {
		steps = append(steps, chromedp.SendKeys(`#f-`+name, v))
	}
	steps = append(steps, chromedp.Click(`#action-`+action), chromedp.WaitVisible(`.notice`))
	if err := chromedp.Do(bctx, steps...); err != nil {
		return "", fmt.Errorf("%s on %s: %w", user, taskID, err)
	}
	return textOf(bctx, `.notice`)
}

// TestBrowserSpecialContract: alice submits a special contract with the new-contract
// form; its four department countersigns are made by four people at once, each in a
// browser context of their own; then the head of operations and the general manager
// approve it in theirs, and the contract ledger page and the contract's page show its
// number.
func TestBrowserSpecialContract(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, nil)
	ctx := browser(t, &pageErrs, &mu)
	// Alice submits the contract with the new-contract form and lands on its page.
	fail := failer(t, &pageErrs, &mu)
	fail("alice fills in the contract", chromedp.Do(ctx,
		signIn(s.base, "alice", DevPassword),
		chromedp.WaitVisible(`#nav-new-contract`),
		chromedp.Click(`#nav-new-contract`),
		chromedp.WaitVisible(`#contract-form`),
		chromedp.SetValue(`#contract-customer`, "cus_DEMO_NORTHWIND"),
		chromedp.SendKeys(`#contract-title`, "Custom gantry mill"),
		chromedp.SendKeys(`#contract-amount`, "480000.00"),
		chromedp.SetValue(`#contract-delivery`, "2027-06-30"),
		chromedp.SendKeys(`#contract-payment`, "30% advance, 70% on acceptance"),
		chromedp.Click(`#contract-req-custom_spec`),
	))
	checkAccessible(t, ctx, "the new-contract form")
	fail("alice submits it", chromedp.Do(ctx, chromedp.Click(`#contract-submit`), chromedp.WaitVisible(`#contract-terms`),
		chromedp.WaitVisible(`.notice`)))
	id, err := textOf(ctx, `#case-id`)
	fail("read the contract's id", err)
	id = strings.TrimSpace(id)
	c := s.must(200, "alice", "GET", "/api/v1/contracts/"+id, nil)
	if c["class"] != "special" || c["title"] != "Custom gantry mill" || c["submitted_by"] != "alice" {
		t.Fatalf("the API has the contract as %v", c["_raw"])
	}
	signers := map[string]string{"grace": "countersign_production", "frank": "countersign_quality",
		"heidi": "countersign_purchasing", "erin": "countersign_finance"}
	var wg sync.WaitGroup
	results := map[string]string{}
	for user, step := range signers {
		taskID := s.findTask(user, "group", id, step)["id"].(string)
		wg.Go(func() {
			notice, err := decideInBrowser(ctx, s.base, user, taskID, "approve", map[string]string{"opinion": user + " can do it"})
			mu.Lock()
			defer mu.Unlock()
			results[user] = fmt.Sprintf("%v %s", err, notice)
		})
	}
	wg.Wait()
	for user, r := range results {
		if !strings.HasPrefix(r, "<nil> Done") {
			t.Fatalf("%s countersigning in the browser: %s", user, r)
		}
	}
	for _, d := range []struct{ user, step string }{{"ivan", "ops_review"}, {"judy", "gm_approval"}} {
		taskID := s.findTask(d.user, "group", id, d.step)["id"].(string)
		if notice, err := decideInBrowser(ctx, s.base, d.user, taskID, "approve", nil); err != nil || !strings.HasPrefix(notice, "Done") {
			t.Fatalf("%s, %s: %q %v", d.user, d.step, notice, err)
		}
	}
	var got map[string]any
	eventually(t, 30*time.Second, "the contract approved", func() bool {
		got = s.must(200, "alice", "GET", "/api/v1/contracts/"+id, nil)
		return got["status"] == "approved"
	})
	ledgerNo := fmt.Sprintf("HT-%d-0001", time.Now().UTC().Year())
	if got["ledger_no"] != ledgerNo {
		t.Fatalf("the approved contract's ledger number: %v", got["ledger_no"])
	}
	// The ledger page lists it with its number; its own page shows the number and the record.
	fail("alice opens her contracts", chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/contracts?class=special"),
		chromedp.WaitVisible(`#contract-`+id),
	))
	checkAccessible(t, ctx, "the contracts list, filtered")
	fail("alice opens the ledger", chromedp.Do(ctx,
		chromedp.Click(`#ledger-link`),
		chromedp.WaitVisible(`#ledger-`+id),
	))
	row, err := textOf(ctx, `#ledger-`+id)
	fail("read the ledger row", err)
	if !strings.Contains(row, ledgerNo) || !strings.Contains(row, "Custom gantry mill") || !strings.Contains(row, "Northwind") {
		t.Errorf("the ledger row: %q, want %s", row, ledgerNo)
	}
	checkAccessible(t, ctx, "the contract ledger")
	ledgerPNG, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	fail("screenshot the ledger", err)
	if err := os.WriteFile(filepath.Join(screenshotDir(t), "ledger.png"), ledgerPNG, 0o644); err != nil {
		t.Fatal(err)
	}
	fail("alice opens the contract", chromedp.Do(ctx, chromedp.Navigate(s.base+"/contracts/"+id), chromedp.WaitVisible(`#contract-reviews`)))
	shown, err := textOf(ctx, `#contract-ledger-no`)
	fail("read the ledger number", err)
	reviews, err := textOf(ctx, `#contract-reviews`)
	fail("read the review record", err)
	if shown != ledgerNo || !strings.Contains(reviews, "judy") || !strings.Contains(reviews, "grace can do it") {
		t.Errorf("the contract page: ledger number %q, review record %q", shown, reviews)
	}
	checkAccessible(t, ctx, "an approved contract's page")

	record, _ := got["review_record"].([]any)
	by := map[string]bool{}
	for _, r := range record {
		by[r.(map[string]any)["reviewer"].(string)] = true
	}
	for _, user := range []string{"grace", "frank", "heidi", "erin", "ivan", "judy"} {
		if !by[user] {
			t.Errorf("the review record lacks %s: %v", user, record)
		}
	}
	checkPageErrors(t, &pageErrs, &mu)
}

package main

import (
	"context"
	"fmt"
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

// TestBrowserSpecialContract: a special contract's four department countersigns are made
// by four people at once, each in a browser context of their own; then the head of
// operations and the general manager approve it in theirs, and the contract ledger page
// shows its number.
func TestBrowserSpecialContract(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, nil)
	ctx := browser(t, &pageErrs, &mu)
	// The first tab starts the browser; each person's context is a new one in it.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/signin")); err != nil {
		t.Fatal(err)
	}

	c := s.must(201, "alice", "POST", "/api/v1/contracts", map[string]any{
		"customer_id": "cus_DEMO_NORTHWIND", "title": "Custom gantry mill",
		"amount":        map[string]any{"amount": "480000.00", "currency": "CNY"},
		"delivery_date": "2027-06-30", "payment_terms": "30% advance, 70% on acceptance",
		"requirements": map[string]any{"custom_spec": true},
	})
	id := c["id"].(string)
	if c["class"] != "special" {
		t.Fatalf("the contract is %v, want special", c["class"])
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
	mu.Lock()
	defer mu.Unlock()
	if len(pageErrs) > 0 {
		t.Errorf("errors in the pages: %v", pageErrs)
	}
}

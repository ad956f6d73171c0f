package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserUrgentComplaintEscalates: with the urgent response SLA at a few seconds, an
// urgent complaint nobody answers escalates through the real workflow's deadline, and
// the escalation appears on dave's open board without a reload. Dave opens it from the
// board and acknowledges it with a comment; the API then lists it as acknowledged.
func TestBrowserUrgentComplaintEscalates(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	const sla = 4 * time.Second
	s := startStack(t, func(c *Config) {
		c.ResponseSLA, c.TierAResponseSLA, c.UrgentResponseSLA = 24*time.Hour, 12*time.Hour, sla
	})
	ctx := browser(t, &pageErrs, &mu)
	fail := failer(t, &pageErrs, &mu)
	fail("dave opens the board", chromedp.Do(ctx,
		signIn(s.base, "dave", DevPassword),
		chromedp.WaitVisible(`#nav-board`),
		chromedp.Click(`#nav-board`),
		chromedp.WaitVisible(`#board-empty`),
	))
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sfMarker = true`))
	fail("mark the page", err)
	time.Sleep(500 * time.Millisecond) // the event stream opens after the page loads

	c := s.must(201, "carol", "POST", "/api/v1/complaints", map[string]any{
		"customer_id": "cus_DEMO_CONTOSO", "channel": "phone", "subject": "Press line stopped",
		"description": "The hydraulic press stopped mid-shift.", "severity": "urgent",
	})
	id := c["id"].(string)
	due, err := time.Parse(time.RFC3339Nano, c["response_due_at"].(string))
	fail("read the response deadline", err)
	if left := time.Until(due); left > sla+time.Second {
		t.Fatalf("the urgent complaint is due in %v, want the %v SLA", left, sla)
	}

	// The row appears once the deadline passes: wait for it on the open page.
	row := `//tr[starts-with(@id, "esc-")][.//*[contains(., "` + id + `")]]`
	wctx, cancel := context.WithTimeout(ctx, sla+20*time.Second)
	fail("the escalation appears on the board", chromedp.Do(wctx, chromedp.WaitVisible(row)))
	cancel()
	t.Logf("the escalation appeared %v after the deadline", time.Since(due).Round(100*time.Millisecond))
	noReload, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sfMarker === true && location.pathname === "/escalations"`))
	fail("check the page was not reloaded", err)
	if !noReload {
		t.Error("the board was reloaded (or left) to show the escalation")
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#level-1") ? document.querySelector("#level-1").innerText : ""`))
	fail("read level 1", err)
	if !strings.Contains(text, "Press line stopped") || !strings.Contains(text, "dave") {
		t.Errorf("level 1 of the board: %q", text)
	}
	checkAccessible(t, ctx, "the board with a raised escalation")
	escID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.evaluate('`+strings.ReplaceAll(row, `'`, `\'`)+`', document, null,
		XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue.id.slice(4)`))
	fail("read the escalation's id", err)

	fail("dave acknowledges it", chromedp.Do(ctx,
		chromedp.Click(`#open-`+escID),
		chromedp.WaitVisible(`#ack-form`),
		chromedp.SendKeys(`#comment`, "Calling the plant"),
		chromedp.Click(`#ack-submit`),
		chromedp.WaitVisible(`.notice`),
	))
	notice, err := textOf(ctx, `.notice`)
	fail("read the notice", err)
	if !strings.Contains(notice, id) {
		t.Errorf("the notice after acknowledging: %q", notice)
	}
	acked := s.must(200, "dave", "GET", "/api/v1/escalations/"+escID, nil)
	if acked["acknowledged_by"] != "dave" || acked["process_id"] != id {
		t.Errorf("the API says %v", acked)
	}
	checkPageErrors(t, &pageErrs, &mu)
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/serviceflow/serviceflow/store"
)

// TestBrowserBoard: dave, a service manager, signs in and opens the escalation board
// from the nav; an escalation raised meanwhile (recorded as the escalation activity
// records it, so PostgreSQL notifies the app) appears without a reload, through the
// server-sent events and htmx, under the strict CSP. Dave opens it, acknowledges it with
// a comment and is back on the board with a notice. The board's screenshot is
// board.png (screenshotDir). The inbox is live as well: a task opened meanwhile appears.
func TestBrowserBoard(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, func(c *Config) {
		c.ResponseSLA, c.TierAResponseSLA, c.UrgentResponseSLA = 24*time.Hour, 12*time.Hour, time.Hour
	})
	ctx := browser(t, &pageErrs, &mu)
	st, err := store.Open(context.Background(), s.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fail := failer(t, &pageErrs, &mu)
	raise := func(id, taskID, subject string, level int, age time.Duration) {
		t.Helper()
		if _, _, err := store.EnsureEscalation(context.Background(), st.Pool, store.NewEscalation{
			ID: id, WorkflowID: "complaint/cmp_" + id, Process: "complaint", ProcessID: "cmp_" + id, Subject: subject,
			TaskID: taskID, Step: "evaluate", Level: level, Reason: "overdue", Targets: []string{"dave"},
			RaisedAt: time.Now().Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	c := s.must(201, "carol", "POST", "/api/v1/complaints", map[string]any{
		"customer_id": "cus_DEMO_NORTHWIND", "channel": "phone", "subject": "Spindle vibrates at 3000 rpm",
		"description": "Since the last service the spindle vibrates.",
	})
	task := s.findTask("carol", "group", c["id"].(string), "evaluate")
	raise("esc_BOARD_TASK", task["id"].(string), "", 2, 3*time.Hour)

	fail("dave opens the board", chromedp.Do(ctx,
		signIn(s.base, "dave", DevPassword),
		chromedp.WaitVisible(`#nav-board`),
		chromedp.Click(`#nav-board`),
		chromedp.WaitVisible(`#esc-esc_BOARD_TASK`),
	))
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sfMarker = true`))
	fail("mark the page", err)
	time.Sleep(500 * time.Millisecond) // the event stream opens after the page loads

	start := time.Now()
	raise("esc_BOARD_LIVE", "", "invoice/INV-2026-0042", 1, 0)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	fail("the new escalation appears", chromedp.Do(wctx, chromedp.WaitVisible(`#esc-esc_BOARD_LIVE`)))
	cancel()
	took := time.Since(start)
	t.Logf("the raised escalation appeared after %v", took)
	if took > 4*time.Second {
		t.Errorf("the raised escalation took %v to appear, want about 2 s", took)
	}
	noReload, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sfMarker === true && location.pathname === "/escalations"`))
	fail("check the page was not reloaded", err)
	if !noReload {
		t.Error("the board was reloaded (or left) to show the new escalation")
	}
	levels, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll("section.level-group")).map(s => s.id).join(",")`))
	fail("read the levels", err)
	if levels != "level-2,level-1" {
		t.Errorf("the board's levels: %q, want level-2,level-1", levels)
	}
	withTask, err := textOf(ctx, `#esc-esc_BOARD_TASK`)
	fail("read the task's row", err)
	if !strings.Contains(withTask, "Spindle vibrates") || !strings.Contains(withTask, "3h ago") {
		t.Errorf("the task's escalation row: %q", withTask)
	}
	live, err := textOf(ctx, `#esc-esc_BOARD_LIVE`)
	fail("read the new row", err)
	if !strings.Contains(live, "invoice/INV-2026-0042") || !strings.Contains(live, "dave") {
		t.Errorf("the new escalation's row: %q", live)
	}
	checkAccessible(t, ctx, "the escalation board")
	boardPNG, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	fail("screenshot the board", err)
	if len(boardPNG) < 1000 {
		t.Fatalf("a %d-byte screenshot", len(boardPNG))
	}
	dir := screenshotDir(t)
	if err := os.WriteFile(filepath.Join(dir, "board.png"), boardPNG, 0o644); err != nil {
		t.Fatal(err)
	}

	fail("dave acknowledges it", chromedp.Do(ctx,
		chromedp.Click(`#open-esc_BOARD_LIVE`),
		chromedp.WaitVisible(`#ack-form`),
		chromedp.SendKeys(`#comment`, "Calling finance now"),
		chromedp.Click(`#ack-submit`),
		chromedp.WaitVisible(`.notice`),
	))
	notice, err := textOf(ctx, `.notice`)
	fail("read the notice", err)
	if !strings.Contains(notice, "You acknowledged the escalation on cmp_esc_BOARD_LIVE") {
		t.Errorf("notice after acknowledging: %q", notice)
	}
	gone, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("esc-esc_BOARD_LIVE") === null && location.pathname === "/escalations"`))
	fail("look for the acknowledged row", err)
	if !gone {
		t.Error("the acknowledged escalation is still on the open board (or the page is not the board)")
	}
	e, err := st.EscalationByID(context.Background(), "esc_BOARD_LIVE")
	if err != nil || e.AcknowledgedBy != "dave" || e.AckComment != "Calling finance now" {
		t.Errorf("stored: %+v %v", e, err)
	}
	// The other one is acknowledged through the API while dave has its page open: his
	// acknowledge then says who was first.
	fail("dave opens the other one", chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/escalations/esc_BOARD_TASK"),
		chromedp.WaitVisible(`#ack-form`),
		chromedp.SendKeys(`#comment`, "Me too"),
	))
	s.must(200, "dave", "POST", "/api/v1/escalations/esc_BOARD_TASK/acknowledge", map[string]any{"comment": "By the API"})
	fail("dave acknowledges it too late", chromedp.Do(ctx, chromedp.Click(`#ack-submit`), chromedp.WaitVisible(`#escalation-error`)))
	late, err := textOf(ctx, `#escalation-error`)
	fail("read the message", err)
	checkAccessible(t, ctx, "an escalation's page with its error")
	if !strings.Contains(late, "already acknowledged by dave") {
		t.Errorf("a late acknowledge says %q", late)
	}
	if e, _ := st.EscalationByID(context.Background(), "esc_BOARD_TASK"); e.AckComment != "By the API" {
		t.Errorf("the late acknowledge changed the comment to %q", e.AckComment)
	}
	// The inbox is live too: a complaint filed meanwhile shows its task in dave's All tab.
	fail("dave opens the All tab", chromedp.Do(ctx, chromedp.Navigate(s.base+"/?tab=all"), chromedp.WaitVisible(`#tab-all`)))
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sfMarker = true`))
	fail("mark the inbox", err)
	time.Sleep(500 * time.Millisecond)
	c2 := s.must(201, "carol", "POST", "/api/v1/complaints", map[string]any{
		"customer_id": "cus_DEMO_NORTHWIND", "channel": "email", "subject": "Coolant leak", "description": "Under the table.",
	})
	task2 := s.findTask("carol", "group", c2["id"].(string), "evaluate")
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	fail("the new task appears in the inbox", chromedp.Do(wctx, chromedp.WaitVisible(`tr#task-`+task2["id"].(string))))
	cancel()
	if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sfMarker === true`)); err != nil || !same {
		t.Errorf("the inbox was reloaded to show the new task (%v)", err)
	}
	t.Logf("screenshot in %s", filepath.Join(dir, "board.png"))
	// The 409 of the late acknowledge is logged as a failed load.
	checkPageErrors(t, &pageErrs, &mu, "409")
}

package main

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRefusesCrossOriginForms: carol is signed in when she opens a page on another
// origin (another port of 127.0.0.1: the same site, so her SameSite=Lax cookie goes
// along) whose button posts a claim of her group's task to the app. The app refuses it
// with its message, and the task stays unclaimed; the same claim from the app's own
// task page then works.
func TestBrowserRefusesCrossOriginForms(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, nil)
	ctx := browser(t, &pageErrs, &mu)

	c := s.must(201, "carol", "POST", "/api/v1/complaints", map[string]any{
		"customer_id": "cus_DEMO_NORTHWIND", "channel": "web", "subject": "Manual missing",
		"description": "The manual was not in the box.",
	})
	task := s.findTask("carol", "group", c["id"].(string), "evaluate")
	id := task["id"].(string)

	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Prize</title><link rel="icon" href="data:,"><form method="post" action="%s">`+
			`<button id="prize" type="submit">Claim your prize</button></form>`,
			html.EscapeString(s.base+"/tasks/"+id+"/claim"))
	}))
	defer foreign.Close()
	if strings.Split(foreign.URL, ":")[2] == strings.Split(s.base, ":")[2] {
		t.Fatal("the foreign page must be on another port")
	}

	fail := failer(t, &pageErrs, &mu)
	fail("sign in", chromedp.Do(ctx,
		signIn(s.base, "carol", DevPassword),
		chromedp.WaitVisible(`#tab-group`),
		chromedp.Navigate(foreign.URL),
		chromedp.WaitVisible(`#prize`),
		chromedp.Click(`#prize`),
		chromedp.WaitReady(`body`),
	))
	// The click navigates to the app's answer: read it once the navigation is over.
	var body, url string
	eventually(t, 10*time.Second, "the app's answer to the foreign form", func() bool {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[location.href, document.body ? document.body.innerText : ""]`))
		if err != nil || len(got) != 2 || !strings.HasPrefix(got[0], s.base) {
			return false
		}
		url, body = got[0], got[1]
		return body != ""
	})
	if !strings.Contains(body, "This request came from another site and was refused.") || !strings.HasPrefix(url, s.base) {
		t.Errorf("the cross-origin claim answered %q at %s", body, url)
	}
	if got := s.must(200, "carol", "GET", "/api/v1/tasks/"+id, nil); got["assignee"] != nil {
		t.Fatalf("the refused claim assigned the task to %v", got["assignee"])
	}

	// From the app's own page the same claim goes through.
	fail("claim on the task page", chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/tasks/"+id),
		chromedp.WaitVisible(`#task-claim`),
		chromedp.Click(`#task-claim`),
		chromedp.WaitNotPresent(`#task-claim`),
	))
	if got := s.must(200, "carol", "GET", "/api/v1/tasks/"+id, nil); got["assignee"] != "carol" {
		t.Fatalf("the claim from the task page: assignee %v", got["assignee"])
	}
	// The refused POST is logged as a failed load (403), and so is the favicon the
	// browser asks for beside the plain-text refusal (404).
	checkPageErrors(t, &pageErrs, &mu, "403", "/favicon.ico")
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which .ci/run installs when it is missing.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the browser tests save their screenshots:
// SERVICEFLOW_SCREENSHOTS, else <tmp>/serviceflow-screenshots.
// textOf reads the text of sel, again when its node went away under the read: the live
// updates swap the page's #live region in whenever a task or an escalation changes.
func textOf(ctx context.Context, sel string) (string, error) {
	var err error
	for range 5 {
		var s string
		if s, err = chromedp.Run(ctx, chromedp.Text(sel)); err == nil || !strings.Contains(err.Error(), "No node with given id") {
			return s, err
		}
	}
	return "", err
}

// signIn fills in the sign-in form at base as user with password and submits it.
func signIn(base, user, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, user),
		chromedp.SendKeys(`#password`, password),
		chromedp.Click(`#signin-submit`),
	)
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SERVICEFLOW_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "serviceflow-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot writes a full-page screenshot of ctx's page to screenshotDir as name.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir(t), name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// failer returns a browser test's step check: it stops the test on err, naming the step
// and every error the pages logged so far.
func failer(t *testing.T, errs *[]string, mu *sync.Mutex) func(step string, err error) {
	return func(step string, err error) {
		t.Helper()
		if err != nil {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("browser, %s: %v (page errors: %v)", step, err, *errs)
		}
	}
}

// checkPageErrors fails the test on every error the pages logged (a CSP refusal, a
// script error, a failed load) but those containing one of expected: the answers the
// test provokes, such as "422" for a form sent with a bad value.
func checkPageErrors(t *testing.T, errs *[]string, mu *sync.Mutex, expected ...string) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for _, e := range *errs {
		if !slices.ContainsFunc(expected, func(x string) bool { return strings.Contains(e, x) }) {
			t.Errorf("error in the pages: %s", e)
		}
	}
}

// browser starts a headless Debian chromium with a fresh profile and returns a tab's
// context. Every console error and uncaught exception of its pages (a script or style
// refused by the Content-Security-Policy among them) is collected in *errs.
func browser(t *testing.T, errs *[]string, mu *sync.Mutex) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium fonts-noto-cjk; .ci/run does): %v",
			chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // root
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 720),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				*errs = append(*errs, string(e.Entry.Source)+": "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				*errs = append(*errs, "console.error")
			}
		case *runtime.EventExceptionThrown:
			*errs = append(*errs, "exception: "+e.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// TestBrowserSignInToInbox drives the web app in a real browser against the whole
// stack (as `serviceflow dev` runs it): carol files a complaint through the API, then
// in chromium mistypes her password, signs in with the demo password through the form,
// lands on her inbox, opens the Group tab, claims the complaint's evaluate task with its
// button (htmx, under the strict CSP) and sees it in Mine. She opens its task page from
// the row, submits without a category and sees the error on that field, then completes
// evaluate and lands on respond. Screenshots of the group inbox, the claimed task and
// the task page with its field error are saved (screenshotDir).
func TestBrowserSignInToInbox(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, func(c *Config) {
		c.ResponseSLA, c.TierAResponseSLA, c.UrgentResponseSLA = 24*time.Hour, 12*time.Hour, time.Hour
	})
	ctx := browser(t, &pageErrs, &mu)

	c := s.must(201, "carol", "POST", "/api/v1/complaints", map[string]any{
		"customer_id": "cus_DEMO_NORTHWIND", "channel": "phone", "subject": "Spindle vibrates at 3000 rpm",
		"description": "Since the last service the spindle vibrates.",
	})
	task := s.findTask("carol", "group", c["id"].(string), "evaluate")
	row := `tr#task-` + task["id"].(string)

	fail := failer(t, &pageErrs, &mu)
	fail("sign in with a wrong password", chromedp.Do(ctx,
		signIn(s.base, "carol", "not her password"),
		chromedp.WaitVisible(`#signin-error`),
	))
	signinErr, err := textOf(ctx, `#signin-error`)
	fail("read the error", err)
	checkAccessible(t, ctx, "the sign-in page with its error")
	fail("sign in", chromedp.Do(ctx,
		chromedp.SendKeys(`#password`, DevPassword),
		chromedp.Click(`#signin-submit`),
		chromedp.WaitVisible(`#tab-group`),
	))
	h1, err := textOf(ctx, `h1`)
	fail("read the heading", err)
	cookieJS, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	fail("read document.cookie", err)
	jar, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	fail("read the cookies", err)
	cookies := jar.Cookies
	htmxOK, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof htmx === "object" && htmx.version === "2.0.11"`))
	fail("look for htmx", err)
	if !htmxOK {
		t.Error("the vendored htmx 2.0.11 did not load")
	}
	// The tabs are boosted by htmx: the page is swapped, not reloaded (the marker stays).
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sfMarker = true`))
	fail("mark the page", err)
	fail("open the group tab", chromedp.Do(ctx, chromedp.Click(`#tab-group`), chromedp.WaitVisible(row)))
	boosted, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sfMarker === true && location.search === "?tab=group"`))
	fail("check the swap", err)
	if !boosted {
		t.Error("the Group tab reloaded the page instead of an htmx swap (or did not update the address)")
	}
	claimButton, err := chromedp.Run(ctx, chromedp.Nodes(row+` button`))
	fail("find the claim button", err)
	checkAccessible(t, ctx, "the group inbox")
	groupPNG, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	fail("screenshot the group inbox", err)
	fail("claim", chromedp.Do(ctx, chromedp.Click(row+` button`), chromedp.WaitVisible(`.notice`), chromedp.WaitVisible(row+` button`)))
	notice, err := textOf(ctx, `.notice`)
	fail("read the notice", err)
	mine, err := textOf(ctx, row)
	fail("read the claimed row", err)
	minePNG, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	fail("screenshot the claimed task", err)
	if !strings.Contains(signinErr, "Wrong username or password") {
		t.Errorf("wrong password shows %q", signinErr)
	}
	if h1 != "Inbox" {
		t.Errorf("after sign-in the page's heading is %q, want Inbox", h1)
	}
	var session *network.Cookie
	for _, ck := range cookies {
		if ck.Name == "sf_session" {
			session = ck
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteLax {
		t.Errorf("session cookie %+v", session)
	}
	if strings.Contains(cookieJS, "sf_session") {
		t.Errorf("scripts can read the session cookie: %q", cookieJS)
	}
	if len(claimButton) != 1 {
		t.Fatalf("%d claim buttons in the row", len(claimButton))
	}
	if !strings.Contains(notice, "You claimed") || !strings.Contains(notice, "Spindle vibrates") {
		t.Errorf("notice after the claim: %q", notice)
	}
	for _, want := range []string{"Northwind Machinery", "Complaint", "Evaluate", "left", "Unclaim"} {
		if !strings.Contains(mine, want) {
			t.Errorf("the claimed task's row in Mine lacks %q: %q", want, mine)
		}
	}
	if got := s.must(200, "carol", "GET", "/api/v1/tasks/"+task["id"].(string), nil)["assignee"]; got != "carol" {
		t.Errorf("the API says the task's assignee is %v", got)
	}

	// Carol opens the task from her inbox: its page says what she decides on. She
	// submits with no category, sees the workflow's error on that field, then completes
	// evaluate; respond, which is hers too, opens next.
	taskID := task["id"].(string)
	// The inbox refreshes its rows live: a refresh between finding the link and clicking
	// it replaces the node under the click, and the click is made again on the new row.
	open := func() error {
		return chromedp.Do(ctx, chromedp.Click(row+` a.task-link`), chromedp.WaitVisible(`#complete-form`))
	}
	err = open()
	if err != nil && strings.Contains(err.Error(), "Could not find node") {
		err = open()
	}
	fail("open the task page", err)
	// htmx pushes the address after the swap has settled: wait for it.
	var taskURL string
	eventually(t, 5*time.Second, "the task page's address", func() bool {
		u, err := chromedp.Run(ctx, chromedp.Location())
		taskURL = u
		return err == nil && strings.Contains(u, "/tasks/")
	})
	descr, err := textOf(ctx, `#ctx-description dd`)
	fail("read the context", err)
	fail("submit without a category", chromedp.Do(ctx,
		chromedp.SetValue(`#f-severity`, "urgent"),
		chromedp.SendKeys(`#f-comment`, "Asked the plant for the vibration log."),
		chromedp.Click(`#action-accept`),
		chromedp.WaitVisible(`#f-category-error`),
	))
	fieldErr, err := textOf(ctx, `#field-category`)
	fail("read the field error", err)
	severityKept, err := chromedp.Run(ctx, chromedp.Value(`#f-severity`))
	fail("read the severity", err)
	checkAccessible(t, ctx, "the task page with a field error")
	taskPNG, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	fail("screenshot the task page", err)
	fail("complete evaluate", chromedp.Do(ctx,
		chromedp.SetValue(`#f-category`, "product"),
		chromedp.Click(`#action-accept`),
		chromedp.WaitVisible(`#f-message`),
	))
	nextNotice, err := textOf(ctx, `.notice`)
	fail("read the notice after evaluate", err)
	nextH1, err := textOf(ctx, `h1`)
	fail("read the next task's heading", err)
	if !strings.HasSuffix(taskURL, "/tasks/"+taskID) {
		t.Errorf("the inbox row opened %s", taskURL)
	}
	if !strings.Contains(descr, "Since the last service the spindle vibrates.") {
		t.Errorf("the task page's description: %q", descr)
	}
	if !strings.Contains(fieldErr, "This is required.") || severityKept != "urgent" {
		t.Errorf("after the bad submit: category field %q, severity %q", fieldErr, severityKept)
	}
	if !strings.Contains(nextNotice, "Here is the case's next task") || !strings.Contains(nextH1, "Spindle vibrates") {
		t.Errorf("after evaluate: notice %q, heading %q", nextNotice, nextH1)
	}
	done := s.must(200, "carol", "GET", "/api/v1/tasks/"+taskID, nil)
	if done["status"] != "completed" || done["action"] != "accept" || done["completed_by"] != "carol" {
		t.Errorf("the API says evaluate is %v (%v by %v)", done["status"], done["action"], done["completed_by"])
	}

	dir := screenshotDir(t)
	for name, png := range map[string][]byte{"inbox-group.png": groupPNG, "inbox-claimed.png": minePNG, "task-page.png": taskPNG} {
		if len(png) < 1000 {
			t.Fatalf("%s: a %d-byte screenshot", name, len(png))
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Cathy's profile says zh-CN: in a browser context of her own, her inbox is in Chinese.
	cctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	fail("cathy signs in", chromedp.Do(cctx,
		signIn(s.base, "cathy", DevPassword),
		chromedp.WaitVisible(`#tab-group`),
		chromedp.Click(`#tab-group`),
		chromedp.WaitVisible(`#inbox-empty`),
	))
	zh, err := textOf(cctx, `main`)
	fail("read cathy's inbox", err)
	checkAccessible(t, cctx, "cathy's zh-CN inbox")
	if !strings.Contains(zh, "待办") || !strings.Contains(zh, "小组") || strings.Contains(zh, "Inbox") {
		t.Errorf("cathy's inbox is not in Chinese: %q", zh)
	}
	zhPNG, err := chromedp.Run(cctx, chromedp.FullScreenshot(100))
	fail("screenshot cathy's inbox", err)
	if err := os.WriteFile(filepath.Join(dir, "inbox-zh-CN.png"), zhPNG, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	// A 401 answer to the wrong password and the 422 of the form without a category are
	// logged as failed resource loads.
	checkPageErrors(t, &pageErrs, &mu, "401", "422")
}

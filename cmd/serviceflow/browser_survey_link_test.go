package main

import (
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserSurveyOnAPhone is the customer's survey, on a phone, in Chinese: the five
// rating scales and the NPS fit the screen and pass the accessibility check; a send
// with the NPS missing is told what is missing and keeps the ratings chosen; the answer
// then goes in, and the cycle counts it.
func TestBrowserSurveyOnAPhone(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, nil)
	ctx := browser(t, &pageErrs, &mu)
	fail := failer(t, &pageErrs, &mu)

	prog := s.must(201, "admin", "POST", "/api/v1/survey-programmes",
		map[string]any{"name": "Tier A", "audience": "tier_a", "cadence": "monthly"})["id"].(string)
	cycle := s.must(201, "admin", "POST", "/api/v1/survey-programmes/"+prog+"/run", nil)["id"].(string)
	token := s.customerLink("kefu@huadong.example", "约需两分钟") // zh-CN, tier A

	phone, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	fail("open the survey on a phone", chromedp.Do(phone,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile),
		chromedp.Navigate(s.base+"/c/"+token),
		chromedp.WaitVisible(`input[name="nps"]`),
	))
	fits, err := chromedp.Run(phone, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	fail("measure the page", err)
	if !fits {
		t.Error("the survey is wider than the phone's screen")
	}
	heading, err := textOf(phone, `h1`)
	fail("read the heading", err)
	if heading != "客户满意度调查" {
		t.Errorf("heading %q", heading)
	}
	checkAccessible(t, phone, "the survey on a phone")
	screenshot(t, phone, "survey-phone.png")

	// Every rating chosen, the NPS forgotten (the browser's own check is lifted, as an
	// old browser would send it): the page says what is missing and keeps the ratings.
	pick := func(name, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(`input[name="` + name + `"][value="` + value + `"]`)
	}
	fail("choose the ratings", chromedp.Do(phone,
		pick("service_attitude", "4"), pick("service_quality", "2"), pick("service_efficiency", "3"),
		pick("product_quality", "4"), pick("after_sales_service", "5")))
	_, err = chromedp.Run(phone, chromedp.Evaluate[bool](`document.querySelectorAll('input[required]').forEach(i => i.required = false); true`))
	fail("lift the browser's check", err)
	fail("send without the NPS", chromedp.Do(phone,
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`#nps-error`),
	))
	kept, err := chromedp.Run(phone, chromedp.Evaluate[bool](`document.querySelector('input[name="service_quality"][value="2"]').checked`))
	fail("read the kept rating", err)
	if !kept {
		t.Error("the ratings chosen were lost")
	}
	fail("answer", chromedp.Do(phone,
		pick("nps", "8"),
		chromedp.SendKeys(`#comment`, "维修太慢"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`//h1[contains(., "谢谢您")]`),
	))
	res := s.must(200, "dave", "GET", "/api/v1/survey-cycles/"+cycle, nil)["results"].(map[string]any)
	if res["answered"] != 1.0 || res["detractors"] != 0.0 {
		t.Errorf("results %v", res)
	}
	// A rating of 2 makes a detractor, though the NPS of 8 is a passive: aaron, the
	// owner, has the return visit.
	visit := s.findTask("aaron", "mine", cycle, "return_visit")
	if !strings.Contains(visit["title"].(string), "华东重工") {
		t.Errorf("visit %v", visit["title"])
	}
}

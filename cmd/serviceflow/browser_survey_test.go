package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/serviceflow/serviceflow/store"
)

// browserSurveyAnswers: averages 4.25, 4.00, 3.25, 3.75, 3.00 in the survey's order;
// NPS 10, 8, 6, 9: two promoters, a passive and a detractor.
var browserSurveyAnswers = []map[string]any{
	{"service_attitude": 5, "service_quality": 4, "service_efficiency": 4, "product_quality": 5, "after_sales_service": 3, "nps": 10, "comment": "Quick and friendly"},
	{"service_attitude": 4, "service_quality": 3, "service_efficiency": 4, "product_quality": 1, "after_sales_service": 3, "nps": 8},
	{"service_attitude": 3, "service_quality": 4, "service_efficiency": 2, "product_quality": 4, "after_sales_service": 4, "nps": 6, "comment": "泵的密封件漏油"},
	{"service_attitude": 5, "service_quality": 5, "service_efficiency": 3, "product_quality": 5, "after_sales_service": 2, "nps": 9},
}

// chartBar is a bar of a Chartist chart as the page drew it: its value and its length.
type chartBar struct {
	Series string  `json:"series"`
	Value  float64 `json:"value"`
	Length float64 `json:"length"`
}

// barsOf reads the bars (SVG line.ct-bar) of the chart sel.
func barsOf(ctx context.Context, sel string) ([]chartBar, error) {
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`JSON.stringify(Array.from(document.querySelectorAll(%q)).map(l => ({
		series: l.parentNode.getAttribute("class"),
		value: parseFloat(l.getAttribute("ct:value")),
		length: Math.hypot(l.x2.baseVal.value - l.x1.baseVal.value, l.y2.baseVal.value - l.y1.baseVal.value)})))`, sel+" svg line.ct-bar")))
	if err != nil {
		return nil, err
	}
	var out []chartBar
	err = json.Unmarshal([]byte(raw), &out)
	return out, err
}

// TestBrowserSurveyCycleCharts: dave, a service manager, opens a survey cycle with four
// answers from the header's Surveys link and the cycles list (boosted links: the charts
// are drawn after htmx swaps the page in), and the page shows its charts as SVG under
// the strict CSP: five rating bars whose lengths are ordered as the averages, the NPS
// split in three segments proportioned as 2 : 1 : 1, and a bar per day. On a phone the
// page fits the screen's width. Screenshots: survey-cycle.png, survey-cycle-phone.png.
func TestBrowserSurveyCycleCharts(t *testing.T) {
	var mu sync.Mutex
	var pageErrs []string
	s := startStack(t, nil)
	ctx := browser(t, &pageErrs, &mu)
	fail := failer(t, &pageErrs, &mu)
	st, err := store.Open(context.Background(), s.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// A programme with its Schedule, and a cycle with answers over three days, written
	// as the cycle workflow and the /c/{token} route write them.
	now := time.Now().UTC()
	started := now.Add(-72 * time.Hour)
	bg := context.Background()
	prog := s.must(201, "admin", "POST", "/api/v1/survey-programmes",
		map[string]any{"name": "Tier A monthly", "audience": "tier_a", "cadence": "monthly"})["id"].(string)
	const cycle = "svc_BROWSER1"
	if _, err := st.Pool.Exec(bg, `INSERT INTO survey_cycles (id, workflow_id, programme_id, audience, status, invited, started_by, started_at, closes_at)
		VALUES ($1, 'survey/'||$1, $4, 'tier_a', 'open', 10, 'admin', $2, $3)`, cycle, started, started.Add(14*24*time.Hour), prog); err != nil {
		t.Fatal(err)
	}
	answered := []time.Time{now.Add(-48 * time.Hour), now.Add(-48 * time.Hour), now.Add(-24 * time.Hour), now}
	for i, a := range browserSurveyAnswers {
		key := fmt.Sprintf("survey/%s/answer/%d", cycle, i)
		hash := sha256.Sum256([]byte(key))
		b, _ := json.Marshal(a)
		if _, err := st.Pool.Exec(bg, `INSERT INTO customer_links (id, key, token_hash, purpose, process, process_id, workflow_id,
			customer_id, customer_email, locale, status, expires_at, answer, answered_at, created_at)
			VALUES ($1, $2, $3, 'survey', 'survey', $4, 'survey/'||$4, $5, $5||'@example.test', 'en', 'answered', $6, $7, $8, $9)`,
			fmt.Sprintf("lnk_BROWSER_%d", i), key, hash[:], cycle, fmt.Sprintf("cus_BROWSER_%d", i), started.Add(14*24*time.Hour), b,
			answered[i], started); err != nil {
			t.Fatal(err)
		}
	}

	fail("dave opens the cycle from the surveys list", chromedp.Do(ctx,
		signIn(s.base, "dave", DevPassword),
		chromedp.WaitVisible(`#nav-surveys`),
		chromedp.Click(`#nav-surveys`),
		chromedp.WaitVisible(`#cycle-`+cycle),
		chromedp.Click(`#cycle-`+cycle+` a`),
		chromedp.WaitVisible(`#ratings-chart svg line.ct-bar`),
		chromedp.WaitVisible(`#nps-chart svg line.ct-bar`),
		chromedp.WaitVisible(`#days-chart svg line.ct-bar`),
	))
	checkAccessible(t, ctx, "the survey list")
	checkCycleCharts := func(ctx context.Context, where string) {
		t.Helper()
		ratings, err := barsOf(ctx, "#ratings-chart")
		fail("read the rating bars", err)
		if len(ratings) != 5 {
			t.Fatalf("%s: %d rating bars, want 5: %+v", where, len(ratings), ratings)
		}
		values := make([]float64, len(ratings))
		for i, b := range ratings {
			values[i] = b.Value
		}
		slices.Sort(values)
		if !slices.Equal(values, []float64{3, 3.25, 3.75, 4, 4.25}) {
			t.Errorf("%s: rating bar values %v", where, values)
		}
		byValue := slices.Clone(ratings)
		slices.SortFunc(byValue, func(a, b chartBar) int { return int(math.Copysign(1, a.Value-b.Value)) })
		for i := 1; i < len(byValue); i++ {
			if byValue[i].Length <= byValue[i-1].Length {
				t.Errorf("%s: the bar of %v (%.1f px) is not longer than that of %v (%.1f px)", where,
					byValue[i].Value, byValue[i].Length, byValue[i-1].Value, byValue[i-1].Length)
			}
		}
		// On the 0–5 scale a bar's length is proportional to its average.
		if r := byValue[4].Length / byValue[0].Length; math.Abs(r-4.25/3) > 0.05 {
			t.Errorf("%s: the longest bar is %.2f times the shortest, want %.2f", where, r, 4.25/3)
		}
		nps, err := barsOf(ctx, "#nps-chart")
		fail("read the NPS segments", err)
		if len(nps) != 3 {
			t.Fatalf("%s: %d NPS segments, want 3: %+v", where, len(nps), nps)
		}
		if nps[0].Value != 2 || nps[1].Value != 1 || nps[2].Value != 1 || math.Abs(nps[0].Length/nps[1].Length-2) > 0.05 ||
			math.Abs(nps[1].Length-nps[2].Length) > 0.5 {
			t.Errorf("%s: NPS segments %+v, want promoters 2, passives 1, detractors 1 in proportion", where, nps)
		}
		days, err := barsOf(ctx, "#days-chart")
		fail("read the day bars", err)
		if len(days) != 3 || days[0].Value != 2 || days[1].Value != 1 || days[2].Value != 1 {
			t.Errorf("%s: day bars %+v, want 2, 1, 1", where, days)
		}
	}
	checkCycleCharts(ctx, "reached by links")
	figures, err := textOf(ctx, `#survey-cycle dl`)
	fail("read the figures", err)
	for _, want := range []string{"40.0 %", "60.0 %", "25.0", "Tier A monthly"} {
		if !strings.Contains(figures, want) {
			t.Errorf("the cycle's figures lack %q: %q", want, figures)
		}
	}
	checkAccessible(t, ctx, "the survey cycle page")
	screenshot(t, ctx, "survey-cycle.png")

	phone, cancel := chromedp.NewContext(ctx)
	defer cancel()
	fail("open the cycle on a phone", chromedp.Do(phone,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(s.base+"/surveys/"+cycle),
		chromedp.WaitVisible(`#days-chart svg line.ct-bar`),
	))
	checkCycleCharts(phone, "on a phone")
	fits, err := chromedp.Run(phone, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= 390`))
	fail("measure the page", err)
	if !fits {
		t.Error("the cycle page is wider than the phone's screen")
	}
	checkAccessible(t, phone, "the survey cycle page on a phone")
	screenshot(t, phone, "survey-cycle-phone.png")

	// The admin has the programmes' forms: run now starts a cycle and opens its page.
	admin, cancelAdmin := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelAdmin()
	fail("the admin runs the programme now", chromedp.Do(admin,
		signIn(s.base, "admin", DevPassword),
		chromedp.WaitVisible(`#nav-surveys`),
		chromedp.Click(`#nav-surveys`),
		chromedp.WaitVisible(`#run-`+prog),
	))
	checkAccessible(t, admin, "the survey list with the admin's forms")
	screenshot(t, admin, "surveys.png")
	fail("run now", chromedp.Do(admin,
		chromedp.Click(`#run-`+prog),
		chromedp.WaitVisible(`#survey-cycle`),
	))
	notice, err := textOf(admin, `p.notice`)
	fail("read the notice", err)
	path, err := chromedp.Run(admin, chromedp.Evaluate[string](`location.pathname`))
	fail("read the path", err)
	if !strings.HasPrefix(path, "/surveys/svc_") || path == "/surveys/"+cycle || !strings.Contains(notice, strings.TrimPrefix(path, "/surveys/")) {
		t.Errorf("run now: at %s, notice %q", path, notice)
	}
	checkPageErrors(t, &pageErrs, &mu)
}

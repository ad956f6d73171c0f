package domain

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultSurveyPolicy(t *testing.T) {
	p := DefaultSurveyPolicy()
	require.NoError(t, p.Validate())
	day := 24 * time.Hour
	assert.Equal(t, []time.Duration{3 * day, 7 * day}, p.Reminders)
	assert.Equal(t, 14*day, p.CloseAfter)
	assert.Equal(t, 30*day, p.QuietPeriod)
	assert.Equal(t, 30*day, p.NewCustomerAfter)
	assert.Equal(t, 72*time.Hour, p.DetractorDue)
	assert.Equal(t, "3.5", p.ImprovementThreshold)
	assert.Equal(t, 30*day, p.ImprovementDue)
	assert.Equal(t, 7, p.PlanLeadDays)
	for _, r := range SurveyRatings {
		want := RoleCustomerService
		if r == RatingProductQuality {
			want = RoleQuality
		}
		assert.Equal(t, want, p.Department(r), r)
	}
	assert.Equal(t, Role(""), p.Department("price"))
	// The policy travels in workflow inputs: it survives JSON.
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var back SurveyPolicy
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, p, back)
}

func TestSurveyPolicyValidate(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name   string
		change func(*SurveyPolicy)
		want   string // "" when valid
	}{
		{"default", func(*SurveyPolicy) {}, ""},
		{"no reminders", func(p *SurveyPolicy) { p.Reminders = nil }, ""},
		{"threshold 5", func(p *SurveyPolicy) { p.ImprovementThreshold = "5" }, ""},
		{"lead 0 days", func(p *SurveyPolicy) { p.PlanLeadDays = 0 }, ""},
		{"reminder at the close", func(p *SurveyPolicy) { p.Reminders = []time.Duration{3 * day, 14 * day} }, "reminders[1]"},
		{"reminders out of order", func(p *SurveyPolicy) { p.Reminders = []time.Duration{7 * day, 3 * day} }, "reminders[1]"},
		{"zero reminder", func(p *SurveyPolicy) { p.Reminders = []time.Duration{0} }, "reminders[0]"},
		{"no close", func(p *SurveyPolicy) { p.CloseAfter = 0; p.Reminders = nil }, "close_after"},
		{"no quiet period", func(p *SurveyPolicy) { p.QuietPeriod = 0 }, "quiet_period"},
		{"no detractor due", func(p *SurveyPolicy) { p.DetractorDue = -time.Hour }, "detractor_due"},
		{"no improvement due", func(p *SurveyPolicy) { p.ImprovementDue = 0 }, "improvement_due"},
		{"no new-customer delay", func(p *SurveyPolicy) { p.NewCustomerAfter = 0 }, "new_customer_after"},
		{"threshold 1", func(p *SurveyPolicy) { p.ImprovementThreshold = "1" }, "improvement_threshold"},
		{"threshold above 5", func(p *SurveyPolicy) { p.ImprovementThreshold = "5.01" }, "improvement_threshold"},
		{"threshold not a number", func(p *SurveyPolicy) { p.ImprovementThreshold = "high" }, "improvement_threshold"},
		{"unknown department", func(p *SurveyPolicy) {
			p.Departments = map[string]Role{}
			for k, v := range DefaultSurveyPolicy().Departments {
				p.Departments[k] = v
			}
			p.Departments[RatingProductQuality] = "qa"
		}, "departments.product_quality"},
		{"missing department", func(p *SurveyPolicy) { p.Departments = nil }, "departments.service_attitude"},
		{"negative lead", func(p *SurveyPolicy) { p.PlanLeadDays = -1 }, "plan_lead_days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultSurveyPolicy()
			tc.change(&p)
			err := p.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// validAnswer is a survey answer as it arrives in JSON: numbers are float64.
func validAnswer() map[string]any {
	return map[string]any{
		"service_attitude": 5.0, "service_quality": 4.0, "service_efficiency": 3.0,
		"product_quality": 2.0, "after_sales_service": 1.0, "nps": 7.0, "comment": "fine",
	}
}

func TestValidateSurveyAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		fields []string
	}{
		{"valid", func(map[string]any) {}, nil},
		{"no comment", func(a map[string]any) { delete(a, "comment") }, nil},
		{"null comment", func(a map[string]any) { a["comment"] = nil }, nil},
		{"empty comment", func(a map[string]any) { a["comment"] = "" }, nil},
		{"Go ints", func(a map[string]any) { a["nps"], a["service_attitude"] = 10, int64(1) }, nil},
		{"json.Number", func(a map[string]any) { a["nps"] = json.Number("0") }, nil},
		{"comment at the limit", func(a map[string]any) { a["comment"] = strings.Repeat("好", MaxSurveyComment) }, nil},
		{"rating 0", func(a map[string]any) { a["service_quality"] = 0.0 }, []string{"service_quality"}},
		{"rating 6", func(a map[string]any) { a["after_sales_service"] = 6.0 }, []string{"after_sales_service"}},
		{"rating not whole", func(a map[string]any) { a["product_quality"] = 4.5 }, []string{"product_quality"}},
		{"rating as text", func(a map[string]any) { a["service_efficiency"] = "5" }, []string{"service_efficiency"}},
		{"rating missing", func(a map[string]any) { delete(a, "service_attitude") }, []string{"service_attitude"}},
		{"nps -1", func(a map[string]any) { a["nps"] = -1.0 }, []string{"nps"}},
		{"nps 11", func(a map[string]any) { a["nps"] = 11.0 }, []string{"nps"}},
		{"nps missing", func(a map[string]any) { delete(a, "nps") }, []string{"nps"}},
		{"nps true", func(a map[string]any) { a["nps"] = true }, []string{"nps"}},
		{"comment too long", func(a map[string]any) { a["comment"] = strings.Repeat("a", MaxSurveyComment+1) }, []string{"comment"}},
		{"comment not text", func(a map[string]any) { a["comment"] = 3.0 }, []string{"comment"}},
		{"comment with NUL", func(a map[string]any) { a["comment"] = "a\x00b" }, []string{"comment"}},
		{"unknown fields, sorted", func(a map[string]any) { a["z"], a["price"] = 1, 2 }, []string{"price", "z"}},
		{"everything wrong, in field order", func(a map[string]any) {
			for k := range a {
				delete(a, k)
			}
			a["comment"], a["extra"] = 1.0, "x"
		}, []string{"service_attitude", "service_quality", "service_efficiency", "product_quality",
			"after_sales_service", "nps", "comment", "extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := validAnswer()
			tc.change(a)
			var fields []string
			for _, e := range ValidateSurveyAnswer(a) {
				fields = append(fields, e.Field)
				assert.NotEmpty(t, e.Message)
			}
			assert.Equal(t, tc.fields, fields)
		})
	}
}

func TestSurveyLink(t *testing.T) {
	var names []string
	for _, f := range SurveyLink.Fields {
		names = append(names, f.Name)
		assert.Equal(t, f.Name != "comment", f.Required, f.Name)
	}
	assert.Equal(t, append(append([]string{}, SurveyRatings...), "nps", "comment"), names)
	assert.Empty(t, SurveyLink.Validate(validAnswer()))
	assert.NotEmpty(t, SurveyLink.Validate(map[string]any{}))
}

func TestSurveyAnswerFrom(t *testing.T) {
	a := validAnswer()
	a["comment"] = "  slow delivery \n"
	got := SurveyAnswerFrom(a)
	assert.Equal(t, SurveyAnswer{ServiceAttitude: 5, ServiceQuality: 4, ServiceEfficiency: 3, ProductQuality: 2,
		AfterSalesService: 1, NPS: 7, Comment: "slow delivery"}, got)
	for i, r := range SurveyRatings {
		assert.Equal(t, 5-i, got.Rating(r), r)
	}
	assert.Equal(t, 0, got.Rating("price"))
	assert.Equal(t, SurveyAnswer{}, SurveyAnswerFrom(map[string]any{}))
	// Its JSON is the link's answer: the names are the same.
	b, err := json.Marshal(got)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Empty(t, ValidateSurveyAnswer(m))
}

// answer is a survey answer with ratings in SurveyRatings order.
func answer(sa, sq, se, pq, as, nps int, comment string) SurveyAnswer {
	return SurveyAnswer{ServiceAttitude: sa, ServiceQuality: sq, ServiceEfficiency: se, ProductQuality: pq,
		AfterSalesService: as, NPS: nps, Comment: comment}
}

func TestIsDetractor(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    SurveyAnswer
		want bool
	}{
		{"nps 7, ratings 3", answer(3, 3, 3, 3, 3, 7, ""), false},
		{"nps 6", answer(5, 5, 5, 5, 5, 6, ""), true},
		{"nps 0", answer(5, 5, 5, 5, 5, 0, ""), true},
		{"nps 10, all 5", answer(5, 5, 5, 5, 5, 10, ""), false},
		{"a rating of 2 with nps 10", answer(5, 5, 5, 5, 2, 10, ""), true},
		{"service_attitude 2", answer(2, 3, 3, 3, 3, 9, ""), true},
		{"service_quality 2", answer(3, 2, 3, 3, 3, 9, ""), true},
		{"service_efficiency 1", answer(3, 3, 1, 3, 3, 9, ""), true},
		{"product_quality 2", answer(3, 3, 3, 2, 3, 9, ""), true},
		{"every rating 3, nps 7", answer(3, 3, 3, 3, 3, 7, ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, IsDetractor(tc.a)) })
	}
}

func TestNPSCategory(t *testing.T) {
	want := []string{NPSDetractor, NPSDetractor, NPSDetractor, NPSDetractor, NPSDetractor, NPSDetractor,
		NPSDetractor, NPSPassive, NPSPassive, NPSPromoter, NPSPromoter}
	for nps, w := range want {
		assert.Equal(t, w, NPSCategory(nps), nps)
	}
}

// tallyAnswers are the four answers of the hand computation in TestTally.
var tallyAnswers = []SurveyAnswer{
	//     SA SQ SE PQ AS NPS
	answer(5, 4, 3, 2, 5, 10, "great service"),
	answer(4, 4, 4, 3, 4, 9, ""),
	answer(3, 5, 2, 4, 4, 7, "slow delivery"),
	answer(5, 3, 4, 2, 1, 3, "pump failed"),
}

// TestTally checks a cycle's figures against a hand computation. 8 invited, 4 answered
// (tallyAnswers):
//
//	response rate  4 / 8 = 50.0 %
//	service_attitude     5+4+3+5 = 17 / 4 = 4.25   distribution 1..5: 0 0 1 1 2
//	service_quality      4+4+5+3 = 16 / 4 = 4.00                      0 0 1 2 1
//	service_efficiency   3+4+2+4 = 13 / 4 = 3.25   (< 3.5)            0 1 1 2 0
//	product_quality      2+3+4+2 = 11 / 4 = 2.75   (< 3.5)            0 2 1 1 0
//	after_sales_service  5+4+4+1 = 14 / 4 = 3.50   (= 3.5: no task)   1 0 0 2 1
//	CSAT: ratings of 4 or 5 among all 4 × 5 = 20 ratings:
//	      SA 3 (5,4,5) + SQ 3 (4,4,5) + SE 2 (4,4) + PQ 1 (4) + AS 3 (5,4,4) = 12
//	      12 / 20 = 60.0 %
//	NPS:  promoters 10, 9 = 2; passives 7 = 1; detractors 3 = 1
//	      (2 − 1) / 4 = 25.0 points
func TestTally(t *testing.T) {
	res := Tally(8, tallyAnswers)
	assert.Equal(t, CycleResults{
		Invited: 8, Answered: 4, ResponseRate: "50.0",
		Ratings: []RatingResult{
			{Rating: RatingServiceAttitude, Count: 4, Sum: 17, Average: "4.25", Distribution: [5]int{0, 0, 1, 1, 2}},
			{Rating: RatingServiceQuality, Count: 4, Sum: 16, Average: "4.00", Distribution: [5]int{0, 0, 1, 2, 1}},
			{Rating: RatingServiceEfficiency, Count: 4, Sum: 13, Average: "3.25", Distribution: [5]int{0, 1, 1, 2, 0}},
			{Rating: RatingProductQuality, Count: 4, Sum: 11, Average: "2.75", Distribution: [5]int{0, 2, 1, 1, 0}},
			{Rating: RatingAfterSalesService, Count: 4, Sum: 14, Average: "3.50", Distribution: [5]int{1, 0, 0, 2, 1}},
		},
		CSAT: "60.0", CSATSatisfied: 12, CSATRatings: 20,
		NPS: "25.0", Promoters: 2, Passives: 1, Detractors: 1,
	}, res)
	assert.Equal(t, "2.75", res.Rating(RatingProductQuality).Average)
	assert.Equal(t, RatingResult{}, res.Rating("price"))

	// The answers in another order give the same figures.
	reversed := []SurveyAnswer{tallyAnswers[3], tallyAnswers[2], tallyAnswers[1], tallyAnswers[0]}
	assert.Equal(t, res, Tally(8, reversed))

	// Improvements: the two averages below 3.5, not after-sales at exactly 3.5.
	p := DefaultSurveyPolicy()
	assert.Equal(t, []Improvement{
		{Rating: RatingServiceEfficiency, Department: RoleCustomerService, Average: "3.25"},
		{Rating: RatingProductQuality, Department: RoleQuality, Average: "2.75"},
	}, ImprovementsNeeded(res, p))
	// The comments behind them: answers rating it 3 or less, with a comment.
	assert.Equal(t, []string{"great service", "slow delivery"}, ImprovementComments(RatingServiceEfficiency, tallyAnswers, p))
	assert.Equal(t, []string{"great service", "pump failed"}, ImprovementComments(RatingProductQuality, tallyAnswers, p))
	assert.Equal(t, []string{}, ImprovementComments(RatingServiceQuality, []SurveyAnswer{answer(5, 5, 5, 5, 5, 10, "ok")}, p))

	// Which answers get a return visit: 1 (product 2), 3 (efficiency 2), 4 (nps 3).
	var detractors []int
	for i, a := range tallyAnswers {
		if IsDetractor(a) {
			detractors = append(detractors, i+1)
		}
	}
	assert.Equal(t, []int{1, 3, 4}, detractors)
}

func TestTallyRounding(t *testing.T) {
	repeat := func(a SurveyAnswer, n int) []SurveyAnswer {
		out := make([]SurveyAnswer, n)
		for i := range out {
			out[i] = a
		}
		return out
	}
	passive := answer(4, 4, 4, 4, 4, 7, "")

	// 1 of 3 invited: 33.333… → 33.3. Averages of 4,4,3 = 11/3 = 3.666… → 3.67.
	r := Tally(3, []SurveyAnswer{answer(3, 4, 4, 4, 4, 8, "")})
	assert.Equal(t, "33.3", r.ResponseRate)
	r = Tally(3, []SurveyAnswer{answer(4, 4, 4, 4, 4, 8, ""), answer(4, 4, 4, 4, 4, 8, ""), answer(3, 4, 4, 4, 4, 8, "")})
	assert.Equal(t, "3.67", r.Rating(RatingServiceAttitude).Average)
	assert.Equal(t, "100.0", r.ResponseRate)
	assert.Equal(t, "0.0", r.NPS)

	// Halves round away from zero: 1 promoter in 16 = 6.25 → 6.3; 1 detractor → −6.3.
	r = Tally(16, append(repeat(passive, 15), answer(4, 4, 4, 4, 4, 9, "")))
	assert.Equal(t, "6.3", r.NPS)
	r = Tally(16, append(repeat(passive, 15), answer(4, 4, 4, 4, 4, 6, "")))
	assert.Equal(t, "-6.3", r.NPS)
	// 27 / 8 = 3.375 → 3.38.
	r = Tally(8, append(repeat(answer(3, 4, 4, 4, 4, 7, ""), 5), repeat(answer(4, 4, 4, 4, 4, 7, ""), 3)...))
	assert.Equal(t, "3.38", r.Rating(RatingServiceAttitude).Average)

	// All detractors: −100.0; all promoters: 100.0.
	assert.Equal(t, "-100.0", Tally(2, repeat(answer(1, 1, 1, 1, 1, 0, ""), 2)).NPS)
	assert.Equal(t, "100.0", Tally(2, repeat(answer(5, 5, 5, 5, 5, 10, ""), 2)).NPS)
	assert.Equal(t, "0.0", Tally(2, repeat(answer(1, 2, 3, 3, 3, 0, ""), 2)).CSAT)
}

func TestTallyWithoutAnswers(t *testing.T) {
	r := Tally(0, nil)
	assert.Equal(t, "", r.ResponseRate, "nobody invited: no rate")
	assert.Equal(t, "", r.CSAT)
	assert.Equal(t, "", r.NPS)
	require.Len(t, r.Ratings, len(SurveyRatings))
	for i, rr := range r.Ratings {
		assert.Equal(t, RatingResult{Rating: SurveyRatings[i]}, rr)
	}
	assert.Empty(t, ImprovementsNeeded(r, DefaultSurveyPolicy()), "no answer, no improvement")

	r = Tally(10, nil)
	assert.Equal(t, "0.0", r.ResponseRate)
	assert.Equal(t, "", r.CSAT)
}

func TestImprovementsNeededThreshold(t *testing.T) {
	p := DefaultSurveyPolicy()
	one := func(sum, count int) CycleResults {
		return CycleResults{Ratings: []RatingResult{{Rating: RatingAfterSalesService, Count: count, Sum: sum}}}
	}
	for _, tc := range []struct {
		name       string
		sum, count int
		threshold  string
		want       bool
	}{
		{"exactly 3.5", 7, 2, "3.5", false},
		{"3.5 over many", 350, 100, "3.5", false},
		{"just below, shown as 3.50", 1049, 300, "3.5", true}, // 3.4966…
		{"just above", 1051, 300, "3.5", false},
		{"3.0", 3, 1, "3.5", true},
		{"4.0", 4, 1, "3.5", false},
		{"no answers", 0, 0, "3.5", false},
		{"configured threshold 4", 39, 10, "4", true},
		{"configured threshold 4, at it", 40, 10, "4", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.ImprovementThreshold = tc.threshold
			got := ImprovementsNeeded(one(tc.sum, tc.count), p)
			if tc.want {
				assert.Equal(t, []Improvement{{Rating: RatingAfterSalesService, Department: RoleCustomerService}}, got)
			} else {
				assert.Empty(t, got)
			}
		})
	}
	// The figures Tally gives: 1049/300 shows as 3.50 but needs an improvement.
	var answers []SurveyAnswer
	for i := range 300 {
		as := 4
		if i < 151 { // 151 × 3 + 149 × 4 = 453 + 596 = 1049
			as = 3
		}
		answers = append(answers, answer(5, 5, 5, 5, as, 9, ""))
	}
	r := Tally(300, answers)
	assert.Equal(t, "3.50", r.Rating(RatingAfterSalesService).Average)
	assert.Equal(t, []Improvement{{Rating: RatingAfterSalesService, Department: RoleCustomerService, Average: "3.50"}},
		ImprovementsNeeded(r, DefaultSurveyPolicy()))

	// The department comes from the policy.
	p = DefaultSurveyPolicy()
	p.Departments = map[string]Role{RatingAfterSalesService: RoleServiceManager}
	assert.Equal(t, RoleServiceManager, ImprovementsNeeded(one(1, 1), p)[0].Department)
}

func TestInQuietPeriod(t *testing.T) {
	p := DefaultSurveyPolicy()
	last := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		last time.Time
		now  time.Time
		want bool
	}{
		{"never invited", time.Time{}, last, false},
		{"the same moment", last, last, true},
		{"29 days later", last, last.AddDate(0, 0, 29), true},
		{"a nanosecond short of 30 days", last, last.Add(30*24*time.Hour - time.Nanosecond), true},
		{"exactly 30 days later", last, last.Add(30 * 24 * time.Hour), false},
		{"31 days later", last, last.AddDate(0, 0, 31), false},
		{"invited in the future (a clock ahead)", last.Add(time.Hour), last, true},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, InQuietPeriod(tc.last, tc.now, p)) })
	}
	p.QuietPeriod = 7 * 24 * time.Hour
	assert.False(t, InQuietPeriod(last, last.AddDate(0, 0, 7), p), "the configured period")
}

// plan is a valid visit plan of two visits.
func plan() VisitPlan {
	return VisitPlan{Title: "Q3 return visits", Visits: []Visit{
		{CustomerID: "cus_1", Method: VisitPhone, PlannedOn: "2025-06-10", Rep: "ryan", Purpose: "Follow up the survey"},
		{CustomerID: "cus_2", Method: VisitOnSite, PlannedOn: "2025-06-12", Rep: "rita", Purpose: "Check the new pumps"},
	}}
}

func TestVisitPlanValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*VisitPlan)
		fields []string
	}{
		{"valid", func(*VisitPlan) {}, nil},
		{"every method", func(p *VisitPlan) { p.Visits[0].Method = VisitOnline }, nil},
		{"the same customer twice", func(p *VisitPlan) { p.Visits[1].CustomerID = "cus_1" }, nil},
		{"no title", func(p *VisitPlan) { p.Title = "  " }, []string{"title"}},
		{"title too long", func(p *VisitPlan) { p.Title = strings.Repeat("t", MaxPlanTitle+1) }, []string{"title"}},
		{"no visits", func(p *VisitPlan) { p.Visits = nil }, []string{"visits"}},
		{"too many visits", func(p *VisitPlan) {
			for len(p.Visits) <= MaxPlanVisits {
				p.Visits = append(p.Visits, p.Visits[0])
			}
		}, []string{"visits"}},
		{"no customer", func(p *VisitPlan) { p.Visits[1].CustomerID = "" }, []string{"visits[1].customer_id"}},
		{"unknown method", func(p *VisitPlan) { p.Visits[0].Method = "visit" }, []string{"visits[0].method"}},
		{"no method", func(p *VisitPlan) { p.Visits[1].Method = "" }, []string{"visits[1].method"}},
		{"not a date", func(p *VisitPlan) { p.Visits[0].PlannedOn = "next week" }, []string{"visits[0].planned_on"}},
		{"no such day", func(p *VisitPlan) { p.Visits[0].PlannedOn = "2025-02-30" }, []string{"visits[0].planned_on"}},
		{"a timestamp", func(p *VisitPlan) { p.Visits[0].PlannedOn = "2025-06-10T09:00:00Z" }, []string{"visits[0].planned_on"}},
		{"year 1999", func(p *VisitPlan) { p.Visits[0].PlannedOn = "1999-12-31" }, []string{"visits[0].planned_on"}},
		{"no rep", func(p *VisitPlan) { p.Visits[0].Rep = "" }, []string{"visits[0].rep"}},
		{"no purpose", func(p *VisitPlan) { p.Visits[1].Purpose = "\n" }, []string{"visits[1].purpose"}},
		{"purpose too long", func(p *VisitPlan) { p.Visits[1].Purpose = strings.Repeat("p", MaxVisitPurpose+1) }, []string{"visits[1].purpose"}},
		{"an empty visit, in field order", func(p *VisitPlan) { p.Visits[1] = Visit{} }, []string{"visits[1].customer_id",
			"visits[1].method", "visits[1].planned_on", "visits[1].rep", "visits[1].purpose"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plan()
			tc.change(&p)
			var fields []string
			for _, e := range p.Validate() {
				fields = append(fields, e.Field)
				assert.NotEmpty(t, e.Message)
			}
			assert.Equal(t, tc.fields, fields)
		})
	}
}

func TestVisitPlanFirstVisit(t *testing.T) {
	p := plan()
	assert.Equal(t, 0, p.FirstVisit())
	p.Visits[1].PlannedOn = "2025-06-09"
	assert.Equal(t, 1, p.FirstVisit())
	p.Visits[1].PlannedOn = "2025-06-10"
	assert.Equal(t, 0, p.FirstVisit(), "the first in order among equals")
	assert.Equal(t, -1, VisitPlan{Visits: []Visit{{PlannedOn: "soon"}}}.FirstVisit())
}

func TestCheckSubmission(t *testing.T) {
	policy := DefaultSurveyPolicy()
	shanghai := time.FixedZone("CST", 8*3600)
	today := time.Date(2025, 6, 1, 15, 0, 0, 0, shanghai)
	for _, tc := range []struct {
		name   string
		dates  []string
		today  time.Time
		fields []string
	}{
		{"first visit 7 days ahead", []string{"2025-06-08", "2025-06-20"}, today, nil},
		{"first visit 6 days ahead", []string{"2025-06-07", "2025-06-20"}, today, []string{"visits[0].planned_on"}},
		{"the first visit is not the first listed", []string{"2025-06-20", "2025-06-07"}, today, []string{"visits[1].planned_on"}},
		{"every visit too soon is told", []string{"2025-06-02", "2025-06-07", "2025-06-08"}, today,
			[]string{"visits[0].planned_on", "visits[1].planned_on"}},
		{"a visit in the past", []string{"2025-05-01"}, today, []string{"visits[0].planned_on"}},
		{"today", []string{"2025-06-01"}, today, []string{"visits[0].planned_on"}},
		{"at the end of the day still today", []string{"2025-06-08"}, time.Date(2025, 6, 1, 23, 59, 59, 0, shanghai), nil},
		// 23:30 UTC on the 1st is already the 2nd in Shanghai: the 8th is 6 days away there.
		{"the calendar day of today's zone", []string{"2025-06-08"}, time.Date(2025, 6, 1, 23, 30, 0, 0, time.UTC).In(shanghai),
			[]string{"visits[0].planned_on"}},
		{"the same instant in UTC", []string{"2025-06-08"}, time.Date(2025, 6, 1, 23, 30, 0, 0, time.UTC), nil},
		{"an invalid date is Validate's", []string{"soon", "2025-06-09"}, today, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := VisitPlan{Title: "Plan"}
			for _, d := range tc.dates {
				p.Visits = append(p.Visits, Visit{CustomerID: "cus_1", Method: VisitPhone, PlannedOn: d, Rep: "ryan", Purpose: "x"})
			}
			var fields []string
			for _, e := range CheckSubmission(p, tc.today, policy) {
				fields = append(fields, e.Field)
				assert.Contains(t, e.Message, "7 days")
			}
			assert.Equal(t, tc.fields, fields)
		})
	}
	// The lead time is the policy's.
	policy.PlanLeadDays = 3
	p := plan()
	p.Visits[0].PlannedOn = "2025-06-04"
	assert.Empty(t, CheckSubmission(p, today, policy))
	p.Visits[0].PlannedOn = "2025-06-03"
	assert.Len(t, CheckSubmission(p, today, policy), 1)
}

func TestSurveyConstants(t *testing.T) {
	assert.Equal(t, []string{"all_active", "tier_a", "new_customers"}, SurveyAudiences)
	assert.Equal(t, []string{"quarterly", "monthly", "daily"}, SurveyCadences)
	assert.Equal(t, []string{"service_attitude", "service_quality", "service_efficiency", "product_quality",
		"after_sales_service"}, SurveyRatings)
	assert.Equal(t, []string{"phone", "on_site", "online"}, VisitMethods)
	assert.Equal(t, []string{"draft", "submitted", "approved", "completed"}, PlanStatuses)
	assert.Equal(t, "survey", PurposeSurvey)
	for _, s := range []string{StepReturnVisit, StepImprovement, StepAppointment, StepApproveVisitPlan} {
		assert.Contains(t, []string{"return_visit", "improvement", "appointment", "approve_visit_plan"}, s)
	}
}

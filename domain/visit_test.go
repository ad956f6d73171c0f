package domain

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fields(errs []FieldError) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func TestValidateVisitRecord(t *testing.T) {
	good := map[string]any{
		FieldVisitAt: "2026-05-12T10:00:00+08:00", FieldMethod: VisitPhone,
		FieldDiscussed: []any{TopicNeeds, TopicProductUse}, FieldSatisfaction: float64(4),
		FieldProblems: " Leaks ", FieldNeeds: nil,
	}
	assert.Empty(t, ValidateVisitRecord(good))
	r := VisitRecordFrom(good)
	assert.Equal(t, VisitRecord{At: time.Date(2026, 5, 12, 2, 0, 0, 0, time.UTC), Method: VisitPhone,
		Discussed: []string{TopicProductUse, TopicNeeds}, Satisfaction: 4, Problems: "Leaks"}, r,
		"topics in form order, text trimmed, time in UTC")

	for name, tc := range map[string]struct {
		data map[string]any
		want []string
	}{
		"no topic":           {map[string]any{FieldVisitAt: "2026-05-12T10:00:00Z", FieldDiscussed: []any{}, FieldSatisfaction: 3}, []string{FieldDiscussed}},
		"a topic twice":      {map[string]any{FieldVisitAt: "2026-05-12T10:00:00Z", FieldDiscussed: []any{TopicNeeds, TopicNeeds}, FieldSatisfaction: 3}, []string{FieldDiscussed}},
		"satisfaction 0":     {map[string]any{FieldVisitAt: "2026-05-12T10:00:00Z", FieldDiscussed: []any{TopicNeeds}, FieldSatisfaction: 0}, []string{FieldSatisfaction}},
		"satisfaction 4.5":   {map[string]any{FieldVisitAt: "2026-05-12T10:00:00Z", FieldDiscussed: []any{TopicNeeds}, FieldSatisfaction: 4.5}, []string{FieldSatisfaction}},
		"the year 1999":      {map[string]any{FieldVisitAt: "1999-05-12T10:00:00Z", FieldDiscussed: []any{TopicNeeds}, FieldSatisfaction: 3}, []string{FieldVisitAt}},
		"a date, no time":    {map[string]any{FieldVisitAt: "2026-05-12", FieldDiscussed: []any{TopicNeeds}, FieldSatisfaction: 3}, []string{FieldVisitAt}},
		"needs too long":     {map[string]any{FieldVisitAt: "2026-05-12T10:00:00Z", FieldDiscussed: []any{TopicNeeds}, FieldSatisfaction: 3, FieldNeeds: strings.Repeat("x", MaxVisitText+1)}, []string{FieldNeeds}},
		"problems not text":  {map[string]any{FieldVisitAt: "2026-05-12T10:00:00Z", FieldDiscussed: []any{TopicNeeds}, FieldSatisfaction: 3, FieldProblems: 3}, []string{FieldProblems}},
		"everything missing": {map[string]any{}, []string{FieldVisitAt, FieldDiscussed, FieldSatisfaction}},
	} {
		assert.Equal(t, tc.want, fields(ValidateVisitRecord(tc.data)), name)
	}
	from, latest := time.Date(2026, 5, 1, 16, 0, 0, 0, time.UTC), time.Date(2026, 6, 12, 16, 0, 0, 0, time.UTC)
	assert.Equal(t, []string{FieldAgreedAt}, fields(ValidateAppointment(map[string]any{FieldAgreedAt: "soon"}, from, latest)))
	assert.Empty(t, ValidateAppointment(map[string]any{FieldAgreedAt: "2026-05-12T10:00:00+08:00"}, from, latest))
	// Not before the day the appointment opened, nor long after the visit was due.
	assert.Equal(t, []string{FieldAgreedAt}, fields(ValidateAppointment(map[string]any{FieldAgreedAt: "2026-05-01T23:00:00+08:00"}, from, latest)))
	assert.Equal(t, []string{FieldAgreedAt}, fields(ValidateAppointment(map[string]any{FieldAgreedAt: "2999-01-01T10:00:00Z"}, from, latest)))
}

func TestVisitRecordFormPresetsThePlannedMethod(t *testing.T) {
	assert.Equal(t, VisitMethods, VisitRecordForm("")[1].Options)
	assert.Equal(t, []string{VisitOnline}, VisitRecordForm(VisitOnline)[1].Options)
	assert.Equal(t, VisitTopics, VisitRecordForm("")[2].Options)
}

func TestVisitInputValidate(t *testing.T) {
	in := VisitInput{Process: ProcessVisitPlan, ProcessID: "vpl_1", Key: "1", Customer: VisitCustomer{ID: "cus_1"},
		Rep: "alice", DueAt: time.Date(2026, 5, 12, 16, 0, 0, 0, time.UTC)}
	assert.Empty(t, in.Validate())
	in.StartAt = in.DueAt
	in.Method = "fax"
	assert.Equal(t, []string{"method", "due_at"}, fields(in.Validate()))
	assert.Equal(t, []string{"process", "process_id", "key", "customer.id", "rep", "due_at"}, fields(VisitInput{}.Validate()))

	// Ids are derived, so that starting a visit twice starts one workflow.
	assert.Equal(t, VisitID("survey", "cyc_1", "cus_1"), VisitID("survey", "cyc_1", "cus_1"))
	assert.NotEqual(t, VisitID("survey", "cyc_1", "cus_1"), VisitID("survey", "cyc_1", "cus_2"))
	assert.True(t, strings.HasPrefix(in.ID(), "vis_"))
	assert.Equal(t, "visit/"+in.ID(), VisitWorkflowID(in.ID()))
	assert.Equal(t, "visit_plan/vpl_1", VisitPlanWorkflowID("vpl_1"))
}

func TestPlannedDayInTheCompanyZone(t *testing.T) {
	p := DefaultSurveyPolicy()
	start, end, err := p.PlannedDay("2026-05-12")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 5, 11, 16, 0, 0, 0, time.UTC), start)
	assert.Equal(t, time.Date(2026, 5, 12, 16, 0, 0, 0, time.UTC), end)
	_, _, err = p.PlannedDay("12/05/2026")
	assert.Error(t, err)
}

func TestCompletionRate(t *testing.T) {
	assert.Equal(t, "", CompletionRate(0, 0))
	assert.Equal(t, "66.7", CompletionRate(2, 3))
	assert.Equal(t, "100.0", CompletionRate(3, 3))
}

func TestSurveyPolicyVisitFields(t *testing.T) {
	p := DefaultSurveyPolicy()
	assert.Equal(t, 8*time.Hour, p.UTCOffset)
	require.NoError(t, p.Validate())
	p.UTCOffset = 30 * time.Hour
	p.VisitReminders = []float64{0.8, 0.5}
	p.PlanApprovalSLA = 0
	err := p.Validate()
	require.Error(t, err)
	for _, f := range []string{"utc_offset", "visit_reminders[1]", "plan_approval_sla"} {
		assert.Contains(t, err.Error(), f)
	}
}

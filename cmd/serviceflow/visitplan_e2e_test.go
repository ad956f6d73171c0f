package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/domain"
)

// A return-visit plan on the real stack, over the API: bob plans a phone visit and an
// on-site one; a plan whose first visit is too soon is refused (422 on the visit);
// ken approves it from his inbox; the on-site visit's appointment opens for its rep at
// once, who records the agreed time; the plan reports its visits and a completion of
// 0 of 2 until they are made.
func TestVisitPlanEndToEnd(t *testing.T) {
	s := startStack(t, nil)
	day := func(n int) string {
		return time.Now().In(time.FixedZone("", 8*3600)).AddDate(0, 0, n).Format(time.DateOnly)
	}
	visits := []map[string]any{
		{"customer_id": "cus_DEMO_NORTHWIND", "method": "phone", "planned_on": day(10), "rep": "alice", "purpose": "Spindle follow-up"},
		{"customer_id": "cus_DEMO_HUADONG", "method": "on_site", "planned_on": day(12), "rep": "aaron", "purpose": "Line audit"},
	}
	plan := s.must(201, "bob", "POST", "/api/v1/visit-plans", map[string]any{"title": "Tier A, next fortnight", "visits": visits})
	id := plan["id"].(string)
	if plan["status"] != domain.PlanDraft {
		t.Fatalf("plan %v", plan)
	}

	// Too soon: the first visit in 3 days.
	soon := []map[string]any{{"customer_id": "cus_DEMO_CONTOSO", "method": "phone", "planned_on": day(3), "rep": "alice", "purpose": "Call"}}
	tooSoon := s.must(201, "bob", "POST", "/api/v1/visit-plans", map[string]any{"title": "Too soon", "visits": soon})["id"].(string)
	code, out := s.call("bob", "POST", "/api/v1/visit-plans/"+tooSoon+"/submit", nil)
	if code != http.StatusUnprocessableEntity || !hasFieldError(out, "visits[0].planned_on") {
		t.Errorf("a plan too soon: %d %v", code, out)
	}

	s.must(200, "bob", "POST", "/api/v1/visit-plans/"+id+"/submit", nil)
	approve := s.findTask("ken", "group", id, domain.StepApproveVisitPlan)
	s.must(200, "ken", "POST", "/api/v1/tasks/"+approve["id"].(string)+"/complete", map[string]any{"action": "approve"})
	eventually(t, 20*time.Second, "the plan approved", func() bool {
		return s.must(200, "bob", "GET", "/api/v1/visit-plans/"+id, nil)["status"] == domain.PlanApproved
	})

	appointment := s.findTask("aaron", "mine", id, domain.StepAppointment)
	agreed := time.Now().AddDate(0, 0, 12).UTC().Truncate(time.Hour).Format(time.RFC3339)
	s.must(200, "aaron", "POST", "/api/v1/tasks/"+appointment["id"].(string)+"/complete",
		map[string]any{"action": "done", "data": map[string]any{domain.FieldAgreedAt: agreed}})

	got := s.must(200, "judy", "GET", "/api/v1/visit-plans/"+id, nil)
	if n, _ := got["visits"].([]any); len(n) != 2 || got["completion_rate"] != "0.0" {
		t.Errorf("plan %v", got)
	}
	s.recordHistory(domain.VisitPlanWorkflowID(id), "visit_plan_approved")
	s.recordHistory(domain.VisitWorkflowID(domain.VisitID(domain.ProcessVisitPlan, id, "2")), "VisitWorkflow_on_site_appointed")
}

// hasFieldError reports whether a problem+json body names field.
func hasFieldError(out map[string]any, field string) bool {
	errs, _ := out["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field {
			return true
		}
	}
	return false
}

package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// daysAhead is the date n days from today in the company's zone (YYYY-MM-DD).
func daysAhead(n int) string {
	return time.Now().In(domain.DefaultSurveyPolicy().Zone()).AddDate(0, 0, n).Format(time.DateOnly)
}

// visitPlanBody is a valid plan: two visits by alice and aaron, a month ahead.
func visitPlanBody() map[string]any {
	return map[string]any{"title": "Q3 return visits", "visits": []any{
		map[string]any{"customer_id": "cus_acme", "method": "on_site", "planned_on": daysAhead(30), "rep": "alice", "purpose": "Annual check"},
		map[string]any{"customer_id": "cus_globex", "method": "phone", "planned_on": daysAhead(31), "rep": "aaron", "purpose": "Follow-up"},
	}}
}

// insertVisitPlan stores a plan of by in status with one visit a month ahead (or on
// plannedOn), as the workflow would project it (no workflow is started).
func (e *env) insertVisitPlan(id, by, status string, plannedOn ...string) {
	e.t.Helper()
	on := daysAhead(30)
	if len(plannedOn) > 0 {
		on = plannedOn[0]
	}
	st := domain.NewVisitPlanState(domain.VisitPlanInput{ID: id, CreatedBy: by, CreatedAt: time.Now(), Plan: domain.VisitPlan{
		Title: "Plan " + id, Visits: []domain.Visit{{CustomerID: "cus_acme", Method: domain.VisitPhone, PlannedOn: on,
			Rep: "alice", Purpose: "Check"}}}})
	st.Status = status
	if err := store.UpsertVisitPlan(context.Background(), e.st.Pool, st); err != nil {
		e.t.Fatal(err)
	}
}

// fakeVisitPlanWorkflow answers the visit plan Updates as VisitPlanWorkflow validates
// them (a draft only; the plan's fields; the first visit PlanLeadDays ahead) and hands
// any other Update to the fake installed before. It changes no row.
func (e *env) fakeVisitPlanWorkflow() {
	st := e.st
	e.tc.mu.Lock()
	defer e.tc.mu.Unlock()
	next := e.tc.onUpdate
	e.tc.onUpdate = func(o client.UpdateWorkflowOptions) (any, error) {
		id, ok := strings.CutPrefix(o.WorkflowID, domain.VisitPlanProcess.WorkflowID(""))
		if !ok {
			if next == nil {
				return domain.CompleteTaskResponse{ProcessStatus: "evaluating"}, nil
			}
			return next(o)
		}
		r, err := st.GetVisitPlan(context.Background(), id)
		if err != nil {
			return nil, err
		}
		s := r.Plan
		if s.Status != domain.PlanDraft {
			return nil, temporal.NewApplicationError("visit plan "+id+" is "+s.Status, domain.ErrTypeNotAccepting)
		}
		policy := domain.DefaultSurveyPolicy()
		var errs []domain.FieldError
		switch req := o.Args[0].(type) {
		case domain.EditVisitPlanRequest:
			errs = req.Plan.Validate()
			s.Plan, s.Title = req.Plan, req.Plan.Title
		case domain.SubmitVisitPlanRequest:
			errs = domain.CheckSubmission(s.Plan, time.Now().In(policy.Zone()), policy)
			s.Status, s.SubmittedBy = domain.PlanSubmitted, req.Actor
		}
		if len(errs) > 0 {
			return nil, temporal.NewApplicationError("invalid data", domain.ErrTypeInvalidData, errs)
		}
		return s, nil
	}
}

// TestVisitPlanCreate: bob makes a plan, a draft; the workflow starts with the plan,
// its maker, the survey policy; the same Idempotency-Key replays it; the plan reads
// back with no visits yet, and lists.
func TestVisitPlanCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := visitPlanBody()
	r := e.do("POST", "/api/v1/visit-plans", "bob", body, "Idempotency-Key", "vpl-1").want(http.StatusCreated)
	created := r.json()
	id, _ := created["id"].(string)
	if !strings.HasPrefix(id, "vpl_") || created["status"] != domain.PlanDraft || created["created_by"] != "bob" || created["title"] != "Q3 return visits" {
		t.Fatalf("created: %s", r.Body.String())
	}
	if loc := r.Header().Get("Location"); loc != "/api/v1/visit-plans/"+id {
		t.Fatalf("location %q", loc)
	}
	e.tc.mu.Lock()
	start := e.tc.starts[0]
	e.tc.mu.Unlock()
	in := start.args[0].(domain.VisitPlanInput)
	if start.opts.ID != "visit_plan/"+id || start.workflow != "VisitPlanWorkflow" || in.ID != id || in.CreatedBy != "bob" ||
		len(in.Plan.Visits) != 2 || in.Plan.Visits[1].Rep != "aaron" || in.Policy.PlanLeadDays != 7 {
		t.Fatalf("start: %+v %+v", start.opts, in)
	}
	again := e.do("POST", "/api/v1/visit-plans", "bob", body, "Idempotency-Key", "vpl-1").want(http.StatusCreated)
	if again.json()["id"] != id || again.Header().Get("Idempotent-Replayed") != "true" || e.tc.startCount() != 1 {
		t.Fatalf("replay: %s", again.Body.String())
	}
	e.do("POST", "/api/v1/visit-plans", "bob", with(body, "title", "Other"), "Idempotency-Key", "vpl-1").problem(http.StatusConflict)

	got := e.do("GET", "/api/v1/visit-plans/"+id, "judy", nil).want(http.StatusOK).json()
	if got["status"] != domain.PlanDraft || len(got["visits"].([]any)) != 0 || got["completion_rate"] != "" ||
		len(got["plan"].(map[string]any)["visits"].([]any)) != 2 {
		t.Fatalf("detail: %v", got)
	}
	ids, _ := e.do("GET", "/api/v1/visit-plans?status=draft", "judy", nil).want(http.StatusOK).items()
	if !slices.Equal(ids, []string{id}) {
		t.Fatalf("list: %v", ids)
	}
	// A rep reads no plan, not even one they visit in; nor lists them.
	e.do("GET", "/api/v1/visit-plans/"+id, "alice", nil).problem(http.StatusNotFound)
	e.do("GET", "/api/v1/visit-plans", "alice", nil).problem(http.StatusForbidden)
}

// TestVisitPlanEditAndSubmit: the maker edits the draft (the edge checks the reps and
// customers first), a submission too soon names the visit too soon, a later one goes;
// a submitted plan is no longer edited or submitted (409).
func TestVisitPlanEditAndSubmit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fakeVisitPlanWorkflow()
	e.insertVisitPlan("vpl_draft", "bob", domain.PlanDraft)
	e.insertVisitPlan("vpl_sub", "bob", domain.PlanSubmitted)

	soon := visitPlanBody()
	soon["visits"].([]any)[1].(map[string]any)["planned_on"] = daysAhead(3)
	edited := e.do("PUT", "/api/v1/visit-plans/vpl_draft", "bob", soon).want(http.StatusOK).json()
	if edited["title"] != "Q3 return visits" || e.tc.lastUpdate().UpdateName != domain.UpdateEditVisitPlan {
		t.Fatalf("edit: %v", edited)
	}
	if req := e.tc.lastUpdate().Args[0].(domain.EditVisitPlanRequest); req.Actor != "bob" || len(req.Plan.Visits) != 2 {
		t.Fatalf("edit request: %+v", req)
	}
	// The fake does not keep the edit: store it as the workflow would project it.
	var plan domain.VisitPlan
	plan.Title = "Q3 return visits"
	for _, v := range soon["visits"].([]any) {
		m := v.(map[string]any)
		plan.Visits = append(plan.Visits, domain.Visit{CustomerID: m["customer_id"].(string), Method: m["method"].(string),
			PlannedOn: m["planned_on"].(string), Rep: m["rep"].(string), Purpose: m["purpose"].(string)})
	}
	st := domain.NewVisitPlanState(domain.VisitPlanInput{ID: "vpl_draft", CreatedBy: "bob", CreatedAt: time.Now(), Plan: plan})
	if err := store.UpsertVisitPlan(context.Background(), e.st.Pool, st); err != nil {
		t.Fatal(err)
	}
	fields := fieldNames(e.do("POST", "/api/v1/visit-plans/vpl_draft/submit", "bob", nil).problem(http.StatusUnprocessableEntity))
	if !slices.Equal(fields, []string{"visits[1].planned_on"}) {
		t.Fatalf("a visit too soon: %v", fields)
	}
	e.do("PUT", "/api/v1/visit-plans/vpl_draft", "bob", visitPlanBody()).want(http.StatusOK)
	e.insertVisitPlan("vpl_draft", "bob", domain.PlanDraft) // a month ahead again
	sub := e.do("POST", "/api/v1/visit-plans/vpl_draft/submit", "bob", `{}`).want(http.StatusOK).json()
	if sub["status"] != domain.PlanSubmitted || sub["submitted_by"] != "bob" {
		t.Fatalf("submitted: %v", sub)
	}
	e.do("POST", "/api/v1/visit-plans/vpl_sub/submit", "bob", nil).problem(http.StatusConflict)
	e.do("PUT", "/api/v1/visit-plans/vpl_sub", "bob", visitPlanBody()).problem(http.StatusConflict)
}

package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// planDay is the day n days from now in the company's zone.
func planDay(n int) string {
	return time.Now().In(domain.DefaultSurveyPolicy().Zone()).AddDate(0, 0, n).Format(time.DateOnly)
}

// TestVisitPlanPages: bob (a sales manager) makes a plan with the form, a bad row first
// (its error under its cell, what he typed kept; "add a visit" grows the table), lands
// on its page, edits it, and submits it: a visit too soon is marked on its row, then
// the submission goes. A rep neither lists nor opens plans.
func TestVisitPlanPages(t *testing.T) {
	e, tc := newCaseEnv(t)
	ctx := context.Background()
	hash, _ := HashPassword(testPassword)
	if err := e.st.CreateUser(ctx, store.UserInput{Username: "bob", DisplayName: "Bob", Email: "bob@example.test",
		Roles: []string{string(domain.RoleSalesManager)}}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetPasswordHash(ctx, "bob", hash); err != nil {
		t.Fatal(err)
	}
	// The workflow: edits are kept in the row, a submission checks the lead time.
	tc.onUpdate = func(o client.UpdateWorkflowOptions) (any, error) {
		id := strings.TrimPrefix(o.WorkflowID, "visit_plan/")
		r, err := e.st.GetVisitPlan(ctx, id)
		if err != nil {
			return nil, err
		}
		st := r.Plan
		policy := domain.DefaultSurveyPolicy()
		switch req := o.Args[0].(type) {
		case domain.EditVisitPlanRequest:
			st.Plan, st.Title = req.Plan, req.Plan.Title
		case domain.SubmitVisitPlanRequest:
			if errs := domain.CheckSubmission(st.Plan, time.Now().In(policy.Zone()), policy); len(errs) > 0 {
				return nil, temporal.NewApplicationError("too soon", domain.ErrTypeInvalidData, errs)
			}
			st.Status, st.Round, st.SubmittedBy = domain.PlanSubmitted, 1, req.Actor
		}
		return st, store.UpsertVisitPlan(ctx, e.st.Pool, st)
	}
	bob := e.session("bob")

	home := e.req(http.MethodGet, "/", bob, nil).Body.String()
	if !strings.Contains(home, `id="nav-visit_plans"`) || !strings.Contains(home, `href="/visit-plans/new"`) {
		t.Fatalf("bob's header lacks the plans: %s", home)
	}
	form := e.req(http.MethodGet, "/visit-plans/new", bob, nil)
	body := form.Body.String()
	for _, want := range []string{`id="visit-0-customer_id"`, `<option value="cus_zen">Zen Motors (C)</option>`,
		`<option value="sam">sam</option>`, `<input type="date" id="visit-2-planned_on"`, `id="visit-row-3"`, "at least 7 days"} {
		if !strings.Contains(body, want) {
			t.Errorf("the plan form lacks %q", want)
		}
	}
	key := hiddenKey(t, body)
	v := url.Values{"key": {key}, "title": {"Q3 return visits"},
		"visits[0].customer_id": {"cus_acme"}, "visits[0].method": {"on_site"}, "visits[0].planned_on": {planDay(20)},
		"visits[0].rep": {"alice"}, "visits[0].purpose": {"Annual check"},
		"visits[2].customer_id": {"cus_zen"}, "visits[2].method": {"phone"}, "visits[2].planned_on": {"2026-02-30"},
		"visits[2].rep": {"sam"}, "visits[2].purpose": {"Follow-up"}}
	w := e.req(http.MethodPost, "/visit-plans/new", bob, v)
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `id="visit-2-planned_on-error"`) ||
		!strings.Contains(w.Body.String(), `value="Annual check"`) || tc.startCount() != 0 {
		t.Fatalf("a bad date: %d %s", w.Code, w.Body.String())
	}
	v.Set("more", "1")
	if w := e.req(http.MethodPost, "/visit-plans/new", bob, v); !strings.Contains(w.Body.String(), `id="visit-row-4"`) {
		t.Fatalf("add a visit: %d", w.Code)
	}
	v.Del("more")
	v.Set("visits[2].planned_on", planDay(21))
	w = e.req(http.MethodPost, "/visit-plans/new", bob, v)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/visit-plans/vpl_") || tc.startCount() != 1 {
		t.Fatalf("make the plan: %d %s", w.Code, w.Body.String())
	}
	page := w.Header().Get("Location")
	id := strings.TrimPrefix(page, "/visit-plans/")
	body = e.reqWith(http.MethodGet, page, bob, w.Result().Cookies()).Body.String()
	for _, want := range []string{"saved as a draft", "Q3 return visits", `id="plan-submit"`, "Zen Motors", "On site", planDay(21)} {
		if !strings.Contains(body, want) {
			t.Errorf("the plan's page lacks %q", want)
		}
	}

	// The edit form is filled with the plan; the second visit moves to three days ahead.
	edit := e.req(http.MethodGet, page+"/edit", bob, nil).Body.String()
	if !strings.Contains(edit, `value="Annual check"`) || !strings.Contains(edit, `<option value="cus_zen" selected>`) {
		t.Fatalf("the edit form: %s", edit)
	}
	v = url.Values{"key": {hiddenKey(t, edit)}, "title": {"Q3 return visits (rev.)"},
		"visits[0].customer_id": {"cus_acme"}, "visits[0].method": {"on_site"}, "visits[0].planned_on": {planDay(20)},
		"visits[0].rep": {"alice"}, "visits[0].purpose": {"Annual check"},
		"visits[1].customer_id": {"cus_zen"}, "visits[1].method": {"phone"}, "visits[1].planned_on": {planDay(3)},
		"visits[1].rep": {"sam"}, "visits[1].purpose": {"Follow-up"}}
	if w := e.req(http.MethodPost, page+"/edit", bob, v); w.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", w.Code, w.Body.String())
	}
	w = e.req(http.MethodPost, page+"/submit", bob, url.Values{"key": {"k1"}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `id="visit-2-planned_on-error"`) ||
		!strings.Contains(w.Body.String(), `id="submit-error"`) {
		t.Fatalf("a visit too soon: %d %s", w.Code, w.Body.String())
	}
	v.Set("visits[1].planned_on", planDay(10))
	v.Set("key", "k2")
	if w := e.req(http.MethodPost, page+"/edit", bob, v); w.Code != http.StatusSeeOther {
		t.Fatalf("edit again: %d", w.Code)
	}
	w = e.req(http.MethodPost, page+"/submit", bob, url.Values{"key": {"k3"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("submit: %d %s", w.Code, w.Body.String())
	}
	body = e.reqWith(http.MethodGet, page, bob, w.Result().Cookies()).Body.String()
	if !strings.Contains(body, "submitted for approval") || strings.Contains(body, `id="plan-submit"`) ||
		!strings.Contains(body, "Submitted") {
		t.Errorf("the submitted plan's page: %s", body)
	}
	list := e.req(http.MethodGet, "/visit-plans?status=submitted", bob, nil).Body.String()
	if !strings.Contains(list, `id="plan-`+id+`"`) || !strings.Contains(list, "Q3 return visits (rev.)") {
		t.Errorf("the plans list: %s", list)
	}

	// A rep lists none, opens none, and makes none.
	alice := e.session("alice")
	if w := e.req(http.MethodGet, "/visit-plans", alice, nil); w.Code != http.StatusForbidden {
		t.Errorf("alice lists plans: %d", w.Code)
	}
	if w := e.req(http.MethodGet, page, alice, nil); w.Code != http.StatusNotFound {
		t.Errorf("alice opens a plan: %d", w.Code)
	}
	if w := e.req(http.MethodGet, "/visit-plans/new", alice, nil); w.Code != http.StatusForbidden {
		t.Errorf("alice's plan form: %d", w.Code)
	}
	if strings.Contains(e.req(http.MethodGet, "/", alice, nil).Body.String(), "nav-visit_plans") {
		t.Error("alice's header links the plans")
	}
}

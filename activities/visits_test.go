package activities_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
)

func TestProjectVisitPlanAndItsVisits(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	plan := domain.VisitPlan{Title: "Spring visits", Visits: []domain.Visit{
		{CustomerID: "cus_1", Method: domain.VisitPhone, PlannedOn: "2025-03-12", Rep: "alice", Purpose: "Follow up"},
	}}
	st := domain.VisitPlanState{ID: "vpl_1", Title: plan.Title, Status: domain.PlanSubmitted, Plan: plan, CreatedBy: "dave", CreatedAt: t0}
	audit := domain.AuditInput{Key: "visit_plan/vpl_1/submitted/1", Process: domain.ProcessVisitPlan, ProcessID: "vpl_1",
		Actor: "dave", Event: "visit_plan_submitted", At: t0}
	require.NoError(t, a.ProjectVisitPlan(ctx, domain.VisitPlanProjection{State: st, Audit: audit}))
	require.NoError(t, a.ProjectVisitPlan(ctx, domain.VisitPlanProjection{State: st, Audit: audit}), "a retry")
	assert.Equal(t, 1, auditCount(t, a.Store, "visit_plan_submitted"))

	id := domain.VisitID(domain.ProcessVisitPlan, "vpl_1", "1")
	visit := domain.VisitOutcome{ID: id, Process: domain.ProcessVisitPlan, ProcessID: "vpl_1", Seq: 1,
		Customer: domain.VisitCustomer{ID: "cus_1"}, Rep: "alice", Status: domain.VisitScheduled, DueAt: t0.AddDate(0, 0, 12)}
	st.Status = domain.PlanApproved
	require.NoError(t, a.ProjectVisitPlan(ctx, domain.VisitPlanProjection{State: st, Visits: []domain.VisitOutcome{visit}}))
	visit.Status = domain.VisitCompleted
	visit.Record = &domain.VisitRecord{At: t0, Method: domain.VisitPhone, Discussed: []string{domain.TopicProductUse}, Satisfaction: 5}
	require.NoError(t, a.ProjectVisit(ctx, domain.VisitProjection{Visit: visit, Audit: domain.AuditInput{
		Key: "visit/" + id + "/recorded/1", Process: domain.ProcessVisitPlan, ProcessID: "vpl_1", Event: "visit_recorded", At: t0}}))

	r, err := a.Store.GetVisitPlan(ctx, "vpl_1")
	require.NoError(t, err)
	assert.Equal(t, domain.PlanApproved, r.Plan.Status)
	require.Len(t, r.Visits, 1)
	assert.Equal(t, "100.0", r.CompletionRate)
	assert.Equal(t, 1, auditCount(t, a.Store, "visit_recorded"))
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM audit_events WHERE event = 'visit_recorded' AND actor = 'system'`))

	err = a.ProjectVisit(ctx, domain.VisitProjection{})
	nonRetryable(t, err, "InvalidInput")
}

func TestVisitCustomers(t *testing.T) {
	a, _ := setup(t)
	got, err := a.VisitCustomers(context.Background(), []string{"cus_1"})
	require.NoError(t, err)
	assert.Equal(t, []domain.VisitCustomer{{ID: "cus_1", Name: "Acme", Email: "buyer@acme.example", Tier: "A", Locale: "en", Owner: "alice"}}, got)
	_, err = a.VisitCustomers(context.Background(), []string{"cus_1", "cus_ghost"})
	nonRetryable(t, err, "InvalidInput")
}

// A notice to a user's manager goes to the manager the directory has, else to the
// fallback groups.
func TestQueueNoticeToManagersOf(t *testing.T) {
	a, _ := setup(t)
	res, err := a.QueueNotice(context.Background(), domain.NotifyInput{
		KeyPrefix: "visit/vis_1/need", ManagersOf: []string{"carol"}, ManagerFallback: []string{"general_manager"},
		Template: domain.TmplContractApproved, Data: map[string]any{}, Process: domain.ProcessVisitPlan, ProcessID: "vpl_1",
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"dave"}, res.Recipients, "carol's manager")

	res, err = a.QueueNotice(context.Background(), domain.NotifyInput{
		KeyPrefix: "visit/vis_2/need", ManagersOf: []string{"alice"}, ManagerFallback: []string{"general_manager"},
		Template: domain.TmplContractApproved, Data: map[string]any{}, Process: domain.ProcessVisitPlan, ProcessID: "vpl_1",
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"judy"}, res.Recipients, "alice has no manager: the general manager")
}

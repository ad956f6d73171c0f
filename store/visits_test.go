package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

var visitT0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func visitPlanState(id string) domain.VisitPlanState {
	plan := domain.VisitPlan{Title: "May visits", Visits: []domain.Visit{
		{CustomerID: "cus_1", Method: domain.VisitOnSite, PlannedOn: "2026-05-12", Rep: "alice", Purpose: "Check the new lathe"},
		{CustomerID: "cus_2", Method: domain.VisitPhone, PlannedOn: "2026-05-13", Rep: "bob", Purpose: "Spare parts"},
		{CustomerID: "cus_1", Method: domain.VisitOnline, PlannedOn: "2026-05-14", Rep: "alice", Purpose: "Training"},
	}}
	return domain.VisitPlanState{ID: id, Title: plan.Title, Status: domain.PlanDraft, Plan: plan, CreatedBy: "bob",
		CreatedAt: visitT0, Decisions: []domain.VisitPlanDecision{}, VisitIDs: []string{}, OpenTasks: []string{}}
}

func planVisit(planID string, seq int, v domain.Visit) domain.VisitOutcome {
	id := domain.VisitID(domain.ProcessVisitPlan, planID, string(rune('0'+seq)))
	return domain.VisitOutcome{ID: id, Process: domain.ProcessVisitPlan, ProcessID: planID, Seq: seq,
		Customer: domain.VisitCustomer{ID: v.CustomerID}, Rep: v.Rep, Method: v.Method, Purpose: v.Purpose,
		Status: domain.VisitScheduled, DueAt: visitT0.AddDate(0, 0, 8+seq), OpenTasks: []string{}}
}

func TestVisitPlanReportCountsCompletedVisits(t *testing.T) {
	s := storetest.New(t, "visits")
	ctx := context.Background()
	seedOrderParties(t, s)

	st := visitPlanState("vpl_1")
	require.NoError(t, store.InsertVisitPlan(ctx, s.Pool, st))
	st.Title = "changed by a retried create"
	require.NoError(t, store.InsertVisitPlan(ctx, s.Pool, st), "a second insert is no error")
	r, err := s.GetVisitPlan(ctx, "vpl_1")
	require.NoError(t, err)
	assert.Equal(t, "May visits", r.Plan.Title, "nor does it change the row")
	assert.Equal(t, domain.PlanDraft, r.Plan.Status)
	assert.Empty(t, r.Visits)
	assert.Equal(t, "", r.CompletionRate, "no visit, no rate")

	// Approved: the workflow projects the plan and its visits, scheduled.
	st = visitPlanState("vpl_1")
	st.Status = domain.PlanApproved
	var visits []domain.VisitOutcome
	for i, v := range st.Plan.Visits {
		visits = append(visits, planVisit("vpl_1", i+1, v))
	}
	require.NoError(t, s.WithTx(ctx, func(tx pgx.Tx) error {
		if err := store.UpsertVisitPlan(ctx, tx, st); err != nil {
			return err
		}
		return store.InsertScheduledVisits(ctx, tx, visits)
	}))
	// The second visit's workflow records it; the first is open. A scheduled insert
	// that comes late changes neither.
	done := visits[1]
	at := visitT0.AddDate(0, 0, 9)
	done.Status, done.CompletedAt, done.ComplaintID = domain.VisitCompleted, &at, "cmp_9"
	done.Record = &domain.VisitRecord{At: at, Method: domain.VisitPhone, Discussed: []string{domain.TopicNeeds}, Satisfaction: 4}
	require.NoError(t, store.UpsertVisit(ctx, s.Pool, done))
	open := visits[0]
	open.Status = domain.VisitOpen
	require.NoError(t, store.UpsertVisit(ctx, s.Pool, open))
	require.NoError(t, store.InsertScheduledVisits(ctx, s.Pool, visits))

	r, err = s.GetVisitPlan(ctx, "vpl_1")
	require.NoError(t, err)
	assert.Equal(t, domain.PlanApproved, r.Plan.Status)
	require.Len(t, r.Visits, 3)
	assert.Equal(t, []int{1, 2, 3}, []int{r.Visits[0].Seq, r.Visits[1].Seq, r.Visits[2].Seq}, "in plan order")
	assert.Equal(t, domain.VisitOpen, r.Visits[0].Status)
	assert.Equal(t, domain.VisitCompleted, r.Visits[1].Status)
	assert.Equal(t, "cmp_9", r.Visits[1].ComplaintID)
	assert.Equal(t, 3, r.Total)
	assert.Equal(t, 1, r.Completed)
	assert.Equal(t, "33.3", r.CompletionRate)
	assert.Equal(t, "4.00", r.AverageSatisfaction)

	v, err := s.GetVisit(ctx, done.ID)
	require.NoError(t, err)
	assert.Equal(t, 4, v.Record.Satisfaction)
	_, err = s.GetVisit(ctx, "vis_nope")
	assert.True(t, errors.Is(err, store.ErrNotFound))
	_, err = s.GetVisitPlan(ctx, "vpl_nope")
	assert.True(t, errors.Is(err, store.ErrNotFound))

	var sat int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT satisfaction FROM visits WHERE id = $1`, done.ID).Scan(&sat))
	assert.Equal(t, 4, sat)
}

func TestVisitPlanList(t *testing.T) {
	s := storetest.New(t, "visitplans")
	ctx := context.Background()
	seedOrderParties(t, s)
	for _, id := range []string{"vpl_1", "vpl_2", "vpl_3"} {
		require.NoError(t, store.InsertVisitPlan(ctx, s.Pool, visitPlanState(id)))
	}
	st := visitPlanState("vpl_2")
	st.Status = domain.PlanSubmitted
	require.NoError(t, store.UpsertVisitPlan(ctx, s.Pool, st))

	page, next, err := s.ListVisitPlans(ctx, store.VisitPlanFilter{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page, 2)
	assert.Equal(t, "vpl_3", page[0].ID)
	require.NotEmpty(t, next)
	page, next, err = s.ListVisitPlans(ctx, store.VisitPlanFilter{Limit: 2, Cursor: next})
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, "vpl_1", page[0].ID)
	assert.Empty(t, next)

	page, _, err = s.ListVisitPlans(ctx, store.VisitPlanFilter{Status: domain.PlanSubmitted, CreatedBy: "bob"})
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, "vpl_2", page[0].ID)
}

// A complaint opened by a visit names it.
func TestComplaintNamesItsVisit(t *testing.T) {
	s := storetest.New(t, "visitcmp")
	ctx := context.Background()
	seedOrderParties(t, s)
	in := domain.ComplaintInput{ID: "cmp_v", CustomerID: "cus_1", Channel: "visit", Subject: "Problem found on a visit",
		Description: "Leaks", Severity: "normal", FiledBy: "alice", ReceivedAt: visitT0, VisitID: "vis_1"}
	require.NoError(t, store.InsertComplaint(ctx, s.Pool, in, domain.ComplaintReceived, visitT0.Add(time.Hour)))
	in.ID, in.VisitID = "cmp_o", ""
	require.NoError(t, store.InsertComplaint(ctx, s.Pool, in, domain.ComplaintReceived, visitT0.Add(time.Hour)))
	var visit *string
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT visit_id FROM complaints WHERE id = 'cmp_v'`).Scan(&visit))
	require.NotNil(t, visit)
	assert.Equal(t, "vis_1", *visit)
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT visit_id FROM complaints WHERE id = 'cmp_o'`).Scan(&visit))
	assert.Nil(t, visit)
}

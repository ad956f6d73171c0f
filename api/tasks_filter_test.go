package api

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/domain"
)

// TestListTasksFilters checks the inbox filters of GET /api/v1/tasks, each alone, and
// that a bad value is a 422 naming it.
func TestListTasksFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ id, customer string }{{"cmp_acme", "cus_acme"}, {"cmp_globex", "cus_globex"}} {
		_, err := e.st.Pool.Exec(ctx, `INSERT INTO complaints (id, workflow_id, customer_id, channel, subject, description,
			status, severity, filed_by, received_at, response_due_at, updated_at)
			VALUES ($1, 'complaint/'||$1, $2, 'phone', 'S', 'D', 'received', 'normal', 'carol', $3, $3, $3)`, c.id, c.customer, base)
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range []taskRow{
		{id: "tk1", processID: "cmp_acme", step: domain.StepEvaluate},
		{id: "tk2", processID: "cmp_acme", step: domain.StepRespond},
		{id: "tk3", processID: "cmp_globex", step: domain.StepEvaluate},
	} {
		r.assignee, r.due = "carol", base.Add(time.Duration(i+1)*time.Hour)
		e.insertTask(r)
	}
	if _, err := e.st.Pool.Exec(ctx, `UPDATE tasks SET escalation_level = 1 WHERE id = 'tk3'`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{"tk1", "tk2", "tk3"}},
		{"step=evaluate", []string{"tk1", "tk3"}},
		{"tier=A", []string{"tk1", "tk2"}},
		{"tier=C", []string{"tk3"}},
		{"tier=B", []string{}},
		{"escalated=true", []string{"tk3"}},
		{"escalated=false", []string{"tk1", "tk2"}},
		{"due_before=2030-01-01T02:00:00Z", []string{"tk1"}},
		{"due_before=2030-01-01T10:30:00%2B08:00", []string{"tk1", "tk2"}},
		{"step=evaluate&tier=A&escalated=false", []string{"tk1"}},
	} {
		got, _ := e.do("GET", "/api/v1/tasks?"+c.query, "carol", nil).want(http.StatusOK).items()
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %v, want %v", c.query, got, c.want)
		}
	}
	p := e.do("GET", "/api/v1/tasks?tier=Z&escalated=yes&due_before=tomorrow&step=evaluate", "carol", nil).problem(http.StatusUnprocessableEntity)
	var fields []string
	for _, fe := range p.Errors {
		fields = append(fields, fe.Field)
	}
	if !slices.Equal(fields, []string{"tier", "escalated", "due_before"}) {
		t.Fatalf("fields at fault %v", fields)
	}
}

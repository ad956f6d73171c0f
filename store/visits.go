package store

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/serviceflow/serviceflow/domain"
)

// CursorVisitPlans pages the visit plan list by id, newest first.
var CursorVisitPlans = cursorList("visit_plans", false, false)

// InsertVisitPlan inserts a new plan's row (a draft) from its initial state, before the
// API starts its workflow; a row with the same id is left as it is, so that a retried
// create inserts nothing new.
func InsertVisitPlan(ctx context.Context, q Querier, st domain.VisitPlanState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO visit_plans (id, workflow_id, title, status, created_by, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
		ON CONFLICT (id) DO NOTHING`,
		st.ID, domain.VisitPlanWorkflowID(st.ID), st.Title, st.Status, st.CreatedBy, b, st.CreatedAt.UTC())
	return err
}

// UpsertVisitPlan replaces the plan's row from the workflow's state (inserting it if the
// API's insert did not commit).
func UpsertVisitPlan(ctx context.Context, q Querier, st domain.VisitPlanState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO visit_plans (id, workflow_id, title, status, created_by, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now())
		ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, status = EXCLUDED.status,
			state = EXCLUDED.state, updated_at = now()`,
		st.ID, domain.VisitPlanWorkflowID(st.ID), st.Title, st.Status, st.CreatedBy, b, st.CreatedAt.UTC())
	return err
}

// InsertScheduledVisits inserts the rows of an approved plan's visits, scheduled, so that
// the plan counts every visit from its approval on; a visit whose row exists (its
// workflow wrote it first) is left as it is.
func InsertScheduledVisits(ctx context.Context, q Querier, visits []domain.VisitOutcome) error {
	for _, v := range visits { // at most domain.MaxPlanVisits
		args, err := visitArgs(v)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, insertVisitSQL+` ON CONFLICT (id) DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

const insertVisitSQL = `INSERT INTO visits (id, workflow_id, process, process_id, seq, customer_id, rep, status,
		due_at, satisfaction, complaint_id, completed_at, state, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, nullif($11, ''), $12, $13, now())`

func visitArgs(v domain.VisitOutcome) ([]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var sat *int
	if v.Record != nil {
		sat = &v.Record.Satisfaction
	}
	return []any{v.ID, domain.VisitWorkflowID(v.ID), v.Process, v.ProcessID, v.Seq, v.Customer.ID, v.Rep, v.Status,
		v.DueAt.UTC(), sat, v.ComplaintID, v.CompletedAt, b}, nil
}

// UpsertVisit inserts or replaces a visit's row from its workflow's state. Its case and
// place in the plan do not change.
func UpsertVisit(ctx context.Context, q Querier, v domain.VisitOutcome) error {
	args, err := visitArgs(v)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, insertVisitSQL+` ON CONFLICT (id) DO UPDATE SET rep = EXCLUDED.rep,
		status = EXCLUDED.status, due_at = EXCLUDED.due_at, satisfaction = EXCLUDED.satisfaction,
		complaint_id = EXCLUDED.complaint_id, completed_at = EXCLUDED.completed_at,
		state = EXCLUDED.state, updated_at = now()`, args...)
	return err
}

// GetVisit returns a visit, or ErrNotFound.
func (s *Store) GetVisit(ctx context.Context, id string) (domain.VisitOutcome, error) {
	var v domain.VisitOutcome
	err := s.Pool.QueryRow(ctx, `SELECT state FROM visits WHERE id = $1`, id).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.VisitOutcome{}, ErrNotFound
	}
	return v, err
}

// VisitPlanReport is a plan with its visits and how far they have got
// (GET /api/v1/visit-plans/{id}).
type VisitPlanReport struct {
	Plan domain.VisitPlanState `json:"plan"`
	// Visits are the plan's visits in plan order, once it is approved (none before).
	Visits    []domain.VisitOutcome `json:"visits"`
	Total     int                   `json:"total"`     // visits
	Completed int                   `json:"completed"` // visits recorded
	// CompletionRate is 100 × Completed / Total to one place ("66.7"), "" with no visit
	// (domain.CompletionRate).
	CompletionRate string `json:"completion_rate"`
	// AverageSatisfaction is the mean satisfaction (1–5) of the recorded visits, rounded
	// half away from zero to 2 places ("4.33"), "" when none is recorded.
	AverageSatisfaction string `json:"average_satisfaction"`
}

// GetVisitPlan returns a plan with its visits and their figures, or ErrNotFound.
func (s *Store) GetVisitPlan(ctx context.Context, id string) (VisitPlanReport, error) {
	var r VisitPlanReport
	err := s.Pool.QueryRow(ctx, `SELECT state FROM visit_plans WHERE id = $1`, id).Scan(&r.Plan)
	if errors.Is(err, pgx.ErrNoRows) {
		return VisitPlanReport{}, ErrNotFound
	}
	if err != nil {
		return VisitPlanReport{}, err
	}
	rows, err := s.Pool.Query(ctx, `SELECT state FROM visits
		WHERE process = $1 AND process_id = $2 ORDER BY seq, id`, domain.ProcessVisitPlan, id)
	if err != nil {
		return VisitPlanReport{}, err
	}
	r.Visits, err = pgx.CollectRows(rows, pgx.RowTo[domain.VisitOutcome])
	if err != nil {
		return VisitPlanReport{}, err
	}
	if r.Visits == nil {
		r.Visits = []domain.VisitOutcome{}
	}
	sum := 0
	r.Total = len(r.Visits)
	for _, v := range r.Visits {
		if v.Status == domain.VisitCompleted && v.Record != nil {
			r.Completed++
			sum += v.Record.Satisfaction
		}
	}
	r.CompletionRate = domain.CompletionRate(r.Completed, r.Total)
	if r.Completed > 0 {
		r.AverageSatisfaction = decimal.NewFromInt(int64(sum)).DivRound(decimal.NewFromInt(int64(r.Completed)), 2).StringFixed(2)
	}
	return r, nil
}

// VisitPlanFilter selects plans for a list; empty fields do not filter.
type VisitPlanFilter struct {
	Status    string
	CreatedBy string
	Limit     int
	Cursor    string
}

// ListVisitPlans lists plans newest (highest id) first, with the cursor of the next page
// or "".
func (s *Store) ListVisitPlans(ctx context.Context, f VisitPlanFilter) ([]domain.VisitPlanState, string, error) {
	cur, has, err := DecodeCursor(f.Cursor, CursorVisitPlans)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	rows, err := s.Pool.Query(ctx, `SELECT state FROM visit_plans
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR created_by = $2) AND (NOT $3 OR id < $4)
		ORDER BY id DESC LIMIT $5`, f.Status, f.CreatedBy, has, cur.ID, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[domain.VisitPlanState])
	if err != nil {
		return nil, "", err
	}
	if out == nil {
		out = []domain.VisitPlanState{}
	}
	out, next := cutPage(out, limit, func(st domain.VisitPlanState) Cursor { return Cursor{K: CursorVisitPlans, ID: st.ID} })
	return out, next, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/serviceflow/serviceflow/domain"
)

// The survey process's read model: programmes (beside their Temporal Schedules), cycles
// and the return visits of detractors. A cycle's invitations and answers are its
// customer links (purpose survey).

// CursorSurveyCycles pages the cycle list, newest first.
var CursorSurveyCycles = cursorList("survey_cycles", true, false)

// SurveyProgramme is a row of survey_programmes. NextRun is the Schedule's, filled by
// the API.
type SurveyProgramme struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Audience  string     `json:"audience"`
	Cadence   string     `json:"cadence"`
	Status    string     `json:"status"`
	NextRun   *time.Time `json:"next_run"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
}

// InsertSurveyProgramme inserts a programme.
func InsertSurveyProgramme(ctx context.Context, q Querier, p SurveyProgramme) error {
	_, err := q.Exec(ctx, `INSERT INTO survey_programmes (id, name, audience, cadence, status, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, p.ID, p.Name, p.Audience, p.Cadence, p.Status, p.CreatedBy, p.CreatedAt.UTC())
	return err
}

// SetSurveyProgrammeStatus sets a programme's status (ErrNotFound for no such one).
func SetSurveyProgrammeStatus(ctx context.Context, q Querier, id, status string) error {
	tag, err := q.Exec(ctx, `UPDATE survey_programmes SET status = $2, updated_at = now() WHERE id = $1`, id, status)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

const programmeColumns = `id, name, audience, cadence, status, created_by, created_at`

func scanProgramme(row pgx.CollectableRow) (SurveyProgramme, error) {
	var p SurveyProgramme
	err := row.Scan(&p.ID, &p.Name, &p.Audience, &p.Cadence, &p.Status, &p.CreatedBy, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}

// SurveyProgrammes lists every programme, oldest first (a handful: no paging).
func (s *Store) SurveyProgrammes(ctx context.Context) ([]SurveyProgramme, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+programmeColumns+` FROM survey_programmes ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanProgramme)
}

// SurveyProgrammeByID returns one programme or ErrNotFound.
func (s *Store) SurveyProgrammeByID(ctx context.Context, id string) (SurveyProgramme, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+programmeColumns+` FROM survey_programmes WHERE id = $1`, id)
	if err != nil {
		return SurveyProgramme{}, err
	}
	p, err := pgx.CollectExactlyOneRow(rows, scanProgramme)
	if errors.Is(err, pgx.ErrNoRows) {
		return SurveyProgramme{}, ErrNotFound
	}
	return p, err
}

// SurveyCycle is a row of survey_cycles with its figures: the final ones once closed,
// else those of the answers so far (Tally over the stored answers).
type SurveyCycle struct {
	ID          string              `json:"id"`
	WorkflowID  string              `json:"-"`
	ProgrammeID string              `json:"programme_id"`
	Audience    string              `json:"audience"`
	Status      string              `json:"status"`
	StartedBy   string              `json:"started_by,omitempty"`
	StartedAt   time.Time           `json:"started_at"`
	ClosesAt    *time.Time          `json:"closes_at"`
	ClosedAt    *time.Time          `json:"closed_at"`
	Results     domain.CycleResults `json:"results"`
}

// OpenSurveyCycle inserts the cycle's row as inviting, once per cycle. It reports
// ErrNotFound when the cycle's programme does not exist (a Schedule whose programme's
// row was never committed).
func OpenSurveyCycle(ctx context.Context, q Querier, in domain.OpenSurveyCycleInput) error {
	_, err := q.Exec(ctx, `INSERT INTO survey_cycles (id, workflow_id, programme_id, audience, status, started_by, started_at)
		VALUES ($1, $2, NULLIF($3, ''), $4, 'inviting', $5, $6) ON CONFLICT (id) DO NOTHING`,
		in.CycleID, in.WorkflowID, in.ProgrammeID, in.Audience, in.StartedBy, in.At.UTC())
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23503" {
		return ErrNotFound
	}
	return err
}

// SetSurveyCycle records a cycle's status, count invited, close time and (closed) figures.
func SetSurveyCycle(ctx context.Context, q Querier, in domain.SetSurveyCycleInput) error {
	var closesAt, closedAt *time.Time
	if !in.ClosesAt.IsZero() {
		t := in.ClosesAt.UTC()
		closesAt = &t
	}
	if in.Status == domain.CycleClosed {
		t := in.At.UTC()
		closedAt = &t
	}
	tag, err := q.Exec(ctx, `UPDATE survey_cycles SET status = $2, invited = $3, closes_at = COALESCE($4, closes_at),
			closed_at = COALESCE($5, closed_at), results = COALESCE($6, results) WHERE id = $1`,
		in.CycleID, in.Status, in.Invited, closesAt, closedAt, in.Results)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

const cycleColumns = `id, workflow_id, COALESCE(programme_id, ''), audience, status, invited, started_by, started_at,
	closes_at, closed_at, results`

func scanCycle(row pgx.CollectableRow) (SurveyCycle, error) { return scanCycleWith(row, nil) }

// scanCycleWith scans cycleColumns and, when answered is not nil, one more column: the
// count of answers, which becomes the figures' Answered.
func scanCycleWith(row pgx.CollectableRow, answered *int) (SurveyCycle, error) {
	var c SurveyCycle
	var results *domain.CycleResults
	dest := []any{&c.ID, &c.WorkflowID, &c.ProgrammeID, &c.Audience, &c.Status, &c.Results.Invited, &c.StartedBy,
		&c.StartedAt, &c.ClosesAt, &c.ClosedAt, &results}
	if answered != nil {
		dest = append(dest, answered)
	}
	err := row.Scan(dest...)
	if results != nil {
		c.Results = *results
	}
	if answered != nil {
		c.Results.Answered = *answered
	}
	c.StartedAt, c.ClosesAt, c.ClosedAt = c.StartedAt.UTC(), utcOrNil(c.ClosesAt), utcOrNil(c.ClosedAt)
	return c, err
}

// SurveyCycleByID returns a cycle with its figures (live until it closes), or
// ErrNotFound.
func (s *Store) SurveyCycleByID(ctx context.Context, id string) (SurveyCycle, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+cycleColumns+` FROM survey_cycles WHERE id = $1`, id)
	if err != nil {
		return SurveyCycle{}, err
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanCycle)
	if errors.Is(err, pgx.ErrNoRows) {
		return SurveyCycle{}, ErrNotFound
	}
	if err != nil || c.Status == domain.CycleClosed {
		return c, err
	}
	answers, err := s.SurveyAnswers(ctx, id)
	if err != nil {
		return SurveyCycle{}, err
	}
	c.Results = domain.Tally(c.Results.Invited, answers)
	return c, nil
}

// SurveyCycleFilter selects cycles: of one programme, in one status.
type SurveyCycleFilter struct {
	ProgrammeID string
	Status      string
	Cursor      string
	Limit       int
}

// ListSurveyCycles lists cycles newest first, with their stored counts (the figures of
// a cycle still open are its row's: invited; GET of one cycle tallies its answers).
func (s *Store) ListSurveyCycles(ctx context.Context, f SurveyCycleFilter) ([]SurveyCycle, string, error) {
	cur, has, err := DecodeCursor(f.Cursor, CursorSurveyCycles)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	rows, err := s.Pool.Query(ctx, `SELECT `+cycleColumns+`, CASE WHEN c.status = 'closed' THEN COALESCE((c.results->>'answered')::int, 0)
			ELSE (SELECT count(*) FROM customer_links l WHERE l.process_id = c.id AND l.status = 'answered') END
		FROM survey_cycles c
		WHERE ($1 = '' OR programme_id = $1) AND ($2 = '' OR status = $2)
		  AND (NOT $3 OR (started_at, id) < ($4, $5))
		ORDER BY started_at DESC, id DESC LIMIT $6`, f.ProgrammeID, f.Status, has, cur.T, cur.ID, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SurveyCycle, error) {
		var answered int
		return scanCycleWith(row, &answered)
	})
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(c SurveyCycle) Cursor { return Cursor{K: CursorSurveyCycles, T: c.StartedAt, ID: c.ID} })
	return out, next, nil
}

// SurveyAnswers returns the answers of a cycle, in the order they came.
func (s *Store) SurveyAnswers(ctx context.Context, cycleID string) ([]domain.SurveyAnswer, error) {
	rows, err := s.Pool.Query(ctx, `SELECT answer FROM customer_links
		WHERE process_id = $1 AND purpose = 'survey' AND status = 'answered' ORDER BY answered_at, id`, cycleID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.SurveyAnswer, error) {
		var a map[string]any
		err := row.Scan(&a)
		return domain.SurveyAnswerFrom(a), err
	})
}

// AnswersPerDay counts a cycle's answers per UTC day, in day order: the cycle page's
// "answers over time".
type AnswersPerDay struct {
	Day   string `json:"day"` // YYYY-MM-DD
	Count int    `json:"count"`
}

// SurveyAnswersPerDay returns the answers of a cycle per day.
func (s *Store) SurveyAnswersPerDay(ctx context.Context, cycleID string) ([]AnswersPerDay, error) {
	rows, err := s.Pool.Query(ctx, `SELECT to_char(answered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') d, count(*)::int
		FROM customer_links WHERE process_id = $1 AND purpose = 'survey' AND status = 'answered'
		GROUP BY d ORDER BY d`, cycleID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[AnswersPerDay])
}

// SurveyAudienceBatch returns the next customers (by id, after in.After, at most
// in.Limit) of in.Audience at in.At, with an e-mail address. All active customers are
// every customer (the house has no inactive state); tier A those of tier A; new
// customers those whose first accepted delivery is NewCustomerAfter old, give or take
// the week NewCustomerWindow allows for a missed day.
func SurveyAudienceBatch(ctx context.Context, q Querier, in domain.InviteSurveyBatchInput) ([]domain.LinkCustomer, error) {
	due := in.At.Add(-in.Policy.NewCustomerAfter).UTC()
	rows, err := q.Query(ctx, `SELECT c.id, c.email, c.name, c.locale FROM customers c
		WHERE c.id > $1 AND c.email <> '' AND CASE $2
			WHEN 'tier_a' THEN c.tier = 'A'
			WHEN 'new_customers' THEN
				(SELECT min((o.state->>'accepted_at')::timestamptz) FROM orders o WHERE o.customer_id = c.id) BETWEEN $4 AND $5
			ELSE true END
		ORDER BY c.id LIMIT $3`,
		in.After, in.Audience, in.Limit, due.Add(-domain.NewCustomerWindow), due)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[domain.LinkCustomer])
}

// ClaimSurveyInvitees claims customers for cycle cycleID at at, and returns those it
// may invite: each whom no other cycle invited within the quiet period, counted in
// calendar days in the company's zone (invited on the 1st, they may be invited again
// from the 31st, whatever the hour), and those this cycle claimed before (a retried
// batch). The claim is one statement that locks each customer's row, so two cycles
// never both invite one customer.
func ClaimSurveyInvitees(ctx context.Context, q Querier, cycleID string, customerIDs []string, at time.Time, p domain.SurveyPolicy) ([]string, error) {
	if len(customerIDs) == 0 {
		return nil, nil
	}
	off := fmt.Sprintf("%d seconds", int64(p.UTCOffset/time.Second))
	days := int(p.QuietPeriod / (24 * time.Hour))
	rows, err := q.Query(ctx, `INSERT INTO survey_invitees AS i (customer_id, cycle_id, invited_at)
		SELECT unnest($1::text[]), $2, $3
		ON CONFLICT (customer_id) DO UPDATE SET cycle_id = excluded.cycle_id, invited_at = excluded.invited_at
		WHERE i.cycle_id = excluded.cycle_id
		   OR (excluded.invited_at + $4::interval)::date - (i.invited_at + $4::interval)::date >= $5
		RETURNING customer_id`, customerIDs, cycleID, at.UTC(), off, days)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// OpenSurveyLinks returns the next unanswered, unexpired links of a cycle after the
// link id after (at most limit), by id.
func OpenSurveyLinks(ctx context.Context, q Querier, cycleID, after string, limit int, at time.Time) ([]CustomerLink, error) {
	rows, err := q.Query(ctx, `SELECT `+linkColumns+` FROM customer_links
		WHERE process_id = $1 AND status = 'open' AND id > $2 AND expires_at > $4 ORDER BY id LIMIT $3`,
		cycleID, after, limit, at.UTC())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (CustomerLink, error) { return scanLink(row) })
}

// CountSurveyLinks counts a cycle's invitations.
func CountSurveyLinks(ctx context.Context, q Querier, cycleID string) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM customer_links WHERE process_id = $1 AND purpose = 'survey'`, cycleID).Scan(&n)
	return n, err
}

// ExpireSurveyLinks marks every unanswered link of a cycle expired: the cycle closed.
// An answer that arrives at the same moment is either in before (answered) or refused.
func ExpireSurveyLinks(ctx context.Context, q Querier, cycleID string) (int64, error) {
	tag, err := q.Exec(ctx, `UPDATE customer_links SET status = 'expired' WHERE process_id = $1 AND status = 'open'`, cycleID)
	return tag.RowsAffected(), err
}

// UnvisitedAnswers returns the answered links of a cycle with no return visit started,
// by id: the catch-up's candidates (it starts the detractors' visits).
func UnvisitedAnswers(ctx context.Context, q Querier, cycleID string) ([]CustomerLink, error) {
	rows, err := q.Query(ctx, `SELECT `+linkColumns+` FROM customer_links l
		WHERE l.process_id = $1 AND l.purpose = 'survey' AND l.status = 'answered'
		  AND NOT EXISTS (SELECT 1 FROM survey_visits v WHERE v.link_id = l.id) ORDER BY l.id`, cycleID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (CustomerLink, error) { return scanLink(row) })
}

// RecordSurveyVisit notes that the return visit of the answer of link l started.
func RecordSurveyVisit(ctx context.Context, q Querier, l CustomerLink, workflowID string) error {
	_, err := q.Exec(ctx, `INSERT INTO survey_visits (link_id, cycle_id, customer_id, workflow_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (link_id) DO NOTHING`, l.ID, l.ProcessID, l.CustomerID, workflowID)
	return err
}

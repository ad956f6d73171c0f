package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
)

// CursorContracts pages the contract list by ID; CursorLedger the approved contracts
// (the ledger) by ledger number.
var (
	CursorContracts = cursorList("contracts", false, false)
	CursorLedger    = cursorList("ledger", false, false)
)

// UpsertContract inserts (first call, with in) or replaces the contract row from the
// workflow's state. The review record is kept in contract_reviews, not in state.
func UpsertContract(ctx context.Context, q Querier, st domain.ContractState, workflowID string) error {
	st.ReviewRecord = nil
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	amount, err := st.Terms.Amount.Decimal()
	if err != nil {
		return fmt.Errorf("contract %s amount: %w", st.ID, err)
	}
	steps := st.CurrentSteps
	if steps == nil {
		steps = []string{}
	}
	_, err = q.Exec(ctx, `INSERT INTO contracts (id, workflow_id, customer_id, title, class, status,
			revision, submitted_by, submitted_at, current_steps, amount, currency, state, approved_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14, now())
		ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, class = EXCLUDED.class,
			status = EXCLUDED.status, revision = EXCLUDED.revision, current_steps = EXCLUDED.current_steps,
			amount = EXCLUDED.amount, currency = EXCLUDED.currency, state = EXCLUDED.state,
			approved_at = coalesce(EXCLUDED.approved_at, contracts.approved_at), updated_at = now()`,
		st.ID, workflowID, st.CustomerID, st.Title, st.Class, st.Status, st.Revision, st.SubmittedBy,
		st.SubmittedAt.UTC(), steps, amount, st.Terms.Amount.Currency, b, utcPtr(st.ApprovedAt))
	return err
}

// InsertContractReviews adds review-record entries, once per task id.
func InsertContractReviews(ctx context.Context, q Querier, contractID string, reviews []domain.ContractReview) error {
	for _, r := range reviews {
		data := r.Data
		if data == nil {
			data = map[string]any{}
		}
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `INSERT INTO contract_reviews (task_id, contract_id, revision, step, reviewer, decision, comment, data, at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (task_id) DO NOTHING`,
			r.TaskID, contractID, r.Revision, r.Step, r.Reviewer, r.Decision, r.Comment, b, r.At.UTC()); err != nil {
			return err
		}
	}
	return nil
}

// AssignLedgerNo gives an approved contract the next ledger number of year, in the
// caller's transaction, or returns the number it already has. The year's counter row
// stays locked until the transaction ends, so concurrent approvals queue and a rolled
// back transaction gives its number back: no gaps, no duplicates.
func AssignLedgerNo(ctx context.Context, tx pgx.Tx, contractID string, year int) (string, error) {
	var existing *string
	err := tx.QueryRow(ctx, `SELECT ledger_no FROM contracts WHERE id = $1 FOR UPDATE`, contractID).Scan(&existing)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	if existing != nil {
		return *existing, nil
	}
	var seq int
	if err := tx.QueryRow(ctx, `INSERT INTO contract_ledger_seq (year, last) VALUES ($1, 1)
		ON CONFLICT (year) DO UPDATE SET last = contract_ledger_seq.last + 1 RETURNING last`, year).Scan(&seq); err != nil {
		return "", err
	}
	no := fmt.Sprintf("HT-%d-%04d", year, seq)
	if _, err := tx.Exec(ctx, `UPDATE contracts SET ledger_no = $2,
			state = jsonb_set(state, '{ledger_no}', to_jsonb($2::text)), updated_at = now()
		WHERE id = $1`, contractID, no); err != nil {
		return "", err
	}
	return no, nil
}

// ContractRow is a contract as the API reads it.
type ContractRow struct {
	State        domain.ContractState
	WorkflowID   string
	LedgerNo     string
	ReviewRecord []domain.ContractReview
}

// GetContract returns a contract with its review record, or ErrNotFound.
func (s *Store) GetContract(ctx context.Context, id string) (ContractRow, error) {
	var r ContractRow
	var ledger *string
	err := s.Pool.QueryRow(ctx, `SELECT state, workflow_id, ledger_no FROM contracts WHERE id = $1`, id).
		Scan(&r.State, &r.WorkflowID, &ledger)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	if ledger != nil {
		r.LedgerNo = *ledger
		r.State.LedgerNo = *ledger
	}
	rows, err := s.Pool.Query(ctx, `SELECT task_id, revision, step, reviewer, decision, comment, data, at
		FROM contract_reviews WHERE contract_id = $1 ORDER BY at, task_id`, id)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	r.ReviewRecord = []domain.ContractReview{}
	for rows.Next() {
		var v domain.ContractReview
		if err := rows.Scan(&v.TaskID, &v.Revision, &v.Step, &v.Reviewer, &v.Decision, &v.Comment, &v.Data, &v.At); err != nil {
			return r, err
		}
		v.At = v.At.UTC()
		r.ReviewRecord = append(r.ReviewRecord, v)
	}
	return r, rows.Err()
}

// ContractFilter selects contracts for a list.
type ContractFilter struct {
	Status      string
	CustomerID  string
	Class       string // "" = any class (of the version under review or in force)
	SubmittedBy string // "" = anybody
	Limit       int
	Cursor      string
}

// ListContracts lists contracts by id (newest first); approved ones (the ledger) are
// ordered by ledger number.
func (s *Store) ListContracts(ctx context.Context, f ContractFilter) ([]domain.ContractState, string, error) {
	cur, has, err := DecodeCursor(f.Cursor, ContractsCursor(f.Status))
	if err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	key, order, cmp := "id", "DESC", "<"
	if f.Status == domain.ContractApproved {
		key, order, cmp = "coalesce(ledger_no, '')", "ASC", ">"
	}
	rows, err := s.Pool.Query(ctx, `SELECT state, coalesce(ledger_no, ''), `+key+` FROM contracts
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR customer_id = $2) AND ($3 = '' OR submitted_by = $3)
		  AND ($7 = '' OR class = $7) AND (NOT $4 OR `+key+` `+cmp+` $5)
		ORDER BY `+key+` `+order+` LIMIT $6`,
		f.Status, f.CustomerID, f.SubmittedBy, has, cur.ID, limit+1, f.Class)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []domain.ContractState{}
	var keys []string
	for rows.Next() {
		var st domain.ContractState
		var ledger, k string
		if err := rows.Scan(&st, &ledger, &k); err != nil {
			return nil, "", err
		}
		st.LedgerNo = ledger
		out = append(out, st)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = Cursor{K: ContractsCursor(f.Status), ID: keys[limit-1]}.Encode()
	}
	return out, next, nil
}

package store

import (
	"context"

	"github.com/serviceflow/serviceflow/domain"
)

// CursorContractLedger pages the contract ledger by ledger number.
var CursorContractLedger = cursorList("contract_ledger", false, false)

// LedgerFilter selects entries of the contract ledger; empty fields do not filter.
type LedgerFilter struct {
	CustomerID  string
	SubmittedBy string // "" = anybody
	Limit       int
	Cursor      string
}

// ListLedger lists the contract ledger: every contract that has a ledger number (it was
// approved; an amendment under review does not take it out), by ledger number, with the
// cursor of the next page or "". Unlike ListContracts with status approved, it keeps a
// contract in the ledger while an amendment of it is under review.
func (s *Store) ListLedger(ctx context.Context, f LedgerFilter) ([]domain.ContractState, string, error) {
	cur, has, err := DecodeCursor(f.Cursor, CursorContractLedger)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	rows, err := s.Pool.Query(ctx, `SELECT state, ledger_no FROM contracts
		WHERE ledger_no IS NOT NULL AND ($1 = '' OR customer_id = $1) AND ($2 = '' OR submitted_by = $2)
		  AND (NOT $3 OR ledger_no > $4)
		ORDER BY ledger_no LIMIT $5`, f.CustomerID, f.SubmittedBy, has, cur.ID, limit+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []domain.ContractState{}
	for rows.Next() {
		var st domain.ContractState
		var no string
		if err := rows.Scan(&st, &no); err != nil {
			return nil, "", err
		}
		st.LedgerNo = no
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(st domain.ContractState) Cursor {
		return Cursor{K: CursorContractLedger, ID: st.LedgerNo}
	})
	return out, next, nil
}

package activities

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// ProjectContract replaces the contract's read model from the workflow's state, adds the
// new review-record entries and writes the audit event, in one transaction.
func (a *Activities) ProjectContract(ctx context.Context, p domain.ContractProjection) error {
	wfID := domain.ContractWorkflowID(p.State.ID)
	return a.Store.WithTx(ctx, func(tx pgx.Tx) error {
		if err := store.UpsertContract(ctx, tx, p.State, wfID); err != nil {
			return err
		}
		if err := store.InsertContractReviews(ctx, tx, p.State.ID, p.Reviews); err != nil {
			return err
		}
		if p.Audit.Key == "" {
			return nil
		}
		return store.InsertAudit(ctx, tx, p.Audit)
	})
}

// AssignLedgerNo enters an approved contract in the ledger: HT-<year>-<4-digit
// sequence>, gap-free; a retry returns the number already given.
func (a *Activities) AssignLedgerNo(ctx context.Context, in domain.LedgerNoInput) (domain.LedgerNoResult, error) {
	var no string
	err := a.Store.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		no, err = store.AssignLedgerNo(ctx, tx, in.ContractID, orNow(in.At).UTC().Year())
		if err != nil {
			return err
		}
		return store.InsertAudit(ctx, tx, domain.AuditInput{
			Key: in.WorkflowID + "/ledger", Process: domain.ProcessContract, ProcessID: in.ContractID,
			Actor: "system", Event: "ledger_entry", Detail: map[string]any{"ledger_no": no}, At: orNow(in.At),
		})
	})
	if err != nil {
		return domain.LedgerNoResult{}, err
	}
	a.logger(ctx).Info("contract entered in the ledger", "contract_id", in.ContractID, "ledger_no", no)
	return domain.LedgerNoResult{LedgerNo: no}, nil
}

// Notify e-mails a templated notice to each of in.Users and every member of in.Groups,
// once per recipient.
func (a *Activities) Notify(ctx context.Context, in domain.NotifyInput) (domain.NotifyResult, error) {
	members, err := store.UsernamesInGroups(ctx, a.Store.Pool, in.Groups)
	if err != nil {
		return domain.NotifyResult{}, err
	}
	to := append(slices.Clone(in.Users), members...)
	slices.Sort(to)
	to = slices.Compact(to)
	base := domain.SendEmailInput{
		Template: in.Template, Process: in.Process, ProcessID: in.ProcessID, WorkflowID: in.WorkflowID,
	}
	data := in.Data
	if data == nil {
		data = map[string]any{}
	}
	if err := a.notifyUsers(ctx, to, in.KeyPrefix+"/", base, data); err != nil {
		return domain.NotifyResult{}, err
	}
	return domain.NotifyResult{Recipients: to}, nil
}

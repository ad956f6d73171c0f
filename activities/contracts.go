package activities

import (
	"context"
	"errors"
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
// once per recipient. Contract runs from before versionOutboxMail call it; the others
// queue their notices (QueueNotice).
func (a *Activities) Notify(ctx context.Context, in domain.NotifyInput) (domain.NotifyResult, error) {
	to, base, data, err := a.noticeRecipients(ctx, in)
	if err != nil {
		return domain.NotifyResult{}, err
	}
	if err := a.notifyUsers(ctx, to, in.KeyPrefix+"/", base, data); err != nil {
		return domain.NotifyResult{}, err
	}
	return domain.NotifyResult{Recipients: to}, nil
}

// QueueNotice writes a templated notice to each of in.Users and every member of
// in.Groups to the outbox, once per recipient (key in.KeyPrefix + "/" + username),
// without sending it: a short local activity in the step that causes the notice, whose
// keys the workflow hands to DeliverEmails at its next waiting point. An unknown user, or
// one without an address, is logged and skipped.
func (a *Activities) QueueNotice(ctx context.Context, in domain.NotifyInput) (domain.QueueNoticeResult, error) {
	if in.KeyPrefix == "" || in.Template == "" {
		return domain.QueueNoticeResult{}, invalidInput("notice needs a key prefix and a template")
	}
	to, base, data, err := a.noticeRecipients(ctx, in)
	if err != nil {
		return domain.QueueNoticeResult{}, err
	}
	queued, err := a.mailUsers(ctx, a.Mail.Queue, to, in.KeyPrefix+"/", base, data)
	if err != nil {
		return domain.QueueNoticeResult{}, err
	}
	res := domain.QueueNoticeResult{Keys: []string{}, Recipients: []string{}}
	for _, u := range queued {
		res.Keys = append(res.Keys, in.KeyPrefix+"/"+u)
		res.Recipients = append(res.Recipients, u)
	}
	return res, nil
}

// noticeRecipients resolves a notice's users, managers (ManagersOf) and groups to
// usernames (sorted, each once)
// and returns the e-mail envelope and data every recipient's e-mail shares.
func (a *Activities) noticeRecipients(ctx context.Context, in domain.NotifyInput) ([]string, domain.SendEmailInput, map[string]any, error) {
	groups := in.Groups
	var managers []string
	for _, u := range in.ManagersOf {
		c, err := store.LookupUser(ctx, a.Store.Pool, u)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, domain.SendEmailInput{}, nil, err
		}
		if c.Manager != "" {
			managers = append(managers, c.Manager)
		} else {
			groups = append(slices.Clone(groups), in.ManagerFallback...)
		}
	}
	members, err := store.UsernamesInGroups(ctx, a.Store.Pool, groups)
	if err != nil {
		return nil, domain.SendEmailInput{}, nil, err
	}
	to := append(append(slices.Clone(in.Users), managers...), members...)
	slices.Sort(to)
	to = slices.Compact(to)
	base := domain.SendEmailInput{
		Template: in.Template, Process: in.Process, ProcessID: in.ProcessID, WorkflowID: in.WorkflowID,
	}
	data := in.Data
	if data == nil {
		data = map[string]any{}
	}
	return to, base, data, nil
}

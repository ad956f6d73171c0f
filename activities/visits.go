package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// ProjectVisitPlan replaces a visit plan's read model from its workflow's state, inserts
// the rows of its visits when it is approved (scheduled, so that the plan's completion
// rate counts every one of them from then on), and writes the audit event when it has a
// key, in one transaction.
func (a *Activities) ProjectVisitPlan(ctx context.Context, p domain.VisitPlanProjection) error {
	if p.State.ID == "" {
		return invalidInput("projection needs a visit plan id")
	}
	return a.Store.WithTx(ctx, func(tx pgx.Tx) error {
		if err := store.UpsertVisitPlan(ctx, tx, p.State); err != nil {
			return err
		}
		if err := store.InsertScheduledVisits(ctx, tx, p.Visits); err != nil {
			return err
		}
		return a.writeAudit(ctx, tx, p.Audit)
	})
}

// ProjectVisit replaces a visit's read model from its workflow's state and writes the
// audit event (its case's) when it has a key, in one transaction.
func (a *Activities) ProjectVisit(ctx context.Context, p domain.VisitProjection) error {
	if p.Visit.ID == "" {
		return invalidInput("projection needs a visit id")
	}
	return a.Store.WithTx(ctx, func(tx pgx.Tx) error {
		if err := store.UpsertVisit(ctx, tx, p.Visit); err != nil {
			return err
		}
		return a.writeAudit(ctx, tx, p.Audit)
	})
}

// writeAudit writes a projection's audit event, if it has one.
func (a *Activities) writeAudit(ctx context.Context, tx pgx.Tx, in domain.AuditInput) error {
	if in.Key == "" {
		return nil
	}
	if in.Actor == "" {
		in.Actor = "system"
	}
	in.At = orNow(in.At)
	return store.InsertAudit(ctx, tx, in)
}

// VisitCustomers looks up the customers of a plan's visits when it is approved, in the
// order of ids: what a visit needs to open a complaint (name, e-mail, tier, locale,
// owner) as the customer is then. An unknown customer is a non-retryable error: the API
// checked every one when the plan was made or edited.
func (a *Activities) VisitCustomers(ctx context.Context, ids []string) ([]domain.VisitCustomer, error) {
	out := make([]domain.VisitCustomer, 0, len(ids))
	for _, id := range ids {
		c, err := a.Store.CustomerByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalidInput(fmt.Sprintf("no customer %s", id))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, domain.VisitCustomer{ID: c.ID, Name: c.Name, Email: c.Email, Tier: c.Tier, Locale: c.Locale, Owner: c.Owner})
	}
	return out, nil
}

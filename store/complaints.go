package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/serviceflow/serviceflow/domain"
)

// InsertComplaint inserts the complaint read-model row of a new complaint. A row with the
// same id is left as it is: the API inserts it right after starting the workflow, and the
// workflow's first projection inserts it too, whichever comes first.
func InsertComplaint(ctx context.Context, q Querier, in domain.ComplaintInput, status string, responseDueAt time.Time) error {
	_, err := q.Exec(ctx, insertComplaintSQL, insertComplaintArgs(in, status, responseDueAt)...)
	return err
}

// QueueInsertComplaint queues InsertComplaint on b.
func QueueInsertComplaint(b *pgx.Batch, in domain.ComplaintInput, status string, responseDueAt time.Time) {
	b.Queue(insertComplaintSQL, insertComplaintArgs(in, status, responseDueAt)...)
}

const insertComplaintSQL = `INSERT INTO complaints (id, workflow_id, customer_id, channel, subject,
		description, status, category, severity, order_id, filed_by, received_at, response_due_at,
		updated_at, visit_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), $9, nullif($10, ''), $11, $12, $13, $12, nullif($14, ''))
	ON CONFLICT (id) DO NOTHING`

func insertComplaintArgs(in domain.ComplaintInput, status string, responseDueAt time.Time) []any {
	return []any{in.ID, domain.ComplaintWorkflowID(in.ID), in.CustomerID, in.Channel, in.Subject,
		in.Description, status, in.Category, in.Severity, in.OrderID, in.FiledBy,
		in.ReceivedAt.UTC(), responseDueAt.UTC(), in.VisitID}
}

// QueueUpdateComplaint queues on b the projection p of the complaint row: the status
// (unless empty) and every non-nil field. An empty Category or Assignee clears it.
// updated_at becomes the audit event's time (now when it has none). The batch reports
// ErrNotFound when the row does not exist.
func QueueUpdateComplaint(b *pgx.Batch, p domain.ComplaintProjection) error {
	args, err := updateComplaintArgs(p)
	if err != nil {
		return err
	}
	b.Queue(updateComplaintSQL, args...).Exec(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return nil
	})
	return nil
}

const updateComplaintSQL = `UPDATE complaints SET
		status           = coalesce(nullif($2, ''), status),
		category         = CASE WHEN $3::text IS NULL THEN category ELSE nullif($3, '') END,
		severity         = coalesce($4::text, severity),
		assignee         = CASE WHEN $5::text IS NULL THEN assignee ELSE nullif($5, '') END,
		response_due_at  = coalesce($6::timestamptz, response_due_at),
		responded_at     = coalesce($7::timestamptz, responded_at),
		resolution       = coalesce($8::jsonb, resolution),
		escalation_level = coalesce($9::int, escalation_level),
		closed_at        = coalesce($10::timestamptz, closed_at),
		updated_at       = coalesce($11::timestamptz, now())
	WHERE id = $1`

func updateComplaintArgs(p domain.ComplaintProjection) ([]any, error) {
	var resolution []byte
	if p.Resolution != nil {
		var err error
		if resolution, err = json.Marshal(p.Resolution); err != nil {
			return nil, err
		}
	}
	var updatedAt *time.Time
	if !p.Audit.At.IsZero() {
		updatedAt = utcPtr(&p.Audit.At)
	}
	return []any{p.ComplaintID, p.Status, p.Category, p.Severity, p.Assignee,
		utcPtr(p.ResponseDueAt), utcPtr(p.RespondedAt), resolution, p.EscalationLevel,
		utcPtr(p.ClosedAt), updatedAt}, nil
}

// utcPtr returns t in UTC, keeping nil as nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

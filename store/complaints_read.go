package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
)

// CursorComplaints pages the complaint list by ID.
var CursorComplaints = cursorList("complaints", false, false)

// Complaint is a row of the complaint read model with its customer's name and owner.
type Complaint struct {
	ID              string
	WorkflowID      string
	CustomerID      string
	CustomerName    string
	CustomerOwner   string
	Channel         string
	Subject         string
	Description     string
	Status          string
	Category        string
	Severity        string
	Assignee        string
	OrderID         string
	FiledBy         string
	ReceivedAt      time.Time
	ResponseDueAt   time.Time
	RespondedAt     *time.Time
	Resolution      *domain.Resolution
	EscalationLevel int
	ClosedAt        *time.Time
	UpdatedAt       time.Time
}

const complaintColumns = `c.id, c.workflow_id, c.customer_id, cu.name, cu.owner, c.channel, c.subject, c.description,
	c.status, COALESCE(c.category, ''), c.severity, COALESCE(c.assignee, ''), COALESCE(c.order_id, ''), c.filed_by,
	c.received_at, c.response_due_at, c.responded_at, c.resolution, c.escalation_level, c.closed_at, c.updated_at`

func scanComplaint(row pgx.Row) (Complaint, error) {
	var c Complaint
	err := row.Scan(&c.ID, &c.WorkflowID, &c.CustomerID, &c.CustomerName, &c.CustomerOwner, &c.Channel, &c.Subject,
		&c.Description, &c.Status, &c.Category, &c.Severity, &c.Assignee, &c.OrderID, &c.FiledBy, &c.ReceivedAt,
		&c.ResponseDueAt, &c.RespondedAt, &c.Resolution, &c.EscalationLevel, &c.ClosedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Complaint{}, ErrNotFound
	}
	if err != nil {
		return Complaint{}, err
	}
	c.ReceivedAt, c.ResponseDueAt, c.UpdatedAt = c.ReceivedAt.UTC(), c.ResponseDueAt.UTC(), c.UpdatedAt.UTC()
	c.RespondedAt, c.ClosedAt = utcOrNil(c.RespondedAt), utcOrNil(c.ClosedAt)
	return c, nil
}

// ComplaintByID returns one complaint or ErrNotFound.
func (s *Store) ComplaintByID(ctx context.Context, id string) (Complaint, error) {
	return scanComplaint(s.Pool.QueryRow(ctx, `SELECT `+complaintColumns+`
		FROM complaints c JOIN customers cu ON cu.id = c.customer_id WHERE c.id = $1`, id))
}

// ComplaintFilter selects complaints; empty fields do not filter. Owner restricts the
// list to customers owned by that sales rep.
type ComplaintFilter struct {
	Status     string
	CustomerID string
	Owner      string
	Limit      int
	Cursor     string
}

// ListComplaints returns complaints newest first (ids are time-ordered ULIDs), with the
// cursor of the next page or "".
func (s *Store) ListComplaints(ctx context.Context, f ComplaintFilter) ([]Complaint, string, error) {
	cur, ok, err := DecodeCursor(f.Cursor, CursorComplaints)
	if err != nil {
		return nil, "", err
	}
	limit := listLimit(f.Limit)
	rows, err := s.Pool.Query(ctx, `SELECT `+complaintColumns+`
		FROM complaints c JOIN customers cu ON cu.id = c.customer_id
		WHERE ($1 = '' OR c.status = $1) AND ($2 = '' OR c.customer_id = $2) AND ($3 = '' OR cu.owner = $3)
			AND (NOT $4 OR c.id < $5)
		ORDER BY c.id DESC LIMIT $6`, f.Status, f.CustomerID, f.Owner, ok, cur.ID, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Complaint, error) { return scanComplaint(r) })
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(c Complaint) Cursor { return Cursor{K: CursorComplaints, ID: c.ID} })
	return out, next, nil
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

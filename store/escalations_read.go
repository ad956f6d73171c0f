package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
)

// CursorEscalations pages the escalation list: T raised_at, ID.
var CursorEscalations = cursorList("escalations", true, false)

// Escalation is a recorded SLA breach that a manager must acknowledge.
type Escalation struct {
	ID             string
	WorkflowID     string
	Process        string
	ProcessID      string
	Subject        string // what it is about: "task/<task id>", "invoice/<no>", ...
	TaskID         string // "" when it is not about a human task
	Step           string
	Level          int
	Reason         string
	Targets        []string
	RaisedAt       time.Time
	AcknowledgedBy string
	AcknowledgedAt *time.Time
	AckComment     string
}

const escalationColumns = `e.id, e.workflow_id, e.process, e.process_id, e.subject, COALESCE(e.task_id, ''), e.step, e.level, e.reason, e.targets,
	e.raised_at, COALESCE(e.acknowledged_by, ''), e.acknowledged_at, COALESCE(e.ack_comment, '')`

func scanEscalation(row pgx.Row) (Escalation, error) {
	var e Escalation
	err := row.Scan(&e.ID, &e.WorkflowID, &e.Process, &e.ProcessID, &e.Subject, &e.TaskID, &e.Step, &e.Level, &e.Reason,
		&e.Targets, &e.RaisedAt, &e.AcknowledgedBy, &e.AcknowledgedAt, &e.AckComment)
	if errors.Is(err, pgx.ErrNoRows) {
		return Escalation{}, ErrNotFound
	}
	if err != nil {
		return Escalation{}, err
	}
	e.RaisedAt, e.AcknowledgedAt = e.RaisedAt.UTC(), utcOrNil(e.AcknowledgedAt)
	return e, nil
}

// EscalationByID returns one escalation or ErrNotFound.
func (s *Store) EscalationByID(ctx context.Context, id string) (Escalation, error) {
	return scanEscalation(s.Pool.QueryRow(ctx, `SELECT `+escalationColumns+` FROM escalations e WHERE e.id = $1`, id))
}

// Escalation list statuses.
const (
	EscalationOpen         = "open"
	EscalationAcknowledged = "acknowledged"
)

// EscalationFilter selects escalations; zero fields do not filter.
type EscalationFilter struct {
	Status    string // open | acknowledged
	Level     int
	ProcessID string
	Target    string // only escalations addressed to this username
	Limit     int
	Cursor    string
}

// ListEscalations returns escalations oldest first (by raised_at, then id), with the
// cursor of the next page or "".
func (s *Store) ListEscalations(ctx context.Context, f EscalationFilter) ([]Escalation, string, error) {
	cur, ok, err := DecodeCursor(f.Cursor, CursorEscalations)
	if err != nil {
		return nil, "", err
	}
	if f.Status != "" && f.Status != EscalationOpen && f.Status != EscalationAcknowledged {
		return nil, "", fmt.Errorf("unknown escalation status %q", f.Status)
	}
	limit := listLimit(f.Limit)
	rows, err := s.Pool.Query(ctx, `SELECT `+escalationColumns+` FROM escalations e
		WHERE ($1 = '' OR ($1 = 'open') = (e.acknowledged_at IS NULL))
			AND ($2 = 0 OR e.level = $2) AND ($3 = '' OR e.process_id = $3) AND ($4 = '' OR $4 = ANY(e.targets))
			AND (NOT $5 OR (e.raised_at, e.id) > ($6, $7))
		ORDER BY e.raised_at, e.id LIMIT $8`,
		f.Status, f.Level, f.ProcessID, f.Target, ok, cur.T, cur.ID, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Escalation, error) { return scanEscalation(r) })
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(e Escalation) Cursor { return Cursor{K: CursorEscalations, T: e.RaisedAt, ID: e.ID} })
	return out, next, nil
}

// IsEscalationTarget reports whether username is a target of an escalation on taskID.
func (s *Store) IsEscalationTarget(ctx context.Context, taskID, username string) (bool, error) {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM escalations WHERE task_id = $1 AND $2 = ANY(targets))`,
		taskID, username).Scan(&ok)
	return ok, err
}

// AcknowledgeEscalation records who acknowledged an escalation, with an
// escalation_acknowledged audit event on its process. ErrConflict when it was already
// acknowledged, ErrNotFound when it is unknown.
func (s *Store) AcknowledgeEscalation(ctx context.Context, id, by, comment string, at time.Time) (Escalation, error) {
	var e Escalation
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		e, err = scanEscalation(tx.QueryRow(ctx, `UPDATE escalations e SET acknowledged_by = $2, acknowledged_at = $3, ack_comment = $4
			WHERE e.id = $1 AND e.acknowledged_at IS NULL RETURNING `+escalationColumns, id, by, at.UTC(), comment))
		if errors.Is(err, ErrNotFound) {
			if _, err := scanEscalation(tx.QueryRow(ctx, `SELECT `+escalationColumns+` FROM escalations e WHERE e.id = $1`, id)); err != nil {
				return err
			}
			return ErrConflict
		}
		if err != nil {
			return err
		}
		detail := map[string]any{"escalation_id": e.ID, "task_id": e.TaskID, "step": e.Step, "level": e.Level}
		if e.TaskID == "" { // not about a task: name its subject instead
			delete(detail, "task_id")
			detail["subject"] = e.Subject
		}
		if comment != "" {
			detail["comment"] = comment
		}
		return InsertAudit(ctx, tx, domain.AuditInput{
			Key: "escalation/" + e.ID + "/acknowledged", Process: e.Process, ProcessID: e.ProcessID,
			Actor: by, Event: "escalation_acknowledged", Detail: detail, At: at,
		})
	})
	return e, err
}

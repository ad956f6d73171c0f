package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
)

// InsertAudit records an audit event once per key (a retried activity writes nothing new).
func InsertAudit(ctx context.Context, q Querier, a domain.AuditInput) error {
	args, err := auditArgs(a)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, insertAuditInto+` VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`, args...)
	return err
}

// QueueInsertAudit queues InsertAudit on b, to be written only if the SQL condition
// where holds when it runs; where's parameters are $8 onwards.
func QueueInsertAudit(b *pgx.Batch, a domain.AuditInput, where string, whereArgs ...any) error {
	args, err := auditArgs(a)
	if err != nil {
		return err
	}
	b.Queue(insertAuditInto+`
		SELECT $1::text, $2::text, $3::text, $4::timestamptz, $5::text, $6::text, $7::jsonb
		WHERE `+where+` ON CONFLICT (key) DO NOTHING`, append(args, whereArgs...)...)
	return nil
}

// insertAuditInto starts every insert of an audit row; the columns are those of auditArgs.
const insertAuditInto = `INSERT INTO audit_events (key, process, process_id, at, actor, event, detail)`

// auditArgs are the values of an audit row's first seven columns.
func auditArgs(a domain.AuditInput) ([]any, error) {
	detail := a.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return nil, err
	}
	return []any{a.Key, a.Process, a.ProcessID, a.At.UTC(), a.Actor, a.Event, b}, nil
}

// TimelineEntry is one audit event as the API shows it.
type TimelineEntry struct {
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`
	Event  string         `json:"event"`
	Detail map[string]any `json:"detail"`
}

// Timeline returns a process's audit events in order.
func (s *Store) Timeline(ctx context.Context, processID string) ([]TimelineEntry, error) {
	rows, err := s.Pool.Query(ctx, `SELECT at, actor, event, detail FROM audit_events
		WHERE process_id = $1 ORDER BY at, seq`, processID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TimelineEntry{}
	for rows.Next() {
		var e TimelineEntry
		if err := rows.Scan(&e.At, &e.Actor, &e.Event, &e.Detail); err != nil {
			return nil, err
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

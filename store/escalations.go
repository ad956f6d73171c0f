package store

import (
	"context"
	"time"
)

// NewEscalation is one escalation to record.
type NewEscalation struct {
	ID         string // esc_...; ignored when the escalation already exists
	WorkflowID string
	Process    string
	ProcessID  string
	TaskID     string
	Step       string
	Level      int
	Reason     string
	Targets    []string
	RaisedAt   time.Time
}

// EnsureEscalation records e once per workflow, task and level. It returns the stored
// escalation's id and targets: on a retry, those of the first call.
func EnsureEscalation(ctx context.Context, q Querier, e NewEscalation) (id string, targets []string, err error) {
	_, err = q.Exec(ctx, `INSERT INTO escalations (id, workflow_id, process, process_id, task_id,
			step, level, reason, targets, raised_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (workflow_id, task_id, level) DO NOTHING`,
		e.ID, e.WorkflowID, e.Process, e.ProcessID, e.TaskID, e.Step, e.Level, e.Reason,
		nonNilSlice(e.Targets), e.RaisedAt.UTC())
	if err != nil {
		return "", nil, err
	}
	err = q.QueryRow(ctx, `SELECT id, targets FROM escalations
		WHERE workflow_id = $1 AND task_id = $2 AND level = $3`,
		e.WorkflowID, e.TaskID, e.Level).Scan(&id, &targets)
	return id, targets, err
}

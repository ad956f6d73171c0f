package store

import (
	"context"
	"time"

	"github.com/serviceflow/serviceflow/domain"
)

// NewEscalation is one escalation to record.
type NewEscalation struct {
	ID         string // esc_...; ignored when the escalation already exists
	WorkflowID string
	Process    string
	ProcessID  string
	// Subject is what the escalation is about (domain.EscalationSubject); "" with a
	// TaskID means the task's own subject.
	Subject  string
	TaskID   string // "" when it is not about a human task
	Step     string
	Level    int
	Reason   string
	Targets  []string
	RaisedAt time.Time
}

// EnsureEscalation records e once per workflow, subject and level (for a task: per
// workflow, task and level, as its subject is the task's). It returns the stored
// escalation's id and targets: on a retry, those of the first call.
func EnsureEscalation(ctx context.Context, q Querier, e NewEscalation) (id string, targets []string, err error) {
	subject := domain.EscalationSubject(e.Subject, e.TaskID)
	_, err = q.Exec(ctx, `INSERT INTO escalations (id, workflow_id, process, process_id, subject, task_id,
			step, level, reason, targets, raised_at)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8, $9, $10, $11)
		ON CONFLICT (workflow_id, subject, level) DO NOTHING`,
		e.ID, e.WorkflowID, e.Process, e.ProcessID, subject, e.TaskID, e.Step, e.Level, e.Reason,
		nonNilSlice(e.Targets), e.RaisedAt.UTC())
	if err != nil {
		return "", nil, err
	}
	err = q.QueryRow(ctx, `SELECT id, targets FROM escalations
		WHERE workflow_id = $1 AND subject = $2 AND level = $3`,
		e.WorkflowID, subject, e.Level).Scan(&id, &targets)
	return id, targets, err
}

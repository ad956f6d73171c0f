package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
)

// TaskSnapshot is the part of a task row the activities route and notify with.
type TaskSnapshot struct {
	ID              string
	WorkflowID      string
	Process         string
	ProcessID       string
	Step            string
	Round           int
	Title           string
	Assignee        string // "" when unassigned
	DelegatedFrom   string // "" when not delegated
	CandidateGroups []string
	ExcludeUsers    []string
	Status          string
	EscalationLevel int
	DueAt           time.Time
	CreatedAt       time.Time
}

// InsertTask inserts the task row of in, routed to assignee (after delegation, "" for a
// group task) and recording delegatedFrom. A task with the same id is left as it is, so a
// retried activity inserts nothing new; inserted reports whether this call created it.
func InsertTask(ctx context.Context, q Querier, in domain.CreateTaskInput, assignee, delegatedFrom string) (inserted bool, err error) {
	args, err := insertTaskArgs(in, assignee, delegatedFrom)
	if err != nil {
		return false, err
	}
	tag, err := q.Exec(ctx, insertTaskSQL, args...)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// QueueCreateTask queues on b InsertTask, the task_created audit event of the row (once
// per task: its detail names the step, the assignee, the candidate groups and whom the
// task was delegated from) and the read of the row's snapshot into out.
func QueueCreateTask(b *pgx.Batch, in domain.CreateTaskInput, assignee, delegatedFrom string, out *TaskSnapshot) error {
	args, err := insertTaskArgs(in, assignee, delegatedFrom)
	if err != nil {
		return err
	}
	b.Queue(insertTaskSQL, args...)
	b.Queue(insertAuditInto+`
		SELECT 'task/' || id || '/created', process, process_id, created_at, 'system', 'task_created',
			jsonb_build_object('task_id', id, 'step', step, 'assignee', coalesce(assignee, ''),
				'candidate_groups', to_jsonb(candidate_groups))
			|| CASE WHEN delegated_from IS NULL THEN '{}'::jsonb
				ELSE jsonb_build_object('delegated_from', delegated_from) END
		FROM tasks WHERE id = $1
		ON CONFLICT (key) DO NOTHING`, in.TaskID)
	b.Queue(taskSnapshotSQL, in.TaskID).QueryRow(func(row pgx.Row) error {
		var err error
		*out, err = scanTaskSnapshot(row)
		return err
	})
	return nil
}

const insertTaskSQL = `INSERT INTO tasks (id, workflow_id, process, process_id, step, round,
		title, assignee, delegated_from, candidate_groups, exclude_users, priority, actions,
		form, context, due_at, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), nullif($9, ''), $10, $11, $12, $13,
		$14, $15, $16, $17)
	ON CONFLICT (id) DO NOTHING`

func insertTaskArgs(in domain.CreateTaskInput, assignee, delegatedFrom string) ([]any, error) {
	form, err := json.Marshal(nonNilSlice(in.Form))
	if err != nil {
		return nil, err
	}
	taskCtx := in.Context
	if taskCtx == nil {
		taskCtx = map[string]any{}
	}
	ctxJSON, err := json.Marshal(taskCtx)
	if err != nil {
		return nil, err
	}
	return []any{in.TaskID, in.WorkflowID, in.Process, in.ProcessID, in.Step, in.Round, in.Title,
		assignee, delegatedFrom, nonNilSlice(in.CandidateGroups), nonNilSlice(in.ExcludeUsers), in.Priority,
		nonNilSlice(in.Actions), form, ctxJSON, in.DueAt.UTC(), in.CreatedAt.UTC()}, nil
}

// GetTaskSnapshot returns the task's routing data, or ErrNotFound.
func GetTaskSnapshot(ctx context.Context, q Querier, id string) (TaskSnapshot, error) {
	return scanTaskSnapshot(q.QueryRow(ctx, taskSnapshotSQL, id))
}

const taskSnapshotSQL = `SELECT id, workflow_id, process, process_id, step, round, title,
		coalesce(assignee, ''), coalesce(delegated_from, ''), candidate_groups, exclude_users,
		status, escalation_level, due_at, created_at
	FROM tasks WHERE id = $1`

func scanTaskSnapshot(row pgx.Row) (TaskSnapshot, error) {
	var t TaskSnapshot
	err := row.Scan(&t.ID, &t.WorkflowID, &t.Process, &t.ProcessID, &t.Step, &t.Round, &t.Title,
		&t.Assignee, &t.DelegatedFrom, &t.CandidateGroups, &t.ExcludeUsers,
		&t.Status, &t.EscalationLevel, &t.DueAt, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return TaskSnapshot{}, ErrNotFound
	}
	t.DueAt, t.CreatedAt = t.DueAt.UTC(), t.CreatedAt.UTC()
	return t, err
}

// QueueCloseTask queues on b the closing of an open task with in's status, actor and
// data, and its audit event: the event's detail gains the task's step, and it is written
// only if this close took effect (the row then has in's status and time), so a retry
// after the task was closed, or closed otherwise, writes nothing.
func QueueCloseTask(b *pgx.Batch, in domain.CloseTaskInput, audit domain.AuditInput) error {
	var data []byte
	if in.Data != nil {
		var err error
		if data, err = json.Marshal(in.Data); err != nil {
			return err
		}
	}
	b.Queue(`UPDATE tasks SET status = $2, completed_at = $3,
			completed_by = nullif($4, ''), action = nullif($5, ''), comment = nullif($6, ''), data = $7
		WHERE id = $1 AND status = 'open'`,
		in.TaskID, in.Status, in.At.UTC(), in.Actor, in.Action, in.Comment, data)
	args, err := auditArgs(audit)
	if err != nil {
		return err
	}
	b.Queue(insertAuditInto+`
		SELECT $1, $2, $3, $4, $5, $6, $7::jsonb || jsonb_build_object('step', t.step)
		FROM tasks t WHERE t.id = $8 AND t.status = $9 AND t.completed_at = $10
		ON CONFLICT (key) DO NOTHING`, append(args, in.TaskID, in.Status, in.At.UTC())...)
	return nil
}

// RaiseTaskEscalationLevel records that a task reached level; it never lowers the level.
func RaiseTaskEscalationLevel(ctx context.Context, q Querier, taskID string, level int) error {
	_, err := q.Exec(ctx, `UPDATE tasks SET escalation_level = greatest(escalation_level, $2)
		WHERE id = $1`, taskID, level)
	return err
}

// nonNilSlice turns a nil slice into an empty one, so it is stored as '{}' or '[]', not NULL.
func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

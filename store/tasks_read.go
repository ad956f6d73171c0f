package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/serviceflow/serviceflow/domain"
)

// CursorTasks pages the task lists: T due_at, N priority, ID.
var CursorTasks = cursorList("tasks", true, true)

// Task is a row of the human-task inbox.
type Task struct {
	ID              string
	WorkflowID      string
	Process         string
	ProcessID       string
	Step            string
	Round           int
	Title           string
	Assignee        string
	DelegatedFrom   string
	CandidateGroups []string
	ExcludeUsers    []string
	Status          string
	Priority        int
	Actions         []string
	Form            []domain.FormField
	Context         map[string]any
	EscalationLevel int
	DueAt           time.Time
	CreatedAt       time.Time
	CompletedAt     *time.Time
	CompletedBy     string
	Action          string
	Comment         string
}

const taskColumns = `t.id, t.workflow_id, t.process, t.process_id, t.step, t.round, t.title, COALESCE(t.assignee, ''),
	COALESCE(t.delegated_from, ''), t.candidate_groups, t.exclude_users, t.status, t.priority, t.actions, t.form,
	t.context, t.escalation_level, t.due_at, t.created_at, t.completed_at, COALESCE(t.completed_by, ''),
	COALESCE(t.action, ''), COALESCE(t.comment, '')`

// listColumns are taskColumns with NULL for the form and the context: only a task's
// detail shows them, and decoding them was most of the cost of an inbox page.
var listColumns = strings.NewReplacer("t.form,", "NULL::jsonb,", "t.context,", "NULL::jsonb,").Replace(taskColumns)

func scanTask(row pgx.Row) (Task, error) {
	var t Task
	err := row.Scan(&t.ID, &t.WorkflowID, &t.Process, &t.ProcessID, &t.Step, &t.Round, &t.Title, &t.Assignee,
		&t.DelegatedFrom, &t.CandidateGroups, &t.ExcludeUsers, &t.Status, &t.Priority, &t.Actions, &t.Form,
		&t.Context, &t.EscalationLevel, &t.DueAt, &t.CreatedAt, &t.CompletedAt, &t.CompletedBy, &t.Action, &t.Comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return Task{}, ErrNotFound
	}
	if err != nil {
		return Task{}, err
	}
	t.DueAt, t.CreatedAt, t.CompletedAt = t.DueAt.UTC(), t.CreatedAt.UTC(), utcOrNil(t.CompletedAt)
	return t, nil
}

// TaskByID returns one task or ErrNotFound.
func (s *Store) TaskByID(ctx context.Context, id string) (Task, error) {
	return scanTask(s.Pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks t WHERE t.id = $1`, id))
}

// TasksByIDs returns the tasks of ids that exist, by id, in one query (a page that shows
// many tasks' titles, such as the escalation board).
func (s *Store) TasksByIDs(ctx context.Context, ids []string) (map[string]Task, error) {
	out := map[string]Task{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+taskColumns+` FROM tasks t WHERE t.id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out[t.ID] = t
	}
	return out, rows.Err()
}

// Task list scopes.
const (
	ScopeMine  = "mine"  // assigned to the user, or to someone out of office who delegates to them
	ScopeGroup = "group" // unassigned, in one of the user's groups, the user not excluded
	ScopeAll   = "all"
)

// TaskFilter selects an inbox page. User and Groups are the caller's username and roles.
type TaskFilter struct {
	Scope   string
	User    string
	Groups  []string
	Status  string // "" = open
	Process string
	// Processes, when not nil, restricts the list to tasks of these processes.
	Processes []string
	// Step, when set, keeps the tasks of this step.
	Step string
	// Tier, when set, keeps the tasks of cases (complaints, contracts) whose customer has
	// this tier.
	Tier string
	// Escalated, when not nil, keeps the tasks escalated (level above 0) or not.
	Escalated *bool
	// DueBefore, when not zero, keeps the tasks due before it.
	DueBefore time.Time
	Limit     int
	Cursor    string
}

// ListTasks returns tasks ordered by due time, then priority (highest first), then id,
// with the cursor of the next page or "". Their Form and Context are not read.
func (s *Store) ListTasks(ctx context.Context, f TaskFilter) ([]Task, string, error) {
	cur, ok, err := DecodeCursor(f.Cursor, CursorTasks)
	if err != nil {
		return nil, "", err
	}
	if f.Status == "" {
		f.Status = domain.TaskOpen
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var where []string
	switch f.Scope {
	case ScopeMine:
		// Colleagues out of office who delegate to the user are looked up first, so that
		// the common case (none) is a plain equality that walks tasks_mine in page order.
		who, err := s.delegatingTo(ctx, f.User)
		if err != nil {
			return nil, "", err
		}
		if len(who) == 0 {
			where = append(where, "t.assignee = "+arg(f.User))
		} else {
			where = append(where, "t.assignee = ANY("+arg(append(who, f.User))+"::text[])")
		}
	case ScopeGroup:
		groups := f.Groups
		if groups == nil {
			groups = []string{}
		}
		where = append(where, fmt.Sprintf(`t.assignee IS NULL AND t.candidate_groups && %s::text[] AND NOT (%s = ANY(t.exclude_users))`,
			arg(groups), arg(f.User)))
	case ScopeAll:
	default:
		return nil, "", fmt.Errorf("unknown task scope %q", f.Scope)
	}
	where = append(where, "t.status = "+arg(f.Status))
	if f.Process != "" {
		where = append(where, "t.process = "+arg(f.Process))
	}
	if f.Processes != nil {
		where = append(where, "t.process = ANY("+arg(f.Processes)+"::text[])")
	}
	if f.Step != "" {
		where = append(where, "t.step = "+arg(f.Step))
	}
	if f.Tier != "" {
		where = append(where, `EXISTS (SELECT 1 FROM customers c WHERE c.tier = `+arg(f.Tier)+` AND c.id IN (
			SELECT customer_id FROM complaints WHERE id = t.process_id
			UNION ALL SELECT customer_id FROM contracts WHERE id = t.process_id))`)
	}
	if f.Escalated != nil {
		if *f.Escalated {
			where = append(where, "t.escalation_level > 0")
		} else {
			where = append(where, "t.escalation_level = 0")
		}
	}
	if !f.DueBefore.IsZero() {
		where = append(where, "t.due_at < "+arg(f.DueBefore))
	}
	if ok {
		due, prio, id := arg(cur.T), arg(cur.N), arg(cur.ID)
		// due_at >= bounds the index scan; the rest orders within one due time.
		where = append(where, fmt.Sprintf(`t.due_at >= %[1]s AND (t.due_at > %[1]s OR t.priority < %[2]s OR (t.priority = %[2]s AND t.id > %[3]s))`,
			due, prio, id))
	}
	limit := listLimit(f.Limit)
	const order = ` ORDER BY t.due_at, t.priority DESC, t.id`
	cond, lim := strings.Join(where, " AND "), arg(limit+1)
	page := `SELECT ` + listColumns + ` FROM tasks t WHERE ` + cond + order + ` LIMIT ` + lim
	if f.Scope == ScopeGroup {
		// The group inbox's index (tasks_group_queue) carries the columns of its filter:
		// the page's ids come from the index alone, then only those rows are read.
		page = `SELECT ` + listColumns + ` FROM tasks t WHERE t.id IN (SELECT t.id FROM tasks t WHERE ` +
			cond + order + ` LIMIT ` + lim + `)` + order
	}
	rows, err := s.Pool.Query(ctx, page, args...)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Task, error) { return scanTask(r) })
	if err != nil {
		return nil, "", err
	}
	out, next := cutPage(out, limit, func(t Task) Cursor { return Cursor{K: CursorTasks, T: t.DueAt, N: int64(t.Priority), ID: t.ID} })
	return out, next, nil
}

// delegatingTo lists the users who are out of office and delegate their tasks to username.
func (s *Store) delegatingTo(ctx context.Context, username string) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT username FROM users WHERE delegate = $1 AND out_of_office`, username)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ClaimTask assigns an open, unassigned task to username and records a task_claimed
// audit event. ErrConflict when it is closed or taken, ErrNotFound when it is unknown.
func (s *Store) ClaimTask(ctx context.Context, id, username string, at time.Time) (Task, error) {
	return s.changeAssignee(ctx, id, username, "task_claimed", at,
		`UPDATE tasks SET assignee = $2 WHERE id = $1 AND status = 'open' AND assignee IS NULL`)
}

// UnclaimTask returns a task its assignee holds to its candidate groups and records a
// task_unclaimed audit event. ErrConflict when it is closed, not held by username, or
// has no group to return to.
func (s *Store) UnclaimTask(ctx context.Context, id, username string, at time.Time) (Task, error) {
	return s.changeAssignee(ctx, id, username, "task_unclaimed", at,
		`UPDATE tasks SET assignee = NULL, delegated_from = NULL
		 WHERE id = $1 AND status = 'open' AND assignee = $2 AND cardinality(candidate_groups) > 0`)
}

// ReassignTask gives an open task to assignee, on the word of actor (a manager), and
// records a task_reassigned audit event naming both holders. A delegation ends with it.
// ErrConflict when the task is closed.
func (s *Store) ReassignTask(ctx context.Context, id, actor, assignee string, at time.Time) (Task, error) {
	var from string
	return s.changeAssigneeBy(ctx, id, actor, "task_reassigned", at, func(ctx context.Context, tx pgx.Tx) (pgconn.CommandTag, error) {
		if err := tx.QueryRow(ctx, `SELECT COALESCE(assignee, '') FROM tasks WHERE id = $1 FOR UPDATE`, id).Scan(&from); err != nil &&
			!errors.Is(err, pgx.ErrNoRows) {
			return pgconn.CommandTag{}, err
		}
		return tx.Exec(ctx, `UPDATE tasks SET assignee = $2, delegated_from = NULL WHERE id = $1 AND status = 'open'`, id, assignee)
	}, func(d map[string]any) { d["from"], d["to"] = from, assignee })
}

func (s *Store) changeAssignee(ctx context.Context, id, username, event string, at time.Time, update string) (Task, error) {
	return s.changeAssigneeBy(ctx, id, username, event, at, func(ctx context.Context, tx pgx.Tx) (pgconn.CommandTag, error) {
		return tx.Exec(ctx, update, id, username)
	}, nil)
}

// changeAssigneeBy runs update in a transaction and, when it changed the task, records
// event by actor (detail adds to the audit detail when not nil).
func (s *Store) changeAssigneeBy(ctx context.Context, id, actor, event string, at time.Time,
	update func(context.Context, pgx.Tx) (pgconn.CommandTag, error), detail func(map[string]any)) (Task, error) {
	var t Task
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		tag, err := update(ctx, tx)
		if err != nil {
			return err
		}
		t, err = scanTask(tx.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks t WHERE t.id = $1`, id))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrConflict
		}
		d := map[string]any{"task_id": t.ID, "step": t.Step}
		if detail != nil {
			detail(d)
		}
		return InsertAudit(ctx, tx, domain.AuditInput{
			Key:     fmt.Sprintf("%s/%s/%s", t.ID, event, domain.NewID("evt")),
			Process: t.Process, ProcessID: t.ProcessID, Actor: actor, Event: event, Detail: d, At: at,
		})
	})
	return t, err
}

// TaskComment is a comment on a task.
type TaskComment struct {
	ID        string
	TaskID    string
	Author    string
	Text      string
	CreatedAt time.Time
}

// AddTaskComment stores a comment and a "comment" audit event on the task's process.
func (s *Store) AddTaskComment(ctx context.Context, t Task, author, text string, at time.Time) (TaskComment, error) {
	c := TaskComment{ID: domain.NewID("tcm"), TaskID: t.ID, Author: author, Text: text, CreatedAt: at.UTC()}
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO task_comments (id, task_id, author, text, created_at) VALUES ($1, $2, $3, $4, $5)`,
			c.ID, c.TaskID, c.Author, c.Text, c.CreatedAt); err != nil {
			return err
		}
		return InsertAudit(ctx, tx, domain.AuditInput{
			Key: "comment/" + c.ID, Process: t.Process, ProcessID: t.ProcessID, Actor: author, Event: "comment",
			Detail: map[string]any{"task_id": t.ID, "step": t.Step, "text": text}, At: c.CreatedAt,
		})
	})
	return c, err
}

// TaskComments returns a task's comments, oldest first.
func (s *Store) TaskComments(ctx context.Context, taskID string) ([]TaskComment, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, task_id, author, text, created_at FROM task_comments
		WHERE task_id = $1 ORDER BY created_at, id`, taskID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TaskComment, error) {
		var c TaskComment
		err := r.Scan(&c.ID, &c.TaskID, &c.Author, &c.Text, &c.CreatedAt)
		c.CreatedAt = c.CreatedAt.UTC()
		return c, err
	})
}

// OpenTasksOfCase returns the open tasks of one case (process and process id), by due
// time, then priority (highest first), then id; like ListTasks, without Form and Context.
func (s *Store) OpenTasksOfCase(ctx context.Context, process, processID string) ([]Task, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+listColumns+` FROM tasks t
		WHERE t.process = $1 AND t.process_id = $2 AND t.status = 'open'
		ORDER BY t.due_at, t.priority DESC, t.id`, process, processID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

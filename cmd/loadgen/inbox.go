package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// inboxProcess marks the rows loadgen inserts, so they can be deleted again.
const inboxProcess = "loadgen"

// Inbox is the inbox query's latency with Rows task rows in the table.
type Inbox struct {
	Rows       int     `json:"rows"`
	MineRows   int     `json:"carol_open_mine"`  // carol's open assigned tasks
	GroupRows  int     `json:"carol_open_group"` // open unassigned customer_service tasks
	HTTPMine   Latency `json:"http_mine"`        // GET /api/v1/tasks?scope=mine as carol
	HTTPGroup  Latency `json:"http_group"`       // GET /api/v1/tasks?scope=group as carol
	StoreMine  Latency `json:"store_mine"`       // store.ListTasks, the SQL alone
	StoreGroup Latency `json:"store_group"`
}

// taskRowColumns are the columns loadgen fills; the rest keep their defaults.
var taskRowColumns = []string{"id", "workflow_id", "process", "process_id", "step", "round", "title", "assignee",
	"candidate_groups", "exclude_users", "status", "priority", "actions", "form", "context", "due_at", "created_at",
	"completed_at", "completed_by", "action"}

// inboxUsers are the people tasks are assigned to: the demo handlers and managers, and
// 60 more colleagues, so carol holds a few percent of the assigned tasks.
var inboxUsers = func() []string {
	u := []string{"carol", "cathy", "dave", "erin"}
	for i := 1; i <= 60; i++ {
		u = append(u, fmt.Sprintf("user%02d", i))
	}
	return u
}()

// inboxGroups are the candidate groups of unassigned tasks, weighted by repetition.
var inboxGroups = []string{"customer_service", "customer_service", "customer_service", "customer_service",
	"service_manager", "service_manager", "finance", "finance", "quality", "logistics"}

// taskRow returns the i-th synthetic task. Half are group steps (a candidate group, the
// task waits unassigned until someone claims it), half personal steps (assigned at once).
// 80 % are completed, 3 % cancelled, 17 % open; of the open group tasks 60 % still wait
// in their group. Tasks were created over the last 90 days (open ones over the last 14)
// and are due 1 to 72 hours after creation.
func taskRow(i int, rng *rand.Rand, now time.Time) []any {
	wf := fmt.Sprintf("complaint/cmp_LOADGEN%07d", i)
	status, age := domain.TaskCompleted, 90*24*time.Hour
	switch r := rng.IntN(100); {
	case r < 17:
		status, age = domain.TaskOpen, 14*24*time.Hour
	case r < 20:
		status = domain.TaskCancelled
	}
	created := now.Add(-time.Duration(rng.Int64N(int64(age))))
	due := created.Add(time.Hour + time.Duration(rng.Int64N(int64(71*time.Hour))))
	step, groups, exclude := domain.StepRespond, []string{}, []string{}
	var assignee any = inboxUsers[rng.IntN(len(inboxUsers))]
	if rng.IntN(2) == 0 {
		step, groups = domain.StepEvaluate, []string{inboxGroups[rng.IntN(len(inboxGroups))]}
		if groups[0] != "customer_service" {
			step = domain.StepApproveResolution
			exclude = []string{inboxUsers[rng.IntN(len(inboxUsers))]} // who proposed it
		}
		if status == domain.TaskOpen && rng.IntN(100) < 60 {
			assignee = nil
		}
	}
	var completedBy, action, completedAt any
	if status != domain.TaskOpen {
		completedAt = created.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
		if status == domain.TaskCompleted {
			completedBy, action = assignee, "accept"
		}
	}
	priority := 0
	if r := rng.IntN(100); r < 5 {
		priority = 2
	} else if r < 15 {
		priority = 1
	}
	return []any{
		domain.TaskID(wf, step, 1, ""), wf, inboxProcess, wf[len("complaint/"):], step, 1,
		fmt.Sprintf("Load test task %d", i), assignee, groups, exclude, status, priority,
		[]string{"accept"}, []map[string]any{{"name": "category", "type": "enum", "required": true}},
		map[string]any{"customer_name": "Northwind Machinery", "subject": "Spindle vibrates", "severity": "normal"},
		due, created, completedAt, completedBy, action,
	}
}

// seedInbox inserts rows synthetic tasks with COPY, then vacuums and analyses the table
// as autovacuum would after such an insert (statistics, visibility map) and checkpoints.
func seedInbox(ctx context.Context, db *store.Store, rows int) error {
	rng := rand.New(rand.NewPCG(3, 100_000))
	now := time.Now().UTC()
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == rows {
			return nil, nil
		}
		i++
		return taskRow(i, rng, now), nil
	})
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"tasks"}, taskRowColumns, src); err != nil {
		return fmt.Errorf("copy %d task rows: %w", rows, err)
	}
	if _, err := db.Pool.Exec(ctx, "VACUUM ANALYZE tasks"); err != nil {
		return err
	}
	// Write the bulk load out now rather than in a checkpoint during the timing; this
	// needs a superuser (or pg_checkpoint), so a refusal is not an error.
	_, _ = db.Pool.Exec(ctx, "CHECKPOINT")
	return nil
}

// deleteInbox removes the rows seedInbox inserted.
func deleteInbox(ctx context.Context, db *store.Store) error {
	_, err := db.Pool.Exec(ctx, "DELETE FROM tasks WHERE process = $1", inboxProcess)
	return err
}

// measureInbox times carol's first inbox page, "mine" and "group", over HTTP and as the
// bare store query, one request at a time, n times each after a warm-up.
func measureInbox(ctx context.Context, a *apiClient, db *store.Store, rows, n int) (Inbox, error) {
	in := Inbox{Rows: rows}
	carol := store.TaskFilter{User: "carol", Groups: []string{string(domain.RoleCustomerService)}}
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE assignee = 'carol'),
		count(*) FILTER (WHERE assignee IS NULL AND 'customer_service' = ANY(candidate_groups))
		FROM tasks WHERE status = 'open'`).Scan(&in.MineRows, &in.GroupRows); err != nil {
		return in, err
	}
	var httpMine, httpGroup, storeMine, storeGroup samples
	get := func(scope string) error {
		return a.call(ctx, "carol", http.MethodGet, "/api/v1/tasks?scope="+scope, nil, nil, http.StatusOK, nil)
	}
	list := func(scope string) error {
		f := carol
		f.Scope = scope
		_, _, err := db.ListTasks(ctx, f)
		return err
	}
	for i := range n + 20 {
		rec := func(s *samples, f func() error) error {
			if i < 20 { // warm-up
				return f()
			}
			return s.time(f)
		}
		if err := errors.Join(
			rec(&httpMine, func() error { return get(store.ScopeMine) }),
			rec(&httpGroup, func() error { return get(store.ScopeGroup) }),
			rec(&storeMine, func() error { return list(store.ScopeMine) }),
			rec(&storeGroup, func() error { return list(store.ScopeGroup) }),
		); err != nil {
			return in, err
		}
	}
	in.HTTPMine, in.HTTPGroup = httpMine.summary(), httpGroup.summary()
	in.StoreMine, in.StoreGroup = storeMine.summary(), storeGroup.summary()
	return in, nil
}

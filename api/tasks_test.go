package api

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
)

var t0 = time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)

func TestTaskListScopesAndOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cs := []string{"customer_service"}
	// Group tasks: ordered by due time, then priority (highest first), then id.
	e.insertTask(taskRow{id: "tsk_g3", groups: cs, due: t0.Add(2 * time.Hour)})
	e.insertTask(taskRow{id: "tsk_g1", groups: cs, due: t0, priority: 1})
	e.insertTask(taskRow{id: "tsk_g2", groups: cs, due: t0, priority: 5})
	e.insertTask(taskRow{id: "tsk_g4", groups: cs, due: t0.Add(2 * time.Hour)})
	e.insertTask(taskRow{id: "tsk_g0", groups: cs, due: t0.Add(time.Hour), priority: 9})
	e.insertTask(taskRow{id: "tsk_excl", groups: cs, exclude: []string{"carol"}})
	e.insertTask(taskRow{id: "tsk_mgr", groups: []string{"service_manager"}})
	e.insertTask(taskRow{id: "tsk_done", groups: cs, status: domain.TaskCompleted})
	e.insertTask(taskRow{id: "tsk_other", process: "contract", groups: cs, due: t0.Add(3 * time.Hour)})
	// Assigned tasks: carol's own, one for out-of-office olivia (delegating to carol), cathy's.
	e.insertTask(taskRow{id: "tsk_c2", assignee: "carol", groups: cs, due: t0.Add(time.Hour)})
	e.insertTask(taskRow{id: "tsk_c1", assignee: "carol", delegatedFrom: "olivia", due: t0})
	e.insertTask(taskRow{id: "tsk_o1", assignee: "olivia", groups: cs, due: t0.Add(30 * time.Minute)})
	e.insertTask(taskRow{id: "tsk_k1", assignee: "cathy", groups: cs})

	list := func(user, query string) []string {
		ids, _ := e.do("GET", "/api/v1/tasks?"+query, user, nil).want(http.StatusOK).items()
		return ids
	}
	if got := list("carol", ""); !slices.Equal(got, []string{"tsk_c1", "tsk_o1", "tsk_c2"}) {
		t.Fatalf("carol mine: %v", got)
	}
	wantGroup := []string{"tsk_g2", "tsk_g1", "tsk_g0", "tsk_g3", "tsk_g4", "tsk_other"}
	if got := list("carol", "scope=group"); !slices.Equal(got, wantGroup) {
		t.Fatalf("carol group: %v", got)
	}
	if got := list("cathy", "scope=group&process=complaint"); !slices.Equal(got, []string{"tsk_g2", "tsk_g1", "tsk_g0", "tsk_g3", "tsk_g4", "tsk_excl"}) {
		t.Fatalf("cathy group: %v", got)
	}
	if got := list("cathy", "scope=mine"); !slices.Equal(got, []string{"tsk_k1"}) {
		t.Fatalf("cathy mine: %v", got)
	}
	if got := list("carol", "scope=group&status=completed"); !slices.Equal(got, []string{"tsk_done"}) {
		t.Fatalf("carol completed: %v", got)
	}
	if got := list("dave", "scope=group"); !slices.Equal(got, []string{"tsk_mgr"}) {
		t.Fatalf("dave group: %v", got)
	}
	if got := list("alice", "scope=group"); len(got) != 0 {
		t.Fatalf("alice group: %v", got)
	}

	// Keyset pagination walks the same order without gaps or repeats.
	var walked []string
	cursor := ""
	for range 10 {
		ids, next := e.do("GET", "/api/v1/tasks?scope=group&limit=2&cursor="+cursor, "carol", nil).want(http.StatusOK).items()
		walked = append(walked, ids...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(walked, wantGroup) {
		t.Fatalf("paged %v, want %v", walked, wantGroup)
	}

	e.do("GET", "/api/v1/tasks?scope=all", "carol", nil).problem(http.StatusForbidden)
	// A manager lists every task of the processes he oversees: not the contract task.
	if got := list("dave", "scope=all&limit=200"); len(got) != 11 || slices.Contains(got, "tsk_other") {
		t.Fatalf("dave all: %d %v", len(got), got)
	}
	e.do("GET", "/api/v1/tasks?scope=everything", "carol", nil).problem(http.StatusUnprocessableEntity)
	e.do("GET", "/api/v1/tasks?status=lost", "carol", nil).problem(http.StatusUnprocessableEntity)

	item := e.do("GET", "/api/v1/tasks", "carol", nil).want(http.StatusOK).json()["items"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "process", "process_id", "step", "title", "assignee", "candidate_groups", "status",
		"priority", "due_at", "created_at", "escalation_level", "actions", "delegated_from"} {
		if _, ok := item[k]; !ok {
			t.Errorf("task item lacks %q: %v", k, item)
		}
	}
	if item["delegated_from"] != "olivia" || item["due_at"] != "2030-01-01T09:00:00Z" {
		t.Fatalf("item: %v", item)
	}
}

func TestTaskViewClaimUnclaim(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cs := []string{"customer_service"}
	e.insertTask(taskRow{id: "tsk_a", groups: cs})
	e.insertTask(taskRow{id: "tsk_closed", groups: cs, status: domain.TaskCompleted})
	e.insertTask(taskRow{id: "tsk_direct", assignee: "carol"})
	e.insertTask(taskRow{id: "tsk_self", groups: cs, exclude: []string{"cathy"}})

	d := e.do("GET", "/api/v1/tasks/tsk_a", "carol", nil).want(http.StatusOK).json()
	if _, ok := d["form"].([]any); !ok || d["context"].(map[string]any)["subject"] != "Broken pump" {
		t.Fatalf("detail: %v", d)
	}
	if c, ok := d["comments"].([]any); !ok || len(c) != 0 {
		t.Fatalf("comments: %v", d["comments"])
	}
	e.do("GET", "/api/v1/tasks/tsk_a", "erin", nil).problem(http.StatusNotFound)
	e.do("GET", "/api/v1/tasks/tsk_a", "admin", nil).want(http.StatusOK)
	e.do("GET", "/api/v1/tasks/tsk_missing", "carol", nil).problem(http.StatusNotFound)
	e.do("GET", "/api/v1/tasks/tsk_direct", "cathy", nil).problem(http.StatusNotFound)
	e.do("GET", "/api/v1/tasks/tsk_direct", "carol", nil).want(http.StatusOK)

	if m := e.do("POST", "/api/v1/tasks/tsk_a/claim", "cathy", nil).want(http.StatusOK).json(); m["assignee"] != "cathy" {
		t.Fatalf("claim: %v", m)
	}
	e.do("POST", "/api/v1/tasks/tsk_a/claim", "cathy", nil).want(http.StatusOK) // already hers
	e.do("POST", "/api/v1/tasks/tsk_a/claim", "carol", nil).problem(http.StatusConflict)
	e.do("GET", "/api/v1/tasks/tsk_a", "carol", nil).want(http.StatusOK) // group members still see it
	e.do("POST", "/api/v1/tasks/tsk_a/unclaim", "carol", nil).problem(http.StatusForbidden)
	e.do("POST", "/api/v1/tasks/tsk_a/claim", "erin", nil).problem(http.StatusNotFound)
	e.do("POST", "/api/v1/tasks/tsk_a/claim", "admin", nil).problem(http.StatusForbidden)
	if m := e.do("POST", "/api/v1/tasks/tsk_a/unclaim", "cathy", nil).want(http.StatusOK).json(); m["assignee"] != nil {
		t.Fatalf("unclaim: %v", m)
	}
	e.do("POST", "/api/v1/tasks/tsk_a/unclaim", "cathy", nil).problem(http.StatusForbidden)
	e.do("POST", "/api/v1/tasks/tsk_closed/claim", "carol", nil).problem(http.StatusConflict)
	e.do("POST", "/api/v1/tasks/tsk_direct/unclaim", "carol", nil).problem(http.StatusConflict) // no group to return to
	e.do("POST", "/api/v1/tasks/tsk_self/claim", "cathy", nil).problem(http.StatusForbidden)
	if ev := e.auditEvents("cmp_test"); !slices.Equal(ev, []string{"task_claimed", "task_unclaimed"}) {
		t.Fatalf("audit: %v", ev)
	}
}

func TestCompleteTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cs := []string{"customer_service"}
	e.insertTask(taskRow{id: "tsk_a", groups: cs})
	e.insertTask(taskRow{id: "tsk_b", assignee: "carol", groups: cs, actions: []string{"respond"}})
	e.insertTask(taskRow{id: "tsk_done", groups: cs, status: domain.TaskCompleted})
	e.insertTask(taskRow{id: "tsk_self", groups: cs, exclude: []string{"carol"}})
	e.insertTask(taskRow{id: "tsk_esc", assignee: "cathy", groups: cs})
	if _, err := e.st.Pool.Exec(context.Background(), `INSERT INTO escalations (id, workflow_id, process, process_id, subject, task_id,
		step, level, reason, targets, raised_at) VALUES ('esc_1', 'complaint/cmp_test', 'complaint', 'cmp_test', 'task/tsk_esc', 'tsk_esc',
		'evaluate', 1, 'overdue', '{dave}', now())`); err != nil {
		t.Fatal(err)
	}

	// Success: the workflow closes the row; the answer carries the re-read task.
	e.tc.onUpdate = func(o client.UpdateWorkflowOptions) (any, error) {
		req := o.Args[0].(domain.CompleteTaskRequest)
		if _, err := e.st.Pool.Exec(context.Background(), `UPDATE tasks SET status = 'completed', completed_by = $2,
			action = $3, completed_at = now() WHERE id = $1`, req.TaskID, req.Actor, req.Action); err != nil {
			return nil, err
		}
		return domain.CompleteTaskResponse{TaskID: req.TaskID, ProcessStatus: "responding"}, nil
	}
	body := map[string]any{"action": "accept", "comment": "mine", "data": map[string]any{"category": "product", "severity": "urgent"}}
	m := e.do("POST", "/api/v1/tasks/tsk_a/complete", "carol", body).want(http.StatusOK).json()
	if m["process_status"] != "responding" || m["task"].(map[string]any)["status"] != "completed" ||
		m["task"].(map[string]any)["completed_by"] != "carol" {
		t.Fatalf("complete: %v", m)
	}
	u := e.tc.lastUpdate()
	req := u.Args[0].(domain.CompleteTaskRequest)
	if u.WorkflowID != "complaint/cmp_test" || u.UpdateName != domain.UpdateCompleteTask || u.WaitForStage != client.WorkflowUpdateStageCompleted ||
		req.TaskID != "tsk_a" || req.Actor != "carol" || req.Action != "accept" || req.Comment != "mine" || req.Data["severity"] != "urgent" {
		t.Fatalf("update: %+v %+v", u, req)
	}

	// A manager targeted by an escalation on the task may act on it.
	e.do("POST", "/api/v1/tasks/tsk_esc/complete", "dave", map[string]any{"action": "accept"}).want(http.StatusOK)

	calls := len(e.tc.updates)
	e.do("POST", "/api/v1/tasks/tsk_done/complete", "carol", map[string]any{"action": "accept"}).problem(http.StatusConflict)
	e.do("POST", "/api/v1/tasks/tsk_b/complete", "cathy", map[string]any{"action": "respond"}).problem(http.StatusForbidden)
	e.do("POST", "/api/v1/tasks/tsk_b/complete", "erin", map[string]any{"action": "respond"}).problem(http.StatusNotFound)
	e.do("POST", "/api/v1/tasks/tsk_self/complete", "carol", map[string]any{"action": "accept"}).problem(http.StatusForbidden)
	if p := e.do("POST", "/api/v1/tasks/tsk_b/complete", "carol", map[string]any{"action": "approve"}).problem(http.StatusUnprocessableEntity); !slices.Equal(fieldNames(p), []string{"action"}) {
		t.Fatalf("bad action: %+v", p)
	}
	e.do("POST", "/api/v1/tasks/tsk_b/complete", "carol", map[string]any{"action": "respond", "extra": 1}).problem(http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/tasks/tsk_b/complete", "carol", `{"action":`).problem(http.StatusBadRequest)
	if len(e.tc.updates) != calls {
		t.Fatal("rejected requests reached the workflow")
	}

	// The workflow's answers map to status codes.
	cases := []struct {
		err    error
		code   int
		fields []string
	}{
		{temporal.NewApplicationError("task closed", domain.ErrTypeTaskClosed), http.StatusConflict, nil},
		{temporal.NewApplicationError("not allowed", domain.ErrTypeInvalidAction), http.StatusUnprocessableEntity, []string{"action"}},
		{temporal.NewApplicationError("bad data", domain.ErrTypeInvalidData, []domain.FieldError{
			{Field: "message", Message: "is required"}, {Field: "amount", Message: "must be money"}}),
			http.StatusUnprocessableEntity, []string{"data.message", "data.amount"}},
		// A reject without the comment it requires (TaskSpec.CommentRequired) names the
		// completion's comment, not a form field.
		{temporal.NewApplicationError("bad data", domain.ErrTypeInvalidData, []domain.FieldError{
			{Field: "comment", Message: "is required to reject"}}),
			http.StatusUnprocessableEntity, []string{"comment"}},
		{serviceerror.NewNotFound("workflow execution already completed"), http.StatusConflict, nil},
	}
	for _, tc := range cases {
		e.tc.mu.Lock()
		e.tc.onUpdate = func(client.UpdateWorkflowOptions) (any, error) { return nil, tc.err }
		e.tc.mu.Unlock()
		p := e.do("POST", "/api/v1/tasks/tsk_b/complete", "carol", map[string]any{"action": "respond"}).problem(tc.code)
		if !slices.Equal(fieldNames(p), tc.fields) {
			t.Fatalf("%v: fields %v, want %v", tc.err, fieldNames(p), tc.fields)
		}
	}
	if st, _ := e.taskStatus("tsk_b"); st != domain.TaskOpen {
		t.Fatalf("tsk_b %s", st)
	}
}

func TestTaskComments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.insertTask(taskRow{id: "tsk_a", groups: []string{"customer_service"}})
	m := e.do("POST", "/api/v1/tasks/tsk_a/comments", "carol", map[string]any{"text": "Called the customer."}).want(http.StatusCreated).json()
	if m["author"] != "carol" || m["text"] != "Called the customer." {
		t.Fatalf("comment: %v", m)
	}
	e.do("POST", "/api/v1/tasks/tsk_a/comments", "carol", map[string]any{"text": "  "}).problem(http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/tasks/tsk_a/comments", "erin", map[string]any{"text": "hi"}).problem(http.StatusNotFound)
	c := e.do("GET", "/api/v1/tasks/tsk_a", "cathy", nil).want(http.StatusOK).json()["comments"].([]any)
	if len(c) != 1 || c[0].(map[string]any)["text"] != "Called the customer." {
		t.Fatalf("comments: %v", c)
	}
	if ev := e.auditEvents("cmp_test"); !slices.Equal(ev, []string{"comment"}) {
		t.Fatalf("audit: %v", ev)
	}
}

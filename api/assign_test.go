package api

import (
	"context"
	"net/http"
	"slices"
	"testing"
)

// TestReassignTask: a manager of the process gives a task to someone who may work it;
// anyone else, a closed task, a task bound to its case's handler or an assignee who may
// not work it is refused, and the case's timeline names both holders.
func TestReassignTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cmp := e.fileComplaint("carol", "cus_acme")
	e.insertTask(taskRow{id: "tsk_held", processID: cmp, assignee: "carol", groups: []string{"customer_service"}, exclude: []string{"olivia"}})
	e.insertTask(taskRow{id: "tsk_solo", processID: cmp, assignee: "carol"}) // no candidate group
	e.insertTask(taskRow{id: "tsk_done", processID: cmp, assignee: "carol", groups: []string{"customer_service"}, status: "completed"})
	assign := func(user, id string, body any) resp {
		return e.do("POST", "/api/v1/tasks/"+id+"/assign", user, body)
	}

	got := assign("dave", "tsk_held", map[string]any{"assignee": "cathy"}).want(http.StatusOK).json()
	if got["assignee"] != "cathy" {
		t.Fatalf("reassigned: %v", got)
	}
	// The new holder has it in Mine; carol no longer does.
	mine := func(user string) []string {
		var ids []string
		for _, it := range e.do("GET", "/api/v1/tasks?scope=mine", user, nil).want(http.StatusOK).json()["items"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		return ids
	}
	if !slices.Contains(mine("cathy"), "tsk_held") || slices.Contains(mine("carol"), "tsk_held") {
		t.Errorf("after the reassignment: cathy has %v, carol has %v", mine("cathy"), mine("carol"))
	}
	tl, err := e.st.Timeline(context.Background(), cmp)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range tl {
		if ev.Event == "task_reassigned" && ev.Actor == "dave" && ev.Detail["from"] == "carol" && ev.Detail["to"] == "cathy" {
			found = true
		}
	}
	if !found {
		t.Errorf("no task_reassigned event by dave from carol to cathy in %+v", tl)
	}

	for _, c := range []struct {
		name, user, id, to string
		code               int
	}{
		{"not a manager", "carol", "tsk_held", "carol", http.StatusForbidden},
		{"another process's manager", "bob", "tsk_held", "carol", http.StatusNotFound},
		{"not in the task's groups", "dave", "tsk_held", "erin", http.StatusUnprocessableEntity},
		{"excluded from the task", "dave", "tsk_held", "olivia", http.StatusUnprocessableEntity},
		{"no such user", "dave", "tsk_held", "nobody", http.StatusUnprocessableEntity},
		{"empty", "dave", "tsk_held", "", http.StatusUnprocessableEntity},
		{"closed", "dave", "tsk_done", "cathy", http.StatusConflict},
		{"no such task", "dave", "tsk_nope", "cathy", http.StatusNotFound},
	} {
		fields := checkProblem(t, assign(c.user, c.id, map[string]any{"assignee": c.to}), c.code)
		if c.code == http.StatusUnprocessableEntity && !slices.Equal(fields, []string{"assignee"}) {
			t.Errorf("%s: fields %v", c.name, fields)
		}
	}
	// A task without groups is its case's handler's (the process gives the handler the
	// next steps too): it is not reassigned.
	checkProblem(t, assign("dave", "tsk_solo", map[string]any{"assignee": "cathy"}), http.StatusConflict)
	// A closed task is a 409 whatever the body says.
	checkProblem(t, assign("dave", "tsk_done", map[string]any{"assignee": "nobody"}), http.StatusConflict)
}

// TestVisibleTasks: the board's batch read shows each user exactly the tasks TaskFor
// would: by oversight, group, or as an escalation's target; unknown ids are left out.
func TestVisibleTasks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cmp := e.fileComplaint("carol", "cus_acme")
	e.insertTask(taskRow{id: "tsk_cs", processID: cmp, groups: []string{"customer_service"}})
	e.insertTask(taskRow{id: "tsk_fin", processID: cmp, groups: []string{"finance"}})
	ids := []string{"tsk_cs", "tsk_fin", "tsk_nope"}
	visible := func(user string) []string {
		u, err := e.st.UserByUsername(t.Context(), user)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.srv.VisibleTasks(t.Context(), u, ids)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for id := range got {
			out = append(out, id)
		}
		slices.Sort(out)
		return out
	}
	for user, want := range map[string][]string{"carol": {"tsk_cs"}, "erin": {"tsk_fin"}, "dave": {"tsk_cs", "tsk_fin"}, "bob": nil} {
		if got := visible(user); !slices.Equal(got, want) {
			t.Errorf("%s sees %v, want %v", user, got, want)
		}
		for _, id := range ids[:2] {
			u, _ := e.st.UserByUsername(t.Context(), user)
			_, a, err := e.srv.TaskFor(t.Context(), u, id)
			if (err == nil && a.View) != slices.Contains(want, id) {
				t.Errorf("%s, %s: TaskFor says view=%v (%v), VisibleTasks %v", user, id, a.View, err, want)
			}
		}
	}
	e.insertEscalation("esc_bob", cmp, "tsk_cs", "bob")
	if got := visible("bob"); !slices.Equal(got, []string{"tsk_cs"}) {
		t.Errorf("bob, the escalation's target, sees %v", got)
	}
}

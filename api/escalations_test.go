package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

func TestEscalations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO escalations (id, workflow_id, process, process_id, subject, task_id, step, level, reason, targets, raised_at)
		 VALUES ('esc_1', 'complaint/cmp_1', 'complaint', 'cmp_1', 'task/tsk_1', 'tsk_1', 'respond', 1, 'response overdue', '{dave}', '2030-01-01T10:00:00Z')`,
		`INSERT INTO escalations (id, workflow_id, process, process_id, subject, task_id, step, level, reason, targets, raised_at)
		 VALUES ('esc_2', 'complaint/cmp_1', 'complaint', 'cmp_1', 'task/tsk_1', 'tsk_1', 'respond', 2, 'response overdue', '{judy}', '2030-01-01T22:00:00Z')`,
		`INSERT INTO escalations (id, workflow_id, process, process_id, subject, task_id, step, level, reason, targets, raised_at,
		 acknowledged_by, acknowledged_at) VALUES ('esc_0', 'complaint/cmp_0', 'complaint', 'cmp_0', 'task/tsk_0', 'tsk_0', 'respond', 1,
		 'response overdue', '{dave}', '2029-12-01T10:00:00Z', 'dave', '2029-12-01T11:00:00Z')`,
	} {
		if _, err := e.st.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	list := func(user, query string) []string {
		ids, _ := e.do("GET", "/api/v1/escalations?"+query, user, nil).want(http.StatusOK).items()
		return ids
	}
	e.do("GET", "/api/v1/escalations", "alice", nil).problem(http.StatusForbidden)
	e.do("GET", "/api/v1/escalations", "carol", nil).problem(http.StatusForbidden)
	if got := list("dave", ""); !slices.Equal(got, []string{"esc_0", "esc_1", "esc_2"}) {
		t.Fatalf("all: %v", got)
	}
	if got := list("dave", "status=open"); !slices.Equal(got, []string{"esc_1", "esc_2"}) {
		t.Fatalf("open: %v", got)
	}
	if got := list("dave", "status=acknowledged"); !slices.Equal(got, []string{"esc_0"}) {
		t.Fatalf("acknowledged: %v", got)
	}
	if got := list("judy", "status=open&level=2"); !slices.Equal(got, []string{"esc_2"}) {
		t.Fatalf("level 2: %v", got)
	}
	if got := list("judy", "target=me"); !slices.Equal(got, []string{"esc_2"}) {
		t.Fatalf("judy's: %v", got)
	}
	ids, next := e.do("GET", "/api/v1/escalations?limit=2", "admin", nil).want(http.StatusOK).items()
	rest, _ := e.do("GET", "/api/v1/escalations?limit=2&cursor="+next, "admin", nil).want(http.StatusOK).items()
	if !slices.Equal(append(ids, rest...), []string{"esc_0", "esc_1", "esc_2"}) {
		t.Fatalf("pages %v %v", ids, rest)
	}
	e.do("GET", "/api/v1/escalations?status=closed", "dave", nil).problem(http.StatusUnprocessableEntity)
	e.do("GET", "/api/v1/escalations?level=x", "dave", nil).problem(http.StatusUnprocessableEntity)

	item := e.do("GET", "/api/v1/escalations?status=open&level=1", "dave", nil).want(http.StatusOK).json()["items"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "process", "process_id", "subject", "task_id", "reason", "level", "raised_at", "targets", "acknowledged_by", "acknowledged_at"} {
		if _, ok := item[k]; !ok {
			t.Errorf("escalation item lacks %q", k)
		}
	}

	// Acknowledge: a target, or the general manager or admin; once.
	e.do("POST", "/api/v1/escalations/esc_1/acknowledge", "alice", nil).problem(http.StatusForbidden)
	e.do("POST", "/api/v1/escalations/esc_1/acknowledge", "bob", nil).problem(http.StatusForbidden)
	e.do("POST", "/api/v1/escalations/esc_9/acknowledge", "dave", nil).problem(http.StatusNotFound)
	m := e.do("POST", "/api/v1/escalations/esc_1/acknowledge", "dave", map[string]any{"comment": "On it."}).want(http.StatusOK).json()
	if m["acknowledged_by"] != "dave" || m["acknowledged_at"] == nil || m["ack_comment"] != "On it." {
		t.Fatalf("ack: %v", m)
	}
	e.do("POST", "/api/v1/escalations/esc_1/acknowledge", "dave", nil).problem(http.StatusConflict)
	e.do("POST", "/api/v1/escalations/esc_2/acknowledge", "dave", nil).problem(http.StatusForbidden)
	e.do("POST", "/api/v1/escalations/esc_2/acknowledge", "admin", `{}`).want(http.StatusOK)
	if ev := e.auditEvents("cmp_1"); !slices.Equal(ev, []string{"escalation_acknowledged", "escalation_acknowledged"}) {
		t.Fatalf("audit: %v", ev)
	}
	if got := list("dave", "status=open"); len(got) != 0 {
		t.Fatalf("still open: %v", got)
	}
}

func TestEmails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for i, to := range []string{"a@x.test", "b@x.test", "a@x.test"} {
		if _, err := store.InsertEmail(ctx, e.st.Pool, store.Email{ID: domain.NewID("eml"), IdempotencyKey: "k" + string(rune('0'+i)),
			To: to, Locale: "en", Template: domain.TmplComplaintAck, Subject: "We received your complaint",
			Process: "complaint", ProcessID: "cmp_1"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.do("GET", "/api/v1/emails", "carol", nil).problem(http.StatusForbidden)
	e.do("GET", "/api/v1/emails", "alice", nil).problem(http.StatusForbidden)
	r := e.do("GET", "/api/v1/emails?to="+url.QueryEscape("a@x.test"), "dave", nil).want(http.StatusOK)
	ids, _ := r.items()
	if len(ids) != 2 {
		t.Fatalf("emails to a: %v", ids)
	}
	it := r.json()["items"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "to", "template", "subject", "status", "provider_message_id", "created_at", "sent_at"} {
		if _, ok := it[k]; !ok {
			t.Errorf("email item lacks %q", k)
		}
	}
	if it["status"] != "queued" || it["to"] != "a@x.test" {
		t.Fatalf("item %v", it)
	}
	ids, next := e.do("GET", "/api/v1/emails?process_id=cmp_1&limit=2", "admin", nil).want(http.StatusOK).items()
	if len(ids) != 2 || next == "" {
		t.Fatalf("page %v %q", ids, next)
	}
}

// An escalation without a task (an invoice's dunning ladder) is listed with its subject
// and a null task_id, and acknowledged like any other.
func TestEscalationWithoutTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, esc := range []store.NewEscalation{
		{ID: "esc_inv", WorkflowID: "order/ord_1", Process: "order", ProcessID: "ord_1", Subject: "invoice/INV-2026-0001",
			Step: "payment", Level: 1, Reason: "payment overdue", Targets: []string{"bob"}, RaisedAt: time.Now().Add(-time.Hour)},
		{ID: "esc_tsk", WorkflowID: "complaint/cmp_1", Process: "complaint", ProcessID: "cmp_1", TaskID: "tsk_1",
			Step: "respond", Level: 1, Reason: "response overdue", Targets: []string{"bob"}, RaisedAt: time.Now()},
	} {
		if _, _, err := store.EnsureEscalation(ctx, e.st.Pool, esc); err != nil {
			t.Fatal(err)
		}
	}
	items := e.do("GET", "/api/v1/escalations?status=open&target=me", "bob", nil).want(http.StatusOK).json()["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("bob's open escalations: %v", items)
	}
	inv, tsk := items[0].(map[string]any), items[1].(map[string]any)
	if inv["id"] != "esc_inv" || inv["subject"] != "invoice/INV-2026-0001" || inv["process"] != "order" || inv["level"] != float64(1) {
		t.Fatalf("invoice escalation: %v", inv)
	}
	if v, ok := inv["task_id"]; !ok || v != nil {
		t.Fatalf("invoice escalation's task_id: %v (present %v), want null", v, ok)
	}
	if tsk["subject"] != "task/tsk_1" || tsk["task_id"] != "tsk_1" {
		t.Fatalf("task escalation: %v", tsk)
	}
	if m := e.do("GET", "/api/v1/escalations/esc_inv", "bob", nil).want(http.StatusOK).json(); m["subject"] != "invoice/INV-2026-0001" || m["task_id"] != nil {
		t.Fatalf("get: %v", m)
	}

	e.do("POST", "/api/v1/escalations/esc_inv/acknowledge", "dave", nil).problem(http.StatusForbidden) // not a target
	m := e.do("POST", "/api/v1/escalations/esc_inv/acknowledge", "bob", map[string]any{"comment": "Calling them."}).want(http.StatusOK).json()
	if m["acknowledged_by"] != "bob" || m["ack_comment"] != "Calling them." || m["subject"] != "invoice/INV-2026-0001" || m["task_id"] != nil {
		t.Fatalf("ack: %v", m)
	}
	e.do("POST", "/api/v1/escalations/esc_inv/acknowledge", "bob", nil).problem(http.StatusConflict)
	if ev := e.auditEvents("ord_1"); !slices.Equal(ev, []string{"escalation_acknowledged"}) {
		t.Fatalf("audit: %v", ev)
	}
	ids, _ := e.do("GET", "/api/v1/escalations?status=open", "bob", nil).want(http.StatusOK).items()
	if !slices.Equal(ids, []string{"esc_tsk"}) {
		t.Fatalf("still open: %v", ids)
	}
}

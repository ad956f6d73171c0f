package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/store"
)

// insertEscalation records an escalation as the activities do; taskID "" makes it one
// about subject.
func (e *env) insertEscalation(id, taskID, subject string, level int, raised time.Time, targets ...string) {
	e.t.Helper()
	_, _, err := store.EnsureEscalation(context.Background(), e.st.Pool, store.NewEscalation{
		ID: id, WorkflowID: "complaint/cmp_" + id, Process: "complaint", ProcessID: "cmp_" + id, Subject: subject,
		TaskID: taskID, Step: "evaluate", Level: level, Reason: "overdue", Targets: targets, RaisedAt: raised})
	if err != nil {
		e.t.Fatal(err)
	}
}

func escRow(body, id string) string {
	return regexp.MustCompile(`(?s)<tr id="esc-` + regexp.QuoteMeta(id) + `">.*?</tr>`).FindString(body)
}

func TestBoard(t *testing.T) {
	e := newEnv(t, Config{})
	now := e.clock.now()
	e.insertTask(taskRow{id: "t1", created: now.Add(-5 * time.Hour), due: now.Add(-time.Hour), level: 1})
	e.insertEscalation("esc_l1", "t1", "", 1, now.Add(-2*time.Hour), "dave")
	e.insertEscalation("esc_l2", "", "invoice/INV-7", 2, now.Add(-30*time.Minute), "dave", "gm")
	e.insertEscalation("esc_acked", "", "invoice/INV-8", 1, now.Add(-3*time.Hour), "dave")
	if _, err := e.st.AcknowledgeEscalation(context.Background(), "esc_acked", "dave", "seen it", now); err != nil {
		t.Fatal(err)
	}
	dave, carol := e.session("dave"), e.session("carol")

	w := e.req(http.MethodGet, "/escalations", dave, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("board: %d %s", w.Code, body)
	}
	if i, j := strings.Index(body, `id="level-2"`), strings.Index(body, `id="level-1"`); i < 0 || j < 0 || i > j {
		t.Errorf("levels not highest first: level-2 at %d, level-1 at %d", i, j)
	}
	for id, want := range map[string][]string{
		"esc_l1": {`href="/tasks/t1"`, "Title of t1", "Complaint", "cmp_esc_l1", "2h ago", "dave", `href="/escalations/esc_l1"`},
		"esc_l2": {"invoice/INV-7", "cmp_esc_l2", "30m ago", "dave, gm"},
	} {
		r := escRow(body, id)
		for _, s := range want {
			if !strings.Contains(r, s) {
				t.Errorf("board row %s lacks %q: %s", id, s, r)
			}
		}
	}
	if strings.Contains(escRow(body, "esc_l2"), "/tasks/") {
		t.Errorf("an escalation without a task links a task")
	}
	if escRow(body, "esc_acked") != "" || !strings.Contains(body, `id="nav-board"`) {
		t.Errorf("open tab shows an acknowledged one, or the nav lacks the board")
	}
	body = e.req(http.MethodGet, "/escalations?tab=acknowledged", dave, nil).Body.String()
	if r := escRow(body, "esc_acked"); !strings.Contains(r, "seen it") || !strings.Contains(r, "by dave") || escRow(body, "esc_l1") != "" {
		t.Errorf("acknowledged tab: %s", body)
	}

	// Not a manager: refused as the API refuses, and no link in the nav.
	for _, path := range []string{"/escalations", "/escalations/esc_l1"} {
		if w := e.req(http.MethodGet, path, carol, nil); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "esc_l1") {
			t.Errorf("carol GET %s: %d", path, w.Code)
		}
	}
	if strings.Contains(e.req(http.MethodGet, "/", carol, nil).Body.String(), `id="nav-board"`) {
		t.Errorf("carol's nav links the board")
	}
	if w := e.req(http.MethodPost, "/escalations/esc_l1/acknowledge", carol, url.Values{"comment": {"x"}}); w.Code != http.StatusForbidden {
		t.Errorf("carol acknowledges: %d", w.Code)
	}
	if w := e.req(http.MethodGet, "/escalations/nope", dave, nil); w.Code != http.StatusNotFound {
		t.Errorf("unknown escalation: %d", w.Code)
	}

	// The escalation's page has the form; acknowledging goes back to the board with a flash.
	body = e.req(http.MethodGet, "/escalations/esc_l2", dave, nil).Body.String()
	if !strings.Contains(body, `action="/escalations/esc_l2/acknowledge"`) || !strings.Contains(body, "invoice/INV-7") {
		t.Fatalf("escalation page: %s", body)
	}
	// A cross-origin post is refused and changes nothing.
	w = e.req(http.MethodPost, "/escalations/esc_l2/acknowledge", dave, url.Values{"comment": {"evil"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.test")
	if w.Code != http.StatusForbidden {
		t.Errorf("cross-origin acknowledge: %d", w.Code)
	}
	if got, _ := e.st.EscalationByID(context.Background(), "esc_l2"); got.AcknowledgedAt != nil {
		t.Fatalf("a cross-origin post acknowledged it")
	}
	w = e.req(http.MethodPost, "/escalations/esc_l2/acknowledge", dave, url.Values{"comment": {"calling the customer"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/escalations" {
		t.Fatalf("acknowledge: %d %s", w.Code, w.Header().Get("Location"))
	}
	got, err := e.st.EscalationByID(context.Background(), "esc_l2")
	if err != nil || got.AcknowledgedBy != "dave" || got.AckComment != "calling the customer" {
		t.Fatalf("stored: %+v %v", got, err)
	}
	body = e.reqWith(http.MethodGet, "/escalations", dave, w.Result().Cookies()).Body.String()
	if !strings.Contains(body, "You acknowledged the escalation on cmp_esc_l2.") || escRow(body, "esc_l2") != "" {
		t.Errorf("board after acknowledging: %s", body)
	}
	// Again: 409 with who did it, and the stored comment stays.
	w = e.req(http.MethodPost, "/escalations/esc_l2/acknowledge", dave, url.Values{"comment": {"twice"}})
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "already acknowledged by dave") {
		t.Errorf("second acknowledge: %d %s", w.Code, w.Body.String())
	}
	if got, _ := e.st.EscalationByID(context.Background(), "esc_l2"); got.AckComment != "calling the customer" {
		t.Errorf("second acknowledge changed the comment: %q", got.AckComment)
	}
}

package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestReassignFromTheTaskPage: dave, who manages complaints, sees a reassign form on a
// task carol holds, offering the other people of its group, and gives it to cathy.
// carol sees no such form, and a reassignment she forges changes nothing.
func TestReassignFromTheTaskPage(t *testing.T) {
	e := newEnv(t, Config{})
	now := e.clock.now()
	e.insertTask(taskRow{id: "t1", assignee: "carol", created: now, due: now.Add(time.Hour)})
	dave, carol := e.session("dave"), e.session("carol")

	page := e.req(http.MethodGet, "/tasks/t1", dave, nil).Body.String()
	form := page[strings.Index(page, `id="reassign-form"`):]
	form = form[:strings.Index(form, "</form>")]
	if !strings.Contains(form, `<option value="cathy">`) || strings.Contains(form, `value="carol"`) || strings.Contains(form, `value="alice"`) {
		t.Fatalf("dave's reassign form offers: %s", form)
	}
	if strings.Contains(e.req(http.MethodGet, "/tasks/t1", carol, nil).Body.String(), `id="reassign-form"`) {
		t.Error("carol, not a manager, has a reassign form")
	}

	w := e.req(http.MethodPost, "/tasks/t1/assign", carol, url.Values{"assignee": {"cathy"}})
	if w.Code != http.StatusSeeOther || e.assignee("t1") != "carol" {
		t.Fatalf("carol's forged reassignment: %d, assignee %q", w.Code, e.assignee("t1"))
	}
	w = e.req(http.MethodPost, "/tasks/t1/assign", dave, url.Values{"assignee": {"alice"}})
	if e.assignee("t1") != "carol" {
		t.Fatalf("a reassignment to alice, not of the group, went through")
	}
	if body := e.reqWith(http.MethodGet, "/tasks/t1", dave, w.Result().Cookies()).Body.String(); !strings.Contains(body, "alice may not work on this task.") {
		t.Errorf("the refused reassignment's notice is missing: %s", body)
	}

	w = e.req(http.MethodPost, "/tasks/t1/assign", dave, url.Values{"assignee": {"cathy"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/tasks/t1" || e.assignee("t1") != "cathy" {
		t.Fatalf("dave's reassignment: %d to %q, assignee %q", w.Code, w.Header().Get("Location"), e.assignee("t1"))
	}
	if body := e.reqWith(http.MethodGet, "/tasks/t1", dave, w.Result().Cookies()).Body.String(); !strings.Contains(body, "The task is now cathy&#39;s.") {
		t.Errorf("the reassignment's notice is missing: %s", body)
	}
}

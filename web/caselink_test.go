package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/domain"
)

// TestCaseLinkOnlyForThoseWhoSeeTheCase: finance acts on a complaint's countersign task
// without seeing the complaint: neither the inbox row nor the task page links the case
// or shows its timeline. carol, who sees complaints, gets both.
func TestCaseLinkOnlyForThoseWhoSeeTheCase(t *testing.T) {
	e := newEnv(t, Config{})
	now := e.clock.now()
	e.addUser("erin", "", domain.RoleFinance)
	e.addCustomer("cus_acme", "Acme", "alice")
	e.addComplaint("cmp_fin1", "cus_acme", "Refund for the broken pump", domain.ComplaintAwaitingApproval, now, now.Add(time.Hour))
	e.audit(domain.ProcessComplaint, "cmp_fin1", "carol", "resolution_proposed", now, map[string]any{"summary": "Refund the call-out"})
	e.insertTask(taskRow{id: "fin1", groups: []string{string(domain.RoleFinance)}, created: now, due: now.Add(time.Hour)})
	e.insertTask(taskRow{id: "cs1", groups: []string{string(domain.RoleCustomerService)}, created: now, due: now.Add(time.Hour)})
	e.addComplaint("cmp_cs1", "cus_acme", "Seal leaks", domain.ComplaintEvaluating, now, now.Add(time.Hour))
	e.audit(domain.ProcessComplaint, "cmp_cs1", "carol", "received", now, nil)
	erin, carol := e.session("erin"), e.session("carol")

	inbox := e.req(http.MethodGet, "/?tab=group", erin, nil).Body.String()
	if !strings.Contains(inbox, `id="task-fin1"`) {
		t.Fatalf("erin's group inbox lacks the countersign task: %s", inbox)
	}
	if strings.Contains(inbox, "/complaints/cmp_fin1") {
		t.Error("erin's inbox links a complaint she may not open")
	}
	if w := e.req(http.MethodGet, "/complaints/cmp_fin1", erin, nil); w.Code != http.StatusNotFound {
		t.Fatalf("erin opens the complaint: %d (the test's premise is that she may not)", w.Code)
	}
	page := e.req(http.MethodGet, "/tasks/fin1", erin, nil).Body.String()
	if strings.Contains(page, `id="task-case"`) || strings.Contains(page, `id="task-timeline"`) || strings.Contains(page, "Refund the call-out") {
		t.Errorf("erin's task page links the case or shows its timeline: %s", page)
	}

	if inbox := e.req(http.MethodGet, "/?tab=group", carol, nil).Body.String(); !strings.Contains(inbox, `href="/complaints/cmp_cs1"`) {
		t.Errorf("carol's inbox does not link the complaint: %s", inbox)
	}
	page = e.req(http.MethodGet, "/tasks/cs1", carol, nil).Body.String()
	if !strings.Contains(page, `id="task-case"`) || !strings.Contains(page, `id="task-timeline"`) || !strings.Contains(page, "Complaint received") {
		t.Errorf("carol's task page lacks the case link or its timeline: %s", page)
	}
}

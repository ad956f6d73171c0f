package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// matrixUsers names one demo user per role, in the order of domain.AllRoles.
var matrixUsers = map[domain.Role]string{
	domain.RoleSalesRep: "alice", domain.RoleSalesManager: "bob", domain.RoleCustomerService: "carol",
	domain.RoleServiceManager: "dave", domain.RoleFinance: "erin", domain.RoleQuality: "frank",
	domain.RoleProduction: "grace", domain.RolePurchasing: "heidi", domain.RoleOpsHead: "ivan",
	domain.RoleDeputyGM: "ken", domain.RoleGeneralManager: "judy", domain.RoleLogistics: "leo", domain.RoleAdmin: "admin",
}

// TestAuthorizationMatrix sends every /api/v1 route as one user of each role and checks
// the outcome: allowed (2xx), 403 (the role may not do this) or 404 (the object is not
// visible to the role). The fixture is a complaint of cus_acme, a customer owned by alice
// (the sales rep): complaints are visible to customer service, the service manager, the
// general manager, admin and the owning rep; a customer-service task to its group and
// the managers overseeing complaints; escalations and e-mails to the manager roles. An
// order alice entered, and one of aaron's (who is also bob's report).
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, u := range []store.UserInput{
		{Username: "grace", Roles: []string{string(domain.RoleProduction)}},
		{Username: "heidi", Roles: []string{string(domain.RolePurchasing)}},
		{Username: "ivan", Roles: []string{string(domain.RoleOpsHead)}, Manager: "judy"},
		{Username: "ken", Roles: []string{string(domain.RoleDeputyGM)}, Manager: "judy"},
		{Username: "leo", Roles: []string{string(domain.RoleLogistics)}},
	} {
		u.Email, u.DisplayName = u.Username+"@example.test", u.Username
		if err := e.st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok, err := e.st.CreateToken(ctx, u.Username, "test")
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.Username] = tok
	}
	for _, r := range domain.AllRoles {
		if matrixUsers[r] == "" {
			t.Fatalf("no matrix user for role %s", r)
		}
	}

	cmp := e.fileComplaint("carol", "cus_acme")
	cs := []string{string(domain.RoleCustomerService)}
	e.insertTask(taskRow{id: "tsk_view", processID: cmp, groups: cs})
	e.insertEscalation("esc_view", cmp, "tsk_view", "dave")
	e.insertContract("ctr_view", "alice", domain.ClassSpecial, domain.ContractInReview)
	revision := map[string]any{"changes": map[string]any{"title": "x"}}
	amendment := map[string]any{"changes": map[string]any{"title": "x"}, "reason": "r"}
	n := 0
	fresh := func(prefix string) string { n++; return fmt.Sprintf("%s_%d", prefix, n) }
	// Paths: a fixed one, or a fresh object per request for the calls that change it.
	fixed := func(p string) func() string { return func() string { return p } }
	openTask := func(suffix string) func() string {
		return func() string {
			id := fresh("tsk")
			e.insertTask(taskRow{id: id, processID: cmp, groups: cs})
			return "/api/v1/tasks/" + id + suffix
		}
	}
	carolsTask := func() string {
		id := fresh("tsk")
		e.insertTask(taskRow{id: id, processID: cmp, groups: cs, assignee: "carol"})
		return "/api/v1/tasks/" + id + "/unclaim"
	}
	davesEscalation := func() string {
		id := fresh("esc")
		e.insertEscalation(id, cmp, "tsk_for_"+id, "dave")
		return "/api/v1/escalations/" + id + "/acknowledge"
	}
	// An order alice entered for her customer; one invoiced, for the payments. The fake
	// workflow answers the order Updates as the workflow would.
	ord := e.enterOrder("alice", orderBody())
	e.insertOrder("ord_invoiced", "alice", "cus_acme", domain.OrderInvoiced)
	e.insertOrder("ord_aaron", "aaron", "cus_globex", domain.OrderInReview)
	e.fakeOrderWorkflow()
	e.insertProgramme("svp_view", domain.AudienceTierA)
	if _, err := e.st.Pool.Exec(ctx, `INSERT INTO survey_cycles (id, workflow_id, programme_id, audience, status, started_at)
		VALUES ('svc_view', 'survey/svc_view', 'svp_view', 'tier_a', 'open', now())`); err != nil {
		t.Fatal(err)
	}
	programme := map[string]any{"name": "Tier A", "audience": "tier_a", "cadence": "monthly"}
	// A draft plan bob (the sales manager) made; the fake workflow answers its Updates.
	e.insertVisitPlan("vpl_view", "bob", domain.PlanDraft)
	e.fakeVisitPlanWorkflow()
	customer := map[string]any{"name": "Initech", "email": "it@initech.test", "tier": "B", "owner": "alice"}
	complete := map[string]any{"action": "accept", "data": map[string]any{"category": "product"}}

	rows := []struct {
		route string // the route as registered
		path  func() string
		body  any
		codes string // one per role, in the order of domain.AllRoles (the columns below)
	}{
		//                                                                                                   sr  sm  cs  svm fin qa  prd pur ops dgm gm  log adm
		{"GET /api/v1/me", fixed("/api/v1/me"), nil, "200 200 200 200 200 200 200 200 200 200 200 200 200"},
		{"PATCH /api/v1/me", fixed("/api/v1/me"), map[string]any{"locale": "en"}, "200 200 200 200 200 200 200 200 200 200 200 200 200"},
		{"POST /api/v1/customers", fixed("/api/v1/customers"), customer, "201 201 403 403 403 403 403 403 403 403 403 403 201"},
		{"GET /api/v1/customers", fixed("/api/v1/customers"), nil, "200 200 200 200 403 403 403 403 200 200 200 403 200"},
		{"GET /api/v1/customers/:id", fixed("/api/v1/customers/cus_acme"), nil, "200 200 200 200 404 404 404 404 200 200 200 404 200"},
		{"POST /api/v1/complaints", fixed("/api/v1/complaints"), complaintBody(), "201 403 201 201 403 403 403 403 403 403 201 403 201"},
		{"GET /api/v1/complaints", fixed("/api/v1/complaints"), nil, "200 403 200 200 403 403 403 403 403 403 200 403 200"},
		{"GET /api/v1/complaints/:id", fixed("/api/v1/complaints/" + cmp), nil, "200 404 200 200 404 404 404 404 404 404 200 404 200"},
		{"POST /api/v1/contracts", fixed("/api/v1/contracts"), contractBody(), "201 403 403 403 403 403 403 403 403 403 403 403 403"},
		{"GET /api/v1/contracts", fixed("/api/v1/contracts"), nil, "200 200 403 403 403 403 403 403 200 200 200 403 200"},
		{"GET /api/v1/contracts/:id", fixed("/api/v1/contracts/ctr_view"), nil, "200 200 404 404 200 200 200 200 200 200 200 404 200"},
		{"POST /api/v1/contracts/:id/revisions", fixed("/api/v1/contracts/ctr_view/revisions"), revision, "200 403 404 404 403 403 403 403 403 403 403 404 403"},
		{"POST /api/v1/contracts/:id/withdraw", fixed("/api/v1/contracts/ctr_view/withdraw"), nil, "200 403 404 404 403 403 403 403 403 403 403 404 403"},
		{"POST /api/v1/contracts/:id/amendments", fixed("/api/v1/contracts/ctr_view/amendments"), amendment, "200 200 404 404 403 403 403 403 403 403 403 404 403"},
		{"GET /api/v1/tasks", fixed("/api/v1/tasks"), nil, "200 200 200 200 200 200 200 200 200 200 200 200 200"},
		{"GET /api/v1/tasks", fixed("/api/v1/tasks?scope=all"), nil, "403 200 403 200 403 403 403 403 200 200 200 403 200"},
		{"GET /api/v1/tasks/:id", fixed("/api/v1/tasks/tsk_view"), nil, "404 404 200 200 404 404 404 404 404 404 200 404 200"},
		{"POST /api/v1/tasks/:id/claim", openTask("/claim"), nil, "404 404 200 403 404 404 404 404 404 404 403 404 403"},
		{"POST /api/v1/tasks/:id/unclaim", carolsTask, nil, "404 404 200 403 404 404 404 404 404 404 403 404 403"},
		{"POST /api/v1/tasks/:id/assign", openTask("/assign"), map[string]any{"assignee": "carol"}, "404 404 403 200 404 404 404 404 404 404 200 404 200"},
		{"POST /api/v1/tasks/:id/complete", openTask("/complete"), complete, "404 404 200 403 404 404 404 404 404 404 403 404 403"},
		{"POST /api/v1/tasks/:id/comments", openTask("/comments"), map[string]any{"text": "hi"}, "404 404 201 201 404 404 404 404 404 404 201 404 201"},
		{"GET /api/v1/escalations", fixed("/api/v1/escalations"), nil, "403 200 403 200 403 403 403 403 200 200 200 403 200"},
		{"GET /api/v1/escalations/:id", fixed("/api/v1/escalations/esc_view"), nil, "403 200 403 200 403 403 403 403 200 200 200 403 200"},
		{"POST /api/v1/escalations/:id/acknowledge", davesEscalation, map[string]any{}, "403 403 403 200 403 403 403 403 403 403 200 403 200"},
		{"GET /api/v1/emails", fixed("/api/v1/emails"), nil, "403 200 403 200 403 403 403 403 200 200 200 403 200"},
		// Orders: a sales rep enters them for their own customers; the viewers list every
		// order, a rep their own; the rep, the viewers and the departments every order
		// passes through open one; the rep and their manager (bob) cancel it, the rep alone
		// posts progress; finance records payments. Invoices: finance and the managers.
		//                                                                                                   sr  sm  cs  svm fin qa  prd pur ops dgm gm  log adm
		{"POST /api/v1/orders", fixed("/api/v1/orders"), orderBody(), "201 403 403 403 403 403 403 403 403 403 403 403 403"},
		{"GET /api/v1/orders", fixed("/api/v1/orders"), nil, "200 200 403 403 200 403 403 403 200 200 200 403 200"},
		{"GET /api/v1/orders/:id", fixed("/api/v1/orders/" + ord), nil, "200 200 404 404 200 200 200 404 200 200 200 200 200"},
		{"POST /api/v1/orders/:id/cancel", fixed("/api/v1/orders/" + ord + "/cancel"), map[string]any{"reason": "r"}, "200 200 404 404 403 403 403 404 403 403 403 403 403"},
		{"POST /api/v1/orders/:id/progress", fixed("/api/v1/orders/" + ord + "/progress"), map[string]any{"note": "n"}, "200 403 404 404 403 403 403 404 403 403 403 403 403"},
		{"POST /api/v1/orders/:id/payments", fixed("/api/v1/orders/ord_invoiced/payments"),
			map[string]any{"amount": map[string]any{"amount": "1.00", "currency": "CNY"}, "received_on": "2026-12-01", "reference": "r"},
			"403 403 404 404 200 403 403 404 403 403 403 403 403"},
		{"POST /api/v1/orders/:id/prepayments", fixed("/api/v1/orders/" + ord + "/prepayments"),
			map[string]any{"amount": map[string]any{"amount": "1.00", "currency": "CNY"}, "reference": "r"},
			"403 403 404 404 200 403 403 404 403 403 403 403 403"},
		{"GET /api/v1/invoices", fixed("/api/v1/invoices"), nil, "403 200 403 200 200 403 403 403 200 200 200 403 200"},
		// Another rep's order is not alice's to see, nor to act on.
		{"GET /api/v1/orders/:id", fixed("/api/v1/orders/ord_aaron"), nil, "404 200 404 404 200 200 200 404 200 200 200 200 200"},
		{"POST /api/v1/orders/:id/cancel", fixed("/api/v1/orders/ord_aaron/cancel"), map[string]any{"reason": "r"}, "404 200 404 404 403 403 403 404 403 403 403 403 403"},
		// Surveys: the viewers (customer service, quality, the managers but ops) see the
		// programmes and cycles; an admin alone creates, pauses, resumes and runs them.
		//                                                                                                   sr  sm  cs  svm fin qa  prd pur ops dgm gm  log adm
		{"POST /api/v1/survey-programmes", fixed("/api/v1/survey-programmes"), programme, "403 403 403 403 403 403 403 403 403 403 403 403 201"},
		{"GET /api/v1/survey-programmes", fixed("/api/v1/survey-programmes"), nil, "403 200 200 200 403 200 403 403 403 200 200 403 200"},
		{"POST /api/v1/survey-programmes/:id/pause", fixed("/api/v1/survey-programmes/svp_view/pause"), nil, "404 403 403 403 404 403 404 404 404 403 403 404 200"},
		{"POST /api/v1/survey-programmes/:id/resume", fixed("/api/v1/survey-programmes/svp_view/resume"), nil, "404 403 403 403 404 403 404 404 404 403 403 404 200"},
		{"POST /api/v1/survey-programmes/:id/run", fixed("/api/v1/survey-programmes/svp_view/run"), nil, "404 403 403 403 404 403 404 404 404 403 403 404 201"},
		{"GET /api/v1/survey-cycles", fixed("/api/v1/survey-cycles"), nil, "403 200 200 200 403 200 403 403 403 200 200 403 200"},
		{"GET /api/v1/survey-cycles/:id", fixed("/api/v1/survey-cycles/svc_view"), nil, "404 200 200 200 404 200 404 404 404 200 200 404 200"},
		// Visit plans: a sales manager makes them; their viewers (sales manager, deputy GM,
		// general manager, admin) list and read every plan; its maker alone edits and
		// submits it; a sales rep reads none (their visits come as tasks).
		//                                                                                                   sr  sm  cs  svm fin qa  prd pur ops dgm gm  log adm
		{"POST /api/v1/visit-plans", fixed("/api/v1/visit-plans"), visitPlanBody(), "403 201 403 403 403 403 403 403 403 403 403 403 403"},
		{"GET /api/v1/visit-plans", fixed("/api/v1/visit-plans"), nil, "403 200 403 403 403 403 403 403 403 200 200 403 200"},
		{"GET /api/v1/visit-plans/:id", fixed("/api/v1/visit-plans/vpl_view"), nil, "404 200 404 404 404 404 404 404 404 200 200 404 200"},
		{"PUT /api/v1/visit-plans/:id", fixed("/api/v1/visit-plans/vpl_view"), visitPlanBody(), "404 200 404 404 404 404 404 404 404 403 403 404 403"},
		{"POST /api/v1/visit-plans/:id/submit", fixed("/api/v1/visit-plans/vpl_view/submit"), nil, "404 200 404 404 404 404 404 404 404 403 403 404 403"},
	}

	covered := map[string]bool{}
	for _, row := range rows {
		covered[row.route] = true
		method, _, _ := strings.Cut(row.route, " ")
		codes := strings.Fields(row.codes)
		if len(codes) != len(domain.AllRoles) {
			t.Fatalf("%s: %d codes for %d roles", row.route, len(codes), len(domain.AllRoles))
		}
		for i, role := range domain.AllRoles {
			want, _ := strconv.Atoi(codes[i])
			path := row.path()
			r := e.do(method, path, matrixUsers[role], row.body)
			switch {
			case r.Code != want:
				t.Errorf("%s %s as %s (%s): %d, want %d: %s", method, path, matrixUsers[role], role, r.Code, want, r.Body.String())
			case want >= 400:
				checkProblem(t, r, want)
			}
		}
	}
	for _, r := range e.apiRoutes() {
		if !covered[r.Method+" "+r.Path] {
			t.Errorf("%s %s is not in the authorisation matrix", r.Method, r.Path)
		}
	}

	// Nobody lists what they may not open: every listed item opens for the same user.
	lists := map[string]string{
		"/api/v1/customers?limit=200": "/api/v1/customers/", "/api/v1/complaints?limit=200": "/api/v1/complaints/",
		"/api/v1/tasks?scope=mine&limit=200": "/api/v1/tasks/", "/api/v1/tasks?scope=group&limit=200": "/api/v1/tasks/",
		"/api/v1/tasks?scope=all&limit=200": "/api/v1/tasks/", "/api/v1/escalations?limit=200": "/api/v1/escalations/",
		"/api/v1/contracts?limit=200": "/api/v1/contracts/", "/api/v1/orders?limit=200": "/api/v1/orders/",
		"/api/v1/survey-cycles?limit=200": "/api/v1/survey-cycles/",
		"/api/v1/visit-plans?limit=200":   "/api/v1/visit-plans/",
	}
	for _, role := range domain.AllRoles {
		user := matrixUsers[role]
		for list, detail := range lists {
			r := e.do("GET", list, user, nil)
			if r.Code != http.StatusOK {
				continue
			}
			ids, _ := r.items()
			for _, id := range ids {
				if d := e.do("GET", detail+id, user, nil); d.Code != http.StatusOK {
					t.Errorf("%s lists %s in %s but opening it answers %d", user, id, list, d.Code)
				}
			}
		}
	}
}

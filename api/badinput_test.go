package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// in returns e reporting to t (a subtest).
func (e *env) in(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// fileComplaint files a complaint through the API and returns its id.
func (e *env) fileComplaint(user, customer string) string {
	e.t.Helper()
	b := complaintBody()
	b["customer_id"] = customer
	return e.do("POST", "/api/v1/complaints", user, b).want(http.StatusCreated).json()["id"].(string)
}

// insertEscalation adds an open escalation of a complaint task.
func (e *env) insertEscalation(id, processID, taskID string, targets ...string) {
	e.t.Helper()
	if _, err := e.st.Pool.Exec(context.Background(), `INSERT INTO escalations
		(id, workflow_id, process, process_id, subject, task_id, step, level, reason, targets, raised_at)
		VALUES ($1, 'complaint/' || $2, 'complaint', $2, 'task/' || $3, $3, 'evaluate', 1, 'response overdue', $4, now())`,
		id, processID, taskID, targets); err != nil {
		e.t.Fatal(err)
	}
}

// revokedToken returns a token of user that has been revoked.
func (e *env) revokedToken(user string) string {
	e.t.Helper()
	ctx := context.Background()
	tok, err := e.st.CreateToken(ctx, user, "revoked")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.RevokeToken(ctx, tok); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// apiRoutes lists the method and path of every route under /api/v1.
func (e *env) apiRoutes() []gin.RouteInfo {
	var out []gin.RouteInfo
	for _, r := range e.srv.engine.Routes() {
		if strings.HasPrefix(r.Path, "/api/v1/") {
			out = append(out, r)
		}
	}
	return out
}

// checkProblem fails unless r is a problem+json of status code with type, title, status
// and detail and, for a 422, errors naming non-empty fields; it returns the fields.
func checkProblem(t *testing.T, r resp, code int) []string {
	t.Helper()
	p := r.problem(code)
	if p.Detail == "" {
		t.Errorf("problem without detail: %s", r.Body.String())
	}
	fields := fieldNames(p)
	if code == http.StatusUnprocessableEntity && len(fields) == 0 {
		t.Errorf("422 without errors: %s", r.Body.String())
	}
	for _, f := range fields {
		if f == "" {
			t.Errorf("an error without a field: %s", r.Body.String())
		}
	}
	return fields
}

// with returns a copy of m with the given keys set (a nil value removes the key).
func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// TestBadInput sends malformed, mistyped, unknown, missing, out-of-range, over-long and
// oversized input, foreign ids, bad tokens and wrong roles to every endpoint and checks
// the status of API.md and the problem+json body (for a 422, every bad field by name).
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cmp := e.fileComplaint("carol", "cus_acme")
	globexCmp := e.fileComplaint("aaron", "cus_globex")
	e.insertTask(taskRow{id: "tsk_open", processID: cmp, groups: []string{"customer_service"}})
	e.insertTask(taskRow{id: "tsk_carol", processID: cmp, assignee: "carol", groups: []string{"customer_service"}})
	e.insertTask(taskRow{id: "tsk_cathy", processID: cmp, assignee: "cathy", groups: []string{"customer_service"}})
	e.insertTask(taskRow{id: "tsk_finance", processID: cmp, groups: []string{"finance"}})
	e.insertEscalation("esc_1", cmp, "tsk_open", "dave")
	e.insertContract("ctr_1", "alice", domain.ClassSpecial, domain.ContractChangesRequested)
	insertLink(t, e, "complaint/"+cmp+"/feedback/1", "tok_bad", "en", time.Now().Add(time.Hour), "")
	// Orders: alice's in review, invoiced (300.00 CNY open) and shipped, and aaron's; an
	// approved contract of 1000.00 for alice's customer, one for aaron's, one in review.
	// The fake workflow answers the order Updates as the order workflow validates them.
	e.insertOrder("ord_review", "alice", "cus_acme", domain.OrderInReview)
	e.insertOrder("ord_invoiced", "alice", "cus_acme", domain.OrderInvoiced)
	e.insertOrder("ord_shipped", "alice", "cus_acme", domain.OrderShipped)
	e.insertOrder("ord_aaron", "aaron", "cus_globex", domain.OrderInReview)
	e.insertOrderContract("ctr_acme", "cus_acme", "1000.00")
	e.insertOrderContract("ctr_globex", "cus_globex", "1000.00")
	e.fakeOrderWorkflow()
	e.insertProgramme("svp_1", domain.AudienceAllActive)
	insertSurveyLink(t, e, "svc_bad", "cus_acme", "tok_survey", time.Now().Add(time.Hour))

	// Each POST with a JSON body: who may send it where, and a valid body.
	type post struct{ path, user, valid string }
	posts := map[string]post{
		"/api/v1/customers":                   {"/api/v1/customers", "admin", `{"name":"Initech","email":"it@initech.test","tier":"B","owner":"alice"}`},
		"/api/v1/complaints":                  {"/api/v1/complaints", "carol", `{"customer_id":"cus_acme","channel":"web","subject":"s","description":"d"}`},
		"/api/v1/tasks/:id/complete":          {"/api/v1/tasks/tsk_open/complete", "carol", `{"action":"accept","data":{"category":"product"}}`},
		"/api/v1/tasks/:id/comments":          {"/api/v1/tasks/tsk_open/comments", "carol", `{"text":"hello"}`},
		"/api/v1/tasks/:id/assign":            {"/api/v1/tasks/tsk_open/assign", "dave", `{"assignee":"cathy"}`},
		"/api/v1/escalations/:id/acknowledge": {"/api/v1/escalations/esc_1/acknowledge", "dave", `{"comment":"on it"}`},
		"/c/:token":                           {"/c/tok_bad", "", `{"score":5}`},
		"/c/feedback/:token":                  {"/c/feedback/tok_bad", "", `{"score":5}`},
		"/api/v1/contracts": {"/api/v1/contracts", "alice",
			`{"customer_id":"cus_acme","title":"t","amount":{"amount":"1000.00","currency":"CNY"},"delivery_date":"2026-12-01","payment_terms":"net 30"}`},
		"/api/v1/contracts/:id/revisions":  {"/api/v1/contracts/ctr_1/revisions", "alice", `{"changes":{"title":"t2"},"comment":"c"}`},
		"/api/v1/contracts/:id/withdraw":   {"/api/v1/contracts/ctr_1/withdraw", "alice", `{"reason":"r"}`},
		"/api/v1/contracts/:id/amendments": {"/api/v1/contracts/ctr_1/amendments", "alice", `{"changes":{"title":"t2"},"reason":"r"}`},
		"/api/v1/orders": {"/api/v1/orders", "alice",
			`{"customer_id":"cus_acme","lines":[{"sku":"P-1","description":"Pump","quantity":2,"unit_price":{"amount":"100.00","currency":"CNY"}}],` +
				`"requested_delivery_date":"2027-03-01","payment_terms":{"net_days":30},"delivery":{"method":"delivery","consignee":"Li","address":"1 Road"}}`},
		"/api/v1/orders/:id/cancel":   {"/api/v1/orders/ord_review/cancel", "alice", `{"reason":"no longer needed"}`},
		"/api/v1/orders/:id/progress": {"/api/v1/orders/ord_review/progress", "alice", `{"note":"on track"}`},
		"/api/v1/orders/:id/payments": {"/api/v1/orders/ord_invoiced/payments", "erin",
			`{"amount":{"amount":"100.00","currency":"CNY"},"received_on":"2026-12-01","reference":"BANK-1"}`},
		"/api/v1/orders/:id/prepayments": {"/api/v1/orders/ord_review/prepayments", "erin",
			`{"amount":{"amount":"100.00","currency":"CNY"},"reference":"BANK-2"}`},
		"/api/v1/survey-programmes": {"/api/v1/survey-programmes", "admin", `{"name":"Q","audience":"all_active","cadence":"quarterly"}`},
	}
	noBody := map[string]bool{"/api/v1/tasks/:id/claim": true, "/api/v1/tasks/:id/unclaim": true,
		"/api/v1/survey-programmes/:id/pause": true, "/api/v1/survey-programmes/:id/resume": true, "/api/v1/survey-programmes/:id/run": true}
	for _, r := range e.srv.engine.Routes() {
		ours := strings.HasPrefix(r.Path, "/api/") || strings.HasPrefix(r.Path, "/c/")
		if _, ok := posts[r.Path]; r.Method == "POST" && ours && !ok && !noBody[r.Path] {
			t.Errorf("POST %s has no bad-input cases", r.Path)
		}
	}
	big := `{"text":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	for route, p := range posts {
		t.Run("body "+route, func(t *testing.T) {
			e := e.in(t)
			var valid map[string]any
			if err := json.Unmarshal([]byte(p.valid), &valid); err != nil {
				t.Fatal(err)
			}
			for _, body := range []string{`{"a":`, `{"a":1}}`, `[1]`, `"x"`, `nul`, `{"a" 1}`, `{'a':1}`} {
				checkProblem(t, e.do("POST", p.path, p.user, body), http.StatusBadRequest)
			}
			checkProblem(t, e.do("POST", p.path, p.user, big), http.StatusRequestEntityTooLarge)
			if got := checkProblem(t, e.do("POST", p.path, p.user, with(valid, "zzz", 1)), http.StatusUnprocessableEntity); !slices.Equal(got, []string{"zzz"}) {
				t.Errorf("unknown field: %v", got)
			}
			for k := range valid {
				wrong := any([]int{1})
				if _, isArray := valid[k].([]any); isArray {
					wrong = map[string]any{"a": 1}
				}
				if got := checkProblem(t, e.do("POST", p.path, p.user, with(valid, k, wrong)), http.StatusUnprocessableEntity); !slices.Equal(got, []string{k}) {
					t.Errorf("%s of the wrong type: %v", k, got)
				}
			}
		})
	}

	long := func(n int) string { return strings.Repeat("é", n) }
	type row struct {
		name               string
		method, path, user string
		body               any
		code               int
		fields             []string // for a 422: every field named, in any order
	}
	cust := map[string]any{"name": "Initech", "email": "it@initech.test", "tier": "B", "owner": "alice"}
	comp := map[string]any{"customer_id": "cus_acme", "channel": "web", "subject": "s", "description": "d"}
	ord := orderBody()
	price := func(amount, currency string) map[string]any {
		return map[string]any{"amount": amount, "currency": currency}
	}
	line := func(kv ...any) map[string]any { return with(orderLine("P-1", 1, "100.00", "CNY"), kv...) }
	lines := func(ls ...any) []any { return ls }
	prog := map[string]any{"name": "Quarterly", "audience": "all_active", "cadence": "quarterly"}
	pay := map[string]any{"amount": price("100.00", "CNY"), "received_on": "2026-12-01", "reference": "BANK-1"}
	prepay := map[string]any{"amount": price("100.00", "CNY"), "reference": "BANK-2"}
	manyLines := make([]any, domain.MaxOrderLines+1)
	for i := range manyLines {
		manyLines[i] = line()
	}
	rows := []row{
		// customers
		{"customer: every bad field at once", "POST", "/api/v1/customers", "admin",
			`{"nickname":"x","name":42,"email":"nope","tier":"Z","locale":"fr","credit_limit":{"amount":5,"currency":"yuan"}}`,
			422, []string{"nickname", "name", "credit_limit.amount", "email", "locale", "tier", "owner"}},
		{"customer: missing fields", "POST", "/api/v1/customers", "admin", `{}`, 422, []string{"name", "email", "tier", "owner"}},
		{"customer: empty name, bad tier", "POST", "/api/v1/customers", "admin", with(cust, "name", "", "tier", "E"), 422, []string{"name", "tier"}},
		{"customer: null is missing", "POST", "/api/v1/customers", "admin", `{"name":null,"email":"it@initech.test","tier":"B","owner":"alice"}`, 422, []string{"name"}},
		{"customer: over-long name", "POST", "/api/v1/customers", "admin", with(cust, "name", long(201)), 422, []string{"name"}},
		{"customer: bad money", "POST", "/api/v1/customers", "admin", with(cust, "credit_limit", map[string]any{"amount": "1.5e3", "currency": "CNY"}), 422, []string{"credit_limit"}},
		{"customer: money as a number", "POST", "/api/v1/customers", "admin", with(cust, "credit_limit", 100), 422, []string{"credit_limit"}},
		{"customer: owner not a sales rep", "POST", "/api/v1/customers", "admin", with(cust, "owner", "carol", "tier", "Q"), 422, []string{"owner", "tier"}},
		{"customer: NUL character", "POST", "/api/v1/customers", "admin", with(cust, "name", "a\x00b"), 422, []string{"name"}},
		{"customer: duplicate field", "POST", "/api/v1/customers", "admin", `{"name":"a","name":"b","email":"it@initech.test","tier":"B","owner":"alice"}`, 422, []string{"name"}},
		{"customer: field names are case-sensitive", "POST", "/api/v1/customers", "admin", with(cust, "Name", "x"), 422, []string{"Name"}},
		{"customer: a rep for another owner", "POST", "/api/v1/customers", "alice", with(cust, "owner", "aaron"), 403, nil},
		{"customer: wrong role", "POST", "/api/v1/customers", "carol", cust, 403, nil},
		{"customer: another rep's", "GET", "/api/v1/customers/cus_globex", "alice", nil, 404, nil},
		{"customer: unknown id", "GET", "/api/v1/customers/cus_nope", "admin", nil, 404, nil},
		{"customer: NUL id", "GET", "/api/v1/customers/a%00b", "admin", nil, 404, nil},
		{"customer: invalid UTF-8 id", "GET", "/api/v1/customers/%ff%fe", "admin", nil, 404, nil},
		{"customers: bad tier", "GET", "/api/v1/customers?tier=Z", "admin", nil, 422, []string{"tier"}},
		{"customers: bad limit and cursor", "GET", "/api/v1/customers?limit=0&cursor=bad!", "admin", nil, 422, []string{"limit", "cursor"}},
		{"customers: limit not a number", "GET", "/api/v1/customers?limit=1e3", "admin", nil, 422, []string{"limit"}},
		{"customers: hostile owner filter", "GET", "/api/v1/customers?owner=%00%ff", "admin", nil, 422, []string{"owner"}},
		{"customers: wrong role", "GET", "/api/v1/customers", "erin", nil, 403, nil},

		// complaints
		{"complaint: every bad field at once", "POST", "/api/v1/complaints", "carol",
			`{"customer_id":"cus_nope","channel":"fax","subject":7,"severity":"high","extra":true}`,
			422, []string{"subject", "extra", "customer_id", "channel", "description", "severity"}},
		{"complaint: missing fields", "POST", "/api/v1/complaints", "carol", `{}`, 422, []string{"customer_id", "channel", "subject", "description"}},
		{"complaint: out-of-range enums", "POST", "/api/v1/complaints", "carol", with(comp, "channel", "fax", "severity", "high", "category", "weather"), 422, []string{"channel", "severity", "category"}},
		{"complaint: over-long strings", "POST", "/api/v1/complaints", "carol",
			with(comp, "subject", long(201), "description", long(10001), "order_id", long(101)), 422, []string{"subject", "description", "order_id"}},
		{"complaint: over-long customer id", "POST", "/api/v1/complaints", "carol", with(comp, "customer_id", long(101)), 422, []string{"customer_id"}},
		{"complaint: NUL characters", "POST", "/api/v1/complaints", "carol", with(comp, "customer_id", "cus\x00", "subject", "\x00"), 422, []string{"customer_id", "subject"}},
		{"complaint: another rep's customer", "POST", "/api/v1/complaints", "alice", with(comp, "customer_id", "cus_globex"), 422, []string{"customer_id"}},
		{"complaint: wrong role", "POST", "/api/v1/complaints", "frank", comp, 403, nil},
		{"complaint: another rep's", "GET", "/api/v1/complaints/" + globexCmp, "alice", nil, 404, nil},
		{"complaint: not visible to the role", "GET", "/api/v1/complaints/" + cmp, "erin", nil, 404, nil},
		{"complaint: unknown id", "GET", "/api/v1/complaints/cmp_nope", "carol", nil, 404, nil},
		{"complaint: NUL id", "GET", "/api/v1/complaints/%00", "carol", nil, 404, nil},
		{"complaint: invalid UTF-8 id", "GET", "/api/v1/complaints/%c3%28", "carol", nil, 404, nil},
		{"complaints: bad status", "GET", "/api/v1/complaints?status=open", "carol", nil, 422, []string{"status"}},
		{"complaints: hostile customer filter", "GET", "/api/v1/complaints?customer_id=%00", "carol", nil, 422, []string{"customer_id"}},
		{"complaints: wrong role", "GET", "/api/v1/complaints", "erin", nil, 403, nil},
		{"complaint: bad idempotency key", "POST", "/api/v1/complaints", "carol", comp, 422, []string{"Idempotency-Key"}},

		// tasks
		{"tasks: bad scope, status and limit", "GET", "/api/v1/tasks?scope=everyone&status=done&limit=x", "carol", nil, 422, []string{"scope", "status", "limit"}},
		{"tasks: bad limit", "GET", "/api/v1/tasks?limit=-1", "carol", nil, 422, []string{"limit"}},
		{"tasks: hostile process filter", "GET", "/api/v1/tasks?process=%00%ff&limit=0", "carol", nil, 422, []string{"process", "limit"}},
		{"tasks: all, wrong role", "GET", "/api/v1/tasks?scope=all", "carol", nil, 403, nil},
		{"task: another group's", "GET", "/api/v1/tasks/tsk_finance", "carol", nil, 404, nil},
		{"task: unknown id", "GET", "/api/v1/tasks/tsk_nope", "carol", nil, 404, nil},
		{"task: NUL id", "GET", "/api/v1/tasks/%00", "carol", nil, 404, nil},
		{"task: claim another group's", "POST", "/api/v1/tasks/tsk_finance/claim", "carol", nil, 404, nil},
		{"task: claim unknown", "POST", "/api/v1/tasks/tsk_nope/claim", "carol", nil, 404, nil},
		{"task: claim, not in the group", "POST", "/api/v1/tasks/tsk_open/claim", "dave", nil, 403, nil},
		{"task: claim one held by another", "POST", "/api/v1/tasks/tsk_cathy/claim", "carol", nil, 409, nil},
		{"task: unclaim unknown", "POST", "/api/v1/tasks/%ff/unclaim", "carol", nil, 404, nil},
		{"task: unclaim another's", "POST", "/api/v1/tasks/tsk_cathy/unclaim", "carol", nil, 403, nil},
		{"complete: every bad field at once", "POST", "/api/v1/tasks/tsk_open/complete", "carol",
			`{"action":"","comment":5,"data":[],"extra":{}}`, 422, []string{"comment", "data", "extra", "action"}},
		{"complete: missing action", "POST", "/api/v1/tasks/tsk_open/complete", "carol", `{}`, 422, []string{"action"}},
		{"complete: unknown action", "POST", "/api/v1/tasks/tsk_open/complete", "carol", `{"action":"approve"}`, 422, []string{"action"}},
		{"complete: over-long strings", "POST", "/api/v1/tasks/tsk_open/complete", "carol",
			map[string]any{"action": long(101), "comment": long(10001)}, 422, []string{"action", "comment"}},
		{"complete: NUL in data", "POST", "/api/v1/tasks/tsk_open/complete", "carol", `{"action":"accept","data":{"x\u0000":"y"}}`, 422, []string{"data"}},
		{"complete: NUL deep in data", "POST", "/api/v1/tasks/tsk_open/complete", "carol", `{"action":"accept","data":{"a":[{"b":"\u0000"}]}}`, 422, []string{"data"}},
		{"complete: an escaped backslash is no NUL", "POST", "/api/v1/tasks/tsk_open/complete", "carol", `{"action":"accept","data":{"a":"\\u0000"}}`, 200, nil},
		{"complete: another's task", "POST", "/api/v1/tasks/tsk_cathy/complete", "carol", `{"action":"accept"}`, 403, nil},
		{"complete: another group's task", "POST", "/api/v1/tasks/tsk_finance/complete", "carol", `{"action":"accept"}`, 404, nil},
		{"complete: unknown task", "POST", "/api/v1/tasks/tsk_nope/complete", "carol", `{"action":"accept"}`, 404, nil},
		{"comment: missing text", "POST", "/api/v1/tasks/tsk_open/comments", "carol", `{"text":"  "}`, 422, []string{"text"}},
		{"comment: over-long text and unknown field", "POST", "/api/v1/tasks/tsk_open/comments", "carol",
			map[string]any{"text": long(10001), "author": "judy"}, 422, []string{"author", "text"}},
		{"comment: another group's task", "POST", "/api/v1/tasks/tsk_finance/comments", "carol", `{"text":"x"}`, 404, nil},

		// escalations
		{"escalations: bad filters", "GET", "/api/v1/escalations?status=closed&level=0&target=you", "dave", nil, 422, []string{"status", "level", "target"}},
		{"escalations: level too big", "GET", "/api/v1/escalations?level=99999999999999999999", "dave", nil, 422, []string{"level"}},
		{"escalations: wrong role", "GET", "/api/v1/escalations", "carol", nil, 403, nil},
		{"escalation: unknown id", "GET", "/api/v1/escalations/esc_nope", "dave", nil, 404, nil},
		{"escalation: NUL id", "GET", "/api/v1/escalations/%00", "dave", nil, 404, nil},
		{"escalation: wrong role", "GET", "/api/v1/escalations/esc_1", "carol", nil, 403, nil},
		{"acknowledge: over-long comment and unknown field", "POST", "/api/v1/escalations/esc_1/acknowledge", "dave",
			map[string]any{"comment": long(10001), "by": "judy"}, 422, []string{"by", "comment"}},
		{"acknowledge: unknown id", "POST", "/api/v1/escalations/esc_nope/acknowledge", "dave", `{}`, 404, nil},
		{"acknowledge: not a target", "POST", "/api/v1/escalations/esc_1/acknowledge", "bob", `{}`, 403, nil},
		{"acknowledge: wrong role", "POST", "/api/v1/escalations/esc_1/acknowledge", "carol", `{}`, 403, nil},

		// e-mails
		{"emails: bad limit", "GET", "/api/v1/emails?limit=x", "dave", nil, 422, []string{"limit"}},
		{"emails: hostile filters", "GET", "/api/v1/emails?to=%00&process_id=%ff", "dave", nil, 422, []string{"to", "process_id"}},
		{"emails: wrong role", "GET", "/api/v1/emails", "alice", nil, 403, nil},

		// orders: the body
		{"order: missing fields", "POST", "/api/v1/orders", "alice", `{}`, 422,
			[]string{"customer_id", "lines", "requested_delivery_date", "delivery.method"}},
		{"order: every bad field at once", "POST", "/api/v1/orders", "alice",
			`{"customer_id":7,"lines":[{"sku":"","description":"","quantity":0,"unit_price":{"amount":"0","currency":"CNY"}}],` +
				`"requested_delivery_date":"2027-02-30","payment_terms":{"net_days":400,"prepayment_pct":"101"},"delivery":{"method":"drone"},"rush":true}`,
			422, []string{"customer_id", "rush", "lines[0].sku", "lines[0].description", "lines[0].quantity", "lines[0].unit_price",
				"requested_delivery_date", "payment_terms.net_days", "payment_terms.prepayment_pct", "delivery.method"}},
		{"order: no lines", "POST", "/api/v1/orders", "alice", with(ord, "lines", []any{}), 422, []string{"lines"}},
		{"order: a null line", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line(), nil)), 422, []string{"lines[1]"}},
		{"order: too many lines", "POST", "/api/v1/orders", "alice", with(ord, "lines", manyLines), 422, []string{"lines"}},
		{"order: lines not an array", "POST", "/api/v1/orders", "alice", with(ord, "lines", "P-1"), 422, []string{"lines"}},
		{"order: a line of the wrong type", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line(), "x")), 422, []string{"lines[1]"}},
		{"order: a quantity of the wrong type", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("quantity", "2"))), 422, []string{"lines[0].quantity"}},
		{"order: a fractional quantity", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("quantity", 1.5))), 422, []string{"lines[0].quantity"}},
		{"order: unknown field in a line", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line(), line("discount_pct", 50))), 422, []string{"lines[1].discount_pct"}},
		{"order: line field names are case-sensitive", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("SKU", "P-2"))), 422, []string{"lines[0].SKU"}},
		{"order: a line field given twice", "POST", "/api/v1/orders", "alice",
			`{"customer_id":"cus_acme","lines":[{"sku":"P-1","sku":"P-2","description":"d","quantity":1,"unit_price":{"amount":"1.00","currency":"CNY"}}],` +
				`"requested_delivery_date":"2027-03-01","payment_terms":{"net_days":30},"delivery":{"method":"pickup"}}`, 422, []string{"lines[0].sku"}},
		{"order: unknown field in a unit price", "POST", "/api/v1/orders", "alice",
			with(ord, "lines", lines(line("unit_price", map[string]any{"amount": "1.00", "currency": "CNY", "fx": 1}))), 422, []string{"lines[0].unit_price.fx"}},
		{"order: NUL in a description", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("description", "a\x00"))), 422, []string{"lines[0].description"}},
		{"order: bad sku", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line(), line("sku", "no spaces"))), 422, []string{"lines[1].sku"}},
		{"order: over-long sku and description", "POST", "/api/v1/orders", "alice",
			with(ord, "lines", lines(line("sku", strings.Repeat("A", 65), "description", long(201)))), 422, []string{"lines[0].sku", "lines[0].description"}},
		{"order: quantity 0", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("quantity", 0))), 422, []string{"lines[0].quantity"}},
		{"order: quantity too big", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("quantity", domain.MaxOrderQuantity+1))), 422, []string{"lines[0].quantity"}},
		{"order: negative unit price", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("unit_price", price("-1.00", "CNY")))), 422, []string{"lines[0].unit_price"}},
		{"order: zero unit price", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("unit_price", price("0.00", "CNY")))), 422, []string{"lines[0].unit_price"}},
		{"order: unit price not a decimal", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("unit_price", price("1e3", "CNY")))), 422, []string{"lines[0].unit_price"}},
		{"order: unit price as a number", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("unit_price", 100))), 422, []string{"lines[0].unit_price"}},
		{"order: bad currency", "POST", "/api/v1/orders", "alice", with(ord, "lines", lines(line("unit_price", price("1.00", "yuan")))), 422, []string{"lines[0].unit_price"}},
		{"order: a currency without an exchange rate", "POST", "/api/v1/orders", "alice",
			with(ord, "lines", lines(line("unit_price", price("1.00", "JPY")))), 422, []string{"lines[0].unit_price.currency"}},
		{"payment: more than 2 decimals", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "amount", price("1.005", "CNY")), 422, []string{"amount"}},
		{"order: mixed currencies", "POST", "/api/v1/orders", "alice",
			with(ord, "lines", lines(line(), line("unit_price", price("1.00", "USD")))), 422, []string{"lines[1].unit_price.currency"}},
		{"order: bad requested delivery date", "POST", "/api/v1/orders", "alice", with(ord, "requested_delivery_date", "01/03/2027"), 422, []string{"requested_delivery_date"}},
		{"order: no such day", "POST", "/api/v1/orders", "alice", with(ord, "requested_delivery_date", "2027-02-29"), 422, []string{"requested_delivery_date"}},
		{"order: year out of range", "POST", "/api/v1/orders", "alice", with(ord, "requested_delivery_date", "1999-12-31"), 422, []string{"requested_delivery_date"}},
		{"order: negative net days", "POST", "/api/v1/orders", "alice", with(ord, "payment_terms", map[string]any{"net_days": -1}), 422, []string{"payment_terms.net_days"}},
		{"order: net days too many", "POST", "/api/v1/orders", "alice", with(ord, "payment_terms", map[string]any{"net_days": domain.MaxOrderNetDays + 1}), 422, []string{"payment_terms.net_days"}},
		{"order: net days of the wrong type", "POST", "/api/v1/orders", "alice", with(ord, "payment_terms", map[string]any{"net_days": "30"}), 422, []string{"payment_terms.net_days"}},
		{"order: prepayment share not a number", "POST", "/api/v1/orders", "alice",
			with(ord, "payment_terms", map[string]any{"net_days": 30, "prepayment_pct": "half"}), 422, []string{"payment_terms.prepayment_pct"}},
		{"order: negative prepayment share", "POST", "/api/v1/orders", "alice",
			with(ord, "payment_terms", map[string]any{"net_days": 30, "prepayment_pct": "-5"}), 422, []string{"payment_terms.prepayment_pct"}},
		{"order: prepayment share as a number", "POST", "/api/v1/orders", "alice",
			with(ord, "payment_terms", map[string]any{"net_days": 30, "prepayment_pct": 30}), 422, []string{"payment_terms.prepayment_pct"}},
		{"order: unknown payment term", "POST", "/api/v1/orders", "alice",
			with(ord, "payment_terms", map[string]any{"net_days": 30, "discount": 2}), 422, []string{"payment_terms.discount"}},
		{"order: delivery method missing", "POST", "/api/v1/orders", "alice", with(ord, "delivery", map[string]any{}), 422, []string{"delivery.method"}},
		{"order: delivery without consignee or address", "POST", "/api/v1/orders", "alice",
			with(ord, "delivery", map[string]any{"method": "delivery", "transport": "truck"}), 422, []string{"delivery.consignee", "delivery.address"}},
		{"order: blank consignee", "POST", "/api/v1/orders", "alice",
			with(ord, "delivery", map[string]any{"method": "delivery", "consignee": "  ", "address": "1 Road"}), 422, []string{"delivery.consignee"}},
		{"order: over-long delivery texts", "POST", "/api/v1/orders", "alice",
			with(ord, "delivery", map[string]any{"method": "delivery", "transport": long(201), "consignee": long(201), "address": long(2001)}),
			422, []string{"delivery.transport", "delivery.consignee", "delivery.address"}},
		{"order: NUL in the address", "POST", "/api/v1/orders", "alice",
			with(ord, "delivery", map[string]any{"method": "delivery", "consignee": "Li", "address": "a\x00b"}), 422, []string{"delivery.address"}},
		{"order: unknown customer", "POST", "/api/v1/orders", "alice", with(ord, "customer_id", "cus_nope"), 422, []string{"customer_id"}},
		{"order: another rep's customer", "POST", "/api/v1/orders", "alice", with(ord, "customer_id", "cus_globex"), 422, []string{"customer_id"}},
		{"order: another rep's customer and bad lines", "POST", "/api/v1/orders", "aaron", with(ord, "lines", lines(line("quantity", 0))), 422,
			[]string{"customer_id", "lines[0].quantity"}},
		{"order: unknown contract", "POST", "/api/v1/orders", "alice", with(ord, "contract_id", "ctr_nope"), 422, []string{"contract_id"}},
		{"order: another customer's contract", "POST", "/api/v1/orders", "alice", with(ord, "contract_id", "ctr_globex"), 422, []string{"contract_id"}},
		{"order: contract not approved", "POST", "/api/v1/orders", "alice", with(ord, "contract_id", "ctr_1"), 422, []string{"contract_id"}},
		{"order: over the contract's remaining amount", "POST", "/api/v1/orders", "alice",
			with(ord, "contract_id", "ctr_acme", "lines", lines(line("quantity", 10, "unit_price", price("100.01", "CNY")))), 422, []string{"lines"}},
		{"order: not in the contract's currency", "POST", "/api/v1/orders", "alice",
			with(ord, "contract_id", "ctr_acme", "lines", lines(line("unit_price", price("1.00", "USD")))), 422, []string{"lines"}},
		{"order: contract id of the wrong type", "POST", "/api/v1/orders", "alice", with(ord, "contract_id", 5), 422, []string{"contract_id"}},
		{"order: bad idempotency key", "POST", "/api/v1/orders", "alice", ord, 422, []string{"Idempotency-Key"}},
		{"order: not a sales rep", "POST", "/api/v1/orders", "bob", ord, 403, nil},
		{"order: not a sales rep, bad body", "POST", "/api/v1/orders", "carol", `{"lines":5}`, 403, nil},
		{"order: not a sales rep, malformed body", "POST", "/api/v1/orders", "erin", `{"lines":`, 403, nil},

		// orders: reading them
		{"order: another rep's", "GET", "/api/v1/orders/ord_aaron", "alice", nil, 404, nil},
		{"order: not visible to the role", "GET", "/api/v1/orders/ord_review", "carol", nil, 404, nil},
		{"order: unknown id", "GET", "/api/v1/orders/ord_nope", "bob", nil, 404, nil},
		{"order: NUL id", "GET", "/api/v1/orders/%00", "bob", nil, 404, nil},
		{"order: invalid UTF-8 id", "GET", "/api/v1/orders/%ff%fe", "bob", nil, 404, nil},
		{"orders: bad status", "GET", "/api/v1/orders?status=open", "bob", nil, 422, []string{"status"}},
		{"orders: bad status and limit", "GET", "/api/v1/orders?status=shipping&limit=0", "alice", nil, 422, []string{"status", "limit"}},
		{"orders: hostile customer filter", "GET", "/api/v1/orders?customer_id=%00%ff", "bob", nil, 422, []string{"customer_id"}},
		{"orders: wrong role", "GET", "/api/v1/orders", "carol", nil, 403, nil},
		{"orders: wrong role, bad filter", "GET", "/api/v1/orders?status=x", "frank", nil, 403, nil},
		{"invoices: bad status", "GET", "/api/v1/invoices?status=late", "erin", nil, 422, []string{"status"}},
		{"invoices: bad status, limit and customer", "GET", "/api/v1/invoices?status=due&limit=x&customer_id=%00", "bob", nil, 422,
			[]string{"status", "limit", "customer_id"}},
		{"invoices: wrong role", "GET", "/api/v1/invoices", "alice", nil, 403, nil},
		{"invoices: wrong role, bad filter", "GET", "/api/v1/invoices?status=late", "carol", nil, 403, nil},

		// orders: cancel and progress (the workflow checks the reason and the note)
		{"cancel: no reason", "POST", "/api/v1/orders/ord_review/cancel", "alice", `{}`, 422, []string{"reason"}},
		{"cancel: blank reason", "POST", "/api/v1/orders/ord_review/cancel", "bob", `{"reason":" \n "}`, 422, []string{"reason"}},
		{"cancel: over-long reason", "POST", "/api/v1/orders/ord_review/cancel", "alice", map[string]any{"reason": long(2001)}, 422, []string{"reason"}},
		{"cancel: NUL in the reason", "POST", "/api/v1/orders/ord_review/cancel", "alice", `{"reason":"a\u0000"}`, 422, []string{"reason"}},
		{"cancel: empty body", "POST", "/api/v1/orders/ord_review/cancel", "alice", nil, 400, nil},
		{"cancel: shipped", "POST", "/api/v1/orders/ord_shipped/cancel", "alice", `{"reason":"late"}`, 409, nil},
		{"cancel: not the rep or their manager", "POST", "/api/v1/orders/ord_review/cancel", "judy", `{"reason":"r"}`, 403, nil},
		{"cancel: a department that sees it", "POST", "/api/v1/orders/ord_review/cancel", "frank", `{}`, 403, nil},
		{"cancel: another rep's", "POST", "/api/v1/orders/ord_aaron/cancel", "alice", `{"reason":"r"}`, 404, nil},
		{"cancel: not visible, bad body", "POST", "/api/v1/orders/ord_review/cancel", "carol", `{"reason":`, 404, nil},
		{"cancel: unknown order", "POST", "/api/v1/orders/ord_nope/cancel", "alice", `{"reason":"r"}`, 404, nil},
		{"cancel: NUL id", "POST", "/api/v1/orders/%00/cancel", "alice", `{"reason":"r"}`, 404, nil},
		{"progress: no note", "POST", "/api/v1/orders/ord_review/progress", "alice", `{}`, 422, []string{"note"}},
		{"progress: blank note", "POST", "/api/v1/orders/ord_review/progress", "alice", `{"note":"   "}`, 422, []string{"note"}},
		{"progress: over-long note", "POST", "/api/v1/orders/ord_review/progress", "alice", map[string]any{"note": long(2001)}, 422, []string{"note"}},
		{"progress: unknown field", "POST", "/api/v1/orders/ord_review/progress", "alice",
			map[string]any{"note": "n", "to": "buyer@acme.test"}, 422, []string{"to"}},
		{"progress: another rep's", "POST", "/api/v1/orders/ord_aaron/progress", "alice", `{"note":"n"}`, 404, nil},
		{"progress: wrong role", "POST", "/api/v1/orders/ord_review/progress", "erin", `{"note":"n"}`, 403, nil},

		// orders: payments and prepayments (the workflow checks them against the order)
		{"payment: missing fields", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", `{}`, 422, []string{"amount", "received_on", "reference"}},
		{"payment: amount not a decimal", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "amount", price("ten", "CNY")), 422, []string{"amount"}},
		{"payment: amount as a number", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "amount", 100), 422, []string{"amount"}},
		{"payment: negative amount", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "amount", price("-5.00", "CNY")), 422, []string{"amount"}},
		{"payment: zero amount", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "amount", price("0.00", "CNY")), 422, []string{"amount"}},
		{"payment: over the open amount", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "amount", price("300.01", "CNY")), 422, []string{"amount"}},
		{"payment: bad currency", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "amount", price("1.00", "cny")), 422, []string{"amount"}},
		{"payment: not the order's currency", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "amount", price("1.00", "USD")), 422, []string{"amount.currency"}},
		{"payment: unknown money field", "POST", "/api/v1/orders/ord_invoiced/payments", "erin",
			with(pay, "amount", map[string]any{"amount": "1.00", "currency": "CNY", "rate": 1}), 422, []string{"amount.rate"}},
		{"payment: bad received_on", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "received_on", "2026-12-32"), 422, []string{"received_on"}},
		{"payment: received_on with a time", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "received_on", "2026-12-01T10:00:00Z"), 422, []string{"received_on"}},
		{"payment: no received_on", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "received_on", nil), 422, []string{"received_on"}},
		{"payment: blank reference", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "reference", " "), 422, []string{"reference"}},
		{"payment: over-long reference", "POST", "/api/v1/orders/ord_invoiced/payments", "erin", with(pay, "reference", long(201)), 422, []string{"reference"}},
		{"payment: not invoiced", "POST", "/api/v1/orders/ord_review/payments", "erin", pay, 409, nil},
		{"payment: not finance", "POST", "/api/v1/orders/ord_invoiced/payments", "alice", pay, 403, nil},
		{"payment: not finance, bad body", "POST", "/api/v1/orders/ord_invoiced/payments", "bob", `{"amount":`, 403, nil},
		{"payment: not visible", "POST", "/api/v1/orders/ord_invoiced/payments", "carol", pay, 404, nil},
		{"payment: unknown order", "POST", "/api/v1/orders/ord_nope/payments", "erin", pay, 404, nil},
		{"prepayment: missing fields", "POST", "/api/v1/orders/ord_review/prepayments", "erin", `{}`, 422, []string{"amount", "reference"}},
		{"prepayment: received_on is not taken", "POST", "/api/v1/orders/ord_review/prepayments", "erin", with(prepay, "received_on", "2026-12-01"), 422, []string{"received_on"}},
		{"prepayment: over the total", "POST", "/api/v1/orders/ord_review/prepayments", "erin", with(prepay, "amount", price("300.01", "CNY")), 422, []string{"amount"}},
		{"prepayment: zero amount", "POST", "/api/v1/orders/ord_review/prepayments", "erin", with(prepay, "amount", price("0", "CNY")), 422, []string{"amount"}},
		{"prepayment: not the order's currency", "POST", "/api/v1/orders/ord_review/prepayments", "erin", with(prepay, "amount", price("1.00", "EUR")), 422, []string{"amount.currency"}},
		{"prepayment: no reference", "POST", "/api/v1/orders/ord_review/prepayments", "erin", with(prepay, "reference", nil), 422, []string{"reference"}},
		{"prepayment: after the credit check", "POST", "/api/v1/orders/ord_shipped/prepayments", "erin", prepay, 409, nil},
		{"prepayment: not finance", "POST", "/api/v1/orders/ord_review/prepayments", "admin", prepay, 403, nil},

		// the customer's link (JSON)
		{"link: unknown token", "POST", "/c/nope", "", `{"score":3}`, 404, nil},
		{"link: unknown token, old path", "POST", "/c/feedback/nope", "", `{"score":3}`, 404, nil},
		{"link: NUL token", "POST", "/c/%00", "", `{"score":3}`, 404, nil},
		{"link: score of the wrong type", "POST", "/c/tok_bad", "", `{"score":"5"}`, 422, []string{"score"}},
		{"link: score not an integer", "POST", "/c/tok_bad", "", `{"score":4.5}`, 422, []string{"score"}},
		{"link: score out of range, comment too long, unknown field", "POST", "/c/tok_bad", "",
			map[string]any{"score": 6, "comment": long(2001), "mood": "x"}, 422, []string{"score", "comment", "mood"}},
		{"link: NUL in the comment", "POST", "/c/tok_bad", "", `{"score":3,"comment":"a\u0000b"}`, 422, []string{"comment"}},

		// surveys: programmes, cycles and the survey link
		{"programme: missing fields", "POST", "/api/v1/survey-programmes", "admin", `{}`, 422, []string{"name", "audience", "cadence"}},
		{"programme: bad audience and cadence", "POST", "/api/v1/survey-programmes", "admin",
			with(prog, "audience", "everyone", "cadence", "weekly"), 422, []string{"audience", "cadence"}},
		{"programme: over-long name", "POST", "/api/v1/survey-programmes", "admin", with(prog, "name", long(201)), 422, []string{"name"}},
		{"programme: blank name", "POST", "/api/v1/survey-programmes", "admin", with(prog, "name", " \t"), 422, []string{"name"}},
		{"programme: NUL in the name", "POST", "/api/v1/survey-programmes", "admin", with(prog, "name", "a\x00"), 422, []string{"name"}},
		{"programme: wrong role", "POST", "/api/v1/survey-programmes", "dave", prog, 403, nil},
		{"programme: wrong role, bad body", "POST", "/api/v1/survey-programmes", "alice", `{"name":`, 403, nil},
		{"programme: pause an unknown one", "POST", "/api/v1/survey-programmes/svp_nope/pause", "admin", nil, 404, nil},
		{"programme: pause, NUL id", "POST", "/api/v1/survey-programmes/%00/pause", "admin", nil, 404, nil},
		{"programme: resume as a viewer", "POST", "/api/v1/survey-programmes/svp_1/resume", "dave", nil, 403, nil},
		{"programme: run as a rep", "POST", "/api/v1/survey-programmes/svp_1/run", "alice", nil, 404, nil},
		{"programme: run: bad idempotency key", "POST", "/api/v1/survey-programmes/svp_1/run", "admin", nil, 422, []string{"Idempotency-Key"}},
		{"programmes: wrong role", "GET", "/api/v1/survey-programmes", "erin", nil, 403, nil},
		{"cycles: bad status", "GET", "/api/v1/survey-cycles?status=done", "dave", nil, 422, []string{"status"}},
		{"cycles: bad limit and cursor", "GET", "/api/v1/survey-cycles?limit=0&cursor=bad!", "dave", nil, 422, []string{"limit", "cursor"}},
		{"cycles: hostile programme filter", "GET", "/api/v1/survey-cycles?programme_id=%00%ff", "dave", nil, 422, []string{"programme_id"}},
		{"cycles: wrong role", "GET", "/api/v1/survey-cycles?status=x", "alice", nil, 403, nil},
		{"cycle: unknown id", "GET", "/api/v1/survey-cycles/svc_nope", "dave", nil, 404, nil},
		{"cycle: invalid UTF-8 id", "GET", "/api/v1/survey-cycles/%ff%fe", "dave", nil, 404, nil},
		{"cycle: wrong role", "GET", "/api/v1/survey-cycles/svc_bad", "alice", nil, 404, nil},
		{"survey link: missing answers", "POST", "/c/tok_survey", "", `{}`, 422, append(slices.Clone(domain.SurveyRatings), "nps")},
		{"survey link: out of range, of the wrong type, unknown", "POST", "/c/tok_survey", "",
			with(surveyAnswer(3, 5), "service_attitude", 0, "product_quality", "4", "nps", 11, "mood", "x"), 422,
			[]string{"service_attitude", "product_quality", "nps", "mood"}},
		{"survey link: not an integer", "POST", "/c/tok_survey", "", with(surveyAnswer(3, 5), "nps", 7.5), 422, []string{"nps"}},
		{"survey link: over-long comment", "POST", "/c/tok_survey", "", with(surveyAnswer(3, 5), "comment", long(2001)), 422, []string{"comment"}},
	}
	// Every list refuses a cursor it did not issue, with a 422 naming cursor: one that is
	// not base64, base64 of no JSON object, a decodable cursor of no list (which used to
	// page from a position matching nothing: 200 and an empty list), one with a field too
	// many, and a valid cursor of another list.
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	taskCursor := store.Cursor{K: store.CursorTasks, T: time.Now(), N: 1, ID: "tsk_open"}.Encode()
	complaintCursor := store.Cursor{K: store.CursorComplaints, ID: cmp}.Encode()
	lists := []struct{ name, path, user, kind, foreign string }{
		{"tasks", "/api/v1/tasks?scope=group&", "carol", store.CursorTasks, complaintCursor},
		{"complaints", "/api/v1/complaints?", "carol", store.CursorComplaints, taskCursor},
		{"contracts", "/api/v1/contracts?", "alice", store.CursorContracts, taskCursor},
		{"contract ledger", "/api/v1/contracts?status=approved&", "judy", store.CursorLedger, store.Cursor{K: store.CursorContracts, ID: "ctr_1"}.Encode()},
		{"customers", "/api/v1/customers?", "admin", store.CursorCustomers, complaintCursor},
		{"escalations", "/api/v1/escalations?", "dave", store.CursorEscalations, taskCursor},
		{"orders", "/api/v1/orders?", "alice", store.CursorOrders, complaintCursor},
		{"invoices", "/api/v1/invoices?", "erin", store.CursorInvoices, store.Cursor{K: store.CursorInvoicesDue, T: time.Now(), ID: "FP-2026-000001"}.Encode()},
		{"invoices due", "/api/v1/invoices?status=overdue&", "erin", store.CursorInvoicesDue, store.Cursor{K: store.CursorInvoices, ID: "FP-2026-000001"}.Encode()},
		{"emails", "/api/v1/emails?", "dave", store.CursorEmails, store.Cursor{K: store.CursorEscalations, T: time.Now(), ID: "esc_1"}.Encode()},
	}
	for _, l := range lists {
		for what, cur := range map[string]string{
			"not base64":          "bad!",
			"not a JSON object":   b64(`[1]`),
			"of no list":          b64(`{"id":"zzz"}`),
			"with an extra field": b64(`{"k":"` + l.kind + `","t":"2026-01-01T00:00:00Z","id":"zzz","x":1}`),
			"of another list":     l.foreign,
		} {
			rows = append(rows, row{l.name + ": cursor " + what, "GET", l.path + "cursor=" + url.QueryEscape(cur), l.user, nil, 422, []string{"cursor"}})
		}
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			e := e.in(t)
			var hdr []string
			if strings.HasSuffix(r.name, ": bad idempotency key") {
				hdr = []string{"Idempotency-Key", "has spaces"}
			}
			res := e.do(r.method, r.path, r.user, r.body, hdr...)
			if r.code < 400 {
				res.want(r.code)
				return
			}
			got := checkProblem(t, res, r.code)
			if r.code == http.StatusUnprocessableEntity {
				slices.Sort(got)
				want := slices.Sorted(slices.Values(r.fields))
				if !slices.Equal(got, want) {
					t.Errorf("fields %v, want %v: %s", got, want, res.Body.String())
				}
			}
		})
	}

	// Every /api/v1 route answers 401 to a missing, malformed, unknown or revoked token.
	revoked := e.revokedToken("admin")
	for _, r := range e.apiRoutes() {
		path := strings.NewReplacer(":id", "x").Replace(r.Path)
		for _, auth := range []string{"", "Basic YWRtaW46eA==", "Bearer", "Bearer  ", "Token " + e.tokens["admin"],
			"Bearer not-a-token", "Bearer " + e.tokens["admin"] + "x", "Bearer " + revoked, "Bearer \x7f"} {
			res := e.do(r.Method, path, "", `{}`, "Authorization", auth)
			checkProblem(t, res, http.StatusUnauthorized)
		}
	}

	// Nothing above created, started or completed anything, except the valid completion.
	if n := e.tc.startCount(); n != 2 {
		t.Errorf("%d workflows started, want the 2 fixtures", n)
	}
	var complaints int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM complaints`).Scan(&complaints); err != nil || complaints != 2 {
		t.Errorf("%d complaints (%v)", complaints, err)
	}
	if status, assignee := e.taskStatus("tsk_open"); status != domain.TaskOpen || assignee != "" {
		t.Errorf("tsk_open is %s by %q", status, assignee)
	}
	// No order was entered, and the fixtures are as they were.
	if n := e.count("orders"); n != 4 {
		t.Errorf("%d orders, want the 4 fixtures", n)
	}
	if n := e.count("idempotency_keys"); n != 0 {
		t.Errorf("%d idempotency keys kept", n)
	}
	for id, status := range map[string]string{"ord_review": domain.OrderInReview, "ord_invoiced": domain.OrderInvoiced,
		"ord_shipped": domain.OrderShipped, "ord_aaron": domain.OrderInReview} {
		if st := e.orderState(id); st.Status != status || len(st.Payments) != 0 || st.Cancellation != nil {
			t.Errorf("%s: %+v", id, st)
		}
	}
}

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
	}
	noBody := map[string]bool{"/api/v1/tasks/:id/claim": true, "/api/v1/tasks/:id/unclaim": true}
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
				if got := checkProblem(t, e.do("POST", p.path, p.user, with(valid, k, []int{1})), http.StatusUnprocessableEntity); !slices.Equal(got, []string{k}) {
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

		// the customer's link (JSON)
		{"link: unknown token", "POST", "/c/nope", "", `{"score":3}`, 404, nil},
		{"link: unknown token, old path", "POST", "/c/feedback/nope", "", `{"score":3}`, 404, nil},
		{"link: NUL token", "POST", "/c/%00", "", `{"score":3}`, 404, nil},
		{"link: score of the wrong type", "POST", "/c/tok_bad", "", `{"score":"5"}`, 422, []string{"score"}},
		{"link: score not an integer", "POST", "/c/tok_bad", "", `{"score":4.5}`, 422, []string{"score"}},
		{"link: score out of range, comment too long, unknown field", "POST", "/c/tok_bad", "",
			map[string]any{"score": 6, "comment": long(2001), "mood": "x"}, 422, []string{"score", "comment", "mood"}},
		{"link: NUL in the comment", "POST", "/c/tok_bad", "", `{"score":3,"comment":"a\u0000b"}`, 422, []string{"comment"}},
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
			if r.name == "complaint: bad idempotency key" {
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
}

package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// contractBody is a valid POST /contracts body for alice's customer cus_acme: a standard
// contract.
func contractBody() map[string]any {
	return map[string]any{
		"customer_id": "cus_acme", "title": "Spindle line retrofit",
		"amount":        map[string]any{"amount": "120000.00", "currency": "CNY"},
		"delivery_date": "2026-12-01", "payment_terms": "30% advance, 70% on delivery",
	}
}

// insertContract stores a contract row as the workflow would project it.
func (e *env) insertContract(id, submittedBy, class, status string) {
	e.t.Helper()
	terms := domain.ContractTerms{CustomerID: "cus_acme", Title: "Contract " + id,
		Amount: domain.Money{Amount: "100.00", Currency: "CNY"}, DeliveryDate: "2026-12-01", PaymentTerms: "net 30"}
	st := domain.ContractState{
		ID: id, CustomerID: "cus_acme", CustomerName: "Acme", Title: terms.Title, Status: status,
		ContractVersion: domain.ContractVersion{Revision: 1, Class: class, Route: domain.Route(class), Terms: terms},
		SubmittedBy:     submittedBy, SubmittedAt: time.Now().UTC(), CurrentSteps: []string{},
	}
	if err := store.UpsertContract(context.Background(), e.st.Pool, st, domain.ContractWorkflowID(id)); err != nil {
		e.t.Fatal(err)
	}
}

// approveContract gives a stored contract its ledger number and the approved status.
func (e *env) approveContract(id string) string {
	e.t.Helper()
	ctx := context.Background()
	var no string
	err := e.st.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		if no, err = store.AssignLedgerNo(ctx, tx, id, 2026); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE contracts SET status = 'approved', state = jsonb_set(state, '{status}', '"approved"') WHERE id = $1`, id)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return no
}

func TestContractSubmit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := contractBody()
	body["requirements"] = map[string]any{"custom_spec": true}
	body["discount_pct"] = 7.5
	body["class"] = "standard" // cannot lower the class
	created := e.do("POST", "/api/v1/contracts", "alice", body, "Idempotency-Key", "ctr-1").want(http.StatusCreated).json()
	id := created["id"].(string)
	if created["class"] != "special" || created["status"] != "in_review" || created["revision"] != float64(1) {
		t.Fatalf("created: %v", created)
	}
	wantRoute := []any{"countersign_production", "countersign_quality", "countersign_purchasing", "countersign_finance", "ops_review", "gm_approval"}
	if fmt.Sprint(created["route"]) != fmt.Sprint(wantRoute) {
		t.Fatalf("route %v", created["route"])
	}

	// The same key replays the answer and starts nothing new.
	again := e.do("POST", "/api/v1/contracts", "alice", body, "Idempotency-Key", "ctr-1").want(http.StatusCreated).json()
	if again["id"] != id || e.tc.startCount() != 1 {
		t.Fatalf("replay: %v, %d starts", again, e.tc.startCount())
	}
	e.tc.mu.Lock()
	start := e.tc.starts[0]
	e.tc.mu.Unlock()
	in := start.args[0].(domain.ContractInput)
	if start.opts.ID != "contract/"+id || start.workflow != "ContractWorkflow" || in.SubmittedBy != "alice" ||
		in.CustomerName != "Acme" || in.Terms.DiscountPct.String() != "7.5" || in.Policy.StepSLA != 48*time.Hour {
		t.Fatalf("start: %+v %+v", start.opts, in)
	}

	// The contract reads back at once, to the submitter and to a countersigning department.
	for _, user := range []string{"alice", "erin", "bob", "judy"} {
		got := e.do("GET", "/api/v1/contracts/"+id, user, nil).want(http.StatusOK).json()
		if got["status"] != "in_review" || got["class"] != "special" || got["submitted_by"] != "alice" ||
			got["ledger_no"] != nil || fmt.Sprint(got["review_record"]) != "[]" {
			t.Fatalf("GET as %s: %v", user, got)
		}
	}
	for _, user := range []string{"aaron", "carol", "dave"} {
		checkProblem(t, e.do("GET", "/api/v1/contracts/"+id, user, nil), http.StatusNotFound)
	}
}

func TestContractClassification(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name  string
		set   []any
		class string
	}{
		{"standard", nil, "standard"},
		{"discount above the allowed", []any{"discount_pct", "5.01"}, "special"},
		{"discount at the allowed", []any{"discount_pct", 5}, "standard"},
		{"special threshold", []any{"amount", map[string]any{"amount": "500000", "currency": "CNY"}}, "special"},
		{"special threshold in USD", []any{"amount", map[string]any{"amount": "70000", "currency": "USD"}}, "special"},
		{"major threshold", []any{"amount", map[string]any{"amount": "5000000.00", "currency": "CNY"}}, "major"},
		{"strategic", []any{"strategic", true}, "major"},
		{"explicit class raises", []any{"class", "major"}, "major"},
	}
	for _, c := range cases {
		got := e.do("POST", "/api/v1/contracts", "alice", with(contractBody(), c.set...)).want(http.StatusCreated).json()
		if got["class"] != c.class {
			t.Errorf("%s: class %v, want %s", c.name, got["class"], c.class)
		}
		if fmt.Sprint(got["route"]) != fmt.Sprint(domain.Route(c.class)) {
			t.Errorf("%s: route %v", c.name, got["route"])
		}
	}
}

func TestContractSubmitRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		name   string
		user   string
		body   any
		code   int
		fields []string
	}{
		{"missing fields", "alice", `{}`, 422, []string{"customer_id", "title", "amount", "delivery_date", "payment_terms"}},
		{"bad values", "alice", with(contractBody(), "amount", map[string]any{"amount": "-1", "currency": "CNY"},
			"discount_pct", "120", "delivery_date", "2026-02-30", "class", "huge"), 422,
			[]string{"amount", "discount_pct", "delivery_date", "class"}},
		{"unknown currency", "alice", with(contractBody(), "amount", map[string]any{"amount": "1", "currency": "JPY"}), 422, []string{"amount.currency"}},
		{"unknown requirement", "alice", with(contractBody(), "requirements", map[string]any{"gold_plated": true}), 422, []string{"requirements.gold_plated"}},
		{"another rep's customer", "alice", with(contractBody(), "customer_id", "cus_globex"), 422, []string{"customer_id"}},
		{"not a sales rep", "bob", contractBody(), 403, nil},
	} {
		fields := checkProblem(t, e.do("POST", "/api/v1/contracts", c.user, c.body), c.code)
		slices.Sort(fields)
		slices.Sort(c.fields)
		if !slices.Equal(fields, c.fields) {
			t.Errorf("%s: fields %v, want %v", c.name, fields, c.fields)
		}
	}
	if n := e.tc.startCount(); n != 0 {
		t.Fatalf("%d workflows started", n)
	}
}

func TestContractListAndLedger(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.insertContract("ctr_a", "alice", domain.ClassStandard, domain.ContractInReview)
	e.insertContract("ctr_b", "aaron", domain.ClassStandard, domain.ContractInReview)
	e.insertContract("ctr_c", "alice", domain.ClassSpecial, domain.ContractInReview)
	e.insertContract("ctr_d", "aaron", domain.ClassSpecial, domain.ContractInReview)
	if no := e.approveContract("ctr_c"); no != "HT-2026-0001" {
		t.Fatalf("ledger no %s", no)
	}
	if no := e.approveContract("ctr_a"); no != "HT-2026-0002" {
		t.Fatalf("ledger no %s", no)
	}

	ids, _ := e.do("GET", "/api/v1/contracts", "alice", nil).want(http.StatusOK).items()
	if !slices.Equal(ids, []string{"ctr_c", "ctr_a"}) {
		t.Fatalf("alice lists %v", ids)
	}
	ids, _ = e.do("GET", "/api/v1/contracts", "bob", nil).want(http.StatusOK).items()
	if !slices.Equal(ids, []string{"ctr_d", "ctr_c", "ctr_b", "ctr_a"}) {
		t.Fatalf("bob lists %v", ids)
	}
	// The ledger is in ledger-number order, page by page.
	r := e.do("GET", "/api/v1/contracts?status=approved&limit=1", "judy", nil).want(http.StatusOK)
	ids, next := r.items()
	if !slices.Equal(ids, []string{"ctr_c"}) || next == "" || r.json()["items"].([]any)[0].(map[string]any)["ledger_no"] != "HT-2026-0001" {
		t.Fatalf("ledger page 1: %s", r.Body.String())
	}
	ids, next = e.do("GET", "/api/v1/contracts?status=approved&limit=1&cursor="+next, "judy", nil).want(http.StatusOK).items()
	if !slices.Equal(ids, []string{"ctr_a"}) || next != "" {
		t.Fatalf("ledger page 2: %v %q", ids, next)
	}
	checkProblem(t, e.do("GET", "/api/v1/contracts?status=open", "judy", nil), http.StatusUnprocessableEntity)
	checkProblem(t, e.do("GET", "/api/v1/contracts", "erin", nil), http.StatusForbidden)

	// A standard contract is not the departments' business; a special one is.
	checkProblem(t, e.do("GET", "/api/v1/contracts/ctr_a", "erin", nil), http.StatusNotFound)
	e.do("GET", "/api/v1/contracts/ctr_d", "frank", nil).want(http.StatusOK)
}

func TestContractUpdates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.insertContract("ctr_u", "alice", domain.ClassSpecial, domain.ContractChangesRequested)
	e.tc.mu.Lock()
	e.tc.onUpdate = func(o client.UpdateWorkflowOptions) (any, error) {
		return domain.ContractState{ID: "ctr_u", Status: "in_review", SubmittedBy: "alice",
			ContractVersion: domain.ContractVersion{Revision: 2, Class: "standard", Route: []string{"review"}}}, nil
	}
	e.tc.mu.Unlock()

	got := e.do("POST", "/api/v1/contracts/ctr_u/revisions", "alice",
		map[string]any{"changes": map[string]any{"requirements": map[string]any{"custom_spec": false}}, "comment": "dropped it"}).
		want(http.StatusOK).json()
	if got["revision"] != float64(2) || got["status"] != "in_review" || got["class"] != "standard" {
		t.Fatalf("revision: %v", got)
	}
	u := e.tc.lastUpdate()
	req := u.Args[0].(domain.ContractRevisionRequest)
	if u.WorkflowID != "contract/ctr_u" || u.UpdateName != domain.UpdateReviseContract || req.Actor != "alice" ||
		req.Comment != "dropped it" || req.Changes.Requirements == nil || *req.Changes.Requirements.CustomSpec {
		t.Fatalf("update: %+v %+v", u, req)
	}

	e.do("POST", "/api/v1/contracts/ctr_u/withdraw", "alice", nil).want(http.StatusOK)
	if u := e.tc.lastUpdate(); u.UpdateName != domain.UpdateWithdrawContract || u.Args[0].(domain.ContractWithdrawRequest).Actor != "alice" {
		t.Fatalf("withdraw: %+v", u)
	}
	e.do("POST", "/api/v1/contracts/ctr_u/amendments", "bob",
		map[string]any{"changes": map[string]any{"delivery_date": "2027-01-15"}, "reason": "customer asks"}).want(http.StatusOK)
	if u := e.tc.lastUpdate(); u.UpdateName != domain.UpdateAmendContract || u.Args[0].(domain.ContractAmendRequest).Actor != "bob" {
		t.Fatalf("amend: %+v", u)
	}

	// Who may: the submitter revises and withdraws; a sales manager may amend too.
	checkProblem(t, e.do("POST", "/api/v1/contracts/ctr_u/revisions", "bob", `{"changes":{}}`), http.StatusForbidden)
	checkProblem(t, e.do("POST", "/api/v1/contracts/ctr_u/withdraw", "erin", nil), http.StatusForbidden)
	checkProblem(t, e.do("POST", "/api/v1/contracts/ctr_u/withdraw", "aaron", nil), http.StatusNotFound)
	checkProblem(t, e.do("POST", "/api/v1/contracts/ctr_nope/withdraw", "alice", nil), http.StatusNotFound)

	// The workflow's refusals: 409 for the wrong status, 422 naming the body's fields.
	e.tc.mu.Lock()
	e.tc.onUpdate = func(o client.UpdateWorkflowOptions) (any, error) {
		if o.UpdateName == domain.UpdateWithdrawContract {
			return nil, temporal.NewApplicationError("contract ctr_u is approved", domain.ErrTypeNotAccepting)
		}
		return nil, temporal.NewApplicationError("invalid data", domain.ErrTypeInvalidData,
			[]domain.FieldError{{Field: "amount.currency", Message: "no exchange rate is configured for JPY"}, {Field: "comment", Message: "too long"}})
	}
	e.tc.mu.Unlock()
	checkProblem(t, e.do("POST", "/api/v1/contracts/ctr_u/withdraw", "alice", `{"reason":"no longer needed"}`), http.StatusConflict)
	fields := checkProblem(t, e.do("POST", "/api/v1/contracts/ctr_u/revisions", "alice",
		`{"changes":{"amount":{"amount":"1","currency":"JPY"}},"comment":"x"}`), http.StatusUnprocessableEntity)
	if !slices.Equal(fields, []string{"changes.amount.currency", "comment"}) {
		t.Fatalf("revision fields %v", fields)
	}
	// The body is checked before the workflow sees it.
	fields = checkProblem(t, e.do("POST", "/api/v1/contracts/ctr_u/amendments", "alice",
		`{"changes":{"title":5},"reason":"r","extra":1}`), http.StatusUnprocessableEntity)
	if !slices.Equal(fields, []string{"changes.title", "extra"}) {
		t.Fatalf("amendment fields %v", fields)
	}
}

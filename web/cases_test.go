package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// addUser adds a user with testPassword and the roles.
func (e *env) addUser(username, tz string, roles ...domain.Role) {
	e.t.Helper()
	ctx := context.Background()
	in := store.UserInput{Username: username, DisplayName: username, Email: username + "@example.test", TimeZone: tz}
	for _, r := range roles {
		in.Roles = append(in.Roles, string(r))
	}
	if err := e.st.CreateUser(ctx, in); err != nil {
		e.t.Fatal(err)
	}
	hash, err := HashPassword(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.SetPasswordHash(ctx, username, hash); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) addCustomer(id, name, owner string) {
	e.t.Helper()
	if _, err := e.st.CreateCustomer(context.Background(), store.CustomerInput{ID: id, Name: name,
		Email: id + "@example.test", Locale: "en", Tier: "A", Owner: owner}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) addComplaint(id, customer, subject, status string, received, due time.Time) {
	e.t.Helper()
	in := domain.ComplaintInput{ID: id, CustomerID: customer, Channel: "phone", Subject: subject,
		Description: "What happened to " + id, Severity: "urgent", FiledBy: "carol", ReceivedAt: received}
	if err := store.InsertComplaint(context.Background(), e.st.Pool, in, status, due); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) audit(process, id, actor, event string, at time.Time, detail map[string]any) {
	e.t.Helper()
	if err := store.InsertAudit(context.Background(), e.st.Pool, domain.AuditInput{Key: id + "/" + event + "/" + at.String(),
		Process: process, ProcessID: id, Actor: actor, Event: event, Detail: detail, At: at}); err != nil {
		e.t.Fatal(err)
	}
}

// addContract stores a contract as the workflow's projection does, approved ones with
// their ledger number.
func (e *env) addContract(id, customer, by, class, status string, amount string, edit ...func(*domain.ContractState)) string {
	e.t.Helper()
	ctx := context.Background()
	st := domain.ContractState{ID: id, CustomerID: customer, CustomerName: "Customer " + customer, Title: "Lathes for " + id,
		Status: status, SubmittedBy: by, SubmittedAt: e.clock.now().Add(-48 * time.Hour), CurrentSteps: []string{}}
	st.Revision, st.Class, st.Route = 2, class, domain.Route(class)
	st.Terms = domain.ContractTerms{CustomerID: customer, Title: st.Title, Amount: domain.Money{Amount: amount, Currency: "CNY"},
		DeliveryDate: "2027-03-31", PaymentTerms: "30% advance", Requirements: domain.ContractRequirements{CustomSpec: class != domain.ClassStandard}}
	if status == domain.ContractInReview {
		st.CurrentSteps = []string{domain.Route(class)[0]}
	}
	if status == domain.ContractApproved {
		at := e.clock.now().Add(-time.Hour)
		st.ApprovedAt = &at
	}
	for _, f := range edit {
		f(&st)
	}
	if err := store.UpsertContract(ctx, e.st.Pool, st, domain.ContractWorkflowID(id)); err != nil {
		e.t.Fatal(err)
	}
	if status != domain.ContractApproved {
		return ""
	}
	var no string
	if err := e.st.WithTx(ctx, func(tx pgx.Tx) (err error) {
		no, err = store.AssignLedgerNo(ctx, tx, id, 2026)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return no
}

func rowOf(body, id string) string {
	return regexp.MustCompile(`(?s)<tr id="` + regexp.QuoteMeta(id) + `">.*?</tr>`).FindString(body)
}

func section(body, id string) string {
	return regexp.MustCompile(`(?s)id="` + regexp.QuoteMeta(id) + `".*?</(table|dl|section)>`).FindString(body)
}

func TestComplaintPages(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("bob", "", domain.RoleSalesRep)
	e.addUser("shanghai", "Asia/Shanghai", domain.RoleCustomerService)
	e.addCustomer("cus_n", "Northwind", "alice")
	e.addCustomer("cus_c", "Contoso", "bob")
	due := time.Date(2026, 12, 7, 1, 30, 0, 0, time.UTC)
	received := due.Add(-time.Hour)
	e.addComplaint("cmp_a", "cus_n", "Spindle vibrates", domain.ComplaintResponding, received, due)
	e.addComplaint("cmp_b", "cus_c", "Late delivery", domain.ComplaintClosed, received, due)
	e.audit("complaint", "cmp_a", "carol", "received", received, map[string]any{"channel": "phone", "subject": "Spindle vibrates"})
	e.audit("complaint", "cmp_a", "carol", "evaluated", received.Add(10*time.Minute),
		map[string]any{"category": "product", "severity": "urgent", "task_id": "tsk_hidden"})
	carol, alice, bob, sh := e.session("carol"), e.session("alice"), e.session("bob"), e.session("shanghai")

	// The complaint page: its fields and its timeline, in order, times in the user's zone.
	w := e.req(http.MethodGet, "/complaints/cmp_a", carol, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("complaint page: %d %s", w.Code, body)
	}
	for _, s := range []string{"Spindle vibrates", "What happened to cmp_a", "Northwind", "Responding", "Urgent", "Phone",
		"2026-12-07 01:30 UTC"} {
		if !strings.Contains(body, s) {
			t.Errorf("complaint page lacks %q", s)
		}
	}
	tl := section(body, "complaint-timeline")
	i, j := strings.Index(tl, "Complaint received"), strings.Index(tl, "Evaluated")
	if i < 0 || j < i || !strings.Contains(tl, "carol") || !strings.Contains(tl, "Product") ||
		!strings.Contains(tl, "2026-12-07 00:40 UTC") {
		t.Errorf("timeline: %s", tl)
	}
	if strings.Contains(body, "tsk_hidden") {
		t.Errorf("the timeline shows a task id")
	}
	body = html.UnescapeString(e.req(http.MethodGet, "/complaints/cmp_a", sh, nil).Body.String())
	if !strings.Contains(body, "2026-12-07 09:30 UTC+8") || !strings.Contains(section(body, "complaint-timeline"), "2026-12-07 08:40 UTC+8") {
		t.Errorf("times not in the user's zone: %s", section(body, "fact-response_due_at"))
	}

	// alice owns Northwind: she sees cmp_a; bob does not, and is told nothing about it.
	if w := e.req(http.MethodGet, "/complaints/cmp_a", alice, nil); w.Code != http.StatusOK {
		t.Errorf("alice, her customer's complaint: %d", w.Code)
	}
	for _, id := range []string{"cmp_a", "cmp_nope"} {
		w := e.req(http.MethodGet, "/complaints/"+id, bob, nil)
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `id="not-found"`) ||
			strings.Contains(w.Body.String(), "Spindle") {
			t.Errorf("bob GET /complaints/%s: %d", id, w.Code)
		}
	}

	// The list: all for carol, filtered by status and customer; only her customers' for alice.
	body = e.req(http.MethodGet, "/complaints", carol, nil).Body.String()
	if r := rowOf(body, "complaint-cmp_a"); !strings.Contains(r, `href="/complaints/cmp_a"`) || !strings.Contains(r, "Northwind") ||
		!strings.Contains(r, "Responding") || !strings.Contains(r, "2026-12-07 01:30 UTC") || rowOf(body, "complaint-cmp_b") == "" {
		t.Errorf("complaint list: %s", body)
	}
	body = e.req(http.MethodGet, "/complaints?status=closed", carol, nil).Body.String()
	if rowOf(body, "complaint-cmp_a") != "" || rowOf(body, "complaint-cmp_b") == "" ||
		!strings.Contains(body, `<option value="closed" selected>`) {
		t.Errorf("status filter: %s", body)
	}
	body = e.req(http.MethodGet, "/complaints?customer=cus_n", carol, nil).Body.String()
	if rowOf(body, "complaint-cmp_a") == "" || rowOf(body, "complaint-cmp_b") != "" || !strings.Contains(body, `value="cus_n"`) {
		t.Errorf("customer filter: %s", body)
	}
	body = e.req(http.MethodGet, "/complaints?status=bogus&cursor=junk", carol, nil).Body.String()
	if rowOf(body, "complaint-cmp_a") == "" || rowOf(body, "complaint-cmp_b") == "" {
		t.Errorf("an unknown status or cursor filters: %s", body)
	}
	body = e.req(http.MethodGet, "/complaints", alice, nil).Body.String()
	if rowOf(body, "complaint-cmp_a") == "" || rowOf(body, "complaint-cmp_b") != "" {
		t.Errorf("alice's list: %s", body)
	}

	// Paging: the next link keeps the filter and reaches the rest.
	for n := range casePageSize + 1 {
		e.addComplaint(fmt.Sprintf("cmp_p%02d", n), "cus_n", "Paged", domain.ComplaintReceived, received, due)
	}
	body = e.req(http.MethodGet, "/complaints?status=received", carol, nil).Body.String()
	next := regexp.MustCompile(`href="([^"]+)" id="next-page"`).FindStringSubmatch(body)
	if len(next) < 2 || next[1] == "" || strings.Count(body, `<tr id="complaint-`) != casePageSize {
		t.Fatalf("first page: %d rows, next %v", strings.Count(body, `<tr id="complaint-`), next)
	}
	link := strings.ReplaceAll(next[1], "&amp;", "&")
	body = e.req(http.MethodGet, link, carol, nil).Body.String()
	if !strings.Contains(link, "status=received") || strings.Count(body, `<tr id="complaint-`) != 1 ||
		rowOf(body, "complaint-cmp_p00") == "" || strings.Contains(body, `id="next-page"`) {
		t.Errorf("second page (%s): %s", link, body)
	}

	// The nav: carol lists complaints but not contracts.
	body = e.req(http.MethodGet, "/", carol, nil).Body.String()
	if !strings.Contains(body, `id="nav-complaints"`) || strings.Contains(body, `id="nav-contracts"`) {
		t.Errorf("carol's nav")
	}
	// Signed out: to the sign-in page, and back to the case after it.
	if w := e.req(http.MethodGet, "/complaints/cmp_a", "", nil); w.Code != http.StatusSeeOther ||
		w.Header().Get("Location") != "/signin?next=%2Fcomplaints%2Fcmp_a" {
		t.Errorf("signed out: %d %s", w.Code, w.Header().Get("Location"))
	}
	if w := e.req(http.MethodGet, "/complaints", "", nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/signin" {
		t.Errorf("signed out, the list: %d %s", w.Code, w.Header().Get("Location"))
	}
	w = e.req(http.MethodPost, "/signin", "", url.Values{"username": {"carol"}, "password": {testPassword}, "next": {"/complaints/cmp_a"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/complaints/cmp_a" {
		t.Errorf("sign-in with next: %d %s", w.Code, w.Header().Get("Location"))
	}
	// zh-CN.
	if body := e.req(http.MethodGet, "/complaints/cmp_a", e.session("cathy"), nil).Body.String(); !strings.Contains(body, "时间线") ||
		!strings.Contains(body, "收到投诉") || strings.Contains(body, "Timeline") {
		t.Errorf("cathy's page is not in Chinese")
	}
}

func TestContractPages(t *testing.T) {
	e := newEnv(t, Config{})
	e.addUser("bob", "", domain.RoleSalesRep)
	e.addUser("sam", "", domain.RoleSalesManager)
	e.addUser("pete", "", domain.RoleProduction)
	e.addCustomer("cus_n", "Northwind", "alice")
	e.addCustomer("cus_c", "Contoso", "bob")
	no1 := e.addContract("ctr_std", "cus_n", "alice", domain.ClassStandard, domain.ContractApproved, "1000.00")
	e.addContract("ctr_spc", "cus_n", "alice", domain.ClassSpecial, domain.ContractInReview, "320000.00", func(st *domain.ContractState) {
		st.Rejected = &domain.ContractVersion{Revision: 1, Class: domain.ClassSpecial, Route: st.Route,
			Terms: domain.ContractTerms{Title: st.Title, Amount: domain.Money{Amount: "300000.00", Currency: "CNY"}}}
	})
	no2 := e.addContract("ctr_bob", "cus_c", "bob", domain.ClassStandard, domain.ContractApproved, "2000.00")
	at := e.clock.now().Add(-3 * time.Hour)
	if err := store.InsertContractReviews(context.Background(), e.st.Pool, "ctr_spc", []domain.ContractReview{
		{TaskID: "tsk_1", Revision: 1, Step: domain.StepCountersignFinance, Reviewer: "fiona", Decision: "reject", Comment: "price too low", At: at},
		{TaskID: "tsk_2", Revision: 2, Step: domain.StepCountersignProduction, Reviewer: "pete", Decision: "approve",
			Comment: "can build it", Data: map[string]any{"opinion": "feasible in Q1"}, At: at.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	e.audit("contract", "ctr_spc", "alice", "submitted", at.Add(-time.Hour), map[string]any{"revision": 1, "class": "special"})
	alice, bob, sam, pete, carol := e.session("alice"), e.session("bob"), e.session("sam"), e.session("pete"), e.session("carol")

	// The contract page: terms, the review record by revision (newest first), the timeline.
	w := e.req(http.MethodGet, "/contracts/ctr_spc", alice, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("contract page: %d %s", w.Code, body)
	}
	terms := section(body, "contract-terms")
	for _, s := range []string{"320000.00 CNY", "Special", "In review", "2027-03-31", "30% advance", "Custom specification",
		"Countersign (production)", "GM approval"} {
		if !strings.Contains(terms, s) {
			t.Errorf("terms lack %q: %s", s, terms)
		}
	}
	reviews := regexp.MustCompile(`(?s)id="contract-reviews".*?</section>`).FindString(body)
	r2, r1 := strings.Index(reviews, `id="revision-2"`), strings.Index(reviews, `id="revision-1"`)
	if r2 < 0 || r1 < r2 {
		t.Fatalf("revisions not newest first: %s", reviews)
	}
	if rev2 := reviews[r2:r1]; !strings.Contains(rev2, "pete") || !strings.Contains(rev2, "Approve") ||
		!strings.Contains(rev2, "can build it") || !strings.Contains(rev2, "feasible in Q1") || !strings.Contains(rev2, "current") {
		t.Errorf("revision 2: %s", rev2)
	}
	if rev1 := reviews[r1:]; !strings.Contains(rev1, "fiona") || !strings.Contains(rev1, "Reject") || !strings.Contains(rev1, "price too low") ||
		!strings.Contains(rev1, "Countersign (finance)") {
		t.Errorf("revision 1: %s", rev1)
	}
	if rj := regexp.MustCompile(`(?s)id="contract-rejected".*?</section>`).FindString(body); !strings.Contains(rj, "Revision 1") ||
		!strings.Contains(rj, "300000.00 CNY") {
		t.Errorf("the revision sent back: %s", rj)
	}
	if tl := section(body, "contract-timeline"); !strings.Contains(tl, "Submitted") || !strings.Contains(tl, "alice") {
		t.Errorf("contract timeline: %s", tl)
	}
	// A countersigning department sees the contract on its route; another sales rep, a
	// complaint handler and production on a standard contract do not.
	if w := e.req(http.MethodGet, "/contracts/ctr_spc", pete, nil); w.Code != http.StatusOK {
		t.Errorf("pete, on the route: %d", w.Code)
	}
	for _, c := range []struct{ who, cookie, id string }{{"bob", bob, "ctr_spc"}, {"carol", carol, "ctr_spc"},
		{"pete", pete, "ctr_std"}, {"bob", bob, "ctr_nope"}} {
		w := e.req(http.MethodGet, "/contracts/"+c.id, c.cookie, nil)
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `id="not-found"`) || strings.Contains(w.Body.String(), "Lathes") {
			t.Errorf("%s GET /contracts/%s: %d", c.who, c.id, w.Code)
		}
	}
	// The approved one shows its ledger number.
	if body := e.req(http.MethodGet, "/contracts/ctr_std", alice, nil).Body.String(); !strings.Contains(section(body, "contract-terms"), no1) ||
		!strings.Contains(body, `id="reviews-empty"`) {
		t.Errorf("approved contract page: %s", body)
	}

	// The list: filters by status and class; a sales rep lists only their own.
	body = e.req(http.MethodGet, "/contracts", sam, nil).Body.String()
	if rowOf(body, "contract-ctr_std") == "" || rowOf(body, "contract-ctr_spc") == "" || rowOf(body, "contract-ctr_bob") == "" ||
		!strings.Contains(rowOf(body, "contract-ctr_spc"), `href="/contracts/ctr_spc"`) {
		t.Errorf("sam's list: %s", body)
	}
	body = e.req(http.MethodGet, "/contracts?class=special", sam, nil).Body.String()
	if rowOf(body, "contract-ctr_spc") == "" || rowOf(body, "contract-ctr_std") != "" || !strings.Contains(body, `<option value="special" selected>`) {
		t.Errorf("class filter: %s", body)
	}
	body = e.req(http.MethodGet, "/contracts?status=approved", sam, nil).Body.String()
	if rowOf(body, "contract-ctr_spc") != "" || rowOf(body, "contract-ctr_std") == "" || rowOf(body, "contract-ctr_bob") == "" {
		t.Errorf("status filter: %s", body)
	}
	body = e.req(http.MethodGet, "/contracts", bob, nil).Body.String()
	if rowOf(body, "contract-ctr_bob") == "" || rowOf(body, "contract-ctr_std") != "" {
		t.Errorf("bob's list: %s", body)
	}
	// Who may list no contracts: refused, and no nav link.
	if w := e.req(http.MethodGet, "/contracts", carol, nil); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "ctr_") {
		t.Errorf("carol's contract list: %d", w.Code)
	}
	if w := e.req(http.MethodGet, "/contracts/ledger", pete, nil); w.Code != http.StatusForbidden {
		t.Errorf("pete's ledger: %d", w.Code)
	}
	if body := e.req(http.MethodGet, "/", sam, nil).Body.String(); !strings.Contains(body, `id="nav-contracts"`) || strings.Contains(body, `id="nav-complaints"`) {
		t.Errorf("sam's nav")
	}

	// The ledger: approved contracts by ledger number, each linking its page.
	body = e.req(http.MethodGet, "/contracts/ledger", sam, nil).Body.String()
	l1, l2 := rowOf(body, "ledger-ctr_std"), rowOf(body, "ledger-ctr_bob")
	if !strings.Contains(l1, no1) || !strings.Contains(l1, "1000.00 CNY") || !strings.Contains(l1, "Customer cus_n") ||
		!strings.Contains(l1, `href="/contracts/ctr_std"`) || !strings.Contains(l2, no2) || strings.Index(body, no1) > strings.Index(body, no2) ||
		rowOf(body, "ledger-ctr_spc") != "" || !strings.Contains(body, `id="ledger-table"`) {
		t.Errorf("ledger: %s", body)
	}
	if body := e.req(http.MethodGet, "/contracts/ledger", alice, nil).Body.String(); rowOf(body, "ledger-ctr_std") == "" || rowOf(body, "ledger-ctr_bob") != "" {
		t.Errorf("alice's ledger: %s", body)
	}
}

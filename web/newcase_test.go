package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// newCaseEnv is the web env with a fake Temporal that records starts, a finance user
// (who may file nothing), a second sales rep and a customer of each sales rep.
func newCaseEnv(t *testing.T) (*env, *fakeTemporal) {
	t.Helper()
	tc := &fakeTemporal{}
	e := newEnvWith(t, Config{}, tc)
	ctx := context.Background()
	hash, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.UserInput{
		{Username: "frank", DisplayName: "Frank", Roles: []string{string(domain.RoleFinance)}},
		{Username: "sam", DisplayName: "Sam", Roles: []string{string(domain.RoleSalesRep)}},
	} {
		u.Email = u.Username + "@example.test"
		if err := e.st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := e.st.SetPasswordHash(ctx, u.Username, hash); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []store.CustomerInput{
		{ID: "cus_acme", Name: "Acme Tools", Email: "acme@example.test", Locale: "en", Tier: "A", Owner: "alice"},
		{ID: "cus_zen", Name: "Zen Motors", Email: "zen@example.test", Locale: "en", Tier: "C", Owner: "sam"},
	} {
		if _, err := e.st.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return e, tc
}

func (f *fakeTemporal) startCount() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.starts) }

// hiddenKey is the idempotency key the form in body carries.
func hiddenKey(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`<input type="hidden" name="key" value="([^"]+)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no key in the form: %s", body)
	}
	return m[1]
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestNewComplaint(t *testing.T) {
	e, tc := newCaseEnv(t)
	carol := e.session("carol")

	w := e.req(http.MethodGet, "/complaints/new", carol, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d: %s", w.Code, body)
	}
	for _, want := range []string{`id="complaint-form"`, `<label for="complaint-customer">`, `<select id="complaint-customer" name="customer_id"`,
		`<option value="cus_acme">Acme Tools (A)</option>`, `<option value="cus_zen">Zen Motors (C)</option>`,
		`<label for="complaint-channel">`, `<option value="phone">Phone</option>`, `<label for="complaint-subject">`,
		`<label for="complaint-description">`, `<label for="complaint-severity">`, `<option value="normal" selected>`,
		`<label for="complaint-category">`, `id="complaint-submit"`, `id="nav-new-complaint"`} {
		if !strings.Contains(body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(body, `id="nav-new-contract"`) {
		t.Error("customer service is offered the contract form")
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Error("inline script or style")
	}
	key := hiddenKey(t, body)

	// A bad value: the form again, the typed values kept, the error on its field.
	bad := url.Values{"key": {key}, "customer_id": {"cus_acme"}, "channel": {"fax"}, "subject": {""},
		"description": {"The <spindle> vibrates\nat 3000 rpm"}, "severity": {"urgent"}, "category": {"product"}}
	w = e.req(http.MethodPost, "/complaints/new", carol, bad)
	body = w.Body.String()
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad form: %d: %s", w.Code, body)
	}
	subj := field(body, "subject")
	if !strings.Contains(subj, `aria-describedby="complaint-subject-error"`) || !strings.Contains(subj, `aria-invalid="true"`) ||
		!regexp.MustCompile(`<p class="field-error" id="complaint-subject-error" role="alert">This is required.</p>`).MatchString(subj) {
		t.Errorf("subject without its error: %s", subj)
	}
	if ch := field(body, "channel"); !strings.Contains(ch, `id="complaint-channel-error"`) || !strings.Contains(ch, "Choose one of the options.") {
		t.Errorf("channel without its error: %s", ch)
	}
	if d := field(body, "description"); strings.Contains(d, "field-error") ||
		!strings.Contains(d, "The &lt;spindle&gt; vibrates\nat 3000 rpm</textarea>") {
		t.Errorf("description not kept as typed: %s", d)
	}
	for _, want := range []string{`<option value="cus_acme" selected>`, `<option value="urgent" selected>`, `<option value="product" selected>`} {
		if !strings.Contains(body, want) {
			t.Errorf("typed choice not kept: %s", want)
		}
	}
	if got := hiddenKey(t, body); got != key {
		t.Errorf("key changed after a 422: %q, was %q", got, key)
	}
	if n := tc.startCount(); n != 0 {
		t.Fatalf("a bad form started %d workflows", n)
	}

	// Filed: the workflow starts, the row is there, and the complaint's page is next
	// with a notice.
	good := url.Values{"key": {key}, "customer_id": {"cus_acme"}, "channel": {"phone"}, "subject": {"Spindle vibrates"},
		"description": {"At 3000 rpm."}, "severity": {"urgent"}, "category": {""}}
	w = e.req(http.MethodPost, "/complaints/new", carol, good)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("file: %d: %s", w.Code, w.Body.String())
	}
	loc := w.Header().Get("Location")
	id := strings.TrimPrefix(loc, "/complaints/")
	if !strings.HasPrefix(id, "cmp_") {
		t.Fatalf("redirect to %q, want /complaints/cmp_…", loc)
	}
	if n := tc.startCount(); n != 1 || tc.starts[0].ID != domain.ComplaintProcess.WorkflowID(id) {
		t.Fatalf("starts %v, want one of %s", tc.starts, domain.ComplaintProcess.WorkflowID(id))
	}
	if n := e.count(`SELECT count(*) FROM complaints WHERE id = $1 AND subject = 'Spindle vibrates' AND severity = 'urgent'
		AND filed_by = 'carol' AND category IS NULL`, id); n != 1 {
		t.Fatalf("complaint row: %d", n)
	}
	// The notice shows on the page the form goes on to: the complaint's own.
	page := e.reqWith(http.MethodGet, loc, carol, w.Result().Cookies())
	if !strings.Contains(page.Body.String(), "Complaint “Spindle vibrates” filed.") {
		t.Errorf("no notice on the complaint's page after filing: %s", page.Body.String())
	}

	// The same form sent again (a double click, a reload): the same complaint, once.
	w = e.req(http.MethodPost, "/complaints/new", carol, good)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != loc {
		t.Fatalf("resent: %d to %q, want 303 to %q", w.Code, w.Header().Get("Location"), loc)
	}
	if n := e.count(`SELECT count(*) FROM complaints WHERE subject = 'Spindle vibrates'`); n != 1 {
		t.Fatalf("%d complaints after a double submit", n)
	}
	if n := tc.startCount(); n != 1 {
		t.Fatalf("%d starts after a double submit", n)
	}

	// The key used with other values (back, changed, sent): the form again with a new
	// key, nothing filed.
	changed := url.Values{}
	for k, v := range good {
		changed[k] = v
	}
	changed.Set("subject", "Spindle vibrates badly")
	w = e.req(http.MethodPost, "/complaints/new", carol, changed)
	body = w.Body.String()
	if w.Code != http.StatusConflict || !strings.Contains(body, `id="complaint-form-error"`) || hiddenKey(t, body) == key ||
		!strings.Contains(body, `value="Spindle vibrates badly"`) {
		t.Fatalf("key reused: %d: %s", w.Code, body)
	}
	if n := e.count(`SELECT count(*) FROM complaints`); n != 1 {
		t.Fatalf("%d complaints after a reused key", n)
	}
}

func TestNewComplaintSalesRep(t *testing.T) {
	e, tc := newCaseEnv(t)
	alice := e.session("alice")
	body := e.req(http.MethodGet, "/complaints/new", alice, nil).Body.String()
	if !strings.Contains(body, `value="cus_acme"`) || strings.Contains(body, `value="cus_zen"`) {
		t.Fatalf("a sales rep is offered customers not theirs: %s", field(body, "customer_id"))
	}
	if !strings.Contains(body, `id="nav-new-contract"`) {
		t.Error("a sales rep is not offered the contract form")
	}
	// Another rep's customer, posted anyway: refused on its field.
	w := e.req(http.MethodPost, "/complaints/new", alice, url.Values{"key": {hiddenKey(t, body)}, "customer_id": {"cus_zen"},
		"channel": {"email"}, "subject": {"Late"}, "description": {"Late again."}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(field(w.Body.String(), "customer_id"), "Choose a customer from the list.") {
		t.Fatalf("other rep's customer: %d: %s", w.Code, field(w.Body.String(), "customer_id"))
	}
	if tc.startCount() != 0 {
		t.Fatal("started a complaint for another rep's customer")
	}
}

func TestNewCaseRefused(t *testing.T) {
	e, tc := newCaseEnv(t)
	frank, dave := e.session("frank"), e.session("dave")
	for _, c := range []struct {
		who, cookie, path string
	}{
		{"frank", frank, "/complaints/new"}, {"frank", frank, "/contracts/new"}, {"dave", dave, "/contracts/new"},
	} {
		w := e.req(http.MethodGet, c.path, c.cookie, nil)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `id="refused"`) {
			t.Errorf("%s GET %s: %d", c.who, c.path, w.Code)
		}
		w = e.req(http.MethodPost, c.path, c.cookie, url.Values{"key": {"k1"}, "customer_id": {"cus_acme"}, "channel": {"phone"},
			"subject": {"S"}, "description": {"D"}, "title": {"T"}, "amount": {"10"}, "amount_currency": {"CNY"},
			"delivery_date": {"2027-01-01"}, "payment_terms": {"30 days"}})
		if w.Code != http.StatusForbidden {
			t.Errorf("%s POST %s: %d", c.who, c.path, w.Code)
		}
	}
	if home := e.req(http.MethodGet, "/", frank, nil).Body.String(); strings.Contains(home, "nav-new-complaint") || strings.Contains(home, "nav-new-contract") {
		t.Error("finance is offered a form it may not use")
	}
	if tc.startCount() != 0 || e.count(`SELECT count(*) FROM complaints`)+e.count(`SELECT count(*) FROM contracts`) != 0 {
		t.Fatal("a refused user filed a case")
	}
	// Signed out: the sign-in page, not the form.
	if w := e.req(http.MethodGet, "/complaints/new", "", nil); w.Code == http.StatusOK && strings.Contains(w.Body.String(), "complaint-form") {
		t.Fatal("the form is shown signed out")
	}
}

func TestNewComplaintUnavailable(t *testing.T) {
	e, tc := newCaseEnv(t)
	carol := e.session("carol")
	key := hiddenKey(t, e.req(http.MethodGet, "/complaints/new", carol, nil).Body.String())
	form := url.Values{"key": {key}, "customer_id": {"cus_acme"}, "channel": {"web"}, "subject": {"No start"}, "description": {"D"}}
	tc.startErr = errors.New("temporal down")
	w := e.req(http.MethodPost, "/complaints/new", carol, form)
	body := w.Body.String()
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(body, `id="complaint-form-error"`) || hiddenKey(t, body) != key {
		t.Fatalf("start failed: %d: %s", w.Code, body)
	}
	if n := e.count(`SELECT count(*) FROM complaints`); n != 0 {
		t.Fatalf("%d complaint rows after a failed start", n)
	}
	tc.mu.Lock()
	tc.startErr = nil
	tc.mu.Unlock()
	if w := e.req(http.MethodPost, "/complaints/new", carol, form); w.Code != http.StatusSeeOther {
		t.Fatalf("sent again: %d: %s", w.Code, w.Body.String())
	}
	if n := e.count(`SELECT count(*) FROM complaints`); n != 1 {
		t.Fatalf("%d complaints after the retry", n)
	}
}

func TestNewContract(t *testing.T) {
	e, tc := newCaseEnv(t)
	alice := e.session("alice")
	w := e.req(http.MethodGet, "/contracts/new", alice, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d: %s", w.Code, body)
	}
	for _, want := range []string{`id="contract-form"`, `<select id="contract-customer"`, `<label for="contract-title">`,
		`<label for="contract-amount" class="sub">`, `<select id="contract-amount-currency" name="amount_currency">`,
		`<label for="contract-discount">`, `<input type="date" id="contract-delivery"`, `<label for="contract-payment">`,
		`id="contract-req-custom_spec" name="requirements" value="custom_spec"`, `<label class="check" for="contract-req-custom_spec">`,
		`<label class="check" for="contract-strategic">`, `<label for="contract-class">`, `id="contract-submit"`} {
		if !strings.Contains(body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(body, `value="cus_zen"`) {
		t.Error("offered another rep's customer")
	}
	key := hiddenKey(t, body)

	bad := url.Values{"key": {key}, "customer_id": {"cus_acme"}, "title": {"Lathes for Acme"}, "amount": {"lots"},
		"amount_currency": {"CNY"}, "delivery_date": {"soon"}, "payment_terms": {"30 days net"},
		"requirements": {"special_packaging"}, "strategic": {"true"}}
	w = e.req(http.MethodPost, "/contracts/new", alice, bad)
	body = w.Body.String()
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad form: %d: %s", w.Code, body)
	}
	if f := field(body, "amount"); !strings.Contains(f, `id="contract-amount-error" role="alert"`) || !strings.Contains(f, `value="lots"`) {
		t.Errorf("amount: %s", f)
	}
	if f := field(body, "delivery_date"); !strings.Contains(f, `id="contract-delivery-error" role="alert">Enter a date.<`) || !strings.Contains(f, `value="soon"`) {
		t.Errorf("delivery date: %s", f)
	}
	if !strings.Contains(body, `value="special_packaging" checked`) || !regexp.MustCompile(`id="contract-strategic"[^>]*checked`).MatchString(body) ||
		!strings.Contains(body, `value="Lathes for Acme"`) || strings.Contains(field(body, "title"), "field-error") {
		t.Error("typed values not kept")
	}
	if tc.startCount() != 0 {
		t.Fatal("a bad contract started")
	}

	good := url.Values{"key": {key}, "customer_id": {"cus_acme"}, "title": {"Lathes for Acme"}, "amount": {"120000"},
		"amount_currency": {"CNY"}, "discount_pct": {"3"}, "delivery_date": {"2027-03-01"}, "payment_terms": {"30 days net"},
		"requirements": {"special_packaging"}}
	w = e.req(http.MethodPost, "/contracts/new", alice, good)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("submit: %d: %s", w.Code, w.Body.String())
	}
	loc := w.Header().Get("Location")
	id := strings.TrimPrefix(loc, "/contracts/")
	if !strings.HasPrefix(id, "ctr_") || tc.startCount() != 1 || tc.starts[0].ID != domain.ContractWorkflowID(id) {
		t.Fatalf("redirect %q, starts %v", loc, tc.starts)
	}
	if n := e.count(`SELECT count(*) FROM contracts WHERE id = $1 AND submitted_by = 'alice' AND class = 'special'`, id); n != 1 {
		t.Fatalf("contract row: %d", n)
	}
	if home := e.reqWith(http.MethodGet, "/", alice, w.Result().Cookies()).Body.String(); !strings.Contains(home, "Contract “Lathes for Acme” submitted for review.") {
		t.Error("no notice after submitting")
	}
	// Sent twice: one contract.
	if w := e.req(http.MethodPost, "/contracts/new", alice, good); w.Code != http.StatusSeeOther || w.Header().Get("Location") != loc {
		t.Fatalf("resent: %d %q", w.Code, w.Header().Get("Location"))
	}
	if n := e.count(`SELECT count(*) FROM contracts`); n != 1 || tc.startCount() != 1 {
		t.Fatalf("%d contracts, %d starts after a double submit", n, tc.startCount())
	}
}

func TestNewComplaintChinese(t *testing.T) {
	e, _ := newCaseEnv(t)
	body := e.req(http.MethodGet, "/complaints/new", e.session("cathy"), nil).Body.String()
	for _, want := range []string{"<h1>新建投诉</h1>", ">电话</option>", "提交投诉", `id="nav-new-complaint">新建投诉</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("zh-CN form lacks %s", want)
		}
	}
}

func TestInboxFilters(t *testing.T) {
	e, _ := newCaseEnv(t)
	now := e.clock.now()
	for _, c := range []struct{ id, customer string }{{"cmp_a1", "cus_acme"}, {"cmp_a2", "cus_zen"}} {
		_, err := e.st.Pool.Exec(context.Background(), `INSERT INTO complaints (id, workflow_id, customer_id, channel, subject,
			description, status, severity, filed_by, received_at, response_due_at, updated_at)
			VALUES ($1, 'complaint/'||$1, $2, 'phone', 'S', 'D', 'received', 'normal', 'carol', $3, $3, $3)`, c.id, c.customer, now)
		if err != nil {
			t.Fatal(err)
		}
	}
	e.insertTask(taskRow{id: "a1", step: domain.StepEvaluate, customer: "Acme Tools", created: now, due: now.Add(time.Hour)})
	e.insertTask(taskRow{id: "a2", step: domain.StepRespond, customer: "Zen Motors", created: now, due: now.Add(30 * time.Hour), level: 1})
	e.insertTask(taskRow{id: "a3", process: domain.ProcessContract, step: domain.StepReview, created: now, due: now.Add(100 * time.Hour)})
	carol := e.session("carol")
	rows := func(query string) []string {
		t.Helper()
		body := e.req(http.MethodGet, "/?tab=group&"+query, carol, nil).Body.String()
		var out []string
		for _, id := range []string{"a1", "a2", "a3"} {
			if strings.Contains(body, `id="task-`+id+`"`) {
				out = append(out, id)
			}
		}
		return out
	}
	dueBy := now.Add(72 * time.Hour).Format(time.DateOnly)
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{"a1", "a2", "a3"}},
		{"process=contract", []string{"a3"}},
		{"step=respond", []string{"a2"}},
		{"tier=A", []string{"a1"}},
		{"tier=C", []string{"a2"}},
		{"escalated=true", []string{"a2"}},
		{"escalated=false", []string{"a1", "a3"}},
		{"due_before=" + dueBy, []string{"a1", "a2"}},
		// by the end of the day a2 falls due on (in carol's zone, UTC here), not its start
		{"due_before=" + now.Add(30*time.Hour).Format(time.DateOnly), []string{"a1", "a2"}},
		{"tier=Z&escalated=maybe&due_before=soon", []string{"a1", "a2", "a3"}}, // values not offered: ignored
	} {
		if got := rows(c.query); strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%q: %v, want %v", c.query, got, c.want)
		}
	}
	body := e.req(http.MethodGet, "/?tab=group&step=respond&tier=C", carol, nil).Body.String()
	for _, want := range []string{`<label for="filter-step">`, `<option value="respond" selected>`, `<option value="C" selected>`,
		`<label for="filter-tier">`, `<label for="filter-escalated">`, `<label for="filter-due">`, `id="filter-submit"`,
		`<input type="hidden" name="tab" value="group">`, `href="/?step=respond&amp;tab=mine&amp;tier=C" id="tab-mine"`, `id="filter-clear"`} {
		if !strings.Contains(body, want) {
			t.Errorf("filtered inbox lacks %s", want)
		}
	}
	// A claim from a filtered inbox comes back to it filtered.
	if r := row(body, "a2"); !strings.Contains(r, `<input type="hidden" name="filters" value="step=respond&amp;tier=C">`) {
		t.Fatalf("claim form without the filters: %s", r)
	}
	w := e.req(http.MethodPost, "/tasks/a2/claim", carol, url.Values{"tab": {"group"}, "filters": {"step=respond&tier=C&bogus=1"}})
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "/?tab=mine&step=respond&tier=C" {
		t.Fatalf("claim: %d to %q", w.Code, loc)
	}
}

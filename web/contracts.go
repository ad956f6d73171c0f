package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The contract's pages: its list, a contract with its review record, revisions and
// timeline, the contract ledger, and the new-contract form, read and submitted through
// api.Server's ListContracts, ContractFor, ContractTimeline, ListLedger and
// SubmitContract.
func init() {
	caseProcesses = append(caseProcesses, caseProcess{name: domain.ProcessContract, mayFile: api.Access.MaySubmitContract,
		pages: []processPage{
			{http.MethodGet, "", false, (*App).contracts},
			{http.MethodGet, "/ledger", false, (*App).ledger},
			{http.MethodGet, "/:id", false, (*App).contract},
			{http.MethodGet, "/new", false, (*App).newContractPage},
			{http.MethodPost, "/new", true, (*App).submitContract},
		}})
	notices = append(notices, "notice.contract_submitted")
}

type contractRow struct {
	ID, Title, Customer, Class, Status, Amount, LedgerNo string
	Revision                                             int
	SubmittedAt                                          time.Time
	ApprovedAt                                           *time.Time
}

type contractsData struct {
	page
	Statuses, Classes []filterOption
	Rows              []contractRow
	Next              string
}

func newContractRow(p page, st domain.ContractState) contractRow {
	return contractRow{ID: st.ID, Title: st.Title, Customer: st.CustomerName, Class: className(p, st.Class),
		Status: statusName(p, st.Status), Amount: money(st.Terms.Amount), LedgerNo: st.LedgerNo, Revision: st.Revision,
		SubmittedAt: st.SubmittedAt, ApprovedAt: st.ApprovedAt}
}

// contracts is the contract list with its filters (status, class), paged with the
// API's cursor.
func (a *App) contracts(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	status := queryValue(r, "status", domain.ContractStatuses)
	class := queryValue(r, "class", domain.ContractClasses)
	list, next, err := a.api.ListContracts(r.Context(), *u, store.ContractFilter{Status: status, Class: class,
		Limit: casePageSize, Cursor: queryCursor(r, store.ContractsCursor(status))})
	if a.refused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("contracts.title")
	d := contractsData{page: p, Statuses: filterOptions(p, domain.ContractStatuses, status, statusName),
		Classes: filterOptions(p, domain.ContractClasses, class, className),
		Next:    nextLink("/contracts", url.Values{"status": {status}, "class": {class}}, next)}
	for _, st := range list {
		d.Rows = append(d.Rows, newContractRow(p, st))
	}
	a.render(w, http.StatusOK, "contracts", d)
}

type ledgerData struct {
	page
	Rows []contractRow
	Next string
}

// ledger is the contract ledger: the approved contracts by ledger number.
func (a *App) ledger(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	list, next, err := a.api.ListLedger(r.Context(), *u, store.LedgerFilter{Limit: casePageSize,
		Cursor: queryCursor(r, store.CursorContractLedger)})
	if a.refused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("ledger.title")
	d := ledgerData{page: p, Next: nextLink("/contracts/ledger", url.Values{}, next)}
	for _, st := range list {
		d.Rows = append(d.Rows, newContractRow(p, st))
	}
	a.render(w, http.StatusOK, "ledger", d)
}

// reviewRow is one decision of a contract's review record.
type reviewRow struct {
	Step, Reviewer, Decision, Comment string
	Data                              []fact
	At                                time.Time
}

// revisionGroup is the review record of one revision of a contract.
type revisionGroup struct {
	Revision int
	Current  bool // the revision under review or in force
	Reviews  []reviewRow
}

type contractData struct {
	page
	ID, Title        string
	Terms, Amendment []fact
	Rejected         []fact // the revision last sent back for changes, when there was one
	RejectedRevision int
	Status, LedgerNo string
	Revisions        []revisionGroup
	Timeline         []timelineRow
	TimelineID       string
}

// contract is one contract: its terms, class, status and route, its ledger number and
// an amendment under review; its review record grouped by revision, newest first; and
// its timeline. One the user may not see is the 404 page, as in the JSON API.
func (a *App) contract(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	row, err := a.api.ContractFor(r.Context(), *u, caseID(r))
	if a.caseRefused(w, r, u, err) {
		return
	}
	tl, err := a.api.ContractTimeline(r.Context(), row)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	st := row.State
	p := a.newPage(r, u)
	p.Title = st.Title
	p.Notice = a.takeFlash(w, r, p) // "filed" or "submitted", from the new-case form
	d := contractData{page: p, ID: st.ID, Title: st.Title, Status: statusName(p, st.Status), LedgerNo: st.LedgerNo,
		Timeline: timeline(p, tl), TimelineID: "contract-timeline"}
	add := func(to *[]fact, key, text string, long bool) {
		if text != "" {
			*to = append(*to, fact{Key: key, Label: fieldLabel(p, key), Text: text, Long: long})
		}
	}
	add(&d.Terms, "status", d.Status, false)
	add(&d.Terms, "ledger_no", st.LedgerNo, false)
	if st.ApprovedAt != nil {
		add(&d.Terms, "approved_at", p.When(*st.ApprovedAt), false)
	}
	add(&d.Terms, "customer_name", st.CustomerName, false)
	versionFacts(p, &d.Terms, st.ContractVersion, add)
	steps := make([]string, len(st.CurrentSteps))
	for i, s := range st.CurrentSteps {
		steps[i] = stepName(p, s)
	}
	add(&d.Terms, "current_steps", strings.Join(steps, ", "), false)
	add(&d.Terms, "submitted_by", st.SubmittedBy, false)
	add(&d.Terms, "submitted_at", p.When(st.SubmittedAt), false)
	if st.Amendments > 0 {
		add(&d.Terms, "amendments", strconv.Itoa(st.Amendments), false)
	}
	if am := st.Amendment; am != nil {
		add(&d.Amendment, "reason", am.Reason, true)
		add(&d.Amendment, "requested_by", am.RequestedBy, false)
		add(&d.Amendment, "requested_at", p.When(am.RequestedAt), false)
		versionFacts(p, &d.Amendment, am.ContractVersion, add)
	}
	if rj := st.Rejected; rj != nil {
		d.RejectedRevision = rj.Revision
		versionFacts(p, &d.Rejected, *rj, add)
	}
	// The review record, by revision (newest first), each in the order of its decisions.
	for _, rv := range row.ReviewRecord {
		i := slices.IndexFunc(d.Revisions, func(g revisionGroup) bool { return g.Revision == rv.Revision })
		if i < 0 {
			d.Revisions = append(d.Revisions, revisionGroup{Revision: rv.Revision})
			i = len(d.Revisions) - 1
		}
		d.Revisions[i].Reviews = append(d.Revisions[i].Reviews, reviewRow{Step: stepName(p, rv.Step), Reviewer: rv.Reviewer,
			Decision: actionLabel(p, rv.Decision), Comment: rv.Comment, Data: details(p, rv.Data), At: rv.At})
	}
	slices.SortStableFunc(d.Revisions, func(x, y revisionGroup) int { return y.Revision - x.Revision })
	for i := range d.Revisions {
		d.Revisions[i].Current = d.Revisions[i].Revision == st.Revision
	}
	a.render(w, http.StatusOK, "contract", d)
}

// versionFacts adds a contract version's revision, class, route and terms to facts.
func versionFacts(p page, facts *[]fact, v domain.ContractVersion, add func(*[]fact, string, string, bool)) {
	add(facts, "revision", strconv.Itoa(v.Revision), false)
	add(facts, "class", className(p, v.Class), false)
	reasons := make([]string, len(v.ClassReasons))
	for i, r := range v.ClassReasons {
		reasons[i] = reasonName(p, r)
	}
	add(facts, "class_reasons", strings.Join(reasons, ", "), false)
	route := make([]string, len(v.Route))
	for i, s := range v.Route {
		route[i] = stepName(p, s)
	}
	add(facts, "route", strings.Join(route, " → "), false)
	t := v.Terms
	add(facts, "title", t.Title, false)
	add(facts, "amount", money(t.Amount), false)
	if t.DiscountPct != "" {
		add(facts, "discount_pct", t.DiscountPct.String(), false)
	}
	add(facts, "delivery_date", t.DeliveryDate, false)
	add(facts, "payment_terms", t.PaymentTerms, true)
	reqs := t.Requirements.Names()
	for i, r := range reqs {
		reqs[i] = fieldLabel(p, r)
	}
	add(facts, "requirements", strings.Join(reqs, ", "), false)
	if t.Strategic {
		add(facts, "strategic", p.T("task.yes"), false)
	}
}

var contractFields = []string{"customer_id", "title", "amount", "discount_pct", "delivery_date", "payment_terms",
	"requirements", "strategic", "class"}

// requirementNames are the contract requirements, as ContractRequirements names them.
var requirementNames = domain.ContractRequirements{CustomSpec: true, SpecialQuality: true, SpecialPackaging: true,
	NonStandardDelivery: true, NonStandardPayment: true}.Names()

func (a *App) newContractPage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok || !a.mayFile(w, r, u, domain.ProcessContract) {
		return
	}
	a.showContractForm(w, r, u, http.StatusOK, newCaseForm{})
}

func (a *App) showContractForm(w http.ResponseWriter, r *http.Request, u *store.User, status int, fv newCaseForm) {
	p := a.newPage(r, u)
	p.Title = p.T("new.contract.title")
	p.Notice = a.takeFlash(w, r, p)
	cust, err := a.customerField(r, u, p, domain.ProcessContract, "contract", fv)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	v := fv.values
	currency := v.Get("amount_currency")
	if currency == "" {
		currency = "CNY"
	}
	var currencies []formOption
	for _, c := range a.api.ContractCurrencies() {
		currencies = append(currencies, formOption{Value: c, Label: c, Selected: c == currency})
	}
	reqs := newField{Name: "requirements", ID: "contract-req", Label: fieldLabel(p, "requirements"), Type: "checks",
		Hint: p.T("new.requirements_hint")}
	for _, n := range requirementNames {
		reqs.Options = append(reqs.Options, formOption{Value: n, Label: p.T("new.req." + n),
			Selected: slices.Contains(v["requirements"], n)})
	}
	d := newCaseData{page: p, Action: "/contracts/new", Prefix: "contract", Submit: p.T("new.contract.submit"),
		NoCustomers: len(cust.Options) == 0}
	d.Fields = []newField{cust,
		{Name: "title", ID: "contract-title", Label: fieldLabel(p, "title"), Type: "text", Required: true,
			Max: domain.MaxContractTitle, Value: v.Get("title")},
		{Name: "amount", ID: "contract-amount", Label: fieldLabel(p, "amount"), Type: "money", Required: true,
			Value: v.Get("amount"), Currency: currency, Currencies: currencies},
		{Name: "discount_pct", ID: "contract-discount", Label: fieldLabel(p, "discount_pct"), Type: "decimal",
			Value: v.Get("discount_pct"), Hint: p.T("new.discount_hint")},
		{Name: "delivery_date", ID: "contract-delivery", Label: fieldLabel(p, "delivery_date"), Type: "date", Required: true,
			Value: v.Get("delivery_date")},
		{Name: "payment_terms", ID: "contract-payment", Label: fieldLabel(p, "payment_terms"), Type: "textarea", Required: true,
			Max: domain.MaxContractPaymentTerms, Value: v.Get("payment_terms")},
		reqs,
		{Name: "strategic", ID: "contract-strategic", Label: p.T("new.strategic"), Type: "checkbox",
			Checked: v.Get("strategic") != ""},
		{Name: "class", ID: "contract-class", Label: p.T("new.class"), Type: "select", Choose: true,
			Options: options(p, domain.ContractClasses, v.Get("class")), Hint: p.T("new.class_hint")},
	}
	finish(p, &d, fv)
	a.render(w, status, "contract_new", d)
}

// submitContract submits the posted contract through api.Server.SubmitContract.
func (a *App) submitContract(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	v := r.PostForm
	terms := domain.ContractTerms{CustomerID: v.Get("customer_id"), Title: v.Get("title"),
		Amount:       domain.Money{Amount: strings.TrimSpace(v.Get("amount")), Currency: strings.ToUpper(strings.TrimSpace(v.Get("amount_currency")))},
		DiscountPct:  json.Number(strings.TrimSpace(v.Get("discount_pct"))),
		DeliveryDate: strings.TrimSpace(v.Get("delivery_date")), PaymentTerms: v.Get("payment_terms"),
		Strategic: v.Get("strategic") != "", Class: v.Get("class")}
	for _, n := range v["requirements"] {
		switch n {
		case "custom_spec":
			terms.Requirements.CustomSpec = true
		case "special_quality":
			terms.Requirements.SpecialQuality = true
		case "special_packaging":
			terms.Requirements.SpecialPackaging = true
		case "non_standard_delivery":
			terms.Requirements.NonStandardDelivery = true
		case "non_standard_payment":
			terms.Requirements.NonStandardPayment = true
		}
	}
	out, err := a.api.SubmitContract(r.Context(), *u, terms, v.Get("key"))
	if err == nil {
		a.setFlash(w, "notice.contract_submitted", terms.Title)
		http.Redirect(w, r, "/contracts/"+url.PathEscape(out.ID), http.StatusSeeOther)
		return
	}
	if fv, status, ok := a.formProblem(w, r, u, err, contractFields); ok {
		a.showContractForm(w, r, u, status, fv)
	}
}

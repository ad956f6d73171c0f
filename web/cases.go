package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The case pages: the complaint and contract lists with their filters, one complaint
// with its timeline, one contract with its review record, revisions and timeline, and
// the contract ledger. They read only through the API's functions (api.Server's
// ListComplaints, ComplaintFor, ListContracts, ContractFor, ContractTimeline and
// ListLedger), which decide who sees what as the JSON API does: a case the user may not
// see is the app's 404 page, a list the user may not read a 403 page.

// casePageSize is how many cases one list page shows.
const casePageSize = 25

// filterOption is an option of a list's filter select.
type filterOption struct {
	Value, Label string
	Selected     bool
}

// filterOptions are the options of a select over values, the empty one ("any") first.
func filterOptions(p page, values []string, selected string, label func(page, string) string) []filterOption {
	out := []filterOption{{Value: "", Label: p.T("cases.any"), Selected: selected == ""}}
	for _, v := range values {
		out = append(out, filterOption{Value: v, Label: label(p, v), Selected: v == selected})
	}
	return out
}

// queryValue is the query parameter name of r when it is one of values ("" otherwise).
func queryValue(r *http.Request, name string, values []string) string {
	if v := r.URL.Query().Get(name); slices.Contains(values, v) {
		return v
	}
	return ""
}

// queryText is the query parameter name of r as short text ("" when it is not).
func queryText(r *http.Request, name string) string {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || len(v) > 100 {
		return ""
	}
	return v
}

// queryCursor is the cursor query parameter of r when it is one of list ("" otherwise).
func queryCursor(r *http.Request, list string) string {
	c := r.URL.Query().Get("cursor")
	if _, _, err := store.DecodeCursor(c, list); err != nil {
		return ""
	}
	return c
}

// nextLink is the link of a list's next page: path with the filters and the cursor.
func nextLink(path string, q url.Values, next string) string {
	if next == "" {
		return ""
	}
	v := url.Values{}
	for k, vals := range q {
		if len(vals) > 0 && vals[0] != "" {
			v.Set(k, vals[0])
		}
	}
	v.Set("cursor", next)
	return path + "?" + v.Encode()
}

// statusName is a case status in the page's language.
func statusName(p page, status string) string {
	return p.name("status", status)
}

// className is a contract class in the page's language.
func className(p page, class string) string {
	if id := "class." + class; p.Has(id) {
		return p.T(id)
	}
	return class
}

// reasonName is why a contract has its class (a requirement or a reason) in the page's
// language.
func reasonName(p page, reason string) string {
	if id := "reason." + reason; p.Has(id) {
		return p.T(id)
	}
	return fieldLabel(p, reason)
}

// eventName is an audit event in the page's language.
func eventName(p page, event string) string {
	return p.name("event", event)
}

// money is an amount with its currency.
func money(m domain.Money) string {
	if m.Amount == "" {
		return ""
	}
	return m.Amount + " " + m.Currency
}

type complaintRow struct {
	ID, Subject, Customer, Status, Severity string
	ResponseDue                             time.Time
	Escalation                              int
}

type complaintsData struct {
	page
	Statuses []filterOption
	Customer string
	Rows     []complaintRow
	Next     string
}

// complaints is the complaint list with its filters (status, customer id), paged with
// the API's cursor.
func (a *App) complaints(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	status := queryValue(r, "status", domain.ComplaintStatuses)
	customer := queryText(r, "customer")
	list, next, err := a.api.ListComplaints(r.Context(), *u, store.ComplaintFilter{Status: status, CustomerID: customer,
		Limit: casePageSize, Cursor: queryCursor(r, store.CursorComplaints)})
	if a.refused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("complaints.title")
	d := complaintsData{page: p, Statuses: filterOptions(p, domain.ComplaintStatuses, status, statusName), Customer: customer,
		Next: nextLink("/complaints", url.Values{"status": {status}, "customer": {customer}}, next)}
	for _, c := range list {
		d.Rows = append(d.Rows, complaintRow{ID: c.ID, Subject: c.Subject, Customer: c.CustomerName,
			Status: statusName(p, c.Status), Severity: optionLabel(p, c.Severity), ResponseDue: c.ResponseDueAt,
			Escalation: c.EscalationLevel})
	}
	a.render(w, http.StatusOK, "complaints", d)
}

// fact is one labelled value of a case page.
type fact struct {
	Key, Label, Text string
	Long             bool
}

// timelineRow is one audit event as a case page shows it.
type timelineRow struct {
	At           time.Time
	Actor, Event string
	Detail       []fact
}

type complaintData struct {
	page
	ID, Subject string
	Facts       []fact
	Timeline    []timelineRow
	TimelineID  string
}

// complaint is one complaint with its timeline; one the user may not see is the 404
// page, as in the JSON API.
func (a *App) complaint(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	c, tl, err := a.api.ComplaintFor(r.Context(), *u, caseID(r))
	if a.caseRefused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = c.Subject
	p.Notice = a.takeFlash(w, r, p) // "filed" or "submitted", from the new-case form
	d := complaintData{page: p, ID: c.ID, Subject: c.Subject, Timeline: timeline(p, tl),
		TimelineID: "complaint-timeline"}
	add := func(key, text string, long bool) {
		if text != "" {
			d.Facts = append(d.Facts, fact{Key: key, Label: fieldLabel(p, key), Text: text, Long: long})
		}
	}
	add("status", statusName(p, c.Status), false)
	add("customer_name", c.CustomerName, false)
	add("channel", optionLabel(p, c.Channel), false)
	add("severity", optionLabel(p, c.Severity), false)
	if c.Category != "" {
		add("category", optionLabel(p, c.Category), false)
	}
	add("order_id", c.OrderID, false)
	add("assignee", c.Assignee, false)
	add("filed_by", c.FiledBy, false)
	add("received_at", p.When(c.ReceivedAt), false)
	add("response_due_at", p.When(c.ResponseDueAt), false)
	if c.RespondedAt != nil {
		add("responded_at", p.When(*c.RespondedAt), false)
	}
	add("escalation_level", strconv.Itoa(c.EscalationLevel), false)
	if res := c.Resolution; res != nil {
		text := optionLabel(p, res.Type)
		if res.Summary != "" {
			text += ": " + res.Summary
		}
		if res.Amount != nil && res.Amount.Amount != "" {
			text += " (" + money(*res.Amount) + ")"
		}
		add("resolved_with", text, true)
	}
	if c.ClosedAt != nil {
		add("closed_at", p.When(*c.ClosedAt), false)
	}
	add("description", c.Description, true)
	a.render(w, http.StatusOK, "complaint", d)
}

// caseLink is the page of case id of the process, "" for a process without case pages.
func caseLink(process, id string) string {
	switch process {
	case domain.ProcessComplaint:
		return "/complaints/" + url.PathEscape(id)
	case domain.ProcessContract:
		return "/contracts/" + url.PathEscape(id)
	}
	return ""
}

// caseID is the {id} of a case page's path ("" when it is not text: nothing has it).
func caseID(r *http.Request) string {
	id := r.PathValue("id")
	if !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return ""
	}
	return id
}

// caseRefused answers a case the user may not see (or that does not exist) with the
// 404 page, never saying which; other errors as refused does. It reports whether err
// was not nil.
func (a *App) caseRefused(w http.ResponseWriter, r *http.Request, u *store.User, err error) bool {
	if p, isProblem := problemOf(err); isProblem && p.Status == http.StatusNotFound {
		a.notFound(w, r, u)
		return true
	}
	return a.refused(w, r, u, err)
}

// timeline is a case's audit events for the page: times in the user's zone, events
// named in the page's language, details as labelled values.
func timeline(p page, entries []store.TimelineEntry) []timelineRow {
	out := make([]timelineRow, 0, len(entries))
	for _, e := range entries {
		out = append(out, timelineRow{At: e.At, Actor: e.Actor, Event: eventName(p, e.Event), Detail: details(p, e.Detail)})
	}
	return out
}

// detailHidden are entries of an audit event's detail that are not for people.
var detailHidden = []string{"task_id", "key"}

// details renders an audit event's detail map as labelled values, in name order.
func details(p page, m map[string]any) []fact {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !slices.Contains(detailHidden, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []fact
	for _, k := range keys {
		if text := detailText(p, k, m[k]); text != "" {
			label := fieldLabel(p, k)
			if p.Has("detail." + k) { // a name that reads otherwise in an event (an e-mail's "to")
				label = p.T("detail." + k)
			}
			out = append(out, fact{Key: k, Label: label, Text: text})
		}
	}
	return out
}

// detailText is one detail value as text: steps, statuses and options named, times in
// the user's zone, lists and maps flattened.
func detailText(p page, key string, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if ts, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return p.When(ts)
		}
		switch {
		case key == "step":
			return stepName(p, x)
		case key == "status":
			return statusName(p, x)
		case key == "class":
			return className(p, x)
		case key == "class_reasons":
			return reasonName(p, x)
		case key == "route" || key == "current_steps":
			return stepName(p, x)
		case key == "action" || key == "decision":
			return actionLabel(p, x)
		case slices.Contains(enumKeys, key):
			return optionLabel(p, x)
		}
		return x
	case bool:
		if x {
			return p.T("task.yes")
		}
		return p.T("task.no")
	case []any:
		parts := make([]string, 0, len(x))
		for _, it := range x {
			if s := detailText(p, key, it); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		if amt, ok := x["amount"].(string); ok {
			if cur, ok := x["currency"].(string); ok && len(x) == 2 {
				return amt + " " + cur
			}
		}
		var parts []string
		for _, f := range details(p, x) {
			parts = append(parts, f.Label+": "+f.Text)
		}
		return strings.Join(parts, "; ")
	}
	return fmt.Sprint(v)
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

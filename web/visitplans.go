package web

import (
	"fmt"
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

// The return-visit plan's pages (issue 13): the plans list, a plan with its visits,
// their outcomes and its completion rate, and the plan form (new, and edit while a
// draft) with a table of visits that grows a row at a time; the plan's maker submits it
// from its page. Read and acted on through api.Server's ListVisitPlans,
// VisitPlanDetailFor, MakeVisitPlan and VisitPlanAction. The deputy GM's approval and
// the rep's visit record are task pages.
func init() {
	caseProcesses = append(caseProcesses, caseProcess{name: domain.ProcessVisitPlan, path: domain.VisitPlanProcess.Path,
		mayFile: api.Access.MayMakeVisitPlan,
		pages: []processPage{
			{http.MethodGet, "", false, (*App).visitPlans},
			{http.MethodGet, "/new", false, (*App).newVisitPlanPage},
			{http.MethodPost, "/new", true, (*App).makeVisitPlan},
			{http.MethodGet, "/:id", false, (*App).visitPlan},
			{http.MethodGet, "/:id/edit", false, (*App).editVisitPlanPage},
			{http.MethodPost, "/:id/edit", true, (*App).editVisitPlan},
			{http.MethodPost, "/:id/submit", true, (*App).submitVisitPlan},
		},
	})
	notices = append(notices, "notice.visit_plan_made", "notice.visit_plan_saved", "notice.visit_plan_submitted",
		"notice.visit_plan_not_draft")
}

// visitPlansPath is where the plans' pages are.
var visitPlansPath = "/" + domain.VisitPlanProcess.Path

type visitPlanRow struct {
	ID, Title, Status, CreatedBy, FirstVisit string
	Visits                                   int
	Created                                  time.Time
}

type visitPlansData struct {
	page
	Statuses []filterOption
	Rows     []visitPlanRow
	Next     string
	MayMake  bool
}

// visitPlans lists the plans, newest first, filtered by status.
func (a *App) visitPlans(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	status := queryValue(r, "status", domain.PlanStatuses)
	list, next, err := a.api.ListVisitPlans(r.Context(), *u, store.VisitPlanFilter{Status: status, Limit: casePageSize,
		Cursor: queryCursor(r, store.CursorVisitPlans)})
	if a.refused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("visit_plans.title")
	p.Notice = a.takeFlash(w, r, p)
	d := visitPlansData{page: p, Statuses: filterOptions(p, domain.PlanStatuses, status, statusName),
		Next: nextLink(visitPlansPath, url.Values{"status": {status}}, next), MayMake: a.access.MayMakeVisitPlan(*u)}
	for _, st := range list {
		row := visitPlanRow{ID: st.ID, Title: st.Title, Status: statusName(p, st.Status), CreatedBy: st.CreatedBy,
			Visits: len(st.Plan.Visits), Created: st.CreatedAt}
		if i := st.Plan.FirstVisit(); i >= 0 {
			row.FirstVisit = st.Plan.Visits[i].PlannedOn
		}
		d.Rows = append(d.Rows, row)
	}
	a.render(w, http.StatusOK, "visitplans", d)
}

// plannedVisitRow is one visit of a plan as its page shows it: as planned and, once the
// plan is approved, as it runs.
type plannedVisitRow struct {
	N                                           int
	Customer, Method, PlannedOn, Rep, Purpose   string
	Status, Agreed, Recorded, Discussed, Error  string
	Satisfaction                                int
	Problems, Needs, ComplaintID, ComplaintLink string
	NeedNotified, Done                          bool
}

type decisionRow struct {
	Round                      int
	Decision, By, Comment, Cls string
	At                         time.Time
}

type visitPlanData struct {
	page
	ID, PlanTitle, Status, StatusKey string
	Facts                            []fact
	Visits                           []plannedVisitRow
	Decisions                        []decisionRow
	Progress                         string // "2 of 3 visits recorded (66.7 %)"
	Rate                             string // the completion rate, "" with no visit running
	MayEdit                          bool   // the maker, while a draft
	Key                              string // the submit form's idempotency key
	SubmitError                      string
	Timeline                         []timelineRow
	TimelineID                       string
}

func (a *App) visitPlan(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	a.showVisitPlan(w, r, u, http.StatusOK, nil, "")
}

// showVisitPlan is the page of plan {id}: one u may not see is the 404 page. errs are
// a refused submission's errors (visits[i].planned_on), other its error naming no visit.
func (a *App) showVisitPlan(w http.ResponseWriter, r *http.Request, u *store.User, status int, errs []domain.FieldError, other string) {
	ctx := r.Context()
	d0, err := a.api.VisitPlanDetailFor(ctx, *u, caseID(r))
	if a.caseRefused(w, r, u, err) {
		return
	}
	st := d0.VisitPlanState
	p := a.newPage(r, u)
	p.Title = st.Title
	p.Notice = a.takeFlash(w, r, p)
	names, err := a.customerNames(r, u)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	d := visitPlanData{page: p, ID: st.ID, PlanTitle: st.Title, Status: statusName(p, st.Status), StatusKey: st.Status,
		Timeline: timeline(p, d0.Timeline), TimelineID: "visit-plan-timeline", SubmitError: other,
		MayEdit: st.Status == domain.PlanDraft && a.access.MayEditVisitPlan(*u, st), Key: newKey()}
	add := func(key, text string) {
		if text != "" {
			d.Facts = append(d.Facts, fact{Key: key, Label: fieldLabel(p, key), Text: text})
		}
	}
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return p.When(*t)
	}
	add("status", d.Status)
	add("created_by", st.CreatedBy)
	add("created_at", p.When(st.CreatedAt))
	if st.Round > 0 {
		add("round", strconv.Itoa(st.Round))
	}
	add("submitted_by", st.SubmittedBy)
	add("submitted_at", when(st.SubmittedAt))
	add("approved_by", st.ApprovedBy)
	add("approved_at", when(st.ApprovedAt))
	add("completed_at", when(st.CompletedAt))
	if d0.Total > 0 {
		d.Rate = d0.CompletionRate
		d.Progress = p.T("visit_plan.progress", "Done", d0.Completed, "Total", d0.Total, "Rate", d0.CompletionRate)
		add("average_satisfaction", d0.AverageSatisfaction)
	}
	running := map[int]domain.VisitOutcome{}
	for _, v := range d0.Visits {
		running[v.Seq] = v
	}
	for i, v := range st.Plan.Visits {
		row := plannedVisitRow{N: i + 1, Customer: names[v.CustomerID], Method: optionLabel(p, v.Method), PlannedOn: v.PlannedOn,
			Rep: v.Rep, Purpose: v.Purpose, Status: "–"}
		if row.Customer == "" {
			row.Customer = v.CustomerID
		}
		if o, ok := running[i+1]; ok {
			row.Customer = o.Customer.Name
			row.Status, row.Done = statusName(p, o.Status), o.Status == domain.VisitCompleted
			row.Agreed = when(o.AgreedAt)
			if rec := o.Record; rec != nil {
				row.Recorded = p.When(rec.At) + " · " + optionLabel(p, rec.Method) + " · " + o.RecordedBy
				topics := make([]string, len(rec.Discussed))
				for j, t := range rec.Discussed {
					topics[j] = optionLabel(p, t)
				}
				row.Discussed = strings.Join(topics, ", ")
				row.Satisfaction, row.Problems, row.Needs = rec.Satisfaction, rec.Problems, rec.Needs
			}
			if o.ComplaintID != "" {
				row.ComplaintID = o.ComplaintID
				if ok, err := a.api.SeesCase(ctx, *u, domain.ProcessComplaint, o.ComplaintID); err == nil && ok {
					row.ComplaintLink = caseLink(domain.ProcessComplaint, o.ComplaintID)
				}
			}
			row.NeedNotified = o.NeedNotified
		}
		for _, e := range errs {
			if e.Field == fmt.Sprintf("visits[%d].planned_on", i) {
				row.Error = errorText(p, e.Message)
			}
		}
		d.Visits = append(d.Visits, row)
	}
	for _, dec := range st.Decisions {
		d.Decisions = append(d.Decisions, decisionRow{Round: dec.Round, Decision: actionLabel(p, dec.Decision), By: dec.By,
			Comment: dec.Comment, At: dec.At, Cls: dec.Decision})
	}
	a.render(w, status, "visitplan", d)
}

// customerNames are the names of the customers u may plan visits for (every customer,
// for a plan's viewers), by id.
func (a *App) customerNames(r *http.Request, u *store.User) (map[string]string, error) {
	list, err := a.api.FilingCustomers(r.Context(), *u, domain.ProcessVisitPlan)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list))
	for _, cu := range list {
		out[cu.ID] = cu.Name
	}
	return out, nil
}

// submitVisitPlan submits the plan through api.Server.VisitPlanAction: its page with a
// notice; a visit too soon (422) the page again with the error on that visit's row; a
// plan no longer a draft (409) a notice.
func (a *App) submitVisitPlan(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := caseID(r)
	_, err := a.api.VisitPlanAction(r.Context(), *u, id, domain.UpdateSubmitVisitPlan, r.PostForm.Get("key"),
		domain.SubmitVisitPlanRequest{})
	if err == nil {
		a.setFlash(w, "notice.visit_plan_submitted", id)
		http.Redirect(w, r, visitPlansPath+"/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	prob, isProblem := problemOf(err)
	switch {
	case isProblem && prob.Status == http.StatusUnprocessableEntity:
		p := a.newPage(r, u)
		var other []string
		for _, fe := range prob.Errors {
			if !visitRows.field.MatchString(fe.Field) {
				other = append(other, fe.Field+": "+errorText(p, fe.Message))
			}
		}
		msg := p.T("visit_plan.too_soon")
		if len(other) > 0 {
			msg = strings.Join(other, " ")
		}
		a.showVisitPlan(w, r, u, prob.Status, prob.Errors, msg)
	case isProblem && prob.Status == http.StatusConflict:
		a.setFlash(w, "notice.visit_plan_not_draft", id)
		http.Redirect(w, r, visitPlansPath+"/"+url.PathEscape(id), http.StatusSeeOther)
	case isProblem && (prob.Status == http.StatusServiceUnavailable || prob.Status == http.StatusGatewayTimeout):
		a.showVisitPlan(w, r, u, prob.Status, nil, a.newPage(r, u).T("order.error.unavailable"))
	default:
		a.caseRefused(w, r, u, err)
	}
}

// --- the plan form ---

// visitBlankRows is how many visit rows a fresh plan form has; visitMaxRows the most
// the form shows (the API takes domain.MaxPlanVisits).
const (
	visitBlankRows = 3
	visitMaxRows   = domain.MaxPlanVisits
)

// visitCols are the inputs of a visit row.
var visitCols = []string{"customer_id", "method", "planned_on", "rep", "purpose"}

// visitCell is one input of a visit row: a select (Options) or an input of Kind.
type visitCell struct {
	Name, ID, Label, Value, Error, Kind string
	Options                             []formOption
}

type visitInput struct {
	N     int
	Cells []visitCell
}

type visitPlanFormData struct {
	page
	Action, Heading, Submit string
	Key                     string
	Title                   newField
	Rows                    []visitInput
	VisitsError, FormError  string
	Back                    string
	Lead                    string // the lead time's hint
}

// visitPlanForm is what the plan form was sent with: the values, the errors by the
// form's input names (visits[2].rep: its third row), the form's key.
type visitPlanForm struct {
	values url.Values
	key    string
	rows   int
	errs   map[string]string
	form   string
}

// visitRows is the plan form's table of visits.
var visitRows = newRowTable("visits", visitCols, visitMaxRows)

func (a *App) newVisitPlanPage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok || !a.mayFile(w, r, u, domain.ProcessVisitPlan) {
		return
	}
	a.showVisitPlanForm(w, r, u, http.StatusOK, "", visitPlanForm{})
}

// editVisitPlanPage is the form of draft plan {id} for its maker, filled with the plan.
func (a *App) editVisitPlanPage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	d, err := a.api.VisitPlanDetailFor(r.Context(), *u, caseID(r))
	if a.caseRefused(w, r, u, err) {
		return
	}
	if !a.access.MayEditVisitPlan(*u, d.VisitPlanState) {
		a.refused(w, r, u, &api.Problem{Status: http.StatusForbidden})
		return
	}
	if d.Status != domain.PlanDraft {
		a.setFlash(w, "notice.visit_plan_not_draft", d.ID)
		http.Redirect(w, r, visitPlansPath+"/"+url.PathEscape(d.ID), http.StatusSeeOther)
		return
	}
	v := url.Values{"title": {d.Plan.Title}}
	for i, vis := range d.Plan.Visits {
		for col, val := range map[string]string{"customer_id": vis.CustomerID, "method": vis.Method, "planned_on": vis.PlannedOn,
			"rep": vis.Rep, "purpose": vis.Purpose} {
			v.Set(fmt.Sprintf("visits[%d].%s", i, col), val)
		}
	}
	a.showVisitPlanForm(w, r, u, http.StatusOK, d.ID, visitPlanForm{values: v, rows: len(d.Plan.Visits) + 1})
}

// showVisitPlanForm shows the plan form: a new plan's (id "") or draft id's.
func (a *App) showVisitPlanForm(w http.ResponseWriter, r *http.Request, u *store.User, status int, id string, fv visitPlanForm) {
	ctx := r.Context()
	p := a.newPage(r, u)
	customers, err := a.api.FilingCustomers(ctx, *u, domain.ProcessVisitPlan)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	slices.SortStableFunc(customers, func(x, y store.Customer) int { return strings.Compare(x.Name, y.Name) })
	reps, err := a.api.VisitReps(ctx, *u)
	if a.refused(w, r, u, err) {
		return
	}
	d := visitPlanFormData{page: p, Key: fv.key, FormError: fv.form, Action: visitPlansPath + "/new",
		Heading: p.T("visit_plan.new"), Submit: p.T("visit_plan.make"), Back: visitPlansPath,
		Lead: p.T("visit_plan.lead_hint", "Days", a.api.VisitPlanLeadDays())}
	if id != "" {
		d.Action, d.Heading, d.Submit = visitPlansPath+"/"+url.PathEscape(id)+"/edit", p.T("visit_plan.edit"), p.T("visit_plan.save")
		d.Back = visitPlansPath + "/" + url.PathEscape(id)
	}
	p.Title = d.Heading
	d.page = p
	if d.Key == "" {
		d.Key = newKey()
	}
	v := fv.values
	d.Title = newField{Name: "title", ID: "plan-title", Label: fieldLabel(p, "title"), Type: "text", Required: true,
		Max: domain.MaxPlanTitle, Value: v.Get("title"), Error: errorText(p, fv.errs["title"])}
	d.VisitsError = errorText(p, fv.errs["visits"])
	rows := min(max(fv.rows, visitBlankRows), visitMaxRows)
	for i := range rows {
		in := visitInput{N: i + 1}
		for _, col := range visitCols {
			name := fmt.Sprintf("visits[%d].%s", i, col)
			c := visitCell{Name: name, ID: fmt.Sprintf("visit-%d-%s", i, col), Value: v.Get(name),
				Error: errorText(p, fv.errs[name]), Label: p.T("visit_plan.cell", "Column", fieldLabel(p, col), "N", i+1)}
			switch col {
			case "customer_id":
				c.Kind = "select"
				c.Options = []formOption{{Value: "", Label: p.T("task.choose")}}
				for _, cu := range customers {
					c.Options = append(c.Options, formOption{Value: cu.ID, Label: cu.Name + " (" + cu.Tier + ")", Selected: cu.ID == c.Value})
				}
			case "method":
				c.Kind = "select"
				c.Options = append([]formOption{{Value: "", Label: p.T("task.choose")}}, options(p, domain.VisitMethods, c.Value)...)
			case "rep":
				c.Kind = "select"
				c.Options = []formOption{{Value: "", Label: p.T("task.choose")}}
				for _, rep := range reps {
					c.Options = append(c.Options, formOption{Value: rep, Label: rep, Selected: rep == c.Value})
				}
			case "planned_on":
				c.Kind = "date"
			default:
				c.Kind = "text"
			}
			in.Cells = append(in.Cells, c)
		}
		d.Rows = append(d.Rows, in)
	}
	a.render(w, status, "visitplan_form", d)
}

// visitPlanRequest is the plan of the posted form, with the form row of each of its
// visits (blank rows are left out).
func visitPlanRequest(v url.Values) (domain.VisitPlan, []int) {
	plan := domain.VisitPlan{Title: strings.TrimSpace(v.Get("title")), Visits: []domain.Visit{}}
	var rows []int
	for i := range visitRows.posted(v) {
		cell := func(col string) string { return strings.TrimSpace(v.Get(fmt.Sprintf("visits[%d].%s", i, col))) }
		if cell("customer_id") == "" && cell("method") == "" && cell("planned_on") == "" && cell("rep") == "" && cell("purpose") == "" {
			continue
		}
		plan.Visits = append(plan.Visits, domain.Visit{CustomerID: cell("customer_id"), Method: cell("method"),
			PlannedOn: cell("planned_on"), Rep: cell("rep"), Purpose: cell("purpose")})
		rows = append(rows, i)
	}
	return plan, rows
}

// visitPlanErrors maps a 422's errors to the plan form's inputs: a visit's error to its
// row's input, title and visits to theirs, other names to the form.
func visitPlanErrors(p page, errs []domain.FieldError, rows []int) (map[string]string, string) {
	return visitRows.errors(p, errs, rows, []string{"title", "visits"}, nil)
}

// makeVisitPlan makes the posted plan through api.Server.MakeVisitPlan; "add a visit"
// shows the form again with one more row.
func (a *App) makeVisitPlan(w http.ResponseWriter, r *http.Request) {
	a.postVisitPlan(w, r, "")
}

// editVisitPlan saves the posted plan over draft {id} through api.Server.VisitPlanAction.
func (a *App) editVisitPlan(w http.ResponseWriter, r *http.Request) {
	a.postVisitPlan(w, r, caseID(r))
}

// postVisitPlan takes the plan form: a new plan (id "") or an edit of draft id. A 422
// shows the form again with each message on its input; a 409 (no longer a draft) the
// plan's page with a notice.
func (a *App) postVisitPlan(w http.ResponseWriter, r *http.Request, id string) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	v := r.PostForm
	fv := visitPlanForm{values: v, key: v.Get("key"), rows: visitRows.posted(v)}
	if v.Get("more") != "" {
		if id == "" && !a.mayFile(w, r, u, domain.ProcessVisitPlan) {
			return
		}
		fv.rows = min(fv.rows+1, visitMaxRows)
		a.showVisitPlanForm(w, r, u, http.StatusOK, id, fv)
		return
	}
	plan, rows := visitPlanRequest(v)
	var err error
	if id == "" {
		var st domain.VisitPlanState
		st, err = a.api.MakeVisitPlan(r.Context(), *u, plan, fv.key)
		if err == nil {
			a.setFlash(w, "notice.visit_plan_made", st.ID)
			http.Redirect(w, r, visitPlansPath+"/"+url.PathEscape(st.ID), http.StatusSeeOther)
			return
		}
	} else {
		_, err = a.api.VisitPlanAction(r.Context(), *u, id, domain.UpdateEditVisitPlan, fv.key, domain.EditVisitPlanRequest{Plan: plan})
		if err == nil {
			a.setFlash(w, "notice.visit_plan_saved", id)
			http.Redirect(w, r, visitPlansPath+"/"+url.PathEscape(id), http.StatusSeeOther)
			return
		}
		if prob, isProblem := problemOf(err); isProblem && prob.Status == http.StatusConflict {
			a.setFlash(w, "notice.visit_plan_not_draft", id)
			http.Redirect(w, r, visitPlansPath+"/"+url.PathEscape(id), http.StatusSeeOther)
			return
		}
	}
	if prob, isProblem := problemOf(err); isProblem && prob.Status == http.StatusUnprocessableEntity {
		p := a.newPage(r, u)
		if slices.ContainsFunc(prob.Errors, func(e domain.FieldError) bool { return e.Field == "Idempotency-Key" }) {
			fv.key = ""
		}
		fv.errs, fv.form = visitPlanErrors(p, prob.Errors, rows)
		if fv.form == "" && len(fv.errs) == 0 {
			fv.form = p.T("new.check")
		}
		a.showVisitPlanForm(w, r, u, prob.Status, id, fv)
		return
	}
	if cf, status, ok := a.formProblem(w, r, u, err, nil); ok {
		fv.key, fv.form = cf.key, cf.form
		a.showVisitPlanForm(w, r, u, status, id, fv)
	}
}

// visitText is a planned visit of a task's context (key "visits", the approval's) as
// one text: "2026-12-20 · Phone · alice · cus_1: Annual check"; false for anything else.
func visitText(p page, key string, m map[string]any) (string, bool) {
	on, ok := m["planned_on"].(string)
	if key != "visits" || !ok {
		return "", false
	}
	method, _ := m["method"].(string)
	rep, _ := m["rep"].(string)
	cust, _ := m["customer_id"].(string)
	purpose, _ := m["purpose"].(string)
	return on + " · " + optionLabel(p, method) + " · " + rep + " · " + cust + ": " + purpose, true
}

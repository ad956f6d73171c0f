package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The complaint's pages: its list, a complaint with its timeline, and the new-complaint
// form, read and filed through api.Server's ListComplaints, ComplaintFor and
// FileComplaint.
func init() {
	caseProcesses = append(caseProcesses, caseProcess{name: domain.ProcessComplaint, mayFile: api.Access.MayFileComplaint,
		pages: []processPage{
			{http.MethodGet, "", false, (*App).complaints},
			{http.MethodGet, "/:id", false, (*App).complaint},
			{http.MethodGet, "/new", false, (*App).newComplaintPage},
			{http.MethodPost, "/new", true, (*App).fileComplaint},
		}})
	notices = append(notices, "notice.complaint_filed")
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

var complaintFields = []string{"customer_id", "channel", "subject", "description", "severity", "category", "order_id"}

func (a *App) newComplaintPage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok || !a.mayFile(w, r, u, domain.ProcessComplaint) {
		return
	}
	a.showComplaintForm(w, r, u, http.StatusOK, newCaseForm{})
}

func (a *App) showComplaintForm(w http.ResponseWriter, r *http.Request, u *store.User, status int, fv newCaseForm) {
	p := a.newPage(r, u)
	p.Title = p.T("new.complaint.title")
	p.Notice = a.takeFlash(w, r, p)
	cust, err := a.customerField(r, u, p, domain.ProcessComplaint, "complaint", fv)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	v := fv.values
	severity := v.Get("severity")
	if severity == "" {
		severity = "normal"
	}
	d := newCaseData{page: p, Action: "/complaints/new", Prefix: "complaint", Submit: p.T("new.complaint.submit"),
		NoCustomers: len(cust.Options) == 0}
	d.Fields = []newField{cust,
		{Name: "channel", ID: "complaint-channel", Label: fieldLabel(p, "channel"), Type: "select", Required: true, Choose: true,
			Options: options(p, domain.ComplaintChannels, v.Get("channel"))},
		{Name: "subject", ID: "complaint-subject", Label: fieldLabel(p, "subject"), Type: "text", Required: true, Max: 200,
			Value: v.Get("subject")},
		{Name: "description", ID: "complaint-description", Label: fieldLabel(p, "description"), Type: "textarea", Required: true,
			Value: v.Get("description"), Max: 10000},
		{Name: "severity", ID: "complaint-severity", Label: fieldLabel(p, "severity"), Type: "select", Required: true,
			Options: options(p, domain.ComplaintSeverities, severity)},
		{Name: "category", ID: "complaint-category", Label: fieldLabel(p, "category"), Type: "select", Choose: true,
			Options: options(p, domain.ComplaintCategories, v.Get("category")), Hint: p.T("new.category_hint")},
		{Name: "order_id", ID: "complaint-order", Label: fieldLabel(p, "order_id"), Type: "text", Max: 100,
			Value: v.Get("order_id")},
	}
	finish(p, &d, fv)
	a.render(w, status, "complaint_new", d)
}

// fileComplaint files the posted complaint through api.Server.FileComplaint.
func (a *App) fileComplaint(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	v := r.PostForm
	req := api.ComplaintRequest{CustomerID: v.Get("customer_id"), Channel: v.Get("channel"), Subject: v.Get("subject"),
		Description: v.Get("description"), Severity: v.Get("severity"), Category: v.Get("category"),
		OrderID: strings.TrimSpace(v.Get("order_id"))}
	out, err := a.api.FileComplaint(r.Context(), *u, req, v.Get("key"))
	if err == nil {
		a.setFlash(w, "notice.complaint_filed", out.Subject)
		http.Redirect(w, r, "/complaints/"+url.PathEscape(out.ID), http.StatusSeeOther)
		return
	}
	if fv, status, ok := a.formProblem(w, r, u, err, complaintFields); ok {
		a.showComplaintForm(w, r, u, status, fv)
	}
}

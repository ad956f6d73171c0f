package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// inboxPageSize is how many tasks one inbox page shows.
const inboxPageSize = 25

// Due-time badge classes: green while less than 80 % of the task's window has passed,
// amber from 80 %, red once the due time has passed.
const (
	dueOK   = "due-ok"
	dueSoon = "due-soon"
	dueLate = "due-late"
)

// dueClass is the badge class of a task opened at start and due at due, at now.
func dueClass(start, due, now time.Time) string {
	switch window := due.Sub(start); {
	case !now.Before(due):
		return dueLate
	case window > 0 && now.Sub(start)*5 >= window*4:
		return dueSoon
	}
	return dueOK
}

type inboxTab struct {
	Name, Href string // Href keeps the filters
	Active     bool
}

type inboxRow struct {
	ID, Title, Customer, Process, Step string
	ProcessID, CaseLink                string // CaseLink: the case's page, "" when it has none
	DueAt                              time.Time
	DueClass, DueText                  string
	Escalation                         int
	HeldBy                             string // someone else holds it
	CanClaim, CanUnclaim               bool
}

type inboxData struct {
	page
	Tab  string
	Tabs []inboxTab
	Rows []inboxRow
	Next string // the next page's link, "" on the last page
	// The filters: their controls, the query that keeps them ("" none) and whether any
	// is set.
	Processes, Steps, Tiers, Escalated []formOption
	DueBefore                          string
	Filtered                           bool
	FilterQuery                        string
}

// inboxSteps are the steps the inbox filters on, in process order.
var inboxSteps = []string{domain.StepEvaluate, domain.StepRespond, domain.StepResolve, domain.StepApproveResolution,
	domain.StepReviewDissatisfaction, domain.StepContactCustomer, domain.StepReview, domain.StepCountersignProduction,
	domain.StepCountersignQuality, domain.StepCountersignPurchasing, domain.StepCountersignFinance, domain.StepOpsReview,
	domain.StepReviewMeeting, domain.StepGMApproval}

// inboxProcesses are the processes the inbox filters on.
var inboxProcesses = []string{domain.ProcessComplaint, domain.ProcessContract}

// inboxFilter reads the inbox filters of query q into f (a value not offered is
// ignored) and returns the query that keeps them. A due-before date is the start of
// that day in the user's time zone.
func inboxFilter(q url.Values, p page, f *store.TaskFilter) url.Values {
	keep := url.Values{}
	if v := q.Get("process"); slices.Contains(inboxProcesses, v) {
		f.Process = v
		keep.Set("process", v)
	}
	if v := q.Get("step"); slices.Contains(inboxSteps, v) {
		f.Step = v
		keep.Set("step", v)
	}
	if v := q.Get("tier"); slices.Contains(domain.Tiers, v) {
		f.Tier = v
		keep.Set("tier", v)
	}
	if v := q.Get("escalated"); v == "true" || v == "false" {
		b := v == "true"
		f.Escalated = &b
		keep.Set("escalated", v)
	}
	if v := q.Get("due_before"); v != "" {
		loc := p.tz
		if loc == nil {
			loc = time.UTC
		}
		// "Due by" a day: before the end of that day in the user's zone.
		if d, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
			f.DueBefore = d.AddDate(0, 0, 1)
			keep.Set("due_before", v)
		}
	}
	return keep
}

// home is the inbox when signed in, else the sign-in page.
func (a *App) home(w http.ResponseWriter, r *http.Request) {
	u, err := a.sessionUser(r)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if u == nil {
		a.renderSignIn(w, r, http.StatusOK, "", "")
		return
	}
	a.inbox(w, r, u)
}

// tabs are the inbox tabs u has: Mine, Group and, for managers, All.
func (a *App) tabs(u store.User) []string {
	tabs := []string{store.ScopeMine, store.ScopeGroup}
	if a.access.MayListAllTasks(u) {
		tabs = append(tabs, store.ScopeAll)
	}
	return tabs
}

func (a *App) inbox(w http.ResponseWriter, r *http.Request, u *store.User) {
	ctx := r.Context()
	names := a.tabs(*u)
	tab := r.URL.Query().Get("tab")
	if !slices.Contains(names, tab) {
		tab = store.ScopeMine
	}
	cursor := r.URL.Query().Get("cursor")
	if _, _, err := store.DecodeCursor(cursor, store.CursorTasks); err != nil {
		cursor = ""
	}
	p := a.newPage(r, u)
	f := store.TaskFilter{Scope: tab, Status: domain.TaskOpen, Limit: inboxPageSize, Cursor: cursor}
	keep := inboxFilter(r.URL.Query(), p, &f)
	tasks, next, err := a.api.ListTasks(ctx, *u, f)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	customers, err := a.st.TaskCustomers(ctx, ids)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p.Title = p.T("inbox.title")
	p.Notice = a.takeFlash(w, r, p)
	now := a.now()
	d := inboxData{page: p, Tab: tab, Filtered: len(keep) > 0, FilterQuery: keep.Encode(), DueBefore: keep.Get("due_before")}
	for _, v := range inboxProcesses {
		d.Processes = append(d.Processes, formOption{Value: v, Label: p.T("process." + v), Selected: v == f.Process})
	}
	for _, v := range inboxSteps {
		d.Steps = append(d.Steps, formOption{Value: v, Label: stepName(p, v), Selected: v == f.Step})
	}
	for _, v := range domain.Tiers {
		d.Tiers = append(d.Tiers, formOption{Value: v, Label: v, Selected: v == f.Tier})
	}
	d.Escalated = []formOption{{Value: "true", Label: p.T("inbox.filter.escalated_yes"), Selected: keep.Get("escalated") == "true"},
		{Value: "false", Label: p.T("inbox.filter.escalated_no"), Selected: keep.Get("escalated") == "false"}}
	for _, n := range names {
		q := url.Values{"tab": {n}}
		for k, v := range keep {
			q[k] = v
		}
		d.Tabs = append(d.Tabs, inboxTab{Name: n, Href: "/?" + q.Encode(), Active: n == tab})
	}
	for _, t := range tasks {
		acc, err := a.access.Task(ctx, *u, t)
		if err != nil {
			a.internal(w, r, err)
			return
		}
		row := inboxRow{ID: t.ID, Title: t.Title, Customer: customers[t.ID], Process: p.T("process." + t.Process),
			Step: stepName(p, t.Step), DueAt: t.DueAt, DueClass: dueClass(t.CreatedAt, t.DueAt, now),
			Escalation: t.EscalationLevel, ProcessID: t.ProcessID,
			CanClaim:   acc.Claim && t.Assignee == "",
			CanUnclaim: t.Assignee == u.Username && len(t.CandidateGroups) > 0}
		if t.Assignee != "" && t.Assignee != u.Username {
			row.HeldBy = t.Assignee
		}
		// The case is linked only for those who may open it (finance countersigning a
		// complaint's refund acts on the task without seeing the complaint).
		if sees, err := a.api.SeesCase(ctx, *u, t.Process, t.ProcessID); err != nil {
			a.internal(w, r, err)
			return
		} else if sees {
			row.CaseLink = caseLink(t.Process, t.ProcessID)
		}
		if row.DueClass == dueLate {
			row.DueText = p.T("due.late", "Time", span(p, now.Sub(t.DueAt)))
		} else {
			row.DueText = p.T("due.left", "Time", span(p, t.DueAt.Sub(now)))
		}
		d.Rows = append(d.Rows, row)
	}
	if next != "" {
		q := url.Values{"tab": {tab}, "cursor": {next}}
		for k, v := range keep {
			q[k] = v
		}
		d.Next = "/?" + q.Encode()
	}
	a.render(w, http.StatusOK, "inbox", d)
}

// stepName is a step's name in the page's language, or the step itself made readable.
func stepName(p page, step string) string {
	return p.name("step", step)
}

// span writes a duration as days, hours and minutes in the page's language.
func span(p page, d time.Duration) string {
	if d < time.Minute {
		return p.T("dur.under_minute")
	}
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, p.T("dur.days", "N", days))
	}
	if hours > 0 && days < 10 {
		parts = append(parts, p.T("dur.hours", "N", hours))
	}
	if mins > 0 && days == 0 {
		parts = append(parts, p.T("dur.minutes", "N", mins))
	}
	return strings.Join(parts, " ")
}

func (a *App) claim(w http.ResponseWriter, r *http.Request)   { a.changeTask(w, r, true) }
func (a *App) unclaim(w http.ResponseWriter, r *http.Request) { a.changeTask(w, r, false) }

// changeTask claims or unclaims a task through the API's own functions and goes back to
// the inbox with what happened: a claim that lost to someone else says who has it.
func (a *App) changeTask(w http.ResponseWriter, r *http.Request, claim bool) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	tab := r.PostFormValue("tab")
	if !slices.Contains(a.tabs(*u), tab) {
		tab = store.ScopeMine
	}
	change, done := a.api.UnclaimTask, "notice.unclaimed"
	if claim {
		change, done, tab = a.api.ClaimTask, "notice.claimed", store.ScopeMine
	}
	t, err := change(r.Context(), *u, r.PathValue("id"))
	switch p, isProblem := problemOf(err); {
	case err == nil:
		a.setFlash(w, done, t.Title)
	case isProblem && p.Status == http.StatusConflict && t.Status == domain.TaskOpen && t.Assignee != "" && t.Assignee != u.Username:
		a.setFlash(w, "notice.taken", t.Assignee)
		tab = r.PostFormValue("tab")
	case isProblem && p.Status == http.StatusConflict:
		a.setFlash(w, "notice.closed", "")
	case isProblem:
		a.setFlash(w, "notice.not_allowed", "")
	default:
		a.internal(w, r, err)
		return
	}
	if r.PostFormValue("back") == "task" { // from the task page: back to it
		http.Redirect(w, r, "/tasks/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
		return
	}
	if !slices.Contains(a.tabs(*u), tab) {
		tab = store.ScopeMine
	}
	back := "/?tab=" + url.QueryEscape(tab)
	if q, err := url.ParseQuery(r.PostFormValue("filters")); err == nil { // the inbox's filters, kept
		if keep := inboxFilter(q, a.newPage(r, u), &store.TaskFilter{}); len(keep) > 0 {
			back += "&" + keep.Encode()
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// The notices a flash may carry (a flash naming anything else is ignored).
var notices = []string{"notice.claimed", "notice.unclaimed", "notice.taken", "notice.closed", "notice.not_allowed",
	"notice.completed", "notice.completed_next", "notice.commented", "notice.process_busy", "notice.timeout"}

const flashCookie = "sf_flash"

// setFlash keeps a notice for the next page: a catalogue key and its one argument.
func (a *App) setFlash(w http.ResponseWriter, key, arg string) {
	if r := []rune(arg); len(r) > 120 { // a cookie holds 4 KiB, and a notice needs no more
		arg = string(r[:119]) + "…"
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.Values{"k": {key}, "a": {arg}}.Encode(), Path: "/",
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

// takeFlash returns the pending notice in the page's language and clears it.
func (a *App) takeFlash(w http.ResponseWriter, r *http.Request, p page) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	v, err := url.ParseQuery(c.Value)
	if err != nil || !slices.Contains(notices, v.Get("k")) {
		return ""
	}
	return p.T(v.Get("k"), "Arg", v.Get("a"))
}

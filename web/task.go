package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The task page (GET /tasks/{id}): what the person must decide (the task's context),
// its form built from the task's form schema with one button per action, claim, and
// the comment thread. It reads through api.Server.TaskFor and TaskComments and acts
// through CompleteTask, CommentTask and ClaimTask, as the JSON API does.

// nextTaskWait is how long, after a completion, the page waits for the process to open
// the case's next task before it sends the person to the inbox.
const nextTaskWait = 1500 * time.Millisecond

// ctxItem is one entry of a task's context: a label with a text, or with items (a map
// or a list).
type ctxItem struct {
	Key, Label, Text string
	Long             bool // a paragraph (a description), shown below its label
	Items            []ctxItem
}

type formOption struct {
	Value, Label string
	Selected     bool
}

type formField struct {
	Name, ID, Label, Type string
	Required              bool
	Options               []formOption
	Value, Currency       string
	Error                 string
	Actions               string // the actions it applies to, "" for every action
	Hint                  string // how to fill it in (a datetime's zone)
}

type actionButton struct{ Name, Label string }

type commentRow struct {
	Author, Text string
	At           time.Time
	AtText       string
}

type taskData struct {
	page
	ID, TaskTitle, Process, Step string
	DueAt                        time.Time
	DueClass, DueText            string
	Escalation                   int
	Open, CanAct, CanClaim       bool
	CanUnclaim                   bool
	HeldBy, ClosedText           string
	Reassign                     []string // who a manager may give the task to
	Context                      []ctxItem
	Fields                       []formField
	Actions                      []actionButton
	Comment, CommentError        string // the completion's comment
	ActionError, FormError       string // errors that name no field of the form
	Comments                     []commentRow
	NewComment, NewCommentError  string
	CaseLink                     string        // the page of the task's case, "" when it has none
	Timeline                     []timelineRow // the case's, for those who may see it
	TimelineID                   string
}

// formValues is what the person typed, kept when the page is shown again with errors.
type formValues struct {
	values  url.Values
	errs    map[string]string // field name ("category", "comment", "action", "data") → message
	comment string
	newText string
	newErr  string
}

func (a *App) taskPage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	a.showTask(w, r, u, http.StatusOK, formValues{})
}

// showTask renders task {id} for u with what the person typed and its errors; a task u
// may not see is a 404 page, as in the JSON API.
func (a *App) showTask(w http.ResponseWriter, r *http.Request, u *store.User, status int, fv formValues) {
	ctx := r.Context()
	t, acc, err := a.api.TaskFor(ctx, *u, r.PathValue("id"))
	if p, isProblem := problemOf(err); isProblem && p.Status == http.StatusNotFound {
		a.notFound(w, r, u)
		return
	} else if err != nil {
		a.internal(w, r, err)
		return
	}
	comments, err := a.api.TaskComments(ctx, t)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := a.newPage(r, u)
	p.Title = t.Title
	p.Notice = a.takeFlash(w, r, p)
	now := a.now()
	d := taskData{page: p, ID: t.ID, TaskTitle: t.Title, Process: p.T("process." + t.Process), Step: stepName(p, t.Step),
		DueAt: t.DueAt, DueClass: dueClass(t.CreatedAt, t.DueAt, now), Escalation: t.EscalationLevel,
		Open: t.Status == domain.TaskOpen, Comment: fv.comment, NewComment: fv.newText}
	if d.DueClass == dueLate {
		d.DueText = p.T("due.late", "Time", span(p, now.Sub(t.DueAt)))
	} else {
		d.DueText = p.T("due.left", "Time", span(p, t.DueAt.Sub(now)))
	}
	if d.Open {
		d.CanAct = acc.Act
		d.CanClaim = acc.Claim && t.Assignee == ""
		d.CanUnclaim = t.Assignee == u.Username && len(t.CandidateGroups) > 0
		if t.Assignee != "" && t.Assignee != u.Username {
			d.HeldBy = t.Assignee
		}
		if d.Reassign, err = a.reassignees(r, *u, t); err != nil {
			a.internal(w, r, err)
			return
		}
	} else {
		who := t.CompletedBy
		if who == "" {
			who = "–"
		}
		d.ClosedText = p.T("task.closed."+t.Status, "User", who)
		d.DueText = ""
	}
	d.Context = contextItems(p, t.Context)
	// The case's link and timeline, for those who may see the case.
	switch tl, err := a.api.CaseTimeline(ctx, *u, t.Process, t.ProcessID); {
	case err == nil:
		d.CaseLink, d.Timeline, d.TimelineID = caseLink(t.Process, t.ProcessID), timeline(p, tl), "task-timeline"
	case !isNotFound(err):
		a.internal(w, r, err)
		return
	}
	for _, f := range t.Form {
		ff := formField{Name: f.Name, ID: "f-" + f.Name, Label: fieldLabel(p, f.Name), Type: f.Type, Required: f.Required,
			Value: fv.values.Get("f." + f.Name), Currency: fv.values.Get("f." + f.Name + ".currency"), Error: errorText(p, fv.errs[f.Name])}
		if fv.values == nil && f.Type == "enum" {
			// A fresh form starts from the case's current value of the field (a
			// complaint's severity as filed), which the person confirms or changes.
			if cur, ok := t.Context[f.Name].(string); ok && slices.Contains(f.Options, cur) {
				ff.Value = cur
			}
		}
		if ff.Currency == "" {
			ff.Currency = "CNY"
		}
		if len(f.Actions) > 0 {
			names := make([]string, len(f.Actions))
			for i, act := range f.Actions {
				names[i] = actionLabel(p, act)
			}
			ff.Actions = strings.Join(names, ", ")
		}
		checked := fv.values["f."+f.Name] // a list's checked options
		for _, o := range f.Options {
			sel := o == ff.Value
			if f.Type == "list" {
				sel = slices.Contains(checked, o)
			}
			ff.Options = append(ff.Options, formOption{Value: o, Label: optionLabel(p, o), Selected: sel})
		}
		if f.Type == "datetime" {
			ff.Hint = p.T("task.datetime_hint", "Zone", p.ZoneName())
		}
		d.Fields = append(d.Fields, ff)
	}
	for _, act := range t.Actions {
		d.Actions = append(d.Actions, actionButton{Name: act, Label: actionLabel(p, act)})
	}
	d.CommentError, d.ActionError = errorText(p, fv.errs["comment"]), errorText(p, fv.errs["action"])
	// An error on no field of the form ("data", a field the form does not have) is
	// shown above the form, with the name it gave.
	var other []string
	for name, msg := range fv.errs {
		if name != "comment" && name != "action" && !slices.ContainsFunc(t.Form, func(f domain.FormField) bool { return f.Name == name }) {
			if name != "data" {
				msg = name + ": " + msg
			}
			other = append(other, errorText(p, msg))
		}
	}
	sort.Strings(other)
	d.FormError = strings.Join(other, " ")
	d.NewCommentError = errorText(p, fv.newErr)
	for _, c := range comments {
		d.Comments = append(d.Comments, commentRow{Author: c.Author, Text: c.Text, At: c.CreatedAt,
			AtText: p.When(c.CreatedAt)})
	}
	a.render(w, status, "task", d)
}

// notFound is the page of a task that does not exist or u may not see.
func (a *App) notFound(w http.ResponseWriter, r *http.Request, u *store.User) {
	p := a.newPage(r, u)
	p.Title = p.T("task.not_found")
	a.render(w, http.StatusNotFound, "notfound", struct{ page }{p})
}

// complete completes the task with the clicked action through api.Server.CompleteTask,
// the function of POST /api/v1/tasks/{id}/complete. A 422 shows each message on its
// field; a 409 and a 403 show a notice on the task page. Afterwards the case's next task
// for the same person opens, else the inbox.
func (a *App) complete(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	t, _, err := a.api.TaskFor(ctx, *u, id)
	if p, isProblem := problemOf(err); isProblem && p.Status == http.StatusNotFound {
		a.notFound(w, r, u)
		return
	} else if err != nil {
		a.internal(w, r, err)
		return
	}
	action := r.PostFormValue("action")
	in := api.CompleteInput{Action: action, Comment: r.PostFormValue("comment"),
		Data: formData(t.Form, action, r.PostForm, a.newPage(r, u).zone())}
	done, _, err := a.api.CompleteTask(ctx, *u, id, in)
	if err != nil {
		p, isProblem := problemOf(err)
		switch {
		case isProblem && p.Status == http.StatusUnprocessableEntity:
			fv := formValues{values: r.PostForm, comment: in.Comment, errs: map[string]string{}}
			for _, fe := range p.Errors {
				name := strings.TrimPrefix(fe.Field, "data.")
				if i := strings.IndexByte(name, '.'); i > 0 && fe.Field != name {
					name = name[:i] // data.amount.currency: the amount field
				}
				if _, seen := fv.errs[name]; !seen {
					fv.errs[name] = fe.Message
				}
			}
			a.showTask(w, r, u, http.StatusUnprocessableEntity, fv)
		case isProblem && p.Status == http.StatusConflict:
			notice := "notice.closed"
			if cur, _, err := a.api.TaskFor(ctx, *u, id); err == nil && cur.Status == domain.TaskOpen {
				notice = "notice.process_busy" // the process does not accept it now
			}
			a.setFlash(w, notice, "")
			http.Redirect(w, r, "/tasks/"+url.PathEscape(id), http.StatusSeeOther)
		case isProblem && p.Status == http.StatusGatewayTimeout:
			a.setFlash(w, "notice.timeout", "")
			http.Redirect(w, r, "/tasks/"+url.PathEscape(id), http.StatusSeeOther)
		case isProblem:
			a.setFlash(w, "notice.not_allowed", "")
			http.Redirect(w, r, "/tasks/"+url.PathEscape(id), http.StatusSeeOther)
		default:
			a.internal(w, r, err)
		}
		return
	}
	if next, ok, err := a.nextTask(ctx, u, done); err != nil {
		a.internal(w, r, err)
		return
	} else if ok {
		a.setFlash(w, "notice.completed_next", done.Title)
		http.Redirect(w, r, "/tasks/"+url.PathEscape(next.ID), http.StatusSeeOther)
		return
	}
	a.setFlash(w, "notice.completed", done.Title)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// nextTask waits briefly for the case's next task for u (api.Server.NextTask): the
// process opens it just after it closes the completed one.
func (a *App) nextTask(ctx context.Context, u *store.User, done store.Task) (store.Task, bool, error) {
	deadline := time.Now().Add(nextTaskWait)
	for {
		next, ok, err := a.api.NextTask(ctx, *u, done)
		if ctx.Err() != nil { // out of time: the inbox will show it
			return next, false, nil
		}
		if err != nil || ok || time.Now().After(deadline) {
			return next, ok, err
		}
		select {
		case <-ctx.Done():
			return next, false, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// formData is the data of a completion with action from the posted form: each field of
// the form that applies to the action and was filled in, typed as its schema says. A
// datetime (an <input type="datetime-local">, the user's wall clock) is read in loc and
// sent as RFC 3339 with loc's offset; a list with options (checkboxes) is the options
// checked, in the form's order. A value that does not parse is sent as typed, so that
// the process names the field.
func formData(form []domain.FormField, action string, v url.Values, loc *time.Location) map[string]any {
	data := map[string]any{}
	for _, f := range form {
		if len(f.Actions) > 0 && !slices.Contains(f.Actions, action) {
			continue
		}
		if f.Type == "list" && len(f.Options) > 0 {
			var items []any
			for _, o := range v["f."+f.Name] {
				if o = strings.TrimSpace(o); o != "" && !slices.Contains(items, any(o)) {
					items = append(items, o)
				}
			}
			if len(items) > 0 {
				data[f.Name] = items
			}
			continue
		}
		raw := strings.TrimSpace(v.Get("f." + f.Name))
		if raw == "" {
			continue
		}
		switch f.Type {
		case "datetime":
			data[f.Name] = raw
			for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
				if t, err := time.ParseInLocation(layout, raw, loc); err == nil {
					data[f.Name] = t.Format(time.RFC3339)
					break
				}
			}
		case "integer":
			if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
				data[f.Name] = n
			} else {
				data[f.Name] = raw
			}
		case "money":
			data[f.Name] = map[string]any{"amount": raw, "currency": strings.ToUpper(strings.TrimSpace(v.Get("f." + f.Name + ".currency")))}
		case "list":
			var items []any
			for line := range strings.Lines(raw) {
				if s := strings.TrimSpace(line); s != "" {
					items = append(items, s)
				}
			}
			data[f.Name] = items
		case "text":
			data[f.Name] = v.Get("f." + f.Name) // line breaks and indentation kept
		default:
			data[f.Name] = raw
		}
	}
	return data
}

// comment adds a comment through api.Server.CommentTask (POST /api/v1/tasks/{id}/comments).
func (a *App) comment(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	id, text := r.PathValue("id"), r.PostFormValue("text")
	_, err := a.api.CommentTask(r.Context(), *u, id, text)
	switch p, isProblem := problemOf(err); {
	case err == nil:
		a.setFlash(w, "notice.commented", "")
		http.Redirect(w, r, "/tasks/"+url.PathEscape(id)+"#comments", http.StatusSeeOther)
	case isProblem && p.Status == http.StatusNotFound:
		a.notFound(w, r, u)
	case isProblem && p.Status == http.StatusUnprocessableEntity:
		msg := p.Detail
		if len(p.Errors) > 0 {
			msg = p.Errors[0].Message
		}
		a.showTask(w, r, u, http.StatusUnprocessableEntity, formValues{newText: text, newErr: msg})
	default:
		a.internal(w, r, err)
	}
}

// contextOrder puts the context entries a person reads first at the top; the others
// follow in name order.
var contextOrder = []string{"subject", "title", "changed_since_rejected", "description", "customer_name", "customer_tier", "channel",
	"order_id", "rep", "total", "lines", "requested_delivery_date", "planned_date", "delivery", "severity", "category", "amount", "discount_pct", "delivery_date", "payment_terms", "requirements",
	"class", "class_reasons", "revision", "submitted_by", "resolution", "proposed_by", "rejected_by",
	"rejection_comment", "rejected_resolution", "score", "feedback_comment", "amendment", "reviews"}

// contextHidden are context entries that are identifiers, not things to decide on.
var contextHidden = []string{"complaint_id", "contract_id", "customer_id", "process", "process_id"}

// enumKeys are context entries whose values are options of a form (labelled as there).
var enumKeys = []string{"severity", "category", "resolution_type", "type", "channel", "method", "discussed"}

// longText are context entries shown as paragraphs.
var longText = []string{"description", "rejection_comment", "feedback_comment", "summary", "message", "reason", "comment"}

// contextItems renders a task's context map readably: known entries first, empty ones
// left out, maps and lists as nested items, times in UTC.
func contextItems(p page, m map[string]any) []ctxItem {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !slices.Contains(contextHidden, k) {
			keys = append(keys, k)
		}
	}
	rank := func(k string) int {
		if i := slices.Index(contextOrder, k); i >= 0 {
			return i
		}
		return len(contextOrder)
	}
	sort.Slice(keys, func(i, j int) bool {
		if ri, rj := rank(keys[i]), rank(keys[j]); ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	var out []ctxItem
	for _, k := range keys {
		if it, ok := ctxValue(p, k, fieldLabel(p, k), m[k], 0); ok {
			out = append(out, it)
		}
	}
	return out
}

// ctxValue is the item of one context value, or false when it is empty.
func ctxValue(p page, key, label string, v any, depth int) (ctxItem, bool) {
	it := ctxItem{Key: key, Label: label}
	switch x := v.(type) {
	case nil:
		return it, false
	case string:
		if strings.TrimSpace(x) == "" {
			return it, false
		}
		if ts, err := time.Parse(time.RFC3339Nano, x); err == nil {
			x = p.When(ts)
		}
		if slices.Contains(enumKeys, key) {
			x = optionLabel(p, x)
		}
		it.Text, it.Long = x, slices.Contains(longText, key) || strings.Contains(x, "\n")
	case bool:
		it.Text = p.T("task.no")
		if x {
			it.Text = p.T("task.yes")
		}
	case float64:
		it.Text = strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any:
		if text, ok := lineText(p, key, x); ok { // an order's line, on one line
			it.Text = text
			return it, true
		}
		if text, ok := visitText(p, key, x); ok { // a plan's visit, on one line
			it.Text = text
			return it, true
		}
		if amt, ok := x["amount"].(string); ok && len(x) == 2 {
			if cur, ok := x["currency"].(string); ok {
				it.Text = amt + " " + cur
				return it, true
			}
		}
		if depth >= 3 {
			it.Text = fmt.Sprint(x)
			return it, true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if sub, ok := ctxValue(p, k, fieldLabel(p, k), x[k], depth+1); ok {
				it.Items = append(it.Items, sub)
			}
		}
		if len(it.Items) == 0 {
			return it, false
		}
	case []any:
		for i, e := range x {
			if sub, ok := ctxValue(p, key, strconv.Itoa(i+1), e, depth+1); ok {
				if len(sub.Items) == 0 {
					sub.Label = ""
				}
				it.Items = append(it.Items, sub)
			}
		}
		if len(it.Items) == 0 {
			return it, false
		}
	default:
		it.Text = fmt.Sprint(x)
	}
	return it, true
}

// fieldLabel is the label of a form field or context entry: the catalogue's, else the
// name made readable.
func fieldLabel(p page, name string) string {
	if id := "field." + name; p.Has(id) {
		return p.T(id)
	}
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// errorText is a field's error in the page's language when the catalogue has it (the
// process's other messages are shown as it wrote them).
func errorText(p page, msg string) string {
	if msg == "is required" {
		return p.T("task.error.required")
	}
	if strings.HasPrefix(msg, "must be one of: ") {
		return p.T("error.field.one_of")
	}
	if id, ok := fieldMessages[msg]; ok {
		return p.T(id)
	}
	return msg
}

// fieldMessages are the API's messages on a field that the catalogue words for people.
var fieldMessages = map[string]string{
	"no such customer":                                  "error.field.customer",
	"no such customer of yours":                         "error.field.customer",
	"must be a date YYYY-MM-DD":                         "error.field.date",
	"must be a valid date YYYY-MM-DD":                   "error.field.date",
	"must be greater than zero":                         "error.field.positive",
	"amount must not be negative":                       "error.field.positive",
	`amount must be a decimal string such as "1234.50"`: "error.field.amount",
	"must be a decimal percentage such as 7.5":          "error.field.percent",
	"must be between 0 and 100":                         "error.field.percent",
	"must be a whole number from 1 to 1000000":          "error.field.quantity",
	"is required for a delivery":                        "error.field.delivery",
}

func actionLabel(p page, action string) string {
	return p.name("action", action)
}

func optionLabel(p page, opt string) string {
	return p.name("option", opt)
}

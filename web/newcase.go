package web

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// What the new-case forms of every process share (each form is in its process's own
// file): GET /<process>s/new shows it, a POST to the same path files the case through
// the API's function of POST /api/v1/<process>s (api.Server.FileComplaint,
// SubmitContract), so the rules, the checks and the Idempotency-Key semantics are the
// JSON API's. Each form carries a random key in a hidden field: a double click or a
// re-sent form files one case. A 422 shows the form again with what was typed and each
// message on its field.

// newField is one control of a new-case form. Type is select, text, textarea, date,
// decimal, money (an amount with a currency select), checks (a group of checkboxes:
// Options with Selected for checked) or checkbox.
type newField struct {
	Name, ID, Label, Type string
	Required, Choose      bool // Choose: a select starts with "— choose —"
	Value, Currency       string
	Checked               bool
	Options, Currencies   []formOption
	Hint, Error           string
	Max                   int // maxlength of a text, 0 none
}

type newCaseData struct {
	page
	Action      string // the form's path
	Prefix      string // of the element ids: "complaint", "contract"
	Key         string // the idempotency key of this filling-in of the form
	Fields      []newField
	FormError   string // an error that names no field of the form
	Submit      string
	NoCustomers bool
}

// newKey is a fresh idempotency key for a form.
func newKey() string { return rand.Text() }

// newCaseForm is what a new-case form was sent with (nil values: a fresh form).
type newCaseForm struct {
	values url.Values
	key    string
	errs   map[string]string // field name → message
	form   string            // an error of the form as a whole
}

// fieldErrors maps a 422's errors to the form's fields: a part of a field
// (amount.currency, requirements.custom_spec) to the field, a name the form lacks to
// the form as a whole.
func fieldErrors(p page, errs []domain.FieldError, names []string) (map[string]string, string) {
	out := map[string]string{}
	var other []string
	for _, fe := range errs {
		name, _, _ := strings.Cut(fe.Field, ".")
		if !slices.Contains(names, name) {
			msg := errorText(p, fe.Message)
			if fe.Field != "terms" {
				msg = fe.Field + ": " + msg
			}
			other = append(other, msg)
			continue
		}
		if _, seen := out[name]; !seen {
			out[name] = fe.Message
		}
	}
	return out, strings.Join(other, " ")
}

// mayFile answers the refused page when u may not file a case of proc.
func (a *App) mayFile(w http.ResponseWriter, r *http.Request, u *store.User, proc string) bool {
	ok := false
	for _, c := range caseProcesses {
		if c.name == proc && c.mayFile != nil {
			ok = c.mayFile(a.access, *u)
		}
	}
	if !ok {
		a.refused(w, r, u, &api.Problem{Status: http.StatusForbidden})
	}
	return ok
}

// customerField is the select of the customers u may file a case of proc for.
func (a *App) customerField(r *http.Request, u *store.User, p page, proc, prefix string, fv newCaseForm) (newField, error) {
	list, err := a.api.FilingCustomers(r.Context(), *u, proc)
	if err != nil {
		return newField{}, err
	}
	slices.SortStableFunc(list, func(x, y store.Customer) int { return strings.Compare(x.Name, y.Name) })
	f := newField{Name: "customer_id", ID: prefix + "-customer", Label: p.T("new.customer"), Type: "select",
		Required: true, Choose: true, Value: fv.values.Get("customer_id")}
	for _, cu := range list {
		f.Options = append(f.Options, formOption{Value: cu.ID, Label: cu.Name + " (" + cu.Tier + ")", Selected: cu.ID == f.Value})
	}
	return f, nil
}

// options are the options of an enum, labelled option.<value>, with value selected.
func options(p page, set []string, value string) []formOption {
	out := make([]formOption, len(set))
	for i, o := range set {
		out[i] = formOption{Value: o, Label: optionLabel(p, o), Selected: o == value}
	}
	return out
}

// finish fills in what every field shows from fv: its error, and the form's key.
func finish(p page, d *newCaseData, fv newCaseForm) {
	d.Key = fv.key
	if d.Key == "" {
		d.Key = newKey()
	}
	for i := range d.Fields {
		d.Fields[i].Error = errorText(p, fv.errs[d.Fields[i].Name])
	}
	d.FormError = fv.form
}

// formProblem turns the error of filing a case into the form shown again: a 422 with
// each message on its field (the same key: nothing was filed), a 409 (the key was used
// for other values: a case was filed already, or is being) with a fresh key and a
// notice, a 503 with the same key (submitting again files the case once). A 403 is the
// refused page; anything else a 500. ok is false when it answered.
func (a *App) formProblem(w http.ResponseWriter, r *http.Request, u *store.User, err error, names []string) (newCaseForm, int, bool) {
	fv := newCaseForm{values: r.PostForm, key: r.PostForm.Get("key")}
	p, isProblem := problemOf(err)
	switch {
	case isProblem && p.Status == http.StatusUnprocessableEntity:
		pg := a.newPage(r, u)
		if slices.ContainsFunc(p.Errors, func(e domain.FieldError) bool { return e.Field == "Idempotency-Key" }) {
			fv.key = "" // not one of ours: a fresh one
		}
		fv.errs, fv.form = fieldErrors(pg, p.Errors, names)
		if fv.form == "" && len(fv.errs) == 0 {
			fv.form = pg.T("new.check")
		}
		return fv, p.Status, true
	case isProblem && p.Status == http.StatusConflict:
		fv.key, fv.form = "", a.newPage(r, u).T("new.resent")
		return fv, p.Status, true
	case isProblem && p.Status == http.StatusServiceUnavailable:
		fv.form = a.newPage(r, u).T("new.unavailable")
		return fv, p.Status, true
	case isProblem && (p.Status == http.StatusForbidden || p.Status == http.StatusNotFound):
		a.refused(w, r, u, err)
	default:
		a.internal(w, r, err)
	}
	return fv, 0, false
}

// rowTable is a new-case form's table of rows (an order's lines, a plan's visits): row
// i's inputs are named <prefix>[i].<col>, as the API's 422 names their errors.
type rowTable struct {
	field *regexp.Regexp // <prefix>[i].<col>
	cols  []string       // a row's inputs
	max   int            // the most rows a form takes
}

func newRowTable(prefix string, cols []string, max int) rowTable {
	return rowTable{field: regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `\[(\d+)\]\.(\w+)`), cols: cols, max: max}
}

// posted is how many rows the posted form had.
func (t rowTable) posted(v url.Values) int {
	n := 0
	for k := range v {
		if m := t.field.FindStringSubmatch(k); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < t.max {
				n = max(n, i+1)
			}
		}
	}
	return n
}

// errors maps a 422's errors to the form's inputs: a row's error to its row's input
// (rows[i] is the form row of the request's i-th; redirect, when not nil, may send it
// to another input, naming it), a field of fields to its input, any other to the form.
func (t rowTable) errors(p page, errs []domain.FieldError, rows []int, fields []string,
	redirect func(field string) string) (map[string]string, string) {
	out := map[string]string{}
	var other []string
	set := func(name, msg string) {
		if _, seen := out[name]; !seen {
			out[name] = msg
		}
	}
	for _, fe := range errs {
		if m := t.field.FindStringSubmatch(fe.Field); m != nil {
			i, _ := strconv.Atoi(m[1])
			if i < len(rows) && slices.Contains(t.cols, m[2]) {
				name := fmt.Sprintf("%s[%d].%s", strings.SplitN(fe.Field, "[", 2)[0], rows[i], m[2])
				if redirect != nil {
					if to := redirect(fe.Field); to != "" {
						name = to
					}
				}
				set(name, fe.Message)
				continue
			}
		}
		if slices.Contains(fields, fe.Field) {
			set(fe.Field, fe.Message)
			continue
		}
		other = append(other, fe.Field+": "+errorText(p, fe.Message))
	}
	return out, strings.Join(other, " ")
}

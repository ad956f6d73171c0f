package web

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The new-case forms: GET /complaints/new and /contracts/new show them, a POST to the
// same path files the case through api.Server.FileComplaint or SubmitContract, the
// functions of POST /api/v1/complaints and /contracts, so the rules, the checks and the
// Idempotency-Key semantics are the JSON API's. Each form carries a random key in a
// hidden field: a double click or a re-sent form files one case. A 422 shows the form
// again with what was typed and each message on its field.

func init() { notices = append(notices, "notice.complaint_filed", "notice.contract_submitted") }

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
	ok := (proc == domain.ProcessComplaint && a.access.MayFileComplaint(*u)) ||
		(proc == domain.ProcessContract && a.access.MaySubmitContract(*u))
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

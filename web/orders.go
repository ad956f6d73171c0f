package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/serviceflow/serviceflow/api"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The order's pages: its list, an order with its lines, money, shipment and timeline
// and the forms of who may act on it (a payment or prepayment by finance, a
// cancellation and a progress note by the rep or their manager), the new-order form,
// and the invoices (overdue first), read and acted on through api.Server's ListOrders,
// OrderFor, OrderAction, EnterOrder and ListInvoices.
func init() {
	caseProcesses = append(caseProcesses, caseProcess{name: domain.ProcessOrder, mayFile: api.Access.MayEnterOrder,
		pages: []processPage{
			{http.MethodGet, "", false, (*App).orders},
			{http.MethodGet, "/invoices", false, (*App).invoices},
			{http.MethodGet, "/:id", false, (*App).order},
			{http.MethodGet, "/new", false, (*App).newOrderPage},
			{http.MethodPost, "/new", true, (*App).enterOrder},
			{http.MethodPost, "/:id/payments", true, (*App).orderPayment},
			{http.MethodPost, "/:id/prepayments", true, (*App).orderPrepayment},
			{http.MethodPost, "/:id/cancel", true, (*App).orderCancel},
			{http.MethodPost, "/:id/progress", true, (*App).orderProgress},
		},
		links: []processLink{{path: "/invoices", key: "invoices", may: api.Access.MaySeeInvoices}},
	})
	notices = append(notices, "notice.order_entered", "notice.payment_recorded", "notice.prepayment_recorded",
		"notice.order_cancelled", "notice.progress_sent")
}

// invoiceStatuses are the invoice list's filter values.
var invoiceStatuses = []string{domain.InvoiceOverdue, domain.InvoiceOpen, domain.InvoicePaid, domain.InvoiceVoid}

type orderRow struct {
	ID, Customer, Total, Status, Requested string
	Entered                                time.Time
}

type ordersData struct {
	page
	Statuses    []filterOption
	Customer    string
	Rows        []orderRow
	Next        string
	InvoiceLink bool
}

// orders is the order list with its filters (status, customer id), paged with the
// API's cursor.
func (a *App) orders(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	status := queryValue(r, "status", domain.OrderStatuses)
	customer := queryText(r, "customer")
	list, next, err := a.api.ListOrders(r.Context(), *u, store.OrderFilter{Status: status, CustomerID: customer,
		Limit: casePageSize, Cursor: queryCursor(r, store.CursorOrders)})
	if a.refused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("orders.title")
	d := ordersData{page: p, Statuses: filterOptions(p, domain.OrderStatuses, status, statusName), Customer: customer,
		Next:        nextLink("/orders", url.Values{"status": {status}, "customer": {customer}}, next),
		InvoiceLink: a.access.MaySeeInvoices(*u)}
	for _, st := range list {
		d.Rows = append(d.Rows, orderRow{ID: st.ID, Customer: st.CustomerName, Total: money(st.Total),
			Status: statusName(p, st.Status), Requested: st.RequestedDeliveryDate, Entered: st.EnteredAt})
	}
	a.render(w, http.StatusOK, "orders", d)
}

type invoiceRow struct {
	Number, OrderID, Customer, Rep, Amount, Open, DueOn, Status, Kind string
	DaysOverdue                                                       int
}

type invoicesData struct {
	page
	Statuses []filterOption
	Status   string
	Rows     []invoiceRow
	Next     string
}

// invoices lists the invoices for finance and managers: the overdue ones by default
// (oldest due first), or those of the status chosen ("all": any).
func (a *App) invoices(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	status := domain.InvoiceOverdue
	if r.URL.Query().Has("status") {
		status = queryValue(r, "status", invoiceStatuses)
	}
	list, next, err := a.api.ListInvoices(r.Context(), *u, store.InvoiceFilter{Status: status, Limit: casePageSize,
		Cursor: queryCursor(r, store.InvoicesCursor(status))})
	if a.refused(w, r, u, err) {
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("invoices.title")
	d := invoicesData{page: p, Statuses: filterOptions(p, invoiceStatuses, status, invoiceStatusName), Status: status,
		Next: nextLink("/orders/invoices", url.Values{"status": {status}}, next)}
	if status == "" {
		d.Next = nextLink("/orders/invoices", url.Values{"status": {"x"}}, next) // keep "any" on the next page
		d.Next = strings.Replace(d.Next, "status=x", "status=", 1)
	}
	for _, inv := range list {
		st := inv.Status
		if inv.DaysOverdue > 0 && st == domain.InvoiceOpen {
			st = domain.InvoiceOverdue
		}
		d.Rows = append(d.Rows, invoiceRow{Number: inv.Number, OrderID: inv.OrderID, Customer: inv.CustomerName, Rep: inv.Rep,
			Amount: money(inv.Amount), Open: money(inv.Open), DueOn: inv.DueOn, Status: invoiceStatusName(p, st),
			Kind: p.T("invoice.kind." + kindKey(inv.Kind)), DaysOverdue: inv.DaysOverdue})
	}
	a.render(w, http.StatusOK, "order_invoices", d)
}

// kindKey is an invoice's kind as a catalogue key (final unless prepayment).
func kindKey(kind string) string {
	if kind == domain.InvoicePrepayment {
		return domain.InvoicePrepayment
	}
	return domain.InvoiceFinal
}

// invoiceStatusName is an invoice status in the page's language.
func invoiceStatusName(p page, status string) string { return p.name("invoice.status", status) }

// lineRow is one line of an order as its page shows it.
type lineRow struct {
	SKU, Description, UnitPrice, Amount string
	Quantity                            int
}

type inspectionRow struct {
	Round                       int
	Result, Findings, Inspector string
	At                          time.Time
}

type invoiceView struct {
	Facts  []fact
	Number string
}

type paymentRow struct {
	Kind, Amount, ReceivedOn, Reference, RecordedBy, InvoiceNo, Refund string
}

type compensationRow struct {
	Kind, Target, Done string
}

// orderForm is one of the forms of an order page: its element ids' prefix, its path,
// its fields (as the new-case forms' fields) and its error that names no field.
type orderForm struct {
	// Key is the form's idempotency key: sent twice (a double click, a retry after a
	// time-out), the action is taken once.
	Prefix, Action, Title, Submit, Hint, Key string
	Fields                                   []newField
	FormError                                string
}

type orderData struct {
	page
	ID, Status, Customer string
	Facts                []fact
	Lines                []lineRow
	Total                string
	Credit               []fact
	Inspections          []inspectionRow
	Shipment             []fact
	Invoice              *invoiceView
	Prepayments          []invoiceRow
	Payments             []paymentRow
	Complaints           []string
	Cancellation         []fact
	Compensations        []compensationRow
	Forms                []orderForm
	Timeline             []timelineRow
	TimelineID           string
}

// orderFormValues is what one of the order page's forms was sent with.
type orderFormValues struct {
	form   string // the form's prefix: payment, prepayment, cancel, progress
	values url.Values
	errs   map[string]string
	other  string
}

func (a *App) order(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	a.showOrder(w, r, u, http.StatusOK, orderFormValues{})
}

// showOrder is the page of order {id}: one u may not see is the 404 page, as in the
// JSON API. fv is a form sent with errors, shown again with what was typed.
func (a *App) showOrder(w http.ResponseWriter, r *http.Request, u *store.User, status int, fv orderFormValues) {
	ctx := r.Context()
	row, err := a.api.OrderFor(ctx, *u, caseID(r))
	if a.caseRefused(w, r, u, err) {
		return
	}
	st := row.State
	tl, err := a.api.CaseTimeline(ctx, *u, domain.ProcessOrder, st.ID)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	p := a.newPage(r, u)
	p.Title = p.T("order.title", "ID", st.ID)
	p.Notice = a.takeFlash(w, r, p)
	d := orderData{page: p, ID: st.ID, Status: statusName(p, st.Status), Customer: st.CustomerName,
		Total: money(st.Total), Timeline: timeline(p, tl), TimelineID: "order-timeline"}
	add := func(to *[]fact, key, text string, long bool) {
		if text != "" {
			*to = append(*to, fact{Key: key, Label: fieldLabel(p, key), Text: text, Long: long})
		}
	}
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return p.When(*t)
	}
	add(&d.Facts, "status", d.Status, false)
	add(&d.Facts, "customer_name", st.CustomerName, false)
	add(&d.Facts, "rep", st.Rep, false)
	add(&d.Facts, "contract_id", st.ContractID, false)
	add(&d.Facts, "total", d.Total, false)
	add(&d.Facts, "entered_at", p.When(st.EnteredAt), false)
	add(&d.Facts, "requested_delivery_date", st.RequestedDeliveryDate, false)
	add(&d.Facts, "planned_date", st.PlannedDate, false)
	steps := make([]string, len(st.CurrentSteps))
	for i, s := range st.CurrentSteps {
		steps[i] = stepName(p, s)
	}
	add(&d.Facts, "current_steps", strings.Join(steps, ", "), false)
	terms := p.T("order.net_days", "N", st.PaymentTerms.NetDays)
	if st.PaymentTerms.PrepaymentPct != "" {
		terms += "; " + p.T("order.prepayment_pct", "Pct", st.PaymentTerms.PrepaymentPct)
	}
	add(&d.Facts, "payment_terms", terms, false)
	add(&d.Facts, "delivery_method", optionLabel(p, st.Delivery.Method), false)
	add(&d.Facts, "transport", st.Delivery.Transport, false)
	add(&d.Facts, "consignee", st.Delivery.Consignee, false)
	add(&d.Facts, "address", st.Delivery.Address, true)
	add(&d.Facts, "confirmed_at", when(st.ConfirmedAt), false)
	accepted := when(st.AcceptedAt)
	if accepted != "" && st.AcceptedBySilence {
		accepted += " (" + p.T("order.by_silence") + ")"
	}
	add(&d.Facts, "accepted_at", accepted, false)
	if st.EscalationLevel > 0 {
		add(&d.Facts, "escalation_level", strconv.Itoa(st.EscalationLevel), false)
	}

	for _, l := range st.Lines {
		price, _ := l.UnitPrice.Decimal()
		amount := domain.NewMoney(price.Mul(decimal.NewFromInt(int64(l.Quantity))), l.UnitPrice.Currency)
		d.Lines = append(d.Lines, lineRow{SKU: l.SKU, Description: l.Description, Quantity: l.Quantity,
			UnitPrice: money(l.UnitPrice), Amount: money(amount)})
	}
	if c := st.Credit; c != nil {
		add(&d.Credit, "credit_result", p.T(map[bool]string{true: "order.credit_passed", false: "order.credit_held"}[c.Passed]), false)
		reasons := make([]string, len(c.Reasons))
		for i, rs := range c.Reasons {
			reasons[i] = p.name("credit.reason", rs)
		}
		add(&d.Credit, "credit_reasons", strings.Join(reasons, ", "), false)
		add(&d.Credit, "credit_limit", money(c.Limit), false)
		add(&d.Credit, "open_invoices", money(c.OpenInvoices), false)
		add(&d.Credit, "open_orders", money(c.OpenOrders), false)
		add(&d.Credit, "order_amount", money(c.Order), false)
		add(&d.Credit, "exposure", money(c.Exposure), false)
		add(&d.Credit, "prepaid", money(c.Prepaid), false)
		add(&d.Credit, "customer_tier", c.Tier, false)
		if c.Decision != "" {
			add(&d.Credit, "decision", actionLabel(p, c.Decision)+" · "+c.DecidedBy, false)
		}
		add(&d.Credit, "checked_at", p.When(c.At), false)
	}
	for _, in := range st.Inspections {
		d.Inspections = append(d.Inspections, inspectionRow{Round: in.Round, Result: actionLabel(p, in.Result),
			Findings: in.Findings, Inspector: in.Inspector, At: in.At})
	}
	if s := st.Shipment; s != nil {
		add(&d.Shipment, "delivery_method", optionLabel(p, s.Method), false)
		add(&d.Shipment, "carrier", s.Carrier, false)
		add(&d.Shipment, "tracking_no", s.TrackingNo, false)
		add(&d.Shipment, "certificate_no", s.CertificateNo, false)
		add(&d.Shipment, "received_by", s.ReceivedBy, false)
		add(&d.Shipment, "shipped_by", s.By, false)
		add(&d.Shipment, "shipped_at", p.When(s.At), false)
	}
	if inv := st.Invoice; inv != nil {
		v := &invoiceView{Number: inv.Number}
		add(&v.Facts, "invoice_no", inv.Number, false)
		add(&v.Facts, "invoice_status", invoiceStatusName(p, a.invoiceStatus(*inv)), false)
		add(&v.Facts, "amount", money(inv.Amount), false)
		add(&v.Facts, "paid", money(inv.Paid), false)
		add(&v.Facts, "open", money(inv.Open), false)
		add(&v.Facts, "issued_at", p.When(inv.IssuedAt), false)
		add(&v.Facts, "due_on", inv.DueOn, false)
		add(&v.Facts, "voided_at", when(inv.VoidedAt), false)
		d.Invoice = v
	}
	for _, inv := range st.PrepaymentInvoices {
		d.Prepayments = append(d.Prepayments, invoiceRow{Number: inv.Number, Amount: money(inv.Amount), DueOn: inv.DueOn,
			Status: invoiceStatusName(p, inv.Status)})
	}
	for _, pay := range st.Payments {
		pr := paymentRow{Kind: p.T("payment.kind." + paymentKindKey(pay.Kind)), Amount: money(pay.Amount),
			ReceivedOn: pay.ReceivedOn, Reference: pay.Reference, RecordedBy: pay.RecordedBy, InvoiceNo: pay.InvoiceNo}
		if rf := pay.Refund; rf != nil {
			pr.Refund = p.T("order.refunded", "Reference", rf.Reference, "User", rf.By, "At", p.When(rf.At))
		}
		d.Payments = append(d.Payments, pr)
	}
	d.Complaints = st.ComplaintIDs
	if c := st.Cancellation; c != nil {
		add(&d.Cancellation, "cause", p.name("cause", c.Cause), false)
		add(&d.Cancellation, "cancelled_by", c.By, false)
		add(&d.Cancellation, "cancelled_at", p.When(c.At), false)
		add(&d.Cancellation, "reason", c.Reason, true)
		for _, cp := range c.Compensations {
			done := p.T("order.comp_pending")
			if cp.Done {
				done = p.T("order.comp_done")
				if !cp.At.IsZero() {
					done += " · " + p.When(cp.At)
				}
			}
			d.Compensations = append(d.Compensations, compensationRow{Kind: p.name("comp", cp.Kind), Target: cp.Target, Done: done})
		}
	}
	forms, err := a.orderForms(r, u, p, st, fv)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	d.Forms = forms
	a.render(w, status, "order", d)
}

// invoiceStatus is an invoice's status as finance reads it: open past its due date is
// overdue.
func (a *App) invoiceStatus(inv domain.Invoice) string {
	if inv.Status == domain.InvoiceOpen && inv.DueOn != "" && inv.DueOn < a.now().UTC().Format(time.DateOnly) {
		return domain.InvoiceOverdue
	}
	return inv.Status
}

func paymentKindKey(kind string) string {
	if kind == domain.PaymentKindPrepayment {
		return domain.PaymentKindPrepayment
	}
	return domain.PaymentKindPayment
}

// orderForms are the forms of the order page u may use on st now: the access rules are
// the API's (api.Access), the statuses those the workflow accepts the Update in.
func (a *App) orderForms(r *http.Request, u *store.User, p page, st domain.OrderState, fv orderFormValues) ([]orderForm, error) {
	var out []orderForm
	v := func(form, name string) string {
		if fv.form != form {
			return ""
		}
		return fv.values.Get(name)
	}
	finishForm := func(f orderForm) orderForm {
		f.Key = newKey()
		if fv.form == f.Prefix {
			for i := range f.Fields {
				f.Fields[i].Error = errorText(p, fv.errs[f.Fields[i].Name])
			}
			f.FormError = fv.other
			// Not refused (a time-out, a conflict): a resend may be the same action.
			if k := fv.values.Get("key"); k != "" && len(fv.errs) == 0 {
				f.Key = k
			}
		}
		return f
	}
	currency := []formOption{{Value: st.Total.Currency, Label: st.Total.Currency, Selected: true}}
	base := "/orders/" + url.PathEscape(st.ID)
	if a.access.MayRecordPayments(*u) {
		switch st.Status {
		case domain.OrderInvoiced, domain.OrderOverdue:
			hint := ""
			if st.Invoice != nil {
				hint = p.T("order.open_amount", "Amount", money(st.Invoice.Open))
			}
			received := v("payment", "received_on")
			if fv.form != "payment" {
				received = a.now().In(p.tz).Format(time.DateOnly)
			}
			out = append(out, finishForm(orderForm{Prefix: "payment", Action: base + "/payments", Title: p.T("order.form.payment"),
				Submit: p.T("order.form.payment_submit"), Hint: hint, Fields: []newField{
					{Name: "amount", ID: "payment-amount", Label: fieldLabel(p, "amount"), Type: "money", Required: true,
						Value: v("payment", "amount"), Currency: st.Total.Currency, Currencies: currency},
					{Name: "received_on", ID: "payment-received", Label: fieldLabel(p, "received_on"), Type: "date", Required: true,
						Value: received},
					{Name: "reference", ID: "payment-reference", Label: fieldLabel(p, "reference"), Type: "text", Required: true,
						Max: domain.MaxOrderShortText, Value: v("payment", "reference")},
				}}))
		case domain.OrderInReview, domain.OrderCreditHold:
			out = append(out, finishForm(orderForm{Prefix: "prepayment", Action: base + "/prepayments", Title: p.T("order.form.prepayment"),
				Submit: p.T("order.form.prepayment_submit"), Hint: p.T("order.form.prepayment_hint"), Fields: []newField{
					{Name: "amount", ID: "prepayment-amount", Label: fieldLabel(p, "amount"), Type: "money", Required: true,
						Value: v("prepayment", "amount"), Currency: st.Total.Currency, Currencies: currency},
					{Name: "reference", ID: "prepayment-reference", Label: fieldLabel(p, "reference"), Type: "text", Required: true,
						Max: domain.MaxOrderShortText, Value: v("prepayment", "reference")},
				}}))
		}
	}
	if !slices.Contains([]string{domain.OrderCancelled, domain.OrderLapsed, domain.OrderPaid}, st.Status) {
		if a.access.MayPostProgress(*u, st) {
			out = append(out, finishForm(orderForm{Prefix: "progress", Action: base + "/progress", Title: p.T("order.form.progress"),
				Submit: p.T("order.form.progress_submit"), Hint: p.T("order.form.progress_hint"), Fields: []newField{
					{Name: "note", ID: "progress-note", Label: fieldLabel(p, "note"), Type: "textarea", Required: true,
						Max: domain.MaxOrderText, Value: v("progress", "note")},
				}}))
		}
		if slices.Contains(domain.OrderCancellable, st.Status) {
			may, err := a.api.MayActOnOrder(r.Context(), *u, st, domain.UpdateCancelOrder)
			if err != nil {
				return nil, err
			}
			if may {
				out = append(out, finishForm(orderForm{Prefix: "cancel", Action: base + "/cancel", Title: p.T("order.form.cancel"),
					Submit: p.T("order.form.cancel_submit"), Hint: p.T("order.form.cancel_hint"), Fields: []newField{
						{Name: "reason", ID: "cancel-reason", Label: fieldLabel(p, "reason"), Type: "textarea", Required: true,
							Max: domain.MaxOrderText, Value: v("cancel", "reason")},
					}}))
			}
		}
	}
	return out, nil
}

// orderActionForm sends one of the order page's forms through api.Server.OrderAction:
// afterwards the order's page with a notice; a 422 the page again with each message on
// its field; a 409 (the order's status no longer allows it) or a 503 with the message
// above the form.
func (a *App) orderActionForm(w http.ResponseWriter, r *http.Request, form, update, notice string, names []string,
	req func(v url.Values) any) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := caseID(r)
	_, err := a.api.OrderAction(r.Context(), *u, id, update, r.PostForm.Get("key"), req(r.PostForm))
	if err == nil {
		a.setFlash(w, notice, id)
		http.Redirect(w, r, "/orders/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	prob, isProblem := problemOf(err)
	if !isProblem {
		a.internal(w, r, err)
		return
	}
	p := a.newPage(r, u)
	fv := orderFormValues{form: form, values: r.PostForm, errs: map[string]string{}}
	switch prob.Status {
	case http.StatusUnprocessableEntity:
		var other []string
		for _, fe := range prob.Errors {
			name, _, _ := strings.Cut(fe.Field, ".")
			if !slices.Contains(names, name) {
				other = append(other, fe.Field+": "+errorText(p, fe.Message))
				continue
			}
			if _, seen := fv.errs[name]; !seen {
				fv.errs[name] = fe.Message
			}
		}
		fv.other = strings.Join(other, " ")
		if len(fv.errs) == 0 && fv.other == "" {
			fv.other = p.T("new.check")
		}
	case http.StatusConflict:
		fv.other = p.T("order.error.status")
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		fv.other = p.T("order.error.unavailable")
	default:
		a.caseRefused(w, r, u, err)
		return
	}
	a.showOrder(w, r, u, prob.Status, fv)
}

// formMoney is the money of a form's amount field and its currency select.
func formMoney(v url.Values, name string) domain.Money {
	return domain.Money{Amount: strings.TrimSpace(v.Get(name)), Currency: strings.ToUpper(strings.TrimSpace(v.Get(name + "_currency")))}
}

func (a *App) orderPayment(w http.ResponseWriter, r *http.Request) {
	a.orderActionForm(w, r, "payment", domain.UpdateRecordPayment, "notice.payment_recorded",
		[]string{"amount", "received_on", "reference"}, func(v url.Values) any {
			return domain.PaymentRequest{Amount: formMoney(v, "amount"), ReceivedOn: strings.TrimSpace(v.Get("received_on")),
				Reference: v.Get("reference")}
		})
}

func (a *App) orderPrepayment(w http.ResponseWriter, r *http.Request) {
	a.orderActionForm(w, r, "prepayment", domain.UpdateRecordPrepayment, "notice.prepayment_recorded",
		[]string{"amount", "reference"}, func(v url.Values) any {
			return domain.PaymentRequest{Amount: formMoney(v, "amount"), Reference: v.Get("reference")}
		})
}

func (a *App) orderCancel(w http.ResponseWriter, r *http.Request) {
	a.orderActionForm(w, r, "cancel", domain.UpdateCancelOrder, "notice.order_cancelled", []string{"reason"},
		func(v url.Values) any { return domain.CancelOrderRequest{Reason: v.Get("reason")} })
}

func (a *App) orderProgress(w http.ResponseWriter, r *http.Request) {
	a.orderActionForm(w, r, "progress", domain.UpdateOrderProgress, "notice.progress_sent", []string{"note"},
		func(v url.Values) any { return domain.OrderProgressRequest{Note: v.Get("note")} })
}

// --- the new-order form ---

// orderBlankLines is how many line rows a fresh new-order form has; orderMaxRows the
// most rows the form shows (the API takes domain.MaxOrderLines).
const (
	orderBlankLines = 3
	orderMaxRows    = 50
)

// lineCell is one input of a line row.
type lineCell struct {
	Name, ID, Label, Value, Error, Mode string
}

type lineInput struct {
	N     int // 1-based, for people
	Cells []lineCell
}

type newOrderData struct {
	page
	Key         string
	Customer    newField
	Currency    newField
	Lines       []lineInput
	Rows        int
	LinesError  string
	Fields      []newField
	FormError   string
	NoCustomers bool
}

// orderLineCols are the inputs of a line row.
var orderLineCols = []string{"sku", "description", "quantity", "unit_price"}

// newOrderForm is what the new-order form was sent with: the values, the errors by
// the form's input names (lines[2].quantity: the form's third row), the form's key.
type newOrderForm struct {
	values url.Values
	key    string
	rows   int
	errs   map[string]string
	form   string
}

func (a *App) newOrderPage(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok || !a.mayFile(w, r, u, domain.ProcessOrder) {
		return
	}
	a.showOrderForm(w, r, u, http.StatusOK, newOrderForm{})
}

func (a *App) showOrderForm(w http.ResponseWriter, r *http.Request, u *store.User, status int, fv newOrderForm) {
	p := a.newPage(r, u)
	p.Title = p.T("new.order.title")
	p.Notice = a.takeFlash(w, r, p)
	cust, err := a.customerField(r, u, p, domain.ProcessOrder, "order", newCaseForm{values: fv.values})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	fresh := fv.values == nil
	v := fv.values
	get := func(name, def string) string {
		if fresh {
			return def
		}
		return v.Get(name)
	}
	rows := max(fv.rows, orderBlankLines)
	d := newOrderData{page: p, Key: fv.key, Customer: cust, Rows: rows, NoCustomers: len(cust.Options) == 0, FormError: fv.form}
	if d.Key == "" {
		d.Key = newKey()
	}
	d.Customer.Error = errorText(p, fv.errs["customer_id"])
	currency := get("currency", "CNY")
	d.Currency = newField{Name: "currency", ID: "order-currency", Label: fieldLabel(p, "currency"), Type: "select", Required: true}
	for _, c := range a.api.ContractCurrencies() {
		d.Currency.Options = append(d.Currency.Options, formOption{Value: c, Label: c, Selected: c == currency})
	}
	d.LinesError = errorText(p, fv.errs["lines"])
	for i := range rows {
		li := lineInput{N: i + 1}
		for _, col := range orderLineCols {
			name := fmt.Sprintf("lines[%d].%s", i, col)
			c := lineCell{Name: name, ID: fmt.Sprintf("line-%d-%s", i, col), Value: v.Get(name), Error: errorText(p, fv.errs[name]),
				Label: p.T("order.line_input", "Column", fieldLabel(p, col), "N", i+1)}
			if col == "quantity" {
				c.Mode = "numeric"
			} else if col == "unit_price" {
				c.Mode = "decimal"
			}
			li.Cells = append(li.Cells, c)
		}
		d.Lines = append(d.Lines, li)
	}
	method := get("delivery.method", domain.DeliveryDelivery)
	d.Fields = []newField{
		{Name: "requested_delivery_date", ID: "order-date", Label: fieldLabel(p, "requested_delivery_date"), Type: "date",
			Required: true, Value: get("requested_delivery_date", "")},
		{Name: "payment_terms.net_days", ID: "order-net-days", Label: fieldLabel(p, "net_days"), Type: "decimal", Required: true,
			Value: get("payment_terms.net_days", "30"), Hint: p.T("new.order.net_days_hint")},
		{Name: "payment_terms.prepayment_pct", ID: "order-prepayment", Label: fieldLabel(p, "prepayment_pct"), Type: "decimal",
			Value: get("payment_terms.prepayment_pct", ""), Hint: p.T("new.order.prepayment_hint")},
		{Name: "delivery.method", ID: "order-method", Label: fieldLabel(p, "delivery_method"), Type: "select", Required: true,
			Options: options(p, []string{domain.DeliveryDelivery, domain.DeliveryPickup}, method)},
		{Name: "delivery.transport", ID: "order-transport", Label: fieldLabel(p, "transport"), Type: "text",
			Max: domain.MaxOrderShortText, Value: get("delivery.transport", "")},
		{Name: "delivery.consignee", ID: "order-consignee", Label: fieldLabel(p, "consignee"), Type: "text",
			Max: domain.MaxOrderShortText, Value: get("delivery.consignee", ""), Hint: p.T("new.order.delivery_hint")},
		{Name: "delivery.address", ID: "order-address", Label: fieldLabel(p, "address"), Type: "textarea",
			Max: domain.MaxOrderText, Value: get("delivery.address", ""), Hint: p.T("new.order.delivery_hint")},
		{Name: "contract_id", ID: "order-contract", Label: fieldLabel(p, "contract_id"), Type: "text", Max: 100,
			Value: get("contract_id", ""), Hint: p.T("new.order.contract_hint")},
	}
	for i := range d.Fields {
		d.Fields[i].Error = errorText(p, fv.errs[d.Fields[i].Name])
	}
	a.render(w, status, "order_new", d)
}

// orderLines is the new-order form's table of lines.
var orderLines = newRowTable("lines", orderLineCols, orderMaxRows)

// orderRequest is the order of the posted form, with the form row of each of its
// lines (blank rows are left out).
func orderRequest(v url.Values) (domain.OrderRequest, []int) {
	req := domain.OrderRequest{CustomerID: v.Get("customer_id"), ContractID: strings.TrimSpace(v.Get("contract_id")),
		RequestedDeliveryDate: strings.TrimSpace(v.Get("requested_delivery_date")),
		PaymentTerms:          domain.PaymentTerms{PrepaymentPct: strings.TrimSpace(v.Get("payment_terms.prepayment_pct"))},
		Delivery: domain.Delivery{Method: v.Get("delivery.method"), Transport: strings.TrimSpace(v.Get("delivery.transport")),
			Consignee: strings.TrimSpace(v.Get("delivery.consignee")), Address: strings.TrimSpace(v.Get("delivery.address"))}}
	req.PaymentTerms.NetDays = -1 // not a number: the API names the field
	if n, err := strconv.Atoi(strings.TrimSpace(v.Get("payment_terms.net_days"))); err == nil {
		req.PaymentTerms.NetDays = n
	}
	currency := strings.ToUpper(strings.TrimSpace(v.Get("currency")))
	var rows []int
	for i := range orderLines.posted(v) {
		cell := func(col string) string { return strings.TrimSpace(v.Get(fmt.Sprintf("lines[%d].%s", i, col))) }
		if cell("sku") == "" && cell("description") == "" && cell("quantity") == "" && cell("unit_price") == "" {
			continue
		}
		q, err := strconv.Atoi(cell("quantity"))
		if err != nil {
			q = 0
		}
		req.Lines = append(req.Lines, domain.OrderLine{SKU: cell("sku"), Description: cell("description"), Quantity: q,
			UnitPrice: domain.Money{Amount: cell("unit_price"), Currency: currency}})
		rows = append(rows, i)
	}
	return req, rows
}

// orderFieldNames are the new-order form's inputs besides the lines.
var orderFieldNames = []string{"customer_id", "lines", "requested_delivery_date", "payment_terms.net_days",
	"payment_terms.prepayment_pct", "delivery.method", "delivery.transport", "delivery.consignee", "delivery.address",
	"contract_id", "currency"}

// orderErrors maps a 422's errors to the new-order form's inputs: a line's error to
// its row's input, a line's currency to the form's currency, other names to the form.
func orderErrors(p page, errs []domain.FieldError, rows []int) (map[string]string, string) {
	return orderLines.errors(p, errs, rows, orderFieldNames, func(field string) string {
		if strings.HasSuffix(field, ".currency") {
			return "currency"
		}
		return ""
	})
}

// enterOrder enters the posted order through api.Server.EnterOrder; "add a line" shows
// the form again with one more row.
func (a *App) enterOrder(w http.ResponseWriter, r *http.Request) {
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	v := r.PostForm
	fv := newOrderForm{values: v, key: v.Get("key"), rows: orderLines.posted(v)}
	if v.Get("more") != "" {
		if !a.mayFile(w, r, u, domain.ProcessOrder) {
			return
		}
		fv.rows = min(fv.rows+1, orderMaxRows)
		a.showOrderForm(w, r, u, http.StatusOK, fv)
		return
	}
	req, rows := orderRequest(v)
	out, err := a.api.EnterOrder(r.Context(), *u, req, fv.key)
	if err == nil {
		a.setFlash(w, "notice.order_entered", out.ID)
		http.Redirect(w, r, "/orders/"+url.PathEscape(out.ID), http.StatusSeeOther)
		return
	}
	if prob, isProblem := problemOf(err); isProblem && prob.Status == http.StatusUnprocessableEntity {
		p := a.newPage(r, u)
		if slices.ContainsFunc(prob.Errors, func(e domain.FieldError) bool { return e.Field == "Idempotency-Key" }) {
			fv.key = ""
		}
		fv.errs, fv.form = orderErrors(p, prob.Errors, rows)
		if fv.form == "" && len(fv.errs) == 0 {
			fv.form = p.T("new.check")
		}
		a.showOrderForm(w, r, u, prob.Status, fv)
		return
	}
	if cf, status, ok := a.formProblem(w, r, u, err, nil); ok {
		fv.key, fv.form = cf.key, cf.form
		a.showOrderForm(w, r, u, status, fv)
	}
}

// lineText is an order's line of a task's context (key "lines") as one text:
// "4 × PUMP-100 Centrifugal pump, 2500.00 CNY each"; false for anything else.
func lineText(p page, key string, m map[string]any) (string, bool) {
	sku, ok := m["sku"].(string)
	if key != "lines" || !ok {
		return "", false
	}
	desc, _ := m["description"].(string)
	text := fmt.Sprint(m["quantity"]) + " × " + sku + " " + desc
	if price, ok := m["unit_price"].(map[string]any); ok {
		amt, _ := price["amount"].(string)
		cur, _ := price["currency"].(string)
		text += ", " + p.T("order.each", "Price", amt+" "+cur)
	}
	return text, true
}

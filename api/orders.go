package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

func init() {
	processRoutes[domain.ProcessOrder] = func(s *Server, v1 *gin.RouterGroup) {
		v1.POST("/orders", s.createOrder)
		v1.GET("/orders", s.listOrders)
		v1.GET("/orders/:id", s.getOrder)
		v1.POST("/orders/:id/cancel", s.cancelOrder)
		v1.POST("/orders/:id/progress", s.orderProgress)
		v1.POST("/orders/:id/payments", s.recordPayment)
		v1.POST("/orders/:id/prepayments", s.recordPrepayment)
		v1.GET("/invoices", s.listInvoices)
	}
	caseAccess[domain.ProcessOrder] = func(s *Server, ctx context.Context, u store.User, id string) error {
		_, err := s.OrderFor(ctx, u, id)
		return err
	}
}

// OrderCreated is an entered order: the 201 body of POST /orders.
type OrderCreated struct {
	ID                    string       `json:"id"`
	Status                string       `json:"status"`
	CustomerID            string       `json:"customer_id"`
	Total                 domain.Money `json:"total"`
	RequestedDeliveryDate string       `json:"requested_delivery_date"`
	// Replayed: entered by an earlier request with the same idempotency key.
	Replayed bool `json:"-"`
}

// orderDetail is an order with its timeline (GET /orders/{id} and the Updates' answers).
type orderDetail struct {
	domain.OrderState
	Timeline []store.TimelineEntry `json:"timeline"`
}

// invoiceResponse is an invoice in GET /invoices.
type invoiceResponse struct {
	domain.Invoice
	CustomerID   string `json:"customer_id"`
	CustomerName string `json:"customer_name"`
	Rep          string `json:"rep"`
	DaysOverdue  int    `json:"days_overdue"`
}

func invoiceDTO(r store.InvoiceRow) invoiceResponse {
	return invoiceResponse{Invoice: r.Invoice, CustomerID: r.CustomerID, CustomerName: r.CustomerName, Rep: r.Rep, DaysOverdue: r.DaysOverdue}
}

func orderDTO(st domain.OrderState) domain.OrderState {
	st.OpenTasks = nil
	return st
}

func (s *Server) createOrder(c *gin.Context) {
	if !s.access.MayEnterOrder(me(c)) { // before the body: no 400 or 422 to those who may not
		forbidden(c, "only sales reps enter orders")
		return
	}
	var req domain.OrderRequest
	v, ok := decodeJSON(c, &req, false)
	if !ok {
		return
	}
	s.waitForWorkflow(c)
	_, res, err := s.enterOrder(c.Request.Context(), me(c), req, c.GetHeader("Idempotency-Key"), v)
	if err != nil {
		s.failCreate(c, err)
		return
	}
	writeCreated(c, createPath(domain.OrderProcess)+"/"+res.ResourceID, res)
}

// EnterOrder enters an order for u, as POST /api/v1/orders does, under the idempotency
// key key ("" for none): a 403 *Problem when u is not a sales rep, a 422 one naming the
// fields at fault (customer_id, lines[0].quantity, contract_id, …), a 503 one when the
// process could not be started (retry with the same key). The caller gives ctx the
// workflow deadline (the web app's route is HandleUpdating).
func (s *Server) EnterOrder(ctx context.Context, u store.User, req domain.OrderRequest, key string) (OrderCreated, error) {
	out, _, err := s.enterOrder(ctx, u, req, key, nil)
	return out, err
}

func (s *Server) enterOrder(ctx context.Context, u store.User, req domain.OrderRequest, key string, v checks) (OrderCreated, store.IdempotentResult, error) {
	if !s.access.MayEnterOrder(u) {
		return OrderCreated{}, store.IdempotentResult{}, problem(http.StatusForbidden, "only sales reps enter orders")
	}
	for _, e := range req.Validate() {
		v.add(e.Field, e.Message)
	}
	var cu store.Customer
	if !v.failed("customer_id") {
		var err error
		cu, err = s.st.CustomerByID(ctx, req.CustomerID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return OrderCreated{}, store.IdempotentResult{}, err
		}
		if err != nil || !s.access.MayEnterOrderFor(u, cu) {
			v.add("customer_id", "no such customer of yours")
		}
	}
	total := req.Total()
	linesOK := !slices.ContainsFunc(v, func(e domain.FieldError) bool { return strings.HasPrefix(e.Field, "lines") })
	if linesOK && len(req.Lines) > 0 {
		if _, err := s.cfg.OrderPolicy.ToCNY(total); err != nil {
			v.add("lines[0].unit_price.currency", "no exchange rate is configured for "+total.Currency+", so the credit check could not be made")
		}
	}
	if p := v.problem(); p != nil {
		return OrderCreated{}, store.IdempotentResult{}, p
	}
	res, err := s.startCase(ctx, u, domain.OrderProcess, key, req, func(ctx context.Context, tx pgx.Tx, id string) (any, any, error) {
		if req.ContractID != "" {
			if err := checkContractBudget(ctx, tx, req, total); err != nil {
				return nil, nil, err
			}
		}
		in := domain.OrderInput{
			ID: id, CustomerID: cu.ID, CustomerName: cu.Name, CustomerEmail: cu.Email, CustomerTier: cu.Tier,
			Locale: cu.Locale, CreditLimit: cu.CreditLimit, Rep: u.Username, RepName: u.DisplayName, RepManager: u.Manager,
			ContractID: req.ContractID, Request: req, Total: total,
			EnteredAt: s.now().UTC().Truncate(time.Microsecond), Policy: s.cfg.OrderPolicy,
			ComplaintPolicy: s.cfg.ComplaintPolicy,
		}
		if err := store.UpsertOrder(ctx, tx, in.NewState(), domain.OrderWorkflowID(id)); err != nil {
			return nil, nil, err
		}
		return in, OrderCreated{ID: id, Status: domain.OrderInReview, CustomerID: cu.ID, Total: total,
			RequestedDeliveryDate: req.RequestedDeliveryDate}, nil
	})
	out, err := createdBody[OrderCreated](res, err)
	out.Replayed = res.Replayed
	return out, res, err
}

// checkContractBudget checks an order against its contract, locked until the order's row
// commits (so two orders cannot both take the last of it): the contract exists, is the
// customer's, is approved and in the order's currency, and its remaining amount covers
// the order. A 422 *Problem otherwise.
func checkContractBudget(ctx context.Context, tx pgx.Tx, req domain.OrderRequest, total domain.Money) error {
	b, err := store.ContractRemaining(ctx, tx, req.ContractID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && b.CustomerID != req.CustomerID) {
		return invalid(domain.FieldError{Field: "contract_id", Message: "no such contract of this customer"})
	}
	if err != nil {
		return err
	}
	if b.Status != domain.ContractApproved && b.Status != domain.ContractAmendmentReview {
		return invalid(domain.FieldError{Field: "contract_id", Message: "the contract is " + b.Status + ", not approved"})
	}
	if b.Amount.Currency != total.Currency {
		return invalid(domain.FieldError{Field: "lines", Message: "must be in the contract's currency, " + b.Amount.Currency})
	}
	amount, _ := b.Amount.Decimal()
	want, _ := total.Decimal()
	if remaining := amount.Sub(b.Ordered); want.GreaterThan(remaining) {
		return invalid(domain.FieldError{Field: "lines", Message: "the order's total " + want.StringFixed(2) + " exceeds the contract's remaining amount " +
			decimal.Max(remaining, decimal.Zero).StringFixed(2) + " " + total.Currency})
	}
	return nil
}

// OrderFor returns order id for u: a 404 *Problem when it is unknown or u may not see it.
// The JSON detail, the order Updates and the web app's order page read through it.
func (s *Server) OrderFor(ctx context.Context, u store.User, id string) (store.OrderRow, error) {
	row, err := s.st.GetOrder(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.access.SeesCase(u, domain.ProcessOrder, OrderParties(row.State))) {
		return store.OrderRow{}, problem(http.StatusNotFound, "order not found")
	}
	return row, err
}

// ListOrders lists a page of the orders u may list: f's status, customer and page,
// narrowed to the orders u entered when u lists only their own; a 403 *Problem when u
// may list none.
func (s *Server) ListOrders(ctx context.Context, u store.User, f store.OrderFilter) ([]domain.OrderState, string, error) {
	by, err := s.listOwner(u, domain.ProcessOrder)
	if err != nil {
		return nil, "", err
	}
	f.Rep = by
	return s.st.ListOrders(ctx, f)
}

// ListInvoices lists a page of invoices for finance and managers (f.Status open,
// overdue, paid, void or ""; overdue compared with today in UTC); a 403 *Problem for
// anybody else.
func (s *Server) ListInvoices(ctx context.Context, u store.User, f store.InvoiceFilter) ([]store.InvoiceRow, string, error) {
	if !s.access.MaySeeInvoices(u) {
		return nil, "", problem(http.StatusForbidden, "only finance and managers list invoices")
	}
	if f.Today == "" {
		f.Today = s.now().UTC().Format(time.DateOnly)
	}
	return s.st.ListInvoices(ctx, f)
}

// loadOrder loads the order of the :id path parameter, answering 404 when the caller
// may not see it.
func (s *Server) loadOrder(c *gin.Context) (store.OrderRow, bool) {
	id, ok := pathID(c, "id", "order")
	if !ok {
		return store.OrderRow{}, false
	}
	row, err := s.OrderFor(c.Request.Context(), me(c), id)
	if err != nil {
		s.fail(c, err)
		return row, false
	}
	return row, true
}

func (s *Server) getOrder(c *gin.Context) {
	row, ok := s.loadOrder(c)
	if !ok {
		return
	}
	s.writeOrder(c, row.State)
}

// writeOrder answers an order with its timeline.
func (s *Server) writeOrder(c *gin.Context, st domain.OrderState) {
	tl, err := s.st.Timeline(c.Request.Context(), st.ID)
	if err != nil {
		s.internal(c, err)
		return
	}
	if tl == nil {
		tl = []store.TimelineEntry{}
	}
	writeJSON(c, http.StatusOK, orderDetail{OrderState: orderDTO(st), Timeline: tl})
}

func (s *Server) listOrders(c *gin.Context) {
	f := store.OrderFilter{Status: c.Query("status"), CustomerID: c.Query("customer_id")}
	if s.mayList(c, domain.ProcessOrder) {
		servePage(s, c, &f, store.CursorOrders, &f.Limit, &f.Cursor, statusIn(f.Status, domain.OrderStatuses),
			func(ctx context.Context, f store.OrderFilter) ([]domain.OrderState, string, error) {
				return s.ListOrders(ctx, me(c), f)
			}, orderDTO)
	}
}

func (s *Server) listInvoices(c *gin.Context) {
	if !s.access.MaySeeInvoices(me(c)) {
		forbidden(c, "only finance and managers list invoices")
		return
	}
	f := store.InvoiceFilter{Status: c.Query("status"), CustomerID: c.Query("customer_id")}
	servePage(s, c, &f, store.InvoicesCursor(f.Status), &f.Limit, &f.Cursor,
		statusIn(f.Status, []string{domain.InvoiceOpen, domain.InvoiceOverdue, domain.InvoicePaid, domain.InvoiceVoid}),
		func(ctx context.Context, f store.InvoiceFilter) ([]store.InvoiceRow, string, error) {
			return s.ListInvoices(ctx, me(c), f)
		}, invoiceDTO)
}

type orderReasonBody struct {
	Reason string `json:"reason"`
}

type orderNoteBody struct {
	Note string `json:"note"`
}

type orderPaymentBody struct {
	Amount     domain.Money `json:"amount"`
	ReceivedOn string       `json:"received_on"`
	Reference  string       `json:"reference"`
}

type orderPrepaymentBody struct {
	Amount    domain.Money `json:"amount"`
	Reference string       `json:"reference"`
}

func (s *Server) cancelOrder(c *gin.Context) {
	var body orderReasonBody
	s.orderUpdate(c, &body, domain.UpdateCancelOrder, "only the rep who entered the order or their manager cancels it",
		func(actor string) any { return domain.CancelOrderRequest{Actor: actor, Reason: body.Reason} })
}

func (s *Server) orderProgress(c *gin.Context) {
	var body orderNoteBody
	s.orderUpdate(c, &body, domain.UpdateOrderProgress, "only the rep who entered the order posts progress notes",
		func(actor string) any { return domain.OrderProgressRequest{Actor: actor, Note: body.Note} })
}

func (s *Server) recordPayment(c *gin.Context) {
	var body orderPaymentBody
	s.orderUpdate(c, &body, domain.UpdateRecordPayment, "only finance records payments",
		func(actor string) any {
			return domain.PaymentRequest{Actor: actor, Amount: body.Amount, ReceivedOn: body.ReceivedOn, Reference: body.Reference}
		})
}

func (s *Server) recordPrepayment(c *gin.Context) {
	var body orderPrepaymentBody
	s.orderUpdate(c, &body, domain.UpdateRecordPrepayment, "only finance records prepayments",
		func(actor string) any {
			return domain.PaymentRequest{Actor: actor, Amount: body.Amount, Reference: body.Reference}
		})
}

// orderUpdate sends one order Update for a caller who may (MayActOnOrder): it loads the
// order (404 when not visible), checks the caller (403), decodes the body, and answers
// the order as the workflow returns it. The workflow validates the request: 409 when
// the order's status does not allow it, 422 with the fields at fault.
func (s *Server) orderUpdate(c *gin.Context, body any, name, denied string, req func(actor string) any) {
	row, ok := s.loadOrder(c)
	if !ok {
		return
	}
	u := me(c)
	may, err := s.MayActOnOrder(c.Request.Context(), u, row.State, name)
	if err != nil {
		s.internal(c, err)
		return
	}
	if !may {
		forbidden(c, denied)
		return
	}
	if !decodeUpdateBody(c, body, false) {
		return
	}
	s.waitForWorkflow(c) // first: it gives the request a new context, which takes the key
	ctx, err := withUpdateKey(c.Request.Context(), name, u, c.GetHeader("Idempotency-Key"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Request = c.Request.WithContext(ctx)
	var st domain.OrderState
	if !s.updateCase(c, row.WorkflowID, name, req(u.Username), &st, orderUpdateProblem) {
		return
	}
	s.writeOrder(c, st)
}

// OrderAction sends one order Update for u, as the order's POST routes do: the web
// app's forms call it. name is one of the order Updates (domain.UpdateCancelOrder, …)
// and req its request (CancelOrderRequest, OrderProgressRequest, PaymentRequest)
// without the actor, which OrderAction fills. Errors are *Problems as the routes answer
// them (404, 403, 409, 422 naming amount, reason, …). key is the form's idempotency key
// ("" for none): the same key sends the action once.
func (s *Server) OrderAction(ctx context.Context, u store.User, id, name, key string, req any) (domain.OrderState, error) {
	ctx, err := withUpdateKey(ctx, name, u, key)
	if err != nil {
		return domain.OrderState{}, err
	}
	row, err := s.OrderFor(ctx, u, id)
	if err != nil {
		return domain.OrderState{}, err
	}
	allowed, err := s.MayActOnOrder(ctx, u, row.State, name)
	if err != nil {
		return domain.OrderState{}, err
	}
	// Each request goes with its own Update only.
	switch r := req.(type) {
	case domain.CancelOrderRequest:
		allowed = allowed && name == domain.UpdateCancelOrder
		r.Actor = u.Username // before req takes the copy
		req = r
	case domain.OrderProgressRequest:
		allowed = allowed && name == domain.UpdateOrderProgress
		r.Actor = u.Username
		req = r
	case domain.PaymentRequest:
		allowed = allowed && (name == domain.UpdateRecordPayment || name == domain.UpdateRecordPrepayment)
		r.Actor = u.Username
		req = r
	default:
		allowed = false
	}
	if !allowed {
		return domain.OrderState{}, problem(http.StatusForbidden, "you may not do this with this order")
	}
	var st domain.OrderState
	err = s.sendUpdate(ctx, row.WorkflowID, name, req, &st, orderUpdateProblem)
	return st, err
}

// MayActOnOrder reports whether u may send the order Update name (domain.UpdateCancelOrder,
// …) on the order st: a cancellation the rep or their manager (looked up only when u is
// not the rep), a progress note the rep, a payment or prepayment finance. The routes,
// OrderAction and the order page's forms all ask it.
func (s *Server) MayActOnOrder(ctx context.Context, u store.User, st domain.OrderState, name string) (bool, error) {
	switch name {
	case domain.UpdateCancelOrder:
		if u.Username == st.Rep {
			return true, nil
		}
		rep, err := s.st.UserByUsername(ctx, st.Rep)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil && s.access.MayCancelOrder(u, st, rep.Manager), err
	case domain.UpdateOrderProgress:
		return s.access.MayPostProgress(u, st), nil
	case domain.UpdateRecordPayment, domain.UpdateRecordPrepayment:
		return s.access.MayRecordPayments(u), nil
	}
	return false, nil
}

// orderUpdateProblem maps the InvalidData rejection of an order Update to a 422 naming
// the body's own fields (amount, reason, note, …); nil for any other error.
func orderUpdateProblem(err error) *Problem {
	if fields, ok := invalidDataFields(err, "body"); ok {
		return invalid(fields...)
	}
	// The ledger's last line of defence refused a payment the workflow let through.
	if appErr, ok := errors.AsType[*temporal.ApplicationError](err); ok && appErr.Type() == domain.ErrTypePaymentRefused {
		return invalid(domain.FieldError{Field: "amount", Message: appErr.Message()})
	}
	return nil
}

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

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

func init() {
	processRoutes[domain.ProcessContract] = func(s *Server, v1 *gin.RouterGroup) {
		v1.POST("/contracts", s.createContract)
		v1.GET("/contracts", s.listContracts)
		v1.GET("/contracts/:id", s.getContract)
		v1.POST("/contracts/:id/revisions", s.reviseContract)
		v1.POST("/contracts/:id/withdraw", s.withdrawContract)
		v1.POST("/contracts/:id/amendments", s.amendContract)
	}
	caseAccess[domain.ProcessContract] = func(s *Server, ctx context.Context, u store.User, id string) error {
		_, err := s.ContractFor(ctx, u, id)
		return err
	}
}

// ContractCreated is a submitted contract: the 201 body of POST /contracts.
type ContractCreated struct {
	ID       string   `json:"id"`
	Class    string   `json:"class"`
	Status   string   `json:"status"`
	Revision int      `json:"revision"`
	Route    []string `json:"route"`
	// Replayed: the contract was submitted by an earlier request with the same
	// idempotency key, which this one replays.
	Replayed bool `json:"-"`
}

type contractReviewDTO struct {
	Revision int            `json:"revision"`
	Step     string         `json:"step"`
	Reviewer string         `json:"reviewer"`
	Decision string         `json:"decision"`
	Comment  string         `json:"comment"`
	Data     map[string]any `json:"data,omitempty"`
	At       time.Time      `json:"at"`
}

// contractResponse is a contract in a list: the version under review (before approval)
// or in force (from approval on), with an amendment under review apart.
type contractResponse struct {
	ID           string                    `json:"id"`
	CustomerID   string                    `json:"customer_id"`
	CustomerName string                    `json:"customer_name"`
	Title        string                    `json:"title"`
	Class        string                    `json:"class"`
	ClassReasons []string                  `json:"class_reasons"`
	Status       string                    `json:"status"`
	Revision     int                       `json:"revision"`
	Route        []string                  `json:"route"`
	Terms        domain.ContractTerms      `json:"terms"`
	SubmittedBy  string                    `json:"submitted_by"`
	SubmittedAt  time.Time                 `json:"submitted_at"`
	CurrentSteps []string                  `json:"current_steps"`
	LedgerNo     *string                   `json:"ledger_no"`
	ApprovedAt   *time.Time                `json:"approved_at"`
	Amendment    *domain.ContractAmendment `json:"amendment"`
}

// contractDetail is a contract with its review record.
type contractDetail struct {
	contractResponse
	ReviewRecord []contractReviewDTO `json:"review_record"`
}

func contractDTO(st domain.ContractState) contractResponse {
	steps := st.CurrentSteps
	if steps == nil {
		steps = []string{}
	}
	reasons := st.ClassReasons
	if reasons == nil {
		reasons = []string{}
	}
	route := st.Route
	if route == nil {
		route = []string{}
	}
	return contractResponse{
		ID: st.ID, CustomerID: st.CustomerID, CustomerName: st.CustomerName, Title: st.Title,
		Class: st.Class, ClassReasons: reasons, Status: st.Status, Revision: st.Revision, Route: route,
		Terms: st.Terms, SubmittedBy: st.SubmittedBy, SubmittedAt: st.SubmittedAt, CurrentSteps: steps,
		LedgerNo: strOrNil(st.LedgerNo), ApprovedAt: st.ApprovedAt, Amendment: st.Amendment,
	}
}

func contractDetailDTO(st domain.ContractState, record []domain.ContractReview) contractDetail {
	d := contractDetail{contractResponse: contractDTO(st), ReviewRecord: []contractReviewDTO{}}
	for _, r := range record {
		d.ReviewRecord = append(d.ReviewRecord, contractReviewDTO{
			Revision: r.Revision, Step: r.Step, Reviewer: r.Reviewer, Decision: r.Decision,
			Comment: r.Comment, Data: r.Data, At: r.At,
		})
	}
	return d
}

func (s *Server) createContract(c *gin.Context) {
	u := me(c)
	if !s.access.MaySubmitContract(u) {
		forbidden(c, "only sales reps submit contracts")
		return
	}
	var terms domain.ContractTerms
	v, ok := decodeJSON(c, &terms, false)
	if !ok {
		return
	}
	chk, err := s.checkContract(c.Request.Context(), u, terms, v)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.waitForWorkflow(c)
	_, res, err := s.startContract(c.Request.Context(), u, terms, chk, c.GetHeader("Idempotency-Key"))
	if err != nil {
		s.failCreate(c, err)
		return
	}
	writeCreated(c, createPath(domain.ContractProcess)+"/"+res.ResourceID, res)
}

// SubmitContract submits a contract with terms for review by u, as POST
// /api/v1/contracts does, under the idempotency key key ("" for none; the same key and
// terms submit one contract, other terms with it are a 409): a 403 *Problem when u is
// not a sales rep, a 422 one naming the fields at fault (customer_id, amount,
// amount.currency, delivery_date, …), a 503 one when the process could not be started
// (retry with the same key). The caller gives ctx the workflow deadline (the web app's
// route is HandleUpdating).
func (s *Server) SubmitContract(ctx context.Context, u store.User, terms domain.ContractTerms, key string) (ContractCreated, error) {
	if !s.access.MaySubmitContract(u) {
		return ContractCreated{}, problem(http.StatusForbidden, "only sales reps submit contracts")
	}
	chk, err := s.checkContract(ctx, u, terms, nil)
	if err != nil {
		return ContractCreated{}, err
	}
	out, _, err := s.startContract(ctx, u, terms, chk, key)
	return out, err
}

// contractCheck is what checking a contract's terms found: its customer and class.
type contractCheck struct {
	cu      store.Customer
	class   string
	reasons []string
}

// checkContract validates terms for u, adding its errors to v (the body's own): a 422
// *Problem naming every bad field, else the customer and the class.
func (s *Server) checkContract(ctx context.Context, u store.User, terms domain.ContractTerms, v checks) (contractCheck, error) {
	var out contractCheck
	rules := s.cfg.ContractPolicy.Rules
	for _, e := range terms.Validate(rules) {
		v.add(e.Field, e.Message)
	}
	if !v.failed("customer_id") {
		var err error
		out.cu, err = s.st.CustomerByID(ctx, terms.CustomerID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return out, err
		}
		if err != nil || !s.access.MayFileFor(u, domain.ProcessContract, out.cu) {
			v.add("customer_id", "no such customer")
		}
	}
	if len(v) == 0 {
		var err error
		if out.class, out.reasons, err = domain.Classify(terms, rules); err != nil {
			v.add("terms", err.Error())
		}
	}
	if p := v.problem(); p != nil {
		return out, p
	}
	return out, nil
}

// startContract submits the checked terms under key: the contract's row and its
// workflow (startCase).
func (s *Server) startContract(ctx context.Context, u store.User, terms domain.ContractTerms, chk contractCheck, key string) (ContractCreated, store.IdempotentResult, error) {
	cu, class, reasons := chk.cu, chk.class, chk.reasons
	res, err := s.startCase(ctx, u, domain.ContractProcess, key, terms, func(ctx context.Context, tx pgx.Tx, id string) (any, any, error) {
		in := domain.ContractInput{
			ID: id, CustomerName: cu.Name, SubmittedBy: u.Username,
			SubmittedAt: s.now().UTC().Truncate(time.Microsecond), Terms: terms, Policy: s.cfg.ContractPolicy,
		}
		route := domain.Route(class)
		st := domain.ContractState{
			ID: id, CustomerID: terms.CustomerID, CustomerName: cu.Name, Title: terms.Title,
			Status: domain.ContractInReview,
			ContractVersion: domain.ContractVersion{
				Revision: 1, Class: class, ClassReasons: reasons, Route: route, Terms: terms,
			},
			SubmittedBy: u.Username, SubmittedAt: in.SubmittedAt, CurrentSteps: []string{},
			OpenTasks: []domain.ContractTask{}, LastRevision: 1,
		}
		if err := store.UpsertContract(ctx, tx, st, domain.ContractWorkflowID(id)); err != nil {
			return nil, nil, err
		}
		return in, ContractCreated{ID: id, Class: class, Status: domain.ContractInReview, Revision: 1, Route: route}, nil
	})
	out, err := createdBody[ContractCreated](res, err)
	out.Replayed = res.Replayed
	return out, res, err
}

// ContractFor returns contract id with its review record for u: a 404 *Problem when it
// is unknown or u may not see it (the two are not told apart). The JSON detail, the
// contract Updates and the web app's contract page all read through it.
func (s *Server) ContractFor(ctx context.Context, u store.User, id string) (store.ContractRow, error) {
	row, err := s.st.GetContract(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.access.SeesCase(u, domain.ProcessContract, ContractParties(row.State))) {
		return store.ContractRow{}, problem(http.StatusNotFound, "contract not found")
	}
	return row, err
}

// ContractTimeline returns the audit timeline of a contract u may see (ContractFor),
// oldest first.
func (s *Server) ContractTimeline(ctx context.Context, row store.ContractRow) ([]store.TimelineEntry, error) {
	return s.st.Timeline(ctx, row.State.ID)
}

// ListContracts lists a page of the contracts u may list: f's status, customer and page,
// narrowed to the contracts u submitted when u lists only their own; a 403 *Problem when
// u may list none. The JSON list and the web app's list both read through it.
func (s *Server) ListContracts(ctx context.Context, u store.User, f store.ContractFilter) ([]domain.ContractState, string, error) {
	by, err := s.listOwner(u, domain.ProcessContract)
	if err != nil {
		return nil, "", err
	}
	f.SubmittedBy = by
	return s.st.ListContracts(ctx, f)
}

// ListLedger lists a page of the contract ledger u may list: every contract that was
// approved and has its ledger number (also while an amendment is under review), in
// ledger order, narrowed as ListContracts narrows; a 403 *Problem when u may list none.
func (s *Server) ListLedger(ctx context.Context, u store.User, f store.LedgerFilter) ([]domain.ContractState, string, error) {
	by, err := s.listOwner(u, domain.ProcessContract)
	if err != nil {
		return nil, "", err
	}
	f.SubmittedBy = by
	return s.st.ListLedger(ctx, f)
}

// loadContract loads the contract of the :id path parameter, answering 404 when the
// caller may not see it.
func (s *Server) loadContract(c *gin.Context) (store.ContractRow, bool) {
	id, ok := pathID(c, "id", "contract")
	if !ok {
		return store.ContractRow{}, false
	}
	row, err := s.ContractFor(c.Request.Context(), me(c), id)
	if err != nil {
		s.fail(c, err)
		return row, false
	}
	return row, true
}

func (s *Server) getContract(c *gin.Context) {
	row, ok := s.loadContract(c)
	if !ok {
		return
	}
	writeJSON(c, http.StatusOK, contractDetailDTO(row.State, row.ReviewRecord))
}

func (s *Server) listContracts(c *gin.Context) {
	f := store.ContractFilter{Status: c.Query("status"), CustomerID: c.Query("customer_id")}
	// listScope answers 403 before the query is checked; ListContracts narrows the list.
	if s.mayList(c, domain.ProcessContract) {
		servePage(s, c, &f, store.ContractsCursor(f.Status), &f.Limit, &f.Cursor, statusIn(f.Status, domain.ContractStatuses),
			func(ctx context.Context, f store.ContractFilter) ([]domain.ContractState, string, error) {
				return s.ListContracts(ctx, me(c), f)
			}, contractDTO)
	}
}

type contractRevisionBody struct {
	Changes domain.ContractChanges `json:"changes"`
	Comment string                 `json:"comment,omitempty"`
}

type contractWithdrawBody struct {
	Reason string `json:"reason,omitempty"`
}

type contractAmendBody struct {
	Changes domain.ContractChanges `json:"changes"`
	Reason  string                 `json:"reason"`
}

func (s *Server) reviseContract(c *gin.Context) {
	var body contractRevisionBody
	s.contractUpdate(c, &body, false, domain.UpdateReviseContract, "only the submitter revises a contract",
		s.access.MayReviseContract,
		func(actor string) any {
			return domain.ContractRevisionRequest{Actor: actor, Changes: body.Changes, Comment: body.Comment}
		})
}

func (s *Server) withdrawContract(c *gin.Context) {
	var body contractWithdrawBody
	s.contractUpdate(c, &body, true, domain.UpdateWithdrawContract, "only the submitter withdraws a contract",
		s.access.MayReviseContract,
		func(actor string) any { return domain.ContractWithdrawRequest{Actor: actor, Reason: body.Reason} })
}

func (s *Server) amendContract(c *gin.Context) {
	var body contractAmendBody
	s.contractUpdate(c, &body, false, domain.UpdateAmendContract, "only the submitter or a sales manager amends a contract",
		s.access.MayAmendContract,
		func(actor string) any {
			return domain.ContractAmendRequest{Actor: actor, Changes: body.Changes, Reason: body.Reason}
		})
}

// contractUpdate sends one contract Update for a caller who may: it loads the contract
// (404 when not visible), checks may (403), decodes the body into body (optional: an
// empty body is {}), and answers the contract as the workflow returns it. The workflow
// validates the request: 409 when the contract's status does not allow it, 422 with the
// fields at fault.
func (s *Server) contractUpdate(c *gin.Context, body any, optional bool, name, denied string,
	may func(store.User, domain.ContractState) bool, req func(actor string) any) {
	row, ok := s.loadContract(c)
	if !ok {
		return
	}
	u := me(c)
	if !may(u, row.State) {
		forbidden(c, denied)
		return
	}
	if !decodeUpdateBody(c, body, optional) {
		return
	}
	var st domain.ContractState
	if !s.updateCase(c, row.WorkflowID, name, req(u.Username), &st, func(err error) *Problem { return contractUpdateProblem(err, name) }) {
		return
	}
	writeJSON(c, http.StatusOK, contractDetailDTO(st, st.ReviewRecord))
}

// contractUpdateProblem maps the InvalidData rejection of a contract Update to a 422
// naming the body's fields (changes.amount, reason, …); nil for any other error.
func contractUpdateProblem(err error, update string) *Problem {
	fields, ok := invalidDataFields(err, "changes")
	if !ok {
		return nil
	}
	for i, f := range fields {
		// The revision's validator names the terms' fields as they are (amount, title).
		if update == domain.UpdateReviseContract && f.Field != "comment" && !strings.HasPrefix(f.Field, "changes") {
			fields[i].Field = "changes." + f.Field
		}
	}
	return invalid(fields...)
}

// ContractCurrencies are the currencies a contract's amount may be in: those the
// contract rules have an exchange rate for, and CNY, sorted.
func (s *Server) ContractCurrencies() []string {
	out := []string{"CNY"}
	for cur := range s.cfg.ContractPolicy.Rules.Rates {
		if cur != "CNY" {
			out = append(out, cur)
		}
	}
	slices.Sort(out[1:])
	return out
}

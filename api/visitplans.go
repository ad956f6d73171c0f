package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The return-visit plan's routes (issue 13): a sales manager makes a plan (a draft),
// edits it while it is a draft and submits it at least PlanLeadDays before its first
// visit; the deputy GM approves or rejects it through the task routes
// (approve_visit_plan); the plan's page shows its visits, their outcomes and its
// completion rate.
//
// Who may: its viewers (domain.VisitPlanViewerRoles: sales managers, the deputy GM, the
// general manager, admin) list and read every plan; a sales manager makes one; only the
// plan's maker edits and submits it. A sales rep reads no plan (404: it names other
// reps' customers): their visits reach them as appointment and return_visit tasks.
func init() {
	processRoutes[domain.ProcessVisitPlan] = func(s *Server, v1 *gin.RouterGroup) {
		v1.POST("/visit-plans", s.createVisitPlan)
		v1.GET("/visit-plans", s.listVisitPlans)
		v1.GET("/visit-plans/:id", s.getVisitPlan)
		v1.PUT("/visit-plans/:id", s.editVisitPlan)
		v1.POST("/visit-plans/:id/submit", s.submitVisitPlan)
	}
	caseAccess[domain.ProcessVisitPlan] = func(s *Server, ctx context.Context, u store.User, id string) error {
		_, err := s.VisitPlanFor(ctx, u, id)
		return err
	}
}

// VisitPlanDetail is a plan with its visits, their outcomes, its figures and its
// timeline: GET /visit-plans/{id}, and the answer of the create, edit and submit routes.
type VisitPlanDetail struct {
	domain.VisitPlanState
	// Visits are the plan's visits as they run, in plan order, from its approval on
	// (none before: the planned visits are in plan.visits).
	Visits    []domain.VisitOutcome `json:"visits"`
	Total     int                   `json:"total"`
	Completed int                   `json:"completed"`
	// CompletionRate is 100 × completed / total to one place ("66.7"), "" with no visit.
	CompletionRate      string                `json:"completion_rate"`
	AverageSatisfaction string                `json:"average_satisfaction"`
	Timeline            []store.TimelineEntry `json:"timeline"`
}

// visitPlanDTO is a plan as the list shows it: its open tasks are the task routes'.
func visitPlanDTO(st domain.VisitPlanState) domain.VisitPlanState {
	st.OpenTasks = []string{}
	return st
}

func (s *Server) createVisitPlan(c *gin.Context) {
	if !s.access.MayMakeVisitPlan(me(c)) { // before the body: no 400 or 422 to those who may not
		forbidden(c, "only sales managers make visit plans")
		return
	}
	var req domain.VisitPlan
	v, ok := decodeJSON(c, &req, false)
	if !ok {
		return
	}
	s.waitForWorkflow(c)
	_, res, err := s.makeVisitPlan(c.Request.Context(), me(c), req, c.GetHeader("Idempotency-Key"), v)
	if err != nil {
		s.failCreate(c, err)
		return
	}
	writeCreated(c, createPath(domain.VisitPlanProcess)+"/"+res.ResourceID, res)
}

// MakeVisitPlan makes a plan (a draft) for sales manager u, as POST /api/v1/visit-plans
// does, under the idempotency key key ("" for none): a 403 *Problem for anybody else, a
// 422 one naming the fields at fault (title, visits[2].rep, …), a 503 one when the
// process could not be started (retry with the same key). The caller gives ctx the
// workflow deadline (the web app's route is HandleUpdating).
func (s *Server) MakeVisitPlan(ctx context.Context, u store.User, req domain.VisitPlan, key string) (domain.VisitPlanState, error) {
	out, _, err := s.makeVisitPlan(ctx, u, req, key, nil)
	return out, err
}

func (s *Server) makeVisitPlan(ctx context.Context, u store.User, req domain.VisitPlan, key string, v checks) (domain.VisitPlanState, store.IdempotentResult, error) {
	if !s.access.MayMakeVisitPlan(u) {
		return domain.VisitPlanState{}, store.IdempotentResult{}, problem(http.StatusForbidden, "only sales managers make visit plans")
	}
	if err := s.checkVisitPlan(ctx, req, &v); err != nil {
		return domain.VisitPlanState{}, store.IdempotentResult{}, err
	}
	if p := v.problem(); p != nil {
		return domain.VisitPlanState{}, store.IdempotentResult{}, p
	}
	res, err := s.startCase(ctx, u, domain.VisitPlanProcess, key, req, func(ctx context.Context, tx pgx.Tx, id string) (any, any, error) {
		in := domain.VisitPlanInput{
			ID: id, Plan: req, CreatedBy: u.Username, CreatedAt: s.now().UTC().Truncate(time.Microsecond),
			Locale: u.Locale, Policy: s.cfg.SurveyPolicy, ComplaintPolicy: s.cfg.ComplaintPolicy,
		}
		st := domain.NewVisitPlanState(in)
		if err := store.InsertVisitPlan(ctx, tx, st); err != nil {
			return nil, nil, err
		}
		return in, visitPlanDTO(st), nil
	})
	out, err := createdBody[domain.VisitPlanState](res, err)
	return out, res, err
}

// checkVisitPlan checks a plan at the edge into v: its fields (domain.VisitPlan.Validate),
// then that each visit's customer exists and its rep is a user with the sales_rep role.
// An error is the store's.
func (s *Server) checkVisitPlan(ctx context.Context, req domain.VisitPlan, v *checks) error {
	for _, e := range req.Validate() {
		v.add(e.Field, e.Message)
	}
	customers, reps := map[string]bool{}, map[string]bool{}
	for i, vis := range req.Visits {
		f := fmt.Sprintf("visits[%d].", i)
		if !v.failed(f+"customer_id") && vis.CustomerID != "" {
			ok, seen := customers[vis.CustomerID]
			if !seen {
				_, err := s.st.CustomerByID(ctx, vis.CustomerID)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				ok = err == nil
				customers[vis.CustomerID] = ok
			}
			if !ok {
				v.add(f+"customer_id", "no such customer")
			}
		}
		if !v.failed(f+"rep") && vis.Rep != "" {
			ok, seen := reps[vis.Rep]
			if !seen {
				rep, err := s.st.UserByUsername(ctx, vis.Rep)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				ok = err == nil && rep.HasRole(domain.RoleSalesRep)
				reps[vis.Rep] = ok
			}
			if !ok {
				v.add(f+"rep", "must be the username of a sales rep")
			}
		}
	}
	return nil
}

// VisitPlanFor returns plan id for u: a 404 *Problem when it is unknown or u may not
// see it. The JSON routes and the web app's plan page read through it.
func (s *Server) VisitPlanFor(ctx context.Context, u store.User, id string) (store.VisitPlanReport, error) {
	r, err := s.st.GetVisitPlan(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.access.SeesCase(u, domain.ProcessVisitPlan, VisitPlanParties(r.Plan))) {
		return store.VisitPlanReport{}, problem(http.StatusNotFound, "visit plan not found")
	}
	return r, err
}

// VisitPlanDetailFor is plan id for u with its timeline, as GET /visit-plans/{id}
// answers it: a 404 *Problem when u may not see it.
func (s *Server) VisitPlanDetailFor(ctx context.Context, u store.User, id string) (VisitPlanDetail, error) {
	r, err := s.VisitPlanFor(ctx, u, id)
	if err != nil {
		return VisitPlanDetail{}, err
	}
	return s.visitPlanDetail(ctx, r, r.Plan)
}

// visitPlanDetail is the detail of report r with the plan's state st (the workflow's
// answer to an Update, newer than the row).
func (s *Server) visitPlanDetail(ctx context.Context, r store.VisitPlanReport, st domain.VisitPlanState) (VisitPlanDetail, error) {
	tl, err := s.st.Timeline(ctx, st.ID)
	if err != nil {
		return VisitPlanDetail{}, err
	}
	if tl == nil {
		tl = []store.TimelineEntry{}
	}
	return VisitPlanDetail{VisitPlanState: visitPlanDTO(st), Visits: r.Visits, Total: r.Total, Completed: r.Completed,
		CompletionRate: r.CompletionRate, AverageSatisfaction: r.AverageSatisfaction, Timeline: tl}, nil
}

// ListVisitPlans lists a page of plans for their viewers (f's status and page); a 403
// *Problem for anybody else.
func (s *Server) ListVisitPlans(ctx context.Context, u store.User, f store.VisitPlanFilter) ([]domain.VisitPlanState, string, error) {
	if _, err := s.listOwner(u, domain.ProcessVisitPlan); err != nil {
		return nil, "", err
	}
	return s.st.ListVisitPlans(ctx, f)
}

func (s *Server) listVisitPlans(c *gin.Context) {
	f := store.VisitPlanFilter{Status: c.Query("status"), CreatedBy: c.Query("created_by")}
	if s.mayList(c, domain.ProcessVisitPlan) {
		servePage(s, c, &f, store.CursorVisitPlans, &f.Limit, &f.Cursor, statusIn(f.Status, domain.PlanStatuses),
			func(ctx context.Context, f store.VisitPlanFilter) ([]domain.VisitPlanState, string, error) {
				return s.ListVisitPlans(ctx, me(c), f)
			}, visitPlanDTO)
	}
}

func (s *Server) getVisitPlan(c *gin.Context) {
	id, ok := pathID(c, "id", "visit plan")
	if !ok {
		return
	}
	d, err := s.VisitPlanDetailFor(c.Request.Context(), me(c), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, d)
}

func (s *Server) editVisitPlan(c *gin.Context) {
	var body domain.VisitPlan
	s.visitPlanUpdate(c, &body, domain.UpdateEditVisitPlan)
}

type submitVisitPlanBody struct{}

func (s *Server) submitVisitPlan(c *gin.Context) {
	var body submitVisitPlanBody
	s.visitPlanUpdate(c, &body, domain.UpdateSubmitVisitPlan)
}

// visitPlanUpdate sends an edit or a submission of the :id plan for its maker: 404 when
// the caller may not see it, 403 when they did not make it, 400 or 422 for the body,
// then the workflow's 409 (not a draft) or 422 (a visit too soon: visits[i].planned_on).
func (s *Server) visitPlanUpdate(c *gin.Context, body any, name string) {
	id, ok := pathID(c, "id", "visit plan")
	if !ok {
		return
	}
	u := me(c)
	r, err := s.VisitPlanFor(c.Request.Context(), u, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !s.access.MayEditVisitPlan(u, r.Plan) {
		forbidden(c, "only the sales manager who made the plan edits and submits it")
		return
	}
	v, ok := decodeJSON(c, body, name == domain.UpdateSubmitVisitPlan)
	if !ok {
		return
	}
	s.waitForWorkflow(c) // first: it gives the request a new context, which takes the key
	var req any = domain.SubmitVisitPlanRequest{}
	if plan, isPlan := body.(*domain.VisitPlan); isPlan {
		req = domain.EditVisitPlanRequest{Plan: *plan}
	}
	st, err := s.visitPlanAction(c.Request.Context(), u, r, name, c.GetHeader("Idempotency-Key"), req, v)
	if err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.visitPlanDetail(c.Request.Context(), r, st)
	if err != nil {
		s.internal(c, err)
		return
	}
	writeJSON(c, http.StatusOK, d)
}

// VisitPlanAction edits (domain.UpdateEditVisitPlan with an EditVisitPlanRequest) or
// submits (domain.UpdateSubmitVisitPlan with a SubmitVisitPlanRequest) plan id for u, as
// PUT /visit-plans/{id} and POST …/submit do; Actor is filled in. Errors are *Problems
// as the routes answer them: 404, 403 (not its maker), 409 (not a draft), 422 naming
// the fields (visits[0].planned_on: too soon to submit). key is the form's idempotency
// key ("" for none). The caller gives ctx the workflow deadline.
func (s *Server) VisitPlanAction(ctx context.Context, u store.User, id, name, key string, req any) (domain.VisitPlanState, error) {
	r, err := s.VisitPlanFor(ctx, u, id)
	if err != nil {
		return domain.VisitPlanState{}, err
	}
	if !s.access.MayEditVisitPlan(u, r.Plan) {
		return domain.VisitPlanState{}, problem(http.StatusForbidden, "only the sales manager who made the plan edits and submits it")
	}
	return s.visitPlanAction(ctx, u, r, name, key, req, nil)
}

func (s *Server) visitPlanAction(ctx context.Context, u store.User, r store.VisitPlanReport, name, key string, req any, v checks) (domain.VisitPlanState, error) {
	switch x := req.(type) {
	case domain.EditVisitPlanRequest:
		if name != domain.UpdateEditVisitPlan {
			return domain.VisitPlanState{}, problem(http.StatusForbidden, "not an edit")
		}
		x.Actor = u.Username
		req = x
		if err := s.checkVisitPlan(ctx, x.Plan, &v); err != nil {
			return domain.VisitPlanState{}, err
		}
	case domain.SubmitVisitPlanRequest:
		if name != domain.UpdateSubmitVisitPlan {
			return domain.VisitPlanState{}, problem(http.StatusForbidden, "not a submission")
		}
		x.Actor = u.Username
		req = x
	default:
		return domain.VisitPlanState{}, problem(http.StatusForbidden, "you may not do this with this plan")
	}
	if p := v.problem(); p != nil {
		return domain.VisitPlanState{}, p
	}
	// Whether the plan is a draft is the workflow's to say (409): the row may lag behind
	// it just after a rejection.
	ctx, err := withUpdateKey(ctx, name, u, key)
	if err != nil {
		return domain.VisitPlanState{}, err
	}
	var st domain.VisitPlanState
	if err := s.sendUpdate(ctx, domain.VisitPlanWorkflowID(r.Plan.ID), name, req, &st, visitPlanUpdateProblem); err != nil {
		return st, err
	}
	s.settledPlan(ctx, st)
	return st, nil
}

// settledPlan waits briefly for the plan's row to show what the workflow answered (its
// status, round and title): the workflow writes it just after it answers a submission,
// and a page or a GET that follows should not show the draft still.
func (s *Server) settledPlan(ctx context.Context, st domain.VisitPlanState) {
	deadline := time.Now().Add(s.settle)
	for {
		r, err := s.st.GetVisitPlan(ctx, st.ID)
		if err == nil && r.Plan.Status == st.Status && r.Plan.Round == st.Round && r.Plan.Title == st.Title {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// visitPlanUpdateProblem maps the InvalidData rejection of a plan Update to a 422 naming
// the body's own fields (title, visits[0].planned_on); nil for any other error.
func visitPlanUpdateProblem(err error) *Problem {
	if fields, ok := invalidDataFields(err, "visits"); ok {
		return invalid(fields...)
	}
	return nil
}

// VisitReps are the usernames of the sales reps a plan's visits may name (the web
// app's form offers them), for a sales manager; a 403 *Problem for anybody else.
func (s *Server) VisitReps(ctx context.Context, u store.User) ([]string, error) {
	if !s.access.MayMakeVisitPlan(u) {
		return nil, problem(http.StatusForbidden, "only sales managers make visit plans")
	}
	return store.UsernamesWithRole(ctx, s.st.Pool, string(domain.RoleSalesRep))
}

// VisitPlanLeadDays is how many days before its first visit a plan is submitted at the
// latest (the web app's form says so).
func (s *Server) VisitPlanLeadDays() int { return s.cfg.SurveyPolicy.PlanLeadDays }

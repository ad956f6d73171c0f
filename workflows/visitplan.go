package workflows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// visitPlan is the state of one VisitPlanWorkflow run.
type visitPlan struct {
	in    domain.VisitPlanInput
	wfID  string
	tasks *Tasks
	mu    workflow.Mutex // keeps projections (main flow, edits) in order
	st    domain.VisitPlanState
	audit int

	submit *domain.SubmitVisitPlanRequest // an accepted submission, for the main flow
}

// VisitPlanWorkflow runs a return-visit plan (DOMAIN.md, process 4): a sales manager's
// draft, editable until it is submitted; submitted at least PlanLeadDays before its
// first visit, to the deputy GM, who approves it or rejects it with a comment (back to
// draft, to be edited and submitted again, a new round); approved, each of its visits
// runs as a VisitWorkflow from its date, and the plan is completed once every visit has
// been recorded. Its read model is the visit_plans row (the API inserts it, a draft,
// before the start) and, from the approval on, a visits row per visit, which the visits
// keep: GET /visit-plans/{id} reads the completion rate from them.
func VisitPlanWorkflow(ctx workflow.Context, in domain.VisitPlanInput) (domain.VisitPlanState, error) {
	p := &visitPlan{in: in, wfID: workflow.GetInfo(ctx).WorkflowExecution.ID, mu: workflow.NewMutex(ctx)}
	if p.in.CreatedAt.IsZero() {
		p.in.CreatedAt = utcNow(ctx)
	}
	p.st = domain.NewVisitPlanState(p.in)
	tasks, err := NewTasks(ctx, TasksConfig{
		WorkflowID: p.wfID, Process: domain.ProcessVisitPlan, ProcessID: in.ID,
		StatusFn: func() string { return p.st.Status },
	})
	if err != nil {
		return p.state(), err
	}
	p.tasks = tasks
	if err := workflow.SetQueryHandler(ctx, domain.QueryStatus, func() (domain.VisitPlanState, error) {
		return p.state(), nil
	}); err != nil {
		return p.state(), err
	}
	if err := setUpdateHandlers(ctx,
		updateHandler{domain.UpdateEditVisitPlan, p.onEdit, p.validateEdit},
		updateHandler{domain.UpdateSubmitVisitPlan, p.onSubmit, p.validateSubmit},
	); err != nil {
		return p.state(), err
	}
	if err := p.run(ctx); err != nil {
		return p.state(), err
	}
	err = p.tasks.Finish(ctx)
	return p.state(), err
}

// run drafts and reviews the plan until it is approved, then runs its visits.
func (p *visitPlan) run(ctx workflow.Context) error {
	if err := p.project(ctx, p.in.CreatedBy, "visit_plan_created", map[string]any{
		"title": p.st.Title, "visits": len(p.st.Plan.Visits),
	}, nil); err != nil {
		return err
	}
	for p.st.Status != domain.PlanApproved {
		if err := p.tasks.Await(ctx, func() bool { return p.submit != nil }); err != nil {
			return err
		}
		if err := p.review(ctx); err != nil {
			return err
		}
	}
	return p.runVisits(ctx)
}

// review runs one round: the submission, then the deputy GM's decision. A rejection
// sends the plan back to draft.
func (p *visitPlan) review(ctx workflow.Context) error {
	req := *p.submit
	now := utcNow(ctx)
	p.st.Round++
	p.st.Status, p.st.SubmittedBy, p.st.SubmittedAt = domain.PlanSubmitted, req.Actor, &now
	p.submit = nil
	round := p.st.Round
	if err := p.project(ctx, req.Actor, "visit_plan_submitted", map[string]any{"round": round}, nil); err != nil {
		return err
	}
	pol := p.in.Policy
	out, err := p.tasks.Run(ctx, TaskSpec{
		Step: domain.StepApproveVisitPlan, Round: round, Title: "Approve visit plan: " + p.st.Title,
		CandidateGroups: []string{string(domain.RoleDeputyGM)}, ExcludeUsers: []string{p.st.CreatedBy, req.Actor},
		Actions: []string{ActionApprove, ActionReject}, CommentRequired: []string{ActionReject},
		Context: p.taskContext(), Locale: p.in.Locale,
		WindowStart: now, DueAt: now.Add(pol.PlanApprovalSLA), Reminders: pol.VisitReminders,
		Ladder: []domain.EscalationRung{{Level: 1, TargetAssigneeManager: true, TargetRole: domain.RoleGeneralManager}},
	})
	if err != nil {
		return err
	}
	p.st.Decisions = append(p.st.Decisions, domain.VisitPlanDecision{
		Round: round, Decision: out.Action, By: out.Actor, Comment: strings.TrimSpace(out.Comment), At: out.At,
	})
	detail := map[string]any{"round": round, "comment": strings.TrimSpace(out.Comment)}
	if out.Action == ActionReject {
		p.st.Status = domain.PlanDraft
		return p.project(ctx, out.Actor, "visit_plan_rejected", detail, nil)
	}
	at := out.At
	p.st.Status, p.st.ApprovedBy, p.st.ApprovedAt = domain.PlanApproved, out.Actor, &at
	return nil
}

// runVisits starts a VisitWorkflow for each visit of the approved plan, each waiting for
// its day, and waits until every one has been recorded. The visits' rows are written
// with the approval, scheduled, so that the completion rate counts them all from the
// start. A visit is abandoned, not ended, should the plan's run end: it belongs to its
// rep and customer as much as to the plan.
func (p *visitPlan) runVisits(ctx workflow.Context) error {
	plan := p.st.Plan
	ids := make([]string, len(plan.Visits))
	for i, v := range plan.Visits {
		ids[i] = v.CustomerID
	}
	var customers []domain.VisitCustomer
	if err := execute(ctx, domain.ActVisitCustomers, ids, &customers); err != nil {
		return fmt.Errorf("look up the plan's customers: %w", err)
	}
	inputs := make([]domain.VisitInput, len(plan.Visits))
	rows := make([]domain.VisitOutcome, len(plan.Visits))
	for i, v := range plan.Visits {
		start, end, err := p.in.Policy.PlannedDay(v.PlannedOn)
		if err != nil { // the plan was validated before it was submitted
			return fmt.Errorf("visit %d planned on %q: %w", i+1, v.PlannedOn, err)
		}
		in := domain.VisitInput{
			Process: domain.ProcessVisitPlan, ProcessID: p.in.ID, Key: strconv.Itoa(i + 1), Seq: i + 1,
			Customer: customers[i], Rep: v.Rep, Method: v.Method, StartAt: start, DueAt: end, Purpose: v.Purpose,
			Context: map[string]any{"plan_id": p.in.ID, "plan_title": plan.Title, "planned_on": v.PlannedOn},
			Locale:  p.in.Locale, Policy: p.in.Policy, ComplaintPolicy: p.in.ComplaintPolicy,
		}
		inputs[i] = in
		rows[i] = domain.VisitOutcome{
			ID: in.ID(), Process: in.Process, ProcessID: in.ProcessID, Seq: in.Seq, Customer: in.Customer,
			Rep: in.Rep, Method: in.Method, Purpose: in.Purpose, Status: domain.VisitScheduled,
			StartAt: start, DueAt: end, OpenTasks: []string{},
		}
		p.st.VisitIDs = append(p.st.VisitIDs, in.ID())
	}
	last := p.st.Decisions[len(p.st.Decisions)-1]
	if err := p.project(ctx, p.st.ApprovedBy, "visit_plan_approved", map[string]any{
		"round": p.st.Round, "comment": last.Comment, "visit_ids": p.st.VisitIDs,
	}, rows); err != nil {
		return err
	}

	pending, failed := len(inputs), 0
	for _, in := range inputs {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:        domain.VisitWorkflowID(in.ID()),
			ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		})
		child := workflow.ExecuteChildWorkflow(cctx, domain.VisitWorkflowType, in)
		if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return fmt.Errorf("start visit %s: %w", in.ID(), err)
		}
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { pending-- }()
			var out domain.VisitOutcome
			if err := child.Get(ctx, &out); err != nil {
				workflow.GetLogger(ctx).Warn("visit failed", "visit_id", in.ID(), "error", err)
				failed++
			}
		})
	}
	if err := p.tasks.Await(ctx, func() bool { return pending == 0 }); err != nil {
		return err
	}
	now := utcNow(ctx)
	p.st.Status, p.st.CompletedAt = domain.PlanCompleted, &now
	// A visit that failed (terminated, say) is over without a record: the plan's
	// completion rate counts recorded visits only, and its event says how many failed.
	return p.project(ctx, "system", "visit_plan_completed", map[string]any{"visits": len(inputs), "failed": failed}, nil)
}

// taskContext is what the approval task shows: the plan, its round and the decisions
// of the rounds before.
func (p *visitPlan) taskContext() map[string]any {
	return map[string]any{
		"plan_id": p.in.ID, "title": p.st.Title, "visits": p.st.Plan.Visits, "created_by": p.st.CreatedBy,
		"submitted_by": p.st.SubmittedBy, "round": p.st.Round, "decisions": slices.Clone(p.st.Decisions),
	}
}

// project writes the plan's read model (with visits: their rows too) and, unless event
// is "", one audit event, in order with every other projection of this plan.
func (p *visitPlan) project(ctx workflow.Context, actor, event string, detail map[string]any, visits []domain.VisitOutcome) error {
	if err := p.mu.Lock(ctx); err != nil {
		return err
	}
	defer p.mu.Unlock()
	st := p.state()
	st.OpenTasks = []string{}
	pr := domain.VisitPlanProjection{State: st, Visits: visits}
	if event != "" {
		p.audit++
		pr.Audit = domain.AuditInput{
			Key:     fmt.Sprintf("%s/%s/%d", p.wfID, event, p.audit),
			Process: domain.ProcessVisitPlan, ProcessID: p.in.ID,
			Actor: actor, Event: event, Detail: detail, At: utcNow(ctx),
		}
	}
	return p.tasks.Write(ctx, domain.ActProjectVisitPlan, pr, nil)
}

// state is the query result: a copy of the state with the open tasks.
func (p *visitPlan) state() domain.VisitPlanState {
	s := p.st
	s.Plan.Visits = slices.Clone(p.st.Plan.Visits)
	s.Decisions = slices.Clone(p.st.Decisions)
	s.VisitIDs = slices.Clone(p.st.VisitIDs)
	s.OpenTasks = []string{}
	if p.tasks != nil {
		s.OpenTasks = p.tasks.OpenTaskIDs()
	}
	return s
}

// The Updates. Each validator checks the request against the plan's status; the
// handler checks again (validators do not run on replay), acts, and answers the state.

// draft refuses an Update that needs a draft plan with no submission pending.
func (p *visitPlan) draft(what string) error {
	if p.st.Status != domain.PlanDraft || p.submit != nil {
		return notAccepting("visit plan %s is %s: only a draft can be %s", p.in.ID, p.st.Status, what)
	}
	return nil
}

func (p *visitPlan) validateEdit(_ workflow.Context, req domain.EditVisitPlanRequest) error {
	if err := p.draft("edited"); err != nil {
		return err
	}
	if errs := req.Plan.Validate(); len(errs) > 0 {
		return invalidData(errs)
	}
	return nil
}

// onEdit replaces the draft's title and visits.
func (p *visitPlan) onEdit(ctx workflow.Context, req domain.EditVisitPlanRequest) (domain.VisitPlanState, error) {
	if err := p.validateEdit(ctx, req); err != nil {
		return domain.VisitPlanState{}, err
	}
	p.st.Plan = req.Plan
	p.st.Plan.Visits = slices.Clone(req.Plan.Visits)
	p.st.Title = req.Plan.Title
	if err := p.project(ctx, req.Actor, "visit_plan_edited", map[string]any{
		"title": p.st.Title, "visits": len(p.st.Plan.Visits),
	}, nil); err != nil {
		return domain.VisitPlanState{}, err
	}
	return p.state(), nil
}

// validateSubmit refuses a plan whose first visit is less than PlanLeadDays away, today
// in the company's zone, with an error on each visit too soon (visits[i].planned_on).
func (p *visitPlan) validateSubmit(ctx workflow.Context, _ domain.SubmitVisitPlanRequest) error {
	if err := p.draft("submitted"); err != nil {
		return err
	}
	errs := p.st.Plan.Validate()
	if len(errs) == 0 {
		today := workflow.Now(ctx).In(p.in.Policy.Zone())
		errs = domain.CheckSubmission(p.st.Plan, today, p.in.Policy)
	}
	if len(errs) > 0 {
		return invalidData(errs)
	}
	return nil
}

// onSubmit hands the submission to the main flow and answers once the approval task is
// open.
func (p *visitPlan) onSubmit(ctx workflow.Context, req domain.SubmitVisitPlanRequest) (domain.VisitPlanState, error) {
	if err := p.validateSubmit(ctx, req); err != nil {
		return domain.VisitPlanState{}, err
	}
	p.submit = &req
	if err := p.tasks.Settled(ctx); err != nil {
		return domain.VisitPlanState{}, err
	}
	return p.state(), nil
}

package workflows

import (
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// visit is the state of one VisitWorkflow run.
type visit struct {
	in    domain.VisitInput
	wfID  string
	tasks *Tasks
	mu    workflow.Mutex // keeps projections (main flow, escalations) in order
	st    domain.VisitOutcome
	audit int
}

// VisitWorkflow runs one return visit (DOMAIN.md, process 4): a survey detractor's, or
// one of an approved visit plan's. An on-site visit first agrees its time with the
// customer (appointment). On its day the rep's return_visit task opens, and the rep
// records the visit: when, how, what was discussed, the customer's satisfaction, the
// problems found and the needs. A problem opens a complaint, which outlives the visit;
// a need is e-mailed to the rep's manager. The visit's tasks and audit events are its
// case's (in.Process, in.ProcessID): who sees that case sees its visits.
func VisitWorkflow(ctx workflow.Context, in domain.VisitInput) (domain.VisitOutcome, error) {
	if errs := in.Validate(); len(errs) > 0 {
		return domain.VisitOutcome{}, temporal.NewNonRetryableApplicationError("invalid visit input", domain.ErrTypeInvalidData, nil, errs)
	}
	v := &visit{in: in, wfID: workflow.GetInfo(ctx).WorkflowExecution.ID, mu: workflow.NewMutex(ctx)}
	now := utcNow(ctx)
	start := in.StartAt.UTC()
	if start.Before(now) {
		start = now
	}
	v.st = domain.VisitOutcome{
		ID: in.ID(), Process: in.Process, ProcessID: in.ProcessID, Seq: in.Seq, Customer: in.Customer, Rep: in.Rep,
		Method: in.Method, Purpose: in.Purpose, Status: domain.VisitScheduled, StartAt: start, DueAt: in.DueAt.UTC(),
		OpenTasks: []string{},
	}
	tasks, err := NewTasks(ctx, TasksConfig{
		WorkflowID: v.wfID, Process: in.Process, ProcessID: in.ProcessID,
		StatusFn: func() string { return v.st.Status }, OnEscalation: v.onEscalation,
	})
	if err != nil {
		return v.state(), err
	}
	v.tasks = tasks
	if err := workflow.SetQueryHandler(ctx, domain.QueryStatus, func() (domain.VisitOutcome, error) {
		return v.state(), nil
	}); err != nil {
		return v.state(), err
	}
	if err := v.run(ctx); err != nil {
		return v.state(), err
	}
	err = v.tasks.Finish(ctx)
	return v.state(), err
}

// run is the visit: the appointment of an on-site visit, the wait for its day, the
// record, and what the record calls for.
func (v *visit) run(ctx workflow.Context) error {
	if err := v.project(ctx, "system", "visit_scheduled", map[string]any{
		"visit_id": v.st.ID, "customer_id": v.in.Customer.ID, "rep": v.in.Rep, "method": v.in.Method,
		"start_at": v.st.StartAt, "due_at": v.st.DueAt,
	}); err != nil {
		return err
	}
	if v.in.Method == domain.VisitOnSite {
		if err := v.appointment(ctx); err != nil {
			return err
		}
	}
	// A planned visit's task opens on its day. Nothing can happen to the visit until
	// then; waiting through the helper delivers the mail queued so far.
	if d := v.st.StartAt.Sub(utcNow(ctx)); d > 0 {
		if _, err := v.tasks.AwaitWithTimeout(ctx, d, func() bool { return false }); err != nil {
			return err
		}
	}
	v.st.Status = domain.VisitOpen
	spec := v.spec(ctx, domain.StepReturnVisit, "Return visit", v.st.DueAt)
	spec.Actions = []string{ActionDone}
	spec.Form = domain.VisitRecordForm(v.in.Method)
	spec.Validate = func(_ string, data map[string]any) []domain.FieldError { return domain.ValidateVisitRecord(data) }
	if err := v.project(ctx, "", "", nil); err != nil {
		return err
	}
	out, err := v.tasks.Run(ctx, spec)
	if err != nil {
		return err
	}
	return v.recorded(ctx, out)
}

// appointment agrees the time of an on-site visit with the customer. It opens at once
// and is due when the visit's task opens (its day); when that has come already, by the
// visit's due time. An agreed time after the visit's due day moves the due time to the
// end of the agreed day; one before the visit's day opens the record on the agreed day.
func (v *visit) appointment(ctx workflow.Context) error {
	v.st.Status = domain.VisitAppointment
	due := v.st.StartAt
	if !due.After(utcNow(ctx)) {
		due = v.st.DueAt
	}
	spec := v.spec(ctx, domain.StepAppointment, "Agree a visit with", due)
	spec.Actions, spec.Form = []string{ActionDone}, domain.AppointmentForm
	zone := v.in.Policy.Zone()
	today := utcNow(ctx).In(zone)
	from := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, zone).UTC()
	latest := v.st.DueAt.Add(domain.MaxAppointmentSlip)
	spec.Validate = func(_ string, data map[string]any) []domain.FieldError {
		return domain.ValidateAppointment(data, from, latest)
	}
	if err := v.project(ctx, "", "", nil); err != nil {
		return err
	}
	out, err := v.tasks.Run(ctx, spec)
	if err != nil {
		return err
	}
	agreed, _ := domain.ParseFormTime(out.Data[domain.FieldAgreedAt])
	agreed = agreed.UTC()
	v.st.AgreedAt = &agreed
	a := agreed.In(zone)
	if end := time.Date(a.Year(), a.Month(), a.Day()+1, 0, 0, 0, 0, zone).UTC(); end.After(v.st.DueAt) {
		v.st.DueAt = end
	}
	// An earlier day agreed with the customer opens the record on that day: the rep
	// records the visit when it is made.
	if day := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, zone).UTC(); day.Before(v.st.StartAt) {
		v.st.StartAt = day
	}
	v.st.Status = domain.VisitScheduled
	return v.project(ctx, out.Actor, "visit_appointment_agreed", map[string]any{
		"visit_id": v.st.ID, "agreed_at": agreed, "start_at": v.st.StartAt, "due_at": v.st.DueAt,
	})
}

// recorded takes the visit record: a problem found opens a complaint, a need goes to
// the rep's manager.
func (v *visit) recorded(ctx workflow.Context, out TaskOutcome) error {
	rec := domain.VisitRecordFrom(out.Data)
	v.st.Record, v.st.RecordedBy, v.st.Method = &rec, out.Actor, rec.Method
	if rec.Problems != "" {
		if err := v.openComplaint(ctx, out.Actor, rec); err != nil {
			return err
		}
	}
	if rec.Needs != "" {
		v.passNeed(ctx, out.Actor, rec)
	}
	at := out.At
	v.st.Status, v.st.CompletedAt = domain.VisitCompleted, &at
	return v.project(ctx, out.Actor, "visit_recorded", map[string]any{
		"visit_id": v.st.ID, "visited_at": rec.At, "method": rec.Method, "discussed": rec.Discussed,
		"satisfaction": rec.Satisfaction, "complaint_id": v.st.ComplaintID, "need_notified": v.st.NeedNotified,
	})
}

// openComplaint opens a complaint about the problem found (process 3), received through
// the visit channel, as a child workflow that outlives the visit (as an order's delivery
// problem does): the complaint names the visit, the visit its complaint.
func (v *visit) openComplaint(ctx workflow.Context, actor string, rec domain.VisitRecord) error {
	var id string
	if err := workflow.SideEffect(ctx, func(workflow.Context) any { return domain.NewID(domain.ComplaintProcess.IDPrefix) }).Get(&id); err != nil {
		return err
	}
	c := v.in.Customer
	owner := c.Owner
	if owner == "" {
		owner = v.in.Rep
	}
	cin := domain.ComplaintInput{
		ID: id, CustomerID: c.ID, CustomerName: c.Name, CustomerEmail: c.Email, CustomerTier: c.Tier,
		Locale: c.Locale, OwnerRep: owner, Channel: "visit",
		Subject: "Problem found on a return visit to " + c.Name, Description: rec.Problems, Severity: "normal",
		VisitID: v.st.ID, FiledBy: actor, ReceivedAt: utcNow(ctx), Policy: v.in.ComplaintPolicy,
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        domain.ComplaintWorkflowID(id),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, domain.ComplaintProcess.WorkflowType, cin)
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return fmt.Errorf("open complaint: %w", err)
	}
	v.st.ComplaintID = id
	return v.project(ctx, actor, "visit_complaint_opened", map[string]any{"visit_id": v.st.ID, "complaint_id": id})
}

// passNeed e-mails the need the visit found to the rep's manager, as the directory has
// it then (the sales managers when the rep has none): queued now, delivered at the next
// waiting point.
func (v *visit) passNeed(ctx workflow.Context, actor string, rec domain.VisitRecord) {
	v.tasks.QueueNotice(ctx, domain.NotifyInput{
		KeyPrefix: v.wfID + "/need", ManagersOf: []string{v.in.Rep},
		ManagerFallback: []string{string(domain.RoleSalesManager)}, Template: domain.TmplVisitNeed,
		Data: map[string]any{
			"visit_id": v.st.ID, "customer_id": v.in.Customer.ID, "customer_name": v.in.Customer.Name,
			"rep": actor, "visited_at": rec.At.Format(time.RFC3339), "method": rec.Method, "needs": rec.Needs,
		},
		Process: v.in.Process, ProcessID: v.in.ProcessID, WorkflowID: v.wfID,
	})
	v.st.NeedNotified = true
}

// spec fills what the visit's tasks share: the rep, the context, the SLA (reminders,
// then the rep's manager at the due time and the deputy GM an escalation step later).
func (v *visit) spec(ctx workflow.Context, step, title string, due time.Time) TaskSpec {
	now := utcNow(ctx)
	if !due.After(now) {
		due = now.Add(time.Hour) // started late: an hour to act before it escalates
	}
	return TaskSpec{
		Step: step, Round: 1, Title: title + " " + v.in.Customer.Name, Assignee: v.in.Rep,
		Context: v.taskContext(), Locale: v.in.Locale,
		WindowStart: now, DueAt: due, Reminders: v.in.Policy.VisitReminders,
		Ladder: []domain.EscalationRung{
			{Level: 1, TargetAssigneeManager: true, TargetRole: domain.RoleSalesManager},
			{Level: 2, After: v.in.Policy.EscalationStep, TargetRole: domain.RoleDeputyGM},
		},
	}
}

// taskContext is what the visit's tasks show: the starter's context (a detractor's
// survey answer, the plan) and the visit.
func (v *visit) taskContext() map[string]any {
	ctx := map[string]any{}
	// Copying one map into another: the order of the keys does not matter.
	//workflowcheck:ignore
	for k, x := range v.in.Context {
		ctx[k] = x
	}
	ctx["visit_id"], ctx["customer_id"], ctx["customer_name"] = v.st.ID, v.in.Customer.ID, v.in.Customer.Name
	ctx["customer_tier"], ctx["rep"], ctx["method"], ctx["purpose"] = v.in.Customer.Tier, v.in.Rep, v.in.Method, v.in.Purpose
	ctx["process"], ctx["process_id"], ctx["due_at"] = v.in.Process, v.in.ProcessID, v.st.DueAt
	if v.st.AgreedAt != nil {
		ctx["agreed_at"] = *v.st.AgreedAt
	}
	return ctx
}

// onEscalation records the highest escalation on the visit.
func (v *visit) onEscalation(ctx workflow.Context, e Escalation) {
	v.st.EscalationLevel = max(v.st.EscalationLevel, e.Level)
	if err := v.project(ctx, "", "", nil); err != nil {
		workflow.GetLogger(ctx).Warn("project escalation", "error", err)
	}
}

// project writes the visit's read model and, unless event is "", one audit event of its
// case, in order with every other projection of this visit.
func (v *visit) project(ctx workflow.Context, actor, event string, detail map[string]any) error {
	if err := v.mu.Lock(ctx); err != nil {
		return err
	}
	defer v.mu.Unlock()
	p := domain.VisitProjection{Visit: v.state()}
	if event != "" {
		v.audit++
		p.Audit = domain.AuditInput{
			Key:     fmt.Sprintf("%s/%s/%d", v.wfID, event, v.audit),
			Process: v.in.Process, ProcessID: v.in.ProcessID,
			Actor: actor, Event: event, Detail: detail, At: utcNow(ctx),
		}
	}
	return v.tasks.Write(ctx, domain.ActProjectVisit, p, nil)
}

// state is the query result: a copy of the state with the open tasks.
func (v *visit) state() domain.VisitOutcome {
	s := v.st
	if v.st.Record != nil {
		r := *v.st.Record
		r.Discussed = slices.Clone(r.Discussed)
		s.Record = &r
	}
	s.OpenTasks = []string{}
	if v.tasks != nil {
		s.OpenTasks = v.tasks.OpenTaskIDs()
	}
	return s
}

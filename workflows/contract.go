package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// MaxAttendees bounds the attendee list of a review meeting.
const MaxAttendees = 100

// Task forms of the contract steps; the other steps have none (a comment goes with the
// decision).
var (
	countersignForm = []domain.FormField{{Name: "opinion", Type: "text"}}
	meetingForm     = []domain.FormField{
		{Name: "report", Type: "text", Required: true},
		{Name: "attendees", Type: "list", Required: true},
	}
)

// stepLabels name the steps in task titles.
var stepLabels = map[string]string{
	domain.StepReview:                "Review contract",
	domain.StepCountersignProduction: "Countersign contract (production)",
	domain.StepCountersignQuality:    "Countersign contract (quality)",
	domain.StepCountersignPurchasing: "Countersign contract (purchasing)",
	domain.StepCountersignFinance:    "Countersign contract (finance)",
	domain.StepOpsReview:             "Operations review",
	domain.StepReviewMeeting:         "Contract review meeting",
	domain.StepGMApproval:            "Approve contract",
}

// versionOutboxMail marks the change that queues the contract's notices in the outbox
// as the step happens and delivers them in the background at the next waiting point
// (QueueNotice), instead of sending them with the Notify activity in the main flow.
// Runs started before it keep calling Notify.
const versionOutboxMail = "outbox-mail"

// contract is the state of one contract workflow run.
type contract struct {
	in    domain.ContractInput
	wfID  string
	tasks *Tasks
	st    domain.ContractState
	audit int // sequence of audit events, part of their keys; carried over continue-as-new

	outboxMail bool // this run started at versionOutboxMail or later

	rounds    int          // review rounds run in this workflow run
	rejection *TaskOutcome // the first rejection of the round under review
	draining  bool         // the run is ending: no Update is accepted any more

	// Accepted Updates, waiting for the main flow.
	revise   *domain.ContractRevisionRequest
	withdraw *domain.ContractWithdrawRequest
	amend    *domain.ContractAmendRequest
}

// ContractWorkflow reviews one contract along the route of its class (DOMAIN.md,
// process 1): any rejection sends it back to the submitter, who revises or withdraws;
// once approved it gets its ledger number, and it stays open for amendments, each
// reviewed by the same rules while the approved version stays in force. It continues
// as new after Policy.MaxReviewsPerRun review rounds.
//
// Every task excludes the submitter (and the amender): CreateTask gives the task to
// another member of the group, or to the submitter's manager when nobody else is left.
func ContractWorkflow(ctx workflow.Context, in domain.ContractInput) (domain.ContractState, error) {
	c := &contract{in: in, wfID: workflow.GetInfo(ctx).WorkflowExecution.ID}
	if r := in.Resume; r != nil {
		c.st, c.audit = r.State, r.AuditSeq
	} else if err := c.init(ctx); err != nil {
		return c.state(), err
	}
	tasks, err := NewTasks(ctx, TasksConfig{
		WorkflowID: c.wfID, Process: domain.ProcessContract, ProcessID: in.ID,
		StatusFn: func() string { return c.st.Status }, OnClosed: c.onClosed,
	})
	if err != nil {
		return c.state(), err
	}
	c.tasks = tasks
	c.outboxMail = workflow.GetVersion(ctx, versionOutboxMail, workflow.DefaultVersion, 1) >= 1
	if err := workflow.SetQueryHandler(ctx, domain.QueryStatus, func() (domain.ContractState, error) {
		return c.state(), nil
	}); err != nil {
		return c.state(), err
	}
	if err := setUpdateHandlers(ctx,
		updateHandler{domain.UpdateReviseContract, c.onRevise, c.validateRevise},
		updateHandler{domain.UpdateWithdrawContract, c.onWithdraw, c.validateWithdraw},
		updateHandler{domain.UpdateAmendContract, c.onAmend, c.validateAmend},
	); err != nil {
		return c.state(), err
	}

	again, err := c.run(ctx)
	if err != nil {
		return c.state(), err
	}
	c.draining = true
	if err := c.tasks.Finish(ctx); err != nil {
		return c.state(), err
	}
	if again {
		next := c.in
		st := c.st
		st.OpenTasks = nil
		next.Resume = &domain.ContractResume{State: st, AuditSeq: c.audit}
		return c.state(), workflow.NewContinueAsNewError(ctx, ContractWorkflow, next)
	}
	return c.state(), nil
}

// init classifies the submitted terms into revision 1.
func (c *contract) init(ctx workflow.Context) error {
	in := c.in
	v, err := c.version(1, in.Terms)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("cannot classify the contract: "+err.Error(), domain.ErrTypeInvalidData, err)
	}
	if in.SubmittedAt.IsZero() {
		in.SubmittedAt = utcNow(ctx)
	}
	c.st = domain.ContractState{
		ID: in.ID, CustomerName: in.CustomerName, Status: domain.ContractInReview,
		SubmittedBy: in.SubmittedBy, SubmittedAt: in.SubmittedAt,
		CurrentSteps: []string{}, ReviewRecord: []domain.ContractReview{},
	}
	c.setVersion(v)
	return nil
}

// version classifies terms as a revision.
func (c *contract) version(revision int, terms domain.ContractTerms) (domain.ContractVersion, error) {
	class, reasons, err := domain.Classify(terms, c.in.Policy.Rules)
	if err != nil {
		return domain.ContractVersion{}, err
	}
	return domain.ContractVersion{
		Revision: revision, Class: class, ClassReasons: reasons, Route: domain.Route(class), Terms: terms,
	}, nil
}

// setVersion makes v the contract's current version (under review, or in force).
func (c *contract) setVersion(v domain.ContractVersion) {
	c.st.ContractVersion = v
	c.st.CustomerID, c.st.Title = v.Terms.CustomerID, v.Terms.Title
	c.st.LastRevision = max(c.st.LastRevision, v.Revision)
}

// run drives the contract by its status until it is withdrawn (false) or should
// continue as new (true).
func (c *contract) run(ctx workflow.Context) (again bool, err error) {
	if c.in.Resume == nil {
		if err := c.project(ctx, c.st.SubmittedBy, "submitted", c.versionDetail(c.st.ContractVersion), nil); err != nil {
			return false, err
		}
	}
	for {
		switch c.st.Status {
		case domain.ContractInReview, domain.ContractAmendmentReview:
			err = c.review(ctx)
		case domain.ContractChangesRequested:
			if c.shouldContinueAsNew(ctx) {
				return true, nil
			}
			err = c.awaitRevision(ctx)
		case domain.ContractApproved:
			if c.shouldContinueAsNew(ctx) {
				return true, nil
			}
			err = c.awaitAmendment(ctx)
		case domain.ContractWithdrawn:
			return false, nil
		default:
			return false, fmt.Errorf("unknown contract status %q", c.st.Status)
		}
		if err != nil {
			return false, err
		}
	}
}

// shouldContinueAsNew reports whether this run has done enough review rounds (or
// Temporal suggests it) and nothing accepted is waiting to be acted on.
func (c *contract) shouldContinueAsNew(ctx workflow.Context) bool {
	if c.revise != nil || c.withdraw != nil || c.amend != nil || c.rounds == 0 {
		return false
	}
	limit := c.in.Policy.MaxReviewsPerRun
	return (limit > 0 && c.rounds >= limit) || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

// underReview is the version being reviewed: the amendment in amendment_review, else
// the contract's current version.
func (c *contract) underReview() domain.ContractVersion {
	if a := c.st.Amendment; a != nil && c.st.Status == domain.ContractAmendmentReview {
		return a.ContractVersion
	}
	return c.st.ContractVersion
}

// review runs one round: the stages of the route, each in parallel, until one step
// rejects or all approve; a withdrawal interrupts it.
func (c *contract) review(ctx workflow.Context) error {
	c.rounds++
	c.rejection = nil
	v := c.underReview()
	for _, stage := range domain.RouteStages(v.Class) {
		c.st.CurrentSteps = slices.Clone(stage)
		if err := c.project(ctx, "", "", nil, nil); err != nil {
			return err
		}
		_, err := c.tasks.RunAll(ctx, c.specs(ctx, stage, v), func(o TaskOutcome) bool { return o.Action == ActionReject })
		if errors.Is(err, ErrInterrupted) {
			break
		}
		if err != nil {
			return err
		}
		if c.rejection != nil {
			break
		}
	}
	c.st.CurrentSteps = []string{}
	switch {
	case c.withdraw != nil: // a withdrawal wins over a decision it raced with
		return c.withdrawNow(ctx)
	case c.rejection != nil:
		return c.rejected(ctx, v)
	default:
		return c.approved(ctx, v)
	}
}

// onClosed records each decision in the review record as it is made (TasksConfig.OnClosed).
func (c *contract) onClosed(ctx workflow.Context, o TaskOutcome) error {
	c.st.CurrentSteps = slices.DeleteFunc(c.st.CurrentSteps, func(s string) bool { return s == o.Step })
	if o.Status != domain.TaskCompleted {
		return nil // cancelled: CloseTask recorded it
	}
	entry := domain.ContractReview{
		TaskID: o.TaskID, Revision: o.Round, Step: o.Step, Reviewer: o.Actor,
		Decision: o.Action, Comment: o.Comment, Data: o.Data, At: o.At,
	}
	c.st.ReviewRecord = append(c.st.ReviewRecord, entry)
	if o.Action == ActionReject && c.rejection == nil {
		c.rejection = &o
	}
	return c.project(ctx, "", "", nil, []domain.ContractReview{entry})
}

// rejected sends a contract back to its submitter with every comment of the revision,
// or drops a rejected amendment (the approved version stays in force).
func (c *contract) rejected(ctx workflow.Context, v domain.ContractVersion) error {
	rej := c.rejection
	detail := map[string]any{"revision": v.Revision, "step": rej.Step, "reviewer": rej.Actor, "comment": rej.Comment}
	mail := c.mailData(v)
	mail["rejected_step"], mail["rejected_by"] = rej.Step, rej.Actor
	mail["comments"] = c.comments(v.Revision)
	if c.st.Status == domain.ContractAmendmentReview {
		a := c.st.Amendment
		c.st.Amendment, c.st.Status = nil, domain.ContractApproved
		mail["reason"] = a.Reason
		if err := c.project(ctx, rej.Actor, "amendment_rejected", detail, nil); err != nil {
			return err
		}
		c.notify(ctx, fmt.Sprintf("amendment_rejected/%d", v.Revision), domain.TmplContractAmendmentRejected, mail,
			c.people(a.RequestedBy), nil)
		return nil
	}
	c.st.Status = domain.ContractChangesRequested
	if err := c.project(ctx, rej.Actor, "changes_requested", detail, nil); err != nil {
		return err
	}
	c.notify(ctx, fmt.Sprintf("changes_requested/%d", v.Revision), domain.TmplContractChangesRequested, mail,
		c.people(), nil)
	return nil
}

// approved enters a contract in the ledger, or puts an approved amendment in force, and
// tells the submitter and every department of the route.
func (c *contract) approved(ctx workflow.Context, v domain.ContractVersion) error {
	event, key, users := "approved", "approved", c.people()
	if a := c.st.Amendment; c.st.Status == domain.ContractAmendmentReview {
		event, key, users = "amendment_approved", "amendment_approved", c.people(a.RequestedBy)
		c.st.Amendment = nil
		c.st.Amendments++
	} else {
		now := utcNow(ctx)
		var res domain.LedgerNoResult
		err := execute(ctx, domain.ActAssignLedgerNo, domain.LedgerNoInput{ContractID: c.in.ID, WorkflowID: c.wfID, At: now}, &res)
		if err != nil {
			return fmt.Errorf("assign ledger number: %w", err)
		}
		c.st.LedgerNo, c.st.ApprovedAt = res.LedgerNo, &now
	}
	c.setVersion(v)
	c.st.Status = domain.ContractApproved
	detail := c.versionDetail(v)
	detail["ledger_no"] = c.st.LedgerNo
	if err := c.project(ctx, c.lastApprover(v.Revision), event, detail, nil); err != nil {
		return err
	}
	mail := c.mailData(v)
	mail["amendment"] = event == "amendment_approved"
	c.notify(ctx, fmt.Sprintf("%s/%d", key, v.Revision), domain.TmplContractApproved, mail, users, nil)
	notice := c.mailData(v)
	notice["amendment"] = mail["amendment"]
	notice["requirements"] = v.Terms.Requirements.Names()
	notice["delivery_date"] = v.Terms.DeliveryDate
	notice["payment_terms"] = v.Terms.PaymentTerms
	notice["discount_pct"] = v.Terms.DiscountPct.String()
	c.notify(ctx, fmt.Sprintf("department_notice/%d", v.Revision), domain.TmplContractDepartmentNotice, notice,
		nil, domain.RouteGroups(v.Class))
	return nil
}

// awaitRevision waits for the submitter to revise (a new revision, classified again and
// reviewed from the start) or to withdraw.
func (c *contract) awaitRevision(ctx workflow.Context) error {
	if err := c.tasks.Await(ctx, func() bool { return c.revise != nil || c.withdraw != nil }); err != nil {
		return err
	}
	if c.withdraw != nil {
		return c.withdrawNow(ctx)
	}
	req := *c.revise
	c.revise = nil
	v, err := c.version(c.st.LastRevision+1, c.st.Terms.Apply(req.Changes))
	if err != nil { // the validator let it through: it cannot happen
		return err
	}
	rejected := c.st.ContractVersion
	c.st.Rejected = &rejected
	c.setVersion(v)
	c.st.Status = domain.ContractInReview
	detail := c.versionDetail(v)
	detail["changes"], detail["comment"] = req.Changes, req.Comment
	return c.project(ctx, req.Actor, "revised", detail, nil)
}

// awaitAmendment waits for an amendment of the approved contract.
func (c *contract) awaitAmendment(ctx workflow.Context) error {
	if err := c.tasks.Await(ctx, func() bool { return c.amend != nil }); err != nil {
		return err
	}
	req := *c.amend
	c.amend = nil
	v, err := c.version(c.st.LastRevision+1, c.st.Terms.Apply(req.Changes))
	if err != nil {
		return err
	}
	c.st.LastRevision = v.Revision
	c.st.Amendment = &domain.ContractAmendment{
		ContractVersion: v, Changes: req.Changes, Reason: req.Reason,
		RequestedBy: req.Actor, RequestedAt: utcNow(ctx),
	}
	c.st.Status = domain.ContractAmendmentReview
	detail := c.versionDetail(v)
	detail["changes"], detail["reason"], detail["in_force_revision"] = req.Changes, req.Reason, c.st.Revision
	return c.project(ctx, req.Actor, "amendment_requested", detail, nil)
}

// withdrawNow ends the contract as withdrawn.
func (c *contract) withdrawNow(ctx workflow.Context) error {
	w := *c.withdraw
	c.st.Status, c.st.CurrentSteps = domain.ContractWithdrawn, []string{}
	return c.project(ctx, w.Actor, "withdrawn", map[string]any{"revision": c.st.Revision, "reason": w.Reason}, nil)
}

// specs builds the tasks of one stage of v's review.
func (c *contract) specs(ctx workflow.Context, stage []string, v domain.ContractVersion) []TaskSpec {
	now := utcNow(ctx)
	taskCtx := c.taskContext(v)
	amendment := c.st.Status == domain.ContractAmendmentReview
	var specs []TaskSpec
	for _, step := range stage {
		label := stepLabels[step]
		if amendment {
			label += " (amendment)"
		}
		s := TaskSpec{
			Step: step, Round: v.Revision, Title: label + ": " + v.Terms.Title,
			CandidateGroups: []string{string(domain.ContractStepGroup(step))},
			ExcludeUsers:    c.excluded(),
			Actions:         []string{ActionApprove, ActionReject},
			Context:         taskCtx,
			Priority:        domain.ContractPriority(v.Class),
			WindowStart:     now, DueAt: now.Add(c.in.Policy.StepSLA),
			Reminders: c.in.Policy.Reminders,
			Ladder: []domain.EscalationRung{
				{Level: 1, TargetAssigneeManager: true, TargetRole: domain.ContractEscalationRole(step)},
				{Level: 2, After: c.in.Policy.EscalationStep, TargetRole: domain.RoleGeneralManager},
			},
		}
		switch {
		case slices.Contains(domain.Countersigns, step):
			s.Form = countersignForm
		case step == domain.StepReviewMeeting:
			s.Form, s.Validate = meetingForm, validateMeeting
		}
		specs = append(specs, s)
	}
	return specs
}

// excluded are the users who may not review: the submitter and the amender.
func (c *contract) excluded() []string {
	users := []string{c.st.SubmittedBy}
	if a := c.st.Amendment; a != nil && a.RequestedBy != "" && a.RequestedBy != c.st.SubmittedBy {
		users = append(users, a.RequestedBy)
	}
	return users
}

// people is the submitter plus others, without duplicates.
func (c *contract) people(others ...string) []string {
	users := []string{c.st.SubmittedBy}
	for _, u := range others {
		if u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	return users
}

// taskContext is what every review task shows: the terms under review, the decisions
// of the revision so far and, for an amendment, the version in force and the change.
func (c *contract) taskContext(v domain.ContractVersion) map[string]any {
	t := v.Terms
	ctx := map[string]any{
		"contract_id": c.in.ID, "customer_id": t.CustomerID, "customer_name": c.in.CustomerName,
		"title": t.Title, "amount": t.Amount, "discount_pct": t.DiscountPct.String(),
		"delivery_date": t.DeliveryDate, "payment_terms": t.PaymentTerms,
		"requirements": t.Requirements.Names(), "strategic": t.Strategic,
		"class": v.Class, "class_reasons": v.ClassReasons, "revision": v.Revision,
		"submitted_by": c.st.SubmittedBy, "reviews": c.reviewsOf(v.Revision),
	}
	// A resubmission shows what changed since the revision that was sent back. This
	// only adds to the context of the tasks a run creates: no command changes.
	if r := c.st.Rejected; r != nil && v.Revision == c.st.Revision {
		changed := map[string]any{"rejected_revision": r.Revision}
		r.Terms.ChangesTo(v.Terms, changed)
		ctx["changed_since_rejected"] = changed
	}
	if a := c.st.Amendment; a != nil && c.st.Status == domain.ContractAmendmentReview {
		ctx["amendment"] = map[string]any{
			"reason": a.Reason, "requested_by": a.RequestedBy, "changes": a.Changes,
			"in_force_revision": c.st.Revision, "in_force_terms": c.st.Terms,
		}
	}
	return ctx
}

// reviewsOf returns the decisions on one revision.
func (c *contract) reviewsOf(revision int) []domain.ContractReview {
	out := []domain.ContractReview{}
	for _, r := range c.st.ReviewRecord {
		if r.Revision == revision {
			out = append(out, r)
		}
	}
	return out
}

// comments lists every decision of a revision that says something: its comment, a
// countersign's opinion or a meeting's report.
func (c *contract) comments(revision int) []map[string]any {
	out := []map[string]any{}
	for _, r := range c.reviewsOf(revision) {
		item := map[string]any{"step": r.Step, "reviewer": r.Reviewer, "decision": r.Decision, "at": r.At}
		said := r.Comment != ""
		if r.Comment != "" {
			item["comment"] = r.Comment
		}
		for _, field := range []string{"opinion", "report"} {
			if s := dataString(r.Data, field); s != "" {
				item[field], said = s, true
			}
		}
		if said {
			out = append(out, item)
		}
	}
	return out
}

// lastApprover is who made the last decision on a revision.
func (c *contract) lastApprover(revision int) string {
	rs := c.reviewsOf(revision)
	if len(rs) == 0 {
		return "system"
	}
	return rs[len(rs)-1].Reviewer
}

func (c *contract) versionDetail(v domain.ContractVersion) map[string]any {
	return map[string]any{"revision": v.Revision, "class": v.Class, "class_reasons": v.ClassReasons, "route": v.Route}
}

// mailData is what every contract e-mail carries.
func (c *contract) mailData(v domain.ContractVersion) map[string]any {
	return map[string]any{
		"contract_id": c.in.ID, "title": v.Terms.Title, "customer_id": v.Terms.CustomerID,
		"customer_name": c.in.CustomerName, "class": v.Class, "revision": v.Revision,
		"amount":       v.Terms.Amount.Amount + " " + v.Terms.Amount.Currency,
		"submitted_by": c.st.SubmittedBy, "ledger_no": c.st.LedgerNo,
	}
}

// notify e-mails a notice to users and the members of groups: queued in the outbox now,
// delivered in the background at the next waiting point (Tasks.QueueNotice); runs from
// before versionOutboxMail send it through the Notify activity. A failure is logged; it
// does not stop the process (the outbox records it).
func (c *contract) notify(ctx workflow.Context, key, template string, data map[string]any, users, groups []string) {
	in := domain.NotifyInput{
		KeyPrefix: c.wfID + "/" + key, Users: users, Groups: groups, Template: template, Data: data,
		Process: domain.ProcessContract, ProcessID: c.in.ID, WorkflowID: c.wfID,
	}
	if c.outboxMail {
		c.tasks.QueueNotice(ctx, in)
		return
	}
	err := execute(ctx, domain.ActNotify, in, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("notify", "template", template, "error", err)
	}
}

// project writes the read model, new review record entries and, unless event is "",
// one audit event. Only the main flow projects, so projections are in order.
func (c *contract) project(ctx workflow.Context, actor, event string, detail map[string]any, reviews []domain.ContractReview) error {
	st := c.state()
	st.OpenTasks, st.ReviewRecord = nil, nil
	p := domain.ContractProjection{State: st, Reviews: reviews}
	if event == "submitted" {
		in := c.in
		p.Input = &in
	}
	if event != "" {
		c.audit++
		p.Audit = domain.AuditInput{
			Key:     fmt.Sprintf("%s/%s/%d", c.wfID, event, c.audit),
			Process: domain.ProcessContract, ProcessID: c.in.ID,
			Actor: actor, Event: event, Detail: detail, At: utcNow(ctx),
		}
	}
	return c.tasks.Write(ctx, domain.ActProjectContract, p, nil)
}

// state is the query result: a copy of the state with the open tasks.
func (c *contract) state() domain.ContractState {
	s := c.st
	s.CurrentSteps = append([]string{}, c.st.CurrentSteps...)
	s.ReviewRecord = append([]domain.ContractReview{}, c.st.ReviewRecord...)
	s.OpenTasks = []domain.ContractTask{}
	if c.tasks != nil {
		for _, t := range c.tasks.OpenTasks() {
			s.OpenTasks = append(s.OpenTasks, domain.ContractTask{
				TaskID: t.TaskID, Step: t.Step, Assignee: t.Assignee, DelegatedFrom: t.DelegatedFrom, DueAt: t.DueAt,
			})
		}
	}
	return s
}

func notAccepting(format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), domain.ErrTypeNotAccepting)
}

func invalidData(errs []domain.FieldError) error {
	return temporal.NewApplicationError("invalid data", domain.ErrTypeInvalidData, errs)
}

// checkTerms validates terms after changes; field names get prefix.
func (c *contract) checkTerms(terms domain.ContractTerms, prefix string) []domain.FieldError {
	errs := terms.Validate(c.in.Policy.Rules)
	if len(errs) == 0 {
		if _, _, err := domain.Classify(terms, c.in.Policy.Rules); err != nil {
			errs = []domain.FieldError{{Field: "terms", Message: err.Error()}}
		}
	}
	for i := range errs {
		errs[i].Field = prefix + errs[i].Field
	}
	return errs
}

func (c *contract) validateRevise(_ workflow.Context, req domain.ContractRevisionRequest) error {
	if c.draining || c.st.Status != domain.ContractChangesRequested || c.revise != nil || c.withdraw != nil {
		return notAccepting("contract %s is %s: only a contract sent back for changes can be revised", c.in.ID, c.st.Status)
	}
	errs := c.checkTerms(c.st.Terms.Apply(req.Changes), "")
	if utf8.RuneCountInString(req.Comment) > domain.MaxContractReason {
		errs = append(errs, domain.FieldError{Field: "comment", Message: fmt.Sprintf("must be at most %d characters", domain.MaxContractReason)})
	}
	if len(errs) > 0 {
		return invalidData(errs)
	}
	return nil
}

func (c *contract) validateWithdraw(_ workflow.Context, req domain.ContractWithdrawRequest) error {
	if c.draining || c.withdraw != nil ||
		(c.st.Status != domain.ContractInReview && c.st.Status != domain.ContractChangesRequested) {
		return notAccepting("contract %s is %s: only a contract not yet approved can be withdrawn", c.in.ID, c.st.Status)
	}
	if utf8.RuneCountInString(req.Reason) > domain.MaxContractReason {
		return invalidData([]domain.FieldError{{Field: "reason", Message: fmt.Sprintf("must be at most %d characters", domain.MaxContractReason)}})
	}
	return nil
}

func (c *contract) validateAmend(_ workflow.Context, req domain.ContractAmendRequest) error {
	if c.draining || c.st.Status != domain.ContractApproved || c.amend != nil {
		return notAccepting("contract %s is %s: only an approved contract with no amendment under review can be amended", c.in.ID, c.st.Status)
	}
	var errs []domain.FieldError
	if req.Changes.Empty() {
		errs = append(errs, domain.FieldError{Field: "changes", Message: "must change at least one field"})
	} else {
		errs = c.checkTerms(c.st.Terms.Apply(req.Changes), "changes.")
	}
	switch reason := strings.TrimSpace(req.Reason); {
	case reason == "":
		errs = append(errs, domain.FieldError{Field: "reason", Message: "is required"})
	case utf8.RuneCountInString(reason) > domain.MaxContractReason:
		errs = append(errs, domain.FieldError{Field: "reason", Message: fmt.Sprintf("must be at most %d characters", domain.MaxContractReason)})
	}
	if len(errs) > 0 {
		return invalidData(errs)
	}
	return nil
}

// The Update handlers check again (validators do not run on replay), hand the request
// to the main flow and answer once it has acted on it.

func (c *contract) onRevise(ctx workflow.Context, req domain.ContractRevisionRequest) (domain.ContractState, error) {
	if err := c.validateRevise(ctx, req); err != nil {
		return domain.ContractState{}, err
	}
	c.revise = &req
	return c.settled(ctx)
}

func (c *contract) onWithdraw(ctx workflow.Context, req domain.ContractWithdrawRequest) (domain.ContractState, error) {
	if err := c.validateWithdraw(ctx, req); err != nil {
		return domain.ContractState{}, err
	}
	c.withdraw = &req
	c.tasks.Interrupt()
	return c.settled(ctx)
}

func (c *contract) onAmend(ctx workflow.Context, req domain.ContractAmendRequest) (domain.ContractState, error) {
	if err := c.validateAmend(ctx, req); err != nil {
		return domain.ContractState{}, err
	}
	c.amend = &req
	return c.settled(ctx)
}

func (c *contract) settled(ctx workflow.Context) (domain.ContractState, error) {
	if err := c.tasks.Settled(ctx); err != nil {
		return domain.ContractState{}, err
	}
	return c.state(), nil
}

// validateMeeting requires a non-empty attendee list of names.
func validateMeeting(_ string, data map[string]any) []domain.FieldError {
	list, _ := data["attendees"].([]any)
	if len(list) == 0 || len(list) > MaxAttendees {
		return []domain.FieldError{{Field: "attendees", Message: fmt.Sprintf("must list 1 to %d attendees", MaxAttendees)}}
	}
	for _, a := range list {
		if s, ok := a.(string); !ok || strings.TrimSpace(s) == "" {
			return []domain.FieldError{{Field: "attendees", Message: "must be a list of names"}}
		}
	}
	return nil
}

package workflows

import (
	"fmt"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// Complaint task actions.
const (
	ActionAccept  = "accept"
	ActionRespond = "respond"
	ActionResolve = "resolve"
	ActionApprove = "approve"
	ActionReject  = "reject"
	ActionReopen  = "reopen"
	ActionClose   = "close"
	ActionDone    = "done"
)

// MaxMessageLength bounds the first response sent to the customer (characters).
const MaxMessageLength = 10000

// Task forms of the complaint steps (API.md).
var (
	evaluateForm = []domain.FormField{
		{Name: "category", Type: "enum", Required: true, Options: domain.ComplaintCategories},
		{Name: "severity", Type: "enum", Required: true, Options: domain.ComplaintSeverities},
	}
	respondForm = []domain.FormField{
		{Name: "message", Type: "text", Required: true},
	}
	resolveForm = []domain.FormField{
		{Name: "resolution_type", Type: "enum", Required: true, Options: domain.ResolutionTypes},
		{Name: "summary", Type: "text", Required: true},
		{Name: "amount", Type: "money"},
	}
	contactForm = []domain.FormField{
		{Name: "note", Type: "text", Required: true}, // how the customer was reached
	}
)

// versionCustomerLinks marks the change that asks for feedback through the customer
// link helper (workflows/links.go: the customer-link-answer Update, reminders, expiry)
// instead of RequestFeedback and submit-feedback, which runs from before it keep.
const versionCustomerLinks = "customer-links"

// complaint is the state of one complaint workflow run.
type complaint struct {
	in    domain.ComplaintInput
	wfID  string
	tasks *Tasks
	links *Links
	mu    workflow.Mutex // keeps projections (main flow and escalations) in order
	st    domain.ComplaintState
	audit int // sequence of audit events, part of their keys

	resolver         string       // who proposed the current resolution
	rejected         *TaskOutcome // the rejection of the last proposal, shown to the next resolve task
	rejectedProposal domain.Resolution
	awaitingFeedback bool
	feedback         *domain.Feedback
}

// ComplaintWorkflow runs one complaint through receive → evaluate → respond → resolve
// (with approval) → follow up (DOMAIN.md, process 3). It returns the final state.
func ComplaintWorkflow(ctx workflow.Context, in domain.ComplaintInput) (domain.ComplaintState, error) {
	c := &complaint{in: in, wfID: workflow.GetInfo(ctx).WorkflowExecution.ID, mu: workflow.NewMutex(ctx)}
	c.st = domain.ComplaintState{Status: domain.ComplaintReceived, Severity: in.Severity, Category: in.Category, Round: 1}
	if c.st.Severity == "" {
		c.st.Severity = "normal"
	}
	c.st.ResponseDueAt = in.ReceivedAt.Add(in.Policy.ResponseWindow(c.st.Severity, in.CustomerTier))

	tasks, err := NewTasks(ctx, TasksConfig{
		WorkflowID: c.wfID, Process: domain.ProcessComplaint, ProcessID: in.ID,
		StatusFn: func() string { return c.st.Status }, OnEscalation: c.onEscalation,
		ContactCustomer: c.contactSpec,
	})
	if err != nil {
		return c.state(), err
	}
	c.tasks = tasks
	links, err := NewLinks(ctx, LinksConfig{
		WorkflowID: c.wfID, Process: domain.ProcessComplaint, ProcessID: in.ID, Tasks: tasks,
		StatusFn: func() string { return c.st.Status }, Purposes: domain.ComplaintProcess.Links,
	})
	if err != nil {
		return c.state(), err
	}
	c.links = links
	if err := workflow.SetQueryHandler(ctx, domain.QueryStatus, func() (domain.ComplaintState, error) {
		return c.state(), nil
	}); err != nil {
		return c.state(), err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, domain.UpdateSubmitFeedback, c.submitFeedback,
		workflow.UpdateHandlerOptions{Validator: c.validateFeedback}); err != nil {
		return c.state(), err
	}

	if err := c.run(ctx); err != nil {
		return c.state(), err
	}
	// Finish waits for the contact_customer tasks and the e-mails still in flight.
	err = c.tasks.Finish(ctx)
	return c.state(), err
}

// run is the process, one method per phase.
func (c *complaint) run(ctx workflow.Context) error {
	if err := c.receive(ctx); err != nil {
		return err
	}
	if err := c.evaluate(ctx); err != nil {
		return err
	}
	if err := c.respond(ctx); err != nil {
		return err
	}
	for {
		if err := c.resolve(ctx); err != nil {
			return err
		}
		reopened, err := c.followUp(ctx)
		if err != nil || !reopened {
			return err
		}
	}
}

// receive records the complaint and acknowledges it to the customer.
func (c *complaint) receive(ctx workflow.Context) error {
	in := c.in
	due := c.st.ResponseDueAt
	err := c.project(ctx, in.FiledBy, "received", map[string]any{
		"channel": in.Channel, "subject": in.Subject, "severity": c.st.Severity,
		"category": in.Category, "response_due_at": due,
	}, domain.ComplaintProjection{Input: &in, Severity: &c.st.Severity, ResponseDueAt: &due})
	if err != nil {
		return err
	}
	detail := c.email(ctx, "ack", domain.TmplComplaintAck, map[string]any{"response_due_at": due.UTC().Format("2006-01-02 15:04 MST")})
	c.st.Status = domain.ComplaintEvaluating
	return c.project(ctx, "system", "acknowledged", detail, domain.ComplaintProjection{})
}

// evaluate lets a customer_service handler classify the complaint and take ownership.
func (c *complaint) evaluate(ctx workflow.Context) error {
	out, err := c.tasks.Run(ctx, c.spec(TaskSpec{
		Step: domain.StepEvaluate, Round: 1, Title: "Evaluate complaint: " + c.in.Subject,
		CandidateGroups: []string{string(domain.RoleCustomerService)},
		Actions:         []string{ActionAccept}, Form: evaluateForm,
		WindowStart: c.in.ReceivedAt, DueAt: c.st.ResponseDueAt,
	}))
	if err != nil {
		return err
	}
	c.st.Owner = out.Actor
	c.st.Category = dataString(out.Data, "category")
	if sev := dataString(out.Data, "severity"); sev != c.st.Severity {
		c.st.Severity = sev
		c.st.ResponseDueAt = c.in.ReceivedAt.Add(c.in.Policy.ResponseWindow(sev, c.in.CustomerTier))
	}
	c.st.Status = domain.ComplaintResponding
	due := c.st.ResponseDueAt
	return c.project(ctx, out.Actor, "evaluated", map[string]any{
		"category": c.st.Category, "severity": c.st.Severity, "owner": c.st.Owner,
		"response_due_at": due, "comment": out.Comment,
	}, domain.ComplaintProjection{
		Category: &c.st.Category, Severity: &c.st.Severity, Assignee: &c.st.Owner, ResponseDueAt: &due,
	})
}

// respond lets the owner write the first response, which is e-mailed to the customer.
func (c *complaint) respond(ctx workflow.Context) error {
	out, err := c.tasks.Run(ctx, c.spec(TaskSpec{
		Step: domain.StepRespond, Round: 1, Title: "Respond to complaint: " + c.in.Subject,
		Assignee: c.st.Owner, Actions: []string{ActionRespond}, Form: respondForm,
		WindowStart: c.in.ReceivedAt, DueAt: c.st.ResponseDueAt,
		Validate: validateRespond,
	}))
	if err != nil {
		return err
	}
	message := dataString(out.Data, "message")
	detail := c.email(ctx, "response", domain.TmplComplaintResponse, map[string]any{"message": message})
	now := utcNow(ctx)
	c.st.RespondedAt = &now
	c.st.Status = domain.ComplaintResolving
	detail["message"] = message
	detail["on_time"] = !now.After(c.st.ResponseDueAt)
	return c.project(ctx, out.Actor, "responded", detail, domain.ComplaintProjection{RespondedAt: &now})
}

// resolve lets the owner propose a resolution until one stands: a refund or
// compensation needs approval, and a rejection sends it back to resolve.
func (c *complaint) resolve(ctx workflow.Context) error {
	for {
		now := utcNow(ctx)
		taskCtx := c.taskContext()
		if r := c.rejected; r != nil {
			taskCtx["rejected_by"] = r.Actor
			taskCtx["rejection_comment"] = r.Comment
			taskCtx["rejected_resolution"] = resolutionDetail(c.rejectedProposal, "")
		}
		out, err := c.tasks.Run(ctx, c.spec(TaskSpec{
			Step: domain.StepResolve, Round: c.st.Round, Title: "Resolve complaint: " + c.in.Subject,
			Assignee: c.st.Owner, Actions: []string{ActionResolve}, Form: resolveForm,
			Context: taskCtx, WindowStart: now, DueAt: now.Add(c.in.Policy.ResolveSLA),
			Validate: validateResolve,
		}))
		if err != nil {
			return err
		}
		res := domain.Resolution{
			Type:    dataString(out.Data, "resolution_type"),
			Summary: dataString(out.Data, "summary"),
			Amount:  dataMoney(out.Data, "amount"),
		}
		c.st.Resolution, c.resolver, c.rejected = &res, out.Actor, nil
		if !domain.NeedsApproval(res.Type) {
			return nil
		}

		c.st.Status = domain.ComplaintAwaitingApproval
		if err := c.project(ctx, out.Actor, "resolution_proposed", resolutionDetail(res, out.Comment),
			domain.ComplaintProjection{Resolution: &res}); err != nil {
			return err
		}
		approvers, rejected, err := c.approve(ctx, res)
		if err != nil {
			return err
		}
		if rejected == nil {
			last := approvers[len(approvers)-1] // approve returns at least one approver
			return c.project(ctx, last, "resolution_approved",
				map[string]any{"approvers": approvers}, domain.ComplaintProjection{})
		}
		c.rejected, c.rejectedProposal = rejected, res
		c.st.Round++
		c.st.Status = domain.ComplaintResolving
		if err := c.project(ctx, rejected.Actor, "resolution_rejected", map[string]any{
			"comment": rejected.Comment, "approver_group": approverGroup(rejected.Key),
		}, domain.ComplaintProjection{}); err != nil {
			return err
		}
	}
}

// approve asks the service manager, and above the threshold finance too, in parallel.
// The first rejection cancels the other task. It returns the approvers, or the
// rejecting outcome.
func (c *complaint) approve(ctx workflow.Context, res domain.Resolution) ([]string, *TaskOutcome, error) {
	now := utcNow(ctx)
	taskCtx := c.taskContext()
	taskCtx["resolution"] = resolutionDetail(res, "")
	taskCtx["proposed_by"] = c.resolver
	base := c.spec(TaskSpec{
		Step: domain.StepApproveResolution, Round: c.st.Round,
		Actions:      []string{ActionApprove, ActionReject},
		ExcludeUsers: []string{c.resolver}, // nobody approves their own resolution
		Context:      taskCtx,
		WindowStart:  now, DueAt: now.Add(c.in.Policy.ApprovalSLA),
	})
	manager := base
	manager.Title = "Approve resolution: " + c.in.Subject
	manager.CandidateGroups = []string{string(domain.RoleServiceManager)}
	specs := []TaskSpec{manager}
	if needsFinance(res.Amount, c.in.Policy.FinanceThreshold) {
		finance := base
		finance.Key = "finance"
		finance.Title = "Countersign resolution: " + c.in.Subject
		finance.CandidateGroups = []string{string(domain.RoleFinance)}
		specs = append(specs, finance)
	}
	outs, err := c.tasks.RunAll(ctx, specs, func(o TaskOutcome) bool { return o.Action == ActionReject })
	if err != nil {
		return nil, nil, err
	}
	var approvers []string
	for i := range outs {
		switch o := &outs[i]; {
		case o.Action == ActionReject:
			return nil, o, nil
		case o.Action == ActionApprove:
			approvers = append(approvers, o.Actor)
		}
	}
	return approvers, nil, nil
}

// followUp tells the customer the resolution and asks for feedback. It reports whether
// the complaint was reopened; otherwise it has been closed.
func (c *complaint) followUp(ctx workflow.Context) (reopened bool, err error) {
	res := *c.st.Resolution
	mailData := map[string]any{"resolution_type": res.Type, "summary": res.Summary}
	if res.Amount != nil {
		mailData["amount"] = res.Amount.Amount + " " + res.Amount.Currency
	}
	detail := c.email(ctx, fmt.Sprintf("resolution/%d", c.st.Round), domain.TmplComplaintResolution, mailData)
	detail["resolution"] = resolutionDetail(res, "")
	c.st.Status = domain.ComplaintFollowingUp
	if err := c.project(ctx, c.resolver, "resolved", detail, domain.ComplaintProjection{Resolution: &res}); err != nil {
		return false, err
	}

	if workflow.GetVersion(ctx, versionCustomerLinks, workflow.DefaultVersion, 1) >= 1 {
		return c.feedbackByLink(ctx)
	}

	// Accept feedback from now on: the link may reach the customer before the activity
	// returns, let alone before the projection below.
	c.feedback, c.awaitingFeedback = nil, true
	var link domain.FeedbackRequestResult
	err = c.tasks.Write(ctx, domain.ActRequestFeedback, domain.FeedbackRequestInput{
		ComplaintID: c.in.ID, WorkflowID: c.wfID, Round: c.st.Round,
		To: c.customer(), Locale: c.in.Locale, Subject: c.in.Subject, At: utcNow(ctx),
		QueueOnly: c.tasks.QueuesMail(),
	}, &link)
	requested := map[string]any{"round": c.st.Round}
	switch {
	case err != nil:
		workflow.GetLogger(ctx).Warn("request feedback", "error", err)
		requested["error"] = err.Error()
	case c.tasks.QueuesMail():
		key := fmt.Sprintf("feedback/%d", c.st.Round)
		c.tasks.QueuedCustomerMail(ctx, requested, key, domain.TmplFeedbackRequest, link.EmailKey, link.Email, nil)
	}
	if err := c.project(ctx, "system", "feedback_requested", requested, domain.ComplaintProjection{}); err != nil {
		return false, err
	}

	got, err := c.tasks.AwaitWithTimeout(ctx, c.in.Policy.FeedbackWait, func() bool { return c.feedback != nil })
	c.awaitingFeedback = false
	if err != nil {
		return false, err
	}
	if !got {
		return false, c.close(ctx, "system", map[string]any{"reason": "no_feedback"})
	}
	return c.takeFeedback(ctx, *c.feedback)
}

// feedbackByLink asks for feedback through a customer link (versionCustomerLinks): the
// customer rates the resolution 1-5 with an optional comment, is reminded at the
// policy's offsets, and without an answer the complaint closes when the link expires.
func (c *complaint) feedbackByLink(ctx workflow.Context) (reopened bool, err error) {
	key := fmt.Sprintf("feedback/%d", c.st.Round)
	link, err := c.links.Open(ctx, LinkSpec{
		Purpose: domain.PurposeComplaintFeedback, Round: c.st.Round, Key: key,
		Customer: domain.LinkCustomer{ID: c.in.CustomerID, Email: c.in.CustomerEmail, Name: c.in.CustomerName, Locale: c.in.Locale},
		Context:  map[string]any{"complaint_id": c.in.ID, "subject": c.in.Subject},
		Template: domain.TmplFeedbackRequest, ReminderTemplate: domain.TmplFeedbackReminder,
		ExpiresIn: c.in.Policy.FeedbackWait, Reminders: c.in.Policy.FeedbackReminders,
	})
	requested := map[string]any{
		"round": c.st.Round, "link_id": link.ID(), "expires_at": link.ExpiresAt(),
		"template": domain.TmplFeedbackRequest, "email_id": link.Email.EmailID, "email_status": link.Email.Status,
	}
	if link.Email.Error != "" {
		requested["error"] = link.Email.Error
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("create feedback link", "error", err)
	}
	if err := c.project(ctx, "system", "feedback_requested", requested, domain.ComplaintProjection{}); err != nil {
		return false, err
	}
	out, err := link.Wait(ctx)
	if err != nil {
		return false, err
	}
	if !out.Answered {
		return false, c.close(ctx, "system", map[string]any{"reason": "no_feedback"})
	}
	return c.takeFeedback(ctx, domain.FeedbackFromAnswer(out.Answer, out.At))
}

// takeFeedback records the customer's feedback and closes the complaint, or has a low
// score reviewed.
func (c *complaint) takeFeedback(ctx workflow.Context, fb domain.Feedback) (reopened bool, err error) {
	if err := c.project(ctx, "customer", "feedback_received", map[string]any{
		"score": fb.Score, "comment": fb.Comment, "round": c.st.Round,
	}, domain.ComplaintProjection{}); err != nil {
		return false, err
	}
	if fb.Score > c.in.Policy.DissatisfiedScore {
		return false, c.close(ctx, "system", map[string]any{"reason": "satisfied", "score": fb.Score})
	}
	return c.reviewDissatisfaction(ctx, fb)
}

// reviewDissatisfaction lets the service manager reopen or close after a low score.
func (c *complaint) reviewDissatisfaction(ctx workflow.Context, fb domain.Feedback) (reopened bool, err error) {
	now := utcNow(ctx)
	taskCtx := c.taskContext()
	taskCtx["score"] = fb.Score
	taskCtx["feedback_comment"] = fb.Comment
	taskCtx["resolution"] = resolutionDetail(*c.st.Resolution, "")
	out, err := c.tasks.Run(ctx, c.spec(TaskSpec{
		Step: domain.StepReviewDissatisfaction, Round: c.st.Round,
		Title:           "Review dissatisfied feedback: " + c.in.Subject,
		CandidateGroups: []string{string(domain.RoleServiceManager)},
		Actions:         []string{ActionReopen, ActionClose},
		Context:         taskCtx,
		WindowStart:     now, DueAt: now.Add(c.in.Policy.ReviewSLA),
	}))
	if err != nil {
		return false, err
	}
	if out.Action == ActionClose {
		return false, c.close(ctx, out.Actor, map[string]any{"reason": "reviewed", "comment": out.Comment})
	}
	c.st.Round++
	c.st.Status = domain.ComplaintResolving
	return true, c.project(ctx, out.Actor, "reopened", map[string]any{
		"comment": out.Comment, "score": fb.Score, "round": c.st.Round,
	}, domain.ComplaintProjection{})
}

// close records the end of the complaint.
func (c *complaint) close(ctx workflow.Context, actor string, detail map[string]any) error {
	now := utcNow(ctx)
	c.st.Status = domain.ComplaintClosed
	return c.project(ctx, actor, "closed", detail, domain.ComplaintProjection{ClosedAt: &now})
}

// onEscalation records a raised escalation on the complaint (TasksConfig.OnEscalation).
func (c *complaint) onEscalation(ctx workflow.Context, e Escalation) {
	c.st.EscalationLevel = max(c.st.EscalationLevel, e.Level)
	level := c.st.EscalationLevel
	// RaiseEscalation has written the "escalated" audit event already.
	err := c.project(ctx, "system", "", nil, domain.ComplaintProjection{EscalationLevel: &level})
	if err != nil {
		workflow.GetLogger(ctx).Warn("project escalation", "error", err)
	}
}

// validateFeedback is the submit-feedback validator.
func (c *complaint) validateFeedback(_ workflow.Context, fb domain.Feedback) error {
	if !c.awaitingFeedback || c.feedback != nil {
		return temporal.NewApplicationError("no feedback is awaited for this complaint", domain.ErrTypeNotAccepting)
	}
	var errs []domain.FieldError
	if fb.Score < 1 || fb.Score > 5 {
		errs = append(errs, domain.FieldError{Field: "score", Message: "must be between 1 and 5"})
	}
	if utf8.RuneCountInString(fb.Comment) > MaxMessageLength {
		errs = append(errs, domain.FieldError{Field: "comment", Message: fmt.Sprintf("must be at most %d characters", MaxMessageLength)})
	}
	if len(errs) > 0 {
		return temporal.NewApplicationError("invalid feedback", domain.ErrTypeInvalidData, errs)
	}
	return nil
}

// submitFeedback is the submit-feedback Update handler. It returns the state once the
// workflow has acted on the feedback.
func (c *complaint) submitFeedback(ctx workflow.Context, fb domain.Feedback) (domain.ComplaintState, error) {
	if err := c.validateFeedback(ctx, fb); err != nil {
		return domain.ComplaintState{}, err
	}
	if fb.At.IsZero() {
		fb.At = utcNow(ctx)
	}
	c.feedback = &fb
	if err := c.tasks.Settled(ctx); err != nil {
		return domain.ComplaintState{}, err
	}
	return c.state(), nil
}

// project writes the read model and one audit event, in order with every other
// projection of this complaint.
func (c *complaint) project(ctx workflow.Context, actor, event string, detail map[string]any, p domain.ComplaintProjection) error {
	if err := c.mu.Lock(ctx); err != nil {
		return err
	}
	defer c.mu.Unlock()
	p.ComplaintID = c.in.ID
	p.Status = c.st.Status
	if event == "" { // a projection only; the activity that caused it wrote the audit event
		return c.tasks.Write(ctx, domain.ActProjectComplaint, p, nil)
	}
	c.audit++
	p.Audit = domain.AuditInput{
		Key:     fmt.Sprintf("%s/%s/%d/%d", c.wfID, event, c.st.Round, c.audit),
		Process: domain.ProcessComplaint, ProcessID: c.in.ID,
		Actor: actor, Event: event, Detail: detail, At: utcNow(ctx),
	}
	return c.tasks.Write(ctx, domain.ActProjectComplaint, p, nil)
}

// email sends a templated e-mail to the customer and returns audit detail about it. It
// goes out in the background (Tasks.SendCustomerMail); a permanent failure is recorded
// in the outbox and reported in the detail. It does not stop the process, but asks a
// handler to reach the customer another way (contactSpec).
func (c *complaint) email(ctx workflow.Context, key, template string, data map[string]any) map[string]any {
	data["complaint_id"] = c.in.ID
	data["customer_name"] = c.in.CustomerName
	data["subject"] = c.in.Subject
	return c.tasks.SendCustomerMail(ctx, key, domain.SendEmailInput{
		IdempotencyKey: c.wfID + "/" + key, To: c.customer(), Locale: c.in.Locale,
		Template: template, Data: data,
		Process: domain.ProcessComplaint, ProcessID: c.in.ID, WorkflowID: c.wfID,
	})
}

// contactSpec is the complaint's contact_customer task for an e-mail to the customer that
// failed for good (TasksConfig.ContactCustomer): the owner (or, before evaluation,
// customer service) reaches the customer another way and notes how.
func (c *complaint) contactSpec(ctx workflow.Context, f MailFailure) TaskSpec {
	now := utcNow(ctx)
	taskCtx := c.taskContext()
	taskCtx["failed_template"] = f.Template
	taskCtx["failure_reason"] = f.Reason
	taskCtx["customer_email"] = c.in.CustomerEmail
	taskCtx["owner_rep"] = c.in.OwnerRep
	spec := c.spec(TaskSpec{
		Step: domain.StepContactCustomer, Round: c.st.Round, Key: f.Key,
		Title:   "Reach the customer another way: " + c.in.Subject,
		Actions: []string{ActionDone}, Form: contactForm, Context: taskCtx, Validate: validateNote,
		WindowStart: now, DueAt: now.Add(c.in.Policy.ResponseWindow(c.st.Severity, c.in.CustomerTier)),
	})
	if c.st.Owner != "" {
		spec.Assignee = c.st.Owner
	} else {
		spec.CandidateGroups = []string{string(domain.RoleCustomerService)}
	}
	return spec
}

// taskContext is what every complaint task shows its actor; steps add their own keys.
func (c *complaint) taskContext() map[string]any {
	ctx := map[string]any{
		"complaint_id": c.in.ID, "customer_id": c.in.CustomerID, "customer_name": c.in.CustomerName,
		"customer_tier": c.in.CustomerTier, "channel": c.in.Channel, "subject": c.in.Subject,
		"description": c.in.Description, "severity": c.st.Severity, "category": c.st.Category,
		"response_due_at": c.st.ResponseDueAt, "order_id": c.in.OrderID, "owner": c.st.Owner,
	}
	if c.in.VisitID != "" { // only a visit's complaint shows it: the others' tasks are as before
		ctx["visit_id"] = c.in.VisitID
	}
	return ctx
}

// spec fills what every complaint task shares: context (unless the step built its own
// from taskContext), priority, reminders and the escalation ladder (service manager at
// the due time, general manager one escalation step later).
func (c *complaint) spec(s TaskSpec) TaskSpec {
	if s.Context == nil {
		s.Context = c.taskContext()
	}
	s.Priority = complaintPriority(c.st.Severity, c.in.CustomerTier)
	s.Reminders = c.in.Policy.Reminders
	s.Ladder = []domain.EscalationRung{
		{Level: 1, TargetRole: domain.RoleServiceManager},
		{Level: 2, After: c.in.Policy.EscalationStep, TargetRole: domain.RoleGeneralManager},
	}
	return s
}

// state is the query result: a copy of the state with the open tasks.
func (c *complaint) state() domain.ComplaintState {
	s := c.st
	if c.tasks != nil {
		s.OpenTasks = c.tasks.OpenTaskIDs()
	} else {
		s.OpenTasks = []string{}
	}
	return s
}

func (c *complaint) customer() domain.EmailRecipient {
	return domain.EmailRecipient{Email: c.in.CustomerEmail, Name: c.in.CustomerName}
}

// complaintPriority ranks tasks: urgent first, then tier A customers.
func complaintPriority(severity, tier string) int {
	p := 0
	if severity == "urgent" {
		p += 2
	}
	if tier == "A" {
		p++
	}
	return p
}

// needsFinance reports whether a resolution amount needs the finance countersign: above
// the threshold, or in another currency than the threshold's.
func needsFinance(amount *domain.Money, threshold domain.Money) bool {
	if amount == nil {
		return false
	}
	if amount.Currency != threshold.Currency {
		return true
	}
	a, err1 := amount.Decimal()
	t, err2 := threshold.Decimal()
	if err1 != nil || err2 != nil {
		return true
	}
	return a.GreaterThan(t)
}

func approverGroup(key string) string {
	if key == "finance" {
		return string(domain.RoleFinance)
	}
	return string(domain.RoleServiceManager)
}

func resolutionDetail(r domain.Resolution, comment string) map[string]any {
	d := map[string]any{"resolution_type": r.Type, "summary": r.Summary}
	if r.Amount != nil {
		d["amount"] = *r.Amount
	}
	if comment != "" {
		d["comment"] = comment
	}
	return d
}

// validateRespond limits the response message.
func validateRespond(_ string, data map[string]any) []domain.FieldError {
	if utf8.RuneCountInString(dataString(data, "message")) > MaxMessageLength {
		return []domain.FieldError{{Field: "message", Message: fmt.Sprintf("must be at most %d characters", MaxMessageLength)}}
	}
	return nil
}

// validateNote limits the note of a contact_customer task.
func validateNote(_ string, data map[string]any) []domain.FieldError {
	if utf8.RuneCountInString(dataString(data, "note")) > MaxMessageLength {
		return []domain.FieldError{{Field: "note", Message: fmt.Sprintf("must be at most %d characters", MaxMessageLength)}}
	}
	return nil
}

// validateResolve requires an amount for a refund or compensation.
func validateResolve(_ string, data map[string]any) []domain.FieldError {
	if domain.NeedsApproval(dataString(data, "resolution_type")) && data["amount"] == nil {
		return []domain.FieldError{{Field: "amount", Message: "is required for a refund or compensation"}}
	}
	return nil
}

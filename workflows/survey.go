package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// SurveyCycleWorkflow runs one survey cycle (DOMAIN.md process 4; issue 13): invite the
// audience, remind those who have not answered at 3 and 7 days, close at 14 days, report
// the figures, and open an improvement task for each weak rating.
//
// Its history does not grow with the number of customers. Invitations are queued by
// batches of domain.SurveyBatchSize (one activity each), delivered by one long activity
// at the provider rate, and the answers never reach the workflow: /c/{token} stores them
// (domain.AnswerStored) and starts a detractor's return visit itself, and the cycle
// counts them at the close. At each reminder and at the close a catch-up starts the
// visits a request could not (StartSurveyVisits), so that every detractor gets exactly
// one. Its history grows by some ten events per thousand customers (a batch activity
// to invite and one to remind each of them twice): 10 000 customers are well under the
// issue's 2 000 events.
//
// It is started by its programme's Temporal Schedule or by POST …/run; its cycle id is
// derived from its workflow id (domain.SurveyCycleID).
func SurveyCycleWorkflow(ctx workflow.Context, in domain.SurveyCycleInput) (domain.CycleResults, error) {
	info := workflow.GetInfo(ctx)
	c := &surveyCycle{in: in, wfID: info.WorkflowExecution.ID, id: in.ID, status: domain.CycleInviting}
	if c.id == "" {
		c.id = domain.SurveyCycleID(c.wfID)
	}
	tasks, err := NewTasks(ctx, TasksConfig{WorkflowID: c.wfID, Process: domain.ProcessSurvey, ProcessID: c.id,
		StatusFn: func() string { return c.status }})
	if err != nil {
		return domain.CycleResults{}, err
	}
	c.tasks = tasks
	c.start = utcNow(ctx)
	if err := c.tasks.Write(ctx, domain.ActOpenSurveyCycle, domain.OpenSurveyCycleInput{CycleID: c.id, WorkflowID: c.wfID,
		ProgrammeID: in.ProgrammeID, Audience: in.Audience, StartedBy: in.StartedBy, At: c.start}, &c.policy); err != nil {
		return domain.CycleResults{}, err
	}
	closesAt := c.start.Add(c.policy.CloseAfter)
	if err := c.invite(ctx, closesAt); err != nil {
		return domain.CycleResults{}, err
	}
	c.status = domain.CycleOpen
	if err := c.set(ctx, closesAt, nil); err != nil {
		return domain.CycleResults{}, err
	}
	// The deliveries run beside the main flow until the close, which stops any still
	// going: what the close finds queued is no longer worth sending.
	dctx, stopDeliveries := workflow.WithCancel(ctx)
	c.deliver(dctx)
	for i, offset := range c.policy.Reminders {
		if err := workflow.Sleep(ctx, c.start.Add(offset).Sub(utcNow(ctx))); err != nil {
			return domain.CycleResults{}, err
		}
		c.startVisits(ctx)
		if err := c.remind(ctx, i+1); err != nil {
			return domain.CycleResults{}, err
		}
		c.deliver(dctx)
	}
	if err := workflow.Sleep(ctx, closesAt.Sub(utcNow(ctx))); err != nil {
		return domain.CycleResults{}, err
	}
	stopDeliveries()
	var closed domain.CloseSurveyCycleResult
	if err := execute(ctx, domain.ActCloseSurveyCycle, domain.CloseSurveyCycleInput{CycleID: c.id, At: utcNow(ctx),
		Policy: c.policy}, &closed); err != nil {
		return domain.CycleResults{}, err
	}
	c.status = domain.CycleClosed
	c.startVisits(ctx)
	if err := c.improve(ctx, closed.Improvements); err != nil {
		return closed.Results, err
	}
	return closed.Results, c.tasks.Finish(ctx)
}

// surveyCycle is the state of one cycle run.
type surveyCycle struct {
	in      domain.SurveyCycleInput
	wfID    string
	id      string
	policy  domain.SurveyPolicy
	start   time.Time
	status  string
	invited int
	tasks   *Tasks
}

// invite queues the invitations, batch by batch, until the audience is exhausted.
func (c *surveyCycle) invite(ctx workflow.Context, expiresAt time.Time) error {
	after := ""
	for {
		var res domain.InviteSurveyBatchResult
		err := execute(ctx, domain.ActInviteSurveyBatch, domain.InviteSurveyBatchInput{CycleID: c.id, WorkflowID: c.wfID,
			Audience: c.in.Audience, After: after, Limit: domain.SurveyBatchSize, At: c.start, ExpiresAt: expiresAt,
			Policy: c.policy}, &res)
		if err != nil {
			return fmt.Errorf("invite: %w", err)
		}
		c.invited += res.Invited
		if res.Done {
			return nil
		}
		after = res.Last
	}
}

// remind queues reminder n to everyone who has not answered, batch by batch.
func (c *surveyCycle) remind(ctx workflow.Context, n int) error {
	after := ""
	for {
		var res domain.RemindSurveyBatchResult
		err := execute(ctx, domain.ActRemindSurveyBatch, domain.RemindSurveyBatchInput{CycleID: c.id, N: n, After: after,
			Limit: domain.SurveyBatchSize, At: utcNow(ctx)}, &res)
		if err != nil {
			return fmt.Errorf("remind %d: %w", n, err)
		}
		if res.Done {
			return nil
		}
		after = res.Last
	}
}

// SurveyDeliveryTimeout bounds one delivery pass: 10 000 e-mails at 5 a second take
// some 35 minutes. The pass heartbeats after each e-mail, so a dead worker is noticed
// within SurveyDeliveryHeartbeat and the pass is retried where it stopped.
const (
	SurveyDeliveryTimeout   = 24 * time.Hour
	SurveyDeliveryHeartbeat = 2 * time.Minute
)

// deliver starts a delivery pass of the cycle's queued e-mails, beside the main flow;
// cancelling ctx stops it. A pass that fails is retried (activityRetry) until then.
func (c *surveyCycle) deliver(ctx workflow.Context) {
	retry := activityRetry
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: SurveyDeliveryTimeout, HeartbeatTimeout: SurveyDeliveryHeartbeat, RetryPolicy: &retry,
	})
	workflow.ExecuteActivity(actx, domain.ActDeliverSurveyMail, domain.DeliverSurveyMailInput{CycleID: c.id, WorkflowID: c.wfID})
}

// set records the cycle's status.
func (c *surveyCycle) set(ctx workflow.Context, closesAt time.Time, results *domain.CycleResults) error {
	return c.tasks.Write(ctx, domain.ActSetSurveyCycle, domain.SetSurveyCycleInput{CycleID: c.id, Status: c.status,
		Invited: c.invited, ClosesAt: closesAt, Results: results, At: utcNow(ctx)}, nil)
}

// startVisits starts the return visit of every detractor who has none yet. A failure
// is logged: the next catch-up tries again, and the request usually started it.
func (c *surveyCycle) startVisits(ctx workflow.Context) {
	var res domain.StartSurveyVisitsResult
	if err := execute(ctx, domain.ActStartSurveyVisits, domain.StartSurveyVisitsInput{CycleID: c.id, Policy: c.policy}, &res); err != nil {
		workflow.GetLogger(ctx).Warn("start survey visits", "cycle_id", c.id, "error", err)
	}
}

// improvementForm is what the department records when it has improved a rating.
var improvementForm = []domain.FormField{
	{Name: "measures", Type: "text", Required: true},
}

// improve opens an improvement task for each weak rating, for its department, due
// ImprovementDue after the close, with the comments behind it, and waits for them all.
func (c *surveyCycle) improve(ctx workflow.Context, imps []domain.ImprovementWithNote) error {
	if len(imps) == 0 {
		return nil
	}
	now := utcNow(ctx)
	specs := make([]TaskSpec, len(imps))
	for i, imp := range imps {
		specs[i] = TaskSpec{
			Step: domain.StepImprovement, Round: 1, Key: imp.Rating,
			Title:           fmt.Sprintf("Improve %s: cycle average %s", imp.Rating, imp.Average),
			CandidateGroups: []string{string(imp.Department)}, Actions: []string{ActionDone}, Form: improvementForm,
			Context: map[string]any{"cycle_id": c.id, "rating": imp.Rating, "average": imp.Average,
				"threshold": c.policy.ImprovementThreshold, "comments": imp.Comments, "comments_total": imp.CommentsTotal},
			WindowStart: now, DueAt: now.Add(c.policy.ImprovementDue),
		}
	}
	_, err := c.tasks.RunAll(ctx, specs, nil)
	return err
}

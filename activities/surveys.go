package activities

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/mail"
	"github.com/serviceflow/serviceflow/store"
)

// The survey cycle's side effects. A cycle works in batches, so that its history does
// not grow with the number of customers: each batch invites (or reminds) up to a
// thousand customers in a few round trips, and one delivery activity hands the queued
// e-mails to the provider at SurveyMailRate, heartbeating its progress.

// surveyPolicy is the policy in force.
func (a *Activities) surveyPolicy() domain.SurveyPolicy {
	if a.Config.SurveyPolicy != nil {
		return *a.Config.SurveyPolicy
	}
	return domain.DefaultSurveyPolicy()
}

// OpenSurveyCycle writes the cycle's row (inviting), once, and returns the survey
// policy in force, which the cycle then runs under (it is kept in its history).
func (a *Activities) OpenSurveyCycle(ctx context.Context, in domain.OpenSurveyCycleInput) (domain.SurveyPolicy, error) {
	if in.CycleID == "" || in.WorkflowID == "" || !domain.In(in.Audience, domain.SurveyAudiences) {
		return domain.SurveyPolicy{}, invalidInput("survey cycle needs an id, a workflow id and a known audience")
	}
	err := store.OpenSurveyCycle(ctx, a.Store.Pool, in)
	if errors.Is(err, store.ErrNotFound) {
		return domain.SurveyPolicy{}, invalidInput("survey programme " + in.ProgrammeID + " does not exist")
	}
	return a.surveyPolicy(), err
}

// InviteSurveyBatch invites the next batch of the cycle's audience: a survey link and
// its invitation e-mail (queued) for each customer not in their quiet period. A retried
// batch invites nobody twice (links and e-mails are keyed by cycle and customer).
func (a *Activities) InviteSurveyBatch(ctx context.Context, in domain.InviteSurveyBatchInput) (domain.InviteSurveyBatchResult, error) {
	if in.CycleID == "" || in.Limit < 1 || in.ExpiresAt.IsZero() {
		return domain.InviteSurveyBatchResult{}, invalidInput("survey batch needs a cycle, a limit and an expiry")
	}
	customers, err := store.SurveyAudienceBatch(ctx, a.Store.Pool, in)
	if err != nil {
		return domain.InviteSurveyBatchResult{}, err
	}
	res := domain.InviteSurveyBatchResult{Done: len(customers) < in.Limit}
	ids := make([]string, len(customers))
	for i, c := range customers {
		ids[i] = c.ID
	}
	if len(customers) > 0 {
		res.Last = customers[len(customers)-1].ID
	}
	claimed, err := store.ClaimSurveyInvitees(ctx, a.Store.Pool, in.CycleID, ids, in.At, in.Policy)
	if err != nil {
		return domain.InviteSurveyBatchResult{}, err
	}
	invite := map[string]bool{}
	for _, id := range claimed {
		invite[id] = true
	}
	var links []domain.CreateLinkInput
	for _, c := range customers {
		if !invite[c.ID] {
			res.Skipped++
			continue
		}
		links = append(links, domain.CreateLinkInput{
			Key: in.WorkflowID + "/invite/" + c.ID, Purpose: domain.PurposeSurvey, Process: domain.ProcessSurvey,
			ProcessID: in.CycleID, WorkflowID: in.WorkflowID, Round: 1, Customer: c,
			Context:  map[string]any{"cycle_id": in.CycleID},
			Template: domain.TmplSurveyInvitation, ExpiresAt: in.ExpiresAt, At: in.At,
			AnswerUpdate: domain.AnswerStored,
		})
	}
	if err := a.openLinks(ctx, links); err != nil {
		return domain.InviteSurveyBatchResult{}, err
	}
	res.Invited = len(links)
	return res, nil
}

// SetSurveyCycle records the cycle's status, count invited, close time and figures.
func (a *Activities) SetSurveyCycle(ctx context.Context, in domain.SetSurveyCycleInput) error {
	return store.SetSurveyCycle(ctx, a.Store.Pool, in)
}

// WorkflowStarter starts a workflow: a Temporal client does.
type WorkflowStarter interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

// DetractorVisits starts the return visits of a survey's detractors: the /c/{token}
// request for the answer it stored, and the cycle's catch-up for any it could not.
type DetractorVisits struct {
	Store     *store.Store
	Temporal  WorkflowStarter
	TaskQueue string
	Policy    domain.SurveyPolicy
	Complaint domain.ComplaintPolicy
}

// Start starts the return visit of the customer who answered survey link l, if the
// answer is a detractor's, and notes it. Whoever starts it, and however often, it is one
// workflow (its id derives from the cycle and the customer) and so one return_visit
// task: a start that finds it running or done starts nothing.
func (d DetractorVisits) Start(ctx context.Context, l store.CustomerLink) (started bool, err error) {
	a := domain.SurveyAnswerFrom(l.Answer)
	if l.Answer == nil || l.AnsweredAt == nil || !domain.IsDetractor(a) {
		return false, nil
	}
	cu, err := d.Store.CustomerByID(ctx, l.CustomerID)
	if err != nil {
		return false, fmt.Errorf("detractor %s: %w", l.CustomerID, err)
	}
	in := domain.DetractorVisit(l.ProcessID, domain.VisitCustomer{ID: cu.ID, Name: cu.Name, Email: cu.Email, Tier: cu.Tier,
		Locale: cu.Locale, Owner: cu.Owner}, a, *l.AnsweredAt, d.Policy, d.Complaint)
	id := domain.VisitWorkflowID(in.ID())
	_, err = d.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: d.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, domain.VisitWorkflowType, in)
	if _, done := errors.AsType[*serviceerror.WorkflowExecutionAlreadyStarted](err); err != nil && !done {
		return false, fmt.Errorf("start visit %s: %w", id, err)
	}
	return true, store.RecordSurveyVisit(ctx, d.Store.Pool, l, id)
}

// StartSurveyVisits is the cycle's catch-up: it starts the return visit of every
// detractor of the cycle whose visit is not noted as started.
func (a *Activities) StartSurveyVisits(ctx context.Context, in domain.StartSurveyVisitsInput) (domain.StartSurveyVisitsResult, error) {
	if a.Temporal == nil {
		return domain.StartSurveyVisitsResult{}, invalidInput("the worker has no Temporal client to start visits with")
	}
	links, err := store.UnvisitedAnswers(ctx, a.Store.Pool, in.CycleID)
	if err != nil {
		return domain.StartSurveyVisitsResult{}, err
	}
	d := DetractorVisits{Store: a.Store, Temporal: a.Temporal, TaskQueue: orDefault(a.Config.TaskQueue, domain.TaskQueue), Policy: in.Policy,
		Complaint: a.complaintPolicy()}
	var res domain.StartSurveyVisitsResult
	for _, l := range links {
		started, err := d.Start(ctx, l)
		switch {
		case err != nil: // the next catch-up tries again; one link does not hold up the cycle
			a.logger(ctx).Warn("start a detractor's visit", "link_id", l.ID, "err", err)
			res.Failed++
		case started:
			res.Started++
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, res)
		}
	}
	return res, nil
}

// complaintPolicy is the complaint policy in force, for the complaints visits open.
func (a *Activities) complaintPolicy() domain.ComplaintPolicy {
	if a.Config.ComplaintPolicy != nil {
		return *a.Config.ComplaintPolicy
	}
	return domain.DefaultComplaintPolicy()
}

// surveyMailRate is the provider rate of survey mail, e-mails a second.
func (a *Activities) surveyMailRate() float64 {
	if a.Config.SurveyMailRate > 0 {
		return a.Config.SurveyMailRate
	}
	return 50
}

// surveyLimiter is the provider rate of every survey delivery of this worker: the
// quarterly, monthly and daily cycles that start on the same morning share it.
func (a *Activities) surveyLimiter() *rate.Limiter {
	a.limiterOnce.Do(func() { a.limiter = rate.NewLimiter(rate.Limit(a.surveyMailRate()), 1) })
	return a.limiter
}

// DeliverSurveyMail hands every e-mail of the cycle still in the outbox to the provider,
// at most SurveyMailRate a second for the whole worker, each exactly once (the outbox's
// lease and idempotency key), heartbeating the count. A 429, 5xx or network error fails
// the activity with the provider's retry delay, and the retry takes up what is left; an
// e-mail another pass is sending is left to it; one that fails for good is counted and
// logged (a survey invitation that cannot reach a customer opens no task).
func (a *Activities) DeliverSurveyMail(ctx context.Context, in domain.DeliverSurveyMailInput) (domain.DeliverSurveyMailResult, error) {
	var res domain.DeliverSurveyMailResult
	limiter := a.surveyLimiter()
	after := ""
	for {
		keys, err := a.Store.UnsettledEmailsOf(ctx, in.CycleID, after, 500)
		if err != nil || len(keys) == 0 {
			return res, err
		}
		for _, key := range keys {
			after = key
			if err := limiter.Wait(ctx); err != nil {
				return res, err
			}
			r, err := a.Mail.Deliver(ctx, key)
			var appErr *temporal.ApplicationError
			switch {
			case errors.As(err, &appErr) && appErr.Type() == mail.ErrTypeSendInFlight:
				continue
			case isNonRetryable(err):
				a.logger(ctx).Warn("survey e-mail failed", "key", key, "err", err)
				res.Failed++
			case err != nil:
				return res, err
			case r.Status == store.EmailFailed:
				res.Failed++
			default:
				res.Sent++
			}
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, res)
			}
		}
	}
}

// RemindSurveyBatch queues reminder N to the next batch of the cycle's invitees who have
// not answered, once each.
func (a *Activities) RemindSurveyBatch(ctx context.Context, in domain.RemindSurveyBatchInput) (domain.RemindSurveyBatchResult, error) {
	if in.CycleID == "" || in.N < 1 || in.Limit < 1 {
		return domain.RemindSurveyBatchResult{}, invalidInput("survey reminder needs a cycle, a number and a limit")
	}
	links, err := store.OpenSurveyLinks(ctx, a.Store.Pool, in.CycleID, in.After, in.Limit, orNow(in.At))
	if err != nil {
		return domain.RemindSurveyBatchResult{}, err
	}
	res := domain.RemindSurveyBatchResult{Done: len(links) < in.Limit, Last: in.After}
	if len(links) > 0 {
		res.Last = links[len(links)-1].ID
	}
	res.Queued, err = a.remindLinks(ctx, links, in.N, domain.TmplSurveyReminder)
	return res, err
}

// CloseSurveyCycle expires the cycle's unanswered links, computes its figures from the
// answers, stores them with the status closed, and returns them with the improvements
// they call for, each with the comments behind it.
func (a *Activities) CloseSurveyCycle(ctx context.Context, in domain.CloseSurveyCycleInput) (domain.CloseSurveyCycleResult, error) {
	if _, err := store.ExpireSurveyLinks(ctx, a.Store.Pool, in.CycleID); err != nil {
		return domain.CloseSurveyCycleResult{}, err
	}
	if _, err := store.DropQueuedEmailsOf(ctx, a.Store.Pool, in.CycleID, "the survey closed before it was sent"); err != nil {
		return domain.CloseSurveyCycleResult{}, err
	}
	answers, err := a.Store.SurveyAnswers(ctx, in.CycleID)
	if err != nil {
		return domain.CloseSurveyCycleResult{}, err
	}
	invited, err := store.CountSurveyLinks(ctx, a.Store.Pool, in.CycleID)
	if err != nil {
		return domain.CloseSurveyCycleResult{}, err
	}
	results := domain.Tally(invited, answers)
	out := domain.CloseSurveyCycleResult{Results: results, Improvements: []domain.ImprovementWithNote{}}
	for _, imp := range domain.ImprovementsNeeded(results, in.Policy) {
		comments := domain.ImprovementComments(imp.Rating, answers, in.Policy)
		out.Improvements = append(out.Improvements, domain.ImprovementWithNote{Improvement: imp,
			Comments: comments[:min(len(comments), domain.MaxImprovementComments)], CommentsTotal: len(comments)})
	}
	err = store.SetSurveyCycle(ctx, a.Store.Pool, domain.SetSurveyCycleInput{CycleID: in.CycleID,
		Status: domain.CycleClosed, Invited: invited, Results: &results, At: orNow(in.At)})
	return out, err
}

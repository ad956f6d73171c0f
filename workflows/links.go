package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// LinksConfig identifies the process whose customer links a Links helper runs.
type LinksConfig struct {
	WorkflowID string
	Process    string
	ProcessID  string
	// Tasks marks the waiting points and delivers the queued e-mails; the Update of an
	// answer returns once the workflow waits again (read-your-writes, as complete-task).
	Tasks *Tasks
	// StatusFn returns the process status reported to the customer's request.
	StatusFn func() string
	// Purposes are the purposes of the links this process sends, with the check of each
	// answer; an answer to a link of another purpose is refused. Pass the process's
	// domain.Process.Links, which /c/{token} checks too, so both check alike.
	Purposes map[string]domain.LinkPurpose
}

// LinkSpec describes one customer link.
type LinkSpec struct {
	Purpose string // domain.Purpose*
	Round   int
	// Key is the step's key: the link and its invitation e-mail are keyed by the
	// workflow id + "/" + Key (default purpose/round), so a retry makes nothing new.
	Key      string
	Customer domain.LinkCustomer
	Context  map[string]any // what the page and the e-mails show
	// Template is the invitation e-mail, ReminderTemplate the reminders' (none if "").
	Template         string
	ReminderTemplate string
	// ExpiresIn is how long the link takes an answer; Reminders are offsets from its
	// creation (those not before the expiry are dropped).
	ExpiresIn time.Duration
	Reminders []time.Duration
}

// Links runs the customer links of one workflow run: create the link (its row and the
// invitation e-mail, queued in the outbox by one local activity), e-mail it, remind at
// the given offsets, then take the answer or expire. It owns the customer-link-answer
// Update: create it once per run with NewLinks.
//
// Exactly once: the validator accepts one answer per link, before its expiry and valid
// for its purpose; the handler takes it at once, so a concurrent second answer fails
// validation (ErrTypeLinkAnswered). The answer is stored (RecordLinkAnswer) and the
// Update returns after the process has acted on it and waits again.
type Links struct {
	cfg   LinksConfig
	links []*Link // every link of this run, in creation order
}

// Link is one customer link of the run.
type Link struct {
	owner      *Links
	spec       LinkSpec
	id         string
	key        string
	created    time.Time
	expiresAt  time.Time
	answer     *domain.LinkAnswer
	expired    bool
	waited     bool
	stopRemind workflow.CancelFunc
	remindDone bool
	// Email is how queuing the invitation went (status queued, or failed).
	Email domain.SendEmailResult
}

// LinkOutcome is how a link ended: answered, or expired without an answer.
type LinkOutcome struct {
	LinkID   string
	Answered bool
	Answer   map[string]any
	At       time.Time // when it was answered, or expired
}

// NewLinks registers the customer-link-answer Update handler and returns the helper.
func NewLinks(ctx workflow.Context, cfg LinksConfig) (*Links, error) {
	l := &Links{cfg: cfg}
	err := workflow.SetUpdateHandlerWithOptions(ctx, domain.UpdateLinkAnswer, l.take,
		workflow.UpdateHandlerOptions{Validator: l.validate})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Run opens a link and waits for its answer or its expiry.
func (l *Links) Run(ctx workflow.Context, spec LinkSpec) (LinkOutcome, error) {
	k, err := l.Open(ctx, spec)
	if err != nil {
		workflow.GetLogger(ctx).Warn("create customer link", "purpose", spec.Purpose, "error", err)
	}
	return k.Wait(ctx)
}

// Open creates the link and queues its invitation, delivered at the next waiting point,
// and starts its reminders. The link takes an answer from now on: the e-mail may reach
// the customer before the activity returns. An error means the link could not be made;
// the returned Link then only expires.
func (l *Links) Open(ctx workflow.Context, spec LinkSpec) (*Link, error) {
	if spec.Key == "" {
		spec.Key = spec.Purpose + "/" + strconv.Itoa(spec.Round)
	}
	now := utcNow(ctx)
	key := l.cfg.WorkflowID + "/" + spec.Key
	k := &Link{owner: l, spec: spec, id: domain.LinkID(key), key: key, created: now, expiresAt: now.Add(spec.ExpiresIn)}
	k.stopRemind, k.remindDone = func() {}, true
	l.links = append(l.links, k)

	var res domain.CreateLinkResult
	err := write(ctx, true, domain.ActCreateCustomerLink, domain.CreateLinkInput{
		Key: key, Purpose: spec.Purpose, Process: l.cfg.Process, ProcessID: l.cfg.ProcessID,
		WorkflowID: l.cfg.WorkflowID, Round: spec.Round, Customer: spec.Customer, Context: spec.Context,
		Template: spec.Template, ExpiresAt: k.expiresAt, At: now,
	}, &res)
	k.Email = res.Email
	// An invitation that cannot be e-mailed asks for the customer to be reached another
	// way, as any customer e-mail does (TasksConfig.ContactCustomer).
	failed := func(ctx workflow.Context, reason string) {
		if ctx.Err() == nil {
			l.cfg.Tasks.contactCustomer(ctx, MailFailure{Key: spec.Key, Template: spec.Template, Reason: reason})
		}
	}
	switch {
	case err != nil:
		k.Email.Status, k.Email.Error = emailFailed, err.Error()
		failed(ctx, err.Error())
		return k, err
	case res.Email.Status == emailFailed: // the template did not render
		failed(ctx, res.Email.Error)
	default:
		l.cfg.Tasks.QueueMail(res.EmailKey, failed)
	}
	l.startReminders(ctx, k)
	return k, nil
}

// ID is the link's id (domain.LinkID of its key).
func (k *Link) ID() string { return k.id }

// ExpiresAt is when the link stops taking an answer.
func (k *Link) ExpiresAt() time.Time { return k.expiresAt }

// Wait blocks, as a waiting point, until the link is answered or expires, stops its
// reminders, and stores the outcome: the answer, or the link marked expired. After
// Tasks.Interrupt it stops waiting, marks the link expired and returns ErrInterrupted.
func (k *Link) Wait(ctx workflow.Context) (LinkOutcome, error) {
	h := k.tasks()
	// Tasks.Interrupt (a cancellation) closes the link early, as if it had expired.
	answered := func() bool { return k.answer != nil || h.interrupted }
	var ok bool
	var err error
	if d := k.expiresAt.Sub(utcNow(ctx)); d > 0 {
		ok, err = h.AwaitWithTimeout(ctx, d, answered)
	} else {
		ok = answered()
	}
	interrupted := err == nil && ok && k.answer == nil
	k.expired = err == nil && (!ok || interrupted)
	k.stopRemind()
	if err != nil {
		return LinkOutcome{LinkID: k.id}, err
	}
	k.waited = true
	if k.expired {
		// A reminder in flight goes out before the link is marked expired. An answer does
		// not wait for it: the customer's request waits for this run's next waiting point,
		// and a mail provider that hangs must not hold it up.
		if err := workflow.Await(ctx, func() bool { return k.remindDone }); err != nil {
			return LinkOutcome{LinkID: k.id}, err
		}
		at := utcNow(ctx)
		if err := write(ctx, true, domain.ActExpireCustomerLink, domain.ExpireLinkInput{LinkID: k.id, At: at}, nil); err != nil {
			workflow.GetLogger(ctx).Warn("expire customer link", "link_id", k.id, "error", err)
		}
		if interrupted {
			return LinkOutcome{LinkID: k.id, At: at}, ErrInterrupted
		}
		return LinkOutcome{LinkID: k.id, At: at}, nil
	}
	a := *k.answer
	err = write(ctx, true, domain.ActRecordLinkAnswer, domain.RecordLinkAnswerInput{LinkID: k.id, Answer: a.Answer, At: a.At}, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("record customer link answer", "link_id", k.id, "error", err)
	}
	return LinkOutcome{LinkID: k.id, Answered: true, Answer: a.Answer, At: a.At}, nil
}

// tasks is the helper that marks the run's waiting points.
func (k *Link) tasks() *Tasks { return k.owner.cfg.Tasks }

// startReminders sends the reminders in a coroutine until the link is answered or
// expires. The activity runs on a disconnected context, so that an answer never stops
// one half-way; Wait waits for it.
func (l *Links) startReminders(ctx workflow.Context, k *Link) {
	if k.spec.ReminderTemplate == "" || len(k.spec.Reminders) == 0 {
		return
	}
	rctx, cancel := workflow.WithCancel(ctx)
	k.stopRemind, k.remindDone = cancel, false
	workflow.Go(rctx, func(rctx workflow.Context) {
		defer func() { k.remindDone = true }()
		actx, _ := workflow.NewDisconnectedContext(rctx)
		for i, offset := range k.spec.Reminders {
			at := k.created.Add(offset)
			if !at.Before(k.expiresAt) {
				return
			}
			if d := at.Sub(utcNow(rctx)); d > 0 {
				if err := workflow.Sleep(rctx, d); err != nil {
					return
				}
			}
			if rctx.Err() != nil || k.answer != nil || k.expired {
				return
			}
			var res domain.LinkReminderResult
			err := execute(actx, domain.ActSendLinkReminder, domain.LinkReminderInput{
				LinkID: k.id, N: i + 1, Template: k.spec.ReminderTemplate, At: utcNow(rctx),
			}, &res)
			if err != nil {
				workflow.GetLogger(rctx).Warn("send link reminder", "link_id", k.id, "n", i+1, "error", err)
			}
		}
	})
}

// find returns the link with id, or nil.
func (l *Links) find(id string) *Link {
	for _, k := range l.links {
		if k.id == id {
			return k
		}
	}
	return nil
}

// check is the customer-link-answer validation, shared by the validator and the handler
// (the validator does not run on replay).
func (l *Links) check(ctx workflow.Context, a domain.LinkAnswer) (*Link, error) {
	k := l.find(a.LinkID)
	if k == nil || (a.Purpose != "" && a.Purpose != k.spec.Purpose) {
		return nil, temporal.NewApplicationError("no such customer link is awaited", domain.ErrTypeLinkUnknown)
	}
	if k.answer != nil {
		return nil, temporal.NewApplicationError("this link has been answered", domain.ErrTypeLinkAnswered)
	}
	if k.expired || k.waited || !utcNow(ctx).Before(k.expiresAt) {
		return nil, temporal.NewApplicationError("this link has expired", domain.ErrTypeLinkExpired)
	}
	validate := l.cfg.Purposes[k.spec.Purpose].Validate
	if validate == nil {
		return nil, temporal.NewApplicationError("this process takes no answer for "+k.spec.Purpose, domain.ErrTypeLinkUnknown)
	}
	if errs := validate(a.Answer); len(errs) > 0 {
		return nil, temporal.NewApplicationError("invalid answer", domain.ErrTypeInvalidData, errs)
	}
	return k, nil
}

func (l *Links) validate(ctx workflow.Context, a domain.LinkAnswer) error {
	_, err := l.check(ctx, a)
	return err
}

// take is the customer-link-answer Update handler. It takes the answer at once, so a
// concurrent second answer fails validation, then waits until the process has acted on
// it and waits again.
func (l *Links) take(ctx workflow.Context, a domain.LinkAnswer) (domain.LinkAnswerResult, error) {
	k, err := l.check(ctx, a)
	if err != nil {
		return domain.LinkAnswerResult{}, err
	}
	a.At, a.Purpose = utcNow(ctx), k.spec.Purpose
	k.answer = &a
	if err := l.cfg.Tasks.Settled(ctx); err != nil {
		return domain.LinkAnswerResult{}, err
	}
	status := ""
	if l.cfg.StatusFn != nil {
		status = l.cfg.StatusFn()
	}
	return domain.LinkAnswerResult{LinkID: k.id, ProcessStatus: status}, nil
}

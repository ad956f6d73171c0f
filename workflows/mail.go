package workflows

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/serviceflow/serviceflow/domain"
)

// The mail part of the platform, shared by every process: an e-mail is queued in the
// outbox (a local activity) in the step that causes it, and delivered in the background
// from the workflow's next waiting point on, together with the notices of the tasks
// opened since the last one (one DeliverEmails per waiting point). Neither the workflow
// nor a complete-task Update waits for the mail provider, and the workflow ends only once
// every delivery is done (Tasks.Finish). An e-mail that fails for good runs its
// on-failure callback: for an e-mail to the customer, that opens the process's "reach
// the customer another way" task (TasksConfig.ContactCustomer); a staff notice is logged.
//
// Runs from before versionLocalWrites send each e-mail in its step (SendEmail).

// emailFailed is the SendEmail result status of an e-mail that will never be sent.
const emailFailed = "failed"

// versionContactCustomer marks the change that opens a contact_customer task when an
// e-mail to the customer fails for good (histories from before it have none).
const versionContactCustomer = "contact-customer-on-mail-failure"

// MailFailure describes an e-mail to the customer that failed for good.
type MailFailure struct {
	Key      string // the step's e-mail key within the process, e.g. "ack" or "resolution/2"
	Template string
	Reason   string
}

// mailbox is the workflow-side state of the e-mails of one run that are queued in the
// outbox and not yet delivered.
type mailbox struct {
	queued     []queuedMail // queued, not yet handed to DeliverEmails
	notices    []string     // tasks whose notices are not yet handed to DeliverEmails
	delivering int          // DeliverEmails activities in flight
	contacts   int          // contact-customer tasks not yet finished
	ending     bool         // Finish was called: the contact-customer tasks may end
}

// queuedMail is an e-mail in the outbox that the workflow still has to deliver.
type queuedMail struct {
	key      string
	onFailed func(ctx workflow.Context, reason string) // nil: the failure is only logged
}

// QueueMail takes an e-mail queued in the outbox (by a local activity) for delivery at
// the next waiting point. onFailed, if not nil, runs when the e-mail fails for good;
// otherwise the failure is logged.
func (h *Tasks) QueueMail(key string, onFailed func(ctx workflow.Context, reason string)) {
	h.mail.queued = append(h.mail.queued, queuedMail{key: key, onFailed: onFailed})
}

// Delivered reports whether every queued e-mail and task notice has been delivered (or
// has failed).
func (h *Tasks) Delivered() bool {
	m := &h.mail
	return len(m.queued) == 0 && len(m.notices) == 0 && m.delivering == 0
}

// QueuesMail reports whether this run queues its e-mails in the outbox and delivers them
// at its waiting points (versionLocalWrites); runs from before send each in its step.
func (h *Tasks) QueuesMail() bool { return h.local }

// Write runs a short database write of the process (a projection, say) as this run's
// version wants it: a local activity, or a regular one in runs from before
// versionLocalWrites. It decodes the result into out (which may be nil).
func (h *Tasks) Write(ctx workflow.Context, name string, in any, out any) error {
	return write(ctx, h.local, name, in, out)
}

// QueueNotice queues a staff notice, one e-mail to each of in.Users and each member of
// in.Groups (idempotency key in.KeyPrefix + "/" + username), in the outbox now and has
// them delivered at the next waiting point. A notice that fails, to queue or to deliver,
// is logged: it does not stop the process.
func (h *Tasks) QueueNotice(ctx workflow.Context, in domain.NotifyInput) {
	var res domain.QueueNoticeResult
	if err := write(ctx, true, domain.ActQueueNotice, in, &res); err != nil {
		workflow.GetLogger(ctx).Warn("queue notice", "template", in.Template, "error", err)
		return
	}
	for _, key := range res.Keys {
		h.QueueMail(key, nil)
	}
}

// SendCustomerMail e-mails the customer for the step key (in.IdempotencyKey is the
// outbox key) and returns the audit detail about it. It queues the e-mail now and
// delivers it at the next waiting point; runs from before versionLocalWrites send it at
// once. An e-mail that fails for good opens the contact-customer task
// (TasksConfig.ContactCustomer); it does not stop the process.
func (h *Tasks) SendCustomerMail(ctx workflow.Context, key string, in domain.SendEmailInput) map[string]any {
	if h.local {
		var res domain.SendEmailResult
		err := write(ctx, true, domain.ActQueueEmail, in, &res)
		detail := map[string]any{}
		h.QueuedCustomerMail(ctx, detail, key, in.Template, in.IdempotencyKey, res, err)
		return detail
	}
	var res domain.SendEmailResult
	err := execute(ctx, domain.ActSendEmail, in, &res)
	detail := map[string]any{"template": in.Template, "email_id": res.EmailID, "email_status": res.Status}
	reason := res.Error
	if err != nil {
		workflow.GetLogger(ctx).Warn("send e-mail", "template", in.Template, "error", err)
		reason = err.Error()
		detail["email_status"], detail["error"] = emailFailed, reason
	}
	if detail["email_status"] == emailFailed && ctx.Err() == nil {
		h.contactCustomer(ctx, MailFailure{Key: key, Template: in.Template, Reason: reason})
	}
	return detail
}

// QueuedCustomerMail has an e-mail to the customer that an activity queued in the outbox
// (under emailKey, for the step key) delivered from the next waiting point on. queued
// and err are what queuing it returned; their audit detail is added to detail. An
// e-mail that fails for good, when queued or when delivered, opens the contact-customer
// task.
func (h *Tasks) QueuedCustomerMail(ctx workflow.Context, detail map[string]any, key, template, emailKey string, queued domain.SendEmailResult, err error) {
	detail["template"], detail["email_id"], detail["email_status"] = template, queued.EmailID, queued.Status
	failed := func(ctx workflow.Context, reason string) {
		if ctx.Err() == nil {
			h.contactCustomer(ctx, MailFailure{Key: key, Template: template, Reason: reason})
		}
	}
	switch {
	case err != nil:
		workflow.GetLogger(ctx).Warn("queue e-mail", "template", template, "error", err)
		detail["email_status"], detail["error"] = emailFailed, err.Error()
		failed(ctx, err.Error())
	case queued.Status == emailFailed: // the template did not render
		detail["error"] = queued.Error
		failed(ctx, queued.Error)
	default:
		h.QueueMail(emailKey, failed)
	}
}

// DeliverQueued hands the e-mails queued so far to DeliverEmails now, in the
// background. The main flow's waiting points do it by themselves; a coroutine that
// queues mail while the main flow waits (a deadline's reminder, an Update handler) calls
// it, or its mail would wait for the main flow's next waiting point.
func (h *Tasks) DeliverQueued(ctx workflow.Context) { h.deliver(ctx) }

// contactCustomer opens the process's contact-customer task beside the main flow, which
// goes on: someone reaches the customer another way and notes how. Finish waits for the
// task. Without TasksConfig.ContactCustomer the failure is only logged.
func (h *Tasks) contactCustomer(ctx workflow.Context, f MailFailure) {
	if h.cfg.ContactCustomer == nil {
		workflow.GetLogger(ctx).Warn("e-mail to the customer failed", "template", f.Template, "reason", f.Reason)
		return
	}
	if workflow.GetVersion(ctx, versionContactCustomer, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	spec := h.cfg.ContactCustomer(ctx, f)
	h.mail.contacts++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { h.mail.contacts-- }()
		if _, err := h.Run(ctx, spec); err != nil {
			workflow.GetLogger(ctx).Warn("contact customer task", "template", f.Template, "error", err)
			return
		}
		// Wait here until the main flow is done: this is a waiting point, so the
		// complete-task Update of this task returns while the main flow is blocked.
		_ = h.Await(ctx, func() bool { return h.mail.ending })
	})
}

// deliver sends the queued e-mails and the notices of the tasks opened since the last
// waiting point with one DeliverEmails activity in the background, so that neither the
// workflow nor a complete-task Update waits for the mail provider.
func (h *Tasks) deliver(ctx workflow.Context) {
	m := &h.mail
	if len(m.queued) == 0 && len(m.notices) == 0 {
		return
	}
	batch, in := m.queued, domain.DeliverEmailsInput{NotifyTasks: m.notices}
	m.queued, m.notices = nil, nil
	for _, q := range batch {
		in.Keys = append(in.Keys, q.key)
	}
	m.delivering++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { m.delivering-- }()
		var res domain.DeliverEmailsResult
		err := execute(ctx, domain.ActDeliverEmails, in, &res)
		if err != nil {
			if temporal.IsCanceledError(err) {
				return
			}
			workflow.GetLogger(ctx).Warn("deliver e-mails", "keys", in.Keys, "tasks", in.NotifyTasks, "error", err)
		}
		for i, q := range batch {
			var reason string
			switch {
			case err != nil:
				reason = err.Error()
			case i < len(res.Emails) && res.Emails[i].Status == emailFailed:
				reason = res.Emails[i].Error
			default:
				continue
			}
			switch {
			case q.onFailed == nil:
				if err == nil { // a failed activity is logged above
					workflow.GetLogger(ctx).Warn("e-mail failed", "key", q.key, "reason", reason)
				}
			case ctx.Err() == nil:
				q.onFailed(ctx, reason)
			}
		}
	})
}

// Package activities holds the side effects of the workflows: the read-model projections
// (tasks, escalations, complaints, audit events) and the e-mail. Every activity is
// idempotent under retry: rows are keyed by deterministic ids, audit events by
// deterministic keys and e-mails by idempotency keys.
package activities

import (
	"context"
	"errors"
	"golang.org/x/time/rate"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// Emailer sends one templated e-mail once per idempotency key (the mail outbox).
type Emailer interface {
	Send(ctx context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error)
	Queue(ctx context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error)
	Deliver(ctx context.Context, idempotencyKey string) (domain.SendEmailResult, error)
	// QueueMany queues many e-mails in one round trip, each once per key (bulk mail).
	QueueMany(ctx context.Context, ins []domain.SendEmailInput) error
}

// Config holds what the activities need besides their dependencies.
type Config struct {
	// PublicURL is the base of every link in an e-mail, e.g. http://127.0.0.1:8080.
	PublicURL string
	// LinkSecret is the key customer-link tokens are derived from (see links.go); the
	// same on every worker.
	LinkSecret []byte
	// SurveyPolicy is the survey process's policy (zero: domain.DefaultSurveyPolicy).
	SurveyPolicy *domain.SurveyPolicy
	// ComplaintPolicy is the complaint policy of the complaints a visit opens (zero:
	// domain.DefaultComplaintPolicy).
	ComplaintPolicy *domain.ComplaintPolicy
	// TaskQueue is the queue the workflows the activities start run on (a detractor's
	// visit); "" is domain.TaskQueue.
	TaskQueue string
	// SurveyMailRate is how many e-mails a second a survey cycle hands to the provider
	// (0: 50).
	SurveyMailRate float64
}

// Activities implements every activity. Each exported method is an activity, registered
// under its method name, which is its domain.Act* name (worker.RegisterActivities). The
// platform's activities live in files of their own (tasks.go, escalations.go, …), and
// each process's in its own file.
type Activities struct {
	Store  *store.Store
	Mail   Emailer
	Config Config
	Log    *slog.Logger
	// Temporal starts the workflows an activity starts (a survey detractor's visit).
	Temporal WorkflowStarter

	secretOnce  sync.Once
	secret      []byte // Config.LinkSecret, or one for this process (linkSecret)
	limiterOnce sync.Once
	limiter     *rate.Limiter // the survey mail rate (surveyLimiter)
}

// RecordAudit writes one audit event, once per key.
func (a *Activities) RecordAudit(ctx context.Context, in domain.AuditInput) error {
	if in.Key == "" || in.Event == "" {
		return invalidInput("audit event needs a key and an event")
	}
	if in.Actor == "" {
		in.Actor = "system"
	}
	in.At = orNow(in.At)
	return store.InsertAudit(ctx, a.Store.Pool, in)
}

// SendEmail hands one e-mail to the outbox, which sends it once per idempotency key.
func (a *Activities) SendEmail(ctx context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
	if in.IdempotencyKey == "" {
		return domain.SendEmailResult{}, invalidInput("e-mail needs an idempotency key")
	}
	res, err := a.Mail.Send(ctx, in)
	if isNonRetryable(err) {
		a.logger(ctx).Warn("e-mail failed", "key", in.IdempotencyKey, "template", in.Template, "err", err)
	}
	return res, err
}

// QueueEmail writes one e-mail to the outbox, once per idempotency key, without sending
// it: a short database write that a workflow runs in the step that causes the e-mail.
func (a *Activities) QueueEmail(ctx context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
	if in.IdempotencyKey == "" {
		return domain.SendEmailResult{}, invalidInput("e-mail needs an idempotency key")
	}
	return a.Mail.Queue(ctx, in)
}

// DeliverEmails sends queued e-mails, each exactly once per idempotency key (see
// SendEmail), and reports each: sent, or failed for good with the reason. It also sends
// the notices of the tasks in NotifyTasks. A 429, 5xx or network error fails the
// activity so that it is retried; what was sent before is not sent again.
func (a *Activities) DeliverEmails(ctx context.Context, in domain.DeliverEmailsInput) (domain.DeliverEmailsResult, error) {
	out := domain.DeliverEmailsResult{Emails: make([]domain.DeliveredEmail, 0, len(in.Keys))}
	for _, id := range in.NotifyTasks {
		if err := a.notifyDeferred(ctx, id); err != nil {
			return domain.DeliverEmailsResult{}, err
		}
	}
	for _, key := range in.Keys {
		res, err := a.Mail.Deliver(ctx, key)
		switch {
		case isNonRetryable(err):
			a.logger(ctx).Warn("e-mail failed", "key", key, "err", err)
			res = domain.SendEmailResult{Status: store.EmailFailed, Error: err.Error()}
		case err != nil:
			return domain.DeliverEmailsResult{}, err
		}
		out.Emails = append(out.Emails, domain.DeliveredEmail{Key: key, SendEmailResult: res})
	}
	return out, nil
}

// logger returns the activities' logger, with the workflow id, run id, activity name and
// attempt when ctx is an activity's context, so that every line can be traced to the
// process it served.
func (a *Activities) logger(ctx context.Context) *slog.Logger {
	log := a.Log
	if log == nil {
		log = slog.Default()
	}
	if !activity.IsActivity(ctx) {
		return log
	}
	info := activity.GetInfo(ctx)
	return log.With("workflow_id", info.WorkflowExecution.ID, "run_id", info.WorkflowExecution.RunID,
		"activity", info.ActivityType.Name, "attempt", info.Attempt)
}

// TaskPage and EscalationPage are the paths, under SERVICEFLOW_PUBLIC_URL, of the pages
// a member of staff opens from an e-mail: never /api/v1/…, which a browser cannot open
// without a bearer token.
func TaskPage(id string) string { return "/tasks/" + id }

// EscalationPage: see TaskPage.
func EscalationPage(id string) string { return "/escalations/" + id }

// link joins the public base URL and a path.
func (a *Activities) link(path string) string {
	return strings.TrimRight(a.Config.PublicURL, "/") + path
}

// notifyUsers e-mails template to each user, one outbox entry per user keyed by
// keyPrefix + username, in the user's locale. data is shared; recipient_name is added
// per user. An unknown user or an e-mail the provider refused for good is logged and
// skipped: an internal notice must not stop the process. Any other error is returned so
// that the activity is retried (the keys make the retry send nothing twice).
func (a *Activities) notifyUsers(ctx context.Context, usernames []string, keyPrefix string, base domain.SendEmailInput, data map[string]any) error {
	_, err := a.mailUsers(ctx, a.Mail.Send, usernames, keyPrefix, base, data)
	return err
}

// mailUsers hands template to send (the outbox's Send, or Queue) for each user, as
// notifyUsers describes, and returns the users whose e-mail it handed over.
func (a *Activities) mailUsers(ctx context.Context, send func(context.Context, domain.SendEmailInput) (domain.SendEmailResult, error),
	usernames []string, keyPrefix string, base domain.SendEmailInput, data map[string]any) ([]string, error) {
	var done []string
	log := a.logger(ctx)
	for _, username := range usernames {
		u, err := store.LookupUser(ctx, a.Store.Pool, username)
		if errors.Is(err, store.ErrNotFound) {
			log.Warn("no such user to notify", "username", username, "template", base.Template)
			continue
		}
		if err != nil {
			return nil, err
		}
		in := base
		in.IdempotencyKey = keyPrefix + username
		in.To = domain.EmailRecipient{Email: u.Email, Name: u.DisplayName}
		in.Locale = orDefault(u.Locale, "en")
		in.Data = maps.Clone(data)
		in.Data["recipient_name"] = u.DisplayName
		if _, err := send(ctx, in); err != nil {
			if !isNonRetryable(err) {
				return nil, err
			}
			log.Error("e-mail refused", "key", in.IdempotencyKey, "template", in.Template, "err", err)
			continue
		}
		done = append(done, username)
	}
	return done, nil
}

// isNonRetryable reports whether err is an application error marked non-retryable.
func isNonRetryable(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}

// invalidInput is a non-retryable error: retrying a malformed input cannot help.
func invalidInput(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, "InvalidInput", nil)
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// formatTime renders a time for e-mail template data (RFC 3339, UTC).
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// Application error types of the SendEmail activity. Both are retryable.
const (
	ErrTypeSendRetryable = "EmailSendRetryable" // 429, 5xx or network error from the provider
	ErrTypeSendInFlight  = "EmailSendInFlight"  // another attempt holds the row's lease
)

// DefaultLease is how long an attempt in flight keeps others from sending the same row.
const DefaultLease = 30 * time.Second

// Outbox sends templated e-mails exactly once per idempotency key, keeping every message
// in the emails table.
//
// How duplicates are prevented: the row is inserted once per key (ON CONFLICT DO
// NOTHING); a settled row (sent, delivered, bounced, failed) is returned without calling
// the provider; and an attempt must first claim the row with a lease (status 'sending',
// claimed_until), so concurrent or retried attempts wait while one is in flight.
//
// The one remaining double-send window: the provider accepted the message (202) but the
// 'sent' update never landed — the worker crashed or lost the database between the two,
// or the response itself was lost on the way back (a timeout after SendGrid accepted),
// which looks like a network error. The row then stays 'sending' (or goes back to
// 'queued'), and a retry resends once the lease has expired. SendGrid's v3 API has no
// idempotency key of its own to close this gap; the custom arg idempotency_key lets the
// duplicate be traced in its event data. The window is one HTTP round trip plus one
// UPDATE, and the Lease must stay longer than the sender's timeout.
type Outbox struct {
	Store  *store.Store
	Sender Sender
	From   domain.EmailRecipient
	Lease  time.Duration // how long an attempt in flight blocks another (default 30s)
	Log    *slog.Logger
}

// Send is the body of the SendEmail activity: exactly-once per in.IdempotencyKey. It is
// Queue and Deliver in one call.
//
// It returns the row's state (nil error) when the message was sent now or before, or
// failed for good (a 4xx other than 408/429, or a template that does not render): the
// process goes on and the workflow decides. A 429, 5xx or network error puts the row
// back in the queue and returns a retryable error, with the provider's rate-limit reset
// as the next retry delay.
func (o *Outbox) Send(ctx context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
	e, err := o.queue(ctx, in)
	if err != nil {
		return domain.SendEmailResult{}, err
	}
	return o.deliver(ctx, in, e)
}

// Queue renders the message and writes its outbox row, once per in.IdempotencyKey,
// without calling the provider: the body of the QueueEmail activity, which a workflow
// runs in the step that causes the e-mail. Deliver sends it. It returns the row's state:
// queued, or failed when the template does not render, or whatever an earlier call left.
func (o *Outbox) Queue(ctx context.Context, in domain.SendEmailInput) (domain.SendEmailResult, error) {
	e, err := o.queue(ctx, in)
	if err != nil {
		return domain.SendEmailResult{}, err
	}
	return result(e), nil
}

// Deliver sends the queued e-mail with this idempotency key, with the guarantees and
// the results of Send: the body of the DeliverEmails activity, for each of its keys.
func (o *Outbox) Deliver(ctx context.Context, key string) (domain.SendEmailResult, error) {
	e, err := o.Store.EmailByKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return domain.SendEmailResult{}, temporal.NewNonRetryableApplicationError(
			"deliver e-mail: nothing queued under key "+key, "InvalidEmail", nil)
	}
	if err != nil {
		return domain.SendEmailResult{}, err
	}
	in := domain.SendEmailInput{IdempotencyKey: e.IdempotencyKey, Template: e.Template,
		Process: e.Process, ProcessID: e.ProcessID, WorkflowID: e.WorkflowID}
	return o.deliver(ctx, in, e)
}

// queue validates in and enqueues it.
func (o *Outbox) queue(ctx context.Context, in domain.SendEmailInput) (store.Email, error) {
	if in.IdempotencyKey == "" || in.To.Email == "" {
		return store.Email{}, temporal.NewNonRetryableApplicationError(
			"send e-mail: idempotency key and recipient are required", "InvalidEmail", nil)
	}
	return o.enqueue(ctx, in)
}

// deliver claims the outbox row e and sends it, unless it is settled.
func (o *Outbox) deliver(ctx context.Context, in domain.SendEmailInput, e store.Email) (domain.SendEmailResult, error) {
	if e.Settled() {
		return result(e), nil
	}

	claimed, err := o.Store.ClaimEmail(ctx, e.ID, o.lease())
	if err != nil {
		return domain.SendEmailResult{}, fmt.Errorf("claim e-mail %s: %w", e.ID, err)
	}
	if !claimed {
		// Settled meanwhile, or another attempt is sending it right now.
		if e, err = o.Store.EmailByKey(ctx, in.IdempotencyKey); err != nil {
			return domain.SendEmailResult{}, err
		}
		if e.Settled() {
			return result(e), nil
		}
		wait := time.Second
		if e.ClaimedUntil != nil {
			wait = min(max(time.Until(*e.ClaimedUntil), time.Second), o.lease())
		}
		return domain.SendEmailResult{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("e-mail %s is being sent by another attempt", e.ID), ErrTypeSendInFlight,
			temporal.ApplicationErrorOptions{NextRetryDelay: wait})
	}

	providerID, sendErr := o.Sender.Send(ctx, Message{
		To:             domain.EmailRecipient{Email: e.To, Name: e.ToName},
		From:           o.From,
		Subject:        e.Subject,
		Text:           e.Text,
		HTML:           e.HTML,
		IdempotencyKey: e.IdempotencyKey,
	})

	// Record the outcome even when the activity's context is done: a sent message left
	// 'sending' would be sent again after the lease.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var se *SendError // set by the errors.As below for any *SendError, retryable or not
	switch {
	case sendErr == nil:
		// One round trip: the row, its audit event and the row as it now is.
		var sent store.Email
		err = o.Store.Pipeline(rctx, func(b *pgx.Batch) error {
			a := o.auditInput(in, e, "email_sent", map[string]any{"provider_message_id": providerID})
			return store.QueueMarkEmailSent(b, e, providerID, a, &sent)
		})
		if err != nil {
			// The provider has the message: this is the double-send window described above.
			o.log().Error("e-mail sent but not recorded", "email_id", e.ID, "provider_message_id", providerID, "err", err)
			return domain.SendEmailResult{}, fmt.Errorf("record e-mail %s as sent: %w", e.ID, err)
		}
		return result(sent), nil
	case errors.As(sendErr, &se) && !se.Retryable:
		err = o.Store.WithTx(rctx, func(tx pgx.Tx) error {
			changed, err := store.MarkEmailFailed(rctx, tx, e.ID, se.Error())
			if err != nil || !changed {
				return err
			}
			return o.audit(rctx, tx, in, e, "email_failed", map[string]any{"reason": se.Error()})
		})
		if err != nil {
			return domain.SendEmailResult{}, fmt.Errorf("record e-mail %s as failed: %w", e.ID, err)
		}
		o.log().Warn("e-mail rejected by provider", "email_id", e.ID, "to", e.To, "err", sendErr)
	default:
		if err := o.Store.ReleaseEmail(rctx, e.ID, sendErr.Error()); err != nil {
			o.log().Error("release e-mail", "email_id", e.ID, "err", err)
		}
		opts := temporal.ApplicationErrorOptions{Cause: sendErr}
		if se != nil {
			opts.NextRetryDelay = se.RetryAfter
		}
		return domain.SendEmailResult{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("e-mail %s not sent, will retry: %v", e.ID, sendErr), ErrTypeSendRetryable, opts)
	}
	if e, err = o.Store.EmailByKey(rctx, in.IdempotencyKey); err != nil {
		return domain.SendEmailResult{}, err
	}
	return result(e), nil
}

// QueueMany writes the outbox rows of many e-mails in one round trip, once per
// idempotency key, without calling the provider: for a process that mails by the
// thousand (a survey cycle's invitations), which delivers them later by key prefix. An
// e-mail that does not render is stored as failed, as Queue does.
func (o *Outbox) QueueMany(ctx context.Context, ins []domain.SendEmailInput) error {
	var rows []store.Email
	for _, in := range ins {
		if in.IdempotencyKey == "" || in.To.Email == "" {
			return temporal.NewNonRetryableApplicationError(
				"send e-mail: idempotency key and recipient are required", "InvalidEmail", nil)
		}
		row, renderErr := o.render(in)
		if renderErr != nil {
			if _, err := o.enqueue(ctx, in); err != nil {
				return err
			}
			continue
		}
		rows = append(rows, row)
	}
	if err := store.InsertEmails(ctx, o.Store, rows); err != nil {
		return fmt.Errorf("enqueue %d e-mails: %w", len(rows), err)
	}
	return nil
}

// render makes the outbox row of in: its message rendered, or the render error.
func (o *Outbox) render(in domain.SendEmailInput) (store.Email, error) {
	row := store.Email{
		ID:             domain.NewID("eml"),
		IdempotencyKey: in.IdempotencyKey,
		To:             in.To.Email,
		ToName:         in.To.Name,
		Locale:         Locale(in.Locale),
		Template:       in.Template,
		Process:        in.Process,
		ProcessID:      in.ProcessID,
		WorkflowID:     in.WorkflowID,
	}
	var err error
	row.Subject, row.Text, row.HTML, err = Render(in.Template, row.Locale, in.Data)
	return row, err
}

// enqueue renders the message and inserts its outbox row unless the key has one, then
// loads the row. A message that does not render is stored as failed, with its audit
// event, so the failure is visible rather than retried forever.
func (o *Outbox) enqueue(ctx context.Context, in domain.SendEmailInput) (store.Email, error) {
	row, renderErr := o.render(in)
	if renderErr == nil { // the usual case, in one round trip
		var e store.Email
		if err := o.Store.Pipeline(ctx, func(b *pgx.Batch) error { store.QueueInsertEmail(b, row, &e); return nil }); err != nil {
			return store.Email{}, fmt.Errorf("enqueue e-mail %s: %w", in.IdempotencyKey, err)
		}
		return e, nil
	}
	row.Status, row.Error = store.EmailFailed, renderErr.Error()
	err := o.Store.WithTx(ctx, func(tx pgx.Tx) error {
		inserted, err := store.InsertEmail(ctx, tx, row)
		if err != nil || !inserted {
			return err
		}
		o.log().Error("e-mail not rendered", "template", in.Template, "key", in.IdempotencyKey, "err", renderErr)
		return o.audit(ctx, tx, in, row, "email_failed", map[string]any{"reason": renderErr.Error()})
	})
	if err != nil {
		return store.Email{}, fmt.Errorf("enqueue e-mail %s: %w", in.IdempotencyKey, err)
	}
	return o.Store.EmailByKey(ctx, in.IdempotencyKey)
}

// audit writes the e-mail's audit event for its process, once per key and event.
func (o *Outbox) audit(ctx context.Context, q store.Querier, in domain.SendEmailInput, e store.Email, event string, extra map[string]any) error {
	a := o.auditInput(in, e, event, extra)
	if a.Key == "" {
		return nil
	}
	return store.InsertAudit(ctx, q, a)
}

// auditInput is the e-mail's audit event for its process; its Key is empty when the
// e-mail belongs to no process.
func (o *Outbox) auditInput(in domain.SendEmailInput, e store.Email, event string, extra map[string]any) domain.AuditInput {
	if in.ProcessID == "" {
		return domain.AuditInput{}
	}
	detail := map[string]any{"email_id": e.ID, "template": e.Template, "to": e.To}
	for k, v := range extra {
		detail[k] = v
	}
	return domain.AuditInput{
		Key:       "email/" + in.IdempotencyKey + "/" + strings.TrimPrefix(event, "email_"),
		Process:   in.Process,
		ProcessID: in.ProcessID,
		Actor:     "system",
		Event:     event,
		Detail:    detail,
		At:        time.Now(),
	}
}

func (o *Outbox) lease() time.Duration {
	if o.Lease > 0 {
		return o.Lease
	}
	return DefaultLease
}

func (o *Outbox) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

func result(e store.Email) domain.SendEmailResult {
	r := domain.SendEmailResult{EmailID: e.ID, Status: e.Status, ProviderMessageID: e.ProviderMessageID}
	if e.Status == store.EmailFailed {
		r.Error = e.Error
	}
	return r
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
)

// CursorEmails pages the outbox list: T created_at, ID.
var CursorEmails = cursorList("emails", true, false)

// E-mail outbox statuses.
const (
	EmailQueued    = "queued"
	EmailSending   = "sending"
	EmailSent      = "sent"
	EmailFailed    = "failed"
	EmailDelivered = "delivered"
	EmailBounced   = "bounced"
)

// Email is one row of the outbox.
type Email struct {
	ID                string     `json:"id"`
	IdempotencyKey    string     `json:"idempotency_key"`
	To                string     `json:"to"`
	ToName            string     `json:"to_name,omitempty"`
	Locale            string     `json:"locale"`
	Template          string     `json:"template"`
	Subject           string     `json:"subject"`
	Text              string     `json:"-"`
	HTML              string     `json:"-"`
	Status            string     `json:"status"`
	ProviderMessageID string     `json:"provider_message_id,omitempty"`
	Error             string     `json:"error,omitempty"`
	Attempts          int        `json:"attempts"`
	Process           string     `json:"process,omitempty"`
	ProcessID         string     `json:"process_id,omitempty"`
	WorkflowID        string     `json:"-"`
	CreatedAt         time.Time  `json:"created_at"`
	SentAt            *time.Time `json:"sent_at"`
	ClaimedUntil      *time.Time `json:"-"`
}

// Settled reports whether the e-mail has left the outbox for good (sent, delivered,
// bounced or failed): no attempt may call the provider for it again.
func (e Email) Settled() bool {
	switch e.Status {
	case EmailSent, EmailDelivered, EmailBounced, EmailFailed:
		return true
	}
	return false
}

const emailColumns = `id, idempotency_key, to_email, to_name, locale, template, subject, text_body,
	html_body, status, COALESCE(provider_message_id, ''), COALESCE(error, ''), attempts, process,
	process_id, workflow_id, created_at, sent_at, claimed_until`

func scanEmail(row pgx.Row) (Email, error) {
	var e Email
	err := row.Scan(&e.ID, &e.IdempotencyKey, &e.To, &e.ToName, &e.Locale, &e.Template,
		&e.Subject, &e.Text, &e.HTML, &e.Status, &e.ProviderMessageID, &e.Error, &e.Attempts,
		&e.Process, &e.ProcessID, &e.WorkflowID, &e.CreatedAt, &e.SentAt, &e.ClaimedUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return Email{}, ErrNotFound
	}
	if err != nil {
		return Email{}, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	if e.SentAt != nil {
		t := e.SentAt.UTC()
		e.SentAt = &t
	}
	return e, nil
}

// InsertEmail adds an outbox row unless one with the same idempotency key exists, and
// reports whether it inserted. Status may be empty (queued) or failed (a message that
// could not be rendered); Error then says why.
func InsertEmail(ctx context.Context, q Querier, e Email) (bool, error) {
	tag, err := q.Exec(ctx, insertEmailSQL, insertEmailArgs(e)...)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// QueueInsertEmail queues on b InsertEmail of e, then the read of the key's row into
// out: the row just inserted, or the one that was there.
func QueueInsertEmail(b *pgx.Batch, e Email, out *Email) {
	b.Queue(insertEmailSQL, insertEmailArgs(e)...)
	queueEmailRow(b, "idempotency_key", e.IdempotencyKey, out)
}

// InsertEmails inserts many outbox rows in one round trip, each unless its key has one.
func InsertEmails(ctx context.Context, s *Store, rows []Email) error {
	if len(rows) == 0 {
		return nil
	}
	return s.Pipeline(ctx, func(b *pgx.Batch) error {
		for _, e := range rows {
			b.Queue(insertEmailSQL, insertEmailArgs(e)...)
		}
		return nil
	})
}

// queueEmailRow queues on b the read of the outbox row whose column equals value into out.
func queueEmailRow(b *pgx.Batch, column string, value any, out *Email) {
	b.Queue(`SELECT `+emailColumns+` FROM emails WHERE `+column+` = $1`, value).QueryRow(func(row pgx.Row) error {
		var err error
		*out, err = scanEmail(row)
		return err
	})
}

const insertEmailSQL = `INSERT INTO emails (id, idempotency_key, to_email, to_name, locale,
		template, subject, text_body, html_body, status, error, process, process_id, workflow_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, ''), $12, $13, $14)
	ON CONFLICT (idempotency_key) DO NOTHING`

func insertEmailArgs(e Email) []any {
	if e.Status == "" {
		e.Status = EmailQueued
	}
	return []any{e.ID, e.IdempotencyKey, e.To, e.ToName, e.Locale, e.Template, e.Subject, e.Text, e.HTML,
		e.Status, e.Error, e.Process, e.ProcessID, e.WorkflowID}
}

// EmailByKey loads the outbox row of an idempotency key.
func (s *Store) EmailByKey(ctx context.Context, key string) (Email, error) {
	return scanEmail(s.Pool.QueryRow(ctx, `SELECT `+emailColumns+` FROM emails WHERE idempotency_key = $1`, key))
}

// UnsettledEmailKeys lists the keys starting with prefix of the e-mails that have not
// left the outbox: queued, or being sent by an attempt that may have died. It is for the
// rare clean-up of one task's notices, so a scan of the matching rows is fine.
func (s *Store) UnsettledEmailKeys(ctx context.Context, prefix string) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT idempotency_key FROM emails
		WHERE starts_with(idempotency_key, $1) AND status IN ('queued', 'sending')
		ORDER BY idempotency_key`, prefix)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// UnsettledEmailsOf lists, by key after after (at most limit), the keys of a process
// case's e-mails that have not left the outbox: what a bulk sender (a survey cycle's
// delivery) still has to deliver.
func (s *Store) UnsettledEmailsOf(ctx context.Context, processID, after string, limit int) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT idempotency_key FROM emails
		WHERE process_id = $1 AND status IN ('queued', 'sending') AND idempotency_key > $2
		ORDER BY idempotency_key LIMIT $3`, processID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// DropQueuedEmailsOf marks every e-mail of a process case that is still queued (not
// being sent) failed with reason: a survey's reminders the cycle closed before sending.
func DropQueuedEmailsOf(ctx context.Context, q Querier, processID, reason string) (int64, error) {
	tag, err := q.Exec(ctx, `UPDATE emails SET status = 'failed', error = $2, updated_at = now()
		WHERE process_id = $1 AND status = 'queued'`, processID, reason)
	return tag.RowsAffected(), err
}

// ClaimEmail takes the lease on a queued row, or on a row whose previous attempt's lease
// has run out, and counts the attempt. It reports false when the row is settled or
// another attempt holds a live lease.
func (s *Store) ClaimEmail(ctx context.Context, id string, lease time.Duration) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE emails
		SET status = 'sending', claimed_until = now() + $2::interval, attempts = attempts + 1, updated_at = now()
		WHERE id = $1 AND (status = 'queued' OR (status = 'sending' AND claimed_until < now()))`,
		id, lease)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// MarkEmailSent records the provider's acceptance. It does not touch a row that is
// already settled (a delivery event may have overtaken it) and reports whether it
// changed the row.
func MarkEmailSent(ctx context.Context, q Querier, id, providerMessageID string) (bool, error) {
	tag, err := q.Exec(ctx, markEmailSentSQL, id, providerMessageID)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// QueueMarkEmailSent queues MarkEmailSent on b, then its audit event (when a.Key is set),
// written only if the row now carries this send's provider message id, then the read of
// the row into out.
func QueueMarkEmailSent(b *pgx.Batch, e Email, providerMessageID string, a domain.AuditInput, out *Email) error {
	b.Queue(markEmailSentSQL, e.ID, providerMessageID)
	if a.Key != "" {
		err := QueueInsertAudit(b, a, `EXISTS (SELECT 1 FROM emails
			WHERE id = $8 AND status = 'sent' AND provider_message_id IS NOT DISTINCT FROM NULLIF($9::text, ''))`,
			e.ID, providerMessageID)
		if err != nil {
			return err
		}
	}
	queueEmailRow(b, "id", e.ID, out)
	return nil
}

const markEmailSentSQL = `UPDATE emails
	SET status = 'sent', provider_message_id = NULLIF($2, ''), sent_at = now(), error = NULL,
		claimed_until = NULL, updated_at = now()
	WHERE id = $1 AND status IN ('queued', 'sending')`

// MarkEmailFailed records a permanent failure and its reason; it reports whether it
// changed the row.
func MarkEmailFailed(ctx context.Context, q Querier, id, reason string) (bool, error) {
	tag, err := q.Exec(ctx, `UPDATE emails
		SET status = 'failed', error = $2, claimed_until = NULL, updated_at = now()
		WHERE id = $1 AND status IN ('queued', 'sending')`, id, reason)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseEmail puts a row whose attempt failed transiently back in the queue, keeping the
// error text for the operator.
func (s *Store) ReleaseEmail(ctx context.Context, id, errText string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE emails
		SET status = 'queued', error = $2, claimed_until = NULL, updated_at = now()
		WHERE id = $1 AND status = 'sending'`, id, errText)
	return err
}

// MarkEmailDelivery applies a provider delivery event (delivered or bounced) to the row
// with that provider message id. SendGrid's event sg_message_id is the X-Message-Id
// followed by ".filter…"; both forms match. A bounce may follow a delivery, never the
// reverse. It reports whether a row changed.
func (s *Store) MarkEmailDelivery(ctx context.Context, providerMessageID, status, reason string) (bool, error) {
	_, changed, err := markDelivery(ctx, s.Pool, EmailEvent{ProviderMessageID: providerMessageID, Status: status, Reason: reason})
	return changed, err
}

// PruneEmailEvents forgets the provider events received before cutoff, batch rows at a
// time so that a long backlog never holds one huge delete, and returns how many it
// removed. The events are kept only to skip a repeated delivery of the same event, and
// SendGrid stops retrying an event 24 hours after it occurred.
func (s *Store) PruneEmailEvents(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	var total int64
	for {
		tag, err := s.Pool.Exec(ctx, `DELETE FROM email_events WHERE event_id IN (
			SELECT event_id FROM email_events WHERE received_at < $1 ORDER BY received_at LIMIT $2)`, cutoff, batch)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}

// EmailEvent is one delivery event from the provider (SendGrid's event webhook).
type EmailEvent struct {
	EventID           string // sg_event_id: each is applied once ("" skips that check)
	Type              string // the provider's name for it: delivered, bounce, dropped, …
	Status            string // what it makes of the row: EmailDelivered or EmailBounced
	IdempotencyKey    string // our custom arg, when the event carries it
	ProviderMessageID string // sg_message_id
	Reason            string
	At                time.Time
}

// RecordEmailEvent applies ev once per EventID, in one transaction: it remembers the
// event id, moves the outbox row the event names (by idempotency key, else by provider
// message id) to ev.Status, and for a bounce records an email_bounced audit event on
// the row's process. It reports whether the event was new; an event for a row that is
// unknown or already past that status changes nothing.
func (s *Store) RecordEmailEvent(ctx context.Context, ev EmailEvent) (bool, error) {
	fresh := true
	err := s.WithTx(ctx, func(tx pgx.Tx) error {
		if ev.EventID != "" {
			tag, err := tx.Exec(ctx, `INSERT INTO email_events (event_id, event, idempotency_key, provider_message_id)
				VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`,
				ev.EventID, ev.Type, ev.IdempotencyKey, ev.ProviderMessageID)
			if err != nil {
				return err
			}
			if fresh = tag.RowsAffected() == 1; !fresh {
				return nil
			}
		}
		e, changed, err := markDelivery(ctx, tx, ev)
		if err != nil || !changed || ev.Status != EmailBounced || e.ProcessID == "" {
			return err
		}
		at := ev.At
		if at.IsZero() {
			at = time.Now()
		}
		return InsertAudit(ctx, tx, domain.AuditInput{
			Key:     "email/" + e.IdempotencyKey + "/bounced",
			Process: e.Process, ProcessID: e.ProcessID, Actor: "system", Event: "email_bounced", At: at,
			Detail: map[string]any{
				"email_id": e.ID, "template": e.Template, "to": e.To,
				"provider_event": ev.Type, "reason": ev.Reason,
			},
		})
	})
	return fresh, err
}

// markDelivery moves the row ev names to ev.Status and returns it. Delivered applies to
// a row not yet settled or sent (the event may overtake the outbox's own update, or
// follow a send whose response was lost: the row then stops being retried); bounced
// also to a delivered row. A failed row, or a bounced one, stays as it is.
func markDelivery(ctx context.Context, q Querier, ev EmailEvent) (Email, bool, error) {
	var from []string
	switch ev.Status {
	case EmailDelivered:
		from = []string{EmailQueued, EmailSending, EmailSent}
	case EmailBounced:
		from = []string{EmailQueued, EmailSending, EmailSent, EmailDelivered}
	default:
		return Email{}, false, fmt.Errorf("unknown delivery status %q", ev.Status)
	}
	baseID := ev.ProviderMessageID
	if i := strings.Index(baseID, ".filter"); i > 0 {
		baseID = baseID[:i]
	}
	var match string
	var key any
	switch {
	case ev.IdempotencyKey != "":
		match, key = "idempotency_key = $5", ev.IdempotencyKey
	case baseID != "":
		match, key = "provider_message_id = ANY($5)", []string{baseID, ev.ProviderMessageID}
	default:
		return Email{}, false, nil
	}
	e, err := scanEmail(q.QueryRow(ctx, `UPDATE emails
		SET status = $1, error = COALESCE(NULLIF($2, ''), error),
			provider_message_id = COALESCE(provider_message_id, NULLIF($3, '')),
			sent_at = COALESCE(sent_at, now()), claimed_until = NULL, updated_at = now()
		WHERE status = ANY($4) AND `+match+`
		RETURNING `+emailColumns, ev.Status, ev.Reason, baseID, from, key))
	if errors.Is(err, ErrNotFound) {
		return Email{}, false, nil
	}
	return e, err == nil, err
}

// EmailFilter selects outbox rows for the API. Empty fields do not filter.
type EmailFilter struct {
	To        string
	ProcessID string
	Limit     int // default 50, at most 200
	Cursor    string
}

// ListEmails returns outbox rows newest first, with the cursor of the next page ("" on
// the last page).
func (s *Store) ListEmails(ctx context.Context, f EmailFilter) ([]Email, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	cur, ok, err := DecodeCursor(f.Cursor, CursorEmails)
	if err != nil {
		return nil, "", err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.To != "" {
		where = append(where, "to_email = "+arg(f.To))
	}
	if f.ProcessID != "" {
		where = append(where, "process_id = "+arg(f.ProcessID))
	}
	if ok {
		where = append(where, fmt.Sprintf("(created_at, id) < (%s, %s)", arg(cur.T), arg(cur.ID)))
	}
	sql := `SELECT ` + emailColumns + ` FROM emails`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY created_at DESC, id DESC LIMIT " + arg(limit+1)

	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	items := []Email{}
	for rows.Next() {
		e, err := scanEmail(rows)
		if err != nil {
			return nil, "", err
		}
		items = append(items, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = Cursor{K: CursorEmails, T: last.CreatedAt, ID: last.ID}.Encode()
	}
	return items, next, nil
}

package activities

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The customer links (ARCHITECTURE.md, workflows/links.go).
//
// How the token survives a retry: it is never drawn at random, but derived from the
// link's key with the link secret (domain.LinkToken, an HMAC). CreateCustomerLink stores
// only its hash and queues the invitation e-mail, whose URL carries the token, under
// the same key; a retry, whether its first attempt committed nothing, only the row or
// both, derives the same token, inserts nothing new and finds the same e-mail. Each
// reminder derives it again. Neither the token nor the URL is returned to the workflow,
// so the workflow history never holds it. The secret must be the same on every worker
// and must not change while links are open: a reminder whose token no longer matches
// the stored hash is not sent (the link itself keeps working).

// linkSecret returns the configured link secret, or one drawn at random for this
// process when none is configured (tests and a worker started without one, which warns
// once: its links get no reminders after a restart).
func (a *Activities) linkSecret() []byte {
	a.secretOnce.Do(func() {
		if len(a.Config.LinkSecret) > 0 {
			a.secret = a.Config.LinkSecret
			return
		}
		a.secret = make([]byte, 32)
		if _, err := rand.Read(a.secret); err != nil {
			panic(err)
		}
		a.logger(context.Background()).Warn("no link secret configured (SERVICEFLOW_LINK_SECRET): customer links made by this process get no reminders after it restarts")
	})
	return a.secret
}

// linkURL is the public URL of the link with key.
func (a *Activities) linkURL(key string) (url string, hash []byte) {
	token := domain.LinkToken(a.linkSecret(), key)
	return a.link("/c/" + token), domain.HashToken(token)
}

// CreateCustomerLink stores a customer link once per key and queues its invitation
// e-mail (in.Template) in the outbox under the same key; the workflow delivers it. A
// local activity.
func (a *Activities) CreateCustomerLink(ctx context.Context, in domain.CreateLinkInput) (domain.CreateLinkResult, error) {
	if in.Key == "" || in.Purpose == "" || in.WorkflowID == "" || in.Customer.Email == "" || in.ExpiresAt.IsZero() || in.Template == "" {
		return domain.CreateLinkResult{}, invalidInput("customer link needs a key, purpose, workflow id, recipient, expiry and template")
	}
	in.At = orNow(in.At)
	in.Customer.Locale = orDefault(in.Customer.Locale, "en")
	l, email, err := a.openLink(ctx, in, a.Mail.Queue)
	if err != nil {
		return domain.CreateLinkResult{}, err
	}
	return domain.CreateLinkResult{LinkID: l.ID, EmailKey: in.Key, Email: email}, nil
}

// openLink stores the customer link of in, once per key, and e-mails it with send. A
// link stored before under another token (another secret, or a feedback link carried
// over from before customer links) keeps the e-mail that went out then, the only one
// with a working token; when none went out, the link takes this token and is e-mailed.
func (a *Activities) openLink(ctx context.Context, in domain.CreateLinkInput, send func(context.Context, domain.SendEmailInput) (domain.SendEmailResult, error)) (store.CustomerLink, domain.SendEmailResult, error) {
	url, hash := a.linkURL(in.Key)
	l, created, err := store.CreateCustomerLink(ctx, a.Store.Pool, in, hash)
	if err != nil {
		return l, domain.SendEmailResult{}, err
	}
	if !created && !bytes.Equal(l.TokenHash, hash) {
		e, err := a.Store.EmailByKey(ctx, in.Key)
		switch {
		case err == nil:
			return l, domain.SendEmailResult{EmailID: e.ID, Status: e.Status, Error: e.Error}, nil
		case !errors.Is(err, store.ErrNotFound):
			return l, domain.SendEmailResult{}, err
		}
		if err := store.RetokenCustomerLink(ctx, a.Store.Pool, l.ID, hash); err != nil {
			return l, domain.SendEmailResult{}, fmt.Errorf("customer link %s: %w", l.ID, err)
		}
	}
	email, err := send(ctx, a.linkEmail(l, in.Key, in.Template, url, 0))
	return l, email, err
}

// openLinks stores many customer links and queues their invitations in the outbox, in
// a few round trips, for a process that invites by the thousand (a survey cycle): the
// process delivers them by its own pace (DeliverSurveyMail). A link stored before (a
// retried batch) keeps its row, and its e-mail, keyed the same, is not queued twice. A
// link stored under another secret is e-mailed only by its first e-mail (as openLink).
func (a *Activities) openLinks(ctx context.Context, ins []domain.CreateLinkInput) error {
	hashes := make([][]byte, len(ins))
	emails := make([]domain.SendEmailInput, len(ins))
	for i, in := range ins {
		var url string
		url, hashes[i] = a.linkURL(in.Key)
		in.Customer.Locale = orDefault(in.Customer.Locale, "en")
		emails[i] = a.linkEmail(linkOf(in), in.Key, in.Template, url, 0)
	}
	if err := store.CreateCustomerLinks(ctx, a.Store, ins, hashes); err != nil {
		return err
	}
	return a.Mail.QueueMany(ctx, emails)
}

// remindLinks queues reminder n of each of links (open ones, of one process), keyed by
// the link's key + "/reminder/n" as SendLinkReminder's, in a few round trips. A link
// made with another secret gets none. It returns how many it queued.
func (a *Activities) remindLinks(ctx context.Context, links []store.CustomerLink, n int, template string) (int, error) {
	var emails []domain.SendEmailInput
	for _, l := range links {
		url, hash := a.linkURL(l.Key)
		if !bytes.Equal(hash, l.TokenHash) {
			continue
		}
		emails = append(emails, a.linkEmail(l, l.Key+"/reminder/"+strconv.Itoa(n), template, url, n))
	}
	return len(emails), a.Mail.QueueMany(ctx, emails)
}

// linkOf is the link that in stores.
func linkOf(in domain.CreateLinkInput) store.CustomerLink {
	return store.CustomerLink{ID: domain.LinkID(in.Key), Key: in.Key, Purpose: in.Purpose, Process: in.Process,
		ProcessID: in.ProcessID, WorkflowID: in.WorkflowID, Round: in.Round, CustomerID: in.Customer.ID,
		CustomerEmail: in.Customer.Email, CustomerName: in.Customer.Name, Locale: in.Customer.Locale,
		Context: in.Context, ExpiresAt: in.ExpiresAt, CreatedAt: in.At}
}

// linkEmail is the e-mail of link l with url: the invitation (n = 0) or reminder n.
func (a *Activities) linkEmail(l store.CustomerLink, key, template, url string, n int) domain.SendEmailInput {
	data := maps.Clone(l.Context)
	if data == nil {
		data = map[string]any{}
	}
	data["customer_name"] = l.CustomerName
	data["link_url"] = url
	data["expires_at"] = formatTime(l.ExpiresAt)
	if n > 0 {
		data["reminder"] = n
	}
	return domain.SendEmailInput{
		IdempotencyKey: key, To: domain.EmailRecipient{Email: l.CustomerEmail, Name: l.CustomerName},
		Locale: orDefault(l.Locale, "en"), Template: template, Data: data,
		Process: l.Process, ProcessID: l.ProcessID, WorkflowID: l.WorkflowID,
	}
}

// SendLinkReminder e-mails reminder N of a link that is still open, once (the key is
// the link's key + "/reminder/N"). It sends nothing for a link answered or expired
// meanwhile, or one made with another link secret.
func (a *Activities) SendLinkReminder(ctx context.Context, in domain.LinkReminderInput) (domain.LinkReminderResult, error) {
	if in.LinkID == "" || in.N < 1 || in.Template == "" {
		return domain.LinkReminderResult{}, invalidInput("link reminder needs a link id, a number and a template")
	}
	l, err := store.CustomerLinkByID(ctx, a.Store.Pool, in.LinkID)
	if errors.Is(err, store.ErrNotFound) {
		return domain.LinkReminderResult{}, invalidInput("no customer link " + in.LinkID)
	}
	if err != nil {
		return domain.LinkReminderResult{}, err
	}
	if st := l.StatusAt(orNow(in.At)); st != domain.LinkOpen {
		return domain.LinkReminderResult{Skipped: st}, nil
	}
	url, hash := a.linkURL(l.Key)
	if !bytes.Equal(hash, l.TokenHash) {
		a.logger(ctx).Warn("customer link made with another link secret: no reminder", "link_id", l.ID)
		return domain.LinkReminderResult{Skipped: "secret_changed"}, nil
	}
	key := l.Key + "/reminder/" + strconv.Itoa(in.N)
	res, err := a.Mail.Send(ctx, a.linkEmail(l, key, in.Template, url, in.N))
	if isNonRetryable(err) {
		a.logger(ctx).Warn("link reminder failed", "key", key, "err", err)
		return domain.LinkReminderResult{Email: domain.SendEmailResult{Status: store.EmailFailed, Error: err.Error()}}, nil
	}
	return domain.LinkReminderResult{Email: res}, err
}

// RecordLinkAnswer stores the answer the workflow accepted, once. A local activity: the
// customer-link-answer Update returns only after it.
func (a *Activities) RecordLinkAnswer(ctx context.Context, in domain.RecordLinkAnswerInput) error {
	err := store.RecordLinkAnswer(ctx, a.Store.Pool, in.LinkID, in.Answer, orNow(in.At))
	switch {
	case errors.Is(err, store.ErrConflict): // a retry after the first attempt committed
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return invalidInput(fmt.Sprintf("record answer of link %s: %v", in.LinkID, err))
	}
	return err
}

// ExpireCustomerLink marks an unanswered link expired, so its page says so.
func (a *Activities) ExpireCustomerLink(ctx context.Context, in domain.ExpireLinkInput) error {
	_, err := store.ExpireCustomerLink(ctx, a.Store.Pool, in.LinkID)
	return err
}

// linkExpiry is the expiry of links from before customer links: their runs decide when
// feedback is no longer awaited, and the row's expiry is a backstop beyond that.
const linkExpiry = 30 * 24 * time.Hour

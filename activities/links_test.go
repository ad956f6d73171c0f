package activities_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

func createLinkInput(key string) domain.CreateLinkInput {
	return domain.CreateLinkInput{
		Key: key, Purpose: domain.PurposeComplaintFeedback, Process: domain.ProcessComplaint,
		ProcessID: "cmp_1", WorkflowID: "complaint/cmp_1", Round: 1,
		Customer: domain.LinkCustomer{ID: "cus_1", Email: "buyer@acme.example", Name: "Acme", Locale: "en"},
		Context:  map[string]any{"complaint_id": "cmp_1", "subject": "Broken pump"},
		Template: domain.TmplFeedbackRequest, ExpiresAt: t0.Add(7 * 24 * time.Hour), At: t0,
	}
}

// A retried CreateCustomerLink makes one link and queues one e-mail whose URL is the
// link's token; the result (kept in the workflow history) carries no token.
func TestCreateCustomerLinkRetryMakesOneLink(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	in := createLinkInput("complaint/cmp_1/feedback/1")
	first, err := a.CreateCustomerLink(ctx, in)
	require.NoError(t, err)
	second, err := a.CreateCustomerLink(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, first, second)
	assert.Equal(t, domain.LinkID(in.Key), first.LinkID)
	assert.Equal(t, in.Key, first.EmailKey)
	assert.Equal(t, "queued", first.Email.Status)
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM customer_links`))

	sent := m.sent()
	require.Len(t, sent, 2)
	url := sent[0].Data["link_url"].(string)
	assert.Equal(t, url, sent[1].Data["link_url"], "a retry e-mails another link")
	token, ok := strings.CutPrefix(url, publicURL+"/c/")
	require.True(t, ok, url)
	assert.Len(t, token, 64)
	l, err := a.Store.CustomerLinkByToken(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, first.LinkID, l.ID)
	assert.Equal(t, "Broken pump", sent[0].Data["subject"])
	assert.Equal(t, "2025-03-08T09:00:00Z", sent[0].Data["expires_at"])

	// Another workflow's link gets another token.
	other, err := a.CreateCustomerLink(ctx, createLinkInput("complaint/cmp_2/feedback/1"))
	require.NoError(t, err)
	assert.NotEqual(t, first.LinkID, other.LinkID)
	assert.NotEqual(t, url, m.sent()[2].Data["link_url"])
}

// Reminders e-mail the same URL, once each, and none once the link is answered or
// expired.
func TestSendLinkReminder(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	in := createLinkInput("complaint/cmp_1/feedback/1")
	link, err := a.CreateCustomerLink(ctx, in)
	require.NoError(t, err)
	url := m.sent()[0].Data["link_url"]

	r := domain.LinkReminderInput{LinkID: link.LinkID, N: 1, Template: domain.TmplFeedbackReminder, At: t0.Add(72 * time.Hour)}
	res, err := a.SendLinkReminder(ctx, r)
	require.NoError(t, err)
	assert.Empty(t, res.Skipped)
	assert.Equal(t, "sent", res.Email.Status)
	rem := m.sent()[1]
	assert.Equal(t, in.Key+"/reminder/1", rem.IdempotencyKey)
	assert.Equal(t, domain.TmplFeedbackReminder, rem.Template)
	assert.Equal(t, url, rem.Data["link_url"])
	assert.Equal(t, 1, rem.Data["reminder"])

	// Past the expiry, or answered: nothing is sent.
	r.N, r.At = 2, in.ExpiresAt
	res, err = a.SendLinkReminder(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, domain.LinkExpired, res.Skipped)
	require.NoError(t, a.RecordLinkAnswer(ctx, domain.RecordLinkAnswerInput{LinkID: link.LinkID,
		Answer: map[string]any{"score": 5}, At: t0.Add(80 * time.Hour)}))
	require.NoError(t, a.RecordLinkAnswer(ctx, domain.RecordLinkAnswerInput{LinkID: link.LinkID,
		Answer: map[string]any{"score": 5}, At: t0.Add(80 * time.Hour)}), "a retried record fails")
	r.At = t0.Add(90 * time.Hour)
	res, err = a.SendLinkReminder(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, domain.LinkAnswered, res.Skipped)
	assert.Len(t, m.sent(), 2)

	// A worker with another secret sends no reminder with a dead link.
	b := &activities.Activities{Store: a.Store, Mail: m, Config: activities.Config{PublicURL: publicURL, LinkSecret: []byte("another secret, just as long as that")}}
	link2, err := a.CreateCustomerLink(ctx, createLinkInput("complaint/cmp_2/feedback/1"))
	require.NoError(t, err)
	res, err = b.SendLinkReminder(ctx, domain.LinkReminderInput{LinkID: link2.LinkID, N: 1, Template: domain.TmplFeedbackReminder, At: t0})
	require.NoError(t, err)
	assert.Equal(t, "secret_changed", res.Skipped)
	assert.Len(t, m.sent(), 3)
}

// ExpireCustomerLink marks an open link expired; an answer then is refused.
func TestExpireCustomerLink(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	link, err := a.CreateCustomerLink(ctx, createLinkInput("complaint/cmp_1/feedback/1"))
	require.NoError(t, err)
	require.NoError(t, a.ExpireCustomerLink(ctx, domain.ExpireLinkInput{LinkID: link.LinkID, At: t0.Add(time.Hour)}))
	l, err := store.CustomerLinkByID(ctx, a.Store.Pool, link.LinkID)
	require.NoError(t, err)
	assert.Equal(t, domain.LinkExpired, l.Status)
	err = a.RecordLinkAnswer(ctx, domain.RecordLinkAnswerInput{LinkID: link.LinkID, Answer: map[string]any{"score": 5}, At: t0.Add(2 * time.Hour)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "expired")
}

// A link stored under another token whose e-mail never went out (an attempt from before
// customer links, or under another secret, that failed before mailing) takes this
// attempt's token, so the customer is sent a link that works; the old token no longer
// opens it.
func TestLinkNeverMailedTakesTheNewToken(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	in := createLinkInput("complaint/cmp_1/feedback/1")
	_, _, err := store.CreateCustomerLink(ctx, a.Store.Pool, in, domain.HashToken("old-token"))
	require.NoError(t, err)

	res, err := a.CreateCustomerLink(ctx, in)
	require.NoError(t, err)
	sent := m.sent()
	require.Len(t, sent, 1)
	token, ok := strings.CutPrefix(sent[0].Data["link_url"].(string), publicURL+"/c/")
	require.True(t, ok)
	l, err := a.Store.CustomerLinkByToken(ctx, token)
	require.NoError(t, err, "the e-mailed token opens the link")
	assert.Equal(t, res.LinkID, l.ID)
	_, err = a.Store.CustomerLinkByToken(ctx, "old-token")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

func linkInput(key string, at time.Time) domain.CreateLinkInput {
	return domain.CreateLinkInput{
		Key: key, Purpose: domain.PurposeComplaintFeedback, Process: domain.ProcessComplaint,
		ProcessID: "cmp_1", WorkflowID: "complaint/cmp_1", Round: 1,
		Customer: domain.LinkCustomer{ID: "cus_1", Email: "buyer@acme.example", Name: "Acme", Locale: "zh-CN"},
		Context:  map[string]any{"subject": "Pump leaks"}, Template: domain.TmplFeedbackRequest,
		ExpiresAt: at.Add(7 * 24 * time.Hour), At: at,
	}
}

// A retried create keeps the first row (and its token hash); the token finds the link
// by its hash, and the token itself is stored nowhere.
func TestCreateCustomerLinkOncePerKey(t *testing.T) {
	s := storetest.New(t, "links")
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	in := linkInput("complaint/cmp_1/feedback/1", at)

	l, created, err := store.CreateCustomerLink(ctx, s.Pool, in, domain.HashToken("tok-a"))
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, domain.LinkID(in.Key), l.ID)
	assert.Equal(t, domain.LinkOpen, l.Status)
	assert.Equal(t, domain.UpdateLinkAnswer, l.AnswerUpdate)
	assert.Equal(t, at.Add(7*24*time.Hour), l.ExpiresAt)
	assert.Equal(t, "Pump leaks", l.Context["subject"])

	again, created, err := store.CreateCustomerLink(ctx, s.Pool, in, domain.HashToken("tok-b"))
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, domain.HashToken("tok-a"), again.TokenHash)

	got, err := s.CustomerLinkByToken(ctx, "tok-a")
	require.NoError(t, err)
	assert.Equal(t, l.ID, got.ID)
	assert.Equal(t, "zh-CN", got.Locale)
	_, err = s.CustomerLinkByToken(ctx, "tok-b")
	assert.ErrorIs(t, err, store.ErrNotFound)

	var stored int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM customer_links
		WHERE position(convert_to('tok-a', 'UTF8') in token_hash) > 0 OR key LIKE '%tok-a%'`).Scan(&stored))
	assert.Zero(t, stored, "the raw token is stored")
}

// An answer is recorded once: a second answer changes nothing.
func TestRecordLinkAnswerOnce(t *testing.T) {
	s := storetest.New(t, "links")
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	l, _, err := store.CreateCustomerLink(ctx, s.Pool, linkInput("k/once", at), domain.HashToken("once"))
	require.NoError(t, err)

	require.NoError(t, store.RecordLinkAnswer(ctx, s.Pool, l.ID, map[string]any{"score": 4, "comment": "ok"}, at.Add(time.Hour)))
	err = store.RecordLinkAnswer(ctx, s.Pool, l.ID, map[string]any{"score": 1}, at.Add(2*time.Hour))
	assert.ErrorIs(t, err, store.ErrConflict)

	got, err := store.CustomerLinkByID(ctx, s.Pool, l.ID)
	require.NoError(t, err)
	assert.Equal(t, domain.LinkAnswered, got.Status)
	assert.Equal(t, map[string]any{"score": float64(4), "comment": "ok"}, got.Answer)
	require.NotNil(t, got.AnsweredAt)
	assert.Equal(t, at.Add(time.Hour), *got.AnsweredAt)

	expired, err := store.ExpireCustomerLink(ctx, s.Pool, l.ID)
	require.NoError(t, err)
	assert.False(t, expired, "an answered link was expired")

	assert.ErrorIs(t, store.RecordLinkAnswer(ctx, s.Pool, "lnk_NOPE", map[string]any{}, at), store.ErrNotFound)
}

// Concurrent answers: exactly one is recorded.
func TestRecordLinkAnswerConcurrent(t *testing.T) {
	s := storetest.New(t, "links")
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	l, _, err := store.CreateCustomerLink(ctx, s.Pool, linkInput("k/race", at), domain.HashToken("race"))
	require.NoError(t, err)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			errs <- store.RecordLinkAnswer(ctx, s.Pool, l.ID, map[string]any{"score": i%5 + 1}, at.Add(time.Minute))
		}()
	}
	var ok, conflict int
	for range 8 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			conflict++
		default:
			t.Fatal(err)
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, 7, conflict)
}

// An answer at or after the expiry, or after the link was expired, is refused.
func TestRecordLinkAnswerAfterExpiry(t *testing.T) {
	s := storetest.New(t, "links")
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	in := linkInput("k/late", at)
	l, _, err := store.CreateCustomerLink(ctx, s.Pool, in, domain.HashToken("late"))
	require.NoError(t, err)

	assert.Equal(t, domain.LinkOpen, l.StatusAt(in.ExpiresAt.Add(-time.Second)))
	assert.Equal(t, domain.LinkExpired, l.StatusAt(in.ExpiresAt))
	assert.ErrorIs(t, store.RecordLinkAnswer(ctx, s.Pool, l.ID, map[string]any{"score": 5}, in.ExpiresAt), store.ErrExpired)

	l2, _, err := store.CreateCustomerLink(ctx, s.Pool, linkInput("k/expired", at), domain.HashToken("expired"))
	require.NoError(t, err)
	expired, err := store.ExpireCustomerLink(ctx, s.Pool, l2.ID)
	require.NoError(t, err)
	assert.True(t, expired)
	assert.ErrorIs(t, store.RecordLinkAnswer(ctx, s.Pool, l2.ID, map[string]any{"score": 5}, at.Add(time.Hour)), store.ErrExpired)
	got, err := store.CustomerLinkByID(ctx, s.Pool, l2.ID)
	require.NoError(t, err)
	assert.Equal(t, domain.LinkExpired, got.Status)
	assert.Nil(t, got.Answer)
	assert.Nil(t, got.AnsweredAt)
}

// The migration carries the feedback links of the release before over: same token,
// hashed; an answered one stays answered; a closed complaint's open one is expired.
// (Migrated to 00004, the release before customer links on this branch.)
func TestMigrationCarriesFeedbackRequestsOver(t *testing.T) {
	s := storetest.NewAt(t, "linksmig", 4)
	ctx := context.Background()
	_, err := s.Pool.Exec(ctx, `
INSERT INTO users (id, username, display_name, email, locale) VALUES ('usr_dave', 'dave', 'Dave', 'dave@example.com', 'en');
INSERT INTO customers (id, name, email, locale, tier, owner) VALUES ('cus_1', 'Acme', 'buyer@acme.example', 'zh-CN', 'B', 'dave');
INSERT INTO complaints (id, workflow_id, customer_id, channel, subject, description, status, severity, filed_by, received_at, response_due_at)
VALUES ('cmp_1', 'complaint/cmp_1', 'cus_1', 'web', 'Pump leaks', 'd', 'following_up', 'normal', 'dave', now(), now()),
       ('cmp_2', 'complaint/cmp_2', 'cus_1', 'web', 'Late', 'd', 'closed', 'normal', 'dave', now(), now());
INSERT INTO feedback_requests (token, complaint_id, workflow_id, round, created_at) VALUES
  ('tok-open', 'cmp_1', 'complaint/cmp_1', 2, '2025-03-01T09:00:00Z'),
  ('tok-closed', 'cmp_2', 'complaint/cmp_2', 1, '2025-03-01T09:00:00Z');
INSERT INTO feedback_requests (token, complaint_id, workflow_id, round, created_at, answered_at, score, comment) VALUES
  ('tok-answered', 'cmp_1', 'complaint/cmp_1', 1, '2025-02-01T09:00:00Z', '2025-02-02T09:00:00Z', 2, 'meh');`)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))

	l, err := s.CustomerLinkByToken(ctx, "tok-open")
	require.NoError(t, err)
	assert.Equal(t, domain.LinkID("complaint/cmp_1/feedback/2"), l.ID)
	assert.Equal(t, "complaint/cmp_1/feedback/2", l.Key)
	assert.Equal(t, domain.PurposeComplaintFeedback, l.Purpose)
	assert.Equal(t, domain.UpdateSubmitFeedback, l.AnswerUpdate)
	assert.Equal(t, "cmp_1", l.ProcessID)
	assert.Equal(t, "complaint/cmp_1", l.WorkflowID)
	assert.Equal(t, 2, l.Round)
	assert.Equal(t, "buyer@acme.example", l.CustomerEmail)
	assert.Equal(t, "zh-CN", l.Locale)
	assert.Equal(t, "Pump leaks", l.Context["subject"])
	assert.Equal(t, domain.LinkOpen, l.Status)
	assert.Equal(t, time.Date(2025, 3, 31, 9, 0, 0, 0, time.UTC), l.ExpiresAt)

	a, err := s.CustomerLinkByToken(ctx, "tok-answered")
	require.NoError(t, err)
	assert.Equal(t, domain.LinkAnswered, a.Status)
	assert.Equal(t, map[string]any{"score": float64(2), "comment": "meh"}, a.Answer)

	c, err := s.CustomerLinkByToken(ctx, "tok-closed")
	require.NoError(t, err)
	assert.Equal(t, domain.LinkExpired, c.Status)

	var n int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'feedback_requests'`).Scan(&n))
	assert.Zero(t, n, "feedback_requests is still there")
}

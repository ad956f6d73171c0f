package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

func complaintInput(id string) domain.ComplaintInput {
	return domain.ComplaintInput{
		ID: id, CustomerID: "cus_1", CustomerName: "Acme", CustomerEmail: "buyer@acme.example",
		CustomerTier: "A", Locale: "en", OwnerRep: "alice", Channel: "email", Subject: "Broken pump",
		Description: "It leaks", Severity: "normal", FiledBy: "carol",
		ReceivedAt: time.Date(2025, 3, 1, 17, 0, 0, 0, time.FixedZone("CST", 8*3600)),
		Policy:     domain.DefaultComplaintPolicy(),
	}
}

type complaintRow struct {
	Status, Severity         string
	Category, Assignee       *string
	ResponseDueAt, UpdatedAt time.Time
	RespondedAt, ClosedAt    *time.Time
	Resolution               *domain.Resolution
	EscalationLevel          int
}

func readComplaint(t *testing.T, s *store.Store, id string) complaintRow {
	t.Helper()
	var r complaintRow
	require.NoError(t, s.Pool.QueryRow(context.Background(), `SELECT status, severity, category, assignee,
		response_due_at, updated_at, responded_at, closed_at, resolution, escalation_level
		FROM complaints WHERE id = $1`, id).Scan(&r.Status, &r.Severity, &r.Category, &r.Assignee,
		&r.ResponseDueAt, &r.UpdatedAt, &r.RespondedAt, &r.ClosedAt, &r.Resolution, &r.EscalationLevel))
	return r
}

func ptr[T any](v T) *T { return &v }

func TestProjectComplaint(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	in := complaintInput("cmp_1")
	received := domain.ComplaintProjection{
		Input: &in, Status: domain.ComplaintReceived,
		Audit: domain.AuditInput{Key: "complaint/cmp_1/received", Process: "complaint", ProcessID: "cmp_1",
			Actor: "carol", Event: "complaint_received", At: in.ReceivedAt},
	}
	require.NoError(t, a.ProjectComplaint(ctx, received))
	require.NoError(t, a.ProjectComplaint(ctx, received)) // retry

	r := readComplaint(t, a.Store, "cmp_1")
	assert.Equal(t, "received", r.Status)
	assert.Equal(t, "normal", r.Severity)
	assert.Nil(t, r.Category)
	assert.Nil(t, r.Assignee)
	// Tier A: 12 h from receipt.
	assert.True(t, r.ResponseDueAt.Equal(time.Date(2025, 3, 1, 21, 0, 0, 0, time.UTC)), r.ResponseDueAt)
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM complaints WHERE workflow_id = 'complaint/cmp_1' AND filed_by = 'carol' AND order_id IS NULL`))
	assert.Equal(t, 1, auditCount(t, a.Store, "complaint_received"))

	evaluated := domain.ComplaintProjection{
		ComplaintID: "cmp_1", Status: domain.ComplaintResponding,
		Category: ptr("product"), Severity: ptr("urgent"), Assignee: ptr("carol"),
		ResponseDueAt: ptr(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)),
		Audit: domain.AuditInput{Key: "complaint/cmp_1/evaluated", Process: "complaint", ProcessID: "cmp_1",
			Actor: "carol", Event: "complaint_evaluated", At: time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)},
	}
	require.NoError(t, a.ProjectComplaint(ctx, evaluated))
	require.NoError(t, a.ProjectComplaint(ctx, evaluated))
	r = readComplaint(t, a.Store, "cmp_1")
	assert.Equal(t, "responding", r.Status)
	assert.Equal(t, "urgent", r.Severity)
	assert.Equal(t, "product", *r.Category)
	assert.Equal(t, "carol", *r.Assignee)
	assert.True(t, r.ResponseDueAt.Equal(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)))
	assert.True(t, r.UpdatedAt.Equal(evaluated.Audit.At), r.UpdatedAt)
	assert.Nil(t, r.RespondedAt)
	assert.Equal(t, 1, auditCount(t, a.Store, "complaint_evaluated"))

	// Later projections leave what they do not name untouched.
	resolved := domain.ComplaintProjection{
		ComplaintID: "cmp_1", Status: domain.ComplaintClosed,
		RespondedAt:     ptr(time.Date(2025, 3, 1, 9, 45, 0, 0, time.UTC)),
		Resolution:      &domain.Resolution{Type: "refund", Summary: "Refund", Amount: &domain.Money{Amount: "100.00", Currency: "CNY"}},
		EscalationLevel: ptr(1),
		ClosedAt:        ptr(time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC)),
		Audit: domain.AuditInput{Key: "complaint/cmp_1/closed", Process: "complaint", ProcessID: "cmp_1",
			Event: "complaint_closed", At: time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC)},
	}
	require.NoError(t, a.ProjectComplaint(ctx, resolved))
	r = readComplaint(t, a.Store, "cmp_1")
	assert.Equal(t, "closed", r.Status)
	assert.Equal(t, "urgent", r.Severity)
	assert.Equal(t, "carol", *r.Assignee)
	assert.Equal(t, resolved.Resolution, r.Resolution)
	assert.Equal(t, 1, r.EscalationLevel)
	assert.True(t, r.ClosedAt.Equal(*resolved.ClosedAt))
	assert.True(t, r.RespondedAt.Equal(*resolved.RespondedAt))
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM audit_events WHERE event = 'complaint_closed' AND actor = 'system'`))

	// Without a row to update, the projection fails (and is retried), and writes no audit
	// event about a complaint that is not there.
	err := a.ProjectComplaint(ctx, domain.ComplaintProjection{ComplaintID: "cmp_nope", Status: "closed",
		Audit: domain.AuditInput{Key: "complaint/cmp_nope/closed", Process: "complaint", ProcessID: "cmp_nope", Event: "complaint_closed", At: t0}})
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, 0, count(t, a.Store, `SELECT count(*) FROM audit_events WHERE process_id = 'cmp_nope'`))
}

func TestProjectComplaintAfterAPIInsert(t *testing.T) {
	a, _ := setup(t)
	ctx := context.Background()
	in := complaintInput("cmp_2")
	in.Category, in.OrderID = "delivery", "ord_9"
	due := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	require.NoError(t, store.InsertComplaint(ctx, a.Store.Pool, in, domain.ComplaintReceived, due))

	require.NoError(t, a.ProjectComplaint(ctx, domain.ComplaintProjection{
		Input: &in, ComplaintID: "cmp_2", Status: domain.ComplaintEvaluating,
		Audit: domain.AuditInput{Key: "complaint/cmp_2/evaluating", Process: "complaint", ProcessID: "cmp_2", Event: "status_changed", At: t0},
	}))
	r := readComplaint(t, a.Store, "cmp_2")
	assert.Equal(t, "evaluating", r.Status)
	assert.Equal(t, "delivery", *r.Category)
	assert.True(t, r.ResponseDueAt.Equal(due)) // the API's row is kept
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM complaints WHERE order_id = 'ord_9'`))
}

// A complaint run from before customer links still asks for feedback through
// RequestFeedback: its link is a customer link answered through submit-feedback, made
// once per round (a retry derives the same token and e-mails the same URL).
func TestRequestFeedbackRetryReusesLink(t *testing.T) {
	a, m := setup(t)
	ctx := context.Background()
	in := complaintInput("cmp_3")
	require.NoError(t, store.InsertComplaint(ctx, a.Store.Pool, in, domain.ComplaintFollowingUp, in.ReceivedAt))

	req := domain.FeedbackRequestInput{ComplaintID: "cmp_3", WorkflowID: "complaint/cmp_3", Round: 1,
		To: domain.EmailRecipient{Email: "buyer@acme.example", Name: "Acme"}, Locale: "zh-CN", Subject: "Broken pump", At: t0}
	first, err := a.RequestFeedback(ctx, req)
	require.NoError(t, err)
	second, err := a.RequestFeedback(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, first, second)

	token := domain.LinkToken([]byte(linkSecret), "complaint/cmp_3/feedback/1")
	assert.Equal(t, 1, count(t, a.Store, `SELECT count(*) FROM customer_links WHERE process_id = 'cmp_3'`))
	l, err := a.Store.CustomerLinkByToken(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, domain.UpdateSubmitFeedback, l.AnswerUpdate)
	assert.Equal(t, domain.PurposeComplaintFeedback, l.Purpose)
	assert.Equal(t, "zh-CN", l.Locale)
	assert.Equal(t, []string{"complaint/cmp_3/feedback/1", "complaint/cmp_3/feedback/1"}, m.keys())
	for _, e := range m.sent() {
		assert.Equal(t, domain.TmplFeedbackRequest, e.Template)
		assert.Equal(t, "zh-CN", e.Locale)
		assert.Equal(t, "buyer@acme.example", e.To.Email)
		assert.Equal(t, map[string]any{"customer_name": "Acme", "complaint_id": "cmp_3", "subject": "Broken pump",
			"link_url": "http://sf.test/c/" + token, "expires_at": "2025-03-31T09:00:00Z"}, e.Data)
	}

	// A new round (after a reopen) gets a new link.
	req.Round = 2
	third, err := a.RequestFeedback(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, "complaint/cmp_3/feedback/2", m.keys()[2])
	assert.NotEqual(t, m.sent()[0].Data["link_url"], m.sent()[2].Data["link_url"])
	assert.Equal(t, "sent", third.Email.Status)

	// QueueOnly leaves the delivery to the workflow, which gets the key to deliver.
	req.Round, req.QueueOnly = 3, true
	fourth, err := a.RequestFeedback(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, "complaint/cmp_3/feedback/3", fourth.EmailKey)
	assert.Equal(t, "queued", fourth.Email.Status)
	assert.Equal(t, "complaint/cmp_3/feedback/3", m.keys()[3])
}

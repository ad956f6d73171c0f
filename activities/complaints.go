package activities

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// ProjectComplaint writes the complaint read model and one audit event in a single
// transaction. With Input set it first inserts the row (unless the API already did); it
// then applies the status and every non-nil field.
func (a *Activities) ProjectComplaint(ctx context.Context, p domain.ComplaintProjection) error {
	if p.ComplaintID == "" && p.Input != nil {
		p.ComplaintID = p.Input.ID
	}
	if p.ComplaintID == "" {
		return invalidInput("projection needs a complaint id")
	}
	if p.Audit.Key != "" {
		if p.Audit.Actor == "" {
			p.Audit.Actor = "system"
		}
		p.Audit.At = orNow(p.Audit.At)
	}
	// One round trip: the statements run as one implicit transaction, and the audit
	// event is written only with the row it describes.
	return a.Store.Pipeline(ctx, func(b *pgx.Batch) error {
		if in := p.Input; in != nil {
			status := orDefault(p.Status, domain.ComplaintReceived)
			due := in.ReceivedAt.Add(in.Policy.ResponseWindow(in.Severity, in.CustomerTier))
			if p.ResponseDueAt != nil {
				due = *p.ResponseDueAt
			}
			store.QueueInsertComplaint(b, *in, status, due)
		}
		if err := store.QueueUpdateComplaint(b, p); err != nil {
			return err
		}
		if p.Audit.Key == "" {
			return nil
		}
		return store.QueueInsertAudit(b, p.Audit, "EXISTS (SELECT 1 FROM complaints WHERE id = $8)", p.ComplaintID)
	})
}

// RequestFeedback creates the personal feedback link of a follow-up round (once: a retry
// reuses the stored token) and e-mails it to the customer. It returns the link.
func (a *Activities) RequestFeedback(ctx context.Context, in domain.FeedbackRequestInput) (domain.FeedbackRequestResult, error) {
	if in.ComplaintID == "" || in.To.Email == "" {
		return domain.FeedbackRequestResult{}, invalidInput("feedback request needs a complaint id and a recipient")
	}
	if in.WorkflowID == "" {
		in.WorkflowID = domain.ComplaintWorkflowID(in.ComplaintID)
	}
	token, err := store.EnsureFeedbackRequest(ctx, a.Store.Pool, in.ComplaintID, in.WorkflowID, in.Round, domain.NewToken(), orNow(in.At))
	if err != nil {
		return domain.FeedbackRequestResult{}, err
	}
	url := a.link("/c/feedback/" + token)
	send := a.Mail.Send
	if in.QueueOnly {
		send = a.Mail.Queue
	}
	key := in.WorkflowID + "/feedback/" + strconv.Itoa(in.Round)
	email, err := send(ctx, domain.SendEmailInput{
		IdempotencyKey: key,
		To:             in.To,
		Locale:         orDefault(in.Locale, "en"),
		Template:       domain.TmplFeedbackRequest,
		Data: map[string]any{
			"customer_name": in.To.Name,
			"complaint_id":  in.ComplaintID,
			"subject":       in.Subject,
			"feedback_url":  url,
		},
		Process:    domain.ProcessComplaint,
		ProcessID:  in.ComplaintID,
		WorkflowID: in.WorkflowID,
	})
	if err != nil {
		return domain.FeedbackRequestResult{}, err
	}
	return domain.FeedbackRequestResult{URL: url, EmailKey: key, Email: email}, nil
}

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

// RequestFeedback is how complaint runs from before customer links (versionCustomerLinks)
// ask for feedback: it creates the round's customer link (once: a retry derives the same
// token) and e-mails it to the customer. The answer goes to those runs through
// submit-feedback. The result carries no URL: it would put the token in the history.
func (a *Activities) RequestFeedback(ctx context.Context, in domain.FeedbackRequestInput) (domain.FeedbackRequestResult, error) {
	if in.ComplaintID == "" || in.To.Email == "" {
		return domain.FeedbackRequestResult{}, invalidInput("feedback request needs a complaint id and a recipient")
	}
	if in.WorkflowID == "" {
		in.WorkflowID = domain.ComplaintWorkflowID(in.ComplaintID)
	}
	at := orNow(in.At)
	key := in.WorkflowID + "/feedback/" + strconv.Itoa(in.Round)
	link := domain.CreateLinkInput{
		Key: key, Purpose: domain.PurposeComplaintFeedback, Process: domain.ProcessComplaint,
		ProcessID: in.ComplaintID, WorkflowID: in.WorkflowID, Round: in.Round,
		Customer: domain.LinkCustomer{Email: in.To.Email, Name: in.To.Name, Locale: orDefault(in.Locale, "en")},
		Context:  map[string]any{"complaint_id": in.ComplaintID, "subject": in.Subject},
		Template: domain.TmplFeedbackRequest, ExpiresAt: at.Add(linkExpiry), At: at,
		AnswerUpdate: domain.UpdateSubmitFeedback,
	}
	send := a.Mail.Send
	if in.QueueOnly {
		send = a.Mail.Queue
	}
	_, email, err := a.openLink(ctx, link, send)
	if err != nil {
		return domain.FeedbackRequestResult{}, err
	}
	return domain.FeedbackRequestResult{EmailKey: key, Email: email}, nil
}

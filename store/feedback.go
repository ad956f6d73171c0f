package store

import (
	"context"
	"time"
)

// EnsureFeedbackRequest stores token as the feedback link of a complaint's follow-up
// round unless that round already has one, and returns the round's stored token: a
// retried activity gets the token of its first attempt, so it resends the same link.
func EnsureFeedbackRequest(ctx context.Context, q Querier, complaintID, workflowID string, round int, token string, at time.Time) (string, error) {
	_, err := q.Exec(ctx, `INSERT INTO feedback_requests (token, complaint_id, workflow_id, round, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (complaint_id, round) DO NOTHING`,
		token, complaintID, workflowID, round, at.UTC())
	if err != nil {
		return "", err
	}
	var stored string
	err = q.QueryRow(ctx, `SELECT token FROM feedback_requests WHERE complaint_id = $1 AND round = $2`,
		complaintID, round).Scan(&stored)
	return stored, err
}

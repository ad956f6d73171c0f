package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

func TestEnsureFeedbackRequestKeepsTheFirstToken(t *testing.T) {
	s := newWriteSideStore(t)
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	require.NoError(t, store.InsertComplaint(ctx, s.Pool, domain.ComplaintInput{ID: "cmp_1", CustomerID: "cus_1",
		Channel: "web", Subject: "s", Description: "d", Severity: "normal", FiledBy: "carol", ReceivedAt: at},
		domain.ComplaintFollowingUp, at))

	tok, err := store.EnsureFeedbackRequest(ctx, s.Pool, "cmp_1", "complaint/cmp_1", 1, "tok-a", at)
	require.NoError(t, err)
	assert.Equal(t, "tok-a", tok)
	tok, err = store.EnsureFeedbackRequest(ctx, s.Pool, "cmp_1", "complaint/cmp_1", 1, "tok-b", at)
	require.NoError(t, err)
	assert.Equal(t, "tok-a", tok)
	tok, err = store.EnsureFeedbackRequest(ctx, s.Pool, "cmp_1", "complaint/cmp_1", 2, "tok-c", at)
	require.NoError(t, err)
	assert.Equal(t, "tok-c", tok)
}

package store_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

const day = 24 * time.Hour

func itoa(i int) string { return strconv.Itoa(i) }

// The audiences: tier A, and new customers, whose first accepted delivery is 30 days
// old give or take a week (one accepted 60 days ago is no new customer, nor one whose
// first delivery was 20 days ago, nor one whose second delivery was 30 days ago).
func TestSurveyAudiences(t *testing.T) {
	s := storetest.New(t, "surveys")
	ctx := context.Background()
	at := time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC)
	_, err := s.Pool.Exec(ctx, `
INSERT INTO users (id, username, display_name, email) VALUES ('usr_a', 'alice', 'Alice', 'alice@example.com');
INSERT INTO customers (id, name, email, locale, tier, owner) VALUES
  ('cus_a1', 'A1', 'a1@example.com', 'en', 'A', 'alice'), ('cus_a2', 'A2', '', 'en', 'A', 'alice'),
  ('cus_b1', 'B1', 'b1@example.com', 'en', 'B', 'alice'), ('cus_new', 'New', 'new@example.com', 'en', 'C', 'alice'),
  ('cus_old', 'Old', 'old@example.com', 'en', 'C', 'alice'), ('cus_young', 'Young', 'y@example.com', 'en', 'C', 'alice'),
  ('cus_second', 'Second', 's@example.com', 'en', 'C', 'alice')`)
	require.NoError(t, err)
	accepted := map[string][]time.Duration{"cus_new": {-32 * day}, "cus_old": {-60 * day}, "cus_young": {-20 * day},
		"cus_second": {-90 * day, -30 * day}}
	n := 0
	for cus, ds := range accepted {
		for _, d := range ds {
			n++
			_, err := s.Pool.Exec(ctx, `INSERT INTO orders (id, workflow_id, customer_id, rep, status, total_amount, currency, state, entered_at)
				VALUES ($1, 'order/'||$1, $2, 'alice', 'paid', 1, 'CNY', jsonb_build_object('accepted_at', $3::timestamptz), now())`,
				"ord_"+string(rune('a'+n)), cus, at.Add(d))
			require.NoError(t, err)
		}
	}
	ids := func(audience string) []string {
		cs, err := store.SurveyAudienceBatch(ctx, s.Pool, domain.InviteSurveyBatchInput{CycleID: "svc_1", Audience: audience,
			Limit: 100, At: at, Policy: domain.DefaultSurveyPolicy()})
		require.NoError(t, err)
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	assert.Equal(t, []string{"cus_a1"}, ids(domain.AudienceTierA), "tier A with an e-mail address")
	assert.Equal(t, []string{"cus_new"}, ids(domain.AudienceNewCustomers))
	assert.Len(t, ids(domain.AudienceAllActive), 6)
}

// Two cycles claiming the same customers at once: each customer goes to one of them.
// A cycle that claims again (a retried batch) keeps its own.
func TestClaimSurveyInviteesOnce(t *testing.T) {
	s := storetest.New(t, "surveys")
	ctx := context.Background()
	_, err := s.Pool.Exec(ctx, `INSERT INTO users (id, username, display_name, email) VALUES ('usr_a', 'alice', 'Alice', 'alice@example.com');
		INSERT INTO customers (id, name, email, locale, tier, owner) SELECT 'cus_'||g, 'C', 'c@example.com', 'en', 'A', 'alice' FROM generate_series(1, 200) g`)
	require.NoError(t, err)
	var all []string
	for i := 1; i <= 200; i++ {
		all = append(all, "cus_"+itoa(i))
	}
	at := time.Date(2026, 4, 1, 1, 0, 0, 0, time.UTC)
	p := domain.DefaultSurveyPolicy()
	var wg sync.WaitGroup
	got := make([][]string, 2)
	for i, cycle := range []string{"svc_quarterly", "svc_monthly"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			got[i], err = store.ClaimSurveyInvitees(ctx, s.Pool, cycle, all, at.Add(time.Duration(i)*time.Millisecond), p)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	both := append(slices.Clone(got[0]), got[1]...)
	slices.Sort(both)
	assert.Equal(t, 200, len(both))
	assert.Len(t, slices.Compact(both), 200, "no customer claimed twice")
	again, err := store.ClaimSurveyInvitees(ctx, s.Pool, "svc_quarterly", all, at, p)
	require.NoError(t, err)
	assert.ElementsMatch(t, got[0], again)
	// On the 29th day after, nobody (in the company's zone, +8 h); on the 30th, an hour
	// earlier in the day than the first claim, everyone.
	none, err := store.ClaimSurveyInvitees(ctx, s.Pool, "svc_may", all, at.Add(29*day+10*time.Hour), p) // 19:00 on 30 April there
	require.NoError(t, err)
	assert.Empty(t, none)
	later, err := store.ClaimSurveyInvitees(ctx, s.Pool, "svc_may", all, at.Add(30*day-time.Hour), p)
	require.NoError(t, err)
	assert.Len(t, later, 200)
}

package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/serviceflow/serviceflow/activities"
	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/mail"
	"github.com/serviceflow/serviceflow/store"
	"github.com/serviceflow/serviceflow/store/storetest"
)

// The survey cycle runs with its real activities on a test database, in workflow time:
// its invitations, reminders and figures are the store's, and the platform's task
// activities are the fakes.

// sentMail records what the outbox hands to the provider, with the workflow time.
type sentMail struct {
	mu   sync.Mutex
	env  interface{ Now() time.Time }
	msgs []sentMessage
}

type sentMessage struct {
	mail.Message
	At time.Duration // since t0
}

func (s *sentMail) Send(_ context.Context, m mail.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, sentMessage{Message: m, At: s.env.Now().Sub(t0)})
	return fmt.Sprintf("msg-%d", len(s.msgs)), nil
}

func (s *sentMail) Mode() string { return "test" }

// to lists the recipients of the messages whose key has suffix, in order sent.
func (s *sentMail) to(suffix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		if strings.HasSuffix(m.IdempotencyKey, suffix) {
			out = append(out, m.To.Email)
		}
	}
	slices.Sort(out)
	return out
}

// surveyHarness runs one SurveyCycleWorkflow over the customers of a test database.
type surveyHarness struct {
	harness
	st      *store.Store
	sent    *sentMail
	cycle   string
	visits  []domain.StartSurveyVisitsInput
	starter *fakeStarter
}

// fakeStarter starts workflows as Temporal does for the detractors' visits: a second
// start of one workflow id finds it running and starts nothing (the conflict policy
// use-existing).
type fakeStarter struct {
	mu       sync.Mutex
	started  map[string]domain.VisitInput
	attempts int
}

func (f *fakeStarter) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if _, ok := f.started[o.ID]; !ok && wf == domain.VisitWorkflowType {
		f.started[o.ID] = args[0].(domain.VisitInput)
	}
	return nil, nil
}

const surveyWorkflowID = "survey/svc_TEST"

func newSurveyHarness(t *testing.T) *surveyHarness {
	st := storetest.New(t, "wfsurvey")
	ctx := context.Background()
	_, err := st.Pool.Exec(ctx, `
INSERT INTO users (id, username, display_name, email) VALUES ('usr_a', 'alice', 'Alice', 'alice@example.com');
INSERT INTO customers (id, name, email, locale, tier, owner) VALUES
  ('cus_1', 'One', 'one@example.com', 'en', 'A', 'alice'),
  ('cus_2', 'Two', 'two@example.com', 'zh-CN', 'A', 'alice'),
  ('cus_3', 'Three', 'three@example.com', 'en', 'B', 'alice'),
  ('cus_4', 'Four', 'four@example.com', 'en', 'A', 'alice');
INSERT INTO survey_programmes (id, name, audience, cadence, created_by) VALUES ('svp_1', 'Tier A', 'tier_a', 'monthly', 'admin')`)
	require.NoError(t, err)
	env, f := newTestEnv(surveyWorkflowID)
	env.RegisterWorkflow(SurveyCycleWorkflow)
	h := &surveyHarness{harness: harness{t: t, env: env, f: f}, st: st, sent: &sentMail{env: env}, cycle: "svc_TEST"}
	acts := &activities.Activities{Store: st, Mail: &mail.Outbox{Store: st, Sender: h.sent},
		Config: activities.Config{PublicURL: "http://sf.test", LinkSecret: []byte("a survey test secret of 32 bytes!"), SurveyMailRate: 1000}}
	for name, fn := range map[string]any{
		domain.ActOpenSurveyCycle: acts.OpenSurveyCycle, domain.ActInviteSurveyBatch: acts.InviteSurveyBatch,
		domain.ActSetSurveyCycle: acts.SetSurveyCycle, domain.ActDeliverSurveyMail: acts.DeliverSurveyMail,
		domain.ActRemindSurveyBatch: acts.RemindSurveyBatch, domain.ActCloseSurveyCycle: acts.CloseSurveyCycle,
	} {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	h.starter = &fakeStarter{started: map[string]domain.VisitInput{}}
	acts.Temporal = h.starter
	env.RegisterActivityWithOptions(func(ctx context.Context, in domain.StartSurveyVisitsInput) (domain.StartSurveyVisitsResult, error) {
		h.visits = append(h.visits, in)
		return acts.StartSurveyVisits(ctx, in)
	}, activity.RegisterOptions{Name: domain.ActStartSurveyVisits})
	return h
}

// answer stores customer's answer to the cycle's link at t0+d, as /c/{token} does.
func (h *surveyHarness) answer(d time.Duration, customer string, ratings [5]int, nps int, comment string) {
	h.at(d, func() {
		a := map[string]any{"nps": nps, "comment": comment}
		for i, r := range domain.SurveyRatings {
			a[r] = ratings[i]
		}
		id := domain.LinkID(surveyWorkflowID + "/invite/" + customer)
		require.NoError(h.t, store.RecordLinkAnswer(context.Background(), h.st.Pool, id, a, h.env.Now().UTC()))
	})
}

func (h *surveyHarness) run(audience string) domain.CycleResults {
	h.env.ExecuteWorkflow(SurveyCycleWorkflow, domain.SurveyCycleInput{ID: h.cycle, ProgrammeID: "svp_1", Audience: audience})
	require.True(h.t, h.env.IsWorkflowCompleted())
	if err := h.env.GetWorkflowError(); err != nil {
		var actErr *temporal.ActivityError
		if errors.As(err, &actErr) {
			h.t.Logf("activity %s failed", actErr.ActivityType().GetName())
		}
		h.t.Fatal(err)
	}
	var res domain.CycleResults
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

// A cycle over tier A: each is invited once, reminded at 3 and 7 days unless they have
// answered, and the cycle closes at 14 days with the figures of the answers; product
// quality averages 2.5 < 3.5, so quality gets an improvement task with the comments.
func TestSurveyCycleInvitesRemindsAndCloses(t *testing.T) {
	h := newSurveyHarness(t)
	h.answer(1*day, "cus_1", [5]int{5, 4, 4, 2, 5}, 9, "The pump broke twice")
	h.answer(5*day, "cus_2", [5]int{4, 4, 3, 3, 4}, 7, "")
	var task domain.CreateTaskInput
	var done *updateResult
	h.at(14*day+time.Hour, func() {
		tasks := h.createdTasks()
		require.Len(t, tasks, 1)
		task = tasks[0]
		done = h.update(domain.UpdateCompleteTask, domain.CompleteTaskRequest{
			TaskID: domain.TaskID(surveyWorkflowID, domain.StepImprovement, 1, domain.RatingProductQuality),
			Action: ActionDone, Actor: "quinn", Data: map[string]any{"measures": "New seal supplier from May"}})
	})
	res := h.run(domain.AudienceTierA)

	// Invitations to tier A only (cus_1, cus_2, cus_4), delivered at once.
	invited := []string{"four@example.com", "one@example.com", "two@example.com"}
	var inv []string
	for _, c := range []string{"cus_1", "cus_2", "cus_4"} {
		inv = append(inv, h.sent.to("/invite/"+c)...)
	}
	slices.Sort(inv)
	assert.Equal(t, invited, inv)
	assert.Empty(t, h.sent.to("/invite/cus_3"), "tier B is not in the audience")
	// Reminder 1 at 3 days: cus_1 answered on day 1. Reminder 2 at 7 days: cus_2 too.
	assert.Equal(t, []string{"four@example.com", "two@example.com"}, h.sent.to("/reminder/1"))
	assert.Equal(t, []string{"four@example.com"}, h.sent.to("/reminder/2"))
	for _, m := range h.sent.msgs {
		switch {
		case strings.HasSuffix(m.IdempotencyKey, "/reminder/1"):
			assert.Equal(t, 3*day, m.At.Truncate(time.Hour))
		case strings.HasSuffix(m.IdempotencyKey, "/reminder/2"):
			assert.Equal(t, 7*day, m.At.Truncate(time.Hour))
		default:
			assert.Less(t, m.At, time.Minute, "the invitation %s", m.IdempotencyKey)
		}
	}
	zh := ""
	for _, m := range h.sent.msgs {
		if m.To.Email == "two@example.com" && strings.HasSuffix(m.IdempotencyKey, "/invite/cus_2") {
			zh = m.Subject
		}
	}
	assert.Contains(t, zh, "满意度", "cus_2 is invited in Chinese")

	// The figures: 3 invited, 2 answered.
	assert.Equal(t, 3, res.Invited)
	assert.Equal(t, 2, res.Answered)
	assert.Equal(t, "66.7", res.ResponseRate)
	assert.Equal(t, "2.50", res.Rating(domain.RatingProductQuality).Average)
	assert.Equal(t, "4.50", res.Rating(domain.RatingServiceAttitude).Average)
	assert.Equal(t, "50.0", res.NPS) // one promoter (9), one passive (7): (1 - 0) / 2
	cy, err := h.st.SurveyCycleByID(context.Background(), h.cycle)
	require.NoError(t, err)
	assert.Equal(t, domain.CycleClosed, cy.Status)
	assert.Equal(t, res, cy.Results)
	// The unanswered link expired at the close.
	l, err := store.CustomerLinkByID(context.Background(), h.st.Pool, domain.LinkID(surveyWorkflowID+"/invite/cus_4"))
	require.NoError(t, err)
	assert.Equal(t, domain.LinkExpired, l.Status)

	// One improvement task, for quality, due 30 days after the close, with the comment
	// of the answer that rated product quality below 3.5.
	assert.Equal(t, domain.StepImprovement, task.Step)
	assert.Equal(t, []string{"quality"}, task.CandidateGroups)
	assert.Equal(t, t0.Add(14*day+30*day), task.DueAt)
	assert.Equal(t, []any{"The pump broke twice"}, task.Context["comments"])
	assert.Equal(t, "2.50", task.Context["average"])
	assert.Equal(t, domain.CycleClosed, done.response(t).ProcessStatus)
	// The detractor catch-up ran at each reminder and at the close; cus_1 rated product
	// quality 2, a detractor, whose request did not start the visit: the first catch-up
	// (day 3) did, for alice, due 72 h after the answer, and the later ones started none.
	assert.Len(t, h.visits, 3)
	require.Len(t, h.starter.started, 1)
	visit := h.starter.started[domain.VisitWorkflowID(domain.VisitID(domain.ProcessSurvey, h.cycle, "cus_1"))]
	assert.Equal(t, "alice", visit.Rep)
	assert.Equal(t, t0.Add(day+72*time.Hour), visit.DueAt)
	assert.Equal(t, 1, h.starter.attempts, "the catch-ups after the first find the visit noted")
}

// Nobody is invited twice within 30 days: a customer another cycle invited 29 days ago
// is skipped, one invited 30 calendar days ago is not, even at a later hour of that day
// (a Schedule's start may be a little later one month than the next). (A scheduled run: its cycle id derives
// from its workflow id.)
func TestSurveyCycleQuietPeriod(t *testing.T) {
	h := newSurveyHarness(t)
	h.cycle = ""
	ctx := context.Background()
	for _, c := range []struct {
		customer string
		ago      time.Duration
	}{{"cus_1", 29 * day}, {"cus_2", 30*day - 3*time.Hour}} { // 30 calendar days, less 3 hours
		_, err := h.st.Pool.Exec(ctx, `INSERT INTO survey_invitees (customer_id, cycle_id, invited_at) VALUES ($1, 'svc_OLD', $2)`,
			c.customer, t0.Add(-c.ago))
		require.NoError(t, err)
	}
	res := h.run(domain.AudienceAllActive)
	assert.Equal(t, 3, res.Invited, "cus_2, cus_3, cus_4")
	assert.Empty(t, h.sent.to("/invite/cus_1"), "in the quiet period")
	assert.Equal(t, []string{"two@example.com"}, h.sent.to("/invite/cus_2"))
	cy, err := h.st.SurveyCycleByID(ctx, domain.SurveyCycleID(surveyWorkflowID))
	require.NoError(t, err)
	assert.Equal(t, "svp_1", cy.ProgrammeID)
	assert.Equal(t, 3, cy.Results.Invited)
}
